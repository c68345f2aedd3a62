"""The HTTP server under the hub: connection limits and aiohttp's own errors as our JSON.

aiohttp answers some requests before any handler or middleware runs: a request line or header
it cannot parse (an oversized line, bytes that are not allowed) gets a plain-text 400 and an
ERROR traceback in the log. :class:`HubRunner` serves the app with a request handler that
answers those as the hub's JSON error (``{"error", "detail"}``) with one WARNING line, and
bounds how many connections are open at once and how long an idle one stays open. The body
read timeout lives with the body reader (``adapters.hub.read_body``), where the body is read.

``serve`` runs an app until SIGINT/SIGTERM, as ``aiohttp.web.run_app`` does, with this runner,
on uvloop's event loop where it is installed (libuv's loop and transports in C: fewer
instructions a request than asyncio's own, see bench/results/hub_instructions.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

logger = logging.getLogger(__name__)

DEFAULT_KEEPALIVE_TIMEOUT = 15.0  # seconds an idle connection stays open
DEFAULT_MAX_CONNECTIONS = 1000  # connections open at once; more are closed on arrival


def default_event_loop() -> str:
    """uvloop where it can be imported (a dependency except on Windows), else asyncio."""
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def new_event_loop(kind: str) -> asyncio.AbstractEventLoop:
    """A new event loop of ``kind``: "uvloop" or "asyncio" (``chinwag run --event-loop``)."""
    if kind == "asyncio":
        return asyncio.new_event_loop()
    if kind == "uvloop":
        try:
            import uvloop
        except ImportError:
            raise ValueError("--event-loop uvloop: uvloop is not installed") from None
        return uvloop.new_event_loop()
    raise ValueError(f"unknown event loop {kind!r} (expected uvloop or asyncio)")


@dataclass(frozen=True)
class ConnectionLimits:
    keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS


def error_response(
    status: int, message: str, detail: Any = None, headers: dict[str, str] | None = None
) -> web.Response:
    """The hub's one error shape: ``{"error": message, "detail": detail}`` with ``status``."""
    return web.json_response({"error": message, "detail": detail}, status=status, headers=headers)


class HubRequestHandler(RequestHandler):
    """aiohttp's protocol handler, answering its own errors as the hub's JSON errors."""

    async def start(self) -> None:
        # a connection refused at the limit (HubServer.connection_made) is closed before its
        # task first runs; aiohttp's start() would then fail an assertion ("Task exception was
        # never retrieved" in the log), since the hub does not cancel handlers
        if self._manager is None:
            return
        await super().start()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500:
            self.log_exception("Error handling request from %s", request.remote, exc_info=exc)
        else:
            logger.warning(
                "refused a malformed request from %s: %s %s",
                request.remote,
                status,
                message or exc or HTTPStatus(status).phrase,
            )
        if request.writer.output_size > 0:
            raise ConnectionError("the response was partly sent; the connection is closed")
        try:
            reason = HTTPStatus(status).phrase.lower()
        except ValueError:
            reason = "error"
        detail = message if status < 500 else "see the hub's log"
        response = error_response(status, reason, detail)
        response.force_close()
        return response


class HubServer(Server):
    """aiohttp's low-level server with :class:`HubRequestHandler` and a connection limit."""

    def __init__(self, *args: Any, max_connections: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_connections = max_connections
        self.refused = 0

    def __call__(self) -> RequestHandler:
        return HubRequestHandler(self, loop=self._loop, **self._kwargs)

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        if len(self._connections) >= self.max_connections:
            self.refused += 1
            if self.refused == 1 or self.refused % 1000 == 0:
                logger.warning(
                    "%d connections open (the limit): closed %d new connection(s)",
                    len(self._connections),
                    self.refused,
                )
            transport.close()
        super().connection_made(handler, transport)


class HubRunner(web.AppRunner):
    """``web.AppRunner`` serving through :class:`HubServer` with ``limits``."""

    def __init__(
        self, app: web.Application, *, limits: ConnectionLimits | None = None, **kwargs: Any
    ) -> None:
        limits = limits or ConnectionLimits()
        kwargs.setdefault("keepalive_timeout", limits.keepalive_timeout)
        super().__init__(app, **kwargs)
        self.limits = limits

    async def _make_server(self) -> Server:
        base = await super()._make_server()  # runs the app's startup
        return HubServer(
            base.request_handler,
            request_factory=base.request_factory,
            handler_cancellation=base.handler_cancellation,
            max_connections=self.limits.max_connections,
            **base._kwargs,
        )


def serve(
    app: web.Application,
    *,
    host: str,
    port: int,
    limits: ConnectionLimits,
    announce: Callable[[], None],
    sock: socket.socket | None = None,
    event_loop: str | None = None,
) -> None:
    """Serve ``app`` until SIGINT/SIGTERM, then clean up (``app.cleanup_ctx`` runs); on
    ``sock`` (a listening socket shared by hub workers) instead of ``host``:``port`` if given,
    on an ``event_loop`` of that kind (default: :func:`default_event_loop`)."""

    async def run() -> None:
        runner = HubRunner(app, limits=limits, handle_signals=True, access_log=None)
        await runner.setup()
        try:
            site = (
                web.SockSite(runner, sock) if sock is not None else web.TCPSite(runner, host, port)
            )
            await site.start()
            announce()
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    kind = event_loop or default_event_loop()
    loop = new_event_loop(kind)
    asyncio.set_event_loop(loop)
    logger.info("serving on the %s event loop", kind)
    main = loop.create_task(run())
    try:
        loop.run_until_complete(main)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        main.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(main)
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()
