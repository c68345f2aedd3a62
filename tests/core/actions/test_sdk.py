"""core.actions.sdk gives what rasa_sdk gives, call for call."""

from __future__ import annotations

import copy
import datetime
import inspect
from typing import Any

import pytest
import rasa_sdk
import rasa_sdk.events
import rasa_sdk.executor

from chinwag.core.actions import sdk
from chinwag.core.tracker import Tracker

EVENT_CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    (
        "UserUttered",
        ("hi",),
        {"parse_data": {"intent": {"name": "greet"}}, "input_channel": "rest"},
    ),
    ("BotUttered", ("hello",), {"data": {"buttons": []}, "metadata": {"a": 1}}),
    ("SlotSet", ("colour", "red"), {}),
    ("SlotSet", ("colour",), {"timestamp": 12.5}),
    ("Restarted", (), {}),
    ("SessionStarted", (), {}),
    ("UserUtteranceReverted", (), {}),
    ("AllSlotsReset", (), {}),
    (
        "ReminderScheduled",
        ("EXTERNAL_remind", datetime.datetime(2024, 5, 1, 12, 30)),
        {"entities": {"x": "y"}, "name": "r1", "kill_on_user_message": False},
    ),
    ("ReminderCancelled", ("r1",), {"intent_name": "EXTERNAL_remind"}),
    ("ActionReverted", (), {}),
    ("StoryExported", (), {}),
    ("FollowupAction", ("utter_greet",), {}),
    ("ConversationPaused", (), {}),
    ("ConversationResumed", (), {}),
    ("ActionExecuted", ("action_listen",), {"policy": "RulePolicy", "confidence": 1.0}),
    ("AgentUttered", ("hey",), {"data": {"k": 1}}),
    ("ActiveLoop", ("table_form",), {}),
    ("ActiveLoop", (None,), {}),
    ("LoopInterrupted", (True,), {}),
    ("ActionExecutionRejected", ("table_form",), {"policy": "RulePolicy"}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), EVENT_CALLS, ids=[c[0] for c in EVENT_CALLS])
def test_events_match_rasa_sdk(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    ours = getattr(sdk, name)(*args, **kwargs)
    theirs = getattr(rasa_sdk.events, name)(*args, **kwargs)
    assert ours == theirs
    # same parameter names, so keyword calls port over
    ours_params = list(inspect.signature(getattr(sdk, name)).parameters)
    assert ours_params == list(inspect.signature(getattr(rasa_sdk.events, name)).parameters)


def test_dispatcher_messages_match_rasa_sdk() -> None:
    calls: list[dict[str, Any]] = [
        {"text": "plain"},
        {"text": "pick", "buttons": [{"title": "A", "payload": "/a"}]},
        {"image": "http://x/cat.png", "attachment": "file.pdf"},
        {"json_message": {"blocks": []}, "elements": [{"title": "card"}]},
        {"response": "utter_greet", "name": "Ada"},
    ]
    ours, theirs = sdk.CollectingDispatcher(), rasa_sdk.executor.CollectingDispatcher()
    for call in calls:
        ours.utter_message(**call)
        theirs.utter_message(**call)
    assert ours.messages == theirs.messages
    assert ours.messages[4]["template"] == ours.messages[4]["response"] == "utter_greet"
    with pytest.warns(FutureWarning):
        ours.utter_message(template="utter_old")
    assert ours.messages[-1]["response"] == "utter_old"


@pytest.fixture
def state() -> dict[str, Any]:
    tracker = Tracker.from_dict(
        "u1",
        [
            {"event": "action", "name": "action_listen"},
            {
                "event": "user",
                "text": "red please",
                "input_channel": "slack",
                "parse_data": {
                    "intent": {"name": "nlu_fallback", "confidence": 0.3},
                    "intent_ranking": [
                        {"name": "nlu_fallback", "confidence": 0.3},
                        {"name": "inform", "confidence": 0.2},
                    ],
                    "entities": [
                        {"entity": "colour", "value": "red"},
                        {"entity": "colour", "value": "dark red", "role": "shade"},
                    ],
                },
            },
            {"event": "action", "name": "table_form"},
            {"event": "active_loop", "name": "table_form"},
            {"event": "slot", "name": "colour", "value": "red"},
            {"event": "action", "name": "utter_x"},
            {"event": "undo"},
            {"event": "slot", "name": "cuisine", "value": "thai"},
            {"event": "slot", "name": "party_size", "value": 4},
        ],
        None,
    )
    state: dict[str, Any] = tracker.current_state("all")
    return state


def test_tracker_matches_rasa_sdk(state: dict[str, Any]) -> None:
    ours, theirs = sdk.Tracker.from_dict(state), rasa_sdk.Tracker.from_dict(state)
    assert ours.current_state() == theirs.current_state()
    assert ours.get_slot("colour") == theirs.get_slot("colour") == "red"
    assert ours.get_slot("nope") is None
    assert list(ours.get_latest_entity_values("colour")) == ["red"]
    assert list(ours.get_latest_entity_values("colour", entity_role="shade")) == ["dark red"]
    assert list(theirs.get_latest_entity_values("colour", entity_role="shade")) == ["dark red"]
    assert ours.active_loop_name == theirs.active_loop_name == "table_form"
    assert ours.latest_action_name == theirs.latest_action_name == "table_form"
    assert ours.get_latest_input_channel() == "slack"
    assert ours.get_intent_of_latest_message() == "inform"
    assert ours.get_intent_of_latest_message(skip_fallback_intent=False) == "nlu_fallback"
    assert ours.applied_events() == theirs.applied_events()
    assert ours.get_last_event_for("action") == theirs.get_last_event_for("action")
    assert ours.get_last_event_for("action", exclude=["table_form"], skip=0) == (
        theirs.get_last_event_for("action", exclude=["table_form"])
    )
    assert ours.last_executed_action_has("table_form")
    assert (
        ours.slots_to_validate()
        == theirs.slots_to_validate()
        == {
            "cuisine": "thai",
            "party_size": 4,
        }
    )
    assert ours.events_after_latest_restart() == theirs.events_after_latest_restart()
    ours.add_slots([sdk.SlotSet("phone", "123"), sdk.FollowupAction("x")])
    assert ours.slots["phone"] == "123" and ours.events[-1]["name"] == "phone"
    assert ours.copy() == ours


def _validate_f(base: type) -> Any:
    """The same FormValidationAction written on ``base`` (ours or rasa_sdk's)."""

    class ValidateF(base):
        def name(self) -> str:
            return "validate_f"

        async def required_slots(
            self, domain_slots: list[str], dispatcher: Any, tracker: Any, domain: Any
        ) -> list[str]:
            return [*domain_slots, "extra"]

        def extract_extra(self, dispatcher: Any, tracker: Any, domain: Any) -> dict[str, Any]:
            return {"extra": "found"}

        def validate_a(self, value: Any, dispatcher: Any, tracker: Any, domain: Any) -> Any:
            dispatcher.utter_message(text=f"checked {value}")
            return {"a": value.upper()}

    return ValidateF()


@pytest.mark.parametrize("slots", [{"b": None}, {"b": "filled"}])
async def test_form_validation_action_matches_rasa_sdk(slots: dict[str, Any]) -> None:
    domain = {"forms": {"f": {"required_slots": ["a", "b"]}}, "slots": {}}
    state = {
        "sender_id": "u",
        "slots": {"a": None, "extra": None, **slots},
        "events": [{"event": "slot", "name": "a", "value": "x"}],
    }
    results = []
    for base, tracker_cls, dispatcher_cls in [
        (sdk.FormValidationAction, sdk.Tracker, sdk.CollectingDispatcher),
        (rasa_sdk.FormValidationAction, rasa_sdk.Tracker, rasa_sdk.executor.CollectingDispatcher),
    ]:
        action = _validate_f(base)
        assert action.form_name() == "f"
        dispatcher = dispatcher_cls()
        # from_dict keeps the state's lists: each run gets its own copy
        tracker = tracker_cls.from_dict(copy.deepcopy(state))
        events = await action.run(dispatcher, tracker, domain)
        results.append((events, dispatcher.messages))
    assert results[0] == results[1]
    events, messages = results[0]
    # extraction first, then validation; required_slots was overridden: the form is told what
    # to ask next (None when all are filled, which ends the form)
    next_slot = None if slots["b"] else "b"
    assert events == [
        sdk.SlotSet("a", "X"),
        sdk.SlotSet("extra", "found"),
        sdk.SlotSet("requested_slot", next_slot),
    ]
    assert [m["text"] for m in messages] == ["checked x"]


def test_rejection_message() -> None:
    assert str(sdk.ActionExecutionRejection("a")) == "Custom action 'a' rejected execution."
    assert sdk.ActionExecutionRejection("a", "no").message == "no"
