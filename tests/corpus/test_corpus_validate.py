"""`chinwag data validate` and `convert` over every real bot in ../shared/corpus."""

from pathlib import Path

import pytest

from chinwag.core.cli import main
from chinwag.core.data.loader import load_bot
from chinwag.core.data.validate import validate_bot, validate_path
from tests.corpus.bots import CORPUS_BOTS

pytestmark = pytest.mark.corpus

CLEAN_BOTS = CORPUS_BOTS

# Every malformed file of Rasa's own fixtures, with where the error must point.
KNOWN_BAD = {
    "test_domains/custom_slot_domain.yml": ["test_domains/custom_slot_domain.yml:10"],
    "test_domains/duplicate_actions.yml": ["test_domains/duplicate_actions.yml:35"],
    "test_domains/duplicate_entities.yml": ["test_domains/duplicate_entities.yml:20"],
    "test_domains/duplicate_intents.yml": [
        "test_domains/duplicate_intents.yml:5",
        "test_domains/duplicate_intents.yml:6",
    ],
    "test_domains/duplicate_responses.yml": ["test_domains/duplicate_responses.yml:22"],
    "test_domains/empty_response_format.yml": ["test_domains/empty_response_format.yml:16"],
    "test_domains/invalid_format.yml": ["test_domains/invalid_format.yml:15"],
    "test_domains/missing_text_for_templates.yml": [
        "test_domains/missing_text_for_templates.yml:8",
        "test_domains/missing_text_for_templates.yml:10",
        "test_domains/missing_text_for_templates.yml:12",
    ],
    "test_domains/test_domain_from_directory/domain_invalid.yml": [
        "test_domains/test_domain_from_directory/domain_invalid.yml:4"
    ],
    "test_domains/wrong_custom_response_format.yml": [
        "test_domains/wrong_custom_response_format.yml:17"
    ],
    "test_domains/wrong_response_format.yml": [
        "test_domains/wrong_response_format.yml:17",
        "test_domains/wrong_response_format.yml:19",
        "test_domains/wrong_response_format.yml:21",
    ],
    "test_mixed_yaml_training_data/training_data.yml": [
        "test_mixed_yaml_training_data/training_data.yml:11"  # start checkpoint never defined
    ],
    "test_wrong_yaml_stories/intent_with_leading_slash.yml": [
        "test_wrong_yaml_stories/intent_with_leading_slash.yml:4"
    ],
    "test_wrong_yaml_stories/wrong_yaml.yml": ["test_wrong_yaml_stories/wrong_yaml.yml:2"],
    "test_yaml_stories/rules_missing_intent.yml": ["test_yaml_stories/rules_missing_intent.yml:6"],
    "test_yaml_stories/stories_missing_intent.yml": [
        "test_yaml_stories/stories_missing_intent.yml:6"
    ],
}


@pytest.mark.parametrize("name", CLEAN_BOTS)
def test_every_clean_corpus_bot_validates_with_exit_0(
    corpus_dir: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "validate", str(corpus_dir / name)]) == 0
    out = capsys.readouterr().out
    assert ": ok (0 errors" in out
    assert "Traceback" not in out


def test_rasa_testdata_known_bad_files_give_located_errors(corpus_dir: Path) -> None:
    reports = validate_path(corpus_dir / "rasa-testdata")
    assert len(reports) > 150  # every bot and loose data file is checked, none crashes
    failed = {r.name: sorted(str(p.location) for p in r.problems.errors) for r in reports}
    failed = {name: locations for name, locations in failed.items() if locations}
    assert failed == {name: sorted(locs) for name, locs in KNOWN_BAD.items()}
    for report in reports:
        for problem in report.problems.errors:
            assert problem.location is not None and problem.location.line, str(problem)


def test_rasa_testdata_exit_code_and_summary(
    corpus_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "validate", "--errors-only", str(corpus_dir / "rasa-testdata")]) == 1
    out = capsys.readouterr().out
    assert "with errors" in out and f"{len(KNOWN_BAD)} with errors" in out
    assert "Traceback" not in out


def test_single_bad_file_validates_alone(corpus_dir: Path) -> None:
    path = corpus_dir / "rasa-testdata/test_yaml_stories/stories_unused_checkpoints.yml"
    [report] = validate_path(path)
    assert [(p.level, p.location.line if p.location else None) for p in report.problems] == [
        ("error", 19),
        ("warning", 7),
        ("warning", 15),
    ]


@pytest.mark.parametrize(
    "name", ["carbon-bot", "financial-demo", "helpdesk-assistant", "rasa-formbot", "breakoutbot"]
)
def test_convert_reloads_identically_and_validates(
    corpus_dir: Path, tmp_path: Path, name: str
) -> None:
    out = tmp_path / name
    assert main(["data", "convert", str(corpus_dir / name), "--out", str(out)]) == 0
    before, after = load_bot(corpus_dir / name), load_bot(out)
    assert validate_bot(after).errors == []
    assert after.domain.intents.keys() == before.domain.intents.keys()
    assert after.domain.slots == before.domain.slots  # locations are not compared
    assert after.domain.forms == before.domain.forms
    assert after.domain.responses == before.domain.responses
    assert len(after.nlu.examples) == len(before.nlu.examples)
    assert after.nlu.synonyms == before.nlu.synonyms
    assert [s.name for s in after.stories] == [s.name for s in before.stories]
    assert [r.name for r in after.rules] == [r.name for r in before.rules]
    assert len(after.test_stories) == len(before.test_stories)
    # a 2.x bot converts without the upgrade warnings it had
    upgraded = [p for p in after.problems.warnings if "upgrade" in p.message.lower()]
    assert upgraded == []
