"""Telegram: python-telegram-bot's ``Bot`` behind ``POST /webhooks/telegram/webhook``, or polling.

``credentials.yml``::

    telegram:
      access_token: ${TELEGRAM_TOKEN}        # from @BotFather, required
      verify: my_restaurant_bot              # the bot's username, checked once at start
      webhook_url: https://example.com/webhooks/telegram/webhook   # setWebhook at start
      secret_token: ${TELEGRAM_SECRET}       # 1-256 of A-Z a-z 0-9 _ -
      api_url: https://api.telegram.org/bot  # the Bot API base (a proxy or an emulator)
      polling: false                         # true (without webhook_url): getUpdates instead

At start the bot calls ``getMe`` once (a refused token or a wrong ``verify`` leaves the channel
off: its webhook answers 503 with the reason, which is also logged), then ``setWebhook`` with the
secret when ``webhook_url`` is set, or starts polling when ``polling`` is true. In polling mode
the webhook route is not mounted at all. In webhook mode the webhook always needs a secret:
without ``secret_token`` one is derived from the access token, so the webhook never takes
unsigned updates; a webhook POST without the right ``X-Telegram-Bot-Api-Secret-Token`` is
refused with 403, and an update whose fields have the wrong types with 400 (checked before
python-telegram-bot reads it).

Updates are handled one by one as they arrive; a redelivered ``update_id`` is ignored. Text
messages (also edited ones) go to the bot as text; ``/start`` becomes ``/start`` when the domain
has a ``start`` intent (Rasa sends it as is), else ``/greet`` when it has ``greet``;
``/restart`` restarts the conversation and then sends that greeting too, as Rasa's channel
does. An inline-button press is answered with ``answerCallbackQuery`` (no endless spinner) and
its data sent as the user's message; payloads over Telegram's 64-byte ``callback_data`` limit
travel as short keys kept in memory. Other updates (photos, channel posts...) are ignored.
The conversation id is ``telegram:<chat id>`` (see core.conversation_ids); the raw chat and
user ids are in the user message's metadata.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from telegram import Bot, Update
from telegram.error import TelegramError
from telegram.ext import Updater

from chinwag.adapters.hub import BotRuntime, HubError, read_json, same_secret
from chinwag.adapters.shapes import Required, ShapeError, check_shape
from chinwag.channel_responses.render import render_telegram, send_telegram
from chinwag.core.agent import UserMessage
from chinwag.core.conversation_ids import qualify
from chinwag.core.data.problems import BotDataError, Location, Problems

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
WEBHOOK = "/webhooks/telegram/webhook"
DEFAULT_API_URL = "https://api.telegram.org/bot"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
KNOWN_KEYS = {"access_token", "verify", "webhook_url", "secret_token", "api_url", "polling"}
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
PAYLOAD_KEY_PREFIX = "chinwag:"
STORED_PAYLOADS = 10_000
# long payloads in the key store, for a click that reaches another hub worker
SHARED_PAYLOADS = "telegram-payloads"
PAYLOAD_SECONDS = 30 * 24 * 3600.0
SEEN_SECONDS = 24 * 3600.0  # Telegram keeps an unconfirmed update for 24 hours
POLL_TIMEOUT = 10
EXPIRED_BUTTON = "This button has expired; please type your answer."

# the fields python-telegram-bot and the handlers below read, with the Bot API's types
_USER = {
    "id": Required(int),
    "is_bot": bool,
    "first_name": str,
    "username": str,
    "language_code": str,
}
_CHAT = {"id": Required(int), "type": str, "title": str, "username": str, "first_name": str}
_ENTITY = {"type": str, "offset": int, "length": int, "url": str, "user": _USER}
_MESSAGE = {
    "message_id": int,
    "date": int,
    "edit_date": int,
    "chat": Required(_CHAT),
    "from": _USER,
    "text": str,
    "entities": [_ENTITY],
    "reply_markup": dict,
}
MESSAGE_KEYS = ("message", "edited_message", "channel_post", "edited_channel_post")
UPDATE_SHAPE = {
    "update_id": Required(int),
    **dict.fromkeys(MESSAGE_KEYS, _MESSAGE),
    "callback_query": {
        "id": Required(str),
        "from": Required(_USER),
        "chat_instance": str,
        "data": str,
        "message": _MESSAGE,
    },
}


@dataclass(frozen=True)
class TelegramSettings:
    """The ``telegram:`` section of credentials.yml."""

    access_token: str
    verify: str | None = None
    webhook_url: str | None = None
    secret_token: str | None = None
    api_url: str = DEFAULT_API_URL
    polling: bool = False


def read_settings(credentials: dict[str, Any], where: Location) -> TelegramSettings:
    """Settings from the ``telegram:`` section; BotDataError naming each missing or bad value."""
    problems = Problems()

    def text(key: str) -> str | None:
        value = credentials.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str | int):
            problems.error(f"telegram: '{key}' must be text, found {type(value).__name__}", where)
            return None
        return str(value).strip()

    token = text("access_token")
    if token is None:
        problems.error("telegram: 'access_token' is required", where)
    webhook_url = text("webhook_url")
    if webhook_url is not None and not webhook_url.startswith("https://"):
        problems.error(
            f"telegram: 'webhook_url' must be an https:// URL (Telegram calls only those), "
            f"found '{webhook_url}'",
            where,
        )
    secret = text("secret_token")
    if secret is not None and not _SECRET.fullmatch(secret):
        problems.error(
            "telegram: 'secret_token' must be 1-256 characters of A-Z, a-z, 0-9, _ and -", where
        )
    polling = credentials.get("polling", False)
    if not isinstance(polling, bool):
        problems.error(f"telegram: 'polling' must be true or false, found {polling!r}", where)
    elif polling and webhook_url:
        problems.error("telegram: use either 'webhook_url' or 'polling: true', not both", where)
    for key in sorted(set(credentials) - KNOWN_KEYS):
        logger.warning("%s: telegram: unknown setting '%s' ignored", where, key)
    if problems.errors or token is None:
        raise BotDataError(problems.errors)
    if secret is None and not polling:
        secret = derived_secret(token)
        if not webhook_url:
            logger.warning(
                "%s: telegram: no webhook_url, polling or secret_token; the webhook takes "
                "only updates carrying the derived secret (set secret_token to choose one)",
                where,
            )
    return TelegramSettings(
        access_token=token,
        verify=(text("verify") or "").removeprefix("@") or None,
        webhook_url=webhook_url,
        secret_token=secret,
        api_url=text("api_url") or DEFAULT_API_URL,
        polling=polling is True,
    )


def derived_secret(token: str) -> str:
    """A webhook secret made from the access token (used when none is configured)."""
    return hmac.new(token.encode(), b"chinwag telegram webhook", hashlib.sha256).hexdigest()


def setup(app: web.Application, runtime: BotRuntime, credentials: dict[str, Any]) -> None:
    """Add the Telegram webhook for ``runtime``; BotDataError for bad credentials."""
    settings = read_settings(credentials, Location(str(runtime.path / "credentials.yml")))
    channel = TelegramChannel(runtime, settings)
    if not settings.polling:  # polling fetches updates itself: no route to forge them on
        runtime.add_route(app, "POST", WEBHOOK, channel.webhook)
    app.cleanup_ctx.append(channel.context)


# ---------------------------------------------------------------------------- helpers


class PayloadStore:
    """Long button payloads behind short ``callback_data`` keys (newest ``size`` kept)."""

    def __init__(self, size: int = STORED_PAYLOADS) -> None:
        self.size = size
        self._payloads: OrderedDict[str, str] = OrderedDict()
        self._keys: dict[str, str] = {}

    def key(self, payload: str) -> str:
        """The key for ``payload`` (the same key while it is remembered)."""
        key = self._keys.get(payload)
        if key is None:
            key = PAYLOAD_KEY_PREFIX + secrets.token_urlsafe(9)
            self._payloads[key] = payload
            self._keys[payload] = key
            while len(self._payloads) > self.size:
                _old, forgotten = self._payloads.popitem(last=False)
                del self._keys[forgotten]
        else:
            self._payloads.move_to_end(key)
        return key

    def resolve(self, data: str) -> str | None:
        """The payload ``data`` stands for: itself unless it is a key; None for a lost key."""
        if not data.startswith(PAYLOAD_KEY_PREFIX):
            return data
        return self._payloads.get(data)


def command_text(text: str, intents: set[str], bot_username: str | None) -> list[str]:
    """The message(s) a text stands for: ``/start`` and ``/restart`` mapped (see module doc),
    ``/command@this_bot`` without the bot's name."""
    first, _, rest = text.partition(" ")
    if bot_username and first.lower().endswith(f"@{bot_username.lower()}"):
        first = first[: -len(bot_username) - 1]
        text = f"{first} {rest}".strip()
    greeting = "/start" if "start" in intents else "/greet" if "greet" in intents else "/start"
    if first == "/start":
        return [greeting]
    if first == "/restart":
        return ["/restart", greeting]
    return [text]


# ---------------------------------------------------------------------------- the channel


class TelegramChannel:
    """One bot's Telegram channel: the PTB ``Bot``, webhook or polling, and update handling."""

    def __init__(self, runtime: BotRuntime, settings: TelegramSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.bot = Bot(settings.access_token, base_url=settings.api_url)
        self.payloads = PayloadStore()
        self.refused: str | None = "the Telegram channel is starting"

    # ------------------------------------------------------------------ lifecycle

    async def context(self, _app: web.Application) -> AsyncIterator[None]:
        """getMe once, then setWebhook or polling; undone at shutdown."""
        try:
            await self.bot.initialize()
            me = self.bot.username
            if self.settings.verify and me.lower() != self.settings.verify.lower():
                raise ValueError(
                    f"the access token belongs to @{me}, credentials.yml 'verify' says "
                    f"@{self.settings.verify}"
                )
            if self.settings.webhook_url:
                await self.bot.set_webhook(
                    self.settings.webhook_url,
                    secret_token=self.settings.secret_token,
                    allowed_updates=ALLOWED_UPDATES,
                )
        except (TelegramError, ValueError) as exc:
            self.refused = f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(TelegramError):
                await self.bot.shutdown()
            logger.error(
                "bot '%s': Telegram channel not started (%s)", self.runtime.name, self.refused
            )
            yield
            return
        self.refused = None
        logger.info("bot '%s': Telegram channel ready as @%s", self.runtime.name, me)
        if not self.settings.polling:
            try:
                yield
            finally:
                await self.bot.shutdown()
            return
        queue: asyncio.Queue[object] = asyncio.Queue()
        updater = Updater(self.bot, queue)
        await updater.initialize()
        await updater.start_polling(timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES)
        consumer = asyncio.create_task(self._consume(queue))
        try:
            yield
        finally:
            await updater.stop()
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
            await updater.shutdown()
            await self.bot.shutdown()

    async def _consume(self, queue: asyncio.Queue[object]) -> None:
        while True:
            update = await queue.get()
            if isinstance(update, Update):
                await self.process(update)

    # ------------------------------------------------------------------ webhook

    async def webhook(self, request: web.Request) -> web.Response:
        if self.refused is not None:
            raise HubError(503, "the Telegram channel is not running", self.refused)
        expected = self.settings.secret_token
        given = request.headers.get(SECRET_HEADER, "")
        if expected is None or not same_secret(given, expected):
            raise HubError(403, "wrong or missing secret token", f"check {SECRET_HEADER}")
        if request.content_type != "application/json":
            raise HubError(
                415, "expected JSON", f"Content-Type is '{request.content_type or 'missing'}'"
            )
        data = await read_json(request)
        try:
            check_shape(data, UPDATE_SHAPE, "update")
        except ShapeError as exc:
            raise HubError(400, "not a Telegram update", str(exc)) from None
        try:
            update = Update.de_json(data, self.bot)
        except Exception as exc:  # whatever PTB cannot read is not an update we can answer
            logger.warning("Telegram update python-telegram-bot cannot read: %r", exc)
            raise HubError(400, "not a Telegram update", str(exc)) from None
        await self.process(update)
        return web.json_response({"ok": True})

    # ------------------------------------------------------------------ updates

    async def process(self, update: Update) -> None:
        """Handle one update (a redelivered one is ignored; errors are logged)."""
        if not await self.runtime.first_time(
            "telegram-updates", str(update.update_id), SEEN_SECONDS
        ):
            logger.info("Telegram redelivered update %s; already handled", update.update_id)
            return
        try:
            await self._process(update)
        except Exception:
            logger.exception("Telegram update %s failed", update.update_id)

    async def _process(self, update: Update) -> None:
        query = update.callback_query
        if query is not None:
            data = query.data or ""
            payload = self.payloads.resolve(data)
            if payload is None:  # a key another hub worker made
                payload = await self.runtime.recall(SHARED_PAYLOADS, data)
            await query.answer(text=EXPIRED_BUTTON if payload is None else None)
            chat = query.message.chat.id if query.message is not None else query.from_user.id
            if payload:
                await self.converse([payload], chat, update, query.from_user.id)
            return
        message = update.message or update.edited_message
        if message is None or not message.text:
            return  # channel posts, photos, member updates...
        texts = command_text(
            message.text, set(self.runtime.agent.domain.intents), self.bot.username
        )
        user = message.from_user.id if message.from_user is not None else None
        await self.converse(texts, message.chat.id, update, user)

    def _key_recorder(self, made: dict[str, str]) -> Callable[[str], str]:
        """``payloads.key`` that also notes each key and payload in ``made``."""

        def key(payload: str) -> str:
            short = self.payloads.key(payload)
            made[short] = payload
            return short

        return key

    async def converse(
        self, texts: list[str], chat_id: int, update: Update, user_id: int | None
    ) -> None:
        for text in texts:
            message = UserMessage(
                text,
                qualify(CHANNEL, chat_id),
                input_channel=CHANNEL,
                metadata={"chat_id": chat_id, "user_id": user_id},
                message_id=str(update.update_id),
            )
            responses = await self.runtime.handle(message)
            for response in responses:
                made: dict[str, str] = {}
                for method, params in render_telegram(response, self._key_recorder(made)):
                    for key, payload in made.items():  # shared before the button is sent
                        await self.runtime.remember(SHARED_PAYLOADS, key, payload, PAYLOAD_SECONDS)
                    made.clear()
                    params.setdefault("chat_id", chat_id)
                    try:
                        await send_telegram(self.bot, method, params)
                    except TelegramError as exc:
                        logger.error("Telegram refused %s to chat %s: %s", method, chat_id, exc)
