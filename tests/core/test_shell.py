"""`chinwag shell` driven through a real pty, as a person types."""

from __future__ import annotations

import sys
from pathlib import Path

import pexpect
import pytest

from chinwag.core.shell import pick, render

REPO = Path(__file__).resolve().parents[2]
CHINWAG = Path(sys.executable).parent / "chinwag"
PROMPT = "Your input -> "


def test_render_numbers_buttons_and_shows_media() -> None:
    lines, choices = render(
        {
            "text": "Sit outside?",
            "buttons": [
                {"title": "Yes", "payload": "/affirm"},
                {"title": "No", "payload": "/deny"},
            ],
            "image": "https://example.org/a.png",
            "custom": {"blocks": []},
        }
    )
    assert lines[:3] == ["Sit outside?", "1: Yes (/affirm)", "2: No (/deny)"]
    assert "Image: https://example.org/a.png" in lines
    assert pick("2", choices) == "/deny"
    assert pick("3", choices) == "3"  # not a choice: sent as typed
    assert pick("yes", choices) == "yes"


@pytest.fixture
def shell() -> pexpect.spawn:
    child = pexpect.spawn(
        str(CHINWAG),
        ["shell", str(REPO / "bots" / "restaurant")],
        cwd=str(REPO),
        encoding="utf-8",
        timeout=60,
        env={"TERM": "dumb", "COLUMNS": "200", "PATH": str(CHINWAG.parent)},
    )
    yield child
    child.close(force=True)


def say(child: pexpect.spawn, text: str, *expected: str) -> None:
    child.expect_exact(PROMPT)
    child.sendline(text)
    for line in expected:
        child.expect_exact(line)


def test_a_person_books_a_table_in_the_shell(shell: pexpect.spawn) -> None:
    say(shell, "hello", "Hello! I can book a restaurant table or a hotel room.")
    say(shell, "I want thai food", "For how many people?")
    say(shell, "4 people", "Do you want to sit outside?", "1: Yes (/affirm)", "2: No (/deny)")
    say(shell, "2", "Do you have any other preferences?")  # picks "No" by its number
    say(shell, "no preferences", "Please give your feedback on your experience so far.")
    say(
        shell,
        "sounds good",
        "All done!",
        " - cuisine: thai",
        " - num_people: 4",
        " - outdoor_seating: False",
        " - preferences: no additional preferences",
    )
    say(shell, "/restart")
    say(shell, "hello", "Hello! I can book")  # a fresh conversation
    shell.expect_exact(PROMPT)
    shell.sendeof()  # Ctrl-D leaves
    shell.expect(pexpect.EOF)
    shell.close()
    assert shell.exitstatus == 0


def test_stop_command_exits(shell: pexpect.spawn) -> None:
    say(shell, "/stop")
    shell.expect(pexpect.EOF)
    shell.close()
    assert shell.exitstatus == 0


def test_a_bot_with_errors_does_not_start(tmp_path: Path) -> None:
    (tmp_path / "domain.yml").write_text("intents: [a\n")
    child = pexpect.spawn(str(CHINWAG), ["shell", str(tmp_path)], encoding="utf-8", timeout=60)
    child.expect_exact("domain.yml:")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1


def test_rasa_1x_two_stage_fallback_config_in_the_shell(tmp_path: Path) -> None:
    """Rasa 1.x's documented `- name: TwoStageFallbackPolicy` (Markdown data, a 1.x config,
    no rule in the data), trained with `chinwag train`, runs the whole two-stage conversation
    in `chinwag shell`: unclear, "Did you mean...?", No, rephrase, unclear, "Did you
    mean...?", No, hand-off."""
    from tests.core.test_leniency_config import TWO_STAGE_1X, mood_bot_1x

    bot = mood_bot_1x(tmp_path / "moodbot", TWO_STAGE_1X)
    env = {"TERM": "dumb", "COLUMNS": "200", "PATH": str(CHINWAG.parent)}
    train = pexpect.spawn(str(CHINWAG), ["train", str(bot)], encoding="utf-8", timeout=120, env=env)
    train.expect_exact("wrote ")
    train.expect(pexpect.EOF)
    train.close()
    assert train.exitstatus == 0
    child = pexpect.spawn(str(CHINWAG), ["shell", str(bot)], encoding="utf-8", timeout=60, env=env)
    try:
        say(child, "hello", "Hey! How are you?")
        # unclear to the trained bot (below the config's nlu_threshold of 0.8)
        say(child, "blorp zizzle", "Did you mean '", "1: Yes (/", "2: No (/out_of_scope)")
        say(child, "2", "Could you say that differently?")
        say(child, "purple", "Did you mean '", "2: No (/out_of_scope)")
        say(child, "2", "Sorry, I am handing you over to a human.")
        say(child, "are you a bot?", "I am a bot.")  # MappingPolicy's trigger, then on as usual
        child.expect_exact(PROMPT)
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
