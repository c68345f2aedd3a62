"""A 32 KB message through the real hub: answered, stored whole, and /health keeps answering
while it is understood (NLU runs off the event loop and reads a bounded part of the text)."""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from chinwag.adapters.hub import BOTS
from chinwag.core.agent import load_agent
from chinwag.core.data.problems import BotDataError
from chinwag.core.events import UserUttered
from chinwag.core.nlu.pipeline import NLUPipeline
from chinwag.core.nlu.text import DEFAULT_MAX_CHARS
from chinwag.core.train import train_bot
from tests.adapters.conftest import RESTAURANT, TOKEN, MakeClient, write_bot
from tests.adapters.conftest import make_client as make_client  # the hub fixture, for pytest

WEBHOOK = "/webhooks/rest/webhook"
LONG = "1 " * 16_000  # 32,000 characters: 34 s of CRF features before the fix
WAIT = 120.0  # seconds a condition may take before the test fails (never reached when green)


@pytest.fixture(scope="module")
def trained_restaurant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of bots/restaurant with a trained model (its CRF and built-in extractor)."""
    bot = tmp_path_factory.mktemp("long") / "restaurant"
    shutil.copytree(RESTAURANT, bot, ignore=shutil.ignore_patterns("models", ".chinwag"))
    result = train_bot(bot)
    assert result.archive is not None, result.problems.errors
    return bot


async def test_a_32_kb_message_is_answered_while_health_answers(
    make_client: MakeClient,
    trained_restaurant: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = await make_client([trained_restaurant], auth_token=TOKEN)
    agent = client.app[BOTS]["restaurant"].agent
    pipeline = agent.interpreter
    assert isinstance(pipeline, NLUPipeline) and pipeline.crf is not None
    loop = asyncio.get_running_loop()
    nlu_started = asyncio.Event()
    health_answered = threading.Event()
    seen: list[int] = []
    held: list[bool] = []
    real_parse = pipeline.parse_sync

    def parse_until_health_answered(text: str) -> dict[str, Any]:
        """The real parse, then hold the NLU step until /health has been answered: were it
        running on the event loop, /health could not be answered and the hold times out."""
        seen.append(len(text))
        result = real_parse(text)
        loop.call_soon_threadsafe(nlu_started.set)
        held.append(health_answered.wait(timeout=WAIT))
        return result

    monkeypatch.setattr(pipeline, "parse_sync", parse_until_health_answered)
    caplog.set_level(logging.WARNING, logger="chinwag.core.agent")
    message = asyncio.ensure_future(client.post(WEBHOOK, json={"sender": "long", "message": LONG}))
    await asyncio.wait_for(nlu_started.wait(), WAIT)
    health = await client.get("/health")
    assert health.status == 200
    other = await client.get("/conversations/someone-else/tracker", params={"token": TOKEN})
    assert other.status == 200
    health_answered.set()
    response = await message
    assert held == [True], "the event loop was blocked while the long message was understood"
    assert response.status == 200
    replies = await response.json()
    assert replies and all(r["recipient_id"] == "long" for r in replies)
    assert seen == [DEFAULT_MAX_CHARS]  # NLU read a bounded part ...
    tracker = await agent.load_tracker("long")
    users = [e for e in tracker.events if isinstance(e, UserUttered)]
    assert [u.text for u in users] == [LONG]  # ... and the whole message is stored
    assert users[0].parse_data["text"] == LONG
    cut = [r for r in caplog.records if "NLU reads its first" in r.getMessage()]
    assert len(cut) == 1 and f"{len(LONG)} characters" in cut[0].getMessage()


async def test_a_short_message_is_not_cut_and_long_ones_keep_their_entities(
    make_client: MakeClient, trained_restaurant: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client([trained_restaurant], auth_token=TOKEN)
    caplog.set_level(logging.WARNING, logger="chinwag.core.agent")
    text = "a table for 4 people " + "please " * 2000
    response = await client.post("/model/parse", json={"text": text}, params={"token": TOKEN})
    assert response.status == 200
    parsed = await response.json()
    assert parsed["text"] == text
    numbers = [e for e in parsed["entities"] if e["entity"] == "number"]
    assert numbers and text[numbers[0]["start"] : numbers[0]["end"]] == "4"
    assert all(e["end"] <= DEFAULT_MAX_CHARS for e in parsed["entities"])
    short = await client.post("/model/parse", json={"text": "4 people"}, params={"token": TOKEN})
    assert (await short.json())["text"] == "4 people"
    cut = [r for r in caplog.records if "NLU reads its first" in r.getMessage()]
    assert len(cut) == 1


async def test_the_cut_is_configured_in_config_yml(tmp_path: Path) -> None:
    bot = write_bot(tmp_path / "bot", "Hi!")
    config = bot / "config.yml"
    config.write_text(config.read_text(encoding="utf-8") + "nlu_max_chars: 5\n", encoding="utf-8")
    agent = load_agent(bot)
    assert agent.nlu_max_chars == 5
    # the bot understands "hello" by its examples; NLU reads only "hello" of this message
    parsed = await agent.parse("hello there, this is a longer message")
    assert parsed["intent"]["name"] == "greet"
    assert parsed["text"] == "hello there, this is a longer message"
    config.write_text(config.read_text(encoding="utf-8") + "nlu_max_chars: 0\n", encoding="utf-8")
    with pytest.raises(BotDataError, match="duplicate key 'nlu_max_chars'"):
        load_agent(bot)


@pytest.mark.parametrize("value", ["-1", "many", "true", "1.5"])
def test_a_malformed_cut_is_a_located_error(tmp_path: Path, value: str) -> None:
    bot = write_bot(tmp_path / "bot", "Hi!")
    config = bot / "config.yml"
    text = config.read_text(encoding="utf-8") + f"nlu_max_chars: {value}\n"
    config.write_text(text, encoding="utf-8")
    line = len(text.splitlines())
    with pytest.raises(
        BotDataError, match=rf"config.yml:{line}: error: nlu_max_chars must be a number"
    ):
        load_agent(bot)
