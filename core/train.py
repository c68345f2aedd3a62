"""``chinwag train``: one model archive per bot, retraining only the part whose data changed.

The bot is loaded and checked first (the checks of ``chinwag data validate``, with its
leniency rule: what Rasa trains on anyway, such as contradicting stories, is a warning
here): with any error nothing is trained. Test stories are never read. Then the data's fingerprints
(core/model.py) are compared with the latest archive's: equal -> nothing to do; only the
dialogue part changed -> the NLU model is copied from the latest archive and only the
policies train; only NLU changed -> the policies are copied. ``force`` retrains all.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from chinwag.core.data.loader import Bot, load_bot
from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.validate import validate_bot
from chinwag.core.model import (
    DOMAIN_FILE,
    METADATA_FILE,
    NLU_DIR,
    POLICIES_FILE,
    Fingerprints,
    ModelError,
    ModelMetadata,
    latest_archive,
    new_archive_path,
    read_metadata,
    unpacked,
    write_archive,
    write_json,
)
from chinwag.core.nlu.pipeline import NLUPipeline
from chinwag.core.nlu.tokenizer import MissingExtra
from chinwag.core.policies.base import TrainingError
from chinwag.core.policies.ensemble import PolicyEnsemble, build_policies, train_policies
from chinwag.core.policies.states import shared_states

logger = logging.getLogger(__name__)

# called with (stage description, fraction done 0..1)
StageProgress = Callable[[str, float], None]


@dataclass
class TrainResult:
    """What ``train_bot`` did: the archive (None when nothing was written) and why."""

    problems: Problems
    archive: Path | None = None
    trained_nlu: bool = False
    trained_dialogue: bool = False
    up_to_date: bool = False
    reused_from: Path | None = None
    seconds: float = 0.0
    stages: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems.errors


@contextmanager
def progress_bars(console: Console | None) -> Iterator[StageProgress]:
    """A ``StageProgress`` drawing one rich bar per stage (nothing when console is None)."""
    if console is None:
        yield lambda _stage, _fraction: None
        return
    tasks: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:

        def update(stage: str, fraction: float) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=1.0)
            progress.update(tasks[stage], completed=min(max(fraction, 0.0), 1.0))

        yield update


def train_nlu(bot: Bot, problems: Problems, progress: StageProgress) -> NLUPipeline:
    """The bot's NLU pipeline (config.yml ``pipeline``), trained on its NLU data."""
    stage = "NLU"
    progress(stage, 0.0)
    pipeline = NLUPipeline.from_config(
        bot.config.pipeline,
        bot.domain,
        problems,
        bot.config.pipeline_locations,
        language=bot.config.language,
        root=bot.path,
    )
    pipeline.train(bot.nlu, bot.domain, progress=lambda _step, fraction: progress(stage, fraction))
    progress(stage, 1.0)
    return pipeline


def train_dialogue(bot: Bot, problems: Problems, progress: StageProgress) -> PolicyEnsemble:
    """The bot's policies (config.yml ``policies``), each trained on its stories and rules.

    A policy that finds the data unusable (contradicting rules) adds its problems as errors.
    """
    policies = build_policies(bot.config.policies, problems, bot.config.policy_locations)
    try:
        return train_policies(policies, bot, progress=progress)
    except TrainingError as exc:
        for problem in exc.problems:
            problems.add(problem)
        return PolicyEnsemble(policies)


def train_bot(
    bot_dir: Path | str,
    *,
    out: Path | str | None = None,
    force: bool = False,
    console: Console | None = None,
    data: Sequence[Path | str] | None = None,
) -> TrainResult:
    """Train what changed and write an archive (``--out`` or ``models/<timestamp>.tar.gz``).

    ``data``: training data files or folders instead of the bot's ``data/``. Returns with
    ``problems.errors`` set (and no archive) when the bot has errors.
    """
    # the data checks replay every story and rule; the policies reuse those states
    with shared_states():
        return _train_bot(bot_dir, out=out, force=force, console=console, data=data)


def _train_bot(
    bot_dir: Path | str,
    *,
    out: Path | str | None,
    force: bool,
    console: Console | None,
    data: Sequence[Path | str] | None,
) -> TrainResult:
    started = time.perf_counter()
    bot = load_bot(bot_dir, data=data, tests=False)
    problems = validate_bot(bot, for_training=True)
    result = TrainResult(problems)
    if problems.errors:
        return result
    prints = Fingerprints.of(bot)
    previous = latest_archive(bot.path)
    old: ModelMetadata | None = None
    if previous is not None and not force:
        try:
            old = read_metadata(previous)
        except ModelError as exc:
            logger.warning("%s; training from scratch", exc)
    same_nlu = old is not None and old.fingerprints.nlu == prints.nlu
    same_dialogue = old is not None and old.fingerprints.dialogue == prints.dialogue
    if same_nlu and same_dialogue and out is None:
        assert previous is not None
        result.archive, result.up_to_date = previous, True
        result.seconds = time.perf_counter() - started
        return result
    target = Path(out) if out is not None else new_archive_path(bot.path)
    with tempfile.TemporaryDirectory(prefix="chinwag-train-") as tmp:
        folder = Path(tmp)
        reuse = unpacked(previous) if previous and (same_nlu or same_dialogue) else nullcontext()
        with reuse as old_folder, progress_bars(console) as progress:
            if same_nlu and old_folder is not None:
                shutil.copytree(old_folder / NLU_DIR, folder / NLU_DIR)
                result.reused_from = previous
            else:
                train_nlu(bot, problems, progress).persist(folder / NLU_DIR)
                result.trained_nlu = True
                result.stages.append("NLU")
            if same_dialogue and old_folder is not None:
                (folder / POLICIES_FILE).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(old_folder / POLICIES_FILE, folder / POLICIES_FILE)
                result.reused_from = previous
            else:
                ensemble = train_dialogue(bot, problems, progress)
                if problems.errors:
                    return result
                write_json(folder / POLICIES_FILE, ensemble.persist())
                result.trained_dialogue = True
                result.stages.extend(type(p).__name__ for p in ensemble.policies)
        if problems.errors:
            return result
        write_json(folder / DOMAIN_FILE, bot.domain.as_dict())
        write_json(folder / METADATA_FILE, ModelMetadata(prints, bot.name).as_dict())
        try:
            result.archive = write_archive(folder, target)
        except OSError as exc:
            problems.error(
                f"cannot write the model ({exc.strerror or exc}); choose a writable "
                "file with --out",
                Location(str(target)),
            )
            return result
    result.seconds = time.perf_counter() - started
    return result


@dataclass
class LoadedModel:
    """A model archive, loaded: its NLU pipeline, its policies and its metadata."""

    metadata: ModelMetadata
    nlu: NLUPipeline
    policies: PolicyEnsemble
    archive: Path | None = None


def load_model(archive: Path) -> LoadedModel:
    """Read a model archive written by :func:`train_bot`; raise ModelError when unreadable."""
    import json

    with unpacked(archive) as folder:
        try:
            metadata = ModelMetadata.from_dict(
                json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
            )
            nlu = NLUPipeline.load(folder / NLU_DIR)
            policies = PolicyEnsemble.load(
                json.loads((folder / POLICIES_FILE).read_text(encoding="utf-8"))
            )
        except (OSError, KeyError, ValueError, MissingExtra) as exc:  # a segmenter not installed
            raise ModelError(f"{archive}: cannot load the model ({exc})") from None
    return LoadedModel(metadata, nlu, policies, archive)


def model_for(bot: Bot, problems: Problems, *, console: Console | None = None) -> LoadedModel:
    """The bot's latest archive when it matches the data, else a model trained in memory."""
    archive = latest_archive(bot.path)
    prints = Fingerprints.of(bot)
    if archive is not None:
        try:
            model = load_model(archive)
        except ModelError as exc:
            logger.warning("%s; training in memory", exc)
        else:
            if model.metadata.fingerprints == prints:
                return model
            logger.warning(
                "%s is older than the data; training in memory (run chinwag train)", archive
            )
    with progress_bars(console) as progress:
        nlu = train_nlu(bot, problems, progress)
        policies = train_dialogue(bot, problems, progress)
    return LoadedModel(ModelMetadata(prints, bot.name), nlu, policies)
