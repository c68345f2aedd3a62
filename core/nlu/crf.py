"""Conditional random field entity extraction (python-crfsuite), with roles and groups.

As Rasa's CRFEntityExtractor: tokens are tagged BILOU for the entity; roles and groups, when
the training data has any, get their own CRF whose features include the entity tag (the gold
tag when training, the predicted one when tagging). Token features are Rasa's
LexicalSyntacticFeaturizer set (low, prefix, suffix, shape, digit, title, upper, BOS/EOS) in
a window, plus "this token is inside a regex / lookup-table / built-in match" and "this token
is (part of) an entity value annotated in the training data" (leave-one-out while training)
or listed as a synonym of one (the NLU data's synonyms: a dictionary, always on).
Training adds, per annotated example, copies whose entity values are swapped for other training
values of the same entity (as Snips NLU's data augmentation), so the context around an entity
is learnt apart from its value.
"""

from __future__ import annotations

import bisect
import math
import os
import random
import tempfile
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any

import pycrfsuite

from chinwag.core.data.training import Entity, Message
from chinwag.core.nlu.builtin import BuiltinExtractor
from chinwag.core.nlu.patterns import Pattern, compile_patterns
from chinwag.core.nlu.tokenizer import Token, Tokenizer

NO_TAG = "O"
LAYERS = ("entity", "role", "group")
MAX_VALUE_TOKENS = 6
# built-in dimensions whose spans are token features (Snips' engine used its datetime builtin)
BUILTIN_FEATURES = ("time", "number", "ordinal", "amount-of-money", "duration")
Gazetteer = dict[str, dict[str, int]]  # lowercased value tokens joined by " " -> entity -> count


@dataclass
class CRFConfig:
    window: int = 1
    c1: float = 0.05
    c2: float = 0.01
    max_iterations: int = 50
    builtin_features: bool = True  # token inside a built-in time/number/... match
    value_features: bool = True  # tokens forming (or in) a value annotated in the training data
    augment: int = 1  # copies of each annotated example with swapped entity values
    algorithm: str = "auto"  # crfsuite's training algorithm, or "auto" (see plan_training)
    # or "bio", or "io" (entity type only: labels^2 is 16x smaller than BILOU's at 50 types)
    tagging: str = "bilou"

    def as_dict(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "c1": self.c1,
            "c2": self.c2,
            "max_iterations": self.max_iterations,
            "builtin_features": self.builtin_features,
            "value_features": self.value_features,
            "augment": self.augment,
            "algorithm": self.algorithm,
            "tagging": self.tagging,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CRFConfig:
        return cls(
            window=int(data.get("window", 1)),
            c1=float(data.get("c1", 0.05)),
            c2=float(data.get("c2", 0.01)),
            max_iterations=int(data.get("max_iterations", 50)),
            builtin_features=bool(data.get("builtin_features", True)),
            value_features=bool(data.get("value_features", True)),
            augment=int(data.get("augment", 1)),
            algorithm=str(data.get("algorithm", "auto")),
            tagging=str(data.get("tagging", "bilou")),
        )


def _shape(word: str) -> str:
    out: list[str] = []
    for ch in word:
        kind = "X" if ch.isupper() else "x" if ch.isalpha() else "d" if ch.isdigit() else ch
        if not out or out[-1] != kind:
            out.append(kind)
    return "".join(out)


def _token_features(token: Token, patterns: list[str]) -> list[str]:
    w = token.text
    low = w.lower()
    feats = [
        f"low={low}",
        f"pre2={low[:2]}",
        f"pre5={low[:5]}",
        f"suf2={low[-2:]}",
        f"suf3={low[-3:]}",
        f"suf5={low[-5:]}",
        f"shape={_shape(w)}",
    ]
    if w.isdigit():
        feats.append("digit")
    if w.istitle():
        feats.append("title")
    if w.isupper():
        feats.append("upper")
    feats.extend(f"pattern={p}" for p in patterns)
    return feats


def _probability(value: float) -> float:
    """A marginal as a confidence; crfsuite gives NaN when a long token overflows its sums."""
    return value if math.isfinite(value) else 0.0


def _bilou(tags: list[str | None]) -> list[str]:
    """Per-token labels (None = outside) -> BILOU tags."""
    out: list[str] = []
    for i, tag in enumerate(tags):
        if tag is None:
            out.append(NO_TAG)
            continue
        first = i == 0 or tags[i - 1] != tag
        last = i == len(tags) - 1 or tags[i + 1] != tag
        prefix = "U" if first and last else "B" if first else "L" if last else "I"
        out.append(f"{prefix}-{tag}")
    return out


def _spans(tags: list[str]) -> list[tuple[int, int, str]]:
    """BILOU tags -> (first token, last token, label); broken sequences are mended."""
    spans: list[tuple[int, int, str]] = []
    start: int | None = None
    label: str | None = None
    for i, tag in enumerate(tags):
        if tag == NO_TAG:
            start, label = None, None
            continue
        prefix, name = tag.split("-", 1)
        if prefix in ("B", "U") or name != label or start is None:
            start, label = i, name
        following = tags[i + 1] if i + 1 < len(tags) else NO_TAG
        if (
            prefix in ("L", "U")
            or not following.endswith(f"-{name}")
            or following.startswith(("B-", "U-"))
        ):
            spans.append((start, i, name))
            start, label = None, None
    return spans


def _swap_values(examples: list[Message], copies: int) -> list[Message]:
    """``copies`` variants of each example with entities, each entity value replaced by a value
    of the same entity drawn (seeded, so training stays deterministic) from ``examples``."""
    rng = random.Random(0)
    values: dict[str, list[str]] = {}
    spanned: list[tuple[Message, list[Entity]]] = []
    for example in examples:
        ents = sorted(
            (e for e in example.entities if e.start is not None and e.end is not None),
            key=lambda e: e.start or 0,
        )
        if ents and all((a.end or 0) <= (b.start or 0) for a, b in pairwise(ents)):
            spanned.append((example, ents))
            for e in ents:
                values.setdefault(e.entity, []).append(example.text[e.start : e.end])
    out: list[Message] = []
    for _ in range(copies):
        for example, ents in spanned:
            text, pos, swapped = "", 0, []
            for e in ents:
                text += example.text[pos : e.start]
                value = rng.choice(values[e.entity])
                swapped.append(
                    Entity(e.entity, value, len(text), len(text) + len(value), e.role, e.group)
                )
                text += value
                pos = e.end or 0
            out.append(Message(text + example.text[pos:], example.intent, swapped))
    return out


# L-BFGS over a linear-chain CRF costs about tokens x labels^2 per iteration; above this
# (about 20 s of training on the shared 2-core machine) ``auto`` switches to IO tags, then to
# 5 epochs of the averaged perceptron without swapped-value copies (10 epochs: same F1;
# bench/results/nlu_suite.md, entities-10k)
LBFGS_BUDGET = 1e8
PERCEPTRON_EPOCHS = 5
# the perceptron tier reads two tokens either side: with 10k examples the wider context pays
# (entities-10k 0.848 -> 0.889 exact F1); on 70 queries per intent it cost (window 2 rows in
# bench/results/nlu_experiments.md)
LARGE_WINDOW = 2


def plan_training(config: CRFConfig, tokens: int, types: int) -> CRFConfig:
    """The config training runs with, ``auto`` resolved by the size of the problem: as
    configured while L-BFGS fits the budget with BILOU tags, then IO tags (``_spans`` decodes
    both), then the averaged perceptron with IO tags, no swapped-value copies and a window of
    ``LARGE_WINDOW``."""
    if config.algorithm != "auto":
        return config
    copies = 1 + config.augment
    if tokens * copies * (1 + 4 * types) ** 2 <= LBFGS_BUDGET:
        return replace(config, algorithm="lbfgs")
    if tokens * copies * (1 + types) ** 2 <= LBFGS_BUDGET:
        return replace(config, algorithm="lbfgs", tagging="io")
    return replace(
        config,
        algorithm="ap",
        tagging="io",
        augment=0,
        max_iterations=min(config.max_iterations, PERCEPTRON_EPOCHS),
        window=max(config.window, LARGE_WINDOW),
    )


def problem_size(examples: list[Message]) -> tuple[int, int]:
    """(whitespace tokens, entity types) of a training set."""
    types = {e.entity for m in examples for e in m.entities}
    return sum(len(m.text.split()) for m in examples), len(types)


def _bio(tags: list[str | None]) -> list[str]:
    """Per-token labels (None = outside) -> BIO tags (``_spans`` decodes them)."""
    return [
        NO_TAG if tag is None else f"B-{tag}" if i == 0 or tags[i - 1] != tag else f"I-{tag}"
        for i, tag in enumerate(tags)
    ]


def _io(tags: list[str | None]) -> list[str]:
    """Per-token labels (None = outside) -> IO tags (``I-<label>``; ``_spans`` decodes them)."""
    return [NO_TAG if tag is None else f"I-{tag}" for tag in tags]


def trainer_params(config: CRFConfig) -> dict[str, Any]:
    """crfsuite parameters for ``config.algorithm`` (lbfgs: elastic net c1/c2; l2sgd: c2)."""
    params: dict[str, Any] = {
        "max_iterations": config.max_iterations,
        "feature.possible_transitions": True,
    }
    if config.algorithm == "lbfgs":
        params.update({"c1": config.c1, "c2": config.c2})
    elif config.algorithm == "l2sgd":
        params["c2"] = config.c2
    return params


class CRFEntityExtractor:
    """Train on annotated examples; extract ``[{entity, value, start, end, ...}]``."""

    name = "CRFEntityExtractor"

    def __init__(
        self,
        config: CRFConfig | None = None,
        patterns: list[Pattern] | None = None,
        tokenizer: Tokenizer | None = None,
    ):
        self.config = config or CRFConfig()
        self.tokenizer = tokenizer or Tokenizer()
        self.patterns = patterns or []
        self._compiled = compile_patterns(self.patterns)
        self.models: dict[str, bytes] = {}
        self.gazetteer: Gazetteer = {}
        self.word_gazetteer: Gazetteer = {}  # lowercased word -> entity -> values holding it
        self._taggers: dict[str, pycrfsuite.Tagger] = {}
        self._builtin = BuiltinExtractor(BUILTIN_FEATURES)
        self.window = self.config.window  # as trained (plan_training may widen it)

    def _value_matches(self, tokens: list[Token], own: Gazetteer | None) -> list[list[str]]:
        """Per token, ``entity:BILOU`` for each training value covering it (minus ``own``)."""
        out: list[list[str]] = [[] for _ in tokens]
        low = [t.lower for t in tokens]
        for i in range(len(tokens)):
            for n in range(1, min(MAX_VALUE_TOKENS, len(tokens) - i) + 1):
                key = " ".join(low[i : i + n])
                for entity, count in self.gazetteer.get(key, {}).items():
                    if own is not None:
                        count -= own.get(key, {}).get(entity, 0)
                    if count <= 0:
                        continue
                    for j in range(i, i + n):
                        pos = "U" if n == 1 else "B" if j == i else "L" if j == i + n - 1 else "I"
                        out[j].append(f"{entity}:{pos}")
        return out

    def _features(
        self,
        text: str,
        tokens: list[Token],
        own: Gazetteer | None = None,
        own_words: Gazetteer | None = None,
    ) -> list[list[str]]:
        matched: list[list[str]] = [[] for _ in tokens]
        spans = [
            (p.name, m.start(), m.end())
            for p, r in zip(self.patterns, self._compiled, strict=True)
            for m in r.finditer(text)
        ]
        if self.config.builtin_features:
            spans.extend(
                (f"builtin:{e['entity']}", e["start"], e["end"])
                for e in self._builtin.extract(text)
            )
        ends = [t.end for t in tokens]
        for name, start, end in spans:
            # the tokens a span overlaps, found by bisection: linear in the tokens it covers
            i = bisect.bisect_right(ends, start)
            while i < len(tokens) and tokens[i].start < end:
                matched[i].append(name)
                i += 1
        if self.config.value_features and self.gazetteer:
            for i, values in enumerate(self._value_matches(tokens, own)):
                matched[i].extend(f"value={v}" for v in values)
            for i, t in enumerate(tokens):
                for entity, count in self.word_gazetteer.get(t.lower, {}).items():
                    if own_words is not None:
                        count -= own_words.get(t.lower, {}).get(entity, 0)
                    if count > 0:
                        matched[i].append(f"word_value={entity}")
        base = [_token_features(t, matched[i]) for i, t in enumerate(tokens)]
        out: list[list[str]] = []
        w = self.window
        for i in range(len(tokens)):
            feats = ["bias"]
            for off in range(-w, w + 1):
                j = i + off
                if j < 0:
                    feats.append(f"{off}:BOS")
                elif j >= len(tokens):
                    feats.append(f"{off}:EOS")
                else:
                    feats.extend(f"{off}:{f}" for f in base[j])
            out.append(feats)
        return out

    @staticmethod
    def _labels(example: Message, tokens: list[Token], layer: str) -> list[str | None]:
        labels: list[str | None] = [None] * len(tokens)
        for ent in example.entities:
            if ent.start is None or ent.end is None:
                continue
            value = {"entity": ent.entity, "role": ent.role, "group": ent.group}[layer]
            if value is None:
                continue
            for i, t in enumerate(tokens):
                if t.start < ent.end and ent.start < t.end:
                    labels[i] = value
        return labels

    def _values(self, example: Message) -> Gazetteer:
        values: Gazetteer = {}
        for ent in example.entities:
            if ent.start is None or ent.end is None:
                continue
            key = " ".join(
                t.lower for t in self.tokenizer.tokenize(example.text[ent.start : ent.end])
            )
            if key:
                counts = values.setdefault(key, {})
                counts[ent.entity] = counts.get(ent.entity, 0) + 1
        return values

    @staticmethod
    def _words(values: Gazetteer) -> Gazetteer:
        """Value counts -> per word, how many of the values hold it."""
        words: Gazetteer = {}
        for key, counts in values.items():
            for word in set(key.split()):
                target = words.setdefault(word, {})
                for entity, n in counts.items():
                    target[entity] = target.get(entity, 0) + n
        return words

    @staticmethod
    def _merge(into: Gazetteer, counts: Gazetteer) -> None:
        for key, by_entity in counts.items():
            target = into.setdefault(key, {})
            for entity, n in by_entity.items():
                target[entity] = target.get(entity, 0) + n

    def _synonym_values(self, examples: list[Message], synonyms: dict[str, str]) -> Gazetteer:
        """Synonym variants as values of the entity types their canonical value is annotated
        with ("escalate" -> "high" -> priority): a dictionary, always on, so a variant seen
        once (or never) in the examples still reads as a value of that type."""
        types: dict[str, set[str]] = {}
        for example in examples:
            for ent in example.entities:
                types.setdefault(str(ent.value).lower(), set()).add(ent.entity)
        values: Gazetteer = {}
        for variant, canonical in synonyms.items():
            key = " ".join(t.lower for t in self.tokenizer.tokenize(variant))
            for entity in types.get(str(canonical).lower(), ()) if key else ():
                values.setdefault(key, {})[entity] = 1
        return values

    def train(self, examples: list[Message], synonyms: dict[str, str] | None = None) -> None:
        """``synonyms`` (variant -> canonical value) add to the training-value features."""
        self.models = {}
        self._taggers = {}
        self.gazetteer = {}
        self.word_gazetteer = {}
        annotated = [e for e in examples if e.text]
        if not any(e.entities for e in annotated):
            return
        own_values = [self._values(e) for e in annotated]
        own_words = [self._words(v) for v in own_values]
        if self.config.value_features:
            for values, words in zip(own_values, own_words, strict=True):
                self._merge(self.gazetteer, values)
                self._merge(self.word_gazetteer, words)
            if synonyms:
                listed = self._synonym_values(annotated, synonyms)
                self._merge(self.gazetteer, listed)
                self._merge(self.word_gazetteer, self._words(listed))
        plan = plan_training(self.config, *problem_size(annotated))
        self.window = plan.window
        # the gazetteers hold the original examples' values only; a swapped copy leaves out
        # the values it holds, as an original leaves out its own
        swapped = _swap_values(annotated, plan.augment)
        annotated += swapped
        own_values += [self._values(e) for e in swapped]
        own_words += [self._words(v) for v in own_values[len(own_words) :]]
        tokenized = [self.tokenizer.tokenize(e.text) for e in annotated]
        entity_labels = [
            self._labels(e, t, "entity") for e, t in zip(annotated, tokenized, strict=True)
        ]
        features = [
            self._features(e.text, tokens, own, words)
            for e, tokens, own, words in zip(
                annotated, tokenized, own_values, own_words, strict=True
            )
        ]
        for layer in LAYERS:
            if layer != "entity" and not any(
                getattr(ent, layer) for e in annotated for ent in e.entities
            ):
                continue
            tag = {"io": _io, "bio": _bio}.get(plan.tagging, _bilou)
            trainer = pycrfsuite.Trainer(plan.algorithm, verbose=False)
            for example, tokens, labels, xseq in zip(
                annotated, tokenized, entity_labels, features, strict=True
            ):
                if not tokens:
                    continue
                if layer != "entity":
                    xseq = [[*x, f"entity_tag={t}"] for x, t in zip(xseq, tag(labels), strict=True)]
                    labels = self._labels(example, tokens, layer)
                trainer.append(xseq, tag(labels))
            trainer.set_params(trainer_params(plan))
            fd, path = tempfile.mkstemp(suffix=".crfsuite")
            os.close(fd)
            try:
                trainer.train(path)
                with open(path, "rb") as fh:
                    self.models[layer] = fh.read()
            finally:
                os.unlink(path)

    def _tagger(self, layer: str) -> pycrfsuite.Tagger:
        if layer not in self._taggers:
            tagger = pycrfsuite.Tagger()
            tagger.open_inmemory(self.models[layer])
            self._taggers[layer] = tagger
        return self._taggers[layer]

    def extract(self, text: str) -> list[dict[str, Any]]:
        if "entity" not in self.models:
            return []
        tokens = self.tokenizer.tokenize(text)
        if not tokens:
            return []
        xseq = self._features(text, tokens)
        tagger = self._tagger("entity")
        tags = tagger.tag(xseq)
        margins = [_probability(tagger.marginal(tag, i)) for i, tag in enumerate(tags)]
        extra: dict[str, tuple[list[str], list[float]]] = {}
        for layer in ("role", "group"):
            if layer in self.models:
                sub = self._tagger(layer)
                sub_tags = sub.tag(
                    [[*x, f"entity_tag={t}"] for x, t in zip(xseq, tags, strict=True)]
                )
                extra[layer] = (
                    sub_tags,
                    [_probability(sub.marginal(t, i)) for i, t in enumerate(sub_tags)],
                )
        entities: list[dict[str, Any]] = []
        for first, last, name in _spans(tags):
            start, end = tokens[first].start, tokens[last].end
            entity: dict[str, Any] = {
                "entity": name,
                "start": start,
                "end": end,
                "value": text[start:end],
                "confidence_entity": min(margins[first : last + 1]),
                "extractor": self.name,
            }
            for layer, (sub_tags, sub_margins) in extra.items():
                labels = [t.split("-", 1)[1] for t in sub_tags[first : last + 1] if t != NO_TAG]
                if labels:
                    entity[layer] = max(set(labels), key=labels.count)
                    entity[f"confidence_{layer}"] = min(sub_margins[first : last + 1])
            entities.append(entity)
        return entities

    def meta(self) -> dict[str, Any]:
        return {
            "config": self.config.as_dict(),
            "patterns": [[p.name, p.pattern] for p in self.patterns],
            "layers": sorted(self.models),
            "gazetteer": self.gazetteer,
            "word_gazetteer": self.word_gazetteer,
            "window": self.window,
        }

    @classmethod
    def from_meta(
        cls, meta: dict[str, Any], models: dict[str, bytes], tokenizer: Tokenizer | None = None
    ) -> CRFEntityExtractor:
        patterns = [Pattern(n, p) for n, p in meta["patterns"]]
        crf = cls(CRFConfig.from_dict(meta["config"]), patterns, tokenizer)
        crf.models = dict(models)
        crf.gazetteer = meta.get("gazetteer", {})
        crf.word_gazetteer = meta.get("word_gazetteer", {})
        crf.window = int(meta.get("window", crf.config.window))
        return crf
