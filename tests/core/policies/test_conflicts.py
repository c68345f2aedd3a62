"""Story/story and rule/story contradictions (Rasa's story_conflict.py and RulePolicy)."""

from __future__ import annotations

from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.story_graph import Conversation, expand
from chinwag.core.data.training import (
    ActionStep,
    LoopStep,
    SlotStep,
    Step,
    Story,
    StoryKind,
    UserStep,
)
from chinwag.core.domain import Domain, Form, Intent
from chinwag.core.policies.conflicts import find_conflicts, find_incomplete_rules
from chinwag.core.slots import Slot

STORIES = "data/stories.yml"
RULES = "data/rules.yml"


class Writer:
    """Builds stories and rules with a line number on every step, like a YAML file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.line = 0

    def at(self) -> Location:
        self.line += 1
        return Location(self.file, self.line)

    def user(self, intent: str) -> UserStep:
        return UserStep(intent, location=self.at())

    def act(self, name: str) -> ActionStep:
        return ActionStep(name, location=self.at())

    def slot(self, **slots: object) -> SlotStep:
        return SlotStep(dict(slots), location=self.at())

    def loop(self, name: str | None) -> LoopStep:
        return LoopStep(name, location=self.at())

    def story(self, name: str, *steps: Step, kind: StoryKind = "story", **opts: object) -> Story:
        location = self.at()
        return Story(name, list(steps), kind=kind, location=location, **opts)  # type: ignore[arg-type]


def split(*stories: Story) -> tuple[list[Conversation], list[Conversation]]:
    convs = expand(list(stories), Problems())
    return [c for c in convs if c.kind != "rule"], [c for c in convs if c.kind == "rule"]


def domain() -> Domain:
    intents = ["greet", "hello", "affirm", "deny", "mood_great", "request", "inform", "bye"]
    return Domain(
        intents={i: Intent(i) for i in intents},
        slots={
            "ok": Slot("ok", type="bool"),
            "email": Slot("email", type="text"),
            # as Rasa adds it for forms: a text slot that does not influence the conversation
            "requested_slot": Slot("requested_slot", type="text", influence_conversation=False),
        },
        forms={"a_form": Form("a_form", required_slots=["email"])},
    )


def test_two_contradicting_stories() -> None:
    s = Writer(STORIES)
    stories, rules = split(
        s.story("happy", s.user("greet"), s.act("utter_greet")),  # lines 1-3
        s.story("other", s.user("greet"), s.act("utter_hello")),  # lines 4-6
    )
    (problem,) = find_conflicts(stories, rules, domain())
    assert problem.level == "error"
    assert problem.location == Location(STORIES, 2)
    assert problem.message == (
        f"story 'happy' ({STORIES}:2) and story 'other' ({STORIES}:5) disagree after the same "
        "conversation (ending with intent 'greet'): 'utter_greet' vs 'utter_hello'"
    )


def test_story_conflict_on_what_follows_an_action() -> None:
    s = Writer(STORIES)
    stories, rules = split(
        s.story("a", s.user("greet"), s.act("utter_greet")),
        s.story("b", s.user("greet"), s.act("utter_greet"), s.act("utter_ask_name")),
    )
    (problem,) = find_conflicts(stories, rules, domain())
    assert "after the same conversation (ending with action 'utter_greet')" in problem.message
    assert "'action_listen' vs 'utter_ask_name'" in problem.message


def test_max_history_only_compares_the_last_turns() -> None:
    s = Writer(STORIES)
    stories, rules = split(
        s.story("a", s.user("greet"), s.act("utter_greet"), s.user("affirm"), s.act("utter_yes")),
        s.story("b", s.user("hello"), s.act("utter_greet"), s.user("affirm"), s.act("utter_no")),
    )
    assert find_conflicts(stories, rules, domain()) == []
    assert find_conflicts(stories, rules, domain(), max_history=2) == []
    (problem,) = find_conflicts(stories, rules, domain(), max_history=1)
    assert "'utter_yes' vs 'utter_no'" in problem.message
    assert "last 1 turns" in problem.message


def test_different_first_actions_are_not_a_conflict() -> None:
    s = Writer(STORIES)
    stories, rules = split(
        s.story("a", s.act("utter_welcome"), s.user("greet"), s.act("utter_greet")),
        s.story("b", s.act("utter_hi"), s.user("greet"), s.act("utter_greet")),
    )
    assert find_conflicts(stories, rules, domain()) == []


def test_one_problem_per_conflict_even_with_many_paths() -> None:
    s = Writer(STORIES)
    stories = [
        s.story(f"s{i}", s.user("greet"), s.act("utter_greet"), s.user("affirm"), s.act(a))
        for i, a in enumerate(["utter_a", "utter_b", "utter_a", "utter_b"])
    ]
    problems = find_conflicts(*split(*stories), domain())
    assert len(problems) == 1
    assert "'utter_a' vs 'utter_b'" in problems[0].message


def test_rule_contradicts_a_story() -> None:
    s, r = Writer(STORIES), Writer(RULES)
    stories, rules = split(
        s.story("say hello", s.user("greet"), s.act("utter_hello")),  # lines 1-3
        r.story("greet back", r.user("greet"), r.act("utter_greet"), kind="rule"),  # 1-3
    )
    (problem,) = find_conflicts(stories, rules, domain())
    assert problem.location == Location(STORIES, 2)
    assert problem.message == (
        f"rule 'greet back' ({RULES}:2) predicts 'utter_greet' where story 'say hello' "
        f"({STORIES}:2) runs 'utter_hello' after the same conversation"
    )


def test_rule_listens_where_a_story_goes_on() -> None:
    s, r = Writer(STORIES), Writer(RULES)
    story = s.story("ask", s.user("greet"), s.act("utter_greet"), s.act("utter_ask_name"))
    rule = r.story("greet", r.user("greet"), r.act("utter_greet"), kind="rule")
    (problem,) = find_conflicts(*split(story, rule), domain())
    assert "predicts 'action_listen'" in problem.message
    assert "runs 'utter_ask_name'" in problem.message
    # a rule that does not wait for the user leaves the next action open
    rule.wait_for_user_input = False
    assert find_conflicts(*split(story, rule), domain()) == []


def test_two_contradicting_rules_are_one_problem() -> None:
    r = Writer(RULES)
    stories, rules = split(
        r.story("one", r.user("bye"), r.act("utter_bye"), kind="rule"),
        r.story("two", r.user("bye"), r.act("utter_goodbye"), kind="rule"),
    )
    (problem,) = find_conflicts(stories, rules, domain())
    assert problem.message == (
        f"rule 'one' ({RULES}:2) and rule 'two' ({RULES}:5) disagree after the same "
        "conversation: 'utter_bye' vs 'utter_goodbye'"
    )


def test_consistent_stories_and_rules_have_no_conflicts() -> None:
    s, r = Writer(STORIES), Writer(RULES)
    stories, rules = split(
        # stories that agree with the rules and each other
        s.story(
            "greet",
            s.user("greet"),
            s.act("utter_greet"),
            s.user("mood_great"),
            s.act("utter_happy"),
        ),
        s.story(
            "greet 2", s.user("greet"), s.act("utter_greet"), s.user("deny"), s.act("utter_sad")
        ),
        s.story(
            "form",
            s.user("request"),
            s.act("a_form"),
            s.loop("a_form"),
            s.user("inform"),
            s.act("a_form"),
            s.slot(email="a@b.c"),
            s.loop(None),
            s.slot(requested_slot=None),
            s.act("utter_submit"),
        ),
        # rules: plain, with `...`, with conditions, conversation start, no waiting
        r.story("greet", r.user("greet"), r.act("utter_greet"), kind="rule"),
        r.story(
            "yes when ok",
            r.user("affirm"),
            r.act("utter_yes"),
            kind="rule",
            condition=[SlotStep({"ok": True})],
        ),
        r.story(
            "no when not ok",
            r.user("affirm"),
            r.act("utter_no"),
            kind="rule",
            condition=[SlotStep({"ok": False})],
        ),
        r.story(
            "welcome",
            r.user("hello"),
            r.act("utter_welcome"),
            kind="rule",
            conversation_start=True,
        ),
        r.story("hello later", r.user("hello"), r.act("utter_hi_again"), kind="rule"),
        r.story("activate", r.user("request"), r.act("a_form"), r.loop("a_form"), kind="rule"),
        r.story(
            "submit",
            r.act("a_form"),
            r.loop(None),
            r.slot(requested_slot=None),
            r.act("utter_submit"),
            kind="rule",
            condition=[LoopStep("a_form")],
            wait_for_user_input=False,
        ),
        r.story(
            "bye",
            r.user("bye"),
            r.act("utter_bye"),
            r.act("action_restart"),
            kind="rule",
            wait_for_user_input=False,
        ),
    )
    assert find_conflicts(stories, rules, domain()) == []
    assert find_incomplete_rules(rules, domain()) == []


def test_incomplete_rule() -> None:
    r = Writer(RULES)
    _, rules = split(
        r.story("sets ok", r.user("affirm"), r.act("action_check"), r.slot(ok=True), kind="rule"),
        r.story("forgets ok", r.user("deny"), r.act("action_check"), r.act("utter_x"), kind="rule"),
    )
    (problem,) = find_incomplete_rules(rules, domain())
    assert problem.location == Location(RULES, 6)  # the action_check step
    assert "rule 'forgets ok'" in problem.message
    assert "'action_check' does not set slot(s) 'ok'" in problem.message
