"""Regex and lookup-table patterns, as Rasa's RegexFeaturizer and RegexEntityExtractor build them.

A lookup table becomes one alternation of its escaped elements; with word boundaries (Rasa's
default ``use_word_boundaries``) each pattern is wrapped in ``\\b...\\b``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chinwag.core.data.training import NLUData


@dataclass(frozen=True)
class Pattern:
    name: str
    pattern: str  # the source, persisted as-is


def collect_patterns(
    nlu: NLUData,
    *,
    use_regexes: bool = True,
    use_lookup_tables: bool = True,
    use_word_boundaries: bool = True,
) -> list[Pattern]:
    """Regexes and lookup tables of ``nlu`` as patterns (lookups longest element first)."""
    out: list[Pattern] = []
    if use_regexes:
        out.extend(Pattern(r.name, r.pattern) for r in nlu.regexes)
    if use_lookup_tables:
        for name, items in sorted(nlu.lookups.items()):
            elements = sorted({i.strip() for i in items if i.strip()}, key=lambda s: (-len(s), s))
            if not elements:
                continue
            body = "|".join(re.escape(e) for e in elements)
            out.append(Pattern(name, rf"\b(?:{body})\b" if use_word_boundaries else body))
    return out


def compile_patterns(
    patterns: list[Pattern], case_sensitive: bool = False
) -> list[re.Pattern[str]]:
    """Compiled patterns; an invalid regex never matches (the data checker reports it)."""
    flags = 0 if case_sensitive else re.IGNORECASE
    compiled: list[re.Pattern[str]] = []
    for p in patterns:
        try:
            compiled.append(re.compile(p.pattern, flags))
        except re.error:
            compiled.append(re.compile(r"(?!)"))
    return compiled
