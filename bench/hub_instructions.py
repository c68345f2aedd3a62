"""Instructions a REST message costs the hub process, against the bare aiohttp echo's request.

    .venv/bin/python bench/hub_instructions.py [--conversations 10] [--concurrency 1 10]
        [--warm 2] [--out FILE.md] [--label NAME]

Throughput on this machine moves with whatever else runs on it (bench/rest_throughput.py
records the load average for that reason). This script gives figures that do not: each
server (the echo of bench/rest_throughput.py, then ``chinwag run --workers 1`` on a copy of
bots/restaurant with its default SQLite store) runs under valgrind's callgrind (every
thread of the process, the SQLite one included). After a warm-up (``--warm K`` dialogues per
virtual user, 2 by default) the counters are zeroed (``callgrind_control --zero``), the load
generator of bench/rest_throughput.py plays ``--conversations`` booking dialogues per virtual
user, and the counters are dumped (``callgrind_control --dump``): the instructions the server
executed for exactly those messages, HTTP parsing and answering included, divided by the
messages. The load generator runs natively, outside callgrind.

``KEEP_DUMPS=DIR`` copies callgrind's dumps there (``callgrind_annotate --inclusive=yes``
shows where the instructions went).

The echo's figure is the floor a hub cannot go under on the same aiohttp; their ratio is
what the issue's "share of the bare-aiohttp floor" measures, without the machine's noise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.agent_cpu import append_section  # noqa: E402
from bench.rest_throughput import (  # noqa: E402
    BOT,
    CONVERSATION,
    WEBHOOK,
    free_port,
    stop,
    wait_ready,
)
from chinwag.adapters.server import default_event_loop  # noqa: E402

STARTUP_TIMEOUT = 900  # seconds: the hub imports its libraries about 50x slower under valgrind
WARM = 2  # dialogues per virtual user before the count, unless --warm says otherwise


def play(port: int, conversations: int, concurrency: int) -> int:
    """``conversations`` dialogues for each of ``concurrency`` virtual users; messages sent."""
    limit = conversations * concurrency * len(CONVERSATION)
    out = subprocess.run(
        [
            *(sys.executable, str(REPO / "bench/rest_throughput.py"), "load"),
            f"http://127.0.0.1:{port}{WEBHOOK}",
            *("--concurrency", str(concurrency), "--duration", "100000"),
            *("--limit", str(limit)),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(out.stdout)
    if result["errors"]:
        raise SystemExit(f"{result['errors']} errors from the server on port {port}")
    return int(result["messages"])


def counted(
    command: list[str], tmp: Path, conversations: int, concurrency: int, warm: int = WARM
) -> float:
    """Instructions a message of the server ``command`` (given ``--port`` last)."""
    port = free_port()
    out = tmp / f"callgrind-{port}.out"
    log = tmp / f"server-{port}.log"
    valgrind = [
        *("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"),
        *command,
        *("--port", str(port)),
    ]
    env = {k: v for k, v in os.environ.items() if k != "MONGODB_URL"}
    env["PYTHONHASHSEED"] = "0"
    with log.open("wb") as sink:
        process = subprocess.Popen(valgrind, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_ready(port, process, timeout=STARTUP_TIMEOUT)
        play(port, warm, concurrency)  # warm-up: first calls build caches
        subprocess.run(["callgrind_control", "--zero", str(process.pid)], check=True)
        sent = play(port, conversations, concurrency)
        subprocess.run(["callgrind_control", "--dump", str(process.pid)], check=True)
    finally:
        stop(process)
    dumps = sorted(tmp.glob(f"callgrind-{port}.out.*"))
    if os.environ.get("KEEP_DUMPS"):
        for d in dumps:
            shutil.copy(d, os.environ["KEEP_DUMPS"])
    if not dumps:
        raise SystemExit(f"callgrind wrote no dump for port {port}")
    text = dumps[0].read_text(encoding="utf-8")  # the dump taken right after the play
    # summary: the cost since the zeroing (its "totals" line also counts what came before)
    match = re.search(r"^summary: (\d+)", text, re.MULTILINE)
    if match is None:
        raise SystemExit(f"no summary in callgrind's dump {dumps[0]}")
    return int(match.group(1)) / sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--conversations", type=int, default=10, help="dialogues per virtual user (default 10)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[1, 10],
        help="virtual users at once, one count per run (default: 1 10)",
    )
    parser.add_argument(
        "--event-loop",
        choices=("uvloop", "asyncio"),
        default=None,
        help="both servers' event loop (default: the hub's default)",
    )
    parser.add_argument(
        "--warm",
        type=int,
        default=WARM,
        metavar="K",
        help=f"dialogues per virtual user before the count (default {WARM}; 40 with ten "
        "users passes the hub's bounded caches: its steady state)",
    )
    parser.add_argument("--label", default="run")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/hub_instructions.md")
    args = parser.parse_args()
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed (apt-get install valgrind)")
    script = str(REPO / "bench/rest_throughput.py")
    event_loop = args.event_loop or default_event_loop()
    rows = []
    with tempfile.TemporaryDirectory(prefix="chinwag-hub-instructions-") as tmp_name:
        tmp = Path(tmp_name)
        bot = tmp / "restaurant"
        shutil.copytree(BOT, bot, ignore=shutil.ignore_patterns(".chinwag", "__pycache__"))
        servers = {
            "aiohttp echo (bare)": [sys.executable, script, "echo", "--event-loop", event_loop],
            "chinwag hub, REST, SQLite store, --workers 1": [
                *(sys.executable, "-m", "chinwag", "run", str(bot)),
                *("--host", "127.0.0.1", "--workers", "1", "--event-loop", event_loop),
            ],
        }
        for concurrency in args.concurrency:
            figures = {
                name: counted(command, tmp, args.conversations, concurrency, args.warm)
                for name, command in servers.items()
            }
            echo, hub = figures.values()
            rows.append(
                f"| {concurrency} | {echo / 1e6:.3f} M | {hub / 1e6:.3f} M | {echo / hub:.3f} |"
            )
            print(rows[-1], flush=True)
    command = "python bench/hub_instructions.py " + " ".join(sys.argv[1:])
    append_section(
        args.out,
        "# Instructions a REST message costs the hub, against the bare aiohttp echo\n\n"
        "See bench/hub_instructions.py: each server under callgrind, its counters zeroed "
        "after a warm-up and dumped after the play; the load generator runs natively.\n\n",
        "\n".join(
            [
                f"## {args.label}",
                "",
                f"Command: `{command.strip()}`; {args.conversations} booking dialogues "
                f"({len(CONVERSATION)} messages each) per virtual user, after {args.warm} "
                f"warm-up dialogues each; both servers on the {event_loop} event loop.",
                "",
                "| virtual users | echo: instructions a request | hub: instructions a message "
                "| hub as a share of the floor |",
                "|---:|---:|---:|---:|",
                *rows,
                "",
                "",
            ]
        ),
    )


if __name__ == "__main__":
    main()
