"""The hub workers' shared listening socket: a new connection goes to the worker with the
fewest open (adapters/server.py: ``SharedListener``, ``TakeTurnsAcceptor``).

Two workers are two runners on one event loop here, each on its own descriptor of the one
listening socket, sharing the counts as forked workers do (the listener object copied, its
memory shared). Both find the socket ready in the same pass of the loop, so which one takes
a connection is the policy's choice, not the scheduler's."""

from __future__ import annotations

import asyncio
import copy
import os
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from chinwag.adapters.server import HubRunner, SharedListener, SharedSocketSite


def named_app(name: str) -> web.Application:
    async def who(request: web.Request) -> web.Response:
        return web.Response(text=name)

    app = web.Application()
    app.router.add_get("/", who)
    return app


class Workers:
    """Workers named ``names`` on one listening socket; ``url`` reaches whichever accepts."""

    def __init__(self, sock: socket.socket, names: list[str]) -> None:
        self.sock = sock
        self.listener = SharedListener(sock, len(names))
        self.names = names
        self.runners: list[HubRunner] = []
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/"

    async def start(self, *slots: int) -> None:
        for slot in slots:
            own = copy.copy(self.listener)  # what fork gives a worker: the counts shared
            own.take_slot(slot)
            own.sock = socket.socket(fileno=os.dup(self.sock.fileno()))  # its own descriptor
            runner = HubRunner(named_app(self.names[slot]), listener=own, access_log=None)
            await runner.setup()
            await SharedSocketSite(runner, own).start()
            self.runners.append(runner)

    async def close(self) -> None:
        for runner in self.runners:
            await runner.cleanup()
            assert runner.server is None


@pytest.fixture
async def shared_socket() -> AsyncIterator[socket.socket]:
    sock = socket.create_server(("127.0.0.1", 0), backlog=128)
    yield sock
    sock.close()


async def answered_by(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=10)) as response:
        assert response.status == 200
        return await response.text()


async def wait_for_counts(listener: SharedListener, expected: list[int]) -> None:
    async def settled() -> None:
        while listener.counts() != expected:
            await asyncio.sleep(0.005)

    try:
        await asyncio.wait_for(settled(), 10)
    except TimeoutError:
        raise AssertionError(f"open connections {listener.counts()}, expected {expected}") from None


async def test_a_new_connection_goes_to_the_worker_with_fewer_open(
    shared_socket: socket.socket,
) -> None:
    workers = Workers(shared_socket, ["first", "second"])
    await workers.start(0, 1)
    assert [runner.addresses for runner in workers.runners] == [[workers.sock.getsockname()]] * 2
    sessions = [aiohttp.ClientSession() for _ in range(6)]  # a connection each, kept open
    try:
        served = [await answered_by(session, workers.url) for session in sessions]
        # each went to the worker with fewer open (to either one on a tie): three each, where
        # the loop's own server would have given all six to whichever woke first
        assert sorted(served) == ["first"] * 3 + ["second"] * 3
        await wait_for_counts(workers.listener, [3, 3])
        for session in sessions[:3]:
            await session.close()
        # the counts follow connections closing too
        left = served[3:]
        await wait_for_counts(workers.listener, [left.count("first"), left.count("second")])
        for session in sessions[3:]:
            await session.close()
        await wait_for_counts(workers.listener, [0, 0])
    finally:
        for session in sessions:
            await session.close()
        await workers.close()
    assert workers.listener.counts() == [None, None]  # stopped: neither takes connections


async def test_a_busier_worker_takes_a_connection_nobody_else_takes(
    shared_socket: socket.socket,
) -> None:
    """The worker with fewer open does not accept (busy or stuck): after ``ACCEPT_DEFER`` the
    busier worker takes the connection."""
    workers = Workers(shared_socket, ["first", "second"])
    stuck = copy.copy(workers.listener)
    stuck.take_slot(1)
    stuck.start_serving(0)  # says it accepts, never does
    await workers.start(0)
    async with aiohttp.ClientSession() as one, aiohttp.ClientSession() as two:
        assert await answered_by(one, workers.url) == "first"  # a tie: 0 and 0
        assert workers.listener.counts() == [1, 0]
        assert await answered_by(two, workers.url) == "first"  # deferred, then taken
        assert workers.listener.counts() == [2, 0]
    await workers.close()
    assert workers.listener.counts() == [None, 0]  # a stopped worker takes no more


def test_only_accepting_workers_count(shared_socket: socket.socket) -> None:
    parent = SharedListener(shared_socket, 3)
    assert parent.counts() == [None, None, None]
    worker = copy.copy(parent)  # a forked worker's copy, its counts shared
    worker.take_slot(2)
    assert parent.counts() == [None, None, None]  # loading its bots: not accepting yet
    worker.start_serving(7)
    assert parent.counts() == [None, None, 7]
    assert worker.fewest()  # the other slots are not accepting
    other = copy.copy(parent)
    other.take_slot(0)
    other.start_serving(2)
    assert not worker.fewest()
    assert other.fewest()
    parent.release(2)  # the worker was killed: its connections went with it
    assert parent.counts() == [2, None, None]
    other.stop_serving()
    assert parent.counts() == [None, None, None]
