"""Named regressions for issue 11: bodies (item 6), header bytes (8), Telegram (3, 9), Slack
(4), slow clients (10) and the small ones (12). Every refused request stores nothing and the
hub's log holds no traceback (the ``hub_log`` fixture checks)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from chinwag.adapters.hub import MAX_JSON_DEPTH
from chinwag.adapters.server import ConnectionLimits
from chinwag.core.cli import build_parser
from tests.adapters.conftest import TOKEN, MakeClient, write_bot
from tests.emulators.slack import (
    slack_block_action_payload,
    slack_command_form,
    slack_event_envelope,
    slack_interactive_body,
    slack_message_event,
)
from tests.emulators.telegram import telegram_callback_update, telegram_message_update
from tests.security.conftest import (
    REST,
    SECRET_HEADER,
    SLACK,
    TELEGRAM,
    TELEGRAM_SECRET,
    Hub,
    HubLog,
    http_request,
    raw_request,
)

AUTH = {"Authorization": f"Bearer {TOKEN}"}
FORM = "application/x-www-form-urlencoded"
DEEP = "[" * 1000 + "]" * 1000
BIG_INT = "1" * 4301


# ---------------------------------------------------------------------------- item 6: JSON


def _nest(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth - 1):
        value = [value]
    return value


JSON_ROUTES = [
    ("rest", REST, {}),
    ("messages", "/conversations/c1/messages", AUTH),
    ("trigger_intent", "/conversations/c1/trigger_intent", AUTH),
    ("parse", "/model/parse", AUTH),
    ("telegram", TELEGRAM, {SECRET_HEADER: TELEGRAM_SECRET}),
]


@pytest.mark.parametrize(("route", "path", "headers"), JSON_ROUTES, ids=[r[0] for r in JSON_ROUTES])
@pytest.mark.parametrize(
    ("body", "error"),
    [
        (DEEP, "JSON nested too deeply"),
        (f'{{"sender": "u", "message": "hi", "metadata": {{"n": {BIG_INT}}}}}', "malformed JSON"),
        ('{"sender": "u", "message": "hi", "metadata": {"n": NaN}}', "malformed JSON"),
        (
            json.dumps({"sender": "u", "message": "hi", "x": _nest(MAX_JSON_DEPTH + 1)}),
            "JSON nested",
        ),
    ],
    ids=["1000-deep", "4301-digits", "nan", "65-deep"],
)
async def test_hostile_json_is_400_on_every_json_route(
    hub: Hub, hub_log: HubLog, route: str, path: str, headers: dict[str, str], body: str, error: str
) -> None:
    response = await hub.client.post(
        path, data=body, headers={"Content-Type": "application/json", **headers}
    )
    assert response.status == 400
    assert (await response.json())["error"].startswith(error)
    assert await hub.stored_ids() == set()


async def test_hostile_json_in_a_signed_slack_body_is_400(hub: Hub, hub_log: HubLog) -> None:
    for body, kind in ((DEEP, "application/json"), (f'{{"n": {BIG_INT}}}', "application/json")):
        assert (await hub.slack_post(body, kind)).status == 400
    payload = urlencode({"payload": '{"type": "block_actions", "a": ' + DEEP + "}"})
    assert (await hub.slack_post(payload, FORM)).status == 400
    assert await hub.stored_ids() == set()
    assert hub.slack.calls == []


# ---------------------------------------------------------------------------- item 8: headers


async def test_undecodable_header_bytes_are_401_and_403(hub: Hub, hub_log: HubLog) -> None:
    tracker = http_request("GET", "/conversations/c1/tracker", b"Authorization: Bearer \xff\r\n")
    answer = await raw_request(hub.port, tracker)
    assert answer is not None and answer.status == 401
    assert answer.json()["error"] == "wrong token"
    query = await hub.client.get("/conversations/c1/tracker?token=%FF%ED%A0%80")
    assert query.status == 401
    update = json.dumps(telegram_message_update(1, 42, "hello")).encode()
    secret = f"{SECRET_HEADER}: \xff\r\nContent-Type: application/json\r\n".encode("latin-1")
    answer = await raw_request(hub.port, http_request("POST", TELEGRAM, secret, update))
    assert answer is not None and answer.status == 403
    slack_headers = b"X-Slack-Request-Timestamp: \xff\r\nX-Slack-Signature: v0=\xff\r\n"
    answer = await raw_request(hub.port, http_request("POST", SLACK, slack_headers, b"{}"))
    assert answer is not None and answer.status == 401
    assert await hub.stored_ids() == set()


# ---------------------------------------------------------------------------- Telegram


async def test_telegram_polling_mounts_no_webhook(make_hub: Any, hub_log: HubLog) -> None:
    hub: Hub = await make_hub(webhook_url="-", secret_token="-", polling="true")
    update = telegram_message_update(1, 42, "hello")
    for secret in (None, "anything"):
        response = await hub.telegram_post(update, secret=secret)
        assert response.status == 404
    assert hub.telegram.calls_of("sendMessage") == []
    assert await hub.stored_ids() == set()


@pytest.mark.parametrize(
    "update",
    [
        {"update_id": [1]},
        {"update_id": "1"},
        {"update_id": True},
        {"update_id": 1, "message": "hello"},
        {"update_id": 1, "callback_query": "press"},
        {"update_id": 1, "edited_message": []},
        {"message": {"text": "hi"}},
        "update",
    ],
)
async def test_telegram_updates_of_the_wrong_shape_are_400(
    hub: Hub, hub_log: HubLog, update: Any
) -> None:
    response = await hub.telegram_post(update)
    assert response.status == 400
    assert await hub.stored_ids() == set()


async def test_telegram_wrong_types_inside_a_message_are_400(hub: Hub, hub_log: HubLog) -> None:
    cases: list[dict[str, Any]] = []
    for key, value in (("entities", "bold"), ("chat", 42), ("text", ["hi"]), ("date", "now")):
        update = telegram_message_update(len(cases) + 1, 42, "/start")
        update["message"][key] = value
        cases.append(update)
    press = telegram_callback_update(9, 42, "/affirm")
    press["callback_query"]["from"] = "ann"
    cases.append(press)
    huge_date = telegram_message_update(10, 42, "hello")
    huge_date["message"]["date"] = 10**20
    cases.append(huge_date)
    no_chat = telegram_message_update(11, 42, "hello")  # PTB reads it; the hub needs a chat
    del no_chat["message"]["chat"]
    cases.append(no_chat)
    for update in cases:
        response = await hub.telegram_post(update)
        assert response.status == 400, update
        assert (await response.json())["error"] == "not a Telegram update"
    assert hub.telegram.calls_of("sendMessage") == []
    assert await hub.stored_ids() == set()


# ---------------------------------------------------------------------------- Slack (item 4)


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"[]", {"Content-Type": "application/json"}),
        (b"payload=%7B", {"Content-Type": FORM}),
        (b"{}", {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=00"}),
        (b"{}", {"X-Slack-Request-Timestamp": "\u0661\u0662", "X-Slack-Signature": "v0=0"}),
        (b"\xff\xfe", {"X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "x"}),
    ],
    ids=["list", "broken-payload", "ts-abc", "ts-arabic-digits", "not-utf8"],
)
async def test_slack_unsigned_bodies_are_401_before_parsing(
    hub: Hub, hub_log: HubLog, body: bytes, headers: dict[str, str]
) -> None:
    response = await hub.client.post(SLACK, data=body, headers=headers)
    assert response.status == 401
    assert (await response.json())["error"] == "invalid Slack signature"
    assert hub.slack.calls == []


def _action(**action: Any) -> str:
    payload = slack_block_action_payload("x")
    payload["actions"] = [action] if action else []
    return slack_interactive_body(payload)


@pytest.mark.parametrize(
    ("body", "kind", "statuses"),
    [
        ("[]", "application/json", {400}),
        ("payload=%7B", FORM, {400}),
        ("payload=%5B%5D", FORM, {400}),
        (_action(), FORM, {400}),
        (_action(type="static_select", action_id="a", selected_option="4"), FORM, {400}),
        (_action(type="checkboxes", action_id="a", selected_options=["a"]), FORM, {400}),
        (_action(type="button", action_id=["a"], value="/affirm"), FORM, {400}),
        (_action(type="button", value="/affirm"), FORM, {400}),  # bolt reads action_id
        ('{"type": "event_callback", "event_id": "E3", "event": {}}', "application/json", {400}),
        (urlencode({**slack_command_form("/chinwag", "hi"), "user_id": ""}), FORM, {200}),
        (slack_interactive_body({"type": "view_submission", "view": {"id": "V1"}}), FORM, {200}),
        (slack_interactive_body({"type": "shortcut", "callback_id": "s"}), FORM, {200}),
        (slack_interactive_body({"type": "block_actions", "user": "U1"}), FORM, {400}),
        ('{"type": "event_callback", "event_id": "E1", "event": "x"}', "application/json", {400}),
        ('{"type": "event_callback", "event": {"type": "message"}}', "application/json", {400}),
        (
            json.dumps(slack_event_envelope({**slack_message_event("hi"), "text": 5}, "E2")),
            "application/json",
            {400},
        ),
        ("\u00e9=1&command=", FORM, {200}),
    ],
)
async def test_slack_signed_but_malformed_requests_are_never_500(
    hub: Hub, hub_log: HubLog, body: str, kind: str, statuses: set[int]
) -> None:
    response = await hub.slack_post(body, kind)
    assert response.status in statuses
    assert await hub.stored_ids() == set()
    assert hub.slack.calls_of("chat.postMessage") == []


async def test_slack_replayed_action_and_command_are_handled_once(
    hub: Hub, hub_log: HubLog
) -> None:
    click = slack_interactive_body(slack_block_action_payload("/greet", channel="D111"))
    command = urlencode(slack_command_form("/chinwag", "book a table"))
    for body in (click, command):
        raw = body.encode()
        first = await hub.slack_post(raw, FORM, ts=None)
        # the very same signed bytes and headers, replayed inside the 5-minute window
        headers = {"Content-Type": FORM, **dict(first.request_info.headers)}
        again = await hub.client.post(SLACK, data=raw, headers=headers)
        assert (first.status, again.status) == (200, 200)
    await hub.slack.wait_for_calls("chat.postMessage", 2)
    # a later message is answered; by then a duplicate would have been answered too
    await hub.slack_post(
        json.dumps(slack_event_envelope(slack_message_event("mexican"), "EvLater")),
        "application/json",
    )
    await hub.slack.wait_for_calls("chat.postMessage", 3)
    assert await hub.user_texts("slack:U222") == ["/greet", "book a table", "mexican"]
    assert len(hub.slack.calls_of("chat.postMessage")) == 3


# ---------------------------------------------------------------------------- item 10: slow


async def test_body_read_timeout_answers_408_and_closes(make_hub: Any, hub_log: HubLog) -> None:
    hub: Hub = await make_hub(body_timeout=0.3)
    head = http_request("POST", REST, b"Content-Type: application/json\r\n", b"x" * 100)
    head = head[: head.index(b"\r\n\r\n") + 4] + b"{"  # the head and one byte of its body
    answer, health = await asyncio.gather(raw_request(hub.port, head), hub.client.get("/health"))
    assert health.status == 200  # the rest of the hub answers meanwhile
    assert answer is not None and answer.status == 408
    assert answer.json()["error"] == "request body too slow"
    assert "close" in answer.headers.get("connection", "close").lower()
    assert await hub_log.wait_for("body not received within 0.3 s")
    assert await hub.stored_ids() == set()


async def test_idle_connections_are_closed_after_keepalive(make_hub: Any, hub_log: HubLog) -> None:
    hub: Hub = await make_hub(limits=ConnectionLimits(keepalive_timeout=0.3))
    assert await raw_request(hub.port, b"") is None  # closed by the hub, never answered


async def test_connection_limit(make_hub: Any, hub_log: HubLog) -> None:
    hub: Hub = await make_hub(limits=ConnectionLimits(max_connections=2))
    idle = [await asyncio.open_connection("127.0.0.1", hub.port) for _ in range(2)]
    try:
        await asyncio.sleep(0)
        assert await raw_request(hub.port, http_request("GET", "/health")) is None
        assert await hub_log.wait_for("connections open (the limit)")
    finally:
        for _reader, writer in idle:
            writer.close()
    # once they are gone, requests are served again
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (answer := await raw_request(hub.port, http_request("GET", "/health"))) is None:
        assert loop.time() < deadline, "the hub did not serve again after connections closed"
        await asyncio.sleep(0.01)
    assert answer.status == 200


async def test_client_aborting_mid_upload_is_one_log_line(hub: Hub, hub_log: HubLog) -> None:
    request = http_request("POST", REST, b"Content-Type: application/json\r\n", b"{" * 5000)
    _reader, writer = await asyncio.open_connection("127.0.0.1", hub.port)
    writer.write(request[:-4000])  # the head and part of the body, then gone
    await writer.drain()
    writer.close()
    lines = await hub_log.wait_for("went away during the body")
    assert len(lines) == 1
    assert await hub.stored_ids() == set()


# ---------------------------------------------------------------------------- item 12


async def test_aiohttp_own_400s_are_json_without_traceback(hub: Hub, hub_log: HubLog) -> None:
    cases = [
        b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # oversized request line
        b"GET /health HTTP/1.1\r\nHost: x\r\nBad\x01Name: 1\r\n\r\n",  # bad header bytes
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 10_000 + b"\r\n\r\n",
        b"GET /health HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    ]
    for data in cases:
        answer = await raw_request(hub.port, data)
        assert answer is not None, data[:30]
        assert 400 <= answer.status < 500
        assert answer.headers["content-type"].startswith("application/json")
        assert set(answer.json()) == {"error", "detail"}
    assert len(await hub_log.wait_for("refused a malformed request")) == len(cases)


async def test_405_carries_allow(hub: Hub, hub_log: HubLog) -> None:
    response = await hub.client.get(REST)
    assert response.status == 405
    assert response.headers["Allow"] == "POST"
    assert (await response.json())["detail"] == "allowed: POST"


async def test_bot_index_escapes_folder_names(
    make_client: MakeClient, tmp_path: Path, hub_log: HubLog
) -> None:
    evil = write_bot(tmp_path / 'x"><img src=x onerror=alert(1)>', "Hi")
    client = await make_client([evil, write_bot(tmp_path / "plain", "Hi")])
    page = await (await client.get("/")).text()
    assert "<img" not in page
    assert "x&quot;&gt;&lt;img src=x onerror=alert(1)&gt;</a>" in page
    assert 'href="/bots/x%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E/"' in page


async def test_openapi_documents_trigger_intent_404(hub: Hub, hub_log: HubLog) -> None:
    doc = await (await hub.client.get("/openapi.json")).json()
    responses = doc["paths"]["/conversations/{conversation_id}/trigger_intent"]["post"]["responses"]
    assert "404" in responses
    response = await hub.client.post(
        "/conversations/c1/trigger_intent", json={"name": "no_such_intent"}, headers=AUTH
    )
    assert response.status == 404


def test_run_options_for_the_limits(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(
        ["run", "bot", "--body-timeout", "5", "--keepalive-timeout", "2.5"]
    )
    assert (args.body_timeout, args.keepalive_timeout, args.max_connections) == (5.0, 2.5, None)
    for bad in (
        ["--body-timeout", "0"],
        ["--keepalive-timeout", "soon"],
        ["--max-connections", "-1"],
    ):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["run", "bot", *bad])
    assert "positive number of seconds" in capsys.readouterr().err
