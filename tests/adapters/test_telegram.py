"""The Telegram channel: updates posted to the running hub, Bot API calls asserted on the fake.

The hub runs for real (adapters.hub.create_app on a free port) with python-telegram-bot's
``Bot`` inside; tests/emulators' FakeTelegramAPI records what PTB sends.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from chinwag.adapters.hub import BOTS, create_app
from chinwag.adapters.telegram import (
    PAYLOAD_KEY_PREFIX,
    PayloadStore,
    command_text,
    derived_secret,
    read_settings,
)
from chinwag.core.data.problems import BotDataError, Location
from tests.adapters.conftest import RESTAURANT, HubTestServer, memory_stores, write_bot
from tests.emulators import clear_platform_env
from tests.emulators.telegram import (
    BOT_TOKEN,
    FakeTelegramAPI,
    telegram_callback_update,
    telegram_message_update,
)

WEBHOOK = "/webhooks/telegram/webhook"
SECRET = "s3cret_tg-token"
PUBLIC_URL = "https://bot.example.com/webhooks/telegram/webhook"
CHAT = 42
GREETING = (
    "Hello! 👋 I can book a restaurant table or a hotel room. What would you like? "
    "(Send /restart to start over.)"
)


def telegram_credentials(api: FakeTelegramAPI, **extra: str) -> str:
    settings = {
        "access_token": "${TEST_TG_TOKEN}",
        "api_url": api.base_url,
        "secret_token": SECRET,
        "webhook_url": PUBLIC_URL,
        **extra,
    }
    lines = [f"  {key}: {value}" for key, value in settings.items() if value != "-"]
    return "rest:\ntelegram:\n" + "\n".join(lines) + "\n"


class TelegramHub:
    """A running hub and the fake Bot API it talks to; posts updates to the webhook."""

    def __init__(self, client: TestClient[Any, Any], api: FakeTelegramAPI, bot: str) -> None:
        self.client = client
        self.api = api
        self.bot = bot
        self._update_id = 100

    def next_id(self) -> int:
        self._update_id += 1
        return self._update_id

    async def post(self, update: dict[str, Any], secret: str | None = SECRET) -> ClientResponse:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        return await self.client.post(WEBHOOK, json=update, headers=headers)

    async def say(self, text: str, **options: Any) -> None:
        response = await self.post(telegram_message_update(self.next_id(), CHAT, text, **options))
        assert response.status == 200

    async def press(self, data: str, **options: Any) -> None:
        response = await self.post(telegram_callback_update(self.next_id(), CHAT, data, **options))
        assert response.status == 200

    def sent(self) -> list[dict[str, Any]]:
        return [call.body for call in self.api.calls_of("sendMessage")]

    def texts(self) -> list[str]:
        return [body["text"] for body in self.sent()]

    async def user_texts(self, conversation: str = f"telegram:{CHAT}") -> list[str]:
        tracker = await self.client.app[BOTS][self.bot].agent.load_tracker(conversation)
        return [e.to_dict()["text"] for e in tracker.events if e.to_dict()["event"] == "user"]


MakeHub = Callable[..., Awaitable[TelegramHub]]


@pytest.fixture
async def telegram_api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegramAPI]:
    clear_platform_env(monkeypatch)
    monkeypatch.setenv("TEST_TG_TOKEN", BOT_TOKEN)
    async with FakeTelegramAPI() as api:
        yield api


@pytest.fixture
async def make_hub(tmp_path: Path, telegram_api: FakeTelegramAPI) -> AsyncIterator[MakeHub]:
    """``await make_hub(bot=None, **telegram_settings)``: a started hub (restaurant copy)."""
    clients: list[TestClient[Any, Any]] = []

    async def make(bot: Path | None = None, **settings: str) -> TelegramHub:
        credentials = telegram_credentials(telegram_api, **settings)
        if bot is None:
            bot = tmp_path / "restaurant"
            shutil.copytree(
                RESTAURANT, bot, ignore=shutil.ignore_patterns(".chinwag", "models", "__pycache__")
            )
        (bot / "credentials.yml").write_text(credentials, encoding="utf-8")
        client: TestClient[Any, Any] = TestClient(
            HubTestServer(create_app([bot], stores=memory_stores))
        )
        await client.start_server()
        clients.append(client)
        return TelegramHub(client, telegram_api, bot.name)

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def hub(make_hub: MakeHub) -> TelegramHub:
    return await make_hub()


# ---------------------------------------------------------------------------- start


async def test_start_calls_get_me_once_and_sets_the_webhook(hub: TelegramHub) -> None:
    await hub.say("hello")
    await hub.say("book a table")
    assert [c.method for c in hub.api.calls[:2]] == ["getMe", "setWebhook"]
    assert len(hub.api.calls_of("getMe")) == 1
    (webhook,) = hub.api.calls_of("setWebhook")
    assert webhook.body["url"] == PUBLIC_URL
    assert webhook.body["secret_token"] == SECRET
    assert webhook.body["allowed_updates"] == ["message", "edited_message", "callback_query"]


async def test_refused_token_leaves_the_channel_off_with_the_reason(
    make_hub: MakeHub, telegram_api: FakeTelegramAPI
) -> None:
    telegram_api.fail_next("getMe", "Unauthorized", 401)
    hub = await make_hub()
    response = await hub.post(telegram_message_update(1, CHAT, "hello"))
    assert response.status == 503
    body = await response.json()
    assert body["error"] == "the Telegram channel is not running"
    assert "InvalidToken" in body["detail"]
    assert (await hub.client.get("/health")).status == 200  # the rest of the hub serves
    assert [c.method for c in telegram_api.calls] == ["getMe"]


async def test_wrong_verify_username_leaves_the_channel_off(make_hub: MakeHub) -> None:
    hub = await make_hub(verify="someone_else_bot")
    response = await hub.post(telegram_message_update(1, CHAT, "hello"))
    assert response.status == 503
    assert "@chinwag_test_bot" in (await response.json())["detail"]


# ---------------------------------------------------------------------------- webhook


async def test_missing_or_wrong_secret_is_403(hub: TelegramHub) -> None:
    update = telegram_message_update(7, CHAT, "hello")
    assert (await hub.post(update, secret=None)).status == 403
    assert (await hub.post(update, secret="wrong")).status == 403
    assert hub.api.calls_of("sendMessage") == []
    not_json = await hub.client.post(
        WEBHOOK, data="update_id=7", headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
    )
    assert not_json.status == 415
    assert (await hub.post(update)).status == 200  # the real delivery is handled
    assert hub.texts() == [GREETING]


async def test_derived_secret_without_a_configured_one(
    make_hub: MakeHub, telegram_api: FakeTelegramAPI
) -> None:
    hub = await make_hub(secret_token="-")
    secret = derived_secret(BOT_TOKEN)
    assert telegram_api.calls_of("setWebhook")[0].body["secret_token"] == secret
    update = telegram_message_update(1, CHAT, "hello")
    assert (await hub.post(update, secret=None)).status == 403
    assert (await hub.post(update, secret=secret)).status == 200


async def test_text_gets_the_telegram_variation_and_custom_keyboard(hub: TelegramHub) -> None:
    await hub.say("hello")
    await hub.say("book a table")
    await hub.say("mexican")
    greeting, cuisine, people = hub.sent()
    assert greeting == {"chat_id": CHAT, "text": GREETING}
    assert cuisine == {"chat_id": CHAT, "text": "What cuisine?"}
    # the Telegram custom payload: Bot API params passed through as sendMessage
    assert people["text"] == "For how many people? Tap a number, or type it."
    rows = people["reply_markup"]["inline_keyboard"]
    assert [[key["text"] for key in row] for row in rows] == [list("1234"), list("5678")]
    assert rows[0][1]["callback_data"] == '/inform{"number": 2}'


async def test_callback_query_is_answered_and_its_data_sent(hub: TelegramHub) -> None:
    await hub.say("book a table")
    await hub.press('/inform{"cuisine": "thai"}', query_id="cbq-thai")
    (answer,) = await hub.api.wait_for_calls("answerCallbackQuery", 1)
    assert answer.body == {"callback_query_id": "cbq-thai"}
    assert hub.sent()[-1]["text"] == "For how many people? Tap a number, or type it."
    assert (await hub.user_texts())[-1] == '/inform{"cuisine": "thai"}'


async def test_duplicate_update_id_is_ignored(hub: TelegramHub) -> None:
    update = telegram_message_update(500, CHAT, "hello")
    assert (await hub.post(update)).status == 200
    assert (await hub.post(update)).status == 200
    assert hub.texts() == [GREETING]
    assert await hub.user_texts() == ["hello"]


async def test_updates_without_a_message_are_ignored(hub: TelegramHub) -> None:
    channel_post = {
        "update_id": 600,
        "channel_post": {
            "message_id": 1,
            "date": 1700000000,
            "chat": {"id": -1001, "type": "channel", "title": "news"},
            "text": "news",
        },
    }
    photo = telegram_message_update(601, CHAT, "x")
    del photo["message"]["text"]
    photo["message"]["photo"] = [{"file_id": "p", "file_unique_id": "u", "width": 1, "height": 1}]
    for update in ({"update_id": 599}, channel_post, photo):
        response = await hub.post(update)
        assert response.status == 200
    assert hub.api.calls_of("sendMessage") == []


async def test_edited_message_is_handled_as_new_text(hub: TelegramHub) -> None:
    await hub.say("book a table", edited=True)
    assert hub.texts() == ["What cuisine?"]


async def test_start_greets_and_restart_starts_over(hub: TelegramHub) -> None:
    await hub.say("/start")
    await hub.say("book a table")
    await hub.say("/restart@chinwag_test_bot")
    assert hub.texts() == [GREETING, "What cuisine?", GREETING]
    tracker = await hub.client.app[BOTS]["restaurant"].agent.load_tracker(f"telegram:{CHAT}")
    assert tracker.active_loop_name is None
    assert await hub.user_texts() == ["/greet", "book a table", "/restart", "/greet"]


async def test_long_payload_travels_as_a_short_key(make_hub: MakeHub, tmp_path: Path) -> None:
    bot = write_bot(tmp_path / "tiny", "Hi")
    long_payload = '/affirm{"name": "' + "x" * 80 + '"}'
    domain = (bot / "domain.yml").read_text(encoding="utf-8")
    domain = domain.replace("payload: /affirm", f"payload: '{long_payload}'")
    (bot / "domain.yml").write_text(domain, encoding="utf-8")
    hub = await make_hub(bot)
    await hub.say("yes")
    (question,) = hub.sent()
    (key,) = [
        k["callback_data"] for row in question["reply_markup"]["inline_keyboard"] for k in row
    ]
    assert key.startswith(PAYLOAD_KEY_PREFIX)
    assert len(key.encode()) <= 64
    await hub.press(key)
    assert (await hub.user_texts())[-1] == long_payload
    assert len(hub.sent()) == 2
    # a key the hub no longer knows: the press is answered with a hint, nothing is sent
    await hub.press(PAYLOAD_KEY_PREFIX + "gone", query_id="cbq-gone")
    answers = hub.api.calls_of("answerCallbackQuery")
    assert answers[-1].body["callback_query_id"] == "cbq-gone"
    assert "expired" in answers[-1].body["text"]
    assert len(hub.sent()) == 2
    # keys live in the key store too: a key another hub worker made is understood here
    runtime = hub.client.app[BOTS]["tiny"]
    assert await runtime.recall("telegram-payloads", key) == long_payload
    other = '/affirm{"name": "' + "y" * 80 + '"}'
    await runtime.remember("telegram-payloads", PAYLOAD_KEY_PREFIX + "other", other, 60)
    await hub.press(PAYLOAD_KEY_PREFIX + "other", query_id="cbq-other")
    assert (await hub.user_texts())[-1] == other


# ---------------------------------------------------------------------------- whole form


async def test_restaurant_form_completed_with_button_presses(hub: TelegramHub) -> None:
    await hub.say("hello")
    await hub.say("book a table")
    await hub.say("mexican")
    people = hub.sent()[-1]["reply_markup"]["inline_keyboard"]
    await hub.press(people[0][3]["callback_data"])  # "4"
    outdoor = hub.sent()[-1]
    assert outdoor["text"] == "Do you want to sit outside?"
    (yes, _no) = outdoor["reply_markup"]["inline_keyboard"][0]
    assert yes == {"text": "Yes", "callback_data": "/affirm"}
    await hub.press(yes["callback_data"])
    await hub.say("no")
    await hub.say("great service")
    assert hub.texts() == [
        GREETING,
        "What cuisine?",
        "For how many people? Tap a number, or type it.",
        "Do you want to sit outside?",
        "Do you have any other preferences?",
        "Please give your feedback on your experience so far.",
        "All done!",
        "I am going to run a restaurant search using the following parameters:\n"
        " - cuisine: mexican\n - num_people: 4\n - outdoor_seating: True\n"
        " - preferences: no additional preferences\n - feedback: great service",
    ]
    assert len(hub.api.calls_of("answerCallbackQuery")) == 2
    assert {body["chat_id"] for body in hub.sent()} == {CHAT}


# ---------------------------------------------------------------------------- polling


async def test_polling_mode_gets_updates(make_hub: MakeHub, telegram_api: FakeTelegramAPI) -> None:
    await make_hub(webhook_url="-", secret_token="-", polling="true")
    telegram_api.push_update(telegram_message_update(1, CHAT, "hello"))
    (reply,) = await telegram_api.wait_for_calls("sendMessage", 1)
    assert reply.body == {"chat_id": CHAT, "text": GREETING}
    telegram_api.push_update(telegram_message_update(2, CHAT, "book a table"))
    await telegram_api.wait_for_calls("sendMessage", 2)
    methods = [c.method for c in telegram_api.calls]
    assert methods[:3] == ["getMe", "deleteWebhook", "getUpdates"]
    assert methods.count("getMe") == 1
    offsets = [c.body.get("offset") for c in telegram_api.calls_of("getUpdates")]
    assert 2 in offsets  # update 1 confirmed


# ---------------------------------------------------------------------------- units


def test_settings_errors_are_located() -> None:
    where = Location("bots/x/credentials.yml")
    with pytest.raises(BotDataError) as error:
        read_settings(
            {"webhook_url": "http://x", "secret_token": "bad secret!", "polling": "yes"}, where
        )
    assert [str(p) for p in error.value.problems] == [
        "bots/x/credentials.yml: error: telegram: 'access_token' is required",
        "bots/x/credentials.yml: error: telegram: 'webhook_url' must be an https:// URL "
        "(Telegram calls only those), found 'http://x'",
        "bots/x/credentials.yml: error: telegram: 'secret_token' must be 1-256 characters of "
        "A-Z, a-z, 0-9, _ and -",
        "bots/x/credentials.yml: error: telegram: 'polling' must be true or false, found 'yes'",
    ]
    settings = read_settings({"access_token": "1:a", "verify": "@my_bot"}, where)
    assert (settings.verify, settings.secret_token, settings.api_url) == (
        "my_bot",
        derived_secret("1:a"),  # webhook mode always has a secret
        "https://api.telegram.org/bot",
    )
    polling = read_settings({"access_token": "1:a", "polling": True}, where)
    assert polling.secret_token is None


def test_command_text() -> None:
    intents = {"greet", "affirm"}
    assert command_text("/start", intents, "b") == ["/greet"]
    assert command_text("/start", {"start", "greet"}, "b") == ["/start"]
    assert command_text("/start@b", set(), "b") == ["/start"]
    assert command_text("/restart", intents, "b") == ["/restart", "/greet"]
    assert command_text("/help@B me", intents, "b") == ["/help me"]
    assert command_text("hello /start", intents, "b") == ["hello /start"]


def test_payload_store_keeps_keys_stable_and_bounded() -> None:
    store = PayloadStore(size=2)
    first = store.key("a" * 70)
    assert store.key("a" * 70) == first
    assert store.resolve(first) == "a" * 70
    assert store.resolve("/affirm") == "/affirm"
    store.key("b" * 70)
    store.key("c" * 70)
    assert store.resolve(first) is None
    assert json.dumps(first).isascii()
