"""Find a bot's files and load them into one :class:`Bot`, whatever Rasa version wrote them.

A bot folder is laid out as Rasa's: ``domain.yml`` (or ``domain/``), ``config.yml``,
``endpoints.yml``, ``credentials.yml``, training data under ``data/`` (YAML, 1.x Markdown or
NLU JSON, in any sub-folder) and test stories under ``tests/``. Every problem is collected
with its file and line; nothing here raises on bad user input.

As ``rasa train --data`` and ``rasa test core --stories``, the training data and the test
stories can come from other files or folders instead (``data=`` / ``tests=``). A test-stories
folder often holds other files too (tracker dumps, fixtures, other YAML): those are skipped
with one warning each, as ``rasa test`` skips them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chinwag.core.data.config import (
    BotConfig,
    migrate_config,
    read_config,
    read_credentials,
    read_endpoints,
)
from chinwag.core.data.domain_reader import mark_retrieval_intents, read_domain
from chinwag.core.data.json_reader import read_nlu_json
from chinwag.core.data.markdown_reader import (
    is_markdown_nlu,
    is_markdown_stories,
    read_markdown_nlu,
    read_markdown_stories,
)
from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.training import ActionStep, NLUData, Story, StoryData
from chinwag.core.data.yaml_io import YamlError, YamlMap, load_yaml
from chinwag.core.data.yaml_reader import detect_yaml_content, read_training_yaml
from chinwag.core.domain import Domain

DATA_DIR = "data"
TEST_DIRS = ("tests", "test_stories")
YAML_SUFFIXES = (".yml", ".yaml")
DATA_SUFFIXES = (*YAML_SUFFIXES, ".md", ".json")


@dataclass
class Bot:
    """Everything a bot folder declares, read and merged."""

    path: Path
    domain: Domain = field(default_factory=Domain)
    nlu: NLUData = field(default_factory=NLUData)
    stories: list[Story] = field(default_factory=list)
    rules: list[Story] = field(default_factory=list)
    test_stories: list[Story] = field(default_factory=list)
    config: BotConfig = field(default_factory=BotConfig)
    endpoints: dict[str, Any] = field(default_factory=dict)
    credentials: dict[str, Any] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    problems: Problems = field(default_factory=Problems)
    # False when the domain is missing or has errors: name checks against it would only
    # repeat that one problem many times
    domain_ok: bool = True

    @property
    def name(self) -> str:
        return self.path.name


def is_bot_dir(path: Path) -> bool:
    """A folder is a bot when it has a domain or a data/ folder."""
    return path.is_dir() and (
        domain_files(path) != [] or (path / DATA_DIR).is_dir() or (path / "config.yml").is_file()
    )


def domain_files(root: Path) -> list[Path]:
    for name in ("domain.yml", "domain.yaml"):
        if (root / name).is_file():
            return [root / name]
    folder = root / "domain"
    if folder.is_dir():
        return sorted(p for p in folder.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())
    return []


def _first_file(root: Path, *names: str) -> Path | None:
    return next((root / n for n in names if (root / n).is_file()), None)


def _data_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in DATA_SUFFIXES and not p.name.startswith(".")
    )


def rel(path: Path, root: Path) -> str:
    """A path as shown in messages: relative to the bot folder when inside it."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def read_data_file(
    path: Path, root: Path, problems: Problems, *, test: bool = False
) -> tuple[NLUData, StoryData]:
    """Read one training-data file of any supported format."""
    name = rel(path, root)
    if path.suffix in YAML_SUFFIXES:
        try:
            data = load_yaml(path, name)
        except YamlError as exc:
            problems.error(exc.message, exc.location)
            return NLUData(), StoryData()
        if data is None:
            return NLUData(), StoryData()
        if not isinstance(data, YamlMap):
            problems.error(
                "expected a mapping with keys such as 'nlu', 'stories' or 'rules'",
                Location(name, 1),
            )
            return NLUData(), StoryData()
        return read_training_yaml(data, problems, test=test, base_dir=path.parent)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.error(f"cannot read file: {exc}", Location(name))
        return NLUData(), StoryData()
    if path.suffix == ".json":
        return read_nlu_json(text, name, problems, base_dir=path.parent), StoryData()
    if is_markdown_nlu(text):
        return read_markdown_nlu(text, name, problems, base_dir=path.parent), StoryData()
    return NLUData(), read_markdown_stories(text, name, problems, test=test)


def _files_of(paths: Sequence[Path | str], problems: Problems) -> list[Path]:
    """The data files of the given files and folders (a missing path is an error)."""
    files: list[Path] = []
    for given in paths:
        path = Path(given).resolve()
        if path.is_dir():
            files.extend(_data_files(path))
        elif path.is_file():
            files.append(path)
        else:
            problems.error("no such file or folder", Location(str(given)))
    return files


def read_test_file(path: Path, root: Path, problems: Problems) -> list[Story]:
    """The test stories of one file; a file that holds none is skipped with one warning.

    ``rasa test`` reads a YAML file when it has ``stories`` (or ``rules``) and a Markdown
    file when it has story headers; anything else (tracker JSON, NLU data, configs) it
    ignores. A file that cannot be read at all stays an error.
    """
    name = rel(path, root)
    stories: StoryData | None = None
    if path.suffix in YAML_SUFFIXES:
        try:
            data = load_yaml(path, name)
        except YamlError as exc:
            problems.error(exc.message, exc.location)
            return []
        if isinstance(data, YamlMap) and detect_yaml_content(data) & {"stories", "rules"}:
            _, stories = read_training_yaml(data, problems, test=True, base_dir=path.parent)
    elif path.suffix == ".md":
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.error(f"cannot read file: {exc}", Location(name))
            return []
        if is_markdown_stories(text):
            stories = read_markdown_stories(text, name, problems, test=True)
    if stories is None:
        problems.warning(
            "holds no test stories (no `stories:` in YAML, no `## story` in Markdown): "
            "ignored, as rasa test ignores it",
            Location(name),
        )
        return []
    return stories.stories


def add_bot_texts(domain: Domain, stories: Sequence[Story]) -> None:
    """End-to-end bot texts (``bot:``) of the training stories become domain actions, as
    Rasa's importer adds them (``action_texts``), so the bot says what it predicts."""
    for story in stories:
        for step in story.steps:
            text = step.text if isinstance(step, ActionStep) and not step.name else None
            if text and text not in domain.action_texts:
                domain.action_texts.append(text)


def load_bot(
    path: Path | str,
    *,
    env: dict[str, str] | None = None,
    data: Sequence[Path | str] | None = None,
    tests: Sequence[Path | str] | bool = True,
) -> Bot:
    """Load a bot folder. Problems are collected in ``bot.problems``; check ``.errors``.

    ``data``: training data files or folders instead of the bot's ``data/`` (``rasa train
    --data``). ``tests``: True reads the test stories under ``tests/`` (and
    ``test_stories/``), False none (training never needs them), or the given files or
    folders (``rasa test core --stories``), which are then never training data.
    """
    root = Path(path).resolve()
    bot = Bot(path=root)
    problems = bot.problems
    if not root.is_dir():
        problems.error("not a folder", Location(str(path)))
        return bot

    dfiles = domain_files(root)
    if not dfiles:
        problems.error("no domain.yml (or domain/ folder) in the bot folder", Location(str(path)))
    before = len(problems.errors)
    bot.domain = read_domain(dfiles, root, problems)
    bot.domain_ok = bool(dfiles) and len(problems.errors) == before
    bot.files.extend(dfiles)

    config = _first_file(root, "config.yml", "config.yaml")
    endpoints = _first_file(root, "endpoints.yml", "endpoints.yaml")
    credentials = _first_file(root, "credentials.yml", "credentials.yaml")
    bot.config = read_config(config, root, problems, env=env)
    bot.endpoints = read_endpoints(endpoints, root, problems, env=env)
    bot.credentials = read_credentials(credentials, root, problems, env=env)

    if tests is True:
        test_files = [f for folder in TEST_DIRS for f in _data_files(root / folder)]
    elif tests is False:
        test_files = []
    else:
        test_files = _files_of(tests, problems)
    data_files = _files_of(data, problems) if data is not None else _data_files(root / DATA_DIR)
    for file in data_files:
        if file in test_files:
            continue
        nlu, stories = read_data_file(file, root, problems)
        bot.nlu.merge(nlu)
        bot.stories.extend(stories.stories)
        bot.rules.extend(stories.rules)
        bot.files.append(file)
    for file in test_files:
        bot.test_stories.extend(read_test_file(file, root, problems))
        bot.files.append(file)

    add_bot_texts(bot.domain, [*bot.stories, *bot.rules])
    # Rasa 1.x/2.x policies (MappingPolicy, FormPolicy, the fallback policies) as Rasa 3 runs them
    bot.rules.extend(migrate_config(bot.config, bot.domain, bot.rules, problems))

    # responses declared in NLU files (retrieval intents) belong to the domain
    for name, variations in bot.nlu.responses.items():
        bot.domain.responses.setdefault(name, variations)
        if name in bot.nlu.locations:
            bot.domain.response_locations.setdefault(name, bot.nlu.locations[name])
    mark_retrieval_intents(bot.domain, {m.intent for m in bot.nlu.examples})
    return bot
