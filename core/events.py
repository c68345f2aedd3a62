"""Conversation events, serialized exactly as Rasa's event JSON (``{"event": "user", ...}``).

Every Rasa 3.6 event type (rasa/shared/core/events.py) is a dataclass here. ``to_dict()`` gives
the dict Rasa's ``Event.as_dict()`` gives (same keys, same value shapes), and
:func:`event_from_dict` / :func:`events_from_list` parse Rasa's JSON, the JSON rasa_sdk actions
return (``null`` timestamps and parse data included) and Rasa's legacy ``form`` /
``form_validation`` events. Events are plain data: :class:`core.tracker.Tracker` applies them.

Attribute names follow Rasa's classes (``SlotSet.key``, ``ActionExecuted.action_name``, ...) so
Rasa code ports over; the JSON keys are Rasa's (``"name"``, ``"value"``, ...).
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, NoReturn


class EventError(ValueError):
    """An event dict that is not valid Rasa event JSON; the message says which and why."""


@dataclass(kw_only=True)
class Event:
    """Base of all events: a ``timestamp`` (seconds since the epoch) and optional metadata."""

    type_name: ClassVar[str] = "event"

    timestamp: float = field(default_factory=time.time)
    metadata: dict[str, Any] = field(default_factory=dict)
    # the JSON text a store wrote this very object as (keep_stored_text); not event data
    stored_json: str | None = field(default=None, init=False, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        # a copy (copy, deepcopy, pickle) may be changed before it is stored: no stored text
        state = dict(self.__dict__)
        state["stored_json"] = None
        return state

    def to_dict(self) -> dict[str, Any]:
        """Rasa's event JSON for this event."""
        out: dict[str, Any] = {"event": self.type_name, "timestamp": self.timestamp}
        if self.metadata:
            out["metadata"] = self.metadata
        return out


@dataclass
class UserUttered(Event):
    """The user said something; ``parse_data`` is the full NLU result."""

    type_name: ClassVar[str] = "user"

    text: str | None = None
    intent: dict[str, Any] = field(default_factory=dict)
    entities: list[dict[str, Any]] = field(default_factory=list)
    parse_data: dict[str, Any] = field(default_factory=dict)
    input_channel: str | None = None
    message_id: str | None = None
    # how policies featurize this message (text for end-to-end, else intent); not serialized
    use_text_for_featurization: bool | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        # as Rasa: parse_data holds intent, entities, text, message_id and metadata, and
        # whatever the NLU result adds (intent_ranking, response_selector, ...)
        merged: dict[str, Any] = {
            "intent": self.intent,
            "entities": list(self.entities),
            "text": self.text,
            "message_id": self.message_id,
            "metadata": self.metadata,
        }
        merged.update(self.parse_data)
        self.parse_data = merged
        if self.text and not self.intent_name:
            self.use_text_for_featurization = True
        elif self.intent_name and not self.text:
            self.use_text_for_featurization = False

    @property
    def intent_name(self) -> str | None:
        name = self.intent.get("name")
        return name if isinstance(name, str) else None

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(
            {
                "text": self.text,
                "parse_data": self.parse_data,
                "input_channel": self.input_channel,
                "message_id": self.message_id,
                "metadata": self.metadata,
            }
        )
        return out


@dataclass
class DefinePrevUserUtteredFeaturization(Event):
    """Whether the action after the last user message was predicted from text or intent."""

    type_name: ClassVar[str] = "user_featurization"

    use_text_for_featurization: bool

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"use_text_for_featurization": self.use_text_for_featurization}


@dataclass
class EntitiesAdded(Event):
    """Entities added to the latest user message (by policies or slot extraction)."""

    type_name: ClassVar[str] = "entities"

    entities: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"entities": self.entities}


BOT_DATA_KEYS = ("elements", "quick_replies", "buttons", "attachment", "image", "custom")


@dataclass
class BotUttered(Event):
    """The bot said something; ``data`` holds buttons, image, attachment, custom, ..."""

    type_name: ClassVar[str] = "bot"

    text: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_message(cls, message: Mapping[str, Any]) -> BotUttered:
        """The event for a rendered response, as Rasa's ``create_bot_utterance``.

        Keys of :data:`BOT_DATA_KEYS` go to ``data`` (an image doubles as the attachment when
        there is none, a Rasa legacy), every other key but ``text`` goes to ``metadata``.
        """
        rest = dict(message)
        text = rest.pop("text", None)
        data = {key: rest.pop(key, None) for key in BOT_DATA_KEYS}
        data["attachment"] = data["attachment"] or data["image"]
        return cls(text=text, data=data, metadata=rest)

    def message(self) -> dict[str, Any]:
        """The response as one flat dict for an output channel (Rasa's ``message()``)."""
        out = dict(self.data)
        out["text"] = self.text
        out["timestamp"] = self.timestamp
        out.update(self.metadata)
        if out.get("image") == out.get("attachment"):
            out["attachment"] = None
        return out

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update({"text": self.text, "data": self.data, "metadata": self.metadata})
        return out


@dataclass
class SlotSet(Event):
    """Set slot ``key`` to ``value`` (JSON: ``name``, ``value``)."""

    type_name: ClassVar[str] = "slot"

    key: str
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"name": self.key, "value": self.value}


@dataclass
class Restarted(Event):
    """Start the conversation over: all state is reset, ``action_session_start`` follows."""

    type_name: ClassVar[str] = "restart"


@dataclass
class UserUtteranceReverted(Event):
    """Undo everything back to and including the latest user message (``rewind``)."""

    type_name: ClassVar[str] = "rewind"


@dataclass
class AllSlotsReset(Event):
    """Reset every slot to its initial value."""

    type_name: ClassVar[str] = "reset_slots"


@dataclass
class ReminderScheduled(Event):
    """Trigger ``intent`` at ``trigger_date_time`` (JSON: ``date_time`` in ISO format)."""

    type_name: ClassVar[str] = "reminder"

    intent: str
    trigger_date_time: datetime
    # rasa_sdk allows a list of entity dicts or a {entity: value} dict
    entities: list[dict[str, Any]] | dict[str, Any] | None = None
    name: str = field(default_factory=lambda: str(uuid.uuid1()))
    kill_on_user_message: bool = True

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {
            "intent": self.intent,
            "date_time": self.trigger_date_time.isoformat(),
            "entities": self.entities,
            "name": self.name,
            "kill_on_user_msg": self.kill_on_user_message,
        }


@dataclass
class ReminderCancelled(Event):
    """Cancel reminders matching name / intent / entities (all ``None``: every reminder).

    Rasa 3.6's ``as_dict`` forgets these three fields; we write them as rasa_sdk does, so the
    event survives a round trip (Rasa reads them back unchanged).
    """

    type_name: ClassVar[str] = "cancel_reminder"

    name: str | None = None
    intent: str | None = None
    entities: list[dict[str, Any]] | dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {
            "name": self.name,
            "intent": self.intent,
            "entities": self.entities,
        }


@dataclass
class ActionReverted(Event):
    """Undo the latest action and what it set (``undo``)."""

    type_name: ClassVar[str] = "undo"


@dataclass
class StoryExported(Event):
    """The conversation was exported as a story (``path`` is written only when set)."""

    type_name: ClassVar[str] = "export"

    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.path is not None:
            out["path"] = self.path
        return out


@dataclass
class FollowupAction(Event):
    """Run ``action_name`` next, without asking the policies."""

    type_name: ClassVar[str] = "followup"

    action_name: str

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"name": self.action_name}


@dataclass
class ConversationPaused(Event):
    """Stop answering the user (a human takes over)."""

    type_name: ClassVar[str] = "pause"


@dataclass
class ConversationResumed(Event):
    """The bot answers again after a pause."""

    type_name: ClassVar[str] = "resume"


@dataclass
class ActionExecuted(Event):
    """An action ran (``action_name``), or an end-to-end bot text was predicted."""

    type_name: ClassVar[str] = "action"

    action_name: str | None = None
    policy: str | None = None
    confidence: float | None = None
    action_text: str | None = None
    hide_rule_turn: bool = False

    def __post_init__(self) -> None:
        if self.action_name is None and self.action_text is None:
            raise ValueError("ActionExecuted needs an action name or an end-to-end action text")

    def as_sub_state(self) -> dict[str, str]:
        """``{"action_name": ...}`` or, for end-to-end predictions, ``{"action_text": ...}``."""
        if self.action_name:
            return {"action_name": self.action_name}
        return {"action_text": self.action_text or ""}

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {
            "name": self.action_name,
            "policy": self.policy,
            "confidence": self.confidence,
            "action_text": self.action_text,
            "hide_rule_turn": self.hide_rule_turn,
        }


@dataclass
class AgentUttered(Event):
    """The agent (a human or another system) said something to the user."""

    type_name: ClassVar[str] = "agent"

    text: str | None = None
    data: Any = None

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"text": self.text, "data": self.data}


@dataclass
class ActiveLoop(Event):
    """Activate the loop (form) ``name``; ``None`` deactivates the active loop."""

    type_name: ClassVar[str] = "active_loop"

    name: str | None

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"name": self.name}


@dataclass
class LoopInterrupted(Event):
    """The active loop was (not) interrupted: another policy predicted the last action."""

    type_name: ClassVar[str] = "loop_interrupted"

    is_interrupted: bool

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"is_interrupted": self.is_interrupted}


@dataclass
class ActionExecutionRejected(Event):
    """An action (usually the active loop) refused to run."""

    type_name: ClassVar[str] = "action_execution_rejected"

    action_name: str
    policy: str | None = None
    confidence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {
            "name": self.action_name,
            "policy": self.policy,
            "confidence": self.confidence,
        }


@dataclass
class SessionStarted(Event):
    """A new conversation session starts; all state is reset."""

    type_name: ClassVar[str] = "session_started"


@dataclass
class UnreadableEvent(Event):
    """Stands where a store holds an event it cannot read back (written by an older version,
    or by hand): it keeps the conversation's numbering, changes no state, and is left out of
    every tracker dump and export. ``reason`` says what is wrong with it."""

    type_name: ClassVar[str] = "unreadable"

    seq: int
    reason: str


# -- parsing ------------------------------------------------------------------------------------


class _Reader:
    """Typed access to one event dict; every failure names the event and the field."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        self.data = data
        self.where = where

    def fail(self, message: str) -> NoReturn:
        raise EventError(f"{self.where}: {message}")

    def _typed(self, key: str, kinds: tuple[type, ...], expected: str, required: bool) -> Any:
        value = self.data.get(key)
        if value is None:
            if required:
                self.fail(f"missing required field '{key}'")
            return None
        # bool is an int subclass: never accept it as a number, nor a number as a bool
        if not isinstance(value, kinds) or (value.__class__ is bool and bool not in kinds):
            self.fail(f"field '{key}' must be {expected}, got {_describe(value)}")
        return value

    def string(self, key: str) -> str | None:
        value: str | None = self._typed(key, (str,), "a string", False)
        return value

    def required_string(self, key: str) -> str:
        value: str = self._typed(key, (str,), "a string", True)
        return value

    def number(self, key: str) -> float | None:
        value = self._typed(key, (int, float), "a number", False)
        if value is None:
            return None
        try:
            number = float(value)
        except OverflowError:  # an integer past float's range (JSON allows any digits)
            self.fail(f"field '{key}' must be a finite number, got an integer too large")
        if not math.isfinite(number):
            self.fail(f"field '{key}' must be a finite number, got {value!r}")
        return number

    def boolean(self, key: str, default: bool) -> bool:
        value = self._typed(key, (bool,), "true or false", False)
        return default if value is None else bool(value)

    def required_boolean(self, key: str) -> bool:
        return bool(self._typed(key, (bool,), "true or false", True))

    def mapping(self, key: str) -> dict[str, Any]:
        return dict(self._typed(key, (dict,), "an object", False) or {})

    def entities(self, key: str, *, required: bool = False) -> list[dict[str, Any]]:
        """A list of entity objects: ``entity`` text, ``start``/``end`` whole numbers,
        ``role``/``group`` text and ``confidence`` a number where given (``value``: any)."""
        value = self._typed(key, (list,), "a list", required) or []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                self.fail(f"'{key}' item {i} must be an object, got {_describe(item)}")
            entity = _Reader(item, f"{self.where} '{key}' item {i}")
            entity.required_string("entity")
            for name in ("role", "group"):
                entity.string(name)
            for name in ("start", "end"):
                entity._typed(name, (int,), "a whole number", False)
            entity.number("confidence")
        return list(value)

    def intent(self, key: str) -> dict[str, Any]:
        """An intent object: ``name`` text (or null), ``confidence`` a number."""
        value = self.mapping(key)
        intent = _Reader(value, f"{self.where} '{key}'")
        intent.string("name")
        intent.number("confidence")
        return value

    def reminder_entities(self, key: str) -> list[dict[str, Any]] | dict[str, Any] | None:
        value: list[dict[str, Any]] | dict[str, Any] | None = self._typed(
            key, (list, dict), "a list or an object", False
        )
        return value

    def base(self) -> dict[str, Any]:
        """``timestamp`` (now when absent or null, as Rasa) and ``metadata``."""
        timestamp = self.number("timestamp")
        return {
            "timestamp": time.time() if timestamp is None else timestamp,
            "metadata": self.mapping("metadata"),
        }


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else "a string"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _user(r: _Reader) -> Event:
    parse_data = r.mapping("parse_data")
    pd = _Reader(parse_data, f"{r.where} parse_data")
    intent = pd.intent("intent")
    entities = pd.entities("entities")
    pd.string("text")
    pd.string("message_id")
    pd.mapping("metadata")
    ranking = pd._typed("intent_ranking", (list,), "a list", False) or []
    for i, item in enumerate(ranking):
        if not isinstance(item, dict):
            pd.fail(f"'intent_ranking' item {i} must be an object, got {_describe(item)}")
        _Reader(item, f"{pd.where} 'intent_ranking' item {i}").number("confidence")
    return UserUttered(
        text=r.string("text"),
        intent=intent,
        entities=entities,
        parse_data=parse_data,
        input_channel=r.string("input_channel"),
        message_id=r.string("message_id"),
        **r.base(),
    )


def _bot(r: _Reader) -> Event:
    return BotUttered(text=r.string("text"), data=r.mapping("data"), **r.base())


def _reminder(r: _Reader) -> Event:
    raw = r.required_string("date_time")
    try:
        trigger = datetime.fromisoformat(raw)
    except ValueError:
        r.fail(f"field 'date_time' must be an ISO 8601 date-time, got {raw!r}")
    name = r.string("name")
    return ReminderScheduled(
        intent=r.required_string("intent"),
        trigger_date_time=trigger,
        entities=r.reminder_entities("entities"),
        # Rasa names an unnamed reminder with a fresh uuid1
        name=name if name is not None else str(uuid.uuid1()),
        kill_on_user_message=r.boolean("kill_on_user_msg", True),
        **r.base(),
    )


def _action(r: _Reader) -> Event:
    name = r.string("name")
    text = r.string("action_text")
    if name is None and text is None:
        r.fail("missing required field 'name' (or 'action_text' for an end-to-end action)")
    return ActionExecuted(
        action_name=name,
        policy=r.string("policy"),
        confidence=r.number("confidence"),
        action_text=text,
        hide_rule_turn=r.boolean("hide_rule_turn", False),
        **r.base(),
    )


def _simple(cls: type[Event]) -> Callable[[_Reader], Event]:
    return lambda r: cls(**r.base())


_PARSERS: dict[str, Callable[[_Reader], Event]] = {
    "user": _user,
    "user_featurization": lambda r: DefinePrevUserUtteredFeaturization(
        r.required_boolean("use_text_for_featurization"), **r.base()
    ),
    "entities": lambda r: EntitiesAdded(r.entities("entities", required=True), **r.base()),
    "bot": _bot,
    "slot": lambda r: SlotSet(r.required_string("name"), r.data.get("value"), **r.base()),
    "restart": _simple(Restarted),
    "rewind": _simple(UserUtteranceReverted),
    "reset_slots": _simple(AllSlotsReset),
    "reminder": _reminder,
    "cancel_reminder": lambda r: ReminderCancelled(
        r.string("name"), r.string("intent"), r.reminder_entities("entities"), **r.base()
    ),
    "undo": _simple(ActionReverted),
    "export": lambda r: StoryExported(r.string("path"), **r.base()),
    "followup": lambda r: FollowupAction(r.required_string("name"), **r.base()),
    "pause": _simple(ConversationPaused),
    "resume": _simple(ConversationResumed),
    "action": _action,
    "agent": lambda r: AgentUttered(r.string("text"), r.data.get("data"), **r.base()),
    "active_loop": lambda r: ActiveLoop(r.string("name"), **r.base()),
    # Rasa 1.x name of active_loop, written back as active_loop
    "form": lambda r: ActiveLoop(r.string("name"), **r.base()),
    "loop_interrupted": lambda r: LoopInterrupted(r.boolean("is_interrupted", False), **r.base()),
    # Rasa 1.x name of loop_interrupted: validate = not interrupted
    "form_validation": lambda r: LoopInterrupted(not r.boolean("validate", True), **r.base()),
    "action_execution_rejected": lambda r: ActionExecutionRejected(
        r.required_string("name"), r.string("policy"), r.number("confidence"), **r.base()
    ),
    "session_started": _simple(SessionStarted),
}

# -- a cheap proof that a dict parses -------------------------------------------------------------
# What the parsers above accept, checked without building anything, for the event names a
# conversation is mostly made of. Each check says True only for what its parser surely
# accepts, and only through exact types (``str``, ``float``, ``bool``, ``None``, ``dict``,
# ``list``; an ``int`` only where the parser takes it as it is): a subclass, an ``int`` where a
# number goes (``float()`` of a huge one overflows), anything unusual answers False, and
# parsing decides. tests/core/test_events.py compares them with the parsers (hypothesis).


_TEXT = frozenset({str, type(None)})
_OBJECT = frozenset({dict, type(None)})
_FLAG = frozenset({bool, type(None)})
_WHOLE = frozenset({int, type(None)})


def _finite(value: Any) -> bool:
    """A finite float or None (what ``_Reader.number`` takes, an int aside)."""
    return value is None or (type(value) is float and value - value == 0.0)


def _base_parses(data: dict[str, Any]) -> bool:
    timestamp = data.get("timestamp")
    return (timestamp is None or (type(timestamp) is float and timestamp - timestamp == 0.0)) and (
        type(data.get("metadata")) in _OBJECT
    )


def _entities_parse(entities: Any) -> bool:
    if entities is None:
        return True
    if type(entities) is not list:
        return False
    for entity in entities:
        if not (
            type(entity) is dict
            and type(entity.get("entity")) is str
            and type(entity.get("role")) in _TEXT
            and type(entity.get("group")) in _TEXT
            and type(entity.get("start")) in _WHOLE
            and type(entity.get("end")) in _WHOLE
            and _finite(entity.get("confidence"))
        ):
            return False
    return True


def _user_parses(data: dict[str, Any]) -> bool:
    parse_data = data.get("parse_data")
    if parse_data is not None:
        if type(parse_data) is not dict:
            return False
        intent = parse_data.get("intent")
        if intent is not None and not (
            type(intent) is dict
            and type(intent.get("name")) in _TEXT
            and _finite(intent.get("confidence"))
        ):
            return False
        ranking = parse_data.get("intent_ranking")
        if ranking is not None:
            if type(ranking) is not list:
                return False
            for item in ranking:
                if not (type(item) is dict and _finite(item.get("confidence"))):
                    return False
        if not (
            type(parse_data.get("text")) in _TEXT
            and type(parse_data.get("message_id")) in _TEXT
            and type(parse_data.get("metadata")) in _OBJECT
            and _entities_parse(parse_data.get("entities"))
        ):
            return False
    return (
        type(data.get("text")) in _TEXT
        and type(data.get("input_channel")) in _TEXT
        and type(data.get("message_id")) in _TEXT
        and _base_parses(data)
    )


def _action_parses(data: dict[str, Any]) -> bool:
    name, text = data.get("name"), data.get("action_text")
    confidence = data.get("confidence")
    return (
        (type(name) is str or (name is None and type(text) is str))
        and type(text) in _TEXT
        and type(data.get("policy")) in _TEXT
        and (confidence is None or (type(confidence) is float and confidence - confidence == 0.0))
        and type(data.get("hide_rule_turn")) in _FLAG
        and _base_parses(data)
    )


_PARSES: dict[str, Callable[[dict[str, Any]], bool]] = {
    "user": _user_parses,
    "user_featurization": lambda d: (
        type(d.get("use_text_for_featurization")) is bool and _base_parses(d)
    ),
    "bot": lambda d: (
        type(d.get("text")) in _TEXT and type(d.get("data")) in _OBJECT and _base_parses(d)
    ),
    "slot": lambda d: type(d.get("name")) is str and _base_parses(d),
    "action": _action_parses,
    "active_loop": lambda d: type(d.get("name")) in _TEXT and _base_parses(d),
    "session_started": _base_parses,
}


def surely_parses(data: dict[str, Any]) -> bool:
    """True only when :func:`event_from_dict` surely parses ``data`` (a dict); False when
    that is not known (an event name without a check here, or an unusual value): parse it."""
    name = data.get("event")
    check = _PARSES.get(name) if type(name) is str else None
    return check is not None and check(data)


EVENT_TYPES: tuple[type[Event], ...] = (
    UserUttered,
    DefinePrevUserUtteredFeaturization,
    EntitiesAdded,
    BotUttered,
    SlotSet,
    Restarted,
    UserUtteranceReverted,
    AllSlotsReset,
    ReminderScheduled,
    ReminderCancelled,
    ActionReverted,
    StoryExported,
    FollowupAction,
    ConversationPaused,
    ConversationResumed,
    ActionExecuted,
    AgentUttered,
    ActiveLoop,
    LoopInterrupted,
    ActionExecutionRejected,
    SessionStarted,
)

# Rasa 1.x/2.x stored "topic" events; Rasa skips them when reading (Event.resolve_by_type)
_SKIPPED_LEGACY = frozenset({"topic"})


def _where(index: int | None, name: str | None) -> str:
    """``'slot' event``, ``event 3 ('slot')``, ``event 3`` or ``event``."""
    if index is None:
        return f"'{name}' event" if name else "event"
    return f"event {index} ('{name}')" if name else f"event {index}"


def event_from_dict(data: Any, index: int | None = None) -> Event:
    """Parse one Rasa event dict; ``index`` (its position in a list) goes into error messages.

    Raises :class:`EventError` for a non-object, a missing or unknown ``event`` name, a missing
    required field or a field of the wrong type.
    """
    # a dict without the abstract-class check (every stored event is read back on append)
    if data.__class__ is not dict and not isinstance(data, Mapping):
        raise EventError(f"{_where(index, None)}: expected an object, got {_describe(data)}")
    name = data.get("event")
    if name is None:
        raise EventError(f"{_where(index, None)}: missing required field 'event'")
    if not isinstance(name, str):
        raise EventError(f"{_where(index, None)}: field 'event' must be a string")
    parser = _PARSERS.get(name)
    if parser is None:
        known = ", ".join(sorted(_PARSERS))
        raise EventError(f"{_where(index, name)}: unknown event name {name!r} (known: {known})")
    return parser(_Reader(data, _where(index, name)))


def check_parse_data(parse_data: Any) -> dict[str, Any]:
    """``parse_data`` as a user event carries it (an HTTP API caller's NLU result), checked as
    the stores read it back; :class:`EventError` names the field otherwise, e.g.
    ``parse_data: field 'entities' must be a list, got 'abc'``."""
    if not isinstance(parse_data, Mapping):
        raise EventError(f"parse_data: expected an object, got {_describe(parse_data)}")
    _user(_Reader({"parse_data": dict(parse_data)}, "user event"))
    return dict(parse_data)


def events_from_list(items: Iterable[Any]) -> list[Event]:
    """Parse a list of Rasa event dicts (skipping legacy ``topic`` events, as Rasa does).

    Errors name the index of the bad event, e.g. ``event 3 ('slot'): missing required field
    'name'``.
    """
    if isinstance(items, (str, bytes, Mapping)):
        raise EventError(f"expected a list of events, got {_describe(items)}")
    return [
        event_from_dict(item, i)
        for i, item in enumerate(items)
        if not (isinstance(item, Mapping) and item.get("event") in _SKIPPED_LEGACY)
    ]


# -- the JSON of stored events --------------------------------------------------------------------


def keep_stored_text(event: Event, text: str) -> None:
    """Remember ``text``, the JSON ``event`` is stored as (a store's checked form of it).

    A stored event is final: trackers never change their events, so whoever needs the
    event's JSON later (the tracker an in-process action receives) can take this text
    instead of serializing the event again. The text lives as long as the event: on the
    event itself, not in a table beside it that the garbage collector would walk (a copy of
    the event has none, see ``Event.__getstate__``).
    """
    event.stored_json = text


def stored_text(event: Event) -> str | None:
    """The JSON text ``event`` (this very object) was stored as, if it is remembered."""
    return event.stored_json
