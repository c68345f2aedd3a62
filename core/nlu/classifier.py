"""Intent classification with calibrated confidences over sparse sentence features.

The pipeline uses ``sgd`` (log-loss SGD; confidences are the softmax over its one-vs-rest
log-odds, on DIET's sharp scale, so Rasa configs' FallbackClassifier thresholds keep working).
``auto`` (multinomial logistic regression, C=10, up to ``AUTO_LOGREG_MAX`` examples, SGD above)
is more accurate on small bots but its confidences are flatter: at DIET-tuned thresholds far
more messages fall back (bench/results/nlu_suite.md). ``linear_svc`` (LinearSVC with sigmoid
calibration) was measured too and stays selectable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
from scipy.special import softmax
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.svm import LinearSVC

from chinwag.core.nlu.featurizers import FeaturizerConfig, SentenceFeaturizer
from chinwag.core.nlu.patterns import Pattern

RANKING_LENGTH = 10
KINDS = ("auto", "logreg", "linear_svc", "sgd")
SEED = 42
# ``auto``: multinomial logistic regression up to this many training examples, log-loss SGD
# above it (lbfgs grows too slow)
AUTO_LOGREG_MAX = 1000


def _estimator(kind: str, c: float, n_labels_min: int, n_examples: int) -> Any:
    if kind == "auto":
        kind = "logreg" if n_examples <= AUTO_LOGREG_MAX else "sgd"
    if kind == "linear_svc":
        folds = max(2, min(3, n_labels_min))
        return CalibratedClassifierCV(LinearSVC(C=c, random_state=SEED), cv=folds)
    if kind == "sgd":
        return SGDClassifier(loss="log_loss", alpha=1e-4 / c, random_state=SEED, max_iter=50)
    return LogisticRegression(C=c, max_iter=1000, random_state=SEED)


def _log_odds_softmax(scores: np.ndarray) -> np.ndarray:
    """Softmax over SGD's one-vs-rest log-odds (binary, one column: sigmoid), rows of
    ``scores``; not sklearn's sum-normalised sigmoids, which flatten towards uniform whenever
    every class says "not me"."""
    if scores.ndim == 1:
        scores = np.column_stack([np.zeros_like(scores), scores])
    return np.asarray(softmax(scores, axis=1))


class IntentClassifier:
    """Labels -> probabilities. One known label always gets confidence 1."""

    def __init__(
        self,
        featurizer_config: FeaturizerConfig | None = None,
        *,
        kind: str = "logreg",
        c: float = 10.0,
        patterns: list[Pattern] | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown classifier '{kind}', expected one of {', '.join(KINDS)}")
        self.kind = kind
        self.c = c
        self.featurizer = SentenceFeaturizer(
            featurizer_config or FeaturizerConfig(), patterns or []
        )
        self.labels: list[str] = []
        self.model: Any = None
        self._weights: tuple[np.ndarray, np.ndarray] | None = None  # SGD's coef_.T, intercept_

    def train(self, texts: list[str], labels: list[str]) -> None:
        self.labels = sorted(set(labels))
        if len(self.labels) < 2:
            self.model = None
            return
        x = self.featurizer.fit_transform(texts)
        counts = [labels.count(label) for label in self.labels]
        self.model = _estimator(self.kind, self.c, min(counts), len(texts))
        self.model.fit(x, labels)
        self._weights = None
        self.labels = [str(label) for label in self.model.classes_]

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        if self.model is None:
            return np.ones((len(texts), len(self.labels)), dtype=np.float64)
        x = self.featurizer.transform(texts)
        if not isinstance(self.model, SGDClassifier):
            return np.asarray(self.model.predict_proba(x))
        return _log_odds_softmax(np.asarray(self.model.decision_function(x), dtype=np.float64))

    def predict_one(self, text: str) -> np.ndarray:
        """``predict_proba([text])[0]`` without sklearn's per-call checks: the row from
        :meth:`SentenceFeaturizer.row`, and for SGD the fitted weights applied with numpy."""
        if self.model is None:
            return np.ones(len(self.labels), dtype=np.float64)
        if not isinstance(self.model, SGDClassifier):
            x = self.featurizer.transform_one(text)
            return np.asarray(self.model.predict_proba(x))[0]
        if self._weights is None:
            self._weights = (
                np.ascontiguousarray(np.asarray(self.model.coef_).T),
                np.asarray(self.model.intercept_),
            )
        weights, intercept = self._weights
        columns, values = self.featurizer.row(text)
        # as decision_function's sparse product: each score summed over the row's columns in
        # order, in the weights' precision (float32 when trained on float32 features)
        dtype = np.result_type(values.dtype, weights.dtype)
        products = values.astype(dtype)[:, np.newaxis] * weights[columns]
        sums = products.cumsum(axis=0)[-1] if len(columns) else np.zeros(len(intercept), dtype)
        scores = np.asarray(sums + intercept, dtype=np.float64)
        if len(scores) == 1:  # binary: the positive class's log-odds against 0
            scores = np.asarray([0.0, scores[0]])
        # scipy's softmax on one row (its per-call array-API dispatch costs more than the sums)
        shifted = np.exp(scores - scores.max())
        return np.asarray(shifted / shifted.sum())

    def rank(self, text: str, top: int = RANKING_LENGTH) -> list[dict[str, Any]]:
        """Rasa's intent_ranking: ``[{name, confidence}]``, best first, at most ``top``."""
        if not self.labels:
            return []
        probs = self.predict_one(text)
        order = sorted(range(len(self.labels)), key=lambda i: (-probs[i], self.labels[i]))
        return [{"name": self.labels[i], "confidence": float(probs[i])} for i in order[:top]]

    def persist(self, directory: Path, name: str) -> dict[str, Any]:
        """Write the sklearn parts with joblib; returns the JSON metadata to keep."""
        joblib.dump(
            {"vectorizers": self.featurizer.vectorizers, "model": self.model},
            directory / f"{name}.joblib",
        )
        return {
            "kind": self.kind,
            "c": self.c,
            "labels": self.labels,
            "featurizer": self.featurizer.config.as_dict(),
            "patterns": [[p.name, p.pattern] for p in self.featurizer.patterns],
        }

    @classmethod
    def load(cls, directory: Path, name: str, meta: dict[str, Any]) -> IntentClassifier:
        parts = joblib.load(directory / f"{name}.joblib")
        patterns = [Pattern(n, p) for n, p in meta["patterns"]]
        clf = cls(FeaturizerConfig.from_dict(meta["featurizer"]), kind=meta["kind"], c=meta["c"])
        clf.featurizer = SentenceFeaturizer(clf.featurizer.config, patterns, parts["vectorizers"])
        clf.model = parts["model"]
        clf.labels = list(meta["labels"])
        return clf
