"""The conflict checker on real Rasa bots: they train in Rasa, so none may be reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.data.loader import Bot, load_bot
from core.data.problems import Problems
from core.data.story_graph import Conversation, expand
from core.data.training import ActionStep, Story, UserStep
from core.policies.conflicts import find_conflicts, find_incomplete_rules
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
