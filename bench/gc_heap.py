"""What a hub's cached conversations cost Python's garbage collector, in-process.

    .venv/bin/python bench/gc_heap.py [--conversations 1500] [--out FILE.md] [--label NAME]
        [--thresholds N0 N1 N2] [--pace SECONDS]

Loads a copy of bots/restaurant as ``bench/agent_cpu.py`` does, then sets the collector up
as a serving hub does (``adapters.hub.serving_collector``: a collection, ``gc.freeze()``,
the serving thresholds, generation 0 collected every ``GC_PACE`` seconds) and plays the REST
bench's booking dialogue in ``--conversations`` new conversations, one message at a time.
``--thresholds`` and ``--pace`` set the collector otherwise, to compare (``--pace 0``:
collections by count only). It reports:

- the collections during the play (each generation's count, total and longest pause). The
  first 1,000 conversations fill a worker's caches of recent conversations (the phase a 10 s
  REST bench run is in); past them each new conversation replaces an evicted one;
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
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.agent_cpu import Handler, append_section, bot_copy, play, warm_agents  # noqa: E402
from bench.rest_throughput import CONVERSATION  # noqa: E402
from chinwag.adapters.hub import GC_PACE, SERVING_GC_THRESHOLDS, serving_collector  # noqa: E402

TOP_TYPES = 8


def _yielding(handler: Handler) -> Handler:
    """``handler``, then a turn of the event loop for its other tasks (the pacing), as a
    hub's loop takes between messages; an in-process message may never wait for anything."""

    async def handle(sender: str, text: str) -> list[dict[str, Any]]:
        replies = await handler(sender, text)
        await asyncio.sleep(0)
        return replies

    return handle


async def measure(
    bot_dir: Path, conversations: int, serving: tuple[int, int, int], pace: float
) -> dict[str, object]:
    pauses: list[tuple[int, float]] = []
    began = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            pauses.append((info["generation"], time.perf_counter() - began[0]))

    async with warm_agents(bot_dir, 1, 5) as handlers, serving_collector(serving, pace):
        gc.callbacks.append(on_gc)
        try:
            await play([_yielding(handler) for handler in handlers], conversations, "heap")
        finally:
            gc.callbacks.remove(on_gc)
        gc.collect()  # what is alive now: the caches' conversations, in the oldest generation
        tracked = gc.get_objects(2)
        types = collections.Counter(type(o).__name__ for o in tracked)
        references = sum(len(gc.get_referents(o)) for o in tracked)
        del tracked
        started = time.perf_counter()
        gc.collect()
        full = time.perf_counter() - started
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
    pace: float,
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
        f"({conversations * len(CONVERSATION)} messages; thresholds {serving}, "
        + (f"generation 0 also every {pace:g} s" if pace > 0 else "no collections by clock")
        + "):",
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
    parser.add_argument(
        "--pace",
        type=float,
        default=GC_PACE,
        help=f"seconds between two collections of generation 0 by the clock (default: the "
        f"hub's, {GC_PACE}; 0: by count only)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/gc_heap.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chinwag-gc-") as tmp:
        serving = tuple(args.thresholds)
        found = asyncio.run(measure(bot_copy(tmp), args.conversations, serving, args.pace))
    command = "python bench/gc_heap.py " + " ".join(sys.argv[1:])
    section = report(found, args.conversations, serving, args.pace, args.label, command.strip())
    print(section)
    append_section(
        args.out,
        "# The collector's heap of cached conversations (in-process)\n\n"
        "Written by `bench/gc_heap.py`; see its docstring for what each figure is.\n\n",
        section,
    )


if __name__ == "__main__":
    main()
