"""The tracker-store contract, run against memory, SQLite and MongoDB (secantusdb)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any

import pytest

from chinwag.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UnreadableEvent,
    UserUttered,
)
from chinwag.core.stores.base import SequenceGap, TrackerStore, UnstorableEvent
from chinwag.core.stores.cache import CachedTrackerStore
from chinwag.core.stores.memory import InMemoryTrackerStore
from chinwag.core.stores.mongo import MongoTrackerStore
from chinwag.core.stores.sqlite import SQLiteTrackerStore
from tests.core.stores.conftest import StoreFactory


def turn(text: str, t: float) -> list[Event]:
    return [
        UserUttered(
            text, intent={"name": "greet", "confidence": 0.9}, timestamp=t, message_id="m1"
        ),
        ActionExecuted("utter_greet", policy="RulePolicy", confidence=1.0, timestamp=t),
        BotUttered(text=f"re: {text}", data={"buttons": [{"title": "a", "payload": "/a"}]}),
        SlotSet("name", {"first": "Ann", "tags": [1, 2.5, None, True]}, timestamp=t),
        ActionExecuted("action_listen", timestamp=t),
    ]


async def test_append_then_load_keeps_every_event_in_order(store: TrackerStore) -> None:
    events = turn("hi", 10.0) + turn("again", 11.0)
    await store.append("c1", events[:5], 0)
    await store.append("c1", events[5:], 5)
    loaded = await store.load("c1")
    assert loaded == events
    assert [e.to_dict() for e in loaded] == [e.to_dict() for e in events]
    assert await store.load("unknown") == []
    assert await store.load_from("c1", 7) == events[7:]
    assert [seq for seq, _ in await store.load_numbered("c1")] == list(range(10))


async def test_a_retried_append_is_a_no_op(store: TrackerStore) -> None:
    events = turn("hi", 1.0)
    await store.append("c1", events, 0)
    await store.append("c1", events, 0)
    await store.append("c1", events[2:], 2)
    assert await store.load("c1") == events


async def test_an_overlapping_retry_adds_only_the_new_events(store: TrackerStore) -> None:
    first, second = turn("hi", 1.0), turn("bye", 2.0)
    await store.append("c1", first, 0)
    await store.append("c1", first[3:] + second, 3)  # retry of 2 stored events + 5 new
    assert await store.load("c1") == first + second


async def test_a_gap_is_refused_and_nothing_is_written(store: TrackerStore) -> None:
    await store.append("c1", turn("hi", 1.0), 0)
    with pytest.raises(SequenceGap, match="has 5 events; cannot append at 7"):
        await store.append("c1", turn("bye", 2.0), 7)
    with pytest.raises(SequenceGap, match="'c2' has 0 events; cannot append at 1"):
        await store.append("c2", turn("bye", 2.0), 1)
    assert len(await store.load("c1")) == 5
    assert await store.ids() == ["c1"]


async def test_an_empty_append_creates_nothing(store: TrackerStore) -> None:
    await store.append("c1", [], 0)
    assert await store.ids() == []


async def test_latest_session_versus_all_sessions(store: TrackerStore) -> None:
    events: list[Event] = [
        ActionExecuted("action_session_start", timestamp=1.0),
        SessionStarted(timestamp=1.0),
        *turn("first", 1.0),
        ActionExecuted("action_session_start", timestamp=5000.0),
        SessionStarted(timestamp=5000.0),
        *turn("second", 5000.0),
    ]
    await store.append("c", events, 0)
    assert await store.load("c") == events
    latest = await store.load_latest_session("c")
    assert latest == events[7:]
    assert [e.type_name for e in latest[:2]] == ["action", "session_started"]


async def test_ids_and_many_conversations(store: TrackerStore) -> None:
    names = [f"user-{i:02d}" for i in range(20)]
    for i, name in enumerate(names):
        await store.append(name, turn(f"hello {i}", float(i))[: 1 + i % 5], 0)
    assert sorted(await store.ids()) == names
    for i, name in enumerate(names):
        loaded = await store.load(name)
        assert len(loaded) == 1 + i % 5
        assert isinstance(loaded[0], UserUttered)
        assert loaded[0].text == f"hello {i}"


async def test_parallel_appends_to_different_conversations(store: TrackerStore) -> None:
    async def talk(name: str) -> None:
        for n in range(3):
            await store.append(name, turn(f"{name} {n}", float(n)), 5 * n)

    await asyncio.gather(*(talk(f"p{i}") for i in range(8)))
    for i in range(8):
        loaded = await store.load(f"p{i}")
        assert len(loaded) == 15
        texts = [e.text for e in loaded if isinstance(e, UserUttered)]
        assert texts == [f"p{i} 0", f"p{i} 1", f"p{i} 2"]


async def test_parallel_retries_of_one_append_store_it_once(store: TrackerStore) -> None:
    events = turn("hi", 1.0)
    await asyncio.gather(*(store.append("c", events, 0) for _ in range(4)))
    assert await store.load("c") == events


async def test_two_store_instances_see_each_other(make_store: StoreFactory) -> None:
    one, two = make_store(), make_store()
    await one.open()
    await two.open()
    await one.append("c", turn("hi", 1.0), 0)
    await two.append("c", turn("hi", 1.0) + turn("bye", 2.0), 0)  # a retry that adds
    assert len(await one.load("c")) == 10
    assert await one.load("c") == await two.load("c")


async def test_cache_stays_correct_with_two_writers(make_store: StoreFactory) -> None:
    """Two processes, each with its own cache, take turns in one conversation."""
    one, two = CachedTrackerStore(make_store()), CachedTrackerStore(make_store())
    await one.open()
    await two.open()
    expected: list[Event] = []
    for n in range(4):
        writer = one if n % 2 == 0 else two
        before = await writer.load("c")  # as Agent.handle: load, then append after it
        assert before == expected
        new = turn(f"msg {n}", float(n))
        await writer.append("c", new, len(before))
        expected += new
    assert await one.load("c") == expected
    assert await two.load("c") == expected
    assert await one.load_from("c", 18) == expected[18:]
    assert len(one._recent["c"]) == 20  # served from cache plus a tail read


async def test_cache_is_bounded(make_store: StoreFactory) -> None:
    cached = CachedTrackerStore(make_store(), max_conversations=2)
    await cached.open()
    for name in ("a", "b", "c"):
        await cached.append(name, turn(name, 1.0), 0)
        await cached.load(name)
    assert list(cached._recent) == ["b", "c"]
    assert len(await cached.load("a")) == 5  # read again from the store
    assert list(cached._recent) == ["c", "a"]


async def damage_event(store: TrackerStore, conversation_id: str, seq: int, damage: Any) -> None:
    """Overwrite one stored event as an older version or a hand edit might have left it."""
    if isinstance(store, MongoTrackerStore):
        document = damage if isinstance(damage, dict) else {"text": damage}
        await store._events.update_one(
            {"conversation_id": conversation_id, "seq": seq}, {"$set": {"event": document}}
        )
    elif isinstance(store, SQLiteTrackerStore):
        data = damage if isinstance(damage, str) else json.dumps(damage)
        with sqlite3.connect(store.path) as db:
            db.execute(
                "UPDATE events SET data = ? WHERE conversation_id = ? AND seq = ?",
                (data, conversation_id, seq),
            )
    else:
        raise AssertionError(f"{store!r} keeps Event objects, never their stored form")


DAMAGES = [
    "not json",
    {"event": "no_such_event"},
    {"event": "user", "parse_data": {"entities": "abc"}},  # what the HTTP API let through
    {"event": "action", "name": "a", "timestamp": 10**400},  # JSON's ints have no limit
]
TOO_BIG_FOR_BSON = DAMAGES[-1]  # BSON's ints have 8 bytes: a MongoDB store cannot hold it


@pytest.mark.parametrize("damage", DAMAGES)
async def test_a_damaged_stored_event_is_skipped_with_an_error_naming_it(
    make_store: StoreFactory, damage: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store()
    await store.open()
    if isinstance(store, InMemoryTrackerStore):
        return  # nothing stored can be damaged: it keeps Event objects (checked at append)
    if isinstance(store, MongoTrackerStore) and damage is TOO_BIG_FOR_BSON:
        return
    events = turn("hi", 1.0)
    await store.append("c1", events, 0)
    await damage_event(store, "c1", 3, damage)
    loaded = await store.load("c1")
    assert loaded[:3] == events[:3] and loaded[4:] == events[4:]
    assert isinstance(loaded[3], UnreadableEvent) and loaded[3].seq == 3
    assert "conversation 'c1' event 3 is unreadable and skipped" in caplog.text
    await store.append("c1", turn("again", 2.0), 5)  # the numbering still holds
    assert len(await store.load("c1")) == 10
    assert len(await store.load_from("c1", 4)) == 6


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (SlotSet("size", float("nan")), "Out of range float"),
        (SlotSet("when", object()), "not JSON serializable"),
        (UserUttered("\ud800"), "surrogates not allowed"),
        (UserUttered("hi", parse_data={"entities": "abc"}), "field 'entities' must be a list"),
        (UserUttered("hi", entities=[{"value": 1}]), "missing required field 'entity'"),
    ],
)
async def test_an_event_that_could_not_be_read_back_is_never_written(
    store: TrackerStore, bad: Event, why: str
) -> None:
    events = turn("hi", 1.0)
    with pytest.raises(UnstorableEvent, match=rf"conversation 'c1' event 5 \('\w+'\).*{why}"):
        await store.append("c1", [*events, bad], 0)
    assert await store.load("c1") == []  # nothing of that append, not even the good events
    assert await store.ids() == []
    await store.append("c1", events, 0)
    assert await store.load("c1") == events
