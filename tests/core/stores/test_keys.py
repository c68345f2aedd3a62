"""Key stores: what channels remember between requests, shared by every hub process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from chinwag.core.data.loader import load_bot
from chinwag.core.stores import keys as keys_module
from chinwag.core.stores.factory import create_key_store, key_store_beside
from chinwag.core.stores.keys import KeyStore, MemoryKeyStore, MongoKeyStore, SQLiteKeyStore
from chinwag.core.stores.mongo import MongoTrackerStore

KeyStoreFactory = Callable[[], KeyStore]


@pytest.fixture(params=["memory", "sqlite", "mongo"])
async def make_keys(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[KeyStoreFactory]:
    """Makes opened key stores of one kind sharing one database (as two processes would)."""
    opened: list[KeyStore] = []
    memory = MemoryKeyStore()
    url = db = ""
    if request.param == "mongo":
        url = request.getfixturevalue("mongodb_url")
        db = request.getfixturevalue("mongo_db")

    def make() -> KeyStore:
        if request.param == "memory":
            return memory
        store: KeyStore = (
            SQLiteKeyStore(tmp_path / "conversations.db")
            if request.param == "sqlite"
            else MongoKeyStore(url, db=db)
        )
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()


async def opened(make: KeyStoreFactory) -> KeyStore:
    store = make()
    await store.open()
    return store


async def test_a_key_is_added_once_across_stores(make_keys: KeyStoreFactory) -> None:
    one, two = await opened(make_keys), await opened(make_keys)
    assert await one.add("slack:bot", "Ev1", 60)
    assert not await two.add("slack:bot", "Ev1", 60)  # the other process saw it
    assert not await one.add("slack:bot", "Ev1", 60)
    assert await two.add("slack:other", "Ev1", 60)  # namespaces are apart
    assert await two.add("slack:bot", "Ev2", 60)


async def test_of_concurrent_adds_exactly_one_wins(make_keys: KeyStoreFactory) -> None:
    stores = [await opened(make_keys), await opened(make_keys)]
    results = await asyncio.gather(*(stores[i % 2].add("tg", "42", 60) for i in range(10)))
    assert sorted(results) == [False] * 9 + [True]


async def test_an_expired_key_can_be_added_again(make_keys: KeyStoreFactory) -> None:
    one, two = await opened(make_keys), await opened(make_keys)
    assert await one.add("tg", "7", -1)  # expired as soon as it is stored
    assert await two.add("tg", "7", 60)
    assert not await one.add("tg", "7", 60)


async def test_values_are_shared_until_they_expire(make_keys: KeyStoreFactory) -> None:
    one, two = await opened(make_keys), await opened(make_keys)
    assert await two.get("payload", "k1") is None
    await one.put("payload", "k1", '/order{"item": "a very long payload"}', 60)
    assert await two.get("payload", "k1") == '/order{"item": "a very long payload"}'
    await two.put("payload", "k1", "replaced", 60)
    assert await one.get("payload", "k1") == "replaced"
    await one.put("payload", "k2", "gone", -1)
    assert await two.get("payload", "k2") is None


async def test_the_memory_store_forgets_expired_keys_nobody_asks_for_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Slack event ids and Telegram update ids are added once and never looked up again: the
    expired ones go every ``PURGE_EVERY`` writes, so a long-running process's keys stay the
    live ones."""
    monkeypatch.setattr(keys_module, "PURGE_EVERY", 10)
    now = [1000.0]
    store = MemoryKeyStore(clock=lambda: now[0])
    for update in range(95):  # one a second, each kept 30 s
        assert await store.add("telegram:bot", str(update), 30)
        now[0] += 1
    assert len(store._keys) <= 30 + 10  # the live ones and at most one purge's worth more
    assert not await store.add("telegram:bot", "94", 30)  # a live one is still there
    assert await store.add("telegram:bot", "10", 30)  # an expired one can come again


async def test_the_key_store_lives_beside_the_conversations(tmp_path: Path) -> None:
    (tmp_path / "domain.yml").write_text('version: "3.1"\n', encoding="utf-8")
    keys = create_key_store(load_bot(tmp_path), env={})
    assert isinstance(keys, SQLiteKeyStore)
    assert keys.path == tmp_path / ".chinwag" / "conversations.db"
    mongo = key_store_beside(MongoTrackerStore("mongodb://db.example:27017", db="bots"))
    assert isinstance(mongo, MongoKeyStore)
    await mongo.close()
