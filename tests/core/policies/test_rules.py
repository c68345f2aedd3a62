"""RulePolicy (rasa/core/policies/rule_policy.py, Rasa 3.6 semantics)."""

from __future__ import annotations

import json

import pytest

from chinwag.core.data.training import LoopStep, SlotStep, Story
from chinwag.core.events import ActionExecutionRejected, ActiveLoop, LoopInterrupted, SlotSet
from chinwag.core.policies.base import TrainingError
from chinwag.core.policies.rules import RuleInput, RulePolicy, RuleResult
from tests.core.policies.helpers import a, act, domain, loop, split, story, tracker, u, user


def rules() -> list[Story]:
    return [
        story("greet", u("greet"), a("utter_greet"), kind="rule"),
        story("welcome", u("greet"), a("utter_welcome"), kind="rule", conversation_start=True),
        story(
            "yes if ok",
            u("affirm"),
            a("utter_yes"),
            kind="rule",
            condition=[SlotStep({"ok": True})],
        ),
        story(
            "no if not ok",
            u("affirm"),
            a("utter_no"),
            kind="rule",
            condition=[SlotStep({"ok": False})],
        ),
        story("bye", u("bye"), a("utter_bye"), kind="rule", wait_for_user_input=False),
        story("chitchat", u("chitchat"), a("utter_chitchat"), kind="rule"),
        story("activate", u("request"), a("a_form"), loop("a_form"), kind="rule"),
        story(
            "submit",
            a("a_form"),
            loop(None),
            a("utter_submit"),
            kind="rule",
            condition=[LoopStep("a_form")],
        ),
    ]


def stories() -> list[Story]:
    return [
        story(
            "chitchat inside the form",
            u("request"),
            a("a_form"),
            loop("a_form"),
            u("chitchat"),
            a("utter_chitchat"),
            u("inform"),
            a("a_form"),
            loop(None),
            a("utter_submit"),
        )
    ]


def trained(**config: object) -> RulePolicy:
    policy = RulePolicy(**config)  # type: ignore[arg-type]
    s, r = split(*stories(), *rules())
    policy.train(s, r, domain())
    return policy


def test_rule_prediction_names_the_rule() -> None:
    policy = trained()
    prediction = policy.predict(tracker(act("utter_x"), user("greet")), domain())
    assert prediction.action == "utter_greet"
    assert prediction.probabilities == {"utter_greet": 1.0, "action_default_fallback": 0.3}
    assert prediction.priority == 4
    assert prediction.diagnostic["rules"] == ["greet"]
    assert not prediction.is_no_user_prediction and not prediction.is_end_to_end_prediction


def test_conversation_start_and_mid_conversation_rules() -> None:
    policy = trained()
    # at the very start only `conversation_start` applies (its key is longer)
    assert policy.predict(tracker(user("greet")), domain()).action == "utter_welcome"
    # later on, the `...` rule applies anywhere
    later = tracker(user("inform"), act("utter_ok"), user("greet"))
    assert policy.predict(later, domain()).action == "utter_greet"


def test_conditions_on_slots() -> None:
    policy = trained()
    ok = tracker(SlotSet("ok", True), act("utter_x"), user("affirm"))
    not_ok = tracker(SlotSet("ok", False), act("utter_x"), user("affirm"))
    unset = tracker(act("utter_x"), user("affirm"))
    assert policy.predict(ok, domain()).action == "utter_yes"
    assert policy.predict(not_ok, domain()).action == "utter_no"
    assert policy.predict(unset, domain()).action == "action_default_fallback"


def test_wait_for_user_input() -> None:
    policy = trained()
    # "greet" waits for the user: action_listen after utter_greet
    greeted = tracker(act("utter_x"), user("greet"), act("utter_greet"))
    assert policy.predict(greeted, domain()).action == "action_listen"
    # "bye" does not: after utter_bye the rule says nothing, the fallback threshold stays
    bye = tracker(act("utter_x"), user("bye"), act("utter_bye"))
    assert policy.predict(bye, domain()).probabilities == {"action_default_fallback": 0.3}


def test_default_intents_and_fallback() -> None:
    policy = trained()
    assert policy.predict(tracker(user("restart")), domain()).action == "action_restart"
    back = policy.predict(tracker(user("back")), domain())
    assert back.action == "action_back"
    assert back.diagnostic["source"] == "predicting default action with intent back"
    unknown = policy.predict(tracker(act("utter_x"), user("deny")), domain())
    assert unknown.probabilities == {"action_default_fallback": 0.3}
    after = tracker(act("utter_x"), user("deny"), act("action_default_fallback"))
    assert policy.predict(after, domain()).action == "action_listen"
    low = trained(core_fallback_threshold=0.55, enable_fallback_prediction=True)
    assert low.predict(tracker(user("deny")), domain()).probabilities == {
        "action_default_fallback": 0.55
    }
    off = trained(enable_fallback_prediction=False)
    assert off.predict(tracker(user("deny")), domain()).probabilities == {}


def test_loop_happy_path() -> None:
    policy = trained()
    t = tracker(act("utter_x"), user("request"))
    assert policy.predict(t, domain()).action == "a_form"  # the activation rule
    t.update_all([act("a_form"), ActiveLoop("a_form")])
    listen = policy.predict(t, domain())
    assert listen.action == "action_listen" and listen.is_no_user_prediction
    t.update_all(user("inform"))
    again = policy.predict(t, domain())
    assert again.action == "a_form" and again.is_no_user_prediction
    assert again.diagnostic["source"] == "handling active loops and forms - a_form"
    t.update_all([act("a_form"), ActiveLoop(None)])
    assert policy.predict(t, domain()).action == "utter_submit"


def test_rejected_loop_is_not_predicted_again_and_unhappy_path_interrupts() -> None:
    policy = trained()
    t = tracker(user("request"), act("a_form"), ActiveLoop("a_form"), user("chitchat"))
    assert policy.predict(t, domain()).action == "a_form"
    t.update(ActionExecutionRejected("a_form"))
    chitchat = policy.predict(t, domain())
    assert chitchat.action == "utter_chitchat" and not chitchat.is_no_user_prediction
    t.update(act("utter_chitchat"))
    # the general rule "chitchat" would listen (back to the loop, inside a loop), but the
    # story listens after utter_chitchat inside the form: Rasa's "do not predict the
    # loop" hint leaves the choice to the other policies
    assert policy.predict(t, domain()).probabilities == {"action_default_fallback": 0.3}
    t.update_all(user("inform"))
    # the story went back to the form after chitchat: the form is told it was interrupted
    back = policy.predict(t, domain())
    assert back.events == [LoopInterrupted(True, timestamp=back.events[0].timestamp)]


def test_contradicting_rules_raise_a_training_error() -> None:
    s, r = split(
        story("one", u("bye"), a("utter_bye"), kind="rule"),
        story("two", u("bye"), a("utter_goodbye"), kind="rule"),
    )
    with pytest.raises(TrainingError) as caught:
        RulePolicy().train(s, r, domain())
    (problem,) = caught.value.problems
    assert problem.message == (
        "rule 'one' and rule 'two' disagree after the same conversation: "
        "'utter_bye' vs 'utter_goodbye'"
    )
    # without the check, the ambiguous rule is just not learnt
    quiet = RulePolicy(check_for_contradictions=False)
    quiet.train(s, r, domain())
    assert quiet.predict(tracker(user("bye")), domain()).action == "action_default_fallback"


def test_restrict_rules() -> None:
    s, r = split(story("long", u("greet"), a("utter_greet"), u("bye"), a("utter_bye"), kind="rule"))
    with pytest.raises(TrainingError) as caught:
        RulePolicy().train(s, r, domain())
    assert "rule 'long' has 2 user messages" in caught.value.problems[0].message
    RulePolicy(restrict_rules=False).train(s, r, domain())


def test_persist_load_round_trip() -> None:
    policy = trained(core_fallback_threshold=0.4)
    data = policy.persist()
    assert json.loads(json.dumps(data)) == data
    loaded = RulePolicy.load(data)
    assert loaded.persist() == data
    for t in [
        tracker(user("greet")),
        tracker(act("utter_x"), user("greet")),
        tracker(SlotSet("ok", True), act("utter_x"), user("affirm")),
        tracker(user("request"), act("a_form"), ActiveLoop("a_form")),
    ]:
        assert loaded.predict(t, domain()) == policy.predict(t, domain())


def test_decisions_are_immutable_and_the_shared_no_match_stays_so() -> None:
    """RulePolicy hands out one no-match result for every prediction without a text rule to
    try, and derives new results with ``_replace``: no decision can be changed in place."""
    policy = RulePolicy()
    stories, rules = split(story("r", u("greet"), a("utter_greet"), kind="rule"))
    policy.train(stories, rules, domain())
    greeted = RuleInput.from_tracker(tracker(user("greet")), domain())
    no_text = policy._from_rules(greeted, use_text=True)
    assert no_text == RuleResult(None, None)
    with pytest.raises(AttributeError):
        no_text.action = "utter_greet"  # type: ignore[misc]
    assert policy.decide(greeted).action == "utter_greet"
    assert policy._from_rules(greeted, use_text=True) == RuleResult(None, None)
