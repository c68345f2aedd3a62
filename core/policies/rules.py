"""RulePolicy: rules as a lookup, loops' happy paths, default intents and the core fallback.

Rasa 3.6's ``rasa/core/policies/rule_policy.py``, on the states of :mod:`core.policies.states`:

* training learns every rule turn (states after the last ``...``, unset slots left out) as a
  lookup key -> action, drops ambiguous keys and keys predicting ``...``, and learns the
  loop "unhappy path" hints from rules and stories (``_create_loop_unhappy_lookup_from_states``);
* prediction (``_predict``): a rule matched on the user's text, else the default intents
  (``/restart``, ``/back``, ``/session_start``), else the active loop's happy path (predict
  the loop; ``action_listen`` after it ran), else rules matched on text, then on the intent,
  else ``action_default_fallback`` at ``core_fallback_threshold``;
* training checks (``restrict_rules``, ``_check_for_incomplete_rules``, ``_analyze_rules``)
  replay rules and stories through this same prediction code; contradictions raise
  :class:`core.policies.base.TrainingError`. :mod:`core.policies.conflicts` uses the same
  analysis for ``chinwag data validate``.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from chinwag.core.data.problems import Location, Problem
from chinwag.core.data.story_graph import Conversation
from chinwag.core.data.training import RULE_SNIPPET_ACTION, UserStep
from chinwag.core.domain import Domain
from chinwag.core.events import ActiveLoop, LoopInterrupted, SlotSet
from chinwag.core.policies.base import Policy, PolicyPrediction, TrainingError
from chinwag.core.policies.states import (
    ACTION_LISTEN,
    SHOULD_NOT_BE_SET,
    State,
    StoryAction,
    Turn,
    after_snippet,
    conversation_events,
    conversation_states,
    state_from_dict,
    state_key,
    tracker_states,
)
from chinwag.core.tracker import Tracker

logger = logging.getLogger(__name__)

RULE_POLICY_PRIORITY = 4
DEFAULT_CORE_FALLBACK_THRESHOLD = 0.3
FALLBACK_ACTION = "action_default_fallback"  # RulePolicy's core_fallback_action_name
# Rasa's DEFAULT_ACTION_MAPPINGS: these intents run their default action whatever the rules
DEFAULT_ACTION_MAPPINGS = {
    "restart": "action_restart",
    "back": "action_back",
    "session_start": "action_session_start",
}
DEFAULT_RULES = "predicting default action with intent "
LOOP_RULES = "handling active loops and forms - "
LOOP_RULES_SEPARATOR = " - "
AFTER_FALLBACK = "listening after the fallback action "
LOOP_WAS_INTERRUPTED = "loop_was_interrupted"
DO_NOT_PREDICT_LOOP_ACTION = "do_not_predict_loop_action"
# rules may hold at most this many user turns when restrict_rules is on
ALLOWED_NUMBER_OF_USER_INPUTS = 1

Trackers = list[tuple[Conversation, list[Turn]]]


class RuleInput(NamedTuple):
    """What RulePolicy reads of a tracker: its states and a few facts about the present (a
    named tuple: made on every prediction, and cheaper to make than a frozen dataclass)."""

    states: tuple[State, ...]
    active_loop: str | None = None
    loop_rejected: bool = False
    latest_intent: str | None = None
    # the latest user text when it may be used for featurization (end-to-end rules)
    latest_text: str | None = None
    intent_confidence: float = 1.0

    @property
    def state(self) -> State:
        return self.states[-1]

    @classmethod
    def from_tracker(cls, tracker: Tracker, domain: Domain) -> RuleInput:
        message = tracker.latest_message
        confidence = message.intent.get("confidence")
        return cls(
            states=tuple(tracker_states(tracker, domain)),
            active_loop=tracker.active_loop_name,
            loop_rejected=tracker.is_active_loop_rejected,
            latest_intent=message.intent_name,
            latest_text=message.text if message.use_text_for_featurization is not False else None,
            intent_confidence=float(confidence) if isinstance(confidence, (int, float)) else 1.0,
        )

    @classmethod
    def from_turn(cls, turn: Turn, loop_rejected: bool) -> RuleInput:
        """A training conversation just before ``turn`` (its user turns carry no text)."""
        return cls(
            states=turn.history,
            active_loop=turn.active_loop,
            loop_rejected=loop_rejected,
            latest_intent=turn.latest_intent,
            latest_text=turn.state.text,
        )


class RuleResult(NamedTuple):
    """One RulePolicy decision: the action (None: nothing matched) and why (a named tuple,
    as :class:`RuleInput`)."""

    action: str | None
    source: str | None  # a rule key, or one of the default/loop sources
    returning_from_unhappy_path: bool = False
    is_no_user_prediction: bool = False
    is_end_to_end_prediction: bool = False


_NO_RULE = RuleResult(None, None)


def _rule_matches_state(rule: State, conv: State) -> bool:
    """``_does_rule_match_state``: the rule state's features are in the conversation's."""
    fields: list[tuple[object, object]] = [
        (rule.intent, conv.intent),
        (rule.text, conv.text),
        (rule.entities or None, conv.entities or None),
        (rule.action, conv.action),
        (rule.action_text, conv.action_text),
    ]
    for wanted, have in fields:
        if wanted and have != wanted:
            return False
    pairs: list[tuple[object, object]] = [(rule.loop, conv.loop)]
    pairs += [(value, conv.slot(name)) for name, value in rule.slots]
    for wanted, have in pairs:
        if wanted == SHOULD_NOT_BE_SET:
            if have and have != SHOULD_NOT_BE_SET:
                return False
        elif wanted and have != wanted:
            return False
    return True


def _rule_applies(rule: tuple[State, ...], states: Sequence[State]) -> bool:
    """``_is_rule_applicable``, for every turn back in time."""
    for back in range(min(len(rule), len(states))):
        rule_state, state = rule[-1 - back], states[-1 - back]
        rule_has_action = rule_state.prev_action is not None
        has_action = state.prev_action is not None
        if not rule_has_action and not has_action:
            continue
        if not rule_has_action or not has_action:
            return False
        if not _rule_matches_state(rule_state, state):
            return False
    return True


class _LastTurnIndex:
    """Rule keys grouped by what their last turn requires of the conversation's last state.

    A rule whose last state has a previous action applies only where the conversation's last
    state has that same action (and that intent, when the rule names one), so only the keys
    filed under the last state's (action, intent), (action, any intent) and the keys whose
    last state names no action need the full check: the same keys apply as when every rule
    is checked, for a fraction of the work.
    """

    def __init__(self, keys: dict[str, str], key_states: dict[str, tuple[State, ...]]) -> None:
        self.keys = keys
        self.size = len(keys)
        self.always: list[str] = []
        self.by_turn: dict[tuple[str, str | None], list[str]] = defaultdict(list)
        for key in keys:
            last = key_states[key][-1] if key_states[key] else None
            if last is None or not last.action:
                self.always.append(key)
            else:
                self.by_turn[(last.action, last.intent or None)].append(key)

    def candidates(self, state: State) -> list[str]:
        if not state.action:
            return self.always
        return [
            *self.by_turn.get((state.action, state.intent or None), ()),
            *(self.by_turn.get((state.action, None), ()) if state.intent else ()),
            *self.always,
        ]


def _loop_name(state: State) -> str | None:
    """Rasa's ``get_active_loop_name``: ``should_not_be_set`` is no loop."""
    return state.loop if state.loop and state.loop != SHOULD_NOT_BE_SET else None


def _where(location: Location | None) -> str:
    return f" ({location})" if location else ""


def _step_name(conv: Conversation, turn: Turn) -> str:
    """The story or rule that wrote a turn's step (falls back to the stitched name)."""
    return turn.story.name if turn.story is not None else conv.name


@dataclass
class _Source:
    name: str
    action: str
    location: Location | None


class RulePolicy(Policy):
    """Rasa's RulePolicy (priority 4)."""

    name = "RulePolicy"

    def __init__(
        self,
        *,
        priority: int = RULE_POLICY_PRIORITY,
        core_fallback_threshold: float = DEFAULT_CORE_FALLBACK_THRESHOLD,
        core_fallback_action_name: str = FALLBACK_ACTION,
        enable_fallback_prediction: bool = True,
        restrict_rules: bool = True,
        check_for_contradictions: bool = True,
        use_nlu_confidence_as_score: bool = False,
    ) -> None:
        self.priority = priority
        self.core_fallback_threshold = core_fallback_threshold
        self.fallback_action = core_fallback_action_name
        self.enable_fallback_prediction = enable_fallback_prediction
        self.restrict_rules = restrict_rules
        self.check_for_contradictions = check_for_contradictions
        self.use_nlu_confidence_as_score = use_nlu_confidence_as_score
        self.lookup: dict[str, str] = {}  # rule key -> action
        self.unhappy: dict[str, str] = {}  # rule key -> LOOP_WAS_INTERRUPTED / DO_NOT_...
        self.rule_names: dict[str, list[str]] = {}  # rule key -> rules that wrote it
        self._key_states: dict[str, tuple[State, ...]] = {}
        self._has_text_rules = False
        self._indexes: dict[int, _LastTurnIndex] = {}  # id(lookup or unhappy) -> its index
        # contradiction analysis: prediction source -> (rule, action) it was collected from
        self._sources: dict[str, list[_Source]] = defaultdict(list)
        self._reported: set[frozenset[tuple[str, str, str]]] = set()

    # -- config and persistence ---------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        return {
            "priority": self.priority,
            "core_fallback_threshold": self.core_fallback_threshold,
            "core_fallback_action_name": self.fallback_action,
            "enable_fallback_prediction": self.enable_fallback_prediction,
            "restrict_rules": self.restrict_rules,
            "check_for_contradictions": self.check_for_contradictions,
            "use_nlu_confidence_as_score": self.use_nlu_confidence_as_score,
        }

    def persist(self) -> dict[str, Any]:
        return {
            "config": self.config(),
            "rules": dict(sorted(self.lookup.items())),
            "rules_for_loop_unhappy_path": dict(sorted(self.unhappy.items())),
            "rule_names": dict(sorted(self.rule_names.items())),
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> RulePolicy:
        policy = cls(**data.get("config", {}))
        policy.rule_names = {k: list(v) for k, v in data.get("rule_names", {}).items()}
        policy._set_lookups(dict(data["rules"]), dict(data["rules_for_loop_unhappy_path"]))
        return policy

    def _set_lookups(self, rules: dict[str, str], unhappy: dict[str, str]) -> None:
        self.lookup = rules
        self.unhappy = unhappy
        self._key_states = {
            key: tuple(state_from_dict(s) for s in json.loads(key)) for key in {*rules, *unhappy}
        }
        self._has_text_rules = any(
            states and states[-1].text for key, states in self._key_states.items() if key in rules
        )

    # -- training -----------------------------------------------------------------------------

    def train(self, stories: list[Conversation], rules: list[Conversation], domain: Domain) -> None:
        """Learn the rules; raise :class:`TrainingError` for invalid or contradicting ones."""
        rule_turns = unique_trackers([(c, conversation_states(c, domain)) for c in rules])
        story_turns = unique_trackers([(c, conversation_states(c, domain)) for c in stories])
        problems: list[Problem] = []
        if self.restrict_rules:
            problems += restricted_rule_problems(rules)
        if self.check_for_contradictions:
            problems += find_incomplete_rules(rules, domain)
        self.learn(rule_turns, story_turns, domain)
        if self.check_for_contradictions:
            problems += self.find_contradictions(rule_turns, story_turns)
        if problems:
            raise TrainingError(problems)
        logger.debug("Memorized %d unique rules.", len(self.lookup))

    def learn(self, rules: Trackers, stories: Trackers, domain: Domain) -> None:
        """``_create_lookup_from_trackers``: the rule lookup and the loop unhappy-path hints."""
        lookup: dict[str, str] = {}
        names: dict[str, list[str]] = defaultdict(list)
        ambiguous: set[str] = set()
        rule_examples: list[tuple[tuple[State, ...], str]] = []
        for conv, _ in rules:
            for turn in conversation_states(conv, domain, omit_unset_slots=True):
                if turn.unpredictable:
                    continue
                rule_examples.append((turn.history, turn.action))
                states = after_snippet(turn.history)
                if not states:
                    continue
                key = state_key(states)
                if key in ambiguous:
                    continue
                if key in lookup and lookup[key] != turn.action:
                    ambiguous.add(key)
                    del lookup[key]
                elif key not in lookup:
                    lookup[key] = turn.action
                name = _step_name(conv, turn)
                if name not in names[key]:
                    names[key].append(name)
        lookup = {k: a for k, a in lookup.items() if a != RULE_SNIPPET_ACTION}
        story_examples = [
            (t.history, t.action) for _, turns in stories for t in turns if not t.unpredictable
        ]
        unhappy: dict[str, str] = {}
        for history, action in rule_examples + story_examples:
            self._learn_unhappy(unhappy, history, action)
        self.rule_names = {k: names[k] for k in lookup}
        self._set_lookups(lookup, unhappy)

    @staticmethod
    def _learn_unhappy(unhappy: dict[str, str], history: tuple[State, ...], action: str) -> None:
        """``_create_loop_unhappy_lookup_from_states``, one example."""
        last = history[-1]
        loop = _loop_name(last)
        if not loop:
            return
        if len(history) == 1 or history[-2].prev_action is None:
            states: tuple[State, ...] = (last,)
        else:
            before = history[-2]
            states = (State(action=before.action, action_text=before.action_text), last)
        states = after_snippet(states)
        if not states:
            return
        if last.after_listen and action == loop:
            unhappy[state_key(states)] = LOOP_WAS_INTERRUPTED
        elif not last.after_listen and action != loop:
            unhappy[state_key(states)] = DO_NOT_PREDICT_LOOP_ACTION

    # -- prediction ---------------------------------------------------------------------------

    def predict(self, tracker: Tracker, domain: Domain) -> PolicyPrediction:
        inp = RuleInput.from_tracker(tracker, domain)
        result = self.decide(inp)
        if result.action is not None:
            logger.debug("RulePolicy predicts '%s' (%s)", result.action, result.source)
        else:
            logger.debug("RulePolicy: no applicable rule")
        probabilities: dict[str, float] = {}
        if self.enable_fallback_prediction:
            probabilities[self.fallback_action] = self.core_fallback_threshold
        if result.action is not None:
            score = inp.intent_confidence if self.use_nlu_confidence_as_score else 1.0
            probabilities[result.action] = score
        diagnostic: dict[str, Any] = {"source": result.source}
        if result.source in self.rule_names:
            diagnostic["rules"] = list(self.rule_names[result.source])
        return PolicyPrediction(
            probabilities=probabilities,
            policy_name=self.name,
            priority=self.priority,
            events=[LoopInterrupted(True)] if result.returning_from_unhappy_path else [],
            is_no_user_prediction=result.is_no_user_prediction,
            is_end_to_end_prediction=result.is_end_to_end_prediction,
            diagnostic=diagnostic,
        )

    def decide(self, inp: RuleInput) -> RuleResult:
        """Rasa's ``RulePolicy._predict``: the action and its prediction source."""
        state = inp.state
        from_text = self._from_rules(inp, use_text=True)
        if (
            state.after_listen
            and inp.latest_intent in DEFAULT_ACTION_MAPPINGS
            and not from_text.action
        ):
            intent = inp.latest_intent or ""
            return RuleResult(DEFAULT_ACTION_MAPPINGS[intent], DEFAULT_RULES + intent)
        if state.action == self.fallback_action:
            return RuleResult(ACTION_LISTEN, AFTER_FALLBACK + self.fallback_action)
        loop = inp.active_loop
        if loop and not inp.loop_rejected and state.prev_action is not None:
            if state.action != loop:
                return RuleResult(loop, LOOP_RULES + loop, is_no_user_prediction=True)
            source = f"{LOOP_RULES}{loop}{LOOP_RULES_SEPARATOR}{ACTION_LISTEN}"
            return RuleResult(ACTION_LISTEN, source, is_no_user_prediction=True)
        if from_text.action:
            return from_text._replace(is_end_to_end_prediction=True)
        from_intent = self._from_rules(inp, use_text=False)
        if from_intent.returning_from_unhappy_path or not from_text.returning_from_unhappy_path:
            return from_intent  # already what the _replace below would make
        return from_intent._replace(returning_from_unhappy_path=True)

    def _possible(self, keys: dict[str, str], states: Sequence[State]) -> list[str]:
        """The rule keys in ``keys`` that apply to ``states`` (checked against the few rules
        whose last turn can match at all, see :class:`_LastTurnIndex`)."""
        if not states:  # every rule applies to no history
            return list(keys)
        index = self._indexes.get(id(keys))
        if index is None or index.keys is not keys or index.size != len(keys):
            index = _LastTurnIndex(keys, self._key_states)
            self._indexes[id(keys)] = index
        return [
            key
            for key in index.candidates(states[-1])
            if key in keys and _rule_applies(self._key_states[key], states)
        ]

    def _from_rules(self, inp: RuleInput, *, use_text: bool) -> RuleResult:
        """``_find_action_from_rules`` on the last user turn's text or intent."""
        state = inp.state
        if use_text and (not state.after_listen or not self._has_text_rules):
            return _NO_RULE  # (results are immutable: one serves every call)
        states = list(inp.states)
        if state.after_listen:  # Rasa's _choose_last_user_input
            states[-1] = (
                replace(state, intent=None, entities=(), text=inp.latest_text)
                if use_text
                else (state if state.text is None else replace(state, text=None))
            )
        rule_keys = self._possible(self.lookup, states)
        predicted: str | None = None
        best = ""
        if rule_keys:
            best = max(rule_keys, key=lambda k: (len(k), k))
            predicted = self.lookup[best]
        returning = False
        if inp.active_loop:
            unhappy = {self.unhappy[k] for k in self._possible(self.unhappy, states)}
            if predicted == ACTION_LISTEN and not _loop_name(self._key_states[best][-1]):
                # a general rule listens inside the loop: go back to the loop instead
                if DO_NOT_PREDICT_LOOP_ACTION not in unhappy:
                    return RuleResult(inp.active_loop, best)
                predicted = None
            returning = LOOP_WAS_INTERRUPTED in unhappy
        if best:
            return RuleResult(predicted, best, returning)
        cut = after_snippet(states)
        return RuleResult(predicted, state_key(cut) if cut else None, returning)

    # -- contradictions -----------------------------------------------------------------------

    def find_contradictions(self, rules: Trackers, stories: Trackers) -> list[Problem]:
        """``_analyze_rules``: replay rules (collect sources), then stories and rules (check)."""
        self._sources = defaultdict(list)
        self._reported = set()
        self._run(rules, collect=True)
        # Rasa's training trackers list stories before rules
        return self._run(stories + rules, collect=False)

    def _predict_turn(self, turn: Turn, rejected: bool, is_rule: bool) -> RuleResult:
        """``_predict_next_action``: rules must always predict (the fallback at worst)."""
        result = self.decide(RuleInput.from_turn(turn, rejected))
        if result.action is None and is_rule:
            return result._replace(action=self.fallback_action)
        return result

    def _run(self, trackers: Trackers, *, collect: bool) -> list[Problem]:
        """``_run_prediction_on_trackers``: collect rule sources, or check predictions."""
        problems: list[Problem] = []
        for conv, turns in trackers:
            is_rule = conv.kind == "rule"
            rejected = False
            loop_before: str | None = None
            next_unpredictable = True  # the first action is always unpredictable
            for turn in turns:
                if turn.active_loop != loop_before:
                    rejected, loop_before = False, turn.active_loop
                if turn.action == RULE_SNIPPET_ACTION:
                    next_unpredictable = True
                elif next_unpredictable or turn.unpredictable:
                    next_unpredictable = False
                else:
                    result = self._predict_turn(turn, rejected, is_rule)
                    if (
                        turn.active_loop
                        and result.action not in (turn.action, None)
                        and result.action == turn.active_loop
                    ):
                        rejected = True  # rasa.core.test.emulate_loop_rejection
                        result = self._predict_turn(turn, rejected, is_rule)
                    if collect:
                        if result.source:
                            self._collect(conv, turn, result)
                    else:
                        problems.extend(self._check(conv, turn, result))
                if turn.action == ACTION_LISTEN and not turn.is_text:
                    rejected = False
        return problems

    def _collect(self, conv: Conversation, turn: Turn, result: RuleResult) -> None:
        source = result.source or ""
        if source.startswith((DEFAULT_RULES, LOOP_RULES)):
            self._sources[source].append(_Source(source, result.action or "", None))
        else:
            self._sources[source].append(
                _Source(_step_name(conv, turn), turn.action, turn.location)
            )

    def _should_delete(self, source: str, is_rule: bool, predicted: str) -> bool:
        """``_should_delete``: a rule's listen that a longer rule goes beyond."""
        if is_rule or source.count("prev_action") > 1 or predicted != ACTION_LISTEN:
            return False
        return any(k.startswith(source[:-2]) and k != source for k in self.lookup)

    def _check(self, conv: Conversation, turn: Turn, result: RuleResult) -> list[Problem]:
        """``_check_prediction``: one located error naming the contradicting rules."""
        predicted, source = result.action, result.source
        if not predicted or not source or predicted == turn.action:
            return []
        if self._should_delete(source, conv.kind == "rule", predicted):
            self.lookup.pop(source, None)
            return []
        against = [s for s in self._sources.get(source, []) if s.action != turn.action]
        if not against:
            return []
        me = _Source(_step_name(conv, turn), turn.action, turn.location)
        # "A vs B" and "B vs A" are one contradiction
        key = frozenset((x.name, str(x.location), x.action) for x in [me, *against])
        if key in self._reported:
            return []
        self._reported.add(key)
        kind = "rule" if conv.kind == "rule" else "story"
        who = f"{kind} '{me.name}'{_where(turn.location)}"
        labels = list(dict.fromkeys(f"rule '{s.name}'{_where(s.location)}" for s in against))
        them = " and ".join(labels)
        if predicted == self.fallback_action:  # the rules could not agree on any prediction
            actions = dict.fromkeys([turn.action, *(s.action for s in against)])
            message = f"{who} and {them} disagree after the same conversation: " + " vs ".join(
                f"'{a}'" for a in actions
            )
        else:
            verb = "predicts" if len(labels) == 1 else "predict"
            message = (
                f"{them} {verb} '{predicted}' where {who} runs '{turn.action}' after the "
                "same conversation"
            )
        return [Problem("error", message, turn.location)]


def unique_trackers(trackers: Trackers) -> Trackers:
    """Drop conversations whose states and actions repeat an earlier one's (OR copies)."""
    seen: set[tuple[tuple[State, ...], tuple[str, ...]]] = set()
    out: Trackers = []
    for conv, turns in trackers:
        key = (turns[0].states if turns else (), tuple(t.action for t in turns))
        if key not in seen:
            seen.add(key)
            out.append((conv, turns))
    return out


def restricted_rule_problems(rules: list[Conversation]) -> list[Problem]:
    """``_check_rule_restriction``: a rule holds at most one user message."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for conv in rules:
        count = sum(isinstance(step, UserStep) for step in conv.steps)
        if count > ALLOWED_NUMBER_OF_USER_INPUTS and conv.name not in seen:
            seen.add(conv.name)
            problems.append(
                Problem(
                    "error",
                    f"rule '{conv.name}' has {count} user messages, but a rule may hold at most "
                    f"{ALLOWED_NUMBER_OF_USER_INPUTS} (rules are not meant to hardcode a state "
                    "machine); write it as a story, or set restrict_rules: false for RulePolicy",
                    conv.sources[0].location,
                )
            )
    return problems


def find_incomplete_rules(rules: list[Conversation], domain: Domain) -> list[Problem]:
    """``_check_for_incomplete_rules``: an action sets slots/loops in one rule only.

    An action's "fingerprint" is every featurized slot and active loop that some rule sets
    right after it; a rule where the same action is followed by the next action without
    one of those is incomplete (it should set it, or end with ``wait_for_user_input: false``).
    """
    featurized = {name for name, slot in domain.slots.items() if slot.featurize(None)}
    fp_slots: dict[str, set[str]] = defaultdict(set)
    fp_loops: dict[str, set[str | None]] = defaultdict(set)
    for conv in rules:
        after: str | None = None  # the action the following slot/loop events belong to
        for event in conversation_events(conv, domain):
            if isinstance(event, StoryAction):
                after = event.action_name or event.action_text
            elif not isinstance(event, SlotSet | ActiveLoop):
                after = None  # entity slots of a user turn belong to no action
            elif after is not None and isinstance(event, SlotSet):
                if event.key in featurized:
                    fp_slots[after].add(event.key)
            elif after is not None and isinstance(event, ActiveLoop):
                fp_loops[after].add(event.name)
    problems: list[Problem] = []
    seen: set[str] = set()
    for conv in rules:
        turns = conversation_states(conv, domain)
        if not turns:
            continue
        states = turns[0].states
        nexts = [t.action for t in turns[1:]] + [ACTION_LISTEN]
        for index, (state, action) in enumerate(zip(states, nexts, strict=False)):
            previous = state.action
            if not previous or RULE_SNIPPET_ACTION in (action, previous):
                continue
            where = turns[index - 1].location if index else None
            at = _where(where)
            messages: list[str] = []
            missing = fp_slots.get(previous, set()) - {name for name, _ in state.slots}
            if missing:
                messages.append(
                    f"rule '{conv.name}'{at}: the action '{previous}' does not set "
                    f"slot(s) {', '.join(repr(m) for m in sorted(missing))} that it sets "
                    "in other rules; add them with slot_was_set, or end the rule with "
                    "wait_for_user_input: false"
                )
            loops = fp_loops.get(previous, set())
            if loops and state.loop not in loops:
                shown = sorted("null" if x in (None, SHOULD_NOT_BE_SET) else x for x in loops)
                messages.append(
                    f"rule '{conv.name}'{at}: the form '{previous}' does not set the "
                    f"active_loop it sets in other rules ({', '.join(shown)}); add "
                    "active_loop, or end the rule with wait_for_user_input: false"
                )
            for message in messages:
                if message not in seen:
                    seen.add(message)
                    problems.append(Problem("error", message, where))
    return problems
