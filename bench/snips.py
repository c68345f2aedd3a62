"""Snips 2017 custom-intent-engines benchmark: slot filling at 70 training queries.

For each of the 7 intents: 3 seeded draws of 70 queries from ``train_<Intent>.json`` (the
published draws are not in the data, so ours are ``random.Random(seed).sample`` with seeds
0, 1, 2), train chinwag's CRF entity extractor (the pipeline's default CRF settings unless
overridden), and tag ``validate_<Intent>.json``. A predicted slot is correct when a gold slot
of the same name has the same text (case- and surrounding-space-insensitive), counted as a
multiset per query.

Aggregation replicates the published ``<Provider>_metrics.json`` files: per draw, per slot
precision and recall; per draw and intent, F1 per slot averaged with the slot's ``rate`` (its
number of occurrences in the validation set) as weight; then the mean over the 3 draws and the
mean over the 7 intents. Applied to the published files this gives exactly the published
numbers (Snips 0.824, API.ai 0.726, LUIS 0.701, Wit 0.628, Alexa 0.584).

    .venv/bin/python bench/snips.py [--bench ../shared/bench] [--window 1] [--c1 0.05]
        [--c2 0.01] [--iterations 50] [--no-builtin] [--no-values] [--augment 1]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

from chinwag.core.data.training import Entity, Message
from chinwag.core.nlu.crf import CRFConfig, CRFEntityExtractor

PROVIDERS = {"Snips": "Snips", "API.ai": "api.ai", "LUIS": "Luis", "Wit": "Wit", "Alexa": "Alexa"}
SEEDS = (0, 1, 2)
SIZE = 70


def read_queries(path: Path, intent: str) -> list[Message]:
    """Snips JSON queries as messages with entity spans."""
    out: list[Message] = []
    for query in json.loads(path.read_text(encoding="utf-8"))[intent]:
        text = ""
        entities: list[Entity] = []
        for chunk in query["data"]:
            part = chunk["text"]
            if "entity" in chunk:
                lead = len(part) - len(part.lstrip())
                value = part.strip()
                start = len(text) + lead
                entities.append(Entity(chunk["entity"], value, start, start + len(value)))
            text += part
        out.append(Message(text, intent, entities))
    return out


def f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p == p and r == r and p + r else 0.0


def weighted_f1(slots: dict[str, tuple[float, float]], rates: dict[str, int]) -> float:
    total = sum(rates.values())
    return sum(f1(p, r) * rates[s] for s, (p, r) in slots.items()) / total if total else 0.0


def published(bench: Path, intents: list[str], provider: str) -> float:
    scores = []
    for intent in intents:
        data = json.loads((bench / intent / f"{provider}_metrics.json").read_text())
        slots = data["intents"][intent]["slots"]
        rates = {s: v["rate"] for s, v in slots.items()}
        per_draw = [
            weighted_f1(
                {s: (v["precision"]["70"][d], v["recall"]["70"][d]) for s, v in slots.items()},
                rates,
            )
            for d in range(3)
        ]
        scores.append(sum(per_draw) / len(per_draw))
    return sum(scores) / len(scores)


def _key(entity: dict[str, Any] | Entity) -> tuple[str, str]:
    if isinstance(entity, Entity):
        return entity.entity, str(entity.value).strip().lower()
    return entity["entity"], str(entity["value"]).strip().lower()


def score(
    crf: CRFEntityExtractor, validate: list[Message]
) -> tuple[dict[str, tuple[float, float]], dict[str, int]]:
    """Per slot (precision, recall) on ``validate``, and each slot's gold count (rate)."""
    tp: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    gold: Counter[str] = Counter()
    for message in validate:
        want = Counter(_key(e) for e in message.entities)
        got = Counter(_key(e) for e in crf.extract(message.text))
        for (slot, _), n in want.items():
            gold[slot] += n
        for key, n in got.items():
            predicted[key[0]] += n
            tp[key[0]] += min(n, want.get(key, 0))
    slots = {}
    for slot in gold:
        p = tp[slot] / predicted[slot] if predicted[slot] else 0.0
        slots[slot] = (p, tp[slot] / gold[slot])
    return slots, dict(gold)


def run(bench: Path, config: CRFConfig, intents: list[str] | None = None) -> dict[str, Any]:
    root = bench / "snips-2017"
    names = intents or sorted(p.name for p in root.iterdir() if p.is_dir() and p.name[0].isupper())
    results: dict[str, Any] = {"intents": {}, "train_seconds": 0.0}
    for intent in names:
        pool = read_queries(root / intent / f"train_{intent}.json", intent)
        validate = read_queries(root / intent / f"validate_{intent}.json", intent)
        draws = []
        for seed in SEEDS:
            sample = random.Random(seed).sample(pool, SIZE)
            crf = CRFEntityExtractor(config)
            t0 = time.perf_counter()
            crf.train(sample)
            results["train_seconds"] += time.perf_counter() - t0
            slots, rates = score(crf, validate)
            draws.append(weighted_f1(slots, rates))
        results["intents"][intent] = sum(draws) / len(draws)
    results["f1"] = sum(results["intents"].values()) / len(results["intents"])
    results["published"] = {name: published(root, names, p) for name, p in PROVIDERS.items()}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--bench", type=Path, default=Path(__file__).parent.parent.parent / "shared" / "bench"
    )
    parser.add_argument("--window", type=int, default=CRFConfig.window)
    parser.add_argument("--c1", type=float, default=CRFConfig.c1)
    parser.add_argument("--c2", type=float, default=CRFConfig.c2)
    parser.add_argument("--iterations", type=int, default=CRFConfig.max_iterations)
    parser.add_argument("--no-builtin", action="store_true", help="no built-in entity features")
    parser.add_argument("--no-values", action="store_true", help="no training-value features")
    parser.add_argument(
        "--augment", type=int, default=CRFConfig.augment, help="swapped-value copies per example"
    )
    args = parser.parse_args()
    config = CRFConfig(
        args.window,
        args.c1,
        args.c2,
        args.iterations,
        not args.no_builtin,
        not args.no_values,
        args.augment,
    )
    results = run(args.bench, config)
    print(f"CRF {config.as_dict()}  total training {results['train_seconds']:.1f} s (21 models)")
    print(f"{'intent':24} chinwag")
    for intent, value in results["intents"].items():
        print(f"{intent:24} {value:.3f}")
    print(f"{'mean slot F1 (70 q)':24} {results['f1']:.3f}")
    for name, value in sorted(results["published"].items(), key=lambda kv: -kv[1]):
        print(f"{'  published ' + name:24} {value:.3f}")


if __name__ == "__main__":
    main()
