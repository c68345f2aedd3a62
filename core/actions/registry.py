"""Which action runs for a name.

Resolution order: the bot's custom actions (in-process or remote, as the caller provides
them) > Rasa's default actions > responses (``utter_*``, retrieval ``utter_faq``, end-to-end
bot texts) > loops (forms). So a bot overrides a default action, a response or a form by
writing an action of the same name, as it can in Rasa.
"""

from __future__ import annotations

from collections.abc import Mapping

from chinwag.core.actions.base import Action
from chinwag.core.actions.default import default_actions
from chinwag.core.actions.utter import UTTER_PREFIX, EndToEndAction, RetrievalAction, UtterAction
from chinwag.core.data.config import TwoStageFallbackSettings
from chinwag.core.domain import Domain

# names whose action (or absence) a registry remembers
MAX_FOUND_NAMES = 10_000


class UnknownActionError(LookupError):
    """No action of that name; the message says where the name should have come from."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        super().__init__(f"no action named '{name}': {reason}")

    def __str__(self) -> str:
        return str(self.args[0])


class ActionRegistry:
    """Finds the action for a name (see the module doc for the order)."""

    def __init__(
        self,
        domain: Domain,
        custom: Mapping[str, Action] | None = None,
        *,
        intent_prompts: Mapping[str, str] | None = None,
        loops: Mapping[str, Action] | None = None,
        two_stage_fallback: TwoStageFallbackSettings | None = None,
    ) -> None:
        self.domain = domain
        self.custom = dict(custom or {})
        self.loops = dict(loops or {})
        self.defaults = default_actions(self.find, intent_prompts, two_stage_fallback)
        # each name's answer, found once: the actions and the loaded domain do not change
        # (a form turn looks up its validator and four question names)
        self._found: dict[str, Action | None] = {}

    def get(self, name: str) -> Action:
        """The action for ``name``; raises :class:`UnknownActionError` when there is none."""
        action = self.find(name)
        if action is None:
            raise UnknownActionError(name, self._why_unknown(name))
        return action

    def find(self, name: str) -> Action | None:
        """The action for ``name``, or None."""
        try:
            return self._found[name]
        except KeyError:
            if len(self._found) >= MAX_FOUND_NAMES:  # names from requests: keep it bounded
                self._found.clear()
            found = self._found[name] = self._find(name)
            return found

    def _find(self, name: str) -> Action | None:
        if name in self.custom:
            return self.custom[name]
        if name in self.defaults:
            return self.defaults[name]
        if name in self.domain.responses:
            return UtterAction(name)
        if self.domain.is_retrieval_response(name):
            return RetrievalAction(name)
        if name in self.domain.action_texts:
            return EndToEndAction(name)
        if name in self.loops:
            return self.loops[name]
        if name.startswith(UTTER_PREFIX) and name in self.domain.actions:
            # declared but without a response: Rasa logs the missing response when it runs
            return UtterAction(name)
        return None

    def _why_unknown(self, name: str) -> str:
        if name in self.domain.actions:
            return (
                "it is declared under `actions` in the domain but neither the bot's actions.py "
                "nor its action server provides it"
            )
        if name in self.domain.forms:
            return "it is a form, but forms are not available to this registry"
        if name.startswith(UTTER_PREFIX):
            return "the domain has no response of that name"
        return "it is not a default action, a response, a form or a declared custom action"
