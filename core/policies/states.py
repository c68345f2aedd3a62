"""Dialogue states: what a policy sees before each action, exactly as Rasa builds it.

One :class:`State` is Rasa's per-turn state dict (``Domain.get_active_state`` in
``rasa/shared/core/domain.py``)::

    {"user": {"intent": ..., "entities": (...)} | {"text": ...},
     "prev_action": {"action_name": ...} | {"action_text": ...},
     "active_loop": {"name": ...},
     "slots": {name: (features...) | "should_not_be_set"}}

with empty parts left out. There is one state builder, :func:`tracker_states` (Rasa's
``tracker.past_states(domain)``): one state before each applied ``ActionExecuted`` of a live
:class:`core.tracker.Tracker`, then the current one. Training uses the same code:
:func:`conversation_tracker` turns a :class:`Conversation` into real events the way Rasa's
training trackers get them (``StoryStep.explicit_events`` in structures.py and
``TrainingDataGenerator._process_step`` in generator.py): ``action_listen`` before every user
turn and at the story's end, slots filled from entities by ``from_entity`` mappings, and for
rules their ``condition`` first, then the ``...`` snippet action (unless
``conversation_start``) and a closing ``...`` when ``wait_for_user_input: false``; in rules
``slot_was_set: null`` / ``active_loop: null`` become ``should_not_be_set``.
:func:`conversation_states` replays that tracker through :func:`tracker_states`.

The user part stays in the state after the bot's actions, as in Rasa; its text is dropped
when an intent is known (``_remove_user_text_if_intent``). Conflict checking, memoization,
rules and the LightGBM featurizer all build on these states.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import lru_cache
from operator import is_
from typing import Any, ClassVar

from chinwag.core.data.problems import Location
from chinwag.core.data.story_graph import Conversation
from chinwag.core.data.training import (
    RULE_SNIPPET_ACTION,
    ActionStep,
    Entity,
    LoopStep,
    SlotStep,
    Story,
    UserStep,
)
from chinwag.core.domain import Domain
from chinwag.core.events import (
    ActionExecuted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    Event,
    SlotSet,
    UserUttered,
)
from chinwag.core.slots import Slot
from chinwag.core.tracker import Tracker

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
    # the dataclass hash of the fields above, made once: histories of states key the
    # policies' lookups, which hash every state of the history on every prediction
    _hash: ClassVar[int]  # set per instance by __post_init__ (not a field)

    def __post_init__(self) -> None:
        fields = (
            self.intent,
            self.text,
            self.entities,
            self.action,
            self.action_text,
            self.loop,
            self.slots,
        )
        object.__setattr__(self, "_hash", hash(fields))

    def __hash__(self) -> int:
        return self._hash

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


def state_from_dict(data: Mapping[str, Any]) -> State:
    """The inverse of :meth:`State.as_dict` (for lookup keys read back from JSON)."""
    user = data.get("user", {})
    prev = data.get("prev_action", {})
    slots = data.get("slots", {})
    return State(
        intent=user.get("intent"),
        text=user.get("text"),
        entities=tuple(user.get("entities", ())),
        action=prev.get("action_name"),
        action_text=prev.get("action_text"),
        loop=data.get("active_loop", {}).get("name"),
        slots=tuple(
            (name, value if isinstance(value, str) else tuple(float(v) for v in value))
            for name, value in sorted(slots.items())
        ),
    )


def state_key(states: Sequence[State]) -> str:
    """A stable string for a history of states (Rasa's ``json.dumps(states, sort_keys)``)."""
    return _state_key(tuple(states))


@lru_cache(maxsize=8192)
def _state_key(states: tuple[State, ...]) -> str:
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
    domain: Domain, intent: str | None, entities: Sequence[Entity | Mapping[str, Any]]
) -> tuple[str, ...]:
    """Entity labels a user turn shows policies: ``Domain._get_featurized_entities``.

    Labels are the entity names plus ``entity#role`` / ``entity#group``; the intent's
    ``use_entities`` / ``ignore_entities`` (and entities declared with
    ``influence_conversation: false``) filter them. Sorted, as Rasa sorts them.
    """
    labels: set[str] = set()
    for e in entities:
        d = e.as_dict() if isinstance(e, Entity) else e
        name = d.get("entity")
        if name is None:
            continue
        labels.add(name)
        for key in ("role", "group"):
            if d.get(key) is not None:
                labels.add(f"{name}{ENTITY_LABEL_SEPARATOR}{d[key]}")
    config = domain.intents.get(intent) if intent else None
    if config is None:
        return tuple(sorted(labels))
    return tuple(sorted(labels & _used_entities(domain, intent or "")))


# the latest domains' used entities by intent, for live predictions (a loaded domain does
# not change; every state of a prediction asks again)
_LIVE_DOMAINS = 4
_live_entities: dict[int, tuple[Domain, dict[str, frozenset[str]]]] = {}


def _used_entities(domain: Domain, intent: str) -> frozenset[str]:
    """:func:`_intent_entities`, remembered while :func:`shared_states` runs (it is asked for
    every state of every story), and for the last few domains predictions used."""
    shared = _SHARED.get()
    if shared is None:
        live = _live_entities.get(id(domain))
        if live is None or live[0] is not domain:
            if len(_live_entities) >= _LIVE_DOMAINS:
                _live_entities.clear()
            live = _live_entities[id(domain)] = (domain, {})
        used = live[1].get(intent)
        if used is None:
            used = live[1][intent] = _intent_entities(domain, intent)
        return used
    key = (id(domain), intent)
    hit = shared.used_entities.get(key)
    if hit is None or hit[0] is not domain:
        hit = shared.used_entities[key] = (domain, _intent_entities(domain, intent))
    return hit[1]


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


def _intent_entities(domain: Domain, intent: str) -> frozenset[str]:
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
    return frozenset(included - excluded)


def slots_for_entities(domain: Domain, entities: list[Entity]) -> dict[str, Any]:
    """Slots a user turn's entities fill in training stories: ``Domain.slots_for_entities``.

    A slot is filled by its ``from_entity`` mappings that are not tied to an active loop
    (entity, role and group must all match); a list slot gets every matching value, any
    other slot the last one. With the domain's ``store_entities_as_slots: false`` none.
    """
    filled: dict[str, Any] = {}
    if not domain.store_entities_as_slots:
        return filled
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
class StoryAction(ActionExecuted):
    """An ``ActionExecuted`` replayed from a story or rule, remembering where it was written.

    ``unpredictable`` is Rasa's mark on the first action of a story before any user turn
    (``_mark_first_action_in_story_steps_as_unpredictable``): policies do not learn it.
    """

    location: Location | None = field(default=None, compare=False)
    story: Story | None = field(default=None, compare=False)
    unpredictable: bool = field(default=False, compare=False)


def _user_event(step: UserStep) -> UserUttered:
    """A story's user turn as Rasa's story reader makes it (intent confidence 1.0)."""
    intent = {"name": step.intent, "confidence": 1.0} if step.intent else {}
    return UserUttered(
        text=step.text,
        intent=intent,
        entities=[e.as_dict() for e in step.entities],
        timestamp=0.0,
    )


def conversation_events(conv: Conversation, domain: Domain) -> list[Event]:
    """The conversation as Rasa's explicit tracker events (implicit listens included).

    Actions are :class:`StoryAction` events; in rules, ``null`` slot values and
    ``active_loop: null`` are Rasa's ``should_not_be_set``.
    """
    is_rule = conv.kind == "rule"
    rule = conv.sources[0]
    events: list[Event] = []

    def unset(value: Any) -> Any:
        return SHOULD_NOT_BE_SET if is_rule and value is None else value

    def last_is_listen() -> bool:
        last = events[-1] if events else None
        return isinstance(last, ActionExecuted) and last.action_name == ACTION_LISTEN

    # Rasa's _mark_first_action_in_story_steps_as_unpredictable: the first written action
    # before any user turn (implicit listens are not written, so they are never marked)
    first_unmarked = True

    def action(name: str | None, text: str | None, where: Location | None, story: Story) -> None:
        nonlocal first_unmarked
        events.append(
            StoryAction(
                action_name=name,
                action_text=text,
                location=where,
                story=story,
                unpredictable=first_unmarked,
                timestamp=0.0,
            )
        )
        first_unmarked = False

    def listen(where: Location | None, story: Story) -> None:
        events.append(
            StoryAction(action_name=ACTION_LISTEN, location=where, story=story, timestamp=0.0)
        )

    def slots(values: dict[str, Any]) -> None:
        events.extend(SlotSet(k, unset(v), timestamp=0.0) for k, v in values.items())

    def loop(name: str | None) -> None:
        events.append(ActiveLoop(unset(name), timestamp=0.0))

    if is_rule:
        for condition in rule.condition:
            if isinstance(condition, SlotStep):
                slots(condition.slots)
            else:
                loop(condition.name)
        if not rule.conversation_start:
            action(RULE_SNIPPET_ACTION, None, rule.location, rule)
    last_action: Location | None = None
    for index, step in enumerate(conv.steps):
        story = conv.source_of(index)
        if isinstance(step, UserStep):
            first_unmarked = False
            if not last_is_listen():
                listen(last_action or step.location, story)
            events.append(_user_event(step))
            # entities fill slots in story replays, as Rasa's story replay does
            slots(slots_for_entities(domain, step.entities))
        elif isinstance(step, ActionStep):
            last_action = step.location
            action(step.name, None if step.name else step.text or "", step.location, story)
        elif isinstance(step, SlotStep):
            slots(step.slots)
        elif isinstance(step, LoopStep):
            loop(step.name)
    if is_rule and not rule.wait_for_user_input:
        action(RULE_SNIPPET_ACTION, None, rule.location, rule)
    if not conv.open_end and not last_is_listen():
        listen(last_action or rule.location, conv.sources[-1])
    return events


def conversation_tracker(conv: Conversation, domain: Domain) -> Tracker:
    """A real tracker holding the conversation's events (Rasa's training tracker)."""
    return Tracker(conv.name, domain, conversation_events(conv, domain))


def current_state(
    tracker: Tracker,
    domain: Domain,
    set_slots: set[str] | None = None,
    slots: tuple[tuple[str, SlotFeature], ...] | None = None,
    featurized: Sequence[str] | None = None,
) -> State:
    """Rasa's ``Domain.get_active_state`` of the tracker as it is now.

    ``set_slots`` given: only those slots show (Rasa's ``omit_unset_slots``). ``slots``: the
    slot part when the caller knows it (:func:`slot_features` of the same tracker);
    ``featurized``: :func:`featurized_slots` of its slots, when the caller knows them.
    """
    message = tracker.latest_message
    use_text = message.use_text_for_featurization
    intent = text = None
    entities: tuple[str, ...] = ()
    if use_text is not True:
        intent = message.intent_name
        entities = featurized_entities(domain, intent, message.entities)
    if intent is None and use_text is not False:
        text = message.text
    loop = tracker.active_loop.name if tracker.active_loop is not None else None
    return State(
        intent=intent,
        text=text,
        entities=entities,
        action=tracker.latest_action.get("action_name"),
        action_text=tracker.latest_action.get("action_text"),
        loop=loop or None,
        slots=slot_features(tracker, set_slots, featurized) if slots is None else slots,
    )


def featurized_slots(slot_defs: Mapping[str, Slot]) -> tuple[str, ...]:
    """The names, sorted, of the slots that can have features (``Slot.featurized``): the
    others' features are empty whatever their value, so :func:`slot_features` skips them."""
    return tuple(name for name in sorted(slot_defs) if slot_defs[name].featurized)


def slot_features(
    tracker: Tracker, set_slots: set[str] | None = None, featurized: Sequence[str] | None = None
) -> tuple[tuple[str, SlotFeature], ...]:
    """The slot part of :func:`current_state`: each slot's features, by name, where any is
    set (``should_not_be_set`` as such); ``set_slots`` given, only those slots.
    ``featurized``: :func:`featurized_slots` of the tracker's slots, when the caller knows
    them (a replay: slots are only ever added, and only non-featurized ones, as it goes)."""
    slots: list[tuple[str, SlotFeature]] = []
    if featurized is None:
        featurized = featurized_slots(tracker.slot_defs)
    for name in featurized:
        if set_slots is not None and name not in set_slots:
            continue
        value = tracker.slots.get(name)
        features = tracker.slot_defs[name].featurize(value)
        if not features:
            continue
        if value == SHOULD_NOT_BE_SET:
            slots.append((name, SHOULD_NOT_BE_SET))
        elif any(features):
            slots.append((name, tuple(features)))
    return tuple(slots)


# the replays' states by value: equal states of any two trackers (live or training) are one
# object, so the lookups keyed by state histories (memoization's keys, LightGBM's scores) find
# their stored histories by identity instead of comparing State by State, field by field;
# cleared when it reaches its bound (equal states then stop being one object, nothing else)
CANONICAL_STATES = 16384  # a few MB at most; a bot's live states are far fewer
_canonical_states: dict[State, State] = {}


def _canonical(state: State) -> State:
    """The state equal to ``state`` that the replays share (``state`` itself the first time)."""
    known = _canonical_states.get(state)
    if known is not None:
        return known
    if len(_canonical_states) >= CANONICAL_STATES:
        _canonical_states.clear()
    _canonical_states[state] = state
    return state


# events that leave the slots (and which slots are set) as they are
_SLOTS_KEPT = (ActionExecuted, UserUttered, BotUttered)


def _replay(
    tracker: Tracker, domain: Domain, omit_unset_slots: bool
) -> Iterator[tuple[State, ActionExecuted | None, Tracker]]:
    """Rasa's ``generate_all_prior_trackers``: (state, next action, tracker before it).

    The last item is the current state with no next action. The yielded tracker is updated
    after each step: read it before advancing.
    """
    running = tracker.init_copy()
    set_slots: set[str] | None = set() if omit_unset_slots else None
    # the slot part of the last state, while no event since can have changed it
    slots: tuple[tuple[str, SlotFeature], ...] | None = None
    featurized = featurized_slots(running.slot_defs)
    for event in tracker.applied_events():
        if isinstance(event, ActionExecuted):
            state = _canonical(current_state(running, domain, set_slots, slots, featurized))
            slots = state.slots
            yield state, event, running
        elif set_slots is not None:
            _note_set_slots(event, running, set_slots)
        if not isinstance(event, _SLOTS_KEPT):
            slots = None
        running.update(event)
    yield _canonical(current_state(running, domain, set_slots, slots, featurized)), None, running


def _note_set_slots(event: Event, running: Tracker, set_slots: set[str]) -> None:
    """Keep ``set_slots`` (for ``omit_unset_slots``): the slots set since the last reset."""
    if isinstance(event, SlotSet) and event.key in running.slot_defs:
        set_slots.add(event.key)
    elif isinstance(event, AllSlotsReset):
        set_slots.clear()


# replay points kept per live tracker, to resume after a loop's turns collapse
STATE_SNAPSHOTS = 8


@dataclass
class _StatesMemo:
    """A live tracker's states so far: the replay of ``replayed`` (its applied events then)."""

    domain: Domain
    slot_count: int  # slot definitions then (a domain-less tracker adds slots as it goes)
    featurized: tuple[str, ...]  # featurized_slots of those definitions
    set_slots: set[str] | None
    running: Tracker
    replayed: list[Event] = field(default_factory=list)
    states: list[State] = field(default_factory=list)
    # (events replayed, states, running tracker, set slots) before recent actions
    snapshots: list[tuple[int, int, Tracker, set[str] | None]] = field(default_factory=list)
    # the slot part of ``running``'s state, while no event since can have changed it
    slots: tuple[tuple[str, SlotFeature], ...] | None = None

    def rewind(self, applied: list[Event]) -> None:
        """Go back to the latest snapshot whose events still start ``applied``."""
        if len(applied) >= len(self.replayed) and all(map(is_, self.replayed, applied)):
            return  # the usual case, checked without a Python loop: only events were added
        common = 0
        for old, new in zip(self.replayed, applied, strict=False):
            if old is not new:
                break
            common += 1
        if common == len(self.replayed):
            return
        while self.snapshots and self.snapshots[-1][0] > common:
            self.snapshots.pop()
        if self.snapshots:
            replayed, states, running, set_slots = self.snapshots[-1]
        else:
            replayed, states, running = 0, 0, self.running.init_copy()
            set_slots = None if self.set_slots is None else set()
        del self.replayed[replayed:]
        del self.states[states:]
        self.running = running.copy()
        self.slots = None
        self.set_slots = None if set_slots is None else set(set_slots)


def tracker_states(
    tracker: Tracker, domain: Domain, *, omit_unset_slots: bool = False
) -> list[State]:
    """Rasa's ``tracker.past_states(domain)``: a state before each applied action, then now.

    ``omit_unset_slots`` leaves out slots no event has set (slots still at their initial
    value), as Rasa does when it turns rules into lookup keys. The replay is kept on the
    tracker: next time only the applied events that are new (or changed, e.g. when a loop's
    turns collapse) are replayed, so a prediction late in a long conversation stays cheap.
    """
    return list(
        tracker.derived(
            ("states", id(domain), omit_unset_slots),
            lambda: _incremental_states(tracker, domain, omit_unset_slots),
        )
    )


def _incremental_states(
    tracker: Tracker, domain: Domain, omit_unset_slots: bool
) -> tuple[State, ...]:
    applied = tracker.applied_events()
    key = ("states", omit_unset_slots)
    memo: _StatesMemo | None = tracker.memo.get(key)
    if memo is None or memo.domain is not domain or memo.slot_count != len(tracker.slot_defs):
        memo = _StatesMemo(
            domain=domain,
            slot_count=len(tracker.slot_defs),
            featurized=featurized_slots(tracker.slot_defs),
            set_slots=set() if omit_unset_slots else None,
            running=tracker.init_copy(),
        )
        tracker.memo[key] = memo
    else:
        memo.rewind(applied)
    for event in applied[len(memo.replayed) :]:
        running, set_slots = memo.running, memo.set_slots
        if isinstance(event, ActionExecuted):
            snapshot = running.copy(), None if set_slots is None else set(set_slots)
            memo.snapshots.append((len(memo.replayed), len(memo.states), *snapshot))
            del memo.snapshots[:-STATE_SNAPSHOTS]
            state = _canonical(
                current_state(running, domain, set_slots, memo.slots, memo.featurized)
            )
            memo.slots = state.slots
            memo.states.append(state)
        elif set_slots is not None:
            _note_set_slots(event, running, set_slots)
        if not isinstance(event, _SLOTS_KEPT):
            memo.slots = None
        running.update(event)
        memo.replayed.append(event)
    now = _canonical(
        current_state(memo.running, domain, memo.set_slots, memo.slots, memo.featurized)
    )
    memo.slots = now.slots
    return (*memo.states, now)


@dataclass
class _Shared:
    """What :func:`shared_states` keeps: each conversation's turns (by the identity of its
    steps and stories, so two expansions of the same stories share them), each intent's
    used entities."""

    turns: dict[tuple[Any, ...], tuple[Conversation, Domain, list[Turn]]] = field(
        default_factory=dict
    )
    used_entities: dict[tuple[int, str], tuple[Domain, frozenset[str]]] = field(
        default_factory=dict
    )


_SHARED: ContextVar[_Shared | None] = ContextVar("shared_states", default=None)


@contextmanager
def shared_states() -> Iterator[None]:
    """Within it, each conversation's states are built once for all who ask (the data checks
    and every policy of a training ask for every story). Only for as long as nothing changes
    the stories or the domain. Nested, the outer one is kept."""
    if _SHARED.get() is not None:
        yield
        return
    token = _SHARED.set(_Shared())
    try:
        yield
    finally:
        _SHARED.reset(token)


def _conversation_key(conv: Conversation) -> tuple[Any, ...]:
    """The same steps of the same stories (as each ``expand`` of them makes): the same key.
    The steps and stories are the objects themselves (kept alive by the shared entry)."""
    return (
        conv.kind,
        conv.open_end,
        tuple(map(id, conv.steps)),
        tuple(map(id, conv.sources)),
        tuple(conv.origins),
    )


def conversation_states(
    conv: Conversation, domain: Domain, *, omit_unset_slots: bool = False
) -> list[Turn]:
    """Every action of ``conv`` (implicit listens and rule snippets included) with its states.

    The states are :func:`tracker_states` of :func:`conversation_tracker`, so training sees
    exactly what prediction sees on a live tracker.
    """
    shared = _SHARED.get()
    if shared is None:
        return _conversation_states(conv, domain, omit_unset_slots)
    key = (_conversation_key(conv), id(domain), omit_unset_slots)
    hit = shared.turns.get(key)
    if hit is None or hit[1] is not domain:
        turns = _conversation_states(conv, domain, omit_unset_slots)
        hit = shared.turns[key] = (conv, domain, turns)
    return list(hit[2])


def _conversation_states(conv: Conversation, domain: Domain, omit_unset_slots: bool) -> list[Turn]:
    states: list[State] = []
    pending: list[tuple[ActionExecuted, int, str | None, str | None]] = []
    tracker = conversation_tracker(conv, domain)
    for state, action, running in _replay(tracker, domain, omit_unset_slots):
        states.append(state)
        if action is not None:
            intent = running.latest_message.intent_name
            pending.append((action, len(states) - 1, running.active_loop_name, intent))
    frozen = tuple(states)
    turns: list[Turn] = []
    for event, index, loop, intent in pending:
        source = event if isinstance(event, StoryAction) else None
        turns.append(
            Turn(
                states=frozen,
                index=index,
                action=event.action_name or event.action_text or "",
                location=source.location if source else None,
                story=source.story if source else None,
                is_text=event.action_name is None,
                unpredictable=source.unpredictable if source else False,
                active_loop=loop,
                latest_intent=intent,
            )
        )
    return turns


# ------------------------------------------------------------------ the turn so far


@dataclass(frozen=True)
class TurnContext:
    """What a state history says about the current turn beyond its last few states.

    Read from the whole history (any number of states), so the LightGBM policy sees it
    whatever its ``max_history``; the same function serves training (a story's states) and
    prediction (a live tracker's states), so both see the same context.
    """

    since_user: tuple[str, ...] = ()  # actions taken since the user last spoke, in order
    previous_turn: tuple[str, ...] = ()  # the bot's actions before the user's last message
    user_changed: tuple[str, ...] = ()  # slots the user's last message changed (sorted)
    bot_changed: tuple[str, ...] = ()  # slots changed since the user last spoke (sorted)
    user_turns: int = 0  # user messages so far
    earlier: tuple[str, ...] = ()  # every action before the user's last message (sorted set)


def _changed_slots(before: State | None, after: State) -> tuple[str, ...]:
    old = dict(before.slots) if before is not None else {}
    new = dict(after.slots)
    return tuple(sorted(name for name in old.keys() | new.keys() if old.get(name) != new.get(name)))


def turn_context(history: Sequence[State]) -> TurnContext:
    """The :class:`TurnContext` of the last state of ``history`` (states as Rasa's)."""
    user_at = [i for i, state in enumerate(history) if state.after_listen]
    if not user_at:
        return TurnContext(since_user=_actions(history[1:]))
    last = user_at[-1]
    start = user_at[-2] + 1 if len(user_at) > 1 else 1
    # states[i] is the state before action i: its prev_action is what ran before it
    return TurnContext(
        since_user=_actions(history[last + 1 :]),
        previous_turn=_actions(history[start:last]),
        user_changed=_changed_slots(history[last - 1] if last else None, history[last]),
        bot_changed=_changed_slots(history[last], history[-1]),
        user_turns=len(user_at),
        earlier=tuple(sorted(set(_actions(history[1:last])))),
    )


def turn_contexts(states: Sequence[State]) -> list[TurnContext]:
    """``turn_context(states[: i + 1])`` for every ``i``, in one pass (for training)."""
    out: list[TurnContext] = []
    user_turn: TurnContext | None = None  # the context at the latest user state
    last = 0
    since: tuple[str, ...] = ()
    for i, state in enumerate(states):
        if state.after_listen:
            user_turn = turn_context(states[: i + 1])
            last, since = i, ()
            out.append(user_turn)
        elif user_turn is None:
            since += _actions(states[i : i + 1]) if i else ()
            out.append(TurnContext(since_user=since))
        else:
            since += _actions(states[i : i + 1])
            changed = _changed_slots(states[last], state)
            out.append(replace(user_turn, since_user=since, bot_changed=changed))
    return out


def _actions(states: Sequence[State]) -> tuple[str, ...]:
    """The actions that ran before each of ``states`` (listens left out)."""
    return tuple(
        name
        for state in states
        if (name := state.prev_action) is not None and name != ACTION_LISTEN
    )
