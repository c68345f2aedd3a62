"""Dialogue policy quality on MultiWOZ: LightGBMPolicy variants and two baselines, one run.

    .venv/bin/python bench/multiwoz.py [--bench DIR] [--variants "NAME;..."] [--record]
    .venv/bin/python bench/multiwoz.py --via cli [--record]   # chinwag train / chinwag test
    .venv/bin/python bench/multiwoz.py --quick '{"name": {"num_leaves": 16}, ...}'

Trains on ``DIR/data`` (1,419 MultiWOZ 2.1 stories, ../shared/bench/multiwoz-dev) and replays
``DIR/validation`` (246 stories) exactly as ``chinwag test`` does
(:func:`core.evaluate.evaluate_stories`), so the figures are the ones ``chinwag test`` prints.
Reported per policy: action accuracy with and without ``action_listen``, whole-dialogue
accuracy, training time, the listen-vs-act confusion, and (for the kept variant and the
baselines) per-action recall. The baselines predict the most frequent next action seen in
training for (previous action, intent), and for (previous action, intent, entities, last
bot action); unseen keys fall back to shorter keys, then to the most frequent action.

``--via api`` (default) trains through the Python API (no data checks). ``--via cli`` runs
``chinwag train`` and ``chinwag test`` on a scratch bot folder linking the set (its config.yml
holds one variant, or the Memoization + Rule + LightGBM ensemble) and reads their
story_report.json and failed_test_stories.yml. With --record, the API run writes
bench/results/multiwoz.md and the CLI run appends its section.

``--quick`` is for exploring: each LightGBMPolicy variant (options as JSON, with an optional
``listen_weights`` list) is trained once and predicts the validation stories' states (as
``conversation_states`` builds them) in one matrix; accuracy excluding listen and whole
dialogues equal the replay's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from chinwag.core.data.loader import Bot, load_bot, read_data_file  # noqa: E402
from chinwag.core.data.problems import Problems  # noqa: E402
from chinwag.core.data.story_graph import Conversation, expand  # noqa: E402
from chinwag.core.domain import Domain  # noqa: E402
from chinwag.core.evaluate import evaluate_stories  # noqa: E402
from chinwag.core.policies.base import Policy, PolicyPrediction  # noqa: E402
from chinwag.core.policies.ensemble import PolicyEnsemble, train_policies  # noqa: E402
from chinwag.core.policies.lightgbm import LightGBMPolicy  # noqa: E402
from chinwag.core.policies.memoization import MemoizationPolicy  # noqa: E402
from chinwag.core.policies.rules import RulePolicy  # noqa: E402
from chinwag.core.policies.states import (  # noqa: E402
    ACTION_LISTEN,
    State,
    conversation_states,
    shared_states,
    tracker_states,
    turn_contexts,
)
from chinwag.core.tracker import Tracker  # noqa: E402

SHARED = Path(os.environ.get("CHINWAG_SHARED", REPO.parent / "shared"))
DEFAULT_BENCH = SHARED / "bench" / "multiwoz-dev"
RESULTS = REPO / "bench" / "results" / "multiwoz.md"


# ------------------------------------------------------------------ baselines


Key = tuple[Any, ...]


def _last_bot_action(states: Sequence[State]) -> str | None:
    """The last action before the user's latest turn (None at the start)."""
    seen_listen = False
    for state in reversed(states):
        if state.after_listen:
            seen_listen = True
        elif seen_listen and state.prev_action:
            return state.prev_action
    return None


def key_prev_intent(states: Sequence[State]) -> Key:
    last = states[-1]
    return (last.prev_action, last.intent)


def key_prev_intent_entities(states: Sequence[State]) -> Key:
    last = states[-1]
    return (last.prev_action, last.intent, last.entities, _last_bot_action(states))


class FrequencyBaseline(Policy):
    """The most frequent next action for a key of the state history (then shorter keys)."""

    def __init__(self, name: str, keys: Sequence[Callable[[Sequence[State]], Key]]) -> None:
        self.name = name
        self.priority = 1
        self.keys = list(keys)
        self.tables: list[dict[Key, str]] = []
        self.default = ACTION_LISTEN

    def train(self, stories: list[Conversation], rules: list[Conversation], domain: Domain) -> None:
        counts: list[dict[Key, Counter[str]]] = [defaultdict(Counter) for _ in self.keys]
        overall: Counter[str] = Counter()
        for conv in stories:
            for turn in conversation_states(conv, domain):
                if turn.unpredictable:
                    continue
                overall[turn.action] += 1
                for table, key in zip(counts, self.keys, strict=True):
                    table[key(turn.history)][turn.action] += 1
        # ties: the action seen first (Counter keeps insertion order)
        self.tables = [{k: c.most_common(1)[0][0] for k, c in t.items()} for t in counts]
        self.default = overall.most_common(1)[0][0]

    def predict(self, tracker: Tracker, domain: Domain) -> PolicyPrediction:
        states = tracker_states(tracker, domain)
        action = self.default
        for table, key in zip(self.tables, self.keys, strict=True):
            found = table.get(key(states))
            if found is not None:
                action = found
                break
        return PolicyPrediction({action: 1.0}, self.name, self.priority)

    def persist(self) -> dict[str, Any]:  # pragma: no cover - bench only
        raise NotImplementedError

    @classmethod
    def load(cls, data: dict[str, Any]) -> FrequencyBaseline:  # pragma: no cover - bench only
        raise NotImplementedError


def baselines() -> dict[str, Callable[[], Policy]]:
    return {
        "baseline: (prev action, intent)": lambda: FrequencyBaseline(
            "baseline-1", [key_prev_intent]
        ),
        "baseline: + entities, last bot action": lambda: FrequencyBaseline(
            "baseline-2", [key_prev_intent_entities, key_prev_intent]
        ),
    }


# ------------------------------------------------------------------ variants

BEFORE = {"max_history": 5, "turn_features": False, "example_weights": "unique"}
# every LightGBMPolicy variant tried through the replay, by name -> options (the policy's
# defaults fill the rest). Variants differing only in listen_weight share one trained model:
# the weight is applied to its scores at prediction time.
VARIANTS: dict[str, dict[str, Any]] = {
    "before: max_history 2 (the issue's figure)": {**BEFORE, "max_history": 2},
    "before: max_history 5 (old defaults)": BEFORE,
    "count weights": {**BEFORE, "example_weights": "count"},
    "turn features": {**BEFORE, "turn_features": True},
    "turn features + count weights (new defaults)": {},
    "new defaults, listen_weight 0.6": {"listen_weight": 0.6},
    "new defaults, listen_weight 0.5": {"listen_weight": 0.5},
    "new defaults, listen_weight 0.4": {"listen_weight": 0.4},
    "new defaults, listen_weight 0.35": {"listen_weight": 0.35},
    "new defaults, listen_weight 0.3": {"listen_weight": 0.3},
    # round 3: DART boosting (the best LightGBM choice found; not the default)
    "dart, 80 rounds": {"boosting": "dart", "num_boost_round": 80},
    "dart, 80 rounds, listen_weight 0.9": {
        "boosting": "dart",
        "num_boost_round": 80,
        "listen_weight": 0.9,
    },
    "dart, 80 rounds, listen_weight 0.85": {
        "boosting": "dart",
        "num_boost_round": 80,
        "listen_weight": 0.85,
    },
}
# the defaults, and the variant kept for human dialogues (chosen on the validation split)
DEFAULTS = "turn features + count weights (new defaults)"
KEPT = "new defaults, listen_weight 0.35"
# a LightGBMPolicy variant after Memoization and Rule policies (a typical config.yml), run
# when its variant is
ENSEMBLE_PREFIX = "Memoization + Rule + LightGBM: "
ENSEMBLES: dict[str, dict[str, Any]] = {
    ENSEMBLE_PREFIX + name: VARIANTS[name] for name in (DEFAULTS, KEPT)
}


# ------------------------------------------------------------------ measuring


@dataclass
class Figures:
    name: str
    train_s: float
    accuracy: float
    accuracy_no_listen: float
    dialogue_accuracy: float
    confusion: dict[str, int]  # listen/act gold x predicted
    recall: dict[str, tuple[float, int]] = field(default_factory=dict)  # action -> (recall, n)
    options: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, float] = field(default_factory=dict)
    cpu_s: float = 0.0  # CPU seconds of the training (the machine is shared: wall time varies)


def listen_act_confusion(targets: Sequence[str], predictions: Sequence[str]) -> dict[str, int]:
    """Gold listen/act against predicted listen / the right action / another action."""
    out: Counter[str] = Counter()
    for gold, got in zip(targets, predictions, strict=True):
        row = "listen" if gold == ACTION_LISTEN else "act"
        if got == ACTION_LISTEN:
            col = "listen"
        elif got == gold:
            col = "right action"
        else:
            col = "other action"
        out[f"{row} -> {col}"] += 1
    return dict(out)


def load_bench(path: Path) -> Bot:
    """The set as a bot (data/ = its stories) with validation/ as its test stories."""
    bot = load_bot(path)
    if bot.problems.errors:
        raise SystemExit("\n".join(str(p) for p in bot.problems.errors))
    problems = Problems()
    for file in sorted((path / "validation").glob("*.md")):
        _, stories = read_data_file(file, path, problems, test=True)
        bot.test_stories.extend(stories.stories)
    if problems.errors:
        raise SystemExit("\n".join(str(p) for p in problems.errors))
    return bot


class RecordingEnsemble(PolicyEnsemble):
    """The ensemble as ``chinwag test`` asks it, remembering each winning confidence."""

    def __init__(self, policies: list[Policy]) -> None:
        super().__init__(policies)
        self.confidences: list[float] = []

    def predict(self, tracker: Tracker, domain: Domain) -> tuple[str, PolicyPrediction]:
        action, winner = super().predict(tracker, domain)
        self.confidences.append(winner.probabilities.get(action, 0.0))
        return action, winner


def trained(policies: list[Policy], bot: Bot) -> tuple[list[Policy], float, float]:
    """The policies trained on the bot's stories (no contradiction check), and the wall and
    CPU seconds."""
    started, cpu = time.perf_counter(), time.process_time()
    train_policies(policies, bot)
    return policies, time.perf_counter() - started, time.process_time() - cpu


def figures(
    name: str, policies: list[Policy], train_s: float, cpu_s: float, *, bot: Bot
) -> Figures:
    """Replay the validation stories as ``chinwag test`` does and summarize."""
    ensemble = RecordingEnsemble(policies)
    evaluation = evaluate_stories(bot, ensemble, lambda _text: {})
    targets = [a for r in evaluation.stories for a in r.action_targets]
    predictions = [a for r in evaluation.stories for a in r.action_predictions]
    options = _options(policies[-1])
    out = summarize(name, targets, predictions, evaluation.report, train_s, True, options)
    out.calibration = calibration(targets, predictions, ensemble.confidences)
    out.cpu_s = cpu_s
    return out


def calibration(
    targets: Sequence[str], predictions: Sequence[str], confidences: Sequence[float]
) -> dict[str, float]:
    """Expected calibration error (10 bins) of the winning confidence, and what a core
    fallback threshold of 0.3 (RulePolicy's default) would catch: the share of predictions
    below it and their accuracy."""
    right = [g == p for g, p in zip(targets, predictions, strict=True)]
    bins: dict[int, list[tuple[float, bool]]] = defaultdict(list)
    for confidence, hit in zip(confidences, right, strict=True):
        bins[min(int(confidence * 10), 9)].append((confidence, hit))
    ece = sum(
        abs(sum(c for c, _ in rows) / len(rows) - sum(h for _, h in rows) / len(rows)) * len(rows)
        for rows in bins.values()
    ) / len(right)
    low = [hit for confidence, hit in zip(confidences, right, strict=True) if confidence < 0.3]
    return {
        "ece": ece,
        "mean confidence": sum(confidences) / len(confidences),
        "below 0.3": len(low) / len(right),
        "accuracy below 0.3": sum(low) / len(low) if low else 0.0,
    }


def _options(policy: Policy) -> dict[str, Any]:
    config = getattr(policy, "config", None)
    return config() if callable(config) else {}


def run_api(bench: Path, names: Sequence[str], with_baselines: bool) -> list[Figures]:
    """Every figure through the Python API (see the module doc)."""
    bot = load_bench(bench)
    rows: list[Figures] = []
    for name, make in baselines().items() if with_baselines else []:
        rows.append(figures(name, *trained([make()], bot), bot=bot))
        print(table(rows[-1:]), flush=True)
    models: dict[str, tuple[LightGBMPolicy, float, float]] = {}
    for name in names:
        options = dict(VARIANTS[name])
        weight = float(options.pop("listen_weight", 1.0))
        key = json.dumps(options, sort_keys=True)
        if key not in models:
            (policy,), seconds, cpu = trained([LightGBMPolicy(**options)], bot)
            assert isinstance(policy, LightGBMPolicy)
            models[key] = policy, seconds, cpu
        policy, seconds, cpu = models[key]
        policy.listen_weight = weight
        rows.append(figures(name, [policy], seconds, cpu, bot=bot))
        print(table(rows[-1:]), flush=True)
    for name in ENSEMBLES:
        if name.startswith(ENSEMBLE_PREFIX) and name[len(ENSEMBLE_PREFIX) :] not in names:
            continue
        rows.append(figures(name, *trained(ensemble_policies(name), bot), bot=bot))
        print(table(rows[-1:]), flush=True)
    return rows


def ensemble_policies(name: str) -> list[Policy]:
    """Memoization + Rule + LightGBMPolicy with the options of the ensemble's variant."""
    return [MemoizationPolicy(), RulePolicy(), LightGBMPolicy(**ENSEMBLES[name])]


def summarize(
    name: str,
    targets: Sequence[str],
    predictions: Sequence[str],
    report: dict[str, Any],
    train_s: float,
    recall: bool,
    options: dict[str, Any] | None,
) -> Figures:
    pairs = list(zip(targets, predictions, strict=True))
    acts = [(g, p) for g, p in pairs if g != ACTION_LISTEN]
    return Figures(
        name=name,
        train_s=train_s,
        accuracy=sum(g == p for g, p in pairs) / len(pairs),
        accuracy_no_listen=sum(g == p for g, p in acts) / len(acts),
        dialogue_accuracy=float(report["conversation_accuracy"]["accuracy"]),
        confusion=listen_act_confusion(targets, predictions),
        recall={
            label: (float(row["recall"]), int(row["support"]))
            for label, row in report.items()
            if isinstance(row, dict) and "recall" in row and row.get("support")
        }
        if recall
        else {},
        options=dict(options or {}),
    )


# ------------------------------------------------------------------ the CLI route


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cli(bench: Path, names: Sequence[str]) -> list[Figures]:
    """The same figures through ``chinwag train`` and ``chinwag test`` on a scratch bot
    folder linking the set (domain.yml, data/, validation/ as tests/) with a config.yml
    holding one variant (then the ensembles of those variants). Train seconds are the whole
    ``chinwag train`` (loading, the data checks, the policies, the archive)."""
    chinwag = [sys.executable, "-m", "chinwag"]
    rows: list[Figures] = []
    configs = {name: [{"name": "LightGBMPolicy", **VARIANTS[name]}] for name in names}
    for name, options in ENSEMBLES.items():
        if name[len(ENSEMBLE_PREFIX) :] in names:
            lightgbm = {"name": "LightGBMPolicy", **options}
            configs[name] = [{"name": "MemoizationPolicy"}, {"name": "RulePolicy"}, lightgbm]
    for name, policies in configs.items():
        with tempfile.TemporaryDirectory(prefix="chinwag-multiwoz-") as tmp:
            bot = Path(tmp) / "bot"
            bot.mkdir()
            (bot / "domain.yml").symlink_to(bench / "domain.yml")
            (bot / "data").symlink_to(bench / "data")
            (bot / "tests").symlink_to(bench / "validation")
            config = {"language": "en", "pipeline": [], "policies": policies}
            (bot / "config.yml").write_text(json.dumps(config), "utf-8")
            started, cpu = time.perf_counter(), _children_cpu()
            done = subprocess.run([*chinwag, "train", str(bot), "--force"], cwd=REPO, check=False)
            train_s, cpu_s = time.perf_counter() - started, _children_cpu() - cpu
            if done.returncode:
                raise SystemExit(
                    f"chinwag train refused {bench} (exit {done.returncode}, problems above); "
                    "--via api trains without the data checks"
                )
            out = Path(tmp) / "results"
            # exits non-zero when a story fails, which they do
            subprocess.run([*chinwag, "test", str(bot), "--out", str(out)], cwd=REPO, check=False)
            report = json.loads((out / "story_report.json").read_text("utf-8"))
            failed = (out / "failed_test_stories.yml").read_text("utf-8")
        rows.append(cli_figures(f"{name} (chinwag train/test)", report, failed, train_s))
        rows[-1].cpu_s = cpu_s
        print(table(rows[-1:]), flush=True)
    return rows


_PREDICTED = re.compile(r"^\s*- action: (\S+)\s+# predicted: (\S+)", re.MULTILINE)


def cli_figures(name: str, report: dict[str, Any], failed: str, train_s: float) -> Figures:
    """Figures from ``chinwag test``'s story_report.json and failed_test_stories.yml."""
    labels = {
        k: v
        for k, v in report.items()
        if isinstance(v, dict) and "recall" in v and k not in ("macro avg", "weighted avg")
    }
    support = {k: int(v["support"]) for k, v in labels.items()}
    right = {k: round(v["recall"] * v["support"]) for k, v in labels.items()}
    wrong = Counter(
        ("listen" if gold == ACTION_LISTEN else "act", got == ACTION_LISTEN)
        for gold, got in _PREDICTED.findall(failed)
    )
    listen_total, listen_right = support.get(ACTION_LISTEN, 0), right.get(ACTION_LISTEN, 0)
    act_total = sum(support.values()) - listen_total
    act_right = sum(right.values()) - listen_right
    return Figures(
        name=name,
        train_s=train_s,
        accuracy=(act_right + listen_right) / (act_total + listen_total),
        accuracy_no_listen=act_right / act_total,
        dialogue_accuracy=float(report["conversation_accuracy"]["accuracy"]),
        confusion={
            "act -> right action": act_right,
            "act -> other action": act_total - act_right - wrong["act", True],
            "act -> listen": wrong["act", True],
            "listen -> listen": listen_right,
            "listen -> other action": listen_total - listen_right,
        },
        recall={k: (float(v["recall"]), support[k]) for k, v in labels.items() if support[k]},
    )


# ------------------------------------------------------------------ report


CONFUSION = [
    "act -> right action",
    "act -> other action",
    "act -> listen",
    "listen -> listen",
    "listen -> other action",
]


def table(rows: Sequence[Figures]) -> str:
    head = [
        "policy",
        "acc. excl. listen",
        "acc. all",
        "dialogues",
        "train s (CPU s)",
        *CONFUSION,
        "ECE",
        "conf. < 0.3 (acc.)",
    ]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for f in rows:
        c = f.calibration
        low = f"{c['below 0.3']:.1%} ({c['accuracy below 0.3']:.2f})" if c else "-"
        cells = [
            f.name,
            f"{f.accuracy_no_listen:.3f}",
            f"{f.accuracy:.3f}",
            f"{f.dialogue_accuracy:.3f}",
            f"{f.train_s:.1f} ({f.cpu_s:.1f})",
            *(str(f.confusion.get(k, 0)) for k in CONFUSION),
            f"{c['ece']:.3f}" if c else "-",
            low,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def recall_table(rows: Sequence[Figures]) -> str:
    """Per-action recall (rows by support) for the given policies."""
    support: Counter[str] = Counter()
    for f in rows:
        for label, (_, n) in f.recall.items():
            support[label] = max(support[label], n)
    head = ["action", "support", *(f.name for f in rows)]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for label, n in support.most_common():
        cells = [f"{f.recall[label][0]:.2f}" if label in f.recall else "-" for f in rows]
        lines.append("| " + " | ".join([label, str(n), *cells]) + " |")
    return "\n".join(lines)


def load_note() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, default=DEFAULT_BENCH, help="multiwoz-dev folder")
    parser.add_argument("--variants", default="", help="names separated by ; (default: all)")
    parser.add_argument("--via", choices=("api", "cli"), default="api")
    parser.add_argument("--no-baselines", action="store_true", help="variants only")
    parser.add_argument(
        "--timing", type=int, default=0, metavar="N", help="time N trainings of the kept variant"
    )
    parser.add_argument("--record", action="store_true", help="write " + str(RESULTS))
    parser.add_argument("--quick", metavar="JSON", help="explore variants (see the module doc)")
    args = parser.parse_args()
    if args.quick:
        return quick(args.bench, json.loads(args.quick))
    names = [n.strip() for n in args.variants.split(";") if n.strip()] or list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {list(VARIANTS)}")
    if args.timing:
        return timing(args.bench, args.timing, args.record)
    load_before = load_note()
    started = time.perf_counter()
    if args.via == "cli":
        rows = run_cli(args.bench, names)
        if args.record:
            with RESULTS.open("a", encoding="utf-8") as out:
                command = shlex.join(["bench/multiwoz.py", *sys.argv[1:]])
                out.write(CLI_SECTION.format(command=command, load=load_note(), table=table(rows)))
        return 0
    else:
        rows = run_api(args.bench, names, not args.no_baselines)
    minutes = (time.perf_counter() - started) / 60
    load = f"load average (1/5/15 min) {load_before} at the start, {load_note()} at the end"
    print(table(rows))
    print(load)
    if args.record:
        command = shlex.join(["bench/multiwoz.py", *sys.argv[1:]])
        picked = [f for f in rows if f.name.startswith(("baseline", "before: max_history 2"))]
        picked += [f for f in rows if f.name == KEPT or f.name in ENSEMBLES]
        RESULTS.write_text(
            RESULTS_TEMPLATE.format(
                command=f".venv/bin/python {command}",
                machine=f"{os.cpu_count()} cores, Python {platform.python_version()}",
                load=load,
                minutes=minutes,
                table=table(rows),
                recall=recall_table(picked),
                notes=NOTES,
            ),
            encoding="utf-8",
        )
        print(f"recorded in {RESULTS}")
    return 0


def quick(bench: Path, variants: dict[str, dict[str, Any]]) -> int:
    """Each LightGBMPolicy variant trained once, predicting every validation state in one
    matrix (options JSON; ``listen_weights``: the weights to try on the same model)."""
    bot = load_bench(bench)
    with shared_states():
        tests = expand(bot.test_stories, Problems())
        gold: list[tuple[int, Any, Any, str]] = []  # (story, history, context, action)
        for index, conv in enumerate(tests):
            turns = conversation_states(conv, bot.domain)
            contexts = turn_contexts(turns[0].states) if turns else []
            # the replay does not predict the closing action_listen after the last step
            gold += [(index, t.history, contexts[t.index], t.action) for t in turns[:-1]]
        for name, options in variants.items():
            options = dict(options)
            weights = options.pop("listen_weights", [options.pop("listen_weight", 1.0)])
            (policy,), seconds, cpu = trained([LightGBMPolicy(**options)], bot)
            assert isinstance(policy, LightGBMPolicy) and policy.featurizer and policy.booster
            used = [c for _, _, c, _ in gold] if policy.turn_features else None
            matrix = policy.featurizer.matrix([h for _, h, _, _ in gold], used)
            raw = np.asarray(policy.booster.predict(matrix, num_threads=1))
            for weight in weights:
                policy.listen_weight = float(weight)
                scores = np.vstack([policy._weigh_listen(row) for row in raw])
                predicted = [policy.classes[i] for i in scores.argmax(axis=1)]
                targets = [action for *_, action in gold]
                right = [g == p for g, p in zip(targets, predicted, strict=True)]
                acts = [r for r, g in zip(right, targets, strict=True) if g != ACTION_LISTEN]
                failed = {story for (story, *_), r in zip(gold, right, strict=True) if not r}
                confusion = listen_act_confusion(targets, predicted)
                print(
                    f"{name}, listen_weight {weight}: excl. listen {sum(acts) / len(acts):.3f}, "
                    f"all {sum(right) / len(right):.3f}, dialogues "
                    f"{1 - len(failed) / len(tests):.3f}, act -> listen "
                    f"{confusion.get('act -> listen', 0)}, listen -> other action "
                    f"{confusion.get('listen -> other action', 0)}; train {seconds:.1f} s "
                    f"({cpu:.1f} CPU s)",
                    flush=True,
                )
    return 0


def timing(bench: Path, runs: int, record: bool) -> int:
    """Train the kept variant ``runs`` times; print (and append to the results) each time
    with the load average around it."""
    bot = load_bench(bench)
    lines = []
    for _ in range(runs):
        before = load_note()
        _, seconds, cpu = trained([LightGBMPolicy(**VARIANTS[KEPT])], bot)
        lines.append(
            f"- {seconds:.1f} s, {cpu:.1f} CPU s (load average {before} before, "
            f"{load_note()} after)"
        )
        print(lines[-1], flush=True)
    if record:
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write(
                f"\n## Training time of the kept variant\n\n`.venv/bin/python bench/multiwoz.py "
                f"--timing {runs} --record`, one training after another:\n\n"
                + "\n".join(lines)
                + "\n"
            )
    return 0


CLI_SECTION = """
## Through `chinwag train` / `chinwag test`

`.venv/bin/python {command}` (load average at the end {load}): each row is `chinwag train
--force` on a scratch bot folder linking the set (train s: the whole command, with loading,
the data checks and the archive; CPU s: the command's CPU time) and `chinwag test` on
validation/, read from story_report.json and failed_test_stories.yml.

{table}
"""

RESULTS_TEMPLATE = """# MultiWOZ dialogue policy: LightGBMPolicy variants and baselines

Command: `{command}` ({minutes:.0f} min in all)

Machine: {machine}; {load} (other helpers share the 2 cores: training times are wall
time under that load, and vary with it).

Data: ../shared/bench/multiwoz-dev: trained on data/ (1,419 stories), tested on
validation/ (246 stories, 4,790 actions of which 3,012 are not action_listen) with the
replay `chinwag test` uses (core/evaluate.py `evaluate_stories`). Accuracy excl. listen is
over the actions whose gold is not action_listen; dialogues is whole-story accuracy;
train s is training the policy (states built from the stories included). The confusion
counts gold listen/act against predicted listen / the right action / another action. ECE is
the expected calibration error (10 bins) of the winning confidence; "conf. < 0.3" is the
share of predictions a core fallback threshold of 0.3 would catch and their accuracy.
Variants that differ only in listen_weight share one trained model (hence one train s).

{table}

Per-action recall (the baselines, the issue's starting point and the kept variant):

{recall}

{notes}
"""

NOTES = """## What was tried, and what was kept

Every row of the first table is a variant run through the replay above. Before them, a quick
path explored hyper-parameters on the same states (the validation stories' states as
`conversation_states` builds them, predicted as one matrix: the figures equal the replay's,
checked on "before: max_history 5", 0.681, and "new defaults", 0.706). Quick-path figures,
accuracy excluding listen / all actions:

| variant (turn features + count weights unless said) | excl. listen | all |
|---|---|---|
| max_history 2 | 0.697 | 0.767 |
| max_history 3 | 0.701 | 0.771 |
| max_history 5 | 0.706 | 0.775 |
| max_history 8 | 0.695 | 0.770 |
| min_data_in_leaf 20 (instead of 1) | 0.701 | 0.771 |
| learning_rate 0.1, 100 rounds, min_data_in_leaf 5 (1.5x time) | 0.702 | 0.775 |
| two models (listen or act, then which act), listen weight 1.0 | 0.711 | 0.759 |
| two models (listen or act, then which act), listen weight 0.8 | 0.727 | 0.760 |
| two models (listen or act, then which act), listen weight 0.6 | 0.745 | 0.753 |
| two models (listen or act, then which act), listen weight 0.5 | 0.753 | 0.749 |
| two models (listen or act, then which act), listen weight 0.4 | 0.755 | 0.747 |
| two models (listen or act, then which act), listen weight 0.3 | 0.759 | 0.745 |
| one model, listen weight 0.8 | 0.713 | 0.770 |
| one model, listen weight 0.6 | 0.728 | 0.765 |
| one model, listen weight 0.5 | 0.739 | 0.762 |
| one model, listen weight 0.4 | 0.748 | 0.758 |
| one model, listen weight 0.3 | 0.756 | 0.749 |
| one model, listen weight 0.2 | 0.761 | 0.741 |
| class prior correction p(a) / prior(a)^0.1 | 0.714 | 0.771 |
| class prior correction p(a) / prior(a)^0.2 | 0.726 | 0.765 |
| class prior correction p(a) / prior(a)^0.3 | 0.728 | 0.755 |
| class prior correction p(a) / prior(a)^0.5 | 0.730 | 0.738 |
| prior correction ^0.1 and listen weight 0.5 | 0.749 | 0.758 |
| prior correction ^0.2 and listen weight 0.5 | 0.755 | 0.751 |
| prior correction ^0.3 and listen weight 0.5 | 0.751 | 0.740 |
| prior correction ^0.5 and listen weight 0.5 | 0.742 | 0.713 |

Kept as LightGBMPolicy's new defaults (they help on every measure): **count weights** (each
distinct (history, action) example weighted by how often the stories show it, instead of
once as Rasa's featurizer does: human dialogues repeat and disagree, and the majority
should win; +2.0 points) and the **turn features** (one block read from the whole history
by `core.policies.states.turn_context`: the actions taken since the user spoke and their
count, the bot's previous turn, the slots the user's message changed, the slots changed
since, the number of user turns, every earlier action; +0.5 on top of count weights).
max_history stays 5; LightGBM's parameters stay as they were (nothing above beat them).

Not kept: two separate models (a slightly worse listen/act trade-off than one model with a
listen weight, and two boosters to persist), the class prior correction (it mostly moves
the same listen/act boundary, at a higher cost in overall accuracy), other max_history
values and LightGBM parameters.

**The listen weight is a trade-off, not a free gain.** The largest error pairs are
`reqmore_general` vs `action_listen` (does the clerk add "anything else?") and
`bye_general` vs `welcome_general`, which the stories (no user text, status slots only)
cannot tell apart. `listen_weight` (the two-step decision: P(listen) weighed against acting,
the actions keeping their shares, still a distribution) turns act -> listen errors into
listen -> act errors: accuracy excluding listen rises, accuracy over all actions falls.
The kept variant takes the least listen bias (the largest weight on a 0.05 grid) that
reaches 0.75 excluding listen on this validation split: **listen_weight 0.35**. Its
default stays 1.0 (no bias), so the corpus bots are unchanged by it; a bot trained on human
dialogues sets it in config.yml (`- name: LightGBMPolicy` with `listen_weight: 0.35`).

Its cost, in the table: listen -> other action errors roughly double (the bot adds an
action, mostly `reqmore_general`, where the clerk stopped), accuracy over all actions
falls by about 2 points and whole-dialogue accuracy from 0.073 to 0.020.

In a Memoization + Rule + LightGBM ensemble (the last two rows) the kept variant loses about a
point: MemoizationPolicy answers remembered histories with confidence 1.0 and priority 3,
and on human dialogues a remembered history is often followed by something else.

Confidences: the listen weight keeps a distribution (a prior shift), so the ensemble
compares it with the other policies' and RulePolicy's core fallback threshold reads it as
before; ECE (about 0.02 to 0.03 for every LightGBM variant) and the share below 0.3 are in
the first table. The corpus bots (tests/corpus) still reproduce their stories and pass
their test stories with the new defaults.

Training time: the states of the 1,419 stories are built once per training, then
LightGBM (60 rounds x 50 classes, most of the time). The turn contexts of a story are
computed in one pass (`turn_contexts`); train s is wall time on the shared machine, with
the CPU seconds beside it.

## Second round: richer state, other LightGBM parameters (none kept)

Goal of this round: 0.75 excluding listen with accuracy over all actions and whole
dialogues no worse than the defaults (0.775 / 0.073), from better state rather than the
listen trade. Explored with `--quick` (accuracy excluding listen and dialogues equal the
replay's; its "all" reads about 0.002 higher, its listen -> act counts a little lower).
Each cell: excl. listen / all / dialogues. "Tokens": intent, entity, slot and action names
split at `_` (generic: `inform_hotel` -> `inform`, `hotel`), token counts for the user's
message, the last action, the actions since the user spoke (a bag), the bot's previous
turn, the slots the user changed and earlier user messages. "Turn history": this turn's
slot changes by kind (set / unset, beside changed) and the intents and entities of the
user's earlier messages, a bag decayed by 0.5 per message (beyond max_history). ff:
feature_fraction; min_data: min_data_in_leaf; lr: learning_rate; bag: bagging_fraction.
One of the 4 averaged boosters alone scores 0.685-0.690.

| variant (on the defaults) | listen_weight 1.0 | listen_weight 0.6 |
|---|---|---|
| the defaults | 0.706 / 0.777 / 0.073 | 0.728 / 0.768 / 0.045 |
| tokens | 0.703 / 0.773 / 0.069 | 0.729 / 0.768 / 0.057 |
| turn history | 0.699 / 0.771 / 0.073 | 0.729 / 0.768 / 0.049 |
| both | 0.694 / 0.771 / 0.073 | 0.728 / 0.767 / 0.061 |
| both, max_history 3 | 0.703 / 0.770 / 0.069 | 0.730 / 0.768 / 0.065 |
| both, 90 rounds | 0.698 / 0.770 / 0.073 | 0.729 / 0.768 / 0.069 |
| both, feature_fraction 0.5 | 0.701 / 0.772 / 0.077 | 0.732 / 0.769 / 0.057 |
| both, ff 0.5, min_data 5, lr 0.1, 120 rounds | 0.697 / 0.772 / 0.077 | 0.732 / 0.767 / 0.057 |
| turn history, min_data_in_leaf 3 | 0.698 / 0.773 / 0.069 | 0.726 / 0.768 / 0.057 |
| feature_fraction 0.5 | 0.696 / 0.772 / 0.057 | 0.724 / 0.765 / 0.049 |
| lambda_l2 5 (instead of 1) | 0.700 / 0.773 / 0.065 | 0.725 / 0.767 / 0.057 |
| lambda_l2 5, 100 rounds | 0.703 / 0.775 / 0.061 | 0.730 / 0.769 / 0.061 |
| 4 boosters averaged (seeds 0-3, ff 0.7, bag 0.8) | 0.698 / 0.773 / 0.061 | 0.729 / 0.769 / 0.061 |
| learning_rate 0.3, 40 rounds (diverges) | 0.619 / 0.711 / 0.045 | - |
| learning_rate 0.15, 80 rounds | 0.701 / 0.776 / 0.069 | (0.35) 0.752 / 0.757 / 0.028 |
| num_leaves 6, 80 rounds | 0.696 / 0.776 / 0.065 | (0.35) 0.747 / 0.754 / 0.028 |

None moves accuracy excluding listen by more than the run-to-run spread of such changes
(about half a point), so none was kept (the feature variants were measured on uncommitted
code and dropped; the defaults are unchanged). Why: the stories disagree with themselves.
The default model reproduces only 0.778 of its own training examples' actions excluding
listen (0.833 of all); 200 rounds fit them to 0.865 and lose on validation. The largest
error pairs on validation, at the defaults: `reqmore_general` -> listen 159, listen ->
`reqmore_general` 114, `bye_general` -> `welcome_general` 56 and back 39, `greet_general` ->
listen 37, `request_train` -> `inform_train` 36: whether the clerk adds "anything else?",
says "bye" or "you're welcome", asks or informs, depends on what the user said, which these
stories do not carry (intents `inform` / `bye`, entities and status slots only). Per-token,
bag, decayed and slot-kind features describe the same state again; they add no information
about that choice.

**So the goal is not met by better state on this data**: 0.75 excluding listen is reached
only with the listen trade (`listen_weight` 0.35: 0.753, at 0.754 over all actions and
0.020 whole dialogues, against 0.706 / 0.775 / 0.073 at the defaults), and not in the
Memoization + Rule + LightGBM ensemble (MemoizationPolicy answers remembered histories,
often followed by something else in human dialogues: at the defaults the ensemble scores
0.699 / 0.769 / 0.057, below LightGBMPolicy alone, with `listen_weight` 0.35 0.742).

## Third round: back-off statistics, dialogue context, objectives (none reaches the goal)

Goal and rule as in round 2: 0.75 excluding listen while accuracy over all actions stays at
least 0.775 and listen -> listen at least about 1,575 (the defaults' 1,584 in the replay), so
that the gain is not the listen trade. Tuned on the validation split, the only split the set
has (there is no separate test split: figures of a variant picked on it are optimistic).
Explored on the `--quick` states with a scratch script (uncommitted: the feature variants
were dropped), LightGBM defaults unless said; on that path the defaults read 0.706 / 0.777 /
0.073 with listen -> listen 1,597 (about 13 above the replay's). lw: listen_weight. Cells:
excl. listen / all / dialogues (listen -> listen).

- stacking: the training stories' next-action distribution for the context at several
  lengths, out-of-fold (5 or 10 folds by dialogue) for training rows and from all stories
  for validation, P(each class) and log(support) per length as features. "5 lengths":
  previous action; + intent; last 2 actions + intent; this turn's actions + intent; +
  entities (3x training time). "long": this turn's actions + intent + entities; + the slots
  the user changed and the bot's previous turn; the whole window of 5 states + turn context.
  "short": previous action + intent; this turn's actions + intent (+ entities with 10 folds).
- back-off: the same counts as a model, interpolated from the longest seen context down
  (Witten-Bell-like, beta 0.5 to 8); "mixed": with LightGBM, linear or geometric, back-off
  share 0.2 to 0.6 (best of 54 cells); "init_score": its log-probabilities (scale 0.3 to
  1.0, out-of-fold) as LightGBM's starting scores, 30 or 60 rounds (best shown).
- dialogue and turn context: "action counts": each action's count so far; "domains done":
  actions per domain (name suffix) and domains booked; "mentioned": the user's entity
  domains (prefix counts), domains with set slots, how many mentioned and not booked;
  "cross": the current message's domains, their overlap with the bot's previous turn's and
  this turn's, current-and-booked; "position": actions so far, position in the turn, act
  types this turn (name prefix counts); "clerk style": bot turns so far, their mean length,
  share ending with / containing reqmore_general, share with several actions, the last
  turn's last action and length.
- factored: act type x domain (two boosters over the same features), alone and mixed.
- objectives: multiclassova; early stopping on 10% of the training dialogues (lr 0.1,
  stopped at 77 rounds, then trained on all; 51 s); dart (LightGBM's drop rates unless said).

| variant | lw | excl. / all / dialogues (listen -> listen) |
|---|---|---|
| the defaults | 1.0 | 0.706 / 0.777 / 0.073 (1597) |
| the defaults | 0.8 | 0.713 / 0.773 / 0.065 (1555) |
| stacking, 5 lengths | 1.0 | 0.688 / 0.766 / 0.069 (1597) |
| stacking, long | 1.0 | 0.693 / 0.763 / 0.061 (1568) |
| stacking, short, min_data_in_leaf 20 | 1.0 | 0.678 / 0.767 / 0.065 (1634) |
| stacking, long, min_data_in_leaf 20 | 1.0 | 0.696 / 0.762 / 0.069 (1555) |
| stacking, short, 10 folds | 1.0 | 0.690 / 0.766 / 0.069 (1588) |
| stacking, long, 10 folds | 1.0 | 0.692 / 0.766 / 0.053 (1587) |
| back-off alone (6 lengths, beta 2) | - | 0.637 / 0.722 / 0.020 (1542) |
| back-off mixed (geometric, share 0.2) | 1.0 | 0.711 / 0.779 / 0.073 (1590) |
| back-off as init_score (scale 0.6, 30 rounds) | 1.0 | 0.698 / 0.771 / 0.081 (1590) |
| action counts | 1.0 | 0.703 / 0.775 / 0.073 (1595) |
| action counts | 0.8 | 0.711 / 0.770 / 0.065 (1547) |
| domains done | 1.0 | 0.699 / 0.774 / 0.069 (1602) |
| domains done | 0.8 | 0.709 / 0.772 / 0.049 (1563) |
| mentioned | 1.0 | 0.696 / 0.772 / 0.061 (1599) |
| mentioned | 0.8 | 0.709 / 0.768 / 0.057 (1543) |
| cross | 1.0 | 0.699 / 0.775 / 0.061 (1607) |
| cross | 0.8 | 0.710 / 0.771 / 0.057 (1555) |
| position | 1.0 | 0.700 / 0.772 / 0.065 (1590) |
| position | 0.8 | 0.713 / 0.768 / 0.061 (1532) |
| clerk style | 1.0 | 0.702 / 0.774 / 0.061 (1595) |
| clerk style | 0.8 | 0.715 / 0.772 / 0.057 (1546) |
| all dialogue and turn context | 1.0 | 0.695 / 0.771 / 0.057 (1600) |
| all dialogue and turn context | 0.8 | 0.708 / 0.767 / 0.053 (1541) |
| factored, alone | 1.0 | 0.697 / 0.771 / 0.061 (1591) |
| factored, mixed (share 0.3 to 0.7, best) | 1.0 | 0.707 / 0.776 / 0.073 (1591) |
| multiclassova | 1.0 | 0.694 / 0.770 / 0.061 (1597) |
| multiclassova | 0.8 | 0.715 / 0.769 / 0.053 (1530) |
| early stopping | 1.0 | 0.705 / 0.779 / 0.061 (1607) |
| early stopping | 0.8 | 0.715 / 0.774 / 0.053 (1553) |
| dart, 60 rounds | 1.0 | 0.699 / 0.781 / 0.073 (1635) |
| dart, 60 rounds | 0.9 | 0.711 / 0.781 / 0.065 (1600) |
| dart, 60 rounds | 0.8 | 0.718 / 0.780 / 0.065 (1570) |
| dart, 60 rounds | 0.5 | 0.749 / 0.771 / 0.020 (1436) |
| dart, drop_rate 0.05 | 0.85 | 0.715 / 0.779 / 0.069 (1578) |
| dart, drop_rate 0.2 | 0.85 | 0.713 / 0.779 / 0.061 (1586) |
| dart, 80 rounds | 1.0 | 0.700 / 0.780 / 0.069 (1629) |
| dart, 80 rounds | 0.9 | 0.714 / 0.781 / 0.061 (1591) |
| dart, 80 rounds | 0.85 | 0.717 / 0.781 / 0.061 (1581) |
| dart, 120 rounds | 0.85 | 0.711 / 0.778 / 0.069 (1586) |
| dart, 80 rounds, num_leaves 16 | 0.85 | 0.710 / 0.775 / 0.057 (1574) |
| dart, 80 rounds, feature_fraction 0.5 | 0.85 | 0.709 / 0.779 / 0.061 (1594) |
| dart, 80 rounds, learning_rate 0.15 | 0.85 | 0.712 / 0.780 / 0.069 (1592) |
| dart, 80 rounds, learning_rate 0.3 | 0.85 | 0.673 / 0.751 / 0.045 (1569) |

Back-off statistics do not help: LightGBM's trees over the same states already hold what the
counts say, and out-of-fold counts are noisier than the trees (with min_data_in_leaf 1 the
model splits on them and overfits). Dialogue-level and turn-level context describe the state
again (as round 2's tokens did). The one change that helps a little is **DART boosting**: it
lifts accuracy over all actions by about half a point at any listen weight, which buys about
a point excluding listen under the rule. Through the replay (the "dart, 80 rounds" rows of
the first table: `--no-baselines --variants` with their names), listen_weight 0.9 gives
**0.714 / 0.778 / 0.061 with listen -> listen 1,579** (0.85: 0.717 / 0.778 / 0.061, 1,569),
training 21 s; the same through `chinwag train` / `chinwag test` with `boosting: dart` in
config.yml (`--via cli`, the row in that section). It is now an option (`boosting: dart`;
the default stays `gbdt`, so the corpus bots and the defaults are unchanged), not the
default: it is far from the goal, one point is about the spread of such changes, whole
dialogues fall from 0.073 to 0.061, and training takes about 1.5x as long.

**The ceiling, and why.** Three measurements on this split:

- the clerks disagree on identical states: validation actions (not listen) whose *whole
  history* occurs 20 times or more in training (272 actions, mostly dialogue openings) are
  the training majority's action for 0.688 of them, and the defaults score exactly 0.688
  there; seen 5-19 times (222): majority 0.793, defaults 0.811; 1-4 times (220): 0.677,
  0.741. That is the Bayes accuracy of those states, and the model is at it. To average 0.75
  the 2,298 actions on unseen histories (76%; the defaults 0.695) would have to reach about
  0.75, above the training majority's 0.717 over all 714 actions on shared histories;
- trained on training + validation and scored on validation (in-sample), the defaults reach
  only 0.774 excluding listen (0.827 all);
- the learning curve (the defaults on 25 / 50 / 75 / 100% of the training dialogues): 0.662 /
  0.687 / 0.690 / 0.706 excluding listen, about +2 points a doubling: 0.75 would take some
  4x the dialogues. The official MultiWOZ train split (8,434 dialogues, not in the set, see
  SOURCE.txt) is where the remaining gain would come from, not features.

What separates the confused pairs (`reqmore_general` / listen, `bye_general` /
`welcome_general`, `request_*` / `inform_*`) is what the user said; the stories carry only
`inform` / `bye` and status entities. Under the rule the ceiling with these stories is about
0.71-0.72 excluding listen (dart with listen_weight 0.85-0.9); 0.75 is reached only by the
listen trade (round 1).

## Training time

A story's states are built once per `chinwag train`: the data checks (contradictions)
and every policy share them (`shared_states()` around the whole command; conversations
are matched by their steps and stories, so the checks' and the training's expansions
share). Building the states reads the slots only after an event that can change them, and
an intent's used entities are remembered while states are shared; the featurizer computes
a state's columns once per matrix, not once per window it appears in. LightGBMPolicy
training on MultiWOZ went from about 20 to 12-15 CPU seconds (states ~2, LightGBM ~10),
with the same states and the same model (the figures above did not move). The whole
`chinwag train --force` on the set (LightGBMPolicy alone; loading, data checks, training,
archive), measured twice each, alternating, at 6807429 (before) and after: 32.0 / 27.2 s
wall, 29.9 / 26.0 CPU s before; 24.1 / 21.1 s wall, 22.6 / 20.4 CPU s after. What is left:
LightGBM's boosting (about 12 s), the data checks (about 2 s beyond building the states,
4.8 s, which training then reuses), imports (3 s).

`--via cli` trains and tests each variant with `chinwag train` and `chinwag test` on a
scratch bot folder (links to domain.yml, data/ and validation/ as tests/, a config.yml
with the variant) and reads story_report.json and failed_test_stories.yml.
"""


if __name__ == "__main__":
    sys.exit(main())
