"""What taking a conversation's lock costs, for the choice of the default lock store.

    .venv/bin/python bench/lock_cost.py [--out FILE.md]

Uncontended lock/unlock of 50 conversations in turn, in one process: the in-process asyncio
lock (one process only), the record-lock store on a file (``FileLockStore``, the default:
every process of the machine), and, as the alternative considered, a lease row in a SQLite
table (insert-if-expired, then delete; WAL, synchronous=NORMAL) measured without the thread
hop the real store would add for each of the two statements.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from chinwag.core.stores.locks import FileLockStore, InProcessLockStore, LockStore  # noqa: E402

CONVERSATIONS = 50


async def per_lock(store: LockStore, n: int) -> float:
    began = time.perf_counter()
    for i in range(n):
        async with store.lock(f"c{i % CONVERSATIONS}"):
            pass
    return (time.perf_counter() - began) / n * 1e6


def sqlite_lease(path: Path, n: int) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE locks (conversation_id TEXT PRIMARY KEY, holder INTEGER, expires_at REAL)"
    )
    began = time.perf_counter()
    for i in range(n):
        conversation, now = f"c{i % CONVERSATIONS}", time.time()
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO locks VALUES (?, 1, ?) ON CONFLICT DO UPDATE SET holder = 1, "
            "expires_at = excluded.expires_at WHERE expires_at < ?",
            (conversation, now + 30, now),
        )
        db.execute("COMMIT")
        db.execute("DELETE FROM locks WHERE conversation_id = ? AND holder = 1", (conversation,))
    db.close()
    return (time.perf_counter() - began) / n * 1e6


async def measure(tmp: Path, n: int) -> dict[str, float]:
    files = FileLockStore(tmp / "locks")
    await files.open()
    try:
        return {
            "in-process asyncio lock (one process only)": await per_lock(InProcessLockStore(), n),
            "FileLockStore: fcntl record lock + in-process queue (default)": await per_lock(
                files, n
            ),
            "SQLite lease row, insert-if-expired + delete (no thread hop)": sqlite_lease(
                tmp / "leases.db", n // 4
            ),
        }
    finally:
        await files.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--locks", type=int, default=20000)
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/lock_cost.md")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        results = asyncio.run(measure(Path(tmp), args.locks))
    command = "python bench/lock_cost.py " + " ".join(sys.argv[1:])
    lines = [
        "# Cost of a conversation lock (uncontended)",
        "",
        f"Command: `{command.strip()}`; load average (1 min) {load:.2f} on {os.cpu_count()} "
        "CPUs (other jobs were running: compare the rows, not the absolute figures).",
        "",
        "| lock | µs per lock + unlock |",
        "|---|---:|",
        *(f"| {name} | {us:.1f} |" for name, us in results.items()),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
