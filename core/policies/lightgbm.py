"""LightGBMPolicy: the machine-learning next-action policy (what TEDPolicy is in Rasa).

Like Rasa's TEDPolicy (``rasa/core/policies/ted_policy.py``) it learns from stories only (its
``SupportedData.ML_DATA``; rules are RulePolicy's), one example per predictable story action
from the last ``max_history`` states (``MaxHistoryTrackerFeaturizer``), and predicts a
confidence for every action of the domain (priority 1). The model is a LightGBM multiclass
booster over :class:`core.policies.featurizer.StateFeaturizer` vectors, set up to learn from
a handful of stories (one example may make a leaf) and to give the same model for the same
data (deterministic, one thread, fixed seed).

Beyond TED (measured on MultiWOZ human dialogues, bench/results/multiwoz.md):

* ``turn_features`` (default on): the featurizer adds the turn context read from the whole
  history (:func:`core.policies.states.turn_context`: the actions taken since the user
  spoke, the bot's previous turn, the slots this turn changed, the turn's position);
* ``example_weights`` ``"count"`` (default): duplicate examples are kept as one example
  weighted by how often the stories show it, so when stories disagree the majority wins
  (``"unique"``: once each, as Rasa's featurizer removes duplicates);
* ``listen_weight`` (default 1.0, no change): the listen-or-act decision. P(listen) is
  weighed against acting and the actions keep their shares of the rest, still a
  distribution for the ensemble and the core fallback threshold; below 1 the bot stops
  less often in the middle of a multi-action turn (and sometimes says one action more);
* ``boosting`` (default ``"gbdt"``): ``"dart"`` drops trees out while boosting (LightGBM's
  DART, deterministic with the seed); on MultiWOZ it fits the listen-or-act boundary a
  little better (about +0.5 to +1 point), at about 1.5x the training time.

End-to-end: after a user message with both intent and text, and when the stories carried
user text, the policy also predicts from the text alone and uses that prediction when it is
more confident and above ``e2e_confidence_threshold`` (Rasa's ``_pick_confidence``); such a
prediction is marked ``is_end_to_end_prediction``.

Story augmentation (Rasa's ``augmentation_factor`` with story concatenation) is off by
default; when on, ``augmentation_factor`` x stories extra conversations are made, each one
story glued after another, drawn with a fixed seed.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, replace
from typing import Any

import lightgbm as lgb
import numpy as np

from chinwag.core.data.story_graph import Conversation
from chinwag.core.domain import Domain
from chinwag.core.policies.base import Policy, PolicyPrediction
from chinwag.core.policies.featurizer import DEFAULT_TEXT_BUCKETS, StateFeaturizer
from chinwag.core.policies.states import (
    ACTION_LISTEN,
    State,
    TurnContext,
    conversation_states,
    tracker_states,
    turn_contexts,
)
from chinwag.core.tracker import Tracker

# histories whose scores are remembered (live conversations repeat the same few)
MAX_REMEMBERED_SCORES = 10_000

logger = logging.getLogger(__name__)

LIGHTGBM_POLICY_PRIORITY = 1
# Rasa's TED default e2e_confidence_threshold
E2E_CONFIDENCE_THRESHOLD = 0.5
# "unique": each distinct (history, action) example once, as Rasa's featurizer;
# "count": weighted by how often the stories show it (human dialogues repeat and disagree)
EXAMPLE_WEIGHTS = ("unique", "count")
# LightGBM's boosting: "gbdt" (plain gradient boosting) or "dart" (trees dropped out while
# boosting, LightGBM's default drop rates; slower to train, the same cost to predict)
BOOSTING = ("gbdt", "dart")


def augment(stories: list[Conversation], factor: int, seed: int) -> list[Conversation]:
    """``factor`` x ``len(stories)`` conversations, each two stories glued (seeded, bounded)."""
    if factor <= 0 or len(stories) < 2:
        return []
    rng = random.Random(seed)
    out: list[Conversation] = []
    for _ in range(factor * len(stories)):
        first, second = rng.sample(stories, 2)
        first_origins = first.origins or [0] * len(first.steps)
        second_origins = second.origins or [0] * len(second.steps)
        out.append(
            Conversation(
                steps=[*first.steps, *second.steps],
                sources=[*first.sources, *second.sources],
                kind="story",
                origins=[*first_origins, *(o + len(first.sources) for o in second_origins)],
                open_end=second.open_end,
            )
        )
    return out


@dataclass
class TrainingSet:
    """Unique (history, action) examples, in the order first seen, with how often each came."""

    histories: list[tuple[State, ...]]
    actions: list[str]
    counts: list[int]
    contexts: list[TurnContext | None]  # each history's turn context (None: not featurized)


class LightGBMPolicy(Policy):
    """Next action from the last ``max_history`` states with a LightGBM multiclass model."""

    name = "LightGBMPolicy"
    outranked_by_no_user = True  # intent- or text-based predictions, never with events

    def __init__(
        self,
        *,
        max_history: int = 5,
        priority: int = LIGHTGBM_POLICY_PRIORITY,
        augmentation_factor: int = 0,
        num_boost_round: int = 60,
        learning_rate: float = 0.2,
        num_leaves: int = 8,
        text_buckets: int = DEFAULT_TEXT_BUCKETS,
        e2e_confidence_threshold: float = E2E_CONFIDENCE_THRESHOLD,
        turn_features: bool = True,
        example_weights: str = "count",
        listen_weight: float = 1.0,
        boosting: str = "gbdt",
        seed: int = 42,
    ) -> None:
        if max_history < 1:
            raise ValueError(f"max_history must be at least 1, got {max_history}")
        self.max_history = max_history
        self.priority = priority
        self.augmentation_factor = augmentation_factor
        self.num_boost_round = num_boost_round
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.text_buckets = text_buckets
        self.e2e_confidence_threshold = e2e_confidence_threshold
        if example_weights not in EXAMPLE_WEIGHTS:
            raise ValueError(f"example_weights must be one of {EXAMPLE_WEIGHTS}")
        if not listen_weight > 0:
            raise ValueError(f"listen_weight must be positive, got {listen_weight}")
        if boosting not in BOOSTING:
            raise ValueError(f"boosting must be one of {BOOSTING}, got {boosting!r}")
        self.turn_features = turn_features
        self.example_weights = example_weights
        self.listen_weight = float(listen_weight)
        self.boosting = boosting
        self.seed = seed
        self.featurizer: StateFeaturizer | None = None
        self.classes: list[str] = []  # the model's classes, in its output order
        self.booster: lgb.Booster | None = None
        # scores by history, for the booster and featurizer they were computed with
        self._scores: dict[tuple[State, ...], np.ndarray] = {}
        self._scores_model: tuple[lgb.Booster, StateFeaturizer, float] | None = None
        # every action of the domain at 0, made once per domain (a loaded domain does not
        # change): a prediction copies it instead of listing the domain's actions again
        self._zeros: tuple[Domain, dict[str, float]] | None = None

    def config(self) -> dict[str, Any]:
        return {
            "max_history": self.max_history,
            "priority": self.priority,
            "augmentation_factor": self.augmentation_factor,
            "num_boost_round": self.num_boost_round,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "text_buckets": self.text_buckets,
            "e2e_confidence_threshold": self.e2e_confidence_threshold,
            "turn_features": self.turn_features,
            "example_weights": self.example_weights,
            "listen_weight": self.listen_weight,
            "boosting": self.boosting,
            "seed": self.seed,
        }

    def params(self) -> dict[str, Any]:
        """LightGBM parameters: tiny-data safe, deterministic (see the notes on small data)."""
        return {
            "objective": "multiclass",
            "boosting": self.boosting,
            "num_class": len(self.classes),
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": 1,
            "min_data_in_bin": 1,
            "min_sum_hessian_in_leaf": 1e-3,
            # without it, multiclass leaves of one example diverge on larger (augmented) data
            "lambda_l2": 1.0,
            "feature_pre_filter": False,
            "deterministic": True,
            "force_col_wise": True,
            "num_threads": 1,
            "seed": self.seed,
            "verbosity": -1,
        }

    # -- training -------------------------------------------------------------------------------

    def training_set(self, stories: list[Conversation], domain: Domain) -> TrainingSet:
        """Every predictable story action with its history; duplicates (the same window,
        turn context and action) are kept once, with how often they came."""
        conversations = [*stories, *augment(stories, self.augmentation_factor, self.seed)]
        seen: dict[tuple[tuple[State, ...], TurnContext | None, str], int] = {}
        data = TrainingSet([], [], [], [])
        for conv in conversations:
            turns = conversation_states(conv, domain)
            contexts = turn_contexts(turns[0].states) if turns and self.turn_features else []
            for turn in turns:
                if turn.unpredictable:
                    continue
                history = self._window(turn.history)
                context = contexts[turn.index] if contexts else None
                key = (history, context, turn.action)
                index = seen.get(key)
                if index is not None:
                    data.counts[index] += 1
                    continue
                seen[key] = len(data.histories)
                data.histories.append(history)
                data.actions.append(turn.action)
                data.counts.append(1)
                data.contexts.append(context)
        return data

    def _window(self, states: tuple[State, ...] | list[State]) -> tuple[State, ...]:
        return tuple(states[-self.max_history :])

    def train(self, stories: list[Conversation], rules: list[Conversation], domain: Domain) -> None:
        """Learn from stories only (rules are RulePolicy's, as TED's ML_DATA)."""
        data = self.training_set(stories, domain)
        self.featurizer = StateFeaturizer.build(
            domain,
            self.max_history,
            (state for history in data.histories for state in history),
            self.text_buckets,
            self.turn_features,
        )
        self.classes = list(dict.fromkeys(data.actions))
        self.booster = None
        if len(self.classes) < 2:
            logger.debug("%s: %d class(es), no model needed", self.name, len(self.classes))
            return
        index = {name: i for i, name in enumerate(self.classes)}
        labels = np.asarray([index[a] for a in data.actions], dtype=np.float64)
        weights = None
        if self.example_weights == "count":
            weights = np.asarray(data.counts, dtype=np.float64)
        dataset = lgb.Dataset(
            self.featurizer.matrix(data.histories, data.contexts),
            label=labels,
            weight=weights,
            params={"feature_pre_filter": False, "min_data_in_bin": 1, "verbosity": -1},
            free_raw_data=True,
        )
        self.booster = lgb.train(self.params(), dataset, num_boost_round=self.num_boost_round)
        logger.debug(
            "%s trained on %d examples, %d classes, %d features",
            self.name,
            len(data.actions),
            len(self.classes),
            self.featurizer.size,
        )

    # -- prediction -----------------------------------------------------------------------------

    def _class_probabilities(self, states: list[State]) -> np.ndarray:
        """The model's scores for this history (read-only; remembered, the model is pure)."""
        assert self.featurizer is not None
        if self.booster is None:
            return np.ones(len(self.classes))
        held = self._scores_model
        if (
            held is None
            or held[0] is not self.booster
            or held[1] is not self.featurizer
            or held[2] != self.listen_weight
        ):
            self._scores_model = (self.booster, self.featurizer, self.listen_weight)
            self._scores = {}
        key = tuple(states) if self.turn_features else self._window(states)
        scores = self._scores.get(key)
        if scores is None:
            row = self.featurizer.vector(states)
            scores = self._weigh_listen(np.asarray(self.booster.predict(row, num_threads=1))[0])
            scores.flags.writeable = False
            if len(self._scores) >= MAX_REMEMBERED_SCORES:
                self._scores.clear()
            self._scores[key] = scores
        return scores

    def _weigh_listen(self, scores: np.ndarray) -> np.ndarray:
        """Two-step decision: listen or act, then which action. The model's P(listen) is
        weighed by ``listen_weight`` against acting, the actions keep their shares of the
        rest: ``P(listen) = w p / (w p + 1 - p)``, ``P(a) = p(a) / (w p + 1 - p)``, still a
        distribution (a prior shift), so the ensemble and the core fallback threshold read it
        as any confidence. Below 1 the bot stops less early in a multi-action turn."""
        if self.listen_weight == 1.0 or ACTION_LISTEN not in self.classes:
            return scores
        listen = self.classes.index(ACTION_LISTEN)
        weighed = scores.copy()
        weighed[listen] *= self.listen_weight
        total = float(weighed.sum())
        return weighed / total if total > 0 else scores

    def _distribution(self, domain: Domain, scores: np.ndarray | None) -> dict[str, float]:
        """Confidences for every domain action (and every trained class); unseen ones 0."""
        if self._zeros is None or self._zeros[0] is not domain:
            self._zeros = (domain, dict.fromkeys([*domain.action_names, *domain.action_texts], 0.0))
        out = dict(self._zeros[1])
        if scores is not None:  # tolist: Python floats in one call, not one float() a class
            out.update(zip(self.classes, scores.tolist(), strict=True))
        return out

    def predict(self, tracker: Tracker, domain: Domain) -> PolicyPrediction:
        if self.featurizer is None or not self.classes:
            return PolicyPrediction(self._distribution(domain, None), self.name, self.priority)
        # the whole history: the featurizer keeps the window (and reads the turn from it all)
        states = tracker_states(tracker, domain)
        last = states[-1]
        # Rasa's first example: the last user turn by its intent (its text only without one)
        scores = self._class_probabilities(states)
        is_e2e = False
        text = tracker.latest_message.text
        if (
            last.after_listen
            and last.intent
            and text
            and self.featurizer.user_text_buckets
            and self.booster is not None
        ):
            # Rasa's second example: the user's text alone (no intent, no entities)
            by_text = [*states[:-1], replace(last, intent=None, entities=(), text=text)]
            text_scores = self._class_probabilities(by_text)
            if (
                text_scores.max() > self.e2e_confidence_threshold
                and text_scores.max() > scores.max()
            ):
                scores, is_e2e = text_scores, True
        return PolicyPrediction(
            probabilities=self._distribution(domain, scores),
            policy_name=self.name,
            priority=self.priority,
            is_end_to_end_prediction=is_e2e,
            diagnostic={"states": len(self._window(states)), "end_to_end": is_e2e},
        )

    # -- persistence ----------------------------------------------------------------------------

    def persist(self) -> dict[str, Any]:
        return {
            "config": self.config(),
            "featurizer": self.featurizer.to_dict() if self.featurizer else None,
            "classes": list(self.classes),
            "params": self.params() if self.booster else None,
            "model": self.booster.model_to_string() if self.booster else None,
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> LightGBMPolicy:
        policy = cls(**data.get("config", {}))
        if data.get("featurizer") is not None:
            policy.featurizer = StateFeaturizer.from_dict(data["featurizer"])
        policy.classes = list(data.get("classes", []))
        if data.get("model"):
            policy.booster = lgb.Booster(model_str=data["model"])
        return policy
