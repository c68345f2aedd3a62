"""CPU cost of understanding one short message: ``NLUPipeline.parse_sync`` on bots/restaurant.

    .venv/bin/python bench/nlu_parse.py [--texts 200] [--rounds 5] [--label NAME]
        [--out FILE.md] [--instructions]

Trains the restaurant bot's NLU pipeline (its config.yml), then parses ``--texts`` of the
bot's own examples (shuffled, seed 0) ``--rounds`` times after one warm-up round, and reports
milliseconds of process CPU time per parse, then one round under cProfile with its top 15
entries by own time. ``--instructions`` runs the script again under valgrind's callgrind and
reports the instructions of one round per parse: callgrind dumps its counters at each
``getppid()``, which the script calls right before and right after that round (as
bench/agent_cpu.py). The result is appended to the Markdown file under ``--label``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import shlex
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from agent_cpu import append_section, callgrind_instructions  # noqa: E402

from chinwag.core.data.loader import load_bot  # noqa: E402
from chinwag.core.data.problems import Problems  # noqa: E402
from chinwag.core.nlu.pipeline import NLUPipeline  # noqa: E402
from chinwag.core.train import train_nlu  # noqa: E402

BOT = REPO / "bots/restaurant"
SEED = 0


def trained(texts: int) -> tuple[NLUPipeline, list[str]]:
    """The bot's trained pipeline and ``texts`` of its examples, shuffled."""
    bot = load_bot(BOT, tests=False)
    pipeline = train_nlu(bot, Problems(), lambda _stage, _fraction: None)
    examples = [m.text for m in bot.nlu.examples if m.text]
    random.Random(SEED).shuffle(examples)
    while len(examples) < texts:
        examples += examples
    return pipeline, examples[:texts]


def parse_all(pipeline: NLUPipeline, texts: list[str]) -> None:
    for text in texts:
        pipeline.parse_sync(text)


def marked_round(texts: int) -> None:
    pipeline, sample = trained(texts)
    parse_all(pipeline, sample)  # warm-up
    os.getppid()
    parse_all(pipeline, sample)
    os.getppid()


def count_instructions(texts: int) -> int:
    return callgrind_instructions(__file__, "--marked-round", str(texts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--instructions", action="store_true")
    parser.add_argument("--label", default="run")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/nlu_parse.md")
    parser.add_argument("--marked-round", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.marked_round:
        marked_round(args.marked_round)
        return
    pipeline, sample = trained(args.texts)
    parse_all(pipeline, sample)  # warm-up
    load = os.getloadavg()[0]
    cpu = time.process_time()
    for _ in range(args.rounds):
        parse_all(pipeline, sample)
    per_parse = (time.process_time() - cpu) / (args.rounds * len(sample)) * 1e3
    profiler = cProfile.Profile()
    profiler.runcall(parse_all, pipeline, sample)
    stats = io.StringIO()
    pstats.Stats(profiler, stream=stats).sort_stats("tottime").print_stats(15)
    profile = "\n".join(
        line.replace(str(REPO) + "/", "") for line in stats.getvalue().splitlines()[4:]
    ).strip()
    instructions = ""
    if args.instructions:
        counted = count_instructions(args.texts)
        instructions = (
            f"* {counted / args.texts / 1e6:.2f} million instructions a parse "
            f"(callgrind, {args.texts} parses)\n"
        )
    command = shlex.join(["bench/nlu_parse.py", *sys.argv[1:]])
    report = (
        f"\n## {args.label}\n\n"
        f"Command: `.venv/bin/python {command.strip()}`; {args.rounds} x {len(sample)} parses; "
        f"load average (1 min) at start {load:.2f} on {os.cpu_count()} CPUs.\n\n"
        f"* {per_parse:.3f} ms CPU a parse (process_time)\n"
        f"{instructions}\n"
        f"cProfile, one round, top 15 by own time:\n\n```\n{profile}\n```\n"
    )
    append_section(
        args.out,
        "# NLU parse cost\n\nOne short message through `NLUPipeline.parse_sync` "
        "(bots/restaurant, its own examples); see bench/nlu_parse.py.\n",
        report,
    )
    print(report)


if __name__ == "__main__":
    main()
