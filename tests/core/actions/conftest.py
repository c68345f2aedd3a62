"""A real rasa_sdk action server serving sample_actions.py, started once per test session."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

from chinwag.core.actions.base import ActionContext
from chinwag.core.data.domain_reader import read_domain
from chinwag.core.data.problems import Problems
from chinwag.core.domain import Domain
from chinwag.core.events import ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered
from chinwag.core.tracker import Tracker

REPO = Path(__file__).resolve().parents[3]
STARTUP_TIMEOUT = 90.0  # seconds; rasa_sdk imports sanic, pydantic and opentelemetry


@dataclass
class ActionServer:
    url: str  # the webhook URL
    log: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.is_file() else ""


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=1) as response:
            return response.status == 200 and b'"ok"' in response.read()
    except (OSError, urllib.error.URLError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate the server's process group (sanic runs a worker process) and wait for it."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
    # the worker may outlive its manager by a moment; kill what is left of the group
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServer]:
    port = free_port()
    log = tmp_path_factory.mktemp("action_server") / "server.log"
    env = {**os.environ, "SANIC_HOST": "127.0.0.1", "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rasa_sdk",
                "--actions",
                "tests.core.actions.sample_actions",
                "--port",
                str(port),
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = ActionServer(f"http://127.0.0.1:{port}/webhook", log, process)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not _healthy(base):
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            pytest.fail(
                f"rasa_sdk action server did not become healthy on port {port} "
                f"(exit code {process.returncode}); its log:\n{server.log_text()}"
            )
        time.sleep(0.1)  # poll interval, bounded by the deadline
    try:
        yield server
    finally:
        _stop(process)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """Attach the action server's log to the report of a failing test that used it."""
    outcome = yield
    report = outcome.get_result()
    server = getattr(item, "funcargs", {}).get("action_server")
    if report.failed and isinstance(server, ActionServer):
        report.sections.append(("action server log", server.log_text()))


DOMAIN_YML = """
version: "3.1"
intents: [greet, inform, request_table]
entities: [colour, cuisine]
slots:
  colour:
    type: text
    mappings: [{type: from_entity, entity: colour}]
  user_name:
    type: text
    mappings: [{type: custom}]
  cuisine:
    type: text
    mappings: [{type: from_entity, entity: cuisine, conditions: [{active_loop: table_form}]}]
  party_size:
    type: any
    mappings: [{type: custom, action: validate_table_form}]
  phone:
    type: text
    mappings:
      - type: from_text
        conditions: [{active_loop: table_form, requested_slot: phone}]
responses:
  utter_greet_name:
    - text: "Hello {name}!"
  utter_wrong_party_size:
    - text: "A party needs at least one person."
actions:
  - action_pick_colour
  - action_greet_user
  - action_reject
  - action_crash
  - validate_table_form:
      send_domain: true
forms:
  table_form:
    required_slots: [cuisine, party_size]
"""


class FakeNLG:
    """Renders a domain response as Rasa's templated NLG: slots, then kwargs, fill {vars}.

    Its parameters are positional-only, as they must be for any kwarg (``name=``...) of
    ``utter_message`` to reach the template; it records each call.
    """

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self.calls: list[tuple[str, str | None, dict[str, Any]]] = []

    async def generate(
        self, utter_action: str, tracker: Tracker, output_channel: str | None, /, **kwargs: Any
    ) -> dict[str, Any] | None:
        self.calls.append((utter_action, output_channel, kwargs))
        variations = self.domain.responses.get(utter_action)
        if not variations:
            return None
        values = {**tracker.slots, **kwargs}
        response = dict(variations[0])
        response["text"] = response["text"].format_map(values)
        return response


@pytest.fixture(scope="session")
def domain(tmp_path_factory: pytest.TempPathFactory) -> Domain:
    bot = tmp_path_factory.mktemp("domain")
    (bot / "domain.yml").write_text(DOMAIN_YML)
    problems = Problems()
    result = read_domain([bot / "domain.yml"], bot, problems)
    assert not list(problems)
    return result


@pytest.fixture
def make_ctx(domain: Domain) -> Callable[[Tracker], ActionContext]:
    def make(tracker: Tracker) -> ActionContext:
        return ActionContext(tracker, domain, cast(Any, FakeNLG(domain)), channel="rest")

    return make


def _user(text: str, intent: str, entities: list[dict[str, Any]] | None = None) -> UserUttered:
    return UserUttered(
        text=text,
        intent={"name": intent, "confidence": 0.9},
        entities=entities or [],
        parse_data={"intent_ranking": [{"name": intent, "confidence": 0.9}]},
        input_channel="rest",
        message_id="m1",
    )


def _form_turn(
    requested: str, user: UserUttered, filled: Sequence[Event], candidates: Sequence[Event]
) -> list[Event]:
    """The table form (with ``filled`` slots) asked for ``requested``, the user answered; the
    slot ``candidates`` the form extracted come last, as Rasa sends them to validate_<form>."""
    return [
        ActionExecuted("action_listen"),
        _user("/request_table", "request_table"),
        ActionExecuted("table_form"),
        ActiveLoop("table_form"),
        *filled,
        SlotSet("requested_slot", requested),
        ActionExecuted("action_listen"),
        user,
        *candidates,
    ]


@pytest.fixture
def trackers(domain: Domain) -> dict[str, Tracker]:
    """Conversations just before each sample action runs."""
    colour = [
        ActionExecuted("action_listen"),
        _user(
            "I like red", "inform", [{"entity": "colour", "value": "red", "start": 7, "end": 10}]
        ),
    ]
    pizza_said = _user("pizza", "inform", [{"entity": "cuisine", "value": "pizza"}])
    pizza = _form_turn("cuisine", pizza_said, [], [SlotSet("cuisine", "pizza")])
    thai = [SlotSet("cuisine", "thai")]
    big_party = _form_turn("party_size", _user("we are 8 people", "inform"), thai, [])
    nobody = _form_turn("party_size", _user("nobody", "inform"), thai, [SlotSet("party_size", 0)])
    greet = [SlotSet("user_name", "Ada"), ActionExecuted("action_listen"), _user("hi", "greet")]
    return {
        name: Tracker("user-1", domain, events)
        for name, events in {
            "colour": colour,
            "pizza": pizza,
            "big_party": big_party,
            "nobody": nobody,
            "greet": greet,
        }.items()
    }


# (action, tracker) pairs every executor must agree on
SCENARIOS = [
    ("action_pick_colour", "colour"),
    ("action_greet_user", "greet"),
    ("validate_table_form", "pizza"),
    ("validate_table_form", "big_party"),
    ("validate_table_form", "nobody"),
]


@pytest.fixture(params=SCENARIOS, ids=[f"{a}-{t}" for a, t in SCENARIOS])
def scenario(request: pytest.FixtureRequest) -> tuple[str, str]:
    action, tracker = request.param
    return action, tracker


def plain_events(events: list[Event]) -> list[dict[str, Any]]:
    """Events as JSON without timestamps (which differ between runs)."""
    return [{k: v for k, v in e.to_dict().items() if k != "timestamp"} for e in events]


@pytest.fixture
def as_plain() -> Callable[[list[Event]], list[dict[str, Any]]]:
    return plain_events
