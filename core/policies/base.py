"""What every dialogue policy is, and what it predicts.

A policy learns from expanded stories and rules (:class:`core.data.story_graph.Conversation`)
and predicts, for a live :class:`core.tracker.Tracker`, a confidence for each action. The
ensemble (core/policies/ensemble.py) picks one prediction with Rasa's rules.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from chinwag.core.data.problems import Problem
from chinwag.core.data.story_graph import Conversation
from chinwag.core.domain import Domain
from chinwag.core.events import Event
from chinwag.core.tracker import Tracker


class TrainingError(Exception):
    """Training data a policy cannot learn from (contradicting rules, ...), with every problem."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class PolicyPrediction:
    """A policy's confidences for the next action, with Rasa's ensemble hints."""

    probabilities: dict[str, float]
    policy_name: str
    priority: int
    # events to apply along with the chosen action (e.g. LoopInterrupted from RulePolicy),
    # whichever policy wins
    events: list[Event] = field(default_factory=list)
    # events applied only when this prediction wins (Rasa's ``optional_events``)
    optional_events: list[Event] = field(default_factory=list)
    # a loop's own happy path ("no user" prediction): wins over everything (Rasa's ensemble)
    is_no_user_prediction: bool = False
    # made from end-to-end text rather than the intent: wins over intent-based predictions
    is_end_to_end_prediction: bool = False
    # free-form details for the debug log (which rule or story matched)
    diagnostic: dict[str, Any] = field(default_factory=dict)

    @property
    def max_confidence(self) -> float:
        return max(self.probabilities.values(), default=0.0)

    @property
    def action(self) -> str | None:
        """The most confident action (ties: the first listed), None when nothing is predicted."""
        probabilities = self.probabilities
        if not probabilities or max(probabilities.values()) <= 0.0:
            return None
        return max(probabilities, key=probabilities.__getitem__)  # the first of the highest


class Policy(ABC):
    """A trainable next-action policy. Subclasses set ``name`` and ``priority``."""

    name: str = "policy"
    priority: int = 1
    # True for a policy whose predictions are never "no user" ones and never carry events or
    # optional events: when another policy makes a no-user prediction (a loop's happy path),
    # which wins over every other kind, this one cannot change the ensemble's result
    outranked_by_no_user: bool = False

    @abstractmethod
    def train(
        self, stories: list[Conversation], rules: list[Conversation], domain: Domain
    ) -> None: ...

    @abstractmethod
    def predict(self, tracker: Tracker, domain: Domain) -> PolicyPrediction: ...

    @abstractmethod
    def persist(self) -> dict[str, Any]:
        """Everything needed to rebuild the trained policy, as JSON-serializable data."""

    @classmethod
    @abstractmethod
    def load(cls, data: dict[str, Any]) -> Policy: ...
