"""Rasa's own tracker dumps (rasa/data/test_trackers) load and serialize back unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chinwag.core.domain import Domain
from chinwag.core.events import ActionExecuted, UserUttered
from chinwag.core.slots import Slot
from chinwag.core.tracker import Tracker

pytestmark = pytest.mark.corpus


def load(corpus_dir: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (corpus_dir / "rasa-testdata" / "test_trackers" / name).read_text()
    )
    return data


def fixture_domain() -> Domain:
    # the dumps list one bot slot, "name", beside Rasa's default slots
    return Domain(slots={"name": Slot("name", type="text")})


def test_moodbot_tracker_round_trips_exactly(corpus_dir: Path) -> None:
    dump = load(corpus_dir, "tracker_moodbot.json")
    tracker = Tracker.from_dict(dump["sender_id"], dump["events"], fixture_domain())
    assert len(tracker.events) == 7
    assert [type(e).__name__ for e in tracker.events[:3]] == [
        "ActionExecuted",
        "UserUttered",
        "ActionExecuted",
    ]
    assert [e.to_dict() for e in tracker.events] == dump["events"]
    # every other field of Rasa's dump is what our tracker computes from the events
    assert tracker.current_state("all") == dump


def test_tracker_with_pre_action_text_events(corpus_dir: Path) -> None:
    """Older dumps lack ``action_text``; writing them back adds ``"action_text": null``."""
    dump = load(corpus_dir, "tracker_moodbot_with_new_utterances.json")
    tracker = Tracker.from_dict(dump["sender_id"], dump["events"], fixture_domain())
    assert len(tracker.events) == 10
    for written, original in zip(
        (e.to_dict() for e in tracker.events), dump["events"], strict=True
    ):
        if original["event"] == "action":
            assert "action_text" not in original
            assert written.pop("action_text") is None
        assert written == original
    last_user = tracker.get_last_event_for(UserUttered)
    # this dump's last user event says "/mood_great" but its parse data another text; Rasa's
    # latest_message is the parse data, so that text wins there
    assert last_user is not None and last_user.text == "/mood_great"
    assert last_user.parse_data["text"] == "my mood is so great!"
    last_action = tracker.get_last_event_for(ActionExecuted, ["action_listen"])
    assert last_action is not None
    assert (last_action.action_name, last_action.policy, last_action.confidence) == (
        "utter_happy",
        "policy_1_TEDPolicy",
        0.8,
    )
    state = tracker.current_state()
    assert state["latest_message"]["text"] == "my mood is so great!"
    assert state["latest_message"]["intent"] == {"confidence": 0.6, "name": "mood_great"}
    assert state["latest_event_time"] == 1517821750.211042
    assert state["latest_action_name"] == "action_listen"
    assert state["slots"] == {
        "name": None,
        "requested_slot": None,
        "session_started_metadata": None,
    }
