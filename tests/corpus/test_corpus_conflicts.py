"""The conflict checker on real Rasa bots: they train in Rasa, so none may be reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from chinwag.core.data.loader import Bot, load_bot
from chinwag.core.data.problems import Problems
from chinwag.core.data.story_graph import Conversation, expand
from chinwag.core.data.training import RULE_SNIPPET_ACTION, ActionStep, Story, UserStep
from chinwag.core.events import ActionExecutionRejected, ActiveLoop, SlotSet, UserUttered
from chinwag.core.policies.conflicts import find_conflicts, find_incomplete_rules
from chinwag.core.policies.ensemble import PolicyEnsemble, build_policies, train_policies
from chinwag.core.policies.rules import RulePolicy
from chinwag.core.policies.states import (
    SHOULD_NOT_BE_SET,
    StoryAction,
    conversation_events,
    conversation_states,
    conversation_tracker,
    tracker_states,
)
from chinwag.core.tracker import Tracker
from tests.corpus.bots import CORPUS_BOTS

pytestmark = pytest.mark.corpus

CLEAN_BOTS = CORPUS_BOTS


def conversations(bot: Bot, *extra: Story) -> tuple[list[Conversation], list[Conversation]]:
    problems = Problems()
    convs = expand([*bot.stories, *extra, *bot.rules], problems)
    assert problems.errors == []
    return [c for c in convs if c.kind == "story"], [c for c in convs if c.kind == "rule"]


@pytest.mark.parametrize("name", CLEAN_BOTS)
def test_clean_bots_have_no_conflicts(corpus_dir: Path, name: str) -> None:
    bot = load_bot(corpus_dir / name)
    stories, rules = conversations(bot)
    assert len(stories) + len(rules) >= len(bot.stories) + len(bot.rules)
    assert find_conflicts(stories, rules, bot.domain) == []
    assert find_incomplete_rules(rules, bot.domain) == []


def test_or_steps_of_financial_demo(corpus_dir: Path) -> None:
    bot = load_bot(corpus_dir / "financial-demo")
    stories, rules = conversations(bot)
    # its `or:` steps expand 19 stories into 34 conversations and 20 rules into 21
    assert (len(bot.stories), len(stories)) == (19, 34)
    assert (len(bot.rules), len(rules)) == (20, 21)


def test_added_contradictions_are_found_in_moodbot(corpus_dir: Path) -> None:
    bot = load_bot(corpus_dir / "rasa-moodbot")
    odd = Story(
        "odd greeting",
        [
            UserStep("greet"),
            ActionStep("utter_happy"),
            UserStep("goodbye"),
            ActionStep("utter_iamabot"),
        ],
    )
    stories, rules = conversations(bot, odd)
    messages = [p.message for p in find_conflicts(stories, rules, bot.domain)]
    assert len(messages) == 2
    # story vs story: every moodbot story answers greet with utter_greet
    assert "'utter_greet' vs 'utter_happy'" in messages[0]
    assert "story 'happy path' (data/stories.yml:6)" in messages[0]
    # rule vs story: the goodbye rule
    goodbye = "rule 'Say goodbye anytime the user says goodbye' (data/rules.yml:6)"
    assert messages[1].startswith(f"{goodbye} predicts 'utter_goodbye'")
    assert "runs 'utter_iamabot'" in messages[1]


# -- one state builder, trained policies -------------------------------------------------------


@pytest.mark.parametrize("name", CLEAN_BOTS)
def test_training_states_equal_live_tracker_states(corpus_dir: Path, name: str) -> None:
    bot = load_bot(corpus_dir / name)
    stories, rules = conversations(bot)
    for conv in stories + rules:
        turns = conversation_states(conv, bot.domain)
        # the story's events as Rasa event JSON, read back into a fresh live tracker
        stored = [e.to_dict() for e in conversation_tracker(conv, bot.domain).events]
        live = Tracker.from_dict("live", stored, bot.domain)
        states = tracker_states(live, bot.domain)
        assert tuple(states) == turns[0].states, conv.name
        assert len(states) == len(turns) + 1


TRAINED_BOTS = [
    "rasa-rules",
    "rasa-formbot",
    "rasa-moodbot",
    "financial-demo",
    "helpdesk-assistant",
]


def trained_ensemble(bot: Bot) -> PolicyEnsemble:
    problems = Problems()
    policies = build_policies(bot.config.policies, problems, bot.config.policy_locations)
    assert problems.errors == []
    return train_policies(policies, bot)


@pytest.mark.parametrize("name", TRAINED_BOTS)
def test_bots_train_without_contradictions(corpus_dir: Path, name: str) -> None:
    bot = load_bot(corpus_dir / name)
    ensemble = trained_ensemble(bot)
    rule_policy = next(p for p in ensemble.policies if isinstance(p, RulePolicy))
    assert len(rule_policy.lookup) >= len(bot.rules)


@pytest.mark.parametrize("name", ["rasa-moodbot", "rasa-rules"])
def test_ensemble_predicts_every_rules_actions(corpus_dir: Path, name: str) -> None:
    bot = load_bot(corpus_dir / name)
    ensemble = trained_ensemble(bot)
    _, rules = conversations(bot)
    checked = 0
    for conv in rules:
        live = Tracker("live", bot.domain)
        seen_user = False
        after_snippet = False  # what follows a rule's closing `...` is not the rule's
        for event in conversation_events(conv, bot.domain):
            if isinstance(event, StoryAction) and event.action_name == RULE_SNIPPET_ACTION:
                after_snippet = seen_user
                continue
            if isinstance(event, SlotSet | ActiveLoop) and SHOULD_NOT_BE_SET in (
                getattr(event, "value", None),
                getattr(event, "name", None),
            ):
                continue  # "must not be set" is simply not set in a live conversation
            if isinstance(event, StoryAction) and seen_user and not after_snippet:
                action, _ = ensemble.predict(live, bot.domain)
                gold = event.action_name or event.action_text
                if action == live.active_loop_name and action != gold:
                    # a live form would run and reject: Rasa's emulate_loop_rejection
                    live.update(ActionExecutionRejected(action))
                    action, _ = ensemble.predict(live, bot.domain)
                assert action == gold, (conv.name, action)
                checked += 1
            seen_user = seen_user or isinstance(event, UserUttered)
            live.update(event)
    assert checked >= len(bot.rules)
