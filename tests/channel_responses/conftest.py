"""Fixtures shared by the rendering tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.emulators import clear_platform_env
from tests.emulators.slack import FakeSlackAPI
from tests.emulators.telegram import FakeTelegramAPI


@pytest.fixture
async def fakes(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[FakeSlackAPI, FakeTelegramAPI]]:
    clear_platform_env(monkeypatch)
    async with FakeSlackAPI() as slack, FakeTelegramAPI() as telegram:
        yield slack, telegram
