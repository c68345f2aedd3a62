"""Tracker and lock stores from a bot's endpoints.yml (Rasa's ``tracker_store`` shape).

``tracker_store`` (Rasa keys): ``type: mongod|mongo`` with ``url``, ``db``, ``username``,
``password``, ``auth_source``, ``collection`` (and ``tls``, ``tls_ca_file``,
``tls_certificate_key_file``, ``tls_allow_invalid_certificates``, ``timeout_ms`` for server
selection, ``socket_timeout_ms`` for an answer);
``type: sql`` with ``dialect: sqlite`` and ``db`` (a path), or ``type: sqlite`` with ``db``
(and ``synchronous: normal|full``); ``type: memory|in_memory``. Without a ``tracker_store``
section, ``MONGODB_URL`` in the environment selects MongoDB; otherwise conversations live in
``<bot>/.chinwag/conversations.db``. ``lock_store``: ``type: file`` (the default: POSIX record
locks on ``<bot>/.chinwag/locks``, shared by every hub process on the machine; ``path``,
``wait_timeout``), ``type: in_memory`` (one process only) or ``type: mongod`` (``url``
defaults to the tracker store's MongoDB; ``lease_seconds``, ``wait_timeout``).

The stores are returned unopened: call ``await store.open()`` at start, which raises
:class:`~core.stores.base.StoreUnavailable` when the server cannot be reached or refuses
the credentials.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chinwag.core.stores.base import StoreError, TrackerStore
from chinwag.core.stores.cache import CachedTrackerStore
from chinwag.core.stores.keys import KeyStore, MemoryKeyStore, MongoKeyStore, SQLiteKeyStore
from chinwag.core.stores.locks import FileLockStore, InProcessLockStore, LockStore, MongoLockStore
from chinwag.core.stores.memory import InMemoryTrackerStore
from chinwag.core.stores.mongo import MongoTrackerStore
from chinwag.core.stores.sqlite import SQLiteTrackerStore

if TYPE_CHECKING:
    from chinwag.core.data.loader import Bot

DEFAULT_SQLITE = Path(".chinwag") / "conversations.db"
DEFAULT_LOCK_FILE = Path(".chinwag") / "locks"
FILE_LOCK_TYPES = ("file",)
MONGO_TYPES = ("mongod", "mongo")
SQLITE_TYPES = ("sqlite", "sql")
MEMORY_TYPES = ("memory", "in_memory")
TRACKER_TYPES = (*MONGO_TYPES, *SQLITE_TYPES, *MEMORY_TYPES)
# endpoints.yml key -> PyMongo client option
MONGO_OPTIONS = {
    "username": "username",
    "password": "password",
    "auth_source": "authSource",
    "tls": "tls",
    "tls_ca_file": "tlsCAFile",
    "tls_certificate_key_file": "tlsCertificateKeyFile",
    "tls_allow_invalid_certificates": "tlsAllowInvalidCertificates",
    "timeout_ms": "serverSelectionTimeoutMS",
    "socket_timeout_ms": "socketTimeoutMS",
}


class StoreConfigError(StoreError, ValueError):
    """The tracker_store / lock_store section of endpoints.yml cannot be used."""


def _mongo_options(section: Mapping[str, Any]) -> dict[str, Any]:
    return {option: section[key] for key, option in MONGO_OPTIONS.items() if key in section}


def _is_mongo_url(url: str) -> bool:
    return url.startswith(("mongodb://", "mongodb+srv://"))


def create_tracker_store(
    bot: Bot, *, env: Mapping[str, str] | None = None, cache: bool = True
) -> TrackerStore:
    """The bot's tracker store (unopened), behind a recent-trackers cache unless ``cache`` is
    False or the store is in memory anyway."""
    environ = os.environ if env is None else env
    section = bot.endpoints.get("tracker_store")
    if not section:
        url = environ.get("MONGODB_URL")
        store: TrackerStore = (
            MongoTrackerStore(url) if url else SQLiteTrackerStore(bot.path / DEFAULT_SQLITE)
        )
    else:
        store = _tracker_store(bot.path, section)
    if cache and not isinstance(store, InMemoryTrackerStore):
        return CachedTrackerStore(store)
    return store


def create_key_store(bot: Bot, *, env: Mapping[str, str] | None = None) -> KeyStore:
    """Where the bot's channels keep what they remember between requests (unopened): beside
    its conversations, so every hub process that shares them shares these too."""
    return key_store_beside(create_tracker_store(bot, env=env, cache=False))


def key_store_beside(store: TrackerStore) -> KeyStore:
    """A key store in ``store``'s SQLite file or MongoDB database (memory for memory)."""
    if isinstance(store, CachedTrackerStore):
        store = store.store
    if isinstance(store, SQLiteTrackerStore):
        return SQLiteKeyStore(store.path)
    if isinstance(store, MongoTrackerStore):
        return MongoKeyStore(store.url, db=store.db_name, **store.options)
    return MemoryKeyStore()


def _tracker_store(root: Path, section: Mapping[str, Any]) -> TrackerStore:
    key = "type" if "type" in section else "store_type"  # Rasa 1.x spelled it store_type
    kind = str(section.get(key) or "in_memory").lower()
    if kind not in TRACKER_TYPES:
        raise StoreConfigError(
            f"endpoints.yml: tracker_store: type '{kind}' is not supported "
            f"(expected one of {', '.join(TRACKER_TYPES)})"
        )
    if kind in MEMORY_TYPES:
        return InMemoryTrackerStore()
    if kind in MONGO_TYPES:
        url = section.get("url")
        if not isinstance(url, str) or not url:
            raise StoreConfigError(
                f"endpoints.yml: tracker_store: type {kind} needs a `url` (mongodb://host:27017)"
            )
        if not _is_mongo_url(url):  # Rasa accepted a bare host name here
            url = f"mongodb://{url}"
        return MongoTrackerStore(
            url,
            db=section.get("db"),
            collection=section.get("collection") or "conversation_events",
            **_mongo_options(section),
        )
    dialect = str(section.get("dialect") or "sqlite").lower()
    if kind == "sql" and dialect != "sqlite":
        raise StoreConfigError(
            f"endpoints.yml: tracker_store: SQL dialect '{dialect}' is not "
            "supported (use sqlite, or type: mongod)"
        )
    db = section.get("db") or str(DEFAULT_SQLITE)
    synchronous = str(section.get("synchronous") or "normal").upper()
    if synchronous not in ("NORMAL", "FULL"):
        raise StoreConfigError(
            f"endpoints.yml: tracker_store: synchronous must be normal "
            f"or full, found '{synchronous.lower()}'"
        )
    path = Path(db)
    return SQLiteTrackerStore(
        path if path.is_absolute() else root / path,
        synchronous="FULL" if synchronous == "FULL" else "NORMAL",
    )


def store_from_url(url: str, root: Path) -> TrackerStore:
    """A tracker store named on the command line: ``mongodb://...``, ``sqlite:///path`` or a
    ``.db`` path (relative to the bot), or ``memory``."""
    if _is_mongo_url(url):
        return MongoTrackerStore(url)
    if url in MEMORY_TYPES:
        return InMemoryTrackerStore()
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
    if url.startswith("sqlite:///") or path.endswith((".db", ".sqlite", ".sqlite3")):
        return SQLiteTrackerStore(Path(path) if Path(path).is_absolute() else root / path)
    raise StoreConfigError(
        f"store '{url}' not understood (expected mongodb://..., sqlite:///path, a .db file "
        "or memory)"
    )


def create_lock_store(bot: Bot, *, env: Mapping[str, str] | None = None) -> LockStore:
    """The bot's lock store (unopened): record locks on ``.chinwag/locks`` (every process of
    this machine) unless endpoints.yml asks for in-process locks or MongoDB's leases."""
    environ = os.environ if env is None else env
    section = bot.endpoints.get("lock_store") or {}
    kind = str(section.get("type") or "file").lower()
    wait_timeout = float(section.get("wait_timeout", 60))
    if kind in FILE_LOCK_TYPES:
        path = Path(section.get("path") or DEFAULT_LOCK_FILE)
        return FileLockStore(
            path if path.is_absolute() else bot.path / path, wait_timeout=wait_timeout
        )
    if kind in MEMORY_TYPES:
        return InProcessLockStore(wait_timeout=wait_timeout)
    if kind not in MONGO_TYPES:
        raise StoreConfigError(
            f"endpoints.yml: lock_store: type '{kind}' is not supported (expected file, "
            "in_memory or mongod; Rasa's redis lock store maps to mongod here)"
        )
    tracker = bot.endpoints.get("tracker_store") or {}
    url = section.get("url") or (
        tracker.get("url") if str(tracker.get("type")).lower() in MONGO_TYPES else None
    )
    url = url or environ.get("MONGODB_URL")
    if not url:
        raise StoreConfigError(
            f"endpoints.yml: lock_store: type {kind} needs a `url` "
            "(or a MongoDB tracker_store, or MONGODB_URL)"
        )
    if not _is_mongo_url(url):
        url = f"mongodb://{url}"
    options = _mongo_options(section) or (_mongo_options(tracker) if not section.get("url") else {})
    return MongoLockStore(
        url,
        db=section.get("db") or (tracker.get("db") if not section.get("url") else None),
        collection=section.get("collection") or "conversation_locks",
        lease_seconds=float(section.get("lease_seconds", 30)),
        wait_timeout=float(section.get("wait_timeout", 60)),
        **options,
    )
