"""``chinwag test`` on every corpus bot with test stories: passed / total per bot.

    .venv/bin/python bench/test_stories.py [--record]

Each bot is trained in memory from its own config (no archive is written into the
read-only corpus) and its test stories are replayed as ``chinwag test`` does. With
--record, writes bench/results/test_stories.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from chinwag.core.data.loader import load_bot  # noqa: E402
from chinwag.core.data.problems import Problems  # noqa: E402
from chinwag.core.evaluate import evaluate_stories, make_parser  # noqa: E402
from chinwag.core.train import model_for  # noqa: E402

SHARED = Path(os.environ.get("CHINWAG_SHARED", REPO.parent / "shared"))
BOTS = [
    "financial-demo",
    "helpdesk-assistant",
    "carbon-bot",
    "rasa-formbot",
    "rasa-e2ebot",
    "rasa-initial-project",
    "retrieval-lunr",
    "retrieval-jina",
    "breakoutbot",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    rows = []
    for name in BOTS:
        start = time.perf_counter()
        bot = load_bot(SHARED / "corpus" / name)
        model = model_for(bot, Problems())
        with tempfile.TemporaryDirectory() as tmp:
            evaluation = evaluate_stories(
                bot, model.policies, make_parser(model.nlu, bot.config.pipeline), Path(tmp)
            )
        acc = evaluation.report.get("accuracy", 0.0)
        failed = "; ".join(s.name for s in evaluation.failed) or "-"
        rows.append(
            f"| {name} | {evaluation.passed}/{len(evaluation.stories)} | {acc:.3f} | "
            f"{time.perf_counter() - start:.1f} | {failed} |"
        )
        print(rows[-1], flush=True)
    table = "\n".join(
        [
            "| bot | stories passed | action accuracy | seconds (train+test) | failed |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    if args.record:
        text = (
            "# Test stories (chinwag test) on the corpus bots\n\n"
            "Command: `.venv/bin/python bench/test_stories.py --record` (the same as "
            "`chinwag test ../shared/corpus/<bot>` per bot, model trained in memory)\n\n"
            f"{table}\n"
        )
        (REPO / "bench" / "results" / "test_stories.md").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
