"""``chinwag init``: scaffold a starter bot, train it and offer to talk to it (as ``rasa init``).

The starter bot's files are package data under ``core/init_template/``: a mood bot in Rasa
3.x YAML with chinwag's own component names, commented ``credentials.yml`` and
``endpoints.yml``, test stories and an ``actions.py`` that chinwag runs in-process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

TEMPLATE_FOLDER = "init_template"  # package data of ``core``
SHELL_QUESTION = "Do you want to speak to the trained assistant on the command line?"
PATH_QUESTION = "Where should the new bot be created? (default: the current folder)"


class InitError(Exception):
    """The bot cannot be written where asked (a non-empty folder without --force, ...)."""


@dataclass
class Scaffold:
    path: Path
    written: list[Path] = field(default_factory=list)


def _template_files(
    folder: Traversable, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], Traversable]]:
    found: list[tuple[tuple[str, ...], Traversable]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.startswith(("__", ".")):
            continue
        if entry.is_dir():
            found.extend(_template_files(entry, (*prefix, entry.name)))
        else:
            found.append(((*prefix, entry.name), entry))
    return found


def scaffold(target: Path | str, *, force: bool = False) -> Scaffold:
    """Write the starter bot into ``target`` (created when missing).

    Raises :class:`InitError` when ``target`` is a file, or a folder that is not empty and
    ``force`` is not given (with ``force`` the starter's files replace any of the same name;
    other files are left alone).
    """
    path = Path(target)
    if path.exists() and not path.is_dir():
        raise InitError(f"{path} is a file, not a folder")
    if path.is_dir() and not force and any(path.iterdir()):
        raise InitError(
            f"{path} is not empty: give an empty or new folder, or --force to write the "
            "starter bot's files over any of the same name"
        )
    result = Scaffold(path)
    try:
        for parts, source in _template_files(files("chinwag.core").joinpath(TEMPLATE_FOLDER)):
            dest = path.joinpath(*parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(source.read_bytes())
            result.written.append(dest)
    except OSError as exc:
        raise InitError(f"cannot write the bot into {path}: {exc}") from exc
    return result
