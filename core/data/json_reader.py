"""Rasa NLU JSON training data (``{"rasa_nlu_data": {"common_examples": [...], ...}}``).

Follows Rasa's ``rasa/shared/nlu/training_data/formats/rasa.py``. JSON gives no line numbers
for nested values, so problems name the item instead (``common_examples[3]``); a file that
is not valid JSON is reported at the line where parsing failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chinwag.core.data.nlu_text import add_synonym, add_synonyms_from_entities
from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.training import Entity, Message, NLUData, Regex
from chinwag.core.data.yaml_io import YamlError, load_json_text
from chinwag.core.data.yaml_reader import find_data_file, read_lookup_file

SECTIONS = ("common_examples", "regex_features", "lookup_tables", "entity_synonyms")
_EXAMPLE_KEYS = {"text", "intent", "entities", "metadata"}


def read_nlu_json(
    text: str, file: str, problems: Problems, *, base_dir: Path | None = None
) -> NLUData:
    """Read Rasa NLU JSON. Lookup files are searched from ``base_dir`` (default: file's folder)."""
    nlu = NLUData()
    where = Location(file)
    try:
        document = load_json_text(text, file)
    except YamlError as exc:
        problems.error(exc.message, exc.location)
        return nlu
    data = document.get("rasa_nlu_data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        problems.error("expected an object with a 'rasa_nlu_data' object at the top", where)
        return nlu
    for key in data:
        if key not in SECTIONS:
            problems.warning(
                f"rasa_nlu_data: unknown section '{key}' is ignored "
                f"(expected {', '.join(SECTIONS)})",
                where,
            )
    sections = {key: data.get(key) or [] for key in SECTIONS}
    for key, items in sections.items():
        if not isinstance(items, list):
            problems.error(f"rasa_nlu_data.{key} must be a list", where)
            sections[key] = []
    for index, example in enumerate(sections["common_examples"]):
        message = _example(example, f"common_examples[{index}]", where, problems)
        if message is not None:
            add_synonyms_from_entities(
                message.text, message.entities, nlu.synonyms, where, problems
            )
            nlu.examples.append(message)
    for index, item in enumerate(sections["regex_features"]):
        if _is_named(item, "pattern", str):
            nlu.regexes.append(Regex(item["name"], item["pattern"], where))
        else:
            problems.error(f"regex_features[{index}] needs 'name' and 'pattern' (strings)", where)
    folder = base_dir if base_dir is not None else Path(file).parent
    for index, item in enumerate(sections["lookup_tables"]):
        _lookup(item, f"lookup_tables[{index}]", folder, nlu, where, problems)
    for index, item in enumerate(sections["entity_synonyms"]):
        if not _is_named(item, "synonyms", list, name_key="value"):
            problems.error(
                f"entity_synonyms[{index}] needs 'value' (a string) and 'synonyms' (a list)",
                where,
            )
            continue
        for variant in item["synonyms"]:
            add_synonym(str(variant), item["value"], nlu.synonyms, where, problems)
            nlu.locations.setdefault(str(variant), where)
    return nlu


def _is_named(item: Any, key: str, kind: type, *, name_key: str = "name") -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get(name_key), str)
        and isinstance(item.get(key), kind)
    )


def _example(item: Any, label: str, where: Location, problems: Problems) -> Message | None:
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        problems.error(f"{label} needs 'text' (a string)", where)
        return None
    if not isinstance(item.get("intent"), str) or not item["intent"]:
        problems.error(f"{label} ('{item['text']}') needs an 'intent'", where)
        return None
    for key in item:
        if key not in _EXAMPLE_KEYS:
            problems.warning(f"{label}: unknown key '{key}' is ignored", where)
    text: str = item["text"]
    entities: list[Entity] = []
    raw_entities = item.get("entities") or []
    if not isinstance(raw_entities, list):
        problems.error(f"{label}: 'entities' must be a list", where)
        raw_entities = []
    for number, raw in enumerate(raw_entities):
        entity = _entity(raw, text, f"{label}.entities[{number}]", where, problems)
        if entity is not None:
            entities.append(entity)
    metadata = item.get("metadata")
    return Message(
        text,
        item["intent"],
        entities,
        where,
        dict(metadata) if isinstance(metadata, dict) else {},
    )


def _entity(raw: Any, text: str, label: str, where: Location, problems: Problems) -> Entity | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("entity"), str):
        problems.error(f"{label} needs 'entity' (a string), 'start' and 'end'", where)
        return None
    start, end = raw.get("start"), raw.get("end")
    if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start <= end <= len(text):
        problems.error(
            f"{label} ('{raw['entity']}'): 'start' and 'end' must be offsets into the text "
            f"(0..{len(text)})",
            where,
        )
        return None
    return Entity(
        entity=raw["entity"],
        value=raw.get("value", text[start:end]),
        start=start,
        end=end,
        role=raw.get("role"),
        group=raw.get("group"),
    )


def _lookup(
    item: Any, label: str, folder: Path, nlu: NLUData, where: Location, problems: Problems
) -> None:
    elements = item.get("elements") if isinstance(item, dict) else None
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        problems.error(f"{label} needs 'name' and 'elements' (a list or a file path)", where)
        return
    name = item["name"]
    if isinstance(elements, list):
        nlu.lookups.setdefault(name, []).extend(str(e) for e in elements)
    elif isinstance(elements, str):
        path = find_data_file(elements, folder)
        if path is None:
            problems.error(f"{label} ('{name}'): file '{elements}' not found", where)
            return
        nlu.lookups.setdefault(name, []).extend(read_lookup_file(path))
    else:
        problems.error(f"{label} ('{name}'): 'elements' must be a list or a file path", where)
        return
    nlu.locations.setdefault(name, where)
