"""``chinwag data convert``: write any bot (Rasa 1.x/2.x/3.x) as a clean Rasa 3.x project."""

from __future__ import annotations

import shutil
from pathlib import Path

from chinwag.core.data.domain_reader import dump_domain_yaml
from chinwag.core.data.loader import Bot
from chinwag.core.data.training import NLUData, StoryData
from chinwag.core.data.yaml_writer import dump_nlu_yaml, dump_stories_yaml

COPIED = ("config.yml", "endpoints.yml", "credentials.yml", "actions.py", "actions")


class ConvertError(Exception):
    pass


def planned_files(bot: Bot) -> dict[str, str]:
    """Relative path -> 3.x text, for every file the converted bot will have."""
    nlu = NLUData(
        examples=bot.nlu.examples,
        synonyms=bot.nlu.synonyms,
        regexes=bot.nlu.regexes,
        lookups=bot.nlu.lookups,
    )
    files = {"domain.yml": dump_domain_yaml(bot.domain), "data/nlu.yml": dump_nlu_yaml(nlu)}
    if bot.stories:
        files["data/stories.yml"] = dump_stories_yaml(StoryData(stories=bot.stories))
    if bot.rules:
        files["data/rules.yml"] = dump_stories_yaml(StoryData(rules=bot.rules))
    if bot.test_stories:
        files["tests/test_stories.yml"] = dump_stories_yaml(StoryData(stories=bot.test_stories))
    return files


def convert_bot(bot: Bot, out: Path, *, force: bool = False) -> list[Path]:
    """Write ``bot`` as Rasa 3.x files under ``out``; refuse to overwrite unless ``force``."""
    files = planned_files(bot)
    existing = [out / name for name in [*files, *COPIED] if (out / name).exists()]
    if out.resolve() == bot.path.resolve():
        raise ConvertError("the output folder is the bot folder itself; choose another --out")
    if existing and not force:
        shown = ", ".join(str(p) for p in existing[:3])
        raise ConvertError(f"{shown} already exist(s); use --force to overwrite")
    written: list[Path] = []
    for name, text in files.items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    for name in COPIED:
        source = bot.path / name
        if source.is_file():
            shutil.copy2(source, out / name)
            written.append(out / name)
        elif source.is_dir():
            shutil.copytree(source, out / name, dirs_exist_ok=True)
            written.append(out / name)
    return written
