"""Small domains, stories and live trackers for the policy tests."""

from __future__ import annotations

from typing import Any

from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.story_graph import Conversation, expand
from chinwag.core.data.training import (
    ActionStep,
    LoopStep,
    SlotStep,
    Step,
    Story,
    StoryKind,
    UserStep,
)
from chinwag.core.domain import Domain, Form, Intent
from chinwag.core.events import ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered
from chinwag.core.slots import Slot
from chinwag.core.tracker import Tracker

INTENTS = ["greet", "bye", "affirm", "deny", "inform", "request", "chitchat", "restart", "back"]


def domain() -> Domain:
    return Domain(
        intents={i: Intent(i) for i in INTENTS},
        slots={
            "ok": Slot("ok", type="bool"),
            "name": Slot("name", type="text"),
            "requested_slot": Slot("requested_slot", type="text", influence_conversation=False),
        },
        forms={"a_form": Form("a_form", required_slots=["name"])},
    )


def story(name: str, *steps: Step, kind: StoryKind = "story", **opts: Any) -> Story:
    return Story(name, list(steps), kind=kind, location=Location("data/x.yml", 1), **opts)


def split(*stories: Story) -> tuple[list[Conversation], list[Conversation]]:
    convs = expand(list(stories), Problems())
    return [c for c in convs if c.kind != "rule"], [c for c in convs if c.kind == "rule"]


def u(intent: str) -> UserStep:
    return UserStep(intent)


def a(name: str) -> ActionStep:
    return ActionStep(name)


def slot(**values: Any) -> SlotStep:
    return SlotStep(dict(values))


def loop(name: str | None) -> LoopStep:
    return LoopStep(name)


def user(intent: str, confidence: float = 1.0, text: str | None = None) -> list[Event]:
    """A live user message: the listen before it and the NLU result."""
    return [
        ActionExecuted("action_listen"),
        UserUttered(text or intent, intent={"name": intent, "confidence": confidence}),
    ]


def tracker(*events: Event | list[Event]) -> Tracker:
    flat: list[Event] = []
    for e in events:
        flat.extend(e if isinstance(e, list) else [e])
    return Tracker("test", domain(), flat)


def act(name: str) -> ActionExecuted:
    return ActionExecuted(name)


__all__ = ["ActiveLoop", "SlotSet"]
