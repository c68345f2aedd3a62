"""Throughput and latency of the hub's REST channel, next to a bare aiohttp echo endpoint.

    .venv/bin/python bench/rest_throughput.py [--duration 10] [--workers 1 2] [--out FILE.md]

Starts, each as its own process on 127.0.0.1: the hub (``chinwag run --workers N``, for each
N given) serving a copy of bots/restaurant with its default SQLite tracker store, and a bare
aiohttp app that echoes the message in the REST channel's shape. Each hub process samples
its event loop's lag (how late a 10 ms timer fires) while it serves, and the table reports
the worst p99 and maximum over the hub's workers. A load generator, also a separate process
(by default a lean HTTP/1.1 client, as it shares the cores; ``--client aiohttp`` for
aiohttp's), runs N concurrent conversations (each one message at a time, as a user types: a
whole table booking, then a new conversation) for a bounded time and number of messages, and
reports messages per second and p50/p99 latency. The results go to the Markdown file with
the command that made them. Subcommands ``echo`` and ``load`` are the two helper processes.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

REPO = Path(__file__).resolve().parents[1]
BOT = REPO / "bots" / "restaurant"
WEBHOOK = "/webhooks/rest/webhook"
# one table booking, then thanks: 8 messages through the form, rules and slot mappings
CONVERSATION = [
    "hello",
    "book a table",
    "mexican",
    "4 people",
    "/affirm",
    "no",
    "great service",
    "thanks",
]
CONCURRENCY = (1, 50)
MAX_MESSAGES = 50_000
LAG_TICK = 0.01  # seconds between the loop-lag samples
LAG_DIR_ENV = "CHINWAG_BENCH_LAG_DIR"
# the load generator's clock (time.perf_counter: CLOCK_MONOTONIC, one clock for every process
# of the machine) when it sent the request; the hub's probe times the wait and service from it
SENT_HEADER = "X-Bench-Sent"
# the load generator's HTTP client: each runs on the same 2 cores as the servers it measures
CLIENTS = {
    "raw": "the lean client (one keep-alive connection a virtual user on asyncio streams, "
    "on the hub's default event loop)",
    "aiohttp": "aiohttp's ClientSession (a connection pool, on asyncio's own loop), as in "
    "the rounds before 9",
}
DEFAULT_CLIENT = "raw"
LOCKSTEP_HELP = (
    "every user starts with the dialogue's first message, all together (the rounds before "
    "12); by default they start spread over the dialogue"
)


def quantile_ms(ordered: list[float], q: float) -> float:
    """The ``q`` quantile of ``ordered`` (sorted seconds), in ms: the value at index ``q * n``."""
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---------------------------------------------------------------------------- echo server


def serve_echo(port: int, event_loop: str) -> None:
    """The bare endpoint, on the same kind of event loop as the hub it is the floor of."""

    async def echo(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response([{"recipient_id": body["sender"], "text": body["message"]}])

    serve_bare(echo, port, event_loop)


def serve_bare(handler: Any, port: int, event_loop: str) -> None:
    """``handler`` alone at the REST webhook's path, on ``event_loop``, until stopped."""
    sys.path.insert(0, str(REPO))
    from chinwag.adapters.server import new_event_loop

    app = web.Application()
    app.router.add_post(WEBHOOK, handler)
    web.run_app(
        app,
        host="127.0.0.1",
        port=port,
        print=None,
        access_log=None,
        loop=new_event_loop(event_loop),
    )


# ---------------------------------------------------------------------------- hub with a lag probe


def serve_hub(argv: list[str]) -> int:
    """``chinwag run argv``, every hub process sampling its event loop's lag and timing its
    garbage collections while it serves, and writing the lag samples' p50/p99/max and the
    collections' CPU time to $CHINWAG_BENCH_LAG_DIR/<pid>.json at exit."""
    sys.path.insert(0, str(REPO))
    import chinwag.adapters.hub
    from chinwag.core.cli import main as chinwag_main

    lag_dir = Path(os.environ[LAG_DIR_ENV])
    create_app = chinwag.adapters.hub.create_app

    def with_probe(*args: Any, **kwargs: Any) -> web.Application:
        app = create_app(*args, **kwargs)
        lags: list[float] = []
        collections: list[tuple[int, float]] = []  # (generation, the pause's thread CPU s)
        began_gc = [0.0]
        began_cpu = [0.0]
        served_cpu = [0.0]  # process CPU seconds from serving on, until shutdown began
        sampler: list[asyncio.Task[None]] = []

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                began_gc[0] = time.thread_time()
            else:
                collections.append((info["generation"], time.thread_time() - began_gc[0]))

        async def count_collections(app: web.Application) -> None:
            gc.callbacks.append(on_gc)  # from here: after the hub's own start-up collection
            began_cpu[0] = time.process_time()  # the bots are loaded: serving starts

        async def probe(app: web.Application) -> Any:
            async def sample() -> None:
                while True:
                    began = time.perf_counter()
                    await asyncio.sleep(LAG_TICK)
                    lags.append(time.perf_counter() - began - LAG_TICK)

            sampler.append(asyncio.create_task(sample()))
            yield
            lags.sort()
            if lags:
                summary = {
                    "p50_ms": quantile_ms(lags, 0.5),
                    "p99_ms": quantile_ms(lags, 0.99),
                    "max_ms": 1000 * lags[-1],
                    "gc_ms": 1000 * sum(pause for _, pause in collections),
                    "gc_full": sum(1 for generation, _ in collections if generation == 2),
                    "gc_max_ms": 1000 * max((pause for _, pause in collections), default=0.0),
                    "cpu_ms": 1000 * served_cpu[0],
                }
                (lag_dir / f"{os.getpid()}.json").write_text(json.dumps(summary))

        requests: list[tuple[float, float, float]] = []  # (sent, handler start, handler end)

        @web.middleware
        async def stamp(request: web.Request, handler: Any) -> web.StreamResponse:
            started = time.perf_counter()
            response = await handler(request)
            sent = request.headers.get(SENT_HEADER)
            if sent is not None:
                requests.append((float(sent), started, time.perf_counter()))
            return response

        async def save_requests(app: web.Application) -> Any:
            yield
            (lag_dir / f"{os.getpid()}.requests").write_text(json.dumps(requests))

        app.middlewares.insert(0, stamp)  # outermost: the handler's whole time
        app.cleanup_ctx.append(save_requests)
        app.cleanup_ctx.append(probe)

        async def stop_measuring(app: web.Application) -> None:
            """Serving is over: what the hub does to stop (its cleanup contexts give the
            collector back its defaults, then collect) is not a pause of any message."""
            served_cpu[0] = time.process_time() - began_cpu[0]
            for task in sampler:
                task.cancel()
            if on_gc in gc.callbacks:
                gc.callbacks.remove(on_gc)

        app.on_startup.append(count_collections)  # these run after every cleanup context
        app.on_shutdown.append(stop_measuring)  # before any cleanup context
        return app

    chinwag.adapters.hub.create_app = with_probe
    return chinwag_main(["run", *argv])


def queueing(lag_dir: Path, window: tuple[float, float]) -> dict[str, Any]:
    """Where the time of the requests sent within ``window`` went, from the hub processes'
    records: the wait (sent by the load generator to the handler's start: the connection,
    the request's bytes and the queue of requests ahead of it) and the service (the
    handler's start to its end), and how many requests each process handled."""
    waits: list[float] = []
    services: list[float] = []
    per_process: list[int] = []
    for path in lag_dir.glob("*.requests"):
        mine = [r for r in json.loads(path.read_text()) if window[0] <= r[0] <= window[1]]
        per_process.append(len(mine))
        waits += [start - sent for sent, start, _ in mine]
        services += [end - start for _, start, end in mine]
    if not waits:
        return {}
    waits.sort()
    services.sort()

    return {
        "wait_p50_ms": quantile_ms(waits, 0.5),
        "wait_p99_ms": quantile_ms(waits, 0.99),
        "service_p50_ms": quantile_ms(services, 0.5),
        "service_p99_ms": quantile_ms(services, 0.99),
        "per_process": sorted(per_process, reverse=True),
    }


def loop_lag(lag_dir: Path) -> dict[str, float]:
    """The worst p99 and max loop lag over the hub's processes (and how many reported)."""
    found = [json.loads(f.read_text()) for f in lag_dir.glob("*.json")]
    if not found:
        return {}
    return {
        "lag_p99_ms": max(f["p99_ms"] for f in found),
        "lag_max_ms": max(f["max_ms"] for f in found),
        "processes": len(found),
        "gc_ms": sum(f["gc_ms"] for f in found),
        "gc_full": sum(f["gc_full"] for f in found),
        "gc_max_ms": max(f["gc_max_ms"] for f in found),
        "cpu_ms": sum(f["cpu_ms"] for f in found),
    }


# ---------------------------------------------------------------------------- load generator


# a virtual user's way to send one message: (hub index, sender, text, sent at) -> HTTP status
Send = Callable[[int, str, str, float], Awaitable[int]]


async def run_load(
    urls: str | list[str],
    concurrency: int,
    duration: float,
    limit: int,
    *,
    alternate: bool = False,
    client: str = DEFAULT_CLIENT,
    lockstep: bool = False,
) -> dict[str, Any]:
    """``concurrency`` virtual users, each talking through one conversation after another.

    The users start spread over the dialogue, as users who arrived independently would be:
    user ``i`` first plays the first ``i % len(CONVERSATION)`` messages of its first
    conversation, unmeasured, and the measured run starts once every user has, each then
    going on from its own place. ``lockstep``: every user starts with the first message, as
    the rounds before 12 measured (50 users then move through the dialogue together, and a
    turn that costs more makes all of them wait at once: bench/results/rest_throughput.md,
    round 12).

    With several ``urls`` (hubs sharing one store) user ``i`` talks to ``urls[i % n]``, or,
    with ``alternate``, each of a conversation's messages goes to the next hub in turn.
    ``client``: one of CLIENTS (the HTTP client the users send with)."""
    if isinstance(urls, str):
        urls = [urls]
    latencies: list[float] = []
    errors = 0
    senders = _raw_senders(urls) if client == "raw" else _aiohttp_senders(urls, concurrency)

    def place(number: int) -> int:
        """Where in the dialogue user ``number`` starts the measured run."""
        return 0 if lockstep else number % len(CONVERSATION)

    def conversation(number: int, round_: int) -> str:
        return f"load-{os.getpid()}-{number}-{round_}"  # new in every run

    def hub(number: int, turn: int) -> int:
        return (number + (turn if alternate else 0)) % len(urls)

    async with senders as new_send:
        sends = [new_send() for _ in range(concurrency)]

        async def warm_up(number: int) -> None:
            send, sender = sends[number], conversation(number, 0)
            for turn, text in enumerate(CONVERSATION[: place(number)]):
                if await send(hub(number, turn), sender, text, time.perf_counter()) != 200:
                    raise SystemExit(f"warming up, user {number}'s message {text!r} failed")

        await asyncio.gather(*(warm_up(i) for i in range(concurrency)))
        stop_at = time.perf_counter() + duration

        async def user(number: int) -> None:
            nonlocal errors
            send = sends[number]
            round_, start = 0, place(number)
            while time.perf_counter() < stop_at and len(latencies) < limit:
                sender = conversation(number, round_)
                for turn in range(start, len(CONVERSATION)):
                    if time.perf_counter() >= stop_at or len(latencies) >= limit:
                        return
                    started = time.perf_counter()
                    if await send(hub(number, turn), sender, CONVERSATION[turn], started) != 200:
                        errors += 1
                    latencies.append(time.perf_counter() - started)
                round_, start = round_ + 1, 0

        began, began_cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(user(i) for i in range(concurrency)))
        elapsed, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    latencies.sort()
    return {
        "concurrency": concurrency,
        "messages": len(latencies),
        "errors": errors,
        "seconds": elapsed,
        "per_second": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": quantile_ms(latencies, 0.99),
        "mean_ms": 1000 * statistics.fmean(latencies),
        "client_cpu_ms": 1000 * cpu,  # the generator's own CPU while it sent
        "window": (began, began + elapsed),  # on the machine's perf_counter clock
    }


@asynccontextmanager
async def _aiohttp_senders(urls: list[str], concurrency: int) -> AsyncIterator[Callable[[], Send]]:
    """Every virtual user sends through one aiohttp ClientSession (a pool of ``concurrency``
    connections)."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def send(at: int, sender: str, text: str, started: float) -> int:
            async with session.post(
                urls[at],
                json={"sender": sender, "message": text},
                headers={SENT_HEADER: repr(started)},
            ) as r:
                await r.read()
                return r.status

        yield lambda: send


@asynccontextmanager
async def _raw_senders(urls: list[str]) -> AsyncIterator[Callable[[], Send]]:
    """Each virtual user sends through keep-alive connections of its own, one a hub
    (:class:`_Connection`); all are closed at the end."""
    targets = []
    for url in urls:
        parsed = urlsplit(url)
        if parsed.scheme != "http" or parsed.hostname is None or parsed.port is None:
            raise SystemExit(f"the raw client wants http://HOST:PORT/PATH, got {url}")
        targets.append((parsed.hostname, parsed.port, parsed.path or "/"))
    connections: list[_Connection] = []

    def new_send() -> Send:
        mine = [_Connection(*target) for target in targets]
        connections.extend(mine)

        async def send(at: int, sender: str, text: str, started: float) -> int:
            body = json.dumps({"sender": sender, "message": text}).encode()
            return await mine[at].post(body, started)

        return send

    try:
        yield new_send
    finally:
        for connection in connections:
            connection.close()


class _Connection:
    """One keep-alive HTTP/1.1 connection of the lean load generator (``--client raw``): a
    request out, its response's status back once the body is in. Reopened after the server
    closes it or fails (status 0: an error); a response without Content-Length is one too."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.host, self.port, self.path = host, port, path
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        ).encode()
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, body: bytes, sent: float) -> int:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        extra = f"Content-Length: {len(body)}\r\n{SENT_HEADER}: {sent!r}\r\n\r\n".encode()
        try:
            writer.write(self.head + extra + body)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            fields = head.lower()
            at = fields.find(b"\r\ncontent-length:")
            if at < 0:
                raise ConnectionError("a response without Content-Length")
            length = int(fields[at + 17 : fields.index(b"\r\n", at + 2)])
            await reader.readexactly(length)
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            self.close()
            return 0
        if b"\r\nconnection: close" in fields:
            self.close()
        return status

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


# ---------------------------------------------------------------------------- orchestration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on port {port} did not start within {timeout} s")


def load(
    urls: list[str],
    concurrency: int,
    duration: float,
    *,
    alternate: bool = False,
    client: str = DEFAULT_CLIENT,
    lockstep: bool = False,
) -> dict[str, Any]:
    """One run of the load generator, as its own process, against ``urls``."""
    out = subprocess.run(
        [
            *(sys.executable, __file__, "load", *urls),
            *("--concurrency", str(concurrency), "--duration", str(duration)),
            *("--client", client),
            *(("--alternate",) if alternate else ()),
            *(("--lockstep",) if lockstep else ()),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def measure(port: int, duration: float, client: str, lockstep: bool) -> list[dict[str, Any]]:
    """Run the load generator at each concurrency against ``port``."""
    url = f"http://127.0.0.1:{port}{WEBHOOK}"
    return [
        load([url], concurrency, duration, client=client, lockstep=lockstep)
        for concurrency in CONCURRENCY
    ]


def start(
    command: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a server; its output goes to ``log`` (a pipe nobody reads would block it)."""
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def benchmark(
    duration: float, workers: list[int], event_loop: str, client: str, lockstep: bool = False
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, float]], dict[str, dict[str, Any]]]:
    results: dict[str, list[dict[str, Any]]] = {}
    lags: dict[str, dict[str, float]] = {}
    queues: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="chinwag-bench-") as tmp:
        bot = Path(tmp) / "restaurant"
        shutil.copytree(BOT, bot, ignore=shutil.ignore_patterns(".chinwag", "__pycache__"))
        env = {k: v for k, v in os.environ.items() if k != "MONGODB_URL"}
        servers = {
            "aiohttp echo (bare)": [sys.executable, __file__, "echo", "--event-loop", event_loop]
        }
        for n in workers:
            servers[f"chinwag hub, REST, SQLite store, --workers {n}"] = [
                *(sys.executable, __file__, "hub", str(bot), "--host", "127.0.0.1"),
                *("--event-loop", event_loop, "--workers", str(n)),
            ]
        for name, command in servers.items():
            port = free_port()
            log = Path(tmp) / f"server-{port}.log"
            lag_dir = Path(tmp) / f"lag-{port}"
            lag_dir.mkdir()
            process = start(
                [*command, "--port", str(port)], log, {**env, LAG_DIR_ENV: str(lag_dir)}
            )
            try:
                wait_ready(port, process)
                if "--workers" in command:  # every worker up, not just the first
                    wanted = int(command[-1])
                    while log.read_text().count("serving") < wanted:
                        if process.poll() is not None:
                            raise SystemExit(f"{name} exited:\n{log.read_text()}")
                        time.sleep(0.1)
                results[name] = measure(port, duration, client, lockstep)
            finally:
                stop(process)
            lags[name] = loop_lag(lag_dir)
            busiest = results[name][-1]  # the last concurrency: 50 conversations
            queues[name] = queueing(lag_dir, busiest["window"])
        stored = (bot / ".chinwag" / "conversations.db").is_file()
        if not stored:
            raise SystemExit("the hub did not use its SQLite store")
    return results, lags, queues


def report(
    results: dict[str, list[dict[str, Any]]],
    lags: dict[str, dict[str, float]],
    queues: dict[str, dict[str, Any]],
    command: str,
    duration: float,
    load: tuple[float, float],
    event_loop: str,
    client: str,
    lockstep: bool = False,
) -> str:
    start = (
        "All users start with the first message (--lockstep, as before round 12)."
        if lockstep
        else "The users start spread over the dialogue (user i after the first i mod "
        f"{len(CONVERSATION)} messages of its first conversation, played before the run), as "
        "users who arrived independently would be."
    )
    lines = [
        "# REST channel throughput",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {os.cpu_count()} CPUs, {platform.platform()}, Python "
        f"{platform.python_version()}. Server and load generator are separate processes on "
        f"127.0.0.1; each run lasts {duration:g} s (at most {MAX_MESSAGES} messages). Each "
        "virtual user holds one conversation at a time and sends its next message when the "
        f"reply arrives: {' / '.join(CONVERSATION)}, then a new conversation. {start} The hub "
        "serves a copy of bots/restaurant (no trained model: example matching + rules/"
        "memoization) with its default store, SQLite under the bot's .chinwag/ (record locks "
        "on .chinwag/locks keep each conversation to one message at a time across workers). "
        f"Both servers run on the {event_loop} event loop; the load generator is "
        f"{CLIENTS[client]}. Load "
        f"average (1 min) before / after the runs: {load[0]:.2f} / {load[1]:.2f} (other jobs "
        "on the machine slow both servers alike).",
        "",
        "| server | concurrent conversations | messages | errors | messages/s | p50 ms | p99 ms "
        "| load generator CPU ms a message |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, rows in results.items():
        for row in rows:
            lines.append(
                f"| {name} | {row['concurrency']} | {row['messages']} | {row['errors']} | "
                f"{row['per_second']:.0f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | "
                f"{row['client_cpu_ms'] / max(row['messages'], 1):.3f} |"
            )
    if lags:
        lines += [
            "",
            "Event-loop lag of the hub processes over both runs (how late a 10 ms timer "
            "fired; worst process), their CPU time (all processes and threads, from serving "
            "on) and CPython's garbage collector in them (CPU time of the collections, all "
            "processes; full = generation 2; the longest single pause):",
            "",
            "| server | processes | lag p99 ms | lag max ms | hub CPU ms a message "
            "| GC CPU ms per 1,000 messages | full collections | longest GC pause ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, lag in lags.items():
            if lag:
                messages = sum(row["messages"] for row in results.get(name, []))
                per_thousand = 1000 * lag["gc_ms"] / messages if messages else 0.0
                cpu = lag["cpu_ms"] / messages if messages else 0.0
                lines.append(
                    f"| {name} | {lag['processes']:.0f} | {lag['lag_p99_ms']:.1f} | "
                    f"{lag['lag_max_ms']:.1f} | {cpu:.3f} | {per_thousand:.0f} | "
                    f"{lag['gc_full']:.0f} | "
                    f"{lag['gc_max_ms']:.1f} |"
                )
    if any(queues.values()):
        lines += [
            "",
            f"Where the time of a message went at {CONCURRENCY[-1]} conversations, from each "
            "hub process's records: the wait (the load generator sent it, to the hub's handler "
            "starting on it: connection, bytes and the requests queued ahead) and the service "
            "(the handler's start to its end), and the messages each process handled:",
            "",
            "| server | wait p50 ms | wait p99 ms | service p50 ms | service p99 ms "
            "| messages a process |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for name, queue in queues.items():
            if queue:
                lines.append(
                    f"| {name} | {queue['wait_p50_ms']:.1f} | {queue['wait_p99_ms']:.1f} | "
                    f"{queue['service_p50_ms']:.2f} | {queue['service_p99_ms']:.2f} | "
                    f"{' / '.join(str(n) for n in queue['per_process'])} |"
                )
    lines += [
        "",
        "Rasa's own published figure is 19.5 requests/s per node; the goal here is 1,000 "
        "messages/s on this 2-core machine.",
        "",
    ]
    return "\n".join(lines)


def write_results(out: Path, text: str) -> None:
    """Write the measured ``text`` to ``out``; the file's hand-written notes (from its first
    "## " heading on) survive a re-run."""
    old = out.read_text(encoding="utf-8") if out.is_file() else ""
    notes = old.find("\n## ")
    if notes >= 0:
        text += old[notes:]
    out.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode")
    echo = sub.add_parser("echo", help="serve the bare echo endpoint")
    echo.add_argument("--port", type=int, required=True)
    echo.add_argument("--event-loop", choices=("uvloop", "asyncio"), required=True)
    hub = sub.add_parser("hub", help="chinwag run ARGS with a loop-lag probe in each process")
    hub.add_argument("argv", nargs=argparse.REMAINDER)
    load = sub.add_parser("load", help="run the load generator once, print JSON")
    load.add_argument("url", nargs="+", help="one URL, or several hubs sharing one store")
    load.add_argument(
        "--alternate",
        action="store_true",
        help="a conversation's messages "
        "go to the hubs in turn (default: each conversation stays on one hub)",
    )
    load.add_argument("--concurrency", type=int, default=1)
    load.add_argument("--duration", type=float, default=10.0)
    load.add_argument("--limit", type=int, default=MAX_MESSAGES, help="stop after N messages")
    load.add_argument("--client", choices=tuple(CLIENTS), default=DEFAULT_CLIENT)
    load.add_argument("--lockstep", action="store_true", help=LOCKSTEP_HELP)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="hub worker counts to measure"
    )
    parser.add_argument(
        "--client",
        choices=tuple(CLIENTS),
        default=DEFAULT_CLIENT,
        help="the load generator's HTTP client (default: raw, the lean one; aiohttp: the "
        "ClientSession of the earlier rounds, which costs about as much CPU a message as a "
        "quarter of the hub's)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/rest_throughput.md")
    parser.add_argument("--lockstep", action="store_true", help=LOCKSTEP_HELP)
    parser.add_argument(
        "--event-loop",
        choices=("uvloop", "asyncio"),
        default=None,
        help="the servers' event loop, the echo's and the hub's (default: the hub's default)",
    )
    args = parser.parse_args()
    if args.mode == "echo":
        serve_echo(args.port, args.event_loop)
    elif args.mode == "hub":
        raise SystemExit(serve_hub(args.argv))
    elif args.mode == "load":
        sys.path.insert(0, str(REPO))
        from chinwag.adapters.server import default_event_loop, new_event_loop

        # the lean client on the hub's default loop; aiohttp's on asyncio's, as before
        kind = default_event_loop() if args.client == "raw" else "asyncio"
        with asyncio.Runner(loop_factory=lambda: new_event_loop(kind)) as runner:
            result = runner.run(
                run_load(
                    *(args.url, args.concurrency, args.duration, args.limit),
                    alternate=args.alternate,
                    client=args.client,
                    lockstep=args.lockstep,
                )
            )
        print(json.dumps(result))
    else:
        load_before = os.getloadavg()[0]
        sys.path.insert(0, str(REPO))
        from chinwag.adapters.server import default_event_loop

        event_loop = args.event_loop or default_event_loop()
        results, lags, queues = benchmark(
            args.duration, args.workers, event_loop, args.client, args.lockstep
        )
        loadavg = (load_before, os.getloadavg()[0])
        command = "python bench/rest_throughput.py " + " ".join(sys.argv[1:])
        text = report(
            *(results, lags, queues, command.strip(), args.duration, loadavg, event_loop),
            args.client,
            args.lockstep,
        )
        print(text)
        write_results(args.out, text)


if __name__ == "__main__":
    main()
