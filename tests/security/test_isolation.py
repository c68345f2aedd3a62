"""Conversations stay with their channel (issue 11, item 2) and ids are checked where they
enter (item 7): REST, the HTTP API, import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chinwag.core.cli import build_parser
from chinwag.core.conversation_ids import (
    MAX_LENGTH,
    InvalidConversationId,
    check,
    check_sender,
    qualify,
)
from chinwag.core.data.problems import Problems
from chinwag.core.export import export_conversations, import_conversations
from chinwag.core.stores.memory import InMemoryTrackerStore
from tests.adapters.conftest import TOKEN
from tests.emulators.slack import slack_event_envelope, slack_message_event
from tests.emulators.telegram import telegram_message_update
from tests.security.conftest import Hub, HubLog

AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def slack_say(hub: Hub, text: str, event_id: str) -> None:
    body = json.dumps(slack_event_envelope(slack_message_event(text), event_id))
    response = await hub.slack_post(body, "application/json")
    assert response.status == 200


async def test_rest_cannot_reach_a_slack_conversation(hub: Hub, hub_log: HubLog) -> None:
    await slack_say(hub, "book a table", "EvIso1")
    await hub.slack.wait_for_calls("chat.postMessage", 1)
    assert await hub.user_texts("slack:U222") == ["book a table"]
    # the Slack user id as a REST sender is a REST conversation of its own
    response = await hub.rest("U222", "mexican")
    assert response.status == 200
    assert await hub.user_texts("slack:U222") == ["book a table"]
    assert await hub.user_texts("U222") == ["mexican"]
    # the qualified id is refused, and so is claiming the Slack channel
    for sender, extra in (
        ("slack:U222", {}),
        ("telegram:42", {}),
        ("u1", {"input_channel": "slack"}),
    ):
        response = await hub.rest(sender, "mexican", **extra)
        assert response.status == 400, sender
        body = await response.json()
        assert body["error"] in ("invalid 'sender'", "invalid input_channel")
        assert "reserved" in body["detail"] or "another channel" in body["detail"]
    assert await hub.stored_ids() == {"slack:U222", "U222"}
    assert await hub.user_texts("slack:U222") == ["book a table"]


async def test_telegram_chat_id_is_not_a_rest_sender(hub: Hub, hub_log: HubLog) -> None:
    response = await hub.telegram_post(telegram_message_update(1, 42, "hello"))
    assert response.status == 200
    assert (await hub.rest("42", "book a table")).status == 200
    assert await hub.user_texts("telegram:42") == ["hello"]
    assert await hub.user_texts("42") == ["book a table"]
    tracker = await hub.tracker("telegram:42")
    assert tracker.latest_message.metadata["chat_id"] == 42  # the raw id stays at hand


async def test_http_api_addresses_conversations_by_full_id(hub: Hub, hub_log: HubLog) -> None:
    await slack_say(hub, "book a table", "EvIso2")
    await hub.slack.wait_for_calls("chat.postMessage", 1)
    response = await hub.client.get("/conversations/slack:U222/tracker", headers=AUTH)
    assert response.status == 200
    tracker = await response.json()
    assert tracker["sender_id"] == "slack:U222"
    assert tracker["latest_message"]["metadata"]["user"] == "U222"
    assert tracker["active_loop"]["name"] == "restaurant_form"
    response = await hub.client.get("/conversations/U222/tracker", headers=AUTH)
    assert (await response.json())["events"] == []  # another conversation, empty


@pytest.mark.parametrize(
    ("sender", "problem"),
    [
        ("\udfff", "lone surrogate U+DFFF"),
        ("a\x00b", "control character (U+0000"),
        ("a\nb", "control character (U+000A"),
        ("x" * (MAX_LENGTH + 1), f"at most {MAX_LENGTH}"),
        ("", "must not be empty"),
    ],
)
async def test_bad_rest_senders_are_400(
    hub: Hub, hub_log: HubLog, sender: str, problem: str
) -> None:
    response = await hub.rest(sender, "hello")
    assert response.status == 400
    body = await response.json()
    assert problem in body["detail"] or problem == body["error"]
    assert await hub.stored_ids() == set()


async def test_longest_sender_is_accepted(hub: Hub, hub_log: HubLog) -> None:
    sender = "é" * MAX_LENGTH
    assert (await hub.rest(sender, "hello")).status == 200
    assert await hub.stored_ids() == {sender}


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/conversations/a%01b/tracker", "control character (U+0001"),
        (f"/conversations/{'x' * (MAX_LENGTH + 1)}/tracker", "at most"),
        ("/conversations/a%0Ab/messages", "control character (U+000A"),
        ("/conversations/%7F/trigger_intent", "control character (U+007F"),
    ],
)
async def test_bad_path_ids_are_400(hub: Hub, hub_log: HubLog, path: str, problem: str) -> None:
    if path.endswith("tracker"):
        response = await hub.client.get(path, headers=AUTH)
    else:
        body = {"text": "hi", "sender": "user"} if path.endswith("messages") else {"name": "greet"}
        response = await hub.client.post(path, json=body, headers=AUTH)
    assert response.status == 400
    assert problem in (await response.json())["detail"]
    assert await hub.stored_ids() == set()


async def test_import_refuses_bad_ids_and_export_keeps_full_ids(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    good = {"event": "action", "name": "action_listen", "timestamp": 1.0}
    lines = [
        {"conversation_id": "slack:U1", "seq": 0, **good},
        {"conversation_id": "\udfff", "seq": 0, **good},
        {"conversation_id": "a\x07", "seq": 0, **good},
        {"conversation_id": "y" * (MAX_LENGTH + 1), "seq": 0, **good},
    ]
    source.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    store = InMemoryTrackerStore()
    problems = Problems()
    result = await import_conversations(store, source, problems)
    assert result.conversations == 1
    assert await store.ids() == ["slack:U1"]
    errors = [str(p) for p in problems.errors]
    assert [e.split(": error: ")[0] for e in errors] == [f"{source}:{n}" for n in (2, 3, 4)]
    assert "lone surrogate" in errors[0] and "control character" in errors[1]
    target = tmp_path / "out.jsonl"
    await export_conversations(store, target)
    assert json.loads(target.read_text(encoding="utf-8"))["conversation_id"] == "slack:U1"


def test_id_scheme() -> None:
    assert qualify("slack", "U1_C1") == "slack:U1_C1"
    assert qualify("telegram", -1001) == "telegram:-1001"
    assert check_sender("U1") == "U1"
    assert check("slack:U1") == "slack:U1"  # the HTTP API, shell and import use full ids
    with pytest.raises(InvalidConversationId, match="reserved"):
        check_sender("telegram:1")
    with pytest.raises(ValueError, match="does not qualify"):
        qualify("rest", "u1")
    with pytest.raises(InvalidConversationId, match="must not be empty"):
        check("")


def test_shell_sender_is_checked(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    assert parser.parse_args(["shell", "bot", "--sender", "slack:U1"]).sender == "slack:U1"
    with pytest.raises(SystemExit):
        parser.parse_args(["shell", "bot", "--sender", "a\x00b"])
    assert "control character" in capsys.readouterr().err
