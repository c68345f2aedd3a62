"""Retrieval intents (``faq/ask_x``), as Rasa's ResponseSelector answers them.

One classifier per selector over the full retrieval intent names; the parse data gets
``response_selector: {all_retrieval_intents: [...], <key>: {response: {...}, ranking: [...]}}``
with ``<key>`` the selector's ``retrieval_intent`` or ``default``
(rasa/nlu/selectors/response_selector.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chinwag.core.data.training import Message
from chinwag.core.nlu.classifier import IntentClassifier
from chinwag.core.nlu.featurizers import FeaturizerConfig

DEFAULT_KEY = "default"


class ResponseSelector:
    def __init__(self, key: str = DEFAULT_KEY, featurizer: FeaturizerConfig | None = None) -> None:
        self.key = key
        self.classifier = IntentClassifier(featurizer, kind="sgd")
        self.responses: dict[str, list[dict[str, Any]]] = {}

    def covers(self, message: Message) -> bool:
        return message.retrieval_key is not None and self.key in (DEFAULT_KEY, message.base_intent)

    def train(self, examples: list[Message], responses: dict[str, list[dict[str, Any]]]) -> None:
        chosen = [m for m in examples if self.covers(m) and m.text]
        self.responses = {m.intent: responses.get(f"utter_{m.intent}", []) for m in chosen}
        if chosen:
            self.classifier.train([m.text for m in chosen], [m.intent for m in chosen])

    def select(self, text: str) -> dict[str, Any] | None:
        ranking = self.classifier.rank(text)
        if not ranking:
            return None
        best = ranking[0]
        key = best["name"]
        return {
            "response": {
                "id": None,
                "responses": self.responses.get(key, []),
                "response_templates": self.responses.get(key, []),
                "confidence": best["confidence"],
                "intent_response_key": key,
                "utter_action": f"utter_{key}",
                "template_name": f"utter_{key}",
            },
            "ranking": [
                {"id": None, "confidence": r["confidence"], "intent_response_key": r["name"]}
                for r in ranking
            ],
        }

    def persist(self, directory: Path, name: str) -> dict[str, Any]:
        return {
            "key": self.key,
            "classifier": self.classifier.persist(directory, name),
            "responses": self.responses,
        }

    @classmethod
    def load(cls, directory: Path, name: str, meta: dict[str, Any]) -> ResponseSelector:
        selector = cls(meta["key"])
        selector.classifier = IntentClassifier.load(directory, name, meta["classifier"])
        selector.responses = meta["responses"]
        return selector
