"""The order in which a hub process's messages start their dialogue work: one a turn of the
event loop, first come first served, the loop reading its sockets in between
(adapters/server.py: ``Admission``). Each case runs on both event loops the hub serves on."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from chinwag.adapters.server import Admission, new_event_loop

LOOPS = ["asyncio", "uvloop"]


def run_on(event_loop: str, scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    if event_loop == "uvloop":
        pytest.importorskip("uvloop")
    with asyncio.Runner(loop_factory=lambda: new_event_loop(event_loop)) as runner:
        runner.run(scenario())


class Turns:
    """Counts the turns of the running loop (a callback that schedules itself again)."""

    def __init__(self) -> None:
        self.count = 0
        self._handle: asyncio.Handle | None = None

    def start(self) -> None:
        self._handle = asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        self.count += 1
        self._handle = asyncio.get_running_loop().call_soon(self._tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()


@pytest.mark.parametrize("event_loop", LOOPS)
def test_a_message_that_finds_nobody_waiting_starts_at_once(event_loop: str) -> None:
    async def scenario() -> None:
        admission = Admission()
        turns = Turns()
        turns.start()
        first = admission.wait()
        with pytest.raises(StopIteration):  # done without giving the loop a turn
            first.send(None)
        at = turns.count
        await admission.wait()  # the second of the same turn waits for the next
        assert turns.count > at
        await asyncio.sleep(0)  # a turn with nobody waiting: open again
        await asyncio.sleep(0)
        turns.stop()
        third = admission.wait()
        with pytest.raises(StopIteration):
            third.send(None)

    run_on(event_loop, scenario)


@pytest.mark.parametrize("event_loop", LOOPS)
def test_messages_start_one_a_turn_in_the_order_they_came(event_loop: str) -> None:
    async def scenario() -> None:
        admission = Admission()
        turns = Turns()
        started: list[tuple[int, int]] = []

        async def message(number: int) -> None:
            await admission.wait()
            started.append((number, turns.count))

        turns.start()
        await asyncio.gather(*(message(n) for n in range(6)))
        turns.stop()
        assert [number for number, _ in started] == list(range(6))
        at = [turn for _, turn in started]
        assert all(a < b for a, b in itertools.pairwise(at)), at

    run_on(event_loop, scenario)


@pytest.mark.parametrize("event_loop", LOOPS)
def test_the_loop_reads_its_sockets_between_two_messages(event_loop: str) -> None:
    """What the order is for: a request that arrived while one message was being handled is
    read before the next message starts, not after every message already read."""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        admission = Admission()
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        read: list[bytes] = []
        loop.add_reader(reader, lambda: read.append(reader.recv(64)))
        seen_by: dict[str, list[bytes]] = {}

        async def first() -> None:
            await admission.wait()
            writer.send(b"next request")  # arrives while this message is handled
            seen_by["first"] = list(read)

        async def second() -> None:
            await admission.wait()
            seen_by["second"] = list(read)

        try:
            await asyncio.gather(first(), second())
        finally:
            loop.remove_reader(reader)
            reader.close()
            writer.close()
        assert seen_by == {"first": [], "second": [b"next request"]}

    run_on(event_loop, scenario)


@pytest.mark.parametrize("event_loop", LOOPS)
def test_a_message_waiting_on_io_lets_the_next_start(event_loop: str) -> None:
    async def scenario() -> None:
        admission = Admission()
        reply = asyncio.Event()
        events: list[str] = []

        async def calls_an_action_server() -> None:
            await admission.wait()
            events.append("first started")
            await reply.wait()
            events.append("first done")

        async def greets() -> None:
            await admission.wait()
            events.append("second started")
            reply.set()

        await asyncio.wait_for(asyncio.gather(calls_an_action_server(), greets()), 10)
        assert events == ["first started", "second started", "first done"]

    run_on(event_loop, scenario)


@pytest.mark.parametrize("event_loop", LOOPS)
def test_a_cancelled_message_does_not_hold_up_the_next(event_loop: str) -> None:
    async def scenario() -> None:
        admission = Admission()
        started = asyncio.create_task(admission.wait())
        gone = asyncio.create_task(admission.wait())
        after = asyncio.create_task(admission.wait())
        await asyncio.sleep(0)  # the first started, the other two wait for their turns
        assert started.done() and not gone.done() and not after.done()
        gone.cancel()
        await asyncio.wait_for(after, 10)
        assert gone.cancelled()

    run_on(event_loop, scenario)


def test_a_loop_that_stopped_mid_turn_does_not_hold_up_the_next() -> None:
    """A loop closed right after a message started leaves that turn's hand-over unrun; the
    same app served again on a new loop must not wait for it."""
    admission = Admission()

    async def two_messages() -> None:
        await admission.wait()
        # the second starts in the next turn, the last the loop runs: its hand-over is left
        asyncio.get_running_loop().create_task(admission.wait())

    stopped = asyncio.new_event_loop()
    try:
        stopped.run_until_complete(two_messages())
    finally:
        stopped.close()  # closed with that hand-over never run

    async def next_message() -> None:
        await asyncio.wait_for(admission.wait(), 10)

    with asyncio.Runner() as runner:
        runner.run(next_message())
