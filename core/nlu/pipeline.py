"""The NLU pipeline: a Rasa config.yml ``pipeline`` mapped onto chinwag's components.

Rasa's components map as follows (one warning per component that is mapped or ignored;
components chinwag implements as Rasa does pass silently):

* tokenizers (Whitespace, Spacy, Jieba, Mitie, ...) -> chinwag's tokenizer;
* CountVectorsFeaturizer -> word n-grams, or character n-grams for ``char``/``char_wb``;
  RegexFeaturizer -> regex and lookup features; LexicalSyntacticFeaturizer -> CRF features;
* DIETClassifier / Sklearn / Keyword / Mitie / LogisticRegression intent classifiers ->
  a calibrated linear classifier (log-loss SGD); DIET's entity part and CRFEntityExtractor
  -> the CRF;
* DucklingEntityExtractor -> the built-in extractor (core/nlu/builtin.py), same dimensions;
* RegexEntityExtractor, EntitySynonymMapper, ResponseSelector, FallbackClassifier as Rasa;
* dense featurizers and pretrained-model components (SpacyNLP, LanguageModelFeaturizer,
  ConveRT, Mitie, SpacyEntityExtractor...) are ignored: no model downloads at run time.

An empty pipeline gets the default measured in bench/results/nlu_experiments.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.data.problems import Location, Problems
from core.data.training import NLUData
from core.domain import Domain
from core.nlu.builtin import DIMENSIONS, BuiltinExtractor
from core.nlu.classifier import IntentClassifier
from core.nlu.crf import LAYERS, CRFConfig, CRFEntityExtractor
from core.nlu.extractors import RegexEntityExtractor, map_synonyms
from core.nlu.fallback import FallbackClassifier
from core.nlu.featurizers import FeaturizerConfig
from core.nlu.interpreter import parse_payload
from core.nlu.patterns import Pattern, collect_patterns
from core.nlu.response_selector import DEFAULT_KEY, ResponseSelector

Progress = Callable[[str, float], None]
# bench/results/nlu_suite.md: "auto" (logistic regression on small bots) is more accurate but its
# flatter confidences break DIET-tuned FallbackClassifier thresholds; SGD stays the default
DEFAULT_INTENT = {"kind": "sgd", "c": 10.0}
META = "nlu.json"
FORMAT = 1

TOKENIZERS = {
    "WhitespaceTokenizer",
    "SpacyTokenizer",
    "JiebaTokenizer",
    "MitieTokenizer",
    "ConveRTTokenizer",
    "LanguageModelTokenizer",
}
INTENT_CLASSIFIERS = {
    "SklearnIntentClassifier",
    "KeywordIntentClassifier",
    "MitieIntentClassifier",
    "LogisticRegressionClassifier",
    "EmbeddingIntentClassifier",
}
IGNORED = {
    "SpacyNLP": "spaCy language models are not loaded",
    "MitieNLP": "MITIE models are not loaded",
    "HFTransformersNLP": "no transformer models are downloaded",
    "SpacyFeaturizer": "no dense spaCy vectors; character n-grams stand in",
    "MitieFeaturizer": "no dense MITIE vectors; character n-grams stand in",
    "LanguageModelFeaturizer": "no transformer models are downloaded; character n-grams stand in",
    "ConveRTFeaturizer": "no ConveRT model is downloaded; character n-grams stand in",
    "SpacyEntityExtractor": "no pretrained spaCy NER; annotate these entities for the CRF",
    "MitieEntityExtractor": "no MITIE NER; annotated entities are learned by the CRF",
}


def _default_components() -> dict[str, Any]:
    return {
        "featurizer": FeaturizerConfig(),
        "patterns": True,
        "intent": dict(DEFAULT_INTENT),
        "crf": CRFConfig(),
        "regex_entities": None,  # {"use_regexes", "use_lookup_tables", "use_word_boundaries", ...}
        "builtin": None,  # {"dimensions": [...], "timezone": ...}
        "synonyms": True,
        "selectors": [DEFAULT_KEY],
        "fallback": FallbackClassifier(),
    }


class NLUPipeline:
    """Train on a bot's NLU data, then parse text into Rasa's parse data."""

    def __init__(self, components: dict[str, Any] | None = None) -> None:
        self.components = components or _default_components()
        self.intent: IntentClassifier | None = None
        self.crf: CRFEntityExtractor | None = None
        self.regex: RegexEntityExtractor | None = None
        self.builtin: BuiltinExtractor | None = None
        self.selectors: list[ResponseSelector] = []
        self.synonyms: dict[str, str] = {}
        self.fallback: FallbackClassifier | None = self.components["fallback"]
        self._build_extractors([])

    # ------------------------------------------------------------------ config

    @classmethod
    def from_config(
        cls,
        pipeline: list[dict[str, Any]],
        domain: Domain,
        problems: Problems,
        locations: list[Location] | None = None,
    ) -> NLUPipeline:
        """Map Rasa's pipeline onto ours; an empty pipeline gives the measured default."""
        if not pipeline:
            return cls()
        c: dict[str, Any] = {
            "featurizer": FeaturizerConfig(word_ngrams=(1, 1), char_ngrams=None),
            "patterns": False,
            "intent": None,
            "crf": None,
            "regex_entities": None,
            "builtin": None,
            "synonyms": False,
            "selectors": [],
            "fallback": None,
        }
        word_seen = False
        diet = False
        for i, component in enumerate(pipeline):
            loc = locations[i] if locations and i < len(locations) else None
            name = str(component.get("name", ""))
            short = name.rsplit(".", 1)[-1]
            warn: str | None = None
            if short in TOKENIZERS:
                if short != "WhitespaceTokenizer":
                    warn = f"{name} runs as chinwag's tokenizer (words, numbers, punctuation)"
            elif short == "CountVectorsFeaturizer":
                lo = int(component.get("min_ngram", 1))
                hi = int(component.get("max_ngram", 1))
                if str(component.get("analyzer", "word")) in ("char", "char_wb"):
                    c["featurizer"].char_ngrams = (max(1, lo), max(lo, hi))
                    warn = f"{name} (characters {lo}-{hi}) runs as TF-IDF character n-grams"
                else:
                    if word_seen:
                        hi = max(hi, c["featurizer"].word_ngrams[1])
                    c["featurizer"].word_ngrams = (max(1, lo), max(lo, hi, 1))
                    word_seen = True
                    warn = f"{name} (words {lo}-{hi}) runs as TF-IDF word n-grams"
            elif short == "RegexFeaturizer":
                c["patterns"] = True
            elif short == "LexicalSyntacticFeaturizer":
                warn = f"{name} runs as the CRF's lexical token features"
            elif short in ("DIETClassifier", "DIETClassifierWrapper"):
                parts = []
                if component.get("intent_classification", True) is not False:
                    c["intent"] = dict(DEFAULT_INTENT)
                    diet = True
                    parts.append("a calibrated linear (log-loss SGD) intent classifier")
                if component.get("entity_recognition", True) is not False:
                    c["crf"] = c["crf"] or CRFConfig()
                    parts.append("a CRF entity extractor (roles and groups)")
                warn = f"{name} runs as {' and '.join(parts) or 'nothing'} (no TensorFlow)"
            elif short in INTENT_CLASSIFIERS:
                c["intent"] = dict(DEFAULT_INTENT)
                warn = f"{name} runs as a calibrated linear (log-loss SGD) intent classifier"
            elif short == "CRFEntityExtractor":
                c["crf"] = CRFConfig()
            elif short in ("DucklingEntityExtractor", "DucklingHTTPExtractor"):
                dims = component.get("dimensions") or list(DIMENSIONS)
                unknown = [d for d in dims if d not in DIMENSIONS]
                c["builtin"] = {
                    "dimensions": [d for d in dims if d in DIMENSIONS],
                    "timezone": component.get("timezone"),
                }
                warn = f"{name} runs as chinwag's built-in extractor (no Duckling server)"
                if unknown:
                    warn += f"; dimensions not supported: {', '.join(map(str, unknown))}"
            elif short == "RegexEntityExtractor":
                c["regex_entities"] = {
                    "use_regexes": bool(component.get("use_regexes", True)),
                    "use_lookup_tables": bool(component.get("use_lookup_tables", True)),
                    "use_word_boundaries": bool(component.get("use_word_boundaries", True)),
                    "case_sensitive": bool(component.get("case_sensitive", False)),
                }
            elif short == "EntitySynonymMapper":
                c["synonyms"] = True
            elif short == "ResponseSelector":
                key = component.get("retrieval_intent") or DEFAULT_KEY
                c["selectors"].append(str(key))
                warn = f"{name} runs as a linear response selector ('{key}')"
            elif short == "FallbackClassifier":
                c["fallback"] = FallbackClassifier.from_config(component)
            elif short in IGNORED:
                warn = f"{name} is ignored: {IGNORED[short]}"
            else:
                warn = f"unknown pipeline component '{name}' is ignored"
            if warn:
                problems.warning(warn, loc)
        if diet:
            # DIET's transformer sees word order; word bigrams are the linear stand-in
            # (bench/results/nlu_experiments.md, "DIET-like confidences")
            words = c["featurizer"].word_ngrams
            c["featurizer"].word_ngrams = (words[0], max(words[1], 2))
            # and character n-grams for its out-of-vocabulary robustness when the config has
            # none (bench/results/nlu_suite.md: moodbot 0.55 -> 0.64 in cross-validation)
            c["featurizer"].char_ngrams = c["featurizer"].char_ngrams or (2, 5)
        if c["intent"] is None and c["crf"] is None:
            problems.warning(
                "the pipeline has no intent classifier; every message gets no intent",
                locations[0] if locations else None,
            )
        return cls(c)

    # ------------------------------------------------------------------ training

    def _build_extractors(self, patterns: list[Pattern]) -> None:
        c = self.components
        builtin = c["builtin"]
        self.builtin = (
            BuiltinExtractor(builtin["dimensions"], builtin.get("timezone")) if builtin else None
        )
        settings = c["regex_entities"]
        self.regex = (
            RegexEntityExtractor(patterns, settings.get("case_sensitive", False))
            if settings is not None
            else None
        )

    def train(self, nlu: NLUData, domain: Domain, *, progress: Progress | None = None) -> None:
        """Fit every component; same data and config give the same model."""
        c = self.components

        def report(step: str, fraction: float) -> None:
            if progress:
                progress(step, fraction)

        examples = [m for m in nlu.examples if m.text.strip()]
        patterns = collect_patterns(nlu) if c["patterns"] else []
        report("intent classifier", 0.0)
        self.intent = None
        if c["intent"] is not None:
            self.intent = IntentClassifier(
                c["featurizer"], kind=c["intent"]["kind"], c=c["intent"]["c"], patterns=patterns
            )
            self.intent.train([m.text for m in examples], [m.base_intent for m in examples])
        report("entity extractor", 0.4)
        self.crf = None
        if c["crf"] is not None:
            self.crf = CRFEntityExtractor(c["crf"], patterns)
            self.crf.train(examples)
        report("response selectors", 0.8)
        responses = {**nlu.responses, **domain.responses}
        retrieval = any(m.retrieval_key for m in examples)
        self.selectors = []
        for key in c["selectors"] if retrieval else []:
            selector = ResponseSelector(key, c["featurizer"])
            selector.train(examples, responses)
            self.selectors.append(selector)
        self.synonyms = dict(nlu.synonyms) if c["synonyms"] else {}
        settings = c["regex_entities"]
        entity_patterns: list[Pattern] = []
        if settings is not None:
            names = nlu.entities
            entity_patterns = [
                p
                for p in collect_patterns(
                    nlu,
                    use_regexes=settings["use_regexes"],
                    use_lookup_tables=settings["use_lookup_tables"],
                    use_word_boundaries=settings["use_word_boundaries"],
                )
                if p.name in names
            ]
        self._build_extractors(entity_patterns)
        report("done", 1.0)

    # ------------------------------------------------------------------ parsing

    def parse_sync(self, text: str) -> dict[str, Any]:
        payload = parse_payload(text)
        if payload is not None:
            return payload
        ranking = self.intent.rank(text) if self.intent is not None else []
        intent = dict(ranking[0]) if ranking else {"name": None, "confidence": 0.0}
        entities: list[dict[str, Any]] = []
        for extractor in (self.crf, self.regex, self.builtin):
            if extractor is not None:
                entities.extend(extractor.extract(text))
        map_synonyms(entities, self.synonyms)
        data: dict[str, Any] = {
            "text": text,
            "intent": intent,
            "entities": entities,
            "intent_ranking": ranking,
        }
        if self.selectors:
            selected: dict[str, Any] = {
                "all_retrieval_intents": sorted(
                    {k.split("/", 1)[0] for s in self.selectors for k in s.responses}
                )
            }
            for selector in self.selectors:
                result = selector.select(text)
                if result is not None:
                    selected[selector.key] = result
            data["response_selector"] = selected
        return self.fallback.apply(data) if self.fallback is not None else data

    async def parse(self, text: str) -> dict[str, Any]:
        return self.parse_sync(text)

    # ------------------------------------------------------------------ persistence

    def _components_json(self) -> dict[str, Any]:
        c = self.components
        fb = c["fallback"]
        return {
            "featurizer": c["featurizer"].as_dict(),
            "patterns": c["patterns"],
            "intent": c["intent"],
            "crf": c["crf"].as_dict() if c["crf"] else None,
            "regex_entities": c["regex_entities"],
            "builtin": c["builtin"],
            "synonyms": c["synonyms"],
            "selectors": c["selectors"],
            "fallback": [fb.threshold, fb.ambiguity_threshold] if fb else None,
        }

    @staticmethod
    def _components_from_json(data: dict[str, Any]) -> dict[str, Any]:
        fb = data["fallback"]
        return {
            **data,
            "featurizer": FeaturizerConfig.from_dict(data["featurizer"]),
            "crf": CRFConfig.from_dict(data["crf"]) if data["crf"] else None,
            "fallback": FallbackClassifier(fb[0], fb[1]) if fb else None,
        }

    def persist(self, directory: Path) -> None:
        """JSON metadata, joblib for sklearn parts, crfsuite model files."""
        directory.mkdir(parents=True, exist_ok=True)
        meta: dict[str, Any] = {
            "format": FORMAT,
            "components": self._components_json(),
            "synonyms": self.synonyms,
            "intent": self.intent.persist(directory, "intent") if self.intent else None,
            "crf": self.crf.meta() if self.crf else None,
            "regex_patterns": (
                [[p.name, p.pattern] for p in self.regex.patterns] if self.regex else []
            ),
            "selectors": [
                s.persist(directory, f"selector_{i}") for i, s in enumerate(self.selectors)
            ],
        }
        if self.crf:
            for layer, model in self.crf.models.items():
                (directory / f"crf_{layer}.crfsuite").write_bytes(model)
        (directory / META).write_text(json.dumps(meta, indent=1, sort_keys=True), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> NLUPipeline:
        meta = json.loads((directory / META).read_text(encoding="utf-8"))
        pipeline = cls(cls._components_from_json(meta["components"]))
        pipeline.synonyms = meta["synonyms"]
        if meta["intent"]:
            pipeline.intent = IntentClassifier.load(directory, "intent", meta["intent"])
        if meta["crf"]:
            models = {
                layer: (directory / f"crf_{layer}.crfsuite").read_bytes()
                for layer in meta["crf"]["layers"]
                if layer in LAYERS
            }
            pipeline.crf = CRFEntityExtractor.from_meta(meta["crf"], models)
        pipeline.selectors = [
            ResponseSelector.load(directory, f"selector_{i}", s)
            for i, s in enumerate(meta["selectors"])
        ]
        pipeline._build_extractors([Pattern(n, p) for n, p in meta["regex_patterns"]])
        return pipeline
