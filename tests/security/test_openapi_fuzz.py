"""schemathesis against the hub's own OpenAPI document: every documented route of a real
``chinwag run`` process, with the token, answers without a 5xx and as the document says, and
the hub's log holds no traceback afterwards.

The document is built at import time with ``openapi_document`` (schemathesis' lazy
``from_fixture`` does not run on pytest 9), and the first test checks that the running hub's
``/openapi.json`` is exactly that document.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from adapters.hub import openapi_document
from tests.adapters.conftest import RESTAURANT, TOKEN, free_port

MAX_EXAMPLES = int(os.environ.get("CHINWAG_FUZZ_EXAMPLES", "25"))
STATS_FILE = os.environ.get("CHINWAG_FUZZ_STATS")  # bench/security.py collects these


@dataclass
class HubProcess:
    url: str
    log: Path
    process: subprocess.Popen[bytes]
    requests: int = 0
    server_errors: list[str] = field(default_factory=list)

    def tracebacks(self) -> list[str]:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return [line for line in text.splitlines() if "Traceback" in line or " ERROR " in line]


@pytest.fixture(scope="module")
def hub_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """``chinwag run`` serving a copy of bots/restaurant (REST only) with the HTTP API on."""
    root = tmp_path_factory.mktemp("openapi")
    bot = root / "restaurant"
    shutil.copytree(
        RESTAURANT, bot, ignore=shutil.ignore_patterns(".chinwag", "models", "__pycache__")
    )
    (bot / "credentials.yml").write_text("rest:\n", encoding="utf-8")
    (bot / "endpoints.yml").write_text("tracker_store:\n  type: memory\n", encoding="utf-8")
    port = free_port()
    log = root / "hub.log"
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "MONGODB_URL")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "core.cli", "run", str(bot), "--host", "127.0.0.1"),
                *("--port", str(port), "--auth-token", TOKEN),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    hub = HubProcess(f"http://127.0.0.1:{port}", log, process)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text(encoding="utf-8", errors="replace")
            try:
                with urllib.request.urlopen(hub.url + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, "the hub did not start within 60 s"
                time.sleep(0.1)
        yield hub
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if STATS_FILE:
            stats = {"requests": hub.requests, "5xx": len(hub.server_errors)}
            stats["tracebacks"] = len(hub.tracebacks())
            Path(STATS_FILE).write_text(json.dumps(stats), encoding="utf-8")


DOCUMENT = openapi_document(["restaurant"])
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_hub_serves_this_document(hub_process: HubProcess) -> None:
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
def test_every_route_answers_as_documented(case: Any, hub_process: HubProcess) -> None:
    response = case.call(base_url=hub_process.url, headers={"Authorization": f"Bearer {TOKEN}"})
    hub_process.requests += 1
    if response.status_code >= 500:
        hub_process.server_errors.append(f"{case.method} {case.formatted_path}")
    case.validate_response(response)


def test_the_hub_log_holds_no_traceback(hub_process: HubProcess) -> None:
    assert hub_process.requests > 0
    assert hub_process.server_errors == []
    assert hub_process.tracebacks() == []
