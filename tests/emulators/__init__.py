"""Fake Slack Web API and Telegram Bot API servers (real aiohttp on 127.0.0.1) for tests.

Both record every call as a :class:`Call`, validate requests the way the real APIs do, and
accept injected failures. ``slack.py`` and ``telegram.py`` also build inbound requests
(signed Slack events, Telegram updates) for driving the hub.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import pytest
from aiohttp import web

# env vars that silently change slack_sdk / slack-bolt / httpx wiring (platforms.md §1.9, §4.5)
PLATFORM_ENV_VARS = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
)


def clear_platform_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove proxy and SLACK_* variables for the test (slack_sdk ignores NO_PROXY)."""
    for name in PLATFORM_ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@dataclass
class Call:
    """One request the fake received: API method, request headers and decoded parameters."""

    method: str
    headers: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class Failure:
    """An injected error answer for the next call of a method."""

    error: str
    status: int


class FakeServer:
    """An aiohttp app on 127.0.0.1:<free port> that records calls; ``async with`` runs it."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.port = 0
        self._failures: dict[str, list[Failure]] = {}
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    def make_app(self) -> web.Application:
        raise NotImplementedError

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=0.25)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ----------------------------------------------------------------- recording

    async def record(self, call: Call) -> None:
        self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()

    def calls_of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    async def wait_for_calls(self, method: str, count: int, timeout: float = 5.0) -> list[Call]:
        """The calls of ``method`` once there are at least ``count``; TimeoutError otherwise."""
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: len(self.calls_of(method)) >= count), timeout
                )
            except TimeoutError:
                seen = [call.method for call in self.calls]
                raise TimeoutError(
                    f"expected {count} {method} call(s) within {timeout}s; calls so far: {seen}"
                ) from None
        return self.calls_of(method)

    def fail_next(self, method: str, error: str, status: int) -> None:
        """Answer the next call of ``method`` with ``error`` (and HTTP ``status``)."""
        self._failures.setdefault(method, []).append(Failure(error, status))

    def take_failure(self, method: str) -> Failure | None:
        queue = self._failures.get(method)
        return queue.pop(0) if queue else None
