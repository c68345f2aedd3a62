"""The Slack channel: signed requests to the running hub, replies asserted on the fake Web API.

The hub runs for real (adapters.hub.create_app on a free port) with slack-bolt and slack_sdk
inside; tests/emulators' FakeSlackAPI records what the real client sends.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from chinwag.adapters.hub import BOTS, create_app
from chinwag.adapters.slack import action_text, conversation_id, read_settings, sanitize
from chinwag.core.data.problems import BotDataError, Location
from tests.adapters.conftest import RESTAURANT, HubTestServer, memory_stores, write_bot
from tests.emulators import clear_platform_env
from tests.emulators.slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlackAPI,
    sign_slack,
    slack_block_action_payload,
    slack_command_form,
    slack_event_envelope,
    slack_interactive_body,
    slack_message_event,
)

WEBHOOK = "/webhooks/slack/webhook"


def slack_credentials(api: FakeSlackAPI, **extra: str) -> str:
    lines = [
        "rest:",
        "slack:",
        "  slack_token: ${TEST_SLACK_TOKEN}",
        "  slack_signing_secret: ${TEST_SLACK_SECRET}",
        f"  api_url: {api.base_url}",
        *(f"  {key}: {value}" for key, value in extra.items()),
    ]
    return "\n".join(lines) + "\n"


def restaurant_copy(tmp_path: Path, credentials: str) -> Path:
    """bots/restaurant in tmp_path with its own credentials.yml."""
    target = tmp_path / "restaurant"
    shutil.copytree(
        RESTAURANT, target, ignore=shutil.ignore_patterns(".chinwag", "models", "__pycache__")
    )
    (target / "credentials.yml").write_text(credentials, encoding="utf-8")
    return target


class SlackHub:
    """A running hub and the fake Slack API it talks to; sends signed Slack requests."""

    def __init__(self, client: TestClient[Any, Any], api: FakeSlackAPI) -> None:
        self.client = client
        self.api = api
        self._events = 0

    async def post(
        self,
        body: str,
        content_type: str,
        *,
        secret: str = SIGNING_SECRET,
        ts: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> ClientResponse:
        all_headers = {
            "Content-Type": content_type,
            **sign_slack(body, secret=secret, ts=ts),
            **(headers or {}),
        }
        return await self.client.post(WEBHOOK, data=body.encode(), headers=all_headers)

    async def event(
        self,
        event: dict[str, Any],
        event_id: str | None = None,
        *,
        retry: int | None = None,
        **options: Any,
    ) -> ClientResponse:
        if event_id is None:
            self._events += 1
            event_id = f"Ev{self._events:04d}"
        headers = options.pop("headers", {})
        if retry is not None:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        body = json.dumps(slack_event_envelope(event, event_id))
        return await self.post(body, "application/json", headers=headers, **options)

    async def say(self, text: str, **event: Any) -> ClientResponse:
        response = await self.event(slack_message_event(text, **event))
        assert response.status == 200
        return response

    async def click(self, value: str, **payload: Any) -> ClientResponse:
        body = slack_interactive_body(slack_block_action_payload(value, **payload))
        response = await self.post(body, "application/x-www-form-urlencoded")
        assert response.status == 200
        return response

    async def replies(self, count: int) -> list[dict[str, Any]]:
        """The first ``count`` chat.postMessage bodies (waiting for them)."""
        calls = await self.api.wait_for_calls("chat.postMessage", count)
        return [call.body for call in calls]

    async def tracker_events(self, conversation: str) -> list[dict[str, Any]]:
        tracker = await self.client.app[BOTS]["restaurant"].agent.load_tracker(conversation)
        return [e.to_dict() for e in tracker.events]


MakeHub = Callable[..., Awaitable[SlackHub]]


@pytest.fixture
async def slack_api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeSlackAPI]:
    clear_platform_env(monkeypatch)
    monkeypatch.setenv("TEST_SLACK_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("TEST_SLACK_SECRET", SIGNING_SECRET)
    async with FakeSlackAPI() as api:
        yield api


@pytest.fixture
async def make_hub(tmp_path: Path, slack_api: FakeSlackAPI) -> AsyncIterator[MakeHub]:
    """``await make_hub(**slack_settings)``: the hub serving a copy of bots/restaurant."""
    clients: list[TestClient[Any, Any]] = []

    async def make(bot: Path | None = None, **settings: str) -> SlackHub:
        if bot is None:
            bot = restaurant_copy(tmp_path, slack_credentials(slack_api, **settings))
        app = create_app([bot], stores=memory_stores)
        client: TestClient[Any, Any] = TestClient(HubTestServer(app))
        await client.start_server()
        clients.append(client)
        return SlackHub(client, slack_api)

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def hub(make_hub: MakeHub) -> SlackHub:
    return await make_hub()


def texts(bodies: list[dict[str, Any]]) -> list[str]:
    return [body["text"] for body in bodies]


# ---------------------------------------------------------------------------- handshake


async def test_url_verification_and_ssl_check(hub: SlackHub) -> None:
    body = json.dumps({"token": "t", "challenge": "abc123", "type": "url_verification"})
    response = await hub.post(body, "application/json")
    assert response.status == 200
    assert await response.json() == {"challenge": "abc123"}
    ssl_check = urlencode({"ssl_check": "1", "token": "t"})
    response = await hub.post(ssl_check, "application/x-www-form-urlencoded")
    assert response.status == 200
    assert hub.api.calls == []  # neither needs auth.test


async def test_bad_signatures_are_refused(hub: SlackHub) -> None:
    event = slack_message_event("hello")
    assert (await hub.event(event, "EvBad1", secret="wrong-secret")).status == 401
    stale = int(time.time()) - 301
    assert (await hub.event(event, "EvBad2", ts=stale)).status == 401
    unsigned = await hub.client.post(
        WEBHOOK,
        data=json.dumps(slack_event_envelope(event, "EvBad3")),
        headers={"Content-Type": "application/json"},
    )
    assert unsigned.status == 401
    challenge = json.dumps({"challenge": "x", "type": "url_verification"})
    assert (await hub.post(challenge, "application/json", secret="nope")).status == 401
    assert hub.api.calls == []
    assert await hub.tracker_events("slack:U222") == []
    # the refused event ids were not remembered: the real deliveries are handled
    assert (await hub.event(event, "EvBad1")).status == 200
    assert texts(await hub.replies(1))[0].startswith("Hello!")


# ---------------------------------------------------------------------------- messages


async def test_direct_message_is_answered_with_buttons_as_blocks(hub: SlackHub) -> None:
    await hub.say("book a table")
    await hub.say("mexican")
    await hub.say('/inform{"number": 4}')
    first, second, third = await hub.replies(3)
    assert first["channel"] == "D111"
    assert first["text"] == "What cuisine?"
    assert first["team_id"] == "T111"
    assert "thread_ts" not in first
    assert second["blocks"][0]["accessory"]["type"] == "static_select"  # Slack's own variation
    assert third["text"] == "Do you want to sit outside?"
    actions = third["blocks"][1]
    assert actions["type"] == "actions"
    assert [(e["text"]["text"], e["value"], e["action_id"]) for e in actions["elements"]] == [
        ("Yes", "/affirm", "chinwag_btn_0"),
        ("No", "/deny", "chinwag_btn_1"),
    ]
    call = hub.api.calls_of("chat.postMessage")[0]
    assert call.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    assert len(hub.api.calls_of("auth.test")) == 1  # lazily, once
    user = next(e for e in await hub.tracker_events("slack:U222") if e["event"] == "user")
    assert user["input_channel"] == "slack"
    assert user["metadata"]["out_channel"] == "D111"


async def test_app_mention_is_stripped_and_answered_in_the_channel(hub: SlackHub) -> None:
    event = slack_message_event(
        "<@UBOT> book a table at <https://food.example|food.example>",
        channel="C111",
        event_type="app_mention",
    )
    assert (await hub.event(event)).status == 200
    (reply,) = await hub.replies(1)
    assert reply["channel"] == "C111"
    assert "thread_ts" not in reply
    user = next(e for e in await hub.tracker_events("slack:U222") if e["event"] == "user")
    assert user["text"] == "book a table at food.example"


async def test_own_and_other_bot_messages_are_ignored(hub: SlackHub) -> None:
    own = slack_message_event("What cuisine?", user="UBOT", bot_id="BBOT")
    other = slack_message_event("beep", user="U999", bot_id="BOTHER")
    classic = {**slack_message_event("beep"), "subtype": "bot_message", "bot_id": "B2"}
    edited = {**slack_message_event("hello"), "subtype": "message_changed"}
    channel_chatter = slack_message_event("hello all", channel="C222", channel_type="channel")
    for event in (own, other, classic, edited, channel_chatter):
        assert (await hub.event(event)).status == 200
    unknown_event = {"type": "app_home_opened", "user": "U222", "channel": "D111"}
    assert (await hub.event(unknown_event)).status == 200
    # a real message afterwards is the only one answered
    await hub.say("hello")
    (reply,) = await hub.replies(1)
    assert reply["text"].startswith("Hello! :wave:")
    assert [c.method for c in hub.api.calls] == ["auth.test", "chat.postMessage"]


async def test_retries_are_answered_once_and_unseen_retries_handled(hub: SlackHub) -> None:
    event = slack_message_event("book a table")
    first = await hub.event(event, "EvSame")
    again = await hub.event(event, "EvSame", retry=1)
    third = await hub.event(event, "EvSame", retry=2)
    assert (first.status, again.status, third.status) == (200, 200, 200)
    await hub.replies(1)
    # a retry whose first delivery never arrived is a first delivery for us
    lost = slack_message_event("mexican")
    assert (await hub.event(lost, "EvLost", retry=1)).status == 200
    replies = await hub.replies(2)
    # wait for a later reply so a late duplicate of EvSame would have shown up by now
    await hub.say("hello")
    replies = await hub.replies(3)
    assert texts(replies)[0] == "What cuisine?"
    assert replies[1]["blocks"][0]["block_id"] == "party_size"
    assert len(hub.api.calls_of("chat.postMessage")) == 3
    users = [e["text"] for e in await hub.tracker_events("slack:U222") if e["event"] == "user"]
    assert users == ["book a table", "mexican", "hello"]


# ---------------------------------------------------------------------------- interactivity


async def test_button_click_sends_the_payload(hub: SlackHub) -> None:
    await hub.say("book a table")
    await hub.replies(1)
    await hub.click('/inform{"cuisine": "thai"}', channel="D111")
    replies = await hub.replies(2)
    assert replies[1]["channel"] == "D111"
    assert replies[1]["blocks"][0]["block_id"] == "party_size"
    users = [e for e in await hub.tracker_events("slack:U222") if e["event"] == "user"]
    assert users[-1]["text"] == '/inform{"cuisine": "thai"}'
    assert users[-1]["parse_data"]["intent"]["name"] == "inform"


async def test_link_button_without_value_is_only_acked(hub: SlackHub) -> None:
    payload = slack_block_action_payload("x")
    del payload["actions"][0]["value"]
    body = slack_interactive_body(payload)
    response = await hub.post(body, "application/x-www-form-urlencoded")
    assert response.status == 200
    await hub.say("hello")
    await hub.replies(1)
    assert len(hub.api.calls_of("chat.postMessage")) == 1


async def test_slash_command(hub: SlackHub) -> None:
    form = urlencode(slack_command_form("/chinwag", "book a table"))
    response = await hub.post(form, "application/x-www-form-urlencoded")
    assert response.status == 200
    (reply,) = await hub.replies(1)
    assert (reply["channel"], reply["text"]) == ("C111", "What cuisine?")
    empty = urlencode(slack_command_form("/chinwag", "  "))
    response = await hub.post(empty, "application/x-www-form-urlencoded")
    assert response.status == 200
    assert "/chinwag <your message>" in await response.text()


# ---------------------------------------------------------------------------- threads


async def test_replies_go_to_the_users_thread(hub: SlackHub) -> None:
    await hub.say("book a table", thread_ts="1700000000.000100")
    (reply,) = await hub.replies(1)
    assert reply["thread_ts"] == "1700000000.000100"
    await hub.click("/affirm", thread_ts="1700000000.000100")
    replies = await hub.replies(2)
    assert replies[1]["thread_ts"] == "1700000000.000100"


async def test_use_threads_always_answers_in_a_thread(make_hub: MakeHub) -> None:
    hub = await make_hub(use_threads="true")
    await hub.say("hello", ts="1700000000.000200")
    (reply,) = await hub.replies(1)
    assert reply["thread_ts"] == "1700000000.000200"


@pytest.mark.parametrize(
    ("granularity", "expected"),
    [
        ("sender", {"slack:U222"}),
        ("channel", {"slack:U222_C111", "slack:U222_C222"}),
        ("thread", {"slack:U222_C111_1.1", "slack:U222_C111_2.1", "slack:U222_C222_3.1"}),
    ],
)
async def test_conversation_granularity(
    make_hub: MakeHub, granularity: str, expected: set[str]
) -> None:
    hub = await make_hub(conversation_granularity=granularity, slack_channel="C111")
    mention = "<@UBOT> book a table"
    await hub.say("book a table", channel="C111", channel_type="channel", ts="1.1")
    await hub.say("mexican", channel="C111", channel_type="channel", ts="1.2", thread_ts="1.1")
    await hub.say("book a table", channel="C111", channel_type="channel", ts="2.1")
    await hub.say(mention, channel="C222", event_type="app_mention", ts="3.1")
    await hub.replies(4)
    store = hub.client.app[BOTS]["restaurant"].agent.store
    assert set(await store.ids()) == expected
    if granularity == "thread":  # Rasa's bug fixed: parallel threads keep their own forms
        events = await hub.tracker_events("slack:U222_C111_1.1")
        users = [e["text"] for e in events if e["event"] == "user"]
        assert users == ["book a table", "mexican"]


async def test_message_mentioning_the_bot_in_its_channel_is_answered_once(
    make_hub: MakeHub,
) -> None:
    hub = await make_hub(slack_channel="C111")
    text = "<@UBOT> hello"
    await hub.say(text, channel="C111", channel_type="channel", ts="5.1")
    await hub.say(text, channel="C111", event_type="app_mention", ts="5.1")
    await hub.say("hello", channel="D111")
    replies = await hub.replies(2)
    assert [r["channel"] for r in replies] == ["C111", "D111"]


# ---------------------------------------------------------------------------- whole form


async def test_restaurant_form_completed_with_a_select_and_a_button_click(hub: SlackHub) -> None:
    await hub.say("hello")
    await hub.say("book a table")
    await hub.say("mexican")
    await hub.replies(3)
    select = slack_block_action_payload("unused", channel="D111")
    select["actions"][0] = {
        "type": "static_select",
        "action_id": "party_size",
        "block_id": "party_size",
        "selected_option": {
            "text": {"type": "plain_text", "text": "4 people"},
            "value": '/inform{"number": 4}',
        },
        "action_ts": "1700000005.000100",
    }
    await hub.post(slack_interactive_body(select), "application/x-www-form-urlencoded")
    outdoor = (await hub.replies(4))[3]
    assert outdoor["text"] == "Do you want to sit outside?"
    yes = next(e for e in outdoor["blocks"][1]["elements"] if e["text"]["text"] == "Yes")
    await hub.click(yes["value"], action_id=yes["action_id"], channel="D111")
    await hub.replies(5)
    await hub.say("no")
    await hub.replies(6)
    await hub.say("great service")
    replies = await hub.replies(8)
    assert texts(replies) == [
        "Hello! :wave: I can book a *restaurant table* or a *hotel room*. What would you like?",
        "What cuisine?",
        "For how many people?",
        "Do you want to sit outside?",
        "Do you have any other preferences?",
        "Please give your feedback on your experience so far.",
        "All done!",
        "I am going to run a restaurant search using the following parameters:\n"
        " - cuisine: mexican\n - num_people: 4\n - outdoor_seating: True\n"
        " - preferences: no additional preferences\n - feedback: great service",
    ]
    assert all(r["channel"] == "D111" for r in replies)


# ---------------------------------------------------------------------------- setup


async def test_missing_credentials_are_located_errors(tmp_path: Path) -> None:
    bot = write_bot(tmp_path / "bot", "Hi", "slack:\n  slack_token: xoxb-1\n")
    with pytest.raises(BotDataError) as error:
        create_app([bot], stores=memory_stores)
    assert [str(p) for p in error.value.problems] == [
        f"{bot}/credentials.yml: error: slack: 'slack_signing_secret' is required"
    ]
    with pytest.raises(BotDataError, match="conversation_granularity' must be one of"):
        read_settings(
            {"slack_token": "t", "slack_signing_secret": "s", "conversation_granularity": "x"},
            Location("credentials.yml"),
        )


# ---------------------------------------------------------------------------- units


def test_conversation_id_as_rasa() -> None:
    assert conversation_id("sender", "U1", "C1", "1.1") == "slack:U1"
    assert conversation_id("channel", "U1", "C1", "1.1") == "slack:U1_C1"
    assert conversation_id("channel", "U1", None, "1.1") == "slack:U1"
    assert conversation_id("thread", "U1", "C1", "1.1") == "slack:U1_C1_1.1"
    assert conversation_id("thread", "U1", "C1", None) == "slack:U1"


def test_sanitize_as_rasa() -> None:
    uid = "<@U17>"
    cases = {
        f"You can sit here {uid} if you want{uid}": "You can sit here if you want",
        f"{uid} You can sit here if you want{uid} ": "You can sit here if you want",
        f"Hey {uid}, you can sit here if you want{uid}!": "Hey, you can sit here if you want !",
        "convert <http://vicdb-f.net|vicdb-f.net>. Also <https://e.net|e.net>": (
            "convert vicdb-f.net. Also e.net"
        ),
        "mail <mailto:a@b.org|a@b.org> or <https://x.org>": "mail a@b.org or https://x.org",
    }
    for raw, clean in cases.items():
        assert sanitize(raw, {"U17"}) == clean


def test_action_text_per_element_type() -> None:
    assert action_text({"type": "button", "value": "/affirm"}) == "/affirm"
    assert action_text({"type": "button", "url": "https://x"}) is None
    assert action_text({"type": "static_select", "selected_option": {"value": "v"}}) == "v"
    assert action_text({"type": "overflow", "selected_option": {"value": "o"}}) == "o"
    assert action_text({"type": "datepicker", "selected_date": "2024-05-01"}) == "2024-05-01"
    assert action_text({"type": "users_select", "selected_user": "U9"}) == "U9"
    checked = {"type": "checkboxes", "selected_options": [{"value": "a"}, {"value": "b"}]}
    assert action_text(checked) == "a, b"
