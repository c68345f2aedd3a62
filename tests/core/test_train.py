"""chinwag train: archives with fingerprints, retraining only what changed, the agent loading it."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from chinwag.core.agent import UserMessage, load_agent
from chinwag.core.cli import main
from chinwag.core.model import latest_archive, read_metadata
from chinwag.core.train import load_model, train_bot

DOMAIN = """\
version: "3.1"
intents: [greet, goodbye, ask_weather]
responses:
  utter_greet:
  - text: "Hello!"
  utter_goodbye:
  - text: "Bye!"
  utter_weather:
  - text: "Sunny."
"""
CONFIG = """\
language: en
pipeline:
- name: WhitespaceTokenizer
- name: CountVectorsFeaturizer
- name: CountVectorsFeaturizer
  analyzer: char_wb
  min_ngram: 1
  max_ngram: 4
- name: DIETClassifier
  epochs: 100
policies:
- name: MemoizationPolicy
- name: RulePolicy
- name: TEDPolicy
"""
NLU = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - hi
    - hey there
    - good morning
    - hello friend
    - hi bot
- intent: goodbye
  examples: |
    - bye
    - goodbye
    - see you later
    - bye bye
    - see you soon
    - good night
- intent: ask_weather
  examples: |
    - what is the weather like
    - will it rain today
    - is it sunny outside
    - how is the weather
    - what's the forecast
    - is it going to rain
"""
STORIES = """\
version: "3.1"
stories:
- story: greet
  steps:
  - intent: greet
  - action: utter_greet
- story: weather
  steps:
  - intent: ask_weather
  - action: utter_weather
"""
RULES = """\
version: "3.1"
rules:
- rule: bye
  steps:
  - intent: goodbye
  - action: utter_goodbye
"""


def make_bot(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "domain.yml").write_text(DOMAIN)
    (root / "config.yml").write_text(CONFIG)
    (root / "data" / "nlu.yml").write_text(NLU)
    (root / "data" / "stories.yml").write_text(STORIES)
    (root / "data" / "rules.yml").write_text(RULES)
    return root


def members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive, "r:gz") as tar:
        return {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


@pytest.fixture
def bot(tmp_path: Path) -> Path:
    return make_bot(tmp_path / "bot")


def test_train_writes_archive_with_fingerprints(bot: Path) -> None:
    result = train_bot(bot)
    assert result.ok and result.trained_nlu and result.trained_dialogue
    assert result.archive is not None and result.archive.parent == bot / "models"
    assert result.archive.name.endswith(".tar.gz")
    files = members(result.archive)
    assert {"metadata.json", "domain.json", "core/policies.json"} <= set(files)
    assert any(name.startswith("nlu/") for name in files)
    meta = json.loads(files["metadata.json"])
    assert meta["bot"] == "bot"
    assert len(meta["fingerprints"]["nlu"]) == 64 and len(meta["fingerprints"]["dialogue"]) == 64
    domain = json.loads(files["domain.json"])
    assert [i if isinstance(i, str) else next(iter(i)) for i in domain["intents"]] == [
        "ask_weather",
        "goodbye",
        "greet",
    ]
    policies = [p["name"] for p in json.loads(files["core/policies.json"])]
    assert policies[:2] == ["MemoizationPolicy", "RulePolicy"] and len(policies) == 3


def test_second_run_skips_and_cli_says_so(bot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = train_bot(bot)
    second = train_bot(bot)
    assert second.up_to_date and second.archive == first.archive
    assert not second.trained_nlu and not second.trained_dialogue
    assert main(["train", str(bot)]) == 0
    assert f"nothing changed, {first.archive} is up to date" in capsys.readouterr().out
    assert len(list((bot / "models").iterdir())) == 1


def test_story_change_retrains_dialogue_only(bot: Path) -> None:
    first = train_bot(bot)
    assert first.archive is not None
    (bot / "data" / "stories.yml").write_text(
        STORIES + "- story: greet twice\n  steps:\n  - intent: greet\n  - action: utter_greet\n"
        "  - intent: greet\n  - action: utter_greet\n"
    )
    second = train_bot(bot)
    assert second.archive is not None and second.archive != first.archive
    assert second.trained_dialogue and not second.trained_nlu
    assert second.reused_from == first.archive
    old, new = members(first.archive), members(second.archive)
    nlu_files = [n for n in old if n.startswith("nlu/")]
    assert nlu_files and all(old[n] == new[n] for n in nlu_files)
    assert old["core/policies.json"] != new["core/policies.json"]
    assert read_metadata(second.archive).fingerprints.nlu == (
        read_metadata(first.archive).fingerprints.nlu
    )


def test_nlu_change_retrains_nlu_only(bot: Path) -> None:
    first = train_bot(bot)
    assert first.archive is not None
    (bot / "data" / "nlu.yml").write_text(NLU + "    - howdy\n")
    second = train_bot(bot)
    assert second.archive is not None
    assert second.trained_nlu and not second.trained_dialogue
    old, new = members(first.archive), members(second.archive)
    assert old["core/policies.json"] == new["core/policies.json"]
    assert read_metadata(second.archive).fingerprints.dialogue == (
        read_metadata(first.archive).fingerprints.dialogue
    )


def test_moving_lines_changes_no_fingerprint(bot: Path) -> None:
    first = train_bot(bot)
    (bot / "data" / "stories.yml").write_text("# a comment shifts every line\n" + STORIES)
    assert train_bot(bot).up_to_date
    assert first.archive is not None


def test_force_and_out(bot: Path, tmp_path: Path) -> None:
    train_bot(bot)
    target = tmp_path / "elsewhere" / "model.tar.gz"
    assert main(["train", str(bot), "--out", str(target), "--force"]) == 0
    assert target.is_file()
    assert read_metadata(target).bot == "bot"
    assert len(list((bot / "models").iterdir())) == 1


def test_validation_error_exits_1_without_archive(
    bot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (bot / "data" / "stories.yml").write_text(
        STORIES + "- story: bad\n  steps:\n  - intent: greet\n  - action: utter_nowhere\n"
    )
    assert main(["train", str(bot)]) == 1
    out = capsys.readouterr().out
    assert "data/stories.yml:" in out and "utter_nowhere" in out
    assert "not trained" in out
    assert not (bot / "models").exists()


async def test_agent_loads_archive_and_understands_paraphrase(bot: Path) -> None:
    # without a model: example matching does not know "hello there friend"
    plain = load_agent(bot)
    assert await plain.handle(UserMessage("hello there friend", "a")) != [{"text": "Hello!"}]
    result = train_bot(bot)
    assert result.archive is not None
    agent = load_agent(bot)
    assert type(agent.interpreter).__name__ == "NLUPipeline"
    assert await agent.handle(UserMessage("hello there friend", "b")) == [{"text": "Hello!"}]
    assert await agent.handle(UserMessage("is it raining outside today", "b")) == [
        {"text": "Sunny."}
    ]


def test_agent_warns_when_model_is_older_than_data(
    bot: Path, caplog: pytest.LogCaptureFixture
) -> None:
    train_bot(bot)
    (bot / "data" / "nlu.yml").write_text(NLU + "    - howdy\n")
    load_agent(bot)
    assert "is older than the data; run chinwag train" in caplog.text


def test_load_model_round_trip(bot: Path) -> None:
    result = train_bot(bot)
    assert result.archive is not None
    model = load_model(result.archive)
    assert [type(p).__name__ for p in model.policies.policies][:2] == [
        "MemoizationPolicy",
        "RulePolicy",
    ]
    parsed = model.nlu.parse_sync("goodbye")
    assert parsed["intent"]["name"] == "goodbye"
    assert latest_archive(bot) == result.archive
