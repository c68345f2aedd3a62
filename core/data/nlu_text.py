"""Rasa's inline entity annotations, shared by every training-data reader and the writer.

``[text](entity)``, ``[text](entity:value)`` (the old synonym form) and
``[text]{"entity": "e", "role": "r", "group": "g", "value": "v"}``, matched with the regex of
Rasa's ``rasa/shared/nlu/training_data/entities_parser.py``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.training import Entity
from chinwag.core.data.yaml_io import json_problem

# Rasa's ENTITY_REGEX: `[entity_text]((entity_type(:entity_synonym)?)|{entity_dict})`
ENTITY_REGEX = re.compile(
    r"\[(?P<entity_text>[^\]]+?)\](\((?P<entity>[^:)]+?)(?:\:(?P<value>[^)]+))?\)"
    r"|\{(?P<entity_dict>[^}]+?)\})"
)
# Rasa's regex message pattern: `/intent@0.9{"entity": "value"}` (buttons, test stories).
INTENT_PAYLOAD_REGEX = re.compile(
    r"^/(?P<intent>[^{@]+)(?P<confidence>@[0-9.]+)?(?P<entities>\{.+\})?(?P<rest>.*)$", re.DOTALL
)
_DICT_KEYS = ("entity", "role", "group", "value")


def parse_annotated(text: str, loc: Location, problems: Problems) -> tuple[str, list[Entity]]:
    """Strip entity annotations from ``text``; return the plain text and its entities.

    Entity offsets refer to the plain text. A malformed ``{...}`` annotation is reported at
    ``loc`` and dropped (its text stays in the plain text).
    """
    entities: list[Entity] = []
    plain: list[str] = []
    last = 0
    for match in ENTITY_REGEX.finditer(text):
        entity_text = match.group("entity_text")
        plain.append(text[last : match.start()])
        start = sum(len(part) for part in plain)
        plain.append(entity_text)
        last = match.end()
        entity = _entity_from_match(match, loc, problems)
        if entity is not None:
            entity.start, entity.end = start, start + len(entity_text)
            entities.append(entity)
    plain.append(text[last:])
    return "".join(plain), entities


def _entity_from_match(match: re.Match[str], loc: Location, problems: Problems) -> Entity | None:
    entity_text = match.group("entity_text")
    raw_dict = match.group("entity_dict")
    if raw_dict is None:
        value = match.group("value")
        return Entity(entity=match.group("entity"), value=value if value else entity_text)
    try:
        data = json.loads("{" + raw_dict + "}")
    except (json.JSONDecodeError, RecursionError) as exc:
        problems.error(
            f"entity annotation '{match.group(0)}' is not valid JSON ({json_problem(exc)}); "
            "expected "
            '[text]{"entity": "name", "role": "...", "group": "...", "value": "..."}',
            loc,
        )
        return None
    unknown = sorted(set(data) - set(_DICT_KEYS))
    if unknown:
        problems.error(
            f"entity annotation '{match.group(0)}' has unknown key(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(_DICT_KEYS)}",
            loc,
        )
        return None
    if not isinstance(data.get("entity"), str) or not data["entity"]:
        problems.error(
            f"entity annotation '{match.group(0)}' needs an \"entity\" name (a string)", loc
        )
        return None
    for key in ("role", "group", "value"):
        if key in data and not isinstance(data[key], str):
            problems.error(f"entity annotation '{match.group(0)}': \"{key}\" must be a string", loc)
            return None
    return Entity(
        entity=data["entity"],
        value=data.get("value", entity_text),
        role=data.get("role"),
        group=data.get("group"),
    )


def parse_intent_payload(text: str, loc: Location, problems: Problems) -> list[Entity] | None:
    """Entities of a ``/intent{"entity": "value"}`` payload; None if ``text`` is not one."""
    match = INTENT_PAYLOAD_REGEX.match(text.strip())
    if match is None:
        return None
    raw = match.group("entities")
    if not raw:
        return []
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, RecursionError) as exc:
        problems.error(f"entities of '{text}' are not valid JSON ({json_problem(exc)})", loc)
        return []
    if not isinstance(data, dict):
        problems.error(f"entities of '{text}' must be a JSON object", loc)
        return []
    return entities_from_mapping(data)


def entities_from_mapping(data: dict[str, Any]) -> list[Entity]:
    """``{"city": "Berlin", "tag": ["a", "b"]}`` -> one entity per value, as Rasa's parser."""
    out: list[Entity] = []
    for name, values in data.items():
        for value in values if isinstance(values, list) else [values]:
            out.append(Entity(entity=str(name), value=value))
    return out


def add_synonyms_from_entities(
    plain_text: str,
    entities: list[Entity],
    synonyms: dict[str, str],
    loc: Location,
    problems: Problems,
) -> None:
    """Register ``[NYC](city:New York)``-style values as synonyms, as Rasa's readers do."""
    for entity in entities:
        if entity.start is None or entity.end is None:
            continue
        surface = plain_text[entity.start : entity.end]
        if isinstance(entity.value, str) and surface != entity.value:
            add_synonym(surface, entity.value, synonyms, loc, problems)


def add_synonym(
    variant: str, value: str, synonyms: dict[str, str], loc: Location, problems: Problems
) -> None:
    """Map ``variant`` to ``value``; warn (as Rasa does) when it already maps elsewhere."""
    previous = synonyms.get(variant)
    if previous is not None and previous != value:
        problems.warning(
            f"synonym '{variant}' already maps to '{previous}'; it now maps to '{value}'", loc
        )
    synonyms[variant] = value


def annotate(text: str, entities: list[Entity]) -> str:
    """Write ``entities`` back into ``text`` in the shortest annotation that keeps them.

    Entities without offsets (or overlapping ones) cannot be written inline and are skipped.
    """
    out: list[str] = []
    last = 0
    for entity in sorted(
        (e for e in entities if e.start is not None and e.end is not None),
        key=lambda e: (e.start or 0, e.end or 0),
    ):
        start, end = entity.start or 0, entity.end or 0
        if start < last or end > len(text):
            continue
        surface = text[start:end]
        out.append(text[last:start])
        out.append(f"[{surface}]{annotation_suffix(entity, surface)}")
        last = end
    out.append(text[last:])
    return "".join(out)


def annotation_suffix(entity: Entity, surface: str) -> str:
    """``(city)`` when only the name is needed, else the JSON dict form."""
    short = entity.role is None and entity.group is None and entity.value == surface
    if short and not set(entity.entity) & {":", ")", "("}:
        return f"({entity.entity})"
    data: dict[str, Any] = {"entity": entity.entity}
    if entity.role is not None:
        data["role"] = entity.role
    if entity.group is not None:
        data["group"] = entity.group
    if entity.value != surface:
        data["value"] = entity.value
    return json.dumps(data, ensure_ascii=False)
