import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from chinwag.core.cli import main
from chinwag.core.data.loader import load_bot
from chinwag.core.data.training import Story
from tests.core.data.test_loader import BOT, write
from tests.core.data.test_validate import DOMAIN, NLU, STORIES

ENV = {"ACTIONS_URL": "http://localhost:5055/webhook", "SLACK_TOKEN": "xoxb-1"}


def without_locations(stories: list[Story]) -> list[object]:
    return [[dataclasses.replace(step, location=None) for step in story.steps] for story in stories]


def clean_bot(tmp_path: Path) -> Path:
    return write(
        tmp_path / "bot", {"domain.yml": DOMAIN, "data/nlu.yml": NLU, "data/stories.yml": STORIES}
    )


def test_validate_clean_bot_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bot = clean_bot(tmp_path)
    assert main(["data", "validate", str(bot)]) == 0
    out = capsys.readouterr().out
    assert f"{bot}: ok (0 errors, 0 warnings)" in out


def test_validate_errors_exit_1_with_located_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = clean_bot(tmp_path)
    (bot / "data" / "stories.yml").write_text(STORIES + "- story: x\n  steps:\n  - intent: nope\n")
    assert main(["data", "validate", str(bot)]) == 1
    out = capsys.readouterr().out
    assert "data/stories.yml:19: error: intent 'nope'" in out
    assert "FAILED (1 errors, 0 warnings)" in out
    assert "Traceback" not in out


def test_errors_only_hides_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bot = clean_bot(tmp_path)
    (bot / "domain.yml").write_text(DOMAIN + "  utter_unused:\n    - text: hi\n")
    assert main(["data", "validate", "--errors-only", str(bot)]) == 0
    out = capsys.readouterr().out
    assert "utter_unused" not in out
    assert "ok (0 errors, 1 warnings)" in out


def test_convert_writes_3x_and_refuses_to_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    source = write(tmp_path / "old", BOT)
    out = tmp_path / "new"
    assert main(["data", "convert", str(source), "--out", str(out)]) == 0
    assert (out / "data" / "stories.yml").is_file()  # the Markdown story, now YAML
    assert not list(out.rglob("*.md"))
    before, after = load_bot(source), load_bot(out)
    assert after.problems.errors == []
    assert len(after.nlu.examples) == len(before.nlu.examples)
    assert [s.name for s in after.stories] == [s.name for s in before.stories]
    assert without_locations(after.stories) == without_locations(before.stories)
    assert len(after.test_stories) == len(before.test_stories)
    assert after.domain.responses == before.domain.responses
    capsys.readouterr()
    assert main(["data", "convert", str(source), "--out", str(out)]) == 1
    assert "--force" in capsys.readouterr().out
    assert main(["data", "convert", str(source), "--out", str(out), "--force"]) == 0


def test_convert_refuses_a_bot_with_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = clean_bot(tmp_path)
    (bot / "domain.yml").write_text("intents: [a\n")
    assert main(["data", "convert", str(bot), "--out", str(tmp_path / "out")]) == 1
    assert "domain.yml:" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


def test_console_script_help_and_version() -> None:
    exe = Path(sys.executable).parent / "chinwag"
    help_text = subprocess.run(
        [str(exe), "data", "validate", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--max-history" in help_text and "BOT_DIR" in help_text
    version = subprocess.run(
        [str(exe), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert version.startswith("chinwag ")
    missing = subprocess.run([str(exe)], capture_output=True, text=True)
    assert missing.returncode == 2
    assert "COMMAND" in missing.stderr


def test_data_split_nlu_is_stratified_repeatable_and_readable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from collections import Counter

    from chinwag.core.data.loader import read_data_file
    from chinwag.core.data.problems import Problems
    from tests.core.test_train import make_bot

    bot = make_bot(tmp_path / "bot")  # 3 intents x 6 examples
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        args = ["data", "split", "nlu", str(bot), "--random-seed", "3", "--out", str(out)]
        assert main([*args, "--training-fraction", "0.5"]) == 0
    assert "9 training and 9 test examples" in capsys.readouterr().out
    first = [(outs[0] / name).read_text() for name in ("training_data.yml", "test_data.yml")]
    assert first == [
        (outs[1] / name).read_text() for name in ("training_data.yml", "test_data.yml")
    ]
    parts = []
    for name in ("training_data.yml", "test_data.yml"):
        problems = Problems()
        nlu, _ = read_data_file(outs[0] / name, outs[0], problems)
        assert not problems.errors
        parts.append(nlu.examples)
    assert Counter(m.intent for m in parts[0]) == {"greet": 3, "goodbye": 3, "ask_weather": 3}
    texts = sorted(m.text for part in parts for m in part)
    assert texts == sorted(m.text for m in load_bot(bot).nlu.examples)


def test_data_split_nlu_rejects_a_fraction_outside_0_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.core.test_train import make_bot

    bot = make_bot(tmp_path / "bot")
    out = tmp_path / "split"
    args = ["data", "split", "nlu", str(bot), "--training-fraction", "1", "--out", str(out)]
    assert main(args) == 2
    assert "--training-fraction must be between 0 and 1" in capsys.readouterr().out
    assert not out.exists()


# ---------------------------------------------------------------------------- run --workers


def worker_count(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from rich.console import Console

    from chinwag.core.cli import _worker_count, build_parser

    args = build_parser().parse_args(["run", *argv])
    count = _worker_count(args, Console(stderr=True, soft_wrap=True))
    return count, capsys.readouterr().err


@pytest.mark.parametrize(
    ("endpoints", "credentials", "expected", "warning"),
    [
        ("", "rest:\n", 3, None),
        ("tracker_store:\n  type: memory\n", "rest:\n", 1, "one process's memory"),
        ("lock_store:\n  type: in_memory\n", "rest:\n", 1, "one process's memory"),
        ("", "telegram:\n  access_token: t\n  polling: true\n", 1, "polled updates"),
    ],
)
def test_workers_fall_back_to_one_when_processes_could_not_share(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    endpoints: str,
    credentials: str,
    expected: int,
    warning: str | None,
) -> None:
    bot = clean_bot(tmp_path)
    (bot / "endpoints.yml").write_text(endpoints, encoding="utf-8")
    (bot / "credentials.yml").write_text(credentials, encoding="utf-8")
    count, err = worker_count([str(bot), "--workers", "3"], capsys)
    assert count == expected
    if warning is None:
        assert err == ""
    else:
        assert warning in err and "running 1 worker, not 3" in err


def test_workers_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="--workers must be 1 or more"):
        worker_count([str(clean_bot(tmp_path)), "--workers", "0"], capsys)
