"""LightGBMPolicy on real bots: it reproduces the actions of their own stories.

Measured (bench/results/lightgbm_policy.md): 100% of the story actions of financial-demo and
carbon-bot with the defaults; asserted with a margin.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chinwag.core.data.loader import load_bot
from chinwag.core.data.problems import Problems
from chinwag.core.data.story_graph import expand
from chinwag.core.policies.lightgbm import LightGBMPolicy
from tests.core.policies.test_lightgbm import story_accuracy

pytestmark = pytest.mark.corpus


# examples: distinct (history, turn context, action) triples; story actions: all of them
@pytest.mark.parametrize(
    ("name", "examples", "actions", "classes"),
    [("financial-demo", 135, 332, 13), ("carbon-bot", 415, 880, 23)],
)
def test_reproduces_own_stories(
    corpus_dir: Path, name: str, examples: int, actions: int, classes: int
) -> None:
    bot = load_bot(corpus_dir / name)
    conversations = expand([*bot.stories, *bot.rules], Problems())
    stories = [c for c in conversations if c.kind == "story"]
    policy = LightGBMPolicy()
    policy.train(stories, [], bot.domain)
    data = policy.training_set(stories, bot.domain)
    assert len(data.actions) == examples
    assert sum(data.counts) == actions  # count weights: every story action counts
    assert len(policy.classes) == classes
    assert story_accuracy(policy, stories, bot.domain) >= 0.95
