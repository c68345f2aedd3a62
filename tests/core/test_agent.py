"""The message loop: sessions, payloads, the prediction cap, failures that lose nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from chinwag.core.agent import Agent, UserMessage, load_agent
from chinwag.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from chinwag.core.stores.memory import InMemoryTrackerStore
from tests.core.data.test_loader import write

DOMAIN = """\
version: "3.1"
intents: [greet, inform, loop_forever, call_server]
entities: [name]
slots:
  name:
    type: text
    mappings:
      - type: from_entity
        entity: name
actions:
  - action_ping
  - action_remote
responses:
  utter_greet:
    - text: "Hello {name}!"
      buttons:
        - title: "Again"
          payload: /greet
  utter_noted:
    - text: "Noted."
session_config:
  session_expiration_time: 60
  carry_over_slots_to_new_session: {carry}
"""
NLU = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
- intent: inform
  examples: |
    - I am [Ann](name)
- intent: loop_forever
  examples: |
    - loop
- intent: call_server
  examples: |
    - call the server
"""
RULES = """\
version: "3.1"
rules:
- rule: greet
  steps:
  - intent: greet
  - action: utter_greet
- rule: inform
  steps:
  - intent: inform
  - action: utter_noted
- rule: loop
  steps:
  - intent: loop_forever
  - action: action_ping
- rule: remote
  steps:
  - intent: call_server
  - action: action_remote
"""
ACTIONS = """\
from rasa_sdk import Action
from rasa_sdk.events import FollowupAction


class Ping(Action):
    def name(self):
        return "action_ping"

    def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text="ping")
        return [FollowupAction("action_ping")]
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make_bot(tmp_path: Path, *, carry: bool = True, endpoints: str = "") -> Path:
    return write(
        tmp_path / "bot",
        {
            "domain.yml": DOMAIN.replace("{carry}", "true" if carry else "false"),
            "data/nlu.yml": NLU,
            "data/rules.yml": RULES,
            "actions.py": ACTIONS,
            "endpoints.yml": endpoints,
        },
    )


def kinds(events: list[Event]) -> list[str]:
    out = []
    for e in events:
        if isinstance(e, ActionExecuted):
            out.append(f"action:{e.action_name}")
        elif isinstance(e, UserUttered):
            out.append(f"user:{e.intent_name}")
        elif isinstance(e, BotUttered):
            out.append(f"bot:{e.text}")
        elif isinstance(e, SlotSet):
            out.append(f"slot:{e.key}={e.value}")
        else:
            out.append(e.type_name)
    return out


async def test_first_message_starts_a_session_and_is_answered(tmp_path: Path) -> None:
    store = InMemoryTrackerStore()
    agent = load_agent(make_bot(tmp_path), store=store, clock=Clock())
    responses = await agent.handle(UserMessage("I am Ann", "u1"))
    assert responses == [{"text": "Noted."}]
    responses = await agent.handle(UserMessage("hello", "u1"))
    assert responses == [
        {"text": "Hello Ann!", "buttons": [{"title": "Again", "payload": "/greet"}]}
    ]
    assert kinds(await store.load("u1")) == [
        "action:action_session_start",
        "session_started",
        "action:action_listen",
        "user:inform",
        "slot:name=Ann",
        "user_featurization",  # Rasa's ensemble notes whether text or intent was used
        "action:utter_noted",
        "bot:Noted.",
        "action:action_listen",
        "user:greet",
        "user_featurization",
        "action:utter_greet",
        "bot:Hello Ann!",
        "action:action_listen",
    ]


async def test_payloads_bypass_nlu(tmp_path: Path) -> None:
    agent = load_agent(make_bot(tmp_path), clock=Clock())
    responses = await agent.handle(UserMessage('/inform{"name": "Bo"}', "u1"))
    assert responses == [{"text": "Noted."}]
    tracker = await agent.load_tracker("u1")
    assert tracker.get_slot("name") == "Bo"
    # a broken payload is understood as text instead of crashing
    assert await agent.handle(UserMessage('/inform{"name": }', "u1")) is not None


@pytest.mark.parametrize("carry", [True, False])
async def test_idle_conversation_starts_a_new_session(tmp_path: Path, carry: bool) -> None:
    clock = Clock()
    agent = load_agent(make_bot(tmp_path, carry=carry), clock=clock)
    await agent.handle(UserMessage("I am Ann", "u1"))
    clock.now += 59 * 60  # within the hour: same session
    await agent.handle(UserMessage("hello", "u1"))
    tracker = await agent.load_tracker("u1")
    assert sum(isinstance(e, SessionStarted) for e in tracker.events) == 1
    clock.now += 61 * 60  # idle for more than session_expiration_time (60 min)
    responses = await agent.handle(UserMessage("hello", "u1"))
    tracker = await agent.load_tracker("u1")
    assert sum(isinstance(e, SessionStarted) for e in tracker.events) == 2
    assert tracker.get_slot("name") == ("Ann" if carry else None)
    assert responses[0]["text"] == ("Hello Ann!" if carry else "Hello None!")


async def test_prediction_cap_ends_listening_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = InMemoryTrackerStore()
    agent = load_agent(make_bot(tmp_path), store=store, clock=Clock())
    with caplog.at_level(logging.WARNING):
        responses = await agent.handle(UserMessage("loop", "u1"))
    assert len(responses) == agent.max_predictions
    assert "without listening" in caplog.text
    events = await store.load("u1")
    assert kinds(events)[-1] == "action:action_listen"
    # the conversation goes on normally afterwards
    assert await agent.handle(UserMessage("hello", "u1")) != []


async def test_action_server_down_loses_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    endpoints = "action_endpoint:\n  url: http://127.0.0.1:9/webhook\n  timeout: 2\n"
    store = InMemoryTrackerStore()
    agent = load_agent(make_bot(tmp_path, endpoints=endpoints), store=store, clock=Clock())
    await agent.handle(UserMessage("I am Ann", "u1"))
    with caplog.at_level(logging.ERROR):
        responses = await agent.handle(UserMessage("call the server", "u1"))
    assert responses == []
    assert "action_remote" in caplog.text
    events = kinds(await store.load("u1"))
    assert events[-3:] == ["user:call_server", "action:action_remote", "action:action_listen"]
    assert "slot:name=Ann" in events
    await agent.close()


async def test_conversations_are_separate_and_reload_identically(tmp_path: Path) -> None:
    store = InMemoryTrackerStore()
    bot = make_bot(tmp_path)
    agent = load_agent(bot, store=store, clock=Clock())
    await agent.handle(UserMessage("I am Ann", "ann"))
    await agent.handle(UserMessage("hello", "bob"))
    assert sorted(await store.ids()) == ["ann", "bob"]
    again = Agent(agent.domain, agent.policies, agent.interpreter, agent.registry, store=store)
    assert (await again.load_tracker("ann")).current_state("all") == (
        await agent.load_tracker("ann")
    ).current_state("all")
    assert (await again.load_tracker("bob")).get_slot("name") is None
