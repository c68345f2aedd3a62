"""Slots: types, mappings and how a slot's value is featurized for policies (as in Rasa)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chinwag.core.data.problems import Location

SLOT_TYPES = ("text", "bool", "categorical", "float", "list", "any")
MAPPING_TYPES = ("from_entity", "from_intent", "from_trigger_intent", "from_text", "custom")


@dataclass
class MappingCondition:
    """``conditions: [{active_loop: x, requested_slot: y}]`` (active_loop None = no loop)."""

    active_loop: str | None
    requested_slot: str | None = None


@dataclass
class SlotMapping:
    type: str
    entity: str | None = None
    role: str | None = None
    group: str | None = None
    intent: list[str] | None = None
    not_intent: list[str] | None = None
    value: Any = None
    action: str | None = None
    conditions: list[MappingCondition] = field(default_factory=list)
    location: Location | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The mapping as written in a Rasa 3.x domain."""
        out: dict[str, Any] = {"type": self.type}
        for key in ("entity", "role", "group", "action"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.type in ("from_intent", "from_trigger_intent"):
            out["value"] = self.value
        for key in ("intent", "not_intent"):
            names = getattr(self, key)
            if names is not None:
                out[key] = names[0] if len(names) == 1 else list(names)
        if self.conditions:
            out["conditions"] = [
                {"active_loop": c.active_loop}
                | ({"requested_slot": c.requested_slot} if c.requested_slot else {})
                for c in self.conditions
            ]
        return out


@dataclass
class Slot:
    name: str
    type: str = "any"
    influence_conversation: bool = True
    initial_value: Any = None
    values: list[Any] = field(default_factory=list)  # categorical
    min_value: float = 0.0  # float
    max_value: float = 1.0  # float
    mappings: list[SlotMapping] = field(default_factory=list)
    location: Location | None = field(default=None, compare=False)

    @property
    def featurized(self) -> bool:
        """False when :meth:`featurize` gives no features whatever the value (a slot that
        does not influence the conversation, an ``any`` slot)."""
        return self.influence_conversation and self.type != "any"

    def featurize(self, value: Any) -> list[float]:
        """The slot's features for a policy, as Rasa's slot classes compute them.

        Empty for slots that do not influence the conversation (and for ``any`` slots).
        """
        if not self.featurized:
            return []
        if self.type == "text":
            return [1.0 if value is not None else 0.0]
        if self.type == "list":
            return [1.0 if value else 0.0]
        if self.type == "bool":
            if value is None:
                return [0.0, 0.0]
            truthy = value if isinstance(value, bool) else str(value).lower() in ("true", "1")
            return [1.0, 1.0 if truthy else 0.0]
        if self.type == "float":
            if value is None:
                return [0.0, 0.0]
            try:
                number = float(value)
            except (TypeError, ValueError):
                return [1.0, 0.0]
            span = self.max_value - self.min_value
            capped = min(max(number, self.min_value), self.max_value)
            return [1.0, (capped - self.min_value) / span if span else 1.0]
        if self.type == "categorical":
            vec = [0.0] * len(self.categories)
            if value is not None:
                wanted = str(value).lower()
                for i, v in enumerate(self.categories):
                    if str(v).lower() == wanted:
                        vec[i] = 1.0
                        break
                else:
                    vec[-1] = 1.0  # Rasa's __other__ bucket
            return vec
        return []

    @property
    def categories(self) -> list[Any]:
        """Categorical values plus Rasa's ``__other__`` catch-all (for featurization)."""
        return [*self.values, "__other__"] if self.type == "categorical" else []
