"""`chinwag init`: the starter bot is written, trains, passes its own tests and talks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pexpect

from chinwag.core.init import PATH_QUESTION, SHELL_QUESTION

CHINWAG = Path(sys.executable).parent / "chinwag"


def chinwag(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHINWAG), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def test_init_then_train_test_and_validate_pass(tmp_path: Path) -> None:
    bot = tmp_path / "starter"
    made = chinwag("init", bot, "--no-prompt")
    assert made.returncode == 0, made.stdout + made.stderr
    for name in (
        "domain.yml",
        "config.yml",
        "credentials.yml",
        "endpoints.yml",
        "actions.py",
        "data/nlu.yml",
        "data/stories.yml",
        "data/rules.yml",
        "tests/test_stories.yml",
    ):
        assert (bot / name).is_file(), name
    assert list((bot / "models").glob("*.tar.gz")), "init trains a model"
    config = (bot / "config.yml").read_text()
    assert "LinearIntentClassifier" in config and "LightGBMPolicy" in config

    validated = chinwag("data", "validate", bot, "--fail-on-warnings")
    assert validated.returncode == 0, validated.stdout
    assert "0 errors, 0 warnings" in validated.stdout

    trained = chinwag("train", bot, "--force")
    assert trained.returncode == 0, trained.stdout + trained.stderr
    tested = chinwag("test", bot, "--fail-on-prediction-errors", "--out", tmp_path / "results")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "failed:" not in tested.stdout
    assert "6/6 passed" in tested.stdout


def test_init_without_dir_and_no_prompt_uses_the_current_folder(tmp_path: Path) -> None:
    made = chinwag("init", "--no-prompt", cwd=tmp_path)
    assert made.returncode == 0, made.stdout + made.stderr
    assert (tmp_path / "domain.yml").is_file()


def test_init_without_a_terminal_asks_nothing(tmp_path: Path) -> None:
    made = chinwag("init", cwd=tmp_path)  # stdin is /dev/null
    assert made.returncode == 0, made.stdout + made.stderr
    assert SHELL_QUESTION not in made.stdout and PATH_QUESTION not in made.stdout
    assert (tmp_path / "domain.yml").is_file()


def test_init_refuses_a_non_empty_folder_without_force(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    refused = chinwag("init", tmp_path, "--no-prompt")
    assert refused.returncode == 1
    assert "is not empty" in refused.stdout and "--force" in refused.stdout
    assert not (tmp_path / "domain.yml").exists()

    forced = chinwag("init", tmp_path, "--no-prompt", "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert (tmp_path / "domain.yml").is_file()
    assert (tmp_path / "notes.txt").read_text() == "mine\n"


def test_init_asks_then_talks_in_the_shell(tmp_path: Path) -> None:
    child = pexpect.spawn(str(CHINWAG), ["init"], cwd=str(tmp_path), encoding="utf-8", timeout=180)
    try:
        child.expect_exact(PATH_QUESTION)
        child.sendline("bot")
        child.expect_exact(SHELL_QUESTION)
        child.sendline("y")
        child.expect_exact("Your input -> ")
        child.sendline("are you a bot?")
        child.expect_exact("I am a bot, powered by chinwag.")
        child.expect_exact("Your input -> ")
        child.sendline("/stop")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert (tmp_path / "bot" / "domain.yml").is_file()
