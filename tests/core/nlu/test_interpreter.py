import pytest

from chinwag.core.data.problems import Problems
from chinwag.core.data.training import NLUData
from chinwag.core.data.yaml_io import load_yaml_text
from chinwag.core.data.yaml_reader import read_training_yaml
from chinwag.core.nlu.interpreter import ExampleInterpreter, PayloadError, parse_payload


def nlu(text: str) -> NLUData:
    problems = Problems()
    data, _ = read_training_yaml(load_yaml_text(text, "nlu.yml"), problems)
    assert not problems.errors
    return data


NLU = """\
nlu:
- intent: greet
  examples: |
    - hello there
- intent: inform
  examples: |
    - I want [thai](cuisine) food
    - fly from [Berlin]{"entity": "city", "role": "from"} to [Rome]{"entity": "city", "role": "to"}
- synonym: italian
  examples: |
    - italiano
"""


def test_payload_with_entities_and_confidence() -> None:
    parsed = parse_payload('/inform@0.7{"cuisine": "thai", "n": [1, 2]}')
    assert parsed is not None
    assert parsed["intent"] == {"name": "inform", "confidence": 0.7}
    assert [(e["entity"], e["value"]) for e in parsed["entities"]] == [
        ("cuisine", "thai"),
        ("n", 1),
        ("n", 2),
    ]
    assert parse_payload("hello /inform") is None


def test_malformed_payload_says_what() -> None:
    with pytest.raises(PayloadError, match="not valid JSON"):
        parse_payload('/inform{"cuisine": }')


async def test_examples_match_with_entity_wildcards_and_synonyms() -> None:
    interpreter = ExampleInterpreter(nlu(NLU))
    parsed = await interpreter.parse("  Hello   there! ")
    assert parsed["intent"]["name"] == "greet"
    parsed = await interpreter.parse("I want italiano food")
    assert parsed["intent"]["name"] == "inform"
    assert [(e["entity"], e["value"]) for e in parsed["entities"]] == [("cuisine", "italian")]
    parsed = await interpreter.parse("fly from Paris to New York")
    assert [(e["value"], e.get("role")) for e in parsed["entities"]] == [
        ("Paris", "from"),
        ("New York", "to"),
    ]


async def test_unknown_text_is_nlu_fallback_and_payloads_bypass() -> None:
    interpreter = ExampleInterpreter(nlu(NLU))
    assert (await interpreter.parse("what is the meaning of life"))["intent"]["name"] == (
        "nlu_fallback"
    )
    assert (await interpreter.parse("/goodbye"))["intent"]["name"] == "goodbye"


async def test_an_entity_only_example_matches_only_known_values() -> None:
    interpreter = ExampleInterpreter(
        nlu(
            NLU
            + """\
- intent: inform
  examples: |
    - [mexican](cuisine)
- lookup: cuisine
  examples: |
    - thai
    - italian
"""
        )
    )
    assert (await interpreter.parse("thai"))["entities"][0]["value"] == "thai"  # lookup
    assert (await interpreter.parse("Mexican"))["intent"]["name"] == "inform"
    assert (await interpreter.parse("italiano"))["entities"][0]["value"] == "italian"  # synonym
    assert (await interpreter.parse("42 people"))["intent"]["name"] == "nlu_fallback"


async def test_the_example_with_most_fixed_text_wins_then_the_first_in_the_file() -> None:
    interpreter = ExampleInterpreter(
        nlu(
            """\
nlu:
- intent: chitchat
  examples: |
    - [anything](topic) please
- intent: request
  examples: |
    - a [table](thing) please
- intent: inform
  examples: |
    - [thai](cuisine) please
- intent: book
  examples: |
    - book a [table](thing) please
"""
        )
    )
    # every example matches; "book a ... please" has the most fixed text, though last
    assert (await interpreter.parse("book a table please"))["intent"]["name"] == "book"
    # "a ... please" has more fixed text than the earlier "... please"
    assert (await interpreter.parse("a seat please"))["intent"]["name"] == "request"
    # "[anything](topic) please" and "[thai](cuisine) please": as much fixed text, first wins
    assert (await interpreter.parse("thai please"))["intent"]["name"] == "chitchat"
