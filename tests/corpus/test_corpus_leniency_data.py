"""MultiWOZ in the TED paper's layout (../shared/bench/multiwoz-dev, read-only): trains with
``chinwag train --data`` despite hundreds of contradicting stories, and tests on its held-out
validation stories with ``chinwag test --stories``, writing nothing into the bot folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chinwag.core.cli import main

pytestmark = pytest.mark.benchmark

VALIDATION_STORIES = 246


def test_multiwoz_trains_with_data_and_tests_with_stories(
    bench_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = bench_dir / "multiwoz-dev"
    before = sorted(p.name for p in bot.rglob("*"))
    model = tmp_path / "multiwoz.tar.gz"
    assert main(["train", str(bot), "--data", str(bot / "data"), "--out", str(model)]) == 0
    out = capsys.readouterr().out
    (conflicts,) = [line for line in out.splitlines() if "story conflict(s)" in line]
    assert conflicts.startswith("data/stories.md:") and ": warning: " in conflicts
    assert model.is_file()

    results = tmp_path / "results"
    stories = bot / "validation" / "stories.md"
    args = ["test", str(bot), "--stories", str(stories), "--model", str(model)]
    assert main([*args, "--out", str(results)]) == 0
    out = capsys.readouterr().out
    report = json.loads((results / "story_report.json").read_text())
    assert report["conversation_accuracy"]["total"] == VALIDATION_STORIES
    accuracy = report["action_accuracy"]
    with_listen, without = accuracy["with_action_listen"], accuracy["without_action_listen"]
    assert with_listen["total"] > without["total"] > VALIDATION_STORIES
    assert f"({without['correct']}/{without['total']})" in out
    print(
        f"multiwoz-dev: action accuracy {with_listen['accuracy']:.3f} "
        f"({without['accuracy']:.3f} without action_listen), "
        f"{report['conversation_accuracy']['correct']}/{VALIDATION_STORIES} dialogues"
    )
    assert sorted(p.name for p in bot.rglob("*")) == before
