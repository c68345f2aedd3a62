"""Events serialize exactly as Rasa's event JSON and parse back, with located errors."""

from __future__ import annotations

import copy
import json
import math
import pickle
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chinwag.core.events import (
    EVENT_TYPES,
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    AgentUttered,
    AllSlotsReset,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    DefinePrevUserUtteredFeaturization,
    EntitiesAdded,
    Event,
    EventError,
    FollowupAction,
    LoopInterrupted,
    ReminderCancelled,
    ReminderScheduled,
    Restarted,
    SessionStarted,
    SlotSet,
    StoryExported,
    UserUtteranceReverted,
    UserUttered,
    event_from_dict,
    events_from_list,
    keep_stored_text,
    stored_text,
    surely_parses,
)

TS = 1517821726.211031
CITY = {"entity": "city", "value": "Berlin", "start": 10, "end": 16, "extractor": "CRF"}

SAMPLES: list[Event] = [
    UserUttered(
        text="I live in Berlin",
        intent={"name": "inform", "confidence": 0.9},
        entities=[CITY],
        parse_data={"intent_ranking": [{"name": "inform", "confidence": 0.9}]},
        input_channel="slack",
        message_id="m1",
        metadata={"user": "U1"},
        timestamp=TS,
    ),
    UserUttered(text=None, intent={"name": "greet"}, timestamp=TS),
    DefinePrevUserUtteredFeaturization(True, timestamp=TS),
    EntitiesAdded([CITY], timestamp=TS),
    BotUttered(
        text="Hi!",
        data={"buttons": [{"title": "yes", "payload": "/affirm"}], "image": None},
        metadata={"utter_action": "utter_greet"},
        timestamp=TS,
    ),
    SlotSet("cuisine", ["thai", {"spicy": True}], timestamp=TS),
    SlotSet("cuisine", None, timestamp=TS, metadata={"source": "form"}),
    Restarted(timestamp=TS),
    UserUtteranceReverted(timestamp=TS),
    AllSlotsReset(timestamp=TS),
    ReminderScheduled(
        "remind",
        datetime(2024, 3, 1, 9, 30, 5, 120000, tzinfo=UTC),
        entities=[{"entity": "name", "value": "Ann"}],
        name="r1",
        kill_on_user_message=False,
        timestamp=TS,
    ),
    ReminderCancelled(name="r1", intent="remind", entities={"name": "Ann"}, timestamp=TS),
    ReminderCancelled(timestamp=TS),
    ActionReverted(timestamp=TS),
    StoryExported("stories.yml", timestamp=TS),
    StoryExported(timestamp=TS),
    FollowupAction("utter_greet", timestamp=TS),
    ConversationPaused(timestamp=TS),
    ConversationResumed(timestamp=TS),
    ActionExecuted("utter_greet", "RulePolicy", 1.0, timestamp=TS, hide_rule_turn=True),
    ActionExecuted(action_text="Hello there", timestamp=TS),
    AgentUttered("a human here", {"x": 1}, timestamp=TS),
    ActiveLoop("restaurant_form", timestamp=TS),
    ActiveLoop(None, timestamp=TS),
    LoopInterrupted(True, timestamp=TS),
    ActionExecutionRejected("restaurant_form", "RulePolicy", 0.3, timestamp=TS),
    SessionStarted(timestamp=TS, metadata={"channel": "web"}),
]


def test_samples_cover_every_event_type() -> None:
    assert {type(e) for e in SAMPLES} == set(EVENT_TYPES)
    assert len(EVENT_TYPES) == 21  # the Rasa 3.6 event types


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_round_trip(event: Event) -> None:
    as_dict = event.to_dict()
    assert as_dict["event"] == event.type_name
    # through real JSON text, as a store or the HTTP API would
    again = event_from_dict(json.loads(json.dumps(as_dict)))
    assert again == event
    assert again.to_dict() == as_dict


def test_user_event_json_is_rasas() -> None:
    event = UserUttered(
        text="hi", intent={"name": "greet", "confidence": 0.8}, message_id="m1", timestamp=TS
    )
    assert event.to_dict() == {
        "event": "user",
        "timestamp": TS,
        "text": "hi",
        "parse_data": {
            "intent": {"name": "greet", "confidence": 0.8},
            "entities": [],
            "text": "hi",
            "message_id": "m1",
            "metadata": {},
        },
        "input_channel": None,
        "message_id": "m1",
        "metadata": {},
    }


def test_action_event_json_is_rasas() -> None:
    assert ActionExecuted("action_listen", timestamp=TS).to_dict() == {
        "event": "action",
        "timestamp": TS,
        "name": "action_listen",
        "policy": None,
        "confidence": None,
        "action_text": None,
        "hide_rule_turn": False,
    }


def test_base_fields_metadata_only_when_set() -> None:
    assert Restarted(timestamp=TS).to_dict() == {"event": "restart", "timestamp": TS}
    assert SlotSet("a", 1, timestamp=TS, metadata={"m": 1}).to_dict() == {
        "event": "slot",
        "timestamp": TS,
        "metadata": {"m": 1},
        "name": "a",
        "value": 1,
    }
    # bot and user events always carry metadata, as in Rasa
    assert BotUttered("x", timestamp=TS).to_dict() == {
        "event": "bot",
        "timestamp": TS,
        "text": "x",
        "data": {},
        "metadata": {},
    }


def test_reminder_json() -> None:
    event = event_from_dict(
        {
            "event": "reminder",
            "timestamp": TS,
            "intent": "EXTERNAL_reminder",
            "date_time": "2018-09-03T11:41:10.128172+00:00",
            "entities": None,
            "name": "my_reminder",
            "kill_on_user_msg": True,
        }
    )
    assert isinstance(event, ReminderScheduled)
    assert event.trigger_date_time == datetime(2018, 9, 3, 11, 41, 10, 128172, tzinfo=UTC)
    assert event.to_dict()["date_time"] == "2018-09-03T11:41:10.128172+00:00"
    unnamed = event_from_dict({"event": "reminder", "intent": "x", "date_time": "2024-01-01"})
    assert isinstance(unnamed, ReminderScheduled) and len(unnamed.name) == 36  # a uuid


def test_rasa_sdk_style_events_parse() -> None:
    """rasa_sdk sends null timestamps and null parse data."""
    user = event_from_dict(
        {
            "event": "user",
            "timestamp": None,
            "text": "hi",
            "parse_data": None,
            "input_channel": None,
        }
    )
    assert isinstance(user, UserUttered)
    assert user.text == "hi" and user.intent == {} and user.timestamp > 1.6e9
    assert user.parse_data["text"] == "hi"
    action = event_from_dict(
        {
            "event": "action",
            "name": "utter_x",
            "policy": None,
            "confidence": None,
            "timestamp": None,
        }
    )
    assert action == ActionExecuted("utter_x", timestamp=action.timestamp)
    bot = event_from_dict({"event": "bot", "text": "yo", "data": None, "metadata": None})
    assert isinstance(bot, BotUttered) and bot.data == {} and bot.metadata == {}


def test_legacy_form_events_are_read_and_written_back_as_loops() -> None:
    loop = event_from_dict({"event": "form", "name": "my_form", "timestamp": TS})
    assert loop == ActiveLoop("my_form", timestamp=TS)
    assert loop.to_dict()["event"] == "active_loop"
    validation = event_from_dict({"event": "form_validation", "validate": False, "timestamp": TS})
    assert validation == LoopInterrupted(True, timestamp=TS)
    assert event_from_dict({"event": "form_validation", "timestamp": TS}) == LoopInterrupted(
        False, timestamp=TS
    )


def test_user_featurization_follows_rasa() -> None:
    assert UserUttered(text="hi").use_text_for_featurization is True
    assert UserUttered(intent={"name": "greet"}).use_text_for_featurization is False
    both = UserUttered(text="hi", intent={"name": "greet"})
    assert both.use_text_for_featurization is None
    assert both.intent_name == "greet"


def test_bot_uttered_from_message_and_back() -> None:
    event = BotUttered.from_message(
        {"text": "Look", "image": "https://x/y.png", "buttons": [], "utter_action": "utter_look"}
    )
    assert event.text == "Look"
    assert event.data == {
        "elements": None,
        "quick_replies": None,
        "buttons": [],
        "attachment": "https://x/y.png",  # Rasa's legacy: an image doubles as attachment
        "image": "https://x/y.png",
        "custom": None,
    }
    assert event.metadata == {"utter_action": "utter_look"}
    message = event.message()
    assert message["image"] == "https://x/y.png"
    assert message["attachment"] is None
    assert message["utter_action"] == "utter_look"
    assert message["text"] == "Look"


def test_action_needs_name_or_text() -> None:
    with pytest.raises(ValueError, match="action name or an end-to-end action text"):
        ActionExecuted()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"event": "slot_set", "name": "x"}, "event 2 ('slot_set'): unknown event name 'slot_set'"),
        ({"event": "slot", "value": 1}, "event 2 ('slot'): missing required field 'name'"),
        ({"event": "followup"}, "event 2 ('followup'): missing required field 'name'"),
        (
            {"event": "action", "name": None},
            "event 2 ('action'): missing required field 'name' (or 'action_text'",
        ),
        (
            {"event": "action_execution_rejected"},
            "event 2 ('action_execution_rejected'): missing required field 'name'",
        ),
        ({"event": "entities"}, "event 2 ('entities'): missing required field 'entities'"),
        (
            {"event": "user_featurization"},
            "event 2 ('user_featurization'): missing required field 'use_text_for_featurization'",
        ),
        ({"event": "reminder", "date_time": "2024-01-01"}, "missing required field 'intent'"),
        (
            {"event": "reminder", "intent": "x", "date_time": "next tuesday"},
            "event 2 ('reminder'): field 'date_time' must be an ISO 8601 date-time, "
            "got 'next tuesday'",
        ),
        ({"event": "slot", "name": 3}, "event 2 ('slot'): field 'name' must be a string, got 3"),
        (
            {"event": "restart", "timestamp": "yesterday"},
            "event 2 ('restart'): field 'timestamp' must be a number, got 'yesterday'",
        ),
        (
            {"event": "action", "name": "a", "hide_rule_turn": "no"},
            "field 'hide_rule_turn' must be true or false, got 'no'",
        ),
        (
            {"event": "action", "name": "a", "confidence": True},
            "field 'confidence' must be a number, got true",
        ),
        (
            {"event": "action", "name": "a", "confidence": 10**400},
            "field 'confidence' must be a finite number, got an integer too large",
        ),
        (
            {"event": "user", "parse_data": {"intent": "greet"}},
            "event 2 ('user') parse_data: field 'intent' must be an object, got 'greet'",
        ),
        (
            {"event": "user", "parse_data": {"entities": ["Berlin"]}},
            "event 2 ('user') parse_data: 'entities' item 0 must be an object, got 'Berlin'",
        ),
        ({"event": "bot", "metadata": []}, "field 'metadata' must be an object, got a list"),
        ({"name": "x"}, "event 2: missing required field 'event'"),
        (["slot"], "event 2: expected an object, got a list"),
    ],
)
def test_errors_name_the_event_and_the_problem(data: Any, message: str) -> None:
    items = [{"event": "action", "name": "action_listen"}, {"event": "restart"}, data]
    with pytest.raises(EventError) as info:
        events_from_list(items)
    assert message in str(info.value)


def test_error_without_index_names_the_event_type() -> None:
    with pytest.raises(EventError, match=r"^'slot' event: missing required field 'name'$"):
        event_from_dict({"event": "slot"})
    with pytest.raises(EventError, match="unknown event name 'nope' \\(known: action, "):
        event_from_dict({"event": "nope"})
    assert issubclass(EventError, ValueError)


def test_events_from_list_skips_legacy_topic_and_rejects_non_lists() -> None:
    events = events_from_list(
        [{"event": "topic", "topic": "x"}, {"event": "restart", "timestamp": TS}]
    )
    assert events == [Restarted(timestamp=TS)]
    with pytest.raises(EventError, match="expected a list of events, got an object"):
        events_from_list({"event": "restart"})


# -- surely_parses: what the parsers accept, checked cheaply ---------------------------------------


class Text(str):
    pass


class Object(dict[str, Any]):
    pass


# values a field should not have, or has in an unusual type: each may fail some parser
ODD = st.sampled_from(
    [True, False, 0, 7, -3, 10**400, 0.5, math.nan, math.inf, -math.inf, "", "x", Text("t"),
     b"x", (), ("a",), [], ["a"], {}, {"k": 1}, Object(k=1), frozenset(), object()]
)  # fmt: skip


def mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``valid`` nine times in ten, else an odd value: most dicts are then valid but for one
    field, the cases a check must not miss."""
    return st.integers(0, 9).flatmap(lambda n: ODD if n == 0 else valid)


TEXT = mostly(st.none() | st.text(max_size=5))
NUMBER = mostly(st.none() | st.floats(allow_nan=False, allow_infinity=False) | st.integers())
WHOLE = mostly(st.none() | st.integers())
FLAG = mostly(st.none() | st.booleans())
OBJECT = mostly(st.none() | st.dictionaries(st.text(max_size=3), TEXT, max_size=2))
ENTITY = st.fixed_dictionaries(
    {"entity": mostly(st.text(max_size=5))},
    optional={
        "value": TEXT,
        "role": TEXT,
        "group": TEXT,
        "start": WHOLE,
        "end": WHOLE,
        "confidence": NUMBER,
    },
)
ENTITIES = mostly(st.none() | st.lists(mostly(ENTITY), max_size=3))
INTENT = mostly(st.fixed_dictionaries({}, optional={"name": TEXT, "confidence": NUMBER}))
PARSE_DATA = mostly(
    st.fixed_dictionaries(
        {},
        optional={
            "intent": mostly(st.none()) | INTENT,
            "entities": ENTITIES,
            "text": TEXT,
            "message_id": TEXT,
            "metadata": OBJECT,
            "intent_ranking": mostly(st.none() | st.lists(INTENT, max_size=3)),
        },
    )
)
# a user event with every field its parser reads, a value of each nested list included
USER = st.fixed_dictionaries(
    {
        "text": TEXT,
        "input_channel": TEXT,
        "message_id": TEXT,
        "timestamp": NUMBER,
        "metadata": OBJECT,
        "parse_data": st.fixed_dictionaries(
            {
                "intent": INTENT,
                "entities": st.lists(mostly(ENTITY), min_size=1, max_size=3),
                "intent_ranking": st.lists(INTENT, min_size=1, max_size=3),
                "text": TEXT,
                "message_id": TEXT,
                "metadata": OBJECT,
            }
        ),
    }
)
# every key a parser reads, with values of every kind it may meet
FIELDS = {
    "timestamp": NUMBER,
    "metadata": OBJECT,
    "text": TEXT,
    "name": TEXT,
    "value": TEXT,
    "data": OBJECT,
    "parse_data": PARSE_DATA,
    "input_channel": TEXT,
    "message_id": TEXT,
    "action_text": TEXT,
    "policy": TEXT,
    "confidence": NUMBER,
    "hide_rule_turn": FLAG,
    "use_text_for_featurization": FLAG,
    "is_interrupted": FLAG,
    "entities": ENTITIES,
    "intent": TEXT,
    "date_time": TEXT,
    "kill_on_user_msg": FLAG,
    "path": TEXT,
    "validate": FLAG,
}
BASE = ("timestamp", "metadata")
# the keys each checked event's parser reads
READS = {
    "user": ("text", "parse_data", "input_channel", "message_id", *BASE),
    "user_featurization": ("use_text_for_featurization", *BASE),
    "bot": ("text", "data", *BASE),
    "slot": ("name", "value", *BASE),
    "action": ("name", "action_text", "policy", "confidence", "hide_rule_turn", *BASE),
    "active_loop": ("name", *BASE),
    "session_started": BASE,
}
EVENT_NAMES = sorted({cls.type_name for cls in EVENT_TYPES} | {"form", "form_validation"})


def event_dicts(names: list[str], keys: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda name, fields: {"event": name, **fields},
        st.sampled_from(names),
        st.fixed_dictionaries({}, optional={key: FIELDS[key] for key in keys}),
    )


@pytest.mark.parametrize("name", [*READS, "user with entities", None])
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_surely_parses_says_so_only_for_what_parses(name: str | None, data: st.DataObject) -> None:
    """The store skips the read-back of an event it says parses: it must parse (whatever
    error the parser would raise, or an OverflowError from float(), would otherwise go
    unnoticed until a load). Each checked event with the keys its parser reads, then any
    event name with any of them."""
    if name is None:
        event = data.draw(event_dicts(EVENT_NAMES, tuple(FIELDS)))
    elif name == "user with entities":  # the nested checks, reached every time
        event = {"event": "user", **data.draw(USER)}
    else:
        event = data.draw(event_dicts([name], READS[name]))
    if surely_parses(event):
        event_from_dict(event)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_surely_parses_every_sample_of_the_checked_events(event: Event) -> None:
    """The usual events (as the agent makes them) take the cheap way; others are parsed."""
    checked = ("user", "user_featurization", "bot", "slot", "action", "active_loop")
    assert surely_parses(event.to_dict()) == (event.type_name in (*checked, "session_started"))


def test_a_stored_text_belongs_to_the_very_event_it_was_kept_for() -> None:
    """A text is given back only for the object it was kept for: not for an equal event,
    nor for a copy (which may be changed before it is stored); the event stays equal to its
    unstored twin and its JSON is unchanged."""
    event = SlotSet("n", 4, timestamp=TS)
    assert stored_text(event) is None
    keep_stored_text(event, json.dumps(event.to_dict()))
    assert json.loads(stored_text(event) or "")["value"] == 4
    twin = SlotSet("n", 4, timestamp=TS)
    assert stored_text(twin) is None and twin == event
    assert "stored_json" not in event.to_dict() and "stored_json" not in repr(event)
    for copied in (copy.copy(event), copy.deepcopy(event), pickle.loads(pickle.dumps(event))):
        assert copied == event and stored_text(copied) is None
    assert stored_text(event) is not None  # copying left the original's text alone
    keep_stored_text(event, "again")  # stored again: its text is the newest
    assert stored_text(event) == "again"
