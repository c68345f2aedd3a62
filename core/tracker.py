"""The conversation tracker: the state one conversation's events add up to.

Matches Rasa 3.6's ``DialogueStateTracker`` (rasa/shared/core/trackers.py) together with each
event's ``apply_to`` (rasa/shared/core/events.py): the same replay, the same restart / rewind /
undo / session semantics, the same ``applied_events()`` (loop happy-path collapsing included)
and the same ``current_state()`` dict, which is the tracker JSON of Rasa's HTTP API and of the
action-server protocol. Events are never modified; ``events`` only grows.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, TypeVar, cast

from chinwag.core.domain import REQUESTED_SLOT, Domain
from chinwag.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    DefinePrevUserUtteredFeaturization,
    EntitiesAdded,
    Event,
    FollowupAction,
    LoopInterrupted,
    Restarted,
    SessionStarted,
    SlotSet,
    UnreadableEvent,
    UserUtteranceReverted,
    UserUttered,
    events_from_list,
)
from chinwag.core.slots import Slot

logger = logging.getLogger(__name__)

ACTION_LISTEN_NAME = "action_listen"
ACTION_SESSION_START_NAME = "action_session_start"
KNOWLEDGE_BASE_ACTION_NAME = "action_query_knowledge_base"
KNOWLEDGE_BASE_SLOTS = (
    "knowledge_base_listed_objects",
    "knowledge_base_last_object",
    "knowledge_base_last_object_type",
)
SESSION_STARTED_METADATA_SLOT = "session_started_metadata"
# placeholder loop name Rasa uses in rule data; it never counts as an active loop
SHOULD_NOT_BE_SET = "should_not_be_set"

Verbosity = Literal["all", "applied", "after_restart", "none"]
E = TypeVar("E", bound=Event)
T = TypeVar("T")


@dataclasses.dataclass
class TrackerActiveLoop:
    """The active loop (form) as Rasa 3.6 keeps it; ``current_state`` dumps it as a dict."""

    name: str | None
    is_interrupted: bool = False
    rejected: bool = False
    trigger_message: dict[str, Any] | None = None


def slot_definitions(domain: Domain) -> dict[str, Slot]:
    """The domain's slots plus the default slots Rasa 3.6's Domain adds.

    ``requested_slot`` (text, not featurized) and ``session_started_metadata`` (any) always;
    the three ``knowledge_base_*`` slots only when the bot declares
    ``action_query_knowledge_base`` (rasa/shared/core/domain.py ``_add_default_slots``).
    """
    slots = dict(domain.slots)
    defaults = [(REQUESTED_SLOT, "text")]
    if KNOWLEDGE_BASE_ACTION_NAME in domain.actions:
        defaults += [(name, "any") for name in KNOWLEDGE_BASE_SLOTS]
    defaults.append((SESSION_STARTED_METADATA_SLOT, "any"))
    for name, slot_type in defaults:
        if name not in slots:
            slots[name] = Slot(name, type=slot_type, influence_conversation=False)
    return slots


class Tracker:
    """One conversation: its events (all of them, append-only) and the state they give.

    With ``domain=None`` every slot name is accepted and created on first use (Rasa's
    ``AnySlotDict``); with a domain, setting an undeclared slot is logged and ignored, as Rasa.
    """

    def __init__(self, sender_id: str, domain: Domain | None, events: Iterable[Event] = ()) -> None:
        self.sender_id = sender_id
        self.domain = domain
        self.slot_defs: dict[str, Slot] = slot_definitions(domain) if domain is not None else {}
        self.events: list[Event] = []
        # current state, re-creatable by replaying the events; initialised by _reset()
        self.slots: dict[str, Any] = {}
        self.paused = False
        self.followup_action: str | None = ACTION_LISTEN_NAME
        self.latest_action: dict[str, str] = {}
        self.latest_message = UserUttered()
        self.latest_bot_utterance = BotUttered()
        self.active_loop: TrackerActiveLoop | None = None
        # values computed from the events (policy states...), dropped by every update
        self._derived: dict[Any, Any] = {}
        # work kept across updates by its owner, which checks it is still valid (not copied)
        self.memo: dict[Any, Any] = {}
        # applied_events(), folded incrementally: the first _applied_count events give
        # _applied under the loop names _applied_loops
        self._loop_names: set[str] = set()
        self._applied: list[Event] = []
        self._applied_count = 0
        self._applied_loops: set[str] = set()
        self._reset()
        self.update_all(events)

    @classmethod
    def from_dict(cls, sender_id: str, events: Iterable[Any], domain: Domain | None) -> Tracker:
        """Rebuild a tracker from stored event dicts (raises ``EventError`` naming the index)."""
        return cls(sender_id, domain, events_from_list(events))

    # -- updating -------------------------------------------------------------------------------

    def update(self, event: Event) -> None:
        """Append ``event`` and apply it to the state."""
        if not isinstance(event, Event):
            raise TypeError(f"expected an Event, got {type(event).__name__}")
        self.events.append(event)
        self._derived.clear()
        if isinstance(event, ActiveLoop) and event.name:
            self._loop_names.add(event.name)
        self._apply(event)

    def update_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.update(event)

    def _apply(self, event: Event) -> None:
        """What Rasa's ``event.apply_to(tracker)`` does for each event type (no event type is
        another's subclass: the most frequent come first)."""
        match event:
            case ActionExecuted():
                self._set_latest_action(event.as_sub_state())
                self.followup_action = None
            case SlotSet():
                self._set_slot(event.key, event.value)
            case UserUttered():
                # a private copy: EntitiesAdded and featurization events change it, not the event
                self.latest_message = _private_message(event)
                self.followup_action = None
            case BotUttered():
                self.latest_bot_utterance = event
            case DefinePrevUserUtteredFeaturization():
                if self.latest_action_name == ACTION_LISTEN_NAME:
                    self.latest_message.use_text_for_featurization = (
                        event.use_text_for_featurization
                    )
            case EntitiesAdded():
                if self.latest_action_name == ACTION_LISTEN_NAME:
                    for entity in event.entities:
                        if entity not in self.latest_message.entities:
                            self.latest_message.entities.append(entity)
            case Restarted():
                self._reset()
                self.followup_action = ACTION_SESSION_START_NAME
            case UserUtteranceReverted() | ActionReverted():
                self._reset()
                for applied in self._applied_events():
                    self._apply(applied)
            case AllSlotsReset():
                self._reset_slots()
            case FollowupAction():
                self.followup_action = event.action_name
            case ConversationPaused():
                self.paused = True
            case ConversationResumed():
                self.paused = False
            case ActiveLoop():
                self._change_loop_to(event.name)
            case LoopInterrupted():
                if self.active_loop is not None:
                    self.active_loop.is_interrupted = event.is_interrupted
            case ActionExecutionRejected():
                if self.active_loop is not None and event.action_name == self.active_loop_name:
                    self.active_loop.rejected = True
            case SessionStarted():
                self._reset()
            # reminders, agent utterances and story exports leave the state as it is

    def _reset(self) -> None:
        """Back to the initial state (the events stay)."""
        self._reset_slots()
        self.paused = False
        self.latest_action = {}
        self.latest_message = UserUttered()
        self.latest_bot_utterance = BotUttered()
        self.followup_action = ACTION_LISTEN_NAME
        self.active_loop = None

    def _reset_slots(self) -> None:
        self.slots = {name: copy.deepcopy(s.initial_value) for name, s in self.slot_defs.items()}

    def _set_slot(self, name: str, value: Any) -> None:
        if name not in self.slot_defs:
            if self.domain is not None:
                logger.error("Tried to set non existent slot '%s'. Declare it in the domain.", name)
                return
            self.slot_defs[name] = Slot(name, type="any", influence_conversation=False)
        self.slots[name] = value

    def _set_latest_action(self, action: dict[str, str]) -> None:
        self.latest_action = action
        if self.active_loop is not None and self.active_loop_name:
            self.active_loop.is_interrupted = False
        if self.active_loop is not None and action.get("action_name") == self.active_loop_name:
            self.active_loop.rejected = False

    def _change_loop_to(self, name: str | None) -> None:
        if name is None:
            self.active_loop = None
        else:
            # its own dict (Rasa shares the message's); what is inside belongs to the user
            # event, which nothing changes (a deep copy cost every replay of a form's start)
            trigger = dict(self.latest_message.parse_data)
            self.active_loop = TrackerActiveLoop(name, False, False, trigger)

    # -- reading state ----------------------------------------------------------------------------

    def get_slot(self, name: str) -> Any:
        """The slot's value; ``None`` (and a log line) for a slot that does not exist."""
        if name not in self.slots:
            logger.info("Tried to access non existent slot '%s'", name)
            return None
        return self.slots[name]

    @property
    def latest_action_name(self) -> str | None:
        """The last action's name, or its text for an end-to-end bot utterance."""
        return self.latest_action.get("action_name") or self.latest_action.get("action_text")

    @property
    def active_loop_name(self) -> str | None:
        if self.active_loop is None or self.active_loop.name == SHOULD_NOT_BE_SET:
            return None
        return self.active_loop.name

    @property
    def is_active_loop_rejected(self) -> bool:
        return self.active_loop is not None and self.active_loop.rejected

    @property
    def is_active_loop_interrupted(self) -> bool:
        return self.active_loop is not None and self.active_loop.is_interrupted

    @property
    def latest_input_channel(self) -> str | None:
        """The input channel of the last user message among all events (as Rasa)."""
        for event in reversed(self.events):
            if isinstance(event, UserUttered):
                return event.input_channel
        return None

    def get_latest_entity_values(
        self, entity_type: str, role: str | None = None, group: str | None = None
    ) -> Iterator[Any]:
        """Values of the latest message's entities of that type, role and group."""
        return (
            entity.get("value")
            for entity in self.latest_message.entities
            if entity.get("entity") == entity_type
            and entity.get("role") == role
            and entity.get("group") == group
        )

    def current_state(self, verbosity: Verbosity = "none") -> dict[str, Any]:
        """The tracker as Rasa's HTTP API and action-server protocol send it.

        ``verbosity`` picks the events included: ``all``, ``applied`` (enough to rebuild the
        state), ``after_restart``, or ``none`` (``"events": null``).
        """
        events = self._events_for_verbosity(verbosity)
        latest_message = dict(self.latest_message.parse_data)
        # entities added by policies / slot extraction show up beside the NLU ones
        latest_message["entities"] = list(self.latest_message.entities)
        return {
            "sender_id": self.sender_id,
            "slots": dict(self.slots),
            "latest_message": latest_message,
            "latest_event_time": self.events[-1].timestamp if self.events else None,
            "followup_action": self.followup_action,
            "paused": self.paused,
            "events": None
            if events is None
            else [e.to_dict() for e in events if not isinstance(e, UnreadableEvent)],
            "latest_input_channel": self.latest_input_channel,
            # shallow, as the slots and latest_message above: every caller sends it as JSON
            "active_loop": _loop_dict(self.active_loop) if self.active_loop else {},
            "latest_action": dict(self.latest_action),
            "latest_action_name": self.latest_action_name,
        }

    def _events_for_verbosity(self, verbosity: Verbosity) -> list[Event] | None:
        if verbosity == "all":
            return list(self.events)
        if verbosity == "after_restart":
            return self.events_after_latest_restart()
        if verbosity == "applied":
            return self.applied_events()
        if verbosity == "none":
            return None
        raise ValueError(f"unknown event verbosity {verbosity!r}")

    # -- event history ----------------------------------------------------------------------------

    def idx_after_latest_restart(self) -> int:
        """Index of the first event after the latest ``restart`` (0 if never restarted)."""
        for i in range(len(self.events) - 1, -1, -1):
            if isinstance(self.events[i], Restarted):
                return i + 1
        return 0

    def events_after_latest_restart(self) -> list[Event]:
        return self.events[self.idx_after_latest_restart() :]

    def sessions(self) -> list[int]:
        """Index in ``events`` of each ``session_started`` event, in order."""
        return [i for i, e in enumerate(self.events) if isinstance(e, SessionStarted)]

    def latest_session_events(self) -> list[Event]:
        """Events from the latest ``session_started`` on (all events if there is none).

        What Rasa's SQL and Mongo stores load by default (``_events_since_last_session_start``);
        the ``action_session_start`` just before ``session_started`` is not included.
        """
        starts = self.sessions()
        return self.events[starts[-1] :] if starts else list(self.events)

    def applied_events(self) -> list[Event]:
        """The events that make up the current state: Rasa's ``applied_events()``.

        Restarts and session starts drop everything before them, ``undo`` removes the latest
        action and what followed it, ``rewind`` the latest user message, the action before it
        and what followed. A loop's repeated happy-path runs collapse into its first run: the
        later run and the user turns since the previous run are dropped, their slot events kept.
        """
        return list(self._applied_events())

    def _applied_events(self) -> list[Event]:
        """``applied_events()`` without the copy (do not modify); folds only new events."""
        if self._loop_names != self._applied_loops:
            # a loop never seen before changes how earlier runs of it collapse: start over
            self._applied, self._applied_count = [], 0
            self._applied_loops = set(self._loop_names)
        if self._applied_count < len(self.events):
            for event in self.events[self._applied_count :]:
                self._fold_applied(event)
            self._applied_count = len(self.events)
        return self._applied

    def _fold_applied(self, event: Event) -> None:
        applied = self._applied
        if not isinstance(event, _FOLDED_SPECIALLY):  # most events: one check
            applied.append(event)
            return
        if isinstance(event, UnreadableEvent):
            return  # a damaged stored event: it only keeps the numbering
        if isinstance(event, (Restarted, SessionStarted)):
            applied.clear()
        elif isinstance(event, ActionReverted):
            _undo_till_previous(ActionExecuted, applied)
        elif isinstance(event, UserUtteranceReverted):
            # a user message always follows an action (action_listen): drop both
            _undo_till_previous(UserUttered, applied)
            _undo_till_previous(ActionExecuted, applied)
        elif (
            isinstance(event, ActionExecuted)
            and event.action_name in self._applied_loops
            and not _first_loop_execution_or_unhappy_path(event.action_name, applied)
        ):
            _undo_till_previous_loop_execution(event.action_name, applied)
        else:
            applied.append(event)

    def get_last_event_for(
        self,
        event_type: type[E] | tuple[type[E], ...],
        action_names_to_exclude: Iterable[str] = (),
        skip: int = 0,
        verbosity: Verbosity = "applied",
    ) -> E | None:
        """The last (after ``skip`` matches) event of that type, as Rasa's tracker finds it."""
        excluded = set(action_names_to_exclude)
        matches = (
            e
            for e in reversed(self._events_for_verbosity(verbosity) or [])
            if isinstance(e, event_type)
            and not (isinstance(e, ActionExecuted) and e.action_name in excluded)
        )
        for _ in range(skip):
            next(matches, None)
        return next(matches, None)

    def derived(self, key: Any, compute: Callable[[], T]) -> T:
        """``compute()``, remembered until the next event: lets several policies share work
        (e.g. the dialogue states) on the same tracker without replaying it each time."""
        if key not in self._derived:
            self._derived[key] = compute()
        return cast(T, self._derived[key])

    def drop_memos(self) -> None:
        """Forget what was computed from the events (``memo``, ``derived``): the tracker
        stays the same, its owners compute again what they need next time."""
        self.memo.clear()
        self._derived.clear()

    # -- copies, for policies ---------------------------------------------------------------------

    def init_copy(self) -> Tracker:
        """An empty tracker with the same sender, domain and slot definitions."""
        tracker = Tracker(self.sender_id, self.domain)
        tracker.slot_defs = dict(self.slot_defs)
        tracker._reset_slots()
        return tracker

    def copy(self) -> Tracker:
        """An independent tracker with the same events and state.

        The state is copied, not replayed: it is what replaying the events gives (``update``
        is the only way in), so the copy is cheap however long the conversation is.
        """
        # attribute by attribute, in __init__'s order: the copy keeps Python's compact
        # instance layout (a __dict__.update would make every later attribute read slower)
        tracker = Tracker.__new__(Tracker)
        tracker.sender_id = self.sender_id
        tracker.domain = self.domain
        tracker.slot_defs = dict(self.slot_defs)
        tracker.events = list(self.events)
        if _PLAIN.issuperset(map(type, self.slots.values())):  # no slot holds a container
            tracker.slots = self.slots.copy()
        else:  # containers are copied, anything else shared
            tracker.slots = {
                name: copy.deepcopy(value) if isinstance(value, _CONTAINERS) else value
                for name, value in self.slots.items()
            }
        tracker.paused = self.paused
        tracker.followup_action = self.followup_action
        tracker.latest_action = dict(self.latest_action)
        tracker.latest_message = _private_message(self.latest_message)
        tracker.latest_bot_utterance = self.latest_bot_utterance
        # the trigger message is never changed in place, so the copies share it
        loop = self.active_loop
        if loop is not None:
            loop = TrackerActiveLoop(
                loop.name, loop.is_interrupted, loop.rejected, loop.trigger_message
            )
        tracker.active_loop = loop
        tracker._derived = dict(self._derived)
        tracker.memo = {}
        tracker._loop_names = set(self._loop_names)
        tracker._applied = list(self._applied)
        tracker._applied_count = self._applied_count
        tracker._applied_loops = set(self._applied_loops)
        return tracker

    def generate_all_prior_trackers(self) -> Iterator[tuple[Tracker, bool]]:
        """The tracker as it was before each applied action, then the final one.

        Yields ``(tracker, hide_rule_turn of the next action)``, like Rasa's method of the same
        name; the same tracker object is updated between yields, so read it before advancing.
        """
        tracker = self.init_copy()
        for event in self.applied_events():
            if isinstance(event, ActionExecuted):
                yield tracker, event.hide_rule_turn
            tracker.update(event)
        yield tracker, False


def _loop_dict(loop: TrackerActiveLoop) -> dict[str, Any]:
    """``vars(loop)`` as a new dict, without reading ``__dict__`` (see :func:`_private_message`)."""
    return {
        "name": loop.name,
        "is_interrupted": loop.is_interrupted,
        "rejected": loop.rejected,
        "trigger_message": loop.trigger_message,
    }


def _private_message(message: UserUttered) -> UserUttered:
    """A copy of ``message`` whose entities and parse data can change without changing it
    (no ``__post_init__``: the fields stay as they are).

    Field by field, in their order, and never through ``__dict__``: reading or updating it
    would move both objects to Python's dict-backed attribute layout, which makes every
    later attribute read of them slower (and a generic copy loop cost more than it saved).
    """
    copied = object.__new__(UserUttered)
    copied.timestamp = message.timestamp
    copied.metadata = message.metadata
    copied.text = message.text
    copied.intent = message.intent
    copied.entities = list(message.entities)
    copied.parse_data = dict(message.parse_data)
    copied.input_channel = message.input_channel
    copied.message_id = message.message_id
    copied.use_text_for_featurization = message.use_text_for_featurization
    return copied


# the events _fold_applied does more with than append them
_FOLDED_SPECIALLY = (
    UnreadableEvent,
    Restarted,
    SessionStarted,
    ActionReverted,
    UserUtteranceReverted,
    ActionExecuted,
)
# slot values a copied tracker gets its own copy of
_CONTAINERS = (list, dict, set)
# slot value types that are never containers (checked by exact type, in one C-level pass)
_PLAIN = frozenset({type(None), str, int, float, bool})


def _undo_till_previous(event_type: type[Event], done: list[Event]) -> None:
    """Pop events from ``done`` up to and including the latest one of ``event_type``."""
    while done:
        if isinstance(done.pop(), event_type):
            break


def _first_loop_execution_or_unhappy_path(loop_name: str, applied: list[Event]) -> bool:
    next_action: str | None = None
    for event in reversed(applied):
        # a deactivation before any earlier run: this run starts the loop afresh
        if isinstance(event, ActiveLoop) and event.name is None:
            return True
        if _is_within_unhappy_path(loop_name, event, next_action):
            return True
        if isinstance(event, ActionExecuted):
            if event.action_name == loop_name:
                return False
            next_action = event.action_name
    return True


def _is_within_unhappy_path(loop_name: str, event: Event, next_action: str | None) -> bool:
    # live conversations: the loop rejected its execution
    rejected = isinstance(event, ActionExecutionRejected) and event.action_name == loop_name
    # training data has no rejections: another action ran right after a user message
    other_action_after_user = (
        isinstance(event, UserUttered) and next_action is not None and next_action != loop_name
    )
    return rejected or other_action_after_user


def _undo_till_previous_loop_execution(loop_name: str, done: list[Event]) -> None:
    """Drop the turns since the loop's previous run, keeping slot and other side events."""
    offset = 0
    for event in reversed(done[:]):
        if isinstance(event, ActionExecuted) and event.action_name == loop_name:
            break
        if isinstance(event, (ActionExecuted, UserUttered, DefinePrevUserUtteredFeaturization)):
            del done[-1 - offset]
        else:
            offset += 1
