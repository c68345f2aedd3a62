"""Hypothesis against the Slack and Telegram webhooks, through the real slack-bolt and
python-telegram-bot code paths (tests/emulators stand in for the platforms).

Bodies are built from real requests with fields dropped or replaced by any JSON value, plus
arbitrary bytes and headers. Whatever arrives: never a 5xx, never a traceback in the hub's log
(``hub_log``), and a refused request stores nothing (each example talks as a user of its own,
so its conversation must not exist after a 4xx).

Hypothesis draws the examples up front (deterministically: ``derandomize``), since the hub
runs on the test's event loop; each failure names the request that caused it.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from tests.emulators.slack import (
    SIGNING_SECRET,
    slack_block_action_payload,
    slack_command_form,
    slack_event_envelope,
    slack_interactive_body,
    slack_message_event,
)
from tests.emulators.telegram import telegram_callback_update, telegram_message_update
from tests.security.conftest import SLACK, Hub, HubLog, record_stats

FORM = "application/x-www-form-urlencoded"
# header values: any text but line breaks and other controls (aiohttp's client refuses those)
header_text = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=70)
EXAMPLES = int(os.environ.get("CHINWAG_FUZZ_EXAMPLES", "100"))
USER = "UFUZZUSER"  # replaced by a user of its own in every example
CHAT = 918273645  # likewise for Telegram chat (and update) ids


def examples(strategy: SearchStrategy[Any], count: int = EXAMPLES) -> list[Any]:
    """``count`` values drawn from ``strategy``, the same ones on every run."""
    found: list[Any] = []

    @settings(
        max_examples=count,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return found


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key/index path into ``value`` (dicts and lists)."""
    found: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, inner in items:
        found.append((*prefix, key))
        if isinstance(inner, dict | list) and inner:
            found += _paths(inner, (*prefix, key))
    return found


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with up to three fields dropped or replaced by any JSON value."""
    value = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(value)
        if not paths:
            break
        *parent_path, key = draw(st.sampled_from(paths))
        parent = value
        for step in parent_path:
            parent = parent[step]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[key]
        else:
            parent[key] = draw(json_values)
    return value


class Tally:
    """Requests sent and 5xx seen by one suite (for bench/results/security.md)."""

    def __init__(self, suite: str) -> None:
        self.suite = suite
        self.requests = 0
        self.server_errors: list[str] = []

    def saw(self, status: int, what: str) -> None:
        self.requests += 1
        if status >= 500:
            self.server_errors.append(f"{status}: {what[:300]}")

    def close(self, hub_log: HubLog) -> None:
        record_stats(self.suite, self.requests, self.server_errors, hub_log.tracebacks())
        assert self.server_errors == []


async def refused_stores_nothing(hub: Hub, status: int, user: str) -> None:
    if status >= 400:
        assert not [i for i in await hub.stored_ids() if user in i], user


# ---------------------------------------------------------------------------- Slack


def _slack_requests(user: str = USER) -> SearchStrategy[tuple[str, str]]:
    event = slack_event_envelope(slack_message_event("book a table", user=user), f"Ev{user}")
    click = slack_block_action_payload("/greet", user=user)
    command = slack_command_form("/chinwag", "hello", user_id=user)
    kinds = st.sampled_from(["view_submission", "shortcut", "block_suggestion", "block_actions"])
    return st.one_of(
        mutated(event).map(lambda body: (json.dumps(body), "application/json")),
        mutated(click).map(lambda payload: (slack_interactive_body(payload), FORM)),
        mutated(command).map(lambda form: (urlencode(form), FORM)),
        st.builds(
            lambda kind, payload: (slack_interactive_body({"type": kind, **payload}), FORM),
            kinds,
            st.dictionaries(st.sampled_from(["user", "view", "actions", "team"]), json_values),
        ),
        st.text(max_size=60).map(lambda text: (text, FORM)),
        json_values.map(lambda value: (json.dumps(value), "application/json")),
    )


async def test_signed_slack_requests_never_5xx(hub: Hub, hub_log: HubLog) -> None:
    tally = Tally("slack signed")
    for n, (body, kind) in enumerate(examples(_slack_requests())):
        user = f"UFZ{n}X"
        body = body.replace(USER, user)
        response = await hub.slack_post(body, kind)
        tally.saw(response.status, body)
        await refused_stores_nothing(hub, response.status, user)
    tally.close(hub_log)


async def test_unsigned_slack_requests_are_401(hub: Hub, hub_log: HubLog) -> None:
    tally = Tally("slack unsigned")
    headers = st.fixed_dictionaries(
        {},
        optional={
            "X-Slack-Request-Timestamp": st.one_of(
                header_text, st.just(str(int(time.time()) - 301))
            ),
            "X-Slack-Signature": st.one_of(header_text, st.just("v0=" + "0" * 64)),
            "Content-Type": st.sampled_from(["application/json", FORM, "text/plain"]),
        },
    )
    bodies = st.one_of(st.binary(max_size=80), _slack_requests().map(lambda r: r[0].encode()))
    for body, fields in examples(st.tuples(bodies, headers)):
        # header values as bytes on the wire: whatever the text, sent as latin-1
        sent = {k: v.encode("utf-8", "replace").decode("latin-1") for k, v in fields.items()}
        response = await hub.client.post(SLACK, data=body, headers=sent)
        tally.saw(response.status, repr(body))
        assert response.status == 401, (body, sent)
    wrong = slack_event_envelope(slack_message_event("hello", user="UWRONG"), "EvWrong")
    response = await hub.slack_post(
        json.dumps(wrong), "application/json", secret="not-" + SIGNING_SECRET
    )
    tally.saw(response.status, "wrong secret")
    assert response.status == 401
    assert await hub.stored_ids() == set()
    assert hub.slack.calls == []
    tally.close(hub_log)


# ---------------------------------------------------------------------------- Telegram


def _updates(chat: int = CHAT) -> SearchStrategy[Any]:
    message = telegram_message_update(chat, chat, "book a table")
    command = telegram_message_update(chat, chat, "/start")
    press = telegram_callback_update(chat, chat, "/greet")
    keys = st.sampled_from(["update_id", "message", "callback_query", "edited_message"])
    return st.one_of(
        mutated(message),
        mutated(command),
        mutated(press),
        json_values,
        st.dictionaries(keys, json_values),
    )


async def test_telegram_updates_with_the_secret_never_5xx(hub: Hub, hub_log: HubLog) -> None:
    tally = Tally("telegram with secret")
    for n, update in enumerate(examples(_updates())):
        chat = 10**6 + n
        body = json.loads(json.dumps(update).replace(str(CHAT), str(chat)))
        response = await hub.telegram_post(body)
        tally.saw(response.status, json.dumps(body))
        assert response.status in (200, 400), body
        await refused_stores_nothing(hub, response.status, f"telegram:{chat}")
    tally.close(hub_log)


async def test_telegram_updates_without_the_secret_are_403(hub: Hub, hub_log: HubLog) -> None:
    tally = Tally("telegram without secret")
    secrets = st.one_of(st.none(), header_text)
    for update, secret in examples(st.tuples(_updates(), secrets)):
        if secret is not None:
            secret = secret.encode("utf-8", "replace").decode("latin-1")
        response = await hub.telegram_post(update, secret=secret)
        tally.saw(response.status, json.dumps(update))
        assert response.status == 403
    assert await hub.stored_ids() == set()
    assert hub.telegram.calls_of("sendMessage") == []
    tally.close(hub_log)
