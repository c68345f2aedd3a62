"""The security suite's figures: requests sent per fuzzing suite, 5xx seen, tracebacks logged.

    .venv/bin/python bench/security.py [--examples 60] [--out bench/results/security.md]

Runs tests/security's fuzzing suites (schemathesis against the hub's OpenAPI document on a real
``chinwag run`` process; Hypothesis against the Slack and Telegram webhooks through slack-bolt
and python-telegram-bot) with ``CHINWAG_FUZZ_EXAMPLES`` examples per operation/suite, collects
what each suite counted (``CHINWAG_FUZZ_STATS``) and writes the table with the command that
made it. The goal for both 5xx and tracebacks is 0. The timing of the long-message case is
recorded in bench/results/long_message.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTEST = [sys.executable, "-m", "pytest", "-o", "addopts=", "-q", "-p", "no:cacheprovider"]
SUITES = ["tests/security/test_openapi_fuzz.py", "tests/security/test_webhook_fuzz.py"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=60)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "security.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stats_file = Path(tmp) / "stats.json"
        env = {
            **os.environ,
            "CHINWAG_FUZZ_STATS": str(stats_file),
            "CHINWAG_FUZZ_EXAMPLES": str(args.examples),
        }
        started = time.monotonic()
        result = subprocess.run(
            [*PYTEST, *SUITES],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.monotonic() - started
        stats = json.loads(stats_file.read_text(encoding="utf-8")) if stats_file.exists() else {}
    summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
    rows = [
        f"| {suite} | {s['requests']} | {s['5xx']} | {s['tracebacks']} |"
        for suite, s in stats.items()
    ]
    total = [sum(s[key] for s in stats.values()) for key in ("requests", "5xx", "tracebacks")]
    command = "python bench/security.py" + (
        f" --examples {args.examples}" if args.examples != 60 else ""
    )
    text = "\n".join(
        [
            "# Security suite",
            "",
            f"Command: `{command}`",
            "",
            f"Machine: {os.cpu_count()} CPUs, {platform.platform()}, Python "
            f"{platform.python_version()}. {args.examples} examples per schemathesis operation "
            f"and per Hypothesis suite, drawn deterministically (derandomized). pytest: "
            f"{summary} ({seconds:.0f} s with start-up).",
            "",
            "| suite | requests sent | 5xx seen (goal 0) | tracebacks in the hub log (goal 0) |",
            "|---|---:|---:|---:|",
            *rows,
            f"| **all** | {total[0]} | {total[1]} | {total[2]} |",
            "",
            "Tracebacks are counted in the `chinwag run` process's log (schemathesis) and in the",
            "records of the hub's loggers, aiohttp's, slack-bolt's and python-telegram-bot's",
            "(webhook fuzzing): any record at ERROR or above, or carrying a traceback.",
            "",
            "Long-message case (a 32 KB REST message answered while `/health` stays responsive):",
            "see bench/results/long_message.md.",
            "",
        ]
    )
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
