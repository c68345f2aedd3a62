"""The security suite's hub: bots/restaurant on REST, Slack and Telegram at once (slack-bolt and
python-telegram-bot against tests/emulators), the HTTP API on with a token, served through the
hub's own runner; raw-socket requests; the hub's log, checked for tracebacks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from chinwag.adapters.hub import BOTS, create_app
from chinwag.adapters.server import ConnectionLimits
from tests.adapters.conftest import (  # make_client: the adapters' hub fixture, shared
    RESTAURANT,
    TOKEN,
    HubTestServer,
    make_client,  # noqa: F401
    memory_stores,
)
from tests.emulators import clear_platform_env
from tests.emulators.slack import BOT_TOKEN as SLACK_TOKEN
from tests.emulators.slack import SIGNING_SECRET, FakeSlackAPI, sign_slack
from tests.emulators.telegram import BOT_TOKEN as TELEGRAM_TOKEN
from tests.emulators.telegram import FakeTelegramAPI

SLACK = "/webhooks/slack/webhook"
TELEGRAM = "/webhooks/telegram/webhook"
REST = "/webhooks/rest/webhook"
TELEGRAM_SECRET = "security_suite-secret"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def credentials(slack: FakeSlackAPI, telegram: FakeTelegramAPI, **telegram_extra: str) -> str:
    telegram_settings = {
        "access_token": "${SEC_TG_TOKEN}",
        "api_url": telegram.base_url,
        "secret_token": TELEGRAM_SECRET,
        "webhook_url": "https://bot.example.com/webhooks/telegram/webhook",
        **telegram_extra,
    }
    lines = [
        "rest:",
        "slack:",
        "  slack_token: ${SEC_SLACK_TOKEN}",
        "  slack_signing_secret: ${SEC_SLACK_SECRET}",
        f"  api_url: {slack.base_url}",
        "telegram:",
        *(f"  {key}: {value}" for key, value in telegram_settings.items() if value != "-"),
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- the log


class HubLog:
    """Records of the hub's loggers (and aiohttp's, slack-bolt's, PTB's) during a test."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog

    def records(self) -> list[logging.LogRecord]:
        """The test's records so far (set-up and call: ``caplog.records`` is per phase)."""
        return self.caplog.get_records("setup") + self.caplog.get_records("call")

    def tracebacks(self) -> list[logging.LogRecord]:
        """Records that carry a traceback or are errors."""
        return [r for r in self.records() if r.exc_info or r.levelno >= logging.ERROR]

    def messages(self, level: int = logging.WARNING) -> list[str]:
        return [r.getMessage() for r in self.records() if r.levelno >= level]

    async def wait_for(self, text: str, timeout: float = 10.0) -> list[str]:
        """The WARNING+ messages holding ``text``, once there is one (polled on the loop)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (found := [m for m in self.messages() if text in m]):
            if loop.time() > deadline:
                raise TimeoutError(f"no log line with {text!r}; seen: {self.messages()}")
            await asyncio.sleep(0.01)
        return found


def record_stats(
    suite: str, requests: int, server_errors: list[str], tracebacks: list[Any]
) -> None:
    """Add one suite's figures to $CHINWAG_FUZZ_STATS (a JSON file bench/security.py reads)."""
    target = os.environ.get("CHINWAG_FUZZ_STATS")
    if not target:
        return
    path = Path(target)
    stats = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    stats[suite] = {"requests": requests, "5xx": len(server_errors), "tracebacks": len(tracebacks)}
    path.write_text(json.dumps(stats, indent=1), encoding="utf-8")


@pytest.fixture
def hub_log(caplog: pytest.LogCaptureFixture) -> Iterator[HubLog]:
    """The hub's log; the test fails if it holds a traceback or an error at the end."""
    caplog.set_level(logging.INFO)
    log = HubLog(caplog)
    yield log
    bad = [f"{r.levelname} {r.name}: {r.getMessage()}" for r in log.tracebacks()]
    assert not bad, f"tracebacks/errors in the hub log: {bad}"


# ---------------------------------------------------------------------------- the hub


@dataclass
class Hub:
    """The running hub, the fakes it talks to, and ways to reach it."""

    client: TestClient[Any, Any]
    slack: FakeSlackAPI
    telegram: FakeTelegramAPI

    @property
    def port(self) -> int:
        port = self.client.server.port
        assert port is not None
        return port

    @property
    def store(self) -> Any:
        return self.client.app[BOTS]["restaurant"].agent.store

    async def stored_ids(self) -> set[str]:
        return set(await self.store.ids())

    async def tracker(self, conversation: str) -> Any:
        return await self.client.app[BOTS]["restaurant"].agent.load_tracker(conversation)

    async def user_texts(self, conversation: str) -> list[str]:
        tracker = await self.tracker(conversation)
        return [e.to_dict()["text"] for e in tracker.events if e.to_dict()["event"] == "user"]

    async def rest(self, sender: Any, message: str, **extra: Any) -> ClientResponse:
        return await self.client.post(REST, json={"sender": sender, "message": message, **extra})

    async def slack_post(
        self, body: str | bytes, content_type: str, *, signed: bool = True, **sign: Any
    ) -> ClientResponse:
        raw = body.encode() if isinstance(body, str) else body
        headers = {"Content-Type": content_type}
        if signed:
            headers |= sign_slack(raw, secret=sign.pop("secret", SIGNING_SECRET), **sign)
        return await self.client.post(SLACK, data=raw, headers=headers)

    async def telegram_post(
        self, update: Any, secret: str | None = TELEGRAM_SECRET
    ) -> ClientResponse:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        return await self.client.post(TELEGRAM, data=json.dumps(update), headers=headers)


@pytest.fixture
async def make_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """``await make_hub(body_timeout=..., limits=..., **telegram_settings)``: a started hub
    serving a copy of bots/restaurant on all three channels."""
    clear_platform_env(monkeypatch)
    monkeypatch.setenv("SEC_SLACK_TOKEN", SLACK_TOKEN)
    monkeypatch.setenv("SEC_SLACK_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SEC_TG_TOKEN", TELEGRAM_TOKEN)
    clients: list[TestClient[Any, Any]] = []
    async with FakeSlackAPI() as slack, FakeTelegramAPI() as telegram:

        async def make(
            limits: ConnectionLimits | None = None,
            body_timeout: float = 30.0,
            **telegram_extra: str,
        ) -> Hub:
            bot = tmp_path / f"hub{len(clients)}" / "restaurant"
            shutil.copytree(
                RESTAURANT, bot, ignore=shutil.ignore_patterns(".chinwag", "models", "__pycache__")
            )
            (bot / "credentials.yml").write_text(
                credentials(slack, telegram, **telegram_extra), encoding="utf-8"
            )
            app = create_app(
                [bot], auth_token=TOKEN, body_timeout=body_timeout, stores=memory_stores
            )
            client: TestClient[Any, Any] = TestClient(HubTestServer(app, limits=limits))
            await client.start_server()
            clients.append(client)
            return Hub(client, slack, telegram)

        try:
            yield make
        finally:
            for client in clients:
                await client.close()


@pytest.fixture
async def hub(make_hub: Any) -> Hub:
    made: Hub = await make_hub()
    return made


# ---------------------------------------------------------------------------- raw HTTP


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def raw_request(port: int, data: bytes, timeout: float = 10.0) -> RawResponse | None:
    """Send ``data`` as it is on a new connection and read one answer (its head, then as many
    body bytes as its Content-Length says); None when the server closes without answering."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                return None
            raise
        status_line, *header_lines = head.decode("latin-1").strip().split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await asyncio.wait_for(reader.readexactly(length), timeout)
    except ConnectionResetError:
        return None
    finally:
        writer.close()
    return RawResponse(int(status_line.split()[1]), headers, body)


def http_request(method: str, path: str, headers: bytes = b"", body: bytes = b"") -> bytes:
    """One HTTP/1.1 request as bytes (``Connection: close``, ``Content-Length`` of ``body``)."""
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".encode()
        + headers
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
