"""One long REST message through the hub: how long it takes, and how long the event loop stalls.

    .venv/bin/python bench/long_message.py [--chars 32000] [--out FILE.md]

Trains a copy of bots/restaurant (its CRF and built-in number extractor), starts the hub in
this process with an in-memory store, and sends ``"1 " * (chars / 2)`` to the REST webhook
while a ticker measures the event loop's lag every 5 ms. Prints (and with ``--out`` appends)
the message's time and the worst loop lag seen while it was in flight: while the loop lags,
nothing else (``/health``, other conversations) is served. Runs on older checkouts too
(``PYTHONPATH=<checkout>``), which is how the "before" figures were taken.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

REPO = Path(__file__).resolve().parents[1]
BOT = REPO / "bots" / "restaurant"
WEBHOOK = "/webhooks/rest/webhook"
TICK = 0.005


async def measure(bot: Path, chars: int) -> dict[str, Any]:
    from chinwag.adapters.hub import create_app
    from chinwag.core.stores.locks import InProcessLockStore
    from chinwag.core.stores.memory import InMemoryTrackerStore

    def stores(_bot: Path) -> Any:
        return InMemoryTrackerStore(), InProcessLockStore()

    client: TestClient[Any, Any] = TestClient(TestServer(create_app([bot], stores=stores)))
    await client.start_server()
    try:
        warm = await client.post(WEBHOOK, json={"sender": "warm", "message": "hello"})
        assert warm.status == 200
        done = asyncio.Event()
        lags: list[float] = []

        async def ticker() -> None:
            while not done.is_set():
                start = time.perf_counter()
                await asyncio.sleep(TICK)
                lags.append(time.perf_counter() - start - TICK)

        tasks = [asyncio.ensure_future(ticker())]
        await asyncio.sleep(0.05)
        start = time.perf_counter()
        response = await client.post(
            WEBHOOK, json={"sender": "long", "message": "1 " * (chars // 2)}
        )
        elapsed = time.perf_counter() - start
        status = response.status
        replies = await response.json()
        done.set()
        await asyncio.gather(*tasks)
    finally:
        await client.close()
    return {
        "status": status,
        "replies": len(replies),
        "seconds": elapsed,
        "max_lag": max(lags),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=32_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from chinwag.core.train import train_bot

    with tempfile.TemporaryDirectory() as tmp:
        bot = Path(tmp) / "restaurant"
        shutil.copytree(BOT, bot, ignore=shutil.ignore_patterns("models", ".chinwag"))
        train_bot(bot)
        result = asyncio.run(measure(bot, args.chars))
    line = (
        f"| {args.chars} | {result['status']} ({result['replies']} replies) | "
        f"{result['seconds']:.3f} s | {result['max_lag'] * 1000:.0f} ms |"
    )
    print(line)
    if args.out:
        with args.out.open("a", encoding="utf-8") as fh:
            fh.write(f"{line} <!-- {platform.node()} python {sys.version.split()[0]} -->\n")


if __name__ == "__main__":
    main()
