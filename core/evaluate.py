"""``chinwag test``: test stories and NLU evaluation, with Rasa's semantics and reports.

Test stories (``rasa/core/test.py`` of Rasa 3.6, ``_predict_tracker_actions``): each test
story (checkpoints and ``or`` expanded) becomes Rasa's tracker events; the replay starts
from the first event and then, for every event:

* an action: the ensemble predicts on the tracker so far (when it predicts the active form
  but the story has another action, Rasa's ``emulate_loop_rejection`` adds an
  ``ActionExecutionRejected`` and asks again); the story's action is applied (custom actions
  are never run) and a wrong prediction is remembered for ``# predicted:``;
* a user message with text: NLU parses it and intent and entities are compared (entities
  as Rasa does, see :func:`story_entity_set`: span, type and value); the story's intent and
  entities are what the tracker continues with;
* anything else (slots, loops) is applied as written.

A story fails when any action or intent/entity is wrong; a story that names an intent,
action, response, slot or form the domain lacks is not replayed and fails with that reason
(a wrong test is never a reason to refuse training). Reports: story_report.json (sklearn's
classification_report dict of the actions, ``conversation_accuracy`` and
``action_accuracy`` with and without ``action_listen``: Rasa prints the latter),
failed_test_stories.yml (``# predicted: x`` after each wrong action or intent),
story_confusion_matrix.png.

NLU evaluation (``rasa test nlu``): on a held-out file, on the training data, or with
N-fold cross-validation (folds drawn per intent, seeded): intent_report.json,
entity_report.json, intent_errors.json, intent_confusion_matrix.png and
intent_histogram.png, plus a suggested FallbackClassifier threshold (see
:func:`suggest_threshold`).
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chinwag.core.data.loader import Bot, read_data_file
from chinwag.core.data.problems import Problems
from chinwag.core.data.story_graph import Conversation, expand
from chinwag.core.data.training import ActionStep, LoopStep, Message, NLUData, SlotStep, UserStep
from chinwag.core.domain import DEFAULT_INTENTS, DEFAULT_SLOTS, Domain
from chinwag.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    SlotSet,
    UserUttered,
)
from chinwag.core.nlu.fallback import FALLBACK_INTENT, FallbackClassifier
from chinwag.core.nlu.interpreter import parse_payload
from chinwag.core.policies.ensemble import PolicyEnsemble
from chinwag.core.policies.states import ACTION_LISTEN, conversation_events
from chinwag.core.tracker import Tracker

logger = logging.getLogger(__name__)

CIRCUIT_BREAKER = "circuit breaker tripped"
MAX_PREDICTIONS = 10  # Rasa's MAX_NUMBER_OF_PREDICTIONS
# share of correctly classified messages the suggested fallback threshold keeps
KEEP_HITS = 0.95

Parser = Callable[[str], dict[str, Any]]


# ------------------------------------------------------------------ parsing


def make_parser(nlu: Any, pipeline_config: list[dict[str, Any]]) -> Parser:
    """Text -> parse data as the agent understands it: payloads as sent, anything else
    through the NLU pipeline (``parse_sync``) and the config's FallbackClassifier."""
    fallback = next(
        (
            FallbackClassifier.from_config(c)
            for c in pipeline_config
            if c.get("name") == "FallbackClassifier"
        ),
        None,
    )

    def parse(text: str) -> dict[str, Any]:
        payload = parse_payload(text)
        if payload is not None:
            return payload
        parsed: dict[str, Any] = nlu.parse_sync(text)
        return fallback.apply(parsed) if fallback else parsed

    return parse


# what ``rasa test nlu`` leaves out of its entity evaluation (rasa/nlu/test.py,
# ``PRETRAINED_EXTRACTORS``): extractors not trained on the bot's data; chinwag's built-in
# extractor reports itself as DucklingEntityExtractor
PRETRAINED_EXTRACTORS = frozenset({"DucklingEntityExtractor", "SpacyEntityExtractor"})


def _surface(entity: dict[str, Any], text: str) -> str:
    """The entity's text as written (before any synonym mapping), lowercased; its value when
    it has no usable span."""
    start, end = entity.get("start"), entity.get("end")
    if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
        return text[start:end].strip().lower()
    return str(entity.get("value")).strip().lower()


def _overlaps(a: dict[str, Any], b: dict[str, Any], text: str) -> bool:
    spans = [(e.get("start"), e.get("end")) for e in (a, b)]
    if all(isinstance(x, int) and isinstance(y, int) for x, y in spans):
        (s1, e1), (s2, e2) = spans
        return bool(s1 < e2 and s2 < e1)  # type: ignore[operator]
    x, y = _surface(a, text), _surface(b, text)
    return x in y or y in x


def entity_counts(
    text: str, gold: Sequence[dict[str, Any]], predicted: Sequence[dict[str, Any]]
) -> dict[str, dict[str, list[int]]]:
    """Per entity type ``[true positives, predicted, gold]`` for one message, ``exact`` (type
    and text as written match: a synonym-mapped value counts by the words it was found in) and
    ``overlap`` (type matches and the spans overlap, each gold entity matched once).
    Predictions of pretrained extractors are left out, as ``rasa test nlu`` does."""
    got = [e for e in predicted if e.get("extractor") not in PRETRAINED_EXTRACTORS]
    out: dict[str, dict[str, list[int]]] = {"exact": {}, "overlap": {}}
    for counts in out.values():
        for e in gold:
            counts.setdefault(str(e.get("entity")), [0, 0, 0])[2] += 1
        for e in got:
            counts.setdefault(str(e.get("entity")), [0, 0, 0])[1] += 1
    want = Counter((str(e.get("entity")), _surface(e, text)) for e in gold)
    for key, n in Counter((str(e.get("entity")), _surface(e, text)) for e in got).items():
        out["exact"][key[0]][0] += min(n, want.get(key, 0))
    unmatched = list(gold)
    for e in got:
        hit = next(
            (g for g in unmatched if g.get("entity") == e.get("entity") and _overlaps(g, e, text)),
            None,
        )
        if hit is not None:
            unmatched.remove(hit)
            out["overlap"][str(e.get("entity"))][0] += 1
    return out


ENTITY_KEYS = ("start", "end", "entity", "value")


def story_entity_set(entities: Sequence[dict[str, Any]]) -> set[tuple[tuple[str, Any], ...]]:
    """A test story's (or the NLU's) entities as Rasa 3.6 compares them in ``rasa test``
    (``_clean_entity_results`` and ``_check_entity_prediction_target_mismatch`` in
    rasa/core/test.py): per entity its start, end, type and value (an extractor's value as a
    string: a story's values are strings), order and duplicates ignored. Roles, groups and
    confidences are not compared; values are compared exactly (a time is Duckling's ISO
    string, in the configured timezone or Duckling's default America/Los_Angeles)."""
    out: set[tuple[tuple[str, Any], ...]] = set()
    for e in entities:
        items: list[tuple[str, Any]] = []
        for key in ENTITY_KEYS:
            if key in e:
                value = e[key]
                if key == "value" and "extractor" in e:
                    value = str(value)
                items.append((key, value))
        out.add(tuple(items))
    return out


# ------------------------------------------------------------------ test stories


@dataclass
class StepResult:
    """One line of a replayed story, for the failed-stories file."""

    kind: str  # "user", "action", "slot", "loop"
    data: dict[str, Any]
    predicted: str | None = None  # set when the prediction was wrong


@dataclass
class StoryResult:
    name: str
    steps: list[StepResult] = field(default_factory=list)
    action_targets: list[str] = field(default_factory=list)
    action_predictions: list[str] = field(default_factory=list)
    policies: list[str | None] = field(default_factory=list)
    nlu_errors: int = 0
    # why the story could not be replayed (names the domain lacks); None when it was
    reason: str | None = None

    @property
    def failed(self) -> bool:
        return (
            self.reason is not None
            or self.nlu_errors > 0
            or self.action_targets != self.action_predictions
        )


@dataclass
class StoryEvaluation:
    stories: list[StoryResult]
    report: dict[str, Any]

    @property
    def failed(self) -> list[StoryResult]:
        return [s for s in self.stories if s.failed]

    @property
    def passed(self) -> int:
        return len(self.stories) - len(self.failed)


def _predict(
    ensemble: PolicyEnsemble, tracker: Tracker, domain: Domain, gold: str
) -> tuple[str, str | None]:
    """Rasa's ``_collect_action_executed_predictions``: predict, and predict again after an
    emulated rejection when the active form was predicted but the story goes elsewhere."""
    action, prediction = ensemble.predict(tracker, domain)
    if action != gold and tracker.active_loop_name == action and action in domain.forms:
        tracker.update(ActionExecutionRejected(action))
        action, prediction = ensemble.predict(tracker, domain)
    return action, prediction.policy_name


def _is_loop(name: str, domain: Domain) -> bool:
    return name in domain.forms or domain.is_known_action(name)


def unknown_names(conv: Conversation, domain: Domain) -> list[str]:
    """What a test conversation names that the domain does not declare, described."""
    intents = set(domain.intents) | set(DEFAULT_INTENTS)
    found: list[str] = []
    for step in conv.steps:
        if isinstance(step, UserStep) and step.intent:
            if step.intent.split("/", 1)[0] not in intents:
                found.append(f"intent '{step.intent}'")
        elif isinstance(step, ActionStep) and step.name:
            if not domain.is_known_action(step.name):
                kind = "response" if step.name.startswith("utter_") else "action"
                found.append(f"{kind} '{step.name}'")
        elif isinstance(step, SlotStep):
            found += [
                f"slot '{s}'"
                for s in step.slots
                if s not in domain.slots and s not in DEFAULT_SLOTS
            ]
        elif isinstance(step, LoopStep) and step.name and not _is_loop(step.name, domain):
            found.append(f"active_loop '{step.name}'")
    return list(dict.fromkeys(found))


def replay_story(
    conv: Conversation, domain: Domain, ensemble: PolicyEnsemble, parse: Parser
) -> StoryResult:
    """Replay one test conversation and compare every prediction (see module doc)."""
    missing = unknown_names(conv, domain)
    if missing:
        where = conv.sources[0].location if conv.sources else None
        return StoryResult(
            conv.name,
            reason=f"{', '.join(missing)} not in the domain"
            + (f" (written at {where})" if where else ""),
        )
    events = conversation_events(conv, domain)
    result = StoryResult(conv.name)
    tracker = Tracker(conv.name, domain, events[:1])
    predictions_since_user = 0
    for event in events[1:]:
        if isinstance(event, ActionExecuted):
            gold = event.action_name or event.action_text or ""
            if predictions_since_user >= MAX_PREDICTIONS:
                predicted, policy = CIRCUIT_BREAKER, None
            else:
                predicted, policy = _predict(ensemble, tracker, domain, gold)
            predictions_since_user += 1
            result.action_targets.append(gold)
            result.action_predictions.append(predicted)
            result.policies.append(policy)
            wrong = predicted != gold
            tracker.update(
                ActionExecuted(
                    event.action_name,
                    action_text=event.action_text,
                    policy=policy,
                    timestamp=0.0,
                )
            )
            if gold != ACTION_LISTEN or wrong:
                result.steps.append(
                    StepResult("action", {"action": gold}, predicted if wrong else None)
                )
            continue
        if isinstance(event, UserUttered):
            predictions_since_user = 0
            step = StepResult(
                "user",
                {"intent": event.intent_name, "text": event.text, "entities": event.entities},
            )
            if event.text:
                parsed = parse(event.text)
                got_intent = (parsed.get("intent") or {}).get("name")
                got_entities = list(parsed.get("entities") or [])
                intent_wrong = bool(event.intent_name) and got_intent != event.intent_name
                if "/" in (event.intent_name or "") and intent_wrong:
                    # test stories may name the full retrieval intent (Rasa compares the
                    # response selector's intent_response_key then)
                    key = (
                        (parsed.get("response_selector") or {})
                        .get("default", {})
                        .get("response", {})
                        .get("intent_response_key")
                    )
                    intent_wrong = key != event.intent_name
                entities_wrong = story_entity_set(event.entities) != story_entity_set(got_entities)
                if intent_wrong or entities_wrong:
                    result.nlu_errors += 1
                    step.predicted = _format_message(event.text, str(got_intent), got_entities)
                    step.predicted = f"{got_intent}: {step.predicted}"
            result.steps.append(step)
        elif isinstance(event, SlotSet):
            result.steps.append(StepResult("slot", {event.key: event.value}))
        elif isinstance(event, ActiveLoop):
            result.steps.append(StepResult("loop", {"active_loop": event.name}))
        tracker.update(event)
    return result


def classification_report(targets: list[str], predictions: list[str]) -> dict[str, Any]:
    """sklearn's classification_report as a dict (labels: every target and prediction)."""
    from sklearn.metrics import classification_report as sk_report

    if not targets:
        return {}
    labels = sorted(set(targets) | set(predictions))
    report: dict[str, Any] = sk_report(
        targets, predictions, labels=labels, output_dict=True, zero_division=0
    )
    return report


def action_accuracy(targets: Sequence[str], predictions: Sequence[str]) -> dict[str, Any]:
    """The share of actions predicted right: ``{"accuracy", "correct", "total"}``."""
    correct = sum(t == p for t, p in zip(targets, predictions, strict=True))
    total = len(targets)
    return {"accuracy": correct / total if total else 0.0, "correct": correct, "total": total}


def evaluate_stories(
    bot: Bot,
    ensemble: PolicyEnsemble,
    parse: Parser,
    out_dir: Path | None = None,
) -> StoryEvaluation:
    """Replay every test story of ``bot``; write the reports into ``out_dir`` when given."""
    conversations = [c for c in expand(bot.test_stories, Problems()) if c.kind == "test"]
    results = [replay_story(c, bot.domain, ensemble, parse) for c in conversations]
    targets = [a for r in results for a in r.action_targets]
    predictions = [a for r in results for a in r.action_predictions]
    report = classification_report(targets, predictions)
    kept = [(t, p) for t, p in zip(targets, predictions, strict=True) if t != ACTION_LISTEN]
    report["action_accuracy"] = {
        "with_action_listen": action_accuracy(targets, predictions),
        "without_action_listen": action_accuracy([t for t, _ in kept], [p for _, p in kept]),
    }
    correct = sum(not r.failed for r in results)
    report["conversation_accuracy"] = {
        "accuracy": correct / len(results) if results else 0.0,
        "correct": correct,
        "with_warnings": 0,
        "total": len(results),
    }
    evaluation = StoryEvaluation(results, report)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "story_report.json").write_text(json.dumps(report, indent=2), "utf-8")
        (out_dir / "failed_test_stories.yml").write_text(
            failed_stories_yaml(evaluation.failed), "utf-8"
        )
        if targets:
            plot_confusion_matrix(
                targets, predictions, out_dir / "story_confusion_matrix.png", "Actions"
            )
    return evaluation


# ------------------------------------------------------------------ failed stories file

_PLAIN = re.compile(r"^[A-Za-z_][\w./-]*$")


def _scalar(value: Any) -> str:
    """A YAML scalar: plain when safe, else JSON (valid YAML flow style)."""
    if isinstance(value, str) and _PLAIN.match(value) and value not in ("null", "true", "false"):
        return value
    return json.dumps(value, ensure_ascii=False)


def _format_message(text: str, intent: str, entities: Sequence[dict[str, Any]]) -> str:
    """Text with entities annotated as ``[value](entity)`` (Rasa's md_format_message)."""
    spans = sorted(
        (e for e in entities if e.get("start") is not None and e.get("end") is not None),
        key=lambda e: int(e["start"]),
    )
    out, cursor = [], 0
    for e in spans:
        start, end = int(e["start"]), int(e["end"])
        if start < cursor or end > len(text):
            continue
        out.append(text[cursor:start])
        piece = text[start:end]
        if str(e.get("value")) != piece:
            out.append(f'[{piece}]{{"entity": "{e["entity"]}", "value": "{e.get("value")}"}}')
        else:
            out.append(f"[{piece}]({e['entity']})")
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def _comment(predicted: str) -> str:
    return "  # predicted: " + " ".join(predicted.split())


def failed_stories_yaml(stories: list[StoryResult]) -> str:
    """Rasa's failed_test_stories.yml: the stories as replayed, wrong predictions commented."""
    if not stories:
        return "# None of the test stories failed - all good!\n"
    lines = ['version: "3.1"', "stories:"]
    for story in stories:
        lines.append(f"- story: {_scalar(story.name)}")
        if story.reason:
            lines.append(f"  # not run: {' '.join(story.reason.split())}")
        lines.append("  steps:" if story.steps else "  steps: []")
        for step in story.steps:
            comment = _comment(step.predicted) if step.predicted else ""
            if step.kind == "user":
                intent, text = step.data["intent"], step.data["text"]
                if intent:
                    lines.append(f"  - intent: {_scalar(intent)}{comment}")
                    lead = "    "
                else:
                    lead = "  - "
                if text:
                    annotated = _format_message(text, intent or "", step.data["entities"])
                    lines.append(f"{lead}user: |-")
                    lines.extend(f"      {line}" for line in annotated.splitlines() or [""])
                    if not intent and comment:
                        lines[-1] += comment
                elif step.data["entities"]:
                    lines.append("    entities:")
                    for ent in step.data["entities"]:
                        lines.append(
                            f"    - {_scalar(ent.get('entity'))}: {_scalar(ent.get('value'))}"
                        )
            elif step.kind == "action":
                lines.append(f"  - action: {_scalar(step.data['action'])}{comment}")
            elif step.kind == "slot":
                ((key, value),) = step.data.items()
                lines.append("  - slot_was_set:")
                lines.append(f"    - {_scalar(key)}: {json.dumps(value, ensure_ascii=False)}")
            elif step.kind == "loop":
                lines.append(f"  - active_loop: {json.dumps(step.data['active_loop'])}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ plots


def plot_confusion_matrix(
    targets: Sequence[str], predictions: Sequence[str], path: Path, title: str
) -> None:
    """A confusion matrix (rows: true label, columns: predicted) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    labels = sorted(set(targets) | set(predictions))
    matrix = confusion_matrix(targets, predictions, labels=labels)
    size = max(4.0, 0.35 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title} confusion matrix")
    for i in range(len(labels)):
        for j in range(len(labels)):
            if matrix[i, j]:
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=6)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_histogram(hits: Sequence[float], misses: Sequence[float], path: Path) -> None:
    """Intent confidence of hits vs misses (Rasa's intent_histogram.png), before fallback."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    bins = [i / 20 for i in range(21)]
    ax.hist([list(hits), list(misses)], bins=bins, label=["hits", "misses"], stacked=False)
    ax.set_xlabel("confidence")
    ax.set_ylabel("messages")
    ax.set_title("Intent prediction confidence")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ------------------------------------------------------------------ NLU evaluation


@dataclass
class NLUPrediction:
    text: str
    intent: str
    predicted: str
    confidence: float
    entities: list[dict[str, Any]]
    predicted_entities: list[dict[str, Any]]
    # the classifier's own top intent and confidence, before any FallbackClassifier
    raw_intent: str = ""
    raw_confidence: float = 0.0


@dataclass
class NLUEvaluation:
    predictions: list[NLUPrediction]
    intent_report: dict[str, Any]
    entity_report: dict[str, Any]
    threshold: float | None
    misses_caught: float  # share of misses below the threshold
    # cross-validation: per fold {"intent_accuracy", "entity_f1"}, and their mean and spread
    fold_scores: list[dict[str, float]] = field(default_factory=list)

    def fold_summary(self) -> dict[str, dict[str, float]]:
        """Per metric: mean and (population) standard deviation over the folds."""
        out: dict[str, dict[str, float]] = {}
        for key in self.fold_scores[0] if self.fold_scores else []:
            values = [fold[key] for fold in self.fold_scores]
            mean = sum(values) / len(values)
            std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
            out[key] = {"mean": mean, "std": std, "min": min(values), "max": max(values)}
        return out


def fold_scores(predictions: Sequence[NLUPrediction], with_entities: bool) -> dict[str, float]:
    """One fold's intent accuracy and (for bots with annotated entities) entity micro F1."""
    right = sum(p.intent == p.predicted for p in predictions)
    scores = {"intent_accuracy": right / len(predictions) if predictions else 0.0}
    if with_entities:
        report = entity_report(predictions)
        scores["entity_f1"] = report["micro avg"]["f1-score"]
        scores["entity_f1_overlap"] = report["micro avg (span overlap)"]["f1-score"]
    return scores


def suggest_threshold(hits: Sequence[float], misses: Sequence[float]) -> tuple[float | None, float]:
    """The FallbackClassifier threshold that keeps ``KEEP_HITS`` (95%) of the correctly
    classified messages above it: the 5th percentile of the hits' confidence, rounded down
    to 0.01. Returns it with the share of misclassified messages it sends to fallback."""
    if not hits:
        return None, 0.0
    ordered = sorted(hits)
    index = int((1 - KEEP_HITS) * len(ordered))
    threshold = math.floor(round(ordered[min(index, len(ordered) - 1)] * 100, 6)) / 100
    caught = sum(m < threshold for m in misses) / len(misses) if misses else 0.0
    return threshold, caught


def entity_report(predictions: Sequence[NLUPrediction]) -> dict[str, Any]:
    """Per-entity precision/recall/F1 (exact: type and text as written, see
    :func:`entity_counts`), their micro average, and the micro average by span overlap."""
    counts: dict[str, dict[str, list[int]]] = {"exact": {}, "overlap": {}}
    for p in predictions:
        for mode, by_type in entity_counts(p.text, p.entities, p.predicted_entities).items():
            for name, row in by_type.items():
                target = counts[mode].setdefault(name, [0, 0, 0])
                for i, n in enumerate(row):
                    target[i] += n
    report: dict[str, Any] = {name: _prf(*row) for name, row in sorted(counts["exact"].items())}
    for mode, key in (("exact", "micro avg"), ("overlap", "micro avg (span overlap)")):
        totals = [sum(row[i] for row in counts[mode].values()) for i in range(3)]
        report[key] = _prf(*totals)
    return report


def _prf(tp: int, predicted: int, gold: int) -> dict[str, float]:
    precision = tp / predicted if predicted else 0.0
    recall = tp / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1-score": f1, "support": gold}


def _predict_messages(parse: Parser, messages: Sequence[Message]) -> list[NLUPrediction]:
    out: list[NLUPrediction] = []
    for message in messages:
        parsed = parse(message.text)
        intent = parsed.get("intent") or {}
        raw = next(
            (r for r in parsed.get("intent_ranking") or [] if r.get("name") != FALLBACK_INTENT),
            intent,
        )
        out.append(
            NLUPrediction(
                message.text,
                message.base_intent,
                str(intent.get("name")),
                float(intent.get("confidence") or 0.0),
                [e.as_dict() for e in message.entities],
                list(parsed.get("entities") or []),
                str(raw.get("name")),
                float(raw.get("confidence") or 0.0),
            )
        )
    return out


def folds(examples: Sequence[Message], n: int, seed: int = 42) -> list[list[int]]:
    """``n`` folds of example indices, each intent's examples spread over all folds."""
    by_intent: dict[str, list[int]] = {}
    for index, message in enumerate(examples):
        by_intent.setdefault(message.base_intent, []).append(index)
    rng = random.Random(seed)
    out: list[list[int]] = [[] for _ in range(n)]
    offset = 0
    for intent in sorted(by_intent):
        indices = by_intent[intent]
        rng.shuffle(indices)
        for i, index in enumerate(indices):
            out[(offset + i) % n].append(index)
        offset += len(indices)
    return out


def _subset(nlu: NLUData, keep: Sequence[int]) -> NLUData:
    return NLUData(
        examples=[nlu.examples[i] for i in keep],
        synonyms=dict(nlu.synonyms),
        regexes=list(nlu.regexes),
        lookups=dict(nlu.lookups),
        responses=dict(nlu.responses),
    )


def evaluate_nlu(
    bot: Bot,
    out_dir: Path | None,
    *,
    parse: Parser | None = None,
    nlu_file: Path | None = None,
    cross_validation: int | None = None,
    train_parser: Callable[[NLUData], Parser] | None = None,
    problems: Problems | None = None,
) -> NLUEvaluation:
    """Evaluate NLU on ``nlu_file`` (held out), by cross-validation (``train_parser`` trains a
    parser per fold), or on the bot's own training data; write reports into ``out_dir``."""
    problems = problems if problems is not None else Problems()
    if cross_validation:
        if train_parser is None:
            raise ValueError("cross-validation needs train_parser")
        predictions: list[NLUPrediction] = []
        per_fold: list[dict[str, float]] = []
        all_folds = folds(bot.nlu.examples, cross_validation)
        for k, held_out in enumerate(all_folds):
            held = set(held_out)
            train = [i for i in range(len(bot.nlu.examples)) if i not in held]
            logger.info(
                "fold %d/%d: %d to train, %d to test", k + 1, len(all_folds), len(train), len(held)
            )
            fold_parse = train_parser(_subset(bot.nlu, train))
            fold_predictions = _predict_messages(
                fold_parse, [bot.nlu.examples[i] for i in held_out]
            )
            with_entities = any(m.entities for m in bot.nlu.examples)
            per_fold.append(fold_scores(fold_predictions, with_entities))
            predictions += fold_predictions
    else:
        per_fold = []
        if parse is None:
            raise ValueError("evaluation needs a parser")
        if nlu_file is not None:
            data, _ = read_data_file(nlu_file, bot.path, problems)
            messages = data.examples
        else:
            messages = bot.nlu.examples
        predictions = _predict_messages(parse, messages)
    targets = [p.intent for p in predictions]
    predicted = [p.predicted for p in predictions]
    intent_report = classification_report(targets, predicted)
    entities = entity_report(predictions)
    # the histogram and the threshold look at the classifier before any fallback: that is
    # the confidence a FallbackClassifier threshold would be compared with
    hits = [p.raw_confidence for p in predictions if p.intent == p.raw_intent]
    misses = [p.raw_confidence for p in predictions if p.intent != p.raw_intent]
    threshold, caught = suggest_threshold(hits, misses)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "intent_report.json").write_text(json.dumps(intent_report, indent=2), "utf-8")
        (out_dir / "entity_report.json").write_text(json.dumps(entities, indent=2), "utf-8")
        errors = [
            {
                "text": p.text,
                "intent": p.intent,
                "intent_prediction": {"name": p.predicted, "confidence": p.confidence},
            }
            for p in predictions
            if p.intent != p.predicted
        ]
        (out_dir / "intent_errors.json").write_text(json.dumps(errors, indent=2), "utf-8")
        if targets:
            plot_confusion_matrix(
                targets, predicted, out_dir / "intent_confusion_matrix.png", "Intents"
            )
        plot_histogram(hits, misses, out_dir / "intent_histogram.png")
    evaluation = NLUEvaluation(predictions, intent_report, entities, threshold, caught, per_fold)
    if out_dir is not None and per_fold:
        summary = {"folds": per_fold, **evaluation.fold_summary()}
        (out_dir / "cross_validation.json").write_text(json.dumps(summary, indent=2), "utf-8")
    return evaluation
