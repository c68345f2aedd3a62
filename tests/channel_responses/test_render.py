"""Responses render per platform as Rasa's channels do, within each platform's real limits."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from telegram import Bot

from chinwag.channel_responses.render import (
    TELEGRAM_BUTTONS_TEXT,
    callback_data,
    render_rest,
    render_slack,
    render_telegram,
    send_telegram,
    split_text,
)
from chinwag.channel_responses.variations import fill_response
from chinwag.core.data.domain_reader import read_domain
from chinwag.core.data.problems import Problems
from tests.emulators.slack import BOT_TOKEN as SLACK_TOKEN
from tests.emulators.slack import FakeSlackAPI, block_errors
from tests.emulators.telegram import BOT_TOKEN as TELEGRAM_TOKEN
from tests.emulators.telegram import FakeTelegramAPI, check_reply_markup

RESTAURANT = Path(__file__).resolve().parents[2] / "bots" / "restaurant"
YES_NO = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]


class PayloadStore:
    """Stands in for the adapter's store of long callback payloads."""

    def __init__(self) -> None:
        self.payloads: dict[str, str] = {}

    def __call__(self, payload: str) -> str:
        key = f"p:{len(self.payloads)}"
        self.payloads[key] = payload
        return key


def buttons(count: int) -> list[dict[str, str]]:
    return [{"title": f"B{i}", "payload": f'/choose{{"n": {i}}}'} for i in range(count)]


def action_elements(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


# --------------------------------------------------------------------------------- common


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("one", ["one"]),
        ("one\n\ntwo", ["one", "two"]),
        ("  one\ntwo\n\n\n\nthree\n", ["one\ntwo", "three"]),
        ("\n\n", []),
    ],
)
def test_split_text_on_blank_lines(text: str, parts: list[str]) -> None:
    assert split_text(text) == parts


# ---------------------------------------------------------------------------------- Slack


SLACK_TABLE: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = [
    ("text", {"text": "Hi"}, [{"text": "Hi", "mrkdwn": True}]),
    (
        "text split",
        {"text": "Hi\n\n*there*"},
        [{"text": "Hi", "mrkdwn": True}, {"text": "*there*", "mrkdwn": True}],
    ),
    (
        "buttons keep the text whole",
        {"text": "Go on?\n\nSure?", "buttons": YES_NO},
        [
            {
                "text": "Go on?\n\nSure?",
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": "Go on?\n\nSure?"}},
                    {
                        "type": "actions",
                        "block_id": "chinwag_buttons_0",
                        "elements": [
                            {
                                "type": "button",
                                "text": {"type": "plain_text", "text": "Yes"},
                                "action_id": "chinwag_btn_0",
                                "value": "/affirm",
                            },
                            {
                                "type": "button",
                                "text": {"type": "plain_text", "text": "No"},
                                "action_id": "chinwag_btn_1",
                                "value": "/deny",
                            },
                        ],
                    },
                ],
            }
        ],
    ),
    (
        "image",
        {"image": "https://x.test/a.png"},
        [
            {
                "text": "https://x.test/a.png",
                "blocks": [
                    {
                        "type": "image",
                        "image_url": "https://x.test/a.png",
                        "alt_text": "https://x.test/a.png",
                    }
                ],
            }
        ],
    ),
    (
        "attachment",
        {"attachment": {"title": "Menu", "title_link": "https://x.test"}},
        [{"text": "Menu", "attachments": [{"title": "Menu", "title_link": "https://x.test"}]}],
    ),
    ("attachment url", {"attachment": "https://x.test/m.pdf"}, [{"text": "https://x.test/m.pdf"}]),
    (
        "custom passthrough",
        {"custom": {"text": "raw", "unfurl_links": False}},
        [{"text": "raw", "unfurl_links": False}],
    ),
    (
        "custom blocks get a fallback",
        {
            "custom": {
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": "When?"}},
                    {"type": "actions", "elements": [{"type": "datepicker", "action_id": "d"}]},
                ]
            }
        },
        [
            {
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": "When?"}},
                    {"type": "actions", "elements": [{"type": "datepicker", "action_id": "d"}]},
                ],
                "text": "When?",
            }
        ],
    ),
    (
        "custom attachments give the fallback",
        {"custom": {"attachments": [{"fallback": "F", "text": "T"}]}},
        [{"attachments": [{"fallback": "F", "text": "T"}], "text": "F"}],
    ),
    (
        "Rasa's order: text, custom, image",
        {"text": "a", "image": "https://x.test/i.png", "custom": {"text": "c"}},
        [
            {"text": "a", "mrkdwn": True},
            {"text": "c"},
            {
                "text": "https://x.test/i.png",
                "blocks": [
                    {
                        "type": "image",
                        "image_url": "https://x.test/i.png",
                        "alt_text": "https://x.test/i.png",
                    }
                ],
            },
        ],
    ),
]


@pytest.mark.parametrize(
    ("response", "expected"),
    [(r, e) for _, r, e in SLACK_TABLE],
    ids=[name for name, _, _ in SLACK_TABLE],
)
def test_render_slack(response: dict[str, Any], expected: list[dict[str, Any]]) -> None:
    assert render_slack(response) == expected


def test_slack_quick_replies_win_over_buttons() -> None:
    [message] = render_slack({"text": "t", "quick_replies": YES_NO[:1], "buttons": YES_NO})
    assert [e["value"] for e in action_elements(message)] == ["/affirm"]


def test_slack_26_buttons_make_two_actions_blocks_with_unique_ids() -> None:
    [message] = render_slack({"text": "Pick", "buttons": buttons(26)})
    actions = [b for b in message["blocks"] if b["type"] == "actions"]
    assert [len(b["elements"]) for b in actions] == [25, 1]
    assert [b["block_id"] for b in actions] == ["chinwag_buttons_0", "chinwag_buttons_1"]
    ids = [e["action_id"] for e in action_elements(message)]
    assert len(set(ids)) == 26 and ids[25] == "chinwag_btn_25"
    assert block_errors(message["blocks"]) == []


def test_slack_over_50_blocks_continue_in_another_message() -> None:
    messages = render_slack({"text": "Pick", "buttons": buttons(25 * 50)})
    assert [len(m["blocks"]) for m in messages] == [50, 1]
    assert all(m["text"] == "Pick" and block_errors(m["blocks"]) == [] for m in messages)


def test_slack_limits_drop_long_payloads_and_shorten_titles(
    caplog: pytest.LogCaptureFixture,
) -> None:
    response = {
        "text": "Pick",
        "buttons": [
            {"title": "ok", "payload": "/a"},
            {"title": "huge", "payload": "/b" + "x" * 2000},
            {"title": "T" * 80, "payload": "/c"},
        ],
    }
    with caplog.at_level(logging.WARNING, logger="chinwag.channel_responses.render"):
        [message] = render_slack(response)
    elements = action_elements(message)
    assert [e["value"] for e in elements] == ["/a", "/c"]
    assert [e["action_id"] for e in elements] == ["chinwag_btn_0", "chinwag_btn_2"]
    assert len(elements[1]["text"]["text"]) == 75
    assert "payload has 2002 characters" in caplog.text
    assert block_errors(message["blocks"]) == []


def test_slack_buttons_without_text_fall_back_to_titles() -> None:
    [message] = render_slack({"buttons": YES_NO})
    assert message["text"] == "Yes No"
    assert [b["type"] for b in message["blocks"]] == ["actions"]


def test_slack_long_button_text_spreads_over_sections() -> None:
    [message] = render_slack({"text": "word " * 1000, "buttons": YES_NO})
    sections = [b for b in message["blocks"] if b["type"] == "section"]
    assert len(sections) == 2 and block_errors(message["blocks"]) == []


def test_slack_elements_are_title_subtitle_with_buttons() -> None:
    messages = render_slack(
        {"elements": [{"title": "Thai", "subtitle": "spicy", "buttons": YES_NO}, {"title": "X"}]}
    )
    assert [m["text"] for m in messages] == ["Thai : spicy", "X : "]
    assert len(action_elements(messages[0])) == 2


# ------------------------------------------------------------------------------- Telegram


TELEGRAM_TABLE: list[tuple[str, dict[str, Any], list[tuple[str, dict[str, Any]]]]] = [
    ("text", {"text": "Hi"}, [("sendMessage", {"text": "Hi"})]),
    (
        "text split",
        {"text": "Hi\n\nthere"},
        [("sendMessage", {"text": "Hi"}), ("sendMessage", {"text": "there"})],
    ),
    (
        "inline (default): one row",
        {"text": "Go?", "buttons": YES_NO},
        [
            (
                "sendMessage",
                {
                    "text": "Go?",
                    "reply_markup": {
                        "inline_keyboard": [
                            [
                                {"text": "Yes", "callback_data": "/affirm"},
                                {"text": "No", "callback_data": "/deny"},
                            ]
                        ]
                    },
                },
            )
        ],
    ),
    (
        "vertical: one per row",
        {"text": "Go?", "buttons": YES_NO, "button_type": "vertical"},
        [
            (
                "sendMessage",
                {
                    "text": "Go?",
                    "reply_markup": {
                        "inline_keyboard": [
                            [{"text": "Yes", "callback_data": "/affirm"}],
                            [{"text": "No", "callback_data": "/deny"}],
                        ]
                    },
                },
            )
        ],
    ),
    (
        "reply keyboard sends titles",
        {"text": "Go?", "buttons": YES_NO, "button_type": "reply"},
        [
            (
                "sendMessage",
                {
                    "text": "Go?",
                    "reply_markup": {
                        "keyboard": [[{"text": "Yes"}], [{"text": "No"}]],
                        "resize_keyboard": False,
                        "one_time_keyboard": True,
                    },
                },
            )
        ],
    ),
    (
        "buttons without text",
        {"buttons": YES_NO[:1]},
        [
            (
                "sendMessage",
                {
                    "text": TELEGRAM_BUTTONS_TEXT,
                    "reply_markup": {
                        "inline_keyboard": [[{"text": "Yes", "callback_data": "/affirm"}]]
                    },
                },
            )
        ],
    ),
    (
        "image",
        {"image": "https://x.test/a.png"},
        [("sendPhoto", {"photo": "https://x.test/a.png"})],
    ),
    (
        "attachment url",
        {"attachment": "https://x.test/m.pdf"},
        [("sendDocument", {"document": "https://x.test/m.pdf"})],
    ),
    ("attachment other", {"attachment": "menu"}, [("sendMessage", {"text": "Attachment: menu"})]),
    (
        "custom text",
        {"custom": {"text": "hi", "parse_mode": "HTML"}},
        [("sendMessage", {"text": "hi", "parse_mode": "HTML"})],
    ),
    (
        "custom photo",
        {"custom": {"photo": "https://x.test/p.png", "caption": "c"}},
        [("sendPhoto", {"photo": "https://x.test/p.png", "caption": "c"})],
    ),
    (
        "custom location",
        {"custom": {"latitude": 52.5, "longitude": 13.4}},
        [("sendLocation", {"latitude": 52.5, "longitude": 13.4})],
    ),
    (
        "custom venue before location",
        {"custom": {"latitude": 1.0, "longitude": 2.0, "title": "Pizzeria", "address": "Main St"}},
        [
            (
                "sendVenue",
                {"latitude": 1.0, "longitude": 2.0, "title": "Pizzeria", "address": "Main St"},
            )
        ],
    ),
    (
        "custom contact",
        {"custom": {"phone_number": "+1", "first_name": "Bo"}},
        [("sendContact", {"phone_number": "+1", "first_name": "Bo"})],
    ),
    (
        "custom explicit method",
        {"custom": {"method": "sendChatAction", "action": "typing"}},
        [("sendChatAction", {"action": "typing"})],
    ),
    (
        "custom request_location keyboard",
        {
            "custom": {
                "text": "Where are you?",
                "reply_markup": {
                    "keyboard": [[{"text": "Share", "request_location": True}]],
                    "one_time_keyboard": True,
                },
            }
        },
        [
            (
                "sendMessage",
                {
                    "text": "Where are you?",
                    "reply_markup": {
                        "keyboard": [[{"text": "Share", "request_location": True}]],
                        "one_time_keyboard": True,
                    },
                },
            )
        ],
    ),
    (
        "custom chat_id kept for the adapter",
        {"custom": {"chat_id": 7, "text": "x"}},
        [("sendMessage", {"chat_id": 7, "text": "x"})],
    ),
    ("custom without a method", {"custom": {"foo": 1}}, [("sendMessage", {"text": '{"foo": 1}'})]),
]


@pytest.mark.parametrize(
    ("response", "expected"),
    [(r, e) for _, r, e in TELEGRAM_TABLE],
    ids=[name for name, _, _ in TELEGRAM_TABLE],
)
def test_render_telegram(
    response: dict[str, Any], expected: list[tuple[str, dict[str, Any]]]
) -> None:
    assert render_telegram(response, PayloadStore()) == expected


def test_telegram_buttons_per_row() -> None:
    [(_, params)] = render_telegram(
        {"text": "n?", "buttons": buttons(5), "buttons_per_row": 2}, PayloadStore()
    )
    rows = params["reply_markup"]["inline_keyboard"]
    assert [len(row) for row in rows] == [2, 2, 1]
    [(_, reply)] = render_telegram(
        {"text": "n?", "buttons": buttons(3), "buttons_per_row": 3, "button_type": "reply"},
        PayloadStore(),
    )
    assert [len(row) for row in reply["reply_markup"]["keyboard"]] == [3]


def test_telegram_reply_keyboard_rows_given_as_lists() -> None:
    [(_, params)] = render_telegram(
        {
            "text": "n?",
            "buttons": [YES_NO, {"title": "Maybe", "payload": "/m"}],
            "button_type": "reply",
        },
        PayloadStore(),
    )
    assert params["reply_markup"]["keyboard"] == [
        [{"text": "Yes"}, {"text": "No"}],
        [{"text": "Maybe"}],
    ]


def test_telegram_long_callback_data_goes_to_the_store() -> None:
    store = PayloadStore()
    short = "/" + "a" * 63  # 64 bytes: allowed
    long_bytes = '/inform{"city": "' + "ü" * 25 + '"}'  # 44 characters, 69 bytes
    [(_, params)] = render_telegram(
        {
            "text": "t",
            "buttons": [{"title": "s", "payload": short}, {"title": "l", "payload": long_bytes}],
        },
        store,
    )
    [[first, second]] = params["reply_markup"]["inline_keyboard"]
    assert first["callback_data"] == short
    assert second["callback_data"] == "p:0" and store.payloads == {"p:0": long_bytes}
    check_reply_markup(params["reply_markup"])


def test_telegram_custom_inline_keyboard_payloads_are_shortened_too() -> None:
    store = PayloadStore()
    long_payload = "/x" + "y" * 70
    custom: dict[str, Any] = {
        "text": "t",
        "reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": long_payload}]]},
    }
    [(method, params)] = render_telegram({"custom": custom}, store)
    assert method == "sendMessage"
    assert params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "p:0"
    assert custom["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == long_payload


def test_telegram_long_text_is_cut_with_keyboard_on_the_last_part() -> None:
    text = ("line of text\n" * 400).strip()  # 5199 characters
    calls = render_telegram({"text": text, "buttons": YES_NO}, PayloadStore())
    assert [len(p["text"]) <= 4096 for _, p in calls] == [True, True]
    assert "".join(p["text"] for _, p in calls) == text
    assert "reply_markup" not in calls[0][1] and "reply_markup" in calls[1][1]


def test_callback_data_bounds() -> None:
    store = PayloadStore()
    assert callback_data("x" * 64, store) == "x" * 64
    assert callback_data("x" * 65, store) == "p:0"
    assert callback_data("", store) == "p:1"  # Telegram refuses empty data too


# ----------------------------------------------------------------------------------- REST


REST_TABLE: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = [
    ("text", {"text": "Hi"}, [{"recipient_id": "u1", "text": "Hi"}]),
    (
        "text split, stripped",
        {"text": " a\n\nb "},
        [{"recipient_id": "u1", "text": "a"}, {"recipient_id": "u1", "text": "b"}],
    ),
    (
        "buttons: text whole",
        {"text": "a\n\nb", "buttons": YES_NO},
        [{"recipient_id": "u1", "text": "a\n\nb", "buttons": YES_NO}],
    ),
    (
        "quick replies as buttons",
        {"text": "q", "quick_replies": YES_NO[:1], "buttons": YES_NO},
        [{"recipient_id": "u1", "text": "q", "buttons": YES_NO[:1]}],
    ),
    ("buttons without text", {"buttons": YES_NO}, [{"recipient_id": "u1", "buttons": YES_NO}]),
    (
        "each part its own message, Rasa's order",
        {"text": "t", "image": "i.png", "attachment": "a.pdf", "custom": {"k": 1}},
        [
            {"recipient_id": "u1", "text": "t"},
            {"recipient_id": "u1", "custom": {"k": 1}},
            {"recipient_id": "u1", "image": "i.png"},
            {"recipient_id": "u1", "attachment": "a.pdf"},
        ],
    ),
    (
        "elements",
        {"elements": [{"title": "A", "subtitle": "b"}]},
        [{"recipient_id": "u1", "text": "A : b", "buttons": []}],
    ),
    ("nothing", {"text": None, "buttons": None}, []),
]


@pytest.mark.parametrize(
    ("response", "expected"),
    [(r, e) for _, r, e in REST_TABLE],
    ids=[name for name, _, _ in REST_TABLE],
)
def test_render_rest(response: dict[str, Any], expected: list[dict[str, Any]]) -> None:
    assert render_rest(response, "u1") == expected


# ------------------------------------------------------------------ real bot, real clients


@pytest.fixture
def restaurant_responses() -> dict[str, dict[str, Any]]:
    problems = Problems()
    domain = read_domain([RESTAURANT / "domain.yml"], RESTAURANT, problems)
    assert not problems.errors
    slots = {"cuisine": "thai", "num_people": 2, "room_type": "double", "city": "Oslo", "nights": 3}
    return {
        name: fill_response(name, variations[0], slots)
        for name, variations in domain.responses.items()
    }


def test_restaurant_responses_render_on_every_channel(
    restaurant_responses: dict[str, dict[str, Any]],
) -> None:
    assert len(restaurant_responses) >= 25
    for name, response in restaurant_responses.items():
        slack = render_slack(response)
        telegram = render_telegram(response, PayloadStore())
        rest = render_rest(response, "u1")
        assert slack and telegram and rest, name
        for message in slack:
            assert message["text"] and block_errors(message.get("blocks", [])) == [], name
        for _, params in telegram:
            check_reply_markup(params.get("reply_markup"))
    room = restaurant_responses["utter_ask_room_type"]
    [message] = render_slack(room)
    assert [e["value"] for e in action_elements(message)] == [
        '/inform{"room_type": "single"}',
        '/inform{"room_type": "double"}',
        '/inform{"room_type": "suite"}',
    ]
    [(_, params)] = render_telegram(room, PayloadStore())
    assert [k["text"] for k in params["reply_markup"]["inline_keyboard"][0]] == [
        "Single",
        "Double",
        "Suite",
    ]
    assert render_rest(restaurant_responses["utter_hotel_booked"], "u1") == [
        {"recipient_id": "u1", "text": "Your double room in Oslo is booked for 3 nights."}
    ]
    slots_values = render_slack(restaurant_responses["utter_slots_values"])
    assert len(slots_values) == 1 and "cuisine: thai" in slots_values[0]["text"]


async def test_rendered_messages_are_accepted_by_the_fake_apis(
    fakes: tuple[FakeSlackAPI, FakeTelegramAPI],
) -> None:
    slack, telegram = fakes
    store = PayloadStore()
    response = {
        "text": "Pick one",
        "buttons": [*buttons(30), {"title": "long", "payload": "/inform" + "{}" * 40}],
        "image": "https://x.test/a.png",
        "custom": {"latitude": 52.5, "longitude": 13.4},
    }
    client = AsyncWebClient(token=SLACK_TOKEN, base_url=slack.base_url, timeout=5)
    slack_response = {key: value for key, value in response.items() if key != "custom"}
    for kwargs in render_slack(slack_response):
        await client.chat_postMessage(channel="C111", **kwargs)
    posted = slack.calls_of("chat.postMessage")
    assert len(posted) == 2  # buttons message, image message
    assert len(action_elements(posted[0].body)) == 31

    async with Bot(TELEGRAM_TOKEN, base_url=telegram.base_url) as bot:
        results = [
            await send_telegram(bot, method, {"chat_id": 42, **params})
            for method, params in render_telegram(response, store)
        ]
    assert [c.method for c in telegram.calls[1:]] == ["sendMessage", "sendLocation", "sendPhoto"]
    keyboard = telegram.calls_of("sendMessage")[0].body["reply_markup"]["inline_keyboard"]
    assert keyboard[0][-1]["callback_data"] == "p:0"
    assert results[0].reply_markup.inline_keyboard[0][0].callback_data == '/choose{"n": 0}'
    assert results[1].location.latitude == 52.5


async def test_send_telegram_passes_unknown_params_as_api_kwargs(
    fakes: tuple[FakeSlackAPI, FakeTelegramAPI],
) -> None:
    _, telegram = fakes
    params = {"chat_id": 42, "text": "hi", "brand_new_option": True}
    async with Bot(TELEGRAM_TOKEN, base_url=telegram.base_url) as bot:
        message = await send_telegram(bot, "sendMessage", params)
        reply = {
            "keyboard": [[{"text": "Share", "request_location": True}]],
            "one_time_keyboard": True,
        }
        await send_telegram(
            bot, "sendMessage", {"chat_id": 42, "text": "where?", "reply_markup": reply}
        )
    assert message.text == "hi"
    first, second = telegram.calls_of("sendMessage")
    assert first.body["brand_new_option"] == "true"  # form-encoded JSON
    assert second.body["reply_markup"]["keyboard"] == [
        [{"text": "Share", "request_location": True}]
    ]
