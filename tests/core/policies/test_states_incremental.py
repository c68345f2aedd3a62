"""States kept on a live tracker and extended message by message are the states a full replay
of its events gives (Rasa's ``past_states``), whatever the events did in between."""

from __future__ import annotations

import operator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chinwag.core.events import ActionExecuted, ActiveLoop, Event, SlotSet, UserUtteranceReverted
from chinwag.core.policies import states as states_module
from chinwag.core.policies.states import STATE_SNAPSHOTS, State, _replay, tracker_states
from chinwag.core.tracker import Tracker
from tests.core.test_tracker import FORM, event_strategy, listen, make_domain, user


def replayed_states(events: list[Event], omit_unset_slots: bool) -> list[State]:
    """The states of a tracker built from scratch, without anything remembered."""
    domain = make_domain()
    tracker = Tracker("fresh", domain, events)
    return [state for state, _, _ in _replay(tracker, domain, omit_unset_slots)]


@settings(max_examples=200, deadline=None)
@given(st.lists(event_strategy, max_size=40), st.booleans())
def test_live_states_match_a_full_replay_after_every_event(
    events: list[Event], omit_unset_slots: bool
) -> None:
    domain = make_domain()
    tracker = Tracker("live", domain)
    for index, event in enumerate(events):
        tracker.update(event)
        if index % 3 == 0 or index == len(events) - 1:
            got = tracker_states(tracker, domain, omit_unset_slots=omit_unset_slots)
            assert got == replayed_states(events[: index + 1], omit_unset_slots)


def form_turn(value: str) -> list[Event]:
    return [
        listen(),
        user("inform", value),
        SlotSet("cuisine", value),
        ActionExecuted(FORM),
        SlotSet("requested_slot", "people"),
    ]


def test_a_long_form_collapses_and_stays_exact() -> None:
    """Each happy-path form run drops the turns since the previous run from the applied
    events; the remembered states resume from a snapshot before them."""
    domain = make_domain()
    tracker = Tracker("form", domain, [listen(), user("book"), ActionExecuted(FORM)])
    tracker.update(ActiveLoop(FORM))
    for turn in range(STATE_SNAPSHOTS * 3):
        tracker.update_all(form_turn(f"value {turn}"))
        assert tracker_states(tracker, domain) == replayed_states(tracker.events, False)
    # the collapsed history: before the listen, before the first run, now
    assert len(tracker_states(tracker, domain)) == 3


def test_a_rewind_beyond_the_snapshots_replays_from_the_start() -> None:
    domain = make_domain()
    tracker = Tracker("rewind", domain)
    for turn in range(STATE_SNAPSHOTS + 2):
        tracker.update_all([listen(), user("greet", f"hi {turn}"), ActionExecuted("utter_greet")])
        tracker_states(tracker, domain)
    tracker.update_all([listen(), UserUtteranceReverted(), SlotSet("cuisine", "thai")])
    assert tracker_states(tracker, domain) == replayed_states(tracker.events, False)


def test_copies_do_not_share_the_remembered_states() -> None:
    domain = make_domain()
    tracker = Tracker("copy", domain, [listen(), user("greet")])
    before = tracker_states(tracker, domain)
    copied = tracker.copy()
    copied.update_all([ActionExecuted("utter_greet"), SlotSet("cuisine", "thai")])
    assert len(tracker_states(copied, domain)) == len(before) + 1
    assert tracker_states(tracker, domain) == before


@settings(max_examples=100, deadline=None)
@given(st.lists(event_strategy, max_size=30))
def test_equal_states_of_two_trackers_are_one_object(events: list[Event]) -> None:
    """The lookups keyed by state histories find each other's histories by identity: two
    trackers (built apart, one extended event by event) give the very same State objects."""
    domain = make_domain()
    whole = tracker_states(Tracker("whole", domain, events), domain)
    grown = Tracker("grown", domain)
    for event in events:
        grown.update(event)
        tracker_states(grown, domain)
    assert all(map(operator.is_, tracker_states(grown, domain), whole))
    assert whole == replayed_states(events, False)


def test_the_shared_states_forget_at_their_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the bound the shared states start again; the states stay what a replay gives."""
    monkeypatch.setattr(states_module, "CANONICAL_STATES", 2)
    monkeypatch.setattr(states_module, "_canonical_states", {})
    domain = make_domain()
    events: list[Event] = []
    for turn in range(4):
        events += [listen(), user("greet", f"hi {turn}"), SlotSet("cuisine", f"c{turn}")]
        events.append(ActionExecuted("utter_greet"))
        tracker = Tracker(f"t{turn}", domain, events)
        assert tracker_states(tracker, domain) == replayed_states(events, False)
        assert len(states_module._canonical_states) <= 2


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(event_strategy, st.booleans()), max_size=40), st.booleans())
def test_live_states_match_a_full_replay_wherever_they_are_asked(
    steps: list[tuple[Event, bool]], omit_unset_slots: bool
) -> None:
    """Asked after any events (the present a call gives is the state before the next action,
    unless the events changed in between: a revert, a loop's turns collapsing)."""
    domain = make_domain()
    tracker = Tracker("live", domain)
    events = []
    for event, ask in steps:
        tracker.update(event)
        events.append(event)
        if ask:
            got = tracker_states(tracker, domain, omit_unset_slots=omit_unset_slots)
            assert got == replayed_states(events, omit_unset_slots)
