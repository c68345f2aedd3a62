"""The one-text path parsing uses (``SentenceFeaturizer.row``, ``IntentClassifier.predict_one``)
gives what sklearn's checked path gives: the same feature rows, the same confidences and
ranking, on the restaurant bot's examples and on generated text (unicode, empty, long)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chinwag.core.data.loader import load_bot
from chinwag.core.data.problems import Problems
from chinwag.core.nlu.classifier import IntentClassifier
from chinwag.core.nlu.featurizers import FeaturizerConfig
from chinwag.core.nlu.patterns import Pattern
from chinwag.core.nlu.pipeline import NLUPipeline
from chinwag.core.train import train_nlu

BOT = Path(__file__).resolve().parents[3] / "bots/restaurant"


@pytest.fixture(scope="module")
def restaurant() -> tuple[NLUPipeline, list[str]]:
    bot = load_bot(BOT, tests=False)
    pipeline = train_nlu(bot, Problems(), lambda _stage, _fraction: None)
    return pipeline, [m.text for m in bot.nlu.examples if m.text]


def _other_classifiers() -> list[IntentClassifier]:
    """A multinomial logistic regression and a binary SGD with regex features, case-sensitive
    word-only features: the other shapes the fast path meets."""
    texts = ["book a table", "reserve for two", "hello there", "hi", "good morning", "table 5"]
    labels = ["book", "book", "greet", "greet", "greet", "book"]
    logreg = IntentClassifier(kind="logreg", patterns=[Pattern("num", r"\d+")])
    logreg.train(texts, labels)
    binary = IntentClassifier(FeaturizerConfig((1, 1), None, True), kind="sgd")
    binary.train(texts, labels)
    three = IntentClassifier(kind="sgd", patterns=[Pattern("hi", r"\bh[ie]")])
    three.train([*texts, "bye", "see you"], [*labels, "bye", "bye"])
    return [logreg, binary, three]


def _assert_same(classifier: IntentClassifier, text: str) -> None:
    featurizer = classifier.featurizer
    checked = featurizer.transform([text]).tocsr()
    checked.sort_indices()
    fast = featurizer.transform_one(text)
    assert fast.shape == checked.shape
    assert fast.indices.tolist() == checked.indices.tolist()
    np.testing.assert_allclose(fast.data, checked.data, rtol=1e-6, atol=0)
    expected = classifier.predict_proba([text])[0]
    np.testing.assert_allclose(classifier.predict_one(text), expected, rtol=1e-9, atol=1e-12)
    ranking = classifier.rank(text)
    assert [r["name"] for r in ranking] == [
        classifier.labels[i]
        for i in sorted(range(len(expected)), key=lambda i: (-expected[i], classifier.labels[i]))
    ][: len(ranking)]


def test_same_rows_and_confidences_on_the_bots_examples(
    restaurant: tuple[NLUPipeline, list[str]],
) -> None:
    pipeline, examples = restaurant
    assert pipeline.intent is not None and len(examples) > 50
    random.Random(0).shuffle(examples)
    for text in examples:
        _assert_same(pipeline.intent, text)
        for other in OTHERS:
            _assert_same(other, text)


def test_parse_ranks_as_sklearn_does(restaurant: tuple[NLUPipeline, list[str]]) -> None:
    pipeline, examples = restaurant
    assert pipeline.intent is not None
    for text in examples[:100]:
        parsed: dict[str, Any] = pipeline.parse_sync(text)
        probs = pipeline.intent.predict_proba([text])[0]
        best = int(np.argmax(probs))
        assert parsed["intent_ranking"][0]["name"] == pipeline.intent.labels[best]
        assert parsed["intent_ranking"][0]["confidence"] == pytest.approx(probs[best])


OTHERS = _other_classifiers()
TEXTS = st.one_of(
    st.text(max_size=200),
    st.text(alphabet="ab 12ÄéßİŞ中文\u0301\t\n-'\u2019.,", max_size=60),
    st.lists(
        st.sampled_from(["book", "table", "Hi", "there", "5", "\uff22\uff2f\uff2f\uff2b"]),
        max_size=400,
    ).map(" ".join),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=TEXTS)
def test_same_on_generated_text(restaurant: tuple[NLUPipeline, list[str]], text: str) -> None:
    pipeline, _ = restaurant
    assert pipeline.intent is not None
    _assert_same(pipeline.intent, text)
    for other in OTHERS:
        _assert_same(other, text)


def test_refit_drops_the_cached_vocabulary() -> None:
    classifier = IntentClassifier(kind="sgd")
    classifier.train(["a b", "c d", "e f"], ["x", "y", "z"])
    classifier.rank("a b")
    classifier.train(["hello", "bye", "thanks"], ["x", "y", "z"])
    _assert_same(classifier, "hello")
    assert classifier.featurizer.row("hello")[0].size > 0
