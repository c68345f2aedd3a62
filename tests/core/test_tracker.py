"""The tracker replays events into state as Rasa's DialogueStateTracker does."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chinwag.core.domain import ActionDef, Domain, Form
from chinwag.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
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
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from chinwag.core.slots import Slot
from chinwag.core.tracker import Tracker, TrackerActiveLoop

FORM = "restaurant_form"


def make_domain() -> Domain:
    return Domain(
        slots={
            "cuisine": Slot("cuisine", type="text"),
            "people": Slot("people", type="float", initial_value=2.0),
            "tags": Slot("tags", type="list", initial_value=["a"]),
        },
        forms={FORM: Form(FORM, required_slots=["cuisine", "people"])},
    )


def listen() -> ActionExecuted:
    return ActionExecuted("action_listen")


def user(intent: str, text: str | None = None, **kw: Any) -> UserUttered:
    return UserUttered(text=text or f"/{intent}", intent={"name": intent, "confidence": 1.0}, **kw)


def action(name: str) -> ActionExecuted:
    return ActionExecuted(name)


def names(events: list[Event]) -> list[str]:
    """A compact view of an event list: action names, intents, slot=value, loop names."""
    out = []
    for e in events:
        match e:
            case ActionExecuted():
                out.append(e.action_name or "")
            case UserUttered():
                out.append(f"U:{e.intent_name}")
            case SlotSet():
                out.append(f"{e.key}={e.value}")
            case ActiveLoop():
                out.append(f"loop:{e.name}")
            case _:
                out.append(e.type_name)
    return out


def test_fresh_tracker_state_is_rasas() -> None:
    tracker = Tracker("u1", make_domain())
    assert tracker.current_state() == {
        "sender_id": "u1",
        "slots": {
            "cuisine": None,
            "people": 2.0,
            "tags": ["a"],
            "requested_slot": None,
            "session_started_metadata": None,
        },
        "latest_message": {
            "intent": {},
            "entities": [],
            "text": None,
            "message_id": None,
            "metadata": {},
        },
        "latest_event_time": None,
        "followup_action": "action_listen",
        "paused": False,
        "events": None,
        "latest_input_channel": None,
        "active_loop": {},
        "latest_action": {},
        "latest_action_name": None,
    }


def test_default_slots_follow_the_domain() -> None:
    plain = Tracker("u", Domain())
    assert list(plain.slots) == ["requested_slot", "session_started_metadata"]
    assert plain.slot_defs["requested_slot"].type == "text"
    assert plain.slot_defs["requested_slot"].influence_conversation is False
    kb = Tracker("u", Domain(actions={"action_query_knowledge_base": ActionDef("x")}))
    assert list(kb.slots) == [
        "requested_slot",
        "knowledge_base_listed_objects",
        "knowledge_base_last_object",
        "knowledge_base_last_object_type",
        "session_started_metadata",
    ]


def test_slots_initial_values_are_copies() -> None:
    domain = make_domain()
    tracker = Tracker("u", domain)
    tracker.slots["tags"].append("b")
    assert domain.slots["tags"].initial_value == ["a"]
    tracker.update(AllSlotsReset())
    assert tracker.get_slot("tags") == ["a"]


def test_unknown_slot_is_ignored_with_a_domain(caplog: pytest.LogCaptureFixture) -> None:
    tracker = Tracker("u", make_domain())
    with caplog.at_level(logging.ERROR):
        tracker.update(SlotSet("nope", 1))
    assert "nope" not in tracker.slots
    assert "non existent slot 'nope'" in caplog.text
    assert tracker.get_slot("nope") is None


def test_any_slot_mode_without_domain() -> None:
    tracker = Tracker("u", None, [SlotSet("x", 1), SlotSet("y", "z")])
    assert tracker.slots == {"x": 1, "y": "z"}
    tracker.update(AllSlotsReset())
    assert tracker.slots == {"x": None, "y": None}


def test_user_action_bot_and_followup_state() -> None:
    tracker = Tracker("u", make_domain())
    tracker.update_all(
        [
            listen(),
            user("greet", "hello", input_channel="slack", message_id="m1"),
            BotUttered("Hi!"),
            action("utter_greet"),
            FollowupAction("action_ask"),
        ]
    )
    assert tracker.latest_message.text == "hello"
    assert tracker.latest_input_channel == "slack"
    assert tracker.latest_bot_utterance.text == "Hi!"
    assert tracker.latest_action == {"action_name": "utter_greet"}
    assert tracker.followup_action == "action_ask"
    tracker.update(action("action_ask"))
    assert tracker.followup_action is None  # an executed action clears it
    tracker.update(ActionExecuted(action_text="Hello you"))
    assert tracker.latest_action_name == "Hello you"
    assert tracker.current_state()["latest_action"] == {"action_text": "Hello you"}


def test_restart_resets_everything_and_asks_for_session_start() -> None:
    tracker = Tracker("u", make_domain())
    tracker.update_all(
        [
            listen(),
            user("greet"),
            SlotSet("cuisine", "thai"),
            ActiveLoop(FORM),
            ConversationPaused(),
            Restarted(),
        ]
    )
    assert tracker.get_slot("cuisine") is None
    assert tracker.get_slot("people") == 2.0
    assert tracker.active_loop is None
    assert tracker.paused is False
    assert tracker.latest_message.intent == {}
    assert tracker.followup_action == "action_session_start"
    assert tracker.applied_events() == []
    assert tracker.idx_after_latest_restart() == 6
    tracker.update(listen())
    assert names(tracker.events_after_latest_restart()) == ["action_listen"]
    assert len(tracker.events) == 7  # nothing is ever deleted


def test_rewind_undoes_back_to_and_including_the_latest_user_message() -> None:
    tracker = Tracker("u", make_domain())
    tracker.update_all(
        [
            listen(),
            user("greet"),
            action("utter_greet"),
            listen(),
            user("inform", input_channel="rest"),
            SlotSet("cuisine", "thai"),
            action("action_default_fallback"),
            UserUtteranceReverted(),
        ]
    )
    assert names(tracker.applied_events()) == ["action_listen", "U:greet", "utter_greet"]
    assert tracker.get_slot("cuisine") is None
    assert tracker.latest_message.intent_name == "greet"
    assert tracker.latest_action_name == "utter_greet"
    # Rasa reads the input channel from all events, reverted ones included
    assert tracker.latest_input_channel == "rest"
    assert tracker.current_state("after_restart")["events"][-1] == {
        "event": "rewind",
        "timestamp": tracker.events[-1].timestamp,
    }


def test_undo_removes_the_latest_action_and_what_it_set() -> None:
    tracker = Tracker("u", make_domain())
    tracker.update_all(
        [
            listen(),
            user("inform"),
            action("action_search"),
            SlotSet("cuisine", "thai"),
            BotUttered("found it"),
            ActionReverted(),
        ]
    )
    assert names(tracker.applied_events()) == ["action_listen", "U:inform"]
    assert tracker.get_slot("cuisine") is None
    assert tracker.latest_action_name == "action_listen"
    assert tracker.latest_bot_utterance.text is None
    assert tracker.latest_message.intent_name == "inform"


def test_session_started_resets_state_and_splits_sessions() -> None:
    tracker = Tracker("u", make_domain())
    tracker.update_all(
        [
            action("action_session_start"),
            SessionStarted(),
            listen(),
            user("greet"),
            SlotSet("cuisine", "thai"),
            action("action_session_start"),
            SessionStarted(),
            SlotSet("cuisine", "thai"),  # carried over by action_session_start
            listen(),
        ]
    )
    assert tracker.sessions() == [1, 6]
    assert names(tracker.latest_session_events()) == [
        "session_started",
        "cuisine=thai",
        "action_listen",
    ]
    assert names(tracker.applied_events()) == ["cuisine=thai", "action_listen"]
    assert tracker.get_slot("cuisine") == "thai"
    assert tracker.latest_message.intent == {}
    assert names(Tracker("u", None, [listen()]).latest_session_events()) == ["action_listen"]


def test_active_loop_flags_follow_rasa() -> None:
    tracker = Tracker("u", make_domain())
    request = user("request_restaurant", "find a table")
    tracker.update_all([listen(), request, action(FORM), ActiveLoop(FORM)])
    assert tracker.active_loop == TrackerActiveLoop(FORM, False, False, request.parse_data)
    assert tracker.active_loop_name == FORM
    tracker.update_all([listen(), user("chitchat"), ActionExecutionRejected(FORM)])
    assert tracker.is_active_loop_rejected
    tracker.update(ActionExecutionRejected("other_action"))
    tracker.update_all([action("utter_chitchat"), LoopInterrupted(True)])
    assert tracker.is_active_loop_interrupted
    assert tracker.is_active_loop_rejected  # only running the loop clears a rejection
    state = tracker.current_state()["active_loop"]
    assert state == {
        "name": FORM,
        "is_interrupted": True,
        "rejected": True,
        "trigger_message": request.parse_data,
    }
    tracker.update(action(FORM))
    assert not tracker.is_active_loop_interrupted and not tracker.is_active_loop_rejected
    tracker.update(ActiveLoop(None))
    assert tracker.active_loop is None and tracker.current_state()["active_loop"] == {}
    tracker.update(ActiveLoop("should_not_be_set"))
    assert tracker.active_loop_name is None


def test_loop_happy_path_collapses_into_its_first_run() -> None:
    tracker = Tracker("u", make_domain())
    tracker.update_all(
        [
            listen(),
            user("request_restaurant"),
            action(FORM),
            ActiveLoop(FORM),
            SlotSet("requested_slot", "cuisine"),
            listen(),
            user("inform"),
            action(FORM),
            SlotSet("cuisine", "thai"),
            SlotSet("requested_slot", "people"),
            listen(),
            user("inform"),
            action(FORM),
            SlotSet("people", 4.0),
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            action("utter_done"),
        ]
    )
    assert names(tracker.applied_events()) == [
        "action_listen",
        "U:request_restaurant",
        FORM,
        f"loop:{FORM}",
        "requested_slot=cuisine",
        "cuisine=thai",
        "requested_slot=people",
        "people=4.0",
        "loop:None",
        "requested_slot=None",
        "utter_done",
    ]
    # the live state still saw every turn
    assert tracker.latest_message.intent_name == "inform"


def test_loop_unhappy_path_is_kept() -> None:
    tracker = Tracker("u", make_domain())
    tracker.update_all(
        [
            listen(),
            user("request_restaurant"),
            action(FORM),
            ActiveLoop(FORM),
            listen(),
            user("chitchat"),
            ActionExecutionRejected(FORM),
            action("utter_chitchat"),
            action(FORM),
        ]
    )
    assert names(tracker.applied_events())[-4:] == [
        "U:chitchat",
        "action_execution_rejected",
        "utter_chitchat",
        FORM,
    ]


def test_entities_added_and_featurization_apply_to_latest_message_only() -> None:
    city = {"entity": "city", "value": "Paris"}
    message = user("inform", "to paris")
    tracker = Tracker("u", make_domain(), [listen(), message])
    # after a user message the latest action is still action_listen
    tracker.update_all([EntitiesAdded([city]), DefinePrevUserUtteredFeaturization(True)])
    assert tracker.latest_message.entities == [city]
    assert tracker.latest_message.use_text_for_featurization is True
    assert tracker.current_state()["latest_message"]["entities"] == [city]
    # the stored event is untouched
    assert message.entities == [] and message.parse_data["entities"] == []
    assert list(tracker.get_latest_entity_values("city")) == ["Paris"]
    assert list(tracker.get_latest_entity_values("city", role="to")) == []
    tracker.update_all([action("utter_x"), EntitiesAdded([{"entity": "y", "value": 1}])])
    assert tracker.latest_message.entities == [city]


def test_pause_and_resume() -> None:
    tracker = Tracker("u", None, [ConversationPaused()])
    assert tracker.current_state()["paused"] is True
    tracker.update(ConversationResumed())
    assert tracker.paused is False


def test_current_state_verbosity() -> None:
    events = [listen(), user("greet"), action("utter_x"), ActionReverted()]
    tracker = Tracker("u", None, events)
    assert len(tracker.current_state("all")["events"]) == 4
    assert len(tracker.current_state("applied")["events"]) == 2
    tracker.update_all([Restarted(), listen()])
    assert tracker.current_state("after_restart")["events"] == [tracker.events[-1].to_dict()]
    assert tracker.current_state("none")["events"] is None
    assert tracker.current_state()["latest_event_time"] == tracker.events[-1].timestamp
    with pytest.raises(ValueError, match="unknown event verbosity 'some'"):
        tracker.current_state("some")  # type: ignore[arg-type]


def test_get_last_event_for() -> None:
    tracker = Tracker(
        "u", None, [listen(), user("a"), action("utter_a"), listen(), user("b"), action("x")]
    )
    last = tracker.get_last_event_for(ActionExecuted, ["action_listen"])
    assert last is not None and last.action_name == "x"
    second = tracker.get_last_event_for(ActionExecuted, ["action_listen"], skip=1)
    assert second is not None and second.action_name == "utter_a"
    assert tracker.get_last_event_for(Restarted) is None
    last_user = tracker.get_last_event_for(UserUttered)
    assert last_user is not None and last_user.intent_name == "b"


def test_prior_trackers_show_the_state_before_each_action() -> None:
    tracker = Tracker(
        "u",
        make_domain(),
        [listen(), user("greet"), SlotSet("cuisine", "thai"), action("utter_greet")],
    )
    seen = [
        (t.latest_action_name, t.latest_message.intent_name, t.get_slot("cuisine"), hide)
        for t, hide in tracker.generate_all_prior_trackers()
    ]
    assert seen == [
        (None, None, None, False),
        ("action_listen", "greet", "thai", False),
        ("utter_greet", "greet", "thai", False),
    ]
    copy = tracker.copy()
    assert copy.current_state("all") == tracker.current_state("all")
    copy.update(SlotSet("cuisine", "x"))
    assert tracker.get_slot("cuisine") == "thai"


def test_from_dict_reports_the_bad_event_index() -> None:
    with pytest.raises(EventError, match=r"event 1 \('slot'\): missing required field 'name'"):
        Tracker.from_dict("u", [{"event": "restart"}, {"event": "slot"}], None)
    with pytest.raises(TypeError, match="expected an Event"):
        Tracker("u", None).update({"event": "restart"})  # type: ignore[arg-type]


# -- property: a tracker rebuilt from its stored events has the same state --------------------

SLOT_NAMES = ["cuisine", "people", "tags", "requested_slot", "unknown"]
ACTION_NAMES = ["action_listen", "utter_greet", FORM, "action_session_start", "other_form"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=5,
)
timestamps = st.floats(min_value=0, max_value=2e9, allow_nan=False)
entities = st.lists(
    st.fixed_dictionaries(
        {"entity": st.sampled_from(["city", "cuisine"]), "value": st.text(max_size=5)}
    ),
    max_size=2,
)
event_strategy: st.SearchStrategy[Event] = st.one_of(
    st.builds(
        UserUttered,
        text=st.none() | st.text(max_size=8),
        intent=st.fixed_dictionaries(
            {"name": st.sampled_from(["greet", "inform"]), "confidence": st.floats(0, 1)}
        ),
        entities=entities,
        input_channel=st.none() | st.sampled_from(["slack", "telegram"]),
        message_id=st.none() | st.text(max_size=4),
        timestamp=timestamps,
    ),
    st.builds(ActionExecuted, st.sampled_from(ACTION_NAMES), timestamp=timestamps),
    st.builds(ActionExecuted, action_text=st.text(max_size=5), timestamp=timestamps),
    st.builds(SlotSet, st.sampled_from(SLOT_NAMES), json_values, timestamp=timestamps),
    st.builds(ActiveLoop, st.none() | st.sampled_from([FORM, "other_form"]), timestamp=timestamps),
    st.builds(LoopInterrupted, st.booleans(), timestamp=timestamps),
    st.builds(
        ActionExecutionRejected, st.sampled_from([FORM, "utter_greet"]), timestamp=timestamps
    ),
    st.builds(EntitiesAdded, entities, timestamp=timestamps),
    st.builds(BotUttered, st.text(max_size=5), timestamp=timestamps),
    st.builds(FollowupAction, st.sampled_from(ACTION_NAMES), timestamp=timestamps),
    st.sampled_from(
        [
            Restarted,
            UserUtteranceReverted,
            ActionReverted,
            AllSlotsReset,
            SessionStarted,
            ConversationPaused,
            ConversationResumed,
        ]
    ).flatmap(lambda cls: st.builds(cls, timestamp=timestamps)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(event_strategy, max_size=40))
def test_tracker_rebuilt_from_stored_events_has_the_same_state(events: list[Event]) -> None:
    domain = make_domain()
    tracker = Tracker("prop", domain)
    tracker.update_all(events)
    stored = json.loads(json.dumps([e.to_dict() for e in tracker.events]))
    rebuilt = Tracker.from_dict("prop", stored, domain)
    for verbosity in ("all", "applied", "after_restart", "none"):
        state = tracker.current_state(verbosity)
        assert rebuilt.current_state(verbosity) == state
        assert json.loads(json.dumps(state)) == state
    assert rebuilt.events == tracker.events
    assert rebuilt.applied_events() == tracker.applied_events()


def test_loop_trigger_is_the_message_at_activation() -> None:
    """The active loop keeps the parse data of the message that started it, as its own dict:
    entities added to the latest message later, and a copy's changes, leave it as it was."""
    said = UserUttered(
        "a table", {"name": "request", "confidence": 0.9}, [{"entity": "n", "value": 2}]
    )
    tracker = Tracker("t", make_domain(), [ActionExecuted("action_listen"), said])
    tracker.update(ActiveLoop(FORM))
    expected = json.loads(json.dumps(said.parse_data))
    assert tracker.active_loop is not None
    assert tracker.active_loop.trigger_message == expected
    assert tracker.active_loop.trigger_message is not tracker.latest_message.parse_data
    tracker.update(EntitiesAdded([{"entity": "m", "value": 3}]))
    copied = tracker.copy()
    copied.latest_message.parse_data["intent"] = {"name": "other"}
    copied.update(ActiveLoop(FORM))
    assert [e["entity"] for e in tracker.latest_message.entities] == ["n", "m"]
    assert tracker.current_state()["active_loop"]["trigger_message"] == expected
    assert said.parse_data == expected


def test_copies_and_dumps_keep_every_field_of_the_loop_and_message() -> None:
    """The copies and the loop's dump are written field by field: none is left out."""
    said = UserUttered("a table", {"name": "request"}, input_channel="rest", message_id="m")
    tracker = Tracker("t", make_domain(), [ActionExecuted("action_listen"), said])
    tracker.update(ActiveLoop(FORM))
    copied = tracker.copy()
    assert copied.active_loop is not None and tracker.active_loop is not None
    assert vars(copied.active_loop) == vars(tracker.active_loop)
    assert tracker.current_state()["active_loop"] == vars(tracker.active_loop)
    assert vars(copied.latest_message) == vars(tracker.latest_message) == vars(said)
