"""``chinwag run --workers 2`` on the embedded store: two processes on one port, each
conversation's messages one at a time across them, nothing lost or doubled when a worker is
killed mid-load (and the hub replaces it)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from pathlib import Path

import aiohttp
import pytest

from tests.emulators.slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlackAPI,
    sign_slack,
    slack_event_envelope,
    slack_message_event,
)
from tests.integration.conftest import (
    SERVER_ERRORS,
    Hub,
    check_conversation,
    new_hub,
    ping_text,
    pong,
    send,
    stored_events,
    write_ping_bot,
)

pytestmark = pytest.mark.integration

CONVERSATIONS = 12
SENDERS = 2  # concurrent senders per conversation: sender s sends pings s, s + 2, s + 4, ...
KILL_AFTER = 150  # answered messages before one worker is killed
AFTER_KILL = 4  # answers each conversation still needs after the kill
WORKER = re.compile(r"chinwag hub serving .* \(worker (\d+)\)")


async def worker_pids(hub: Hub, count: int, timeout: float = 120) -> list[int]:
    """The pids of the workers that said they serve, once ``count`` have (newest last)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hub.assert_alive()
        pids = [int(p) for p in WORKER.findall(hub.log.read_text(encoding="utf-8"))]
        if len(pids) >= count:
            return pids
        await asyncio.sleep(0.1)
    raise AssertionError(f"{count} workers did not start within {timeout} s\n{hub.tail()}")


async def test_a_killed_worker_loses_no_acknowledged_message(
    tmp_path: Path, hubs: list[Hub]
) -> None:
    bot = write_ping_bot(tmp_path / "bot")  # default stores: SQLite, record locks
    hub = new_hub(hubs, bot, "hub", workers=2)
    await hub.wait_ready()
    victim = (await worker_pids(hub, 2))[0]
    conversations = [f"w{i}" for i in range(CONVERSATIONS)]
    acknowledged: dict[str, set[int]] = {c: set() for c in conversations}
    attempted: dict[str, set[int]] = {c: set() for c in conversations}
    after_kill: dict[str, int] = dict.fromkeys(conversations, 0)
    answered = 0
    killed = asyncio.Event()
    failed_after_kill = 0

    # a new connection per request: each goes to whichever worker has fewer open
    connector = aiohttp.TCPConnector(force_close=True, limit=100)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def talk(conversation: str, first: int) -> None:
            nonlocal answered, failed_after_kill
            k = first
            while after_kill[conversation] < AFTER_KILL:
                attempted[conversation].add(k)
                was_killed = killed.is_set()
                try:
                    status, body = await send(session, hub, conversation, k)
                except SERVER_ERRORS:
                    # only a request the killed worker had can fail
                    assert killed.is_set(), f"request failed before the kill\n{hub.tail()}"
                    failed_after_kill += 1
                    k += SENDERS
                    continue
                assert (status, body) == (200, pong(conversation, k)), hub.tail()
                acknowledged[conversation].add(k)
                answered += 1
                if was_killed:
                    after_kill[conversation] += 1
                elif answered >= KILL_AFTER and not killed.is_set():
                    killed.set()
                    os.kill(victim, signal.SIGKILL)
                k += SENDERS

        await asyncio.gather(*(talk(c, s) for c in conversations for s in range(SENDERS)))
    assert killed.is_set()
    # the hub replaced the killed worker and stops cleanly
    assert victim not in (await worker_pids(hub, 3))[-1:]
    assert hub.stop() == 0, hub.tail()

    stored = await stored_events(bot)
    assert sorted(stored) == sorted(conversations)
    for conversation in conversations:
        sent = check_conversation(
            conversation,
            stored[conversation],
            acknowledged[conversation],
            attempted[conversation],
            in_order=False,  # two senders at once: only each sender's own order is defined
        )
        for s in range(SENDERS):
            mine = [k for k in sent if k % SENDERS == s]
            assert mine == sorted(mine), f"{conversation}: sender {s} out of order {mine}"


async def test_a_slack_retry_is_answered_once_across_workers(
    tmp_path: Path, hubs: list[Hub]
) -> None:
    async with FakeSlackAPI() as api:
        bot = write_ping_bot(tmp_path / "bot")
        (bot / "credentials.yml").write_text(
            f"rest:\nslack:\n  slack_token: {BOT_TOKEN}\n"
            f"  slack_signing_secret: {SIGNING_SECRET}\n  api_url: {api.base_url}\n",
            encoding="utf-8",
        )
        hub = new_hub(hubs, bot, "hub", workers=2)
        await hub.wait_ready()
        await worker_pids(hub, 2)
        body = json.dumps(slack_event_envelope(slack_message_event(ping_text(1)), "EvRetried"))

        async def deliver(session: aiohttp.ClientSession, retry: int) -> int:
            headers = {"Content-Type": "application/json", **sign_slack(body)}
            if retry:  # Slack's redelivery of the same event
                headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "timeout"}
            async with session.post(
                f"{hub.url}/webhooks/slack/webhook", data=body, headers=headers
            ) as response:
                return response.status

        # a new connection per delivery: each goes to whichever worker has fewer open
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            assert await deliver(session, 0) == 200
            for retry in (1, 2, 3):
                assert await deliver(session, retry) == 200
            statuses = await asyncio.gather(*(deliver(session, 1 + n % 3) for n in range(8)))
            assert statuses == [200] * 8
        await api.wait_for_calls("chat.postMessage", 1, timeout=60)
        # a clean stop lets every worker finish the replies it started
        assert await asyncio.to_thread(hub.stop) == 0, hub.tail()
    assert [call.body["text"] for call in api.calls_of("chat.postMessage")] == ["pong 1"]
    stored = await stored_events(bot)
    users = [e for _, e in stored["slack:U222"] if e.type_name == "user"]
    assert len(users) == 1, hub.tail()


@pytest.mark.parametrize("event_loop", ["asyncio", "uvloop"])
async def test_the_workers_serve_on_the_event_loop_asked_for(
    tmp_path: Path, hubs: list[Hub], event_loop: str
) -> None:
    bot = write_ping_bot(tmp_path / "bot")
    options = ("--event-loop", event_loop, "--log-level", "info")
    hub = new_hub(hubs, bot, "hub", workers=2, options=options)
    await hub.wait_ready()
    await worker_pids(hub, 2)
    conversations = [f"loop{i}" for i in range(4)]
    # a new connection per request: each goes to whichever worker has fewer open
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        for k in range(3):
            for conversation in conversations:
                assert await send(session, hub, conversation, k) == (200, pong(conversation, k))
    assert hub.stop() == 0, hub.tail()
    said = hub.log.read_text(encoding="utf-8").count(f"serving on the {event_loop} event loop")
    assert said == 2, hub.tail()  # each worker
    stored = await stored_events(bot)
    for conversation in conversations:
        assert check_conversation(conversation, stored[conversation], {0, 1, 2}) == [0, 1, 2]
