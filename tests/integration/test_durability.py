"""A hub killed with SIGKILL in the middle of a load run loses no answered message and
duplicates nothing, on SQLite and on MongoDB; restarted, it carries on every conversation."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import aiohttp
import pytest

from tests.integration.conftest import (
    SERVER_ERRORS,
    Hub,
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

CONVERSATIONS = 20
KILL_AFTER = 200  # answered messages before the SIGKILL


async def load_until_killed(
    session: aiohttp.ClientSession, hub: Hub, conversations: list[str]
) -> tuple[dict[str, set[int]], dict[str, set[int]], int]:
    """Every conversation sends ping 0, 1, 2, ... (the next once the previous is answered);
    the hub is killed after KILL_AFTER answers. (acknowledged, attempted, in flight at kill)."""
    acknowledged: dict[str, set[int]] = {c: set() for c in conversations}
    attempted: dict[str, set[int]] = {c: set() for c in conversations}
    killed = asyncio.Event()
    pending = 0
    in_flight_at_kill = 0

    async def talk(conversation: str) -> None:
        nonlocal pending, in_flight_at_kill
        k = 0
        while True:
            attempted[conversation].add(k)
            pending += 1
            try:
                status, body = await send(session, hub, conversation, k)
            except SERVER_ERRORS:
                assert killed.is_set(), f"request failed before the kill\n{hub.tail()}"
                return
            finally:
                pending -= 1
            # a whole answer read after the kill was still sent before it: acknowledged
            assert (status, body) == (200, pong(conversation, k)), hub.tail()
            acknowledged[conversation].add(k)
            k += 1
            if not killed.is_set() and sum(map(len, acknowledged.values())) >= KILL_AFTER:
                in_flight_at_kill = pending
                hub.kill()
                killed.set()

    await asyncio.gather(*(talk(c) for c in conversations))
    return acknowledged, attempted, in_flight_at_kill


@pytest.mark.parametrize("store", ["sqlite", "mongodb"])
async def test_sigkill_mid_load_loses_no_answered_message(
    store: str,
    tmp_path: Path,
    hubs: list[Hub],
    http: aiohttp.ClientSession,
    request: pytest.FixtureRequest,
) -> None:
    started = time.monotonic()
    endpoints = ""  # SQLite under the bot's .chinwag/, the default
    if store == "mongodb":
        # short leases: the killed hub's tickets run out within seconds
        url = request.getfixturevalue("mongodb_url")
        endpoints = mongo_endpoints(url, unique_db(), lease_seconds=3)
    bot = write_ping_bot(tmp_path / "pingbot", endpoints)
    hub = new_hub(hubs, bot, "hub")
    await hub.wait_ready()
    conversations = [f"{store}-{i}" for i in range(CONVERSATIONS)]

    acknowledged, attempted, in_flight = await load_until_killed(http, hub, conversations)
    assert hub.process is not None and hub.process.returncode == -9
    assert sum(map(len, acknowledged.values())) >= KILL_AFTER
    assert in_flight > 0, "the kill should have caught messages in flight"

    # restarted on the same store: every conversation carries on where it was; on MongoDB
    # the killed hub's lock tickets block their conversations until their lease runs out
    hub.start()
    await hub.wait_ready()

    async def carry_on(conversation: str) -> None:
        k = max(attempted[conversation]) + 1
        assert await send(http, hub, conversation, k) == (200, pong(conversation, k))
        acknowledged[conversation].add(k)
        attempted[conversation].add(k)

    await asyncio.gather(*(carry_on(c) for c in conversations))
    assert hub.stop() == 0, hub.tail()

    stored = await stored_events(bot)
    assert sorted(stored) == sorted(conversations)
    unanswered_stored = 0
    for conversation in conversations:
        sent = check_conversation(
            conversation, stored[conversation], acknowledged[conversation], attempted[conversation]
        )
        assert sent[-1] == max(attempted[conversation])  # the message after the restart
        unanswered_stored += len(set(sent) - acknowledged[conversation])
    logger.warning(
        "%s: %d answered before SIGKILL, %d in flight (%d stored whole, unanswered), %.1f s",
        store,
        sum(map(len, acknowledged.values())) - CONVERSATIONS,
        in_flight,
        unanswered_stored,
        time.monotonic() - started,
    )
