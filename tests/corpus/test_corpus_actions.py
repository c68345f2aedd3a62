"""Default actions on real bots: formbot's slot mappings and responses as Rasa applies them."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from chinwag.channel_responses.variations import ResponseGenerator
from chinwag.core.actions.base import ActionContext
from chinwag.core.actions.registry import ActionRegistry
from chinwag.core.data.domain_reader import read_domain
from chinwag.core.data.problems import Problems
from chinwag.core.domain import Domain
from chinwag.core.events import ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered
from chinwag.core.tracker import Tracker

pytestmark = pytest.mark.corpus

FORM = "restaurant_form"


def formbot(corpus_dir: Path) -> Domain:
    root = corpus_dir / "rasa-formbot"
    problems = Problems()
    domain = read_domain([root / "domain.yml"], root, problems)
    assert not problems.errors
    return domain


def message(intent: str, text: str, **entities: Any) -> UserUttered:
    return UserUttered(
        text=text,
        intent={"name": intent, "confidence": 0.95},
        entities=[{"entity": k, "value": v} for k, v in entities.items()],
    )


async def extract(domain: Domain, events: list[Event]) -> dict[str, Any]:
    tracker = Tracker("u", domain, [ActionExecuted("action_listen"), *events])
    ctx = ActionContext(tracker, domain, ResponseGenerator(domain, random.Random(0)))
    result = await ActionRegistry(domain).get("action_extract_slots").run(ctx)
    return {e.key: e.value for e in result if isinstance(e, SlotSet)}


def asking(requested: str) -> list[Event]:
    return [
        message("request_restaurant", "book a table"),
        ActionExecuted(FORM),
        ActiveLoop(FORM),
        SlotSet("requested_slot", requested),
        ActionExecuted("action_listen"),
    ]


async def test_formbot_activation_message_fills_only_entity_slots(corpus_dir: Path) -> None:
    domain = formbot(corpus_dir)
    activating = message(
        "request_restaurant", "a table for 4 with thai food", number=4, cuisine="thai"
    )
    assert await extract(domain, [activating]) == {"cuisine": "thai", "num_people": 4}


async def test_formbot_from_text_and_from_intent_slots_fill_when_asked(corpus_dir: Path) -> None:
    domain = formbot(corpus_dir)
    assert await extract(domain, [*asking("preferences"), message("inform", "by the window")]) == {
        "preferences": "by the window"
    }
    assert await extract(domain, [*asking("preferences"), message("deny", "no")]) == {
        "preferences": "no additional preferences"
    }
    assert await extract(domain, [*asking("outdoor_seating"), message("affirm", "yes")]) == {
        "outdoor_seating": True
    }
    # the same answer while another slot is asked for fills nothing
    assert await extract(domain, [*asking("cuisine"), message("affirm", "yes")]) == {}
    # chitchat is ignored by the form: no entity is taken from it
    chitchat = message("chitchat", "do you like thai?", cuisine="thai")
    assert await extract(domain, [*asking("cuisine"), chitchat]) == {}


async def test_formbot_summary_response_fills_every_slot(corpus_dir: Path) -> None:
    domain = formbot(corpus_dir)
    values = {"cuisine": "thai", "num_people": 4.0, "outdoor_seating": True, "preferences": "quiet"}
    tracker = Tracker("u", domain, [SlotSet(k, v) for k, v in values.items()])
    response = ResponseGenerator(domain).generate("utter_slots_values", tracker, "rest")
    assert response is not None and response["response"] == "utter_slots_values"
    text = response["text"]
    for line in ("cuisine: thai", "num_people: 4.0", "outdoor_seating: True", "preferences: quiet"):
        assert f"- {line}" in text
    # an empty slot reads "None", as in Rasa
    assert text.endswith("- feedback: None")
