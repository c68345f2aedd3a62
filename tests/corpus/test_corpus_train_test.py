"""Every corpus bot trains from its own config; chinwag test passes their test stories."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from chinwag.core.cli import main
from chinwag.core.data.loader import load_bot
from chinwag.core.model import read_metadata
from chinwag.core.train import train_bot
from tests.corpus.bots import CORPUS_BOTS

pytestmark = pytest.mark.corpus

# bot -> (test stories passed, in all) as measured (bench/results/test_stories.md); the goal is
# all of them
TEST_STORIES = {
    "financial-demo": (46, 48),
    "helpdesk-assistant": (12, 12),
    "carbon-bot": (7, 7),
    "rasa-formbot": (3, 3),
    "rasa-e2ebot": (3, 4),
    "rasa-initial-project": (7, 7),
    "retrieval-lunr": (7, 7),
    "retrieval-jina": (7, 7),
    "breakoutbot": (0, 1),
}
# bots whose test stories do not all pass yet; every failure is an NLU miss (action accuracy
# is 1.0 on all nine bots): bot -> reason
KNOWN_FAILURES: dict[str, str] = {
    "financial-demo": "NLU entities: PERSON 'Latisha' / 'lisa' not extracted (Rasa's bot has "
    "spaCy's PERSON NER there)",
    "rasa-e2ebot": "NLU: 'I can always go for sushi' is search_restaurant, the story says affirm",
    "breakoutbot": "NLU: 'look at the window' is classified as violence, the story says look",
}


@pytest.mark.parametrize("name", CORPUS_BOTS)
def test_bot_trains_from_its_own_config(name: str, corpus_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "model.tar.gz"
    start = time.perf_counter()
    result = train_bot(corpus_dir / name, out=target)
    seconds = time.perf_counter() - start
    assert result.ok, [str(p) for p in result.problems.errors]
    assert result.archive == target and target.is_file()
    assert result.trained_nlu and result.trained_dialogue
    meta = read_metadata(target)
    assert meta.bot == name and len(meta.fingerprints.nlu) == 64
    print(f"{name}: trained in {seconds:.1f} s")


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            n,
            marks=pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[n])
            if n in KNOWN_FAILURES
            else (),
        )
        for n in TEST_STORIES
    ],
)
def test_test_stories_pass(name: str, corpus_dir: Path, tmp_path: Path) -> None:
    passed, total = TEST_STORIES[name]
    bot = corpus_dir / name
    assert len(load_bot(bot).test_stories) > 0
    assert main(["test", str(bot), "--out", str(tmp_path)]) == 0
    accuracy = json.loads((tmp_path / "story_report.json").read_text())["conversation_accuracy"]
    assert (accuracy["correct"], accuracy["total"]) == (passed, total)
    assert passed == total, (tmp_path / "failed_test_stories.yml").read_text()
