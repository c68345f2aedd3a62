"""Real ``chinwag run`` hub processes and their own MongoDB-wire servers, for the durability,
two-hub and outage tests.

The bot is a tiny one written here: ``/ping{"n": "k"}`` sets the slot ``n`` and the bot answers
``pong k``, so every message text is unique within a conversation and its answer says which
message it answers. The checks read the stores directly (numbered events), not the hub.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chinwag.core.data.loader import load_bot
from chinwag.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from chinwag.core.stores.factory import create_tracker_store

TOKEN = "integration-token"
WEBHOOK = "/webhooks/rest/webhook"
SERVER_ERRORS = (aiohttp.ClientConnectionError, asyncio.TimeoutError)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ping_text(k: int) -> str:
    return f'/ping{{"n": "{k}"}}'


def write_ping_bot(path: Path, endpoints: str = "") -> Path:
    """The test bot: ``/ping{"n": "k"}`` -> ``pong k`` (one rule, no NLU, no training)."""
    path.mkdir(parents=True)
    (path / "domain.yml").write_text(
        """version: "3.1"
intents: [ping]
entities: [n]
slots:
  n:
    type: text
    influence_conversation: false
    mappings:
      - type: from_entity
        entity: n
responses:
  utter_pong:
    - text: "pong {n}"
session_config:
  session_expiration_time: 0
""",
        encoding="utf-8",
    )
    (path / "data").mkdir()
    (path / "data" / "rules.yml").write_text(
        """version: "3.1"
rules:
  - rule: pong
    steps:
      - intent: ping
      - action: utter_pong
""",
        encoding="utf-8",
    )
    (path / "config.yml").write_text(
        "recipe: default.v1\nlanguage: en\npipeline: []\npolicies:\n  - name: RulePolicy\n",
        encoding="utf-8",
    )
    (path / "credentials.yml").write_text("rest:\n", encoding="utf-8")
    (path / "endpoints.yml").write_text(endpoints, encoding="utf-8")
    return path


def mongo_endpoints(url: str, db: str, *, lease_seconds: float = 30, timeout_ms: int = 5000) -> str:
    """endpoints.yml with MongoDB tracker and lock stores (the lock store on the tracker
    store's server and database)."""
    return (
        f"tracker_store:\n  type: mongod\n  url: {url}\n  db: {db}\n  timeout_ms: {timeout_ms}\n"
        f"lock_store:\n  type: mongod\n  lease_seconds: {lease_seconds}\n"
    )


@dataclass
class Hub:
    """One ``chinwag run`` subprocess serving ``bot`` on 127.0.0.1."""

    bot: Path
    log: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    workers: int = 1  # --workers
    options: tuple[str, ...] = ()  # more `chinwag run` options

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.port = free_port()
        self.starts += 1
        env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URL", "PORT")}
        with self.log.open("ab") as log:
            log.write(f"\n--- start {self.starts} on port {self.port}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "chinwag", "run", str(self.bot)),
                    *("--host", "127.0.0.1", "--port", str(self.port), "--auth-token", TOKEN),
                    *("--workers", str(self.workers)),
                    *self.options,
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def wait_ready(self, timeout: float = 60) -> None:
        """Poll /health until the bot is ready (the process must stay alive meanwhile)."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            while time.monotonic() < deadline:
                self.assert_alive()
                try:
                    async with session.get(f"{self.url}/health") as response:
                        if response.status == 200:
                            return
                except SERVER_ERRORS:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"hub on port {self.port} not ready within {timeout} s\n{self.tail()}")

    def assert_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"hub exited with {self.process.returncode}\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, nothing the process could still do."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait for a clean exit; the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(
                    f"hub ignored SIGTERM for {timeout} s\n{self.tail()}"
                ) from None
        return self.process.returncode

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@pytest.fixture
def hubs() -> Iterator[list[Hub]]:
    """A list to put hubs in; every hub in it is killed at the end of the test."""
    started: list[Hub] = []
    try:
        yield started
    finally:
        for hub in started:
            hub.kill()


def new_hub(
    hubs: list[Hub], bot: Path, name: str, workers: int = 1, options: tuple[str, ...] = ()
) -> Hub:
    hub = Hub(bot, bot.parent / f"{name}.log", workers=workers, options=options)
    hubs.append(hub)
    hub.start()
    return hub


@dataclass
class MongoServer:
    """A secantusdb server of one test's own, which the test may stop and start again on the
    same port and storage folder."""

    storage: Path
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    sync_on_commit: bool = False  # fsync every commit: acknowledged writes survive SIGKILL

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "secantus", "--host", "127.0.0.1"),
                    *("--port", str(self.port), "--storage-path", str(self.storage)),
                    *("--log-level", "WARNING"),
                    *(("--sync-on-commit",) if self.sync_on_commit else ()),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 60) -> None:
        from pymongo import MongoClient
        from pymongo.errors import PyMongoError

        client: MongoClient[dict[str, Any]] = MongoClient(self.url, serverSelectionTimeoutMS=200)
        deadline = time.monotonic() + timeout
        try:
            while True:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise AssertionError(f"secantusdb exited with {self.process.returncode}")
                try:
                    client.admin.command("ping")
                    return
                except PyMongoError:
                    if time.monotonic() > deadline:
                        raise AssertionError(f"secantusdb not up within {timeout} s") from None
        finally:
            client.close()

    def stop(self, timeout: float = 30, *, kill: bool = False) -> None:
        """A clean shutdown (SIGTERM), as an operator stopping the server would do, or a
        crash (SIGKILL) when ``kill``."""
        if self.process is not None and self.process.poll() is None:
            if kill:
                self.process.kill()
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def own_mongodb(tmp_path: Path) -> Iterator[MongoServer]:
    """A started secantusdb server for this test only (stopped at the end whatever happens),
    syncing every commit so that even a SIGKILL loses no acknowledged write."""
    pytest.importorskip("secantus", reason="secantusdb is not installed (pip install .[test])")
    server = MongoServer(tmp_path / "mongo-data", tmp_path / "mongo.log", sync_on_commit=True)
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session for REST traffic (127.0.0.1 only, bounded timeouts)."""
    connector = aiohttp.TCPConnector(limit=200)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        yield session


async def send(
    session: aiohttp.ClientSession, hub: Hub, conversation: str, k: int
) -> tuple[int, Any]:
    """POST ping ``k`` to the hub's REST channel; (status, JSON body)."""
    body = {"sender": conversation, "message": ping_text(k)}
    async with session.post(hub.url + WEBHOOK, json=body) as response:
        return response.status, await response.json()


def pong(conversation: str, k: int) -> list[dict[str, Any]]:
    """The REST answer to ping ``k``."""
    return [{"recipient_id": conversation, "text": f"pong {k}"}]


def unique_db() -> str:
    return f"it_{uuid.uuid4().hex[:12]}"


async def stored_events(bot: Path) -> dict[str, list[tuple[int, Event]]]:
    """Every conversation in the bot's tracker store (as its endpoints.yml names it), read
    straight from the store with the events' numbers."""
    store = create_tracker_store(load_bot(bot), cache=False)
    await store.open()
    try:
        return {cid: await store.load_numbered(cid) for cid in await store.ids()}
    finally:
        await store.close()


def _turn_shape(events: list[Event]) -> list[tuple[Any, ...]]:
    shape: list[tuple[Any, ...]] = []
    for event in events:
        if isinstance(event, UserUttered):
            shape.append(("user", event.text))
        elif isinstance(event, SlotSet):
            shape.append(("slot", event.key, event.value))
        elif isinstance(event, ActionExecuted):
            shape.append(("action", event.action_name))
        elif isinstance(event, BotUttered):
            shape.append(("bot", event.text))
        else:
            shape.append((event.type_name,))
    return shape


def check_conversation(
    conversation: str,
    numbered: list[tuple[int, Event]],
    acknowledged: set[int],
    attempted: set[int] | None = None,
    *,
    in_order: bool = True,
) -> list[int]:
    """Assert one conversation is whole: numbers 0, 1, 2, ... without a gap; one session
    start; every stored message at most once (and in send order, if ``in_order``), each
    followed by exactly its own answer; every acknowledged message stored. The stored message
    numbers, in stored order."""
    seqs = [seq for seq, _ in numbered]
    assert seqs == list(range(len(numbered))), f"{conversation}: numbering has gaps {seqs}"
    events = [event for _, event in numbered]
    assert _turn_shape(events[:3]) == [
        ("action", "action_session_start"),
        ("session_started",),
        ("action", "action_listen"),
    ], f"{conversation}: does not start with one session start"
    assert sum(isinstance(e, SessionStarted) for e in events) == 1, conversation
    starts = [i for i, e in enumerate(events) if isinstance(e, UserUttered)]
    assert starts[:1] == [3], f"{conversation}: unexpected events before the first message"
    sent: list[int] = []
    for begin, end in zip(starts, [*starts[1:], len(events)], strict=True):
        user = events[begin]
        assert isinstance(user, UserUttered) and user.text
        k = int(json.loads(user.text.removeprefix("/ping"))["n"])
        expected = [
            ("user", ping_text(k)),
            ("slot", "n", str(k)),
            ("user_featurization",),  # RulePolicy's, as in Rasa
            ("action", "utter_pong"),
            ("bot", f"pong {k}"),
            ("action", "action_listen"),
        ]
        assert _turn_shape(events[begin:end]) == expected, (
            f"{conversation}: message {k} (seq {begin}) is not followed by its answer alone"
        )
        sent.append(k)
    assert len(sent) == len(set(sent)), f"{conversation}: messages duplicated {sent}"
    if in_order:
        assert sent == sorted(sent), f"{conversation}: messages out of send order {sent}"
    missing = acknowledged - set(sent)
    assert not missing, f"{conversation}: acknowledged messages {sorted(missing)} were lost"
    if attempted is not None:
        assert set(sent) <= attempted, f"{conversation}: messages never sent are stored"
    return sent
