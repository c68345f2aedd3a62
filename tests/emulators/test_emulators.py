"""The fakes speak the real wire formats: driven by the real slack_sdk and python-telegram-bot."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, EndPointNotFound, InvalidToken
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes, MessageHandler, filters

from tests.emulators import clear_platform_env
from tests.emulators.slack import (
    BOT_TOKEN as SLACK_TOKEN,
)
from tests.emulators.slack import (
    SIGNING_SECRET,
    FakeSlackAPI,
    sign_slack,
    slack_block_action_payload,
    slack_command_form,
    slack_event_envelope,
    slack_interactive_body,
    slack_message_event,
)
from tests.emulators.telegram import (
    BOT_TOKEN as TELEGRAM_TOKEN,
)
from tests.emulators.telegram import (
    FakeTelegramAPI,
    telegram_callback_update,
    telegram_message_update,
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_platform_env(monkeypatch)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackAPI]:
    async with FakeSlackAPI() as fake:
        yield fake


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as fake:
        yield fake


def slack_client(fake: FakeSlackAPI, token: str = SLACK_TOKEN) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=fake.base_url, timeout=5)


def telegram_bot(fake: FakeTelegramAPI, token: str = TELEGRAM_TOKEN) -> Bot:
    return Bot(token, base_url=fake.base_url)


def buttons_block(count: int, *, action_id: str = "b{}", text: str = "t") -> dict[str, Any]:
    return {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": action_id.format(i),
                "text": {"type": "plain_text", "text": text},
                "value": f"/v{i}",
            }
            for i in range(count)
        ],
    }


# -------------------------------------------------------------------------------- Slack


async def test_auth_test_answers_bot_identity_and_scopes(slack: FakeSlackAPI) -> None:
    result = await slack_client(slack).auth_test()
    assert (result["user_id"], result["bot_id"], result["team_id"]) == ("UBOT", "BBOT", "T111")
    assert "chat:write" in result.headers["x-oauth-scopes"]
    [call] = slack.calls_of("auth.test")
    assert call.headers["Authorization"] == f"Bearer {SLACK_TOKEN}"
    assert call.headers["Content-Type"].startswith("application/x-www-form-urlencoded")


async def test_wrong_token_is_invalid_auth(slack: FakeSlackAPI) -> None:
    with pytest.raises(SlackApiError) as caught:
        await slack_client(slack, token="xoxb-wrong").chat_postMessage(channel="C1", text="hi")
    assert caught.value.response["error"] == "invalid_auth"


async def test_post_message_with_blocks_is_recorded_as_json(slack: FakeSlackAPI) -> None:
    client = slack_client(slack)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "Pick"}}, buttons_block(2)]
    first = await client.chat_postMessage(channel="C111", text="Pick", blocks=blocks)
    second = await client.chat_postMessage(channel="C111", text="again", thread_ts=first["ts"])
    assert float(second["ts"]) > float(first["ts"])
    assert first["message"]["blocks"] == blocks
    assert second["message"]["thread_ts"] == first["ts"]
    call = slack.calls_of("chat.postMessage")[0]
    assert call.headers["Content-Type"].startswith("application/json")
    assert call.body == {"channel": "C111", "text": "Pick", "blocks": blocks}


async def test_form_encoded_post_message_decodes_blocks(slack: FakeSlackAPI) -> None:
    blocks = [buttons_block(1)]
    client = slack_client(slack)
    form = {"channel": "C1", "text": "x", "blocks": json.dumps(blocks)}
    result = await client.api_call("chat.postMessage", data=form)
    assert result["ok"]
    assert slack.calls[-1].body["blocks"] == blocks


@pytest.mark.parametrize(
    ("blocks", "fragment"),
    [
        ([buttons_block(26)], "no more than 25 items"),
        ([buttons_block(2, action_id="same")], "duplicate action_id"),
        ([buttons_block(1, text="x" * 76)], "1 to 75 characters"),
        (
            [
                {
                    "type": "actions",
                    "elements": [{**buttons_block(1)["elements"][0], "value": "v" * 2001}],
                }
            ],
            "less than 2001",
        ),
        ([{"type": "image", "image_url": "https://x/y.png"}], "alt_text"),
        ([{"text": "no type"}], "missing required field: type"),
    ],
)
async def test_invalid_blocks_raise_like_slack(
    slack: FakeSlackAPI, blocks: list[dict[str, Any]], fragment: str
) -> None:
    with pytest.raises(SlackApiError) as caught:
        await slack_client(slack).chat_postMessage(channel="C1", text="t", blocks=blocks)
    response = caught.value.response
    assert response["error"] == "invalid_blocks"
    assert any(fragment in error for error in response["errors"]), response["errors"]


async def test_blocks_without_text_get_slacks_warning(slack: FakeSlackAPI) -> None:
    with pytest.warns(UserWarning, match="top-level `text`"):
        result = await slack_client(slack).chat_postMessage(channel="C1", blocks=[buttons_block(1)])
    assert result["warning"] == "missing_text_or_fallback_or_attachments"
    with pytest.raises(SlackApiError, match="no_text"), pytest.warns(UserWarning):
        await slack_client(slack).chat_postMessage(channel="C1")


async def test_update_ephemeral_reactions_and_unknown_method(slack: FakeSlackAPI) -> None:
    client = slack_client(slack)
    posted = await client.chat_postMessage(channel="C1", text="hi")
    updated = await client.chat_update(channel="C1", ts=posted["ts"], text="edited", blocks=[])
    assert (updated["ts"], updated["text"]) == (posted["ts"], "edited")
    ephemeral = await client.chat_postEphemeral(channel="C1", user="U222", text="psst")
    assert ephemeral["message_ts"]
    assert (await client.reactions_add(channel="C1", timestamp=posted["ts"], name="eyes"))["ok"]
    with pytest.raises(SlackApiError, match="unknown_method"):
        await client.api_call("chat.nonsense", json={})
    assert [c.method for c in slack.calls] == [
        "chat.postMessage",
        "chat.update",
        "chat.postEphemeral",
        "reactions.add",
        "chat.nonsense",
    ]


async def test_fail_next_injects_one_error(slack: FakeSlackAPI) -> None:
    client = slack_client(slack)
    slack.fail_next("chat.postMessage", "channel_not_found")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        await client.chat_postMessage(channel="C1", text="a")
    assert (await client.chat_postMessage(channel="C1", text="b"))["ok"]
    slack.fail_next("chat.postMessage", "ratelimited", status=429)
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C1", text="c")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "1"


async def test_wait_for_calls_wakes_on_calls_and_times_out(slack: FakeSlackAPI) -> None:
    client = slack_client(slack)
    waiter = asyncio.create_task(slack.wait_for_calls("chat.postMessage", 2, timeout=5))
    await client.chat_postMessage(channel="C1", text="one")
    assert not waiter.done()
    await client.chat_postMessage(channel="C1", text="two")
    calls = await waiter
    assert [c.body["text"] for c in calls] == ["one", "two"]
    with pytest.raises(TimeoutError, match=r"expected 1 reactions\.add"):
        await slack.wait_for_calls("reactions.add", 1, timeout=0.05)


def test_sign_slack_matches_slack_sdk_verifier() -> None:
    body = json.dumps(slack_event_envelope(slack_message_event("hello"), "Ev9"))
    headers = sign_slack(body, SIGNING_SECRET)
    verifier = SignatureVerifier(SIGNING_SECRET)
    assert verifier.is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    stale = sign_slack(body, SIGNING_SECRET, ts=int(time.time()) - 301)
    assert not verifier.is_valid(
        body, stale["X-Slack-Request-Timestamp"], stale["X-Slack-Signature"]
    )
    wrong = sign_slack(body, "another-secret")
    assert not verifier.is_valid(
        body, wrong["X-Slack-Request-Timestamp"], wrong["X-Slack-Signature"]
    )


def test_slack_inbound_builders_have_bolt_shapes() -> None:
    event = slack_message_event(
        "hi <@UBOT>", channel="C111", thread_ts="1.0", event_type="app_mention"
    )
    envelope = slack_event_envelope(event, "Ev42")
    assert envelope["type"] == "event_callback" and envelope["event_id"] == "Ev42"
    assert envelope["authorizations"][0]["user_id"] == "UBOT"
    assert envelope["event"]["thread_ts"] == "1.0" and "channel_type" not in envelope["event"]
    payload = slack_block_action_payload("/affirm", action_id="chinwag_btn_1", title="Yes")
    body = slack_interactive_body(payload)
    assert json.loads(parse_qs(body)["payload"][0])["actions"][0]["value"] == "/affirm"
    form = slack_command_form("/chinwag", "book a table")
    assert (form["command"], form["text"], form["user_id"]) == ("/chinwag", "book a table", "U222")


# ----------------------------------------------------------------------------- Telegram


async def test_ptb_initialize_calls_get_me(telegram: FakeTelegramAPI) -> None:
    bot = telegram_bot(telegram)
    await bot.initialize()
    try:
        assert bot.username == "chinwag_test_bot" and bot.id == 123456
    finally:
        await bot.shutdown()
    assert [c.method for c in telegram.calls] == ["getMe"]


async def test_wrong_token_is_rejected(telegram: FakeTelegramAPI) -> None:
    bot = telegram_bot(telegram, token="999:wrong")
    try:
        with pytest.raises(InvalidToken):
            await bot.initialize()
    finally:
        await bot.shutdown()
    assert telegram.calls == []


async def test_send_message_with_inline_keyboard_is_decoded(telegram: FakeTelegramAPI) -> None:
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Yes", callback_data="/affirm")],
            [InlineKeyboardButton("No", callback_data="/deny")],
        ]
    )
    async with telegram_bot(telegram) as bot:
        first = await bot.send_message(42, "Continue?", reply_markup=keyboard)
        second = await bot.send_message(42, "again")
    assert second.message_id > first.message_id
    assert first.chat.id == 42 and first.text == "Continue?" and first.date.year >= 2024
    assert first.reply_markup == keyboard
    call = telegram.calls_of("sendMessage")[0]
    assert call.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert call.body["chat_id"] == 42
    assert call.body["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Yes", "callback_data": "/affirm"}],
            [{"text": "No", "callback_data": "/deny"}],
        ]
    }


async def test_long_callback_data_and_text_are_bad_requests(telegram: FakeTelegramAPI) -> None:
    payload = '/inform{"cuisine": "' + "é" * 30 + '"}'  # 30 characters but 60 bytes of é
    assert len(payload) < 64 < len(payload.encode())
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Pick", callback_data=payload)]])
    async with telegram_bot(telegram) as bot:
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            await bot.send_message(42, "x", reply_markup=keyboard)
        with pytest.raises(BadRequest, match="too long"):
            await bot.send_message(42, "x" * 4097)
        assert (await bot.send_message(42, "x" * 4096)).text == "x" * 4096


async def test_photo_location_edit_and_true_methods(telegram: FakeTelegramAPI) -> None:
    async with telegram_bot(telegram) as bot:
        photo = await bot.send_photo(42, "https://example.com/a.png", caption="menu")
        location = await bot.send_location(42, latitude=52.5, longitude=13.4)
        sent = await bot.send_message(
            42,
            "x",
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="a")]]),
        )
        edited = await bot.edit_message_reply_markup(42, sent.message_id, reply_markup=None)
        assert await bot.answer_callback_query("cbq-1")
        assert await bot.set_webhook("https://hub.example/telegram", secret_token="s3cret")
        assert await bot.delete_webhook()
        assert await bot.set_my_commands([("start", "Start over")])
    assert photo.photo[-1].width == 640 and photo.caption == "menu"
    assert location.location is not None
    assert (location.location.latitude, location.location.longitude) == (52.5, 13.4)
    assert isinstance(edited, Message) and edited.message_id == sent.message_id
    assert telegram.calls_of("setWebhook")[0].body["secret_token"] == "s3cret"
    assert telegram.calls_of("setMyCommands")[0].body["commands"] == [
        {"command": "start", "description": "Start over"}
    ]


async def test_fail_next_and_unknown_method(telegram: FakeTelegramAPI) -> None:
    telegram.fail_next("sendMessage", "Bad Request: chat not found")
    async with telegram_bot(telegram) as bot:
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(7, "hi")
        assert (await bot.send_message(7, "hi")).text == "hi"
        with pytest.raises(EndPointNotFound):  # Telegram answers 404 for unknown methods
            await bot.do_api_request("noSuchMethod")


async def test_get_updates_long_polls_and_honours_offset(telegram: FakeTelegramAPI) -> None:
    async with telegram_bot(telegram) as bot:
        started = time.monotonic()
        assert await bot.get_updates(timeout=1) == ()
        assert time.monotonic() - started >= 1
        poll = asyncio.create_task(bot.get_updates(timeout=5))
        await telegram.wait_for_calls("getUpdates", 2)
        telegram.push_update(telegram_message_update(1, 42, "hello"))
        [update] = await poll
        assert update.message is not None
        assert (update.update_id, update.message.text) == (1, "hello")
        telegram.push_update(telegram_message_update(2, 42, "again"))
        assert [u.update_id for u in await bot.get_updates(offset=2)] == [2]
        assert await bot.get_updates(offset=3, timeout=0) == ()
    assert telegram.updates == []


async def test_ptb_polling_application_answers_updates(telegram: FakeTelegramAPI) -> None:
    seen: list[str] = []

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_chat is not None
        seen.append(update.effective_message.text or "")
        await context.bot.send_message(
            update.effective_chat.id, f"echo: {update.effective_message.text}"
        )

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        seen.append("/start")
        await context.bot.send_message(update.effective_chat.id, "welcome")

    app = ApplicationBuilder().token(TELEGRAM_TOKEN).base_url(telegram.base_url).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        telegram.push_update(telegram_message_update(1, 42, "/start"))
        telegram.push_update(telegram_message_update(2, 42, "hello"))
        sent = await telegram.wait_for_calls("sendMessage", 2)
        await app.updater.stop()
        await app.stop()
    assert seen == ["/start", "hello"]
    assert [c.body["text"] for c in sent] == ["welcome", "echo: hello"]
    assert [c.method for c in telegram.calls[:3]] == ["getMe", "deleteWebhook", "getUpdates"]


def test_telegram_update_builders_parse_in_ptb() -> None:
    bot = Bot(TELEGRAM_TOKEN)
    command = Update.de_json(telegram_message_update(5, 42, "/start now"), bot)
    assert command.message is not None
    assert command.message.parse_entities() and command.message.text == "/start now"
    press = Update.de_json(telegram_callback_update(6, 42, "/affirm"), bot)
    assert press.callback_query is not None and press.callback_query.data == "/affirm"
    assert press.callback_query.message is not None and press.callback_query.message.is_accessible
    assert press.effective_chat is not None and press.effective_chat.id == 42


async def test_telegram_json_bodies_and_webhook_rules(telegram: FakeTelegramAPI) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"{telegram.base_url}{TELEGRAM_TOKEN}"
        async with session.post(f"{url}/sendMessage", json={"chat_id": -100, "text": "hi"}) as r:
            message = (await r.json())["result"]
        async with session.post(f"{url}/setWebhook", data={"url": "http://insecure"}) as r:
            refused = (r.status, (await r.json())["description"])
        async with session.post(f"{url}/setWebhook", data={"url": "https://hub.test/tg"}) as r:
            assert (await r.json())["result"] is True
        async with session.post(f"{url}/getUpdates") as r:
            conflict = r.status
    assert message["chat"] == {"id": -100, "type": "supergroup", "title": "Chinwag group"}
    assert refused == (400, "Bad Request: bad webhook: An HTTPS URL must be provided")
    assert conflict == 409
