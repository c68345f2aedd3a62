"""FileLockStore: one message at a time per conversation across processes of one machine."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from chinwag.core.stores.locks import FileLockStore, LockTimeout
from tests.core.stores.test_memory import assert_arrival_order

REPO = Path(__file__).resolve().parents[3]

# another process: takes the conversation's lock, says so, holds it until stdin closes
HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from chinwag.core.stores.locks import FileLockStore

    async def main() -> None:
        locks = FileLockStore(sys.argv[1])
        async with locks.lock(sys.argv[2]):
            print("locked", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        print("released", flush=True)
        await locks.close()

    asyncio.run(main())
    """
)


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "locks"), "c1"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "locked"
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()


async def test_another_process_holding_the_lock_keeps_us_out(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    locks = FileLockStore(tmp_path / "locks", wait_timeout=0.05)
    try:
        with pytest.raises(LockTimeout, match="conversation 'c1' stayed locked"):
            async with locks.lock("c1"):
                pass
        async with locks.lock("c2"):  # another conversation is free
            pass
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()  # the holder lets go ...
        assert holder.stdout.readline().strip() == "released"
        locks.wait_timeout = 30
        async with locks.lock("c1"):  # ... and we get in
            pass
    finally:
        await locks.close()


async def test_a_killed_holder_leaves_nothing_locked(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    locks = FileLockStore(tmp_path / "locks", wait_timeout=30)
    try:
        async with locks.lock("c1"):  # no lease to run out: the kernel dropped the lock
            pass
    finally:
        await locks.close()


async def test_waiting_messages_go_in_arrival_order(tmp_path: Path) -> None:
    locks = FileLockStore(tmp_path / "locks")
    try:
        await assert_arrival_order(locks)
    finally:
        await locks.close()


def test_offsets_differ_per_conversation() -> None:
    offsets = {FileLockStore.offset(f"conversation-{n}") for n in range(1000)}
    assert len(offsets) == 1000
    assert FileLockStore.offset("a") == FileLockStore.offset("a")


async def test_a_cancelled_or_failed_waiter_leaves_the_lock_usable(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    """A waiter cancelled in the process queue or while another process holds the byte, and
    a body that raises, release what they took: the next message gets in, nothing is kept."""
    locks = FileLockStore(tmp_path / "locks", wait_timeout=30)
    try:
        across = asyncio.create_task(locks.lock("c1").__aenter__())  # the holder has c1
        queued = asyncio.create_task(locks.lock("c1").__aenter__())  # behind `across`
        while locks._local._users.get("c1") != 2:
            await asyncio.sleep(0.001)
        queued.cancel()
        across.cancel()
        for task in (queued, across):
            with pytest.raises(asyncio.CancelledError):
                await task
        assert locks._local._locks == {}
        assert holder.stdin is not None
        holder.stdin.close()  # the other process lets go
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "released"
        with pytest.raises(KeyError):
            async with locks.lock("c1"):
                raise KeyError("the body failed")
        async with locks.lock("c1"):  # released after the failure
            assert locks._local._users == {"c1": 1}
        assert locks._local._locks == {}
    finally:
        await locks.close()
