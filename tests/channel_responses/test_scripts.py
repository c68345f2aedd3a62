"""Responses and slot values in any script (right-to-left included) render unchanged on every
channel, and the platform fakes accept them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from telegram import Bot

from chinwag.channel_responses.render import (
    TELEGRAM_MAX_CALLBACK_DATA,
    TELEGRAM_MAX_TEXT,
    render_rest,
    render_slack,
    render_telegram,
    send_telegram,
)
from chinwag.channel_responses.variations import fill_response
from tests.channel_responses.test_render import PayloadStore, action_elements
from tests.emulators.slack import BOT_TOKEN as SLACK_TOKEN
from tests.emulators.slack import FakeSlackAPI, block_errors
from tests.emulators.telegram import BOT_TOKEN as TELEGRAM_TOKEN
from tests.emulators.telegram import FakeTelegramAPI

WEB = Path(__file__).resolve().parents[2] / "adapters" / "web"

# response template, slot values, the text it must render as
SCRIPTS = {
    "arabic": (
        "الطقس في {city} جميل اليوم",
        {"city": "الإسكندرية"},
        "الطقس في الإسكندرية جميل اليوم",
    ),
    "hebrew": ("מזג האוויר ב{city} נעים", {"city": "ירושלים"}, "מזג האוויר בירושלים נעים"),
    "chinese": ("{city}的天气很好", {"city": "南京"}, "南京的天气很好"),
    # bidirectional: Latin and digits inside right-to-left text, an astral CJK character
    "mixed": ("موعدك {time} في Berlin 𠮷", {"time": "15:00"}, "موعدك 15:00 في Berlin 𠮷"),
}


def _response(script: str) -> dict[str, Any]:
    template, slots, _ = SCRIPTS[script]
    value = next(iter(slots.values()))
    variation = {
        "text": template,
        "buttons": [{"title": value, "payload": f'/inform{{"value": "{value}"}}'}],
    }
    return fill_response("utter_script", variation, slots)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_text_and_slot_values_render_unchanged(script: str) -> None:
    expected = SCRIPTS[script][2]
    response = _response(script)
    value = next(iter(SCRIPTS[script][1].values()))

    [slack] = render_slack(response)
    assert slack["text"] == expected
    assert block_errors(slack["blocks"]) == []
    assert slack["blocks"][0]["text"]["text"] == expected
    assert [e["text"]["text"] for e in action_elements(slack)] == [value]

    store = PayloadStore()
    [(method, params)] = render_telegram(response, store)
    assert method == "sendMessage" and params["text"] == expected
    [[button]] = params["reply_markup"]["inline_keyboard"]
    assert button["text"] == value
    payload = f'/inform{{"value": "{value}"}}'
    # Telegram's limit is 64 bytes of UTF-8, not characters: a long RTL payload is stored
    if len(payload.encode("utf-8")) <= TELEGRAM_MAX_CALLBACK_DATA:
        assert button["callback_data"] == payload
    else:
        assert store.payloads[button["callback_data"]] == payload

    [rest] = render_rest(response, "u1")
    assert rest["text"] == expected
    assert json.loads(json.dumps(rest, ensure_ascii=False)) == rest


def test_long_text_without_spaces_splits_losslessly_for_telegram() -> None:
    text = "南京的天气很好" * 1000  # 7000 characters, no space to cut at
    calls = render_telegram({"text": text}, PayloadStore())
    pieces = [params["text"] for _, params in calls]
    assert len(pieces) == 2 and all(len(p) <= TELEGRAM_MAX_TEXT for p in pieces)
    assert "".join(pieces) == text


async def test_platforms_receive_every_script_intact(
    fakes: tuple[FakeSlackAPI, FakeTelegramAPI],
) -> None:
    slack, telegram = fakes
    client = AsyncWebClient(token=SLACK_TOKEN, base_url=slack.base_url, timeout=5)
    store = PayloadStore()
    async with Bot(TELEGRAM_TOKEN, base_url=telegram.base_url) as bot:
        for script in sorted(SCRIPTS):
            response = _response(script)
            for kwargs in render_slack(response):
                await client.chat_postMessage(channel="C111", **kwargs)
            for method, params in render_telegram(response, store):
                sent = await send_telegram(bot, method, {"chat_id": 42, **params})
                assert sent.text == SCRIPTS[script][2]
    expected = [SCRIPTS[s][2] for s in sorted(SCRIPTS)]
    assert [c.body["text"] for c in slack.calls_of("chat.postMessage")] == expected
    assert [c.body["text"] for c in telegram.calls_of("sendMessage")] == expected


def test_web_chat_bubbles_take_their_direction_from_their_text() -> None:
    # dir="auto": an Arabic or Hebrew message reads right-to-left, an English one left-to-right
    script = (WEB / "chat.js").read_text(encoding="utf-8")
    add = script[script.index("function add(") : script.index("function addText(")]
    assert 'item.dir = "auto"' in add
    assert '<meta charset="utf-8">' in (WEB / "index.html").read_text(encoding="utf-8").lower()
