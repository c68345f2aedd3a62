import numpy as np

from chinwag.core.nlu.classifier import IntentClassifier

TEXTS = ["hello", "hi there", "good morning", "bye", "goodbye now", "see you later"] * 2
LABELS = ["greet", "greet", "greet", "bye", "bye", "bye"] * 2


def test_ranking_is_sorted_calibrated_and_right() -> None:
    clf = IntentClassifier()
    clf.train(TEXTS, LABELS)
    ranking = clf.rank("hello there")
    assert ranking[0]["name"] == "greet"
    assert [r["confidence"] for r in ranking] == sorted(
        (r["confidence"] for r in ranking), reverse=True
    )
    assert abs(sum(r["confidence"] for r in ranking) - 1.0) < 1e-6
    assert clf.rank("goodbye")[0]["name"] == "bye"


def test_single_label_gets_full_confidence() -> None:
    clf = IntentClassifier()
    clf.train(["a", "b"], ["only", "only"])
    assert clf.rank("anything") == [{"name": "only", "confidence": 1.0}]


def test_other_kinds_train() -> None:
    for kind in ("sgd", "linear_svc"):
        clf = IntentClassifier(kind=kind, c=1.0)
        clf.train(TEXTS, LABELS)
        assert clf.rank("see you")[0]["name"] == "bye"


def test_sgd_confidences_are_softmax_of_log_odds() -> None:
    texts = [*TEXTS, "check my balance", "what is my balance", "balance please"] * 2
    labels = [*LABELS, "balance", "balance", "balance"] * 2
    clf = IntentClassifier(kind="sgd")
    clf.train(texts, labels)
    assert clf.model is not None
    x = clf.featurizer.transform(["balance"])
    scores = clf.model.decision_function(x)[0]
    expected = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
    assert np.allclose(clf.predict_proba(["balance"])[0], expected)
    assert clf.rank("balance")[0]["name"] == "balance"
    # a clear in-domain message gets a DIET-like peaked confidence, not a flat one
    assert clf.rank("what is my balance")[0]["confidence"] > 0.9


def test_sgd_binary_confidences_are_sigmoid() -> None:
    clf = IntentClassifier(kind="sgd")
    clf.train(TEXTS, LABELS)
    assert clf.model is not None
    score = float(clf.model.decision_function(clf.featurizer.transform(["bye"]))[0])
    probs = clf.predict_proba(["bye"])[0]
    assert clf.labels == ["bye", "greet"]
    assert np.isclose(probs[1], 1 / (1 + np.exp(-score))) and np.isclose(probs.sum(), 1.0)


def test_auto_is_logistic_regression_on_small_data_and_sgd_on_large(monkeypatch) -> None:
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    import chinwag.core.nlu.classifier as classifier

    clf = IntentClassifier(kind="auto")
    clf.train(TEXTS, LABELS)
    assert isinstance(clf.model, LogisticRegression)
    probs = clf.predict_proba(["hello there", "bye"])
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert clf.rank("hello there")[0]["name"] == "greet"
    monkeypatch.setattr(classifier, "AUTO_LOGREG_MAX", len(TEXTS) - 1)
    clf = IntentClassifier(kind="auto")
    clf.train(TEXTS, LABELS)
    assert isinstance(clf.model, SGDClassifier)
    assert clf.rank("goodbye")[0]["name"] == "bye"
