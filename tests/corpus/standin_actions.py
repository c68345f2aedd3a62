"""Small stand-ins for the custom actions of the corpus bots (their actions.py is not in the
corpus), written against rasa_sdk's API (served in-process by :mod:`core.actions.sdk`).

Each does the minimum its bot's rules, stories and forms need: a ``validate_<form>`` that
accepts values, an action that says something and sets or resets the slots the dialogue
depends on. ``STANDINS`` lists them per bot; ``actions_source`` writes the bot's actions.py.
"""

from __future__ import annotations

from typing import Any

from chinwag.core.actions.sdk import (
    Action,
    ActionExecuted,
    AllSlotsReset,
    CollectingDispatcher,
    DomainDict,
    EventType,
    FollowupAction,
    FormValidationAction,
    Restarted,
    SessionStarted,
    SlotSet,
    Tracker,
    ValidationAction,
)

# -- rasa-rules ------------------------------------------------------------------------------


class ValidateSlotMappings(ValidationAction):
    """Fills rasa-rules' custom-mapped ``detailed_faq`` from a ``detailed_faq`` payload entity."""

    async def extract_detailed_faq(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        value = next(tracker.get_latest_entity_values("detailed_faq"), None)
        return {} if value is None else {"detailed_faq": value}


# -- rasa-formbot ----------------------------------------------------------------------------


class ValidateRestaurantForm(FormValidationAction):
    """Accepts every value (the real one checks cuisines against a list)."""

    def name(self) -> str:
        return "validate_restaurant_form"


# -- helpdesk-assistant ----------------------------------------------------------------------

PRIORITIES = ("low", "medium", "high")


class ActionAskEmail(Action):
    def name(self) -> str:
        return "action_ask_email"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_ask_email")
        return []


class ValidateOpenIncidentForm(FormValidationAction):
    """Accepts everything but an unknown priority (as the real one does)."""

    def name(self) -> str:
        return "validate_open_incident_form"

    def validate_priority(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if str(value).lower() in PRIORITIES:
            return {"priority": str(value).lower()}
        dispatcher.utter_message(response="utter_no_priority", priority=value)
        return {"priority": None}


class ValidateIncidentStatusForm(FormValidationAction):
    def name(self) -> str:
        return "validate_incident_status_form"


class ActionOpenIncident(Action):
    def name(self) -> str:
        return "action_open_incident"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot("confirm"):
            title = tracker.get_slot("incident_title")
            priority = tracker.get_slot("priority")
            dispatcher.utter_message(text=f"Opened incident '{title}' ({priority} priority).")
        else:
            dispatcher.utter_message(response="utter_incident_creation_canceled")
        return [AllSlotsReset(), SlotSet("previous_email", tracker.get_slot("email"))]


class ActionCheckIncidentStatus(Action):
    def name(self) -> str:
        return "action_check_incident_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(text=f"No open incidents for {tracker.get_slot('email')}.")
        return []


class ActionHandoffOptions(Action):
    def name(self) -> str:
        return "action_handoff_options"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(
            text="Here are the bots that I can hand you off to:",
            buttons=[{"title": "expert", "payload": '/trigger_handoff{"handoff_to":"expert"}'}],
        )
        return []


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_handoff")
        host = tracker.get_slot("handoff_to")
        if host:
            dispatcher.utter_message(response="utter_wouldve_handed_off", handoffhost=host)
        else:
            dispatcher.utter_message(response="utter_no_handoff")
        return [SlotSet("handoff_to", None)]


# -- financial-demo --------------------------------------------------------------------------

FORM_OF_INTENT = {
    "pay_cc": "cc_payment_form",
    "transfer_money": "transfer_money_form",
    "search_transactions": "transaction_search_form",
    "check_earnings": "transaction_search_form",
}
FORM_SLOTS = ("AA_CONTINUE_FORM", "zz_confirm_form", "amount-of-money", "time", "time_formatted")


class ActionSessionStartFinancial(Action):
    """The bot overrides action_session_start; the stand-in starts the session plainly."""

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return [SessionStarted(), ActionExecuted("action_listen")]


class ActionRestartFinancial(Action):
    def name(self) -> str:
        return "action_restart"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return [Restarted(), FollowupAction("action_session_start")]


class ActionShowBalance(Action):
    def name(self) -> str:
        return "action_show_balance"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_account_balance", init_account_balance="1000")
        return []


class ActionShowRecipients(Action):
    def name(self) -> str:
        return "action_show_recipients"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_recipients", formatted_recipients=" Jane, Ali")
        return []


class ActionShowTransferCharge(Action):
    def name(self) -> str:
        return "action_show_transfer_charge"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_transfer_charge")
        return []


class _FinancialFormValidation(FormValidationAction):
    """Skips the "continue?" question on activation; the time answer is shown as given."""

    def name(self) -> str:
        raise NotImplementedError

    def extract_AA_CONTINUE_FORM(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("AA_CONTINUE_FORM") is None and not tracker.get_slot("requested_slot"):
            return {"AA_CONTINUE_FORM": "yes"}
        return {}

    def validate_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"time": value, "time_formatted": value}


class ValidateCcPaymentForm(_FinancialFormValidation):
    def name(self) -> str:
        return "validate_cc_payment_form"


class ValidateTransferMoneyForm(_FinancialFormValidation):
    def name(self) -> str:
        return "validate_transfer_money_form"


class ValidateTransactionSearchForm(_FinancialFormValidation):
    def name(self) -> str:
        return "validate_transaction_search_form"


def _confirmed(tracker: Tracker) -> bool:
    return tracker.get_slot("zz_confirm_form") == "yes"


def _reset(*slots: str) -> list[EventType]:
    return [SlotSet(slot, None) for slot in (*FORM_SLOTS, *slots)]


class ActionPayCC(Action):
    def name(self) -> str:
        return "action_pay_cc"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if _confirmed(tracker):
            dispatcher.utter_message(response="utter_cc_pay_scheduled")
        else:
            dispatcher.utter_message(response="utter_cc_pay_cancelled")
        return _reset("credit_card")


class ActionTransferMoney(Action):
    def name(self) -> str:
        return "action_transfer_money"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if _confirmed(tracker):
            dispatcher.utter_message(response="utter_transfer_complete")
        else:
            dispatcher.utter_message(response="utter_transfer_cancelled")
        return _reset("PERSON")


class ActionAskTransactionSearchConfirm(Action):
    def name(self) -> str:
        return "action_ask_transaction_search_form_zz_confirm_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        kind, time = tracker.get_slot("search_type"), tracker.get_slot("time")
        dispatcher.utter_message(
            text=f"Would you like to search {kind} transactions for {time}?",
            buttons=[{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
        )
        return []


class ActionTransactionSearch(Action):
    def name(self) -> str:
        return "action_transaction_search"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if _confirmed(tracker):
            kind = tracker.get_slot("search_type")
            dispatcher.utter_message(
                response=f"utter_found_{kind}_transactions",
                numtransacts=2,
                total="42",
                vendor_name="",
            )
        else:
            dispatcher.utter_message(response="utter_transaction_search_cancelled")
        return _reset("search_type")


class ActionSwitchFormsAsk(Action):
    def name(self) -> str:
        return "action_switch_forms_ask"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        intent = tracker.get_intent_of_latest_message() or ""
        target = FORM_OF_INTENT.get(intent)
        dispatcher.utter_message(
            text=f"You are in {tracker.active_loop_name}. Switch to {target}?",
            buttons=[{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
        )
        return [SlotSet("next_form_name", target)]


class ActionSwitchFormsDeny(Action):
    def name(self) -> str:
        return "action_switch_forms_deny"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(text=f"Ok, let's continue with {tracker.active_loop_name}.")
        return [SlotSet("next_form_name", None)]


class ActionSwitchFormsAffirm(Action):
    def name(self) -> str:
        return "action_switch_forms_affirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(text=f"Switching to {tracker.get_slot('next_form_name')}.")
        return [
            SlotSet("next_form_name", None),
            SlotSet("previous_form_name", tracker.active_loop_name),
        ]


class ActionSwitchBackAsk(Action):
    def name(self) -> str:
        return "action_switch_back_ask"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        previous = tracker.get_slot("previous_form_name")
        dispatcher.utter_message(text=f"Would you like to go back to {previous}?")
        return [SlotSet("previous_form_name", None)]


STANDINS: dict[str, list[type[Action]]] = {
    "rasa-rules": [ValidateSlotMappings],
    "rasa-formbot": [ValidateRestaurantForm],
    "helpdesk-assistant": [
        ActionAskEmail,
        ValidateOpenIncidentForm,
        ValidateIncidentStatusForm,
        ActionOpenIncident,
        ActionCheckIncidentStatus,
        ActionHandoffOptions,
        ActionHandoff,
    ],
    "financial-demo": [
        ActionSessionStartFinancial,
        ActionRestartFinancial,
        ActionShowBalance,
        ActionShowRecipients,
        ActionShowTransferCharge,
        ValidateCcPaymentForm,
        ValidateTransferMoneyForm,
        ValidateTransactionSearchForm,
        ActionPayCC,
        ActionTransferMoney,
        ActionAskTransactionSearchConfirm,
        ActionTransactionSearch,
        ActionSwitchFormsAsk,
        ActionSwitchFormsDeny,
        ActionSwitchFormsAffirm,
        ActionSwitchBackAsk,
        ActionHandoffOptions,
        ActionHandoff,
    ],
}


def actions_source(bot: str) -> str:
    """The text of an actions.py that gives ``bot`` its stand-ins."""
    names = ", ".join(cls.__name__ for cls in STANDINS[bot])
    return f"from tests.corpus.standin_actions import {names}\n"
