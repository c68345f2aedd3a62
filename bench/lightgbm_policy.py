"""How long LightGBMPolicy takes to train and to predict on real bots.

    .venv/bin/python bench/lightgbm_policy.py [--runs 5] [--record] [BOT_DIR ...]

Defaults to financial-demo and carbon-bot in ../shared/corpus. Training is timed without and
with story augmentation (factor 20); prediction is one ``predict`` on a live tracker at every
story turn (state building included). Also reports how many of the stories' own actions the
policy reproduces. With --record, writes bench/results/lightgbm_policy.md.
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
from chinwag.core.data.problems import Problems  # noqa: E402
from chinwag.core.data.story_graph import expand  # noqa: E402
from chinwag.core.events import ActionExecuted  # noqa: E402
from chinwag.core.policies.lightgbm import LightGBMPolicy  # noqa: E402
from chinwag.core.policies.states import conversation_states, conversation_tracker  # noqa: E402
from chinwag.core.tracker import Tracker  # noqa: E402

SHARED = Path(os.environ.get("CHINWAG_SHARED", REPO.parent / "shared"))
DEFAULT_BOTS = ["financial-demo", "carbon-bot"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bots", nargs="*", help="bot folders (default: corpus bots)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    bots = [Path(b) for b in args.bots] or [SHARED / "corpus" / b for b in DEFAULT_BOTS]
    rows = []
    for path in bots:
        bot = load_bot(path)
        domain = bot.domain
        stories = [c for c in expand([*bot.stories, *bot.rules], Problems()) if c.kind == "story"]
        cells = [path.name, str(len(stories))]
        for factor in (0, 20):
            times, cpu = [], []
            for _ in range(args.runs):
                policy = LightGBMPolicy(augmentation_factor=factor)
                start, cpu_start = time.perf_counter(), time.process_time()
                policy.train(stories, [], domain)
                times.append(time.perf_counter() - start)
                cpu.append(time.process_time() - cpu_start)
            examples = len(policy.training_set(stories, domain).actions)
            median = f"{statistics.median(times):.2f} ({statistics.median(cpu):.2f})"
            cells += [str(examples), median]
        policy = LightGBMPolicy()
        policy.train(stories, [], domain)
        latencies: list[float] = []
        right = total = 0
        for conv in stories:
            events = conversation_tracker(conv, domain).events
            at = [i for i, e in enumerate(events) if isinstance(e, ActionExecuted)]
            for turn, index in zip(conversation_states(conv, domain), at, strict=True):
                if turn.unpredictable:
                    continue
                tracker = Tracker("bench", domain, events[:index])
                start = time.perf_counter()
                prediction = policy.predict(tracker, domain)
                latencies.append((time.perf_counter() - start) * 1000)
                total += 1
                right += prediction.action == turn.action
        latencies.sort()
        cells += [
            f"{statistics.median(latencies):.2f}",
            f"{latencies[int(0.99 * (len(latencies) - 1))]:.2f}",
            f"{right}/{total}",
            f"{len(policy.persist()['model'] or '') / 1e6:.1f}",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    header = (
        "| bot | stories | examples | train s (CPU s) | examples (aug 20) | train s (aug 20) | "
        "predict median ms | predict p99 ms | story actions reproduced | model MB |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )
    table = "\n".join([header, *rows])
    print(table)
    if args.record:
        out = REPO / "bench" / "results" / "lightgbm_policy.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
        out.write_text(
            "# LightGBMPolicy: training time and prediction latency\n\n"
            f"Command: `.venv/bin/python bench/lightgbm_policy.py --runs {args.runs} --record`\n\n"
            f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.machine()}; load average at the end {load}. Defaults (max_history 5, "
            "60 rounds, learning rate 0.2, 8 leaves, one thread, turn features, count weights). "
            "Training is the median of the runs' wall (and CPU) seconds, featurizing included; "
            "`examples` are unique (history, action) pairs. Prediction is one `predict` on a "
            "live tracker at every story turn, state building included.\n\n"
            f"{table}\n",
            encoding="utf-8",
        )
        print(f"recorded in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
