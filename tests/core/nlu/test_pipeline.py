from pathlib import Path
from typing import Any

from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.training import Entity, Message, NLUData, Regex
from chinwag.core.domain import Domain
from chinwag.core.nlu.pipeline import NLUPipeline


def _nlu() -> NLUData:
    examples = []
    for text in ["hello", "hi there", "good morning", "hey", "hello friend"]:
        examples.append(Message(text, "greet"))
    for city in ["berlin", "paris", "rome", "NYC", "madrid", "oslo"]:
        text = f"weather in {city}"
        examples.append(Message(text, "weather", [Entity("city", city, 11, 11 + len(city))]))
        examples.append(
            Message(
                f"is it raining in {city}", "weather", [Entity("city", city, 17, 17 + len(city))]
            )
        )
    for text, key in [
        ("who built you", "ask_builder"),
        ("who made you", "ask_builder"),
        ("who created you", "ask_builder"),
        ("how old are you", "ask_age"),
        ("what is your age", "ask_age"),
        ("when were you born", "ask_age"),
    ]:
        examples.append(Message(text, f"faq/{key}"))
    return NLUData(
        examples=examples,
        synonyms={"NYC": "New York"},
        regexes=[Regex("zipcode", r"\b\d{5}\b")],
    )


def _domain() -> Domain:
    return Domain(
        responses={
            "utter_faq/ask_builder": [{"text": "Chinwag's developers."}],
            "utter_faq/ask_age": [{"text": "Young."}],
        }
    )


def _trained(pipeline: list[dict] | None = None) -> NLUPipeline:
    nlu = NLUPipeline.from_config(pipeline or [], _domain(), Problems())
    nlu.train(_nlu(), _domain())
    return nlu


def test_default_pipeline_parses() -> None:
    nlu = _trained()
    data = nlu.parse_sync("weather in paris")
    assert data["intent"]["name"] == "weather"
    assert data["intent_ranking"][0] == data["intent"]
    assert len(data["intent_ranking"]) <= 10
    assert sum(r["confidence"] for r in data["intent_ranking"]) <= 1.0 + 1e-6
    assert [(e["entity"], e["value"], e["extractor"]) for e in data["entities"]] == [
        ("city", "paris", "CRFEntityExtractor")
    ]


def test_synonyms_are_mapped() -> None:
    entities = _trained().parse_sync("weather in NYC")["entities"]
    assert entities[0]["value"] == "New York"
    assert entities[0]["processors"] == ["EntitySynonymMapper"]


def test_retrieval_intent_response_selector() -> None:
    data = _trained().parse_sync("who built you")
    assert data["intent"]["name"] == "faq"
    selector = data["response_selector"]
    assert selector["all_retrieval_intents"] == ["faq"]
    response = selector["default"]["response"]
    assert response["intent_response_key"] == "faq/ask_builder"
    assert response["utter_action"] == "utter_faq/ask_builder"
    assert response["responses"] == [{"text": "Chinwag's developers."}]
    assert selector["default"]["ranking"][0]["intent_response_key"] == "faq/ask_builder"


def test_fallback_applied_and_payload_bypasses() -> None:
    nlu = _trained([{"name": "DIETClassifier"}, {"name": "FallbackClassifier", "threshold": 1.0}])
    data = nlu.parse_sync("hello")
    assert data["intent"] == {"name": "nlu_fallback", "confidence": 1.0}
    assert data["intent_ranking"][1]["name"] == "greet"
    payload = nlu.parse_sync('/greet{"city": "rome"}')
    assert payload["intent"]["name"] == "greet"
    assert payload["entities"][0]["value"] == "rome"


def test_config_mapping_warnings() -> None:
    problems = Problems()
    pipeline: list[dict[str, Any]] = [
        {"name": "WhitespaceTokenizer"},
        {"name": "RegexFeaturizer"},
        {"name": "LexicalSyntacticFeaturizer"},
        {"name": "CountVectorsFeaturizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
        {"name": "DIETClassifier", "epochs": 100},
        {"name": "EntitySynonymMapper"},
        {"name": "ResponseSelector", "retrieval_intent": "faq"},
        {"name": "FallbackClassifier", "threshold": 0.7},
        {"name": "DucklingEntityExtractor", "dimensions": ["number", "distance"]},
        {"name": "SpacyNLP"},
        {"name": "LanguageModelFeaturizer"},
        {"name": "my.custom.Component"},
    ]
    locations = [Location("config.yml", i + 3) for i in range(len(pipeline))]
    nlu = NLUPipeline.from_config(pipeline, Domain(), problems, locations)
    warnings = [(w.location.line if w.location else None, w.message) for w in problems.warnings]
    assert not problems.errors
    assert [line for line, _ in warnings] == [5, 6, 7, 8, 10, 12, 13, 14, 15]
    assert "DIETClassifier" in warnings[3][1]
    assert "distance" in warnings[5][1]
    assert "unknown pipeline component 'my.custom.Component'" in warnings[-1][1]
    c = nlu.components
    assert c["featurizer"].char_ngrams == (1, 4)
    assert c["featurizer"].word_ngrams == (1, 2)  # DIET: bigrams stand in for word order
    assert c["selectors"] == ["faq"]
    assert c["builtin"]["dimensions"] == ["number"]
    assert nlu.fallback is not None and nlu.fallback.threshold == 0.7


def test_chinwags_own_names_run_silently_as_the_rasa_names_do() -> None:
    rasa = [
        {"name": "CountVectorsFeaturizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
        {"name": "DIETClassifier"},
        {"name": "DucklingEntityExtractor", "dimensions": ["number"]},
    ]
    own = [
        {"name": "TfidfFeaturizer", "word_ngrams": [1, 2], "char_ngrams": [1, 4]},
        {"name": "LinearIntentClassifier"},
        {"name": "CRFEntityExtractor"},
        {"name": "BuiltinEntityExtractor", "dimensions": ["number"]},
    ]
    problems = Problems()
    ours = NLUPipeline.from_config(own, Domain(), problems)
    assert not problems.warnings and not problems.errors
    theirs = NLUPipeline.from_config(rasa, Domain(), Problems())
    assert ours._components_json() == theirs._components_json()
    # defaults of TfidfFeaturizer are the measured ones; bad n-gram ranges are located errors
    default = NLUPipeline.from_config([{"name": "TfidfFeaturizer"}], Domain(), Problems())
    assert default.components["featurizer"] == NLUPipeline().components["featurizer"]
    bad = Problems()
    NLUPipeline.from_config(
        [{"name": "TfidfFeaturizer", "char_ngrams": [4, 1]}],
        Domain(),
        bad,
        [Location("config.yml", 3)],
    )
    (error,) = bad.errors
    assert (
        str(error.location) == "config.yml:3" and "char_ngrams must be [min, max]" in error.message
    )


def test_unknown_components_map_by_kind_and_old_names_are_read() -> None:
    problems = Problems()
    pipeline = [
        {"name": "tokenizer_whitespace"},
        {"name": "intent_featurizer_count_vectors"},
        {"name": "rasa_nlu_examples.classifiers.SparseNaiveBayesIntentClassifier"},
        {"name": "my_module.DateEntityExtractor"},
        {"name": "my_module.Printer"},
    ]
    locations = [Location("config.yml", i + 3) for i in range(len(pipeline))]
    nlu = NLUPipeline.from_config(pipeline, Domain(), problems, locations)
    messages = [(w.location.line if w.location else None, w.message) for w in problems.warnings]
    assert messages[0] == (
        3,
        "Rasa 1.x component name 'tokenizer_whitespace' read as WhitespaceTokenizer",
    )
    assert (
        5,
        "unknown component 'rasa_nlu_examples.classifiers.SparseNaiveBayesIntentClassifier' "
        "is an intent classifier by its name: it runs as a calibrated linear (log-loss SGD) "
        "intent classifier",
    ) in messages
    assert any(line == 6 and "an entity extractor by its name" in m for line, m in messages)
    assert any(line == 7 and "is ignored" in m for line, m in messages)
    assert nlu.components["intent"] is not None and nlu.components["crf"] is not None
    # a pipeline with no intent classifier gets one, with a warning on its first component
    lone = Problems()
    entities_only = NLUPipeline.from_config(
        [{"name": "CRFEntityExtractor"}], Domain(), lone, locations
    )
    assert entities_only.components["intent"] is not None
    (warning,) = lone.warnings
    assert (
        warning.location == Location("config.yml", 3) and "no intent classifier" in warning.message
    )


def test_a_lone_fallback_classifier_keeps_the_default_pipeline() -> None:
    nlu = NLUPipeline.from_config(
        [{"name": "FallbackClassifier", "threshold": 0.6}], Domain(), Problems()
    )
    default = NLUPipeline()
    assert nlu.components["featurizer"] == default.components["featurizer"]
    assert nlu.components["intent"] == default.components["intent"]
    assert nlu.fallback is not None and nlu.fallback.threshold == 0.6


def test_regex_and_builtin_extractors() -> None:
    nlu = NLUData(
        examples=[
            Message("my zip is 12345", "inform", [Entity("zipcode", "12345", 10, 15)]),
            Message("hello", "greet"),
        ],
        regexes=[Regex("zipcode", r"\b\d{5}\b")],
    )
    pipe = NLUPipeline.from_config(
        [
            {"name": "KeywordIntentClassifier"},
            {"name": "RegexEntityExtractor"},
            {"name": "DucklingEntityExtractor", "dimensions": ["email"]},
        ],
        Domain(),
        Problems(),
    )
    pipe.train(nlu, Domain())
    entities = pipe.parse_sync("zip 54321, mail a@b.org")["entities"]
    assert [(e["entity"], e["value"], e["extractor"]) for e in entities] == [
        ("zipcode", "54321", "RegexEntityExtractor"),
        ("email", "a@b.org", "DucklingEntityExtractor"),
    ]


def test_persist_load_identical_and_deterministic(tmp_path: Path) -> None:
    nlu = _trained()
    nlu.persist(tmp_path / "model")
    loaded = NLUPipeline.load(tmp_path / "model")
    again = _trained()
    for text in ["weather in NYC", "who made you", "good morning", "blah"]:
        assert loaded.parse_sync(text) == nlu.parse_sync(text) == again.parse_sync(text)
    assert not list((tmp_path / "model").glob("*.pkl"))


async def test_async_parse() -> None:
    nlu = _trained()
    assert await nlu.parse("hello") == nlu.parse_sync("hello")


def test_word_bigrams_only_for_diet() -> None:
    words = {"name": "CountVectorsFeaturizer"}
    sklearn = NLUPipeline.from_config(
        [words, {"name": "SklearnIntentClassifier"}], Domain(), Problems()
    )
    diet = NLUPipeline.from_config(
        [words, {"name": "DIETClassifier", "intent_classification": False}], Domain(), Problems()
    )
    assert sklearn.components["featurizer"].word_ngrams == (1, 1)
    assert diet.components["featurizer"].word_ngrams == (1, 1)
    diet = NLUPipeline.from_config([words, {"name": "DIETClassifier"}], Domain(), Problems())
    assert diet.components["featurizer"].word_ngrams == (1, 2)
