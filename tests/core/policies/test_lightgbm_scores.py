"""LightGBMPolicy remembers the model's scores per history: the same answers as asking the
booster each time, and nothing kept across a retraining."""

from __future__ import annotations

import numpy as np
import pytest

from chinwag.core.policies.lightgbm import LightGBMPolicy
from chinwag.core.policies.states import State, tracker_states
from tests.core.policies.helpers import act, domain, tracker, user
from tests.core.policies.test_lightgbm import five_stories, trained


def booster_scores(policy: LightGBMPolicy, history: list[State]) -> np.ndarray:
    assert policy.featurizer is not None and policy.booster is not None
    row = policy.featurizer.vector(history)
    return np.asarray(policy.booster.predict(row, num_threads=1))[0]


def test_remembered_scores_are_the_boosters() -> None:
    policy = trained(LightGBMPolicy(max_history=3))
    dom = domain()
    for t in (
        tracker(user("greet")),
        tracker(user("greet"), act("utter_greet"), user("deny")),
        tracker(user("greet"), act("utter_greet"), user("deny")),  # asked again: remembered
    ):
        history = tracker_states(t, dom)[-3:]
        first = policy.predict(t, dom).probabilities
        assert policy.predict(t, dom).probabilities == first
        expected = booster_scores(policy, history)
        for name, score in zip(policy.classes, expected, strict=True):
            assert first[name] == pytest.approx(float(score), abs=0)
    remembered = policy._class_probabilities(tracker_states(tracker(user("greet")), dom)[-3:])
    with pytest.raises(ValueError):
        remembered[0] = 1.0  # shared between predictions, so read-only


def test_retraining_forgets_the_old_models_scores() -> None:
    policy = trained(LightGBMPolicy(max_history=3))
    dom = domain()
    t = tracker(user("greet"), act("utter_greet"), user("affirm"))
    assert policy.predict(t, dom).action == "utter_happy"
    # the same history now leads elsewhere in the only story left
    only = [c for c in five_stories() if c.name == "sad"]
    trained(policy, only)
    fresh = trained(LightGBMPolicy(max_history=3), only)
    assert policy.predict(t, dom).probabilities == fresh.predict(t, dom).probabilities
