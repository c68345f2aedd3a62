"""Rasa's FallbackClassifier: low or ambiguous confidence becomes ``nlu_fallback``.

When the top intent's confidence is below ``threshold``, or the top two are closer than
``ambiguity_threshold``, the intent is replaced by ``nlu_fallback`` with confidence
``threshold`` and ``nlu_fallback`` is put first in the ranking, so the original top intent
ranks second (the two-stage fallback offers it: "Did you mean ...?").
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

FALLBACK_INTENT = "nlu_fallback"
DEFAULT_THRESHOLD = 0.3
DEFAULT_AMBIGUITY_THRESHOLD = 0.1


@dataclass(frozen=True)
class FallbackClassifier:
    threshold: float = DEFAULT_THRESHOLD
    ambiguity_threshold: float = DEFAULT_AMBIGUITY_THRESHOLD

    @classmethod
    def from_config(cls, component: dict[str, Any]) -> FallbackClassifier:
        return cls(
            float(component.get("threshold", DEFAULT_THRESHOLD)),
            float(component.get("ambiguity_threshold", DEFAULT_AMBIGUITY_THRESHOLD)),
        )

    def should_fall_back(self, parse_data: dict[str, Any]) -> bool:
        intent = parse_data.get("intent") or {}
        if not intent.get("name") or intent["name"] == FALLBACK_INTENT:
            return False
        if float(intent.get("confidence", 0.0)) < self.threshold:
            return True
        ranking = parse_data.get("intent_ranking") or []
        if len(ranking) >= 2:
            gap = float(ranking[0]["confidence"]) - float(ranking[1]["confidence"])
            return gap < self.ambiguity_threshold
        return False

    def apply(self, parse_data: dict[str, Any]) -> dict[str, Any]:
        """``parse_data`` with the fallback applied when needed (a new dict; input untouched)."""
        if not self.should_fall_back(parse_data):
            return parse_data
        out = copy.deepcopy(parse_data)
        fallback = {"name": FALLBACK_INTENT, "confidence": self.threshold}
        out["intent"] = fallback
        ranking = [r for r in out.get("intent_ranking") or [] if r["name"] != FALLBACK_INTENT]
        out["intent_ranking"] = [dict(fallback), *ranking]
        return out
