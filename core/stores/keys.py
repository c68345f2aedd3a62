"""Keys with a value and an expiry, shared by every hub process: what a channel remembers
between requests (Slack event ids it has answered, Telegram update ids, long button payloads
behind short keys) must not live in one worker's memory when ``chinwag run --workers`` runs
several.

``KeyStore.add(namespace, key, ttl)`` is the dedupe primitive: it stores the key and returns
True only for the first caller while the key lives, atomically across processes. ``put`` and
``get`` keep a value under a key for ``ttl`` seconds. Three backends, picked like the tracker
store (:func:`core.stores.factory.create_key_store`): a table in the embedded SQLite file,
a MongoDB collection whose ``expires_at`` has a TTL index, or memory (one process).
"""

from __future__ import annotations

import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from chinwag.core.stores.sqlite import SQLiteThread

T = TypeVar("T")
PURGE_EVERY = 1000  # writes between deletions of expired keys (SQLite rows, memory)


class KeyStore(ABC):
    """Keys (within a namespace such as ``slack:mybot``) with a value and an expiry."""

    @abstractmethod
    async def add(self, namespace: str, key: str, ttl: float, value: str = "") -> bool:
        """Store ``key`` unless it is there and unexpired; True when this call stored it."""

    @abstractmethod
    async def put(self, namespace: str, key: str, value: str, ttl: float) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds (replacing what was there)."""

    @abstractmethod
    async def get(self, namespace: str, key: str) -> str | None:
        """The unexpired value under ``key``, else None."""

    async def open(self) -> None:  # noqa: B027 - optional for stores without resources
        """Connect and prepare; raise StoreUnavailable when the store cannot work."""

    async def close(self) -> None:  # noqa: B027 - optional for stores without resources
        """Release connections and files."""


class MemoryKeyStore(KeyStore):
    """One process's keys (the in-memory tracker store's companion); ``clock`` for tests.

    An expired key is forgotten when it is next looked up, and every expired one every
    ``PURGE_EVERY`` writes: a Slack event id or Telegram update id is never looked up again,
    and without the purge each one would stay for as long as the process runs."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._keys: dict[tuple[str, str], tuple[str, float]] = {}
        self._writes = 0

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes % PURGE_EVERY == 0:
            now = self.clock()
            for item in [k for k, (_, expires) in self._keys.items() if expires <= now]:
                del self._keys[item]

    def _live(self, namespace: str, key: str) -> tuple[str, float] | None:
        item = self._keys.get((namespace, key))
        if item is not None and item[1] <= self.clock():
            del self._keys[(namespace, key)]
            return None
        return item

    async def add(self, namespace: str, key: str, ttl: float, value: str = "") -> bool:
        if self._live(namespace, key) is not None:
            return False
        self._keys[(namespace, key)] = (value, self.clock() + ttl)
        self._wrote()
        return True

    async def put(self, namespace: str, key: str, value: str, ttl: float) -> None:
        self._keys[(namespace, key)] = (value, self.clock() + ttl)
        self._wrote()

    async def get(self, namespace: str, key: str) -> str | None:
        item = self._live(namespace, key)
        return item[0] if item is not None else None


SCHEMA = """
CREATE TABLE IF NOT EXISTS channel_keys (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID
"""


class SQLiteKeyStore(KeyStore):
    """A ``channel_keys`` table (in the tracker store's SQLite file by default). ``add`` is one
    ``INSERT ... ON CONFLICT DO UPDATE ... WHERE expired`` statement, so of several processes
    adding one key exactly one sees a row change. Like the tracker store, every call runs on a
    thread of its own that owns the connection; expired rows are deleted every
    ``PURGE_EVERY`` writes."""

    def __init__(
        self,
        path: Path | str,
        *,
        busy_timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.clock = clock
        self._thread = SQLiteThread(
            self.path,
            schema=SCHEMA,
            what="SQLite key store",
            synchronous="NORMAL",
            busy_timeout=busy_timeout,
        )
        self._run = self._thread.run
        self._writes = 0

    def __repr__(self) -> str:
        return f"SQLiteKeyStore({str(self.path)!r})"

    def _write(self, db: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> int:
        changed = db.execute(sql, args).rowcount
        self._writes += 1
        if self._writes % PURGE_EVERY == 0:
            db.execute("DELETE FROM channel_keys WHERE expires_at <= ?", (self.clock(),))
        return changed

    async def open(self) -> None:
        await self._run(lambda db: None)

    async def add(self, namespace: str, key: str, ttl: float, value: str = "") -> bool:
        now = self.clock()
        sql = (
            "INSERT INTO channel_keys (namespace, key, value, expires_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, "
            "expires_at = excluded.expires_at WHERE channel_keys.expires_at <= ?"
        )
        args = (namespace, key, value, now + ttl, now)
        return await self._run(lambda db: self._write(db, sql, args)) == 1

    async def put(self, namespace: str, key: str, value: str, ttl: float) -> None:
        sql = (
            "INSERT OR REPLACE INTO channel_keys (namespace, key, value, expires_at) "
            "VALUES (?, ?, ?, ?)"
        )
        args = (namespace, key, value, self.clock() + ttl)
        await self._run(lambda db: self._write(db, sql, args))

    async def get(self, namespace: str, key: str) -> str | None:
        def read(db: sqlite3.Connection) -> str | None:
            row = db.execute(
                "SELECT value FROM channel_keys WHERE namespace = ? AND key = ? AND expires_at > ?",
                (namespace, key, self.clock()),
            ).fetchone()
            return row[0] if row else None

        return await self._run(read)

    async def close(self) -> None:
        await self._thread.close()


class MongoKeyStore(KeyStore):
    """Documents ``{_id: "<namespace>\\x00<key>", value, expires_at}``; a TTL index on
    ``expires_at`` lets the server delete expired ones (within about a minute), and every
    read also checks the expiry itself. ``add`` inserts and, on a duplicate ``_id``, takes
    the document over only if it has expired (one atomic ``find_one_and_update``)."""

    def __init__(
        self, url: str, *, db: str | None = None, collection: str = "channel_keys", **options: Any
    ) -> None:
        from chinwag.core.stores.mongo import database_name, mongo_client

        self.url = url
        self._client = mongo_client(url, options)
        self._keys = self._client[database_name(url, db)][collection]

    @staticmethod
    def _id(namespace: str, key: str) -> str:
        return f"{namespace}\x00{key}"

    async def open(self) -> None:
        from pymongo.errors import PyMongoError

        from chinwag.core.stores.mongo import mongo_error

        try:
            await self._client.admin.command("ping")
            await self._keys.create_index("expires_at", expireAfterSeconds=0, name="ttl")
        except PyMongoError as exc:
            raise mongo_error(self.url, exc, "preparing the channel key collection") from exc

    async def close(self) -> None:
        await self._client.close()

    async def add(self, namespace: str, key: str, ttl: float, value: str = "") -> bool:
        from pymongo.errors import DuplicateKeyError, PyMongoError

        from chinwag.core.stores.mongo import mongo_error

        now = datetime.now(UTC)
        document = {"value": value, "expires_at": now + timedelta(seconds=ttl)}
        _id = self._id(namespace, key)
        try:
            try:
                await self._keys.insert_one({"_id": _id, **document})
                return True
            except DuplicateKeyError:
                taken = await self._keys.find_one_and_update(
                    {"_id": _id, "expires_at": {"$lte": now}}, {"$set": document}
                )
                return taken is not None
        except PyMongoError as exc:
            raise mongo_error(self.url, exc, f"adding key '{key}'") from exc

    async def put(self, namespace: str, key: str, value: str, ttl: float) -> None:
        from pymongo.errors import PyMongoError

        from chinwag.core.stores.mongo import mongo_error

        expires = datetime.now(UTC) + timedelta(seconds=ttl)
        try:
            await self._keys.update_one(
                {"_id": self._id(namespace, key)},
                {"$set": {"value": value, "expires_at": expires}},
                upsert=True,
            )
        except PyMongoError as exc:
            raise mongo_error(self.url, exc, f"storing key '{key}'") from exc

    async def get(self, namespace: str, key: str) -> str | None:
        from pymongo.errors import PyMongoError

        from chinwag.core.stores.mongo import mongo_error

        try:
            document = await self._keys.find_one(
                {"_id": self._id(namespace, key), "expires_at": {"$gt": datetime.now(UTC)}}
            )
        except PyMongoError as exc:
            raise mongo_error(self.url, exc, f"reading key '{key}'") from exc
        return None if document is None else str(document["value"])
