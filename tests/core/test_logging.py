"""`chinwag run --log-format json`: every line a JSON object with the message's fields; no
message text or secret in the log unless --log-messages."""

from __future__ import annotations

import io
import json
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from chinwag.core.init import scaffold
from chinwag.core.logs import JsonFormatter, announce
from tests.adapters.conftest import free_port

TOKEN = "log-test-token-4d1c"
TEXT = "am I talking to a bot?"  # a training example: understood without a trained model


def run_hub(tmp_path: Path, *options: str) -> tuple[list[dict[str, Any]], list[str], Any]:
    """Start a hub on the starter bot, send TEXT over REST, stop it: the parsed log lines,
    the raw lines, and the REST answer."""
    bot = scaffold(tmp_path / "bot").path
    port = free_port()
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "chinwag", "run", str(bot), "--host", "127.0.0.1"),
                *("--port", str(port), "--auth-token", TOKEN, "--log-format", "json"),
                *("--workers", "1"),  # what is logged, not how many processes log it
                *options,
            ],
            stdout=stdout,
            stderr=stderr,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
            while True:
                assert process.poll() is None, err.read_text()
                assert time.monotonic() < deadline, "hub not ready"
                try:
                    if requests.get(f"{url}/health", timeout=30).status_code == 200:
                        break
                except requests.ConnectionError:
                    time.sleep(0.1)
            answer = requests.post(
                f"{url}/webhooks/rest/webhook",
                json={"sender": "log-tester", "message": TEXT},
                timeout=30,
            ).json()
            # the HTTP API with the token in the query: the token must stay out of the log too
            assert requests.get(f"{url}/metrics", params={"token": TOKEN}, timeout=30).ok
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    raw = [
        line
        for path in (out, err)
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return [json.loads(line) for line in raw], raw, answer


def test_json_log_lines_carry_the_message_fields_and_no_text(tmp_path: Path) -> None:
    entries, raw, answer = run_hub(tmp_path, "--log-level", "info")
    assert answer and answer[0]["text"] == "I am a bot, powered by chinwag."
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= entry.keys(), entry
    assert any(e.get("event") == "serving" for e in entries)
    handled = [e for e in entries if e.get("event") == "message"]
    assert len(handled) == 1
    assert handled[0]["bot"] == "bot"
    assert handled[0]["channel"] == "rest"
    assert handled[0]["conversation_id"] == "log-tester"
    assert handled[0]["latency_ms"] > 0
    assert "text" not in handled[0]
    for line in raw:
        assert TEXT not in line
        assert TOKEN not in line


def test_log_messages_lets_the_text_in(tmp_path: Path) -> None:
    entries, _raw, _answer = run_hub(tmp_path, "--log-level", "info", "--log-messages")
    handled = [e for e in entries if e.get("event") == "message"]
    assert [e.get("text") for e in handled] == [TEXT]


def test_redaction_of_secrets_and_the_current_text() -> None:
    import logging

    from chinwag.core import logs

    record = logging.LogRecord(
        "x", logging.ERROR, "", 0, "failed for %s with xoxb-1234567890-abcdef", (TEXT,), None
    )
    logs.add_secrets([TOKEN])
    with logs.handling("bot", "rest", "c1", TEXT):
        assert logs.ContextFilter().filter(record)
    message = record.getMessage()
    assert TEXT not in message and "xoxb-1234567890" not in message
    assert record.__dict__["conversation_id"] == "c1"


@pytest.fixture(autouse=True)
def _no_leftover_settings() -> Any:
    from chinwag.core import logs

    saved = (logs.SETTINGS.log_messages, logs.SETTINGS.secrets)
    yield
    logs.SETTINGS.log_messages, logs.SETTINGS.secrets = saved


@pytest.mark.parametrize("json_log", [False, True])
def test_an_announcement_is_one_write_so_workers_lines_never_run_together(
    monkeypatch: pytest.MonkeyPatch, json_log: bool
) -> None:
    """Hub workers share stdout, unbuffered under PYTHONUNBUFFERED: a line written in two
    pieces (text, then newline) can end up beside another worker's line."""
    writes: list[str] = []

    class Recorder(io.StringIO):
        def write(self, text: str) -> int:
            writes.append(text)
            return super().write(text)

    handler = logging.NullHandler()  # announce writes JSON when the log is JSON
    if json_log:
        handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)
    monkeypatch.setattr(sys, "stdout", Recorder())
    try:
        announce("chinwag hub serving bot on http://127.0.0.1:5005 (worker 7)", event="serving")
    finally:
        logging.getLogger().removeHandler(handler)
    assert len(writes) == 1 and writes[0].endswith("\n") and writes[0].count("\n") == 1
    assert "(worker 7)" in writes[0]
