"""One message at a time per conversation, in arrival order."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager


class LockTimeout(Exception):
    """A message waited too long for its conversation's lock."""


class LockStore(ABC):
    """Exclusive, ordered access to one conversation (in-process or across processes)."""

    @abstractmethod
    def lock(self, conversation_id: str) -> AbstractAsyncContextManager[None]: ...


class InProcessLockStore(LockStore):
    """asyncio locks per conversation; FIFO, since asyncio.Lock wakes waiters in order."""

    def __init__(self, wait_timeout: float = 60.0) -> None:
        self.wait_timeout = wait_timeout
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def lock(self, conversation_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(conversation_id, asyncio.Lock())
        self._users[conversation_id] = self._users.get(conversation_id, 0) + 1
        try:
            try:
                async with asyncio.timeout(self.wait_timeout):
                    await lock.acquire()
            except TimeoutError:
                raise LockTimeout(
                    f"conversation '{conversation_id}' stayed locked for more than "
                    f"{self.wait_timeout:g} s"
                ) from None
            try:
                yield
            finally:
                lock.release()
        finally:
            self._users[conversation_id] -= 1
            if not self._users[conversation_id]:  # nobody waits: forget the lock
                del self._users[conversation_id]
                del self._locks[conversation_id]
