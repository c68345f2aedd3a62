"""MemoizationPolicy and AugmentedMemoizationPolicy: stories remembered turn by turn.

Rasa 3.6's ``rasa/core/policies/memoization.py``: every story turn's state history (the last
``max_history`` states, or all of them) is a lookup key for the action that followed; a key
seen with two different actions is dropped. Prediction looks up the live tracker's states
(:func:`core.policies.states.tracker_states`, the same builder training uses) and answers
with confidence 1.0 (or the intent's NLU confidence with ``use_nlu_confidence_as_score``).
The augmented variant, when nothing matches, forgets the conversation's beginning one action
at a time and tries again (``_recall_using_truncation`` / ``_back_to_the_future``), so it can
recall a turn whose older slots differ from every story's.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from chinwag.core.data.story_graph import Conversation
from chinwag.core.domain import Domain
from chinwag.core.events import ActionExecuted, Event
from chinwag.core.policies.base import Policy, PolicyPrediction
from chinwag.core.policies.states import State, conversation_states, state_key, tracker_states
from chinwag.core.tracker import Tracker

logger = logging.getLogger(__name__)

MEMOIZATION_POLICY_PRIORITY = 3


class MemoizationPolicy(Policy):
    """Rasa's MemoizationPolicy (priority 3): exact recall of story turns."""

    name = "MemoizationPolicy"
    outranked_by_no_user = True  # intent-based predictions, never with events

    def __init__(
        self,
        *,
        max_history: int | None = None,
        use_nlu_confidence_as_score: bool = False,
        priority: int = MEMOIZATION_POLICY_PRIORITY,
    ) -> None:
        self.max_history = max_history
        self.use_nlu_confidence_as_score = use_nlu_confidence_as_score
        self.priority = priority
        self.lookup: dict[str, str] = {}

    def _slice(self, states: list[State] | tuple[State, ...]) -> list[State]:
        """``slice_state_history``: the last ``max_history`` states (all when None)."""
        return list(states[-self.max_history :] if self.max_history else states)

    def train(self, stories: list[Conversation], rules: list[Conversation], domain: Domain) -> None:
        """Learn from stories only (Rasa's ML data); rules are RulePolicy's."""
        lookup: dict[str, str] = {}
        ambiguous: set[str] = set()
        for conv in stories:
            for turn in conversation_states(conv, domain):
                if turn.unpredictable:
                    continue
                key = state_key(self._slice(turn.history))
                if key in ambiguous:
                    continue
                if key in lookup and lookup[key] != turn.action:
                    ambiguous.add(key)  # contradicting examples: remember neither
                    del lookup[key]
                else:
                    lookup[key] = turn.action
        self.lookup = dict(sorted(lookup.items()))
        logger.debug("%s memorized %d unique examples.", self.name, len(self.lookup))

    def _prediction_states(self, tracker: Tracker, domain: Domain) -> list[State]:
        """The tracker's states, the last user turn by its intent (``_choose_last_user_input``)."""
        states = tracker_states(tracker, domain)
        if states[-1].after_listen and states[-1].text is not None:
            states[-1] = replace(states[-1], text=None)
        return self._slice(states)

    def remember(self, tracker: Tracker, domain: Domain, action: str) -> None:
        """Learn one turn now (interactive learning): ``action`` follows this tracker."""
        self.lookup[state_key(self._prediction_states(tracker, domain))] = action

    def _recall_states(self, states: list[State]) -> str | None:
        return self.lookup.get(state_key(states))

    def recall(self, states: list[State], tracker: Tracker, domain: Domain) -> str | None:
        return self._recall_states(states)

    def predict(self, tracker: Tracker, domain: Domain) -> PolicyPrediction:
        states = self._prediction_states(tracker, domain)
        action = self.recall(states, tracker, domain)
        probabilities: dict[str, float] = {}
        if action is not None:
            logger.debug("%s: there is a memorised next action '%s'", self.name, action)
            score = 1.0
            if self.use_nlu_confidence_as_score:
                confidence = tracker.latest_message.intent.get("confidence", 1.0)
                score = float(confidence) if isinstance(confidence, (int, float)) else 1.0
            probabilities[action] = score
        else:
            logger.debug("%s: there is no memorised next action", self.name)
        return PolicyPrediction(
            probabilities=probabilities,
            policy_name=self.name,
            priority=self.priority,
            diagnostic={"states": len(states)},
        )

    def persist(self) -> dict[str, Any]:
        return {
            "config": {
                "max_history": self.max_history,
                "use_nlu_confidence_as_score": self.use_nlu_confidence_as_score,
                "priority": self.priority,
            },
            "lookup": dict(sorted(self.lookup.items())),
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> MemoizationPolicy:
        policy = cls(**data.get("config", {}))
        policy.lookup = dict(data["lookup"])
        return policy


def _action_indices(events: list[Event]) -> list[int]:
    return [i for i, e in enumerate(events) if isinstance(e, ActionExecuted)]


class AugmentedMemoizationPolicy(MemoizationPolicy):
    """Rasa's AugmentedMemoizationPolicy: also recalls with the history's start cut off."""

    name = "AugmentedMemoizationPolicy"

    def _trim_by_max_history(self, events: list[Event]) -> list[Event]:
        """``_trim_tracker_by_max_history``: keep the last ``max_history`` actions' events."""
        if not self.max_history:
            return events
        actions = _action_indices(events)
        if len(actions) <= self.max_history:
            return events
        return events[actions[-self.max_history] :]

    @staticmethod
    def _back_to_the_future(events: list[Event], again: bool) -> list[Event] | None:
        """Start the history at its first (``again``: second) action, or None."""
        actions = _action_indices(events)
        index = 1 if again else 0
        if len(actions) <= index:
            return None
        return events[actions[index] :] or None

    def recall(self, states: list[State], tracker: Tracker, domain: Domain) -> str | None:
        action = self._recall_states(states)
        if action is not None:
            return action
        return self._recall_using_truncation(states, tracker, domain)

    def _recall_using_truncation(
        self, old_states: list[State], tracker: Tracker, domain: Domain
    ) -> str | None:
        events = self._back_to_the_future(
            self._trim_by_max_history(tracker.applied_events()), again=False
        )
        while events is not None:
            truncated = tracker.init_copy()
            truncated.update_all(events)
            states = self._prediction_states(truncated, domain)
            if states != old_states:
                action = self._recall_states(states)
                if action is not None:
                    logger.debug("%s recalled '%s' from a truncated history", self.name, action)
                    return action
                old_states = states
            events = self._back_to_the_future(events, again=True)
        return None
