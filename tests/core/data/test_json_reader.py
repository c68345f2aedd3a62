"""Rasa NLU JSON training data."""

from __future__ import annotations

import json
from pathlib import Path

from chinwag.core.data.json_reader import read_nlu_json
from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.training import Entity

DOC = {
    "rasa_nlu_data": {
        "common_examples": [
            {"text": "hello", "intent": "greet", "entities": []},
            {
                "text": "show me chinese food in the north",
                "intent": "restaurant_search",
                "entities": [
                    {"start": 8, "end": 15, "value": "chinese", "entity": "cuisine"},
                    {"start": 28, "end": 33, "entity": "location", "role": "area"},
                ],
            },
            {
                "text": "i want chines",
                "intent": "restaurant_search",
                "entities": [
                    {"start": 7, "end": 13, "value": "chinese", "entity": "cuisine"},
                ],
            },
        ],
        "regex_features": [{"name": "zipcode", "pattern": "[0-9]{5}"}],
        "lookup_tables": [
            {"name": "city", "elements": ["Berlin", "Rome"]},
            {"name": "country", "elements": "countries.txt"},
        ],
        "entity_synonyms": [{"value": "vegetarian", "synonyms": ["veggie", "vegg"]}],
    }
}


def test_reads_every_section(tmp_path: Path) -> None:
    (tmp_path / "countries.txt").write_text("France\nItaly\n")
    problems = Problems()
    nlu = read_nlu_json(json.dumps(DOC), "data/nlu.json", problems, base_dir=tmp_path)
    assert [str(p) for p in problems] == []
    assert [(m.text, m.intent) for m in nlu.examples] == [
        ("hello", "greet"),
        ("show me chinese food in the north", "restaurant_search"),
        ("i want chines", "restaurant_search"),
    ]
    assert nlu.examples[1].entities == [
        Entity("cuisine", "chinese", 8, 15),
        Entity("location", "north", 28, 33, role="area"),
    ]
    assert [(r.name, r.pattern) for r in nlu.regexes] == [("zipcode", "[0-9]{5}")]
    assert nlu.lookups == {"city": ["Berlin", "Rome"], "country": ["France", "Italy"]}
    assert nlu.synonyms == {"chines": "chinese", "veggie": "vegetarian", "vegg": "vegetarian"}


def test_invalid_json_is_located() -> None:
    problems = Problems()
    read_nlu_json('{\n  "rasa_nlu_data": {\n    "common_examples": [,]\n}}', "nlu.json", problems)
    [error] = problems.errors
    assert error.location == Location("nlu.json", 3)
    assert error.message.startswith("invalid JSON")


def test_item_errors_name_the_item() -> None:
    doc = {
        "rasa_nlu_data": {
            "common_examples": [
                {"text": "hi"},
                {"text": "yo", "intent": "greet", "entitites": []},
                {"text": "abc", "intent": "x", "entities": [{"entity": "e", "start": 2, "end": 9}]},
            ],
            "regex_features": [{"name": "r"}],
            "lookup_tables": [{"name": "l", "elements": 3}],
            "entity_synonyms": [{"value": "v"}],
            "intent_examples": [],
        }
    }
    problems = Problems()
    nlu = read_nlu_json(json.dumps(doc), "nlu.json", problems)
    assert [e.text for e in nlu.examples] == ["yo", "abc"]
    assert [f"{p.level}: {p.message}" for p in problems] == [
        "warning: rasa_nlu_data: unknown section 'intent_examples' is ignored (expected "
        "common_examples, regex_features, lookup_tables, entity_synonyms)",
        "error: common_examples[0] ('hi') needs an 'intent'",
        "warning: common_examples[1]: unknown key 'entitites' is ignored",
        "error: common_examples[2].entities[0] ('e'): 'start' and 'end' must be offsets into "
        "the text (0..3)",
        "error: regex_features[0] needs 'name' and 'pattern' (strings)",
        "error: lookup_tables[0] ('l'): 'elements' must be a list or a file path",
        "error: entity_synonyms[0] needs 'value' (a string) and 'synonyms' (a list)",
    ]


def test_not_rasa_json() -> None:
    problems = Problems()
    read_nlu_json('{"luis_schema_version": "2.0"}', "luis.json", problems)
    assert [str(p) for p in problems] == [
        "luis.json: error: expected an object with a 'rasa_nlu_data' object at the top"
    ]
