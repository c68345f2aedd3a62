"""Split text into tokens with character offsets, by language.

The default (Rasa's WhitespaceTokenizer, plus punctuation) serves languages written with
spaces: numbers keep their inner separators (``12.50``, ``5:30``, ``1,000``), words keep inner
apostrophes and hyphens (``don't``, ``e-mail``); every other non-space character is a token of
its own, so entity spans that end before a comma or a full stop still align with tokens.

Languages written without spaces get a word segmenter behind the same interface, each an
optional extra: ``JiebaTokenizer`` (Chinese, ``pip install 'chinwag[zh]'``, with Rasa's
``dictionary_path`` of custom words), ``JapaneseTokenizer`` (fugashi with unidic-lite,
``chinwag[ja]``), ``ThaiTokenizer`` (pythainlp, ``chinwag[th]``); ``SpacyTokenizer`` runs
spaCy's rule-based tokenizer for the bot's language when spaCy is installed. Every tokenizer
gives ``text[t.start:t.end] == t.text``, so entity offsets stay exact in every language.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TOKEN = re.compile(r"\d+(?:[.,:/]\d+)*|\w+(?:['\u2019\-]\w+)*|[^\w\s]")

WHITESPACE = "WhitespaceTokenizer"
# languages whose text has no spaces between words, and the segmenter each gets by default
SEGMENTED_LANGUAGES = {"zh": "JiebaTokenizer", "ja": "JapaneseTokenizer", "th": "ThaiTokenizer"}
EXTRAS = {"JiebaTokenizer": "zh", "JapaneseTokenizer": "ja", "ThaiTokenizer": "th"}


class MissingExtra(RuntimeError):
    """A tokenizer's library is not installed; the message names the extra to install."""


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int

    @property
    def lower(self) -> str:
        return self.text.lower()


def tokenize(text: str) -> list[Token]:
    """Whitespace tokens of ``text`` in order; ``text[t.start:t.end] == t.text`` for each."""
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _aligned(text: str, pieces: list[str]) -> list[Token]:
    """Tokens for segmenter output ``pieces`` found in order in ``text`` (spaces dropped)."""
    out: list[Token] = []
    pos = 0
    for piece in pieces:
        word = piece.strip()
        if not word:
            continue
        start = text.find(word, pos)
        if start < 0:  # a segmenter that normalised its input: keep what still aligns
            continue
        out.append(Token(word, start, start + len(word)))
        pos = start + len(word)
    return out


class Tokenizer:
    """Whitespace and punctuation (the default); subclasses segment other languages."""

    name = WHITESPACE
    spaced = True  # words are separated by spaces, so ``\\b`` marks word edges

    def tokenize(self, text: str) -> list[Token]:
        return tokenize(text)

    def with_words(self, words: list[str]) -> Tokenizer:
        """This tokenizer, knowing ``words`` (a bot's entity values) as words of their own where
        it segments by a dictionary, so annotated spans fall on token edges."""
        return self

    def spec(self) -> dict[str, Any]:
        """What :func:`from_spec` needs to rebuild this tokenizer (stored in the model)."""
        return {"name": self.name}


def _missing(name: str, module: str) -> MissingExtra:
    extra = EXTRAS.get(name)
    how = f"pip install 'chinwag[{extra}]'" if extra else f"pip install {module}"
    return MissingExtra(f"{name} needs the {module} package, which is not installed: {how}")


class JiebaTokenizer(Tokenizer):
    """Chinese words by jieba; ``words`` are the lines of Rasa's ``dictionary_path`` files
    (``word [frequency] [tag]``), kept in the model so it loads without those files."""

    name = "JiebaTokenizer"
    spaced = False

    def __init__(self, words: list[str] | None = None) -> None:
        try:
            import jieba
        except ImportError as exc:
            raise _missing(self.name, "jieba") from exc
        self.words = list(words or [])
        self._jieba = jieba.Tokenizer()
        jieba.setLogLevel(40)  # its "Building prefix dict" chatter
        for line in self.words:
            parts = line.split()
            if not parts:
                continue
            freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            self._jieba.add_word(parts[0], freq)

    @staticmethod
    def read_dictionary(path: Path) -> list[str]:
        """The lines of every file in ``path`` (a folder, as in Rasa, or one file)."""
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        lines: list[str] = []
        for file in files:
            lines.extend(
                ln.strip() for ln in file.read_text(encoding="utf-8").splitlines() if ln.strip()
            )
        return lines

    def with_words(self, words: list[str]) -> Tokenizer:
        known = set(self.words)
        new = [w for w in dict.fromkeys(w.strip() for w in words) if w and w not in known]
        new = [w for w in new if not any(ch.isspace() for ch in w)]
        return JiebaTokenizer([*self.words, *new]) if new else self

    def tokenize(self, text: str) -> list[Token]:
        return [
            Token(word, start, end)
            for word, start, end in self._jieba.tokenize(text)
            if word.strip()
        ]

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "words": self.words}


class JapaneseTokenizer(Tokenizer):
    """Japanese words by MeCab (fugashi) with the unidic-lite dictionary."""

    name = "JapaneseTokenizer"
    spaced = False

    def __init__(self) -> None:
        try:
            import fugashi
            import unidic_lite  # noqa: F401  (fugashi finds its dictionary through it)
        except ImportError as exc:
            raise _missing(self.name, "fugashi") from exc
        self._tagger = fugashi.Tagger()

    def tokenize(self, text: str) -> list[Token]:
        return _aligned(text, [w.surface for w in self._tagger(text)])


class ThaiTokenizer(Tokenizer):
    """Thai words by pythainlp's dictionary-based ``newmm`` segmenter."""

    name = "ThaiTokenizer"
    spaced = False

    def __init__(self) -> None:
        try:
            from pythainlp.tokenize import word_tokenize
        except ImportError as exc:
            raise _missing(self.name, "pythainlp") from exc
        self._segment: Callable[[str], list[str]] = word_tokenize

    def tokenize(self, text: str) -> list[Token]:
        return _aligned(text, self._segment(text))


class SpacyTokenizer(Tokenizer):
    """spaCy's rule-based tokenizer for ``language`` (a blank pipeline: no model download)."""

    name = "SpacyTokenizer"

    def __init__(self, language: str = "en") -> None:
        try:
            import spacy
        except ImportError as exc:
            raise _missing(self.name, "spacy") from exc
        self.language = language
        self._nlp = spacy.blank(language)
        self.spaced = language not in SEGMENTED_LANGUAGES

    def tokenize(self, text: str) -> list[Token]:
        return [
            Token(t.text, t.idx, t.idx + len(t.text))
            for t in self._nlp.make_doc(text)
            if t.text.strip()
        ]

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "language": self.language}


def from_spec(spec: dict[str, Any] | None) -> Tokenizer:
    """The tokenizer a :meth:`Tokenizer.spec` describes (None: the whitespace one).

    Raises :class:`MissingExtra` naming the extra to install when its library is missing."""
    name = (spec or {}).get("name", WHITESPACE)
    if name == JiebaTokenizer.name:
        return JiebaTokenizer((spec or {}).get("words"))
    if name == JapaneseTokenizer.name:
        return JapaneseTokenizer()
    if name == ThaiTokenizer.name:
        return ThaiTokenizer()
    if name == SpacyTokenizer.name:
        return SpacyTokenizer(str((spec or {}).get("language", "en")))
    return Tokenizer()
