"""How long loading (and validating) a real bot takes.

    .venv/bin/python bench/load_bot.py [--runs 20] [--record] [BOT_DIR ...]

Defaults to the largest corpus bots in ../shared/corpus. With --record, writes
bench/results/load_bot.md (median and max over the runs, machine facts, the command).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from chinwag.core.data.loader import load_bot  # noqa: E402
from chinwag.core.data.validate import validate_bot  # noqa: E402

SHARED = Path(os.environ.get("CHINWAG_SHARED", REPO.parent / "shared"))
DEFAULT_BOTS = ["financial-demo", "carbon-bot", "helpdesk-assistant"]


def timed(fn: object, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bots", nargs="*", help="bot folders (default: corpus bots)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--record", action="store_true", help="write bench/results/load_bot.md")
    args = parser.parse_args()
    bots = [Path(b) for b in args.bots] or [SHARED / "corpus" / b for b in DEFAULT_BOTS]
    rows = []
    for path in bots:
        bot = load_bot(path)  # warm-up (imports, file cache)
        n_examples = len(bot.nlu.examples)
        load = timed(lambda p=path: load_bot(p), args.runs)
        check = timed(lambda b=bot: validate_bot(b), args.runs)
        rows.append(
            f"| {path.name} | {n_examples} | {len(bot.stories)} | {len(bot.rules)} | "
            f"{statistics.median(load):.1f} | {max(load):.1f} | "
            f"{statistics.median(check):.1f} | {max(check):.1f} |"
        )
    header = (
        "| bot | NLU examples | stories | rules | load median ms | load max ms | "
        "validate median ms | validate max ms |\n|---|---|---|---|---|---|---|---|"
    )
    table = "\n".join([header, *rows])
    print(table)
    if args.record:
        out = REPO / "bench" / "results" / "load_bot.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            "# Loading real bots\n\n"
            f"Command: `.venv/bin/python bench/load_bot.py --runs {args.runs} --record`\n\n"
            f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.machine()}; {args.runs} runs each after one warm-up; `load` is "
            "`load_bot` (read and merge every file), `validate` is every check on the loaded "
            "bot (names, forms, checkpoint/OR expansion, contradictions).\n\n"
            f"{table}\n",
            encoding="utf-8",
        )
        print(f"recorded in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
