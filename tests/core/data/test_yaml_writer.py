"""Rasa 3.x YAML writers: clean output that reads back to equal objects."""

from __future__ import annotations

import dataclasses
import textwrap
from typing import Any

from chinwag.core.data.markdown_reader import read_markdown_stories
from chinwag.core.data.problems import Problems
from chinwag.core.data.training import (
    FILLED,
    ActionStep,
    CheckpointStep,
    Entity,
    LoopStep,
    Message,
    NLUData,
    OrStep,
    Regex,
    SlotStep,
    Story,
    StoryData,
    UserStep,
)
from chinwag.core.data.yaml_io import load_yaml_text
from chinwag.core.data.yaml_reader import read_training_yaml
from chinwag.core.data.yaml_writer import dump_nlu_yaml, dump_stories_yaml


def without_locations(value: Any) -> Any:
    """A copy with every ``location`` cleared (and NLUData.locations emptied)."""
    if isinstance(value, list):
        return [without_locations(v) for v in value]
    if isinstance(value, dict):
        return {k: without_locations(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            if f.name == "location":
                changes[f.name] = None
            elif f.name == "locations":
                changes[f.name] = {}
            else:
                changes[f.name] = without_locations(getattr(value, f.name))
        return dataclasses.replace(value, **changes)
    return value


def read_back(text: str, *, test: bool = False) -> tuple[NLUData, StoryData]:
    problems = Problems()
    nlu, stories = read_training_yaml(load_yaml_text(text, "out.yml"), problems, test=test)
    assert [str(p) for p in problems] == []
    return nlu, stories


NLU = NLUData(
    examples=[
        Message("hi", "greet"),
        Message("hello Anna", "greet", [Entity("name", "Anna", 6, 10)]),
        Message(
            "from LA to NYC",
            "inform",
            [
                Entity("city", "LA", 5, 7, role="from", group="1"),
                Entity("city", "New York", 11, 14),
            ],
        ),
        Message("yes", "affirm", metadata={"intent": {"lang": "en"}}),
        Message("ok", "affirm", metadata={"intent": {"lang": "en"}, "example": {"src": "ui"}}),
        Message("line one\nline two", "affirm", metadata={"intent": {"lang": "en"}}),
        Message("what's your name?", "faq/ask_name"),
        Message("1e5", "number"),
        Message("yes: no", "number"),
    ],
    synonyms={"NYC": "New York", "veggie": "vegetarian"},
    regexes=[
        Regex("zipcode", "[0-9]{5}"),
        Regex("zipcode", "[0-9]{4}"),
        Regex("greet", "hey[^\\s]*"),
    ],
    lookups={"city": ["Berlin", "Rome"]},
    responses={"utter_faq/ask_name": [{"text": "I am a bot."}]},
)


def test_nlu_round_trip() -> None:
    text = dump_nlu_yaml(NLU)
    nlu, stories = read_back(text)
    assert without_locations(nlu) == without_locations(NLU)
    assert stories == StoryData()


def test_nlu_output_is_clean_rasa_yaml() -> None:
    text = dump_nlu_yaml(NLU)
    assert text.startswith('version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n')
    assert "    - hello [Anna](name)\n" in text
    assert (
        '    - from [LA]{"entity": "city", "role": "from", "group": "1"} to '
        '[NYC]{"entity": "city", "value": "New York"}\n' in text
    )
    assert "- synonym: New York\n  examples: |\n    - NYC\n" in text
    assert "- regex: zipcode\n  examples: |\n    - [0-9]{5}\n    - [0-9]{4}\n" in text
    assert "responses:\n  utter_faq/ask_name:\n  - text: I am a bot.\n" in text


def test_empty_data() -> None:
    assert dump_nlu_yaml(NLUData()) == 'version: "3.1"\n'
    assert dump_stories_yaml(StoryData()) == 'version: "3.1"\n'


STORIES = StoryData(
    stories=[
        Story(
            "every step",
            [
                CheckpointStep("start", {"logged_in": True}),
                UserStep(intent="greet"),
                UserStep(
                    intent="inform",
                    entities=[
                        Entity("city", ""),
                        Entity("name", "Anna"),
                        Entity("city", "Berlin", role="to", group="g"),
                        Entity("count", 3),
                    ],
                ),
                ActionStep(name="utter_greet"),
                ActionStep(text="Nice to meet you!\nReally."),
                SlotStep({"cuisine": "thai", "name": FILLED, "people": 3, "vip": None}),
                LoopStep("restaurant_form"),
                LoopStep(None),
                OrStep([UserStep(intent="affirm"), UserStep(intent="thanks")]),
                OrStep([SlotStep({"paid": True}), SlotStep({"paid": False})]),
                CheckpointStep("end"),
            ],
            metadata={"owner": "me"},
        ),
    ],
    rules=[
        Story(
            "submit",
            [ActionStep(name="form"), LoopStep(None)],
            kind="rule",
            condition=[LoopStep("form"), SlotStep({"requested_slot": None})],
            wait_for_user_input=False,
        ),
        Story(
            "start",
            [UserStep(intent="greet"), ActionStep(name="utter_hi")],
            kind="rule",
            conversation_start=True,
        ),
    ],
)


def test_stories_and_rules_round_trip() -> None:
    text = dump_stories_yaml(STORIES)
    _, stories = read_back(text)
    assert without_locations(stories) == without_locations(STORIES)


def test_stories_output_shape() -> None:
    text = dump_stories_yaml(STORIES)
    expected_rule = textwrap.dedent(
        """\
        - rule: submit
          condition:
          - active_loop: form
          - slot_was_set:
            - requested_slot: null
          steps:
          - action: form
          - active_loop: null
          wait_for_user_input: false
        """
    )
    assert expected_rule in text
    assert "  - slot_was_set:\n    - cuisine: thai\n    - name\n    - people: 3\n" in text
    assert "  - or:\n    - intent: affirm\n    - intent: thanks\n" in text
    assert "- rule: start\n  conversation_start: true\n" in text


def test_test_stories_round_trip_with_e2e_text() -> None:
    data = StoryData(
        stories=[
            Story(
                "e2e",
                [
                    UserStep(
                        text="I want Kenyan food", entities=[Entity("cuisine", "Kenyan", 7, 13)]
                    ),
                    UserStep(intent="inform", text="from [LA]", entities=[]),
                    UserStep(
                        intent="inform",
                        text="to SF",
                        entities=[Entity("city", "San Francisco", 3, 5, role="to")],
                    ),
                    UserStep(
                        intent="inform",
                        text='/inform{"city": "Paris"}',
                        entities=[Entity("city", "Paris")],
                    ),
                    ActionStep(text="good for you"),
                ],
                kind="test",
            )
        ]
    )
    text = dump_stories_yaml(data)
    assert "  - user: I want [Kenyan](cuisine) food\n" in text
    _, stories = read_back(text, test=True)
    assert without_locations(stories) == without_locations(data)


def test_markdown_converts_to_yaml_unchanged() -> None:
    problems = Problems()
    md = read_markdown_stories(
        '## s\n> c{"a": 1}\n* greet{"name": "x"} OR bye\n  - utter_hi\n'
        '  - form{"name": "f"}\n  - slot{"s": [1, 2]}\n> end\n',
        "s.md",
        problems,
    )
    assert len(problems) == 0
    _, stories = read_back(dump_stories_yaml(md))
    assert without_locations(stories) == without_locations(md)
