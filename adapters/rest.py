"""Rasa's REST channel (rasa/core/channels/rest.py), wire-compatible.

``POST /webhooks/rest/webhook`` with ``{"sender", "message", "metadata"?, "input_channel"?}``
answers the list of the bot's messages ``[{recipient_id, text|buttons|image|attachment|custom}]``
(Rasa's CollectingOutputChannel); ``GET /webhooks/rest/`` answers ``{"status": "ok"}``.

The ``sender`` is the conversation id, as Rasa's clients expect; a sender that names another
channel's conversation (``slack:...``, ``telegram:...``: see core.conversation_ids) is refused,
and so is an ``input_channel`` naming one of those channels (a label of the caller's own,
``website``, is kept as Rasa keeps it): a public REST caller reaches only REST conversations
and never passes for another channel.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from chinwag.adapters.hub import BotRuntime, HubError, read_json, required_text
from chinwag.channel_responses.render import render_rest
from chinwag.core.agent import UserMessage
from chinwag.core.conversation_ids import (
    QUALIFIED_CHANNELS,
    InvalidConversationId,
    check,
    check_sender,
)
from chinwag.core.jsontext import dumps

CHANNEL = "rest"


def setup(app: web.Application, runtime: BotRuntime, credentials: dict[str, Any]) -> None:
    """Add the REST webhook and its health route for ``runtime`` (no credentials needed)."""

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def webhook(request: web.Request) -> web.Response:
        message = to_user_message(await read_json(request))
        responses = await runtime.handle(message)
        return web.json_response(
            [m for response in responses for m in render_rest(response, message.sender_id)],
            dumps=dumps,
        )

    runtime.add_route(app, "GET", "/webhooks/rest/", health)
    runtime.add_route(app, "POST", "/webhooks/rest/webhook", webhook)


def to_user_message(body: dict[str, Any]) -> UserMessage:
    """A REST request body as a UserMessage; 400 for a missing sender/message or bad metadata."""
    try:
        sender = check_sender(required_text(body, "sender"))
    except InvalidConversationId as exc:
        raise HubError(400, "invalid 'sender'", str(exc)) from None
    text = required_text(body, "message")
    metadata = body.get("metadata")
    metadata = {} if metadata is None else metadata
    if not isinstance(metadata, dict):
        raise HubError(400, "invalid metadata", "expected a JSON object in 'metadata'")
    channel = body.get("input_channel")
    channel = CHANNEL if channel in (None, "") else channel
    if not isinstance(channel, str):
        raise HubError(400, "invalid input_channel", "expected text in 'input_channel'")
    if channel.lower() in QUALIFIED_CHANNELS:
        raise HubError(
            400,
            "invalid input_channel",
            f"'{channel}' is another channel of this hub; a REST message cannot claim it",
        )
    try:
        check(channel, "input_channel")
    except InvalidConversationId as exc:
        raise HubError(400, "invalid input_channel", str(exc)) from None
    return UserMessage(text, sender, input_channel=channel, metadata=metadata)
