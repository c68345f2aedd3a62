"""LightGBMPolicy on stories that disagree: count weights let the majority win, the listen
weight (the listen-or-act decision) keeps a distribution and moves only that boundary."""

from __future__ import annotations

import json
import math

import pytest

from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.story_graph import Conversation
from chinwag.core.policies.ensemble import build_policies
from chinwag.core.policies.lightgbm import LightGBMPolicy
from tests.core.policies.helpers import a, act, domain, split, story, tracker, u, user


def disagreeing_stories() -> list[Conversation]:
    """After greet: utter_greet twice as often as utter_hi; after utter_ok the clerk goes on
    (utter_more) once for every two times it listens."""
    stories, _ = split(
        story("a1", u("greet"), a("utter_greet")),
        story("a2", u("greet"), a("utter_greet")),
        story("b", u("greet"), a("utter_hi")),
        story("stop1", u("inform"), a("utter_ok")),
        story("stop2", u("inform"), a("utter_ok")),
        story("more", u("inform"), a("utter_ok"), a("utter_more")),
    )
    return stories


def test_count_weights_let_the_majority_win() -> None:
    stories = disagreeing_stories()
    counted = LightGBMPolicy(example_weights="count")
    data = counted.training_set(stories, domain())
    weights = dict(zip(data.actions, data.counts, strict=False))
    assert weights["utter_greet"] == 2 and weights["utter_hi"] == 1
    counted.train(stories, [], domain())
    p = counted.predict(tracker(user("greet")), domain()).probabilities
    assert p["utter_greet"] > p["utter_hi"] > 0.0
    unique = LightGBMPolicy(example_weights="unique")
    unique.train(stories, [], domain())
    q = unique.predict(tracker(user("greet")), domain()).probabilities
    # once each: the model cannot prefer either
    assert q["utter_greet"] == pytest.approx(q["utter_hi"], rel=1e-6)


def test_listen_weight_shifts_listen_against_acting_and_keeps_a_distribution() -> None:
    policy = LightGBMPolicy()
    policy.train(disagreeing_stories(), [], domain())
    t = tracker(user("inform"), act("utter_ok"))
    plain = policy.predict(t, domain()).probabilities
    assert plain["action_listen"] > plain["utter_more"] > 0.0
    assert policy.predict(t, domain()).action == "action_listen"
    # the same trained model, asked again with a weight: the remembered scores are not reused
    policy.listen_weight = 0.2
    weighed = policy.predict(t, domain()).probabilities
    p = plain["action_listen"]
    total = 0.2 * p + 1 - p
    assert weighed["action_listen"] == pytest.approx(0.2 * p / total)
    for name, value in plain.items():
        if name != "action_listen":
            assert weighed[name] == pytest.approx(value / total)
    assert math.isclose(sum(weighed.values()), 1.0, rel_tol=1e-9)
    assert policy.predict(t, domain()).action == "utter_more"
    # persisted with the model
    loaded = LightGBMPolicy.load(json.loads(json.dumps(policy.persist())))
    assert loaded.listen_weight == 0.2
    assert loaded.predict(t, domain()).probabilities == policy.predict(t, domain()).probabilities


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="listen_weight"):
        LightGBMPolicy(listen_weight=0)
    with pytest.raises(ValueError, match="example_weights"):
        LightGBMPolicy(example_weights="sometimes")
    with pytest.raises(ValueError, match=r"boosting must be one of .*'goss'"):
        LightGBMPolicy(boosting="goss")


def test_options_come_from_config() -> None:
    problems = Problems()
    (policy,) = build_policies(
        [
            {
                "name": "LightGBMPolicy",
                "turn_features": False,
                "example_weights": "unique",
                "listen_weight": 0.35,
                "boosting": "dart",
            }
        ],
        problems,
    )
    assert not problems.warnings and not problems.errors
    assert isinstance(policy, LightGBMPolicy)
    assert (
        policy.turn_features,
        policy.example_weights,
        policy.listen_weight,
        policy.boosting,
    ) == (False, "unique", 0.35, "dart")


def test_a_bad_option_value_in_config_is_a_located_error() -> None:
    problems = Problems()
    where = Location("config.yml", 7)
    policies = build_policies([{"name": "LightGBMPolicy", "boosting": "goss"}], problems, [where])
    assert policies == []
    (error,) = problems.errors
    assert error.location == where
    assert "LightGBMPolicy: boosting must be one of ('gbdt', 'dart'), got 'goss'" in error.message
