"""``GET /metrics``: Prometheus counters and histograms move with a real REST conversation."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from chinwag.adapters.hub import default_stores
from chinwag.core.init import scaffold
from chinwag.core.metrics import STAGES
from tests.adapters.conftest import TOKEN, MakeClient, free_port

REST = "/webhooks/rest/webhook"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, keyed by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_move_with_a_rest_conversation(make_client: MakeClient, bot_a: Path) -> None:
    client = await make_client([bot_a], auth_token=TOKEN, stores=default_stores)
    before = samples(await (await client.get("/metrics", params={"token": TOKEN})).text())
    assert value(before, "chinwag_messages_received_total", bot="alpha", channel="rest") == 0

    for sender, text in (("ann", "hello"), ("ann", "bye"), ("bob", "hello")):
        reply = await client.post(REST, json={"sender": sender, "message": text})
        assert reply.status == 200
        assert await reply.json()

    scraped = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert scraped.status == 200
    assert scraped.headers["Content-Type"].startswith("text/plain")
    found = samples(await scraped.text())
    assert value(found, "chinwag_messages_received_total", bot="alpha", channel="rest") == 3
    # a bot utterance counts once (REST renders 'bye', text and image, as two messages)
    assert value(found, "chinwag_messages_sent_total", bot="alpha", channel="rest") == 3
    assert value(found, "chinwag_latency_seconds_count", bot="alpha", stage="message") == 3
    for stage in STAGES:
        assert value(found, "chinwag_latency_seconds_count", bot="alpha", stage=stage) >= 3, stage
    assert value(found, "chinwag_latency_seconds_sum", bot="alpha", stage="message") > 0
    assert value(found, "chinwag_lock_wait_seconds_count", bot="alpha") == 3
    assert value(found, "chinwag_active_conversations", bot="alpha") == 2
    assert value(found, "chinwag_errors_total", bot="alpha", kind="action") == 0


async def test_metrics_need_the_token(make_client: MakeClient, bot_a: Path) -> None:
    client = await make_client([bot_a], auth_token=TOKEN)
    missing = await client.get("/metrics")
    assert missing.status == 401
    assert (await missing.json())["error"] == "missing token"
    assert (await client.get("/metrics", params={"token": "nope"})).status == 401
    off = await make_client([bot_a])
    assert (await off.get("/metrics")).status == 403


async def test_metrics_port_serves_without_a_token(make_client: MakeClient, bot_a: Path) -> None:
    port = free_port()
    client = await make_client([bot_a], metrics_port=port, metrics_host="127.0.0.1")
    reply = await client.post(REST, json={"sender": "ann", "message": "hello"})
    assert reply.status == 200
    assert (await client.get("/metrics")).status == 404  # only on the metrics port
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as scraped,
    ):
        assert scraped.status == 200
        found = samples(await scraped.text())
    assert value(found, "chinwag_messages_received_total", bot="alpha", channel="rest") == 1


async def test_fallbacks_and_action_errors_are_counted(
    make_client: MakeClient, tmp_path: Path
) -> None:
    bot = scaffold(tmp_path / "starter").path
    actions = bot / "actions.py"
    actions.write_text(
        actions.read_text().replace(
            "now = datetime.now(UTC)", 'raise RuntimeError("the clock is broken")'
        )
    )
    client = await make_client([bot], auth_token=TOKEN)
    for text in ("what time is it?", "qwertzuiop asdfgh"):
        reply = await client.post(REST, json={"sender": "ann", "message": text})
        assert reply.status == 200
    found = samples(await (await client.get("/metrics", params={"token": TOKEN})).text())
    assert value(found, "chinwag_errors_total", bot="starter", kind="action") == 1
    assert value(found, "chinwag_fallbacks_total", bot="starter") == 1
    assert value(found, "chinwag_errors_total", bot="starter", kind="store") == 0
