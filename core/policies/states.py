"""Dialogue states: what a policy sees before each action, exactly as Rasa builds it.

One :class:`State` is Rasa's per-turn state dict (``Domain.get_active_state`` in
``rasa/shared/core/domain.py``)::

    {"user": {"intent": ..., "entities": (...)} | {"text": ...},
     "prev_action": {"action_name": ...} | {"action_text": ...},
     "active_loop": {"name": ...},
     "slots": {name: (features...) | "should_not_be_set"}}

with empty parts left out. :func:`conversation_states` replays a :class:`Conversation` the way
Rasa's training trackers do (``StoryStep.explicit_events`` in structures.py and
``TrainingDataGenerator._process_step`` in generator.py): ``action_listen`` before every
user turn and at the story's end, slots filled from entities by ``from_entity`` mappings,
and for rules their ``condition`` first, then the ``...`` snippet action (unless
``conversation_start``) and a closing ``...`` when ``wait_for_user_input: false``; in rules
``slot_was_set: null`` / ``active_loop: null`` mean "must not be set".

The user part stays in the state after the bot's actions, as in Rasa; its text is dropped
when an intent is known (``_remove_user_text_if_intent``). Conflict checking, memoization,
rules and the LightGBM featurizer all build on these states.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.data.problems import Location
from core.data.story_graph import Conversation
from core.data.training import (
    RULE_SNIPPET_ACTION,
    ActionStep,
    Entity,
    LoopStep,
    SlotStep,
    Story,
    UserStep,
)
from core.domain import Domain

ACTION_LISTEN = "action_listen"
# Rasa's SHOULD_NOT_BE_SET: a rule's `slot_was_set: {x: null}` / `active_loop: null`
SHOULD_NOT_BE_SET = "should_not_be_set"
# Rasa's ENTITY_LABEL_SEPARATOR: `city#from` is entity `city` with role `from`
ENTITY_LABEL_SEPARATOR = "#"

SlotFeature = tuple[float, ...] | str


@dataclass(frozen=True)
class State:
    """One turn's state; hashable, so histories of states can key lookups."""

    intent: str | None = None
    text: str | None = None  # end-to-end user text (only when there is no intent)
    entities: tuple[str, ...] = ()
    action: str | None = None  # previous action's name
    action_text: str | None = None  # previous bot utterance (end-to-end)
    loop: str | None = None  # active loop (or SHOULD_NOT_BE_SET)
    slots: tuple[tuple[str, SlotFeature], ...] = ()  # sorted by slot name

    @property
    def prev_action(self) -> str | None:
        return self.action or self.action_text

    @property
    def after_listen(self) -> bool:
        """Rasa's ``is_prev_action_listen_in_state``."""
        return self.action == ACTION_LISTEN

    @property
    def is_snippet(self) -> bool:
        """The state right after a rule's ``...`` (anything may have happened before)."""
        return self.action == RULE_SNIPPET_ACTION

    def slot(self, name: str) -> SlotFeature | None:
        return dict(self.slots).get(name)

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """Rasa's state dict (tuples become lists in JSON, as in Rasa's rule keys)."""
        out: dict[str, dict[str, Any]] = {}
        user: dict[str, Any] = {}
        if self.intent:
            user["intent"] = self.intent
        elif self.text:
            user["text"] = self.text
        if self.entities:
            user["entities"] = list(self.entities)
        if user:
            out["user"] = user
        if self.slots:
            out["slots"] = {k: v if isinstance(v, str) else list(v) for k, v in self.slots}
        if self.action:
            out["prev_action"] = {"action_name": self.action}
        elif self.action_text:
            out["prev_action"] = {"action_text": self.action_text}
        if self.loop:
            out["active_loop"] = {"name": self.loop}
        return out


def state_key(states: Sequence[State]) -> str:
    """A stable string for a history of states (Rasa's ``json.dumps(states, sort_keys)``)."""
    return json.dumps([s.as_dict() for s in states], sort_keys=True)


def after_snippet(states: Sequence[State]) -> tuple[State, ...]:
    """The states after the last ``...`` (Rasa's ``RulePolicy._create_feature_key``)."""
    kept: list[State] = []
    for state in reversed(states):
        if state.is_snippet:
            break
        kept.append(state)
    return tuple(reversed(kept))


@dataclass(frozen=True)
class Turn:
    """One action of a conversation and the states that led to it."""

    states: tuple[State, ...]  # every state of the conversation (shared by its turns)
    index: int  # states[: index + 1] is the history before this action
    action: str  # action name, or bot text when ``is_text``
    location: Location | None  # the step that wrote the action (or led to a listen)
    story: Story | None  # the story/rule that step belongs to
    is_text: bool = False
    # Rasa's `unpredictable`: the first action of a conversation, before any user turn
    unpredictable: bool = False
    active_loop: str | None = None  # the tracker's active loop before the action
    latest_intent: str | None = None

    @property
    def history(self) -> tuple[State, ...]:
        return self.states[: self.index + 1]

    @property
    def state(self) -> State:
        return self.states[self.index]


def featurized_entities(
    domain: Domain, intent: str | None, entities: list[Entity]
) -> tuple[str, ...]:
    """Entity labels a user turn shows policies: ``Domain._get_featurized_entities``.

    Labels are the entity names plus ``entity#role`` / ``entity#group``; the intent's
    ``use_entities`` / ``ignore_entities`` (and entities declared with
    ``influence_conversation: false``) filter them. Sorted, as Rasa sorts them.
    """
    labels: set[str] = set()
    for e in entities:
        labels.add(e.entity)
        if e.role is not None:
            labels.add(f"{e.entity}{ENTITY_LABEL_SEPARATOR}{e.role}")
        if e.group is not None:
            labels.add(f"{e.entity}{ENTITY_LABEL_SEPARATOR}{e.group}")
    config = domain.intents.get(intent) if intent else None
    if config is None:
        return tuple(sorted(labels))
    return tuple(sorted(labels & _used_entities(domain, intent or "")))


def _sub_labels(domain: Domain, names: set[str]) -> set[str]:
    out: set[str] = set()
    for name in names:
        definition = domain.entities.get(name)
        if definition is not None:
            out.update(
                f"{name}{ENTITY_LABEL_SEPARATOR}{label}"
                for label in [*definition.roles, *definition.groups]
            )
    return out


def _used_entities(domain: Domain, intent: str) -> set[str]:
    """Rasa's ``used_entities`` of an intent (``_transform_intent_properties_...``)."""
    config = domain.intents[intent]
    if config.use_entities is True:
        included = {name for name, e in domain.entities.items() if e.influence_conversation} - set(
            config.ignore_entities
        )
    elif config.use_entities is False:
        included = set()
    else:
        included = set(config.use_entities)
    included |= _sub_labels(domain, included)
    excluded = set(config.ignore_entities)
    excluded |= _sub_labels(domain, excluded)
    return included - excluded


def slots_for_entities(domain: Domain, entities: list[Entity]) -> dict[str, Any]:
    """Slots a user turn's entities fill in training stories: ``Domain.slots_for_entities``.

    A slot is filled by its ``from_entity`` mappings that are not tied to an active loop
    (entity, role and group must all match); a list slot gets every matching value, any
    other slot the last one.
    """
    filled: dict[str, Any] = {}
    for name, slot in domain.slots.items():
        values = [
            e.value
            for mapping in slot.mappings
            if mapping.type == "from_entity"
            and not (mapping.conditions and mapping.conditions[0].active_loop is not None)
            for e in entities
            if e.entity == mapping.entity and e.role == mapping.role and e.group == mapping.group
        ]
        if values:
            filled[name] = values if slot.type == "list" else values[-1]
    return filled


# ------------------------------------------------------------------------ events


@dataclass
class ActionEvent:
    """An action run (Rasa's ActionExecuted): a name, or bot text when ``is_text``."""

    name: str
    is_text: bool
    location: Location | None
    story: Story | None
    unpredictable: bool = False


@dataclass
class UserEvent:
    """A user turn (Rasa's UserUttered)."""

    step: UserStep


@dataclass
class SlotEvent:
    """A slot set (Rasa's SlotSet); in rules None becomes SHOULD_NOT_BE_SET."""

    name: str
    value: Any


@dataclass
class LoopEvent:
    """The active loop set or ended (Rasa's ActiveLoop)."""

    name: str | None


Event = ActionEvent | UserEvent | SlotEvent | LoopEvent


@dataclass
class _Tracker:
    """Just enough of Rasa's DialogueStateTracker to compute states."""

    domain: Domain
    omit_unset_slots: bool
    slots: dict[str, Any] = field(default_factory=dict)
    set_slots: set[str] = field(default_factory=set)
    user: UserStep | None = None
    action: ActionEvent | None = None
    loop: str | None = None

    def __post_init__(self) -> None:
        self.slots = {name: slot.initial_value for name, slot in self.domain.slots.items()}

    def apply(self, event: Event) -> None:
        if isinstance(event, ActionEvent):
            self.action = event
        elif isinstance(event, UserEvent):
            self.user = event.step
        elif isinstance(event, SlotEvent):
            if event.name in self.slots:
                self.slots[event.name] = event.value
                self.set_slots.add(event.name)
        else:
            self.loop = event.name

    def state(self) -> State:
        intent = text = None
        entities: tuple[str, ...] = ()
        if self.user is not None:
            intent = self.user.intent
            if intent:
                entities = featurized_entities(self.domain, intent, self.user.entities)
            else:
                text = self.user.text
        slots: list[tuple[str, SlotFeature]] = []
        for name in sorted(self.slots):
            if self.omit_unset_slots and name not in self.set_slots:
                continue
            value = self.slots[name]
            features = self.domain.slots[name].featurize(value)
            if not features:
                continue
            if value == SHOULD_NOT_BE_SET:
                slots.append((name, SHOULD_NOT_BE_SET))
            elif any(features):
                slots.append((name, tuple(features)))
        action = action_text = None
        if self.action is not None:
            if self.action.is_text:
                action_text = self.action.name
            else:
                action = self.action.name
        return State(
            intent=intent,
            text=text,
            entities=entities,
            action=action,
            action_text=action_text,
            loop=self.loop or None,
            slots=tuple(slots),
        )

    @property
    def active_loop(self) -> str | None:
        return self.loop if self.loop and self.loop != SHOULD_NOT_BE_SET else None


def conversation_events(conv: Conversation, domain: Domain) -> list[Event]:
    """The conversation as Rasa's explicit tracker events (implicit listens included)."""
    is_rule = conv.kind == "rule"
    rule = conv.sources[0]
    events: list[Event] = []

    def unset(value: Any) -> Any:
        return SHOULD_NOT_BE_SET if is_rule and value is None else value

    def last_is_listen() -> bool:
        last = events[-1] if events else None
        return isinstance(last, ActionEvent) and last.name == ACTION_LISTEN

    # Rasa's _mark_first_action_in_story_steps_as_unpredictable: the first written action
    # before any user turn (implicit listens are not written, so they are never marked)
    first_unmarked = True

    def written(action: ActionEvent) -> ActionEvent:
        nonlocal first_unmarked
        if first_unmarked:
            action.unpredictable = True
            first_unmarked = False
        return action

    if is_rule:
        for condition in rule.condition:
            if isinstance(condition, SlotStep):
                events.extend(SlotEvent(k, unset(v)) for k, v in condition.slots.items())
            else:
                events.append(LoopEvent(unset(condition.name)))
        if not rule.conversation_start:
            events.append(written(ActionEvent(RULE_SNIPPET_ACTION, False, rule.location, rule)))
    last_action: ActionEvent | None = None
    for index, step in enumerate(conv.steps):
        story = conv.source_of(index)
        if isinstance(step, UserStep):
            first_unmarked = False
            if not last_is_listen():
                where = last_action.location if last_action else step.location
                events.append(ActionEvent(ACTION_LISTEN, False, where, story))
            events.append(UserEvent(step))
            filled = slots_for_entities(domain, step.entities)
            events.extend(SlotEvent(k, v) for k, v in filled.items())
        elif isinstance(step, ActionStep):
            name = step.name or step.text or ""
            last_action = written(ActionEvent(name, step.name is None, step.location, story))
            events.append(last_action)
        elif isinstance(step, SlotStep):
            events.extend(SlotEvent(k, unset(v)) for k, v in step.slots.items())
        elif isinstance(step, LoopStep):
            events.append(LoopEvent(unset(step.name)))
    if is_rule and not rule.wait_for_user_input:
        events.append(written(ActionEvent(RULE_SNIPPET_ACTION, False, rule.location, rule)))
    if not conv.open_end and not last_is_listen():
        where = last_action.location if last_action else rule.location
        events.append(ActionEvent(ACTION_LISTEN, False, where, conv.sources[-1]))
    return events


def conversation_states(
    conv: Conversation, domain: Domain, *, omit_unset_slots: bool = False
) -> list[Turn]:
    """Every action of ``conv`` (implicit listens and rule snippets included) with its states.

    ``omit_unset_slots`` leaves out slots still at their initial value, as Rasa does when
    it turns rules into lookup keys.
    """
    tracker = _Tracker(domain, omit_unset_slots)
    states: list[State] = []
    pending: list[tuple[ActionEvent, int, str | None, str | None]] = []
    for event in conversation_events(conv, domain):
        if isinstance(event, ActionEvent):
            states.append(tracker.state())
            latest_intent = tracker.user.intent if tracker.user else None
            pending.append((event, len(states) - 1, tracker.active_loop, latest_intent))
        tracker.apply(event)
    states.append(tracker.state())
    frozen = tuple(states)
    return [
        Turn(
            states=frozen,
            index=index,
            action=event.name,
            location=event.location,
            story=event.story,
            is_text=event.is_text,
            unpredictable=event.unpredictable,
            active_loop=loop,
            latest_intent=intent,
        )
        for event, index, loop, intent in pending
    ]
