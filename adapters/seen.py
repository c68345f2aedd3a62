"""What the channels have already handled: the one place their redelivery and replay memory
lives (Slack event ids and replayed signed requests, Telegram update ids).

Kept in this process's memory, bounded by age and count. A store shared between hub processes
(as the lock store is) would replace :class:`RecentIds` behind the same ``first_time`` call.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

SEEN_SIZE = 10_000
SEEN_SECONDS = 3600.0  # Slack's last retry comes ~5 minutes after the event; replays within 5


class RecentIds:
    """Ids seen in the last ``seconds``, at most ``size`` of them (oldest forgotten first)."""

    def __init__(
        self,
        size: int = SEEN_SIZE,
        seconds: float = SEEN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.size = size
        self.seconds = seconds
        self.clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, key: str) -> bool:
        """Remember ``key``; False if it was already seen recently."""
        now = self.clock()
        while self._seen and now - next(iter(self._seen.values())) > self.seconds:
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return True
