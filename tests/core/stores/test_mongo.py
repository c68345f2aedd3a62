"""MongoDB specifics against a real MongoDB-wire server: start-up errors and the lease lock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest

from chinwag.core.events import UserUttered
from chinwag.core.stores.base import StoreUnavailable
from chinwag.core.stores.locks import LockTimeout, MongoLockStore
from chinwag.core.stores.mongo import MongoTrackerStore


async def test_unreachable_server_is_a_clear_error_within_seconds() -> None:
    store = MongoTrackerStore("mongodb://127.0.0.1:1", serverSelectionTimeoutMS=500)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match=r"MongoDB at 127\.0\.0\.1:1: server unreachable"):
        await store.open()
    assert time.monotonic() - started < 5
    await store.close()


async def test_refused_credentials_are_a_clear_error(mongodb_url: str, mongo_db: str) -> None:
    store = MongoTrackerStore(mongodb_url, db=mongo_db, username="bob", password="wrong")
    with pytest.raises(StoreUnavailable, match=r"authentication failed .*auth_source"):
        await store.open()
    await store.close()


async def test_one_document_per_event(mongodb_url: str, mongo_db: str) -> None:
    store = MongoTrackerStore(mongodb_url, db=mongo_db)
    await store.open()
    await store.append("c", [UserUttered("hi", timestamp=5.0), UserUttered("ho")], 0)
    docs = await store._events.find({}, {"_id": 0}).sort("seq", 1).to_list()
    assert [(d["conversation_id"], d["seq"], d["type"]) for d in docs] == [
        ("c", 0, "user"),
        ("c", 1, "user"),
    ]
    assert docs[0]["timestamp"] == 5.0 and docs[0]["event"]["text"] == "hi"
    indexes = await store._events.index_information()
    assert indexes["conversation_seq"]["unique"] is True
    await store.drop()
    await store.close()


LockFactory = Callable[..., MongoLockStore]


@pytest.fixture
async def make_locks(mongodb_url: str, mongo_db: str) -> AsyncIterator[LockFactory]:
    """Lock stores on one database: each one stands for a hub process."""
    made: list[MongoLockStore] = []

    def make(**kwargs: float) -> MongoLockStore:
        store = MongoLockStore(mongodb_url, db=mongo_db, **kwargs)  # type: ignore[arg-type]
        made.append(store)
        return store

    yield make
    for store in made:
        await store.close()


async def test_two_processes_exclude_each_other_in_arrival_order(make_locks: LockFactory) -> None:
    one, two = make_locks(), make_locks()
    await one.open()
    await two.open()
    order: list[str] = []
    inside = 0

    async def message(locks: MongoLockStore, name: str, hold: float) -> None:
        nonlocal inside
        async with locks.lock("c"):
            inside += 1
            assert inside == 1, "two holders at once"
            order.append(name)
            await asyncio.sleep(hold)
            inside -= 1

    first = asyncio.create_task(message(one, "first", 0.3))
    await asyncio.sleep(0.1)  # first holds the lock
    waiting = []
    for name, locks in (("second", two), ("third", one), ("fourth", two)):
        waiting.append(asyncio.create_task(message(locks, name, 0.0)))
        await asyncio.sleep(0.05)  # each takes its ticket before the next arrives
    async with two.lock("other"):  # another conversation is not blocked
        order.append("other")
    await asyncio.gather(first, *waiting)
    assert order == ["first", "other", "second", "third", "fourth"]
    assert await one._tickets.count_documents({}) == 0  # every ticket released


async def test_a_crashed_holders_lease_expires(make_locks: LockFactory) -> None:
    locks = make_locks()
    await locks.open()
    # what a hub killed while holding the lock leaves behind: its ticket, with its lease
    await locks._counters.insert_one({"_id": "c", "next": 1})
    expires = datetime.now(UTC) + timedelta(seconds=0.6)
    await locks._tickets.insert_one({"conversation_id": "c", "ticket": 1, "expires_at": expires})
    started = time.monotonic()
    async with locks.lock("c"):
        waited = time.monotonic() - started
    assert 0.4 < waited < 5


async def test_a_ticket_already_at_the_drawn_number_never_stops_a_message(
    make_locks: LockFactory,
) -> None:
    """A server that hands out a number twice (or a database with tickets left over) must not
    turn into a 503: an expired ticket at our number is taken over, a live one is waited for."""
    locks = make_locks(wait_timeout=10)
    await locks.open()
    now = datetime.now(UTC)
    await locks._tickets.insert_many(
        [
            {"conversation_id": "old", "ticket": 1, "expires_at": now - timedelta(seconds=5)},
            {"conversation_id": "live", "ticket": 1, "expires_at": now + timedelta(seconds=0.5)},
        ]
    )
    async with locks.lock("old"):  # the expired ticket 1 is taken over
        assert await locks._counters.find_one({"_id": "old"}) == {"_id": "old", "next": 1}
    started = time.monotonic()
    async with locks.lock("live"):  # draws ticket 2 and waits behind the live ticket 1
        waited = time.monotonic() - started
        live = {"conversation_id": "live", "expires_at": {"$gt": datetime.now(UTC)}}
        assert [t["ticket"] for t in await locks._tickets.find(live).to_list()] == [2]
    assert waited > 0.2
    assert await locks._tickets.count_documents({"conversation_id": "old"}) == 0


async def test_waiting_too_long_is_a_lock_timeout(
    make_locks: LockFactory, caplog: pytest.LogCaptureFixture
) -> None:
    holder, waiter = make_locks(), make_locks(wait_timeout=0.5)
    await holder.open()
    async with holder.lock("c"):
        with pytest.raises(LockTimeout, match=r"stayed locked for more than 0\.5 s"):
            async with waiter.lock("c"):
                pass
    assert "waited 0.5 s for the lock" in caplog.text
    async with waiter.lock("c"):  # the timed-out ticket does not block anyone
        pass


async def test_a_long_holder_keeps_its_lease(make_locks: LockFactory) -> None:
    holder, other = make_locks(lease_seconds=0.6), make_locks(wait_timeout=0.3)
    await holder.open()
    async with holder.lock("c"):
        await asyncio.sleep(1.0)  # longer than the lease: renewed meanwhile
        with pytest.raises(LockTimeout):
            async with other.lock("c"):
                pass


async def test_releasing_lets_the_renewer_finish_instead_of_cancelling_it(
    make_locks: LockFactory,
) -> None:
    # a cancel landing inside a PyMongo call can wedge the client on Python 3.11 (see
    # MongoLockStore): the renewer is told to stop and ends by itself
    locks = make_locks(lease_seconds=0.3)
    await locks.open()
    async with locks.lock("c"):
        renewers = set(locks._renewers)
        await asyncio.sleep(0.35)  # a few renewals ran
        ticket = await locks._tickets.find_one({"conversation_id": "c"})
        assert ticket is not None
        assert ticket["expires_at"].replace(tzinfo=UTC) > datetime.now(UTC)
    assert len(renewers) == 1
    await asyncio.gather(*renewers)
    assert not any(task.cancelled() for task in renewers)
    assert not locks._renewers
    assert await locks._tickets.count_documents({}) == 0
