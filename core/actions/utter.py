"""Actions that say a response: ``utter_*`` responses, retrieval responses, end-to-end texts.

As Rasa's ``ActionBotResponse``, ``ActionRetrieveResponse`` and ``ActionEndToEndResponse``
(rasa/core/actions/action.py): the response is generated for the channel the user wrote from
and sent as a ``BotUttered`` event whose metadata names the response (``utter_action``).
"""

from __future__ import annotations

import logging
from typing import Any

from chinwag.core.actions.base import Action, ActionContext
from chinwag.core.events import BotUttered, Event
from chinwag.core.tracker import Tracker

logger = logging.getLogger(__name__)

UTTER_PREFIX = "utter_"
# parse data key of the ResponseSelector's output, and its catch-all retrieval intent
RESPONSE_SELECTOR_KEY = "response_selector"
RESPONSE_SELECTOR_DEFAULT = "default"


def bot_utterance(response: dict[str, Any], utter_action: str) -> BotUttered:
    """The event for a generated response, with ``utter_action`` in its metadata (as Rasa)."""
    message = {key: value for key, value in response.items() if key != "response"}
    message["utter_action"] = utter_action
    return BotUttered.from_message(message)


async def utter(ctx: ActionContext, name: str, **kwargs: Any) -> list[Event]:
    """Say the response ``name`` if the domain has it, else nothing (no error)."""
    response = ctx.nlg.generate(name, ctx.tracker, ctx.channel, **kwargs)
    return [] if response is None else [bot_utterance(response, name)]


class UtterAction(Action):
    """Says the response of the same name; a missing response is logged, never raised."""

    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name

    async def run(self, ctx: ActionContext) -> list[Event]:
        response_name = self.response_name(ctx.tracker)
        if response_name is None:
            logger.error(
                "Couldn't create message for response action '%s': the latest message has "
                "no retrieval intent for it.",
                self._name,
            )
            return []
        events = await utter(ctx, response_name)
        if not events:
            logger.error("Couldn't create message for response '%s'.", response_name)
        return events

    def response_name(self, tracker: Tracker) -> str | None:
        """The response to say: the action's own, or for ``utter_faq`` the selected one."""
        return self._name


class RetrievalAction(UtterAction):
    """``utter_faq``: says the ``utter_faq/<key>`` response chosen for the latest message.

    The key comes from the ResponseSelector's output in the parse data (for ``faq``, else its
    ``default`` selector), as Rasa's ``ActionRetrieveResponse``; without one, from a full
    retrieval intent name ``faq/<key>`` in the latest message (a ``/faq/ask_x`` payload, a
    test story).
    """

    def response_name(self, tracker: Tracker) -> str | None:
        retrieval_intent = self._name[len(UTTER_PREFIX) :]
        message = tracker.latest_message
        selector = message.parse_data.get(RESPONSE_SELECTOR_KEY)
        if isinstance(selector, dict):
            selected = selector.get(retrieval_intent) or selector.get(RESPONSE_SELECTOR_DEFAULT)
            if isinstance(selected, dict):
                name = _selected_response(selected)
                if name is not None:
                    return name
        intent = message.intent_name or ""
        if intent.startswith(retrieval_intent + "/"):
            return UTTER_PREFIX + intent
        return None


def _selected_response(selected: dict[str, Any]) -> str | None:
    """``utter_action`` of the selector's prediction, or one built from its intent key."""
    prediction = selected.get("response")
    if not isinstance(prediction, dict):
        return None
    # Rasa 3.x writes utter_action, Rasa 2.x template_name / full_retrieval_intent_name
    for key in ("utter_action", "template_name"):
        if isinstance(prediction.get(key), str):
            return str(prediction[key])
    for key in ("intent_response_key", "full_retrieval_intent_name"):
        if isinstance(prediction.get(key), str):
            return UTTER_PREFIX + prediction[key]
    return None


class EndToEndAction(Action):
    """An end-to-end bot text from the stories (``- bot: ...``): says exactly that text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def name(self) -> str:
        return self.text

    async def run(self, ctx: ActionContext) -> list[Event]:
        return [BotUttered.from_message({"text": self.text})]
