"""CPU cost of one message in-process: ``Agent.handle`` on the restaurant bot, no HTTP.

    .venv/bin/python bench/agent_cpu.py [--conversations 200] [--out FILE.md] [--label NAME]

Loads a copy of bots/restaurant with its default store (SQLite under .chinwag/, behind the
recent-events cache) and plays the REST bench's booking dialogue (``bench/rest_throughput.py``
CONVERSATION) in N fresh conversations, one message at a time. Reports messages per second
of process CPU time and wall time, then the same run under cProfile with its top entries by
cumulative and own time. The result is appended to the Markdown file under ``--label`` (so a
before/after pair sits side by side).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.rest_throughput import BOT, CONVERSATION  # noqa: E402
from chinwag.core.agent import Agent, UserMessage, load_agent  # noqa: E402
from chinwag.core.data.loader import load_bot  # noqa: E402
from chinwag.core.stores.factory import create_lock_store, create_tracker_store  # noqa: E402


async def play(agent: Agent, conversations: int, tag: str) -> int:
    sent = 0
    for number in range(conversations):
        sender = f"{tag}-{number}"
        for text in CONVERSATION:
            replies = await agent.handle(UserMessage(text, sender_id=sender))
            if not replies:
                raise SystemExit(f"no reply to {text!r} in {sender}")
            sent += 1
    return sent


async def measure(bot_dir: Path, conversations: int) -> tuple[float, float, str]:
    bot = load_bot(bot_dir, tests=False)
    store, locks = create_tracker_store(bot), create_lock_store(bot)
    await store.open()
    await locks.open()
    agent = load_agent(bot_dir, store=store, lock_store=locks)
    try:
        await play(agent, 5, "warm")  # first calls build caches; not what a message costs
        cpu, wall = time.process_time(), time.perf_counter()
        sent = await play(agent, conversations, "timed")
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        profiler = cProfile.Profile()
        profiler.enable()
        await play(agent, conversations, "profiled")
        profiler.disable()
    finally:
        await agent.close()
        await locks.close()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    stats.sort_stats("cumulative").print_stats(25)
    stats.sort_stats("tottime").print_stats(20)
    return sent / cpu, sent / wall, text.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--label", default="run")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/agent_cpu.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chinwag-cpu-") as tmp:
        bot = Path(tmp) / "restaurant"
        shutil.copytree(BOT, bot, ignore=shutil.ignore_patterns(".chinwag", "__pycache__"))
        load = os.getloadavg()[0]
        per_cpu, per_wall, profile = asyncio.run(measure(bot, args.conversations))
    messages = args.conversations * len(CONVERSATION)
    command = "python bench/agent_cpu.py " + " ".join(sys.argv[1:])
    section = "\n".join(
        [
            f"## {args.label}",
            "",
            f"Command: `{command.strip()}`; {messages} messages; load average (1 min) at "
            f"start {load:.2f} on {os.cpu_count()} CPUs.",
            "",
            f"* {per_cpu:.0f} messages per CPU second ({1000 / per_cpu:.2f} ms CPU a message)",
            f"* {per_wall:.0f} messages per wall second",
            "",
            "<details><summary>cProfile (cumulative, then own time)</summary>",
            "",
            "```",
            profile.strip(),
            "```",
            "",
            "</details>",
            "",
        ]
    )
    print(section)
    if not args.out.is_file():
        args.out.write_text(
            "# Agent.handle CPU per message (in-process, no HTTP)\n\n"
            "The restaurant bot's booking dialogue, SQLite store, see bench/agent_cpu.py.\n\n",
            encoding="utf-8",
        )
    with args.out.open("a", encoding="utf-8") as out:
        out.write(section + "\n")


if __name__ == "__main__":
    main()
