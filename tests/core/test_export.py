"""Export to events.jsonl / test stories and import between SQLite and MongoDB."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chinwag.core.cli import main
from chinwag.core.data.problems import Problems
from chinwag.core.data.yaml_io import load_yaml
from chinwag.core.data.yaml_reader import read_training_yaml
from chinwag.core.events import ActionExecuted, Event, SessionStarted, SlotSet, UserUttered
from chinwag.core.export import ExportError, export_conversations, import_conversations, parse_since
from chinwag.core.stores.mongo import MongoTrackerStore
from chinwag.core.stores.sqlite import SQLiteTrackerStore


def conversation(t: float) -> list[Event]:
    return [
        ActionExecuted("action_session_start", timestamp=t),
        SessionStarted(timestamp=t),
        ActionExecuted("action_listen", timestamp=t),
        UserUttered(
            "I live in Paris",
            intent={"name": "inform", "confidence": 0.9},
            entities=[{"entity": "city", "value": "Paris", "start": 10, "end": 15}],
            timestamp=t + 1,
        ),
        SlotSet("city", "Paris", timestamp=t + 1),
        ActionExecuted("utter_ok", timestamp=t + 1),
        ActionExecuted("action_listen", timestamp=t + 1),
    ]


async def test_round_trip_sqlite_to_mongo(tmp_path: Path, mongodb_url: str, mongo_db: str) -> None:
    sqlite = SQLiteTrackerStore(tmp_path / "a.db")
    await sqlite.append("ann", conversation(100.0), 0)
    await sqlite.append("bob", conversation(5000.0), 0)
    target = tmp_path / "events.jsonl"
    result = await export_conversations(sqlite, target)
    assert (result.conversations, result.events) == (2, 14)
    first = json.loads(target.read_text().splitlines()[0])
    assert first == {
        "conversation_id": "ann",
        "seq": 0,
        "event": "action",
        "timestamp": 100.0,
        "name": "action_session_start",
        "policy": None,
        "confidence": None,
        "action_text": None,
        "hide_rule_turn": False,
    }
    mongo = MongoTrackerStore(mongodb_url, db=mongo_db)
    await mongo.open()
    problems = Problems()
    assert (await import_conversations(mongo, target, problems)).events == 14
    assert (await import_conversations(mongo, target, problems)).events == 14  # again: no-op
    assert not problems.errors
    assert await mongo.ids() == ["ann", "bob"]
    assert await mongo.load("bob") == await sqlite.load("bob")
    await mongo.drop()
    await mongo.close()
    await sqlite.close()


async def test_since_and_stories(tmp_path: Path) -> None:
    sqlite = SQLiteTrackerStore(tmp_path / "a.db")
    await sqlite.append("ann", conversation(100.0), 0)
    await sqlite.append("bob", conversation(5000.0), 0)
    jsonl = tmp_path / "recent.jsonl"
    assert (await export_conversations(sqlite, jsonl, since=1000.0)).conversations == 1
    assert {json.loads(line)["conversation_id"] for line in jsonl.read_text().splitlines()} == {
        "bob"
    }
    stories_file = tmp_path / "stories.yml"
    await export_conversations(sqlite, stories_file)
    problems = Problems()
    _, stories = read_training_yaml(load_yaml(stories_file, "stories.yml"), problems, test=True)
    assert not problems.errors
    assert [s.name for s in stories.stories] == ["ann (session 1)", "bob (session 1)"]
    steps = stories.stories[0].steps
    assert len(steps) == 3
    assert (steps[0].intent, steps[0].text) == ("inform", "I live in Paris")  # type: ignore[union-attr]
    assert steps[0].entities[0].value == "Paris"  # type: ignore[union-attr]
    assert steps[1].slots == {"city": "Paris"}  # type: ignore[union-attr]
    assert steps[2].name == "utter_ok"  # type: ignore[union-attr]
    await sqlite.close()


async def test_import_reports_bad_lines_with_their_line(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    source.write_text(
        '{"conversation_id": "a", "seq": 0, "event": "action", "name": "action_listen"}\n'
        "not json\n"
        '{"conversation_id": "b", "seq": 0, "event": "nope"}\n'
        '{"conversation_id": "c", "seq": 1, "event": "action", "name": "action_listen"}\n'
    )
    store = SQLiteTrackerStore(tmp_path / "a.db")
    problems = Problems()
    result = await import_conversations(store, source, problems)
    assert result.conversations == 1
    messages = [str(p) for p in problems.errors]
    assert messages[0].startswith(f"{source}:2: error: not a JSON line")
    assert messages[1].startswith(f"{source}:3: error: ")
    assert "unknown event name 'nope'" in messages[1]
    assert "'b' not imported" in messages[2]
    assert "'c' has 0 events; cannot append at 1" in messages[3]
    assert await store.ids() == ["a"]
    await store.close()


def test_parse_since() -> None:
    assert parse_since("86400") == 86400.0
    assert parse_since("1970-01-02") == 86400.0
    assert parse_since("1970-01-02T01:00:00+01:00") == 86400.0
    with pytest.raises(ExportError, match="--since 'yesterday' is neither"):
        parse_since("yesterday")


def test_cli_export_and_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bot = tmp_path / "bot"
    bot.mkdir()
    (bot / "domain.yml").write_text('version: "3.1"\nintents: [inform]\n')
    store = SQLiteTrackerStore(bot / ".chinwag" / "conversations.db")

    import asyncio

    async def seed() -> None:
        await store.append("ann", conversation(100.0), 0)
        await store.close()

    asyncio.run(seed())
    out = tmp_path / "events.jsonl"
    assert main(["export", str(bot), "--to", str(out)]) == 0
    assert "wrote 1 conversations (7 events)" in capsys.readouterr().out
    assert main(["import", str(bot), "--from", str(out), "--store", "sqlite:///copy.db"]) == 0
    assert "imported 1 conversations (7 events)" in capsys.readouterr().out
    assert (bot / "copy.db").is_file()
    assert main(["export", str(bot), "--to", str(tmp_path / "x.csv")]) == 1
    assert "expected a .jsonl (events) or .yml (stories) file" in capsys.readouterr().out
