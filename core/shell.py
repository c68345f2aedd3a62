"""``chinwag shell``: talk to a bot in the terminal.

Buttons and quick replies are shown numbered, ``1: Yes (/affirm)``, as Rasa's text channels
print them; typing the number sends the button's payload. ``/restart`` starts over,
``/stop`` (or Ctrl-D) leaves.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from rich.console import Console

from chinwag.core.agent import Agent, UserMessage

PROMPT = "Your input -> "
STOP = "/stop"


def render(response: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """Lines to print for one response, and its choices (buttons or quick replies)."""
    lines: list[str] = []
    if response.get("text"):
        lines.append(str(response["text"]))
    choices = list(response.get("buttons") or []) + list(response.get("quick_replies") or [])
    for number, choice in enumerate(choices, start=1):
        lines.append(f"{number}: {choice.get('title', '')} ({choice.get('payload', '')})")
    if response.get("image"):
        lines.append(f"Image: {response['image']}")
    if response.get("attachment"):
        lines.append(f"Attachment: {response['attachment']}")
    if response.get("custom"):
        lines.append(json.dumps(response["custom"], ensure_ascii=False, indent=2))
    return lines, choices


def pick(text: str, choices: list[dict[str, Any]]) -> str:
    """The payload of the numbered choice the user typed, else the text itself."""
    if text.isdigit() and 1 <= int(text) <= len(choices):
        return str(choices[int(text) - 1].get("payload") or choices[int(text) - 1].get("title"))
    return text


async def run_shell(
    agent: Agent,
    *,
    sender_id: str = "shell",
    read: Callable[[str], str] = input,
    console: Console | None = None,
) -> int:
    console = console or Console(highlight=False, soft_wrap=True)
    console.print(
        "Bot loaded. Type a message and press enter (/restart starts over, /stop leaves).",
        style="dim",
        markup=False,
    )
    choices: list[dict[str, Any]] = []
    while True:
        try:
            text = (await asyncio.to_thread(read, PROMPT)).strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return 0
        if not text:
            continue
        if text == STOP:
            return 0
        text = pick(text, choices)
        responses = await agent.handle(UserMessage(text, sender_id, "shell"))
        choices = []
        for response in responses:
            lines, found = render(response)
            choices.extend(found)
            for line in lines:
                console.print(line, style="bold cyan", markup=False)
