"""schemathesis against the hub's own OpenAPI document: every documented route of a real
``chinwag run`` process, with the token, answers without a 5xx and as the document says, and
the hub's log holds no traceback afterwards.

The document is built at import time with ``openapi_document`` (schemathesis' lazy
``from_fixture`` does not run on pytest 9), and the first test checks that the running hub's
``/openapi.json`` is exactly that document.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from chinwag.adapters.hub import openapi_document
from tests.adapters.conftest import RESTAURANT
from tests.integration.conftest import TOKEN, Hub
from tests.security.conftest import record_stats

MAX_EXAMPLES = int(os.environ.get("CHINWAG_FUZZ_EXAMPLES", "25"))


@dataclass
class FuzzedHub:
    """The ``chinwag run`` process under test and what the fuzzing saw."""

    process: Hub
    requests: int = 0
    server_errors: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.process.url

    def tracebacks(self) -> list[str]:
        text = self.process.log.read_text(encoding="utf-8", errors="replace")
        return [line for line in text.splitlines() if "Traceback" in line or " ERROR " in line]


@pytest.fixture(scope="module")
def hub_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzedHub]:
    """``chinwag run`` serving a copy of bots/restaurant (REST only, conversations in memory)
    with the HTTP API on."""
    root = tmp_path_factory.mktemp("openapi")
    bot = root / "restaurant"
    shutil.copytree(
        RESTAURANT, bot, ignore=shutil.ignore_patterns(".chinwag", "models", "__pycache__")
    )
    (bot / "credentials.yml").write_text("rest:\n", encoding="utf-8")
    (bot / "endpoints.yml").write_text("tracker_store:\n  type: memory\n", encoding="utf-8")
    hub = FuzzedHub(Hub(bot, root / "hub.log"))
    hub.process.start()
    try:
        asyncio.run(hub.process.wait_ready())
        yield hub
    finally:
        hub.process.stop()
        record_stats(
            "HTTP API and REST (schemathesis)", hub.requests, hub.server_errors, hub.tracebacks()
        )


DOCUMENT = openapi_document(["restaurant"])
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_hub_serves_this_document(hub_process: FuzzedHub) -> None:
    with urllib.request.urlopen(hub_process.url + "/openapi.json", timeout=10) as response:
        assert json.loads(response.read()) == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_route_answers_as_documented(case: Any, hub_process: FuzzedHub) -> None:
    response = case.call(base_url=hub_process.url, headers={"Authorization": f"Bearer {TOKEN}"})
    hub_process.requests += 1
    if response.status_code >= 500:
        hub_process.server_errors.append(f"{case.method} {case.formatted_path}")
    case.validate_response(response)


def test_the_hub_log_holds_no_traceback(hub_process: FuzzedHub) -> None:
    assert hub_process.requests > 0
    assert hub_process.server_errors == []
    assert hub_process.tracebacks() == []
