"""chinwag test: test stories with Rasa's semantics and reports, and NLU evaluation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chinwag.core.cli import main
from chinwag.core.data.loader import load_bot, read_data_file
from chinwag.core.data.problems import Problems
from chinwag.core.data.training import Message
from chinwag.core.evaluate import (
    entity_counts,
    evaluate_nlu,
    folds,
    story_entity_set,
    suggest_threshold,
)
from tests.core.test_train import make_bot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

TEST_STORIES = """\
version: "3.1"
stories:
- story: greet then weather
  steps:
  - user: |
      hello
    intent: greet
  - action: utter_greet
  - user: |
      will it rain today
    intent: ask_weather
  - action: utter_weather
- story: wrong answer to greet
  steps:
  - user: |
      hi
    intent: greet
  - action: utter_weather
  - user: |
      bye
    intent: goodbye
  - action: utter_goodbye
"""


@pytest.fixture
def bot(tmp_path: Path) -> Path:
    root = make_bot(tmp_path / "bot")
    (root / "tests").mkdir()
    (root / "tests" / "test_stories.yml").write_text(TEST_STORIES)
    return root


def test_stories_pass_and_fail_with_reports(
    bot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    assert main(["train", str(bot)]) == 0
    assert main(["test", str(bot), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "conversations: 1/2 passed" in printed
    assert "failed: wrong answer to greet" in printed

    report = json.loads((out / "story_report.json").read_text())
    assert report["conversation_accuracy"] == {
        "accuracy": 0.5,
        "correct": 1,
        "with_warnings": 0,
        "total": 2,
    }
    # 8 actions: 4 implicit listens + utter_greet, utter_weather, utter_weather, utter_goodbye;
    # one wrong: story said utter_weather, the policies predicted utter_greet
    assert report["utter_weather"]["support"] == 2
    assert report["utter_weather"]["recall"] == 0.5
    assert report["utter_greet"]["precision"] == 0.5
    assert report["action_listen"]["support"] == 4
    assert report["accuracy"] == pytest.approx(7 / 8)

    failed = (out / "failed_test_stories.yml").read_text()
    assert "  - action: utter_weather  # predicted: utter_greet\n" in failed
    assert "greet then weather" not in failed
    problems = Problems()
    _, stories = read_data_file(out / "failed_test_stories.yml", out, problems, test=True)
    assert not problems.errors
    assert [s.name for s in stories.stories] == ["wrong answer to greet"]

    png = (out / "story_confusion_matrix.png").read_bytes()
    assert png.startswith(PNG_MAGIC)


def test_wrong_intent_fails_the_story(bot: Path, tmp_path: Path) -> None:
    (bot / "tests" / "test_stories.yml").write_text(
        'version: "3.1"\nstories:\n- story: mislabelled\n  steps:\n  - user: |\n      goodbye\n'
        "    intent: greet\n  - action: utter_greet\n"
    )
    out = tmp_path / "results"
    assert main(["train", str(bot)]) == 0
    assert main(["test", str(bot), "--out", str(out), "--fail-on-prediction-errors"]) == 1
    failed = (out / "failed_test_stories.yml").read_text()
    # the story's intent is what the tracker goes on with: the action is still right
    assert "  - intent: greet  # predicted: goodbye: goodbye\n" in failed
    assert "  - action: utter_greet\n" in failed
    report = json.loads((out / "story_report.json").read_text())
    assert report["accuracy"] == 1.0
    assert report["conversation_accuracy"]["correct"] == 0


def test_all_stories_passing_writes_all_good(bot: Path, tmp_path: Path) -> None:
    (bot / "tests" / "test_stories.yml").write_text(TEST_STORIES.split("- story: wrong")[0])
    out = tmp_path / "r"
    assert main(["test", str(bot), "--out", str(out), "--fail-on-prediction-errors"]) == 0
    assert (out / "failed_test_stories.yml").read_text().startswith("# None of the test stories")


def test_nlu_cross_validation(
    bot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "nlu"
    assert main(["test", "nlu", str(bot), "--cross-validation", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "suggested FallbackClassifier threshold:" in printed
    folds_json = json.loads((out / "cross_validation.json").read_text())
    accuracies = [f["intent_accuracy"] for f in folds_json["folds"]]
    assert len(accuracies) == 3
    summary = folds_json["intent_accuracy"]
    assert summary["mean"] == pytest.approx(sum(accuracies) / 3)
    assert summary["min"] == min(accuracies) and summary["max"] == max(accuracies)
    assert f"3-fold cross-validation intent accuracy: mean {summary['mean']:.3f} +- " in printed
    assert "entity_f1" not in folds_json  # the bot has no annotated entities
    report = json.loads((out / "intent_report.json").read_text())
    assert {"greet", "goodbye", "ask_weather"} <= set(report)
    assert report["weighted avg"]["support"] == 18  # every example tested exactly once
    for name in ("intent_confusion_matrix.png", "intent_histogram.png"):
        assert (out / name).read_bytes().startswith(PNG_MAGIC)
    assert isinstance(json.loads((out / "entity_report.json").read_text()), dict)


def test_nlu_held_out_file(bot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    held = tmp_path / "held.yml"
    held.write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hello\n'
        "- intent: goodbye\n  examples: |\n    - bye\n"
    )
    out = tmp_path / "nlu"
    assert main(["test", "nlu", str(bot), "--nlu", str(held), "--out", str(out)]) == 0
    report = json.loads((out / "intent_report.json").read_text())
    assert report["accuracy"] == 1.0 and report["weighted avg"]["support"] == 2
    printed = capsys.readouterr().out
    assert re.search(r"┃\s*intent\s*┃\s*precision", printed), printed
    assert re.search(r"┃\s*entity\s*┃\s*precision", printed), printed


def test_entity_report_counts_type_and_value(bot: Path) -> None:
    loaded = load_bot(bot)
    loaded.nlu.examples = [Message("fly to Paris", "greet")]
    loaded.nlu.examples[0].entities = []

    def parse(text: str) -> dict[str, object]:
        return {
            "intent": {"name": "greet", "confidence": 0.9},
            "entities": [{"entity": "city", "value": "Paris"}],
        }

    from chinwag.core.data.training import Entity

    loaded.nlu.examples[0].entities = [Entity("city", "Paris", 7, 12)]
    evaluation = evaluate_nlu(loaded, None, parse=parse)
    assert evaluation.entity_report["city"] == {
        "precision": 1.0,
        "recall": 1.0,
        "f1-score": 1.0,
        "support": 1,
    }


def test_suggest_threshold_keeps_95_percent_of_hits() -> None:
    hits = [0.5] + [0.29] * 19  # 20 hits: one may fall below, 19 (95%) stay above
    threshold, caught = suggest_threshold(hits[:1] + [0.9] * 19, [0.2, 0.4, 0.95])
    assert threshold == 0.9
    assert suggest_threshold(hits, [])[0] == 0.29
    assert caught == pytest.approx(2 / 3)
    assert suggest_threshold([], [0.1]) == (None, 0.0)


def test_folds_spread_each_intent() -> None:
    examples = [Message(f"a{i}", "a") for i in range(6)] + [Message("b0", "b")]
    parts = folds(examples, 3)
    assert sorted(i for part in parts for i in part) == list(range(7))
    assert all(sum(examples[i].intent == "a" for i in part) == 2 for part in parts)


def test_histogram_uses_confidence_before_fallback(bot: Path) -> None:
    loaded = load_bot(bot)
    loaded.nlu.examples = [Message("hullo", "greet"), Message("ciao", "goodbye")]

    def parse(text: str) -> dict[str, object]:
        ranking = [
            {"name": "nlu_fallback", "confidence": 0.7},
            {"name": "greet", "confidence": 0.4},
        ]
        return {"intent": ranking[0], "intent_ranking": ranking, "entities": []}

    evaluation = evaluate_nlu(loaded, None, parse=parse)
    assert evaluation.intent_report["accuracy"] == 0.0  # the final intent is the fallback
    assert [(p.raw_intent, p.raw_confidence) for p in evaluation.predictions] == [
        ("greet", 0.4),
        ("greet", 0.4),
    ]
    # one hit at 0.4 (greet) and one miss at 0.4 (goodbye): the threshold keeps the hit
    assert (evaluation.threshold, evaluation.misses_caught) == (0.4, 0.0)


GOLD_TIME = {"entity": "time", "value": "2019-01-01T00:00:00.000-08:00", "start": 20, "end": 35}


def _duckling(**changes: object) -> dict[str, object]:
    entity: dict[str, object] = {
        **GOLD_TIME,
        "confidence": 1.0,
        "additional_info": {"grain": "month"},
        "extractor": "DucklingEntityExtractor",
    }
    return {**entity, **changes}


# Rasa 3.6 rasa/core/test.py: span, type and value (an extractor's value as a string) must
# all match; order, duplicates, roles, groups and confidences do not count
@pytest.mark.parametrize(
    ("predicted", "same"),
    [
        ([_duckling()], True),
        ([_duckling(), _duckling()], True),
        ([_duckling(role="from", confidence=0.2)], True),
        ([_duckling(value="2019-01-01T00:00:00.000+00:00")], False),  # another timezone
        ([_duckling(start=23)], False),  # "January 2019" without "in"
        ([_duckling(entity="number", value=2019, start=31)], False),
        ([], False),
        ([_duckling(), {"entity": "PERSON", "value": "I", "start": 13, "end": 14}], False),
    ],
)
def test_story_entities_compare_as_rasa(predicted: list[dict[str, object]], same: bool) -> None:
    assert (story_entity_set([GOLD_TIME]) == story_entity_set(predicted)) is same


def test_story_entity_values_compare_as_strings() -> None:
    gold = [{"entity": "number", "value": "5", "start": 4, "end": 5}]
    got = [{"entity": "number", "value": 5, "start": 4, "end": 5, "extractor": "X"}]
    assert story_entity_set(gold) == story_entity_set(got)
    assert story_entity_set([{**gold[0], "value": "Five"}]) != story_entity_set(
        [{**got[0], "value": "five"}]
    )  # no case folding


def test_entity_counts_compare_the_words_found_not_the_mapped_value() -> None:
    text = "pay my credit card bill by friday"
    gold = [{"entity": "account_type", "value": "credit", "start": 7, "end": 18}]
    predicted = [
        # the synonym mapper turned "credit card" into "credit": still the right words
        {"entity": "account_type", "value": "credit", "start": 7, "end": 18, "extractor": "CRF"},
        # a pretrained extractor's finding is left out, as rasa test nlu does
        {
            "entity": "time",
            "value": "2026-12-11",
            "start": 27,
            "end": 33,
            "extractor": "DucklingEntityExtractor",
        },
    ]
    counts = entity_counts(text, gold, predicted)
    assert counts["exact"] == {"account_type": [1, 1, 1]}
    short = [{"entity": "account_type", "value": "credit", "start": 7, "end": 13}]
    counts = entity_counts(text, gold, short)
    assert counts["exact"] == {"account_type": [0, 1, 1]}
    assert counts["overlap"] == {"account_type": [1, 1, 1]}
    # each gold entity is matched once; a wrong type never matches
    twice = [*short, {"entity": "account_type", "start": 14, "end": 18, "value": "card"}]
    other = [{"entity": "bank", "value": "credit card", "start": 7, "end": 18}]
    assert entity_counts(text, gold, twice)["overlap"] == {"account_type": [1, 2, 1]}
    assert entity_counts(text, gold, other)["overlap"] == {
        "account_type": [0, 0, 1],
        "bank": [0, 1, 0],
    }
