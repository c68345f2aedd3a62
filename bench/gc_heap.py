"""What a hub's cached conversations cost Python's garbage collector, in-process.

    .venv/bin/python bench/gc_heap.py [--conversations 1500] [--out FILE.md] [--label NAME]

Loads a copy of bots/restaurant as ``bench/agent_cpu.py`` does, then sets the collector up as
a serving hub does (``adapters.hub.long_lived_heap``: a collection, ``gc.freeze()``, the
serving thresholds) and plays the REST bench's booking dialogue in ``--conversations`` new
conversations, one message at a time. It reports:

- the collections during the play (each generation's count, total and longest pause): what
  a hub filling its caches of recent conversations does (``--thresholds``: other
  thresholds than the hub's, to compare), the phase every REST bench run is in
  (a worker's caches hold 1,000 conversations; a 10 s run gives each worker about that many);
- after the play, the objects the collector tracks outside the frozen start-up heap (the
  cached conversations, by type), the references it follows among them, and how long one
  full collection of them takes (what a full collection would pause every message for).

Counts and references are exact; the times move with the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.agent_cpu import append_section, bot_copy, play, warm_agents  # noqa: E402
from bench.rest_throughput import CONVERSATION  # noqa: E402
from chinwag.adapters.hub import SERVING_GC_THRESHOLDS  # noqa: E402

TOP_TYPES = 8


async def measure(
    bot_dir: Path, conversations: int, serving: tuple[int, int, int]
) -> dict[str, object]:
    pauses: list[tuple[int, float]] = []
    began = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            pauses.append((info["generation"], time.perf_counter() - began[0]))

    thresholds = gc.get_threshold()
    async with warm_agents(bot_dir, 1, 5) as handlers:
        gc.collect()
        gc.freeze()
        gc.set_threshold(*serving)
        gc.callbacks.append(on_gc)
        try:
            await play(handlers, conversations, "heap")
        finally:
            gc.callbacks.remove(on_gc)
            gc.set_threshold(*thresholds)
        gc.collect()  # what is alive now: the caches' conversations, in the oldest generation
        tracked = gc.get_objects(2)
        types = collections.Counter(type(o).__name__ for o in tracked)
        references = sum(len(gc.get_referents(o)) for o in tracked)
        del tracked
        started = time.perf_counter()
        gc.collect()
        full = time.perf_counter() - started
        gc.unfreeze()
    return {
        "pauses": pauses,
        "tracked": sum(types.values()),
        "types": types.most_common(TOP_TYPES),
        "references": references,
        "full_ms": 1000 * full,
    }


def report(
    found: dict[str, object],
    conversations: int,
    serving: tuple[int, int, int],
    label: str,
    command: str,
) -> str:
    pauses = found["pauses"]
    assert isinstance(pauses, list)
    lines = [
        f"## {label}",
        "",
        f"Command: `{command}`; load average (1 min) at start {os.getloadavg()[0]:.2f} on "
        f"{os.cpu_count()} CPUs.",
        "",
        f"Collections while {conversations} conversations were played "
        f"({conversations * len(CONVERSATION)} messages; thresholds {serving}):",
        "",
        "| generation | collections | total ms | longest ms |",
        "|---:|---:|---:|---:|",
    ]
    for generation in (0, 1, 2):
        times = [1000 * t for g, t in pauses if g == generation]
        if times:
            lines.append(f"| {generation} | {len(times)} | {sum(times):.0f} | {max(times):.1f} |")
    types = found["types"]
    assert isinstance(types, list)
    lines += [
        "",
        f"Then: {found['tracked']:,} tracked objects outside the frozen start-up heap, "
        f"{found['references']:,} references among them; one full collection "
        f"{found['full_ms']:.0f} ms. Most common: "
        + ", ".join(f"{name} {count:,}" for name, count in types)
        + ".",
        "",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=1500)
    parser.add_argument("--label", default="run")
    parser.add_argument(
        "--thresholds",
        type=int,
        nargs=3,
        default=SERVING_GC_THRESHOLDS,
        metavar="N",
        help=f"the collector's thresholds during the play (default: the hub's, "
        f"{SERVING_GC_THRESHOLDS})",
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/gc_heap.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chinwag-gc-") as tmp:
        serving = tuple(args.thresholds)
        found = asyncio.run(measure(bot_copy(tmp), args.conversations, serving))
    command = "python bench/gc_heap.py " + " ".join(sys.argv[1:])
    section = report(found, args.conversations, serving, args.label, command.strip())
    print(section)
    append_section(
        args.out,
        "# The collector's heap of cached conversations (in-process)\n\n"
        "Written by `bench/gc_heap.py`; see its docstring for what each figure is.\n\n",
        section,
    )


if __name__ == "__main__":
    main()
