from datetime import UTC, datetime

import pytest

from chinwag.core.nlu.builtin import BuiltinExtractor, words_to_number

NOW = datetime(2024, 3, 10, 9, 0, tzinfo=UTC)  # a Sunday
# Wednesday 14 February 2024, noon in Los Angeles (-08:00, before daylight saving time)
NOW_LA = datetime(2024, 2, 14, 20, 0, tzinfo=UTC)


@pytest.fixture
def builtin() -> BuiltinExtractor:
    return BuiltinExtractor(timezone="UTC", now=lambda: NOW)


@pytest.mark.parametrize(
    ("text", "entity", "value", "span"),
    [
        ("I want twenty one apples", "number", 21, "twenty one"),
        ("give me 1,500 of them", "number", 1500, "1,500"),
        ("a hundred and five", "number", 105, "a hundred and five"),
        ("the 3rd one", "ordinal", 3, "3rd"),
        ("the twenty-first", "ordinal", 21, "twenty-first"),
        ("pay $12.50 now", "amount-of-money", 12.5, "$12.50"),
        ("send 100 euros", "amount-of-money", 100, "100 euros"),
        ("tomorrow at 5pm", "time", "2024-03-11T17:00:00.000+00:00", "tomorrow at 5pm"),
        ("on 12 March please", "time", "2024-03-12T00:00:00.000+00:00", "on 12 March"),
        ("next friday", "time", "2024-03-15T00:00:00.000+00:00", "next friday"),
        ("in 3 days", "time", "2024-03-13T00:00:00.000+00:00", "in 3 days"),
        ("for 2 hours", "duration", 2, "2 hours"),
        ("mail joe.doe@example.com", "email", "joe.doe@example.com", "joe.doe@example.com"),
        ("see https://rasa.com/docs.", "url", "https://rasa.com/docs", "https://rasa.com/docs"),
        ("call +1 (555) 123-4567", "phone-number", "+15551234567", "+1 (555) 123-4567"),
    ],
)
def test_cases(builtin: BuiltinExtractor, text: str, entity: str, value: object, span: str) -> None:
    found = [e for e in builtin.extract(text) if e["entity"] == entity]
    assert len(found) == 1, builtin.extract(text)
    assert found[0]["value"] == value
    assert text[found[0]["start"] : found[0]["end"]] == span
    assert found[0]["extractor"] == "DucklingEntityExtractor"
    assert found[0]["confidence"] == 1.0


# Duckling's resolutions and spans (Duckling/Time/EN/Rules.hs: "on <day>" and "in|during
# <named-month>|year" take the preposition into the span; a year alone is a latent time, so
# only the number), in Duckling's default zone America/Los_Angeles
@pytest.mark.parametrize(
    ("text", "span", "value", "grain"),
    [
        (
            "how much did I earn in January 2019",
            "in January 2019",
            "2019-01-01T00:00:00.000-08:00",
            "month",
        ),
        ("spent during March 2023?", "during March 2023", "2023-03-01T00:00:00.000-08:00", "month"),
        ("January 2019", "January 2019", "2019-01-01T00:00:00.000-08:00", "month"),
        ("statement for 1/2019", "1/2019", "2019-01-01T00:00:00.000-08:00", "month"),
        ("in January", "in January", "2025-01-01T00:00:00.000-08:00", "month"),
        ("in march", "in march", "2024-03-01T00:00:00.000-08:00", "month"),
        ("in February", "in February", "2024-02-01T00:00:00.000-08:00", "month"),
        ("what about in 2019", "in 2019", "2019-01-01T00:00:00.000-08:00", "year"),
        ("on March 5, 2019", "on March 5, 2019", "2019-03-05T00:00:00.000-08:00", "day"),
        ("5th of March 2019", "5th of March 2019", "2019-03-05T00:00:00.000-08:00", "day"),
        ("due 3/15/2019", "3/15/2019", "2019-03-15T00:00:00.000-07:00", "day"),
        ("last month", "last month", "2024-01-01T00:00:00.000-08:00", "month"),
        ("this month", "this month", "2024-02-01T00:00:00.000-08:00", "month"),
        ("next month", "next month", "2024-03-01T00:00:00.000-08:00", "month"),
        ("last week", "last week", "2024-02-05T00:00:00.000-08:00", "week"),
        ("this week", "this week", "2024-02-12T00:00:00.000-08:00", "week"),
        ("last year", "last year", "2023-01-01T00:00:00.000-08:00", "year"),
        ("on friday", "on friday", "2024-02-16T00:00:00.000-08:00", "day"),
        ("yesterday", "yesterday", "2024-02-13T00:00:00.000-08:00", "day"),
    ],
)
def test_duckling_times(text: str, span: str, value: str, grain: str) -> None:
    found = BuiltinExtractor(now=lambda: NOW_LA).extract(text)
    assert [text[e["start"] : e["end"]] for e in found] == [span]
    assert found[0]["entity"] == "time"
    assert found[0]["value"] == value
    assert found[0]["additional_info"]["grain"] == grain


def test_a_year_alone_is_a_number() -> None:
    found = BuiltinExtractor(now=lambda: NOW_LA).extract("it was 2019")
    assert [(e["entity"], e["value"]) for e in found] == [("number", 2019)]


def test_longest_match_wins(builtin: BuiltinExtractor) -> None:
    found = builtin.extract("pay $12.50")
    assert [e["entity"] for e in found] == ["amount-of-money"]
    assert found[0]["additional_info"]["unit"] == "$"


def test_dimensions_filter() -> None:
    only_numbers = BuiltinExtractor(["number"], now=lambda: NOW)
    assert [e["entity"] for e in only_numbers.extract("pay $12 tomorrow")] == ["number"]


def test_timezone() -> None:
    berlin = BuiltinExtractor(["time"], timezone="Europe/Berlin", now=lambda: NOW)
    assert berlin.extract("tomorrow")[0]["value"] == "2024-03-11T00:00:00.000+01:00"


def test_words_to_number() -> None:
    assert words_to_number("three thousand five hundred") == 3500
    assert words_to_number("not a number") is None
