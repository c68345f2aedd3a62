"""Model archives: what ``chinwag train`` writes and the agent loads.

An archive is ``models/<YYYYmmdd-HHMMSS>.tar.gz`` (Rasa's naming) holding::

    metadata.json        fingerprints (nlu, dialogue), chinwag version, created, bot name
    domain.json          Domain.as_dict() of the data it was trained on
    nlu/                 the trained NLU pipeline (NLUPipeline.persist)
    core/policies.json   the trained policy ensemble (PolicyEnsemble.persist)

Fingerprints are SHA-256 of sorted JSON of the data each part learns from (never Python's
``hash()``, which changes per process), so the same data always gives the same fingerprint
and locations (line numbers, file names) do not count: moving a story does not retrain.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from chinwag.core.data.loader import Bot

MODELS_DIR = "models"
ARCHIVE_SUFFIX = ".tar.gz"
METADATA_FILE = "metadata.json"
DOMAIN_FILE = "domain.json"
NLU_DIR = "nlu"
POLICIES_FILE = "core/policies.json"
# fields that say where something was written, not what it is
_LOCATION_FIELDS = {"location", "locations", "response_locations", "version"}


def chinwag_version() -> str:
    try:
        return version("chinwag")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def _plain(value: Any) -> Any:
    """Data classes, sets and tuples as JSON-able data, without location fields."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in _LOCATION_FIELDS
        }
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if k not in _LOCATION_FIELDS}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_plain(v) for v in value), key=repr)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)


def _digest(data: Any) -> str:
    text = json.dumps(_plain(data), sort_keys=True, ensure_ascii=False, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def nlu_fingerprint(bot: Bot) -> str:
    """What the NLU pipeline learns from: examples, synonyms, regexes, lookups, retrieval
    responses, the pipeline config and language, the domain's intents and entities."""
    nlu = bot.nlu
    return _digest(
        {
            "examples": sorted(
                ([m.text, m.intent, [e.as_dict() for e in m.entities]] for m in nlu.examples),
                key=lambda item: json.dumps(item, sort_keys=True, default=repr),
            ),
            "synonyms": nlu.synonyms,
            "regexes": sorted([r.name, r.pattern] for r in nlu.regexes),
            "lookups": {name: sorted(map(str, items)) for name, items in nlu.lookups.items()},
            "responses": nlu.responses,
            "pipeline": bot.config.pipeline,
            "language": bot.config.language,
            "intents": sorted(bot.domain.intents),
            "entities": sorted(bot.domain.entities),
        }
    )


def dialogue_fingerprint(bot: Bot) -> str:
    """What the policies learn from: stories, rules, the domain and the policy config."""
    return _digest(
        {
            "stories": bot.stories,
            "rules": bot.rules,
            "domain": bot.domain.as_dict(),
            "policies": bot.config.policies,
        }
    )


@dataclass
class Fingerprints:
    nlu: str
    dialogue: str

    @classmethod
    def of(cls, bot: Bot) -> Fingerprints:
        return cls(nlu_fingerprint(bot), dialogue_fingerprint(bot))


@dataclass
class ModelMetadata:
    fingerprints: Fingerprints
    bot: str
    created: float = field(default_factory=time.time)
    chinwag_version: str = field(default_factory=chinwag_version)

    def as_dict(self) -> dict[str, Any]:
        return {
            "fingerprints": dataclasses.asdict(self.fingerprints),
            "bot": self.bot,
            "created": self.created,
            "chinwag_version": self.chinwag_version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelMetadata:
        prints = data.get("fingerprints") or {}
        return cls(
            Fingerprints(str(prints.get("nlu", "")), str(prints.get("dialogue", ""))),
            str(data.get("bot", "")),
            float(data.get("created", 0.0)),
            str(data.get("chinwag_version", "")),
        )


class ModelError(Exception):
    """An archive that cannot be read (not a tar.gz, no metadata, ...)."""


def models_dir(bot_dir: Path) -> Path:
    return Path(bot_dir) / MODELS_DIR


def latest_archive(bot_dir: Path | str) -> Path | None:
    """The newest archive under ``<bot_dir>/models`` (by name: names are timestamps)."""
    folder = models_dir(Path(bot_dir))
    if not folder.is_dir():
        return None
    archives = sorted(p for p in folder.iterdir() if p.name.endswith(ARCHIVE_SUFFIX))
    return archives[-1] if archives else None


def new_archive_path(bot_dir: Path | str, now: float | None = None) -> Path:
    """``models/<timestamp>.tar.gz``, never an existing file (a suffix within one second)."""
    folder = models_dir(Path(bot_dir))
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now or time.time()))
    path = folder / f"{stamp}{ARCHIVE_SUFFIX}"
    n = 1
    while path.exists():
        path = folder / f"{stamp}-{n}{ARCHIVE_SUFFIX}"
        n += 1
    return path


def write_archive(source_dir: Path, target: Path) -> Path:
    """Pack the model folder ``source_dir`` into ``target`` (written atomically)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with tarfile.open(partial, "w:gz") as tar:
        for path in sorted(source_dir.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(source_dir)), recursive=False)
    partial.replace(target)
    return target


def read_metadata(archive: Path) -> ModelMetadata:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.extractfile(METADATA_FILE)
            if member is None:
                raise KeyError(METADATA_FILE)
            return ModelMetadata.from_dict(json.loads(member.read().decode("utf-8")))
    except (OSError, tarfile.TarError, KeyError, json.JSONDecodeError) as exc:
        raise ModelError(f"{archive}: not a chinwag model archive ({exc})") from None


@contextmanager
def unpacked(archive: Path) -> Iterator[Path]:
    """The archive extracted into a temporary folder, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="chinwag-model-"))
    try:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(folder, filter="data")
        except (OSError, tarfile.TarError) as exc:
            raise ModelError(f"{archive}: cannot unpack ({exc})") from None
        if not (folder / METADATA_FILE).is_file():
            raise ModelError(f"{archive}: not a chinwag model archive (no {METADATA_FILE})")
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True, default=repr), encoding="utf-8")
