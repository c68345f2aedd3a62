"""Rasa's RegexEntityExtractor and EntitySynonymMapper.

The regex extractor uses the regexes and lookup tables named after an entity of the training
data (rasa/nlu/extractors/regex_entity_extractor.py); the synonym mapper replaces a value
whose lowercased text is a known variant and notes itself in ``processors``
(rasa/nlu/extractors/entity_synonyms.py).
"""

from __future__ import annotations

from typing import Any

from chinwag.core.nlu.patterns import Pattern, compile_patterns
from chinwag.core.nlu.tokenizer import Tokenizer

SYNONYM_MAPPER = "EntitySynonymMapper"


class RegexEntityExtractor:
    name = "RegexEntityExtractor"

    def __init__(
        self,
        patterns: list[Pattern],
        case_sensitive: bool = False,
        tokenizer: Tokenizer | None = None,
    ) -> None:
        """``tokenizer``: keep only matches that start and end on its tokens (word boundaries
        in a language written without spaces, where ``\\b`` finds none)."""
        self.patterns = patterns
        self.case_sensitive = case_sensitive
        self.tokenizer = tokenizer
        self._compiled = compile_patterns(patterns, case_sensitive)

    def extract(self, text: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        starts: set[int] | None = None
        ends: set[int] = set()
        if self.tokenizer is not None:
            tokens = self.tokenizer.tokenize(text)
            starts, ends = {t.start for t in tokens}, {t.end for t in tokens}
        for pattern, regex in zip(self.patterns, self._compiled, strict=True):
            for m in regex.finditer(text):
                if starts is not None and (m.start() not in starts or m.end() not in ends):
                    continue
                if m.end() > m.start():
                    out.append(
                        {
                            "entity": pattern.name,
                            "start": m.start(),
                            "end": m.end(),
                            "value": m.group(),
                            "extractor": self.name,
                        }
                    )
        return out


def map_synonyms(entities: list[dict[str, Any]], synonyms: dict[str, str]) -> None:
    """Replace known variants (case-insensitively) by their canonical value, in place."""
    lowered = {k.lower(): v for k, v in synonyms.items()}
    for entity in entities:
        value = str(entity.get("value", "")).lower()
        if value in lowered and lowered[value] != entity.get("value"):
            entity["value"] = lowered[value]
            entity.setdefault("processors", []).append(SYNONYM_MAPPER)
