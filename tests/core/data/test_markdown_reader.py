"""Rasa 1.x Markdown stories and NLU."""

from __future__ import annotations

import textwrap
from pathlib import Path

from chinwag.core.data.markdown_reader import (
    is_markdown_nlu,
    is_markdown_stories,
    read_markdown_nlu,
    read_markdown_stories,
)
from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.training import (
    ActionStep,
    CheckpointStep,
    Entity,
    LoopStep,
    OrStep,
    SlotStep,
    StoryData,
    UserStep,
)

FILE = "data/stories.md"


def at(line: int) -> Location:
    return Location(FILE, line)


def stories(text: str, *, test: bool = False) -> tuple[StoryData, list[str]]:
    problems = Problems()
    data = read_markdown_stories(textwrap.dedent(text), FILE, problems, test=test)
    return data, [str(p) for p in problems]


def test_story_with_entities_slots_forms_and_checkpoints() -> None:
    data, problems = stories(
        """\
        <!-- a comment
             over two lines -->
        ## happy path <!-- inline comment -->
        > check_start{"logged_in": true}
        * greet{"name": "Anna"}
          - utter_greet
        * request_restaurant
          - restaurant_form
          - form{"name": "restaurant_form"}
          - slot{"requested_slot": "cuisine"}
        * form: inform{"cuisine": "thai"}
          - form: restaurant_form
          - form{"name": null}
          - active_loop{"name": "other_form"}
        > check_end
        """
    )
    assert problems == []
    [story] = data.stories
    assert (story.name, story.kind, story.location) == ("happy path", "story", at(3))
    assert story.steps == [
        CheckpointStep("check_start", {"logged_in": True}, at(4)),
        UserStep(intent="greet", entities=[Entity("name", "Anna")], location=at(5)),
        ActionStep(name="utter_greet", location=at(6)),
        UserStep(intent="request_restaurant", location=at(7)),
        ActionStep(name="restaurant_form", location=at(8)),
        LoopStep("restaurant_form", at(9)),
        SlotStep({"requested_slot": "cuisine"}, at(10)),
        LoopStep(None, at(13)),
        LoopStep("other_form", at(14)),
        CheckpointStep("check_end", {}, at(15)),
    ]


def test_or_and_several_stories() -> None:
    data, problems = stories(
        """\
        ## one
        * affirm OR thanks{"x": "y"}
          - utter_ok

        ## two
        > check_end
        * bye
          - utter_bye
        """
    )
    assert problems == []
    one, two = data.stories
    assert one.steps[0] == OrStep(
        [
            UserStep(intent="affirm", location=at(2)),
            UserStep(intent="thanks", entities=[Entity("x", "y")], location=at(2)),
        ],
        at(2),
    )
    assert two.steps[0] == CheckpointStep("check_end", {}, at(6))


def test_end_to_end_test_stories() -> None:
    data, problems = stories(
        """\
        ## e2e
        * greet: hello there
          - utter_greet
        * inform: I live in [Berlin](city)
        * I just type text
        """,
        test=True,
    )
    assert problems == []
    [story] = data.stories
    assert story.kind == "test"
    assert story.steps[0] == UserStep(intent="greet", text="hello there", location=at(2))
    assert story.steps[2] == UserStep(
        intent="inform",
        text="I live in Berlin",
        entities=[Entity("city", "Berlin", 10, 16)],
        location=at(4),
    )
    assert story.steps[3] == UserStep(text="I just type text", location=at(5))


def test_rasa_2_markdown_rules() -> None:
    data, problems = stories(
        """\
        >> greet anywhere
          - ...
        * greet
          - utter_greet

        >> submit form
          - form{"name": "f"}
          - slot{"requested_slot": null}
          - ...
          - f
          - form{"name": null}
          - ...

        >> at start
        * greet
          - utter_greet
        """
    )
    assert problems == []
    anywhere, submit, start = data.rules
    assert (anywhere.conversation_start, anywhere.wait_for_user_input) == (False, True)
    assert [type(s).__name__ for s in anywhere.steps] == ["UserStep", "ActionStep"]
    assert submit.condition == [LoopStep("f", at(7)), SlotStep({"requested_slot": None}, at(8))]
    assert submit.steps == [ActionStep(name="f", location=at(10)), LoopStep(None, at(11))]
    assert (submit.conversation_start, submit.wait_for_user_input) == (False, False)
    assert start.conversation_start is True


def test_story_errors_are_located() -> None:
    data, problems = stories(
        """\
        * greet
        ## broken
        * greet{"name": }
          - slot{}
          - utter_x{"a": 1}
          - form{"nam": "f"}
        what is this
        * two words
          - restart
        ## empty
        """
    )
    assert problems == [
        "data/stories.md:1: error: '* greet' comes before any story header; expected "
        "'## story name' first",
        "data/stories.md:3: error: entities of 'greet{\"name\": }' are not valid JSON "
        "(Expecting value)",
        'data/stories.md:4: error: \'slot\' needs its slots: - slot{"name": "value"}',
        "data/stories.md:5: error: action 'utter_x' cannot take parameters (only slot, form "
        "and active_loop do)",
        'data/stories.md:6: error: \'form\' needs a loop name: - form{"name": "my_form"} (or null)',
        "data/stories.md:7: warning: line is not a story line ('## story', '* intent', "
        "'- action', '> checkpoint') and is skipped",
        "data/stories.md:8: error: 'two words' is not an intent; expected '* intent', "
        "'* intent{\"entity\": \"value\"}' or '* intent: user text'",
        "data/stories.md:9: warning: event 'restart' has no effect in a story and is skipped",
        "data/stories.md:2: warning: story 'broken' has no steps and is skipped",
        "data/stories.md:10: warning: story 'empty' has no steps and is skipped",
    ]
    assert data.stories == []


# ---------------------------------------------------------------------------------- NLU


def test_nlu_every_section(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "lookup").mkdir()
    (tmp_path / "data" / "lookup" / "countries.txt").write_text("France\nItaly\n")
    text = textwrap.dedent(
        """\
        ## intent:greet
        - hi
        * hello [Anna](name) <!-- a comment -->
        + hey

        <!-- a
        block comment -->
        ## intent:inform
        - I live in [NYC](city:New York)
        - from [LA]{"entity": "city", "role": "from"}

        ## synonym:vegetarian
        - veggie
        - vegg

        ## regex:zipcode
        - [0-9]{5}

        ## lookup:city
        - Berlin
        - Rome

        ## lookup:country
        data/lookup/countries.txt
        """
    )
    assert is_markdown_nlu(text) and not is_markdown_stories(text)
    problems = Problems()
    nlu = read_markdown_nlu(text, "data/nlu.md", problems, base_dir=tmp_path / "data")
    assert [str(p) for p in problems] == []
    assert [(m.text, m.intent, m.location) for m in nlu.examples] == [
        ("hi", "greet", Location("data/nlu.md", 2)),
        ("hello Anna", "greet", Location("data/nlu.md", 3)),
        ("hey", "greet", Location("data/nlu.md", 4)),
        ("I live in NYC", "inform", Location("data/nlu.md", 9)),
        ("from LA", "inform", Location("data/nlu.md", 10)),
    ]
    assert nlu.examples[4].entities == [Entity("city", "LA", 5, 7, role="from")]
    assert nlu.synonyms == {"NYC": "New York", "veggie": "vegetarian", "vegg": "vegetarian"}
    assert [(r.name, r.pattern) for r in nlu.regexes] == [("zipcode", "[0-9]{5}")]
    assert nlu.lookups == {"city": ["Berlin", "Rome"], "country": ["France", "Italy"]}


def test_nlu_errors() -> None:
    problems = Problems()
    nlu = read_markdown_nlu(
        "## intent:greet\n- hi\n## entity:x\n- y\n## lookup:city\nmissing.txt\n",
        "nlu.md",
        problems,
    )
    assert [e.text for e in nlu.examples] == ["hi"]
    assert [(p.level, p.location) for p in problems] == [
        ("error", Location("nlu.md", 3)),
        ("error", Location("nlu.md", 6)),
    ]
    assert "unknown section '## entity:'" in problems.errors[0].message


def test_format_detection() -> None:
    assert is_markdown_stories("## story\n* greet\n  - utter_greet\n")
    assert is_markdown_stories(">> rule\n* greet\n")
    assert not is_markdown_stories("just text\n")
    assert is_markdown_nlu("## regex:zip\n- [0-9]+\n")
