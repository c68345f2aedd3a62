"""The SQLite store's inline statements: what happens when another writer holds the lock."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from chinwag.core.events import ActionExecuted, BotUttered, SlotSet
from chinwag.core.stores import sqlite as sqlite_store
from chinwag.core.stores.sqlite import SQLiteTrackerStore, WriterLock


async def test_an_append_while_another_connection_writes_waits_for_it_off_the_loop(
    tmp_path: Path,
) -> None:
    store = SQLiteTrackerStore(tmp_path / "conversations.db")
    await store.open()
    other = sqlite3.connect(store.path, isolation_level=None)
    try:
        await store.append("c1", [ActionExecuted("first")], 0)  # the inline connection is open
        other.execute("BEGIN IMMEDIATE")  # another writer (a second worker) holds the lock
        appending = asyncio.create_task(store.append("c1", [ActionExecuted("second")], 1))
        ticks = 0
        while ticks < 20:  # the loop keeps turning while the append waits on the thread
            await asyncio.sleep(0)
            ticks += 1
        assert not appending.done()
        other.execute("COMMIT")
        await appending
        assert [e.action_name for e in await store.load("c1")] == ["first", "second"]  # type: ignore[attr-defined]
    finally:
        other.close()
        await store.close()


def test_the_writers_turn_is_one_holders_at_a_time(tmp_path: Path) -> None:
    """Two locks on one file (two processes' stores, or two in one process) exclude each
    other; letting go, or closing, hands the turn on."""
    path = tmp_path / "conversations.db-writer"
    first, second = WriterLock(path), WriterLock(path)
    try:
        assert first.try_acquire()
        assert not second.try_acquire()
        assert not second.acquire_within(0.001)
        assert not second.acquire_within(0.001, sqlite_store.THREAD_PAUSE)
        first.release()
        assert second.try_acquire()
        assert not first.try_acquire()
        second.close()
        assert first.try_acquire()
    finally:
        first.close()
        second.close()


def test_a_turn_that_cannot_be_had_leaves_the_writes_to_sqlite(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A lock file that cannot be made (a missing folder here; a read-only one in use) does
    not stop writes: SQLite's own lock still keeps writers apart."""
    lock = WriterLock(tmp_path / "missing" / "conversations.db-writer")
    assert lock.try_acquire()
    assert lock.try_acquire()
    lock.release()
    assert "writers' turn" in caplog.text


@asynccontextmanager
async def turn_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[SQLiteTrackerStore, WriterLock, list[object]]]:
    """A store with one event appended, its writers' turn held by another lock (another
    process's loop writing), and the list of the works it hands to its thread."""
    store = SQLiteTrackerStore(tmp_path / "conversations.db")
    await store.open()
    await store.append("c1", [ActionExecuted("first")], 0)  # the inline connection is open
    other = WriterLock(store._thread._writer.path)
    assert other.try_acquire()
    handed: list[object] = []
    run = store._thread.run
    monkeypatch.setattr(store._thread, "run", lambda work: handed.append(work) or run(work))
    try:
        yield store, other, handed
        assert [e.action_name for e in await store.load("c1")] == ["first", "second"]  # type: ignore[attr-defined]
    finally:
        other.close()
        await store.close()


async def test_an_append_waits_on_the_loop_for_another_loops_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While another process's loop writes (it holds the writers' turn), an append waits for
    the turn on its own loop and then writes there, not on the thread: a write handed to the
    thread comes back behind every message its loop has ready."""
    monkeypatch.setattr(sqlite_store, "SPIN_FOR_TURN", 60.0)
    tried = threading.Event()
    try_acquire = WriterLock.try_acquire

    def noting(lock: WriterLock) -> bool:
        taken = try_acquire(lock)
        if not taken:
            tried.set()
        return taken

    async with turn_taken(tmp_path, monkeypatch) as (store, other, handed):
        monkeypatch.setattr(WriterLock, "try_acquire", noting)
        threading.Thread(target=lambda: tried.wait() and other.release(), daemon=True).start()
        await store.append("c1", [ActionExecuted("second")], 1)
        assert tried.is_set()  # it found the turn taken, and waited for it
        assert handed == []


async def test_an_append_goes_to_the_thread_when_the_turn_stays_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A holder that keeps the turn past ``SPIN_FOR_TURN`` (its process lost the CPU) sends the
    append to the thread, which waits there for the turn too, and writes once it has it."""
    monkeypatch.setattr(sqlite_store, "SPIN_FOR_TURN", 0.0)
    waiting_on_thread = threading.Event()
    try_acquire = WriterLock.try_acquire

    def noting(lock: WriterLock) -> bool:
        taken = try_acquire(lock)
        if not taken and threading.current_thread() is not threading.main_thread():
            waiting_on_thread.set()
        return taken

    async with turn_taken(tmp_path, monkeypatch) as (store, other, handed):
        monkeypatch.setattr(WriterLock, "try_acquire", noting)
        threading.Thread(
            target=lambda: waiting_on_thread.wait() and other.release(), daemon=True
        ).start()
        await store.append("c1", [ActionExecuted("second")], 1)
        assert waiting_on_thread.is_set()  # the thread found the turn taken, and waited
        assert len(handed) == 1


async def test_a_write_handed_to_the_thread_holds_the_writers_turn(tmp_path: Path) -> None:
    """A write that met SQLite busy on the loop (a writer without the turn: the ``sqlite3``
    shell) runs on the thread in the writers' turn: otherwise every loop writing in its turn
    would meet it busy and hand its own write to a thread, one after the other."""
    store = SQLiteTrackerStore(tmp_path / "conversations.db")
    await store.open()
    await store.append("c1", [ActionExecuted("first")], 0)  # the inline connection is open
    outsider = sqlite3.connect(store.path, isolation_level=None)
    outsider.execute("BEGIN IMMEDIATE")  # holds SQLite's write lock, not the turn
    probe = WriterLock(store._thread._writer.path)

    def work(db: sqlite3.Connection) -> tuple[bool, bool]:
        on_loop = threading.current_thread() is threading.main_thread()
        if on_loop:
            db.execute("BEGIN IMMEDIATE")  # busy at once: the loop's connection never waits
        free = probe.try_acquire()
        if free:
            probe.release()
        return on_loop, free

    try:
        assert await store._thread.run_short(work, writes=True) == (False, False)
        assert await store._thread.run_short(lambda db: probe.try_acquire(), writes=False)
    finally:
        probe.close()
        outsider.close()
        await store.close()


async def test_inline_appends_are_checkpointed_on_the_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inline connection never checkpoints, the thread does every few commits: the WAL
    file is then reused from its start instead of growing with every append."""
    monkeypatch.setattr(sqlite_store, "CHECKPOINT_EVERY", 3)
    store = SQLiteTrackerStore(tmp_path / "conversations.db")
    await store.open()
    appends = 60
    try:
        for seq in range(appends):
            await store.append("c1", [SlotSet("n", seq)], seq)
            while store._thread._checkpoint is not None:  # let each checkpoint finish
                await asyncio.sleep(0.001)
        wal = Path(f"{store.path}-wal").stat().st_size
        page = 4096 + 24  # a WAL frame: one page and its header; every commit writes one or more
        assert wal < 20 * page, f"the WAL grew to {wal} bytes over {appends} appends"
        assert [e.value for e in await store.load("c1")] == list(range(appends))  # type: ignore[attr-defined]
    finally:
        await store.close()


async def test_the_wal_starts_over_when_commits_overtake_every_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite writes the WAL from its start again only after a checkpoint has copied every frame
    in it. Under load another commit lands while the thread's checkpoint copies (another
    worker's, or this loop's), so no checkpoint finished the WAL and it grew by every append
    for as long as the load lasted (180 MB over 8,000 appends of a booking turn). Here every
    checkpoint is overtaken by a commit of another connection, as under load; past
    ``WAL_RESTART_FRAMES`` the thread takes the writers' turn and finishes the WAL, so the next
    append starts it over."""
    monkeypatch.setattr(sqlite_store, "CHECKPOINT_EVERY", 5)
    monkeypatch.setattr(sqlite_store, "WAL_RESTART_FRAMES", 30)
    store = SQLiteTrackerStore(tmp_path / "conversations.db")
    await store.open()
    other = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
    overtaking = itertools.count()
    passive = sqlite_store._checkpoint

    def overtaken(db: sqlite3.Connection) -> int:
        # a write begun before the copy ends and committed after it: the copy did not finish
        # the WAL, and the commit did not start it over (it began before the copy ended)
        other.execute("BEGIN IMMEDIATE")
        other.execute(
            "INSERT INTO events VALUES ('other', ?, 'slot', 0, '{}')", (next(overtaking),)
        )
        frames = passive(db)
        other.execute("COMMIT")
        return frames

    monkeypatch.setattr(sqlite_store, "_checkpoint", overtaken)
    appends, largest = 600, 0
    wal = Path(f"{store.path}-wal")
    try:
        for seq in range(appends):
            await store.append("c1", [SlotSet("n", seq), BotUttered("x" * 3000)], 2 * seq)
            while store._thread._checkpoint is not None:  # each checkpoint, then the next append
                await asyncio.sleep(0.001)
            largest = max(largest, wal.stat().st_size)
        assert next(overtaking) > 100  # every fifth append's checkpoint was overtaken
        page = 4096 + 24  # a WAL frame
        # the restart's limit and one checkpoint's commits (a few frames each), not 600 appends'
        assert largest < 100 * page, f"the WAL grew to {largest} bytes over {appends} appends"
        loaded = await store.load("c1")
        assert [e.value for e in loaded[::2]] == list(range(appends))  # type: ignore[attr-defined]
    finally:
        other.close()
        await store.close()


def test_many_processes_opening_a_new_file_at_once_all_get_it(tmp_path: Path) -> None:
    """Hub workers start together on a bot with no store yet: none may fail to open it.

    Switching a new file to WAL mode answers "database is locked" at once, without waiting,
    when another connection is switching it at the same moment (about one opener in twenty-five
    with four at a time); the store must wait for it as it does for any lock. Threads stand in
    for the processes, each opening the file as a store's own thread does: SQLite locks the
    file the same way for both.
    """
    import threading

    failures: list[BaseException] = []
    for round_ in range(40):
        path = tmp_path / f"conversations-{round_}.db"
        start = threading.Barrier(4)

        def open_file(path: Path = path, start: threading.Barrier = start) -> None:
            opener = sqlite_store.SQLiteThread(
                path,
                schema=sqlite_store.SCHEMA,
                what="store",
                synchronous="NORMAL",
                busy_timeout=30.0,
            )
            start.wait()
            try:
                opener._call(lambda db: db.execute("SELECT count(*) FROM events").fetchone())
            except BaseException as exc:  # collected, the test's thread reports it
                failures.append(exc)
            finally:
                if opener._db is not None:
                    opener._db.close()

        threads = [threading.Thread(target=open_file) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
