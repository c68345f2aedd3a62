"""CPU cost of one message in-process: ``Agent.handle`` on the restaurant bot, no HTTP.

    .venv/bin/python bench/agent_cpu.py [--conversations 200] [--out FILE.md] [--label NAME]
        [--instructions 20] [--rounds 8] [--agents 2] [--warm 5]

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

``--rounds K`` (with ``--instructions``) counts again with the dialogue played K times in each
conversation, ``/restart`` between: the same messages in a conversation whose stored history
is K times as long (each ``/restart`` starts a new session, and a message reads the latest
one, as in Rasa), which should cost a message no more.

``--warm K`` plays K conversations before anything is measured (default 5: the first calls
build caches). A server has handled many more: with ``--warm 3000`` (24,000 messages, past
every bounded cache of recent conversations and stored events) the figures are those of a
process in its steady state.

``--agents 2`` plays what ``chinwag run --workers 2`` makes of a conversation: the
conversation's messages alternate between this process's agent and a second agent in a
process of its own (as the load generator's pooled connections spread them over the hub's
workers), on the same SQLite file and lock file. Each message then finds this agent's cached
tracker one message behind and reads the other agent's events from the store. The figures
(CPU time, instructions) are this process's, per message it handled; which agent starts
alternates by conversation, so this one handles every message of the dialogue equally often.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.rest_throughput import BOT, CONVERSATION  # noqa: E402
from chinwag.core.agent import Agent, UserMessage, load_agent  # noqa: E402
from chinwag.core.data.loader import load_bot  # noqa: E402
from chinwag.core.stores.factory import create_lock_store, create_tracker_store  # noqa: E402

RESTART = "/restart"
WARM_CONVERSATIONS = 5  # played before measuring, unless --warm says otherwise
# one message to an agent: (conversation id, text) -> the replies
Handler = Callable[[str, str], Awaitable[list[dict[str, Any]]]]


def dialogue(rounds: int) -> list[str]:
    """The messages of one conversation: the booking dialogue ``rounds`` times, a
    ``/restart`` between two (the stored history keeps growing; each round is a session)."""
    return [*CONVERSATION, *([RESTART, *CONVERSATION] * (rounds - 1))]


async def play(handlers: Sequence[Handler], conversations: int, tag: str, rounds: int = 1) -> int:
    """Play the dialogue in ``conversations`` new conversations, message ``turn`` of
    conversation ``number`` to ``handlers[(turn + number) % len(handlers)]``; the number of
    messages the first handler (this process's agent) took."""
    sent = 0
    for number in range(conversations):
        sender = f"{tag}-{number}"
        for turn, text in enumerate(dialogue(rounds)):
            at = (turn + number) % len(handlers)
            replies = await handlers[at](sender, text)
            if not replies and text != RESTART:  # action_restart says nothing here
                raise SystemExit(f"no reply to {text!r} in {sender}")
            sent += at == 0
    return sent


@asynccontextmanager
async def bot_agent(bot_dir: Path) -> AsyncIterator[Agent]:
    """The bot's agent on its default stores (the bot's SQLite file and lock file)."""
    bot = load_bot(bot_dir, tests=False)
    store, locks = create_tracker_store(bot), create_lock_store(bot)
    await store.open()
    await locks.open()
    agent = load_agent(bot_dir, store=store, lock_store=locks)
    try:
        yield agent
    finally:
        await agent.close()
        await locks.close()


class Peer:
    """Another agent of the bot in a process of its own (``--peer``), as another hub worker
    is: one message at a time through its stdin, its replies back through its stdout."""

    def __init__(self, bot_dir: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--peer", str(bot_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    async def handle(self, sender: str, text: str) -> list[dict[str, Any]]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps([sender, text]) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()  # nothing else runs here meanwhile
        if not line:
            raise SystemExit(f"the peer agent ended (exit code {self.process.wait()})")
        replies: list[dict[str, Any]] = json.loads(line)
        return replies

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


async def serve_peer(bot_dir: Path, replies: TextIO) -> None:
    """The ``--peer`` process: answer each message read from stdin on ``replies``."""
    async with bot_agent(bot_dir) as agent:
        for line in sys.stdin:
            sender, text = json.loads(line)
            answer = await agent.handle(UserMessage(text, sender_id=sender))
            replies.write(json.dumps(answer) + "\n")
            replies.flush()


@asynccontextmanager
async def warm_agents(
    bot_dir: Path, agents: int = 1, warm: int = WARM_CONVERSATIONS
) -> AsyncIterator[list[Handler]]:
    """This process's agent, then ``agents - 1`` peers, after ``warm`` conversations (first
    calls build caches; not what a message costs)."""
    async with AsyncExitStack() as stack:
        agent = await stack.enter_async_context(bot_agent(bot_dir))

        async def here(sender: str, text: str) -> list[dict[str, Any]]:
            return await agent.handle(UserMessage(text, sender_id=sender))

        handlers: list[Handler] = [here]
        for _ in range(agents - 1):
            peer = Peer(bot_dir)
            stack.callback(peer.close)
            handlers.append(peer.handle)
        await play(handlers, warm, "warm")
        yield handlers


async def measure(
    bot_dir: Path, conversations: int, agents: int, warm: int
) -> tuple[float, float, str]:
    async with warm_agents(bot_dir, agents, warm) as handlers:
        cpu, wall = time.process_time(), time.perf_counter()
        sent = await play(handlers, conversations, "timed")
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        profiler = cProfile.Profile()
        profiler.enable()
        await play(handlers, conversations, "profiled")
        profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    stats.sort_stats("cumulative").print_stats(25)
    stats.sort_stats("tottime").print_stats(20)
    # CPU: this process's, per message it handled; wall: every message (the peers' too)
    return sent / cpu, conversations * len(CONVERSATION) / wall, text.getvalue()


async def marked_play(
    bot_dir: Path, conversations: int, agents: int, rounds: int, warm: int
) -> None:
    """Warm up, then play ``conversations`` between two ``getppid()`` calls (the marks
    callgrind dumps its counters at)."""
    async with warm_agents(bot_dir, agents, warm) as handlers:
        os.getppid()
        await play(handlers, conversations, "counted", rounds)
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


def count_instructions(
    conversations: int, agents: int = 1, rounds: int = 1, warm: int = WARM_CONVERSATIONS
) -> int:
    """Instructions this process executes for ``conversations`` played under callgrind
    (peers run outside it)."""
    return callgrind_instructions(
        __file__,
        *("--marked-play", str(conversations)),
        *("--agents", str(agents), "--rounds", str(rounds), "--warm", str(warm)),
    )


def handled_here(conversations: int, agents: int, rounds: int = 1) -> int:
    """How many of the messages of ``conversations`` this process's agent handles."""
    return sum(
        (turn + number) % agents == 0
        for number in range(conversations)
        for turn in range(len(dialogue(rounds)))
    )


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
    parser.add_argument(
        "--agents", type=int, default=1, help="agents taking turns (the others in processes)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="the dialogue this many times in each conversation, /restart between (with "
        "--instructions: the count for 1 round and for this many, side by side)",
    )
    parser.add_argument(
        "--warm",
        type=int,
        default=WARM_CONVERSATIONS,
        metavar="K",
        help=f"conversations played before measuring (default {WARM_CONVERSATIONS})",
    )
    parser.add_argument("--marked-play", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--peer", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:  # another agent's process; stdout carries only its replies
        replies, sys.stdout = sys.stdout, sys.stderr
        asyncio.run(serve_peer(args.peer, replies))
        return
    if args.marked_play:  # the run under callgrind
        with tempfile.TemporaryDirectory(prefix="chinwag-cpu-") as tmp:
            asyncio.run(
                marked_play(bot_copy(tmp), args.marked_play, args.agents, args.rounds, args.warm)
            )
        return
    with tempfile.TemporaryDirectory(prefix="chinwag-cpu-") as tmp:
        load = os.getloadavg()[0]
        per_cpu, per_wall, profile = asyncio.run(
            measure(bot_copy(tmp), args.conversations, args.agents, args.warm)
        )
    instructions = ""
    if args.instructions:
        counted = count_instructions(args.instructions, args.agents, warm=args.warm)
        here = handled_here(args.instructions, args.agents)
        instructions = (
            f"* {counted / here / 1e6:.2f} million instructions a message (callgrind, "
            f"{here} messages)\n"
        )
        if args.rounds > 1:  # the same conversations, grown: does a message cost more?
            counted = count_instructions(args.instructions, args.agents, args.rounds, args.warm)
            here = handled_here(args.instructions, args.agents, args.rounds)
            instructions += (
                f"* {counted / here / 1e6:.2f} million instructions a message with the dialogue "
                f"{args.rounds} times in each conversation ({len(dialogue(args.rounds))} "
                f"messages; callgrind, {here} messages)\n"
            )
    messages = args.conversations * len(CONVERSATION)
    command = "python bench/agent_cpu.py " + " ".join(sys.argv[1:])
    section = "\n".join(
        [
            f"## {args.label}",
            "",
            f"Command: `{command.strip()}`; {messages} messages after {args.warm} warm-up "
            f"conversations; load average (1 min) at start {load:.2f} on {os.cpu_count()} CPUs.",
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
