"""The part of the ``rasa_sdk`` API that bots' ``actions.py`` files use, for bots run without it.

Same names, signatures and results as rasa_sdk 3.x (``rasa_sdk/interfaces.py``, ``events.py``,
``executor.py``, ``forms.py``): events are functions returning Rasa event dicts, the
:class:`Tracker` is built from the action-server tracker JSON, :class:`CollectingDispatcher`
collects messages in the SDK's shape, and :class:`FormValidationAction` runs ``extract_<slot>``
/ ``validate_<slot>`` and the ``required_slots`` override as the SDK does. When rasa_sdk is not
installed, :func:`core.actions.custom.load_actions_module` makes ``import rasa_sdk`` (and its
``events``, ``executor``, ``forms``, ``interfaces``, ``types`` submodules) resolve to this module,
so a Rasa bot's actions run unchanged.
"""

from __future__ import annotations

import copy
import inspect
import logging
import warnings
from abc import ABC
from collections.abc import Iterator
from datetime import datetime
from typing import Any

logger = logging.getLogger(__name__)

EventType = dict[str, Any]
DomainDict = dict[str, Any]
TrackerState = dict[str, Any]
Text = str

ACTION_LISTEN_NAME = "action_listen"
NLU_FALLBACK_INTENT_NAME = "nlu_fallback"
REQUESTED_SLOT = "requested_slot"
ACTION_VALIDATE_SLOT_MAPPINGS = "action_validate_slot_mappings"


async def call_potential_coroutine(value: Any) -> Any:
    """Await ``value`` if it is awaitable (user methods may be sync or async)."""
    if inspect.isawaitable(value):
        return await value
    return value


# -- events (rasa_sdk/events.py) -----------------------------------------------------------------


def UserUttered(
    text: str | None,
    parse_data: dict[str, Any] | None = None,
    timestamp: float | None = None,
    input_channel: str | None = None,
) -> EventType:
    return {
        "event": "user",
        "timestamp": timestamp,
        "text": text,
        "parse_data": parse_data,
        "input_channel": input_channel,
    }


def BotUttered(
    text: str | None = None,
    data: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    timestamp: float | None = None,
) -> EventType:
    return {
        "event": "bot",
        "timestamp": timestamp,
        "text": text,
        "data": data,
        "metadata": metadata,
    }


def SlotSet(key: str, value: Any = None, timestamp: float | None = None) -> EventType:
    return {"event": "slot", "timestamp": timestamp, "name": key, "value": value}


def Restarted(timestamp: float | None = None) -> EventType:
    return {"event": "restart", "timestamp": timestamp}


def SessionStarted(timestamp: float | None = None) -> EventType:
    return {"event": "session_started", "timestamp": timestamp}


def UserUtteranceReverted(timestamp: float | None = None) -> EventType:
    return {"event": "rewind", "timestamp": timestamp}


def AllSlotsReset(timestamp: float | None = None) -> EventType:
    return {"event": "reset_slots", "timestamp": timestamp}


def ReminderScheduled(
    intent_name: str,
    trigger_date_time: datetime,
    entities: list[dict[str, Any]] | dict[str, Any] | None = None,
    name: str | None = None,
    kill_on_user_message: bool = True,
    timestamp: float | None = None,
) -> EventType:
    return {
        "event": "reminder",
        "timestamp": timestamp,
        "intent": intent_name,
        "entities": entities,
        "date_time": trigger_date_time.isoformat(),
        "name": name,
        "kill_on_user_msg": kill_on_user_message,
    }


def ReminderCancelled(
    name: str | None = None,
    intent_name: str | None = None,
    entities: list[dict[str, Any]] | dict[str, Any] | None = None,
    timestamp: float | None = None,
) -> EventType:
    return {
        "event": "cancel_reminder",
        "timestamp": timestamp,
        "intent": intent_name,
        "entities": entities,
        "name": name,
    }


def ActionReverted(timestamp: float | None = None) -> EventType:
    return {"event": "undo", "timestamp": timestamp}


def StoryExported(timestamp: float | None = None) -> EventType:
    return {"event": "export", "timestamp": timestamp}


def FollowupAction(name: str, timestamp: float | None = None) -> EventType:
    return {"event": "followup", "timestamp": timestamp, "name": name}


def ConversationPaused(timestamp: float | None = None) -> EventType:
    return {"event": "pause", "timestamp": timestamp}


def ConversationResumed(timestamp: float | None = None) -> EventType:
    return {"event": "resume", "timestamp": timestamp}


def ActionExecuted(
    action_name: str,
    policy: str | None = None,
    confidence: float | None = None,
    timestamp: float | None = None,
) -> EventType:
    return {
        "event": "action",
        "name": action_name,
        "policy": policy,
        "confidence": confidence,
        "timestamp": timestamp,
    }


def AgentUttered(
    text: str | None = None, data: Any = None, timestamp: float | None = None
) -> EventType:
    return {"event": "agent", "text": text, "data": data, "timestamp": timestamp}


def ActiveLoop(name: str | None, timestamp: float | None = None) -> EventType:
    return {"event": "active_loop", "name": name, "timestamp": timestamp}


def LoopInterrupted(is_interrupted: bool, timestamp: float | None = None) -> EventType:
    return {"event": "loop_interrupted", "is_interrupted": is_interrupted, "timestamp": timestamp}


def ActionExecutionRejected(
    action_name: str,
    policy: str | None = None,
    confidence: float | None = None,
    timestamp: float | None = None,
) -> EventType:
    return {
        "event": "action_execution_rejected",
        "name": action_name,
        "policy": policy,
        "confidence": confidence,
        "timestamp": timestamp,
    }


# -- tracker (rasa_sdk/interfaces.py) ------------------------------------------------------------


class Tracker:
    """The conversation as an action sees it: plain dicts from the tracker JSON."""

    @classmethod
    def from_dict(cls, state: TrackerState) -> Tracker:
        """Build the tracker from the ``tracker`` of an action-server request."""
        return cls(
            state["sender_id"],
            state.get("slots", {}),
            state.get("latest_message", {}),
            state.get("events", []),
            state.get("paused", False),
            state.get("followup_action"),
            state.get("active_loop", state.get("active_form", {})) or {},
            state.get("latest_action_name"),
            state.get("stack", []),
            state.get("user_id"),
        )

    def __init__(
        self,
        sender_id: str,
        slots: dict[str, Any],
        latest_message: dict[str, Any] | None,
        events: list[dict[str, Any]],
        paused: bool,
        followup_action: str | None,
        active_loop: dict[str, Any],
        latest_action_name: str | None,
        stack: list[dict[str, Any]] | None = None,
        user_id: str | None = None,
    ) -> None:
        self.events = events
        self.sender_id = sender_id
        self.slots = slots
        self.followup_action = followup_action
        self._paused = paused
        self.latest_message = latest_message if latest_message else {}
        self.active_loop = active_loop
        self.latest_action_name = latest_action_name
        self.stack = stack if stack else []
        self.user_id = user_id

    def current_state(self) -> dict[str, Any]:
        """The tracker as a dict (the SDK's shape, with ``stack`` and ``user_id``)."""
        return {
            "sender_id": self.sender_id,
            "slots": self.slots,
            "latest_message": self.latest_message,
            "latest_event_time": self.events[-1].get("timestamp") if self.events else None,
            "paused": self.is_paused(),
            "events": self.events,
            "latest_input_channel": self.get_latest_input_channel(),
            "active_loop": self.active_loop,
            "latest_action_name": self.latest_action_name,
            "stack": self.stack,
            "user_id": self.user_id,
        }

    def current_slot_values(self) -> dict[str, Any]:
        return self.slots

    def get_slot(self, key: str) -> Any:
        """The slot's value, ``None`` (and a log line) for an unknown slot."""
        if key in self.slots:
            return self.slots[key]
        logger.info("Tried to access non existent slot '%s'.", key)
        return None

    def get_latest_entity_values(
        self,
        entity_type: str,
        entity_role: str | None = None,
        entity_group: str | None = None,
    ) -> Iterator[Any]:
        """Values of the latest message's entities of that type (and role and group)."""
        entities = self.latest_message.get("entities", [])
        return (
            x.get("value")
            for x in entities
            if x.get("entity") == entity_type
            and x.get("group") == entity_group
            and x.get("role") == entity_role
        )

    def get_latest_input_channel(self) -> str | None:
        for event in reversed(self.events):
            if event.get("event") == "user":
                channel: str | None = event.get("input_channel")
                return channel
        return None

    def is_paused(self) -> bool:
        return self._paused

    def idx_after_latest_restart(self) -> int:
        idx = 0
        for i, event in enumerate(self.events):
            if event.get("event") == "restart":
                idx = i + 1
        return idx

    def events_after_latest_restart(self) -> list[dict[str, Any]]:
        return list(self.events)[self.idx_after_latest_restart() :]

    @property
    def active_loop_name(self) -> str | None:
        """The active loop's name, ``None`` when no loop is active."""
        if not self.active_loop or self.active_loop.get("name") == "should_not_be_set":
            return None
        name: str | None = self.active_loop.get("name")
        return name

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Tracker):
            return other.events == self.events and self.sender_id == other.sender_id
        return False

    __hash__ = None  # type: ignore[assignment]

    def copy(self) -> Tracker:
        return Tracker(
            self.sender_id,
            copy.deepcopy(self.slots),
            copy.deepcopy(self.latest_message),
            copy.deepcopy(self.events),
            self._paused,
            self.followup_action,
            self.active_loop,
            self.latest_action_name,
            self.stack,
            self.user_id,
        )

    def last_executed_action_has(self, name: str, skip: int = 0) -> bool:
        last = self.get_last_event_for("action", exclude=[ACTION_LISTEN_NAME], skip=skip)
        return last is not None and last["name"] == name

    def get_last_event_for(
        self, event_type: str, exclude: list[str] | None = None, skip: int = 0
    ) -> dict[str, Any] | None:
        excluded = exclude or []
        matches = (
            e
            for e in reversed(self.applied_events())
            if e["event"] == event_type and not (e["event"] == "action" and e["name"] in excluded)
        )
        for _ in range(skip):
            next(matches, None)
        return next(matches, None)

    def applied_events(self) -> list[dict[str, Any]]:
        """The events without reverted ones (restart, ``undo`` and ``rewind`` applied)."""

        def undo_till_previous(event_type: str, done: list[dict[str, Any]]) -> None:
            while done:
                if done.pop()["event"] == event_type:
                    break

        applied: list[dict[str, Any]] = []
        for event in self.events:
            event_type = event.get("event")
            if event_type == "restart":
                applied = []
            elif event_type == "undo":
                undo_till_previous("action", applied)
            elif event_type == "rewind":
                undo_till_previous("user", applied)
                undo_till_previous("action", applied)
            else:
                applied.append(event)
        return applied

    def slots_to_validate(self) -> dict[str, Any]:
        """The slots set by the trailing ``slot`` events (the candidates a form extracted)."""
        count = 0
        for event in reversed(self.events):
            if event["event"] != "slot":
                break
            count += 1
        return {e["name"]: e["value"] for e in self.events[len(self.events) - count :]}

    def add_slots(self, slots: list[EventType]) -> None:
        """Apply ``SlotSet`` event dicts to the slots and append them to the events."""
        for event in slots:
            if event.get("event") != "slot":
                continue
            self.slots[event["name"]] = event["value"]
            self.events.append(event)

    def get_intent_of_latest_message(self, skip_fallback_intent: bool = True) -> str | None:
        """The top intent of the latest message's ranking (the 2nd after ``nlu_fallback``)."""
        ranking = self.latest_message.get("intent_ranking") if self.latest_message else None
        if not ranking:
            return None
        top: str | None = ranking[0]["name"]
        if top == NLU_FALLBACK_INTENT_NAME and skip_fallback_intent:
            second: str | None = ranking[1]["name"] if len(ranking) >= 2 else None
            return second
        return top


# -- actions and the dispatcher ------------------------------------------------------------------


class CollectingDispatcher:
    """Collects the messages an action sends (``messages``, in rasa_sdk's shape)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def utter_message(
        self,
        text: str | None = None,
        image: str | None = None,
        json_message: dict[str, Any] | None = None,
        template: str | None = None,
        response: str | None = None,
        attachment: str | None = None,
        buttons: list[dict[str, Any]] | None = None,
        elements: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        """Send a message; ``response`` names a domain response, ``kwargs`` fill its slots."""
        if template and not response:
            response = template
            warnings.warn(
                "Please pass the parameter `response` instead of `template` to `utter_message`.",
                FutureWarning,
                stacklevel=2,
            )
        message: dict[str, Any] = {
            "text": text,
            "buttons": buttons or [],
            "elements": elements or [],
            "custom": json_message or {},
            "template": response,
            "response": response,
            "image": image,
            "attachment": attachment,
        }
        message.update(kwargs)
        self.messages.append(message)

    # rasa_sdk 1.x's dispatcher methods (deprecated in rasa_sdk, still there): the same messages
    def utter_template(
        self, template: str, tracker: Any, silent_fail: bool = False, **kwargs: Any
    ) -> None:
        """Say the domain response ``template`` (``kwargs`` fill its slots)."""
        self.utter_message(response=template, **kwargs)

    def utter_button_template(
        self,
        template: str,
        buttons: list[dict[str, Any]],
        tracker: Any,
        silent_fail: bool = False,
        **kwargs: Any,
    ) -> None:
        self.utter_message(response=template, buttons=buttons, **kwargs)

    def utter_button_message(self, text: str, buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        self.utter_message(text=text, buttons=buttons, **kwargs)

    def utter_custom_json(self, json_message: dict[str, Any], **kwargs: Any) -> None:
        self.utter_message(json_message=json_message, **kwargs)

    def utter_image_url(self, image: str, **kwargs: Any) -> None:
        self.utter_message(image=image, **kwargs)

    def utter_attachment(self, attachment: str, **kwargs: Any) -> None:
        self.utter_message(attachment=attachment, **kwargs)

    def utter_elements(self, *elements: dict[str, Any], **kwargs: Any) -> None:
        self.utter_message(elements=list(elements), **kwargs)

    utter_custom_message = utter_elements


class Action:
    """A custom action: ``name()`` and ``run(dispatcher, tracker, domain) -> event dicts``."""

    def name(self) -> str:
        raise NotImplementedError("An action must implement a name")

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        raise NotImplementedError("An action must implement its run method")

    def __str__(self) -> str:
        return f"Action('{self.name()}')"


class ActionExecutionRejection(Exception):
    """Raise it in ``run`` to let other policies predict another action."""

    def __init__(self, action_name: str, message: str | None = None) -> None:
        self.action_name = action_name
        self.message = message or f"Custom action '{action_name}' rejected execution."
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


# -- slot validation (rasa_sdk/forms.py) ---------------------------------------------------------


class ValidationAction(Action, ABC):
    """Extracts (``extract_<slot>``) and validates (``validate_<slot>``) global slots."""

    def name(self) -> str:
        return ACTION_VALIDATE_SLOT_MAPPINGS

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        extraction_events = await self.get_extraction_events(dispatcher, tracker, domain)
        tracker.add_slots(extraction_events)
        return await self._extract_validation_events(dispatcher, tracker, domain)

    async def _extract_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        validation_events = await self.get_validation_events(dispatcher, tracker, domain)
        tracker.add_slots(validation_events)
        return validation_events

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """The slots to fill; override it for dynamic forms."""
        return domain_slots

    async def get_extraction_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """``SlotSet`` for what each ``extract_<slot>`` method returned."""
        custom_slots: dict[str, Any] = {}
        slots_to_extract = await self.required_slots(
            self.domain_slots(domain), dispatcher, tracker, domain
        )
        for slot in slots_to_extract:
            extracted = await self._extract_slot(slot, dispatcher, tracker, domain)
            custom_slots.update(extracted)
            # later extract_ methods see what earlier ones extracted
            tracker.slots.update(extracted)
        return [SlotSet(slot, value) for slot, value in custom_slots.items()]

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """``SlotSet`` for every candidate slot, as its ``validate_<slot>`` method decided."""
        slots_to_validate = await self.required_slots(
            self.domain_slots(domain), dispatcher, tracker, domain
        )
        slots = tracker.slots_to_validate()
        for slot_name, slot_value in list(slots.items()):
            if slot_name not in slots_to_validate:
                slots.pop(slot_name)
                continue
            method = getattr(self, f"validate_{slot_name.replace('-', '_')}", None)
            if not method:
                logger.warning(
                    "Skipping validation for `%s`: there is no validation method specified.",
                    slot_name,
                )
                continue
            output = await call_potential_coroutine(method(slot_value, dispatcher, tracker, domain))
            if isinstance(output, dict):
                slots.update(output)
                tracker.slots.update(output)
            else:
                warnings.warn(
                    f"Cannot validate `{slot_name}`: make sure the validation method "
                    f"returns the correct output.",
                    stacklevel=2,
                )
        return [SlotSet(slot, value) for slot, value in slots.items()]

    @staticmethod
    def _is_mapped_to_form(slot_value: dict[str, Any]) -> bool:
        for mapping in slot_value.get("mappings") or []:
            for condition in mapping.get("conditions", []):
                if condition.get("active_loop"):
                    return True
        return False

    def global_slots(self, domain: DomainDict) -> list[str]:
        """Slots with no mapping conditioned on an active loop."""
        return [k for k, v in domain.get("slots", {}).items() if not self._is_mapped_to_form(v)]

    def domain_slots(self, domain: DomainDict) -> list[str]:
        return self.global_slots(domain)

    async def _extract_slot(
        self, slot_name: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        method_name = f"extract_{slot_name.replace('-', '_')}"
        method = getattr(self, method_name, None)
        if not method:
            if slot_name not in self.domain_slots(domain):
                warnings.warn(
                    f"No method '{method_name}' found for slot '{slot_name}'. "
                    f"Skipping extraction for this slot.",
                    stacklevel=2,
                )
            return {}
        extracted = await call_potential_coroutine(method(dispatcher, tracker, domain))
        if isinstance(extracted, dict):
            return extracted
        warnings.warn(
            f"Cannot extract `{slot_name}`: make sure the extract method returns the correct "
            f"output.",
            stacklevel=2,
        )
        return {}


class FormValidationAction(ValidationAction, ABC):
    """``validate_<form>``: extraction and validation of one form's slots."""

    def name(self) -> str:
        raise NotImplementedError("An action must implement a name")

    def form_name(self) -> str:
        return self.name().replace("validate_", "", 1)

    async def _extract_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        validation_events = await self.get_validation_events(dispatcher, tracker, domain)
        tracker.add_slots(validation_events)
        next_slot = await self.next_requested_slot(dispatcher, tracker, domain)
        if next_slot:
            validation_events.append(next_slot)
        return validation_events

    def domain_slots(self, domain: DomainDict) -> list[str]:
        """The form's ``required_slots`` in the domain."""
        form = domain.get("forms", {}).get(self.form_name(), {})
        slots: list[str] = form.get("required_slots", []) if "required_slots" in form else []
        return slots

    async def next_requested_slot(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventType | None:
        """``SlotSet(requested_slot, <first empty slot or None>)`` when ``required_slots`` was
        overridden (``None`` there deactivates the form); otherwise ``None``: the form asks.
        """
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        if required == self.domain_slots(domain):
            return None
        missing = (slot for slot in required if tracker.slots.get(slot) is None)
        return SlotSet(REQUESTED_SLOT, next(missing, None))
