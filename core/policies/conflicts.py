"""Stories and rules that contradict each other, found before any training.

Two checks, both over the dialogue states of :mod:`core.policies.states`:

* story vs story, as Rasa's ``rasa/core/training/story_conflict.py``
  (``find_story_conflicts``, run by ``rasa data validate``): the same state history (the last
  ``max_history`` states, or all of them) followed by different actions;
* rule vs rule and rule vs story, as RulePolicy's training check
  (``rasa/core/policies/rule_policy.py``: ``_collect_rule_sources``,
  ``_find_contradicting_and_used_in_stories_rules``, ``_check_prediction``): the rules are
  learnt as a lookup, replayed on every rule and story, and an action that differs from what
  the rules predict at that point (naming the rules that did predict something else there)
  is a contradiction. :func:`find_incomplete_rules` is RulePolicy's
  ``_check_for_incomplete_rules``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from core.data.problems import Location, Problem
from core.data.story_graph import Conversation
from core.data.training import RULE_SNIPPET_ACTION
from core.domain import Domain
from core.policies.states import (
    ACTION_LISTEN,
    SHOULD_NOT_BE_SET,
    ActionEvent,
    LoopEvent,
    SlotEvent,
    State,
    Turn,
    UserEvent,
    after_snippet,
    conversation_events,
    conversation_states,
    state_key,
)

ACTION_UNLIKELY_INTENT = "action_unlikely_intent"
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
LOOP_WAS_INTERRUPTED = "loop_was_interrupted"
DO_NOT_PREDICT_LOOP_ACTION = "do_not_predict_loop_action"


def _where(turn: Turn) -> str:
    return f" ({turn.location})" if turn.location else ""


def _kind(conv: Conversation) -> str:
    return "rule" if conv.kind == "rule" else "story"


def _step_name(conv: Conversation, turn: Turn) -> str:
    """The story or rule that wrote a turn's step (falls back to the stitched name)."""
    return turn.story.name if turn.story is not None else conv.name


def _previous_event(state: State) -> str | None:
    """What happened last before a state (Rasa's ``_get_previous_event``)."""
    if state.action and state.action != ACTION_LISTEN:
        return f"action '{state.action}'"
    if state.action_text:
        return f"bot utterance '{state.action_text}'"
    if state.intent:
        return f"intent '{state.intent}'"
    if state.text:
        return f"user utterance '{state.text}'"
    return None


# ------------------------------------------------------------------ story vs story


def _story_conflicts(
    stories: list[tuple[Conversation, list[Turn]]], max_history: int | None
) -> list[Problem]:
    def sliced(turn: Turn) -> tuple[State, ...]:
        history = turn.history
        return history[-max_history:] if max_history else history

    # two passes, as Rasa does: hashes first, the full histories only where actions differ
    actions_at: dict[int, set[str]] = defaultdict(set)
    for _, turns in stories:
        for turn in turns:
            actions_at[hash(sliced(turn))].add(turn.action)
    conflicting = {
        h
        for h, actions in actions_at.items()
        if len(actions) > 1 or ACTION_UNLIKELY_INTENT in actions
    }
    groups: dict[tuple[State, ...], dict[str, tuple[Conversation, Turn]]] = {}
    for conv, turns in stories:
        for turn in turns:
            history = sliced(turn)
            if hash(history) in conflicting:
                groups.setdefault(history, {}).setdefault(turn.action, (conv, turn))
    problems: list[Problem] = []
    seen: set[frozenset[tuple[str, str]]] = set()
    span = f"last {max_history} turns" if max_history else "conversation"
    for history, by_action in groups.items():
        last = _previous_event(history[-1])
        if last is None or len(by_action) < 2:  # conflicts at the very start are not learnt
            continue
        key = frozenset((a, str(t.location)) for a, (_, t) in by_action.items())
        if key in seen:
            continue
        seen.add(key)
        parts = [(a, c, t) for a, (c, t) in by_action.items()]
        who = [f"story '{_step_name(c, t)}'{_where(t)}" for _, c, t in parts]
        names = " and ".join(who) if len(who) == 2 else ", ".join(who[:-1]) + " and " + who[-1]
        actions = " vs ".join(f"'{a}'" for a, _, _ in parts)
        problems.append(
            Problem(
                "error",
                f"{names} disagree after the same {span} (ending with {last}): {actions}",
                parts[0][2].location,
            )
        )
    return problems


# ------------------------------------------------------------------ RulePolicy emulation


@dataclass
class _Source:
    name: str
    action: str
    location: Location | None


def _rule_matches_state(rule: State, conv: State) -> bool:
    """RulePolicy._does_rule_match_state: the rule state's features are in the conversation's."""
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
    """RulePolicy._is_rule_applicable, for every turn back in time."""
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


class _RulePolicy:
    """Just the prediction logic of Rasa's RulePolicy needed to find contradictions."""

    def __init__(
        self,
        rules: list[tuple[Conversation, list[Turn]]],
        stories: list[tuple[Conversation, list[Turn]]],
        domain: Domain,
    ) -> None:
        self.forms = set(domain.forms)
        self.lookup: dict[str, str] = {}
        self.key_states: dict[str, tuple[State, ...]] = {}
        ambiguous: set[str] = set()
        rule_examples: list[tuple[tuple[State, ...], str]] = []
        for conv, _ in rules:
            for turn in conversation_states(conv, domain, omit_unset_slots=True):
                if not turn.unpredictable:
                    rule_examples.append((turn.history, turn.action))
        for history, action in rule_examples:
            states = after_snippet(history)
            if not states:
                continue
            key = state_key(states)
            if key in ambiguous:
                continue
            if key in self.lookup and self.lookup[key] != action:
                ambiguous.add(key)
                del self.lookup[key]
            elif key not in self.lookup:
                self.lookup[key] = action
                self.key_states[key] = states
        self.lookup = {k: a for k, a in self.lookup.items() if a != RULE_SNIPPET_ACTION}
        story_examples = [
            (t.history, t.action) for _, turns in stories for t in turns if not t.unpredictable
        ]
        self.unhappy: dict[str, str] = {}
        self.unhappy_states: dict[str, tuple[State, ...]] = {}
        for history, action in rule_examples + story_examples:
            self._learn_unhappy(history, action)
        self.sources: dict[str, list[_Source]] = defaultdict(list)
        self.reported: set[frozenset[tuple[str, str, str]]] = set()

    def _learn_unhappy(self, history: tuple[State, ...], action: str) -> None:
        """RulePolicy._create_loop_unhappy_lookup_from_states, one example."""
        last = history[-1]
        loop = last.loop if last.loop != SHOULD_NOT_BE_SET else None
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
        key = state_key(states)
        if last.after_listen and action == loop:
            self.unhappy[key] = LOOP_WAS_INTERRUPTED
            self.unhappy_states[key] = states
        elif not last.after_listen and action != loop:
            self.unhappy[key] = DO_NOT_PREDICT_LOOP_ACTION
            self.unhappy_states[key] = states

    @staticmethod
    def _possible(
        keys: Iterable[str], key_states: dict[str, tuple[State, ...]], states: Sequence[State]
    ) -> list[str]:
        return [key for key in keys if _rule_applies(key_states[key], states)]

    def _from_rules(self, turn: Turn, *, use_text: bool) -> tuple[str | None, str | None]:
        """RulePolicy._find_action_from_rules: (prediction, rule key / state key)."""
        state = turn.state
        if use_text and not state.after_listen:
            return None, None
        states = list(turn.history)
        if state.after_listen:  # Rasa's _choose_last_user_input
            states[-1] = (
                replace(state, intent=None, entities=()) if use_text else replace(state, text=None)
            )
        rule_keys = self._possible(self.lookup, self.key_states, states)
        predicted: str | None = None
        best = ""
        if rule_keys:
            best = max(rule_keys, key=lambda k: (len(k), k))
            predicted = self.lookup[best]
        if turn.active_loop:
            unhappy = {
                self.unhappy[k] for k in self._possible(self.unhappy, self.unhappy_states, states)
            }
            if predicted == ACTION_LISTEN:
                last_rule_state = self.key_states[best][-1]
                rule_loop = last_rule_state.loop
                if not rule_loop or rule_loop == SHOULD_NOT_BE_SET:
                    if DO_NOT_PREDICT_LOOP_ACTION not in unhappy:
                        return turn.active_loop, best
                    predicted = None
        if best:
            return predicted, best
        cut = after_snippet(states)
        return predicted, state_key(cut) if cut else None

    def predict(self, turn: Turn, rejected: bool, is_rule: bool) -> tuple[str | None, str | None]:
        """RulePolicy._predict + _predict_next_action: (action or None, prediction source)."""
        from_text, text_source = self._from_rules(turn, use_text=True)
        state = turn.state
        if state.after_listen and turn.latest_intent in DEFAULT_ACTION_MAPPINGS and not from_text:
            intent = turn.latest_intent or ""
            return DEFAULT_ACTION_MAPPINGS[intent], DEFAULT_RULES + intent
        loop = turn.active_loop
        if loop and not rejected and state.prev_action is not None:
            if state.action != loop:
                return loop, LOOP_RULES + loop
            return ACTION_LISTEN, f"{LOOP_RULES}{loop}{LOOP_RULES_SEPARATOR}{ACTION_LISTEN}"
        if from_text:
            return from_text, text_source
        from_intent, source = self._from_rules(turn, use_text=False)
        if from_intent:
            return from_intent, source
        return (FALLBACK_ACTION if is_rule else None), source

    def run(
        self, trackers: list[tuple[Conversation, list[Turn]]], *, collect: bool
    ) -> list[Problem]:
        """RulePolicy._run_prediction_on_trackers: collect rule sources, or check."""
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
                    predicted, source = self.predict(turn, rejected, is_rule)
                    if (
                        turn.active_loop
                        and predicted not in (turn.action, None)
                        and (predicted == turn.active_loop)
                    ):
                        rejected = True  # rasa.core.test.emulate_loop_rejection
                        predicted, source = self.predict(turn, rejected, is_rule)
                    if collect:
                        if source:
                            self._collect(conv, turn, predicted, source)
                    else:
                        problems.extend(self._check(conv, turn, predicted, source))
                if turn.action == ACTION_LISTEN and not turn.is_text:
                    rejected = False
        return problems

    def _collect(self, conv: Conversation, turn: Turn, predicted: str | None, source: str) -> None:
        if source.startswith((DEFAULT_RULES, LOOP_RULES)):
            self.sources[source].append(_Source(source, predicted or "", None))
        else:
            self.sources[source].append(_Source(_step_name(conv, turn), turn.action, turn.location))

    def _should_delete(self, source: str, is_rule: bool, predicted: str) -> bool:
        """RulePolicy._should_delete: a rule's listen that a longer rule goes beyond."""
        if is_rule or source.count("prev_action") > 1 or predicted != ACTION_LISTEN:
            return False
        return any(k.startswith(source[:-2]) and k != source for k in self.lookup)

    def _check(
        self, conv: Conversation, turn: Turn, predicted: str | None, source: str | None
    ) -> list[Problem]:
        if not predicted or not source or predicted == turn.action:
            return []
        if self._should_delete(source, conv.kind == "rule", predicted):
            self.lookup.pop(source, None)
            return []
        against = [s for s in self.sources.get(source, []) if s.action != turn.action]
        if not against:
            return []
        me = _Source(_step_name(conv, turn), turn.action, turn.location)
        # "A vs B" and "B vs A" are one contradiction
        key = frozenset((x.name, str(x.location), x.action) for x in [me, *against])
        if key in self.reported:
            return []
        self.reported.add(key)
        who = f"{_kind(conv)} '{me.name}'{_where(turn)}"
        labels = list(
            dict.fromkeys(
                f"rule '{s.name}'" + (f" ({s.location})" if s.location else "") for s in against
            )
        )
        them = " and ".join(labels)
        if predicted == FALLBACK_ACTION:  # the rules could not agree on any prediction
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


def find_conflicts(
    stories: list[Conversation],
    rules: list[Conversation],
    domain: Domain,
    *,
    max_history: int | None = None,
) -> list[Problem]:
    """Errors for stories/rules that prescribe different actions after the same history.

    ``max_history`` limits the story-vs-story check to the last states (None: the whole
    history, as ``rasa data validate`` does by default); rules are always compared on
    their full length, as RulePolicy does.
    """
    story_turns = _unique([(c, conversation_states(c, domain)) for c in stories])
    rule_turns = _unique([(c, conversation_states(c, domain)) for c in rules])
    problems = _story_conflicts(story_turns, max_history)
    if rules:
        policy = _RulePolicy(rule_turns, story_turns, domain)
        policy.run(rule_turns, collect=True)
        # Rasa's training trackers list stories before rules
        problems += policy.run(story_turns + rule_turns, collect=False)
    return problems


def _unique(
    trackers: list[tuple[Conversation, list[Turn]]],
) -> list[tuple[Conversation, list[Turn]]]:
    """Drop conversations whose states and actions repeat an earlier one's (OR copies)."""
    seen: set[tuple[tuple[State, ...], tuple[str, ...]]] = set()
    out: list[tuple[Conversation, list[Turn]]] = []
    for conv, turns in trackers:
        key = (turns[0].states if turns else (), tuple(t.action for t in turns))
        if key not in seen:
            seen.add(key)
            out.append((conv, turns))
    return out


def find_incomplete_rules(rules: list[Conversation], domain: Domain) -> list[Problem]:
    """RulePolicy._check_for_incomplete_rules: an action sets slots/loops in one rule only.

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
            if isinstance(event, ActionEvent):
                after = event.name
            elif isinstance(event, UserEvent):
                after = None  # entity slots of a user turn belong to no action
            elif after is not None and isinstance(event, SlotEvent):
                if event.name in featurized:
                    fp_slots[after].add(event.name)
            elif after is not None and isinstance(event, LoopEvent):
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
            at = f" ({where})" if where else ""
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
