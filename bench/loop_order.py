"""How evenly an aiohttp server's event loop serves its keep-alive connections, uvloop's and
asyncio's own, with nothing of chinwag in the way.

    .venv/bin/python bench/loop_order.py [--burn 1.3] [--users 25] [--duration 10]
        [--admission] [--out bench/results/loop_order.md]

One server process answers ``POST /webhooks/rest/webhook`` after ``--burn`` ms of CPU (about
what the hub spends on a message), so it can serve at most 1000 / burn messages a second;
``--users`` virtual users of the REST bench's lean load generator (bench/rest_throughput.py)
each send a message when their last one is answered. In such a closed loop the mean latency
is fixed by the throughput (Little's law: users / messages a second); the p99 says how evenly
the loop took the requests in turn: near the mean when each waits for the others once, twice
the mean when some wait for the others twice. ``--admission``: the requests start their CPU
work through the hub's ``Admission`` (adapters/server.py), one a turn of the loop, as the
hub's messages do. Each loop is measured in turn; the result is appended to ``--out``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from aiohttp import web

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from rest_throughput import WEBHOOK, free_port, load, serve_bare, wait_ready  # noqa: E402

LOOPS = ("uvloop", "asyncio")


def serve(port: int, event_loop: str, burn_ms: float, admitted: bool) -> None:
    """The server: a handler that reads the JSON body, spins ``burn_ms`` and answers; with
    ``admitted``, it spins when the hub's ``Admission`` lets it (one a turn of the loop)."""
    sys.path.insert(0, str(REPO))
    from chinwag.adapters.server import Admission

    burn = burn_ms / 1000
    admission = Admission() if admitted else None

    async def busy(request: web.Request) -> web.Response:
        body = await request.json()
        if admission is not None:
            await admission.wait()
        until = time.perf_counter() + burn
        while time.perf_counter() < until:
            pass
        return web.json_response([{"recipient_id": body["sender"], "text": "ok"}])

    serve_bare(busy, port, event_loop)


def measure(
    event_loop: str, burn_ms: float, users: int, duration: float, admitted: bool
) -> dict[str, float]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "serve", str(port), event_loop, str(burn_ms), str(admitted)],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_ready(port, server)
        url = f"http://127.0.0.1:{port}{WEBHOOK}"
        load([url], users, min(3.0, duration))  # warm-up: connections, caches
        result = load([url], users, duration)
    finally:
        server.terminate()
        server.wait(timeout=30)
    mean_ms = 1000 * users / result["per_second"]
    return {**result, "mean_ms": mean_ms, "ratio": result["p99_ms"] / mean_ms}


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5] == "True")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--burn", type=float, default=1.3, help="CPU ms a request (1.3)")
    parser.add_argument("--users", type=int, default=25, help="virtual users (25)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds a loop (10)")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "loop_order.md"))
    parser.add_argument(
        "--admission",
        action="store_true",
        help="each request spins when the hub's Admission lets it (one a turn of the loop)",
    )
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    rows = []
    for event_loop in LOOPS:
        found = measure(event_loop, args.burn, args.users, args.duration, args.admission)
        rows.append((event_loop, found))
        print(
            f"{event_loop}: {found['per_second']:.0f} msg/s, mean {found['mean_ms']:.1f} ms, "
            f"p50 {found['p50_ms']:.1f}, p99 {found['p99_ms']:.1f} ({found['ratio']:.2f} x mean)"
        )
    command = (
        f"python bench/loop_order.py --burn {args.burn:g} --users {args.users} "
        f"--duration {args.duration:g}{' --admission' if args.admission else ''}"
    )
    lines = [
        f"## {args.label or time.strftime('%Y-%m-%d %H:%M')}",
        "",
        f"Command: `{command}`; {os.cpu_count()} CPUs, {platform.platform()}, Python "
        f"{platform.python_version()}; the server and the load generator are two processes.",
        "",
        "| event loop | messages/s | mean ms (users / messages a second) | p50 ms | p99 ms "
        "| p99 / mean |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {name} | {r['per_second']:.0f} | {r['mean_ms']:.1f} | {r['p50_ms']:.1f} "
            f"| {r['p99_ms']:.1f} | {r['ratio']:.2f} |"
            for name, r in rows
        ),
        "",
    ]
    out = Path(args.out)
    if not out.exists():
        out.write_text("# How evenly the event loop takes its connections in turn\n\n")
    with out.open("a") as f:
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
