"""Conversation ids: the one place that says what an id may be and which channel owns it.

A conversation id names one tracker in the store. Channels must never reach each other's
conversations, so the platform channels qualify their ids with their name:

* Slack: ``slack:<id>`` where ``<id>`` is what Rasa would use for the message under
  ``conversation_granularity`` (``U123``, ``U123_C456``, ``U123_C456_1700000000.000100``);
* Telegram: ``telegram:<chat id>``;
* REST (and the web chat, which talks REST) keeps the raw ``sender``, as Rasa's clients
  expect; a sender that starts with a reserved channel prefix (``slack:``, ``telegram:``, ...)
  is refused, so a REST caller cannot name another channel's conversation.

The HTTP API (token-protected), the shell, ``chinwag export`` and ``chinwag import`` address a
conversation by its full id (``slack:U123``). Every id is text of 1 to :data:`MAX_LENGTH`
characters that encodes as UTF-8 (no lone surrogates) and holds no control characters.
"""

from __future__ import annotations

import unicodedata

MAX_LENGTH = 256
# channels whose conversation ids carry their name; REST senders may not start with these
QUALIFIED_CHANNELS = ("slack", "telegram")
SEPARATOR = ":"


class InvalidConversationId(ValueError):
    """An id that cannot name a conversation; the message says what is wrong."""


def check(conversation_id: str, what: str = "conversation id") -> str:
    """``conversation_id`` if it can name a conversation; InvalidConversationId otherwise."""
    if not isinstance(conversation_id, str):
        raise InvalidConversationId(f"{what} must be text, got {type(conversation_id).__name__}")
    if not conversation_id:
        raise InvalidConversationId(f"{what} must not be empty")
    if len(conversation_id) > MAX_LENGTH:
        raise InvalidConversationId(
            f"{what} is {len(conversation_id)} characters long, at most {MAX_LENGTH} allowed"
        )
    for position, char in enumerate(conversation_id):
        category = unicodedata.category(char)
        if category == "Cs":
            raise InvalidConversationId(
                f"{what} is not valid UTF-8 text (lone surrogate U+{ord(char):04X} at "
                f"position {position})"
            )
        if category == "Cc":
            raise InvalidConversationId(
                f"{what} holds a control character (U+{ord(char):04X} at position {position})"
            )
    return conversation_id


def qualify(channel: str, raw_id: str | int) -> str:
    """The conversation id of ``raw_id`` on ``channel`` (``slack:U123``); checked."""
    if channel not in QUALIFIED_CHANNELS:
        raise ValueError(f"channel '{channel}' does not qualify its conversation ids")
    return check(f"{channel}{SEPARATOR}{raw_id}")


def reserved_prefix(conversation_id: str) -> str | None:
    """The channel prefix (``slack:``) ``conversation_id`` starts with, if any."""
    for channel in QUALIFIED_CHANNELS:
        prefix = channel + SEPARATOR
        if conversation_id.startswith(prefix):
            return prefix
    return None


def check_sender(sender: str) -> str:
    """A REST ``sender`` as its conversation id: checked, and refused when it would name
    another channel's conversation."""
    check(sender, "sender")
    prefix = reserved_prefix(sender)
    if prefix is not None:
        raise InvalidConversationId(
            f"sender '{sender}' starts with '{prefix}', which is reserved for that channel's "
            "conversations; pick a sender without it"
        )
    return sender
