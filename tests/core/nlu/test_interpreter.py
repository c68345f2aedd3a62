import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chinwag.core.data.problems import Problems
from chinwag.core.data.training import NLUData
from chinwag.core.data.yaml_io import load_yaml_text
from chinwag.core.data.yaml_reader import read_training_yaml
from chinwag.core.nlu import interpreter as interpreter_module
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


WORDS = [
    "book",
    "a",
    "table",
    "please",
    "for",
    "thai",
    "Rome",
    "two",
    "STRASSE",
    "straße",
    "{prefix}",
]
EXAMPLE_TOKENS = st.one_of(
    st.sampled_from(WORDS),
    st.builds("[{}]({})".format, st.sampled_from(WORDS), st.sampled_from(["cuisine", "city"])),
)
MESSAGE_TEXTS = st.builds(
    lambda words, cases, gaps, end: (
        "".join((w.upper() if c else w) + g for w, c, g in zip(words, cases, gaps, strict=False))
        + end
    ),
    st.lists(st.sampled_from([*WORDS, "thai food", "x"]), min_size=1, max_size=5),
    st.lists(st.booleans(), min_size=5, max_size=5),
    st.lists(st.sampled_from([" ", "  ", "\t"]), min_size=5, max_size=5),
    st.sampled_from(["", "!", " ?.", "\n"]),
)


def one_by_one(interpreter: ExampleInterpreter, text: str) -> tuple[str, list[Any]]:
    """The intent and entities of the first example whose own regex matches (what the
    interpreter did before it tried its examples as one alternation)."""
    normal = " ".join(text.split())
    for pattern in interpreter._patterns:
        match = re.compile(pattern.regex_source(""), re.IGNORECASE).match(normal)
        if match is not None:
            entities = interpreter._entities(pattern, text, match, "")
            if entities is not None:
                return pattern.example.intent, entities
    return "nlu_fallback", []


@settings(max_examples=200, deadline=None)
@given(
    examples=st.lists(
        st.tuples(
            st.sampled_from(["greet", "inform", "book"]),
            st.lists(EXAMPLE_TOKENS, min_size=1, max_size=4),
        ),
        min_size=1,
        max_size=12,
    ),
    texts=st.lists(MESSAGE_TEXTS, min_size=1, max_size=5),
    per_regex=st.sampled_from([1, 2, 3, 100]),
)
async def test_examples_tried_as_one_alternation_match_as_one_by_one(
    examples: list[tuple[str, list[str]]], texts: list[str], per_regex: int
) -> None:
    """The first example that matches (and its entities) is the same whether the examples
    are tried one regex at a time or as alternations of any size, entity-only examples whose
    values are not known ones (the search goes on after them) included."""
    lines = ["nlu:"]
    for intent, tokens in examples:
        lines += [f"- intent: {intent}", "  examples: |", f"    - {' '.join(tokens)}"]
    lines += ["- lookup: cuisine", "  examples: |", "    - thai"]
    data = nlu("\n".join(lines) + "\n")
    blocks = interpreter_module.PATTERNS_PER_REGEX
    interpreter_module.PATTERNS_PER_REGEX = per_regex
    try:
        interpreter = ExampleInterpreter(data)
        said = [re.sub(r"\[(.*?)\]\(.*?\)", r"\1", " ".join(t)) for _, t in examples]
        for text in [*texts, *said, *(f" {s.upper()} !" for s in said)]:
            parsed = await interpreter.parse(text)
            assert (parsed["intent"]["name"], parsed["entities"]) == one_by_one(interpreter, text)
    finally:
        interpreter_module.PATTERNS_PER_REGEX = blocks
