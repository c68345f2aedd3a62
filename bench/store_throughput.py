"""Tracker-store throughput: one message = load the conversation, append 5 events.

Run: ``.venv/bin/python bench/store_throughput.py [--mongodb-url URL] [--messages N]``.
Without --mongodb-url (or MONGODB_URL) a secantusdb server is started for the run. secantusdb
is a MongoDB-wire server written in Python: its figure measures chinwag's Mongo store code
against that server, never MongoDB's own throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from chinwag.core.events import ActionExecuted, BotUttered, Event, SlotSet, UserUttered
from chinwag.core.stores.base import TrackerStore
from chinwag.core.stores.cache import CachedTrackerStore
from chinwag.core.stores.mongo import MongoTrackerStore
from chinwag.core.stores.sqlite import SQLiteTrackerStore


def turn(n: int) -> list[Event]:
    return [
        UserUttered(f"message {n}", intent={"name": "greet", "confidence": 0.9}),
        ActionExecuted("utter_greet", policy="RulePolicy", confidence=1.0),
        BotUttered(text="Hello!"),
        SlotSet("count", n),
        ActionExecuted("action_listen"),
    ]


async def run(store: TrackerStore, conversations: int, messages: int) -> float:
    """Messages per second: ``conversations`` users talking at once, each in order."""
    await store.open()

    async def user(name: str) -> None:
        for n in range(messages // conversations):
            events = await store.load(name)
            await store.append(name, turn(n), len(events))

    started = time.perf_counter()
    await asyncio.gather(*(user(f"user-{i}") for i in range(conversations)))
    seconds = time.perf_counter() - started
    await store.close()
    return (messages // conversations) * conversations / seconds


def start_secantus(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "secantus", "--port", str(port), "--storage-path", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"mongodb://127.0.0.1:{port}"
    client: MongoClient[dict[str, object]] = MongoClient(url, serverSelectionTimeoutMS=200)
    deadline = time.monotonic() + 60
    while True:
        try:
            client.admin.command("ping")
            break
        except PyMongoError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("secantusdb did not start") from None
    client.close()
    return server, url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mongodb-url", default=os.environ.get("MONGODB_URL"))
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--conversations", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server = None
        url = args.mongodb_url
        if not url:
            server, url = start_secantus(folder / "secantus")
        rows = []
        try:
            for label, make in (
                ("SQLite (WAL, synchronous=NORMAL)", lambda: SQLiteTrackerStore(folder / "a.db")),
                (
                    "SQLite + recent-trackers cache",
                    lambda: CachedTrackerStore(SQLiteTrackerStore(folder / "b.db")),
                ),
                (
                    "MongoDB store on secantusdb" if server else "MongoDB store",
                    lambda: MongoTrackerStore(url, db="bench_a"),
                ),
                (
                    "MongoDB store + cache" + (" on secantusdb" if server else ""),
                    lambda: CachedTrackerStore(MongoTrackerStore(url, db="bench_b")),
                ),
            ):
                rate = asyncio.run(run(make(), args.conversations, args.messages))
                rows.append((label, rate))
                print(f"{label}: {rate:.0f} messages/s", flush=True)
        finally:
            if server is not None:
                server.terminate()
                server.wait()
    print(
        f"\n{args.messages} messages, {args.conversations} conversations at once, load + "
        f"append of 5 events each; {platform.python_version()}, {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
