"""MongoDB stopped during traffic: callers get a quick, clear 503, the hub stays up, and
once the server is back traffic flows again with no acknowledged message lost."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from tests.integration.conftest import (
    SERVER_ERRORS,
    Hub,
    MongoServer,
    check_conversation,
    mongo_endpoints,
    new_hub,
    pong,
    send,
    stored_events,
    unique_db,
    write_ping_bot,
)

pytestmark = pytest.mark.integration
logger = logging.getLogger(__name__)

CONVERSATIONS = 10
TIMEOUT_MS = 1000  # server selection: how long a request waits for an absent MongoDB
RETRY_PAUSE = 0.1  # a client's pause after a 503 before its next message


@dataclass
class Conversation:
    name: str
    acknowledged: set[int] = field(default_factory=set)
    attempted: set[int] = field(default_factory=set)
    refused: int = 0  # 503 answers
    acknowledged_after_restart: int = 0


async def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("how", ["stopped", "killed"])
async def test_mongodb_outage_gives_503_and_traffic_recovers_losing_nothing(
    how: str,
    tmp_path: Path,
    hubs: list[Hub],
    http: aiohttp.ClientSession,
    own_mongodb: MongoServer,
) -> None:
    """``stopped``: a clean shutdown (in-flight operations finish first); ``killed``: SIGKILL,
    so messages fail at any step (lock, load, append) while they are being handled."""
    started = time.monotonic()
    endpoints = mongo_endpoints(
        own_mongodb.url, unique_db(), lease_seconds=3, timeout_ms=TIMEOUT_MS
    )
    bot = write_ping_bot(tmp_path / "pingbot", endpoints)
    hub = new_hub(hubs, bot, "hub")
    await hub.wait_ready()

    conversations = [Conversation(f"o{i}") for i in range(CONVERSATIONS)]
    stop_traffic = asyncio.Event()
    restarted = False
    slowest_refusal = 0.0
    refusal_details: set[str] = set()

    async def talk(conversation: Conversation) -> None:
        nonlocal slowest_refusal
        k = 0
        while not stop_traffic.is_set():
            conversation.attempted.add(k)
            sent_at = time.monotonic()
            try:
                status, body = await send(http, hub, conversation.name, k)
            except SERVER_ERRORS as exc:
                raise AssertionError(f"the hub stopped answering: {exc!r}\n{hub.tail()}") from exc
            if status == 200:
                assert body == pong(conversation.name, k)
                conversation.acknowledged.add(k)
                conversation.acknowledged_after_restart += restarted
            else:
                assert status == 503, (status, body)
                assert body["error"] == "conversation store unavailable", body
                refusal_details.add(body["detail"])
                slowest_refusal = max(slowest_refusal, time.monotonic() - sent_at)
                conversation.refused += 1
                await asyncio.sleep(RETRY_PAUSE)
            k += 1  # a refused message is not acknowledged: the next one is a new text

    def acknowledged() -> int:
        return sum(len(c.acknowledged) for c in conversations)

    def refused() -> int:
        return sum(c.refused for c in conversations)

    traffic = asyncio.gather(*(talk(c) for c in conversations))
    try:
        await wait_for(lambda: acknowledged() >= 50, 60, "50 messages answered")
        await asyncio.to_thread(own_mongodb.stop, kill=how == "killed")
        stopped_at = time.monotonic()
        answered_before_outage = acknowledged()
        await wait_for(lambda: refused() >= 3 * CONVERSATIONS, 60, "refusals during the outage")
        # the hub itself is up: health answers, and so does a route without the store
        hub.assert_alive()
        async with http.get(f"{hub.url}/health") as response:
            assert response.status == 200
        outage_seconds = time.monotonic() - stopped_at

        await asyncio.to_thread(own_mongodb.start)
        await asyncio.to_thread(own_mongodb.wait_ready)
        restarted = True
        recovered_at = time.monotonic()
        await wait_for(
            lambda: all(c.acknowledged_after_restart >= 3 for c in conversations),
            90,
            "every conversation answered again after the restart",
        )
        recovery_seconds = time.monotonic() - recovered_at
    finally:
        stop_traffic.set()
        await traffic
    hub.assert_alive()
    assert slowest_refusal < 10, f"a 503 took {slowest_refusal:.1f} s"
    port = own_mongodb.port
    assert refusal_details and all(f"MongoDB at 127.0.0.1:{port}" in d for d in refusal_details)
    assert hub.stop() == 0, hub.tail()

    stored = await stored_events(bot)
    assert sorted(stored) == sorted(c.name for c in conversations)
    refused_but_stored = 0
    for conversation in conversations:
        sent = check_conversation(
            conversation.name,
            stored[conversation.name],
            conversation.acknowledged,
            conversation.attempted,
        )
        refused_but_stored += len(set(sent) - conversation.acknowledged)
    logger.warning(
        "outage (%s): %d answered before, %d refused (503, slowest %.2f s) in %.1f s down; "
        "every conversation answered again %.1f s after the restart; %d answered in all; "
        "%d refused messages stored whole; %.1f s",
        how,
        answered_before_outage,
        refused(),
        slowest_refusal,
        outage_seconds,
        recovery_seconds,
        acknowledged(),
        refused_but_stored,
        time.monotonic() - started,
    )


async def test_a_server_that_stops_answering_is_a_503_within_the_socket_timeout(
    tmp_path: Path,
    hubs: list[Hub],
    http: aiohttp.ClientSession,
    own_mongodb: MongoServer,
) -> None:
    """A hung server (SIGSTOP: connections stay open, nothing answers) must not hang the
    hub's requests: the socket timeout ends each one with a 503, and the hub serves again
    once the server answers."""
    endpoints = mongo_endpoints(own_mongodb.url, unique_db(), timeout_ms=TIMEOUT_MS)
    endpoints = endpoints.replace("lock_store:", "  socket_timeout_ms: 1000\nlock_store:")
    bot = write_ping_bot(tmp_path / "pingbot", endpoints)
    hub = new_hub(hubs, bot, "hub")
    await hub.wait_ready()
    assert await send(http, hub, "h", 0) == (200, pong("h", 0))
    assert own_mongodb.process is not None
    own_mongodb.process.send_signal(signal.SIGSTOP)
    try:
        status, body = await send(http, hub, "h", 1)
        assert status == 503, body
        assert f"MongoDB at 127.0.0.1:{own_mongodb.port}" in body["detail"]
        hub.assert_alive()
    finally:
        own_mongodb.process.send_signal(signal.SIGCONT)
    k = 2
    while (status := (await send(http, hub, "h", k))[0]) != 200:
        assert status == 503
        k += 1
        assert k < 200, "the hub did not serve again after the server answered"
        await asyncio.sleep(RETRY_PAUSE)
