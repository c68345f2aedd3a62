"""Story graphs: stories and conversations drawn as intents and actions, as ``rasa visualize``.

A path is the sequence of a story's (or a live conversation's) user intents and bot actions,
from ``START`` to ``END``. Paths are merged into one directed graph (networkx) the way Rasa
merges equivalent nodes: two steps with the same label and the same ``history`` labels before
them are one node, so shared beginnings and shared contexts collapse. The page lays the graph
out in the browser with the vendored dagre library (``core/visualize_web``, MIT, no network).

``chinwag data visualize`` writes one self-contained HTML file; ``chinwag interactive`` serves
the same page at ``/visualization.html`` with ``/visualization.json`` as a long poll, so the
page redraws as soon as the conversation changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

import networkx as nx
from aiohttp import web

from chinwag.core.data.loader import Bot
from chinwag.core.data.problems import Problems
from chinwag.core.data.story_graph import Conversation, expand
from chinwag.core.data.training import ActionStep, UserStep
from chinwag.core.events import ActionExecuted, Event, Restarted, UserUttered
from chinwag.core.tracker import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME

START, END = "START", "END"
# Rasa visualize's default max_history: labels before a step that make it a distinct node
HISTORY = 2
# stories drawn at most (a corpus bot's checkpoints can stitch thousands of paths)
MAX_PATHS = 2000
# how long /visualization.json waits for a change before answering with the same graph
LONG_POLL_SECONDS = 20.0

Kind = Literal["start", "end", "intent", "action"]


@dataclass(frozen=True)
class Label:
    kind: Kind
    name: str


START_LABEL, END_LABEL = Label("start", START), Label("end", END)
Path = list[Label]


def conversation_path(conv: Conversation) -> Path:
    """The intents and actions of an expanded story, in order."""
    path: Path = []
    for step in conv.steps:
        if isinstance(step, UserStep):
            path.append(Label("intent", step.intent or step.text or "?"))
        elif isinstance(step, ActionStep):
            path.append(Label("action", step.name or step.text or "?"))
    return path


def event_path(events: Iterable[Event]) -> Path:
    """The intents and actions of a conversation since its latest restart."""
    path: Path = []
    for event in events:
        if isinstance(event, Restarted):
            path = []
        elif isinstance(event, UserUttered):
            path.append(Label("intent", event.intent_name or event.text or "?"))
        elif isinstance(event, ActionExecuted) and event.action_name not in (
            None,
            ACTION_LISTEN_NAME,
            ACTION_SESSION_START_NAME,
        ):
            path.append(Label("action", event.action_name))
    return path


def training_paths(bot: Bot, *, max_paths: int = MAX_PATHS) -> list[Path]:
    """Every story of the bot as a path (its rules instead when it has no stories)."""
    stories = [s for s in bot.stories if s.kind == "story"] or bot.rules
    conversations = expand(stories, Problems(), max_conversations=max_paths)
    return [path for path in map(conversation_path, conversations) if path]


def build_graph(
    paths: Sequence[Path], current: Path | None = None, *, history: int = HISTORY
) -> nx.DiGraph:
    """One graph of all ``paths`` (and the ``current`` conversation, marked on its nodes and
    edges); node attributes ``label``, ``kind``, ``current``; edge attributes ``count``,
    ``current``."""
    graph = nx.DiGraph()
    ids: dict[tuple[Label, ...], str] = {}

    def node(context: tuple[Label, ...]) -> str:
        if context not in ids:
            ids[context] = f"n{len(ids)}"
            label = context[-1]
            graph.add_node(
                ids[context], label=label.name, kind=label.kind, current=False, latest=False
            )
        return ids[context]

    def add(path: Path, mark: bool) -> None:
        full = [START_LABEL, *path]
        previous = node((START_LABEL,))
        for index in range(1, len(full)):
            here = node(tuple(full[max(0, index - history) : index + 1]))
            _link(graph, previous, here, mark)
            previous = here
        if mark:
            graph.nodes[previous]["latest"] = True
            for context in _contexts(full, history):
                graph.nodes[ids[context]]["current"] = True
        else:
            _link(graph, previous, node((END_LABEL,)), mark)

    node((START_LABEL,))
    for path in paths:
        add(path, mark=False)
    if current is not None:
        add(current, mark=True)
    return graph


def _contexts(full: list[Label], history: int) -> Iterable[tuple[Label, ...]]:
    yield (START_LABEL,)
    for index in range(1, len(full)):
        yield tuple(full[max(0, index - history) : index + 1])


def _link(graph: nx.DiGraph, source: str, target: str, mark: bool) -> None:
    if graph.has_edge(source, target):
        data = graph.edges[source, target]
        data["count"] += 1
        data["current"] = data["current"] or mark
    else:
        graph.add_edge(source, target, count=1, current=mark)


def graph_data(graph: nx.DiGraph, version: int = 0) -> dict[str, Any]:
    """The graph as the page draws it (JSON-serializable)."""
    return {
        "version": version,
        "nodes": [
            {
                "id": node,
                "label": data["label"],
                "kind": data["kind"],
                "current": data["current"],
                "latest": data["latest"],
            }
            for node, data in graph.nodes(data=True)
        ],
        "edges": [
            {"source": source, "target": target, "current": data["current"]}
            for source, target, data in graph.edges(data=True)
        ],
    }


def paths_sharing_beginning(paths: Sequence[Path], current: Path) -> list[Path]:
    """The training paths that begin as ``current`` does (same first intent); all paths
    while the conversation is empty."""
    if not current:
        return list(paths)
    return [path for path in paths if path[:1] == current[:1]]


# ------------------------------------------------------------------------------------ page

_ASSETS = "visualize_web"
_MARKER = re.compile(r"/\*@(DAGRE|GRAPH_JS|DATA|LIVE)@\*/")


def _asset(name: str) -> str:
    return (resources.files("chinwag.core") / _ASSETS / name).read_text(encoding="utf-8")


def render_page(data: dict[str, Any] | None, *, title: str, live: bool) -> str:
    """The visualization page with dagre, the drawing script and (unless ``live``) the graph
    inlined: one file that works offline."""
    data_js = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    parts = {
        "DAGRE": _asset("dagre.min.js"),
        "GRAPH_JS": _asset("graph.js"),
        "DATA": data_js,
        "LIVE": "true" if live else "false",
    }
    page = _asset("visualization.html").replace("@TITLE@", _html_escape(title))
    return _MARKER.sub(lambda match: parts[match.group(1)], page)


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def bot_graph_page(bot: Bot) -> tuple[str, nx.DiGraph]:
    """``chinwag data visualize``: the page of the whole training data, and its graph."""
    graph = build_graph(training_paths(bot))
    return render_page(graph_data(graph), title=f"{bot.name}: stories", live=False), graph


# ------------------------------------------------------------------------------ live server


class GraphFeed:
    """The latest graph of a live conversation; waiters hear about each new version."""

    def __init__(self) -> None:
        self.version = 0
        self.closed = False
        self.data: dict[str, Any] = graph_data(nx.DiGraph())
        self._changed = asyncio.Condition()

    async def publish(self, graph: nx.DiGraph) -> None:
        async with self._changed:
            self.version += 1
            self.data = graph_data(graph, self.version)
            self._changed.notify_all()

    async def after(self, version: int, timeout: float) -> dict[str, Any]:
        """The graph once its version is past ``version`` (or now, after ``timeout``, or
        when the feed closes)."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self.closed or self.version > version),
                    timeout,
                )
            return self.data

    async def close(self) -> None:
        """Answer every waiting request now (the server is about to stop)."""
        async with self._changed:
            self.closed = True
            self._changed.notify_all()


FEED = web.AppKey("feed", GraphFeed)
TITLE = web.AppKey("title", str)


async def _page(request: web.Request) -> web.Response:
    html = render_page(None, title=request.app[TITLE], live=True)
    return web.Response(text=html, content_type="text/html")


async def _json(request: web.Request) -> web.Response:
    raw = request.query.get("after", "-1")
    try:
        after = int(raw)
    except ValueError:
        return web.json_response(
            {"error": f"after: expected a whole number (a graph version), got {raw!r}"},
            status=400,
        )
    data = await request.app[FEED].after(after, LONG_POLL_SECONDS)
    return web.json_response(data, headers={"Cache-Control": "no-store"})


def visualization_app(feed: GraphFeed, title: str) -> web.Application:
    """``/visualization.html`` (the live page) and ``/visualization.json?after=N``."""
    app = web.Application()
    app[FEED] = feed
    app[TITLE] = title
    app.router.add_get("/", _page)
    app.router.add_get("/visualization.html", _page)
    app.router.add_get("/visualization.json", _json)
    return app
