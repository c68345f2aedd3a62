"""Every shared NLU benchmark, chinwag side by side with the plain baseline, in one run.

The plain baseline (``baseline()``): word 1-2-gram TF-IDF + char_wb 2-5-gram TF-IDF
(scikit-learn defaults otherwise), multinomial LogisticRegression (C=1, lbfgs).

Benchmarks (training time is measured for every model, wall clock on the shared machine):

* ``clinc-full``: CLINC150 standard split (see bench/clinc150.py): 15,000 in-scope training
  rows, in-scope test accuracy, and out-of-scope recall at the FallbackClassifier threshold
  chosen on validation (mean of in-scope accuracy and OOS recall; step 0.05).
* ``clinc-10`` / ``clinc-30``: the same with 10 / 30 training rows per intent, drawn with
  ``random.Random(seed).sample`` from each intent's 100 training rows (seeds 0, 1, 2; mean).
* ``snips-intent``: Snips 2017's 7 intents pooled, 70 queries per intent drawn as in
  bench/snips.py (seeds 0, 1, 2), intent accuracy on the 700 ``validate_*`` queries.
* ``snips-slots``: bench/snips.py's slot-filling benchmark (70 queries per intent, CRF);
  compared with the published figures (the baseline has no entity extractor).
* ``entities-10k``: Snips 2017's ``train_<Intent>_full.json`` pooled (13,784 queries),
  entity types qualified by intent (``GetWeather.city``: 53 types; the issue's benchmark has
  54), shuffled with ``random.Random(0)``, the first 10,000 as the training set; CRF training
  time and exact (type, text) micro F1 on the 700 ``validate_*`` queries.
* ``bot:<name>``: 5-fold cross-validation (core/evaluate.py's ``folds``, seed 42) of every
  corpus bot's NLU: chinwag's whole pipeline built from the bot's config.yml (fallback off)
  against the baseline on the same folds; intent accuracy, entity micro F1 (chinwag; exact /
  span overlap, as ``chinwag test nlu`` counts them).

``--reduced``: one seed, no clinc-full, entities-2k instead of 10k, 3 folds: for iterating.

    .venv/bin/python bench/nlu_suite.py [--reduced] [--only PREFIX ...] [--kind K --c C]
        [--out bench/results/nlu_suite.md]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from clinc150 import THRESHOLDS, evaluate, read_splits
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, make_pipeline
from snips import read_queries
from snips import run as run_snips

from chinwag.core.data.loader import load_bot
from chinwag.core.data.problems import Problems
from chinwag.core.data.training import Entity, Message
from chinwag.core.evaluate import NLUPrediction, entity_report, folds
from chinwag.core.nlu.classifier import KINDS, IntentClassifier
from chinwag.core.nlu.crf import CRFConfig, CRFEntityExtractor
from chinwag.core.nlu.featurizers import FeaturizerConfig
from chinwag.core.nlu.pipeline import DEFAULT_INTENT, NLUPipeline

ROOT = Path(__file__).resolve().parent.parent
# five of CLINC150's ten domains (Larson et al. 2019, table of intents per domain)
CLINC_DOMAINS = {
    "banking": "transfer transactions balance freeze_account pay_bill bill_balance bill_due "
    "interest_rate routing min_payment order_checks pin_change report_fraud account_blocked "
    "spending_history",
    "credit_cards": "credit_score report_lost_card credit_limit rewards_balance new_card "
    "application_status card_declined international_fees apr redeem_rewards credit_limit_change "
    "damaged_card replacement_card_duration improve_credit_score expiration_date",
    "kitchen_and_dining": "recipe restaurant_reviews calories nutrition_info "
    "restaurant_suggestion ingredients_list ingredient_substitution cook_time food_last "
    "meal_suggestion restaurant_reservation confirm_reservation how_busy cancel_reservation "
    "accept_reservations",
    "work": "direct_deposit pto_request taxes payday w2 pto_balance pto_request_status "
    "next_holiday insurance insurance_change schedule_meeting pto_used meeting_schedule "
    "rollover_401k income",
    "auto_and_commute": "traffic directions gas gas_type distance current_location mpg "
    "oil_change_when oil_change_how jump_start uber schedule_maintenance last_maintenance "
    "tire_pressure tire_change",
}
Pairs = list[tuple[str, str]]


class Baseline:
    """The 20-line baseline, with ``labels`` and ``predict_proba`` as IntentClassifier."""

    def __init__(self) -> None:
        self.model = make_pipeline(
            FeatureUnion(
                [
                    ("words", TfidfVectorizer(ngram_range=(1, 2))),
                    ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5))),
                ]
            ),
            LogisticRegression(max_iter=1000),
        )
        self.labels: list[str] = []

    def train(self, texts: list[str], labels: list[str]) -> None:
        self.model.fit(texts, labels)
        self.labels = [str(x) for x in self.model.classes_]

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.predict_proba(texts))


Model = Baseline | IntentClassifier


def timed_train(model: Model, data: Pairs) -> float:
    t0 = time.perf_counter()
    model.train([t for t, _ in data], [label for _, label in data])
    return time.perf_counter() - t0


def accuracy(model: Model, data: Pairs) -> float:
    probs = model.predict_proba([t for t, _ in data])
    labels = np.array(model.labels)
    return float((labels[probs.argmax(1)] == np.array([g for _, g in data])).mean())


class Suite:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.bench: Path = args.bench
        self.reduced: bool = args.reduced
        self.seeds = (0,) if args.reduced else (0, 1, 2)
        self.rows: list[dict[str, Any]] = []

    def chinwag(self) -> IntentClassifier:
        return IntentClassifier(FeaturizerConfig(), kind=self.args.kind, c=self.args.c)

    def add(self, name: str, metric: str, ours: float, base: float | None, **extra: Any) -> None:
        row = {"benchmark": name, "metric": metric, "chinwag": ours, "baseline": base, **extra}
        self.rows.append(row)
        print(json.dumps(row), flush=True)

    # ---------------------------------------------------------------- CLINC150

    def clinc(self) -> None:
        splits = read_splits(self.bench)
        by_intent: dict[str, Pairs] = {}
        for text, label in splits["train"]:
            by_intent.setdefault(label, []).append((text, label))
        sizes: list[int | None] = [10, 30] if self.reduced else [None, 10, 30]
        for size in sizes:
            results: dict[str, list[tuple[float, float, float, float, float]]] = {}
            for seed in self.seeds if size else (0,):
                if size is None:
                    train = splits["train"]
                else:
                    rng = random.Random(seed)
                    train = [p for k in sorted(by_intent) for p in rng.sample(by_intent[k], size)]
                for side, model in (("chinwag", self.chinwag()), ("baseline", Baseline())):
                    seconds = timed_train(model, train)
                    val = evaluate(model, splits["val"], splits["oos_val"])  # type: ignore[arg-type]
                    th = max(THRESHOLDS, key=lambda t, v=val: (v[t][0] + v[t][1]) / 2)  # type: ignore[misc]
                    test = evaluate(model, splits["test"], splits["oos_test"])  # type: ignore[arg-type]
                    results.setdefault(side, []).append(
                        (test[0.0][0], th, test[th][0], test[th][1], seconds)
                    )
            name = "clinc-full" if size is None else f"clinc-{size}"
            ours, base = (np.mean(results[s], axis=0) for s in ("chinwag", "baseline"))
            self.add(
                name,
                "in-scope accuracy",
                float(ours[0]),
                float(base[0]),
                threshold=(float(ours[1]), float(base[1])),
                in_scope_at_threshold=(float(ours[2]), float(base[2])),
                oos_recall=(float(ours[3]), float(base[3])),
                train_seconds=(float(ours[4]), float(base[4])),
            )

    # ---------------------------------------------------------------- Snips 2017

    def _snips_intents(self) -> list[str]:
        root = self.bench / "snips-2017"
        return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name[0].isupper())

    def snips_intent(self) -> None:
        root = self.bench / "snips-2017"
        names = self._snips_intents()
        pools = {n: read_queries(root / n / f"train_{n}.json", n) for n in names}
        test = [
            (m.text, n) for n in names for m in read_queries(root / n / f"validate_{n}.json", n)
        ]
        scores: dict[str, list[tuple[float, float]]] = {"chinwag": [], "baseline": []}
        for seed in self.seeds:
            train = [(m.text, n) for n in names for m in random.Random(seed).sample(pools[n], 70)]
            for side, model in (("chinwag", self.chinwag()), ("baseline", Baseline())):
                seconds = timed_train(model, train)
                scores[side].append((accuracy(model, test), seconds))
        ours, base = (np.mean(scores[s], axis=0) for s in ("chinwag", "baseline"))
        self.add(
            "snips-intent",
            "accuracy",
            float(ours[0]),
            float(base[0]),
            train_seconds=(float(ours[1]), float(base[1])),
        )

    def snips_slots(self) -> None:
        result = run_snips(self.bench, CRFConfig())
        self.add(
            "snips-slots",
            "mean slot F1 (70 q)",
            result["f1"],
            None,
            published_snips=result["published"]["Snips"],
            train_seconds=(result["train_seconds"], None),
        )

    def entities(self) -> None:
        root = self.bench / "snips-2017"
        names = self._snips_intents()

        def qualified(messages: list[Message], intent: str) -> list[Message]:
            return [
                Message(
                    m.text,
                    m.intent,
                    [Entity(f"{intent}.{e.entity}", e.value, e.start, e.end) for e in m.entities],
                )
                for m in messages
            ]

        pool: list[Message] = []
        for n in names:
            path = root / n / f"train_{n}_full.json"
            pool += qualified(read_queries_latin(path, n), n)
        random.Random(0).shuffle(pool)
        size = 2000 if self.reduced else 10000
        train = pool[:size]
        test = [
            m for n in names for m in qualified(read_queries(root / n / f"validate_{n}.json", n), n)
        ]
        crf = CRFEntityExtractor(CRFConfig())
        t0 = time.perf_counter()
        crf.train(train)
        seconds = time.perf_counter() - t0
        types = len({e.entity for m in train for e in m.entities})
        exact, overlap = entity_f1([(m, crf.extract(m.text)) for m in test])
        self.add(
            f"entities-{size // 1000}k",
            f"entity micro F1, exact type+text ({types} types)",
            exact,
            None,
            span_overlap_f1=overlap,
            train_seconds=(seconds, None),
        )

    # ---------------------------------------------------------------- small single-domain sets

    def small(self) -> None:
        """100-200 training sentences over a few intents of one domain, unevenly spread (the
        shape of Braun et al.'s chat / Q&A corpora): per CLINC150 domain, 5 of its intents with
        10-50 training rows each, tested on their 30 test rows each, plus 150 out-of-scope
        test rows (in-scope accuracy and OOS recall at a DIET-tuned fallback threshold of
        0.7); per seed, 2-4 Snips intents with 30-60 rows each, tested on their validate rows."""
        splits = read_splits(self.bench)
        by_intent: dict[str, Pairs] = {}
        for text, label in splits["train"]:
            by_intent.setdefault(label, []).append((text, label))
        draws: dict[str, list[tuple[Pairs, Pairs, Pairs]]] = {"clinc": [], "snips": []}
        for seed, (_domain, intents) in enumerate(sorted(CLINC_DOMAINS.items())):
            rng = random.Random(seed)
            chosen = rng.sample(intents.split(), 5)
            train = [p for k in chosen for p in rng.sample(by_intent[k], rng.randint(10, 50))]
            test = [p for p in splits["test"] if p[1] in chosen]
            draws["clinc"].append((train, test, rng.sample(splits["oos_test"], 150)))
        root = self.bench / "snips-2017"
        names = self._snips_intents()
        for seed in range(5):
            rng = random.Random(seed)
            chosen = sorted(rng.sample(names, rng.randint(2, 4)))
            train = [
                (m.text, n)
                for n in chosen
                for m in rng.sample(
                    read_queries(root / n / f"train_{n}.json", n), rng.randint(30, 60)
                )
            ]
            test = [
                (m.text, n)
                for n in chosen
                for m in read_queries(root / n / f"validate_{n}.json", n)
            ]
            draws["snips"].append((train, test, []))
        for family, sets in draws.items():
            scores: dict[str, list[tuple[float, ...]]] = {"chinwag": [], "baseline": []}
            for train, test, oos in sets:
                for side, model in (("chinwag", self.chinwag()), ("baseline", Baseline())):
                    seconds = timed_train(model, train)
                    row: tuple[float, ...] = (accuracy(model, test), seconds)
                    if oos:
                        at = evaluate(model, test, oos)[0.7]  # type: ignore[arg-type]
                        row += at
                    scores[side].append(row)
            ours, base = (np.mean(scores[s], axis=0) for s in ("chinwag", "baseline"))
            extra: dict[str, Any] = {}
            if family == "clinc":
                extra["in_scope_at_0.7"] = (float(ours[2]), float(base[2]))
                extra["oos_recall_at_0.7"] = (float(ours[3]), float(base[3]))
            self.add(
                f"small-{family}",
                f"accuracy ({len(sets)} draws, {min(len(t) for t, _, _ in sets)}-"
                f"{max(len(t) for t, _, _ in sets)} training rows)",
                float(ours[0]),
                float(base[0]),
                worst_draw_margin=min(
                    a[0] - b[0] for a, b in zip(scores["chinwag"], scores["baseline"], strict=True)
                ),
                **extra,
                train_seconds=(float(ours[1]), float(base[1])),
            )

    # ---------------------------------------------------------------- corpus bots

    def bots(self) -> None:
        n_folds = 3 if self.reduced else 5
        for path in sorted((self.bench.parent / "corpus").iterdir()):
            if not (path / "domain.yml").exists() and not (path / "data").exists():
                continue
            try:
                bot = load_bot(path)
            except Exception as exc:  # a corpus bot that does not load is reported, not fatal
                print(f"bot:{path.name}: not loaded ({exc})", file=sys.stderr)
                continue
            examples = [m for m in bot.nlu.examples if m.text.strip()]
            if len({m.base_intent for m in examples}) < 2:
                continue
            scores: dict[str, list[float]] = {"chinwag": [], "baseline": []}
            f1s: list[tuple[float, float]] = []
            seconds: dict[str, float] = {"chinwag": 0.0, "baseline": 0.0}
            for held_out in folds(examples, n_folds):
                held = set(held_out)
                train = [m for i, m in enumerate(examples) if i not in held]
                test = [examples[i] for i in held_out]
                bot.nlu.examples = train
                pipeline = NLUPipeline.from_config(bot.config.pipeline, bot.domain, Problems())
                pipeline.fallback = None
                t0 = time.perf_counter()
                pipeline.train(bot.nlu, bot.domain)
                seconds["chinwag"] += time.perf_counter() - t0
                parsed = [pipeline.parse_sync(m.text) for m in test]
                scores["chinwag"].append(
                    float(
                        np.mean(
                            [
                                p["intent"]["name"] == m.base_intent
                                for p, m in zip(parsed, test, strict=True)
                            ]
                        )
                    )
                )
                if any(m.entities for m in examples):
                    f1s.append(
                        entity_f1([(m, p["entities"]) for m, p in zip(test, parsed, strict=True)])
                    )
                base = Baseline()
                seconds["baseline"] += timed_train(base, [(m.text, m.base_intent) for m in train])
                scores["baseline"].append(accuracy(base, [(m.text, m.base_intent) for m in test]))
            self.add(
                f"bot:{path.name}",
                f"intent accuracy ({n_folds}-fold CV, {len(examples)} examples)",
                statistics.mean(scores["chinwag"]),
                statistics.mean(scores["baseline"]),
                spread=(
                    statistics.pstdev(scores["chinwag"]),
                    statistics.pstdev(scores["baseline"]),
                ),
                entity_f1=tuple(float(x) for x in np.mean(f1s, axis=0)) if f1s else None,
                train_seconds=(seconds["chinwag"] / n_folds, seconds["baseline"] / n_folds),
            )


def read_queries_latin(path: Path, intent: str) -> list[Message]:
    """Some ``train_<Intent>_full.json`` files are Latin-1, not UTF-8."""
    try:
        return read_queries(path, intent)
    except UnicodeDecodeError:
        fixed = path.read_bytes().decode("latin-1")
        tmp = Path("/tmp") / f"nlu_suite_{path.name}"
        tmp.write_text(fixed, encoding="utf-8")
        return read_queries(tmp, intent)


def entity_f1(pairs: Sequence[tuple[Message, Sequence[dict[str, Any]]]]) -> tuple[float, float]:
    """Micro F1, exact (type and text as written) and by span overlap, as ``chinwag test nlu``
    counts them (core/evaluate.py's ``entity_report``: pretrained extractors left out)."""
    report = entity_report(
        [
            NLUPrediction(m.text, "", "", 0.0, [e.as_dict() for e in m.entities], list(got))
            for m, got in pairs
        ]
    )
    return (
        float(report["micro avg"]["f1-score"]),
        float(report["micro avg (span overlap)"]["f1-score"]),
    )


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, tuple | list):
        return " / ".join(_fmt(v) for v in value)
    return str(value)


def markdown(rows: list[dict[str, Any]], command: str, seconds: float) -> str:
    lines = [
        "| benchmark | metric | chinwag | baseline | details (chinwag / baseline) |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        details = ", ".join(
            f"{k.replace('_', ' ')} {_fmt(v)}"
            for k, v in row.items()
            if k not in ("benchmark", "metric", "chinwag", "baseline")
        )
        lines.append(
            f"| {row['benchmark']} | {row['metric']} | {_fmt(row['chinwag'])} | "
            f"{_fmt(row['baseline'])} | {details} |"
        )
    return f"    {command}\n\nwhole run {seconds:.0f} s\n\n" + "\n".join(lines) + "\n"


STEPS: dict[str, Callable[[Suite], None]] = {
    "clinc": Suite.clinc,
    "snips-intent": Suite.snips_intent,
    "snips-slots": Suite.snips_slots,
    "entities": Suite.entities,
    "small": Suite.small,
    "bots": Suite.bots,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bench", type=Path, default=ROOT.parent / "shared" / "bench")
    parser.add_argument("--reduced", action="store_true", help="quick mode for iterating")
    parser.add_argument("--only", nargs="*", choices=sorted(STEPS), help="run these steps only")
    parser.add_argument("--kind", choices=KINDS, default=DEFAULT_INTENT["kind"])
    parser.add_argument("--c", type=float, default=DEFAULT_INTENT["c"])
    parser.add_argument("--out", type=Path, help="write the markdown table here")
    args = parser.parse_args()
    suite = Suite(args)
    t0 = time.perf_counter()
    for name, step in STEPS.items():
        if not args.only or name in args.only:
            step(suite)
    table = markdown(
        suite.rows, " ".join(["bench/nlu_suite.py", *sys.argv[1:]]), time.perf_counter() - t0
    )
    print(table)
    if args.out:
        args.out.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
