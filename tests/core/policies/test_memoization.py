"""MemoizationPolicy / AugmentedMemoizationPolicy (rasa/core/policies/memoization.py)."""

from __future__ import annotations

import json

from chinwag.core.events import SlotSet
from chinwag.core.policies.memoization import AugmentedMemoizationPolicy, MemoizationPolicy
from tests.core.policies.helpers import a, act, domain, slot, split, story, tracker, u, user


def stories() -> list[object]:
    return [
        story("happy", u("greet"), a("utter_greet"), u("affirm"), a("utter_happy")),
        story("sad", u("greet"), a("utter_greet"), u("deny"), a("utter_sad")),
        story("ok", u("inform"), slot(ok=True), a("utter_ok")),
        story("yes", u("request"), a("utter_ask"), u("affirm"), a("utter_yes")),
    ]


def trained(policy: MemoizationPolicy) -> MemoizationPolicy:
    s, r = split(*stories())  # type: ignore[arg-type]
    policy.train(s, r, domain())
    return policy


def test_recalls_the_exact_history() -> None:
    policy = trained(MemoizationPolicy())
    t = tracker(user("greet", confidence=0.4))
    prediction = policy.predict(t, domain())
    assert prediction.probabilities == {"utter_greet": 1.0}
    assert prediction.priority == 3
    t.update_all([act("utter_greet"), *user("deny")])
    assert policy.predict(t, domain()).action == "utter_sad"
    t.update(act("utter_sad"))
    assert policy.predict(t, domain()).action == "action_listen"
    # a history no story has: nothing
    assert policy.predict(tracker(user("bye")), domain()).probabilities == {}


def test_nlu_confidence_as_score() -> None:
    policy = trained(MemoizationPolicy(use_nlu_confidence_as_score=True))
    assert policy.predict(tracker(user("greet", 0.4)), domain()).probabilities == {
        "utter_greet": 0.4
    }


def test_max_history_cuts_the_key() -> None:
    full = trained(MemoizationPolicy())
    short = trained(MemoizationPolicy(max_history=1))
    # "deny" after a start no story has: only the one-state key knows it
    t = tracker(user("bye"), act("utter_greet"), user("deny"))
    assert full.predict(t, domain()).action is None
    assert short.predict(t, domain()).action == "utter_sad"
    assert {len(json.loads(k)) for k in short.lookup} == {1}
    assert max(len(json.loads(k)) for k in full.lookup) == 5


def test_ambiguous_histories_are_dropped() -> None:
    policy = MemoizationPolicy(max_history=1)
    s, r = split(*stories())  # type: ignore[arg-type]
    policy.train(s, r, domain())
    # with one state, "after affirm" leads to utter_happy and utter_yes: forgotten
    t = tracker(user("greet"), act("utter_greet"), user("affirm"))
    assert policy.predict(t, domain()).action is None
    assert policy.predict(tracker(user("deny")), domain()).action == "utter_sad"


def test_augmented_memoization_forgets_the_start() -> None:
    plain = trained(MemoizationPolicy())
    augmented = trained(AugmentedMemoizationPolicy())
    # an older slot no story has at this point: exact recall fails, truncation recalls
    t = tracker(SlotSet("name", "Ann"), user("greet"))
    assert plain.predict(t, domain()).action is None
    assert augmented.predict(t, domain()).action == "utter_greet"
    # a conversation that went on elsewhere first
    t = tracker(user("bye"), act("utter_bye"), user("inform"), SlotSet("ok", True))
    assert plain.predict(t, domain()).action is None
    assert augmented.predict(t, domain()).action == "utter_ok"


def test_persist_load_round_trip() -> None:
    policy = trained(AugmentedMemoizationPolicy(max_history=3))
    data = policy.persist()
    assert json.loads(json.dumps(data)) == data
    loaded = AugmentedMemoizationPolicy.load(data)
    assert loaded.persist() == data
    for t in [tracker(user("greet")), tracker(user("greet"), act("utter_greet"), user("deny"))]:
        assert loaded.predict(t, domain()) == policy.predict(t, domain())
