"""Custom actions, written against the Rasa SDK API.

chinwag imports this file and runs its actions in-process (with or without rasa_sdk
installed); the same file also runs unchanged on a `python -m rasa_sdk --actions actions`
server. Declare each action's name under `actions:` in domain.yml.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher


class ActionTellTime(Action):
    def name(self) -> str:
        return "action_tell_time"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        dispatcher.utter_message(text=f"It is {now:%H:%M} UTC.")
        return []
