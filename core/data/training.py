"""One in-memory model of a bot's training data, whatever format it was written in.

Readers (yaml_reader for Rasa 3.x/2.x YAML, markdown_reader for Rasa 1.x Markdown,
json_reader for Rasa NLU JSON) all produce these objects; checkers, the story graph,
policies and the converter consume them. Nothing here knows about files' syntax.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from chinwag.core.data.problems import Location

# Rasa's value for a `slot_was_set` entry written without a value (DEFAULT_VALUE_TEXT_SLOTS).
FILLED = "filled"
# Rasa's RULE_SNIPPET_ACTION_NAME: "the rule may start or go on anywhere".
RULE_SNIPPET_ACTION = "..."


@dataclass
class Entity:
    """An entity annotated in a message (NLU example, story user step) or extracted."""

    entity: str
    value: Any
    start: int | None = None
    end: int | None = None
    role: str | None = None
    group: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Rasa's entity dict (keys only when set, as Rasa writes them)."""
        out: dict[str, Any] = {"entity": self.entity, "value": self.value}
        if self.start is not None:
            out["start"] = self.start
            out["end"] = self.end
        if self.role is not None:
            out["role"] = self.role
        if self.group is not None:
            out["group"] = self.group
        return out


@dataclass
class Message:
    """One NLU training example. ``intent`` is the full name (``faq/ask_x`` for retrieval)."""

    text: str
    intent: str
    entities: list[Entity] = field(default_factory=list)
    location: Location | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def base_intent(self) -> str:
        """``faq`` for ``faq/ask_x``; the intent itself otherwise."""
        return self.intent.split("/", 1)[0]

    @property
    def retrieval_key(self) -> str | None:
        """``ask_x`` for ``faq/ask_x``; None for an ordinary intent."""
        return self.intent.split("/", 1)[1] if "/" in self.intent else None


@dataclass
class Regex:
    name: str
    pattern: str
    location: Location | None = None


@dataclass
class NLUData:
    examples: list[Message] = field(default_factory=list)
    # synonym variant -> canonical value (``NY`` -> ``New York``), as EntitySynonymMapper uses it
    synonyms: dict[str, str] = field(default_factory=dict)
    regexes: list[Regex] = field(default_factory=list)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    # responses found in NLU files (retrieval intents' `utter_faq/ask_x`), merged into the domain
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # where each synonym/lookup/response was declared, for messages
    locations: dict[str, Location] = field(default_factory=dict)

    def merge(self, other: NLUData) -> None:
        self.examples.extend(other.examples)
        self.synonyms.update(other.synonyms)
        self.regexes.extend(other.regexes)
        for name, items in other.lookups.items():
            self.lookups.setdefault(name, []).extend(items)
        self.responses.update(other.responses)
        self.locations.update(other.locations)

    @property
    def intents(self) -> set[str]:
        """Base intent names (``faq`` for retrieval intents)."""
        return {m.base_intent for m in self.examples}

    @property
    def entities(self) -> set[str]:
        return {e.entity for m in self.examples for e in m.entities}


# ---------------------------------------------------------------- stories, rules, tests


@dataclass
class UserStep:
    """A user turn: an intent, or end-to-end text, or both (test stories)."""

    intent: str | None = None
    text: str | None = None
    entities: list[Entity] = field(default_factory=list)
    location: Location | None = None


@dataclass
class ActionStep:
    """A bot turn: an action name, or end-to-end bot text (``bot:``)."""

    name: str | None = None
    text: str | None = None
    location: Location | None = None


@dataclass
class SlotStep:
    """``slot_was_set``: slot -> value (FILLED when written without a value)."""

    slots: dict[str, Any] = field(default_factory=dict)
    location: Location | None = None


@dataclass
class LoopStep:
    """``active_loop: name`` (None for ``active_loop: null``: the loop ended)."""

    name: str | None = None
    location: Location | None = None


@dataclass
class CheckpointStep:
    """``checkpoint: name``; ``slot_was_set`` conditions on a start checkpoint are kept."""

    name: str
    conditions: dict[str, Any] = field(default_factory=dict)
    location: Location | None = None


@dataclass
class OrStep:
    """``or:`` alternatives: user steps or slot steps, any one of which may happen."""

    alternatives: list[UserStep | SlotStep] = field(default_factory=list)
    location: Location | None = None


Step = UserStep | ActionStep | SlotStep | LoopStep | CheckpointStep | OrStep
StoryKind = Literal["story", "rule", "test"]


@dataclass
class Story:
    """A story, a rule or a test story, as written (before checkpoint/OR expansion)."""

    name: str
    steps: list[Step] = field(default_factory=list)
    kind: StoryKind = "story"
    location: Location | None = None
    # rules only
    condition: list[SlotStep | LoopStep] = field(default_factory=list)
    conversation_start: bool = False
    wait_for_user_input: bool = True
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def is_rule(self) -> bool:
        return self.kind == "rule"


@dataclass
class StoryData:
    stories: list[Story] = field(default_factory=list)
    rules: list[Story] = field(default_factory=list)

    def merge(self, other: StoryData) -> None:
        self.stories.extend(other.stories)
        self.rules.extend(other.rules)
