"""Slack: slack-bolt's ``AsyncApp`` inside the hub, at ``POST /webhooks/slack/webhook``.

One URL takes the Events API, interactivity (button clicks, selects, date pickers) and slash
commands. Before anything is parsed the hub checks the signature over the raw body (401 for a
missing, bad or stale one: :func:`verify_signature`); then the body must be the JSON object or
form Slack sends, with the fields the listeners read of the right types (400 otherwise:
:func:`slack_body`). Bolt then answers ``url_verification``, drops the bot's own messages (it
learns the bot's ids from one lazy ``auth.test``) and acks events before our listeners run;
actions and commands are acked first thing. Slack redelivers an event it thinks was lost
(``X-Slack-Retry-Num``); retries are recognised by ``event_id`` and answered 200 without a
second reply, while an event whose first delivery never arrived is handled normally. Any other
signed request (a button click, a slash command) replayed with its signature within Slack's
5-minute window is answered 200 and not handled again. Both are remembered for
an hour in the bot's key store (:mod:`core.stores.keys`), shared by every hub worker.

``credentials.yml``::

    slack:
      slack_token: ${SLACK_BOT_TOKEN}            # xoxb-..., required
      slack_signing_secret: ${SLACK_SIGNING_SECRET}  # required
      slack_channel: C0123456                    # also answer plain messages in this channel
      use_threads: false                         # true: always answer in a thread
      conversation_granularity: sender           # sender | channel | thread (as Rasa)
      api_url: https://slack.com/api/            # a proxy or an emulator
      proxy: http://proxy:3128                   # optional

Messages are answered in direct messages, when the bot is mentioned (``app_mention``) and in
``slack_channel``; other bots' messages and edits are ignored. Replies go to the thread the user
wrote in (or always into one with ``use_threads``). The conversation id is ``slack:`` and what
Rasa's ``conversation_granularity`` gives: ``sender`` = the user id, ``channel`` =
``<user>_<channel>``, ``thread`` = ``<user>_<channel>_<thread ts>`` (see core.conversation_ids);
the raw user, channel and thread ids are in the user message's metadata.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from chinwag.adapters.hub import BotRuntime, HubError, parse_json, read_body
from chinwag.adapters.shapes import Required, ShapeError, check_shape
from chinwag.channel_responses.render import render_slack
from chinwag.core.agent import UserMessage
from chinwag.core.conversation_ids import InvalidConversationId, qualify
from chinwag.core.data.problems import BotDataError, Location, Problems

logger = logging.getLogger(__name__)

CHANNEL = "slack"
WEBHOOK = "/webhooks/slack/webhook"
DEFAULT_API_URL = "https://slack.com/api/"
Granularity = Literal["sender", "channel", "thread"]
GRANULARITIES: tuple[Granularity, ...] = ("sender", "channel", "thread")
KNOWN_KEYS = {
    "slack_token",
    "slack_signing_secret",
    "slack_channel",
    "use_threads",
    "conversation_granularity",
    "api_url",
    "proxy",
}
# how long retried events and replayed requests are remembered: Slack's last retry comes
# ~5 minutes after the event, and a signature is only valid for 5 minutes
SEEN_SECONDS = 3600.0
# Rasa's retry options: chinwag dedupes retries by event_id instead
RASA_RETRY_KEYS = {"slack_retry_reason_header", "slack_retry_number_header", "errors_ignore_retry"}
# message subtypes that are a person writing (others: edits, deletions, joins, bots...)
USER_SUBTYPES = (None, "file_share", "thread_broadcast")
SHUTDOWN_GRACE = 5.0
SIGNATURE_WINDOW = 300  # seconds: Slack's own limit on a request timestamp's age
_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")

# the fields bolt and the listeners below read, with the types Slack sends (see shapes.py)
_TEXT_FIELDS = ("type", "user", "text", "channel", "channel_type", "ts", "thread_ts")
EVENT_SHAPE = {
    "event_id": Required(str),
    "team_id": str,
    "enterprise_id": str,
    "authorizations": [{"user_id": str, "team_id": str, "enterprise_id": str}],
    "event": Required(
        {"type": Required(str), "user": (str, dict), "channel": (str, dict), "item": dict}
    ),
}
MESSAGE_EVENT_SHAPE = dict.fromkeys(
    (*_TEXT_FIELDS, "subtype", "bot_id", "client_msg_id", "event_ts", "team"), str
)
OPTION = {"value": str}
ACTION_SHAPE = {
    "action_id": Required(str),
    **dict.fromkeys(("type", "block_id", "value", "action_ts"), str),
    "selected_option": OPTION,
    "selected_options": [OPTION],
    **dict.fromkeys(("selected_date", "selected_time", "selected_user", "selected_channel"), str),
    "selected_conversation": str,
}
INTERACTIVE_SHAPE = {
    "type": str,
    "trigger_id": str,
    "response_url": str,
    "user": {"id": str, "team_id": str},
    "team": {"id": str, "enterprise_id": str},
    "enterprise": {"id": str},
    "channel": {"id": str},
    "container": {"channel_id": str, "message_ts": str, "thread_ts": str},
    "message": {"ts": str, "thread_ts": str},
    "view": {"id": str, "team_id": str, "callback_id": str, "private_metadata": str},
    "actions": [ACTION_SHAPE],
}


@dataclass(frozen=True)
class SlackSettings:
    """The ``slack:`` section of credentials.yml."""

    token: str
    signing_secret: str
    slack_channel: str | None = None
    use_threads: bool = False
    granularity: Granularity = "sender"
    api_url: str = DEFAULT_API_URL
    proxy: str | None = None


def read_settings(credentials: dict[str, Any], where: Location) -> SlackSettings:
    """Settings from the ``slack:`` section; BotDataError naming each missing or bad value."""
    problems = Problems()

    def text(key: str, required: bool = False) -> str | None:
        value = credentials.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                problems.error(f"slack: '{key}' is required", where)
            return None
        if not isinstance(value, str | int):
            problems.error(f"slack: '{key}' must be text, found {type(value).__name__}", where)
            return None
        return str(value).strip()

    token = text("slack_token", required=True)
    secret = text("slack_signing_secret", required=True)
    granularity = text("conversation_granularity") or "sender"
    if granularity not in GRANULARITIES:
        problems.error(
            f"slack: 'conversation_granularity' must be one of {', '.join(GRANULARITIES)}, "
            f"found '{granularity}'",
            where,
        )
    use_threads = credentials.get("use_threads", False)
    if not isinstance(use_threads, bool):
        problems.error(f"slack: 'use_threads' must be true or false, found {use_threads!r}", where)
    for key in sorted(set(credentials) - KNOWN_KEYS):
        if key in RASA_RETRY_KEYS:
            logger.info("%s: slack: '%s' is not needed (retries are deduplicated)", where, key)
        else:
            logger.warning("%s: slack: unknown setting '%s' ignored", where, key)
    if problems.errors or token is None or secret is None:
        raise BotDataError(problems.errors)
    return SlackSettings(
        token=token,
        signing_secret=secret,
        slack_channel=text("slack_channel"),
        use_threads=use_threads is True,
        granularity=granularity,  # type: ignore[arg-type]  # checked above
        api_url=text("api_url") or DEFAULT_API_URL,
        proxy=text("proxy"),
    )


def setup(app: web.Application, runtime: BotRuntime, credentials: dict[str, Any]) -> None:
    """Add the Slack webhook for ``runtime``; BotDataError for missing credentials."""
    settings = read_settings(credentials, Location(str(runtime.path / "credentials.yml")))
    channel = SlackChannel(runtime, settings)
    runtime.add_route(app, "POST", WEBHOOK, channel.webhook)
    app.cleanup_ctx.append(channel.context)


# ---------------------------------------------------------------------------- translation


def conversation_id(
    granularity: Granularity, user: str, channel: str | None, thread: str | None
) -> str:
    """The conversation a message belongs to: ``slack:`` and the id Rasa's
    SlackInput._get_conversation_id gives (InvalidConversationId if it cannot be one)."""
    if granularity == "channel" and channel:
        return qualify(CHANNEL, f"{user}_{channel}")
    if granularity == "thread" and channel and thread:
        return qualify(CHANNEL, f"{user}_{channel}_{thread}")
    return qualify(CHANNEL, user)


def verify_signature(
    secret: str, body: bytes, timestamp: str, signature: str, now: float | None = None
) -> str | None:
    """None if ``signature`` is Slack's v0 signature of ``body`` at ``timestamp`` (within the
    5-minute window), else what is wrong. Reads nothing of the body but its bytes."""
    if not timestamp or not signature:
        return "missing X-Slack-Request-Timestamp or X-Slack-Signature"
    if not _TIMESTAMP.fullmatch(timestamp):
        return "X-Slack-Request-Timestamp is not a number of seconds"
    if abs((time.time() if now is None else now) - int(timestamp)) > SIGNATURE_WINDOW:
        return "X-Slack-Request-Timestamp is more than 5 minutes away"
    if not _SIGNATURE.fullmatch(signature):
        return "X-Slack-Signature is not a v0 signature"
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return "the signature does not match"
    return None


def request_kind(data: dict[str, Any]) -> str | None:
    """What a Slack request is, among those the channel handles (None: any other kind)."""
    kind = data.get("type")
    if kind in ("event_callback", "url_verification", "block_actions"):
        return str(kind)
    if kind is None and "ssl_check" in data:
        return "ssl_check"
    if kind is None and "command" in data:
        return "command"
    return None


def slack_body(raw: bytes, content_type: str) -> tuple[str, dict[str, Any]]:
    """The body's text and its content as slack-bolt will read it (``parse_body``'s rules:
    JSON, or a form whose ``payload`` field is JSON), checked against the shapes above;
    HubError 400 otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HubError(400, "malformed Slack request", "the body is not UTF-8 text") from None
    if content_type == "application/json" or text.startswith("{"):
        data = parse_json(text)
    elif "payload" in text:
        form = dict(parse_qsl(text, keep_blank_values=True))
        data = parse_json(form["payload"], "payload") if "payload" in form else {}
    else:
        data = dict(parse_qsl(text, keep_blank_values=True))
    try:
        check_shape(data, dict, "body")
        kind = request_kind(data)
        if kind == "event_callback":
            check_shape(data, EVENT_SHAPE, "body")
            event = data["event"]
            if event.get("type") in ("message", "app_mention"):
                check_shape(event, MESSAGE_EVENT_SHAPE, "body.event")
        elif kind == "block_actions":
            check_shape(data, INTERACTIVE_SHAPE, "payload")
            if not data.get("actions"):
                raise ShapeError("payload.actions: expected at least one action")
    except ShapeError as exc:
        raise HubError(400, "malformed Slack request", str(exc)) from None
    return text, data


_LINK = re.compile(r"<(?:mailto:|https?://)[^|>]*\|([^>]*)>")
_BARE_LINK = re.compile(r"<((?:mailto:|https?://)[^|>]*)>")


def sanitize(text: str, user_ids: set[str]) -> str:
    """``text`` without mentions of ``user_ids`` and with Slack's link markup undone
    (Rasa's SlackInput._sanitize_user_message)."""
    for uid in user_ids:
        mention = re.escape(f"<@{uid}>")
        text = re.sub(mention + r"\s", "", text)
        text = re.sub(r"\s" + mention, "", text)
        text = re.sub(mention, " ", text)
    text = _LINK.sub(r"\1", text)
    text = _BARE_LINK.sub(r"\1", text)
    return text.strip()


def action_text(action: dict[str, Any]) -> str | None:
    """What a block action says as user input (None: a link button, nothing to say)."""
    kind = action.get("type")
    if kind == "button":
        value = action.get("value")
        return str(value) if value is not None else None
    if kind in ("static_select", "external_select", "overflow", "radio_buttons"):
        option = action.get("selected_option") or {}
        return option.get("value")
    if kind in ("multi_static_select", "checkboxes"):
        options = action.get("selected_options") or []
        return ", ".join(str(o.get("value")) for o in options) or None
    for key in ("selected_date", "selected_time", "selected_user", "selected_channel"):
        if action.get(key):
            return str(action[key])
    if action.get("selected_conversation"):
        return str(action["selected_conversation"])
    return None


def replay_key(data: dict[str, Any], signature: str) -> str:
    """What makes a request the same one again: an event's ``event_id`` (Slack's retries are
    signed anew), else the signature itself (a replay must reuse it to pass verification)."""
    if data.get("type") == "event_callback":
        return f"event:{data['event_id']}"
    return f"signature:{signature}"


# ---------------------------------------------------------------------------- the channel


class SlackChannel:
    """Bolt app, listeners and retry memory of one bot's Slack channel."""

    def __init__(self, runtime: BotRuntime, settings: SlackSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.tasks: set[asyncio.Task[Any]] = set()
        client = AsyncWebClient(
            token=settings.token, base_url=settings.api_url, proxy=settings.proxy
        )
        self.bolt = AsyncApp(
            client=client,
            signing_secret=settings.signing_secret,
            name=f"chinwag-{runtime.name}",
            request_verification_enabled=False,  # webhook() verifies before anything is parsed
        )
        self.bolt.event("message")(self.on_message)
        self.bolt.event("app_mention")(self.on_mention)
        self.bolt.event(re.compile(".*"))(self.on_other_event)
        self.bolt.action(re.compile(".*"))(self.on_action)
        self.bolt.command(re.compile(".*"))(self.on_command)

    async def webhook(self, request: web.Request) -> web.Response:
        """Verify, check, deduplicate, then let bolt dispatch the request."""
        raw = await read_body(request)
        problem = verify_signature(
            self.settings.signing_secret,
            raw,
            request.headers.get("X-Slack-Request-Timestamp", ""),
            request.headers.get("X-Slack-Signature", ""),
        )
        if problem is not None:
            raise HubError(401, "invalid Slack signature", problem)
        text, data = slack_body(raw, request.content_type)
        if request_kind(data) is None:
            # modals, shortcuts, suggestions...: nothing here handles them; 200 so Slack
            # does not report an error, and slack-bolt never reads them
            logger.info("Slack request of type %r ignored", str(data.get("type"))[:40])
            return web.Response(status=200)
        key = replay_key(data, request.headers["X-Slack-Signature"])
        if not await self.runtime.first_time("slack-requests", key, SEEN_SECONDS):
            logger.info("Slack request already handled (%s); answered 200 only", key[:40])
            return web.Response(status=200)
        try:
            bolt_request = AsyncBoltRequest(
                body=text, query=request.query_string, headers=dict(request.headers)
            )
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
            logger.warning("signed Slack request slack-bolt cannot read: %r", exc)
            raise HubError(400, "malformed Slack request", "slack-bolt cannot read it") from None
        return await to_aiohttp_response(await self.bolt.async_dispatch(bolt_request))

    async def context(self, _app: web.Application) -> AsyncIterator[None]:
        """At shutdown, let replies in progress finish (a few seconds), then cancel them."""
        yield
        if self.tasks:
            _done, pending = await asyncio.wait(set(self.tasks), timeout=SHUTDOWN_GRACE)
            for task in pending:
                task.cancel()

    # ------------------------------------------------------------------ listeners

    async def on_message(
        self, event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        if event.get("subtype") not in USER_SUBTYPES or event.get("bot_id"):
            return
        text = event.get("text") or ""
        if not text.strip() or not event.get("user"):
            return
        if event.get("channel_type") != "im":
            if event.get("channel") != self.settings.slack_channel:
                return
            if context.bot_user_id and f"<@{context.bot_user_id}>" in text:
                return  # the app_mention event carries this one
        await self.event_message(event, body, context)

    async def on_mention(
        self, event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        if event.get("bot_id") or not event.get("user"):
            return
        await self.event_message(event, body, context)

    async def on_other_event(self) -> None:
        """Other subscribed events are acknowledged (a 404 would make Slack retry them)."""

    async def on_action(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        text = action_text(action)
        user = (body.get("user") or {}).get("id")
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        if text is None or not user or not channel:
            return
        message = body.get("message") or {}
        await self.converse(
            context,
            text=text,
            user=user,
            channel=channel,
            thread_ts=message.get("thread_ts"),
            ts=message.get("ts") or container.get("message_ts"),
            message_id=action.get("action_ts"),
            metadata={"action_id": action.get("action_id"), "block_id": action.get("block_id")},
        )

    async def on_command(
        self, ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        text = str(command.get("text") or "").strip()
        if not text:
            await ack(f"Type `{command.get('command', '/command')} <your message>` to talk to me.")
            return
        await ack()
        user, channel = command.get("user_id"), command.get("channel_id")
        if not user or not channel:
            return  # not from a person in a channel: nothing to answer
        await self.converse(
            context,
            text=text,
            user=str(user),
            channel=str(channel),
            thread_ts=None,
            ts=None,
            message_id=command.get("trigger_id"),
            metadata={"command": command.get("command")},
        )

    # ------------------------------------------------------------------ translation

    async def event_message(
        self, event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        bot_ids = {a.get("user_id") for a in body.get("authorizations") or []}
        bot_ids.add(context.bot_user_id)
        text = sanitize(str(event.get("text") or ""), {i for i in bot_ids if i})
        if not text:
            return
        await self.converse(
            context,
            text=text,
            user=str(event["user"]),
            channel=str(event.get("channel")),
            thread_ts=event.get("thread_ts"),
            ts=event.get("ts"),
            message_id=event.get("client_msg_id") or body.get("event_id"),
            metadata={"event_id": body.get("event_id"), "team_id": body.get("team_id")},
        )

    async def converse(
        self,
        context: AsyncBoltContext,
        *,
        text: str,
        user: str,
        channel: str,
        thread_ts: str | None,
        ts: str | None,
        message_id: str | None,
        metadata: dict[str, Any],
    ) -> None:
        """Hand one user input to the bot and post its replies (errors are logged)."""
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        try:
            thread = thread_ts or ts
            reply_in = thread_ts or (ts if self.settings.use_threads else None)
            message = UserMessage(
                text,
                conversation_id(self.settings.granularity, user, channel, thread),
                input_channel=CHANNEL,
                metadata={"out_channel": channel, "thread_id": thread, "user": user, **metadata},
                message_id=message_id,
            )
            responses = await self.runtime.handle(message)
            await self.post(context, responses, channel, reply_in)
        except InvalidConversationId as exc:
            logger.warning("Slack message from %r in %r ignored: %s", user, channel, exc)
        except Exception:
            logger.exception("Slack message from %s in %s failed", user, channel)
        finally:
            if task is not None:
                self.tasks.discard(task)

    async def post(
        self,
        context: AsyncBoltContext,
        responses: list[dict[str, Any]],
        channel: str,
        thread_ts: str | None,
    ) -> None:
        client = context.client
        for response in responses:
            for kwargs in render_slack(response):
                call: dict[str, Any] = {"channel": channel}
                if thread_ts:
                    call["thread_ts"] = thread_ts
                call.update(kwargs)  # a custom payload may name its own channel or thread
                try:
                    await client.chat_postMessage(**call)
                except SlackApiError as exc:
                    logger.error(
                        "Slack refused a message to %s: %s", channel, exc.response.get("error")
                    )
