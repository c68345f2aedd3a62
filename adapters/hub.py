"""The hub: one aiohttp application that serves one or more bots over HTTP.

Each bot lives under ``/bots/<name>/``; a hub with a single bot serves it at the root paths
too (``/webhooks/rest/webhook``, ``/conversations/{id}/tracker``, ...). Hub-wide routes are
``GET /health``, ``GET /version`` and ``GET /openapi.json``; ``GET /`` (and
``GET /bots/<name>/``) is a web chat page that talks to the bot's REST channel.

Every error is answered as JSON ``{"error": "...", "detail": ...}`` by a middleware, never a
traceback. Request bodies are capped (``max_body``, 1 MiB by default: 413 beyond it). The HTTP
API (tracker, messages, trigger_intent, model/parse) needs the token given by ``auth_token``
(``--auth-token`` or ``$CHINWAG_AUTH_TOKEN``) as ``?token=`` or ``Authorization: Bearer``;
without a configured token it is switched off (403). Channel webhooks need no token: each
channel checks its platform's own signature.

Channel adapter contract
------------------------
A channel is a module ``adapters/<name>.py`` with one function::

    def setup(app: web.Application, runtime: BotRuntime, credentials: dict[str, Any]) -> None

The hub calls it for every channel named in the bot's ``credentials.yml`` (``rest`` always,
since the web chat needs it), with that channel's section of the file (``${ENV}`` values
already filled in; ``{}`` for an empty section), before the app starts. ``setup`` adds its
routes with ``runtime.add_route(app, method, "/webhooks/<name>/webhook", handler)`` (this
mounts them under every prefix of the bot) and may append its own ``app.cleanup_ctx``
generator for clients it opens and closes; it runs after the bot's own one, so
``runtime.agent`` is ready by then. A handler turns the platform request into a
:class:`~core.agent.UserMessage`, calls ``await runtime.handle(message)`` and renders the
channel-neutral responses with ``channel_responses.render``. Raise :class:`HubError` for a
4xx answer. Modules are listed in :data:`CHANNELS` and imported only when a bot uses them.
"""

from __future__ import annotations

import hmac
import importlib
import json
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, cast

from aiohttp import web

from channel_responses.render import render_rest
from core.agent import Agent, UserMessage, load_agent
from core.data.config import read_credentials
from core.data.loader import load_bot
from core.data.problems import BotDataError, Location, Problems
from core.events import EventError, check_parse_data
from core.nlu.interpreter import PayloadError, intent_payload
from core.stores.base import StoreUnavailable, TrackerStore
from core.stores.factory import create_lock_store, create_tracker_store, key_store_beside
from core.stores.keys import KeyStore
from core.stores.locks import LockStore, LockTimeout
from core.tracker import Verbosity

logger = logging.getLogger(__name__)

DEFAULT_PORT = 5005
DEFAULT_MAX_BODY = 1024 * 1024
AUTH_TOKEN_ENV = "CHINWAG_AUTH_TOKEN"
WEB_DIR = Path(__file__).resolve().parent / "web"
WEB_FILES = {"chat.js": "application/javascript", "chat.css": "text/css"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ChannelSetup = Callable[[web.Application, "BotRuntime", dict[str, Any]], None]
StoreFactory = Callable[[Path], tuple[TrackerStore, LockStore]]

# credentials.yml section -> module with ``setup`` (imported only when a bot uses it)
CHANNELS = {"rest": "adapters.rest", "slack": "adapters.slack", "telegram": "adapters.telegram"}


def hub_version() -> str:
    try:
        return version("chinwag")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


class HubError(Exception):
    """An error answered as ``{"error": message, "detail": detail}`` with ``status``."""

    def __init__(self, status: int, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail


def error_response(status: int, message: str, detail: Any = None) -> web.Response:
    return web.json_response({"error": message, "detail": detail}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every 4xx/5xx as JSON; unexpected failures are logged and answered 500."""
    try:
        return await handler(request)
    except HubError as exc:
        return error_response(exc.status, exc.message, exc.detail)
    except LockTimeout as exc:
        return error_response(503, "conversation busy, try again", str(exc))
    except StoreUnavailable as exc:
        logger.error("%s %s: %s", request.method, request.path, exc)
        return error_response(503, "conversation store unavailable", str(exc))
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[MAX_BODY]
        return error_response(413, "request body too large", f"at most {limit} bytes")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        detail = None
        if isinstance(exc, web.HTTPMethodNotAllowed):
            detail = f"allowed: {', '.join(sorted(exc.allowed_methods))}"
        elif isinstance(exc, web.HTTPNotFound):
            detail = f"no route {request.method} {request.path}"
        return error_response(exc.status, exc.reason.lower(), detail)
    except Exception:
        logger.exception("%s %s failed", request.method, request.path)
        return error_response(500, "internal server error", "see the hub's log")


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object; 400 naming what is wrong otherwise."""
    body = await request.read()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HubError(400, "malformed JSON", "the body is not UTF-8 text") from None
    if not text.strip():
        raise HubError(400, "empty request body", "expected a JSON object")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HubError(
            400, "malformed JSON", f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(data, dict):
        raise HubError(400, "expected a JSON object", f"got {type(data).__name__}")
    return data


def required_text(data: dict[str, Any], key: str) -> str:
    """``data[key]`` as text (numbers are accepted and turned into text); 400 if missing."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        if value is None:
            raise HubError(400, f"missing '{key}'", f"expected text in '{key}'")
        raise HubError(
            400, f"invalid '{key}'", f"expected text in '{key}', got {type(value).__name__}"
        )
    return str(value)


@dataclass
class BotRuntime:
    """One bot in the hub: its folder, URL prefixes, credentials and (once started) agent."""

    name: str
    path: Path
    prefixes: tuple[str, ...]
    credentials: dict[str, Any] = field(default_factory=dict)
    _agent: Agent | None = None
    _keys: KeyStore | None = None  # beside the conversations: shared by every hub process

    async def first_time(self, namespace: str, key: str, ttl: float) -> bool:
        """True only the first time any of the hub's processes sees ``key`` (within ``ttl``
        seconds): a channel's dedupe of redelivered events and updates."""
        if self._keys is None:
            raise HubError(503, f"bot '{self.name}' is not started yet")
        return await self._keys.add(f"{namespace}:{self.name}", key, ttl)

    async def remember(self, namespace: str, key: str, value: str, ttl: float) -> None:
        """Keep ``value`` under ``key`` for ``ttl`` seconds, for every hub process."""
        if self._keys is None:
            raise HubError(503, f"bot '{self.name}' is not started yet")
        await self._keys.put(f"{namespace}:{self.name}", key, value, ttl)

    async def recall(self, namespace: str, key: str) -> str | None:
        """What any hub process kept under ``key`` (None once it expired)."""
        if self._keys is None:
            raise HubError(503, f"bot '{self.name}' is not started yet")
        return await self._keys.get(f"{namespace}:{self.name}", key)

    @property
    def agent(self) -> Agent:
        if self._agent is None:
            raise HubError(503, f"bot '{self.name}' is not started yet")
        return self._agent

    @property
    def ready(self) -> bool:
        return self._agent is not None

    def add_route(self, app: web.Application, method: str, path: str, handler: Handler) -> None:
        """Add ``handler`` at ``path`` under each of the bot's prefixes."""
        for prefix in self.prefixes:
            app.router.add_route(method, prefix + path, handler)

    async def handle(self, message: UserMessage) -> list[dict[str, Any]]:
        """Run the bot on one message (LockTimeout becomes 503 in the error middleware)."""
        return await self.agent.handle(message)


BOTS = web.AppKey("bots", dict[str, BotRuntime])
AUTH_TOKEN = web.AppKey("auth_token", str)  # "" when the HTTP API is switched off
MAX_BODY = web.AppKey("max_body", int)


def default_stores(bot_dir: Path) -> tuple[TrackerStore, LockStore]:
    """The bot's stores from its endpoints.yml (SQLite under .chinwag/ by default), unopened."""
    bot = load_bot(bot_dir, tests=False)
    if bot.problems.errors:
        raise BotDataError(bot.problems.errors)
    return create_tracker_store(bot), create_lock_store(bot)


def _read_bot_credentials(path: Path) -> dict[str, Any]:
    problems = Problems()
    if not path.is_dir():
        problems.error("not a bot folder", Location(str(path)))
        raise BotDataError(problems.errors)
    file = next(
        (path / n for n in ("credentials.yml", "credentials.yaml") if (path / n).is_file()), None
    )
    credentials = read_credentials(file, path, problems)
    if problems.errors:
        raise BotDataError(problems.errors)
    return credentials


def create_app(
    bot_dirs: Sequence[Path | str],
    *,
    auth_token: str | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    stores: StoreFactory = default_stores,
) -> web.Application:
    """The hub for ``bot_dirs``; bots load (and stores open) when the app starts.

    Raises BotDataError for an unreadable credentials.yml and ValueError for two bots with
    the same folder name.
    """
    if not bot_dirs:
        raise ValueError("no bot folder given")
    app = web.Application(middlewares=[error_middleware], client_max_size=max_body)
    app[AUTH_TOKEN] = auth_token or ""
    app[MAX_BODY] = max_body
    runtimes: dict[str, BotRuntime] = {}
    single = len(bot_dirs) == 1
    for bot_dir in bot_dirs:
        path = Path(bot_dir).resolve()
        name = path.name
        if name in runtimes:
            raise ValueError(f"two bots are named '{name}' ({runtimes[name].path}, {path})")
        prefixes = (f"/bots/{name}", "") if single else (f"/bots/{name}",)
        runtimes[name] = BotRuntime(name, path, prefixes, _read_bot_credentials(path))
    app[BOTS] = runtimes

    app.router.add_get("/health", health)
    app.router.add_get("/version", version_info)
    app.router.add_get("/openapi.json", openapi)
    if not single:
        app.router.add_get("/", bot_index)
    for runtime in runtimes.values():
        app.cleanup_ctx.append(_bot_context(runtime, stores))
        _add_bot_routes(app, runtime)
        _setup_channels(app, runtime)
    return app


def _bot_context(
    runtime: BotRuntime, stores: StoreFactory
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def bot_context(_app: web.Application) -> AsyncIterator[None]:
        store, lock_store = stores(runtime.path)
        keys = key_store_beside(store)
        await store.open()
        try:
            await lock_store.open()
            await keys.open()
            try:
                runtime._agent = load_agent(runtime.path, store=store, lock_store=lock_store)
                runtime._keys = keys
                logger.info("bot '%s' ready (%s)", runtime.name, runtime.path)
                yield
            finally:
                runtime._agent = runtime._keys = None
                await keys.close()
                await lock_store.close()
        finally:
            await store.close()

    return bot_context


def _setup_channels(app: web.Application, runtime: BotRuntime) -> None:
    sections = {"rest": None, **runtime.credentials}
    for channel, settings in sections.items():
        module_name = CHANNELS.get(channel)
        if module_name is None:
            logger.warning(
                "bot '%s': credentials.yml names channel '%s', which chinwag does not have "
                "(known: %s); ignored",
                runtime.name,
                channel,
                ", ".join(CHANNELS),
            )
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            logger.warning(
                "bot '%s': channel '%s' is not available yet; ignored", runtime.name, channel
            )
            continue
        setup = cast(ChannelSetup, module.setup)
        setup(app, runtime, dict(settings or {}))


# ---------------------------------------------------------------------------- hub routes


def bot_names(app: web.Application) -> list[str]:
    bots: dict[str, BotRuntime] = app[BOTS]
    return sorted(bots)


async def health(request: web.Request) -> web.Response:
    bots = request.app[BOTS]
    ready = all(r.ready for r in bots.values())
    return web.json_response(
        {
            "status": "ok" if ready else "starting",
            "bots": {name: "ready" if r.ready else "starting" for name, r in bots.items()},
        },
        status=200 if ready else 503,
    )


async def version_info(request: web.Request) -> web.Response:
    return web.json_response({"version": hub_version(), "bots": bot_names(request.app)})


async def bot_index(request: web.Request) -> web.Response:
    links = "".join(
        f'<li><a href="/bots/{name}/">{name}</a></li>' for name in bot_names(request.app)
    )
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>chinwag</title>'
        f"</head><body><h1>chinwag</h1><p>Pick a bot to chat with:</p><ul>{links}</ul>"
        "</body></html>"
    )
    return web.Response(text=page, content_type="text/html")


# ---------------------------------------------------------------------------- per-bot routes


def _add_bot_routes(app: web.Application, runtime: BotRuntime) -> None:
    def web_file(name: str, content_type: str) -> Handler:
        async def serve(_request: web.Request) -> web.Response:
            return web.Response(body=(WEB_DIR / name).read_bytes(), content_type=content_type)

        return serve

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.path + "/")

    app.router.add_get(f"/bots/{runtime.name}", redirect)
    runtime.add_route(app, "GET", "/", web_file("index.html", "text/html"))
    for name, content_type in WEB_FILES.items():
        runtime.add_route(app, "GET", f"/{name}", web_file(name, content_type))

    api = HttpApi(runtime)
    runtime.add_route(app, "GET", "/conversations/{conversation_id}/tracker", api.tracker)
    runtime.add_route(app, "POST", "/conversations/{conversation_id}/messages", api.messages)
    runtime.add_route(
        app, "POST", "/conversations/{conversation_id}/trigger_intent", api.trigger_intent
    )
    runtime.add_route(app, "POST", "/model/parse", api.parse)


VERBOSITIES: dict[str, Verbosity] = {
    "ALL": "all",
    "APPLIED": "applied",
    "AFTER_RESTART": "after_restart",
    "NONE": "none",
}


def check_token(request: web.Request) -> None:
    """401/403 unless the request carries the hub's HTTP API token."""
    expected = request.app[AUTH_TOKEN]
    if not expected:
        raise HubError(
            403,
            "the HTTP API is disabled",
            f"start the hub with --auth-token TOKEN (or set {AUTH_TOKEN_ENV}) to enable it",
        )
    given = request.query.get("token")
    header = request.headers.get("Authorization", "")
    if given is None and header.lower().startswith("bearer "):
        given = header[7:].strip()
    if given is None:
        raise HubError(401, "missing token", "send ?token=... or Authorization: Bearer ...")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise HubError(401, "wrong token")


def verbosity(request: web.Request) -> Verbosity:
    """``?include_events=`` (Rasa's EventVerbosity names; AFTER_RESTART by default)."""
    value = request.query.get("include_events", "AFTER_RESTART").upper()
    if value not in VERBOSITIES:
        raise HubError(
            400,
            "invalid include_events",
            f"'{value}' is not one of {', '.join(VERBOSITIES)}",
        )
    return VERBOSITIES[value]


class HttpApi:
    """Rasa's HTTP API (rasa/server.py) for one bot; every route needs the token."""

    def __init__(self, runtime: BotRuntime) -> None:
        self.runtime = runtime

    async def tracker(self, request: web.Request) -> web.Response:
        check_token(request)
        include = verbosity(request)
        tracker = await self.runtime.agent.load_tracker(request.match_info["conversation_id"])
        return web.json_response(tracker.current_state(include))

    async def messages(self, request: web.Request) -> web.Response:
        """Log a user message without running the bot (as Rasa's add_message)."""
        check_token(request)
        include = verbosity(request)
        data = await read_json(request)
        if data.get("sender") != "user":
            raise HubError(
                400,
                "only user messages can be added",
                f"'sender' must be \"user\", got {data.get('sender')!r}",
            )
        text = required_text(data, "text")
        parse_data = data.get("parse_data")
        if parse_data is not None:
            try:
                parse_data = check_parse_data(parse_data)
            except EventError as exc:
                raise HubError(400, "invalid parse_data", str(exc)) from None
        message = UserMessage(text, request.match_info["conversation_id"])
        tracker = await self.runtime.agent.log_message(message, parse_data)
        return web.json_response(tracker.current_state(include))

    async def trigger_intent(self, request: web.Request) -> web.Response:
        """Run the bot as if the user had sent ``name`` with ``entities``."""
        check_token(request)
        include = verbosity(request)
        data = await read_json(request)
        name = required_text(data, "name")
        agent = self.runtime.agent
        if name not in agent.domain.intents:
            raise HubError(404, "unknown intent", f"the intent '{name}' is not in the domain")
        try:
            payload = intent_payload(name, data.get("entities"))
        except PayloadError as exc:
            raise HubError(400, "invalid trigger_intent body", str(exc)) from None
        conversation_id = request.match_info["conversation_id"]
        responses = await self.runtime.handle(UserMessage(payload, conversation_id))
        tracker = await agent.load_tracker(conversation_id)
        messages = [m for r in responses for m in render_rest(r, conversation_id)]
        return web.json_response({"tracker": tracker.current_state(include), "messages": messages})

    async def parse(self, request: web.Request) -> web.Response:
        check_token(request)
        data = await read_json(request)
        text = required_text(data, "text")
        parsed = await self.runtime.agent.parse(text)
        parsed["text"] = text
        return web.json_response(parsed)


# ---------------------------------------------------------------------------- OpenAPI


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _ok(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    content = {"application/json": {"schema": schema or {"type": "object"}}}
    return {"description": description, "content": content}


ERRORS = {
    "400": {"$ref": "#/components/responses/Error"},
    "401": {"$ref": "#/components/responses/Error"},
    "403": {"$ref": "#/components/responses/Error"},
}
CONVERSATION = {
    "name": "conversation_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
}
INCLUDE_EVENTS = {
    "name": "include_events",
    "in": "query",
    "schema": {"type": "string", "enum": list(VERBOSITIES), "default": "AFTER_RESTART"},
}
SECURED: list[dict[str, list[str]]] = [{"bearer": []}, {"token": []}]

BOT_PATHS: dict[str, Any] = {
    "/webhooks/rest/webhook": {
        "post": {
            "summary": "Send a message (Rasa's REST channel); the bot's replies come back",
            "requestBody": _json_body(
                {
                    "type": "object",
                    "required": ["sender", "message"],
                    "properties": {
                        "sender": {"type": "string"},
                        "message": {"type": "string"},
                        "metadata": {"type": "object"},
                        "input_channel": {"type": "string"},
                    },
                }
            ),
            "responses": {
                "200": _ok(
                    "the bot's messages",
                    {"type": "array", "items": {"$ref": "#/components/schemas/BotMessage"}},
                ),
                "400": {"$ref": "#/components/responses/Error"},
            },
        }
    },
    "/webhooks/rest/": {"get": {"summary": "REST channel health", "responses": {"200": _ok("ok")}}},
    "/conversations/{conversation_id}/tracker": {
        "get": {
            "summary": "A conversation's tracker (Rasa's tracker JSON)",
            "parameters": [CONVERSATION, INCLUDE_EVENTS],
            "security": SECURED,
            "responses": {"200": _ok("the tracker"), **ERRORS},
        }
    },
    "/conversations/{conversation_id}/messages": {
        "post": {
            "summary": "Add a user message to a conversation without running the bot",
            "parameters": [CONVERSATION, INCLUDE_EVENTS],
            "security": SECURED,
            "requestBody": _json_body(
                {
                    "type": "object",
                    "required": ["text", "sender"],
                    "properties": {
                        "text": {"type": "string"},
                        "sender": {"type": "string", "enum": ["user"]},
                        "parse_data": {"type": "object"},
                    },
                }
            ),
            "responses": {"200": _ok("the tracker"), **ERRORS},
        }
    },
    "/conversations/{conversation_id}/trigger_intent": {
        "post": {
            "summary": "Run the bot as if the user had sent this intent",
            "parameters": [CONVERSATION, INCLUDE_EVENTS],
            "security": SECURED,
            "requestBody": _json_body(
                {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "entities": {"oneOf": [{"type": "object"}, {"type": "array"}]},
                    },
                }
            ),
            "responses": {"200": _ok("{tracker, messages}"), **ERRORS},
        }
    },
    "/model/parse": {
        "post": {
            "summary": "Understand a text (intent, entities) without logging it",
            "security": SECURED,
            "requestBody": _json_body(
                {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}
            ),
            "responses": {"200": _ok("parse data"), **ERRORS},
        }
    },
    "/": {"get": {"summary": "Web chat page", "responses": {"200": {"description": "HTML"}}}},
}

HUB_PATHS: dict[str, Any] = {
    "/health": {
        "get": {"summary": "Ready when every bot is loaded", "responses": {"200": _ok("ok")}}
    },
    "/version": {
        "get": {
            "summary": "chinwag's version and the bots served",
            "responses": {"200": _ok("version")},
        }
    },
    "/openapi.json": {
        "get": {"summary": "This document", "responses": {"200": _ok("OpenAPI 3.1")}}
    },
}


def openapi_document(bot_names: list[str]) -> dict[str, Any]:
    """The hub's OpenAPI 3.1 document; per-bot routes under /bots/{bot}, and at the root for a
    single bot."""
    paths: dict[str, Any] = dict(HUB_PATHS)
    bot_param = {
        "name": "bot",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": bot_names},
    }
    for path, item in BOT_PATHS.items():
        paths[f"/bots/{{bot}}{path}"] = {
            method: {**op, "parameters": [bot_param, *op.get("parameters", [])]}
            for method, op in item.items()
        }
        if len(bot_names) == 1:
            paths[path] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "chinwag hub",
            "version": hub_version(),
            "description": "Rasa-compatible REST channel and HTTP API for the bots in this hub.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "token": {"type": "apiKey", "in": "query", "name": "token"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}, "detail": {}},
                },
                "BotMessage": {
                    "type": "object",
                    "required": ["recipient_id"],
                    "properties": {
                        "recipient_id": {"type": "string"},
                        "text": {"type": "string"},
                        "image": {"type": "string"},
                        "buttons": {"type": "array", "items": {"type": "object"}},
                        "attachment": {},
                        "custom": {},
                    },
                },
            },
            "responses": {
                "Error": {
                    "description": "the request was refused",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
            },
        },
    }


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(bot_names(request.app)))


# ---------------------------------------------------------------------------- running


def resolve_port(port: int | None) -> int:
    """--port, else $PORT (as on Heroku-style platforms), else 5005."""
    if port is not None:
        return port
    env = os.environ.get("PORT", "").strip()
    if env:
        try:
            return int(env)
        except ValueError:
            raise ValueError(f"$PORT must be a number, found {env!r}") from None
    return DEFAULT_PORT


def run_hub(
    bot_dirs: Sequence[Path | str],
    *,
    host: str = "0.0.0.0",
    port: int = DEFAULT_PORT,
    auth_token: str | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    sock: socket.socket | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM, then stop cleanly (stores closed by cleanup_ctx).
    ``sock``: an already listening socket to accept on (a worker of ``chinwag run
    --workers``), instead of binding ``host``:``port``."""
    app = create_app(bot_dirs, auth_token=auth_token, max_body=max_body)
    names = ", ".join(bot_names(app))
    worker = f" (worker {os.getpid()})" if sock is not None else ""

    def announce(_line: str) -> None:
        print(f"chinwag hub serving {names} on http://{host}:{port}{worker}", flush=True)

    if sock is not None:
        web.run_app(app, sock=sock, print=announce, access_log=None)
    else:
        web.run_app(app, host=host, port=port, print=announce, access_log=None)
