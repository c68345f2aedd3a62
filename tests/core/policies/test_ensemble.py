"""PolicyEnsemble (Rasa's DefaultPolicyPredictionEnsemble), build_policies, train_policies."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chinwag.core.data.loader import Bot
from chinwag.core.data.problems import Problems
from chinwag.core.domain import Domain
from chinwag.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    DefinePrevUserUtteredFeaturization,
    Event,
    LoopInterrupted,
    SlotSet,
)
from chinwag.core.policies.base import PolicyPrediction
from chinwag.core.policies.ensemble import PolicyEnsemble, build_policies, pick_best, train_policies
from chinwag.core.policies.lightgbm import LightGBMPolicy
from chinwag.core.policies.memoization import AugmentedMemoizationPolicy, MemoizationPolicy
from chinwag.core.policies.rules import RulePolicy
from chinwag.core.tracker import Tracker
from tests.core.policies.helpers import INTENTS, a, act, domain, loop, story, tracker, u, user


def p(name: str, conf: float, prio: int, **flags: bool) -> PolicyPrediction:
    return PolicyPrediction({f"act_{name}": conf}, name, prio, **flags)


@pytest.mark.parametrize(
    ("predictions", "winner"),
    [
        # (1) a no-user prediction wins over everything
        (
            [
                p("ml", 1.0, 1, is_end_to_end_prediction=True),
                p("rule", 0.3, 4, is_no_user_prediction=True),
            ],
            "rule",
        ),
        # (2) end-to-end wins over intent-based, whatever the confidence
        ([p("memo", 1.0, 3), p("ml", 0.6, 1, is_end_to_end_prediction=True)], "ml"),
        # (3) the highest confidence
        ([p("rule", 0.3, 4), p("ml", 0.8, 1)], "ml"),
        # (4) ties by priority
        ([p("ml", 1.0, 1), p("rule", 1.0, 4), p("memo", 1.0, 3)], "rule"),
    ],
)
def test_ordering(predictions: list[PolicyPrediction], winner: str) -> None:
    assert pick_best(predictions).policy_name == winner


def test_events_of_all_predictions_and_optional_events_of_the_winner() -> None:
    loser = PolicyPrediction(
        {"x": 0.3}, "A", 4, events=[LoopInterrupted(True)], optional_events=[LoopInterrupted(False)]
    )
    winner = PolicyPrediction({"y": 1.0}, "B", 3, optional_events=[LoopInterrupted(False)])
    best = pick_best([loser, winner])
    assert best.policy_name == "B"
    assert [e.is_interrupted for e in best.events] == [True, False]  # type: ignore[attr-defined]


class Fixed(MemoizationPolicy):
    def __init__(self, prediction: PolicyPrediction) -> None:
        super().__init__()
        self.prediction = prediction

    def predict(self, tracker: object, domain: object) -> PolicyPrediction:  # type: ignore[override]
        return PolicyPrediction(
            dict(self.prediction.probabilities),
            self.prediction.policy_name,
            self.prediction.priority,
        )


def test_rejected_action_is_excluded_and_featurization_event_added(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ensemble = PolicyEnsemble(
        [
            Fixed(PolicyPrediction({"a_form": 1.0}, "R", 4)),
            Fixed(PolicyPrediction({"utter_x": 0.7}, "M", 3)),
        ]
    )
    t = tracker(user("greet"))
    with caplog.at_level(logging.DEBUG, logger="chinwag.core.policies.ensemble"):
        action, prediction = ensemble.predict(t, domain())
    assert (action, prediction.policy_name) == ("a_form", "R")
    assert "Predicted next action 'a_form' with confidence 1.00 by R" in caplog.text
    assert isinstance(prediction.events[-1], DefinePrevUserUtteredFeaturization)
    assert prediction.events[-1].use_text_for_featurization is False
    t.update(ActionExecutionRejected("a_form"))
    action, prediction = ensemble.predict(t, domain())
    assert (action, prediction.policy_name) == ("utter_x", "M")
    # once another action ran, the rejection is over
    t.update(act("utter_x"))
    assert ensemble.predict(t, domain())[0] == "a_form"


def test_build_policies() -> None:
    problems = Problems()
    # the defaults learn dialogues no story covers (LightGBM), not only recall them
    assert [type(x) for x in build_policies([], problems)] == [
        MemoizationPolicy,
        RulePolicy,
        LightGBMPolicy,
    ]
    policies = build_policies(
        [
            {"name": "AugmentedMemoizationPolicy", "max_history": 4},
            {"name": "TEDPolicy", "epochs": 100},
            {"name": "TEDPolicy", "epochs": 10},
            {"name": "rasa.core.policies.rule_policy.RulePolicy", "core_fallback_threshold": 0.4},
            {"name": "UnexpecTEDIntentPolicy"},
            {"name": "NoSuchPolicy"},
        ],
        problems,
    )
    assert [type(x) for x in policies] == [AugmentedMemoizationPolicy, LightGBMPolicy, RulePolicy]
    assert policies[0].max_history == 4  # type: ignore[attr-defined]
    assert policies[1].max_history == 5  # type: ignore[attr-defined]
    assert policies[2].core_fallback_threshold == 0.4  # type: ignore[attr-defined]
    assert [w.message for w in problems.warnings] == [
        "TEDPolicy is served by LightGBMPolicy (max_history 5); its other options are ignored",
        "UnexpecTEDIntentPolicy has no counterpart here; ignored",
    ]
    (error,) = problems.errors
    assert error.message.startswith("unknown policy 'NoSuchPolicy'")


def test_train_policies_and_persist(tmp_path: Path) -> None:
    bot = Bot(
        tmp_path,
        domain=domain(),
        stories=[story("s", u("greet"), a("utter_greet"), u("affirm"), a("utter_happy"))],
        rules=[story("r", u("bye"), a("utter_bye"), kind="rule")],
    )
    ensemble = train_policies(build_policies([], Problems()), bot)
    t = tracker(user("greet"), act("utter_greet"), user("affirm"))
    assert ensemble.predict(t, domain())[0] == "utter_happy"
    assert ensemble.predict(tracker(user("bye")), domain())[0] == "utter_bye"
    data = json.loads(json.dumps(ensemble.persist()))
    loaded = PolicyEnsemble.load(data)
    for probe in [t, tracker(user("bye")), tracker(user("deny"))]:
        assert loaded.predict(probe, domain())[0] == ensemble.predict(probe, domain())[0]


# -- policies a no-user prediction outranks are left out, with the same result ------------------

_FORM_BOT_STORIES = [
    story("s", u("greet"), a("utter_greet"), u("affirm"), a("utter_happy")),
    story("b", u("bye"), a("utter_bye")),
    story("r", u("request"), a("a_form"), loop("a_form"), kind="rule"),
]
_live_events = st.one_of(
    st.sampled_from(INTENTS).map(user),
    st.sampled_from(["a_form", "utter_greet", "utter_happy", "utter_done"]).map(act),
    st.sampled_from([ActiveLoop("a_form"), ActiveLoop(None), SlotSet("name", "Ann")]),
    st.just(ActionExecutionRejected("a_form")),
)


@pytest.fixture(scope="module")
def form_bot_ensemble(tmp_path_factory: pytest.TempPathFactory) -> PolicyEnsemble:
    stories = [s for s in _FORM_BOT_STORIES if s.kind == "story"]
    rules = [s for s in _FORM_BOT_STORIES if s.kind == "rule"]
    bot = Bot(tmp_path_factory.mktemp("bot"), domain=domain(), stories=stories, rules=rules)
    return train_policies(build_policies([], Problems()), bot)


def _result(ensemble: PolicyEnsemble, t: Tracker) -> tuple[object, ...]:
    action, winner = ensemble.predict(t, domain())
    events = [{**e.to_dict(), "timestamp": None} for e in winner.events]
    return (action, winner.policy_name, winner.probabilities, events, winner.diagnostic)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_live_events, max_size=12))
def test_a_no_user_prediction_makes_the_same_result_without_the_policies_it_outranks(
    form_bot_ensemble: PolicyEnsemble, events: list[Event | list[Event]]
) -> None:
    """The policies marked ``outranked_by_no_user`` never predict "no user" nor carry events
    (the invariant the ensemble relies on), and leaving them out after a no-user prediction
    (their debug log off) gives what predicting with every policy (debug on) gives."""
    t = tracker(*events)
    for policy in form_bot_ensemble.policies:
        if policy.outranked_by_no_user:
            prediction = policy.predict(t, domain())
            assert not prediction.is_no_user_prediction
            assert prediction.events == prediction.optional_events == []
    skipped = _result(form_bot_ensemble, t)
    logger = logging.getLogger("chinwag.core.policies")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        assert _result(form_bot_ensemble, t) == skipped
    finally:
        logger.setLevel(level)


class Counted(MemoizationPolicy):
    """A memoization policy that counts its predictions."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def predict(self, tracker: Tracker, domain: Domain) -> PolicyPrediction:
        self.calls += 1
        return super().predict(tracker, domain)


def test_outranked_policies_predict_only_without_a_no_user_prediction_or_with_their_debug_log(
    form_bot_ensemble: PolicyEnsemble, caplog: pytest.LogCaptureFixture
) -> None:
    counted = Counted()
    rules = next(p for p in form_bot_ensemble.policies if isinstance(p, RulePolicy))
    ensemble = PolicyEnsemble([counted, rules])
    in_form = tracker(user("request"), act("a_form"), ActiveLoop("a_form"))
    in_form.update(ActionExecuted("action_listen"))
    in_form.update_all(user("inform")[1:])
    assert ensemble.predict(in_form, domain())[0] == "a_form"  # the loop's happy path
    assert counted.calls == 0
    assert ensemble.predict(tracker(user("greet")), domain())[1].policy_name == "RulePolicy"
    assert counted.calls == 1  # no no-user prediction: every policy predicts
    # its debug log on (here through its base class's module): it predicts, and logs
    with caplog.at_level(logging.DEBUG, logger="chinwag.core.policies.memoization"):
        assert ensemble.predict(in_form, domain())[0] == "a_form"
    assert counted.calls == 2
    assert "MemoizationPolicy: there is no memorised next action" in caplog.text


def test_a_changed_policy_list_is_planned_again(form_bot_ensemble: PolicyEnsemble) -> None:
    """The ensemble remembers which of its policies a no-user prediction outranks; a list
    changed in place is looked at again."""
    counted = Counted()
    rules = next(p for p in form_bot_ensemble.policies if isinstance(p, RulePolicy))
    ensemble = PolicyEnsemble([counted, rules])
    in_form = tracker(user("request"), act("a_form"), ActiveLoop("a_form"), *user("inform"))
    assert ensemble.predict(in_form, domain())[0] == "a_form"
    assert counted.calls == 0
    always = Counted()
    always.outranked_by_no_user = False
    ensemble.policies[0] = always
    assert ensemble.predict(in_form, domain())[0] == "a_form"
    assert (counted.calls, always.calls) == (0, 1)


@given(st.dictionaries(st.sampled_from("abcdef"), st.sampled_from([0.0, 0.3, 0.5, 1.0])))
def test_the_predicted_action_is_the_first_of_the_most_confident(
    probabilities: dict[str, float],
) -> None:
    best = max(probabilities.values(), default=0.0)
    expected = next((a for a, c in probabilities.items() if c == best), None) if best else None
    assert PolicyPrediction(probabilities, "P", 1).action == expected


_predictions = st.lists(
    st.builds(
        PolicyPrediction,
        probabilities=st.dictionaries(st.sampled_from("xyz"), st.sampled_from([0.0, 0.3, 1.0])),
        policy_name=st.sampled_from(["A", "B", "C"]),
        priority=st.integers(1, 4),
        events=st.lists(st.builds(LoopInterrupted, st.booleans()), max_size=1),
        optional_events=st.lists(st.builds(LoopInterrupted, st.booleans()), max_size=1),
        is_no_user_prediction=st.booleans(),
        is_end_to_end_prediction=st.booleans(),
    ),
    min_size=1,
    max_size=4,
)


@given(_predictions)
def test_pick_best_is_rasas_pick_best_policy(predictions: list[PolicyPrediction]) -> None:
    """Rasa's ``_pick_best_policy`` written out: no-user predictions first, then end-to-end
    ones, then (confidence, priority), the first listed on a tie; every prediction's events
    and the winner's optional events."""
    no_user = any(p.is_no_user_prediction for p in predictions)
    end_to_end = any(p.is_end_to_end_prediction for p in predictions)
    ranked = [
        (p.max_confidence, p.priority, -index)
        for index, p in enumerate(predictions)
        if p.is_no_user_prediction == no_user
        and (no_user or p.is_end_to_end_prediction == end_to_end)
    ]
    winner = predictions[-max(ranked)[2]]
    best = pick_best(predictions)
    assert (best.policy_name, best.priority, best.probabilities) == (
        winner.policy_name,
        winner.priority,
        winner.probabilities,
    )
    assert best.events == [e for p in predictions for e in p.events] + winner.optional_events
