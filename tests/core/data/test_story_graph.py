"""Story graph: checkpoints, OR expansion, cycles and the cap (Rasa's StoryGraph semantics)."""

from __future__ import annotations

from typing import Any

from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.story_graph import Conversation, expand
from chinwag.core.data.training import (
    ActionStep,
    CheckpointStep,
    OrStep,
    SlotStep,
    Step,
    Story,
    StoryKind,
    UserStep,
)

FILE = "data/stories.yml"


def at(line: int) -> Location:
    return Location(FILE, line)


def story(name: str, line: int, *steps: Step, kind: StoryKind = "story") -> Story:
    return Story(name, list(steps), kind=kind, location=at(line))


def user(intent: str, line: int = 0) -> UserStep:
    return UserStep(intent, location=at(line) if line else None)


def act(name: str, line: int = 0) -> ActionStep:
    return ActionStep(name, location=at(line) if line else None)


def cp(name: str, line: int = 0, **conditions: Any) -> CheckpointStep:
    return CheckpointStep(name, conditions, location=at(line) if line else None)


def actions(conv: Conversation) -> list[str]:
    return [s.name or "" for s in conv.steps if isinstance(s, ActionStep)]


def test_story_without_checkpoints_is_one_conversation() -> None:
    problems = Problems()
    (conv,) = expand([story("greet", 1, user("greet"), act("utter_greet"))], problems)
    assert conv.name == "greet"
    assert conv.kind == "story"
    assert actions(conv) == ["utter_greet"]
    assert not conv.open_end
    assert len(problems) == 0


def test_checkpoint_chain_stitches_every_continuation() -> None:
    problems = Problems()
    stories = [
        story("start", 1, user("greet"), act("utter_ask_mood"), cp("asked")),
        story("happy", 10, cp("asked"), user("mood_great"), act("utter_happy")),
        story("sad", 20, cp("asked"), user("mood_sad"), act("utter_cheer_up"), cp("cheered")),
        story("end", 30, cp("cheered"), user("affirm"), act("utter_bye")),
    ]
    convs = expand(stories, problems)
    assert [c.name for c in convs] == ["start > happy", "start > sad > end"]
    assert actions(convs[1]) == ["utter_ask_mood", "utter_cheer_up", "utter_bye"]
    # every step knows the story it was written in
    chain = convs[1]
    assert [chain.source_of(i).name for i in range(len(chain.steps))] == [
        "start", "start", "sad", "sad", "end", "end"
    ]  # fmt: skip
    assert len(problems) == 0


def test_intermediate_checkpoint_joins_other_stories() -> None:
    stories = [
        story("a", 1, user("greet"), act("utter_a"), cp("mid"), user("affirm"), act("utter_b")),
        story("b", 10, user("hello"), act("utter_c"), cp("mid")),
    ]
    convs = expand(stories, Problems())
    assert sorted(actions(c)[-1] for c in convs) == ["utter_b", "utter_b"]
    assert sorted(c.name for c in convs) == ["a", "b > a"]


def test_or_steps_multiply_paths() -> None:
    problems = Problems()
    s = story(
        "or",
        1,
        OrStep([user("greet"), user("hello"), user("hi")]),
        act("utter_greet"),
        OrStep([SlotStep({"x": True}), SlotStep({"x": False})]),
        act("utter_done"),
    )
    r = story("rule or", 20, OrStep([user("bye"), user("ciao")]), act("utter_bye"), kind="rule")
    convs = expand([s, r], problems)
    stories = [c for c in convs if c.kind == "story"]
    rules = [c for c in convs if c.kind == "rule"]
    assert len(stories) == 6
    assert len(rules) == 2
    assert {(c.steps[0].intent, c.steps[2].slots["x"]) for c in stories} == {  # type: ignore[union-attr]
        (i, x) for i in ("greet", "hello", "hi") for x in (True, False)
    }
    assert [c.steps[0].intent for c in rules] == ["bye", "ciao"]  # type: ignore[union-attr]
    assert len(problems) == 0


def test_undefined_start_checkpoint_is_an_error_with_location() -> None:
    problems = Problems()
    convs = expand(
        [
            story("ok", 1, user("greet"), act("utter_greet")),
            story("orphan", 7, cp("never_ends", line=8), user("affirm"), act("utter_ok")),
        ],
        problems,
    )
    assert [c.name for c in convs] == ["ok"]
    (error,) = problems.errors
    assert error.location == at(8)
    assert "'orphan'" in error.message and "'never_ends'" in error.message


def test_dangling_end_checkpoint_warns_and_keeps_the_conversation() -> None:
    problems = Problems()
    (conv,) = expand([story("s", 1, user("greet"), act("utter_greet"), cp("later", 4))], problems)
    assert conv.open_end
    (warning,) = problems.warnings
    assert warning.location == at(4)
    assert "'later'" in warning.message
    assert not problems.errors


def test_start_checkpoint_conditions_filter_paths() -> None:
    stories = [
        story("yes", 1, user("affirm"), SlotStep({"ok": True}), act("utter_a"), cp("c")),
        story("no", 10, user("deny"), SlotStep({"ok": False}), act("utter_b"), cp("c")),
        story("only ok", 20, cp("c", ok=True), user("thanks"), act("utter_welcome")),
    ]
    problems = Problems()
    convs = expand(stories, problems)
    assert [c.name for c in convs] == ["yes > only ok"]


def test_cycle_terminates_and_warns_with_checkpoints() -> None:
    problems = Problems()
    stories = [
        story("enter", 1, user("greet"), act("utter_menu"), cp("menu")),
        story("loop", 10, cp("menu"), user("more"), act("utter_more"), cp("menu")),
        story("leave", 20, cp("menu"), user("bye"), act("utter_bye")),
    ]
    convs = expand(stories, problems)
    # depth first, continuations in input order; the loop is followed once, then left
    assert [actions(c) for c in convs] == [
        ["utter_menu", "utter_more", "utter_more", "utter_bye"],
        ["utter_menu", "utter_more", "utter_bye"],
        ["utter_menu", "utter_bye"],
    ]
    assert [c.name for c in convs] == ["enter > loop > leave"] * 2 + ["enter > leave"]
    (warning,) = problems.warnings
    assert "cycle" in warning.message
    assert "'menu'" in warning.message and "'loop'" in warning.message


def test_two_story_cycle_without_exit_terminates() -> None:
    problems = Problems()
    stories = [
        story("a", 1, user("greet"), act("utter_a"), cp("x")),
        story("b", 10, cp("x"), user("next"), act("utter_b"), cp("y")),
        story("c", 20, cp("y"), user("back"), act("utter_c"), cp("x")),
    ]
    assert expand(stories, problems) == []
    assert any("'x'" in w.message and "'y'" in w.message for w in problems.warnings)


def test_cap_stops_with_a_warning() -> None:
    problems = Problems()
    steps: list[Step] = []
    for i in range(6):
        steps += [OrStep([user(f"i{i}_{k}") for k in range(4)]), act(f"utter_{i}")]
    convs = expand([story("huge", 1, *steps)], problems, max_conversations=100)
    assert len(convs) == 100  # 4**6 = 4096 paths exist
    (warning,) = problems.warnings
    assert "100" in warning.message
    # deterministic: the first path takes every first alternative
    assert [s.intent for s in convs[0].steps if isinstance(s, UserStep)] == [
        f"i{i}_0" for i in range(6)
    ]
    assert convs == expand([story("huge", 1, *steps)], Problems(), max_conversations=100)


def test_rules_cannot_use_checkpoints() -> None:
    problems = Problems()
    rule = story("r", 1, cp("c", 2), user("greet"), act("utter_greet"), kind="rule")
    (conv,) = expand([rule], problems)
    assert actions(conv) == ["utter_greet"]
    (error,) = problems.errors
    assert error.location == at(2)
