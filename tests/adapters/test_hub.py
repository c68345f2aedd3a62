"""The hub: routes, errors, body cap, token-protected HTTP API, several bots, `chinwag run`."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from chinwag.adapters.hub import (
    BODY_TIMEOUT,
    BOTS,
    CHANNELS,
    BotRuntime,
    create_app,
    read_body,
    resolve_port,
)
from chinwag.core.data.problems import BotDataError
from chinwag.core.stores.base import TrackerStore
from chinwag.core.stores.locks import InProcessLockStore, LockStore
from chinwag.core.stores.memory import InMemoryTrackerStore
from tests.adapters.conftest import TOKEN, MakeClient, free_port, write_bot

API = "/conversations/c1/tracker"


async def test_health_version_and_openapi(make_client: MakeClient, bot_a: Path) -> None:
    client = await make_client([bot_a])
    response = await client.get("/health")
    assert await response.json() == {"status": "ok", "bots": {"alpha": "ready"}}
    response = await client.get("/version")
    body = await response.json()
    assert body["bots"] == ["alpha"]
    assert body["version"]
    doc = await (await client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path in (
        "/health",
        "/version",
        "/webhooks/rest/webhook",
        "/conversations/{conversation_id}/tracker",
        "/conversations/{conversation_id}/messages",
        "/conversations/{conversation_id}/trigger_intent",
        "/model/parse",
        "/bots/{bot}/webhooks/rest/webhook",
    ):
        assert path in paths, path
    assert paths["/model/parse"]["post"]["security"] == [{"bearer": []}, {"token": []}]
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "token"}
    assert paths["/bots/{bot}/model/parse"]["post"]["parameters"][0]["schema"]["enum"] == ["alpha"]


async def test_unknown_route_and_method_are_json(make_client: MakeClient, bot_a: Path) -> None:
    client = await make_client([bot_a])
    response = await client.get("/nowhere")
    assert response.status == 404
    assert await response.json() == {"error": "not found", "detail": "no route GET /nowhere"}
    response = await client.get("/webhooks/rest/webhook")
    assert response.status == 405
    assert await response.json() == {"error": "method not allowed", "detail": "allowed: POST"}


async def test_a_received_body_is_read_without_giving_up_the_loop() -> None:
    """A body that has arrived is read at once: the handler does not give the event loop up
    (each turn of a busy loop lasts as long as everything else it has ready). Python 3.11's
    ``asyncio.wait_for`` ran the read as a task of its own: three turns a message."""
    turns = 0

    def tick() -> None:
        nonlocal turns
        turns += 1
        asyncio.get_running_loop().call_soon(tick)

    async def echo(request: web.Request) -> web.Response:
        before = turns
        body = await read_body(request)
        return web.json_response({"turns": turns - before, "bytes": len(body)})

    app = web.Application()
    app[BODY_TIMEOUT] = 5.0
    app.router.add_post("/", echo)
    asyncio.get_running_loop().call_soon(tick)
    body = b'{"sender": "a", "message": "hello"}'
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/", data=body)
        assert await response.json() == {"turns": 0, "bytes": len(body)}


async def test_body_cap(make_client: MakeClient, bot_a: Path) -> None:
    client = await make_client([bot_a], max_body=1000)
    big = {"sender": "u", "message": "x" * 2000}
    response = await client.post("/webhooks/rest/webhook", json=big)
    assert response.status == 413
    assert await response.json() == {
        "error": "request body too large",
        "detail": "at most 1000 bytes",
    }
    ok = await client.post("/webhooks/rest/webhook", json={"sender": "u", "message": "hi"})
    assert ok.status == 200


async def test_http_api_disabled_without_token(make_client: MakeClient, bot_a: Path) -> None:
    client = await make_client([bot_a])
    response = await client.get(API, params={"token": "anything"})
    assert response.status == 403
    body = await response.json()
    assert body["error"] == "the HTTP API is disabled"
    assert "--auth-token" in body["detail"]
    assert "CHINWAG_AUTH_TOKEN" in body["detail"]
    # channels and the web chat need no token
    assert (await client.get("/")).status == 200


async def test_http_api_token_both_ways(make_client: MakeClient, bot_a: Path) -> None:
    client = await make_client([bot_a], auth_token=TOKEN)
    missing = await client.get(API)
    assert missing.status == 401
    assert (await missing.json())["error"] == "missing token"
    wrong = await client.get(API, params={"token": "nope"})
    assert wrong.status == 401
    assert (await wrong.json())["error"] == "wrong token"
    wrong_header = await client.get(API, headers={"Authorization": "Bearer nope"})
    assert wrong_header.status == 401
    by_query = await client.get(API, params={"token": TOKEN})
    assert by_query.status == 200
    by_header = await client.get(API, headers={"Authorization": f"Bearer {TOKEN}"})
    assert by_header.status == 200
    assert (await by_header.json())["sender_id"] == "c1"


async def test_tracker_include_events(make_client: MakeClient, bot_a: Path) -> None:
    client = await make_client([bot_a], auth_token=TOKEN)
    await client.post("/webhooks/rest/webhook", json={"sender": "c1", "message": "hello"})
    auth = {"token": TOKEN}
    state = await (await client.get(API, params=auth)).json()  # AFTER_RESTART by default
    kinds = [e["event"] for e in state["events"]]
    assert kinds[:4] == ["action", "session_started", "action", "user"]
    assert kinds[-2:] == ["bot", "action"]
    assert state["latest_message"]["intent"]["name"] == "greet"
    assert state["latest_action_name"] == "action_listen"
    none = await (await client.get(API, params={**auth, "include_events": "NONE"})).json()
    assert none["events"] is None
    every = await (await client.get(API, params={**auth, "include_events": "all"})).json()
    assert len(every["events"]) == len(kinds)
    bad = await client.get(API, params={**auth, "include_events": "SOME"})
    assert bad.status == 400
    assert (await bad.json())["error"] == "invalid include_events"


async def test_messages_logs_without_running_the_bot(make_client: MakeClient, bot_a: Path) -> None:
    client = await make_client([bot_a], auth_token=TOKEN)
    url = "/conversations/c2/messages"
    response = await client.post(
        url,
        json={"text": "I am Ada", "sender": "user"},
        params={"token": TOKEN, "include_events": "ALL"},
    )
    assert response.status == 200
    state = await response.json()
    kinds = [e["event"] for e in state["events"]]
    assert kinds == ["action", "session_started", "action", "user", "slot"]
    assert state["slots"]["name"] == "Ada"  # slot mappings apply, as in Rasa 3
    assert state["latest_message"]["intent"]["name"] == "greet"
    # given parse data wins over NLU
    parse_data = {"intent": {"name": "goodbye", "confidence": 1.0}, "entities": []}
    response = await client.post(
        url,
        json={"text": "whatever", "sender": "user", "parse_data": parse_data},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    state = await response.json()
    assert state["latest_message"]["intent"]["name"] == "goodbye"
    assert state["latest_message"]["text"] == "whatever"
    stored = await client.app[BOTS]["alpha"].agent.store.load("c2")
    assert [e.to_dict()["event"] for e in stored][-1] == "user"  # no bot turn was run
    bot_sender = await client.post(
        url, json={"text": "hi", "sender": "bot"}, params={"token": TOKEN}
    )
    assert bot_sender.status == 400
    assert (await bot_sender.json())["error"] == "only user messages can be added"


async def test_trigger_intent(make_client: MakeClient, bot_a: Path) -> None:
    client = await make_client([bot_a], auth_token=TOKEN)
    url = "/conversations/c3/trigger_intent"
    response = await client.post(
        url, json={"name": "greet", "entities": {"name": "Grace"}}, params={"token": TOKEN}
    )
    assert response.status == 200
    body = await response.json()
    assert body["messages"] == [{"recipient_id": "c3", "text": "Hello from alpha!"}]
    assert body["tracker"]["slots"]["name"] == "Grace"
    assert body["tracker"]["latest_action_name"] == "action_listen"
    listed = await client.post(
        url,
        json={"name": "greet", "entities": [{"entity": "name", "value": "Lin"}]},
        params={"token": TOKEN},
    )
    assert (await listed.json())["tracker"]["slots"]["name"] == "Lin"
    unknown = await client.post(url, json={"name": "dance"}, params={"token": TOKEN})
    assert unknown.status == 404
    assert await unknown.json() == {
        "error": "unknown intent",
        "detail": "the intent 'dance' is not in the domain",
    }
    nameless = await client.post(url, json={}, params={"token": TOKEN})
    assert nameless.status == 400


async def test_model_parse(make_client: MakeClient, bot_a: Path) -> None:
    client = await make_client([bot_a], auth_token=TOKEN)
    response = await client.post("/model/parse", json={"text": "hi"}, params={"token": TOKEN})
    body = await response.json()
    assert body["text"] == "hi"
    assert body["intent"]["name"] == "greet"
    payload = await client.post(
        "/model/parse", json={"text": '/greet{"name": "Bo"}'}, params={"token": TOKEN}
    )
    entities = (await payload.json())["entities"]
    assert [(e["entity"], e["value"]) for e in entities] == [("name", "Bo")]
    missing = await client.post("/model/parse", json={"txt": "hi"}, params={"token": TOKEN})
    assert missing.status == 400


async def test_two_bots_under_their_prefixes(
    make_client: MakeClient, bot_a: Path, bot_b: Path
) -> None:
    client = await make_client([bot_a, bot_b], auth_token=TOKEN)
    for name, greeting in (("alpha", "Hello from alpha!"), ("beta", "Hello from beta!")):
        response = await client.post(
            f"/bots/{name}/webhooks/rest/webhook", json={"sender": "u", "message": "hello"}
        )
        assert await response.json() == [{"recipient_id": "u", "text": greeting}]
        tracker = await client.get(f"/bots/{name}/conversations/u/tracker", params={"token": TOKEN})
        assert tracker.status == 200
        page = await client.get(f"/bots/{name}/")
        assert "chat.js" in await page.text()
    # each bot has its own conversations
    runtimes = client.app[BOTS]
    assert await runtimes["alpha"].agent.store.ids() == ["u"]
    # and the process one order in which messages start, whichever bot they are for
    assert runtimes["alpha"].admission is runtimes["beta"].admission
    # no root routes when several bots share the hub; the root page lists them
    root = await client.post("/webhooks/rest/webhook", json={"sender": "u", "message": "hello"})
    assert root.status == 404
    index = await (await client.get("/")).text()
    assert 'href="/bots/alpha/"' in index
    assert 'href="/bots/beta/"' in index
    health = await (await client.get("/health")).json()
    assert health["bots"] == {"alpha": "ready", "beta": "ready"}
    redirect = await client.get("/bots/beta", allow_redirects=False)
    assert redirect.status == 302
    assert redirect.headers["Location"] == "/bots/beta/"


async def test_single_bot_at_root_and_prefix(make_client: MakeClient, bot_a: Path) -> None:
    client = await make_client([bot_a])
    for url in ("/webhooks/rest/webhook", "/bots/alpha/webhooks/rest/webhook"):
        response = await client.post(url, json={"sender": "same", "message": "hello"})
        assert await response.json() == [{"recipient_id": "same", "text": "Hello from alpha!"}]
    tracker = await client.app[BOTS]["alpha"].agent.load_tracker("same")
    assert sum(e.to_dict()["event"] == "user" for e in tracker.events) == 2
    page = await client.get("/")
    assert page.content_type == "text/html"
    script = await client.get("/chat.js")
    assert script.content_type == "application/javascript"
    assert "webhooks/rest/webhook" in await script.text()
    assert (await client.get("/chat.css")).content_type == "text/css"


async def test_busy_conversation_is_503(make_client: MakeClient, bot_a: Path) -> None:
    def quick_locks(_bot_dir: Path) -> tuple[TrackerStore, LockStore]:
        return InMemoryTrackerStore(), InProcessLockStore(wait_timeout=0.05)

    client = await make_client([bot_a], stores=quick_locks)
    agent = client.app[BOTS]["alpha"].agent
    async with agent.lock_store.lock("busy"):
        response = await client.post(
            "/webhooks/rest/webhook", json={"sender": "busy", "message": "hello"}
        )
    assert response.status == 503
    assert (await response.json())["error"] == "conversation busy, try again"


async def test_unexpected_failure_is_500_json(
    make_client: MakeClient, bot_a: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await make_client([bot_a])
    agent = client.app[BOTS]["alpha"].agent

    async def broken(*_args: Any) -> list[dict[str, Any]]:
        raise RuntimeError("boom")

    monkeypatch.setattr(agent, "handle", broken)
    response = await client.post("/webhooks/rest/webhook", json={"sender": "u", "message": "hi"})
    assert response.status == 500
    body = await response.json()
    assert body == {"error": "internal server error", "detail": "see the hub's log"}


async def test_channel_setup_contract(
    make_client: MakeClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}
    events: list[str] = []

    def setup(app: web.Application, runtime: BotRuntime, credentials: dict[str, Any]) -> None:
        seen.update(credentials)

        async def webhook(request: web.Request) -> web.Response:
            return web.json_response(await runtime.handle(_message(await request.text())))

        async def client_ctx(_app: web.Application) -> Any:
            events.append(f"open, agent ready: {runtime.ready}")
            yield
            events.append("close")

        runtime.add_route(app, "POST", "/webhooks/fake/webhook", webhook)
        app.cleanup_ctx.append(client_ctx)

    def _message(text: str) -> Any:
        from chinwag.core.agent import UserMessage

        return UserMessage(text, "fake-user", input_channel="fake")

    module = types.ModuleType("fake_channel")
    module.setup = setup  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_channel", module)
    monkeypatch.setitem(CHANNELS, "fake", "fake_channel")
    monkeypatch.setenv("FAKE_TOKEN", "t-123")
    bot = write_bot(tmp_path / "gamma", "Hi!", "rest:\nfake:\n  token: ${FAKE_TOKEN}\n")
    client = await make_client([bot])
    assert seen == {"token": "t-123"}
    assert events == ["open, agent ready: True"]
    for prefix in ("", "/bots/gamma"):
        response = await client.post(f"{prefix}/webhooks/fake/webhook", data="hello")
        assert await response.json() == [{"text": "Hi!"}]
    await client.close()
    assert events == ["open, agent ready: True", "close"]


async def test_unknown_channel_is_a_warning(
    make_client: MakeClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bot = write_bot(tmp_path / "delta", "Hi!", "rest:\nfacebook:\n  verify: x\n")
    with caplog.at_level(logging.WARNING, logger="chinwag.adapters.hub"):
        client = await make_client([bot])
    assert "credentials.yml names channel 'facebook'" in caplog.text
    assert (await client.get("/webhooks/rest/")).status == 200


def test_bad_setups_are_refused(tmp_path: Path) -> None:
    bot = write_bot(tmp_path / "one" / "same", "A")
    other = write_bot(tmp_path / "two" / "same", "B")
    with pytest.raises(ValueError, match="two bots are named 'same'"):
        create_app([bot, other])
    broken = write_bot(tmp_path / "broken", "C", "rest: [1, 2]\n")
    with pytest.raises(
        BotDataError, match=r"credentials.yml:1: error: channel 'rest' must be a mapping"
    ):
        create_app([broken])
    with pytest.raises(BotDataError, match="not a bot folder"):
        create_app([tmp_path / "missing"])


def test_port_from_option_then_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORT", raising=False)
    assert resolve_port(None) == 5005
    monkeypatch.setenv("PORT", "8123")
    assert resolve_port(None) == 8123
    assert resolve_port(9000) == 9000
    monkeypatch.setenv("PORT", "web")
    with pytest.raises(ValueError, match=r"\$PORT must be a number"):
        resolve_port(None)


async def _wait_for_health(url: str, process: subprocess.Popen[str], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"hub exited early: {process.communicate()}")
            try:
                async with session.get(url) as response:
                    return await response.json()
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
    raise AssertionError(f"no answer from {url} within {timeout} s")


async def test_chinwag_run_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    bot = write_bot(tmp_path / "served", "Hello from a real process!")
    port = free_port()
    env = {**os.environ, "PORT": str(port), "CHINWAG_AUTH_TOKEN": TOKEN}
    env.pop("MONGODB_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "chinwag", "run", str(bot), "--host", "127.0.0.1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert await _wait_for_health(f"{base}/health", process, 60) == {
            "status": "ok",
            "bots": {"served": "ready"},
        }
        async with aiohttp.ClientSession() as session:
            body = {"sender": "p", "message": "hello"}
            async with session.post(f"{base}/webhooks/rest/webhook", json=body) as response:
                assert await response.json() == [
                    {"recipient_id": "p", "text": "Hello from a real process!"}
                ]
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with session.get(f"{base}/conversations/p/tracker", headers=headers) as r:
                assert (await r.json())["latest_message"]["text"] == "hello"
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.to_thread(process.communicate, timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert f"chinwag hub serving served on http://127.0.0.1:{port}" in out
    assert "Traceback" not in err
    # the default store is SQLite under the bot's .chinwag/ folder, closed cleanly
    assert (bot / ".chinwag" / "conversations.db").is_file()


async def test_ctrl_c_stops_every_worker_quietly(tmp_path: Path) -> None:
    """Ctrl-C in a terminal signals the whole process group: the hub and each worker (which
    the hub also tells to stop) end with status 0 and no error line."""
    bot = write_bot(tmp_path / "served", "Hello!")
    port = free_port()
    env = {**os.environ, "PORT": str(port)}
    env.pop("MONGODB_URL", None)
    command = [sys.executable, "-m", "chinwag", "run", str(bot), "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        await _wait_for_health(f"http://127.0.0.1:{port}/health", process, 60)
        os.killpg(process.pid, signal.SIGINT)
        out, err = await asyncio.to_thread(process.communicate, timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, out + err
    assert "GracefulExit" not in out + err and "Traceback" not in err, out + err


async def test_a_serving_hub_keeps_its_loaded_bots_out_of_the_collector(bot_a: Path) -> None:
    """What ``chinwag run`` adds to the app: once the bots load, their objects are frozen
    out of the collector's generations (a full collection no longer walks them), while a
    message's objects are still collected; stopping undoes it."""
    import gc

    from aiohttp.test_utils import TestClient, TestServer

    from chinwag.adapters.hub import GC_PACE, SERVING_GC_THRESHOLDS, long_lived_heap
    from tests.adapters.conftest import memory_stores

    thresholds = gc.get_threshold()
    app = create_app([bot_a], stores=memory_stores)
    app.cleanup_ctx.append(long_lived_heap)
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    try:
        agent = app[BOTS][bot_a.name].agent
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == SERVING_GC_THRESHOLDS
        assert all(o is not agent for o in gc.get_objects())  # frozen: out of every generation
        made_now = {"a message's": ["objects"]}
        assert any(o is made_now for o in gc.get_objects())  # still collected
        response = await client.post(
            "/webhooks/rest/webhook", json={"sender": "u", "message": "hi"}
        )
        assert response.status == 200
        # generation 0 is collected on the hub's clock, however few objects are made: here
        # a cycle of garbage far below the count's threshold goes within a few GC_PACE
        collected = asyncio.Event()

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "stop" and info["generation"] == 0 and info["collected"]:
                collected.set()

        gc.callbacks.append(on_gc)
        try:
            cycle: list[Any] = []
            cycle.append(cycle)
            del cycle
            assert gc.get_count()[0] < SERVING_GC_THRESHOLDS[0]
            await asyncio.wait_for(collected.wait(), timeout=60 * GC_PACE)
        finally:
            gc.callbacks.remove(on_gc)
    finally:
        await client.close()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds


def test_the_hub_runs_on_uvloop_by_default_and_on_asyncio_when_asked() -> None:
    import uvloop

    from chinwag.adapters.server import default_event_loop, new_event_loop

    assert default_event_loop() == "uvloop"  # a dependency of chinwag (except on Windows)
    for kind, expected in (("uvloop", uvloop.Loop), ("asyncio", asyncio.BaseEventLoop)):
        loop = new_event_loop(kind)
        try:
            assert isinstance(loop, expected)
            assert isinstance(loop, uvloop.Loop) == (kind == "uvloop")
        finally:
            loop.close()
    with pytest.raises(ValueError, match="expected uvloop or asyncio"):
        new_event_loop("trio")
