"""A fake Telegram Bot API (``/bot<token>/<method>``) and builders for inbound updates.

It decodes parameters as python-telegram-bot sends them (form-encoded, nested values as JSON;
JSON bodies too), answers with valid Bot API objects, long-polls ``getUpdates`` and refuses
what Telegram refuses (wrong token 401, callback_data over 64 bytes, text over 4096).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

from aiohttp import web

from tests.emulators import Call, FakeServer

BOT_TOKEN = "123456:TEST-chinwag-token"

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
# parameters whose form value is JSON (PTB's RequestParameter JSON-encodes non-strings)
JSON_PARAMS = (
    "reply_markup",
    "entities",
    "caption_entities",
    "allowed_updates",
    "link_preview_options",
    "reply_parameters",
    "commands",
    "scope",
    "media",
    "prices",
)
INT_PARAMS = ("chat_id", "message_id", "offset", "limit", "timeout", "update_id")
FLOAT_PARAMS = ("latitude", "longitude")
SEND_METHODS = (
    "sendMessage",
    "sendPhoto",
    "sendDocument",
    "sendLocation",
    "sendVenue",
    "sendContact",
    "editMessageText",
    "editMessageReplyMarkup",
)
TRUE_METHODS = (
    "setWebhook",
    "deleteWebhook",
    "answerCallbackQuery",
    "setMyCommands",
    "deleteMyCommands",
    "sendChatAction",
    "close",
    "logOut",
)


class TelegramError(Exception):
    """A Bot API error answer: HTTP status and description."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


class FakeTelegramAPI(FakeServer):
    """Telegram's Bot API on 127.0.0.1; give ``base_url`` to ``Bot(token, base_url=...)``."""

    bot: dict[str, Any] = {
        "id": 123456,
        "is_bot": True,
        "first_name": "Chinwag",
        "username": "chinwag_test_bot",
    }

    def __init__(self, token: str = BOT_TOKEN) -> None:
        super().__init__()
        self.token = token
        self.updates: list[dict[str, Any]] = []
        self.webhook: dict[str, Any] = {}
        self._message_ids = itertools.count(1)
        self._new_update = asyncio.Event()

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/bot"

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        return app

    async def stop(self) -> None:
        self._new_update.set()  # wake long polls so the server can shut down
        await super().stop()

    def fail_next(self, method: str, error: str, status: int = 400) -> None:
        """The next ``method`` call answers ``{"ok": false, "error_code": status,
        "description": error}`` with HTTP ``status``."""
        super().fail_next(method, error, status)

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for ``getUpdates`` (waiting long polls return it)."""
        self.updates.append(update)
        self._new_update.set()

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        try:
            params = await _read_params(request)
        except TelegramError as exc:
            return _error(exc.status, exc.description)
        await self.record(Call(method, dict(request.headers), params))
        failure = self.take_failure(method)
        if failure is not None:
            return _error(failure.status, failure.error)
        try:
            if method == "getMe":
                result: Any = self.bot
            elif method == "getUpdates":
                result = await self._get_updates(params)
            elif method in TRUE_METHODS:
                result = self._true_method(method, params)
            elif method in SEND_METHODS:
                result = self._send(method, params)
            else:
                return _error(404, "Not Found")
        except TelegramError as exc:
            return _error(exc.status, exc.description)
        return web.json_response({"ok": True, "result": result})

    # ------------------------------------------------------------------ methods

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook.get("url"):
            raise TelegramError(
                409, "Conflict: can't use getUpdates method while webhook is active"
            )
        offset = int(params.get("offset") or 0)
        if offset:  # confirms (forgets) every update before offset
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while not self.updates and self._runner is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), remaining)
            except TimeoutError:
                break
        return self.updates[:limit]

    def _true_method(self, method: str, params: dict[str, Any]) -> bool:
        if method == "setWebhook":
            if not str(params.get("url", "")).startswith("https://") and params.get("url"):
                raise TelegramError(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
            self.webhook = {
                "url": params.get("url", ""),
                "secret_token": params.get("secret_token"),
            }
        elif method == "deleteWebhook":
            self.webhook = {}
        elif method == "answerCallbackQuery" and not params.get("callback_query_id"):
            raise TelegramError(400, "Bad Request: query is too old and response timeout expired")
        elif method == "setMyCommands" and not isinstance(params.get("commands"), list):
            raise TelegramError(400, "Bad Request: can't parse commands JSON object")
        return True

    def _send(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise TelegramError(400, "Bad Request: chat_id is empty")
        check_reply_markup(params.get("reply_markup"))
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "from": self.bot,
        }
        if method in ("sendMessage", "editMessageText"):
            text = str(params.get("text") or "")
            if not text.strip():
                raise TelegramError(400, "Bad Request: message text is empty")
            if len(text) > MAX_TEXT:
                raise TelegramError(400, "Bad Request: message is too long")
            message["text"] = text
        elif method == "sendPhoto":
            message["photo"] = [_file("photo", params.get("photo"), width=640, height=480)]
        elif method == "sendDocument":
            message["document"] = _file("document", params.get("document"))
        elif method in ("sendLocation", "sendVenue"):
            if params.get("latitude") is None or params.get("longitude") is None:
                raise TelegramError(400, "Bad Request: wrong latitude or longitude")
            location = {"latitude": params["latitude"], "longitude": params["longitude"]}
            message["location"] = location
            if method == "sendVenue":
                venue = {"title": params.get("title"), "address": params.get("address")}
                message["venue"] = {"location": location, **venue}
        elif method == "sendContact":
            message["contact"] = {
                "phone_number": params.get("phone_number"),
                "first_name": params.get("first_name"),
            }
        if method.startswith("edit"):
            if params.get("message_id") is None:
                raise TelegramError(400, "Bad Request: message identifier is not specified")
            message["message_id"] = params["message_id"]
            message["edit_date"] = message["date"]
        caption = params.get("caption")
        if caption:
            if len(str(caption)) > MAX_CAPTION:
                raise TelegramError(400, "Bad Request: message caption is too long")
            message["caption"] = caption
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
        return message


def _error(status: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": status, "description": description}, status=status
    )


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Query, then JSON or form parameters, with nested JSON values and numbers decoded."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        raw = await request.text()
        data = json.loads(raw) if raw.strip() else {}
        params.update(data if isinstance(data, dict) else {})
        return params
    form = await request.post()
    for key, value in form.items():
        params[key] = (
            value if isinstance(value, str) else f"upload:{getattr(value, 'filename', '')}"
        )
    for key in JSON_PARAMS:
        if isinstance(params.get(key), str):
            try:
                params[key] = json.loads(params[key])
            except ValueError:
                raise TelegramError(400, f"Bad Request: can't parse {key} JSON object") from None
    for key in INT_PARAMS:
        if isinstance(params.get(key), str) and params[key].lstrip("-").isdigit():
            params[key] = int(params[key])
    for key in FLOAT_PARAMS:
        if isinstance(params.get(key), str):
            try:
                params[key] = float(params[key])
            except ValueError:
                raise TelegramError(400, "Bad Request: wrong latitude or longitude") from None
    return params


def check_reply_markup(markup: Any) -> None:
    """Raise Telegram's error for a keyboard it would refuse."""
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise TelegramError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise TelegramError(400, 'Bad Request: field "inline_keyboard" must be an Array')
        for row in rows:
            for key in row:
                if not isinstance(key, dict) or not key.get("text"):
                    raise TelegramError(
                        400, "Bad Request: text buttons are unallowed in the inline keyboard"
                    )
                data = key.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                    raise TelegramError(400, "Bad Request: BUTTON_DATA_INVALID")
    elif "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise TelegramError(400, 'Bad Request: field "keyboard" must be an Array')


def _chat(chat_id: Any) -> dict[str, Any]:
    if isinstance(chat_id, int) and chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "Ann"}
    if isinstance(chat_id, int):
        return {"id": chat_id, "type": "supergroup", "title": "Chinwag group"}
    return {"id": -1001, "type": "channel", "title": str(chat_id), "username": str(chat_id)}


def _file(kind: str, source: Any, **size: int) -> dict[str, Any]:
    """A PhotoSize/Document for whatever was sent (URL, file_id or upload)."""
    if source in (None, ""):
        raise TelegramError(400, f"Bad Request: there is no {kind} in the request")
    digest = abs(hash(str(source))) % 10**10
    return {"file_id": f"{kind}-{digest}", "file_unique_id": f"u{digest}", **size, "file_size": 1}


# -------------------------------------------------------------------- inbound side


def _user(user_id: int, first_name: str, username: str | None) -> dict[str, Any]:
    user: dict[str, Any] = {
        "id": user_id,
        "is_bot": False,
        "first_name": first_name,
        "language_code": "en",
    }
    if username:
        user["username"] = username
    return user


def _private_chat(chat_id: int, first_name: str, username: str | None) -> dict[str, Any]:
    if chat_id < 0:
        return {"id": chat_id, "type": "group", "title": "Chinwag group"}
    chat: dict[str, Any] = {"id": chat_id, "type": "private", "first_name": first_name}
    if username:
        chat["username"] = username
    return chat


def telegram_message_update(
    update_id: int,
    chat_id: int,
    text: str,
    *,
    user_id: int | None = None,
    first_name: str = "Ann",
    username: str | None = "ann",
    message_id: int | None = None,
    date: int | None = None,
    edited: bool = False,
) -> dict[str, Any]:
    """An update with a text message; ``/command`` text gets its ``bot_command`` entity."""
    message: dict[str, Any] = {
        "message_id": message_id if message_id is not None else update_id,
        "date": int(time.time()) if date is None else date,
        "chat": _private_chat(chat_id, first_name, username),
        "from": _user(user_id if user_id is not None else abs(chat_id), first_name, username),
        "text": text,
    }
    if text.startswith("/"):
        command = text.split(maxsplit=1)[0]
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    if edited:
        message["edit_date"] = message["date"]
    return {"update_id": update_id, "edited_message" if edited else "message": message}


def telegram_callback_update(
    update_id: int,
    chat_id: int,
    data: str,
    *,
    query_id: str | None = None,
    user_id: int | None = None,
    first_name: str = "Ann",
    username: str | None = "ann",
    message_id: int = 1,
    message_text: str = "Choose:",
    date: int | None = None,
) -> dict[str, Any]:
    """An update for a press on an inline button carrying ``data`` (message date non-zero)."""
    user = _user(user_id if user_id is not None else abs(chat_id), first_name, username)
    message = {
        "message_id": message_id,
        "date": int(time.time()) if date is None else date,
        "chat": _private_chat(chat_id, first_name, username),
        "from": FakeTelegramAPI.bot,
        "text": message_text,
        "reply_markup": {"inline_keyboard": [[{"text": "button", "callback_data": data}]]},
    }
    return {
        "update_id": update_id,
        "callback_query": {
            "id": query_id if query_id is not None else f"cbq-{update_id}",
            "from": user,
            "chat_instance": str(-abs(chat_id)),
            "data": data,
            "message": message,
        },
    }
