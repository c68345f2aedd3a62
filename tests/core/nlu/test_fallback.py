from typing import Any

import pytest

from chinwag.core.nlu.fallback import FallbackClassifier


def parsed(*ranking: tuple[str, float]) -> dict[str, Any]:
    items = [{"name": n, "confidence": c} for n, c in ranking]
    return {"text": "x", "intent": dict(items[0]), "intent_ranking": items, "entities": []}


@pytest.mark.parametrize(
    ("ranking", "falls_back"),
    [
        ((("greet", 0.9), ("bye", 0.05)), False),
        ((("greet", 0.25), ("bye", 0.05)), True),  # below threshold
        ((("greet", 0.5), ("bye", 0.45)), True),  # ambiguous: gap 0.05 < 0.1
        ((("greet", 0.5), ("bye", 0.39)), False),  # gap 0.11
        ((("greet", 0.31),), False),  # nothing to be ambiguous with
    ],
)
def test_threshold_and_ambiguity(ranking: tuple[tuple[str, float], ...], falls_back: bool) -> None:
    data = parsed(*ranking)
    out = FallbackClassifier().apply(data)
    assert (out["intent"]["name"] == "nlu_fallback") is falls_back
    if falls_back:
        assert out["intent"]["confidence"] == 0.3
        assert [r["name"] for r in out["intent_ranking"]][:2] == ["nlu_fallback", "greet"]
        assert data["intent"]["name"] == "greet"  # the input is untouched


def test_config_values() -> None:
    classifier = FallbackClassifier.from_config(
        {"name": "FallbackClassifier", "threshold": 0.7, "ambiguity_threshold": 0.2}
    )
    assert classifier.apply(parsed(("greet", 0.69)))["intent"]["confidence"] == 0.7
    assert classifier.apply(parsed(("greet", 0.9), ("bye", 0.75)))["intent"]["name"] == (
        "nlu_fallback"
    )
