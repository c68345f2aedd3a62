"""The turn context (actions since the user spoke, slot changes, turn position): read from
the states, so a live conversation and the training story it follows give the same features
and the same LightGBM prediction."""

from __future__ import annotations

from pathlib import Path

from chinwag.core.agent import UserMessage, load_agent
from chinwag.core.data.loader import load_bot
from chinwag.core.data.problems import Problems
from chinwag.core.data.story_graph import expand
from chinwag.core.domain import Domain, Intent
from chinwag.core.events import ActionExecuted, SessionStarted
from chinwag.core.policies.featurizer import StateFeaturizer
from chinwag.core.policies.lightgbm import LightGBMPolicy
from chinwag.core.policies.states import (
    ACTION_LISTEN,
    State,
    TurnContext,
    conversation_states,
    tracker_states,
    turn_context,
    turn_contexts,
)
from chinwag.core.stores.memory import InMemoryTrackerStore
from chinwag.core.tracker import Tracker
from tests.core.data.test_loader import write
from tests.core.policies.helpers import a, slot, split, story, u
from tests.core.policies.helpers import domain as helpers_domain

DOMAIN = """\
version: "3.1"
intents: [greet, inform, bye]
entities: [city]
slots:
  city:
    type: text
    mappings:
      - type: from_entity
        entity: city
  booked:
    type: bool
    mappings:
      - type: custom
responses:
  utter_greet: [{text: "Hi!"}]
  utter_ask_city: [{text: "Where to?"}]
  utter_noted: [{text: "Noted {city}."}]
  utter_anything_else: [{text: "Anything else?"}]
  utter_bye: [{text: "Bye."}]
actions: [action_book]
"""
STORIES = """\
version: "3.1"
stories:
- story: book a trip
  steps:
  - intent: greet
  - action: utter_greet
  - action: utter_ask_city
  - intent: inform
    entities:
    - city: Paris
  - action: utter_noted
  - action: action_book
  - slot_was_set:
    - booked: true
  - action: utter_anything_else
  - intent: bye
  - action: utter_bye
"""
CONFIG = """\
policies:
  - name: LightGBMPolicy
    max_history: 2
    turn_features: true
"""
ACTIONS = """\
from rasa_sdk import Action
from rasa_sdk.events import SlotSet


class Book(Action):
    def name(self):
        return "action_book"

    def run(self, dispatcher, tracker, domain):
        return [SlotSet("booked", True)]
"""


def test_turn_context_of_a_multi_action_turn() -> None:
    greet = State(intent="greet", action=ACTION_LISTEN)
    inform = State(
        intent="inform", entities=("city",), action=ACTION_LISTEN, slots=(("city", (1.0,)),)
    )
    history = [
        State(),  # before the first listen
        greet,
        State(intent="greet", action="utter_greet"),
        State(intent="greet", action="utter_ask_city"),  # before the listen
        inform,
        State(intent="inform", entities=("city",), action="utter_noted", slots=inform.slots),
        State(
            intent="inform",
            entities=("city",),
            action="action_book",
            slots=(("booked", (1.0,)), *inform.slots),
        ),
    ]
    assert turn_context(history) == TurnContext(
        since_user=("utter_noted", "action_book"),
        previous_turn=("utter_greet", "utter_ask_city"),
        user_changed=("city",),
        bot_changed=("booked",),
        user_turns=2,
        earlier=("utter_ask_city", "utter_greet"),
    )
    # right after the user spoke: nothing done yet in this turn
    assert turn_context(history[:5]).since_user == ()
    assert turn_context(history[:5]).bot_changed == ()
    assert turn_context([State()]) == TurnContext()


def test_the_turn_block_is_read_from_the_whole_history() -> None:
    seen = [State(action="utter_noted"), State(action="utter_greet")]
    f = StateFeaturizer.build(_domain(), max_history=1, states=seen, turn_features=True)
    plain = StateFeaturizer.build(_domain(), max_history=1, states=seen)
    assert f.size > plain.size
    early = [State(), State(intent="greet", action=ACTION_LISTEN), State(action="utter_noted")]
    # the bot spoke first (a story's unpredictable opening action)
    late = [State(), State(action="utter_greet"), *early[1:]]
    # the same last state: a window of one cannot tell them apart, the turn block can
    assert plain.columns(early) == plain.columns(late)
    assert f.columns(early) != f.columns(late)
    assert StateFeaturizer.from_dict(f.to_dict()) == f


def _domain() -> Domain:
    return Domain(intents={i: Intent(i) for i in ("greet", "inform", "bye")})


async def test_a_live_conversation_and_its_training_story_have_the_same_features(
    tmp_path: Path,
) -> None:
    bot_dir = write(
        tmp_path / "bot",
        {
            "domain.yml": DOMAIN,
            "data/stories.yml": STORIES,
            "config.yml": CONFIG,
            "actions.py": ACTIONS,
        },
    )
    agent = load_agent(bot_dir, store=InMemoryTrackerStore())
    for text in ("/greet", '/inform{"city": "Paris"}', "/bye"):
        await agent.handle(UserMessage(text, "live"))
    live = await agent.load_tracker("live")
    (policy,) = agent.policies.policies
    assert isinstance(policy, LightGBMPolicy) and policy.featurizer is not None
    featurizer, domain = policy.featurizer, agent.domain

    bot = load_bot(bot_dir)
    (story,) = [c for c in expand(bot.stories, Problems()) if c.kind == "story"]
    trained = [t for t in conversation_states(story, domain) if not t.unpredictable][1:]

    # every action the live bot ran after its session started, with the tracker before it
    start = max(i for i, e in enumerate(live.events) if isinstance(e, SessionStarted))
    live_turns = [
        (e.action_name, Tracker("live", domain, live.events[:i]))
        for i, e in enumerate(live.events)
        if i > start + 1 and isinstance(e, ActionExecuted)
    ]
    assert [name for name, _ in live_turns] == [t.action for t in trained]
    for (name, before), turn in zip(live_turns, trained, strict=True):
        states = tracker_states(before, domain)
        assert turn_context(states) == turn_context(turn.history), name
        assert featurizer.columns(states) == featurizer.columns(turn.history), name
        assert policy.predict(before, domain).action == name
    # the booking turn: two actions since the user spoke, a slot changed by the bot
    booking = turn_context(tracker_states(live_turns[5][1], domain))
    assert booking.since_user == ("utter_noted", "action_book")
    assert booking.bot_changed == ("booked",)


def test_one_pass_contexts_equal_the_contexts_of_each_prefix() -> None:
    stories, _ = split(
        story("bot first", a("utter_greet"), u("greet"), a("utter_greet"), a("utter_ask")),
        story(
            "slots",
            u("inform"),
            slot(ok=True),
            a("utter_ok"),
            slot(name="Ann"),
            a("utter_more"),
            u("deny"),
            slot(ok=False),
            a("utter_sad"),
            u("bye"),
        ),
    )
    for conv in stories:
        states = conversation_states(conv, helpers_domain())[0].states
        assert turn_contexts(states) == [turn_context(states[: i + 1]) for i in range(len(states))]
        assert any(c.bot_changed for c in turn_contexts(states)) or conv.name == "bot first"
