"""The policy ensemble: every policy predicts, one prediction wins, as in Rasa 3.6.

``rasa/core/policies/ensemble.py`` (DefaultPolicyPredictionEnsemble): an action rejected
last (``ActionExecutionRejected`` after the last ``ActionExecuted``) gets confidence 0.0 in
every prediction; then (1) "no user" predictions (a loop's happy path) win, (2) among the
others end-to-end (text) predictions win over intent-based ones, (3) the highest confidence
wins, (4) ties go to the higher priority (then to the policy listed first). The winner
carries every prediction's ``events`` plus its own ``optional_events``, and a
``DefinePrevUserUtteredFeaturization`` event when it answers a user message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chinwag.core.data.loader import Bot
from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.story_graph import expand
from chinwag.core.domain import Domain
from chinwag.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    DefinePrevUserUtteredFeaturization,
    Event,
)
from chinwag.core.policies.base import Policy, PolicyPrediction
from chinwag.core.policies.lightgbm import LightGBMPolicy
from chinwag.core.policies.memoization import AugmentedMemoizationPolicy, MemoizationPolicy
from chinwag.core.policies.rules import RulePolicy
from chinwag.core.policies.states import ACTION_LISTEN, shared_states
from chinwag.core.tracker import Tracker

logger = logging.getLogger(__name__)

POLICY_CLASSES: dict[str, type[Policy]] = {
    "MemoizationPolicy": MemoizationPolicy,
    "AugmentedMemoizationPolicy": AugmentedMemoizationPolicy,
    "RulePolicy": RulePolicy,
    "LightGBMPolicy": LightGBMPolicy,
}
# Rasa's machine-learning next-action policies: LightGBMPolicy serves them (max_history kept);
# EmbeddingPolicy is TED's Rasa 1.x name, KerasPolicy and SklearnPolicy Rasa 1.x's others
ML_POLICIES = ("TEDPolicy", "EmbeddingPolicy", "KerasPolicy", "SklearnPolicy")
# Rasa policies with no counterpart here
UNSERVED_POLICIES = ("UnexpecTEDIntentPolicy",)
# Rasa 1.x/2.x policies that RulePolicy replaced in Rasa 3: core.data.config.migrate_config
# rewrites them when a bot is loaded
RULE_POLICY_PREDECESSORS = (
    "MappingPolicy",
    "FormPolicy",
    "FallbackPolicy",
    "TwoStageFallbackPolicy",
)
_CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "MemoizationPolicy": ("max_history", "use_nlu_confidence_as_score", "priority"),
    "AugmentedMemoizationPolicy": ("max_history", "use_nlu_confidence_as_score", "priority"),
    "RulePolicy": (
        "core_fallback_threshold",
        "core_fallback_action_name",
        "enable_fallback_prediction",
        "restrict_rules",
        "check_for_contradictions",
        "use_nlu_confidence_as_score",
        "priority",
    ),
    "LightGBMPolicy": (
        "max_history",
        "priority",
        "augmentation_factor",
        "num_boost_round",
        "learning_rate",
        "num_leaves",
        "text_buckets",
        "e2e_confidence_threshold",
        "turn_features",
        "example_weights",
        "listen_weight",
        "boosting",
        "seed",
    ),
}
# Rasa options without an effect here (compression of lookup keys, featurizer choice)
_IGNORED_KEYS = ("name", "enable_feature_string_compression", "featurizer")


def _rejected_action(tracker: Tracker) -> str | None:
    """The action rejected since the last action ran (Rasa's ``_best_policy_prediction``)."""
    for event in reversed(tracker.events):
        if isinstance(event, ActionExecutionRejected):
            return event.action_name
        if isinstance(event, ActionExecuted):
            return None
    return None


def _policy_loggers(policy: Policy) -> tuple[logging.Logger, ...]:
    """The loggers ``policy.predict`` may log to: its class's and its base classes' modules'."""
    modules = dict.fromkeys(c.__module__ for c in type(policy).__mro__ if issubclass(c, Policy))
    return tuple(map(logging.getLogger, modules))


def pick_best(predictions: list[PolicyPrediction]) -> PolicyPrediction:
    """Rasa's ``_pick_best_policy``: the winner, carrying all predictions' events."""
    if not predictions:
        raise ValueError("no policy predictions to choose from")
    no_user = end_to_end = False
    for prediction in predictions:  # a loop: two generators cost more than the predictions
        no_user = no_user or prediction.is_no_user_prediction
        end_to_end = end_to_end or prediction.is_end_to_end_prediction
    best: PolicyPrediction | None = None
    best_rank = (-1.0, -1)
    events: list[Event] = []
    for prediction in predictions:
        events += prediction.events
        if prediction.is_no_user_prediction != no_user:
            continue
        if not no_user and prediction.is_end_to_end_prediction != end_to_end:
            continue
        rank = (prediction.max_confidence, prediction.priority)
        if rank > best_rank:
            best, best_rank = prediction, rank
    if best is None:  # pragma: no cover - every prediction is in some class
        raise ValueError("no best prediction found")
    return PolicyPrediction(
        probabilities=dict(best.probabilities),
        policy_name=best.policy_name,
        priority=best.priority,
        events=events + best.optional_events,
        is_no_user_prediction=best.is_no_user_prediction,
        is_end_to_end_prediction=best.is_end_to_end_prediction,
        diagnostic=dict(best.diagnostic),
    )


@dataclass
class PolicyEnsemble:
    """Trained policies that predict together."""

    policies: list[Policy]
    # the policies as last seen, which of them a no-user prediction outranks, their loggers
    _plan: tuple[list[Policy], tuple[bool, ...], tuple[logging.Logger, ...]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def predict(self, tracker: Tracker, domain: Domain) -> tuple[str, PolicyPrediction]:
        """The next action and the winning prediction (with the events to apply)."""
        predictions = self._predictions(tracker, domain)
        rejected = _rejected_action(tracker)
        if rejected is not None:
            logger.debug(
                "Execution of '%s' was rejected. Setting its confidence to 0.0 in all predictions.",
                rejected,
            )
            for prediction in predictions:
                if rejected in prediction.probabilities:
                    prediction.probabilities[rejected] = 0.0
        winner = pick_best(predictions)
        if tracker.latest_action_name == ACTION_LISTEN:
            winner.events.append(
                DefinePrevUserUtteredFeaturization(winner.is_end_to_end_prediction)
            )
        # nothing confident at all: listen (Rasa's argmax picks action_listen, index 0)
        action = winner.action or ACTION_LISTEN
        logger.debug(
            "Predicted next action '%s' with confidence %.2f by %s",
            action,
            winner.probabilities.get(action, 0.0),
            winner.policy_name,
        )
        return action, winner

    def _predictions(self, tracker: Tracker, domain: Domain) -> list[PolicyPrediction]:
        """Every policy's prediction, in the policies' order, but for those a no-user
        prediction outranks when there is one (``Policy.outranked_by_no_user``): the winner and
        the events are the same as with theirs (:func:`pick_best` chooses among no-user
        predictions only, and theirs carry no events). When the debug log of any of those is
        on, every policy predicts, in order, so the log is the same too."""
        policies = self.policies
        plan = self._plan
        if plan is None or plan[0] != policies:  # the policies' outranked flags and loggers
            outranked = tuple(policy.outranked_by_no_user for policy in policies)
            watched = dict.fromkeys(
                policy_logger
                for policy, later in zip(policies, outranked, strict=True)
                if later
                for policy_logger in _policy_loggers(policy)
            )
            plan = self._plan = (list(policies), outranked, tuple(watched))
        _, outranked, loggers = plan
        if not loggers:
            return [policy.predict(tracker, domain) for policy in policies]
        for policy_logger in loggers:
            if policy_logger.isEnabledFor(logging.DEBUG):
                return [policy.predict(tracker, domain) for policy in policies]
        first: list[PolicyPrediction | None] = []
        no_user = False
        for policy, later in zip(policies, outranked, strict=True):
            prediction = None if later else policy.predict(tracker, domain)
            if prediction is not None and prediction.is_no_user_prediction:
                no_user = True
            first.append(prediction)
        if no_user:
            return [prediction for prediction in first if prediction is not None]
        return [
            policy.predict(tracker, domain) if prediction is None else prediction
            for policy, prediction in zip(policies, first, strict=True)
        ]

    def persist(self) -> list[dict[str, Any]]:
        """Every policy's data, tagged with its class name (JSON-serializable)."""
        return [{"name": type(p).__name__, "data": p.persist()} for p in self.policies]

    @classmethod
    def load(cls, data: list[dict[str, Any]]) -> PolicyEnsemble:
        return cls([POLICY_CLASSES[item["name"]].load(item["data"]) for item in data])


def default_policies() -> list[Policy]:
    """chinwag's policies for a bot whose config.yml names none."""
    return [MemoizationPolicy(), RulePolicy(), LightGBMPolicy()]


def build_policies(
    config_policies: list[dict[str, Any]],
    problems: Problems,
    locations: list[Location] | None = None,
) -> list[Policy]:
    """The policies of a config.yml ``policies`` list (empty: chinwag's defaults).

    The defaults are Memoization, Rule and LightGBM, so dialogues no story covers still get
    a learned next action rather than the core fallback. Names may be written as Rasa class
    paths (``rasa.core.policies.rule_policy.RulePolicy``). TEDPolicy (and Rasa 1.x's
    EmbeddingPolicy / KerasPolicy / SklearnPolicy) become one LightGBMPolicy with their
    ``max_history``; UnexpecTEDIntentPolicy is skipped. Each of these gets one warning; unknown
    names and bad options are errors. Rasa 1.x/2.x's Mapping, Form and fallback policies are
    rewritten when the bot is loaded (``core.data.config.migrate_config``); a list given here
    directly that still holds them gets a warning each.
    """
    if not config_policies:
        return default_policies()
    policies: list[Policy] = []
    warned: set[str] = set()
    for index, entry in enumerate(config_policies):
        where = locations[index] if locations and index < len(locations) else None
        raw = str(entry.get("name", ""))
        name = raw.rsplit(".", 1)[-1]
        if name in ML_POLICIES:
            if any(isinstance(p, LightGBMPolicy) for p in policies):
                continue  # one ML policy is enough
            max_history = entry.get("max_history")
            if max_history is not None and not (isinstance(max_history, int) and max_history > 0):
                problems.error(
                    f"{name}: max_history must be a positive whole number, got {max_history!r}",
                    where,
                )
                continue
            lightgbm = LightGBMPolicy(max_history=max_history) if max_history else LightGBMPolicy()
            problems.warning(
                f"{name} is served by LightGBMPolicy (max_history {lightgbm.max_history}); "
                "its other options are ignored",
                where,
            )
            policies.append(lightgbm)
            continue
        if name in UNSERVED_POLICIES or name in RULE_POLICY_PREDECESSORS:
            if name not in warned:
                warned.add(name)
                if name in UNSERVED_POLICIES:
                    message = f"{name} has no counterpart here; ignored"
                else:
                    message = (
                        f"{name} is a Rasa 1.x/2.x policy that RulePolicy replaces (load the bot "
                        "with core.data.loader.load_bot to migrate it); ignored"
                    )
                problems.warning(message, where)
            continue
        cls = POLICY_CLASSES.get(name)
        if cls is None:
            known = ", ".join([*POLICY_CLASSES, *ML_POLICIES])
            problems.error(f"unknown policy '{raw}' (known: {known})", where)
            continue
        options: dict[str, Any] = {}
        for key, value in entry.items():
            if key in _IGNORED_KEYS:
                continue
            if key not in _CONFIG_KEYS[name]:
                problems.warning(f"{name}: option '{key}' is not supported; ignored", where)
                continue
            options[key] = value
        try:
            policies.append(cls(**options))
        except (TypeError, ValueError) as error:  # a bad value (the keys are checked above)
            problems.error(f"{name}: {error}", where)
    return policies


def train_policies(
    policies: list[Policy],
    bot: Bot,
    *,
    progress: Callable[[str, float], None] | None = None,
) -> PolicyEnsemble:
    """Expand the bot's stories and rules and train every policy on them; ``progress`` hears
    ``(policy name, 0.0)`` before and ``(policy name, 1.0)`` after each one.

    Raises :class:`core.policies.base.TrainingError` when a policy finds the data unusable
    (e.g. contradicting rules).
    """
    problems = Problems()
    conversations = expand([*bot.stories, *bot.rules], problems)
    stories = [c for c in conversations if c.kind == "story"]
    rules = [c for c in conversations if c.kind == "rule"]
    with shared_states():  # every policy reads every story's states: build them once
        for policy in policies:
            stage = type(policy).__name__
            if progress is not None:
                progress(stage, 0.0)
            policy.train(stories, rules, bot.domain)
            if progress is not None:
                progress(stage, 1.0)
    return PolicyEnsemble(policies)
