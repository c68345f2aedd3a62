"""The agent holds a form conversation through a real rasa_sdk action server, and the same
actions run in-process give the same conversation, event for event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chinwag.core.agent import UserMessage, load_agent
from chinwag.core.events import Event
from chinwag.core.stores.memory import InMemoryTrackerStore
from chinwag.core.stores.sqlite import SQLiteTrackerStore
from tests.core.actions.conftest import ActionServer
from tests.core.data.test_loader import write

DOMAIN = """\
version: "3.1"
intents: [greet, inform, request_table]
entities: [cuisine]
slots:
  cuisine:
    type: text
    mappings:
      - type: from_entity
        entity: cuisine
        conditions: [{active_loop: table_form}]
  party_size:
    type: any
    mappings: [{type: custom}]
  phone:
    type: text
    mappings:
      - type: from_text
        conditions: [{active_loop: table_form, requested_slot: phone}]
forms:
  table_form:
    required_slots: [cuisine, party_size]
actions:
  - validate_table_form
responses:
  utter_ask_cuisine:
    - text: "Which cuisine?"
  utter_ask_party_size:
    - text: "How many of you?"
  utter_ask_phone:
    - text: "A phone number for a large party, please?"
  utter_wrong_party_size:
    - text: "A party needs at least one person."
  utter_booked:
    - text: "Booked: {cuisine} for {party_size}, phone {phone}."
"""
NLU = """\
version: "3.1"
nlu:
- intent: request_table
  examples: |
    - book a table
- intent: inform
  examples: |
    - [thai](cuisine)
    - we are 8
    - we are 0
    - 555 1234
"""
RULES = """\
version: "3.1"
rules:
- rule: activate
  steps:
  - intent: request_table
  - action: table_form
  - active_loop: table_form
- rule: submit
  condition:
  - active_loop: table_form
  steps:
  - action: table_form
  - active_loop: null
  - action: utter_booked
"""
CONVERSATION = [
    ("book a table", ["Which cuisine?"]),
    ('/inform{"cuisine": "pizza"}', ["We don't serve pizza.", "Which cuisine?"]),
    ("thai", ["How many of you?"]),
    ("we are 0", ["A party needs at least one person.", "How many of you?"]),
    ("we are 8", ["A phone number for a large party, please?"]),
    ("555 1234", ["Booked: thai for 8, phone 555 1234."]),
]


def bot(tmp_path: Path, name: str, extra: dict[str, str]) -> Path:
    files = {"domain.yml": DOMAIN, "data/nlu.yml": NLU, "data/rules.yml": RULES, **extra}
    return write(tmp_path / name, files)


def comparable(events: list[Event]) -> list[dict[str, Any]]:
    out = []
    for event in events:
        data = event.to_dict()
        data.pop("timestamp", None)
        out.append(data)
    return out


async def converse(bot_dir: Path) -> tuple[list[list[str]], list[dict[str, Any]]]:
    store = InMemoryTrackerStore()
    agent = load_agent(bot_dir, store=store)
    said = []
    try:
        for text, _ in CONVERSATION:
            responses = await agent.handle(UserMessage(text, "guest"))
            said.append([r.get("text", "") for r in responses])
    finally:
        await agent.close()
    return said, comparable(await store.load("guest"))


async def test_form_through_a_real_action_server_and_in_process_alike(
    tmp_path: Path, action_server: ActionServer
) -> None:
    remote_bot = bot(
        tmp_path, "remote", {"endpoints.yml": f"action_endpoint:\n  url: {action_server.url}\n"}
    )
    local_bot = bot(
        tmp_path, "local", {"actions.py": "from tests.core.actions.sample_actions import *\n"}
    )
    remote_said, remote_events = await converse(remote_bot)
    assert remote_said == [expected for _, expected in CONVERSATION]
    local_said, local_events = await converse(local_bot)
    assert local_said == remote_said
    assert local_events == remote_events
    # the validation really ran on the server: the rejected values were never kept
    slots = [(e["name"], e["value"]) for e in remote_events if e["event"] == "slot"]
    assert ("cuisine", "pizza") in slots and ("cuisine", None) in slots
    assert slots[-1] == ("requested_slot", None)


UNSTORABLE_ACTIONS = """\
from rasa_sdk import Action
from rasa_sdk.events import SlotSet


class ActionOdd(Action):
    def name(self):
        return "action_odd"

    def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text="noted")
        return [SlotSet("score", float("nan")), SlotSet("note", "kept")]
"""


async def test_an_unstorable_event_from_an_action_is_dropped_not_the_turn(
    tmp_path: Path, caplog: Any
) -> None:
    # a NaN slot value is no JSON: no store could write it and read it back
    bot_dir = write(
        tmp_path / "odd",
        {
            "domain.yml": 'version: "3.1"\nintents: [greet]\nactions: [action_odd]\n'
            "slots:\n  score: {type: any, mappings: [{type: custom}]}\n"
            "  note: {type: any, mappings: [{type: custom}]}\n",
            "data/nlu.yml": 'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n',
            "data/rules.yml": 'version: "3.1"\nrules:\n- rule: r\n  steps:\n'
            "  - intent: greet\n  - action: action_odd\n",
            "actions.py": UNSTORABLE_ACTIONS,
        },
    )
    store = SQLiteTrackerStore(tmp_path / "conversations.db")
    agent = load_agent(bot_dir, store=store)
    try:
        responses = await agent.handle(UserMessage("hi", "guest"))
        again = await agent.handle(UserMessage("hi", "guest"))
        stored = comparable(await store.load("guest"))
    finally:
        await agent.close()
    assert [r.get("text") for r in responses] == ["noted"]
    assert [r.get("text") for r in again] == ["noted"]
    assert [e["text"] for e in stored if e["event"] == "user"] == ["hi", "hi"]
    slots = [(e["name"], e["value"]) for e in stored if e["event"] == "slot"]
    assert slots == [("note", "kept"), ("note", "kept")]
    assert "custom action 'action_odd' returned an event that cannot be stored" in caplog.text
