"""Two hub processes on one MongoDB (tracker store and lease-lock store): conversations that
hop between them stay whole and in order, and one conversation's messages never overlap."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import aiohttp
import pytest

from tests.integration.conftest import (
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

CONVERSATIONS = 100
MESSAGES = 20
CONCURRENCY = 50  # conversations talking at the same time


async def two_hubs(tmp_path: Path, hubs: list[Hub], mongodb_url: str) -> tuple[Path, Hub, Hub]:
    bot = write_ping_bot(tmp_path / "pingbot", mongo_endpoints(mongodb_url, unique_db()))
    first, second = new_hub(hubs, bot, "hub1"), new_hub(hubs, bot, "hub2")
    await asyncio.gather(first.wait_ready(), second.wait_ready())
    return bot, first, second


async def test_conversations_alternating_between_two_hubs_stay_whole_and_in_order(
    tmp_path: Path, hubs: list[Hub], http: aiohttp.ClientSession, mongodb_url: str
) -> None:
    bot, *pair = await two_hubs(tmp_path, hubs, mongodb_url)
    conversations = [f"c{i:03d}" for i in range(CONVERSATIONS)]
    slots = asyncio.Semaphore(CONCURRENCY)
    served = [0, 0]

    async def talk(index: int, conversation: str) -> None:
        async with slots:
            for k in range(MESSAGES):  # the next message once the previous is answered
                which = (index + k) % 2  # consecutive messages go to different hubs
                answer = await send(http, pair[which], conversation, k)
                assert answer == (200, pong(conversation, k)), (answer, pair[which].tail())
                served[which] += 1

    started = time.monotonic()
    await asyncio.gather(*(talk(i, c) for i, c in enumerate(conversations)))
    elapsed = time.monotonic() - started
    for hub in pair:
        hub.assert_alive()

    stored = await stored_events(bot)
    assert sorted(stored) == conversations
    for conversation in conversations:
        everything = set(range(MESSAGES))
        assert check_conversation(conversation, stored[conversation], everything) == list(
            range(MESSAGES)
        )
        assert len(stored[conversation]) == 3 + 6 * MESSAGES
    assert served == [CONVERSATIONS * MESSAGES // 2] * 2
    logger.warning(
        "two hubs on one MongoDB: %d messages in %.1f s (%.0f messages/s)",
        CONVERSATIONS * MESSAGES,
        elapsed,
        CONVERSATIONS * MESSAGES / elapsed,
    )


async def test_one_conversation_hit_through_both_hubs_at_once_is_served_one_at_a_time(
    tmp_path: Path, hubs: list[Hub], http: aiohttp.ClientSession, mongodb_url: str
) -> None:
    """Messages of one conversation sent at the same moment to both hubs: the MongoDB lease
    lock serves them one after the other, so each is followed by its own answer alone."""
    bot, *pair = await two_hubs(tmp_path, hubs, mongodb_url)
    conversations = [f"burst{i}" for i in range(10)]
    burst = 6

    async def answer(conversation: str, k: int) -> None:
        hub = pair[k % 2]
        assert await send(http, hub, conversation, k) == (200, pong(conversation, k)), hub.tail()

    await asyncio.gather(*(answer(c, k) for c in conversations for k in range(burst)))

    stored = await stored_events(bot)
    for conversation in conversations:
        sent = check_conversation(
            conversation, stored[conversation], set(range(burst)), in_order=False
        )
        assert sorted(sent) == list(range(burst))
