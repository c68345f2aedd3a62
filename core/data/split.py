"""``chinwag data split nlu``: hold out a test set as Rasa's ``rasa data split nlu`` does.

Each intent's examples (retrieval intents by their full ``intent/key`` name) are shuffled
(seeded with ``--random-seed``) and ``round(n * training_fraction)`` of them, at least one,
go to ``training_data.yml``; the rest to ``test_data.yml``. Synonyms, regexes and lookup
tables go to both files; NLU-file responses go with the retrieval intents that use them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from chinwag.core.data.training import Message, NLUData
from chinwag.core.data.yaml_writer import dump_nlu_yaml

TRAIN_FILE = "training_data.yml"
TEST_FILE = "test_data.yml"


@dataclass
class Split:
    train: NLUData
    test: NLUData


def _with_examples(nlu: NLUData, examples: list[Message]) -> NLUData:
    used = {m.intent for m in examples}
    return NLUData(
        examples=examples,
        synonyms=dict(nlu.synonyms),
        regexes=list(nlu.regexes),
        lookups=dict(nlu.lookups),
        responses={k: v for k, v in nlu.responses.items() if k.removeprefix("utter_") in used},
    )


def split_nlu(nlu: NLUData, training_fraction: float = 0.8, seed: int | None = None) -> Split:
    """Stratified by intent; example order within each file follows the input."""
    if not 0.0 < training_fraction < 1.0:
        raise ValueError(
            f"--training-fraction must be between 0 and 1 (exclusive), got {training_fraction}"
        )
    rng = random.Random(seed)
    by_intent: dict[str, list[int]] = {}
    for index, message in enumerate(nlu.examples):
        by_intent.setdefault(message.intent, []).append(index)
    train: set[int] = set()
    for intent in sorted(by_intent):
        indices = list(by_intent[intent])
        rng.shuffle(indices)
        keep = max(1, round(len(indices) * training_fraction))
        train.update(indices[:keep])
    return Split(
        _with_examples(nlu, [m for i, m in enumerate(nlu.examples) if i in train]),
        _with_examples(nlu, [m for i, m in enumerate(nlu.examples) if i not in train]),
    )


def write_split(split: Split, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in ((TRAIN_FILE, split.train), (TEST_FILE, split.test)):
        path = out / name
        path.write_text(dump_nlu_yaml(data), encoding="utf-8")
        written.append(path)
    return written
