"""Tracker stores for the contract suite: memory, SQLite and a real MongoDB-wire server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from chinwag.core.stores.base import TrackerStore
from chinwag.core.stores.memory import InMemoryTrackerStore
from chinwag.core.stores.mongo import MongoTrackerStore
from chinwag.core.stores.sqlite import SQLiteTrackerStore

StoreFactory = Callable[[], TrackerStore]


@pytest.fixture(params=["memory", "sqlite", "mongo"])
async def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Makes stores of one kind that share one backing database (two "processes")."""
    opened: list[TrackerStore] = []
    memory = InMemoryTrackerStore()
    db = ""
    if request.param == "mongo":
        url: str = request.getfixturevalue("mongodb_url")
        db = request.getfixturevalue("mongo_db")

    def make() -> TrackerStore:
        store: TrackerStore
        if request.param == "memory":
            return memory
        if request.param == "sqlite":
            store = SQLiteTrackerStore(tmp_path / "conversations.db")
        else:
            store = MongoTrackerStore(url, db=db)
        opened.append(store)
        return store

    yield make
    for store in opened:
        if isinstance(store, MongoTrackerStore) and store is opened[0]:
            await store.drop()
        await store.close()


@pytest.fixture
async def store(make_store: StoreFactory) -> TrackerStore:
    store = make_store()
    await store.open()
    return store
