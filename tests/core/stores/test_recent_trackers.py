"""The agent keeps recent trackers in memory, but the store stays the truth: what other agents
(or processes) appended is applied, a history that changed under it is reloaded, and a
message whose events did not reach the store leaves nothing cached."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from chinwag.core.agent import Agent, UserMessage, load_agent
from chinwag.core.events import ActionExecuted, Event, SlotSet, UserUttered
from chinwag.core.stores.base import StoreError
from chinwag.core.stores.cache import CachedTrackerStore, RecentTrackers
from chinwag.core.stores.memory import InMemoryTrackerStore
from chinwag.core.stores.sqlite import SQLiteTrackerStore
from chinwag.core.tracker import Tracker
from tests.core.test_agent import Clock, make_bot
from tests.core.test_tracker import make_domain


def twin(agent: Agent, store: SQLiteTrackerStore | CachedTrackerStore) -> Agent:
    """A second agent of the same bot with its own store connection (another process)."""
    return Agent(agent.domain, agent.policies, agent.interpreter, agent.registry, store=store)


@pytest.mark.parametrize("cached_store", [False, True])
async def test_two_agents_on_one_store_see_each_others_messages(
    tmp_path: Path, cached_store: bool
) -> None:
    db = tmp_path / "conversations.db"

    def store() -> SQLiteTrackerStore | CachedTrackerStore:
        sqlite = SQLiteTrackerStore(db)
        return CachedTrackerStore(sqlite) if cached_store else sqlite

    first = load_agent(make_bot(tmp_path), store=store(), clock=Clock())
    second = twin(first, store())
    assert await second.handle(UserMessage("hello", "c")) == [
        {"text": "Hello None!", "buttons": [{"title": "Again", "payload": "/greet"}]}
    ]
    assert await first.handle(UserMessage("I am Ann", "c")) == [{"text": "Noted."}]
    # the second agent's kept tracker is behind the store: it must catch up first
    replies = await second.handle(UserMessage("hello", "c"))
    assert [r["text"] for r in replies] == ["Hello Ann!"]
    assert await first.handle(UserMessage("I am Bo", "c")) == [{"text": "Noted."}]
    assert [r["text"] for r in await second.handle(UserMessage("hello", "c"))] == ["Hello Bo!"]

    stored = await SQLiteTrackerStore(db).load("c")
    for agent in (first, second):
        tracker = await agent.load_tracker("c")
        assert tracker.events == stored
        assert tracker.current_state("all") == Tracker("c", agent.domain, stored).current_state(
            "all"
        )
    await first.close()
    await second.close()


async def test_load_tracker_hands_out_a_copy(tmp_path: Path) -> None:
    agent = load_agent(make_bot(tmp_path), store=InMemoryTrackerStore(), clock=Clock())
    await agent.handle(UserMessage("I am Ann", "c"))
    mine = await agent.load_tracker("c")
    mine.update(SlotSet("name", "Zed"))  # never stored
    assert (await agent.load_tracker("c")).get_slot("name") == "Ann"
    assert [r["text"] for r in await agent.handle(UserMessage("hello", "c"))] == ["Hello Ann!"]


class FailingOnce(InMemoryTrackerStore):
    def __init__(self) -> None:
        super().__init__()
        self.fail_next = False

    async def append(self, conversation_id: str, events: Sequence[Event], start_seq: int) -> None:
        if self.fail_next:
            self.fail_next = False
            raise StoreError("disk full")
        await super().append(conversation_id, events, start_seq)


async def test_a_message_that_was_not_stored_is_not_remembered(tmp_path: Path) -> None:
    store = FailingOnce()
    agent = load_agent(make_bot(tmp_path), store=store, clock=Clock())
    await agent.handle(UserMessage("hello", "c"))
    stored = len(await store.load("c"))
    store.fail_next = True
    with pytest.raises(StoreError):
        await agent.handle(UserMessage("I am Ann", "c"))
    assert len(await store.load("c")) == stored
    assert [r["text"] for r in await agent.handle(UserMessage("hello", "c"))] == ["Hello None!"]
    assert (await agent.load_tracker("c")).events == await store.load("c")


def listen_and_say(text: str) -> list[Event]:
    return [ActionExecuted("action_listen"), UserUttered(text, {"name": "greet"})]


async def test_a_history_that_changed_in_the_store_is_reloaded() -> None:
    domain = make_domain()
    cache = RecentTrackers()
    kept = Tracker("c", domain, [*listen_and_say("hi"), SlotSet("cuisine", "thai")])
    cache.put(kept)
    # the store holds as many events, but another last one (e.g. the file was replaced)
    store = InMemoryTrackerStore()
    await store.append("c", [*listen_and_say("hi"), SlotSet("cuisine", "greek")], 0)
    tracker = await cache.load(store, "c", domain)
    assert tracker is not kept
    assert tracker.get_slot("cuisine") == "greek"

    # fewer events stored than kept: reloaded too
    cache.put(kept)
    shorter = InMemoryTrackerStore()
    events = listen_and_say("hi")
    await shorter.append("c", events, 0)
    tracker = await cache.load(shorter, "c", domain)
    assert tracker.events == events
    assert tracker.get_slot("cuisine") is None


async def test_a_kept_tracker_is_extended_with_the_stored_tail() -> None:
    domain = make_domain()
    cache = RecentTrackers(max_conversations=1)
    store = InMemoryTrackerStore()
    await store.append("c", listen_and_say("hi"), 0)
    kept = await cache.load(store, "c", domain)
    cache.put(kept)
    await store.append("c", [SlotSet("cuisine", "thai")], 2)
    tracker = await cache.load(store, "c", domain)
    assert tracker is kept
    assert tracker.get_slot("cuisine") == "thai"
    assert tracker.events == await store.load("c")
    # bounded: another conversation pushes the first one out
    cache.put(tracker)
    await store.append("d", listen_and_say("yo"), 0)
    cache.put(await cache.load(store, "d", domain))
    assert await cache.load(store, "c", domain) is not tracker


def test_only_the_hot_conversations_keep_their_memos() -> None:
    domain = make_domain()
    cache = RecentTrackers(max_conversations=3, hot_conversations=2)
    trackers = {c: Tracker(c, domain, listen_and_say("hi")) for c in "abcd"}
    for tracker in trackers.values():
        tracker.memo["states"] = "replayed"
        tracker.derived("latest", lambda: "computed")
    for c in "abc":
        cache.put(trackers[c])
    # a is the least recently used: cooled, still kept
    assert [bool(trackers[c].memo) for c in "abc"] == [False, True, True]
    assert trackers["a"].derived("latest", lambda: "again") == "again"
    assert len(cache) == 3
    # b used again: hot until two others are used after it
    cache.put(trackers["b"])
    cache.put(trackers["d"])
    assert [bool(trackers[c].memo) for c in "bcd"] == [True, False, True]
    assert len(cache) == 3  # a, the coldest, made room for d
    # c, cooled, is used again (its states replayed): hot, so b cools, then d when b is back
    trackers["c"].memo["states"] = "replayed again"
    cache.put(trackers["c"])
    cache.put(trackers["b"])
    assert [bool(trackers[c].memo) for c in "bcd"] == [False, True, False]


async def test_a_cooled_tracker_is_still_taken_from_the_cache() -> None:
    domain = make_domain()
    cache = RecentTrackers(max_conversations=2, hot_conversations=1)
    store = InMemoryTrackerStore()
    kept = {}
    for c in "ab":
        await store.append(c, listen_and_say("hi"), 0)
        kept[c] = await cache.load(store, c, domain)
        cache.put(kept[c])
    await store.append("a", [SlotSet("cuisine", "thai")], 2)
    cooled = await cache.load(store, "a", domain)
    assert cooled is kept["a"]
    assert cooled.events == await store.load("a")
    assert cooled.get_slot("cuisine") == "thai"
