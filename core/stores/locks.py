"""One message at a time per conversation, in arrival order."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

logger = logging.getLogger(__name__)


class LockTimeout(Exception):
    """A message waited too long for its conversation's lock."""


class LockStore(ABC):
    """Exclusive, ordered access to one conversation (in-process or across processes)."""

    @abstractmethod
    def lock(self, conversation_id: str) -> AbstractAsyncContextManager[None]: ...

    async def open(self) -> None:  # noqa: B027 - optional for stores without resources
        """Connect and check; raise StoreUnavailable when the store cannot work."""

    async def close(self) -> None:  # noqa: B027 - optional for stores without resources
        """Release connections."""


class InProcessLockStore(LockStore):
    """asyncio locks per conversation; FIFO, since asyncio.Lock wakes waiters in order."""

    def __init__(self, wait_timeout: float = 60.0) -> None:
        self.wait_timeout = wait_timeout
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    def lock(self, conversation_id: str) -> AbstractAsyncContextManager[None]:
        return _Held(self, conversation_id)

    async def _acquire(self, conversation_id: str) -> None:
        """Wait for the conversation's turn; LockTimeout after ``wait_timeout``."""
        users = self._users.get(conversation_id, 0) + 1
        self._users[conversation_id] = users
        if users == 1:  # nobody holds or waits: a new lock, taken at once, no timer
            lock = self._locks[conversation_id] = asyncio.Lock()
        else:
            lock = self._locks[conversation_id]
        try:
            if users == 1:
                await lock.acquire()
            else:
                async with asyncio.timeout(self.wait_timeout):
                    await lock.acquire()
        except TimeoutError:
            self._leave(conversation_id)
            raise LockTimeout(
                f"conversation '{conversation_id}' stayed locked for more than "
                f"{self.wait_timeout:g} s"
            ) from None
        except BaseException:  # cancelled while waiting
            self._leave(conversation_id)
            raise

    def _release(self, conversation_id: str, _token: Any = None) -> None:
        self._locks[conversation_id].release()
        self._leave(conversation_id)

    def _leave(self, conversation_id: str) -> None:
        users = self._users[conversation_id] - 1
        if users:
            self._users[conversation_id] = users
        else:  # nobody waits: forget the lock
            del self._users[conversation_id]
            del self._locks[conversation_id]


class _Held:
    """``async with store.lock(id)`` for the in-process and file stores: their acquire and
    release in one plain class (a generator-based context manager per store stacked two
    deep, and a third in the metrics, cost about 3% of a message)."""

    __slots__ = ("_id", "_store", "_token")

    def __init__(self, store: InProcessLockStore | FileLockStore, conversation_id: str) -> None:
        self._store = store
        self._id = conversation_id
        self._token: Any = None

    async def __aenter__(self) -> None:
        self._token = await self._store._acquire(self._id)

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self._store._release(self._id, self._token)


# a conversation's lock is one byte of the lock file, at an offset from its id's hash: two
# ids share a byte only by a 62-bit hash collision, which would just serialize the two
_OFFSET_MASK = (1 << 62) - 1


class FileLockStore(LockStore):
    """One message at a time per conversation across the processes of one machine.

    Each conversation is one byte of a lock file (``.chinwag/locks`` by default), locked
    with POSIX record locks (``fcntl``). The kernel drops a process's locks when it exits,
    however it exits (SIGKILL, OOM): a crashed worker never leaves a conversation locked and
    nothing waits for a lease to run out. Within the process an asyncio lock queues the
    conversation's messages first (FIFO), so at most one task per process and conversation
    asks the kernel; that task tries without blocking and, while another process holds the
    byte, retries with a short back-off (1 ms doubling to 20 ms) until ``wait_timeout``. The
    event loop never blocks on the lock. Record locks belong to the process, not the file
    descriptor, which is why the in-process queue is needed and why the store keeps its one
    descriptor open until :meth:`close`.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        wait_timeout: float = 60.0,
        first_retry: float = 0.001,
        longest_retry: float = 0.02,
    ) -> None:
        self.path = Path(path)
        self.wait_timeout = wait_timeout
        self.first_retry = first_retry
        self.longest_retry = longest_retry
        self._local = InProcessLockStore(wait_timeout=wait_timeout)
        self._fd: int | None = None

    def __repr__(self) -> str:
        return f"FileLockStore({str(self.path)!r})"

    async def open(self) -> None:
        from chinwag.core.stores.base import StoreUnavailable

        if self._fd is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreUnavailable(f"cannot open the lock file {self.path}: {exc}") from exc

    async def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases whatever this process still holds
            self._fd = None

    @staticmethod
    def offset(conversation_id: str) -> int:
        digest = hashlib.blake2b(conversation_id.encode("utf-8", "surrogatepass"), digest_size=8)
        return int.from_bytes(digest.digest(), "big") & _OFFSET_MASK

    def lock(self, conversation_id: str) -> AbstractAsyncContextManager[None]:
        return _Held(self, conversation_id)

    async def _acquire(self, conversation_id: str) -> tuple[int, int]:
        """Queue in the process, then take the byte; the descriptor and offset to release."""
        if self._fd is None:
            await self.open()
        fd = self._fd
        assert fd is not None
        deadline = time.monotonic() + self.wait_timeout
        offset = self.offset(conversation_id)
        local = self._local
        await local._acquire(conversation_id)
        try:
            delay = self.first_retry
            while True:
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
                    return fd, offset
                except (BlockingIOError, PermissionError):  # another process holds it
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise LockTimeout(
                            f"conversation '{conversation_id}' stayed locked for more than "
                            f"{self.wait_timeout:g} s (by another process)"
                        ) from None
                    await asyncio.sleep(min(delay, left))
                    delay = min(delay * 2, self.longest_retry)
        except BaseException:  # timed out or cancelled: the next in the process goes on
            local._release(conversation_id)
            raise

    def _release(self, conversation_id: str, token: tuple[int, int]) -> None:
        fd, offset = token
        try:
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, offset)
        finally:
            self._local._release(conversation_id)


_TICKET_ATTEMPTS = 10  # numbers drawn before giving up on a lock ticket


class MongoLockStore(LockStore):
    """Tickets with a lease in a MongoDB collection, for several hub processes on one MongoDB.

    Each message takes the next ticket number of its conversation (an atomic ``$inc`` on a
    counter document) and inserts a ticket ``{conversation_id, ticket, expires_at}``. It holds
    the lock when no *live* ticket with a lower number exists; the expiry is part of that
    query, so the ticket of a holder that crashed stops counting once its lease runs out.
    A living process renews its tickets (held or waiting) every third of the lease, so a slow
    action never loses the lock. Tickets are served in the order they were taken: FIFO
    across processes, as Rasa's TicketLock. Within one process an asyncio lock queues
    messages first, so only one ticket per conversation and process waits on MongoDB.

    ``expires_at`` is a BSON date with a TTL index, so the server also deletes tickets left by
    crashed processes. Lease times come from each host's clock: keep the clocks in sync (NTP),
    well within the lease.

    No task is ever cancelled inside a PyMongo call: the wait for a turn checks its deadline
    between polls, and the renewer is told to stop, then finishes its current update. On
    Python 3.11, PyMongo's asyncio server selection waits with ``asyncio.wait_for`` on a
    condition of the topology lock; a cancel that lands while ``wait_for`` is cleaning up
    its own timeout (which it does while the server is unreachable) releases that lock from
    the wrong task and leaves it held forever ("Lock is not acquired"), and every later
    operation of the client hangs. Each driver call is bounded by the client's own timeouts
    instead (``serverSelectionTimeoutMS``, ``socketTimeoutMS``).
    """

    def __init__(
        self,
        url: str,
        *,
        db: str | None = None,
        collection: str = "conversation_locks",
        lease_seconds: float = 30.0,
        wait_timeout: float = 60.0,
        poll_interval: float = 0.05,
        **options: Any,
    ) -> None:
        from chinwag.core.stores.mongo import database_name, mongo_client

        self.url = url
        self.lease_seconds = lease_seconds
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self._client = mongo_client(url, options)
        database = self._client[database_name(url, db)]
        self._tickets = database[collection]
        self._counters = database[f"{collection}_counters"]
        self._local = InProcessLockStore(wait_timeout=wait_timeout)
        self._renewers: set[asyncio.Task[None]] = set()  # stopping ones run to their end

    async def open(self) -> None:
        """Check the server and create the indexes; StoreUnavailable when it cannot."""
        from pymongo import ASCENDING
        from pymongo.errors import PyMongoError

        from chinwag.core.stores.mongo import mongo_error

        try:
            await self._client.admin.command("ping")
            await self._tickets.create_index(
                [("conversation_id", ASCENDING), ("ticket", ASCENDING)],
                unique=True,
                name="conversation_ticket",
            )
            await self._tickets.create_index("expires_at", expireAfterSeconds=0, name="ttl")
        except PyMongoError as exc:
            raise mongo_error(self.url, exc, "preparing the lock collection") from exc

    async def close(self) -> None:
        if self._renewers:  # each ends after its current update, bounded by the timeouts
            await asyncio.gather(*self._renewers, return_exceptions=True)
        await self._client.close()

    def _expiry(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.lease_seconds)

    @asynccontextmanager
    async def lock(self, conversation_id: str) -> AsyncIterator[None]:
        from pymongo.errors import PyMongoError

        from chinwag.core.stores.mongo import mongo_error

        deadline = time.monotonic() + self.wait_timeout
        async with self._local.lock(conversation_id):
            try:
                mine = await self._take_ticket(conversation_id)
            except PyMongoError as exc:
                raise mongo_error(self.url, exc, f"locking '{conversation_id}'") from exc
            stop = asyncio.Event()
            ticket = int(mine["ticket"])
            renewer = asyncio.create_task(self._renew(conversation_id, mine, stop))
            self._renewers.add(renewer)
            renewer.add_done_callback(self._renewers.discard)
            try:
                try:
                    my_turn = await self._wait_for_turn(conversation_id, ticket, deadline)
                except PyMongoError as exc:
                    raise mongo_error(self.url, exc, f"locking '{conversation_id}'") from exc
                if not my_turn:
                    logger.warning(
                        "conversation '%s': waited %g s for the lock (ticket %d); giving up",
                        conversation_id,
                        self.wait_timeout,
                        ticket,
                    )
                    raise LockTimeout(
                        f"conversation '{conversation_id}' stayed locked for more than "
                        f"{self.wait_timeout:g} s"
                    )
                yield
            finally:
                stop.set()  # never cancel: see the class notes
                try:
                    await self._tickets.delete_one(mine)
                except PyMongoError as exc:  # unreleased, the ticket's lease runs out
                    logger.warning(
                        "lock ticket %d of '%s' not released: %s", ticket, conversation_id, exc
                    )

    async def _take_ticket(self, conversation_id: str) -> dict[str, Any]:
        """The next ticket of the conversation, inserted; the filter that finds it (owner
        included, so a renewal or release never touches another process's ticket).

        A number whose ticket already exists (a server that answered a lost upsert race or a
        retried write oddly, or a ticket left over on a reused database) is not ours: an
        expired one is taken over, a live one makes us draw the next number, so the ticket
        always sorts after every live one and the order stays FIFO."""
        from pymongo import ReturnDocument
        from pymongo.errors import DuplicateKeyError

        owner = os.urandom(12).hex()  # tells our own ticket from another's after a retry
        for _ in range(_TICKET_ATTEMPTS):
            try:
                counter = await self._counters.find_one_and_update(
                    {"_id": conversation_id},
                    {"$inc": {"next": 1}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:  # two first tickets at once: one upsert loses
                continue
            # some servers (secantusdb) answer a lost upsert race with no document instead
            # of a duplicate-key error: take another number (gaps between tickets are fine)
            if counter is None:
                continue
            ticket = int(counter["next"])
            mine = {"conversation_id": conversation_id, "ticket": ticket, "owner": owner}
            try:
                await self._tickets.insert_one({**mine, "expires_at": self._expiry()})
                return mine
            except DuplicateKeyError:
                pass
            taken_over = await self._tickets.find_one_and_update(
                {
                    "conversation_id": conversation_id,
                    "ticket": ticket,
                    "$or": [{"owner": owner}, {"expires_at": {"$lte": datetime.now(UTC)}}],
                },
                {"$set": {"owner": owner, "expires_at": self._expiry()}},
            )
            if taken_over is not None:
                return mine
        raise LockTimeout(f"conversation '{conversation_id}': no lock ticket could be taken")

    async def _wait_for_turn(self, conversation_id: str, ticket: int, deadline: float) -> bool:
        """Poll until no live ticket is ahead (True) or ``deadline`` passes (False)."""
        delay = self.poll_interval
        while True:
            ahead = await self._tickets.find_one(
                {
                    "conversation_id": conversation_id,
                    "ticket": {"$lt": ticket},
                    "expires_at": {"$gt": datetime.now(UTC)},
                },
                {"_id": 1},
            )
            if ahead is None:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, 1.0)  # Rasa polls every second; start faster

    async def _renew(self, conversation_id: str, mine: dict[str, Any], stop: asyncio.Event) -> None:
        """Extend the ticket's lease every third of it until ``stop`` is set."""
        from pymongo.errors import PyMongoError

        while True:
            try:
                async with asyncio.timeout(self.lease_seconds / 3):
                    await stop.wait()  # cancelled here only: no driver call in flight
                return
            except TimeoutError:
                pass
            try:
                await self._tickets.update_one(mine, {"$set": {"expires_at": self._expiry()}})
            except PyMongoError as exc:  # the next renewal may work; the lease says the rest
                logger.warning("lock lease of '%s' not renewed: %s", conversation_id, exc)
