"""`chinwag data visualize` over every real bot in ../shared/corpus."""

import json
import re
from pathlib import Path

import pytest

from chinwag.core.cli import main
from chinwag.core.data.loader import load_bot
from chinwag.core.visualize import END, START, training_paths
from tests.corpus.bots import CORPUS_BOTS

pytestmark = pytest.mark.corpus


@pytest.mark.parametrize("name", CORPUS_BOTS)
def test_data_visualize_draws_every_corpus_bot(
    name: str, corpus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "graph.html"
    assert main(["data", "visualize", str(corpus_dir / name), "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    html = out.read_text()
    found = re.search(r"window\.CHINWAG_GRAPH = (.*?); window\.CHINWAG_LIVE", html, re.DOTALL)
    assert found is not None
    graph = json.loads(found.group(1).replace("<\\/", "</"))
    labels = {node["label"] for node in graph["nodes"]}
    assert START in labels
    # every intent and action of every story (or rule) is drawn
    for path in training_paths(load_bot(corpus_dir / name)):
        assert {label.name for label in path} <= labels
        assert END in labels
    ids = {node["id"] for node in graph["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in graph["edges"])
