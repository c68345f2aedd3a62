"""Bots in languages written without spaces: segmenters chosen by config and language, exact
entity spans, trained with ``chinwag train`` and checked with ``chinwag test``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chinwag.core.cli import main
from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.training import Entity, Message, NLUData, Regex
from chinwag.core.domain import Domain
from chinwag.core.nlu.pipeline import NLUPipeline
from chinwag.core.nlu.tokenizer import (
    JapaneseTokenizer,
    JiebaTokenizer,
    MissingExtra,
    SpacyTokenizer,
    Tokenizer,
    from_spec,
)
from tests.core.data.test_loader import write

ZH_CITIES = ["南京", "北京", "上海", "广州", "深圳", "杭州", "成都", "西安"]
ZH_TEMPLATES = ["{}的天气怎么样", "明天{}会下雨吗", "{}今天热不热", "告诉我{}的天气"]


def _bot(
    root: Path,
    language: str,
    greetings: list[str],
    weather: list[str],
    reply: str,
    tests: list[tuple[str, str]],
    extra_nlu: str = "",
    tokenizer: str | None = None,
) -> Path:
    """A weather bot in ``language``: ``weather`` examples hold ``[city](city)`` annotations;
    ``tests`` are (city, sentence template) test stories; no ``tokenizer``: the language's."""
    named = f"- name: {tokenizer}\n" if tokenizer else ""
    return write(
        root,
        {
            "config.yml": (
                f"language: {language}\npipeline:\n{named}"
                "- name: RegexFeaturizer\n- name: CountVectorsFeaturizer\n  analyzer: char_wb\n"
                "  min_ngram: 1\n  max_ngram: 3\n- name: DIETClassifier\n"
                "- name: EntitySynonymMapper\n"
                "policies:\n- name: RulePolicy\n"
            ),
            "domain.yml": (
                'version: "3.1"\nintents: [greet, ask_weather]\nentities: [city]\n'
                "slots:\n  city:\n    type: text\n    mappings:\n    - type: from_entity\n"
                "      entity: city\n"
                f"responses:\n  utter_greet:\n  - text: {greetings[0]}\n"
                f"  utter_weather:\n  - text: '{reply}'\n"
            ),
            "data/nlu.yml": (
                'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n'
                + "".join(f"      - {g}\n" for g in greetings)
                + "- intent: ask_weather\n  examples: |\n"
                + "".join(f"      - {line}\n" for line in weather)
                + extra_nlu
            ),
            "data/rules.yml": (
                'version: "3.1"\nrules:\n- rule: greet\n  steps:\n  - intent: greet\n'
                "  - action: utter_greet\n- rule: weather\n  steps:\n  - intent: ask_weather\n"
                "  - action: utter_weather\n"
            ),
            "tests/test_stories.yml": (
                'version: "3.1"\nstories:\n'
                + "".join(
                    f"- story: weather in {city}\n  steps:\n  - user: |\n"
                    f"      {template.format(f'[{city}](city)')}\n"
                    "    intent: ask_weather\n  - action: utter_weather\n"
                    for city, template in tests
                )
            ),
        },
    )


def _annotated(templates: list[str], cities: list[str]) -> list[str]:
    return [t.format(f"[{c}](city)") for t in templates for c in cities]


def _zh_bot(root: Path) -> Path:
    return _bot(
        root,
        "zh",
        ["你好", "您好", "早上好", "嗨", "晚上好"],
        [
            *_annotated(ZH_TEMPLATES, ZH_CITIES[:6]),
            "[帝都](city)今天热不热",
            "告诉我[帝都](city)的天气",
        ],
        "{city}的天气很好",
        [
            ("南京", "{}的天气怎么样"),
            ("北京", "{}明天天气如何"),  # sentences the bot was not trained on
            ("上海", "我想知道{}的天气"),
        ],
        "- synonym: 北京\n  examples: |\n      - 帝都\n- lookup: city\n  examples: |\n"
        + "".join(f"      - {city}\n" for city in ZH_CITIES),
        tokenizer="JiebaTokenizer",  # as Rasa's Chinese configs name it
    )


def test_jieba_segments_chinese_with_exact_offsets() -> None:
    text = "南京的天气怎么样\uff1fHello world"
    tokens = JiebaTokenizer().tokenize(text)
    assert all(text[t.start : t.end] == t.text for t in tokens)
    assert [t.text for t in tokens][:2] == ["南京", "的"]
    assert "Hello" in [t.text for t in tokens] and " " not in [t.text for t in tokens]


def test_jieba_dictionary_path_adds_words(tmp_path: Path) -> None:
    text = "我想去大雁塔南广场"
    assert "大雁塔南广场" not in [t.text for t in JiebaTokenizer().tokenize(text)]
    (tmp_path / "dict").mkdir()
    (tmp_path / "dict" / "places.txt").write_text("大雁塔南广场 100 ns\n", encoding="utf-8")
    problems = Problems()
    pipeline = NLUPipeline.from_config(
        [{"name": "JiebaTokenizer", "dictionary_path": "dict"}],
        Domain(),
        problems,
        language="zh",
        root=tmp_path,
    )
    assert "大雁塔南广场" in [t.text for t in pipeline.tokenizer.tokenize(text)]
    # the words travel with the model: no dictionary folder needed to load it
    rebuilt = from_spec(pipeline.tokenizer.spec())
    assert "大雁塔南广场" in [t.text for t in rebuilt.tokenize(text)]


def test_unreadable_dictionary_path_is_a_located_error(tmp_path: Path) -> None:
    problems = Problems()
    loc = Location("config.yml", 3)
    NLUPipeline.from_config(
        [{"name": "JiebaTokenizer", "dictionary_path": "missing"}],
        Domain(),
        problems,
        [loc],
        language="zh",
        root=tmp_path,
    )
    assert [(p.location, "dictionary_path" in p.message) for p in problems.errors] == [(loc, True)]


def test_tokenizer_choice_by_language_and_name() -> None:
    def tokenizer(pipeline: list[dict[str, str]], language: str) -> tuple[str, list[str]]:
        problems = Problems()
        built = NLUPipeline.from_config(pipeline, Domain(), problems, language=language)
        return built.tokenizer.name, [p.message for p in problems.warnings]

    # no tokenizer named: the language's own, silently
    assert tokenizer([], "zh") == ("JiebaTokenizer", [])
    assert tokenizer([{"name": "DIETClassifier"}], "ja")[0] == "JapaneseTokenizer"
    assert tokenizer([], "de") == ("WhitespaceTokenizer", [])
    # whitespace named for an unspaced language: the segmenter, with a warning saying so
    name, warnings = tokenizer([{"name": "WhitespaceTokenizer"}], "zh")
    assert name == "JiebaTokenizer"
    assert any("WhitespaceTokenizer runs as JiebaTokenizer" in w for w in warnings)
    # a tokenizer chinwag cannot honour is never mapped silently
    name, warnings = tokenizer([{"name": "MitieTokenizer"}], "en")
    assert name == "WhitespaceTokenizer"
    assert any("MitieTokenizer runs as WhitespaceTokenizer" in w for w in warnings)


def test_spacy_tokenizer_without_spacy_warns_what_runs() -> None:
    try:
        SpacyTokenizer("en")
    except MissingExtra:
        problems = Problems()
        pipeline = NLUPipeline.from_config([{"name": "SpacyTokenizer"}], Domain(), problems)
        assert pipeline.tokenizer.name == "WhitespaceTokenizer"
        assert any(
            "SpacyTokenizer runs as WhitespaceTokenizer" in p.message for p in problems.warnings
        )
    else:
        tokens = SpacyTokenizer("en").tokenize("Don't stop, Bob.")
        assert all(tokens) and tokens[0].start == 0


def test_missing_extra_is_a_located_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pythainlp", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "pythainlp.tokenize", None)
    problems = Problems()
    loc = Location("config.yml", 2)
    NLUPipeline.from_config([{"name": "ThaiTokenizer"}], Domain(), problems, [loc])
    assert len(problems.errors) == 1
    assert problems.errors[0].location == loc
    assert "pip install 'chinwag[th]'" in problems.errors[0].message
    with pytest.raises(MissingExtra, match=r"chinwag\[th\]"):
        from_spec({"name": "ThaiTokenizer"})


def test_chinese_lookup_and_regex_match_on_token_edges() -> None:
    nlu = NLUData(
        examples=[
            Message("南京的天气怎么样", "ask_weather", [Entity("city", "南京", 0, 2)]),
            Message("你好", "greet"),
        ],
        lookups={"city": ["南京"]},
        regexes=[Regex("city", "京的")],
    )
    problems = Problems()
    pipeline = NLUPipeline.from_config(
        [{"name": "JiebaTokenizer"}, {"name": "RegexEntityExtractor"}],
        Domain(),
        problems,
        language="zh",
    )
    pipeline.train(nlu, Domain())
    # "京的" straddles two words: no match; "南京" is one word: matched without \b
    parsed = pipeline.parse_sync("南京的天气怎么样")
    found = [(e["value"], e["start"], e["end"]) for e in parsed["entities"]]
    assert found == [("南京", 0, 2)]


@pytest.mark.parametrize("language", ["zh", "ja"])
def test_bot_trains_and_passes_chinwag_test(
    language: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = _zh_bot(tmp_path / "zh") if language == "zh" else _ja_bot(tmp_path / "ja")
    out = tmp_path / "results"
    assert main(["train", str(bot)]) == 0
    assert main(["test", str(bot), "--out", str(out), "--fail-on-prediction-errors"]) == 0
    assert "conversations: 3/3 passed" in capsys.readouterr().out
    report = json.loads((out / "story_report.json").read_text())
    assert report["conversation_accuracy"]["correct"] == 3


def test_chinese_entities_have_exact_spans_and_synonyms(tmp_path: Path) -> None:
    bot = _zh_bot(tmp_path / "zh")
    assert main(["train", str(bot)]) == 0
    from chinwag.core.train import load_model

    model = load_model(next((bot / "models").glob("*.tar.gz")))
    nlu = model.nlu
    parsed = nlu.parse_sync("南京的天气怎么样")
    assert parsed["intent"]["name"] == "ask_weather"
    assert [(e["entity"], e["value"], e["start"], e["end"]) for e in parsed["entities"]] == [
        ("city", "南京", 0, 2)
    ]
    text = "帝都的天气怎么样"
    [entity] = nlu.parse_sync(text)["entities"]
    assert text[entity["start"] : entity["end"]] == "帝都" and entity["value"] == "北京"


JA_CITIES = ["東京", "大阪", "京都", "名古屋", "札幌", "福岡", "横浜", "神戸"]
JA_TEMPLATES = ["{}の天気はどうですか", "明日{}は雨が降りますか", "{}の天気を教えて"]


def _ja_bot(root: Path) -> Path:
    return _bot(
        root,
        "ja",
        ["こんにちは", "おはよう", "こんばんは", "やあ"],
        _annotated(JA_TEMPLATES, JA_CITIES),
        "{city}は晴れです",
        [
            ("東京", "{}の天気はどうですか"),
            ("大阪", "{}の天気を知りたいです"),
            ("京都", "明日{}は雨が降りますか"),
        ],
    )


def _city(template: str, city: str) -> list[Entity]:
    start = template.index("{}")
    return [Entity("city", city, start, start + len(city))]


def test_japanese_bot_extracts_exact_spans(tmp_path: Path) -> None:
    text = "東京の天気はどうですか"
    tokens = JapaneseTokenizer().tokenize(text)
    assert [t.text for t in tokens][:2] == ["東京", "の"]
    assert all(text[t.start : t.end] == t.text for t in tokens)
    examples = [
        Message(t.format(c), "ask_weather", _city(t, c)) for t in JA_TEMPLATES for c in JA_CITIES
    ] + [Message(g, "greet") for g in ["こんにちは", "おはよう", "こんばんは", "やあ"]]
    problems = Problems()
    pipeline = NLUPipeline.from_config(
        [{"name": "DIETClassifier"}], Domain(), problems, language="ja"
    )
    assert pipeline.tokenizer.name == "JapaneseTokenizer"
    pipeline.train(NLUData(examples=examples), Domain())
    for city in JA_CITIES[:3]:
        text = f"{city}の天気を知りたいです"  # a sentence it was not trained on
        parsed = pipeline.parse_sync(text)
        assert parsed["intent"]["name"] == "ask_weather"
        assert [(e["value"], e["start"], e["end"]) for e in parsed["entities"]] == [
            (city, 0, len(city))
        ]


def test_whitespace_tokenizer_is_the_default_and_unchanged() -> None:
    assert isinstance(from_spec(None), Tokenizer) and from_spec(None).spaced
    tokens = Tokenizer().tokenize("don't pay $12.50, ok")
    assert [t.text for t in tokens] == ["don't", "pay", "$", "12.50", ",", "ok"]


def test_word_features_read_segmented_chinese() -> None:
    # Rasa's usual Chinese config: word counts only. Unsegmented, each sentence would be one
    # "word": a sentence not in the training data would share no feature with it, and every
    # such sentence would get the same intent
    examples = [
        Message(t.format(c), "ask_weather", _city(t, c))
        for t in ZH_TEMPLATES
        for c in ZH_CITIES[:2]
    ] + [Message(g, "greet") for g in ["你好", "您好", "早上好", "晚上好", "你好朋友", "大家好"]]
    problems = Problems()
    pipeline = NLUPipeline.from_config(
        [
            {"name": "JiebaTokenizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "DIETClassifier"},
        ],
        Domain(),
        problems,
        language="zh",
    )
    pipeline.train(NLUData(examples=examples), Domain())
    for text, intent in [
        ("西安的天气怎么样", "ask_weather"),
        ("明天成都会下雨吗", "ask_weather"),
        ("你好\uff0c老朋友", "greet"),
        ("大家早上好", "greet"),
    ]:
        assert pipeline.parse_sync(text)["intent"]["name"] == intent, text


def test_model_needing_a_missing_segmenter_is_a_model_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from chinwag.core.train import ModelError, load_model

    bot = _zh_bot(tmp_path / "zh")
    assert main(["train", str(bot)]) == 0
    monkeypatch.setitem(sys.modules, "jieba", None)  # as if uninstalled after training
    with pytest.raises(ModelError, match=r"chinwag\[zh\]"):
        load_model(next((bot / "models").glob("*.tar.gz")))
