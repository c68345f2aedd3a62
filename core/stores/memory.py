"""The in-memory tracker store (tests, and `chinwag shell`)."""

from __future__ import annotations

from collections.abc import Sequence

from chinwag.core.events import Event, event_from_dict
from chinwag.core.stores.base import SequenceGap, TrackerStore, storable


class InMemoryTrackerStore(TrackerStore):
    """Events in a dict; gone when the process ends."""

    def __init__(self) -> None:
        self._events: dict[str, list[Event]] = {}

    async def append(self, conversation_id: str, events: Sequence[Event], start_seq: int) -> None:
        stored = self._events.get(conversation_id, [])
        if start_seq > len(stored):
            raise SequenceGap(conversation_id, len(stored), start_seq)
        first = len(stored)
        # kept as a load from the other stores would give them back (and checked as they are)
        new = [
            event_from_dict(storable(conversation_id, first + i, e).data)
            for i, e in enumerate(events[first - start_seq :])
        ]
        if new:  # a conversation exists once it has an event, as in the other stores
            self._events[conversation_id] = [*stored, *new]

    async def load(self, conversation_id: str) -> list[Event]:
        return list(self._events.get(conversation_id, []))

    async def ids(self) -> list[str]:
        return list(self._events)
