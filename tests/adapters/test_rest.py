"""The REST channel: Rasa's request and response shapes (rasa/core/channels/rest.py)."""

from __future__ import annotations

from pathlib import Path

from chinwag.adapters.hub import BOTS
from tests.adapters.conftest import RESTAURANT, MakeClient

WEBHOOK = "/webhooks/rest/webhook"


async def test_health_route_as_rasa(make_client: MakeClient, bot_a: Path) -> None:
    client = await make_client([bot_a])
    response = await client.get("/webhooks/rest/")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_restaurant_conversation_with_buttons(make_client: MakeClient) -> None:
    client = await make_client([RESTAURANT])

    async def say(text: str) -> list[dict[str, object]]:
        response = await client.post(WEBHOOK, json={"sender": "guest", "message": text})
        assert response.status == 200
        assert response.content_type == "application/json"
        body: list[dict[str, object]] = await response.json()
        return body

    assert await say("book a table") == [{"recipient_id": "guest", "text": "What cuisine?"}]
    assert await say("mexican") == [{"recipient_id": "guest", "text": "For how many people?"}]
    assert await say("4 people") == [
        {
            "recipient_id": "guest",
            "text": "Do you want to sit outside?",
            "buttons": [
                {"title": "Yes", "payload": "/affirm"},
                {"title": "No", "payload": "/deny"},
            ],
        }
    ]
    assert await say("/affirm") == [
        {"recipient_id": "guest", "text": "Do you have any other preferences?"}
    ]


async def test_text_split_on_blank_lines_and_image(make_client: MakeClient, bot_a: Path) -> None:
    client = await make_client([bot_a])
    response = await client.post(WEBHOOK, json={"sender": "u1", "message": "bye"})
    assert await response.json() == [
        {"recipient_id": "u1", "text": "Bye!"},
        {"recipient_id": "u1", "text": "Come back soon."},
        {"recipient_id": "u1", "image": "https://example.com/bye.png"},
    ]


async def test_metadata_and_input_channel_reach_the_tracker(
    make_client: MakeClient, bot_a: Path
) -> None:
    client = await make_client([bot_a])
    body = {
        "sender": 42,
        "message": "hello",
        "metadata": {"locale": "de"},
        "input_channel": "website",
    }
    response = await client.post(WEBHOOK, json=body)
    assert await response.json() == [{"recipient_id": "42", "text": "Hello from alpha!"}]
    tracker = await client.app[BOTS]["alpha"].agent.load_tracker("42")
    user = tracker.latest_message
    assert user.metadata == {"locale": "de"}
    assert user.input_channel == "website"
    assert tracker.latest_input_channel == "website"


async def test_bad_requests_are_400_json(make_client: MakeClient, bot_a: Path) -> None:
    client = await make_client([bot_a])
    cases = [
        ({"message": "hello"}, "missing 'sender'"),
        ({"sender": "u"}, "missing 'message'"),
        ({"sender": "u", "message": ["hello"]}, "invalid 'message'"),
        ({"sender": "u", "message": "hi", "metadata": [1]}, "invalid metadata"),
        ({"sender": "u", "message": "hi", "input_channel": 3}, "invalid input_channel"),
    ]
    for body, error in cases:
        response = await client.post(WEBHOOK, json=body)
        assert response.status == 400, body
        assert (await response.json())["error"] == error
    response = await client.post(WEBHOOK, data=b'{"sender": "u", "message": ')
    assert response.status == 400
    assert await response.json() == {
        "error": "malformed JSON",
        "detail": "Expecting value at line 1 column 28",
    }
    response = await client.post(WEBHOOK, data=b"[1, 2]")
    assert await response.json() == {"error": "expected a JSON object", "detail": "got list"}
    response = await client.post(WEBHOOK, data=b"")
    assert response.status == 400
    assert (await response.json())["error"] == "empty request body"
    response = await client.post(WEBHOOK, data=b"\xff\xfe")
    assert (await response.json())["detail"] == "the body is not UTF-8 text"
    # nothing was stored for the refused requests
    assert await client.app[BOTS]["alpha"].agent.store.ids() == []
