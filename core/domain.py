"""The Domain: the one place where every name a bot uses is declared.

Filled by ``core.data.domain_reader`` from domain.yml (or a domain/ folder), Rasa 3.x, 2.x
(upgraded on load) or 1.x. The action server protocol and ``chinwag data convert`` use
:meth:`Domain.as_dict`, Rasa's domain dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chinwag.core.data.problems import Location
from chinwag.core.slots import Slot

DEFAULT_INTENTS = ("restart", "back", "out_of_scope", "session_start", "nlu_fallback")
DEFAULT_ACTIONS = (
    "action_listen",
    "action_restart",
    "action_session_start",
    "action_default_fallback",
    "action_deactivate_loop",
    "action_revert_fallback_events",
    "action_default_ask_affirmation",
    "action_default_ask_rephrase",
    "action_two_stage_fallback",
    "action_unlikely_intent",
    "action_back",
    "...",
    "action_extract_slots",
)
REQUESTED_SLOT = "requested_slot"
# chinwag's form "plans" (core/actions/forms.py interprets them)
FORM_PLAN_KEYS = (
    "priority",
    "max_turns",
    "failure_action",
    "exit",
    "chitchat",
    "clarify",
    "clarify_intent",
    "rules",
)
DEFAULT_SLOTS = (
    REQUESTED_SLOT,
    "session_started_metadata",
    "knowledge_base_listed_objects",
    "knowledge_base_last_object",
    "knowledge_base_last_object_type",
)


@dataclass
class Intent:
    name: str
    # True = all entities, or the explicit list of used entities
    use_entities: bool | list[str] = True
    ignore_entities: list[str] = field(default_factory=list)
    is_retrieval: bool = False
    # Rasa 1.x MappingPolicy: the action this intent triggers (a rule when migrated)
    triggers: str | None = None
    location: Location | None = field(default=None, compare=False)


@dataclass
class EntityDef:
    name: str
    roles: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    influence_conversation: bool = True
    location: Location | None = field(default=None, compare=False)


@dataclass
class ActionDef:
    name: str
    send_domain: bool = False
    location: Location | None = field(default=None, compare=False)


@dataclass
class Form:
    name: str
    required_slots: list[str] = field(default_factory=list)
    ignored_intents: list[str] = field(default_factory=list)
    # chinwag's form "plans" extensions (priority, max_turns, failure_action, exit, chitchat,
    # clarify, keep/lose rules): kept as written, interpreted by core.actions.forms
    plans: dict[str, Any] = field(default_factory=dict)
    location: Location | None = field(default=None, compare=False)


@dataclass
class SessionConfig:
    session_expiration_time: float = 60.0  # minutes; 0 = sessions never expire
    carry_over_slots: bool = True


@dataclass
class Domain:
    intents: dict[str, Intent] = field(default_factory=dict)
    entities: dict[str, EntityDef] = field(default_factory=dict)
    slots: dict[str, Slot] = field(default_factory=dict)
    # response name -> variations (each Rasa's variation dict: text, buttons, image, custom,
    # quick_replies, attachment, channel, condition, ...)
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    actions: dict[str, ActionDef] = field(default_factory=dict)  # declared custom actions
    forms: dict[str, Form] = field(default_factory=dict)
    session_config: SessionConfig = field(default_factory=SessionConfig)
    action_texts: list[str] = field(default_factory=list)  # end-to-end bot utterances
    # the domain's `config: store_entities_as_slots`: false = story entities fill no slots
    store_entities_as_slots: bool = True
    # where things were written and in which format version: not part of a domain's content
    version: str | None = field(default=None, compare=False)
    response_locations: dict[str, Location] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """Rasa 3.x's domain dict, as the action server protocol sends it."""
        from chinwag.core.data.domain_reader import domain_as_dict

        return domain_as_dict(self)

    @property
    def intent_names(self) -> list[str]:
        """Declared intents plus Rasa's default intents, in a stable order."""
        names = list(self.intents)
        return names + [i for i in DEFAULT_INTENTS if i not in self.intents]

    @property
    def action_names(self) -> list[str]:
        """Every action the bot can run: defaults, responses, custom actions, forms."""
        names: list[str] = list(DEFAULT_ACTIONS)
        for name in [*self.responses, *self.actions, *self.forms]:
            if (
                name.startswith("utter_") or name in self.actions or name in self.forms
            ) and name not in names:
                names.append(name)
        return names

    def is_known_action(self, name: str) -> bool:
        return (
            name in DEFAULT_ACTIONS
            or name in self.actions
            or name in self.forms
            or name in self.responses
            or self.is_retrieval_response(name)
        )

    def is_retrieval_response(self, name: str) -> bool:
        """``utter_faq`` stands for all ``utter_faq/...`` responses (ResponseSelector)."""
        prefix = name + "/"
        return name.startswith("utter_") and any(r.startswith(prefix) for r in self.responses)
