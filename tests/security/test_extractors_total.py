"""Every extractor, and the whole NLU parse, is total: any text gives parse data that a store
can hold, never an exception (huge numbers, lone surrogates, long and odd inputs included)."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chinwag.core.agent import Agent, load_agent
from chinwag.core.events import UserUttered, check_parse_data
from chinwag.core.nlu.builtin import DIMENSIONS, BuiltinExtractor
from chinwag.core.nlu.interpreter import PayloadError, parse_payload
from chinwag.core.nlu.pipeline import NLUPipeline
from chinwag.core.nlu.text import scrub
from chinwag.core.stores.base import storable
from tests.security.test_long_message import trained_restaurant as trained_restaurant  # fixture

HOSTILE = [
    "9" * 309,  # float("9" * 309) is inf: int(inf) raised OverflowError
    "9" * 5000 + "th",  # int() refuses more than 4,300 digits
    "\ud800",  # a lone surrogate: crfsuite cannot encode it
    "book for \udfff 4 people",
    "in " + "9" * 25 + " days",  # timedelta overflow
    "one " + "hundred " * 400,  # a spelled number too large for a float
    "$" + "9" * 400 + " million",
    "9" * 300 + " dollars",
    "1e400",
    "/greet@1.2.3",  # a malformed payload confidence
    "/greet{" + '"a":' * 5000 + "1" + "}" * 5000,  # payload JSON nested beyond recursion
    '/greet{"n": NaN}',
    "1 " * 16_000,
]

# pieces the built-in patterns care about, so generated texts hit them often
PIECES = st.sampled_from(
    [
        "9" * 40, "1", "12.5", "1,000", "th", "st", "$", "€", " million", " k", "twenty",
        "hundred", "thousand", "and", "a", "in", " days", " hours", "on", "monday", "12:30",
        "pm", "jan", "2024", "/", "-", ".", "@", "x.com", "www.", "+1 ", "(", ")", " ",
        "\ud800", "\udfff", "\U0001f600", "\u0301", "\x00", "\n",
    ]
)  # fmt: skip
ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=200)
PIECED = st.lists(PIECES, max_size=60).map("".join)
REPEATED = st.builds(lambda s, n: s * n, st.text(max_size=12) | PIECED, st.integers(1, 400))
TEXTS = ANY_TEXT | PIECED | REPEATED


def assert_storable_entities(text: str, entities: list[dict[str, Any]]) -> None:
    json.dumps(entities, allow_nan=False)  # what a store writes
    for e in entities:
        assert 0 <= e["start"] < e["end"] <= len(text)
        value = e["value"]
        assert not isinstance(value, float) or math.isfinite(value)


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_texts_through_the_builtin_extractor(text: str) -> None:
    entities = BuiltinExtractor(DIMENSIONS).extract(text)
    assert_storable_entities(text, entities)
    if text == "9" * 309:
        assert not [e for e in entities if e["entity"] == "number"]  # no finite value: none


def test_numbers_within_bounds_are_still_found() -> None:
    found = BuiltinExtractor(["number", "ordinal"]).extract("the 3rd of 12 and 99999999999")
    assert [(e["entity"], e["value"]) for e in found] == [
        ("ordinal", 3),
        ("number", 12),
        ("number", 99999999999),
    ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS)
def test_the_builtin_extractor_is_total(text: str) -> None:
    assert_storable_entities(text, BuiltinExtractor(DIMENSIONS).extract(text))


def test_payloads_are_total() -> None:
    for text in HOSTILE:
        try:
            parsed = parse_payload(text)
        except PayloadError:
            continue
        if parsed is not None:
            check_parse_data(parsed)


@pytest.fixture(scope="module")
def agent(trained_restaurant: Path) -> Iterator[tuple[Agent, asyncio.AbstractEventLoop]]:
    loop = asyncio.new_event_loop()
    yield load_agent(trained_restaurant), loop
    loop.close()


def parse_and_store(agent: tuple[Agent, asyncio.AbstractEventLoop], text: str) -> None:
    """The agent's parse of ``text`` is valid parse data, and its user event is storable."""
    bot, loop = agent
    assert isinstance(bot.interpreter, NLUPipeline) and bot.interpreter.crf is not None
    parsed = loop.run_until_complete(bot.parse(text))
    check_parse_data(parsed)
    clean = scrub(text)  # lone surrogates become U+FFFD, one for one
    if not text.startswith("/"):  # a malformed payload is read as text without its slash
        assert parsed["text"] == clean
        assert_storable_entities(clean, parsed["entities"])
    storable("c", 0, UserUttered(clean, parsed["intent"], parsed["entities"], parsed))


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_texts_through_the_whole_parse(
    agent: tuple[Agent, asyncio.AbstractEventLoop], text: str
) -> None:
    parse_and_store(agent, text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS)
def test_the_whole_parse_is_total(
    agent: tuple[Agent, asyncio.AbstractEventLoop], text: str
) -> None:
    parse_and_store(agent, text)
