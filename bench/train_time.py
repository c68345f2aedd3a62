"""How long ``chinwag train`` takes on real bots, end to end (loading, checking, training,
writing the archive), from scratch.

    .venv/bin/python bench/train_time.py [--runs 3] [--record] [--all | BOT_DIR ...]

Defaults to financial-demo and carbon-bot from ../shared/corpus; ``--all``: every corpus bot.
The archive goes to a temporary folder (the corpus is read-only). With --record, writes
bench/results/train_time.md (median and max over the runs, per-stage facts, the command).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from chinwag.core.train import train_bot  # noqa: E402

SHARED = Path(os.environ.get("CHINWAG_SHARED", REPO.parent / "shared"))
DEFAULT_BOTS = ["financial-demo", "carbon-bot"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bots", nargs="*", help="bot folders (default: corpus bots)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--record", action="store_true", help="write bench/results/train_time.md")
    parser.add_argument("--all", action="store_true", help="every bot in ../shared/corpus")
    args = parser.parse_args()
    bots = [Path(b) for b in args.bots] or [SHARED / "corpus" / b for b in DEFAULT_BOTS]
    if args.all:
        bots = sorted(p for p in (SHARED / "corpus").iterdir() if (p / "domain.yml").exists())
    load_before = os.getloadavg()[0]
    rows = []
    for path in bots:
        times = []
        with tempfile.TemporaryDirectory() as tmp:
            for run in range(args.runs):
                start = time.perf_counter()
                result = train_bot(path, out=Path(tmp) / f"{run}.tar.gz", force=True)
                times.append(time.perf_counter() - start)
                if not result.ok:
                    print(f"{path.name}: not trained", *result.problems.errors, sep="\n")
                    return 1
            size = (Path(tmp) / "0.tar.gz").stat().st_size / 1024
        rows.append(
            f"| {path.name} | {', '.join(result.stages)} | {statistics.median(times):.2f} | "
            f"{max(times):.2f} | {size:.0f} |"
        )
        print(rows[-1], flush=True)
    header = "| bot | stages trained | median s | max s | archive KiB |\n|---|---|---|---|---|"
    table = "\n".join([header, *rows])
    print(table)
    if args.record:
        machine = (
            f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}"
        )
        text = (
            "# Training time (chinwag train, end to end)\n\n"
            f"Command: `.venv/bin/python bench/train_time.py {' '.join(sys.argv[1:])}`\n\n"
            f"Machine: {machine}, load average {load_before:.1f} before the run and "
            f"{os.getloadavg()[0]:.1f} after it (the cores are shared); each run from scratch "
            "(`force`), in a fresh process for the first run only (imports are in the first "
            "run's time); time = load + check + train NLU + train every policy + write the "
            "archive.\n\n"
            f"{table}\n"
        )
        (REPO / "bench" / "results" / "train_time.md").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
