"""Rasa 3.x / 2.x YAML training data: NLU, responses, stories, rules, test stories, errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.training import (
    FILLED,
    ActionStep,
    CheckpointStep,
    Entity,
    LoopStep,
    NLUData,
    OrStep,
    SlotStep,
    Step,
    StoryData,
    UserStep,
)
from chinwag.core.data.yaml_io import load_yaml_text
from chinwag.core.data.yaml_reader import (
    detect_yaml_content,
    is_test_stories_file,
    read_training_yaml,
)


def read(
    text: str, *, test: bool = False, base_dir: Path | None = None
) -> tuple[NLUData, StoryData, Problems]:
    problems = Problems()
    data = load_yaml_text(textwrap.dedent(text), "data/f.yml")
    nlu, stories = read_training_yaml(data, problems, test=test, base_dir=base_dir)
    return nlu, stories, problems


def messages(problems: Problems) -> list[str]:
    return [str(p) for p in problems]


def steps_of(text: str, *, test: bool = False) -> list[Step]:
    _, stories, problems = read(text, test=test)
    assert messages(problems) == []
    return stories.stories[0].steps


# ---------------------------------------------------------------------------------- NLU


def test_intent_examples_block_with_lines_and_entities() -> None:
    nlu, _, problems = read(
        """\
        version: "3.1"
        nlu:
        - intent: greet
          examples: |
            - hi
            - hello [Anna](name)
        - intent: inform
          examples: |
            - from [LA]{"entity": "city", "role": "from"} to [NYC](city:New York)
        """
    )
    assert messages(problems) == []
    assert [(m.text, m.intent) for m in nlu.examples] == [
        ("hi", "greet"),
        ("hello Anna", "greet"),
        ("from LA to NYC", "inform"),
    ]
    assert [m.location for m in nlu.examples] == [
        Location("data/f.yml", 5),
        Location("data/f.yml", 6),
        Location("data/f.yml", 9),
    ]
    assert nlu.examples[1].entities == [Entity("name", "Anna", 6, 10)]
    assert nlu.examples[2].entities == [
        Entity("city", "LA", 5, 7, role="from"),
        Entity("city", "New York", 11, 14),
    ]
    assert nlu.synonyms == {"NYC": "New York"}


def test_example_list_with_metadata_and_intent_metadata() -> None:
    nlu, _, problems = read(
        """\
        nlu:
        - intent: greet
          metadata:
            sentiment: neutral
          examples:
          - text: |
              hi
            metadata:
              lang: en
          - text: hallo
        """
    )
    assert messages(problems) == []
    assert [(m.text, m.metadata) for m in nlu.examples] == [
        ("hi", {"intent": {"sentiment": "neutral"}, "example": {"lang": "en"}}),
        ("hallo", {"intent": {"sentiment": "neutral"}}),
    ]
    assert nlu.examples[0].location == Location("data/f.yml", 6)


def test_synonym_regex_lookup_and_retrieval_intent() -> None:
    nlu, _, problems = read(
        """\
        nlu:
        - intent: faq/ask_name
          examples: |
            - what is your name?
        - synonym: New York
          examples: |
            - NYC
            - big apple
        - regex: zipcode
          examples: |
            - [0-9]{5}
        - lookup: city
          examples: |
            - Berlin
            - Rome
        """
    )
    assert messages(problems) == []
    assert nlu.examples[0].intent == "faq/ask_name"
    assert nlu.examples[0].base_intent == "faq"
    assert nlu.examples[0].retrieval_key == "ask_name"
    assert nlu.synonyms == {"NYC": "New York", "big apple": "New York"}
    assert [(r.name, r.pattern, r.location) for r in nlu.regexes] == [
        ("zipcode", "[0-9]{5}", Location("data/f.yml", 11))
    ]
    assert nlu.lookups == {"city": ["Berlin", "Rome"]}
    assert nlu.locations["NYC"] == Location("data/f.yml", 7)


def test_lookup_file_path_relative_to_file_or_bot_root(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "lookups").mkdir()
    (tmp_path / "lookups" / "cities.txt").write_text("Berlin\n\n  Rome \n")
    nlu, _, problems = read(
        """\
        nlu:
        - lookup: city
          examples: lookups/cities.txt
        - lookup: country
          examples: lookups/missing.txt
        """,
        base_dir=tmp_path / "data",
    )
    assert nlu.lookups == {"city": ["Berlin", "Rome"]}
    [error] = problems.errors
    assert error.location == Location("data/f.yml", 5)
    assert "file 'lookups/missing.txt' not found" in error.message


def test_responses_in_nlu_file() -> None:
    nlu, _, problems = read(
        """\
        responses:
          utter_faq/ask_name:
          - text: I am a bot.
          utter_bad: just text
        """
    )
    assert nlu.responses == {"utter_faq/ask_name": [{"text": "I am a bot."}]}
    assert nlu.locations["utter_faq/ask_name"] == Location("data/f.yml", 2)
    assert messages(problems) == [
        "data/f.yml:4: error: response 'utter_bad' must be a list of variations "
        "(mappings with 'text', ...)"
    ]


def test_nlu_errors_are_located() -> None:
    _, _, problems = read(
        """\
        nlu:
        - intent: greet
          examples: |
            - hi
            hello
        - just a string
        - intent: ""
          examples: |
            - x
        - example: nope
        - synonym: x
          examples: [a, b]
        """
    )
    assert messages(problems) == [
        "data/f.yml:5: warning: 'greet': example line does not start with '- ' and is "
        "skipped: hello",
        "data/f.yml:6: error: each 'nlu' item must be a mapping with 'intent', 'synonym', "
        "'regex' or 'lookup'",
        "data/f.yml:7: error: 'intent' needs a name",
        "data/f.yml:10: error: 'nlu' item has none of the keys 'intent', 'synonym', 'regex', "
        "'lookup'",
        "data/f.yml:12: error: synonym 'x' needs 'examples' written as a block of '- ' lines",
    ]


# ------------------------------------------------------------------------------ stories


def test_intent_entities_in_every_form() -> None:
    [step] = steps_of(
        """\
        stories:
        - story: s
          steps:
          - intent: inform
            entities:
            - city
            - name: Anna
            - city: Berlin
              role: to
              group: g1
        """
    )
    assert step == UserStep(
        intent="inform",
        entities=[
            Entity("city", ""),
            Entity("name", "Anna"),
            Entity("city", "Berlin", role="to", group="g1"),
        ],
        location=Location("data/f.yml", 4),
    )


def test_user_text_e2e_and_user_with_intent() -> None:
    steps = steps_of(
        """\
        stories:
        - story: s
          steps:
          - user: I want [Kenyan](cuisine) food
          - intent: inform
            user: |
              to [Rome](city)
          - user: '/inform{"city": "Paris"}'
            intent: inform
          - bot: good for you
        """,
        test=True,
    )
    assert steps[0] == UserStep(
        text="I want Kenyan food",
        entities=[Entity("cuisine", "Kenyan", 7, 13)],
        location=Location("data/f.yml", 4),
    )
    assert isinstance(steps[1], UserStep)
    assert (steps[1].intent, steps[1].text, steps[1].entities) == (
        "inform",
        "to Rome",
        [Entity("city", "Rome", 3, 7)],
    )
    assert isinstance(steps[2], UserStep)
    assert steps[2].entities == [Entity("city", "Paris")]
    assert steps[3] == ActionStep(text="good for you", location=Location("data/f.yml", 10))


def test_action_slots_loop_checkpoint_or() -> None:
    steps = steps_of(
        """\
        stories:
        - story: s
          steps:
          - checkpoint: start
            slot_was_set:
            - logged_in: true
          - or:
            - intent: affirm
            - intent: thanks
          - action: restaurant_form
          - active_loop: restaurant_form
          - slot_was_set:
            - cuisine: thai
            - name
            - people: 3
          - active_loop: null
          - or:
            - slot_was_set:
              - paid: true
            - slot_was_set:
              - paid: false
          - metadata:
              note: ignored
          - checkpoint: end
        """
    )
    at = lambda line: Location("data/f.yml", line)  # noqa: E731
    assert steps == [
        CheckpointStep("start", {"logged_in": True}, at(4)),
        OrStep(
            [
                UserStep(intent="affirm", location=at(8)),
                UserStep(intent="thanks", location=at(9)),
            ],
            at(7),
        ),
        ActionStep(name="restaurant_form", location=at(10)),
        LoopStep("restaurant_form", at(11)),
        SlotStep({"cuisine": "thai", "name": FILLED, "people": 3}, at(12)),
        LoopStep(None, at(16)),
        OrStep(
            [SlotStep({"paid": True}, at(18)), SlotStep({"paid": False}, at(20))],
            at(17),
        ),
        CheckpointStep("end", {}, at(24)),
    ]


def test_story_metadata_and_test_kind() -> None:
    _, stories, _ = read(
        """\
        stories:
        - story: s
          metadata:
            owner: me
          steps:
          - intent: greet
        """,
        test=True,
    )
    [story] = stories.stories
    assert (story.kind, story.metadata, story.location) == (
        "test",
        {"owner": "me"},
        Location("data/f.yml", 2),
    )


def test_rules_with_condition_and_flags() -> None:
    _, stories, problems = read(
        """\
        rules:
        - rule: start
          conversation_start: true
          steps:
          - intent: greet
          - action: utter_greet
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
    assert messages(problems) == []
    start, submit = stories.rules
    assert (start.kind, start.conversation_start, start.wait_for_user_input) == (
        "rule",
        True,
        True,
    )
    assert submit.condition == [
        LoopStep("form", Location("data/f.yml", 9)),
        SlotStep({"requested_slot": None}, Location("data/f.yml", 10)),
    ]
    assert (submit.conversation_start, submit.wait_for_user_input) == (False, False)
    assert [type(s).__name__ for s in submit.steps] == ["ActionStep", "LoopStep"]


def test_rule_with_two_user_turns_is_an_error() -> None:
    _, _, problems = read(
        """\
        rules:
        - rule: too long
          steps:
          - intent: greet
          - action: utter_greet
          - intent: bye
        """
    )
    assert messages(problems) == [
        "data/f.yml:6: error: rule 'too long' has 2 user turns; a rule may contain at most "
        "one (write it as a story instead)"
    ]


def test_story_errors_are_located() -> None:
    _, stories, problems = read(
        """\
        stories:
        - story: broken
          steps:
          - greet
          - intent: greet
            action: utter_greet
          - whatever: 1
          - intent:
          - slot_was_set: 3
          - active_loop: [a]
          - checkpoint: c
            slot_was_set:
            - x
          - or:
            - action: a
        - story: no steps
        rules: nope
        """
    )
    assert messages(problems) == [
        "data/f.yml:4: error: a story step must be a mapping such as '- intent: greet' or "
        "'- action: utter_greet', not 'greet'",
        "data/f.yml:6: error: unexpected key 'action' in this 'intent' step (allowed: "
        "entities, intent, metadata, user)",
        "data/f.yml:7: error: unknown story step with key(s) whatever; expected intent, user, "
        "action, bot, slot_was_set, active_loop, checkpoint, or, metadata",
        "data/f.yml:8: error: 'intent' needs an intent name",
        "data/f.yml:9: error: 'slot_was_set' must be a list of {slot: value} mappings or slot "
        "names",
        "data/f.yml:10: error: 'active_loop' must be a form name or null",
        "data/f.yml:12: error: checkpoint 'c': 'slot_was_set' must be a list of {slot: value}",
        "data/f.yml:15: error: an 'or' alternative must be an intent (or user) or a "
        "slot_was_set step",
        "data/f.yml:16: warning: story 'no steps' has no steps and is skipped",
        "data/f.yml:17: error: 'rules' must be a list of rule items",
    ]
    # the valid step of the broken story is kept
    assert [len(s.steps) for s in stories.stories] == [1]


def test_leading_slash_is_an_error_and_full_retrieval_intent_a_warning() -> None:
    _, stories, problems = read(
        """\
        stories:
        - story: s
          steps:
          - intent: /simple
          - intent: faq/ask_name
        """
    )
    assert [s.intent for s in stories.stories[0].steps if isinstance(s, UserStep)] == [
        "simple",
        "faq/ask_name",
    ]
    assert [(p.level, p.location) for p in problems] == [
        ("error", Location("data/f.yml", 4)),
        ("warning", Location("data/f.yml", 5)),
    ]


def test_unknown_top_level_key_and_mixed_items_warn() -> None:
    _, stories, problems = read(
        """\
        version: "3.1"
        intents: [greet]
        stories:
        - rule: misplaced
          steps:
          - intent: greet
        """
    )
    assert stories.stories == []
    assert messages(problems) == [
        "data/f.yml:2: warning: unknown top-level key 'intents' in a training data file is "
        "ignored (expected nlu, responses, stories, rules)",
        "data/f.yml:4: warning: item under 'stories' has no 'story' key and is skipped "
        "('rule' items belong under 'rules')",
    ]


def test_rasa_2_shapes_are_upgraded_with_warnings() -> None:
    _, stories, problems = read(
        """\
        version: "2.0"
        stories:
        - story: old
          steps:
          - intent: request
          - form: restaurant_form
          - active_loop:
              name: restaurant_form
          - slot_was_set:
              cuisine: thai
        """
    )
    steps = stories.stories[0].steps
    assert steps[1:] == [
        LoopStep("restaurant_form", Location("data/f.yml", 6)),
        LoopStep("restaurant_form", Location("data/f.yml", 7)),
        SlotStep({"cuisine": "thai"}, Location("data/f.yml", 9)),
    ]
    assert [p.level for p in problems] == ["warning"] * 3


def test_version_as_number_warns() -> None:
    _, _, problems = read("version: 3.1\nnlu: []\n")
    assert messages(problems) == [
        "data/f.yml:1: warning: 'version' should be a string (version: \"3.1\"), as Rasa requires"
    ]


def test_detect_content_and_test_files() -> None:
    data = load_yaml_text("version: '3.1'\nnlu: []\nrules: []\n")
    assert detect_yaml_content(data) == {"nlu", "rules"}
    assert detect_yaml_content(["x"]) == set()
    stories = load_yaml_text("stories: []\n")
    assert is_test_stories_file("tests/test_stories.yml", stories)
    assert not is_test_stories_file("tests/stories.yml", stories)
    assert not is_test_stories_file("data/test_nlu.yml", load_yaml_text("nlu: []\n"))


@pytest.mark.parametrize("text", ["- a\n", "just text\n"])
def test_top_level_must_be_a_mapping(text: str) -> None:
    problems = Problems()
    nlu, stories = read_training_yaml(load_yaml_text(text, "x.yml"), problems)
    assert nlu == NLUData() and stories == StoryData()
    assert len(problems.errors) == 1
