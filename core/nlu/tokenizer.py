"""Split text into tokens with character offsets (Rasa's WhitespaceTokenizer, plus punctuation).

Numbers keep their inner separators (``12.50``, ``5:30``, ``1,000``), words keep inner
apostrophes and hyphens (``don't``, ``e-mail``); every other non-space character is a token of
its own, so entity spans that end before a comma or a full stop still align with tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\d+(?:[.,:/]\d+)*|\w+(?:['\u2019\-]\w+)*|[^\w\s]")


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int

    @property
    def lower(self) -> str:
        return self.text.lower()


def tokenize(text: str) -> list[Token]:
    """Tokens of ``text`` in order; ``text[t.start:t.end] == t.text`` for each."""
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
