"""Sparse sentence features: word n-grams, character n-grams, regex and lookup matches.

Stands in for Rasa's CountVectorsFeaturizer (``word`` and ``char_wb`` analyzers) and
RegexFeaturizer. Weights are sublinear TF-IDF, L2-normalised per analyzer, which the
measurements in bench/results/nlu_experiments.md preferred over raw counts.

Parsing reads one text at a time, where sklearn's ``transform`` spends most of its time
checking its input and building sparse matrices (bench/results/nlu_parse.md):
:meth:`SentenceFeaturizer.row` computes the same row from the fitted vocabularies and idf
weights directly (the same analyzers, the same float32 arithmetic).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
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
        # per fitted vectorizer: (analyzer, vocabulary, idf, first column); built on first use
        self._fitted: list[tuple[Callable[[str], list[str]], dict[str, int], Any, int]] = []
        self._regex_offset = 0
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
        self._fitted = []
        blocks = [v.fit_transform(texts) for v in self.vectorizers]
        return sp.hstack([*blocks, self._regex(texts)], format="csr")

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        blocks = [v.transform(texts) for v in self.vectorizers]
        return sp.hstack([*blocks, self._regex(texts)], format="csr")

    def _fitted_parts(self) -> None:
        offset = 0
        for v in self.vectorizers:
            self._fitted.append((v.build_analyzer(), v.vocabulary_, v.idf_, offset))
            offset += len(v.vocabulary_)
        self._regex_offset = offset

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The columns (ascending) and float32 weights of ``text``'s row, as
        ``transform([text])`` gives them, without building sparse matrices."""
        if not self._fitted:
            self._fitted_parts()
        columns: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        for analyze, vocabulary, idf, offset in self._fitted:
            counts = sorted(
                (index, n)
                for feature, n in Counter(analyze(text)).items()
                if (index := vocabulary.get(feature)) is not None
            )
            if not counts:
                continue
            index_array = np.asarray([i for i, _ in counts], dtype=np.int64)
            values = np.asarray([n for _, n in counts], dtype=np.float32)
            # TfidfTransformer.transform: sublinear tf, idf, then L2 as sklearn's
            # _inplace_csr_row_normalize_l2 does it (float32 squares summed in order as doubles)
            np.log(values, values)
            values += 1.0
            values *= idf[index_array]
            total = 0.0
            for square in (values * values).tolist():
                total += square
            if total != 0.0:
                values = (values.astype(np.float64) / math.sqrt(total)).astype(np.float32)
            columns.append(index_array + offset)
            weights.append(values)
        hits = [i for i, r in enumerate(self._compiled) if r.search(text)]
        if hits:
            columns.append(np.asarray(hits, dtype=np.int64) + self._regex_offset)
            weights.append(np.ones(len(hits), dtype=np.float32))
        if not columns:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return np.concatenate(columns), np.concatenate(weights)

    def width(self) -> int:
        if not self._fitted:
            self._fitted_parts()
        return self._regex_offset + len(self._compiled)

    def transform_one(self, text: str) -> sp.csr_matrix:
        """:meth:`row` as a one-row matrix (what ``transform([text])`` returns)."""
        columns, weights = self.row(text)
        return sp.csr_matrix(
            (weights, columns, np.asarray([0, len(columns)])), shape=(1, self.width())
        )
