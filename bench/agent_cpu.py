"""CPU cost of one message in-process: ``Agent.handle`` on the restaurant bot, no HTTP.

    .venv/bin/python bench/agent_cpu.py [--conversations 200] [--out FILE.md] [--label NAME]
        [--instructions 20]

Loads a copy of bots/restaurant with its default store (SQLite under .chinwag/, behind the
recent-events cache) and plays the REST bench's booking dialogue (``bench/rest_throughput.py``
CONVERSATION) in N fresh conversations, one message at a time. Reports messages per second
of process CPU time and wall time, then the same run under cProfile with its top entries by
cumulative and own time. The result is appended to the Markdown file under ``--label`` (so a
before/after pair sits side by side).

CPU time moves with whatever else the machine runs. ``--instructions N`` adds a figure that
does not: the script runs itself again under valgrind's callgrind (every thread, the SQLite
one included), plays N conversations after the same warm-up, and reports the instructions
executed per message. Callgrind dumps its counters each time the process calls
``getppid()``, which the script does right before and right after the measured play, so the
second dump holds exactly that play (start-up, training and warm-up excluded).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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


@asynccontextmanager
async def warm_agent(bot_dir: Path) -> AsyncIterator[Agent]:
    """The bot's agent on its default stores, after a few conversations (first calls build
    caches; not what a message costs)."""
    bot = load_bot(bot_dir, tests=False)
    store, locks = create_tracker_store(bot), create_lock_store(bot)
    await store.open()
    await locks.open()
    agent = load_agent(bot_dir, store=store, lock_store=locks)
    try:
        await play(agent, 5, "warm")
        yield agent
    finally:
        await agent.close()
        await locks.close()


async def measure(bot_dir: Path, conversations: int) -> tuple[float, float, str]:
    async with warm_agent(bot_dir) as agent:
        cpu, wall = time.process_time(), time.perf_counter()
        sent = await play(agent, conversations, "timed")
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        profiler = cProfile.Profile()
        profiler.enable()
        await play(agent, conversations, "profiled")
        profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    stats.sort_stats("cumulative").print_stats(25)
    stats.sort_stats("tottime").print_stats(20)
    return sent / cpu, sent / wall, text.getvalue()


async def marked_play(bot_dir: Path, conversations: int) -> None:
    """Warm up, then play ``conversations`` between two ``getppid()`` calls (the marks
    callgrind dumps its counters at)."""
    async with warm_agent(bot_dir) as agent:
        os.getppid()
        await play(agent, conversations, "counted")
        os.getppid()


def callgrind_instructions(script: str, *args: str) -> int:
    """Instructions ``python script args`` executes between its two ``os.getppid()`` marks,
    counted by callgrind (repeatable whatever else the machine runs; see the top)."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="chinwag-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        command = [
            *("valgrind", "--tool=callgrind", "--dump-before=getppid"),
            f"--callgrind-out-file={out}",
            *(sys.executable, script, *args),
        ]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
        text = Path(f"{out}.2").read_text(encoding="utf-8")  # dump 2: between the marks
    match = re.search(r"^totals: (\d+)", text, re.MULTILINE)
    if match is None:
        raise SystemExit(f"no totals in callgrind's dump {out}.2")
    return int(match.group(1))


def count_instructions(conversations: int) -> int:
    """Instructions executed by ``conversations`` played under callgrind."""
    return callgrind_instructions(__file__, "--marked-play", str(conversations))


def bot_copy(tmp: str) -> Path:
    bot = Path(tmp) / "restaurant"
    shutil.copytree(BOT, bot, ignore=shutil.ignore_patterns(".chinwag", "__pycache__"))
    return bot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--instructions", type=int, default=0, metavar="N")
    parser.add_argument("--label", default="run")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/agent_cpu.md")
    parser.add_argument("--marked-play", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.marked_play:  # the run under callgrind
        with tempfile.TemporaryDirectory(prefix="chinwag-cpu-") as tmp:
            asyncio.run(marked_play(bot_copy(tmp), args.marked_play))
        return
    with tempfile.TemporaryDirectory(prefix="chinwag-cpu-") as tmp:
        load = os.getloadavg()[0]
        per_cpu, per_wall, profile = asyncio.run(measure(bot_copy(tmp), args.conversations))
    instructions = ""
    if args.instructions:
        counted = count_instructions(args.instructions)
        per_message = counted / (args.instructions * len(CONVERSATION))
        instructions = (
            f"* {per_message / 1e6:.2f} million instructions a message (callgrind, "
            f"{args.instructions * len(CONVERSATION)} messages)\n"
        )
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
            instructions,
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
    append_section(
        args.out,
        "# Agent.handle CPU per message (in-process, no HTTP)\n\n"
        "The restaurant bot's booking dialogue, SQLite store, see bench/agent_cpu.py.\n\n",
        section + "\n",
    )


def append_section(out: Path, heading: str, section: str) -> None:
    """Append ``section`` to the results file ``out``, made with ``heading`` if it is new."""
    if not out.is_file():
        out.write_text(heading, encoding="utf-8")
    with out.open("a", encoding="utf-8") as results:
        results.write(section)


if __name__ == "__main__":
    main()
