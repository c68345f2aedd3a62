"""Dates and numbers in the bot's language: the built-ins (dateparser, text2num) and a Duckling
server (``DucklingEntityExtractor`` with a ``url``, here the emulator)."""

from __future__ import annotations

import logging
import socket
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chinwag.core.agent import UserMessage, load_agent
from chinwag.core.cli import main
from chinwag.core.data.problems import Problems
from chinwag.core.domain import Domain
from chinwag.core.nlu.builtin import BuiltinExtractor
from chinwag.core.nlu.duckling import DucklingHTTPExtractor
from chinwag.core.nlu.pipeline import BUILTIN_EXTRACTOR as BUILTIN
from chinwag.core.nlu.pipeline import NLUPipeline
from tests.core.data.test_loader import write
from tests.emulators.duckling import FakeDuckling, serve_in_thread
from tests.security.test_extractors_total import HOSTILE, TEXTS, assert_storable_entities

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=BERLIN)  # a Monday


def extract(language: str, text: str, dims: list[str] | None = None) -> list[tuple[Any, ...]]:
    extractor = BuiltinExtractor(dims, "Europe/Berlin", now=lambda: NOW, language=language)
    return [(e["entity"], text[e["start"] : e["end"]], e["value"]) for e in extractor.extract(text)]


FRIDAY_15 = (NOW + timedelta(days=4)).replace(hour=15).isoformat(timespec="milliseconds")


@pytest.mark.parametrize(
    ("language", "text", "span"),
    [
        ("de", "nächsten Freitag um 15 Uhr bitte", "nächsten Freitag um 15 Uhr"),
        ("fr", "vendredi prochain à 15h", "vendredi prochain à 15h"),
        ("es", "el próximo viernes a las 15", "el próximo viernes a las 15"),
        ("it", "venerdì prossimo alle 15", "venerdì prossimo alle 15"),
        ("pt", "na próxima sexta-feira às 15h", "na próxima sexta-feira às 15h"),
        ("nl", "volgende vrijdag om 15 uur", "volgende vrijdag om 15 uur"),
    ],
)
def test_next_friday_at_three_in_six_languages(language: str, text: str, span: str) -> None:
    assert extract(language, text) == [("time", span, FRIDAY_15)]


@pytest.mark.parametrize(
    ("language", "text", "span"),
    [
        ("de", "wir sind zweiundzwanzig Personen", "zweiundzwanzig"),
        ("fr", "nous sommes vingt-deux", "vingt-deux"),
        ("es", "somos veintidós personas", "veintidós"),
        ("it", "siamo ventidue persone", "ventidue"),
        ("pt", "somos vinte e dois", "vinte e dois"),
        ("nl", "we zijn tweeëntwintig mensen", "tweeëntwintig"),
    ],
)
def test_numbers_in_words_in_six_languages(language: str, text: str, span: str) -> None:
    assert extract(language, text, ["number"]) == [("number", span, 22)]


def test_german_dates_relative_and_explicit() -> None:
    tomorrow = (NOW + timedelta(days=1)).replace(hour=0)
    found = extract("de", "morgen um 9:30 oder am 3. März, 40 Euro", ["time", "amount-of-money"])
    assert found == [
        (
            "time",
            "morgen um 9:30",
            tomorrow.replace(hour=9, minute=30).isoformat("T", "milliseconds"),
        ),
        ("time", "am 3. März", datetime(2027, 3, 3, tzinfo=BERLIN).isoformat("T", "milliseconds")),
        ("amount-of-money", "40 Euro", 40),
    ]


def test_english_keeps_its_rules() -> None:
    # the language-specific rules are not asked: English words, English dates
    assert extract("en", "twenty two people next friday at 3pm") == [
        ("number", "twenty two", 22),
        ("time", "next friday at 3pm", FRIDAY_15),
    ]
    assert extract("de", "twenty two") == []


def test_language_rules_stay_bounded_on_long_text() -> None:
    text = "nächsten Freitag um 15 Uhr " * 200
    found = extract("de", text, ["time"])
    assert 0 < len(found) <= 10  # at most MAX_CANDIDATES dates are resolved per message


# ------------------------------------------------------------------ Duckling server


def test_duckling_request_is_rasas_and_answer_is_converted() -> None:
    with serve_in_thread() as duckling:
        extractor = DucklingHTTPExtractor(
            duckling.root_url,
            ["time", "number"],
            language="de",
            timezone="Europe/Berlin",
            now=lambda: NOW.timestamp(),
        )
        text = "zweiundzwanzig Personen nächsten Freitag um 15 Uhr, a@b.de"
        entities = extractor.extract(text)
    [call] = duckling.calls_of("parse")
    assert call.body == {
        "text": text,
        "locale": "de_DE",
        "tz": "Europe/Berlin",
        "dims": '["time", "number"]',
        "reftime": str(int(NOW.timestamp()) * 1000),
    }
    assert call.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    # the email is Duckling's too, but not among the configured dimensions
    assert [(e["entity"], e["text"], e["value"]) for e in entities] == [
        ("number", "zweiundzwanzig", 22),
        ("time", "nächsten Freitag um 15 Uhr", FRIDAY_15),
    ]
    assert all(e["extractor"] == "DucklingEntityExtractor" for e in entities)
    assert entities[1]["additional_info"]["grain"] == "hour"


def test_duckling_down_is_logged_once_and_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    extractor = DucklingHTTPExtractor(f"http://127.0.0.1:{port}", timeout=1)
    with caplog.at_level(logging.ERROR, logger="chinwag.core.nlu.duckling"):
        assert extractor.extract("tomorrow") == []
        assert extractor.extract("tomorrow") == []
    assert len([r for r in caplog.records if "did not answer" in r.message]) == 1


def test_duckling_failing_stands_down_and_the_builtins_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with serve_in_thread() as duckling:
        extractor = DucklingHTTPExtractor(
            duckling.root_url,
            ["number"],
            locale="xx_XX",  # Duckling refuses an unknown locale: 422
            fallback=BuiltinExtractor(["number"]),
        )
        with caplog.at_level(logging.ERROR, logger="chinwag.core.nlu.duckling"):
            first = extractor.extract("twenty two people")
            second = extractor.extract("three people")
    assert [(e["entity"], e["value"]) for e in first + second] == [("number", 22), ("number", 3)]
    assert len(duckling.calls_of("parse")) == 1  # not asked again while it is down
    [record] = [r for r in caplog.records if "did not answer" in r.message]
    assert "built-in extractor" in record.message


def test_duckling_silent_server_costs_at_most_the_timeout() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)  # accepts the connection, never answers
        extractor = DucklingHTTPExtractor(f"http://127.0.0.1:{sock.getsockname()[1]}", timeout=0.2)
        assert extractor.extract("tomorrow") == []


def test_duckling_url_in_config_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    problems = Problems()
    pipeline = NLUPipeline.from_config(
        [
            {
                "name": "DucklingEntityExtractor",
                "url": "http://duckling:8000",
                "dimensions": ["distance"],
            }
        ],
        Domain(),
        problems,
        language="de",
    )
    assert isinstance(pipeline.builtin, DucklingHTTPExtractor)
    assert pipeline.builtin.dimensions == ["distance"] and pipeline.builtin.locale == "de_DE"
    assert pipeline.builtin.fallback is None  # no built-in reads distances
    assert not [p for p in problems.warnings if "Duckling" in p.message]  # honoured, not mapped
    with serve_in_thread() as duckling:
        monkeypatch.setenv("RASA_DUCKLING_HTTP_URL", duckling.root_url)
        parsed = pipeline.parse_sync("noch 5 Kilometer")
    assert [(e["entity"], e["value"]) for e in parsed["entities"]] == [("distance", 5)]
    assert parsed["entities"][0]["additional_info"]["unit"] == "kilometre"
    # without a url: the built-ins, with a warning saying so
    problems = Problems()
    NLUPipeline.from_config([{"name": "DucklingEntityExtractor"}], Domain(), problems)
    assert any("set its url" in p.message for p in problems.warnings)
    problems = Problems()
    NLUPipeline.from_config([{"name": BUILTIN}], Domain(), problems, language="sv")
    assert any("built-in numbers and dates read English" in p.message for p in problems.warnings)


# ------------------------------------------------------------------ a German bot

GERMAN_BOT = {
    "config.yml": (
        "language: de\npipeline:\n- name: WhitespaceTokenizer\n- name: CountVectorsFeaturizer\n"
        "- name: DIETClassifier\n- name: DucklingEntityExtractor\n"
        "  dimensions: [time, number]\n  timezone: Europe/Berlin\n{url}"
        "policies:\n- name: RulePolicy\n"
    ),
    "domain.yml": (
        'version: "3.1"\nintents: [greet, book]\nentities: [time, number]\n'
        "slots:\n  time:\n    type: any\n    mappings:\n    - type: from_entity\n"
        "      entity: time\n  people:\n    type: float\n    mappings:\n"
        "    - type: from_entity\n      entity: number\n"
        "responses:\n  utter_greet:\n  - text: Hallo!\n"
        "  utter_booked:\n  - text: 'Tisch für {people} Personen am {time}'\n"
    ),
    "data/nlu.yml": (
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n      - hallo\n'
        "      - guten Tag\n      - moin\n      - servus\n- intent: book\n  examples: |\n"
        "      - einen Tisch bitte\n      - ich möchte einen Tisch reservieren\n"
        "      - Tisch für vier Personen morgen\n      - reservieren Sie einen Tisch am Montag\n"
        "      - ich brauche einen Tisch für zwei\n"
    ),
    "data/rules.yml": (
        'version: "3.1"\nrules:\n- rule: greet\n  steps:\n  - intent: greet\n'
        "  - action: utter_greet\n- rule: book\n  steps:\n  - intent: book\n"
        "  - action: utter_booked\n"
    ),
}


def _german_bot(root: Path, url: str | None = None) -> Path:
    files = dict(GERMAN_BOT)
    files["config.yml"] = files["config.yml"].format(url=f"  url: {url}\n" if url else "")
    write(root, files)
    assert main(["train", str(root)]) == 0
    return root


async def _book(bot: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    agent = load_agent(bot)
    try:
        replies = await agent.handle(
            UserMessage("einen Tisch für zweiundzwanzig Personen nächsten Freitag um 15 Uhr", "u1")
        )
        tracker = await agent.load_tracker("u1")
        return dict(tracker.slots), replies
    finally:
        await agent.close()


def _next_friday_at_15() -> datetime:
    now = datetime.now(BERLIN)
    ahead = (4 - now.weekday()) % 7 or 7
    return (now + timedelta(days=ahead)).replace(hour=15, minute=0, second=0, microsecond=0)


async def test_german_bot_fills_date_and_number_slots(tmp_path: Path) -> None:
    slots, replies = await _book(_german_bot(tmp_path / "de"))
    assert slots["people"] == 22
    assert datetime.fromisoformat(slots["time"]) == _next_friday_at_15()
    assert replies[0]["text"] == f"Tisch für 22 Personen am {slots['time']}"


async def test_german_bot_with_duckling_url_asks_the_server(tmp_path: Path) -> None:
    async with FakeDuckling() as duckling:
        bot = _german_bot(tmp_path / "de", duckling.root_url)
        slots, _ = await _book(bot)
    assert slots["people"] == 22
    assert datetime.fromisoformat(slots["time"]) == _next_friday_at_15()
    [call] = duckling.calls_of("parse")
    assert call.body["locale"] == "de_DE" and call.body["tz"] == "Europe/Berlin"


# ------------------------------------------------------------------ totality in every language

LANGUAGE_PIECES = st.sampled_from(
    [
        "nächsten ", "Freitag", " um ", "15", " Uhr", "31. Februar", "morgen", "zweiundzwanzig",
        "vingt-deux", " à ", "h", "30", "a las ", "próximo", "alle ", "às ", "om ", " uur",
        "99999999999999999999", "3.", "12.13.", "\ud800", "\u0301", " ", "-", "drei",
    ]
)  # fmt: skip
LANGUAGE_TEXTS = TEXTS | st.lists(LANGUAGE_PIECES, max_size=60).map("".join)


@pytest.mark.parametrize("language", ["de", "fr", "es", "it", "pt", "nl"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=LANGUAGE_TEXTS)
def test_language_builtins_are_total(language: str, text: str) -> None:
    extractor = BuiltinExtractor(None, "Europe/Berlin", now=lambda: NOW, language=language)
    assert_storable_entities(text, extractor.extract(text))


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_texts_in_german(text: str) -> None:
    extractor = BuiltinExtractor(None, "Europe/Berlin", now=lambda: NOW, language="de")
    assert_storable_entities(text, extractor.extract(text))
