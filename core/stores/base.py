"""Where conversations live: an append-only log of events per conversation.

Events are numbered per conversation (``seq`` 0, 1, 2, ...). ``append`` names the ``seq`` of
its first event, so a retried append of the same events is a no-op instead of a duplicate:
this is what keeps a conversation whole when a process dies between writing and answering.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from core.events import Event, SessionStarted


class TrackerStore(ABC):
    """The tracker-store contract every backend (memory, SQLite, MongoDB) fulfils."""

    @abstractmethod
    async def append(self, conversation_id: str, events: Sequence[Event], start_seq: int) -> None:
        """Store ``events`` as numbers ``start_seq``, ``start_seq + 1``, ...

        A number that is already stored is left as it is (a retry), never duplicated.
        """

    @abstractmethod
    async def load(self, conversation_id: str) -> list[Event]:
        """Every stored event of the conversation, in order (empty for a new one)."""

    async def load_latest_session(self, conversation_id: str) -> list[Event]:
        """The events from the latest ``session_started`` on (all of them if none)."""
        events = await self.load(conversation_id)
        starts = [i for i, e in enumerate(events) if isinstance(e, SessionStarted)]
        # Rasa keeps the action_session_start event that precedes session_started
        cut = max(starts[-1] - 1, 0) if starts else 0
        return events[cut:]

    @abstractmethod
    async def ids(self) -> list[str]:
        """The ids of every stored conversation."""

    async def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release connections and files."""
