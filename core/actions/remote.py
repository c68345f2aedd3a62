"""Custom actions run by an action server speaking the Rasa SDK webhook protocol.

As Rasa 3.6's ``RemoteAction`` (rasa/core/actions/action.py) with ``EndpointConfig``
(rasa/utils/endpoints.py): ``POST <url>`` with ``{next_action, sender_id, tracker, version,
domain}``; the domain is left out when the endpoint sets ``enable_selective_domain`` and the
action is not declared with ``send_domain: true``. A 200 answer ``{events, responses}`` becomes
the action's events (the responses first, as ``BotUttered``); 400 is an
:class:`ActionExecutionRejection`; every other failure raises :class:`ActionServerError`. A 449
(rasa_sdk >= 3.8: "send me the domain") is retried once with the domain, as later Rasa does.
"""

from __future__ import annotations

import base64
import inspect
import json
import logging
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import aiohttp

from chinwag.core.actions.base import Action, ActionContext, ActionExecutionRejection
from chinwag.core.domain import Domain
from chinwag.core.events import BotUttered, Event, EventError, events_from_list
from chinwag.core.tracker import Tracker

logger = logging.getLogger(__name__)

DEFAULT_REQUEST_TIMEOUT = 300.0  # seconds, Rasa's DEFAULT_REQUEST_TIMEOUT
# the Rasa release whose action-server protocol we speak (sent as "version")
RASA_PROTOCOL_VERSION = "3.6.21"
COMPRESS_ENV = "COMPRESS_ACTION_SERVER_REQUEST"
MISSING_DOMAIN_STATUS = 449


class ActionServerError(Exception):
    """A custom action could not run: server unreachable, timeout, 404/5xx, bad answer, or an
    exception inside an in-process action. The agent treats it as a bot-side failure."""

    def __init__(self, action_name: str, message: str) -> None:
        self.action_name = action_name
        self.message = message
        super().__init__(message)


@dataclass
class ActionEndpoint:
    """``action_endpoint`` of endpoints.yml (Rasa's EndpointConfig) and its HTTP session.

    ``token`` is sent as the query parameter ``token_name``, ``basic_auth`` needs ``username``
    and ``password``, ``cafile`` verifies the server's certificate. ``timeout`` (seconds) is a
    chinwag addition. One aiohttp session serves every request; close it with :meth:`aclose`.
    """

    url: str
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    basic_auth: dict[str, str] | None = None
    token: str | None = None
    token_name: str = "token"
    cafile: str | None = None
    timeout: float = DEFAULT_REQUEST_TIMEOUT
    enable_selective_domain: bool = False
    # deflate-compress request bodies (Rasa's COMPRESS_ACTION_SERVER_REQUEST)
    compress: bool = False
    _session: aiohttp.ClientSession | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ActionEndpoint:
        """Build from endpoints.yml's ``action_endpoint`` (as read by core.data.config).

        Raises ``ValueError`` naming the field for a value of the wrong type.
        """
        url = data.get("url")
        if not isinstance(url, str) or not url:
            raise ValueError("action_endpoint needs a `url` (text)")
        basic_auth = data.get("basic_auth")
        if basic_auth is not None and not (
            isinstance(basic_auth, Mapping) and {"username", "password"} <= set(basic_auth)
        ):
            raise ValueError("action_endpoint: basic_auth needs `username` and `password`")
        for key in ("params", "headers"):
            if not isinstance(data.get(key) or {}, Mapping):
                raise ValueError(f"action_endpoint: {key} must be a mapping")
        timeout = data.get("timeout", DEFAULT_REQUEST_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError(f"action_endpoint: timeout must be a positive number, got {timeout!r}")
        compress = os.environ.get(COMPRESS_ENV, "false").strip().lower() in ("1", "true", "yes")
        return cls(
            url=url,
            params=dict(data.get("params") or {}),
            headers={str(k): str(v) for k, v in (data.get("headers") or {}).items()},
            basic_auth={k: str(v) for k, v in basic_auth.items()} if basic_auth else None,
            token=None if data.get("token") is None else str(data["token"]),
            token_name=str(data.get("token_name") or "token"),
            cafile=data.get("cafile"),
            timeout=float(timeout),
            enable_selective_domain=bool(data.get("enable_selective_domain", False)),
            compress=compress,
        )

    def session(self) -> aiohttp.ClientSession:
        """The shared session (created on first use, inside the running event loop)."""
        if self._session is None or self._session.closed:
            headers = dict(self.headers)
            if self.basic_auth:
                credentials = f"{self.basic_auth['username']}:{self.basic_auth['password']}"
                encoded = base64.b64encode(credentials.encode()).decode("ascii")
                headers["Authorization"] = f"Basic {encoded}"
            self._session = aiohttp.ClientSession(
                headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout)
            )
        return self._session

    def query_params(self) -> dict[str, Any]:
        params = dict(self.params)
        if self.token:
            params[self.token_name] = self.token
        return params

    def ssl_context(self) -> ssl.SSLContext | bool:
        """Verify with ``cafile`` when given, else aiohttp's default verification."""
        return ssl.create_default_context(cafile=self.cafile) if self.cafile else True

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class RemoteAction(Action):
    """A custom action run on the action server at ``endpoint``."""

    def __init__(self, name: str, endpoint: ActionEndpoint) -> None:
        self._name = name
        self.endpoint = endpoint

    def name(self) -> str:
        return self._name

    def request_body(
        self, tracker: Tracker, domain: Domain, *, force_domain: bool = False
    ) -> dict[str, Any]:
        """The webhook request: Rasa's ``_action_call_format``."""
        body: dict[str, Any] = {
            "next_action": self._name,
            "sender_id": tracker.sender_id,
            "tracker": tracker.current_state("all"),
            "version": RASA_PROTOCOL_VERSION,
        }
        declared = domain.actions.get(self._name)
        if (
            force_domain
            or not self.endpoint.enable_selective_domain
            or (declared is not None and declared.send_domain)
        ):
            body["domain"] = domain.as_dict()
        return body

    async def run(self, ctx: ActionContext) -> list[Event]:
        body = self.request_body(ctx.tracker, ctx.domain)
        status, answer = await self._post(body)
        if status == MISSING_DOMAIN_STATUS and "domain" not in body:
            body = self.request_body(ctx.tracker, ctx.domain, force_domain=True)
            status, answer = await self._post(body)
        if status == 400:
            rejection = ActionExecutionRejection(
                _text(answer, "action_name") or self._name, _text(answer, "error")
            )
            logger.info("custom action '%s' rejected execution: %s", self._name, rejection)
            raise rejection
        if status == 404:
            self._fail(
                f"action '{self._name}' is not registered on the action server at "
                f"{self.endpoint.url} (is it in the server's actions module?)"
            )
        if not 200 <= status < 300:
            detail = _text(answer, "error") or ""
            self._fail(
                f"action server at {self.endpoint.url} answered {status} running action "
                f"'{self._name}'" + (f": {detail}" if detail else "")
            )
        if not isinstance(answer, dict):
            self._fail(
                f"action server at {self.endpoint.url} answered action '{self._name}' with "
                f"malformed JSON (expected an object with events and responses)"
            )
        try:
            return await events_from_action_response(
                answer.get("events", []), answer.get("responses", []), ctx
            )
        except (EventError, TypeError, ValueError) as exc:
            self._fail(
                f"action server at {self.endpoint.url} answered action '{self._name}' with "
                f"an invalid result: {exc}"
            )

    async def _post(self, body: dict[str, Any]) -> tuple[int, Any]:
        """POST the body; the status and the parsed JSON answer (``None`` if not JSON)."""
        try:
            data = json.dumps(body)
        except (TypeError, ValueError) as exc:
            self._fail(f"cannot send action '{self._name}' to {self.endpoint.url}: {exc}")
        endpoint = self.endpoint
        try:
            async with endpoint.session().post(
                endpoint.url,
                data=data,
                headers={"Content-Type": "application/json"},
                params=endpoint.query_params(),
                compress="deflate" if endpoint.compress else None,
                ssl=endpoint.ssl_context(),
            ) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError:
            self._fail(
                f"action server at {endpoint.url} did not answer action '{self._name}' "
                f"within {endpoint.timeout:g} s"
            )
        except aiohttp.ClientConnectionError as exc:
            self._fail(
                f"cannot connect to the action server at {endpoint.url} to run action "
                f"'{self._name}' (is it running?): {exc}"
            )
        except aiohttp.ClientError as exc:
            self._fail(f"action '{self._name}' failed at {endpoint.url}: {exc}")
        try:
            answer = json.loads(raw) if raw else None
        except ValueError:
            answer = None
        return status, answer

    def _fail(self, message: str) -> NoReturn:
        logger.error(message)
        raise ActionServerError(self._name, message)


def _text(answer: Any, key: str) -> str | None:
    value = answer.get(key) if isinstance(answer, dict) else None
    return value if isinstance(value, str) else None


async def events_from_action_response(
    events: Any, messages: Any, ctx: ActionContext
) -> list[Event]:
    """An action's ``events`` and ``responses`` (dispatcher messages) as our events.

    As Rasa's ``RemoteAction._utter_responses``: a message naming a ``response`` (or legacy
    ``template``) is rendered by ``ctx.nlg`` with the message's other keys as template values
    (skipped when nothing renders), extra ``buttons`` are appended, and the message's non-empty
    keys override the rendered ones; each message becomes a ``BotUttered`` (before the events).
    Raises ``EventError``/``TypeError`` for a result that is not valid protocol JSON.
    """
    if not isinstance(events, list):
        raise TypeError("`events` must be a list")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise TypeError("`responses` must be a list of objects")
    uttered: list[Event] = []
    for original in messages:
        message = dict(original)
        # rasa_sdk < 2 names the response `template` (utter_template, utter_message(template=))
        legacy_name = message.pop("template", None)
        response_name = message.pop("response", None) or legacy_name
        draft: dict[str, Any]
        if response_name:
            generated = ctx.nlg.generate(response_name, ctx.tracker, ctx.channel, **message)
            if inspect.isawaitable(generated):
                generated = await generated
            if not generated:
                continue
            draft = dict(generated)
            draft["utter_action"] = response_name
        else:
            draft = {}
        buttons = message.pop("buttons", None) or []
        if buttons:
            draft["buttons"] = [*(draft.get("buttons") or []), *buttons]
        draft.update({k: v for k, v in message.items() if v})
        uttered.append(BotUttered.from_message(draft))
    return uttered + events_from_list(events)
