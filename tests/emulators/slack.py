"""A fake Slack Web API (``POST /api/<method>``) and builders for signed inbound Slack requests.

The fake answers what slack-bolt and the hub call (auth.test, chat.postMessage, chat.update,
chat.postEphemeral, reactions.add, users.info), takes JSON or form bodies as slack_sdk sends
them, checks the bearer token and validates Block Kit as the real API does (``invalid_blocks``).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from tests.emulators import Call, FakeServer

BOT_TOKEN = "xoxb-111-222-chinwag"
SIGNING_SECRET = "chinwag-signing-secret"

MAX_BLOCKS = 50
MAX_ACTIONS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ID = 255
MAX_SECTION_TEXT = 3000
MAX_TEXT = 40000
MESSAGE_METHODS = ("chat.postMessage", "chat.update", "chat.postEphemeral")
# keys whose form-encoded value is JSON (slack_sdk JSON-encodes them for form posts)
JSON_FIELDS = ("blocks", "attachments", "metadata")


class FakeSlackAPI(FakeServer):
    """Slack's Web API on 127.0.0.1; give ``base_url`` to ``AsyncWebClient(base_url=...)``."""

    bot_user_id = "UBOT"
    bot_id = "BBOT"
    team_id = "T111"
    scopes = "chat:write,reactions:write,users:read,app_mentions:read,im:history,commands"

    def __init__(self, token: str = BOT_TOKEN) -> None:
        super().__init__()
        self.token = token
        self._t0 = int(time.time())
        self._counter = itertools.count(1)

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/api/"

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle)
        return app

    def fail_next(self, method: str, error: str, status: int = 200) -> None:
        """The next ``method`` call answers ``{"ok": false, "error": error}`` with ``status``
        (429 adds ``Retry-After: 1``)."""
        super().fail_next(method, error, status)

    def next_ts(self) -> str:
        """A message timestamp, increasing with every message."""
        return f"{self._t0}.{next(self._counter):06d}"

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await _read_params(request)
        await self.record(Call(method, dict(request.headers), body))
        failure = self.take_failure(method)
        if failure is not None:
            headers = {"Retry-After": "1"} if failure.status == 429 else None
            return _json({"ok": False, "error": failure.error}, failure.status, headers)
        auth = self._check_auth(request, body)
        if auth is not None:
            return _json({"ok": False, "error": auth})
        handler = _HANDLERS.get(method)
        if handler is None:
            return _json({"ok": False, "error": "unknown_method"})
        if method == "auth.test":
            return _json(handler(self, body), headers={"x-oauth-scopes": self.scopes})
        return _json(handler(self, body))

    def _check_auth(self, request: web.Request, body: dict[str, Any]) -> str | None:
        """None if the token is right, else Slack's error code."""
        header = request.headers.get("Authorization", "")
        token = (
            header.removeprefix("Bearer ") if header.startswith("Bearer ") else body.get("token")
        )
        if not token:
            return "not_authed"
        return None if token == self.token else "invalid_auth"

    # ------------------------------------------------------------------ methods

    def _auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://chinwag-test.slack.com/",
            "team": "Chinwag Test",
            "user": "chinwag",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _post_message(self, body: dict[str, Any]) -> dict[str, Any]:
        problem = _validate_message(body)
        if problem is not None:
            return problem
        ts = self.next_ts()
        message = self._message(body, ts)
        return {"ok": True, "channel": body["channel"], "ts": ts, "message": message, **_warn(body)}

    def _update(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("ts"):
            return {"ok": False, "error": "message_not_found"}
        problem = _validate_message(body)
        if problem is not None:
            return problem
        message = self._message(body, str(body["ts"]))
        return {
            "ok": True,
            "channel": body["channel"],
            "ts": body["ts"],
            "text": body.get("text", ""),
            "message": message,
            **_warn(body),
        }

    def _post_ephemeral(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        problem = _validate_message(body)
        if problem is not None:
            return problem
        return {"ok": True, "message_ts": self.next_ts(), **_warn(body)}

    def _reactions_add(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("channel") or not body.get("timestamp"):
            return {"ok": False, "error": "message_not_found"}
        if not body.get("name"):
            return {"ok": False, "error": "invalid_name"}
        return {"ok": True}

    def _users_info(self, body: dict[str, Any]) -> dict[str, Any]:
        user = body.get("user")
        if not user:
            return {"ok": False, "error": "user_not_found"}
        return {
            "ok": True,
            "user": {"id": user, "team_id": self.team_id, "name": f"user-{user}", "is_bot": False},
        }

    def _message(self, body: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "text": body.get("text", ""),
            "ts": ts,
        }
        for key in ("blocks", "attachments", "thread_ts"):
            if body.get(key):
                message[key] = body[key]
        return message


_HANDLERS = {
    "auth.test": FakeSlackAPI._auth_test,
    "chat.postMessage": FakeSlackAPI._post_message,
    "chat.update": FakeSlackAPI._update,
    "chat.postEphemeral": FakeSlackAPI._post_ephemeral,
    "reactions.add": FakeSlackAPI._reactions_add,
    "users.info": FakeSlackAPI._users_info,
}


def _json(
    data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(data, status=status, headers=headers)


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Query + body parameters; JSON bodies as sent, form values with JSON fields decoded."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        raw = await request.text()
        data = json.loads(raw) if raw.strip() else {}
        if isinstance(data, dict):
            params.update(data)
        return params
    form = await request.post()
    for key, value in form.items():
        params[key] = value if isinstance(value, str) else getattr(value, "filename", "")
    for key in JSON_FIELDS:
        if isinstance(params.get(key), str):
            with contextlib.suppress(ValueError):  # else left a string: validation reports it
                params[key] = json.loads(params[key])
    return params


def _warn(body: dict[str, Any]) -> dict[str, Any]:
    """The warning Slack adds when blocks come without a top-level text fallback."""
    if body.get("blocks") and not body.get("text"):
        warning = "missing_text_or_fallback_or_attachments"
        return {"warning": warning, "response_metadata": {"warnings": [warning]}}
    return {}


def _validate_message(body: dict[str, Any]) -> dict[str, Any] | None:
    """Slack's error answer for a message body, or None when the real API would accept it."""
    if not body.get("channel"):
        return {"ok": False, "error": "channel_not_found"}
    if not (body.get("text") or body.get("blocks") or body.get("attachments")):
        return {"ok": False, "error": "no_text"}
    if len(str(body.get("text") or "")) > MAX_TEXT:
        return {"ok": False, "error": "msg_too_long"}
    if "attachments" in body and not isinstance(body["attachments"], list):
        return {"ok": False, "error": "invalid_attachments"}
    if "blocks" not in body:
        return None
    errors = block_errors(body["blocks"])
    if not errors:
        return None
    return {
        "ok": False,
        "error": "invalid_blocks",
        "errors": errors,
        "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]},
    }


def block_errors(blocks: Any) -> list[str]:
    """What Slack would reject in ``blocks`` (limits from the Block Kit reference)."""
    if not isinstance(blocks, list):
        return ["must be an array [json-pointer:/blocks]"]
    errors: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        errors.append(f"must provide no more than {MAX_BLOCKS} items [json-pointer:/blocks]")
    action_ids: set[str] = set()
    block_ids: set[str] = set()
    for b, block in enumerate(blocks):
        where = f"/blocks/{b}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(f"missing required field: type [json-pointer:{where}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if len(str(block_id)) > MAX_ID:
                errors.append(f"must be less than {MAX_ID + 1} characters [{where}/block_id]")
            if block_id in block_ids:
                errors.append(f"duplicate block_id {block_id!r} [json-pointer:{where}/block_id]")
            block_ids.add(block_id)
        kind = block["type"]
        if kind == "section":
            errors.extend(_section_errors(block, where))
        elif kind == "image":
            for key in ("image_url", "alt_text"):
                if not block.get(key):
                    errors.append(f"missing required field: {key} [json-pointer:{where}]")
        elif kind == "actions":
            errors.extend(_actions_errors(block, where, action_ids))
    return errors


def _section_errors(block: dict[str, Any], where: str) -> list[str]:
    text = block.get("text")
    if text is None and not block.get("fields"):
        return [f"must provide text or fields [json-pointer:{where}]"]
    if isinstance(text, dict) and len(str(text.get("text", ""))) > MAX_SECTION_TEXT:
        return [f"must be less than {MAX_SECTION_TEXT + 1} characters [{where}/text/text]"]
    return []


def _actions_errors(block: dict[str, Any], where: str, action_ids: set[str]) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        return [f"must provide at least 1 item [json-pointer:{where}/elements]"]
    errors: list[str] = []
    if len(elements) > MAX_ACTIONS:
        errors.append(f"must provide no more than {MAX_ACTIONS} items [{where}/elements]")
    for e, element in enumerate(elements):
        at = f"{where}/elements/{e}"
        if not isinstance(element, dict):
            errors.append(f"must be an object [json-pointer:{at}]")
            continue
        action_id = element.get("action_id")
        if action_id is not None:
            if len(str(action_id)) > MAX_ID:
                errors.append(f"must be less than {MAX_ID + 1} characters [{at}/action_id]")
            if action_id in action_ids:
                errors.append(f"duplicate action_id {action_id!r} [json-pointer:{at}/action_id]")
            action_ids.add(action_id)
        if element.get("type") != "button":
            continue
        text = element.get("text")
        if not isinstance(text, dict) or text.get("type") != "plain_text":
            errors.append(f"must be a plain_text text object [json-pointer:{at}/text]")
        elif not text.get("text") or len(str(text["text"])) > MAX_BUTTON_TEXT:
            errors.append(f"must be 1 to {MAX_BUTTON_TEXT} characters [{at}/text/text]")
        if "value" in element and len(str(element["value"])) > MAX_BUTTON_VALUE:
            errors.append(f"must be less than {MAX_BUTTON_VALUE + 1} characters [{at}/value]")
    return errors


# -------------------------------------------------------------------- inbound side


def sign_slack(
    body: str | bytes, secret: str = SIGNING_SECRET, ts: int | None = None
) -> dict[str, str]:
    """Slack's v0 signature headers for exactly ``body`` (timestamp now unless given)."""
    stamp = str(int(time.time()) if ts is None else ts)
    raw = body.decode() if isinstance(body, bytes) else body
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{raw}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


_triggers = itertools.count(1)


def next_trigger_id() -> str:
    """A fresh ``trigger_id``: Slack gives every interaction and command its own."""
    return f"{next(_triggers)}.{int(time.time())}.chinwag"


def slack_message_event(
    text: str,
    *,
    user: str = "U222",
    channel: str = "D111",
    channel_type: str = "im",
    ts: str | None = None,
    thread_ts: str | None = None,
    event_type: str = "message",
    bot_id: str | None = None,
) -> dict[str, Any]:
    """A ``message`` (or ``app_mention``) event as the Events API delivers it."""
    stamp = ts or f"{time.time():.6f}"
    event: dict[str, Any] = {
        "type": event_type,
        "user": user,
        "text": text,
        "ts": stamp,
        "channel": channel,
        "channel_type": channel_type,
        "event_ts": stamp,
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    if bot_id is not None:
        event["bot_id"] = bot_id
    if event_type == "app_mention":
        del event["channel_type"]
    return event


def slack_event_envelope(
    event: dict[str, Any],
    event_id: str = "Ev0001",
    *,
    team_id: str = FakeSlackAPI.team_id,
    api_app_id: str = "A111",
    bot_user_id: str = FakeSlackAPI.bot_user_id,
    event_time: int | None = None,
) -> dict[str, Any]:
    """The ``event_callback`` envelope around ``event`` (send it as JSON, signed)."""
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "api_app_id": api_app_id,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "event": event,
    }


def slack_block_action_payload(
    value: str,
    *,
    action_id: str = "chinwag_btn_0",
    block_id: str = "chinwag_buttons_0",
    title: str = "Button",
    user: str = "U222",
    channel: str = "C111",
    team_id: str = FakeSlackAPI.team_id,
    message_ts: str = "1700000001.000300",
    thread_ts: str | None = None,
) -> dict[str, Any]:
    """A ``block_actions`` payload for a click on a button whose value is ``value``."""
    message: dict[str, Any] = {"type": "message", "ts": message_ts, "text": "", "user": "UBOT"}
    if thread_ts is not None:
        message["thread_ts"] = thread_ts
    return {
        "type": "block_actions",
        "user": {
            "id": user,
            "username": f"user-{user}",
            "name": f"user-{user}",
            "team_id": team_id,
        },
        "api_app_id": "A111",
        "token": "legacy-verification-token",
        "trigger_id": next_trigger_id(),
        "team": {"id": team_id, "domain": "chinwag-test"},
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "channel": {"id": channel, "name": "general"},
        "message": message,
        "response_url": "https://hooks.slack.com/actions/T111/1/abc",
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "type": "button",
                "value": value,
                "text": {"type": "plain_text", "text": title},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def slack_interactive_body(payload: dict[str, Any]) -> str:
    """The form body Slack posts for an interaction: ``payload=<url-encoded JSON>``."""
    return urlencode({"payload": json.dumps(payload)})


def slack_command_form(
    command: str = "/chinwag",
    text: str = "",
    *,
    user_id: str = "U222",
    channel_id: str = "C111",
    team_id: str = FakeSlackAPI.team_id,
) -> dict[str, str]:
    """The form fields of a slash command (url-encode them with ``urlencode`` and sign)."""
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "team_domain": "chinwag-test",
        "channel_id": channel_id,
        "channel_name": "general",
        "user_id": user_id,
        "user_name": f"user-{user_id}",
        "command": command,
        "text": text,
        "api_app_id": "A111",
        "response_url": "https://hooks.slack.com/commands/T111/1/abc",
        "trigger_id": next_trigger_id(),
    }
