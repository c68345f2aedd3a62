"""RemoteAction against a real rasa_sdk action server, and against a recording fake one."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from chinwag.channel_responses.variations import ResponseGenerator
from chinwag.core.actions.base import ActionContext, ActionExecutionRejection
from chinwag.core.actions.remote import (
    RASA_PROTOCOL_VERSION,
    ActionEndpoint,
    ActionServerError,
    RemoteAction,
    events_from_action_response,
)
from chinwag.core.domain import Domain
from chinwag.core.events import BotUttered, Event, SlotSet
from chinwag.core.tracker import Tracker
from tests.core.actions.conftest import ActionServer, free_port

MakeCtx = Callable[[Tracker], ActionContext]
Plain = Callable[[list[Event]], list[dict[str, Any]]]


@pytest.fixture
async def endpoint(action_server: ActionServer) -> AsyncIterator[ActionEndpoint]:
    ep = ActionEndpoint(url=action_server.url, timeout=30)
    yield ep
    await ep.aclose()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def fake_server() -> AsyncIterator[Callable[[Handler], Awaitable[tuple[str, list[Any]]]]]:
    """Start a one-route server answering with ``handler``; returns its URL and the requests."""
    servers: list[TestServer] = []

    async def start(handler: Handler) -> tuple[str, list[Any]]:
        seen: list[Any] = []

        async def route(request: web.Request) -> web.StreamResponse:
            raw = await request.read()
            seen.append(
                {
                    "body": json.loads(raw),
                    "query": dict(request.query),
                    "headers": dict(request.headers),
                }
            )
            return await handler(request)

        app = web.Application()
        app.router.add_post("/webhook", route)
        server = TestServer(app)
        await server.start_server()
        servers.append(server)
        return str(server.make_url("/webhook")), seen

    yield start
    for server in servers:
        await server.close()


# -- against the real rasa_sdk server ------------------------------------------------------------


async def test_slot_and_buttons(
    endpoint: ActionEndpoint, trackers: dict[str, Tracker], make_ctx: MakeCtx
) -> None:
    events = await RemoteAction("action_pick_colour", endpoint).run(make_ctx(trackers["colour"]))
    assert [type(e) for e in events] == [BotUttered, SlotSet]
    bot, slot = events
    assert isinstance(bot, BotUttered) and isinstance(slot, SlotSet)
    assert bot.text == "You said red. Which shade?"
    assert [b["title"] for b in bot.data["buttons"]] == ["Light", "Dark"]
    assert (slot.key, slot.value) == ("colour", "red")


async def test_response_rendered_through_nlg(
    endpoint: ActionEndpoint, trackers: dict[str, Tracker], make_ctx: MakeCtx
) -> None:
    ctx = make_ctx(trackers["greet"])
    events = await RemoteAction("action_greet_user", endpoint).run(ctx)
    bot = events[0]
    assert isinstance(bot, BotUttered)
    assert bot.text == "Hello Ada!"
    # as Rasa: the response name is kept, the kwargs reach the NLG and the metadata
    assert bot.metadata["utter_action"] == "utter_greet_name"
    assert bot.metadata["name"] == "Ada"
    calls = cast(Any, ctx.nlg).calls
    assert calls[0][:2] == ("utter_greet_name", "rest")
    assert calls[0][2]["name"] == "Ada"
    assert events[1].to_dict()["event"] == "followup"


async def test_form_validation(
    endpoint: ActionEndpoint, trackers: dict[str, Tracker], make_ctx: MakeCtx, as_plain: Plain
) -> None:
    action = RemoteAction("validate_table_form", endpoint)
    pizza = as_plain(await action.run(make_ctx(trackers["pizza"])))
    assert [(e["event"], e.get("text"), e.get("name"), e.get("value")) for e in pizza] == [
        ("bot", "We don't serve pizza.", None, None),
        ("slot", None, "cuisine", None),
    ]
    # custom extraction of "8", then required_slots adds phone: requested_slot moves to it
    big = as_plain(await action.run(make_ctx(trackers["big_party"])))
    assert [(e["name"], e["value"]) for e in big] == [
        ("party_size", 8),
        ("requested_slot", "phone"),
    ]


async def test_rejection_is_action_execution_rejection(
    endpoint: ActionEndpoint, trackers: dict[str, Tracker], make_ctx: MakeCtx
) -> None:
    with pytest.raises(ActionExecutionRejection) as info:
        await RemoteAction("action_reject", endpoint).run(make_ctx(trackers["colour"]))
    assert info.value.action_name == "action_reject"
    assert info.value.message == "not in this state"


async def test_exception_in_action_is_server_error(
    endpoint: ActionEndpoint, trackers: dict[str, Tracker], make_ctx: MakeCtx
) -> None:
    with pytest.raises(ActionServerError, match=r"answered 500 running action 'action_crash'"):
        await RemoteAction("action_crash", endpoint).run(make_ctx(trackers["colour"]))


async def test_unknown_action_is_clear_error(
    endpoint: ActionEndpoint, trackers: dict[str, Tracker], make_ctx: MakeCtx
) -> None:
    with pytest.raises(ActionServerError) as info:
        await RemoteAction("action_nope", endpoint).run(make_ctx(trackers["colour"]))
    assert "action 'action_nope' is not registered on the action server at" in str(info.value)


async def test_selective_domain_retried_with_domain_on_449(
    action_server: ActionServer, trackers: dict[str, Tracker], make_ctx: MakeCtx
) -> None:
    # rasa_sdk >= 3.8 answers 449 to a request without a domain before it has seen one
    ep = ActionEndpoint(url=action_server.url, enable_selective_domain=True)
    try:
        events = await RemoteAction("action_pick_colour", ep).run(make_ctx(trackers["colour"]))
    finally:
        await ep.aclose()
    assert [e.to_dict()["event"] for e in events] == ["bot", "slot"]


async def test_compressed_request(
    action_server: ActionServer, trackers: dict[str, Tracker], make_ctx: MakeCtx
) -> None:
    ep = ActionEndpoint(url=action_server.url, compress=True)
    try:
        events = await RemoteAction("action_pick_colour", ep).run(make_ctx(trackers["colour"]))
    finally:
        await ep.aclose()
    assert isinstance(events[1], SlotSet) and events[1].value == "red"


async def test_server_down_fails_fast(trackers: dict[str, Tracker], make_ctx: MakeCtx) -> None:
    url = f"http://127.0.0.1:{free_port()}/webhook"
    ep = ActionEndpoint(url=url)
    started = time.monotonic()
    try:
        with pytest.raises(ActionServerError) as info:
            await RemoteAction("action_pick_colour", ep).run(make_ctx(trackers["colour"]))
    finally:
        await ep.aclose()
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert f"cannot connect to the action server at {url}" in message
    assert "'action_pick_colour'" in message


# -- the request, and failures, against a recording server ---------------------------------------


def _ok(body: Any) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(body)

    return handler


async def test_request_body_matches_protocol(
    fake_server: Any, trackers: dict[str, Tracker], make_ctx: MakeCtx, domain: Domain
) -> None:
    url, seen = await fake_server(_ok({"events": [], "responses": []}))
    ep = ActionEndpoint(
        url=url,
        token="s3cret",
        params={"a": "1"},
        headers={"X-Bot": "chinwag"},
        basic_auth={"username": "u", "password": "p"},
    )
    tracker = trackers["colour"]
    try:
        assert await RemoteAction("action_pick_colour", ep).run(make_ctx(tracker)) == []
    finally:
        await ep.aclose()
    (request,) = seen
    body = request["body"]
    assert set(body) == {"next_action", "sender_id", "tracker", "domain", "version"}
    assert body["next_action"] == "action_pick_colour"
    assert body["sender_id"] == "user-1"
    assert body["version"] == RASA_PROTOCOL_VERSION
    assert body["tracker"] == json.loads(json.dumps(tracker.current_state("all")))
    assert len(body["tracker"]["events"]) == 2
    assert body["domain"] == json.loads(json.dumps(domain.as_dict()))
    assert request["query"] == {"a": "1", "token": "s3cret"}
    assert request["headers"]["X-Bot"] == "chinwag"
    assert request["headers"]["Authorization"].startswith("Basic ")


async def test_selective_domain_omits_domain(
    fake_server: Any, trackers: dict[str, Tracker], make_ctx: MakeCtx
) -> None:
    url, seen = await fake_server(_ok({"events": [], "responses": []}))
    ep = ActionEndpoint(url=url, enable_selective_domain=True)
    try:
        await RemoteAction("action_pick_colour", ep).run(make_ctx(trackers["colour"]))
        # declared with `send_domain: true` in the domain
        await RemoteAction("validate_table_form", ep).run(make_ctx(trackers["pizza"]))
    finally:
        await ep.aclose()
    assert "domain" not in seen[0]["body"]
    assert seen[1]["body"]["domain"]["forms"] == {
        "table_form": {"required_slots": ["cuisine", "party_size"]}
    }


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (502, "bad gateway", r"answered 502 running action 'action_x'"),
        (200, "not json", r"malformed JSON"),
        (200, '{"events": [{"event": "slot"}]}', r"invalid result: event 0 \('slot'\)"),
        (200, '{"events": {}}', r"`events` must be a list"),
    ],
)
async def test_bad_answers_are_server_errors(
    fake_server: Any,
    trackers: dict[str, Tracker],
    make_ctx: MakeCtx,
    status: int,
    body: str,
    expected: str,
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, text=body)

    url, _ = await fake_server(handler)
    ep = ActionEndpoint(url=url)
    try:
        with pytest.raises(ActionServerError, match=expected):
            await RemoteAction("action_x", ep).run(make_ctx(trackers["colour"]))
    finally:
        await ep.aclose()


async def test_timeout_is_server_error(
    fake_server: Any, trackers: dict[str, Tracker], make_ctx: MakeCtx
) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(5)
        return web.json_response({})

    url, _ = await fake_server(slow)
    ep = ActionEndpoint(url=url, timeout=0.2)
    try:
        with pytest.raises(
            ActionServerError, match=r"did not answer action 'action_x' within 0.2 s"
        ):
            await RemoteAction("action_x", ep).run(make_ctx(trackers["colour"]))
    finally:
        await ep.aclose()


async def test_compressed_body_is_deflate(
    fake_server: Any, trackers: dict[str, Tracker], make_ctx: MakeCtx
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response({"events": []})

    app_url, seen = await fake_server(handler)
    ep = ActionEndpoint(url=app_url, compress=True)
    try:
        await RemoteAction("action_x", ep).run(make_ctx(trackers["colour"]))
    finally:
        await ep.aclose()
    # sent deflated (aiohttp's server inflates it again before it is recorded)
    assert seen[0]["headers"]["Content-Encoding"] == "deflate"
    assert seen[0]["body"]["next_action"] == "action_x"


async def test_rasa_sdk_1x_template_answers_are_said(
    fake_server: Any, trackers: dict[str, Tracker], domain: Domain
) -> None:
    """rasa_sdk < 2 (``utter_template``, ``utter_message(template=...)``) sends only
    ``template``: the response it names is said, its other keys fill the template."""

    async def handler(request: web.Request) -> web.StreamResponse:
        messages = [
            {"template": "utter_greet_name", "name": "Lin"},  # utter_template(..., name="Lin")
            {"template": "utter_greet_name", "name": "Bo", "buttons": [], "text": None},
        ]
        return web.json_response({"events": [], "responses": messages})

    url, _ = await fake_server(handler)
    ep = ActionEndpoint(url=url)
    ctx = ActionContext(trackers["greet"], domain, ResponseGenerator(domain), channel="rest")
    try:
        events = await RemoteAction("action_old", ep).run(ctx)
    finally:
        await ep.aclose()
    bots = [e for e in events if isinstance(e, BotUttered)]
    assert [b.text for b in bots] == ["Hello Lin!", "Hello Bo!"]
    assert all("template" not in b.data and "template" not in b.metadata for b in bots)
    assert bots[0].metadata["utter_action"] == "utter_greet_name"


# -- response conversion and endpoint config -----------------------------------------------------


async def test_responses_as_rasa_utter_responses(
    trackers: dict[str, Tracker], make_ctx: MakeCtx
) -> None:
    ctx = make_ctx(trackers["greet"])
    messages = [
        {"text": "plain", "buttons": [], "custom": {}, "image": None, "response": None},
        {"text": None, "image": "http://x/cat.png", "custom": {"k": 1}, "response": None},
        {
            "response": "utter_greet_name",
            "name": "Ada",
            "buttons": [{"title": "Hi", "payload": "/greet"}],
        },
        {"response": "utter_missing", "text": None},
    ]
    events = await events_from_action_response(
        [{"event": "slot", "name": "a", "value": 1}], messages, ctx
    )
    bots = [e for e in events if isinstance(e, BotUttered)]
    assert [b.text for b in bots] == ["plain", None, "Hello Ada!"]
    assert bots[1].data["image"] == bots[1].data["attachment"] == "http://x/cat.png"
    assert bots[1].data["custom"] == {"k": 1}
    assert bots[2].data["buttons"] == [{"title": "Hi", "payload": "/greet"}]
    assert isinstance(events[-1], SlotSet)


async def test_response_kwargs_reach_real_response_generator(
    trackers: dict[str, Tracker], domain: Domain
) -> None:
    tracker = trackers["greet"]
    ctx = ActionContext(tracker, domain, ResponseGenerator(domain), channel="rest")
    message = {"response": "utter_greet_name", "name": "Grace", "text": None}
    (bot,) = await events_from_action_response([], [message], ctx)
    assert isinstance(bot, BotUttered) and bot.text == "Hello Grace!"


def test_endpoint_from_endpoints_yml_section() -> None:
    ep = ActionEndpoint.from_dict(
        {
            "url": "http://localhost:5055/webhook",
            "token": "t",
            "token_name": "auth",
            "enable_selective_domain": True,
            "timeout": 12,
            "basic_auth": {"username": "u", "password": "p"},
        }
    )
    assert ep.url == "http://localhost:5055/webhook"
    assert ep.query_params() == {"auth": "t"}
    assert ep.enable_selective_domain and ep.timeout == 12.0
    assert ep.basic_auth == {"username": "u", "password": "p"}
    with pytest.raises(ValueError, match="needs a `url`"):
        ActionEndpoint.from_dict({})
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        ActionEndpoint.from_dict({"url": "http://x", "timeout": "soon"})
    with pytest.raises(ValueError, match="basic_auth needs"):
        ActionEndpoint.from_dict({"url": "http://x", "basic_auth": {"username": "u"}})
