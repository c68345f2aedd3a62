"""Move conversations out of a tracker store and between stores.

``events.jsonl``: one line per event, Rasa's event JSON plus ``conversation_id`` and ``seq``;
importing it into any store is idempotent (a ``seq`` already stored is skipped). Conversations
are written and read under their full ids (``slack:U123``, ``telegram:42``, a REST sender; see
core.conversation_ids); a line whose id could not name a conversation is refused, located.
``stories.yml``: Rasa test-story YAML, one story per conversation session, written from the
session's applied events (undone and rewound turns left out), readable by ``chinwag test``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chinwag.core.conversation_ids import InvalidConversationId, check
from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.training import (
    ActionStep,
    Entity,
    LoopStep,
    SlotStep,
    Step,
    Story,
    StoryData,
)
from chinwag.core.data.training import UserStep as StoryUserStep
from chinwag.core.data.yaml_writer import dump_stories_yaml
from chinwag.core.domain import Domain
from chinwag.core.events import (
    ActionExecuted,
    ActiveLoop,
    Event,
    EventError,
    SessionStarted,
    SlotSet,
    UnreadableEvent,
    UserUttered,
    event_from_dict,
)
from chinwag.core.stores.base import StoreError, TrackerStore
from chinwag.core.tracker import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME, Tracker

JSONL_SUFFIXES = (".jsonl", ".ndjson")
YAML_SUFFIXES = (".yml", ".yaml")


class ExportError(ValueError):
    """An export target or --since value that cannot be used."""


def parse_since(value: str) -> float:
    """``--since``: seconds since the epoch, or an ISO date/time (UTC unless it says)."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ExportError(
            f"--since '{value}' is neither an ISO date (2024-05-01, 2024-05-01T12:00) nor "
            "seconds since the epoch"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@dataclass
class ExportResult:
    conversations: int = 0
    events: int = 0


async def export_conversations(
    store: TrackerStore, target: Path, *, since: float | None = None, domain: Domain | None = None
) -> ExportResult:
    """Write every conversation of ``store`` to ``target`` (.jsonl or .yml by its suffix);
    ``since`` keeps only events stamped at or after it."""
    suffix = target.suffix.lower()
    if suffix not in (*JSONL_SUFFIXES, *YAML_SUFFIXES):
        raise ExportError(f"--to {target}: expected a .jsonl (events) or .yml (stories) file")
    result = ExportResult()
    stories: list[Story] = []
    lines: list[str] = []
    for conversation_id in sorted(await store.ids()):
        numbered = await store.load_numbered(conversation_id)
        if suffix in JSONL_SUFFIXES:
            kept = [
                (s, e)
                for s, e in numbered
                if not isinstance(e, UnreadableEvent) and (since is None or e.timestamp >= since)
            ]
            lines += [_jsonl_line(conversation_id, seq, event) for seq, event in kept]
            count = len(kept)
        else:
            found = list(_stories(conversation_id, [e for _, e in numbered], since, domain))
            stories += found
            count = sum(len(s.steps) for s in found)
        if count:
            result.conversations += 1
            result.events += count
    if suffix in JSONL_SUFFIXES:
        target.write_text("".join(lines), encoding="utf-8")
    else:
        target.write_text(dump_stories_yaml(StoryData(stories=stories)), encoding="utf-8")
    return result


def _jsonl_line(conversation_id: str, seq: int, event: Event) -> str:
    record = {"conversation_id": conversation_id, "seq": seq, **event.to_dict()}
    return json.dumps(record, ensure_ascii=False) + "\n"


def _sessions(events: list[Event]) -> Iterator[list[Event]]:
    """The events split where each session starts (its action_session_start included)."""
    cuts = [0]
    for i, event in enumerate(events):
        if isinstance(event, SessionStarted) and i > 0:
            before = events[i - 1]
            start = i - 1 if isinstance(before, ActionExecuted) else i
            if start > cuts[-1]:
                cuts.append(start)
    cuts.append(len(events))
    for begin, end in itertools.pairwise(cuts):
        yield events[begin:end]


def _stories(
    conversation_id: str, events: list[Event], since: float | None, domain: Domain | None
) -> Iterator[Story]:
    for number, session in enumerate(_sessions(events), start=1):
        applied = Tracker(conversation_id, domain, session).applied_events()
        steps = [
            step
            for event in applied
            if since is None or event.timestamp >= since
            for step in story_steps(event)
        ]
        if steps:
            yield Story(f"{conversation_id} (session {number})", steps, kind="test")


def story_steps(event: Event) -> Iterable[Step]:
    """The story steps one event stands for (none for listens and session starts)."""
    if isinstance(event, UserUttered):
        entities = [
            Entity(
                e["entity"],
                e.get("value"),
                e.get("start"),
                e.get("end"),
                e.get("role"),
                e.get("group"),
            )
            for e in event.entities
            if isinstance(e, dict) and "entity" in e
        ]
        yield StoryUserStep(intent=event.intent_name, text=event.text, entities=entities)
    elif isinstance(event, ActionExecuted):
        if event.action_name not in (ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME, None):
            yield ActionStep(name=event.action_name)
    elif isinstance(event, SlotSet):
        yield SlotStep({event.key: event.value})
    elif isinstance(event, ActiveLoop):
        yield LoopStep(event.name)


async def import_conversations(
    store: TrackerStore, source: Path, problems: Problems
) -> ExportResult:
    """Append the events of an events.jsonl file to ``store``; lines that cannot be read are
    reported into ``problems`` (file:line) and skipped, and a conversation with such a line
    is not imported (its numbering would have a hole)."""
    display = str(source)
    by_conversation: dict[str, list[tuple[int, Event]]] = {}
    broken: set[str] = set()
    with source.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            parsed = _read_line(line, Location(display, number), problems)
            if isinstance(parsed, str):
                broken.add(parsed)
            elif parsed is not None:
                conversation_id, seq, event = parsed
                by_conversation.setdefault(conversation_id, []).append((seq, event))
    for conversation_id in sorted(broken):
        problems.error(
            f"conversation '{conversation_id}' not imported: some of its lines are broken",
            Location(display),
        )
    result = ExportResult()
    for conversation_id, numbered in by_conversation.items():
        if conversation_id in broken:
            continue
        numbered.sort(key=lambda item: item[0])
        try:
            for start, run in _runs(numbered):
                await store.append(conversation_id, run, start)
        except StoreError as exc:
            problems.error(str(exc), Location(display))
            continue
        result.conversations += 1
        result.events += len(numbered)
    return result


def _read_line(line: str, loc: Location, problems: Problems) -> tuple[str, int, Event] | str | None:
    """(conversation_id, seq, event); the conversation id alone when only the event is bad;
    None when the line names no conversation."""
    try:
        record: Any = json.loads(line)
    except ValueError as exc:
        problems.error(f"not a JSON line: {exc}", loc)
        return None
    except RecursionError:
        problems.error("not a JSON line: nested too deeply", loc)
        return None
    if not isinstance(record, dict):
        problems.error("expected a JSON object with conversation_id, seq and event", loc)
        return None
    conversation_id = record.pop("conversation_id", None)
    seq = record.pop("seq", None)
    if not isinstance(conversation_id, str) or not conversation_id:
        problems.error("conversation_id must be a non-empty text", loc)
        return None
    try:
        check(conversation_id, "conversation_id")
    except InvalidConversationId as exc:
        problems.error(str(exc), loc)
        return None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        problems.error(f"seq must be a number 0, 1, 2, ... (found {seq!r})", loc)
        return conversation_id
    try:
        return conversation_id, seq, event_from_dict(record)
    except EventError as exc:
        problems.error(str(exc), loc)
        return conversation_id


def _runs(numbered: list[tuple[int, Event]]) -> Iterator[tuple[int, list[Event]]]:
    """Consecutive numbers as (first seq, events); a repeated seq is kept once."""
    start, run = numbered[0][0], [numbered[0][1]]
    for seq, event in numbered[1:]:
        if seq == start + len(run):
            run.append(event)
        elif seq >= start + len(run):
            yield start, run
            start, run = seq, [event]
    yield start, run
