"""Where conversations live: an append-only log of events per conversation.

Events are numbered per conversation (``seq`` 0, 1, 2, ...). ``append`` names the ``seq`` of
its first event, so a retried append of the same events is a no-op instead of a duplicate:
this is what keeps a conversation whole when a process dies between writing and answering.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, NamedTuple

from chinwag.core.events import (
    Event,
    EventError,
    SessionStarted,
    UnreadableEvent,
    event_from_dict,
    keep_stored_text,
    surely_parses,
)
from chinwag.core.jsontext import json_value, stored_json

logger = logging.getLogger(__name__)
_SURROGATE = re.compile("[\ud800-\udfff]")


class StoreError(Exception):
    """A tracker or lock store failed; the message says which store and why."""


class StoreUnavailable(StoreError):
    """The store cannot be reached (server down, auth refused): the hub answers 503."""


class SequenceGap(StoreError, ValueError):
    """An append would leave a hole in a conversation's numbering."""

    def __init__(self, conversation_id: str, stored: int, start_seq: int) -> None:
        super().__init__(
            f"conversation '{conversation_id}' has {stored} events; cannot append at "
            f"{start_seq} (events would be missing)"
        )


class UnstorableEvent(StoreError, ValueError):
    """An event that could not be read back once stored; nothing of its append is written."""


class StoredForm(NamedTuple):
    """An event as every store writes it: ``data`` (its dict of JSON values) and ``text``
    (that as JSON); ``event_from_dict(data)`` is what a load will give back. A named tuple:
    one is made for every stored event, and a frozen dataclass costs several times as much
    to make."""

    data: dict[str, Any]
    text: str


def storable(conversation_id: str, seq: int | None, event: Event) -> StoredForm:
    """``event`` round-tripped through its stored form, as each store checks every event
    before its append writes anything: an event that could not be read back (a value JSON
    cannot carry, a lone surrogate, a field of the wrong shape) is an :class:`UnstorableEvent`
    naming the conversation, ``seq`` and the field. The usual event is not parsed back:
    :func:`~core.events.surely_parses` knows it parses."""
    if not isinstance(conversation_id, str) or _SURROGATE.search(conversation_id):
        raise UnstorableEvent(f"conversation id {conversation_id!r} is not valid text")
    try:
        data = event.to_dict()
        text = stored_json(data)  # JSON values only
        text.encode("utf-8")  # lone surrogates: SQLite could escape them, MongoDB cannot
        if not surely_parses(data):  # the usual event is known to, without parsing it
            event_from_dict(data)  # read back as a load reads it
        form = StoredForm(data, text)
    except (TypeError, ValueError, RecursionError) as exc:  # EventError is a ValueError
        raise UnstorableEvent(
            f"conversation '{conversation_id}' "
            f"{'an event' if seq is None else f'event {seq}'} ('{event.type_name}') cannot be "
            f"stored: {exc}"
        ) from exc
    if seq is not None:  # a store's check before its append: the event is final now
        keep_stored_text(event, text)
    return form


def stored_event(conversation_id: str, seq: int, data: Any) -> Event:
    """The event stored as ``data`` (its dict form, or that as JSON).

    An unreadable one (an older version's, or edited by hand) must not take the conversation
    down with it: it is logged as an error naming the conversation and ``seq``, and loads as
    an :class:`UnreadableEvent` that keeps the numbering and changes no state.
    """
    try:
        return event_from_dict(json_value(data) if isinstance(data, str) else data)
    except (ValueError, RecursionError, EventError) as exc:
        reason = str(exc) or type(exc).__name__
        logger.error(
            "conversation '%s' event %d is unreadable and skipped: %s", conversation_id, seq, reason
        )
        return UnreadableEvent(seq=seq, reason=reason, timestamp=0.0)


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

    async def load_from(self, conversation_id: str, start_seq: int) -> list[Event]:
        """The stored events numbered ``start_seq`` and later (a cheap tail read)."""
        return (await self.load(conversation_id))[start_seq:]

    async def load_numbered(self, conversation_id: str) -> list[tuple[int, Event]]:
        """Every stored event with its ``seq`` (export keeps the numbers)."""
        return list(enumerate(await self.load(conversation_id)))

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

    async def open(self) -> None:  # noqa: B027 - optional for backends without resources
        """Connect and check the store works; raise :class:`StoreUnavailable` if it does not."""

    async def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release connections and files."""


class SeqIndexedStore(TrackerStore):
    """A store that reads any tail of a conversation by ``seq`` (SQLite, MongoDB): every load
    is :meth:`load_numbered_from`."""

    @abstractmethod
    async def load_numbered_from(
        self, conversation_id: str, start_seq: int
    ) -> list[tuple[int, Event]]:
        """The stored events numbered ``start_seq`` and later, with their numbers."""

    async def load(self, conversation_id: str) -> list[Event]:
        return await self.load_from(conversation_id, 0)

    async def load_from(self, conversation_id: str, start_seq: int) -> list[Event]:
        return [event for _, event in await self.load_numbered_from(conversation_id, start_seq)]

    async def load_numbered(self, conversation_id: str) -> list[tuple[int, Event]]:
        return await self.load_numbered_from(conversation_id, 0)
