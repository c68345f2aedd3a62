"""The embedded default tracker store: one SQLite file, one row per event.

The file lives under the bot's ``.chinwag/`` folder. It runs in WAL mode with
``synchronous=NORMAL``: a committed append is in the WAL file (the OS has it) before ``append``
returns, so it survives the process being killed (SIGKILL, OOM); only an OS crash or power
loss can take back the last few commits. ``synchronous="FULL"`` (endpoints.yml
``synchronous: full``) fsyncs every commit and survives that too, at a cost per message.

Short statements (a conversation's tail read, one message's append) run on the event loop
itself, on a connection that never waits: in WAL mode a read or a commit with
``synchronous=NORMAL`` is a write into the OS's page cache, not a wait on the disk (tens of
microseconds), which costs less than handing it to a thread and back (with ``synchronous=FULL``
a commit waits for the disk, so appends stay on the thread). That connection's busy
timeout is zero and it never checkpoints: when another connection or process holds the write
lock, the statement is rolled back untouched and runs again on the store's own thread, which
waits for the lock (``busy_timeout``) there, and the WAL is copied into the database file on
that thread too, every ``CHECKPOINT_EVERY`` inline commits (the fsync a checkpoint does never
blocks the loop). SQLite writes the WAL from its start again only after a checkpoint has
copied all of it, which the loops' commits, overtaking each checkpoint, kept from happening
under load: the WAL grew by every commit for as long as the load lasted. So once the WAL holds
``WAL_RESTART_FRAMES``, the thread takes the writers' turn (below) for as long as it takes
to finish the WAL (milliseconds, at most a few tens). Several processes may share the file:
WAL lets readers run beside the one writer, and each append checks the numbering inside its
own write transaction.

The event loops' connections take turns for their writes through a lock of their own: an
exclusive ``flock`` on a file beside the database (``<file>-writer``), held for each write
transaction on a loop, in every process. Without it, a loop's write that met another's went to
the thread: with two hub workers a third of the appends did, and took 20-40 ms at the median
(the thread waits for the GIL after each statement, SQLite's busy handler sleeps 1, 2, 5, 10
... ms between tries, and the message then waits behind every other one its loop has ready).
A loop now waits for the turn, yielding its CPU between tries, for at most ``SPIN_FOR_TURN``;
the holder keeps it only for one transaction, so only a holder that lost its CPU longer than
that sends the write to the thread. The thread's writes take the same turn, waiting for it in
short sleeps: a write on a thread without the turn held SQLite's lock while every loop's write
in its turn found it busy and went to a thread too, whose write then did the same to the next
(188 appends of 9,150 in one worker in a 13 s run, 45-370 ms each). Other writers (the
``sqlite3`` shell) are kept apart by SQLite's own lock and busy handler alone.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, TypeVar, cast

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]

from chinwag.core.events import Event
from chinwag.core.stores.base import (
    SeqIndexedStore,
    SequenceGap,
    StoreUnavailable,
    storable,
    stored_event,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
Synchronous = Literal["NORMAL", "FULL"]
# inline commits between two checkpoints on the thread (SQLite's own default is about 1000
# WAL pages, a few hundred one-message appends)
CHECKPOINT_EVERY = 200
# how long an event loop waits for another process's write transaction before handing its
# own to the thread. Two workers under load (bench/rest_throughput.py): 9% of the appends
# found the turn taken and waited 60 us at the median, 2 ms at the 99th percentile (a holder
# that had lost its CPU); a write handed to the thread takes 20-30 ms (see the top).
SPIN_FOR_TURN = 0.005
# frames (a page each) the WAL may hold after a checkpoint before the next commits wait for its
# restart (256 MB with 4 KB pages). A restart pauses the writes of every process for up to a few
# tens of ms, long enough for other workers' appends to go to their threads: at 16 MB two
# workers under the REST bench's load restarted about once a second, and the p99 of a
# message's service rose from 4-6 ms to 60-120 ms; at 256 MB that is once every 15 s or so
WAL_RESTART_FRAMES = 65_536
# how long a restart waits for the writers' turn before leaving it to the next checkpoint, and
# how it waits between tries (on the store's thread)
CHECKPOINT_TURN_WAIT = 1.0
THREAD_PAUSE = functools.partial(time.sleep, 0.0005)
# how long a checkpoint in the turn waits for readers still on the WAL, in milliseconds
CHECKPOINT_READERS_WAIT_MS = 5

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    conversation_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    timestamp REAL,
    data TEXT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
) WITHOUT ROWID
"""


class WriterLock:
    """An exclusive ``flock`` on ``path`` (made if missing): the turn of one writer among the
    processes sharing a database. ``flock`` locks belong to an open file, so two of these on
    one path exclude each other in one process too."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._usable = fcntl is not None

    def try_acquire(self) -> bool:
        """Take the lock if nobody has it (always, when its file cannot be had)."""
        if not self._usable:
            return True
        try:
            fcntl.flock(self._file(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as exc:  # a read-only folder: SQLite's busy handling alone
            logger.warning("writers' turn %s not used: %s", self.path, exc)
            self._usable = False
        return True

    def acquire_within(self, limit: float, pause: Callable[[], object] = os.sched_yield) -> bool:
        """Take the lock if its holder lets go within ``limit`` seconds, trying it again after
        each ``pause``: by default a yield of the CPU (to the holder, if it waits for one),
        which an event loop can afford for a few milliseconds; a thread that can wait longer
        sleeps instead (``THREAD_PAUSE``), giving up the GIL too."""
        deadline = time.perf_counter() + limit
        while not self.try_acquire():
            if time.perf_counter() >= deadline:
                return False
            pause()
        return True

    def release(self) -> None:
        if self._usable and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # lets go of the lock too
            self._fd = None

    def _file(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        return self._fd


class SQLiteThread:
    """One SQLite connection on a thread of its own: ``run(work)`` calls ``work(connection)``
    there, so the event loop never waits on the disk. The connection opens on first use (WAL,
    ``synchronous``, then ``schema``); SQLite errors become :class:`StoreUnavailable` naming
    ``what`` and the file.

    ``run_short(work)`` calls ``work`` on the event loop's own connection instead, which never
    waits for a lock (see the module notes); when it would have to, ``work`` runs on the thread.
    ``work`` must then leave nothing behind when SQLite says busy (a read; a write transaction
    rolled back), since it runs again.
    """

    def __init__(
        self, path: Path, *, schema: str, what: str, synchronous: str, busy_timeout: float
    ) -> None:
        self.path = path
        self.schema = schema
        self.what = what
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chinwag-sqlite")
        self._db: sqlite3.Connection | None = None
        self._inline: sqlite3.Connection | None = None  # the event loop's, never waits
        self._commits = 0  # inline commits since the last checkpoint
        self._checkpoint: asyncio.Future[None] | None = None
        self._writer = WriterLock(path.with_name(f"{path.name}-writer"))  # the loops' turn
        # the same turn for the thread's writes and checkpoints: a lock of its own (another
        # open file), so that it keeps this process's loop out too
        self._thread_turn = WriterLock(self._writer.path)
        self._turn_wanted = False  # set on the thread while a checkpoint waits for the turn

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, work)

    async def run_short(self, work: Callable[[sqlite3.Connection], T], *, writes: bool) -> T:
        """``work`` on the event loop's connection, or on the thread when SQLite is busy."""
        on_thread = functools.partial(self._in_turn, work) if writes else work
        if self._db is None:  # the thread makes the file, WAL mode and schema first
            return await self.run(on_thread)
        if writes and self.synchronous.upper() != "NORMAL":  # FULL fsyncs every commit
            return await self.run(on_thread)
        if writes and self._turn_wanted and self._checkpoint is not None:  # let it have the turn
            await asyncio.wait([self._checkpoint])
        if not writes:
            result = self._on_loop(work)
        elif self._writer.acquire_within(SPIN_FOR_TURN):
            try:
                result = self._on_loop(work)
            finally:
                self._writer.release()
        else:  # a loop kept the turn that long: wait on the thread
            return await self.run(on_thread)
        if result is _BUSY_NOW:  # busy all the same: a writer without the turn (sqlite3 shell)
            return await self.run(on_thread)
        if writes:
            self._commits += 1
            if self._commits >= CHECKPOINT_EVERY and self._checkpoint is None:
                self._commits = 0
                self._checkpoint = asyncio.ensure_future(self.run(self._checkpoint_and_restart))
                self._checkpoint.add_done_callback(self._checkpointed)
        return cast(T, result)

    def _in_turn(self, work: Callable[[sqlite3.Connection], T], db: sqlite3.Connection) -> T:
        """``work`` on the thread, in the writers' turn: it waits for the turn in short sleeps
        for up to ``busy_timeout`` (then writes without it: SQLite's busy handler decides)."""
        took = self._thread_turn.acquire_within(self.busy_timeout, THREAD_PAUSE)
        try:
            return work(db)
        finally:
            if took:
                self._thread_turn.release()

    def _on_loop(self, work: Callable[[sqlite3.Connection], T]) -> T | object:
        """``work`` on the event loop's connection; ``_BUSY_NOW`` when SQLite was busy."""
        try:
            return work(self._inline_connection())
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode not in _BUSY:
                raise StoreUnavailable(f"{self.what} {self.path}: {exc}") from exc
            return _BUSY_NOW

    def _checkpoint_and_restart(self, db: sqlite3.Connection) -> None:
        """A checkpoint on the thread, beside the loops' writes; and once the WAL holds more
        than ``WAL_RESTART_FRAMES``, a restart of it that those writes cannot overtake.

        SQLite writes the WAL file from its start again only once a checkpoint has copied
        every frame in it. Under load the loops commit while the thread copies, so no
        checkpoint ever finished the WAL, and the file grew by every commit for as long as the
        load lasted (774 MB in 45 s of one worker at 50 conversations, beside a 66 MB
        database). Past the limit the thread takes the writers' turn, this process's
        loop waits for it before its next write (``run_short``; other processes' loops hold
        the turn one transaction at a time), and a RESTART checkpoint copies the frames the
        first one left, so the next commit starts the WAL over: a pause of the writes of up
        to a few tens of milliseconds, once the WAL has grown by ``WAL_RESTART_FRAMES``. When
        the turn stays taken past ``CHECKPOINT_TURN_WAIT`` (a holder stopped), or a reader
        stays on the WAL past ``CHECKPOINT_READERS_WAIT_MS`` (an export), the WAL waits for
        the next checkpoint, which tries again.
        """
        if _checkpoint(db) <= WAL_RESTART_FRAMES:
            return
        self._turn_wanted = True
        try:
            if not self._thread_turn.acquire_within(CHECKPOINT_TURN_WAIT, THREAD_PAUSE):
                return
            try:
                # RESTART waits for the readers still on the WAL (a tail read takes tens of
                # microseconds); never long: a long reader (an export) is not waited for
                db.execute(f"PRAGMA busy_timeout={CHECKPOINT_READERS_WAIT_MS}")
                try:
                    db.execute("PRAGMA wal_checkpoint(RESTART)")
                finally:
                    db.execute(f"PRAGMA busy_timeout={round(self.busy_timeout * 1000)}")
            finally:
                self._thread_turn.release()
        finally:
            self._turn_wanted = False

    def _checkpointed(self, done: asyncio.Future[None]) -> None:
        self._checkpoint = None
        if not done.cancelled() and done.exception() is not None:  # the next one may work
            self._commits = CHECKPOINT_EVERY

    def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return work(self._connection())
        except sqlite3.OperationalError as exc:  # locked past busy_timeout, disk full, ...
            raise StoreUnavailable(f"{self.what} {self.path}: {exc}") from exc

    def _open(self, busy_timeout: float) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open {self.what} {self.path}: {exc}") from exc
        try:
            _enter_wal(db, busy_timeout)
            db.execute(f"PRAGMA synchronous={self.synchronous}")
            db.execute(self.schema)
        except BaseException:
            db.close()
            raise
        return db

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = self._open(self.busy_timeout)
        return self._db

    def _inline_connection(self) -> sqlite3.Connection:
        if self._inline is None:
            # one event loop uses it at a time, whichever thread runs that loop
            db = sqlite3.connect(
                self.path, timeout=0, isolation_level=None, check_same_thread=False
            )
            db.execute(f"PRAGMA synchronous={self.synchronous}")
            db.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run on the thread
            self._inline = db
        return self._inline

    async def close(self) -> None:
        def shut(db: sqlite3.Connection) -> None:
            db.close()
            self._db = None

        if self._checkpoint is not None:
            await asyncio.wait([self._checkpoint])
        if self._inline is not None:
            self._inline.close()
            self._inline = None
        if self._db is not None:
            await self.run(shut)
        self._executor.shutdown(wait=True)
        self._writer.close()
        self._thread_turn.close()


# SQLITE_BUSY and SQLITE_LOCKED with their extended codes: another connection has the lock
_BUSY = frozenset({5, 6, 261, 262, 517, 773})
_BUSY_NOW = object()  # what ``_on_loop`` returns when SQLite said busy


def _enter_wal(db: sqlite3.Connection, busy_timeout: float) -> None:
    """Switch the file to WAL mode, waiting up to ``busy_timeout`` for other connections.

    Switching takes the file's exclusive lock, and when another process is opening the same
    new file at that moment (two hub workers starting together) SQLite answers SQLITE_BUSY at
    once instead of calling the busy handler (it would deadlock otherwise), so the wait is
    done here: retry with a short backoff on this connection's thread.
    """
    deadline = time.monotonic() + busy_timeout
    delay = 0.001
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode not in _BUSY or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def _checkpoint(db: sqlite3.Connection) -> int:
    """Copy the WAL into the database file as far as no reader needs it (never waits); the
    frames in the WAL."""
    _busy, frames, _copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(frames)


class SQLiteTrackerStore(SeqIndexedStore):
    """Events as rows ``(conversation_id, seq, type, timestamp, data)`` in a SQLite file."""

    def __init__(
        self, path: Path | str, *, synchronous: Synchronous = "NORMAL", busy_timeout: float = 30.0
    ) -> None:
        self.path = Path(path)
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self._thread = SQLiteThread(
            self.path,
            schema=SCHEMA,
            what="SQLite store",
            synchronous=synchronous,
            busy_timeout=busy_timeout,
        )
        self._run = self._thread.run

    def __repr__(self) -> str:
        return f"SQLiteTrackerStore({str(self.path)!r})"

    async def open(self) -> None:
        await self._run(lambda db: None)

    async def append(self, conversation_id: str, events: Sequence[Event], start_seq: int) -> None:
        forms = [storable(conversation_id, start_seq + i, e) for i, e in enumerate(events)]
        rows = [
            (conversation_id, start_seq + i, e.type_name, e.timestamp, form.text)
            for i, (e, form) in enumerate(zip(events, forms, strict=True))
        ]

        def write(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")  # the write lock: the numbering check holds
            try:
                (stored,) = db.execute(
                    "SELECT COALESCE(MAX(seq) + 1, 0) FROM events WHERE conversation_id = ?",
                    (conversation_id,),
                ).fetchone()
                if start_seq > stored:
                    raise SequenceGap(conversation_id, stored, start_seq)
                db.executemany(
                    "INSERT OR IGNORE INTO events (conversation_id, seq, type, timestamp, data) "
                    "VALUES (?, ?, ?, ?, ?)",
                    rows[max(stored - start_seq, 0) :],
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

        await self._thread.run_short(write, writes=True)

    async def load_numbered_from(
        self, conversation_id: str, start_seq: int
    ) -> list[tuple[int, Event]]:
        def read(db: sqlite3.Connection) -> list[tuple[int, str]]:
            return db.execute(
                "SELECT seq, data FROM events WHERE conversation_id = ? AND seq >= ? ORDER BY seq",
                (conversation_id, start_seq),
            ).fetchall()

        rows = await self._thread.run_short(read, writes=False)
        return [(seq, stored_event(conversation_id, seq, data)) for seq, data in rows]

    async def ids(self) -> list[str]:
        def read(db: sqlite3.Connection) -> list[str]:
            rows = db.execute("SELECT DISTINCT conversation_id FROM events ORDER BY 1").fetchall()
            return [row[0] for row in rows]

        return await self._run(read)

    async def close(self) -> None:
        await self._thread.close()
