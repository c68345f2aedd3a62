"""Stories and rules that contradict each other, found before any training.

Two checks, both over the dialogue states of :mod:`core.policies.states`:

* story vs story, as Rasa's ``rasa/core/training/story_conflict.py``
  (``find_story_conflicts``, run by ``rasa data validate``): the same state history (the last
  ``max_history`` states, or all of them) followed by different actions;
* rule vs rule and rule vs story: RulePolicy's own training check
  (:meth:`core.policies.rules.RulePolicy.find_contradictions`, Rasa's ``_analyze_rules``):
  the rules are learnt as a lookup, replayed on every rule and story, and an action that
  differs from what the rules predict at that point (naming the rules that did predict
  something else there) is a contradiction. :func:`find_incomplete_rules` is RulePolicy's
  ``_check_for_incomplete_rules``.
"""

from __future__ import annotations

from collections import defaultdict

from chinwag.core.data.problems import Problem
from chinwag.core.data.story_graph import Conversation
from chinwag.core.domain import Domain
from chinwag.core.policies.rules import RulePolicy, find_incomplete_rules, unique_trackers
from chinwag.core.policies.states import ACTION_LISTEN, State, Turn, conversation_states

__all__ = ["conflicts_by_kind", "find_conflicts", "find_incomplete_rules"]

ACTION_UNLIKELY_INTENT = "action_unlikely_intent"


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
    story_problems, rule_problems = conflicts_by_kind(
        stories, rules, domain, max_history=max_history
    )
    return story_problems + rule_problems


def conflicts_by_kind(
    stories: list[Conversation],
    rules: list[Conversation],
    domain: Domain,
    *,
    max_history: int | None = None,
) -> tuple[list[Problem], list[Problem]]:
    """:func:`find_conflicts` in two lists: story vs story, then rule vs rule/story.

    The two sides of the leniency rule: ``rasa train`` trains on contradicting stories
    (memoization forgets the ambiguous histories, the ML policy learns the majority) while
    RulePolicy refuses contradicting rules.
    """
    story_turns = unique_trackers([(c, conversation_states(c, domain)) for c in stories])
    rule_turns = unique_trackers([(c, conversation_states(c, domain)) for c in rules])
    story_problems = _story_conflicts(story_turns, max_history)
    rule_problems: list[Problem] = []
    if rules:
        policy = RulePolicy()
        policy.learn(rule_turns, story_turns, domain)
        rule_problems = policy.find_contradictions(rule_turns, story_turns)
    return story_problems, rule_problems
