from core.nlu.classifier import IntentClassifier

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
