"""Sparse sentence features: word n-grams, character n-grams, regex and lookup matches.

Stands in for Rasa's CountVectorsFeaturizer (``word`` and ``char_wb`` analyzers) and
RegexFeaturizer. Weights are sublinear TF-IDF, L2-normalised per analyzer, which the
measurements in bench/results/nlu_experiments.md preferred over raw counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from chinwag.core.nlu.patterns import Pattern, compile_patterns

WORD_PATTERN = r"\d+(?:[.,:/]\d+)*|\w+(?:['\u2019\-]\w+)*"


@dataclass
class FeaturizerConfig:
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] | None = (2, 5)  # None: no character features
    case_sensitive: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "word_ngrams": list(self.word_ngrams),
            "char_ngrams": list(self.char_ngrams) if self.char_ngrams else None,
            "case_sensitive": self.case_sensitive,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeaturizerConfig:
        word = data.get("word_ngrams") or (1, 2)
        char = data.get("char_ngrams")
        return cls(
            word_ngrams=(int(word[0]), int(word[1])),
            char_ngrams=(int(char[0]), int(char[1])) if char else None,
            case_sensitive=bool(data.get("case_sensitive", False)),
        )


class SentenceFeaturizer:
    """Fit on training texts, then turn texts into sparse rows of one fixed width."""

    def __init__(
        self,
        config: FeaturizerConfig,
        patterns: list[Pattern],
        vectorizers: list[TfidfVectorizer] | None = None,
    ) -> None:
        self.config = config
        self.patterns = patterns
        self._compiled = compile_patterns(patterns, config.case_sensitive)
        lower = not config.case_sensitive
        if vectorizers is not None:
            self.vectorizers = vectorizers
            return
        self.vectorizers = [
            TfidfVectorizer(
                token_pattern=WORD_PATTERN,
                ngram_range=config.word_ngrams,
                lowercase=lower,
                sublinear_tf=True,
                dtype=np.float32,
            )
        ]
        if config.char_ngrams:
            self.vectorizers.append(
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=config.char_ngrams,
                    lowercase=lower,
                    sublinear_tf=True,
                    dtype=np.float32,
                )
            )

    def _regex(self, texts: list[str]) -> sp.csr_matrix:
        rows = [[1.0 if r.search(t) else 0.0 for r in self._compiled] for t in texts]
        return sp.csr_matrix(np.asarray(rows, dtype=np.float32).reshape(len(texts), -1))

    def fit_transform(self, texts: list[str]) -> sp.csr_matrix:
        blocks = [v.fit_transform(texts) for v in self.vectorizers]
        return sp.hstack([*blocks, self._regex(texts)], format="csr")

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        blocks = [v.transform(texts) for v in self.vectorizers]
        return sp.hstack([*blocks, self._regex(texts)], format="csr")
