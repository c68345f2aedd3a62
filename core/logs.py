"""Log set-up for ``chinwag run``: text for people or one JSON object per line, with the bot,
channel, conversation id, event and latency of the message being handled.

The agent sets :data:`MESSAGE` (a context variable) while it handles a message, so every log
record made meanwhile -- by chinwag, aiohttp, PyMongo... -- carries those fields. At INFO and
above no message text and no secret reaches the log unless ``--log-messages``: the current
message's text and the hub's secrets (the HTTP API token, credentials.yml tokens and secrets,
and anything shaped like a Slack or Telegram token) are replaced by ``***``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "***"
MIN_REDACTED_TEXT = 4  # shorter message texts ("hi") are not hunted inside other words
FIELDS = ("bot", "channel", "conversation_id", "event", "latency_ms", "text")
# Slack tokens (xoxb-..., xapp-...) and Telegram bot tokens (123456:ABC...)
TOKEN_SHAPES = re.compile(
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}|\bxapp-[A-Za-z0-9-]{10,}|\b\d{5,}:[\w-]{30,}"
)

logger = logging.getLogger("chinwag.messages")


@dataclass(frozen=True, slots=True)
class MessageContext:
    bot: str
    channel: str
    conversation_id: str
    text: str


MESSAGE: ContextVar[MessageContext | None] = ContextVar("chinwag_message", default=None)


@dataclass(slots=True)
class _Settings:
    log_messages: bool = False
    secrets: tuple[str, ...] = ()  # longest first, so a secret inside another goes whole


SETTINGS = _Settings()
SECRET_KEYS = ("token", "secret", "password")  # credentials.yml keys whose values are secret


def add_secrets(values: Iterable[str]) -> None:
    """Keep ``values`` out of the log from now on."""
    found = {*SETTINGS.secrets, *(v for v in values if v)}
    SETTINGS.secrets = tuple(sorted(found, key=len, reverse=True))


def credential_secrets(credentials: dict[str, object]) -> list[str]:
    """The secret values of a credentials.yml (``slack_token``, ``slack_signing_secret``,
    ``access_token``, ``secret_token``...)."""
    return [
        str(value)
        for section in credentials.values()
        if isinstance(section, dict)
        for key, value in section.items()
        if value and any(word in str(key).lower() for word in SECRET_KEYS)
    ]


@contextmanager
def handling(bot: str, channel: str, conversation_id: str, text: str | None) -> Iterator[None]:
    """Mark the records logged inside as about this message; log one INFO ``message`` event
    with its latency when it was handled (a failure logs its own error)."""
    token = MESSAGE.set(MessageContext(bot, channel, conversation_id, text or ""))
    started = time.perf_counter()
    try:
        yield
        if logger.isEnabledFor(logging.INFO):
            extra: dict[str, object] = {
                "event": "message",
                "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            }
            if SETTINGS.log_messages:
                extra["text"] = text
            logger.info("message handled", extra=extra)
    finally:
        MESSAGE.reset(token)


class ContextFilter(logging.Filter):
    """Adds the message's fields to each record and redacts texts and secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = MESSAGE.get()
        if context is not None:
            for name in ("bot", "channel", "conversation_id"):
                if not hasattr(record, name):
                    setattr(record, name, getattr(context, name))
        redact: list[str] = list(SETTINGS.secrets)
        if (
            not SETTINGS.log_messages
            and context is not None
            and len(context.text) >= MIN_REDACTED_TEXT
            and record.levelno >= logging.INFO
        ):
            redact.append(context.text)
        message = record.getMessage()
        cleaned = message
        for secret in redact:
            cleaned = cleaned.replace(secret, REDACTED)
        cleaned = TOKEN_SHAPES.sub(REDACTED, cleaned)
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            for secret in redact:
                text = text.replace(secret, REDACTED)
            record.exc_text = TOKEN_SHAPES.sub(REDACTED, text)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the known fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(
    *,
    log_format: str = "text",
    level: str = "warning",
    log_messages: bool = False,
    secrets: Iterable[str] = (),
) -> None:
    """Send every log record to stderr in ``log_format`` from ``level`` on."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    handler.addFilter(ContextFilter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    SETTINGS.log_messages = log_messages
    add_secrets(secrets)


def announce(message: str, **fields: object) -> None:
    """A line for whoever started the hub on stdout (JSON when the log is JSON)."""
    root = logging.getLogger()
    json_log = any(isinstance(h.formatter, JsonFormatter) for h in root.handlers)
    if json_log:
        record = logging.LogRecord("chinwag", logging.INFO, "", 0, message, None, None)
        for name, value in fields.items():
            setattr(record, name, value)
        message = JsonFormatter().format(record)
    # one write for the whole line: hub workers share stdout, and print() writes the text and
    # its newline separately when stdout is unbuffered, so two workers' lines could run together
    sys.stdout.write(message + "\n")
    sys.stdout.flush()
