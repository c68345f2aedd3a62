"""The in-memory tracker store (tests, and `chinwag shell`)."""

from __future__ import annotations

from collections.abc import Sequence

from core.events import Event
from core.stores.base import TrackerStore


class InMemoryTrackerStore(TrackerStore):
    def __init__(self) -> None:
        self._events: dict[str, list[Event]] = {}

    async def append(self, conversation_id: str, events: Sequence[Event], start_seq: int) -> None:
        stored = self._events.setdefault(conversation_id, [])
        if start_seq > len(stored):
            raise ValueError(
                f"conversation '{conversation_id}' has {len(stored)} events; cannot append at "
                f"{start_seq} (events would be missing)"
            )
        stored.extend(events[len(stored) - start_seq :])

    async def load(self, conversation_id: str) -> list[Event]:
        return list(self._events.get(conversation_id, []))

    async def ids(self) -> list[str]:
        return list(self._events)
