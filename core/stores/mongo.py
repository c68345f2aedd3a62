"""The MongoDB tracker store: one document per event, through PyMongo's asyncio API.

Documents are ``{conversation_id, seq, type, timestamp, event}`` with a unique index on
``(conversation_id, seq)``, never one growing document per conversation (Rasa's shape, capped
at 16 MB and rewritten on every message). An append inserts its events with
``insert_many(ordered=False)``; a number that is already stored fails that one insert with a
duplicate-key error, which is the expected answer to a retry and is ignored.

Sharding: shard the collection on ``{conversation_id: 1}`` (ranged). The unique index
``(conversation_id, seq)`` starts with the shard key, as MongoDB requires of unique indexes on
a sharded collection, and every read and append touches one conversation, hence one shard. A
hashed shard key cannot carry that unique index.

``open()`` pings the server and creates the indexes (the write test): an unreachable server
or refused credentials raise :class:`StoreUnavailable` naming the host and the cause within
``server_selection_timeout_ms``, where Rasa's store failed silently. Later failures raise
:class:`StoreUnavailable` too; the hub answers 503 and nothing acknowledged is lost.

No operation is ever bounded by cancelling its task (``asyncio.timeout``, ``Task.cancel``):
on Python 3.11 that can wedge PyMongo's asyncio client for good (see
:class:`~core.stores.locks.MongoLockStore`). The client's own timeouts bound each call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import (
    BulkWriteError,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)
from pymongo.uri_parser import parse_uri

from chinwag.core.events import Event
from chinwag.core.stores.base import (
    SeqIndexedStore,
    SequenceGap,
    StoreError,
    StoreUnavailable,
    storable,
    stored_event,
)

DEFAULT_DB = "chinwag"
DEFAULT_COLLECTION = "conversation_events"
DUPLICATE_KEY = 11000
AUTH_FAILED = 18
UNAUTHORIZED = 13


def mongo_hosts(url: str) -> str:
    """``host:port`` list of a MongoDB URL, for messages (never the credentials)."""
    try:
        nodes = parse_uri(url, warn=True)["nodelist"]
    except (PyMongoError, ValueError):
        return "(unparsable MongoDB URL)"
    return ",".join(f"{host}:{port}" for host, port in nodes) or url.split("@")[-1]


def mongo_error(url: str, exc: Exception, doing: str) -> StoreUnavailable:
    """A clear StoreUnavailable for a PyMongo error: which server, what failed, why."""
    hosts = mongo_hosts(url)
    if isinstance(exc, OperationFailure) and exc.code in (AUTH_FAILED, UNAUTHORIZED):
        why = "authentication failed" if exc.code == AUTH_FAILED else "not authorized"
        return StoreUnavailable(
            f"MongoDB at {hosts}: {why} while {doing} (check username, password and "
            f"auth_source): {exc.details.get('errmsg') if exc.details else exc}"
        )
    if isinstance(exc, ServerSelectionTimeoutError):
        return StoreUnavailable(f"MongoDB at {hosts}: server unreachable while {doing}: {exc}")
    return StoreUnavailable(f"MongoDB at {hosts}: {doing} failed: {exc}")


def mongo_client(url: str, options: dict[str, Any]) -> AsyncMongoClient[dict[str, Any]]:
    """An AsyncMongoClient; ``options`` (username, password, authSource, tls...) pass through.

    No connection is made here: the first operation (``open()``'s ping) connects. Every
    operation is bounded by the client's timeouts (PyMongo's default socket timeout is none: a
    server that stops answering without closing its connections would hang the request).
    Never bound one by cancelling its task instead (see :class:`MongoLockStore`).
    """
    settings: dict[str, Any] = {
        "serverSelectionTimeoutMS": 5000,
        "connectTimeoutMS": 5000,
        "socketTimeoutMS": 20000,
    }
    settings.update({k: v for k, v in options.items() if v is not None})
    return AsyncMongoClient(url, **settings)


def database_name(url: str, db: str | None) -> str:
    """``db`` when given, else the database in the URL path, else ``chinwag``."""
    if db:
        return db
    try:
        return parse_uri(url, warn=True).get("database") or DEFAULT_DB
    except (PyMongoError, ValueError):
        return DEFAULT_DB


class MongoTrackerStore(SeqIndexedStore):
    """Events as documents in one MongoDB collection, keyed by (conversation_id, seq)."""

    def __init__(
        self,
        url: str,
        *,
        db: str | None = None,
        collection: str = DEFAULT_COLLECTION,
        **options: Any,
    ) -> None:
        self.url = url
        self.options = options  # the client options, for a key store on the same server
        self._client = mongo_client(url, options)
        self.db_name = database_name(url, db)
        self._events: AsyncCollection[dict[str, Any]] = self._client[self.db_name][collection]

    def __repr__(self) -> str:
        return f"MongoTrackerStore({mongo_hosts(self.url)}, {self.db_name}.{self._events.name})"

    async def open(self) -> None:
        try:
            await self._client.admin.command("ping")
        except PyMongoError as exc:
            raise mongo_error(self.url, exc, "connecting") from exc
        try:
            await self._events.create_index(
                [("conversation_id", ASCENDING), ("seq", ASCENDING)],
                unique=True,
                name="conversation_seq",
            )
            await self._events.create_index([("timestamp", ASCENDING)], name="timestamp")
        except OperationFailure as exc:
            if exc.code == DUPLICATE_KEY:
                raise StoreUnavailable(
                    f"MongoDB at {mongo_hosts(self.url)}: collection "
                    f"{self.db_name}.{self._events.name} holds documents of another shape "
                    "(Rasa's one-document-per-conversation?); give chinwag its own collection"
                ) from exc
            raise mongo_error(self.url, exc, "creating indexes") from exc
        except PyMongoError as exc:
            raise mongo_error(self.url, exc, "creating indexes") from exc

    async def append(self, conversation_id: str, events: Sequence[Event], start_seq: int) -> None:
        if not events:
            return
        forms = [storable(conversation_id, start_seq + i, e) for i, e in enumerate(events)]
        try:
            # the numbers run 0, 1, 2... without holes (every append checks this), so the event
            # before ours being stored is the whole check: one point read on the index, not a
            # sort of the conversation (which a MongoDB-wire server may do by fetching it all)
            if start_seq > 0 and not await self._events.find_one(
                {"conversation_id": conversation_id, "seq": start_seq - 1}, {"_id": 1}
            ):
                last = await self._events.find_one(
                    {"conversation_id": conversation_id},
                    {"seq": 1, "_id": 0},
                    sort=[("seq", DESCENDING)],
                )
                raise SequenceGap(conversation_id, last["seq"] + 1 if last else 0, start_seq)
            documents = [
                {
                    "conversation_id": conversation_id,
                    "seq": start_seq + i,
                    "type": event.type_name,
                    "timestamp": event.timestamp,
                    "event": form.data,
                }
                for i, (event, form) in enumerate(zip(events, forms, strict=True))
            ]
            # numbers already stored (a retry) are duplicate keys, left as they are (below)
            await self._events.insert_many(documents, ordered=False)
        except BulkWriteError as exc:
            other = [e for e in exc.details["writeErrors"] if e["code"] != DUPLICATE_KEY]
            if other:  # a retry's duplicates are fine; anything else is not
                raise StoreError(
                    f"MongoDB at {mongo_hosts(self.url)}: storing conversation "
                    f"'{conversation_id}' failed: {other[0].get('errmsg')}"
                ) from exc
        except PyMongoError as exc:
            raise mongo_error(self.url, exc, f"storing conversation '{conversation_id}'") from exc

    async def load_numbered_from(
        self, conversation_id: str, start_seq: int
    ) -> list[tuple[int, Event]]:
        query: dict[str, Any] = {"conversation_id": conversation_id}
        if start_seq:
            query["seq"] = {"$gte": start_seq}
        try:
            cursor = self._events.find(query, {"seq": 1, "event": 1, "_id": 0}).sort("seq", 1)
            documents = await cursor.to_list()
        except PyMongoError as exc:
            raise mongo_error(self.url, exc, f"loading conversation '{conversation_id}'") from exc
        out = []
        for doc in documents:
            seq = doc.get("seq")
            if not isinstance(seq, int):
                raise StoreError(f"conversation '{conversation_id}' has an event without a seq")
            out.append((seq, stored_event(conversation_id, seq, doc.get("event"))))
        return out

    async def ids(self) -> list[str]:
        pipeline: list[dict[str, Any]] = [
            {"$group": {"_id": "$conversation_id"}},
            {"$sort": {"_id": 1}},
        ]
        try:
            cursor = await self._events.aggregate(pipeline)
            return [doc["_id"] async for doc in cursor]
        except PyMongoError as exc:
            raise mongo_error(self.url, exc, "listing conversations") from exc

    async def drop(self) -> None:
        """Delete every stored event (tests and benchmarks)."""
        await self._events.drop()

    async def close(self) -> None:
        await self._client.close()
