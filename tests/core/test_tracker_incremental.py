"""The tracker's shortcuts (state copies, applied events folded as they come) give exactly what
replaying every event from the start gives."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chinwag.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    DefinePrevUserUtteredFeaturization,
    EntitiesAdded,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from chinwag.core.tracker import Tracker
from tests.core.test_tracker import FORM, event_strategy, make_domain


def reference_applied_events(events: list[Event]) -> list[Event]:
    """Rasa's ``applied_events()`` written out plainly, over all events at once."""
    from chinwag.core.tracker import (
        _first_loop_execution_or_unhappy_path,
        _undo_till_previous,
        _undo_till_previous_loop_execution,
    )

    loops = {e.name for e in events if isinstance(e, ActiveLoop) and e.name}
    applied: list[Event] = []
    for event in events:
        if isinstance(event, Restarted | SessionStarted):
            applied = []
        elif isinstance(event, ActionReverted):
            _undo_till_previous(ActionExecuted, applied)
        elif isinstance(event, UserUtteranceReverted):
            _undo_till_previous(UserUttered, applied)
            _undo_till_previous(ActionExecuted, applied)
        elif (
            isinstance(event, ActionExecuted)
            and event.action_name in loops
            and not _first_loop_execution_or_unhappy_path(event.action_name, applied)
        ):
            _undo_till_previous_loop_execution(event.action_name, applied)
        else:
            applied.append(event)
    return applied


def fields(event: Event) -> dict[str, Any]:
    """An event's fields but its timestamp (a fresh tracker's placeholders get the time)."""
    return {k: v for k, v in dataclasses.asdict(event).items() if k != "timestamp"}


def snapshot(tracker: Tracker) -> dict[str, Any]:
    """Everything a tracker's state is, including what current_state() leaves out."""
    return {
        "state": tracker.current_state("all"),
        "slots": tracker.slots,
        "slot_defs": sorted(tracker.slot_defs),
        "message": fields(tracker.latest_message),
        "bot": fields(tracker.latest_bot_utterance),
        "loop": tracker.active_loop,
        "applied": tracker.applied_events(),
    }


@settings(max_examples=200, deadline=None)
@given(st.lists(event_strategy, max_size=30), st.lists(event_strategy, max_size=8))
def test_copy_is_the_replayed_tracker_and_independent(
    events: list[Event], more: list[Event]
) -> None:
    domain = make_domain()
    tracker = Tracker("c", domain, events)
    before = snapshot(tracker)
    copied = tracker.copy()
    assert snapshot(copied) == snapshot(Tracker("c", domain, events)) == before
    copied.update_all(more)
    assert snapshot(copied) == snapshot(Tracker("c", domain, [*events, *more]))
    assert snapshot(tracker) == before  # the original did not move


@settings(max_examples=200, deadline=None)
@given(st.lists(event_strategy, max_size=40))
def test_applied_events_follow_every_update(events: list[Event]) -> None:
    tracker = Tracker("a", make_domain())
    for index, event in enumerate(events):
        tracker.update(event)
        assert tracker.applied_events() == reference_applied_events(events[: index + 1])


def test_a_loop_seen_late_collapses_its_earlier_runs() -> None:
    """The loop names come from all events: a later ActiveLoop changes earlier collapsing."""
    tracker = Tracker("late", make_domain())
    turn = [
        ActionExecuted("action_listen"),
        UserUttered("x", {"name": "inform"}),
        ActionExecuted(FORM),
    ]
    tracker.update_all([*turn, *turn])
    assert len(tracker.applied_events()) == 6
    tracker.update(ActiveLoop(FORM))
    assert tracker.applied_events() == reference_applied_events(tracker.events)
    assert len(tracker.applied_events()) == 4


def test_copy_keeps_featurization_and_added_entities() -> None:
    """Text-only messages may be featurized by intent later; a copy must not undo that."""
    domain = make_domain()
    events: list[Event] = [
        ActionExecuted("action_listen"),
        UserUttered("hi there", {}, [{"entity": "a", "value": 1}]),
        EntitiesAdded([{"entity": "b", "value": 2}]),
        DefinePrevUserUtteredFeaturization(False),
        SlotSet("tags", ["x"]),
        ActiveLoop(FORM),
        ActionExecutionRejected(FORM),
    ]
    tracker = Tracker("f", domain, events)
    copied = tracker.copy()
    assert copied.latest_message.use_text_for_featurization is False
    assert [e["entity"] for e in copied.latest_message.entities] == ["a", "b"]
    copied.slots["tags"].append("y")
    copied.latest_message.entities.append({"entity": "c"})
    assert copied.active_loop is not None
    copied.active_loop.rejected = False
    assert tracker.slots["tags"] == ["x"]
    assert len(tracker.latest_message.entities) == 2
    assert tracker.is_active_loop_rejected
