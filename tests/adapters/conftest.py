"""Hub test helpers: small inline bots, an in-memory store factory and an aiohttp test client."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from chinwag.adapters.hub import create_app
from chinwag.adapters.server import ConnectionLimits, HubRunner
from chinwag.core.stores.base import TrackerStore
from chinwag.core.stores.locks import InProcessLockStore, LockStore
from chinwag.core.stores.memory import InMemoryTrackerStore

REPO = Path(__file__).resolve().parents[2]
RESTAURANT = REPO / "bots" / "restaurant"
TOKEN = "s3cret-token"

MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


def write_bot(path: Path, greeting: str, credentials: str = "rest:\n") -> Path:
    """A tiny bot: 'hello' -> ``greeting``; 'bye' -> 'Bye!' with a Yes/No button question."""
    path.mkdir(parents=True)
    (path / "domain.yml").write_text(
        f"""version: "3.1"
intents: [greet, goodbye, affirm]
entities: [name]
slots:
  name:
    type: text
    mappings:
      - type: from_entity
        entity: name
responses:
  utter_greet:
    - text: "{greeting}"
  utter_goodbye:
    - text: "Bye!\\n\\nCome back soon."
      image: "https://example.com/bye.png"
  utter_ask_sure:
    - text: "Sure?"
      buttons:
        - title: "Yes"
          payload: /affirm
""",
        encoding="utf-8",
    )
    (path / "data").mkdir()
    (path / "data" / "nlu.yml").write_text(
        """version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hello
      - hi
      - I am [Ada](name)
  - intent: goodbye
    examples: |
      - bye
  - intent: affirm
    examples: |
      - yes
""",
        encoding="utf-8",
    )
    (path / "data" / "rules.yml").write_text(
        """version: "3.1"
rules:
  - rule: greet
    steps:
      - intent: greet
      - action: utter_greet
  - rule: bye
    steps:
      - intent: goodbye
      - action: utter_goodbye
  - rule: affirm
    steps:
      - intent: affirm
      - action: utter_ask_sure
""",
        encoding="utf-8",
    )
    (path / "config.yml").write_text(
        "recipe: default.v1\nlanguage: en\npipeline: []\npolicies:\n  - name: RulePolicy\n",
        encoding="utf-8",
    )
    (path / "credentials.yml").write_text(credentials, encoding="utf-8")
    return path


class HubTestServer(TestServer):
    """aiohttp's TestServer serving through the hub's own runner (adapters.server), so tests
    see the connection limits and error answers ``chinwag run`` has."""

    def __init__(self, app: Any, *, limits: ConnectionLimits | None = None, **kwargs: Any):
        super().__init__(app, **kwargs)
        self.limits = limits

    async def _make_runner(self, **kwargs: Any) -> HubRunner:
        # aiohttp's TestServer asks for handlers to be cancelled when their client goes away;
        # `chinwag run` keeps aiohttp's default (not cancelled: a handler reading a body gets
        # the connection's error, and a message being handled is finished and stored)
        kwargs.pop("handler_cancellation", None)
        return HubRunner(self.app, limits=self.limits, **kwargs)


def memory_stores(_bot_dir: Path) -> tuple[TrackerStore, LockStore]:
    return InMemoryTrackerStore(), InProcessLockStore()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def bot_a(tmp_path: Path) -> Path:
    return write_bot(tmp_path / "alpha", "Hello from alpha!")


@pytest.fixture
def bot_b(tmp_path: Path) -> Path:
    return write_bot(tmp_path / "beta", "Hello from beta!")


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    """``await make_client([bot_dir, ...], auth_token=..., max_body=..., limits=...)``: a
    started hub."""
    clients: list[TestClient[Any, Any]] = []

    async def make(
        bot_dirs: list[Path], limits: ConnectionLimits | None = None, **options: Any
    ) -> TestClient[Any, Any]:
        options.setdefault("stores", memory_stores)
        server = HubTestServer(create_app(bot_dirs, **options), limits=limits)
        client: TestClient[Any, Any] = TestClient(server)
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
