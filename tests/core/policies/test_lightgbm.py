"""LightGBMPolicy: the machine-learning next-action policy (Rasa's TEDPolicy role)."""

from __future__ import annotations

import json
import math

import pytest

from chinwag.core.data.story_graph import Conversation
from chinwag.core.data.training import ActionStep, UserStep
from chinwag.core.domain import Domain
from chinwag.core.events import ActionExecuted, SlotSet, UserUttered
from chinwag.core.policies.lightgbm import LightGBMPolicy, augment
from chinwag.core.policies.states import conversation_states, conversation_tracker
from chinwag.core.tracker import Tracker
from tests.core.policies.helpers import a, act, domain, slot, split, story, tracker, u, user


def five_stories() -> list[Conversation]:
    stories, _ = split(
        story("happy", u("greet"), a("utter_greet"), u("affirm"), a("utter_happy")),
        story("sad", u("greet"), a("utter_greet"), u("deny"), a("utter_sad")),
        story("ok", u("inform"), slot(ok=True), a("utter_ok"), a("utter_more")),
        story("yes", u("request"), a("utter_ask"), u("affirm"), a("utter_yes")),
        story("bye", u("bye"), a("utter_bye")),
    )
    return stories


def trained(policy: LightGBMPolicy, stories: list[Conversation] | None = None) -> LightGBMPolicy:
    policy.train(stories if stories is not None else five_stories(), [], domain())
    return policy


def story_accuracy(policy: LightGBMPolicy, stories: list[Conversation], dom: Domain) -> float:
    """Share of the stories' predictable actions the policy predicts on their own histories."""
    right = total = 0
    for conv in stories:
        events = conversation_tracker(conv, dom).events
        at = [i for i, e in enumerate(events) if isinstance(e, ActionExecuted)]
        for turn, index in zip(conversation_states(conv, dom), at, strict=True):
            if turn.unpredictable:
                continue
            prediction = policy.predict(Tracker("t", dom, events[:index]), dom)
            total += 1
            right += prediction.action == turn.action
    return right / total


def test_learns_its_stories() -> None:
    policy = trained(LightGBMPolicy())
    assert story_accuracy(policy, five_stories(), domain()) == 1.0
    t = tracker(user("greet"), act("utter_greet"), user("affirm"))
    prediction = policy.predict(t, domain())
    assert prediction.action == "utter_happy"
    assert prediction.probabilities["utter_happy"] > 0.5
    assert (prediction.policy_name, prediction.priority) == ("LightGBMPolicy", 1)
    assert prediction.is_end_to_end_prediction is False


def test_full_distribution_sums_to_one() -> None:
    policy = trained(LightGBMPolicy())
    prediction = policy.predict(tracker(user("bye")), domain())
    probabilities = prediction.probabilities
    # every domain action is listed; actions no story has get 0
    assert set(domain().action_names) <= set(probabilities)
    assert probabilities["action_restart"] == 0.0
    assert math.isclose(sum(probabilities.values()), 1.0, rel_tol=1e-9)
    trained_classes = {"action_listen", "utter_greet", "utter_happy", "utter_sad", "utter_ok"}
    assert trained_classes <= set(policy.classes)
    assert all(probabilities[c] > 0.0 for c in policy.classes)


def test_generalizes_beyond_max_history() -> None:
    policy = trained(LightGBMPolicy(max_history=2))
    # a start no story has ("bye" first): max_history cuts it off before "deny"
    t = tracker(user("bye"), act("utter_bye"), user("greet"), act("utter_greet"), user("deny"))
    assert policy.predict(t, domain()).action == "utter_sad"
    t = tracker(user("bye"), act("utter_bye"), user("greet"))
    assert policy.predict(t, domain()).action == "utter_greet"
    # the slot set before counts: "inform" then the action after utter_ok
    t = tracker(user("inform"), SlotSet("ok", True), act("utter_ok"))
    assert policy.predict(t, domain()).action == "utter_more"


def test_deterministic() -> None:
    first, second = trained(LightGBMPolicy()), trained(LightGBMPolicy())
    assert first.booster is not None and second.booster is not None
    assert first.booster.model_to_string() == second.booster.model_to_string()
    t = tracker(user("request"), act("utter_ask"), user("affirm"))
    assert first.predict(t, domain()) == second.predict(t, domain())


def test_dart_boosting_learns_deterministically_and_persists() -> None:
    first, second = (
        trained(LightGBMPolicy(boosting="dart")),
        trained(LightGBMPolicy(boosting="dart")),
    )
    assert first.booster is not None and second.booster is not None
    assert first.params()["boosting"] == "dart"
    assert first.booster.model_to_string() == second.booster.model_to_string()
    # dropped-out trees: not the plain model
    assert first.booster.model_to_string() != trained(LightGBMPolicy()).booster.model_to_string()
    assert story_accuracy(first, five_stories(), domain()) == 1.0
    loaded = LightGBMPolicy.load(json.loads(json.dumps(first.persist())))
    assert loaded.boosting == "dart"
    t = tracker(user("greet"), act("utter_greet"), user("deny"))
    assert loaded.predict(t, domain()).probabilities == first.predict(t, domain()).probabilities


def test_persist_and_load_predict_the_same() -> None:
    policy = trained(LightGBMPolicy(max_history=3))
    data = json.loads(json.dumps(policy.persist()))
    assert data["config"]["max_history"] == 3
    assert data["params"]["deterministic"] is True
    assert data["params"]["min_data_in_leaf"] == 1
    loaded = LightGBMPolicy.load(data)
    assert loaded.max_history == 3 and loaded.classes == policy.classes
    for t in (
        tracker(user("greet")),
        tracker(user("greet"), act("utter_greet"), user("deny")),
        tracker(user("inform")),
    ):
        assert (
            loaded.predict(t, domain()).probabilities == policy.predict(t, domain()).probabilities
        )


def test_single_class_and_no_data() -> None:
    stories, _ = split(story("only", u("greet"), a("action_listen")))
    policy = trained(LightGBMPolicy(), stories)
    assert policy.classes == ["action_listen"] and policy.booster is None
    prediction = policy.predict(tracker(user("bye")), domain())
    assert prediction.action == "action_listen"
    assert prediction.probabilities["action_listen"] == 1.0
    assert sum(prediction.probabilities.values()) == 1.0
    loaded = LightGBMPolicy.load(json.loads(json.dumps(policy.persist())))
    assert loaded.predict(tracker(user("bye")), domain()).action == "action_listen"
    empty = trained(LightGBMPolicy(), [])
    prediction = empty.predict(tracker(user("bye")), domain())
    assert prediction.action is None
    assert set(prediction.probabilities.values()) == {0.0}


def test_end_to_end_text_features() -> None:
    stories, _ = split(
        story("pizza", UserStep(text="I would like a pizza"), a("utter_pizza")),
        story("flight", UserStep(text="book me a flight to Rome"), a("utter_flight")),
        story("thanks", UserStep(text="thanks a lot"), ActionStep(text="You are welcome!")),
        story("greet", u("greet"), a("utter_greet")),
    )
    policy = trained(LightGBMPolicy(), stories)
    assert policy.featurizer is not None
    assert policy.featurizer.user_text_buckets > 0 and policy.featurizer.bot_text_buckets > 0
    assert "You are welcome!" in policy.classes

    def said(text: str) -> Tracker:
        return tracker(act("action_listen"), UserUttered(text))

    # the stories' words, with more around them
    assert policy.predict(said("I would like a pizza now"), domain()).action == "utter_pizza"
    assert policy.predict(said("please book me a flight to Rome"), domain()).action == (
        "utter_flight"
    )
    assert policy.predict(said("thanks a lot!"), domain()).action == "You are welcome!"
    # an intent the stories never answer, with text they know: the text wins (Rasa's e2e pick)
    t = tracker(act("action_listen"), UserUttered("I would like a pizza", {"name": "chitchat"}))
    prediction = policy.predict(t, domain())
    assert prediction.action == "utter_pizza"
    assert prediction.is_end_to_end_prediction is True
    # a known intent: the intent decides
    prediction = policy.predict(tracker(user("greet", text="hello")), domain())
    assert prediction.action == "utter_greet"
    assert prediction.is_end_to_end_prediction is False


def test_augmentation_is_optional_bounded_and_seeded() -> None:
    stories = five_stories()
    plain = LightGBMPolicy().training_set(stories, domain())
    augmented = LightGBMPolicy(augmentation_factor=2).training_set(stories, domain())
    assert len(augmented.actions) > len(plain.actions)
    glued = augment(stories, 2, seed=42)
    assert len(glued) == 2 * len(stories)
    assert all(len(c.sources) == 2 for c in glued)
    # at most every turn of every glued conversation is new
    bound = len(plain.actions) + sum(len(conversation_states(c, domain())) for c in glued)
    assert len(augmented.actions) <= bound
    # same seed, same conversations; augmentation keeps the stories learned
    assert [c.name for c in augment(stories, 2, seed=42)] == [c.name for c in glued]
    assert augment(stories, 0, seed=42) == []
    policy = trained(LightGBMPolicy(augmentation_factor=2))
    assert story_accuracy(policy, stories, domain()) == 1.0


def test_rejects_a_bad_max_history() -> None:
    with pytest.raises(ValueError, match="max_history"):
        LightGBMPolicy(max_history=0)


def test_ted_config_becomes_one_lightgbm_policy() -> None:
    from chinwag.core.data.problems import Problems
    from chinwag.core.policies.ensemble import PolicyEnsemble, build_policies

    problems = Problems()
    policies = build_policies(
        [
            {"name": "rasa.core.policies.ted_policy.TEDPolicy", "max_history": 3, "epochs": 9},
            {"name": "KerasPolicy"},
            {"name": "TEDPolicy", "max_history": "x"},
        ],
        problems,
    )
    assert [type(p) for p in policies] == [LightGBMPolicy]
    assert policies[0].max_history == 3  # type: ignore[attr-defined]
    assert [w.message for w in problems.warnings] == [
        "TEDPolicy is served by LightGBMPolicy (max_history 3); its other options are ignored"
    ]
    assert problems.errors == []  # later ML entries are served by the same policy
    policies[0].train(five_stories(), [], domain())
    ensemble = PolicyEnsemble.load(PolicyEnsemble(policies).persist())
    t = tracker(user("greet"), act("utter_greet"), user("deny"))
    assert ensemble.predict(t, domain())[0] == "utter_sad"
