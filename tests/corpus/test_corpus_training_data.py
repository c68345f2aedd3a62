"""Every corpus bot's training data and test stories read with the YAML/JSON readers.

Counts were checked against the files (``grep -c '- story:'`` and friends).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chinwag.core.data.json_reader import read_nlu_json
from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.training import NLUData, StoryData, UserStep
from chinwag.core.data.yaml_io import YamlError, load_yaml
from chinwag.core.data.yaml_reader import (
    detect_yaml_content,
    is_test_stories_file,
    read_training_yaml,
)
from chinwag.core.data.yaml_writer import dump_nlu_yaml, dump_stories_yaml
from tests.core.data.test_yaml_writer import read_back, without_locations
from tests.corpus.bots import CORPUS_BOTS

pytestmark = pytest.mark.corpus

TEST_DIRS = ("tests", "test_stories")
BOTS = CORPUS_BOTS


def read_files(root: Path, files: list[Path], *, test: bool) -> tuple[NLUData, StoryData, Problems]:
    problems = Problems()
    nlu, stories = NLUData(), StoryData()
    for path in files:
        data = load_yaml(path, str(path.relative_to(root)))
        part_nlu, part_stories = read_training_yaml(data, problems, test=test, base_dir=path.parent)
        nlu.merge(part_nlu)
        stories.merge(part_stories)
    return nlu, stories, problems


def bot_data(corpus: Path, bot: str) -> tuple[NLUData, StoryData, Problems]:
    root = corpus / bot
    return read_files(root, sorted((root / "data").rglob("*.yml")), test=False)


def bot_tests(corpus: Path, bot: str) -> tuple[StoryData, Problems]:
    root = corpus / bot
    files = sorted(p for d in TEST_DIRS if (root / d).is_dir() for p in (root / d).rglob("*.yml"))
    _, stories, problems = read_files(root, files, test=True)
    return stories, problems


@pytest.mark.parametrize("bot", BOTS)
def test_bot_data_reads_without_problems(corpus_dir: Path, bot: str) -> None:
    nlu, stories, problems = bot_data(corpus_dir, bot)
    assert [str(p) for p in problems] == []
    assert nlu.examples
    assert stories.stories or stories.rules
    assert all(s.kind == "story" for s in stories.stories)


@pytest.mark.parametrize(
    ("bot", "stories", "rules", "examples", "intents", "synonyms", "lookups"),
    [
        ("financial-demo", 19, 20, 578, 17, 13, {}),
        ("helpdesk-assistant", 14, 7, 452, 14, 5, {}),
        ("carbon-bot", 51, 4, 2521, 25, 37, {}),
        ("breakoutbot", 3, 3, 85, 9, 0, {"object": 5}),
        ("rasa-knowledgebasebot", 1, 4, 44, 4, 16, {"restaurant": 7, "hotel": 6}),
    ],
)
def test_bot_data_counts(
    corpus_dir: Path,
    bot: str,
    stories: int,
    rules: int,
    examples: int,
    intents: int,
    synonyms: int,
    lookups: dict[str, int],
) -> None:
    nlu, data, _ = bot_data(corpus_dir, bot)
    assert (len(data.stories), len(data.rules)) == (stories, rules)
    assert (len(nlu.examples), len(nlu.intents), len(nlu.synonyms)) == (
        examples,
        intents,
        synonyms,
    )
    assert nlu.regexes == []
    assert {name: len(items) for name, items in nlu.lookups.items()} == lookups


def test_carbon_bot_uses_entity_roles(corpus_dir: Path) -> None:
    nlu, _, _ = bot_data(corpus_dir, "carbon-bot")
    roles = {(e.entity, e.role) for m in nlu.examples for e in m.entities if e.role}
    assert roles == {("iata", "from"), ("iata", "to"), ("city", "from"), ("city", "to")}
    annotated = [m for m in nlu.examples if any(e.role for e in m.entities)]
    assert len(annotated) >= 150
    for message in annotated:
        for entity in message.entities:
            assert entity.start is not None and entity.end is not None
            assert 0 <= entity.start < entity.end <= len(message.text)


def test_retrieval_responses_in_nlu_file(corpus_dir: Path) -> None:
    nlu, _, _ = bot_data(corpus_dir, "rasa-responseselectorbot")
    assert len(nlu.responses) == 2
    assert all(name.startswith("utter_") and "/" in name for name in nlu.responses)
    assert {m.base_intent for m in nlu.examples if m.retrieval_key} == {"chitchat"}


@pytest.mark.parametrize(
    ("bot", "count", "rasa_test_file"),
    [
        ("financial-demo", 48, True),
        ("helpdesk-assistant", 12, True),
        ("carbon-bot", 7, False),  # test_stories/stories.yml: no test_ prefix
        ("rasa-formbot", 3, True),
        ("rasa-e2ebot", 4, True),
        ("rasa-initial-project", 7, True),
        ("retrieval-lunr", 7, True),
        ("retrieval-jina", 7, True),
        ("breakoutbot", 1, False),  # tests/conversation_tests.yml: no test_ prefix
    ],
)
def test_test_stories(corpus_dir: Path, bot: str, count: int, rasa_test_file: bool) -> None:
    stories, problems = bot_tests(corpus_dir, bot)
    assert [str(p) for p in problems] == []
    assert len(stories.stories) == count
    assert all(s.kind == "test" for s in stories.stories)
    root = corpus_dir / bot
    files = [p for d in TEST_DIRS if (root / d).is_dir() for p in (root / d).rglob("*.yml")]
    assert [is_test_stories_file(p, load_yaml(p)) for p in files] == [rasa_test_file]


def test_e2e_test_stories_carry_text(corpus_dir: Path) -> None:
    stories, _ = bot_tests(corpus_dir, "rasa-e2ebot")
    users = [s for story in stories.stories for s in story.steps if isinstance(s, UserStep)]
    assert users and all(u.text for u in users)


@pytest.mark.parametrize("bot", BOTS)
def test_bot_data_round_trips_through_the_writer(corpus_dir: Path, bot: str) -> None:
    nlu, stories, _ = bot_data(corpus_dir, bot)
    nlu_back, _ = read_back(dump_nlu_yaml(nlu))
    _, stories_back = read_back(dump_stories_yaml(stories))
    assert without_locations(stories_back) == without_locations(stories)
    assert without_locations(nlu_back.examples) == without_locations(nlu.examples)
    assert nlu_back.synonyms == nlu.synonyms
    assert nlu_back.lookups == nlu.lookups
    assert nlu_back.responses == nlu.responses


# ---------------------------------------------------------------------------- rasa-testdata


def _training_files(corpus: Path) -> list[Path]:
    root = corpus / "rasa-testdata"
    out = []
    for path in sorted([*root.rglob("*.yml"), *root.rglob("*.yaml")]):
        if "test_config" in path.parts or path.name in {"config.yml", "endpoints.yml"}:
            continue
        try:
            data = load_yaml(path)
        except YamlError:
            continue
        content = detect_yaml_content(data)
        # domain files may carry `responses` too; only training files are read here
        if content and not {"intents", "slots", "actions", "entities"} & set(data):
            out.append(path)
    return out


def test_rasa_testdata_yaml_reads_with_only_the_expected_problems(corpus_dir: Path) -> None:
    root = corpus_dir / "rasa-testdata"
    files = _training_files(corpus_dir)
    assert len(files) > 60
    problems = Problems()
    stories = StoryData()
    for path in files:
        name = str(path.relative_to(root))
        _, part = read_training_yaml(
            load_yaml(path, name), problems, test=is_test_stories_file(path), base_dir=path.parent
        )
        stories.merge(part)
    assert sorted((p.level, str(p.location)) for p in problems.errors) == [
        ("error", "test_wrong_yaml_stories/intent_with_leading_slash.yml:4"),
        ("error", "test_yaml_stories/rules_missing_intent.yml:6"),
        ("error", "test_yaml_stories/stories_missing_intent.yml:6"),
    ]
    warned = {str(p.location).split(":")[0] for p in problems.warnings}
    assert warned == {
        "rasa_yaml_examples/nlu.yml",  # examples without '- ' (skipped, as Rasa does)
        "test_mixed_yaml_training_data/training_data.yml",  # a rule item under stories
        "test_yaml_stories/non_test_full_retrieval_intent_story.yml",
    }
    assert len(stories.stories) > 100
    assert any(s.kind == "test" for s in stories.stories)


def test_rasa_testdata_wrong_yaml_is_a_located_yaml_error(corpus_dir: Path) -> None:
    path = corpus_dir / "rasa-testdata" / "test_wrong_yaml_stories" / "wrong_yaml.yml"
    with pytest.raises(YamlError) as caught:
        load_yaml(path, "wrong_yaml.yml")
    assert caught.value.location == Location("wrong_yaml.yml", 2)


def test_rasa_testdata_leading_slash_story(corpus_dir: Path) -> None:
    path = (
        corpus_dir / "rasa-testdata" / "test_wrong_yaml_stories" / "intent_with_leading_slash.yml"
    )
    problems = Problems()
    _, stories = read_training_yaml(load_yaml(path, "slash.yml"), problems)
    first = stories.stories[0].steps[0]
    assert isinstance(first, UserStep) and first.intent == "simple"
    assert [str(p) for p in problems] == [
        "slash.yml:4: error: intent '/simple' starts with '/': write the intent name without "
        "it ('simple'); the slash belongs to button payloads only"
    ]


def test_rasa_testdata_json(corpus_dir: Path) -> None:
    path = corpus_dir / "rasa-testdata" / "examples" / "rasa" / "demo-rasa.json"
    problems = Problems()
    nlu = read_nlu_json(path.read_text(), "demo-rasa.json", problems)
    assert len(nlu.examples) == 46
    assert [(r.name, r.pattern) for r in nlu.regexes] == [
        ("zipcode", "[0-9]{5}"),
        ("greet", "hey[^\\s]*"),
    ]
    assert nlu.synonyms["Chines"] == "chinese" and nlu.synonyms["veggie"] == "vegetarian"
    assert {m.base_intent for m in nlu.examples if m.retrieval_key} == {"chitchat"}
    # Rasa's own file misspells `entities` four times; Rasa ignores the key, so do we (warning)
    assert [p.level for p in problems] == ["warning"] * 4
    assert all("unknown key 'entitites'" in p.message for p in problems)


def test_rasa_testdata_has_no_markdown(corpus_dir: Path) -> None:
    """The snapshot is Rasa 3.7's data/ folder: Markdown fixtures were removed in Rasa 3.0."""
    assert list((corpus_dir / "rasa-testdata").rglob("*.md")) == []
