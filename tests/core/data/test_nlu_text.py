"""Entity annotations: every form Rasa reads, errors with their location, and writing back."""

from __future__ import annotations

import pytest

from chinwag.core.data.nlu_text import (
    add_synonyms_from_entities,
    annotate,
    parse_annotated,
    parse_intent_payload,
)
from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.training import Entity

LOC = Location("data/nlu.yml", 7)


def parse(text: str) -> tuple[str, list[Entity], Problems]:
    problems = Problems()
    plain, entities = parse_annotated(text, LOC, problems)
    return plain, entities, problems


def test_plain_text_has_no_entities() -> None:
    plain, entities, problems = parse("hello [there")
    assert (plain, entities, len(problems)) == ("hello [there", [], 0)


def test_short_form_gives_offsets_in_plain_text() -> None:
    plain, entities, problems = parse("fly from [Berlin](city) to [Rome](city) today")
    assert plain == "fly from Berlin to Rome today"
    assert entities == [
        Entity("city", "Berlin", 9, 15),
        Entity("city", "Rome", 19, 23),
    ]
    assert plain[9:15] == "Berlin" and plain[19:23] == "Rome"
    assert len(problems) == 0


def test_old_synonym_form_sets_value() -> None:
    plain, entities, _ = parse("I live in [NYC](city:New York)")
    assert plain == "I live in NYC"
    assert entities == [Entity("city", "New York", 10, 13)]


def test_dict_form_with_role_group_value() -> None:
    plain, entities, problems = parse(
        'from [LA]{"entity": "city", "role": "from", "group": "1", "value": "Los Angeles"} on'
    )
    assert plain == "from LA on"
    assert entities == [Entity("city", "Los Angeles", 5, 7, role="from", group="1")]
    assert len(problems) == 0


def test_dict_form_value_defaults_to_text() -> None:
    _, entities, _ = parse('[two]{"entity": "count"}')
    assert entities == [Entity("count", "two", 0, 3)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[LA]{"entity": city}', "not valid JSON"),
        ('[LA]{"role": "from"}', 'needs an "entity" name'),
        ('[LA]{"entity": "city", "colour": "red"}', "unknown key(s) colour"),
        ('[LA]{"entity": "city", "role": 3}', '"role" must be a string'),
    ],
)
def test_malformed_dict_is_a_located_error(text: str, expected: str) -> None:
    plain, entities, problems = parse(text)
    assert plain == "LA"
    assert entities == []
    [problem] = problems.errors
    assert problem.location == LOC
    assert expected in problem.message


def test_synonyms_from_entities() -> None:
    plain, entities, _ = parse("[NYC](city:New York) and [Rome](city)")
    synonyms: dict[str, str] = {}
    add_synonyms_from_entities(plain, entities, synonyms, LOC, Problems())
    assert synonyms == {"NYC": "New York"}


def test_conflicting_synonym_warns() -> None:
    problems = Problems()
    synonyms = {"NY": "New York"}
    plain, entities, _ = parse("[NY](state:New York State)")
    add_synonyms_from_entities(plain, entities, synonyms, LOC, problems)
    assert synonyms == {"NY": "New York State"}
    assert "already maps to 'New York'" in problems.warnings[0].message


def test_intent_payload_entities() -> None:
    problems = Problems()
    assert parse_intent_payload('/inform{"city": ["a", "b"]}', LOC, problems) == [
        Entity("city", "a"),
        Entity("city", "b"),
    ]
    assert parse_intent_payload("/greet", LOC, problems) == []
    assert parse_intent_payload("hello", LOC, problems) is None


@pytest.mark.parametrize(
    "text",
    [
        "fly from [Berlin](city) to [Rome](city)",
        'I live in [NYC]{"entity": "city", "value": "New York"}',
        '[LA]{"entity": "city", "role": "from"} to [SF]{"entity": "city", "role": "to"}',
        '[5]{"entity": "count", "group": "2"} pizzas',
    ],
)
def test_annotate_round_trips(text: str) -> None:
    plain, entities, _ = parse(text)
    assert parse(annotate(plain, entities))[:2] == (plain, entities)


def test_annotate_uses_shortest_form() -> None:
    assert annotate("to Rome", [Entity("city", "Rome", 3, 7)]) == "to [Rome](city)"
    assert (
        annotate("to NYC", [Entity("city", "New York", 3, 6)])
        == 'to [NYC]{"entity": "city", "value": "New York"}'
    )
