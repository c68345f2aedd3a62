"""Dialogue states as fixed-width feature vectors for the LightGBM policy.

Rasa's TED sees the last ``max_history`` states (``MaxHistoryTrackerFeaturizer`` with a
``SingleStateFeaturizer``): per state the intent (one-hot), the entities (multi-hot), the
slots' featurized values, the previous action (one-hot over action names and texts) and the
active loop (one-hot), plus the user's / bot's text for end-to-end stories. Here the same
parts are laid side by side for each of the last ``max_history`` states, the current state
last and missing older states left as zeros; a ``present`` bit per position tells padding
from an empty state. End-to-end text becomes hashed word uni- and bigrams (CRC32, so the
columns are the same in every process). The vocabulary is fixed when the featurizer is built,
so values never seen then map to no column.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from scipy import sparse

from chinwag.core.domain import Domain
from chinwag.core.policies.states import ENTITY_LABEL_SEPARATOR, State, TurnContext, turn_context
from chinwag.core.tracker import slot_definitions

# hashed buckets for end-to-end user text and bot text (when the stories have any)
DEFAULT_TEXT_BUCKETS = 128
_WORD = re.compile(r"\w+")


def text_tokens(text: str) -> list[str]:
    """Lower-cased words and word bigrams of an end-to-end utterance."""
    words = _WORD.findall(text.lower())
    return words + [f"{a} {b}" for a, b in pairwise(words)]


def _bucket(token: str, buckets: int) -> int:
    return zlib.crc32(token.encode("utf-8")) % buckets


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


@dataclass
class StateFeaturizer:
    """The column layout of one state, repeated for each of the last ``max_history`` states."""

    max_history: int
    intents: list[str]
    entities: list[str]
    slots: list[tuple[str, int]]  # slot name and its number of features
    actions: list[str]  # previous action names, then end-to-end bot texts
    loops: list[str]
    user_text_buckets: int = 0
    bot_text_buckets: int = 0
    # one block after the states: :func:`core.policies.states.turn_context` of the history
    turn_features: bool = False

    def __post_init__(self) -> None:
        self._intent = {name: i for i, name in enumerate(self.intents)}
        self._entity = {name: i for i, name in enumerate(self.entities)}
        self._action = {name: i for i, name in enumerate(self.actions)}
        self._loop = {name: i for i, name in enumerate(self.loops)}
        self._slot: dict[str, tuple[int, int]] = {}
        offset = 0
        for name, size in self.slots:
            self._slot[name] = (offset, size)
            offset += size
        # block offsets inside one state: present, intents, entities, slots, actions, loops,
        # user text, bot text
        sizes = [
            1,
            len(self.intents),
            len(self.entities),
            offset,
            len(self.actions),
            len(self.loops),
            self.user_text_buckets,
            self.bot_text_buckets,
        ]
        starts = np.cumsum([0, *sizes]).tolist()
        (
            self._present_at,
            self._intents_at,
            self._entities_at,
            self._slots_at,
            self._actions_at,
            self._loops_at,
            self._user_text_at,
            self._bot_text_at,
            self.state_size,
        ) = starts
        # the turn block (after all states): actions since the user spoke, their count, the
        # bot's previous turn, slots the user changed, slots changed since, user turns, every
        # earlier action
        actions, slots = len(self.actions), len(self.slots)
        turn_sizes = [actions, 1, actions, slots, slots, 1, actions] if self.turn_features else []
        turn_starts = np.cumsum([self.state_size * self.max_history, *turn_sizes]).tolist()
        self._turn_at = turn_starts[:-1]
        self._slot_index = {name: i for i, (name, _) in enumerate(self.slots)}
        self._size = turn_starts[-1]

    @classmethod
    def build(
        cls,
        domain: Domain,
        max_history: int,
        states: Iterable[State] = (),
        text_buckets: int = DEFAULT_TEXT_BUCKETS,
        turn_features: bool = False,
    ) -> StateFeaturizer:
        """The layout for ``domain``, extended by names the training ``states`` use.

        Text buckets are only laid out when some training state carries user / bot text.
        """
        intents = list(domain.intent_names)
        entities: list[str] = []
        for name, definition in domain.entities.items():
            entities.append(name)
            entities += [
                f"{name}{ENTITY_LABEL_SEPARATOR}{label}"
                for label in [*definition.roles, *definition.groups]
            ]
        actions = [*domain.action_names, *domain.action_texts]
        loops = list(domain.forms)
        has_user_text = has_bot_text = False
        for state in states:
            if state.intent:
                intents.append(state.intent)
            entities += state.entities
            if state.action:
                actions.append(state.action)
            if state.action_text:
                actions.append(state.action_text)
                has_bot_text = True
            if state.loop:
                loops.append(state.loop)
            has_user_text = has_user_text or bool(state.text)
        slots = [
            (name, size)
            for name, slot in slot_definitions(domain).items()
            if (size := len(slot.featurize(None))) > 0
        ]
        return cls(
            max_history=max_history,
            intents=_unique(intents),
            entities=_unique(entities),
            slots=slots,
            actions=_unique(actions),
            loops=_unique(loops),
            user_text_buckets=text_buckets if has_user_text else 0,
            bot_text_buckets=text_buckets if has_bot_text else 0,
            turn_features=turn_features,
        )

    @property
    def size(self) -> int:
        """Columns of one feature vector (all ``max_history`` positions, the turn block)."""
        return int(self._size)

    def state_columns(self, state: State) -> dict[int, float]:
        """Column -> value of one state, relative to the state's first column."""
        out: dict[int, float] = {self._present_at: 1.0}
        if state.intent in self._intent:
            out[self._intents_at + self._intent[state.intent]] = 1.0
        for label in state.entities:
            if label in self._entity:
                out[self._entities_at + self._entity[label]] = 1.0
        for name, features in state.slots:
            if name not in self._slot or isinstance(features, str):
                continue  # should_not_be_set (rules only) carries no features
            offset, size = self._slot[name]
            for i, value in enumerate(features[:size]):
                if value:
                    out[self._slots_at + offset + i] = float(value)
        action = state.prev_action
        if action in self._action:
            out[self._actions_at + self._action[action]] = 1.0
        if state.loop in self._loop:
            out[self._loops_at + self._loop[state.loop]] = 1.0
        if self.user_text_buckets and state.text and not state.intent:
            for token in text_tokens(state.text):
                out[self._user_text_at + _bucket(token, self.user_text_buckets)] = 1.0
        if self.bot_text_buckets and state.action_text and not state.action:
            for token in text_tokens(state.action_text):
                out[self._bot_text_at + _bucket(token, self.bot_text_buckets)] = 1.0
        return out

    def columns(
        self,
        history: Sequence[State],
        context: TurnContext | None = None,
        known: dict[State, dict[int, float]] | None = None,
    ) -> dict[int, float]:
        """Column -> value for the last ``max_history`` states of ``history`` (padded), then
        the turn block (read from the whole history, or ``context`` when the caller has it)
        when ``turn_features``. ``known``: states' columns already computed (filled here)."""
        recent = list(history[-self.max_history :])
        first_position = self.max_history - len(recent)
        out: dict[int, float] = {}
        for position, state in enumerate(recent, start=first_position):
            base = position * self.state_size
            columns = known.get(state) if known is not None else None
            if columns is None:
                columns = self.state_columns(state)
                if known is not None:
                    known[state] = columns
            for column, value in columns.items():
                out[base + column] = value
        if self.turn_features and history:
            out.update(self.turn_columns(context or turn_context(history)))
        return out

    def turn_columns(self, turn: TurnContext) -> dict[int, float]:
        """Column -> value of the turn block (absolute columns)."""
        since, count, previous, user_changed, bot_changed, user_turns, earlier = self._turn_at
        out: dict[int, float] = {}
        for start, names in ((since, turn.since_user), (previous, turn.previous_turn)):
            for name in names:
                if name in self._action:
                    out[start + self._action[name]] = 1.0
        for start, names in ((user_changed, turn.user_changed), (bot_changed, turn.bot_changed)):
            for name in names:
                if name in self._slot_index:
                    out[start + self._slot_index[name]] = 1.0
        for name in turn.earlier:
            if name in self._action:
                out[earlier + self._action[name]] = 1.0
        if turn.since_user:
            out[count] = float(len(turn.since_user))
        if turn.user_turns:
            out[user_turns] = float(turn.user_turns)
        return out

    def vector(self, history: Sequence[State]) -> np.ndarray:
        """One dense row (shape ``(1, size)``) for a prediction."""
        row = np.zeros((1, self.size), dtype=np.float64)
        for column, value in self.columns(history).items():
            row[0, column] = value
        return row

    def matrix(
        self,
        histories: Sequence[Sequence[State]],
        contexts: Sequence[TurnContext | None] | None = None,
    ) -> sparse.csr_matrix:
        """A sparse matrix with one row per history (for training); ``contexts``, when
        given, are the histories' turn contexts."""
        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        known: dict[State, dict[int, float]] = {}  # a state comes in up to max_history rows
        for i, history in enumerate(histories):
            context = contexts[i] if contexts else None
            columns = sorted(self.columns(history, context, known).items())
            indices += [c for c, _ in columns]
            data += [v for _, v in columns]
            indptr.append(len(indices))
        return sparse.csr_matrix(
            (np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int32), indptr),
            shape=(len(histories), self.size),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_history": self.max_history,
            "intents": self.intents,
            "entities": self.entities,
            "slots": [[name, size] for name, size in self.slots],
            "actions": self.actions,
            "loops": self.loops,
            "user_text_buckets": self.user_text_buckets,
            "bot_text_buckets": self.bot_text_buckets,
            "turn_features": self.turn_features,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StateFeaturizer:
        return cls(
            max_history=int(data["max_history"]),
            intents=list(data["intents"]),
            entities=list(data["entities"]),
            slots=[(str(name), int(size)) for name, size in data["slots"]],
            actions=list(data["actions"]),
            loops=list(data["loops"]),
            user_text_buckets=int(data["user_text_buckets"]),
            bot_text_buckets=int(data["bot_text_buckets"]),
            turn_features=bool(data.get("turn_features", False)),
        )
