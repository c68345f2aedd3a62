"""A recent-trackers cache in front of any tracker store.

Events are append-only and never change once numbered, so the first ``n`` events of a
conversation read earlier are still its first ``n`` events. ``load`` therefore asks the store
only for the tail (``seq >= n``): one cheap indexed read instead of replaying a long history,
and it also picks up what other processes appended meanwhile. The store stays the only source
of truth; the cache holds at most ``max_conversations`` conversations, least recently used
first out.

:class:`RecentTrackers` goes one step further for the agent: it keeps the replayed trackers,
so a message costs only the events that are new since the last one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from chinwag.core.domain import Domain
from chinwag.core.events import Event
from chinwag.core.stores.base import TrackerStore
from chinwag.core.tracker import Tracker

DEFAULT_CACHED_CONVERSATIONS = 1000
# of those, the conversations whose trackers keep their policies' replay (RecentTrackers)
DEFAULT_HOT_CONVERSATIONS = 128


class CachedTrackerStore(TrackerStore):
    """Wraps ``store``; reads through a bounded LRU of recent conversations' events."""

    def __init__(
        self, store: TrackerStore, max_conversations: int = DEFAULT_CACHED_CONVERSATIONS
    ) -> None:
        self.store = store
        self.max_conversations = max_conversations
        self._recent: OrderedDict[str, list[Event]] = OrderedDict()

    def __repr__(self) -> str:
        return f"CachedTrackerStore({self.store!r})"

    async def open(self) -> None:
        await self.store.open()

    async def append(self, conversation_id: str, events: Sequence[Event], start_seq: int) -> None:
        await self.store.append(conversation_id, events, start_seq)
        cached = self._recent.get(conversation_id)
        if cached is not None and start_seq <= len(cached):
            cached.extend(events[len(cached) - start_seq :])
        # otherwise another process wrote in between: the next load reads that tail

    async def load(self, conversation_id: str) -> list[Event]:
        return list(await self._refreshed(conversation_id))

    async def load_from(self, conversation_id: str, start_seq: int) -> list[Event]:
        # the tail only: the agent reads the last event or two on every message
        return (await self._refreshed(conversation_id))[start_seq:]

    async def _refreshed(self, conversation_id: str) -> list[Event]:
        """The cached events with what the store has after them (the cache's own list)."""
        cached = self._recent.pop(conversation_id, [])
        try:
            cached.extend(await self.store.load_from(conversation_id, len(cached)))
        except BaseException:
            self._remember(conversation_id, cached)
            raise
        self._remember(conversation_id, cached)
        return cached

    async def load_numbered(self, conversation_id: str) -> list[tuple[int, Event]]:
        return await self.store.load_numbered(conversation_id)

    def _remember(self, conversation_id: str, events: list[Event]) -> None:
        if not events:
            return
        self._recent[conversation_id] = events
        while len(self._recent) > self.max_conversations:
            self._recent.popitem(last=False)

    async def ids(self) -> list[str]:
        return await self.store.ids()

    async def close(self) -> None:
        self._recent.clear()
        await self.store.close()


class RecentTrackers:
    """The agent's recent conversations as live :class:`~core.tracker.Tracker` objects.

    A tracker taken from here is only a head start: :meth:`load` reads the store's tail from
    the cached tracker's last event on, checks that event is still stored as it was, and
    applies what other agents or processes appended since. Anything else (a shorter or
    different history) reloads the whole conversation. At most ``max_conversations`` trackers
    are kept, least recently used first out; a tracker is handed out to one user at a time.

    Only the ``hot_conversations`` most recently used keep what the policies computed from
    their events (:meth:`~core.tracker.Tracker.drop_memos`): the dialogue states replayed so
    far and their snapshots, about a third of a cached conversation's objects. The others
    are waiting for a user who may never come back; they would only lengthen every pass of
    the garbage collector (bench/results/gc_heap.md). A conversation that
    does come back replays its states once, on its next prediction.
    """

    def __init__(
        self,
        max_conversations: int = DEFAULT_CACHED_CONVERSATIONS,
        hot_conversations: int = DEFAULT_HOT_CONVERSATIONS,
    ) -> None:
        self.max_conversations = max_conversations
        self.hot_conversations = min(hot_conversations, max_conversations)
        # least recently used first; every tracker is in one of the two
        self._hot: OrderedDict[str, Tracker] = OrderedDict()
        self._cold: OrderedDict[str, Tracker] = OrderedDict()

    def __len__(self) -> int:
        return len(self._hot) + len(self._cold)

    async def load(
        self, store: TrackerStore, conversation_id: str, domain: Domain | None
    ) -> Tracker:
        """The conversation as ``store`` has it now, taken out of the cache (``put`` it back)."""
        tracker = self._hot.pop(conversation_id, None)
        if tracker is None:
            tracker = self._cold.pop(conversation_id, None)
        if tracker is not None and tracker.events and tracker.domain is domain:
            known = len(tracker.events)
            tail = await store.load_from(conversation_id, known - 1)
            if tail and tail[0] == tracker.events[-1]:
                tracker.update_all(tail[1:])
                return tracker
        return Tracker(conversation_id, domain, await store.load(conversation_id))

    def put(self, tracker: Tracker) -> None:
        """Keep ``tracker`` (its events must all be stored) for the next message."""
        if not tracker.events:
            return
        conversation_id = tracker.sender_id
        self._cold.pop(conversation_id, None)
        self._hot[conversation_id] = tracker
        self._hot.move_to_end(conversation_id)
        while len(self._hot) > self.hot_conversations:
            cooled_id, cooled = self._hot.popitem(last=False)
            cooled.drop_memos()
            self._cold[cooled_id] = cooled
        while len(self) > self.max_conversations:
            (self._cold or self._hot).popitem(last=False)

    def clear(self) -> None:
        self._hot.clear()
        self._cold.clear()
