"""Whole hubs sharing one MongoDB-wire server: how throughput scales with 1, 2 and 4 hubs.

    .venv/bin/python bench/hub_mongo.py [--duration 15] [--hubs 1 2 4] [--out FILE.md]

Starts one secantusdb server (the only MongoDB-wire server installable here) and, for each
hub count, that many ``chinwag run --workers 1`` processes on their own free ports, all
serving one copy of bots/restaurant with ``tracker_store: mongod`` and ``lock_store: mongod``
(lease tickets) on that server, in a fresh database per run. The load generator of
``bench/rest_throughput.py`` (its own process) runs 50 concurrent REST conversations spread
round-robin over the hubs (each conversation stays on one hub), and, with two hubs or more,
a second time with each conversation's consecutive messages going to the hubs in turn.

Besides messages/s, p50/p99 and errors it records what limits scaling: the CPU used by
secantusdb and by the hubs during the run (from /proc/<pid>/stat, in cores, i.e. CPU seconds
per second), and the MongoDB commands each hub sent per message (counted in the hub by a
PyMongo command listener, written at exit). Subcommand ``hub`` is that counting hub.
"""

from __future__ import annotations

import argparse
import atexit
import collections
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from rest_throughput import (  # noqa: E402
    BOT,
    WEBHOOK,
    free_port,
    load,
    start,
    stop,
    wait_ready,
    write_results,
)

CONCURRENCY = 50
COUNTS_DIR_ENV = "CHINWAG_BENCH_COUNTS_DIR"
# commands of start-up and monitoring, not of messages
NOT_PER_MESSAGE = {"ping", "createIndexes", "hello", "isMaster", "endSessions", "buildInfo"}
TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------- counting hub


def serve_counting_hub(argv: list[str]) -> int:
    """``chinwag run argv`` with a PyMongo command listener; the counts of each command name
    go to $CHINWAG_BENCH_COUNTS_DIR/<pid>.json at exit."""
    from pymongo import monitoring

    counts: collections.Counter[str] = collections.Counter()

    class Counter(monitoring.CommandListener):
        def started(self, event: monitoring.CommandStartedEvent) -> None:
            counts[event.command_name] += 1

        def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
            pass

        def failed(self, event: monitoring.CommandFailedEvent) -> None:
            counts[f"{event.command_name} (failed)"] += 1

    monitoring.register(Counter())  # before any client exists: every client reports
    out = Path(os.environ[COUNTS_DIR_ENV]) / f"{os.getpid()}.json"
    atexit.register(lambda: out.write_text(json.dumps(counts)))
    from chinwag.core.cli import main as chinwag_main

    return chinwag_main(["run", *argv])


# ---------------------------------------------------------------------------- measuring


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14, 15)


def start_secantus(storage: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    port = free_port()
    server = start(
        [
            *(sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port)),
            *("--storage-path", str(storage), "--log-level", "WARNING"),
        ],
        log,
    )
    url = f"mongodb://127.0.0.1:{port}"
    client: Any = MongoClient(url, serverSelectionTimeoutMS=200)
    deadline = time.monotonic() + 60
    try:
        while True:
            if server.poll() is not None:
                raise SystemExit(f"secantusdb exited:\n{log.read_text()}")
            try:
                client.admin.command("ping")
                return server, url
            except PyMongoError:
                if time.monotonic() > deadline:
                    raise SystemExit("secantusdb did not answer within 60 s") from None
    finally:
        client.close()


def wait_healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Until the hub's /health answers 200 (its bot loaded), not just its port open."""
    wait_ready(port, process, timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"hub on port {port} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):
                return  # 200; 503 while loading raises HTTPError
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"hub on port {port} not healthy within {timeout} s")


def server_connections(url: str) -> int:
    """Client connections open on the server (secantusdb serves each with its own thread),
    this probe's included."""
    from pymongo import MongoClient

    client: Any = MongoClient(url)
    try:
        return int(client.admin.command("serverStatus")["connections"]["current"])
    finally:
        client.close()


def stored_events(url: str, db: str) -> int:
    from pymongo import MongoClient

    client: Any = MongoClient(url)
    try:
        return int(client[db]["conversation_events"].count_documents({}))
    finally:
        client.close()


def run_hubs(
    bot: Path,
    work: Path,
    url: str,
    secantus: subprocess.Popen[bytes],
    hubs: int,
    duration: float,
) -> list[dict[str, Any]]:
    """Start ``hubs`` hubs on a fresh database, run the load (round-robin, and alternating
    when there are several hubs), stop them; one result row per load run."""
    db = f"bench_{uuid.uuid4().hex[:8]}"
    (bot / "endpoints.yml").write_text(
        f"tracker_store:\n  type: mongod\n  url: {url}\n  db: {db}\nlock_store:\n  type: mongod\n"
    )
    counts_dir = work / f"counts-{db}"
    counts_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URL", "PORT")}
    env[COUNTS_DIR_ENV] = str(counts_dir)
    processes, ports = [], []
    rows = []
    try:
        for _ in range(hubs):
            port = free_port()
            command = [sys.executable, __file__, "hub", str(bot), "--host", "127.0.0.1"]
            command += ["--port", str(port), "--workers", "1"]
            processes.append(start(command, work / f"hub-{port}.log", env))
            ports.append(port)
        for port, process in zip(ports, processes, strict=True):
            wait_healthy(port, process)
        urls = [f"http://127.0.0.1:{port}{WEBHOOK}" for port in ports]
        for alternate in (False, True) if hubs > 1 else (False,):
            before = [cpu_seconds(p.pid) for p in (secantus, *processes)]
            began = time.perf_counter()
            result = load(urls, CONCURRENCY, duration, alternate=alternate)
            wall = time.perf_counter() - began
            after = [cpu_seconds(p.pid) for p in (secantus, *processes)]
            connections = server_connections(url)
            used = [b - a for a, b in zip(before, after, strict=True)]
            result.update(
                hubs=hubs,
                alternate=alternate,
                server_cores=used[0] / wall,
                server_connections=connections,
                hub_cores=sum(used[1:]) / wall,
                server_ms_per_message=1000 * used[0] / max(result["messages"], 1),
            )
            rows.append(result)
    finally:
        for process in processes:
            stop(process)
    counts: collections.Counter[str] = collections.Counter()
    for found in counts_dir.glob("*.json"):
        counts.update(json.loads(found.read_text()))
    if len(list(counts_dir.glob("*.json"))) != hubs:
        raise SystemExit(f"only some hubs wrote their command counts in {counts_dir}")
    messages = sum(row["messages"] for row in rows)
    per_message = {name: n / messages for name, n in counts.items() if name not in NOT_PER_MESSAGE}
    events = stored_events(url, db)
    for row in rows:
        row["commands"] = per_message
        row["events_per_message"] = events / messages
    return rows


def benchmark(duration: float, hub_counts: list[int]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="chinwag-hub-mongo-") as tmp:
        work = Path(tmp)
        bot = work / "restaurant"
        shutil.copytree(BOT, bot, ignore=shutil.ignore_patterns(".chinwag", "__pycache__"))
        secantus, url = start_secantus(work / "secantus-data", work / "secantus.log")
        try:
            for hubs in hub_counts:
                rows += run_hubs(bot, work, url, secantus, hubs, duration)
        finally:
            stop(secantus)
    return rows


# ---------------------------------------------------------------------------- report


def report(rows: list[dict[str, Any]], command: str, duration: float, load: list[float]) -> str:
    try:
        version = package_version("secantusdb")
    except PackageNotFoundError:
        version = "unknown"
    lines = [
        "# Whole hubs on one MongoDB-wire server (secantusdb)",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {os.cpu_count()} CPUs, {platform.platform()}, Python "
        f"{platform.python_version()}, secantusdb {version} (a MongoDB-wire server written in "
        "Python over WiredTiger; no real mongod is installable here, so these are "
        "secantusdb's limits, not MongoDB's). Each hub is `chinwag run --workers 1` serving "
        "a copy of bots/restaurant with `tracker_store: mongod` and `lock_store: mongod` on "
        "the one server, a fresh database per hub count. The load generator of "
        "bench/rest_throughput.py runs "
        f"{CONCURRENCY} concurrent conversations for {duration:g} s per row, every process on "
        "this machine: round-robin = each conversation stays on one hub; alternating = a "
        "conversation's consecutive messages go to the hubs in turn. Load average (1 min) "
        f"before / after: {load[0]:.2f} / {load[1]:.2f}.",
        "",
        "| hubs | spread | messages | errors | messages/s | p50 ms | p99 ms | "
        "secantusdb cores | hub cores (sum) | secantusdb CPU ms / message | "
        "secantusdb connections |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        spread = "alternating" if row["alternate"] else "round-robin"
        lines.append(
            f"| {row['hubs']} | {spread} | {row['messages']} | {row['errors']} | "
            f"{row['per_second']:.0f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | "
            f"{row['server_cores']:.2f} | {row['hub_cores']:.2f} | "
            f"{row['server_ms_per_message']:.2f} | {row['server_connections']} |"
        )
    lines += [
        "",
        "MongoDB commands per message, counted in the hubs (all runs of a hub count; "
        "start-up commands left out), and events stored per message:",
        "",
        "| hubs | commands / message | by command | events / message |",
        "|---:|---:|---|---:|",
    ]
    seen = set()
    for row in rows:
        if row["hubs"] in seen:
            continue
        seen.add(row["hubs"])
        by_name = ", ".join(
            f"{name} {n:.2f}" for name, n in sorted(row["commands"].items(), key=lambda x: -x[1])
        )
        total = sum(row["commands"].values())
        lines.append(
            f"| {row['hubs']} | {total:.2f} | {by_name} | {row['events_per_message']:.2f} |"
        )
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode")
    hub = sub.add_parser("hub", help="chinwag run ARGS, counting MongoDB commands")
    hub.add_argument("argv", nargs=argparse.REMAINDER)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per run")
    parser.add_argument("--hubs", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/hub_mongo.md")
    args = parser.parse_args()
    if args.mode == "hub":
        raise SystemExit(serve_counting_hub(args.argv))
    load_before = os.getloadavg()[0]
    rows = benchmark(args.duration, args.hubs)
    loadavg = [load_before, os.getloadavg()[0]]
    command = "python bench/hub_mongo.py " + " ".join(sys.argv[1:])
    text = report(rows, command.strip(), args.duration, loadavg)
    print(text)
    write_results(args.out, text)


if __name__ == "__main__":
    main()
