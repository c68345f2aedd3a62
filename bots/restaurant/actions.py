"""Validation for the restaurant and hotel forms, written against the Rasa SDK API.

chinwag runs this file in-process (with or without rasa_sdk installed); the same file also runs
unchanged on a `python -m rasa_sdk --actions actions` server.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

CUISINES = ("chinese", "french", "greek", "indian", "italian", "japanese", "mexican", "spanish",
            "thai")
WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
         "eight": 8, "nine": 9, "ten": 10}


def _whole_number(value: Any) -> int | None:
    text = str(value).strip().lower()
    if text in WORDS:
        return WORDS[text]
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


class ValidateRestaurantForm(FormValidationAction):
    def name(self) -> str:
        return "validate_restaurant_form"

    def validate_cuisine(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if str(value).lower() in CUISINES:
            return {"cuisine": str(value).lower()}
        dispatcher.utter_message(response="utter_wrong_cuisine", cuisine=value)
        return {"cuisine": None}

    def validate_num_people(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        number = _whole_number(value)
        if number is not None and number > 0:
            return {"num_people": number}
        dispatcher.utter_message(response="utter_wrong_num_people")
        return {"num_people": None}


class ValidateHotelForm(FormValidationAction):
    def name(self) -> str:
        return "validate_hotel_form"

    def validate_nights(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        number = _whole_number(value)
        if number is not None and 1 <= number <= 30:
            return {"nights": number}
        dispatcher.utter_message(response="utter_wrong_nights")
        return {"nights": None}
