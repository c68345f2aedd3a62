"""The hub: one aiohttp application that serves one or more bots over HTTP.

Each bot lives under ``/bots/<name>/``; a hub with a single bot serves it at the root paths
too (``/webhooks/rest/webhook``, ``/conversations/{id}/tracker``, ...). Hub-wide routes are
``GET /health``, ``GET /version`` and ``GET /openapi.json``; ``GET /`` (and
``GET /bots/<name>/``) is a web chat page that talks to the bot's REST channel.

Every error is answered as JSON ``{"error": "...", "detail": ...}`` by a middleware, never a
traceback. Request bodies are capped (``max_body``, 1 MiB by default: 413 beyond it), must
arrive within ``body_timeout`` (30 s: 408) and, when JSON, nest at most 64 deep (400); every
body is read by :func:`read_body` and every JSON body parsed by :func:`parse_json`. Conversation
ids in paths are checked by ``core.conversation_ids`` (400). The HTTP
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

import asyncio
import contextlib
import gc
import hmac
import html
import importlib
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from chinwag.adapters.server import (
    Admission,
    ConnectionLimits,
    SharedListener,
    error_response,
    serve,
)
from chinwag.channel_responses.render import render_rest
from chinwag.core.agent import Agent, UserMessage, load_agent
from chinwag.core.conversation_ids import MAX_LENGTH as MAX_ID_LENGTH
from chinwag.core.conversation_ids import QUALIFIED_CHANNELS, InvalidConversationId, check
from chinwag.core.data.config import read_credentials
from chinwag.core.data.loader import load_bot
from chinwag.core.data.problems import BotDataError, Location, Problems
from chinwag.core.events import EventError, check_parse_data
from chinwag.core.jsontext import NOT_READ, orjson_value
from chinwag.core.logs import add_secrets, announce, credential_secrets
from chinwag.core.metrics import CONTENT_TYPE_LATEST, HubMetrics
from chinwag.core.nlu.interpreter import PayloadError, intent_payload
from chinwag.core.stores.base import StoreUnavailable, TrackerStore
from chinwag.core.stores.factory import create_lock_store, create_tracker_store, key_store_beside
from chinwag.core.stores.keys import KeyStore
from chinwag.core.stores.locks import LockStore, LockTimeout
from chinwag.core.tracker import Verbosity

logger = logging.getLogger(__name__)

DEFAULT_PORT = 5005
DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_BODY_TIMEOUT = 30.0  # seconds a client may take to send a request body
AUTH_TOKEN_ENV = "CHINWAG_AUTH_TOKEN"
WEB_DIR = Path(__file__).resolve().parent / "web"
WEB_FILES = {"chat.js": "application/javascript", "chat.css": "text/css"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ChannelSetup = Callable[[web.Application, "BotRuntime", dict[str, Any]], None]
StoreFactory = Callable[[Path], tuple[TrackerStore, LockStore]]

# credentials.yml section -> module with ``setup`` (imported only when a bot uses it)
CHANNELS = {
    "rest": "chinwag.adapters.rest",
    "slack": "chinwag.adapters.slack",
    "telegram": "chinwag.adapters.telegram",
}


def hub_version() -> str:
    try:
        return version("chinwag")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


class HubError(Exception):
    """An error answered as ``{"error": message, "detail": detail}`` with ``status``."""

    def __init__(
        self, status: int, message: str, detail: Any = None, *, close: bool = False
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail
        self.close = close  # close the connection after answering (the body was not read)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every 4xx/5xx as JSON; unexpected failures are logged and answered 500."""
    try:
        return await handler(request)
    except HubError as exc:
        response = error_response(exc.status, exc.message, exc.detail)
        if exc.close:
            response.force_close()
        return response
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
        headers = None
        if isinstance(exc, web.HTTPMethodNotAllowed):
            allowed = ", ".join(sorted(exc.allowed_methods))
            detail = f"allowed: {allowed}"
            headers = {"Allow": allowed}
        elif isinstance(exc, web.HTTPNotFound):
            detail = f"no route {request.method} {request.path}"
        return error_response(exc.status, exc.reason.lower(), detail, headers)
    except Exception:
        logger.exception("%s %s failed", request.method, request.path)
        return error_response(500, "internal server error", "see the hub's log")


MAX_JSON_DEPTH = 64
MAX_INT_DIGITS = 4300  # Python's own limit for int(str); past it int() raises ValueError


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"a number of {len(digits)} digits (at most {MAX_INT_DIGITS} allowed)")
    return int(digits)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# one decoder for every body (json.loads with options would build one a call)
_BOUNDED_JSON = json.JSONDecoder(parse_int=_bounded_int, parse_constant=_no_constant)


def _depth_within(value: Any, limit: int) -> bool:
    """True if ``value`` nests at most ``limit`` arrays/objects deep (iterative, linear)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return True


def parse_json(body: bytes | str, what: str = "the body") -> Any:
    """JSON text as Python values, bounded: at most :data:`MAX_JSON_DEPTH` levels of nesting,
    integers of at most :data:`MAX_INT_DIGITS` digits, no NaN/Infinity; HubError 400 naming
    what is wrong otherwise. Every JSON body the hub reads goes through here."""
    if isinstance(body, bytes):
        data = orjson_value(body)  # json's very value when orjson reads it (the usual body)
        if data is not NOT_READ:
            if not _depth_within(data, MAX_JSON_DEPTH):
                raise _too_deep()
            return data
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise HubError(400, "malformed JSON", f"{what} is not UTF-8 text") from None
    if not body.strip():
        raise HubError(400, "empty request body", "expected a JSON object")
    try:
        data = _BOUNDED_JSON.decode(body)
    except json.JSONDecodeError as exc:
        raise HubError(
            400, "malformed JSON", f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise _too_deep() from None
    except ValueError as exc:
        raise HubError(400, "malformed JSON", f"{what} holds {exc}") from None
    if not _depth_within(data, MAX_JSON_DEPTH):
        raise _too_deep()
    return data


def _too_deep() -> HubError:
    return HubError(
        400, "JSON nested too deeply", f"at most {MAX_JSON_DEPTH} levels of arrays/objects"
    )


async def read_body(request: web.Request) -> bytes:
    """The request body, read within the hub's body timeout (408 when the client is too slow;
    413 past the size limit, from aiohttp).

    ``asyncio.timeout``, not ``wait_for``: on Python 3.11 ``wait_for`` runs the read as a task
    of its own, so even a body already received cost every message three turns of the event
    loop (each as long as everything else the loop has ready) and a task. A body already
    received whole (the usual small JSON one) is read without a timer: nothing waits."""
    timeout = request.app[BODY_TIMEOUT]
    try:
        if request.content.is_eof():
            return await request.read()
        async with asyncio.timeout(timeout):
            return await request.read()
    except TimeoutError:
        logger.warning(
            "%s %s from %s: body not received within %g s; closing",
            request.method,
            request.path,
            request.remote,
            timeout,
        )
        raise HubError(
            408,
            "request body too slow",
            f"the body did not arrive within {timeout:g} s",
            close=True,
        ) from None
    except (ConnectionError, RequestPayloadError) as exc:
        logger.warning(
            "%s %s from %s: the client went away during the body (%s)",
            request.method,
            request.path,
            request.remote,
            exc,
        )
        raise HubError(400, "incomplete request body", str(exc), close=True) from None


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object (read and parsed with the bounds of
    :func:`read_body` and :func:`parse_json`); 400 naming what is wrong otherwise."""
    data = parse_json(await read_body(request))
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
    # the hub process's one order of messages to start (``create_app`` shares it by the bots)
    admission: Admission = field(default_factory=Admission)
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
        agent = self.agent
        agent.metrics.received(message.input_channel)
        await self.admission.wait()
        responses = await agent.handle(message)
        agent.metrics.sent(message.input_channel, len(responses))
        return responses


BOTS = web.AppKey("bots", dict[str, BotRuntime])
AUTH_TOKEN = web.AppKey("auth_token", str)  # "" when the HTTP API is switched off
MAX_BODY = web.AppKey("max_body", int)
BODY_TIMEOUT = web.AppKey("body_timeout", float)
METRICS = web.AppKey("metrics", HubMetrics)


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
    add_secrets(credential_secrets(credentials))
    return credentials


def create_app(
    bot_dirs: Sequence[Path | str],
    *,
    auth_token: str | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    stores: StoreFactory = default_stores,
    metrics_port: int | None = None,
    metrics_host: str = "0.0.0.0",
) -> web.Application:
    """The hub for ``bot_dirs``; bots load (and stores open) when the app starts.

    ``GET /metrics`` (Prometheus) needs the HTTP API token; with ``metrics_port`` it is served
    on that port instead, without a token (for a port only the monitoring network reaches).

    Raises BotDataError for an unreadable credentials.yml and ValueError for two bots with
    the same folder name.
    """
    if not bot_dirs:
        raise ValueError("no bot folder given")
    app = web.Application(middlewares=[error_middleware], client_max_size=max_body)
    app[AUTH_TOKEN] = auth_token or ""
    app[MAX_BODY] = max_body
    app[BODY_TIMEOUT] = body_timeout
    app[METRICS] = HubMetrics()
    runtimes: dict[str, BotRuntime] = {}
    admission = Admission()  # one for the process: all its bots' messages take turns
    single = len(bot_dirs) == 1
    for bot_dir in bot_dirs:
        path = Path(bot_dir).resolve()
        name = path.name
        if name in runtimes:
            raise ValueError(f"two bots are named '{name}' ({runtimes[name].path}, {path})")
        prefixes = (f"/bots/{name}", "") if single else (f"/bots/{name}",)
        runtimes[name] = BotRuntime(
            name, path, prefixes, _read_bot_credentials(path), admission=admission
        )
    app[BOTS] = runtimes

    app.router.add_get("/health", health)
    app.router.add_get("/version", version_info)
    app.router.add_get("/openapi.json", openapi)
    if metrics_port is None:
        app.router.add_get("/metrics", metrics_with_token)
    else:
        app.cleanup_ctx.append(_metrics_site(app[METRICS], metrics_host, metrics_port))
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
    async def bot_context(app: web.Application) -> AsyncIterator[None]:
        store, lock_store = stores(runtime.path)
        keys = key_store_beside(store)
        await store.open()
        try:
            await lock_store.open()
            await keys.open()
            try:
                runtime._agent = load_agent(
                    runtime.path,
                    store=store,
                    lock_store=lock_store,
                    metrics=app[METRICS].for_bot(runtime.name),
                )
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


def metrics_response(metrics: HubMetrics) -> web.Response:
    response = web.Response(body=metrics.exposition())
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def metrics_with_token(request: web.Request) -> web.Response:
    """Prometheus metrics on the hub's own port: the HTTP API token is needed."""
    check_token(request)
    return metrics_response(request.app[METRICS])


def _metrics_site(
    metrics: HubMetrics, host: str, port: int
) -> Callable[[web.Application], AsyncIterator[None]]:
    """Serve ``GET /metrics`` alone on ``host:port``, without a token, while the hub runs."""

    async def serve_metrics(_request: web.Request) -> web.Response:
        return metrics_response(metrics)

    async def metrics_site(_app: web.Application) -> AsyncIterator[None]:
        app = web.Application(middlewares=[error_middleware])
        app.router.add_get("/metrics", serve_metrics)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            # every worker of `chinwag run --workers` binds it: each scrape reads one worker's
            await web.TCPSite(runner, host, port, reuse_port=True).start()
            yield
        finally:
            await runner.cleanup()

    return metrics_site


async def version_info(request: web.Request) -> web.Response:
    return web.json_response({"version": hub_version(), "bots": bot_names(request.app)})


async def bot_index(request: web.Request) -> web.Response:
    links = "".join(
        f'<li><a href="/bots/{html.escape(quote(name), quote=True)}/">{html.escape(name)}</a></li>'
        for name in bot_names(request.app)
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


def same_secret(given: str, expected: str) -> bool:
    """``given`` (from a header or the query, possibly holding undecodable bytes) equals
    ``expected``, compared in constant time; undecodable input is simply not equal."""
    try:
        given_bytes = given.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(given_bytes, expected.encode())


def conversation_id(request: web.Request) -> str:
    """The ``{conversation_id}`` of the path, checked (400 naming the problem)."""
    try:
        return check(request.match_info["conversation_id"])
    except InvalidConversationId as exc:
        raise HubError(400, "invalid conversation id", str(exc)) from None


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
    if not same_secret(given, expected):
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
        tracker = await self.runtime.agent.load_tracker(conversation_id(request))
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
        message = UserMessage(text, conversation_id(request))
        tracker = await self.runtime.agent.log_message(message, parse_data)
        return web.json_response(tracker.current_state(include))

    async def trigger_intent(self, request: web.Request) -> web.Response:
        """Run the bot as if the user had sent ``name`` with ``entities``."""
        check_token(request)
        include = verbosity(request)
        sender = conversation_id(request)
        data = await read_json(request)
        name = required_text(data, "name")
        agent = self.runtime.agent
        if name not in agent.domain.intents:
            raise HubError(404, "unknown intent", f"the intent '{name}' is not in the domain")
        try:
            payload = intent_payload(name, data.get("entities"))
        except PayloadError as exc:
            raise HubError(400, "invalid trigger_intent body", str(exc)) from None
        responses = await self.runtime.handle(UserMessage(payload, sender))
        tracker = await agent.load_tracker(sender)
        messages = [m for r in responses for m in render_rest(r, sender)]
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
_NO_CONTROL = "[^\\u0000-\\u001f\\u007f-\\u009f]"
_RESERVED = "|".join(f"{channel}:" for channel in QUALIFIED_CHANNELS)
TEXT_OR_NUMBER = {"anyOf": [{"type": "string"}, {"type": "number"}]}
SENDER = {  # core.conversation_ids.check_sender, as a schema (numbers become text, as in Rasa)
    "anyOf": [
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_ID_LENGTH,
            "pattern": f"^(?!{_RESERVED}){_NO_CONTROL}+$",
        },
        {"type": "number"},
    ]
}
CONVERSATION = {
    "name": "conversation_id",
    "in": "path",
    "required": True,
    "description": "the full conversation id: slack:<id>, telegram:<chat id> or a REST sender",
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_ID_LENGTH,
        # core.conversation_ids.check; one path segment ('/' or a dot segment would not be)
        "pattern": f"^(?!\\.\\.?$)(?:(?!/){_NO_CONTROL})+$",
    },
}
INCLUDE_EVENTS = {
    "name": "include_events",
    "in": "query",
    "schema": {"type": "string", "enum": list(VERBOSITIES), "default": "AFTER_RESTART"},
}
NO_SUCH_BOT = {
    "description": "no bot of that name in this hub",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
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
                        "sender": SENDER,
                        "message": TEXT_OR_NUMBER,
                        "metadata": {"type": ["object", "null"]},
                        "input_channel": {
                            "type": ["string", "null"],
                            "maxLength": MAX_ID_LENGTH,
                            "pattern": f"^(?!(?i:{'|'.join(QUALIFIED_CHANNELS)})$){_NO_CONTROL}*$",
                        },
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
                        "text": TEXT_OR_NUMBER,
                        "sender": {"type": "string", "enum": ["user"]},
                        "parse_data": {"type": ["object", "null"]},
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
                        "name": TEXT_OR_NUMBER,
                        "entities": {"type": ["object", "array", "null"]},
                    },
                }
            ),
            "responses": {
                "200": _ok("{tracker, messages}"),
                **ERRORS,
                "404": {"$ref": "#/components/responses/Error"},
            },
        }
    },
    "/model/parse": {
        "post": {
            "summary": "Understand a text (intent, entities) without logging it",
            "security": SECURED,
            "requestBody": _json_body(
                {"type": "object", "required": ["text"], "properties": {"text": TEXT_OR_NUMBER}}
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
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics (text format); on --metrics-port without a token",
            "security": SECURED,
            "responses": {
                "200": {
                    "description": "Prometheus text exposition format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                "401": {"$ref": "#/components/responses/Error"},
                "403": {"$ref": "#/components/responses/Error"},
            },
        }
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
            method: {
                **op,
                "parameters": [bot_param, *op.get("parameters", [])],
                "responses": {**op["responses"], "404": NO_SUCH_BOT},
            }
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


# CPython's collector while a hub serves. Generation 0 is collected on a clock (GC_PACE),
# and by count only past 10,000 new container objects; generation 1 every 1,000 of those
# collections, about every four minutes (bench/results/gc_heap.md; the hubs' pauses in
# bench/results/rest_throughput.md, round 10).
SERVING_GC_THRESHOLDS = (10_000, 1_000, 10)
# seconds between two collections of generation 0 while a hub serves
GC_PACE = 0.25


@contextlib.asynccontextmanager
async def serving_collector(
    thresholds: tuple[int, int, int] = SERVING_GC_THRESHOLDS, pace: float = GC_PACE
) -> AsyncIterator[None]:
    """Within: what was made before is kept off the collector, and each pause is short.

    Models, domains and compiled data are a few hundred thousand objects that a full
    collection would otherwise walk every time, a pause of every message in flight (the
    p99's tail). ``gc.freeze()`` moves them out of the collector's generations; messages'
    own objects are still collected.

    CPython collects generation 0 when the container objects made exceed those freed by a
    threshold. A hub's cached conversations break that clock: once the caches are full,
    each new conversation's objects replace an evicted one's, the count barely moves, and
    generation 0 keeps everything made since its last collection. When the count finally
    crosses the threshold, that collection walks tens of thousands of objects: up to 115 ms
    measured, every message in flight waiting. So generation 0 is collected every ``pace`` seconds
    instead (at most a few milliseconds each, between two callbacks of the running loop;
    0: by count only), with ``thresholds`` keeping the count's collections for bursts and
    generation 1 rare. All of it is undone on the way out.
    """
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)

    async def paced() -> None:
        while True:
            await asyncio.sleep(pace)
            gc.collect(0)

    pacer = asyncio.get_running_loop().create_task(paced()) if pace > 0 else None
    try:
        yield
    finally:
        if pacer is not None:
            pacer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pacer
        gc.set_threshold(*before)
        gc.unfreeze()


async def long_lived_heap(app: web.Application) -> AsyncIterator[None]:
    """Once the bots are loaded, the collector as a serving hub wants it
    (:func:`serving_collector`); undone when the hub stops."""
    async with serving_collector():
        yield


def run_hub(
    bot_dirs: Sequence[Path | str],
    *,
    host: str = "0.0.0.0",
    port: int = DEFAULT_PORT,
    auth_token: str | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    limits: ConnectionLimits | None = None,
    listener: SharedListener | None = None,
    metrics_port: int | None = None,
    event_loop: str | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM, then stop cleanly (stores closed by cleanup_ctx).
    ``listener``: the listening socket a worker of ``chinwag run --workers`` accepts on with
    the others, instead of binding ``host``:``port``; ``event_loop``: "uvloop" or "asyncio"
    (default: uvloop where it is installed)."""
    app = create_app(
        bot_dirs,
        auth_token=auth_token,
        max_body=max_body,
        body_timeout=body_timeout,
        metrics_port=metrics_port,
        metrics_host=host,
    )
    app.cleanup_ctx.append(long_lived_heap)  # after the bots' contexts: they load first
    names = ", ".join(bot_names(app))
    worker = f" (worker {os.getpid()})" if listener is not None else ""

    def serving() -> None:
        announce(f"chinwag hub serving {names} on http://{host}:{port}{worker}", event="serving")

    serve(
        app,
        host=host,
        port=port,
        limits=limits or ConnectionLimits(),
        announce=serving,
        listener=listener,
        event_loop=event_loop,
    )
