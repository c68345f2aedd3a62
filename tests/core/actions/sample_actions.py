"""Custom actions written against rasa_sdk, run both on a real action server and in-process.

Started by conftest.py as ``python -m rasa_sdk --actions tests.core.actions.sample_actions``.
It imports only rasa_sdk, so the same source also runs on :mod:`core.actions.sdk` when
``rasa_sdk`` is mapped to it.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, ActionExecutionRejection, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict


class ActionPickColour(Action):
    """Sets a slot and offers buttons."""

    def name(self) -> str:
        return "action_pick_colour"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        colour = next(tracker.get_latest_entity_values("colour"), None) or "blue"
        dispatcher.utter_message(
            text=f"You said {colour}. Which shade?",
            buttons=[
                {"title": "Light", "payload": '/choose{"shade": "light"}'},
                {"title": "Dark", "payload": '/choose{"shade": "dark"}'},
            ],
        )
        return [SlotSet("colour", colour)]


class ActionGreetUser(Action):
    """Utters a domain response, filling its {name} variable."""

    def name(self) -> str:
        return "action_greet_user"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # a sync run, as rasa_sdk allows
        name = tracker.get_slot("user_name") or "friend"
        dispatcher.utter_message(response="utter_greet_name", name=name)
        return [FollowupAction("action_listen")]


class ActionReject(Action):
    """Always declines to run."""

    def name(self) -> str:
        return "action_reject"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        raise ActionExecutionRejection("action_reject", "not in this state")


class ActionCrash(Action):
    """A bug in the user's code."""

    def name(self) -> str:
        return "action_crash"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        raise RuntimeError("database is down")


class ValidateTableForm(FormValidationAction):
    """Validates table_form: no pizza, a custom party-size extraction, a dynamic slot."""

    def name(self) -> str:
        return "validate_table_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        # parties above 6 also need a contact phone number
        size = tracker.slots.get("party_size")
        if size is not None and int(size) > 6:
            return [*domain_slots, "phone"]
        return domain_slots

    async def extract_party_size(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "party_size":
            return {}
        match = re.search(r"\b(\d+)\b", tracker.latest_message.get("text") or "")
        return {"party_size": int(match.group(1))} if match else {}

    def validate_cuisine(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        if str(slot_value).lower() == "pizza":
            dispatcher.utter_message(text="We don't serve pizza.")
            return {"cuisine": None}
        return {"cuisine": str(slot_value).lower()}

    async def validate_party_size(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        if int(slot_value) < 1:
            dispatcher.utter_message(response="utter_wrong_party_size")
            return {"party_size": None}
        return {"party_size": int(slot_value)}
