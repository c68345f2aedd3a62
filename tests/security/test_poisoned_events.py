"""The HTTP API cannot poison a conversation, and a damaged stored event does not brick one.

Runs the real hub on each tracker store (memory, SQLite, MongoDB on a secantusdb server).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chinwag.adapters.hub import BOTS
from chinwag.core.events import UnreadableEvent
from chinwag.core.stores.base import TrackerStore
from chinwag.core.stores.locks import InProcessLockStore, LockStore
from chinwag.core.stores.memory import InMemoryTrackerStore
from chinwag.core.stores.mongo import MongoTrackerStore
from chinwag.core.stores.sqlite import SQLiteTrackerStore
from tests.adapters.conftest import TOKEN, MakeClient
from tests.adapters.conftest import bot_a as bot_a  # the bot fixture, for pytest
from tests.adapters.conftest import make_client as make_client  # the hub fixture, for pytest
from tests.core.stores.test_contract import damage_event

Stores = Callable[[Path], tuple[TrackerStore, LockStore]]
WEBHOOK = "/webhooks/rest/webhook"
AUTH = {"token": TOKEN}


@pytest.fixture(params=["memory", "sqlite", "mongo"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Stores:
    """A hub store factory; every hub made with it sees the same stored conversations."""
    memory = InMemoryTrackerStore()
    if request.param == "mongo":
        url: str = request.getfixturevalue("mongodb_url")
        db: str = request.getfixturevalue("mongo_db")

    def make(_bot: Path) -> tuple[TrackerStore, LockStore]:
        store: TrackerStore
        if request.param == "memory":
            store = memory
        elif request.param == "sqlite":
            store = SQLiteTrackerStore(tmp_path / "conversations.db")
        else:
            store = MongoTrackerStore(url, db=db)
        return store, InProcessLockStore()

    return make


BAD_PARSE_DATA: list[tuple[Any, str]] = [
    ({"entities": "abc"}, "field 'entities' must be a list, got 'abc'"),
    ({"entities": [{"value": 1}]}, "'entities' item 0: missing required field 'entity'"),
    ({"entities": [{"entity": "x", "start": "0"}]}, "field 'start' must be a whole number"),
    ({"intent": {"name": ["greet"]}}, "'intent': field 'name' must be a string"),
    ({"intent": "greet"}, "field 'intent' must be an object"),
    ({"intent": {"name": "greet", "confidence": "high"}}, "field 'confidence' must be a number"),
    ({"intent_ranking": [1]}, "'intent_ranking' item 0 must be an object"),
    ({"text": 5}, "field 'text' must be a string"),
    ("abc", "expected an object"),
]


@pytest.mark.parametrize(("parse_data", "detail"), BAD_PARSE_DATA)
async def test_malformed_parse_data_is_refused_and_stores_nothing(
    make_client: MakeClient, bot_a: Path, stores: Stores, parse_data: Any, detail: str
) -> None:
    client = await make_client([bot_a], auth_token=TOKEN, stores=stores)
    url = "/conversations/x/messages"
    body = {"text": "hello", "sender": "user", "parse_data": parse_data}
    response = await client.post(url, json=body, params=AUTH)
    assert response.status == 400
    answer = await response.json()
    assert answer["error"] == "invalid parse_data"
    assert detail in answer["detail"]
    assert await client.app[BOTS]["alpha"].agent.store.load("x") == []
    # the conversation is still whole: a good message is logged, a chat message answered
    good = {"name": "greet", "confidence": 1.0}
    body["parse_data"] = {"intent": good, "entities": [{"entity": "name", "value": "Ada"}]}
    logged = await client.post(url, json=body, params=AUTH)
    assert logged.status == 200
    assert (await logged.json())["latest_message"]["intent"] == good
    reply = await client.post(WEBHOOK, json={"sender": "x", "message": "hello"})
    assert reply.status == 200
    assert await reply.json() == [{"recipient_id": "x", "text": "Hello from alpha!"}]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"name": "greet", "entities": "abc"}, "entities: expected an object"),
        ({"name": "greet", "entities": [{"value": 1}]}, "entities[0]: expected an object"),
        ({"name": "greet", "entities": [{"entity": 7, "value": 1}]}, "entities[0]"),
        ({"name": "greet", "entities": 5}, "entities: expected an object"),
    ],
)
async def test_a_malformed_trigger_intent_body_is_refused_and_stores_nothing(
    make_client: MakeClient, bot_a: Path, stores: Stores, body: dict[str, Any], detail: str
) -> None:
    client = await make_client([bot_a], auth_token=TOKEN, stores=stores)
    url = "/conversations/t/trigger_intent"
    response = await client.post(url, json=body, params=AUTH)
    assert response.status == 400
    assert detail in (await response.json())["detail"]
    assert await client.app[BOTS]["alpha"].agent.store.load("t") == []
    ok = await client.post(url, json={"name": "greet", "entities": {"name": "Ada"}}, params=AUTH)
    assert ok.status == 200
    answer = await ok.json()
    assert answer["messages"] == [{"recipient_id": "t", "text": "Hello from alpha!"}]
    assert answer["tracker"]["slots"]["name"] == "Ada"


async def test_a_damaged_stored_event_does_not_brick_the_conversation(
    make_client: MakeClient,
    bot_a: Path,
    stores: Stores,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if request.node.callspec.params["stores"] == "memory":
        return  # the in-memory store keeps Event objects (checked at append): nothing to damage
    first = await make_client([bot_a], auth_token=TOKEN, stores=stores)
    for text in ("hello", "bye"):
        response = await first.post(WEBHOOK, json={"sender": "d", "message": text})
        assert response.status == 200
    store = first.app[BOTS]["alpha"].agent.store
    stored = await store.load_numbered("d")
    seq = next(s for s, e in stored if e.type_name == "user")
    # what the HTTP API stored before parse_data was checked: unreadable ever since
    await damage_event(store, "d", seq, {"event": "user", "parse_data": {"entities": "abc"}})

    second = await make_client([bot_a], auth_token=TOKEN, stores=stores)  # a restarted hub
    tracker = await second.get("/conversations/d/tracker", params={**AUTH, "include_events": "ALL"})
    assert tracker.status == 200
    events = (await tracker.json())["events"]
    assert len(events) == len(stored) - 1 and all(e["event"] != "unreadable" for e in events)
    assert f"conversation 'd' event {seq} is unreadable and skipped" in caplog.text
    reply = await second.post(WEBHOOK, json={"sender": "d", "message": "hello"})
    assert reply.status == 200
    assert await reply.json() == [{"recipient_id": "d", "text": "Hello from alpha!"}]
    after = await second.app[BOTS]["alpha"].agent.store.load_numbered("d")
    assert [s for s, _ in after] == list(range(len(after)))  # nothing overwritten or lost
    assert len(after) > len(stored)
    assert isinstance(dict(after)[seq], UnreadableEvent)
    exported = await second.get("/conversations/d/tracker", params=AUTH)
    assert exported.status == 200
