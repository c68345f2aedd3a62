"""Stores from endpoints.yml: Rasa's tracker_store / lock_store shapes and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from chinwag.core.data.loader import load_bot
from chinwag.core.stores.cache import CachedTrackerStore
from chinwag.core.stores.factory import (
    StoreConfigError,
    create_lock_store,
    create_tracker_store,
    store_from_url,
)
from chinwag.core.stores.locks import FileLockStore, InProcessLockStore, MongoLockStore
from chinwag.core.stores.memory import InMemoryTrackerStore
from chinwag.core.stores.mongo import MongoTrackerStore
from chinwag.core.stores.sqlite import SQLiteTrackerStore


def bot_with(tmp_path: Path, endpoints: str | None) -> Path:
    (tmp_path / "domain.yml").write_text('version: "3.1"\nintents: [greet]\n')
    if endpoints is not None:
        (tmp_path / "endpoints.yml").write_text(endpoints)
    return tmp_path


def test_default_is_sqlite_under_dot_chinwag(tmp_path: Path) -> None:
    store = create_tracker_store(load_bot(bot_with(tmp_path, None)), env={})
    assert isinstance(store, CachedTrackerStore)
    assert isinstance(store.store, SQLiteTrackerStore)
    assert store.store.path == tmp_path / ".chinwag" / "conversations.db"
    locks = create_lock_store(load_bot(tmp_path), env={})
    assert isinstance(locks, FileLockStore)  # shared by every hub process of the machine
    assert locks.path == tmp_path / ".chinwag" / "locks"


def test_in_memory_lock_store_on_request(tmp_path: Path) -> None:
    bot = load_bot(bot_with(tmp_path, "lock_store:\n  type: in_memory\n  wait_timeout: 5\n"))
    locks = create_lock_store(bot, env={})
    assert isinstance(locks, InProcessLockStore)
    assert locks.wait_timeout == 5


def test_mongodb_url_from_the_environment(tmp_path: Path) -> None:
    bot = load_bot(bot_with(tmp_path, None))
    store = create_tracker_store(bot, env={"MONGODB_URL": "mongodb://db.example:27017/bots"})
    assert isinstance(store, CachedTrackerStore) and isinstance(store.store, MongoTrackerStore)
    assert store.store.db_name == "bots"


def test_rasa_mongo_section_with_auth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGO_PASSWORD", "s3cret")
    endpoints = """\
tracker_store:
  type: mongod
  url: mongodb://db.example:27017
  db: rasa
  username: bot
  password: ${MONGO_PASSWORD}
  auth_source: admin
  collection: events
  timeout_ms: 2000
  socket_timeout_ms: 1500
lock_store:
  type: mongod
  lease_seconds: 10
"""
    bot = load_bot(bot_with(tmp_path, endpoints))
    store = create_tracker_store(bot, cache=False, env={})
    assert isinstance(store, MongoTrackerStore)
    assert (store.db_name, store._events.name) == ("rasa", "events")
    options = store._client.options.pool_options._credentials
    assert options is not None
    assert (options.username, options.password, options.source) == ("bot", "s3cret", "admin")
    locks = create_lock_store(bot, env={})
    assert isinstance(locks, MongoLockStore) and locks.lease_seconds == 10
    assert locks._tickets.database.name == "rasa"
    for client in (store._client, locks._client):  # both bounded the same way
        assert client.options.server_selection_timeout == 2.0
        assert client.options.pool_options.socket_timeout == 1.5


def test_mongo_calls_are_bounded_by_default() -> None:
    store = MongoTrackerStore("mongodb://db.example:27017")
    assert store._client.options.server_selection_timeout == 5.0
    assert store._client.options.pool_options.socket_timeout == 20.0


def test_sqlite_and_memory_sections(tmp_path: Path) -> None:
    endpoints = "tracker_store:\n  type: sql\n  dialect: sqlite\n  db: data/talks.db\n"
    store = create_tracker_store(load_bot(bot_with(tmp_path, endpoints)), cache=False)
    assert isinstance(store, SQLiteTrackerStore)
    assert store.path == tmp_path / "data" / "talks.db"
    (tmp_path / "endpoints.yml").write_text("tracker_store:\n  type: in_memory\n")
    assert isinstance(create_tracker_store(load_bot(tmp_path)), InMemoryTrackerStore)


@pytest.mark.parametrize(
    ("endpoints", "message"),
    [
        (
            "tracker_store:\n  type: redis\n",
            "endpoints.yml: tracker_store: type 'redis' is not supported (expected one of "
            "mongod, mongo, sqlite, sql, memory, in_memory)",
        ),
        ("tracker_store:\n  type: mongod\n", "tracker_store: type mongod needs a `url`"),
        (
            "tracker_store:\n  type: sql\n  dialect: postgresql\n",
            "endpoints.yml: tracker_store: SQL dialect 'postgresql' is not supported",
        ),
        ("tracker_store:\n  type: sqlite\n  synchronous: off\n", "synchronous must be normal"),
    ],
)
def test_config_errors_are_clear(tmp_path: Path, endpoints: str, message: str) -> None:
    with pytest.raises(StoreConfigError) as caught:
        create_tracker_store(load_bot(bot_with(tmp_path, endpoints)), env={})
    assert message in str(caught.value)


def test_lock_store_errors(tmp_path: Path) -> None:
    bot = load_bot(bot_with(tmp_path, "lock_store:\n  type: redis\n"))
    with pytest.raises(StoreConfigError, match="type 'redis' is not supported"):
        create_lock_store(bot, env={})
    bot = load_bot(bot_with(tmp_path, "lock_store:\n  type: mongod\n"))
    with pytest.raises(StoreConfigError, match="needs a `url`"):
        create_lock_store(bot, env={})


def test_store_urls(tmp_path: Path) -> None:
    assert isinstance(store_from_url("mongodb://h:1", tmp_path), MongoTrackerStore)
    sqlite = store_from_url("sqlite:///other.db", tmp_path)
    assert isinstance(sqlite, SQLiteTrackerStore) and sqlite.path == tmp_path / "other.db"
    assert isinstance(store_from_url("memory", tmp_path), InMemoryTrackerStore)
    with pytest.raises(StoreConfigError, match="store 'redis://x' not understood"):
        store_from_url("redis://x", tmp_path)
