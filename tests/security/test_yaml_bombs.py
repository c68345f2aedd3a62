"""Hostile bot files: alias bombs and deep nesting are located errors, fast, for every command.

Each case runs the real ``chinwag`` console script under an address-space limit far below
what the unbounded reader needed (4 GB for the alias bomb), so a regression shows as a crash
or a traceback instead of passing slowly.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from chinwag.core.data.yaml_io import MAX_ALIAS_EXPANSION, MAX_DEPTH, load_yaml_text
from tests.adapters.conftest import free_port, write_bot

CHINWAG = Path(sys.executable).with_name("chinwag")
MEMORY_LIMIT = 3 * 1024**3  # bytes of address space: a live bot needs well under 1 GB


def bomb_domain(levels: int = 9) -> str:
    """A categorical slot whose ``values`` expand 9**levels-fold through anchors (~1 KB)."""
    values = ["      - &lol0 [a, b, c, d, e, f, g, h, i]"]
    for level in range(1, levels):
        aliases = ", ".join([f"*lol{level - 1}"] * 9)
        values.append(f"      - &lol{level} [{aliases}]")
    return (
        'version: "3.1"\nintents: [greet]\n'
        "slots:\n  kind:\n    type: categorical\n    mappings: [{type: custom}]\n"
        "    values:\n" + "\n".join(values) + "\n"
    )


def deep_domain(depth: int = 20_000) -> str:
    return 'version: "3.1"\nintents: [greet]\nslots: ' + "[" * depth + "]" * depth + "\n"


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def chinwag(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHINWAG), *args],
        capture_output=True,
        text=True,
        preexec_fn=limit_memory,
        timeout=300,  # a hang fails the test instead of the whole suite; not a speed check
    )


def domain_bot(tmp_path: Path, domain: str) -> Path:
    bot = write_bot(tmp_path / "bot", "Hi!")
    (bot / "domain.yml").write_text(domain, encoding="utf-8")
    return bot


COMMANDS: dict[str, Callable[[Path], list[str]]] = {
    "validate": lambda bot: ["data", "validate", str(bot)],
    "train": lambda bot: ["train", str(bot), "--out", str(bot / "model.tar.gz")],
    "run": lambda bot: ["run", str(bot), "--port", str(free_port())],
}


def assert_refused(result: subprocess.CompletedProcess[str], where: str, what: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode not in (0, -9), output[-2000:]
    assert f"{where}: error: " in output or f"{where}: " in output, output[-2000:]
    assert what in output, output[-2000:]
    assert "Traceback" not in output
    assert "RecursionError" not in output and "MemoryError" not in output


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_alias_bomb_in_domain_is_a_located_error(tmp_path: Path, command: str) -> None:
    text = bomb_domain()
    bot = domain_bot(tmp_path, text)
    result = chinwag(*COMMANDS[command](bot))
    # each level holds 9 copies of the one before: the 6th crosses the bound
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "&lol5" in s)
    assert_refused(result, f"domain.yml:{line}", "anchors and aliases expand to more than")
    assert not (bot / "model.tar.gz").exists()


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_deep_nesting_in_domain_is_a_located_error(tmp_path: Path, command: str) -> None:
    bot = domain_bot(tmp_path, deep_domain())
    result = chinwag(*COMMANDS[command](bot))
    assert_refused(result, "domain.yml:3", f"nested more than {MAX_DEPTH} levels deep")


def test_deep_nesting_in_nlu_json_is_a_located_error(tmp_path: Path) -> None:
    bot = write_bot(tmp_path / "bot", "Hi!")
    (bot / "data" / "more.json").write_text(
        '{"rasa_nlu_data": ' + "[" * 20_000 + "]" * 20_000 + "}", encoding="utf-8"
    )
    result = chinwag("data", "validate", str(bot))
    assert_refused(result, "more.json:1", "invalid JSON: nested too deeply")


def test_a_recursive_alias_is_a_located_error(tmp_path: Path) -> None:
    bot = domain_bot(tmp_path, 'version: "3.1"\nintents: &i [greet, *i]\n')
    result = chinwag("data", "validate", str(bot))
    assert_refused(result, "domain.yml:2", "alias *i refers to itself")


def test_anchors_and_merge_keys_within_the_bounds_still_load() -> None:
    text = (
        "base: &base {type: text, influence_conversation: false}\n"
        "slots:\n  a: {<<: *base, initial_value: x}\n  b: *base\n"
        "nested: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
        "many: &many [" + ", ".join(["v"] * 999) + "]\n"
        "copies: [" + ", ".join(["*many"] * (MAX_ALIAS_EXPANSION // 1000 - 1)) + "]\n"
    )
    data = load_yaml_text(text, "domain.yml")
    assert data["slots"]["a"] == {
        "type": "text",
        "influence_conversation": False,
        "initial_value": "x",
    }
    assert data["slots"]["b"]["type"] == "text"
    assert len(data["copies"]) == MAX_ALIAS_EXPANSION // 1000 - 1


def test_the_console_script_is_installed() -> None:
    assert shutil.which(str(CHINWAG)), f"{CHINWAG} missing: run make install-test"
