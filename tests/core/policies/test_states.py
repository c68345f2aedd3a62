"""Dialogue states as Rasa builds them (Domain.get_active_state over training trackers)."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.story_graph import Conversation, expand
from chinwag.core.data.training import (
    ActionStep,
    Entity,
    LoopStep,
    SlotStep,
    Step,
    Story,
    StoryKind,
    UserStep,
)
from chinwag.core.domain import Domain, EntityDef, Intent
from chinwag.core.policies.states import (
    SHOULD_NOT_BE_SET,
    State,
    after_snippet,
    conversation_states,
    featurized_entities,
    featurized_slots,
    slot_features,
    slots_for_entities,
    state_key,
)
from chinwag.core.slots import MappingCondition, Slot, SlotMapping
from chinwag.core.tracker import Tracker


def conv(*steps: Step, kind: StoryKind = "story", **rule: bool) -> Conversation:
    story = Story("s", list(steps), kind=kind, location=Location("data/x.yml", 1), **rule)  # type: ignore[arg-type]
    (out,) = expand([story], Problems())
    return out


def domain() -> Domain:
    return Domain(
        intents={
            "greet": Intent("greet"),
            "inform": Intent("inform"),
            "chitchat": Intent("chitchat", use_entities=[]),
            "book": Intent("book", use_entities=["city"]),
            "order": Intent("order", ignore_entities=["size"]),
        },
        entities={
            "city": EntityDef("city", roles=["from", "to"]),
            "size": EntityDef("size"),
            "noise": EntityDef("noise", influence_conversation=False),
        },
        slots={
            "ok": Slot("ok", type="bool"),
            "size": Slot("size", type="categorical", values=["small", "large"]),
            "name": Slot("name", type="text"),
            "note": Slot("note", type="text", influence_conversation=False),
            "city": Slot("city", type="text", mappings=[SlotMapping("from_entity", entity="city")]),
        },
    )


def test_story_states_have_listen_before_users_and_at_the_end() -> None:
    turns = conversation_states(
        conv(UserStep("greet"), ActionStep("utter_greet", location=Location("f", 3))), domain()
    )
    assert [t.action for t in turns] == ["action_listen", "utter_greet", "action_listen"]
    assert turns[0].history == (State(),)
    assert turns[1].state.as_dict() == {
        "user": {"intent": "greet"},
        "prev_action": {"action_name": "action_listen"},
    }
    # the user part stays after the bot's action, as in Rasa
    assert turns[2].state == State(intent="greet", action="utter_greet")
    assert turns[1].location == Location("f", 3)
    assert turns[2].location == Location("f", 3)  # the closing listen follows utter_greet
    assert not any(t.unpredictable for t in turns)


def test_story_starting_with_an_action_marks_it_unpredictable() -> None:
    turns = conversation_states(conv(ActionStep("utter_hi"), UserStep("greet")), domain())
    assert [(t.action, t.unpredictable) for t in turns] == [
        ("utter_hi", True),
        ("action_listen", False),
        ("action_listen", False),  # a story ending on a user turn still closes with a listen
    ]


def test_slot_features_for_bool_categorical_and_text() -> None:
    turns = conversation_states(
        conv(
            UserStep("greet"),
            SlotStep({"ok": False, "size": "LARGE", "name": "Ann", "note": "x"}),
            ActionStep("utter_a"),
            SlotStep({"ok": True, "size": "huge", "name": None}),
            ActionStep("utter_b"),
        ),
        domain(),
    )
    before_a, before_b = turns[1].state, turns[2].state
    # text slot "note" does not influence the conversation, so it never shows
    assert dict(before_a.slots) == {"ok": (1.0, 0.0), "size": (0.0, 1.0, 0.0), "name": (1.0,)}
    # unknown categorical value -> __other__; an unset text slot disappears
    assert dict(before_b.slots) == {"ok": (1.0, 1.0), "size": (0.0, 0.0, 1.0)}
    assert before_b.as_dict()["slots"] == {"ok": [1.0, 1.0], "size": [0.0, 0.0, 1.0]}


def test_initial_values_are_featurized_unless_omitted() -> None:
    d = domain()
    d.slots["ok"].initial_value = True
    c = conv(UserStep("greet"), ActionStep("utter_greet"))
    assert conversation_states(c, d)[0].state.slots == (("ok", (1.0, 1.0)),)
    assert conversation_states(c, d, omit_unset_slots=True)[0].state.slots == ()


def test_entities_are_filtered_by_the_intents_entity_settings() -> None:
    d = domain()
    ents = [
        Entity("city", "Berlin", role="from"),
        Entity("city", "Rome", role="via"),  # role not declared in the domain
        Entity("size", "large"),
        Entity("noise", "x"),  # influence_conversation: false
        Entity("unknown", "?"),
    ]
    assert featurized_entities(d, "inform", ents) == ("city", "city#from", "size")
    assert featurized_entities(d, "book", ents) == ("city", "city#from")
    assert featurized_entities(d, "order", ents) == ("city", "city#from")
    assert featurized_entities(d, "chitchat", ents) == ()
    # an intent missing from the domain filters nothing
    assert "unknown" in featurized_entities(d, "not_in_domain", ents)


def test_entities_fill_slots_through_from_entity_mappings() -> None:
    d = domain()
    d.slots["town"] = Slot(
        "town",
        type="text",
        mappings=[
            SlotMapping("from_entity", entity="city", conditions=[MappingCondition("a_form")])
        ],
    )
    assert slots_for_entities(d, [Entity("city", "Berlin")]) == {"city": "Berlin"}
    assert slots_for_entities(d, [Entity("city", "Berlin", role="from")]) == {}
    turns = conversation_states(
        conv(UserStep("inform", entities=[Entity("city", "Oslo")]), ActionStep("utter_ok")), d
    )
    assert turns[1].state.entities == ("city",)
    assert turns[1].state.slot("city") == (1.0,)


def test_loops_and_end_to_end_turns() -> None:
    turns = conversation_states(
        conv(
            UserStep(text="hi there"),
            ActionStep(text="Hello!"),
            ActionStep("a_form"),
            LoopStep("a_form"),
            UserStep("chitchat"),
            ActionStep("utter_chitchat"),
            ActionStep("a_form"),
            LoopStep(None),
            ActionStep("utter_done"),
        ),
        domain(),
    )
    assert turns[1].state.as_dict() == {
        "user": {"text": "hi there"},
        "prev_action": {"action_name": "action_listen"},
    }
    assert turns[1].action == "Hello!" and turns[1].is_text
    assert turns[2].state.action_text == "Hello!"
    in_form = turns[4]
    assert in_form.action == "utter_chitchat"
    assert in_form.state.loop == "a_form" and in_form.active_loop == "a_form"
    assert turns[6].action == "utter_done"
    assert turns[6].state.loop is None  # active_loop: null ended it


def test_a_loops_happy_path_run_collapses_as_in_rasas_applied_events() -> None:
    turns = conversation_states(
        conv(
            UserStep("greet"),
            ActionStep("a_form"),
            LoopStep("a_form"),
            UserStep("inform"),
            ActionStep("a_form"),
            LoopStep(None),
            ActionStep("utter_done"),
        ),
        domain(),
    )
    # the second a_form run (and the user turn before it) is folded into the first
    assert [t.action for t in turns] == ["action_listen", "a_form", "utter_done", "action_listen"]
    assert turns[2].state == State(intent="greet", action="a_form")


def test_rule_states_start_with_conditions_and_the_snippet() -> None:
    rule = conv(
        UserStep("greet"),
        ActionStep("utter_greet"),
        kind="rule",
    )
    rule.sources[0].condition = [SlotStep({"ok": True}), LoopStep(None)]
    turns = conversation_states(rule, domain(), omit_unset_slots=True)
    assert [t.action for t in turns] == ["...", "action_listen", "utter_greet", "action_listen"]
    assert turns[0].unpredictable
    # the conditions hold from the very first state; `active_loop: null` = must not be set
    assert turns[0].state == State(loop=SHOULD_NOT_BE_SET, slots=(("ok", (1.0, 1.0)),))
    assert after_snippet(turns[2].history) == (
        State(
            intent="greet",
            action="action_listen",
            loop=SHOULD_NOT_BE_SET,
            slots=(("ok", (1.0, 1.0)),),
        ),
    )


def test_conversation_start_and_wait_for_user_input() -> None:
    start = conversation_states(
        conv(UserStep("greet"), ActionStep("utter_hi"), kind="rule", conversation_start=True),
        domain(),
    )
    assert [t.action for t in start] == ["action_listen", "utter_hi", "action_listen"]
    no_wait = conversation_states(
        conv(UserStep("greet"), ActionStep("utter_hi"), kind="rule", wait_for_user_input=False),
        domain(),
    )
    assert [t.action for t in no_wait] == [
        "...", "action_listen", "utter_hi", "...", "action_listen"
    ]  # fmt: skip
    assert after_snippet(no_wait[-1].history) == ()


def test_state_key_is_stable_json() -> None:
    states = (State(), State(intent="greet", entities=("city",), action="action_listen"))
    assert state_key(states) == (
        '[{}, {"prev_action": {"action_name": "action_listen"}, '
        '"user": {"entities": ["city"], "intent": "greet"}}]'
    )
    assert hash(states) == hash(tuple(states))


_names = st.none() | st.sampled_from(["greet", "inform", "utter_ask", "form", ""])
_slot_feature = st.sampled_from(["should_not_be_set"]) | st.tuples(st.floats(0, 1), st.floats(0, 1))
_states = st.builds(
    State,
    intent=_names,
    text=_names,
    entities=st.lists(st.sampled_from(["city", "city#from", "people"]), max_size=2).map(tuple),
    action=_names,
    action_text=_names,
    loop=_names,
    slots=st.lists(st.tuples(st.sampled_from(["a", "b"]), _slot_feature), max_size=2).map(tuple),
)


@given(_states, _states)
def test_a_state_hashes_as_a_dataclass_would(state: State, other: State) -> None:
    """The hash made once per state is the dataclass hash of its fields (a changed copy gets
    its own): equal states hash alike, so every lookup keyed by states finds them."""
    copied = dataclasses.replace(state, text=other.text, slots=other.slots)
    for each in (state, other, copied):
        assert hash(each) == hash(tuple(getattr(each, f.name) for f in dataclasses.fields(State)))
    if state == other:
        assert hash(state) == hash(other)


_slot_values = st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=3)
_slot_values |= st.lists(st.integers(0, 2), max_size=2)
_slot_defs = st.builds(
    Slot,
    name=st.just("x"),
    type=st.sampled_from(["text", "bool", "float", "list", "categorical", "any", "custom"]),
    influence_conversation=st.booleans(),
    values=st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=2),
)


@given(_slot_defs, _slot_values)
def test_a_slot_that_is_not_featurized_has_no_features_whatever_its_value(
    slot: Slot, value: object
) -> None:
    """slot_features looks only at featurized slots: the others must give nothing (and
    Rasa's featurized slot types, influencing the conversation, always give features)."""
    if not slot.featurized:
        assert slot.featurize(value) == []
    rasa_featurized = slot.type in ("text", "bool", "float", "list", "categorical")
    assert (slot.featurize(value) != []) == (slot.influence_conversation and rasa_featurized)


@given(st.dictionaries(st.sampled_from("abcdef"), _slot_defs, max_size=6), _slot_values)
def test_slot_features_of_the_featurized_slots_are_those_of_every_slot(
    defs: dict[str, Slot], value: object
) -> None:
    tracker = Tracker("t", None)
    tracker.slot_defs = {name: dataclasses.replace(slot, name=name) for name, slot in defs.items()}
    tracker.slots = dict.fromkeys(defs, value)
    every = []
    for name in sorted(tracker.slot_defs):  # what slot_features did before it skipped any
        features = tracker.slot_defs[name].featurize(value)
        if features and value == SHOULD_NOT_BE_SET:
            every.append((name, SHOULD_NOT_BE_SET))
        elif features and any(features):
            every.append((name, tuple(features)))
    assert slot_features(tracker) == tuple(every)
    featurized = featurized_slots(tracker.slot_defs)
    assert slot_features(tracker, None, featurized) == tuple(every)
