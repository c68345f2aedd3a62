import asyncio

import pytest

from chinwag.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from chinwag.core.stores.locks import InProcessLockStore, LockStore, LockTimeout
from chinwag.core.stores.memory import InMemoryTrackerStore


async def test_append_is_idempotent_by_seq() -> None:
    store = InMemoryTrackerStore()
    first = [ActionExecuted("action_listen"), UserUttered("hi")]
    await store.append("c1", first, 0)
    await store.append("c1", first, 0)  # a retry: no duplicate
    more = [ActionExecuted("utter_greet")]
    await store.append("c1", [*first, *more][1:], 1)  # overlapping retry
    assert await store.load("c1") == [*first, *more]
    assert await store.ids() == ["c1"]
    assert await store.load("unknown") == []


async def test_a_gap_is_refused() -> None:
    store = InMemoryTrackerStore()
    with pytest.raises(ValueError, match="cannot append at 3"):
        await store.append("c1", [UserUttered("hi")], 3)


async def test_latest_session_keeps_its_session_start_action() -> None:
    store = InMemoryTrackerStore()
    events = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        SlotSet("a", 1),
        ActionExecuted("action_session_start"),
        SessionStarted(),
        UserUttered("hi"),
    ]
    await store.append("c", events, 0)
    assert await store.load_latest_session("c") == events[3:]


async def test_lock_serializes_in_arrival_order() -> None:
    locks = InProcessLockStore()
    await assert_arrival_order(locks)
    assert locks._locks == {}  # nothing kept once nobody waits


async def assert_arrival_order(locks: LockStore) -> None:
    """Messages waiting for a conversation's lock get it in arrival order; another
    conversation is not blocked meanwhile."""
    order: list[str] = []
    release = asyncio.Event()

    async def first() -> None:
        async with locks.lock("c"):
            order.append("first in")
            await release.wait()
            order.append("first out")

    async def later(name: str) -> None:
        async with locks.lock("c"):
            order.append(name)

    tasks = [asyncio.create_task(first())]
    await asyncio.sleep(0)
    tasks += [asyncio.create_task(later(n)) for n in ("second", "third")]
    await asyncio.sleep(0)
    async with locks.lock("other"):  # another conversation is not blocked
        order.append("other")
    release.set()
    await asyncio.gather(*tasks)
    assert order == ["first in", "other", "first out", "second", "third"]


async def test_waiting_too_long_is_a_clear_timeout() -> None:
    locks = InProcessLockStore(wait_timeout=0.05)
    async with locks.lock("c"):
        with pytest.raises(LockTimeout, match="conversation 'c' stayed locked"):
            async with locks.lock("c"):
                pass
