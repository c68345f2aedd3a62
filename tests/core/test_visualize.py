"""Story graphs: the graph, the page in headless Chromium (static and live), the feed."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pexpect
import pytest
from aiohttp.test_utils import TestClient, TestServer
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from chinwag.core.cli import main
from chinwag.core.data.loader import load_bot
from chinwag.core.events import ActionExecuted, Restarted, UserUttered
from chinwag.core.visualize import (
    END,
    START,
    GraphFeed,
    Label,
    build_graph,
    event_path,
    graph_data,
    training_paths,
    visualization_app,
)
from tests.adapters.test_web_chat import browser  # noqa: F401
from tests.core.test_interactive import action, make_bot, nlu, say, spawn

REPO = Path(__file__).resolve().parents[2]


def intent(name: str) -> Label:
    return Label("intent", name)


def act(name: str) -> Label:
    return Label("action", name)


def labels(graph: object) -> list[str]:
    return sorted(data["label"] for _, data in graph.nodes(data=True))  # type: ignore[attr-defined]


def test_shared_beginnings_merge_and_the_conversation_is_marked() -> None:
    paths = [
        [intent("greet"), act("utter_greet"), intent("bye"), act("utter_bye")],
        [intent("greet"), act("utter_greet"), intent("thank"), act("utter_welcome")],
    ]
    graph = build_graph(paths, [intent("greet"), act("utter_greet")])
    # one START, one greet and one utter_greet shared by both stories, one END
    assert labels(graph).count("greet") == 1 and labels(graph).count("utter_greet") == 1
    assert labels(graph).count(START) == 1 and labels(graph).count(END) == 1
    current = sorted(d["label"] for _, d in graph.nodes(data=True) if d["current"])
    assert current == [START, "greet", "utter_greet"]
    latest = [d["label"] for _, d in graph.nodes(data=True) if d["latest"]]
    assert latest == ["utter_greet"]
    data = graph_data(graph, 3)
    assert data["version"] == 3 and len(data["edges"]) == graph.number_of_edges()


def test_event_path_starts_over_at_a_restart_and_skips_listens() -> None:
    events = [
        UserUttered("hi", {"name": "greet"}),
        ActionExecuted("utter_greet"),
        Restarted(),
        ActionExecuted("action_session_start"),
        ActionExecuted("action_listen"),
        UserUttered("bye", {"name": "bye"}),
        ActionExecuted("utter_bye"),
    ]
    assert event_path(events) == [intent("bye"), act("utter_bye")]


async def test_the_feed_answers_when_the_graph_changes_and_rejects_bad_versions() -> None:
    feed = GraphFeed()
    async with TestClient(TestServer(visualization_app(feed, "test"))) as client:
        bad = await client.get("/visualization.json?after=soon")
        assert bad.status == 400 and "after" in (await bad.json())["error"]
        waiting = asyncio.ensure_future(client.get("/visualization.json?after=0"))
        await asyncio.sleep(0)  # let the request start waiting (not a timing assert)
        await feed.publish(build_graph([[intent("greet"), act("utter_greet")]]))
        response = await waiting
        data = await response.json()
        assert data["version"] == 1
        assert "utter_greet" in [n["label"] for n in data["nodes"]]
        page = await client.get("/visualization.html")
        html = await page.text()
        assert "dagre" in html and "window.CHINWAG_LIVE = true" in html


REDRAWS = 50  # redraws met in a row while reading the graph before the test gives up


def node_labels(driver: WebDriver) -> list[str]:
    """The graph's node labels now; the live page redraws the graph when the story grows, so a
    node found a moment ago may be gone (stale): then read the new drawing."""
    for _ in range(REDRAWS):
        try:
            return [
                str(e.get_attribute("data-label"))
                for e in driver.find_elements(By.CSS_SELECTOR, "g.node")
            ]
        except StaleElementReferenceException:
            continue
    raise AssertionError(f"the graph was redrawn {REDRAWS} times while it was read")


def node_classes(driver: WebDriver, label: str) -> str:
    """The class attribute of the node labelled ``label`` ("" while there is none)."""
    for _ in range(REDRAWS):
        try:
            nodes = driver.find_elements(By.CSS_SELECTOR, f'g.node[data-label="{label}"]')
            return str(nodes[0].get_attribute("class")) if nodes else ""
        except StaleElementReferenceException:
            continue
    raise AssertionError(f"the graph was redrawn {REDRAWS} times while it was read")


def test_data_visualize_writes_an_offline_page(
    tmp_path: Path,
    browser: WebDriver,  # noqa: F811
) -> None:
    bot = make_bot(tmp_path / "bot")
    out = tmp_path / "graph.html"
    assert main(["data", "visualize", str(bot), "--out", str(out)]) == 0
    html = out.read_text()
    assert "<script src" not in html and "http" not in html.split("<script>", 1)[1][:200]
    browser.get(out.as_uri())
    WebDriverWait(browser, 20).until(lambda d: "utter_greet" in node_labels(d))
    assert sorted(node_labels(browser)) == sorted(
        labels(build_graph(training_paths(load_bot(bot))))
    )


def test_the_live_page_shows_each_new_action(
    tmp_path: Path,
    browser: WebDriver,  # noqa: F811
) -> None:
    bot = make_bot(tmp_path / "bot")
    child = spawn(bot, "--port", "0")
    try:
        child.expect(rb"Story graph: (http://localhost:\d+/visualization\.html)")
        url = child.match.group(1).decode()
        browser.get(url)
        WebDriverWait(browser, 20).until(lambda d: "utter_greet" in node_labels(d))
        assert "utter_welcome" not in node_labels(browser)
        say(child, "cheers mate")
        nlu(child, "cheers mate", "", correct_to="thank")
        action(child, "utter_welcome")
        WebDriverWait(browser, 20).until(
            lambda d: re.search(r"\bcurrent\b", node_classes(d, "utter_welcome"))
        )
        action(child, "action_listen")
        child.expect("Next user input:")
        child.sendeof()  # Ctrl-D: leaves, the session stays saved
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert (bot / ".chinwag" / "interactive-session.json").is_file()


def test_data_visualize_reports_a_broken_bot_with_its_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = make_bot(tmp_path / "bot")
    (bot / "domain.yml").write_text("version: '3.1'\nintents: [greet\n")
    out = tmp_path / "graph.html"
    assert main(["data", "visualize", str(bot), "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "domain.yml:" in printed and "not drawn" in printed
    assert not out.exists()
