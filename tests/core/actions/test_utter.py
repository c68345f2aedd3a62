"""Utter actions say their response as Rasa's ActionBotResponse / ActionRetrieveResponse do."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest

from chinwag.channel_responses.variations import ResponseGenerator
from chinwag.core.actions.base import ActionContext
from chinwag.core.actions.utter import EndToEndAction, RetrievalAction, UtterAction
from chinwag.core.domain import Domain
from chinwag.core.events import ActionExecuted, BotUttered, Event, SlotSet, UserUttered
from chinwag.core.slots import Slot
from chinwag.core.tracker import Tracker

RESPONSES: dict[str, list[dict[str, Any]]] = {
    "utter_greet": [
        {"text": "Hello {name}!", "buttons": [{"title": "Hi", "payload": "/greet"}]},
        {"text": "Hello on Slack, {name}!", "channel": "slack", "id": "greet-slack"},
    ],
    "utter_faq/ask_name": [{"text": "I am chinwag."}],
    "utter_faq/ask_weather": [{"text": "Sunny, always."}],
    "utter_cheer_up": [{"text": "Here:", "image": "https://i/cat.png"}],
}


def context(events: list[Event], channel: str | None = None) -> ActionContext:
    domain = Domain(slots={"name": Slot("name", type="text")}, responses=RESPONSES)
    tracker = Tracker("u", domain, events)
    return ActionContext(tracker, domain, ResponseGenerator(domain, random.Random(0)), channel)


def only_bot(events: list[Event]) -> BotUttered:
    assert len(events) == 1 and isinstance(events[0], BotUttered)
    return events[0]


async def test_utter_action_says_the_filled_response_with_rasas_metadata() -> None:
    ctx = context([SlotSet("name", "Ann")], channel="rest")
    bot = only_bot(await UtterAction("utter_greet").run(ctx))
    assert bot.text == "Hello Ann!"
    assert bot.data["buttons"] == [{"title": "Hi", "payload": "/greet"}]
    assert bot.metadata == {"utter_action": "utter_greet"}
    assert bot.to_dict()["metadata"] == {"utter_action": "utter_greet"}


async def test_utter_action_uses_the_context_channel() -> None:
    bot = only_bot(await UtterAction("utter_greet").run(context([SlotSet("name", "Bo")], "slack")))
    assert bot.text == "Hello on Slack, Bo!"
    assert bot.metadata == {"id": "greet-slack", "utter_action": "utter_greet"}


async def test_image_doubles_as_attachment_as_in_rasa() -> None:
    bot = only_bot(await UtterAction("utter_cheer_up").run(context([])))
    assert bot.data["image"] == bot.data["attachment"] == "https://i/cat.png"
    assert bot.message()["attachment"] is None


async def test_missing_response_logs_an_error_and_says_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR):
        assert await UtterAction("utter_nothing").run(context([])) == []
    assert "Couldn't create message for response 'utter_nothing'" in caplog.text


def faq_message(**parse_data: Any) -> list[Event]:
    return [
        ActionExecuted("action_listen"),
        UserUttered(
            text="what's your name?",
            intent={"name": "faq", "confidence": 0.9},
            parse_data=parse_data,
        ),
    ]


async def test_retrieval_action_uses_the_response_selector() -> None:
    selector = {
        "all_retrieval_intents": ["faq"],
        "faq": {
            "response": {
                "intent_response_key": "faq/ask_weather",
                "utter_action": "utter_faq/ask_weather",
                "confidence": 0.8,
            },
            "ranking": [],
        },
    }
    bot = only_bot(
        await RetrievalAction("utter_faq").run(context(faq_message(response_selector=selector)))
    )
    assert bot.text == "Sunny, always."
    assert bot.metadata == {"utter_action": "utter_faq/ask_weather"}


async def test_retrieval_action_falls_back_to_the_default_selector_and_rasa2_keys() -> None:
    selector = {"default": {"response": {"intent_response_key": "faq/ask_name"}}}
    bot = only_bot(
        await RetrievalAction("utter_faq").run(context(faq_message(response_selector=selector)))
    )
    assert bot.text == "I am chinwag."


async def test_retrieval_action_reads_a_full_retrieval_intent() -> None:
    events: list[Event] = [
        ActionExecuted("action_listen"),
        UserUttered(text="/faq/ask_name", intent={"name": "faq/ask_name", "confidence": 1.0}),
    ]
    bot = only_bot(await RetrievalAction("utter_faq").run(context(events)))
    assert bot.text == "I am chinwag."


async def test_retrieval_action_without_a_selection_logs_and_says_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR):
        assert await RetrievalAction("utter_faq").run(context(faq_message())) == []
    assert "utter_faq" in caplog.text


async def test_end_to_end_action_says_its_text() -> None:
    action = EndToEndAction("Sure, here it is.")
    assert action.name() == "Sure, here it is."
    bot = only_bot(await action.run(context([])))
    assert bot.text == "Sure, here it is."
    assert bot.metadata == {}
