"""The NLU pipeline: a Rasa config.yml ``pipeline`` mapped onto chinwag's components.

Rasa's components map as follows (one warning per component that is mapped or ignored;
components chinwag implements as Rasa does pass silently):

* tokenizers: WhitespaceTokenizer, JiebaTokenizer (``dictionary_path``), SpacyTokenizer (when
  spaCy is installed) and chinwag's JapaneseTokenizer / ThaiTokenizer run as named
  (core/nlu/tokenizer.py); a bot in Chinese, Japanese or Thai without one gets its language's
  segmenter; other tokenizers (Mitie, ConveRT...) run as the whitespace one, with a warning;
* CountVectorsFeaturizer -> word n-grams, or character n-grams for ``char``/``char_wb``;
  RegexFeaturizer -> regex and lookup features; LexicalSyntacticFeaturizer -> CRF features;
* DIETClassifier / Sklearn / Keyword / Mitie / LogisticRegression intent classifiers ->
  a calibrated linear classifier (log-loss SGD); DIET's entity part and CRFEntityExtractor
  -> the CRF;
* DucklingEntityExtractor with a ``url`` -> that Duckling server (core/nlu/duckling.py);
  without one -> the built-in extractor (core/nlu/builtin.py) in the bot's language;
* RegexEntityExtractor, EntitySynonymMapper, ResponseSelector, FallbackClassifier as Rasa;
* dense featurizers and pretrained-model components (SpacyNLP, LanguageModelFeaturizer,
  ConveRT, Mitie, SpacyEntityExtractor...) are ignored: no model downloads at run time;
* Rasa 1.x's old component names (``ner_crf``, ``intent_classifier_tensorflow_embedding``...)
  are read as the class names they stood for;
* chinwag's own names, which run without a warning: ``TfidfFeaturizer`` (``word_ngrams``,
  ``char_ngrams``, ``case_sensitive``), ``LinearIntentClassifier``, ``BuiltinEntityExtractor``
  (``dimensions``, ``timezone``), besides the Rasa names chinwag implements as Rasa does
  (WhitespaceTokenizer, RegexFeaturizer, CRFEntityExtractor, RegexEntityExtractor,
  EntitySynonymMapper, FallbackClassifier);
* components chinwag does not know (community ones such as
  ``rasa_nlu_examples.classifiers.SparseNaiveBayesIntentClassifier``, a bot's own
  ``my_module.MyClassifier``) map by their kind, told by the class name: ``*Classifier`` ->
  the intent classifier, ``*Extractor`` -> the CRF, ``*Featurizer`` -> the TF-IDF features,
  ``*Tokenizer`` -> the tokenizer.

An empty pipeline (or one holding only a FallbackClassifier, as Rasa 1.x fallback policies
migrate to) gets the default measured in bench/results/nlu_experiments.md, with that
FallbackClassifier's thresholds. A pipeline without any intent classifier gets the default
one, with a warning: a bot never ends up understanding no intent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.training import NLUData
from chinwag.core.domain import Domain
from chinwag.core.nlu.builtin import DIMENSIONS, BuiltinExtractor
from chinwag.core.nlu.builtin_languages import LANGUAGES as BUILTIN_LANGUAGES
from chinwag.core.nlu.classifier import IntentClassifier
from chinwag.core.nlu.crf import LAYERS, CRFConfig, CRFEntityExtractor
from chinwag.core.nlu.duckling import DEFAULT_TIMEOUT, DucklingHTTPExtractor
from chinwag.core.nlu.extractors import RegexEntityExtractor, map_synonyms
from chinwag.core.nlu.fallback import FallbackClassifier
from chinwag.core.nlu.featurizers import FeaturizerConfig
from chinwag.core.nlu.interpreter import parse_payload
from chinwag.core.nlu.patterns import Pattern, collect_patterns
from chinwag.core.nlu.response_selector import DEFAULT_KEY, ResponseSelector
from chinwag.core.nlu.text import scrub
from chinwag.core.nlu.tokenizer import (
    SEGMENTED_LANGUAGES,
    WHITESPACE,
    JiebaTokenizer,
    MissingExtra,
    Tokenizer,
    from_spec,
)

Progress = Callable[[str, float], None]
# bench/results/nlu_suite.md: "auto" (logistic regression on small bots) is more accurate but its
# flatter confidences break DIET-tuned FallbackClassifier thresholds; SGD stays the default
DEFAULT_INTENT = {"kind": "sgd", "c": 10.0}
META = "nlu.json"
MAX_SEGMENTER_WORDS = 100_000
FORMAT = 1

# tokenizers chinwag runs as named (the last two are chinwag's own); TOKENIZERS run as whitespace
OWN_TOKENIZERS = {
    WHITESPACE,
    "SpacyTokenizer",
    "JiebaTokenizer",
    "JapaneseTokenizer",
    "ThaiTokenizer",
}
TOKENIZERS = {"MitieTokenizer", "ConveRTTokenizer", "LanguageModelTokenizer"}
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

BUILTIN_EXTRACTOR = "BuiltinEntityExtractor"  # chinwag's own name for core/nlu/builtin.py
# Rasa 1.x's old-style component names (rasa/nlu/registry.py ``old_style_names``)
OLD_STYLE_NAMES = {
    "nlp_spacy": "SpacyNLP",
    "nlp_mitie": "MitieNLP",
    "ner_spacy": "SpacyEntityExtractor",
    "ner_mitie": "MitieEntityExtractor",
    "ner_crf": "CRFEntityExtractor",
    "ner_duckling": "DucklingHTTPExtractor",
    "ner_duckling_http": "DucklingHTTPExtractor",
    "ner_synonyms": "EntitySynonymMapper",
    "intent_featurizer_spacy": "SpacyFeaturizer",
    "intent_featurizer_mitie": "MitieFeaturizer",
    "intent_featurizer_ngrams": "NGramFeaturizer",
    "intent_entity_featurizer_regex": "RegexFeaturizer",
    "intent_featurizer_count_vectors": "CountVectorsFeaturizer",
    "tokenizer_mitie": "MitieTokenizer",
    "tokenizer_spacy": "SpacyTokenizer",
    "tokenizer_whitespace": "WhitespaceTokenizer",
    "tokenizer_jieba": "JiebaTokenizer",
    "intent_classifier_sklearn": "SklearnIntentClassifier",
    "intent_classifier_mitie": "MitieIntentClassifier",
    "intent_classifier_keyword": "KeywordIntentClassifier",
    "intent_classifier_tensorflow_embedding": "EmbeddingIntentClassifier",
}
# how an unknown component's kind is told from its class name
_KIND_SUFFIXES = (
    ("Classifier", "classifier"),
    ("Extractor", "extractor"),
    ("Featurizer", "featurizer"),
    ("Tokenizer", "tokenizer"),
)


def component_kind(short_name: str) -> str | None:
    """``classifier``, ``extractor``, ``featurizer`` or ``tokenizer`` by the class name's end
    (``Sparse...IntentClassifier``, ``FlashTextEntityExtractor``...), else None."""
    for suffix, kind in _KIND_SUFFIXES:
        if short_name.endswith(suffix):
            return kind
    return None


def _default_components() -> dict[str, Any]:
    return {
        "tokenizer": None,  # a core.nlu.tokenizer spec; None: whitespace
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


def _tfidf_config(
    component: dict[str, Any], loc: Location | None, problems: Problems
) -> FeaturizerConfig:
    """chinwag's own ``TfidfFeaturizer``: ``word_ngrams: [lo, hi]``, ``char_ngrams: [lo, hi]``
    (or null for none), ``case_sensitive``; the defaults are the measured ones."""
    default = FeaturizerConfig()

    def ngrams(key: str, fallback: tuple[int, int] | None) -> tuple[int, int] | None:
        if key not in component:
            return fallback
        value = component[key]
        if value is None and key == "char_ngrams":
            return None
        if (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
            and value[0] <= value[1]
        ):
            return (value[0], value[1])
        problems.error(
            f"TfidfFeaturizer: {key} must be [min, max] (whole numbers, 1 or more), "
            f"found {value!r}",
            loc,
        )
        return fallback

    return FeaturizerConfig(
        word_ngrams=ngrams("word_ngrams", default.word_ngrams) or default.word_ngrams,
        char_ngrams=ngrams("char_ngrams", default.char_ngrams),
        case_sensitive=bool(component.get("case_sensitive", False)),
    )


def _tokenizer_spec(
    name: str,
    short: str,
    component: dict[str, Any],
    language: str,
    root: Path | None,
    loc: Location | None,
    problems: Problems,
) -> tuple[dict[str, Any] | None, str | None]:
    """The tokenizer a pipeline's tokenizer component runs as, and the warning saying so.

    A named tokenizer whose library is missing is a located error naming the extra."""
    lang = language.split("_")[0].split("-")[0].lower()
    segmenter = SEGMENTED_LANGUAGES.get(lang)
    if short in TOKENIZERS or (short == WHITESPACE and segmenter):
        target = segmenter or WHITESPACE
        why = f"language '{language}' is written without spaces" if segmenter else "not built in"
        warn: str | None = f"{name} runs as {target} ({why})"
        spec: dict[str, Any] = {"name": target}
    else:
        warn = None
        spec = {"name": short}
        if short == "SpacyTokenizer":
            spec["language"] = lang
    if spec["name"] == "JiebaTokenizer" and component.get("dictionary_path"):
        path = Path(str(component["dictionary_path"]))
        if not path.is_absolute() and root is not None and (root / path).exists():
            path = root / path
        try:
            spec["words"] = JiebaTokenizer.read_dictionary(path)
        except (OSError, UnicodeDecodeError) as exc:
            problems.error(f"{name}: dictionary_path '{path}' cannot be read ({exc})", loc)
    try:
        from_spec(spec)
    except MissingExtra as exc:
        if short == "SpacyTokenizer":
            return None, f"{name} runs as {WHITESPACE} (spaCy is not installed)"
        problems.error(str(exc), loc)
        return None, None
    return (None if spec["name"] == WHITESPACE else spec), warn


def _language_tokenizer(
    language: str, loc: Location | None, problems: Problems
) -> dict[str, Any] | None:
    """The tokenizer of a pipeline that names none: the language's segmenter for Chinese,
    Japanese and Thai (a warning when its extra is missing), else whitespace (None)."""
    segmenter = SEGMENTED_LANGUAGES.get(language.split("_")[0].split("-")[0].lower())
    if segmenter is None:
        return None
    try:
        from_spec({"name": segmenter})
    except MissingExtra as exc:
        problems.warning(f"{exc}; until then {WHITESPACE} runs (words are not segmented)", loc)
        return None
    return {"name": segmenter}


def _short_name(component: dict[str, Any]) -> str:
    """The component's class name, without a module path and with 1.x names translated."""
    short = str(component.get("name", "")).rsplit(".", 1)[-1]
    return OLD_STYLE_NAMES.get(short, short)


def _map_by_kind(name: str, short: str, c: dict[str, Any]) -> str:
    """An unknown component mapped to chinwag's of its kind; the warning saying so."""
    kind = component_kind(short)
    if kind == "classifier":
        c["intent"] = c["intent"] or dict(DEFAULT_INTENT)
        return (
            f"unknown component '{name}' is an intent classifier by its name: it runs as a "
            "calibrated linear (log-loss SGD) intent classifier"
        )
    if kind == "extractor":
        c["crf"] = c["crf"] or CRFConfig()
        return (
            f"unknown component '{name}' is an entity extractor by its name: it runs as the "
            "CRF entity extractor (annotate the entities in the NLU data)"
        )
    if kind == "featurizer":
        return (
            f"unknown component '{name}' is a featurizer by its name: chinwag's TF-IDF "
            "n-gram features stand in"
        )
    if kind == "tokenizer":
        return (
            f"unknown component '{name}' is a tokenizer by its name: it runs as chinwag's "
            "tokenizer (words, numbers, punctuation)"
        )
    return (
        f"unknown pipeline component '{name}' is ignored (not a classifier, extractor, "
        "featurizer or tokenizer by its name)"
    )


class NLUPipeline:
    """Train on a bot's NLU data, then parse text into Rasa's parse data."""

    def __init__(self, components: dict[str, Any] | None = None) -> None:
        self.components = components or _default_components()
        self.intent: IntentClassifier | None = None
        self.crf: CRFEntityExtractor | None = None
        self.regex: RegexEntityExtractor | None = None
        self.builtin: BuiltinExtractor | DucklingHTTPExtractor | None = None
        self.selectors: list[ResponseSelector] = []
        self.synonyms: dict[str, str] = {}
        self.fallback: FallbackClassifier | None = self.components["fallback"]
        self.tokenizer: Tokenizer = from_spec(self.components.get("tokenizer"))
        # parse() runs here, off the event loop; one thread, so the models (crfsuite taggers
        # are not thread-safe) only ever see one text at a time
        self._executor: ThreadPoolExecutor | None = None
        self._build_extractors([])

    # ------------------------------------------------------------------ config

    @classmethod
    def from_config(
        cls,
        pipeline: list[dict[str, Any]],
        domain: Domain,
        problems: Problems,
        locations: list[Location] | None = None,
        *,
        language: str = "en",
        root: Path | None = None,
    ) -> NLUPipeline:
        """Map Rasa's pipeline onto ours; an empty pipeline gives the measured default.

        ``language`` (config.yml's) picks the segmenter of an unspaced language and the
        built-in extractor's language; ``root`` is the bot's folder (``dictionary_path``)."""
        names = [_short_name(c) for c in pipeline]
        tokenizer = _language_tokenizer(language, locations[0] if locations else None, problems)
        if all(n == "FallbackClassifier" for n in names):
            components = _default_components()
            components["tokenizer"] = tokenizer
            if pipeline:
                components["fallback"] = FallbackClassifier.from_config(pipeline[-1])
            return cls(components)
        c: dict[str, Any] = {
            "tokenizer": tokenizer,
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
            short = _short_name(component)
            warn: str | None = None
            if short != name.rsplit(".", 1)[-1]:
                problems.warning(f"Rasa 1.x component name '{name}' read as {short}", loc)
            if short in TOKENIZERS or short in OWN_TOKENIZERS:
                c["tokenizer"], warn = _tokenizer_spec(
                    name, short, component, language, root, loc, problems
                )
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
            elif short == "TfidfFeaturizer":  # chinwag's own
                c["featurizer"] = _tfidf_config(component, loc, problems)
            elif short == "LinearIntentClassifier":  # chinwag's own
                c["intent"] = dict(DEFAULT_INTENT)
            elif short in ("DucklingEntityExtractor", "DucklingHTTPExtractor", BUILTIN_EXTRACTOR):
                dims = component.get("dimensions") or list(DIMENSIONS)
                url = component.get("url") if short != BUILTIN_EXTRACTOR else None
                unknown = [] if url else [d for d in dims if d not in DIMENSIONS]
                c["builtin"] = {
                    "dimensions": [str(d) for d in dims if url or d in DIMENSIONS],
                    "timezone": component.get("timezone"),
                    "language": language,
                }
                if url:
                    c["builtin"].update(
                        url=str(url),
                        all_dimensions=not component.get("dimensions"),
                        locale=component.get("locale"),
                        timeout=float(component.get("timeout") or DEFAULT_TIMEOUT),
                    )
                elif short != BUILTIN_EXTRACTOR:
                    warn = (
                        f"{name} runs as chinwag's built-in extractor (no Duckling server: "
                        "set its url to use one)"
                    )
                lang = language.split("_")[0].split("-")[0].lower()
                if not url and lang != "en" and lang not in BUILTIN_LANGUAGES:
                    english = (
                        f"built-in numbers and dates read English: '{language}' is not among "
                        f"{', '.join(BUILTIN_LANGUAGES)} (set a Duckling url)"
                    )
                    warn = f"{warn}; {english}" if warn else f"{name}: {english}"
                if unknown:
                    missing = f"dimensions not supported: {', '.join(map(str, unknown))}"
                    warn = f"{warn}; {missing}" if warn else f"{name}: {missing}"
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
                warn = _map_by_kind(name, short, c)
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
        if c["intent"] is None:
            c["intent"] = dict(DEFAULT_INTENT)
            problems.warning(
                "the pipeline has no intent classifier: chinwag's calibrated linear (log-loss "
                "SGD) intent classifier is added",
                locations[0] if locations else None,
            )
        return cls(c)

    # ------------------------------------------------------------------ training

    def _build_extractors(self, patterns: list[Pattern]) -> None:
        c = self.components
        builtin = c["builtin"]
        self.builtin = None
        # the built-ins, or (with a url) what answers while the Duckling server is down
        dims = [d for d in builtin["dimensions"] if d in DIMENSIONS] if builtin else []
        local = (
            BuiltinExtractor(dims, builtin.get("timezone"), language=builtin.get("language"))
            if builtin and (dims or not builtin.get("url"))
            else None
        )
        self.builtin = local
        if builtin and builtin.get("url"):
            self.builtin = DucklingHTTPExtractor(
                builtin["url"],
                None if builtin.get("all_dimensions") else builtin["dimensions"],
                language=builtin.get("language", "en"),
                locale=builtin.get("locale"),
                timezone=builtin.get("timezone"),
                timeout=builtin.get("timeout", DEFAULT_TIMEOUT),
                fallback=local,
            )
        settings = c["regex_entities"]
        self.regex = (
            RegexEntityExtractor(
                patterns,
                settings.get("case_sensitive", False),
                # word boundaries in an unspaced language: a match must start and end on tokens
                tokenizer=(
                    self.tokenizer
                    if settings.get("use_word_boundaries", True) and not self.tokenizer.spaced
                    else None
                ),
            )
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
        # a segmenter learns the entity values and lookup elements as words of their own, so
        # annotated spans fall on token edges (kept in the model with the tokenizer)
        values = [
            m.text[e.start : e.end]
            for m in examples
            for e in m.entities
            if e.start is not None and e.end is not None
        ]
        values += [item for items in nlu.lookups.values() for item in items]
        self.tokenizer = self.tokenizer.with_words(values[:MAX_SEGMENTER_WORDS])
        if self.tokenizer.name != WHITESPACE:
            c["tokenizer"] = self.tokenizer.spec()
        # ``\b`` marks word edges only where words are spaced
        spaced = self.tokenizer.spaced
        patterns = collect_patterns(nlu, use_word_boundaries=spaced) if c["patterns"] else []
        report("intent classifier", 0.0)
        self.intent = None
        if c["intent"] is not None:
            self.intent = IntentClassifier(
                c["featurizer"], kind=c["intent"]["kind"], c=c["intent"]["c"], patterns=patterns
            )
            self.intent.train(
                [self._words(m.text) for m in examples], [m.base_intent for m in examples]
            )
        report("entity extractor", 0.4)
        self.crf = None
        if c["crf"] is not None:
            self.crf = CRFEntityExtractor(c["crf"], patterns, tokenizer=self.tokenizer)
            self.crf.train(examples, nlu.synonyms)
        report("response selectors", 0.8)
        responses = {**nlu.responses, **domain.responses}
        retrieval = any(m.retrieval_key for m in examples)
        self.selectors = []
        for key in c["selectors"] if retrieval else []:
            selector = ResponseSelector(key, c["featurizer"])
            selector.train(
                [dataclasses.replace(m, text=self._words(m.text)) for m in examples], responses
            )
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
                    use_word_boundaries=settings["use_word_boundaries"] and spaced,
                )
                if p.name in names
            ]
        self._build_extractors(entity_patterns)
        report("done", 1.0)

    # ------------------------------------------------------------------ parsing

    def _words(self, text: str) -> str:
        """The text the sentence features read: as written where words are spaced, else its
        tokens joined by spaces (as Rasa's CountVectorsFeaturizer reads a segmenter's tokens)."""
        if self.tokenizer.spaced:
            return text
        return " ".join(t.text for t in self.tokenizer.tokenize(text))

    def parse_sync(self, text: str) -> dict[str, Any]:
        payload = parse_payload(text)
        if payload is not None:
            return payload
        text = scrub(text)  # lone surrogates cannot be encoded for crfsuite
        words = self._words(text)
        ranking = self.intent.rank(words) if self.intent is not None else []
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
                result = selector.select(words)
                if result is not None:
                    selected[selector.key] = result
            data["response_selector"] = selected
        return self.fallback.apply(data) if self.fallback is not None else data

    async def parse(self, text: str) -> dict[str, Any]:
        """:meth:`parse_sync` on the pipeline's own thread: the event loop keeps serving
        other conversations (and /health) while a long message is understood."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chinwag-nlu")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.parse_sync, text)

    def close(self) -> None:
        """Stop the parsing thread (a later parse starts a new one)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    # ------------------------------------------------------------------ persistence

    def _components_json(self) -> dict[str, Any]:
        c = self.components
        fb = c["fallback"]
        return {
            "tokenizer": c.get("tokenizer"),
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
            "tokenizer": None,
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
            pipeline.crf = CRFEntityExtractor.from_meta(
                meta["crf"], models, tokenizer=pipeline.tokenizer
            )
        pipeline.selectors = [
            ResponseSelector.load(directory, f"selector_{i}", s)
            for i, s in enumerate(meta["selectors"])
        ]
        pipeline._build_extractors([Pattern(n, p) for n, p in meta["regex_patterns"]])
        return pipeline
