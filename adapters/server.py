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

The workers of ``chinwag run --workers N`` share one listening socket (a
:class:`SharedListener`); each accepts through a :class:`TakeTurnsAcceptor`, so that a new
connection goes to the worker with the fewest open instead of to whichever woke first.

Each process lets its messages start their dialogue work through one :class:`Admission`:
one message a turn of the event loop, in the order they came, so that the loop reads its
sockets between two of them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import importlib.util
import logging
import mmap
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
ACCEPT_PAUSE = 1.0  # seconds a worker stops accepting when it cannot (out of descriptors)
ACCEPT_DEFER = 0.002  # seconds a worker leaves a new connection to one with fewer open


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

    def __init__(
        self,
        *args: Any,
        max_connections: int,
        listener: SharedListener | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_connections = max_connections
        self.refused = 0
        self.listener = listener  # told how many connections are open, if shared
        self.open_connections = 0

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
        self._count_open(+1)

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        super().connection_lost(handler, exc)
        self._count_open(-1)

    def _count_open(self, change: int) -> None:
        self.open_connections += change
        if self.listener is not None:
            self.listener.set_open(self.open_connections)


class HubRunner(web.AppRunner):
    """``web.AppRunner`` serving through :class:`HubServer` with ``limits``."""

    def __init__(
        self,
        app: web.Application,
        *,
        limits: ConnectionLimits | None = None,
        listener: SharedListener | None = None,
        **kwargs: Any,
    ) -> None:
        limits = limits or ConnectionLimits()
        kwargs.setdefault("keepalive_timeout", limits.keepalive_timeout)
        super().__init__(app, **kwargs)
        self.limits = limits
        self.listener = listener

    async def _make_server(self) -> Server:
        base = await super()._make_server()  # runs the app's startup
        return HubServer(
            base.request_handler,
            request_factory=base.request_factory,
            handler_cancellation=base.handler_cancellation,
            max_connections=self.limits.max_connections,
            listener=self.listener,
            **base._kwargs,
        )


class SharedListener:
    """A listening socket the hub's workers all accept on, and how many connections each
    worker has open (a few integers in memory the workers share, made before they fork).

    ``slot`` is the worker's place among them (``take_slot``, in the worker). A slot counts
    only while its worker accepts (``start_serving`` to ``stop_serving``): one still loading
    its bots, stopping, or dead (the parent ``release``s its slot before starting another in
    it) is not a worker with fewer connections to leave new ones to.
    """

    def __init__(self, sock: socket.socket, workers: int) -> None:
        self.sock = sock
        self.slot: int | None = None
        self._serving = False
        self._counts = memoryview(mmap.mmap(-1, 8 * workers)).cast("q")  # shared across fork
        for slot in range(workers):
            self._counts[slot] = _NOT_SERVING

    def take_slot(self, slot: int) -> None:
        self.slot = slot

    def release(self, slot: int) -> None:
        self._counts[slot] = _NOT_SERVING

    def start_serving(self, connections: int) -> None:
        self._serving = True
        self.set_open(connections)

    def stop_serving(self) -> None:
        self._serving = False
        if self.slot is not None:
            self.release(self.slot)

    def set_open(self, connections: int) -> None:
        if self._serving and self.slot is not None:
            self._counts[self.slot] = connections

    def counts(self) -> list[int | None]:
        """Each worker's open connections, by slot (``None``: not accepting)."""
        return [None if n == _NOT_SERVING else n for n in self._counts.tolist()]

    def fewest(self) -> bool:
        """Whether no other accepting worker has fewer connections open than this one."""
        if self.slot is None:
            return True
        return self._counts[self.slot] <= min(self._counts)


_NOT_SERVING = 2**62  # a slot's count while its worker does not accept: never the fewest


class Admission:
    """Lets messages start their dialogue work one a turn of the event loop, in the order
    they asked.

    A message's dialogue work is about a millisecond of CPU with no wait in it. uvloop runs
    every callback that is ready before it looks at its sockets again, so under load one turn
    of the loop runs the work of every message read in the turn before, and a request that
    arrives just after the loop looked waits for two such turns: its p99 was 1.7 times the
    mean latency against 1.1 with a wait of one turn each (bench/results/loop_order.md).
    Here the second message of a turn waits for the next turn (the loop looks at its sockets
    in between), the third for the one after, and so on, first come first served. A message
    that finds no other waiting and none started in this turn goes on at once, so an idle hub
    adds nothing to a message's time. A message that waits on something (an action server,
    a lock another process holds) lets the next one start meanwhile.
    """

    __slots__ = ("_loop", "_taken", "_waiting")

    def __init__(self) -> None:
        # futures of the messages waiting, oldest first (a cancelled one is skipped)
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        # a message started in this turn: the next waits for ``_next_turn``, which is scheduled
        self._taken = False
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop of that turn

    async def wait(self) -> None:
        """Return when this message may start: at once, or in a later turn of the loop."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new loop: what a stopped one left pending is gone
            self._loop, self._taken = loop, False
            self._waiting.clear()
        if not self._taken:  # no message started this turn, none waiting
            self._taken = True
            loop.call_soon(self._next_turn)
            return
        future: asyncio.Future[None] = loop.create_future()
        self._waiting.append(future)
        await future

    def _next_turn(self) -> None:
        """A turn of the loop later: let the longest waiting message start, or open up."""
        waiting = self._waiting
        while waiting:
            future = waiting.popleft()
            if not future.done():  # a cancelled message does not hold up the next
                future.set_result(None)
                future.get_loop().call_soon(self._next_turn)
                return
        self._taken = False


class TakeTurnsAcceptor(asyncio.AbstractServer):
    """Accepts a worker's connections on a :class:`SharedListener`.

    The event loop's own server accepts every pending connection at once: a client that opens
    its connections together (a load balancer's pool, a platform's) lands them all on the
    worker that woke first, which then serves them alone while the others idle (measured:
    46 of 50 on one of two workers). Here a worker takes one connection each time its loop
    finds the socket ready, and leaves it for ``ACCEPT_DEFER`` seconds to a worker with fewer
    connections open; if none of those took it meanwhile (busy, or stuck), it takes it then.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, listener: SharedListener, server: HubServer
    ) -> None:
        self._loop = loop
        self._listener = listener
        self._sock = listener.sock
        self._server = server
        self._connecting: set[asyncio.Task[Any]] = set()
        self._reading = False
        self._closed = asyncio.Event()
        self._sock.setblocking(False)
        listener.start_serving(server.open_connections)
        self._start_reading()

    def _start_reading(self) -> None:
        if not self._closed.is_set() and not self._reading:
            self._loop.add_reader(self._sock.fileno(), self._ready)
            self._reading = True

    def _stop_reading(self) -> None:
        if self._reading:
            self._loop.remove_reader(self._sock.fileno())
            self._reading = False

    def _ready(self) -> None:
        if self._listener.fewest():
            self._take_one()
        else:  # a worker with fewer open may take it; if none has, this one will
            self._stop_reading()
            self._loop.call_later(ACCEPT_DEFER, self._after_deferring)

    def _after_deferring(self) -> None:
        if not self._closed.is_set() and self._take_one():
            self._start_reading()

    def _take_one(self) -> bool:
        """Accept one waiting connection if there is one; False if accepting failed (and is
        paused for ``ACCEPT_PAUSE``)."""
        try:
            conn, _ = self._sock.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return True  # another worker took it, or the client gave up meanwhile
        except OSError as exc:  # out of file descriptors or memory: pause, as asyncio does
            logger.error("cannot accept connections (%s); trying again in %s s", exc, ACCEPT_PAUSE)
            self._stop_reading()
            self._loop.call_later(ACCEPT_PAUSE, self._start_reading)
            return False
        conn.setblocking(False)
        if conn.family in (socket.AF_INET, socket.AF_INET6):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as create_server does
        task = self._loop.create_task(self._connect(conn))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)
        return True

    async def _connect(self, conn: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(self._server, conn)
        except OSError as exc:  # the client went away before the transport was made
            logger.debug("dropped a new connection: %s", exc)
            conn.close()

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._listener.stop_serving()
            self._stop_reading()

    async def wait_closed(self) -> None:
        await self._closed.wait()
        if self._connecting:
            await asyncio.gather(*self._connecting, return_exceptions=True)

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    @property
    def sockets(self) -> tuple[socket.socket, ...]:  # what aiohttp's runner.addresses reads
        return (self._sock,)

    def is_serving(self) -> bool:
        return not self._closed.is_set()

    async def start_serving(self) -> None:  # it serves from the start
        self._start_reading()

    async def serve_forever(self) -> None:
        await self._closed.wait()


class SharedSocketSite(web.SockSite):
    """aiohttp's site on a :class:`SharedListener` (a :class:`TakeTurnsAcceptor` instead of
    the loop's server)."""

    def __init__(self, runner: HubRunner, listener: SharedListener) -> None:
        super().__init__(runner, listener.sock)
        self._listener = listener

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with its runner
        server = self._runner.server
        assert isinstance(server, HubServer)
        self._server = TakeTurnsAcceptor(asyncio.get_running_loop(), self._listener, server)


def serve(
    app: web.Application,
    *,
    host: str,
    port: int,
    limits: ConnectionLimits,
    announce: Callable[[], None],
    listener: SharedListener | None = None,
    event_loop: str | None = None,
) -> None:
    """Serve ``app`` until SIGINT/SIGTERM, then clean up (``app.cleanup_ctx`` runs); on
    ``listener`` (the socket the hub's workers share) instead of ``host``:``port`` if given,
    on an ``event_loop`` of that kind (default: :func:`default_event_loop`)."""

    async def run() -> None:
        runner = HubRunner(
            app, limits=limits, listener=listener, handle_signals=True, access_log=None
        )
        await runner.setup()
        try:
            site: web.BaseSite = (
                SharedSocketSite(runner, listener)
                if listener is not None
                else web.TCPSite(runner, host, port)
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
