"""StateFeaturizer: the column layout of the LightGBM policy's feature vectors."""

from __future__ import annotations

import numpy as np

from chinwag.core.domain import Domain, EntityDef, Form, Intent
from chinwag.core.policies.featurizer import StateFeaturizer, text_tokens
from chinwag.core.policies.states import SHOULD_NOT_BE_SET, State
from chinwag.core.slots import Slot


def small_domain() -> Domain:
    return Domain(
        intents={"greet": Intent("greet"), "inform": Intent("inform")},
        entities={"city": EntityDef("city", roles=["from"])},
        slots={
            "name": Slot("name", type="text"),
            "ok": Slot("ok", type="bool"),
            "size": Slot("size", type="categorical", values=["s", "m"]),
            "price": Slot("price", type="float", min_value=0.0, max_value=10.0),
            "items": Slot("items", type="list"),
            "anything": Slot("anything", type="any"),
            "quiet": Slot("quiet", type="text", influence_conversation=False),
        },
        responses={"utter_hi": [{"text": "hi"}]},
        forms={"a_form": Form("a_form", required_slots=["name"])},
    )


def test_vocabulary_comes_from_the_domain() -> None:
    f = StateFeaturizer.build(small_domain(), max_history=2)
    assert f.intents[:2] == ["greet", "inform"]
    assert "nlu_fallback" in f.intents  # Rasa's default intents
    assert f.entities == ["city", "city#from"]
    # featurized slots only, with Rasa's feature sizes (categorical: values + __other__)
    assert f.slots == [("name", 1), ("ok", 2), ("size", 3), ("price", 2), ("items", 1)]
    assert f.actions[0] == "action_listen" and "utter_hi" in f.actions
    assert f.loops == ["a_form"]
    assert (f.user_text_buckets, f.bot_text_buckets) == (0, 0)
    expected = 1 + len(f.intents) + 2 + 9 + len(f.actions) + 1
    assert f.state_size == expected
    assert f.size == 2 * expected


def test_layout_of_one_state() -> None:
    f = StateFeaturizer.build(small_domain(), max_history=1)
    state = State(
        intent="inform",
        entities=("city", "city#from"),
        action="action_listen",
        loop="a_form",
        slots=(("ok", (1.0, 0.0)), ("price", (1.0, 0.5)), ("size", (0.0, 1.0, 0.0))),
    )
    columns = f.columns([state])
    n_intents = len(f.intents)
    slots_at = 1 + n_intents + 2
    actions_at = slots_at + 9
    assert columns == {
        0: 1.0,  # present
        1 + 1: 1.0,  # inform
        1 + n_intents: 1.0,  # city
        1 + n_intents + 1: 1.0,  # city#from
        slots_at + 1: 1.0,  # ok is set ...
        # ... to false: its second feature stays 0
        slots_at + 3 + 1: 1.0,  # size = m
        slots_at + 6: 1.0,  # price set
        slots_at + 7: 0.5,  # price scaled into [0, 1]
        actions_at: 1.0,  # action_listen
        actions_at + len(f.actions): 1.0,  # a_form active
    }


def test_unknown_values_and_should_not_be_set_map_to_nothing() -> None:
    f = StateFeaturizer.build(small_domain(), max_history=1)
    state = State(
        intent="unheard_of",
        entities=("planet",),
        action="action_unknown",
        loop="other_form",
        slots=(("name", SHOULD_NOT_BE_SET), ("ghost", (1.0,))),
    )
    assert f.columns([state]) == {0: 1.0}


def test_history_is_padded_at_the_start_and_cut_to_max_history() -> None:
    f = StateFeaturizer.build(small_domain(), max_history=3)
    greet = State(intent="greet", action="action_listen")
    hi = State(intent="greet", action="utter_hi")
    size = f.state_size
    short = f.columns([greet, hi])
    # position 0 is padding (all zero), the current state is last
    assert min(short) == size
    assert short[size] == 1.0 and short[2 * size] == 1.0
    long = f.columns([hi, hi, greet, hi])
    assert long == f.columns([hi, greet, hi])
    assert len([c for c in long if c % size == 0]) == 3  # three present bits
    row = f.vector([greet, hi])
    assert row.shape == (1, 3 * size)
    assert np.flatnonzero(row[0]).tolist() == sorted(short)
    matrix = f.matrix([[greet], [greet, hi]])
    assert matrix.shape == (2, 3 * size)
    assert matrix[1].toarray().tolist() == row.tolist()


def test_text_features_only_when_training_states_have_text() -> None:
    typed = State(text="I want a pizza", action="action_listen")
    said = State(intent="greet", action_text="Hello there!")
    f = StateFeaturizer.build(small_domain(), 1, [typed, said], text_buckets=16)
    assert (f.user_text_buckets, f.bot_text_buckets) == (16, 16)
    assert "Hello there!" in f.actions  # end-to-end bot text is an action too
    text_at = f.state_size - 32
    user_cols = {c for c in f.columns([typed]) if text_at <= c < text_at + 16}
    assert 1 <= len(user_cols) <= len(text_tokens("I want a pizza"))
    bot_cols = {c for c in f.columns([said]) if c >= text_at + 16}
    assert bot_cols
    assert text_tokens("I want a pizza") == [
        "i",
        "want",
        "a",
        "pizza",
        "i want",
        "want a",
        "a pizza",
    ]
    # the same text gives the same columns (stable hashing)
    assert f.columns([typed]) == StateFeaturizer.from_dict(f.to_dict()).columns([typed])


def test_round_trip() -> None:
    f = StateFeaturizer.build(small_domain(), 4)
    assert StateFeaturizer.from_dict(f.to_dict()) == f
