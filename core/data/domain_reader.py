"""Read a bot's domain (Rasa 3.x, 2.x or 1.x YAML) into one :class:`~core.domain.Domain`.

* One ``domain.yml``, or every file of a ``domain/`` folder, merged as Rasa merges them. A name
  declared twice with the same content is a warning; with different content, an error naming
  both places.
* Rasa 2.x and 1.x domains load unchanged and are upgraded in memory the way
  ``rasa data migrate`` (``rasa/core/migrate.py``) upgrades them, one warning per upgrade:
  form slot mappings move to the slots with ``conditions``, ``auto_fill`` becomes a
  ``from_entity`` mapping, slots without mappings get a ``custom`` one, ``unfeaturized``
  becomes ``any``, ``templates`` becomes ``responses``, a 1.x list of forms becomes forms
  without required slots.
* Every problem is reported into a :class:`Problems` collector with its file and line.

:func:`domain_as_dict` gives Rasa 3.x's domain dict (``Domain.as_dict()``) and
:func:`dump_domain_yaml` writes a clean Rasa 3.x ``domain.yml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.yaml_io import (
    YamlError,
    YamlList,
    YamlMap,
    load_yaml,
    load_yaml_text,
    loc_of,
)
from chinwag.core.domain import (
    FORM_PLAN_KEYS,
    ActionDef,
    Domain,
    EntityDef,
    Form,
    Intent,
    SessionConfig,
)
from chinwag.core.slots import MAPPING_TYPES, SLOT_TYPES, MappingCondition, Slot, SlotMapping

LATEST_VERSION = "3.1"
DOMAIN_KEYS = (
    "version",
    "intents",
    "entities",
    "slots",
    "responses",
    "actions",
    "forms",
    "e2e_actions",
    "session_config",
    "config",
)
LEGACY_DOMAIN_KEYS = ("templates",)
# keys of a response variation (rasa/shared/nlu/training_data/schemas/responses.yml)
VARIATION_KEYS = (
    "id",
    "text",
    "image",
    "custom",
    "buttons",
    "button_type",
    "quick_replies",
    "attachment",
    "elements",
    "channel",
    "metadata",
    "condition",
)
# a variation must say something: one of these (Rasa itself demands text or custom)
CONTENT_KEYS = ("text", "image", "custom", "buttons", "attachment", "quick_replies", "elements")
# chinwag's form "plans" extensions: never mistaken for Rasa 2.x slot mappings
SLOT_KEYS = (
    "type",
    "influence_conversation",
    "initial_value",
    "values",
    "min_value",
    "max_value",
    "mappings",
)
# Rasa's slot classes, as dumped by Rasa 1.x/2.x (``type: rasa.shared.core.slots.TextSlot``)
SLOT_CLASSES = {
    "TextSlot": "text",
    "BooleanSlot": "bool",
    "CategoricalSlot": "categorical",
    "FloatSlot": "float",
    "ListSlot": "list",
    "AnySlot": "any",
    "UnfeaturizedSlot": "unfeaturized",
}
# keys each mapping type uses, besides `type` and `conditions`
MAPPING_KEYS = {
    "from_entity": ("entity", "role", "group", "intent", "not_intent"),
    "from_intent": ("value", "intent", "not_intent"),
    "from_trigger_intent": ("value", "intent", "not_intent"),
    "from_text": ("intent", "not_intent"),
    "custom": ("action",),
}
# mapping types whose migrated condition has no requested_slot (migrate.py)
NO_REQUESTED_SLOT_CONDITION = ("from_entity", "from_trigger_intent")


@dataclass
class _LegacyFormSlot:
    """A Rasa 2.x form's slot with its mappings, waiting to be moved onto the slot."""

    form: str
    slot: str
    mappings: list[SlotMapping]
    location: Location


@dataclass
class _Part:
    """One domain file, read; upgrades that need every file are applied after merging."""

    file: str
    domain: Domain = field(default_factory=Domain)
    legacy: bool = False
    session_config_location: Location | None = None
    legacy_form_slots: list[_LegacyFormSlot] = field(default_factory=list)
    auto_fill: dict[str, bool] = field(default_factory=dict)  # legacy slot -> auto_fill
    unmapped_slots: list[str] = field(default_factory=list)  # legacy slots without mappings
    store_entities_as_slots: bool = True


# --------------------------------------------------------------------------- entry points


def read_domain(files: list[Path], root: Path, problems: Problems) -> Domain:
    """Read and merge domain files (a folder in ``files`` is searched for .yml/.yaml files).

    Locations name files relative to ``root`` (the bot folder).
    """
    paths: list[Path] = []
    for path in files:
        if path.is_dir():
            paths.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".yml", ".yaml"))
            )
        else:
            paths.append(path)
    parts: list[_Part] = []
    for path in paths:
        display = display_path(path, root)
        if not path.is_file():
            problems.error("domain file not found", Location(display))
            continue
        try:
            data = load_yaml(path, display)
        except YamlError as exc:
            problems.error(exc.message, exc.location)
            continue
        if data is None:
            continue
        if not isinstance(data, YamlMap):
            problems.error(
                "a domain file must be a mapping of sections (intents:, slots:, responses:, "
                f"...), found {describe(data)}",
                loc_of(data, Location(display, 1)),
            )
            continue
        if len(paths) > 1 and not any(k in data for k in (*DOMAIN_KEYS[1:], "templates")):
            problems.warning(
                "no domain section (intents, entities, slots, responses, actions, forms, "
                "session_config) in this file: skipped",
                Location(display, 1),
            )
            continue
        parts.append(_read_part(data, problems))
    domain = _merge(parts, problems)
    domain.store_entities_as_slots = all(part.store_entities_as_slots for part in parts)
    _upgrade_legacy(domain, parts, problems)
    return domain


def _read_part(data: YamlMap, problems: Problems) -> _Part:
    """Read one loaded domain file (legacy upgrades that need other files are kept aside)."""
    part = _Part(file=data.file)
    domain = part.domain
    domain.version, part.legacy = _version(data, problems)
    for key in data:
        if key not in DOMAIN_KEYS and key not in LEGACY_DOMAIN_KEYS:
            problems.warning(
                f"unknown domain section '{key}' ignored (expected one of "
                f"{', '.join(DOMAIN_KEYS)})",
                data.loc(key),
            )
    _read_intents(data.get("intents"), data.loc("intents"), domain, problems)
    _read_entities(data.get("entities"), data.loc("entities"), domain, problems)
    _read_slots(data.get("slots"), data.loc("slots"), part, problems)
    if "templates" in data:
        problems.warning(
            "Rasa 1.x section 'templates' read as 'responses' (rename it to 'responses')",
            data.loc("templates"),
        )
        _read_responses(data.get("templates"), data.loc("templates"), domain, problems)
    _read_responses(data.get("responses"), data.loc("responses"), domain, problems)
    _read_actions(data.get("actions"), data.loc("actions"), domain, problems)
    _read_forms(data.get("forms"), data.loc("forms"), part, problems)
    if "session_config" in data:
        part.session_config_location = data.loc("session_config")
        domain.session_config = _read_session_config(
            data.get("session_config"), data.loc("session_config"), problems
        )
    domain.action_texts = _string_list(
        data.get("e2e_actions"), data.loc("e2e_actions"), "e2e_actions", problems
    )
    _read_config_section(data.get("config"), data.loc("config"), part, problems)
    return part


def mark_retrieval_intents(domain: Domain, nlu_intents: set[str]) -> None:
    """Mark ``faq`` a retrieval intent when ``utter_faq/<key>`` or ``faq/<key>`` examples exist."""
    for name, intent in domain.intents.items():
        prefix = f"{name}/"
        if any(r.startswith(f"utter_{prefix}") for r in domain.responses) or any(
            i.startswith(prefix) for i in nlu_intents
        ):
            intent.is_retrieval = True


# --------------------------------------------------------------------------- version


def _version(data: YamlMap, problems: Problems) -> tuple[str | None, bool]:
    """The declared version and whether the file is Rasa 1.x/2.x (by version, else by shape)."""
    version = data.get("version")
    if version is not None and not isinstance(version, str):
        problems.warning(
            f'version should be a quoted string such as "{LATEST_VERSION}", found {version!r}',
            data.loc("version"),
        )
        version = str(version)
    if version:
        if version.startswith(("1", "2")):
            return version, True
        if version.startswith("3"):
            return version, False
        problems.warning(
            f"unknown domain version '{version}'; read as Rasa {LATEST_VERSION}",
            data.loc("version"),
        )
        return version, False
    return version, _has_legacy_shape(data)


def _has_legacy_shape(data: YamlMap) -> bool:
    """A domain without ``version`` is 1.x/2.x when it uses anything Rasa 3 no longer reads."""
    if "templates" in data or isinstance(data.get("forms"), list):
        return True
    slots = data.get("slots")
    if isinstance(slots, dict):
        for slot in slots.values():
            if isinstance(slot, dict) and (
                "mappings" not in slot or "auto_fill" in slot or slot.get("type") == "unfeaturized"
            ):
                return True
    forms = data.get("forms")
    if isinstance(forms, dict):
        for form in forms.values():
            if isinstance(form, dict) and (
                isinstance(form.get("required_slots"), dict) or _legacy_form_slots(form)
            ):
                return True
    return False


def _legacy_form_slots(form: dict[str, Any]) -> list[str]:
    """Keys of a form without ``required_slots`` that hold Rasa 2.x slot mappings."""
    if "required_slots" in form:
        return []
    return [
        key
        for key, value in form.items()
        if key not in FORM_PLAN_KEYS
        and key != "ignored_intents"
        and isinstance(value, list)
        and all(isinstance(m, dict) for m in value)
    ]


def _mappings_beside_required_slots(form: dict[str, Any]) -> list[str]:
    """Keys next to ``required_slots`` that hold slot mappings (a list of ``type:`` items).

    Rasa reads only ``required_slots`` and ``ignored_intents`` of a form that has
    ``required_slots``; these keys are what a slot's mappings look like when written one
    level too shallow.
    """
    if "required_slots" not in form:
        return []
    return [
        str(key)
        for key, value in form.items()
        if key not in ("required_slots", "ignored_intents")
        and key not in FORM_PLAN_KEYS
        and isinstance(value, list)
        and value
        and all(isinstance(m, dict) and "type" in m for m in value)
    ]


# --------------------------------------------------------------------------- intents, entities


def _read_intents(value: Any, loc: Location, domain: Domain, problems: Problems) -> None:
    if value is None:
        return
    if not isinstance(value, YamlList):
        problems.error(
            f"intents must be a list of intent names, found {describe(value)}", loc_of(value, loc)
        )
        return
    first_line: dict[str, Location] = {}
    for i, item in enumerate(value):
        item_loc = value.loc(i)
        intent = _read_intent(item, item_loc, problems)
        if intent is None:
            continue
        if intent.name in first_line:
            problems.error(
                f"intent '{intent.name}' is listed twice (first at line "
                f"{first_line[intent.name].line})",
                item_loc,
            )
            continue
        first_line[intent.name] = item_loc
        domain.intents[intent.name] = intent


def _read_intent(item: Any, loc: Location, problems: Problems) -> Intent | None:
    if isinstance(item, str):
        return Intent(item, location=loc) if _valid_intent_name(item, loc, problems) else None
    if not isinstance(item, dict) or len(item) != 1:
        problems.error(
            "an intent must be a name or a one-key mapping such as "
            f"`- greet: {{use_entities: [name]}}`, found {describe(item)}",
            loc,
        )
        return None
    name, props = next(iter(item.items()))
    if not isinstance(name, str) or not _valid_intent_name(name, loc, problems):
        if not isinstance(name, str):
            problems.error(f"an intent name must be text, found {name!r}", loc)
        return None
    intent = Intent(name, location=loc)
    if props is None:
        problems.error(
            f"intent '{name}' is followed by ':' but has no properties: remove the ':' or add "
            "use_entities / ignore_entities",
            loc,
        )
        return intent
    if not isinstance(props, dict):
        problems.error(
            f"the properties of intent '{name}' must be a mapping (use_entities, "
            f"ignore_entities), found {describe(props)}",
            loc,
        )
        return intent
    for key, val in props.items():
        key_loc = props.loc(key) if isinstance(props, YamlMap) else loc
        if key == "use_entities":
            if val is True:
                intent.use_entities = True
            elif val is None or val is False:
                intent.use_entities = []
            elif isinstance(val, list) and all(isinstance(v, str) for v in val):
                intent.use_entities = list(val)
            else:
                problems.error(
                    f"intent '{name}': use_entities must be true, false or a list of entity "
                    f"names, found {val!r}",
                    key_loc,
                )
        elif key == "ignore_entities":
            names = _string_list(val, key_loc, f"intent '{name}': ignore_entities", problems)
            intent.ignore_entities = names
        elif key == "is_retrieval_intent":
            intent.is_retrieval = val is True
        elif key == "triggers":
            if isinstance(val, str) and val.strip():
                intent.triggers = val  # a rule when config.yml has MappingPolicy
            else:
                problems.error(
                    f"intent '{name}': triggers must name an action, found {val!r}", key_loc
                )
        else:
            problems.warning(
                f"intent '{name}': unknown property '{key}' ignored (expected use_entities or "
                "ignore_entities)",
                key_loc,
            )
    return intent


def _valid_intent_name(name: str, loc: Location, problems: Problems) -> bool:
    if name.startswith("/"):
        problems.error(
            f"intent name '{name}' starts with '/': write it without the slash "
            f"('{name.lstrip('/')}'); '/' is only for payloads such as buttons",
            loc,
        )
        return False
    if not name.strip():
        problems.error("an intent name must not be empty", loc)
        return False
    return True


def _read_entities(value: Any, loc: Location, domain: Domain, problems: Problems) -> None:
    if value is None:
        return
    if not isinstance(value, YamlList):
        problems.error(
            f"entities must be a list of entity names, found {describe(value)}", loc_of(value, loc)
        )
        return
    for i, item in enumerate(value):
        item_loc = value.loc(i)
        entity = _read_entity(item, item_loc, problems)
        if entity is None:
            continue
        if entity.name in domain.entities:
            first = domain.entities[entity.name].location
            problems.error(
                f"entity '{entity.name}' is listed twice (first at line "
                f"{first.line if first else '?'})",
                item_loc,
            )
            continue
        domain.entities[entity.name] = entity


def _read_entity(item: Any, loc: Location, problems: Problems) -> EntityDef | None:
    if isinstance(item, str):
        return EntityDef(item, location=loc)
    if not isinstance(item, dict) or len(item) != 1 or not isinstance(next(iter(item)), str):
        problems.error(
            "an entity must be a name or a one-key mapping such as "
            f"`- city: {{roles: [from, to]}}`, found {describe(item)}",
            loc,
        )
        return None
    name, props = next(iter(item.items()))
    entity = EntityDef(name, location=loc)
    if props is None:
        problems.error(
            f"entity '{name}' is followed by ':' but has no properties: remove the ':' or add "
            "roles / groups / influence_conversation",
            loc,
        )
        return entity
    if not isinstance(props, dict):
        problems.error(
            f"the properties of entity '{name}' must be a mapping (roles, groups, "
            f"influence_conversation), found {describe(props)}",
            loc,
        )
        return entity
    for key, val in props.items():
        key_loc = props.loc(key) if isinstance(props, YamlMap) else loc
        if key in ("roles", "groups"):
            setattr(entity, key, _string_list(val, key_loc, f"entity '{name}': {key}", problems))
        elif key == "influence_conversation":
            if isinstance(val, bool):
                entity.influence_conversation = val
            else:
                problems.error(
                    f"entity '{name}': influence_conversation must be true or false, found {val!r}",
                    key_loc,
                )
        else:
            problems.warning(
                f"entity '{name}': unknown property '{key}' ignored (expected roles, groups or "
                "influence_conversation)",
                key_loc,
            )
    return entity


# --------------------------------------------------------------------------- slots


def _read_slots(value: Any, loc: Location, part: _Part, problems: Problems) -> None:
    if value is None:
        return
    if not isinstance(value, YamlMap):
        problems.error(
            f"slots must be a mapping of slot names to their definition, found {describe(value)}",
            loc_of(value, loc),
        )
        return
    for name, raw in value.items():
        slot = _read_slot(str(name), raw, value.loc(name), part, problems)
        if slot is not None:
            part.domain.slots[slot.name] = slot


def _read_slot(name: str, raw: Any, loc: Location, part: _Part, problems: Problems) -> Slot | None:
    if not isinstance(raw, YamlMap):
        problems.error(
            f"slot '{name}' must be a mapping with a `type` (one of {', '.join(SLOT_TYPES)}), "
            f"found {describe(raw)}",
            loc,
        )
        return None
    slot_type = raw.get("type")
    if slot_type is None:
        problems.error(
            f"slot '{name}' has no `type` (expected one of {', '.join(SLOT_TYPES)})", loc
        )
        return None
    if isinstance(slot_type, str) and "." in slot_type:
        slot_type = SLOT_CLASSES.get(slot_type.rsplit(".", 1)[1], slot_type)
    type_loc = raw.loc("type")
    influence: bool | None = None
    if slot_type == "unfeaturized":
        problems.warning(
            f"slot '{name}': Rasa 2.x `type: unfeaturized` upgraded to `type: any` with "
            "influence_conversation: false",
            type_loc,
        )
        slot_type, influence = "any", False
    if slot_type not in SLOT_TYPES:
        hint = " (custom slot classes are not supported)" if "." in str(slot_type) else ""
        problems.error(
            f"slot '{name}' has unknown type '{slot_type}'{hint}; expected one of "
            f"{', '.join(SLOT_TYPES)}",
            type_loc,
        )
        return None
    slot = Slot(name, type=slot_type, influence_conversation=slot_type != "any", location=loc)
    if influence is not None:
        slot.influence_conversation = influence
    for key, val in raw.items():
        key_loc = raw.loc(key)
        if key == "influence_conversation":
            if not isinstance(val, bool):
                problems.error(
                    f"slot '{name}': influence_conversation must be true or false, found {val!r}",
                    key_loc,
                )
            elif val and slot_type == "any":
                problems.error(
                    f"slot '{name}': an `any` slot cannot influence the conversation; use "
                    "another type or influence_conversation: false",
                    key_loc,
                )
            elif influence is None:
                slot.influence_conversation = val
        elif key == "initial_value":
            slot.initial_value = plain(val)
        elif key == "values":
            if slot_type != "categorical":
                problems.warning(
                    f"slot '{name}': `values` only applies to categorical slots", key_loc
                )
            elif not isinstance(val, list):
                problems.error(
                    f"slot '{name}': values must be a list of categories, found {describe(val)}",
                    key_loc,
                )
            else:
                slot.values = plain(val)
        elif key in ("min_value", "max_value"):
            if slot_type != "float":
                problems.warning(f"slot '{name}': `{key}` only applies to float slots", key_loc)
            elif isinstance(val, bool) or not isinstance(val, int | float):
                problems.error(f"slot '{name}': {key} must be a number, found {val!r}", key_loc)
            else:
                setattr(slot, key, float(val))
        elif key == "mappings":
            slot.mappings = _read_mappings(name, val, key_loc, problems)
        elif key == "auto_fill":
            if not isinstance(val, bool):
                problems.error(
                    f"slot '{name}': auto_fill must be true or false, found {val!r}", key_loc
                )
            elif part.legacy:
                part.auto_fill[name] = val
            else:
                problems.warning(
                    f"slot '{name}': Rasa 2.x `auto_fill` is ignored in a Rasa 3.x domain "
                    "(write a from_entity mapping instead)",
                    key_loc,
                )
        elif key != "type":
            problems.warning(
                f"slot '{name}': unknown property '{key}' ignored (expected one of "
                f"{', '.join(SLOT_KEYS)})",
                key_loc,
            )
    if slot_type == "categorical" and "values" not in raw:
        problems.warning(f"categorical slot '{name}' has no `values`", loc)
    if slot_type == "float" and slot.min_value >= slot.max_value:
        problems.error(
            f"float slot '{name}': min_value ({slot.min_value:g}) must be smaller than "
            f"max_value ({slot.max_value:g})",
            loc,
        )
    if part.legacy:
        part.auto_fill.setdefault(name, True)
        if "mappings" not in raw:
            part.unmapped_slots.append(name)
    elif "mappings" not in raw:
        problems.warning(
            f"slot '{name}' has no `mappings`: only custom actions and stories can set it "
            "(add `mappings: [{type: custom}]` to say so)",
            loc,
        )
    return slot


def _read_mappings(slot: str, value: Any, loc: Location, problems: Problems) -> list[SlotMapping]:
    if value is None:
        return []
    if not isinstance(value, YamlList):
        problems.error(
            f"slot '{slot}': mappings must be a list such as `- type: from_entity`, "
            f"found {describe(value)}",
            loc,
        )
        return []
    mappings = []
    for i, raw in enumerate(value):
        mapping = _read_mapping(slot, raw, value.loc(i), problems)
        if mapping is not None:
            mappings.append(mapping)
    return mappings


def _read_mapping(slot: str, raw: Any, loc: Location, problems: Problems) -> SlotMapping | None:
    if not isinstance(raw, YamlMap):
        problems.error(
            f"slot '{slot}': a mapping must be a mapping such as `- type: from_entity` with "
            f"`entity: name`, found {describe(raw)}",
            loc,
        )
        return None
    kind = raw.get("type")
    if kind is None:
        problems.error(
            f"slot '{slot}': mapping has no `type` (expected one of {', '.join(MAPPING_TYPES)})",
            loc,
        )
        return None
    if kind not in MAPPING_TYPES:
        problems.error(
            f"slot '{slot}': unknown mapping type '{kind}' (expected one of "
            f"{', '.join(MAPPING_TYPES)})",
            raw.loc("type"),
        )
        return None
    mapping = SlotMapping(type=kind, location=loc)
    if kind == "from_entity" and not isinstance(raw.get("entity"), str):
        problems.error(f"slot '{slot}': a from_entity mapping needs `entity: <entity name>`", loc)
        return None
    if kind in ("from_intent", "from_trigger_intent") and raw.get("value") is None:
        problems.error(f"slot '{slot}': a {kind} mapping needs a `value`", loc)
        return None
    allowed = MAPPING_KEYS[kind]
    for key, val in raw.items():
        key_loc = raw.loc(key)
        if key == "type":
            continue
        if key == "conditions":
            mapping.conditions = _read_conditions(slot, val, key_loc, problems)
        elif key not in allowed:
            problems.warning(
                f"slot '{slot}': key '{key}' has no meaning in a {kind} mapping; ignored "
                f"(expected {', '.join((*allowed, 'conditions'))})",
                key_loc,
            )
        elif key in ("intent", "not_intent"):
            names = _names(val)
            if names is None:
                problems.error(
                    f"slot '{slot}': {key} must be an intent name or a list of them, found {val!r}",
                    key_loc,
                )
            else:
                setattr(mapping, key, names)
        elif key == "value":
            mapping.value = plain(val)
        elif not isinstance(val, str):
            if val is not None:
                problems.error(f"slot '{slot}': {key} must be a name, found {val!r}", key_loc)
        else:
            setattr(mapping, key, val)
    return mapping


def _read_conditions(
    slot: str, value: Any, loc: Location, problems: Problems
) -> list[MappingCondition]:
    if value is None:
        return []
    if not isinstance(value, YamlList):
        problems.error(
            f"slot '{slot}': conditions must be a list such as `- active_loop: my_form`, "
            f"found {describe(value)}",
            loc,
        )
        return []
    conditions = []
    for i, raw in enumerate(value):
        item_loc = value.loc(i)
        if not isinstance(raw, YamlMap):
            problems.error(
                f"slot '{slot}': a condition must be a mapping with `active_loop` (and "
                f"optionally `requested_slot`), found {describe(raw)}",
                item_loc,
            )
            continue
        for key in raw:
            if key not in ("active_loop", "requested_slot"):
                problems.warning(
                    f"slot '{slot}': unknown condition key '{key}' ignored (expected "
                    "active_loop, requested_slot)",
                    raw.loc(key),
                )
        loop, requested = raw.get("active_loop"), raw.get("requested_slot")
        if (loop is not None and not isinstance(loop, str)) or (
            requested is not None and not isinstance(requested, str)
        ):
            problems.error(
                f"slot '{slot}': active_loop and requested_slot must be names (or null)",
                item_loc,
            )
            continue
        if "active_loop" not in raw:
            problems.warning(
                f"slot '{slot}': condition without `active_loop` applies when no form is active",
                item_loc,
            )
        conditions.append(MappingCondition(loop, requested))
    return conditions


# --------------------------------------------------------------------------- responses


def _read_responses(value: Any, loc: Location, domain: Domain, problems: Problems) -> None:
    if value is None:
        return
    if not isinstance(value, YamlMap):
        problems.error(
            "responses must be a mapping of response names to lists of variations, "
            f"found {describe(value)}",
            loc_of(value, loc),
        )
        return
    ids: dict[str, str] = {}
    for name, variations in value.items():
        name_loc = value.loc(name)
        name = str(name)
        if name in domain.responses:
            problems.error(
                f"response '{name}' is written under both 'templates' and 'responses'", name_loc
            )
            continue
        if not name.startswith("utter_"):
            problems.warning(
                f"response '{name}' does not start with 'utter_': it cannot be used as an action",
                name_loc,
            )
        if not isinstance(variations, YamlList):
            problems.error(
                f"response '{name}' must be a list of variations such as `- text: Hello!`, "
                f"found {describe(variations)}",
                name_loc,
            )
            continue
        if not variations:
            problems.warning(f"response '{name}' has no variations", name_loc)
        kept = []
        for i, raw in enumerate(variations):
            variation = _read_variation(name, raw, variations.loc(i), problems)
            if variation is None:
                continue
            vid = variation.get("id")
            if vid is not None:
                if str(vid) in ids:
                    problems.error(
                        f"response '{name}': id '{vid}' is already used by response "
                        f"'{ids[str(vid)]}'",
                        variations.loc(i),
                    )
                ids[str(vid)] = name
            kept.append(variation)
        domain.responses[name] = kept
        domain.response_locations[name] = name_loc


def _read_variation(
    name: str, raw: Any, loc: Location, problems: Problems
) -> dict[str, Any] | None:
    if isinstance(raw, str):
        problems.error(
            f"response '{name}': a variation must be a mapping such as `- text: {raw!r}`, "
            "found plain text",
            loc,
        )
        return None
    if not isinstance(raw, YamlMap):
        problems.error(
            f"response '{name}': a variation must be a mapping with `text` (or image, custom, "
            f"buttons, attachment, quick_replies), found {describe(raw)}",
            loc,
        )
        return None
    if not any(raw.get(key) is not None for key in CONTENT_KEYS):
        problems.error(
            f"response '{name}': variation has no text, image, custom, buttons, attachment "
            f"or quick_replies (found keys: {', '.join(map(str, raw)) or 'none'})",
            loc,
        )
        return None
    variation = plain(raw)
    for key, val in raw.items():
        key_loc = raw.loc(key)
        if key not in VARIATION_KEYS:
            problems.warning(
                f"response '{name}': unknown variation key '{key}' kept as written", key_loc
            )
        elif key == "text" and val is not None and not isinstance(val, str):
            if isinstance(val, int | float | bool):
                problems.warning(f"response '{name}': text {val!r} read as text", key_loc)
                variation["text"] = str(val).lower() if isinstance(val, bool) else str(val)
            else:
                problems.error(
                    f"response '{name}': text must be text, found {describe(val)}", key_loc
                )
                return None
        elif key in ("buttons", "quick_replies"):
            if not _check_buttons(name, key, val, key_loc, problems):
                return None
        elif key == "condition":
            if not _check_condition(name, val, key_loc, problems):
                return None
        elif key in ("custom", "attachment") and val is not None and not isinstance(val, dict):
            if key == "custom":
                problems.error(
                    f"response '{name}': custom must be a mapping (any JSON object), "
                    f"found {describe(val)}",
                    key_loc,
                )
                return None
        elif key in ("channel", "image", "button_type") and not isinstance(val, str | None):
            problems.error(f"response '{name}': {key} must be text, found {val!r}", key_loc)
            return None
    return variation


def _check_buttons(name: str, key: str, value: Any, loc: Location, problems: Problems) -> bool:
    if not isinstance(value, YamlList):
        problems.error(
            f"response '{name}': {key} must be a list of `- title: ...` / `payload: ...` "
            f"mappings, found {describe(value)}",
            loc,
        )
        return False
    for i, button in enumerate(value):
        if not isinstance(button, YamlMap):
            problems.error(
                f"response '{name}': each of {key} must be a mapping with title and payload, "
                f"found {describe(button)}",
                value.loc(i),
            )
            return False
        if "title" not in button:
            problems.warning(f"response '{name}': a button without a title", value.loc(i))
    return True


def _check_condition(name: str, value: Any, loc: Location, problems: Problems) -> bool:
    if not isinstance(value, YamlList):
        problems.error(
            f"response '{name}': condition must be a list of `- type: slot` / `name:` / "
            f"`value:` mappings, found {describe(value)}",
            loc,
        )
        return False
    for i, cond in enumerate(value):
        cond_loc = value.loc(i)
        if not isinstance(cond, YamlMap):
            problems.error(
                f"response '{name}': a condition must be a mapping with type: slot, name and "
                f"value, found {describe(cond)}",
                cond_loc,
            )
            return False
        if cond.get("type") != "slot":
            problems.error(
                f"response '{name}': condition type must be 'slot', found {cond.get('type')!r}",
                cond_loc,
            )
            return False
        if not isinstance(cond.get("name"), str):
            problems.error(f"response '{name}': a condition needs the slot's `name`", cond_loc)
            return False
    return True


# --------------------------------------------------------------------------- actions, forms


def _read_actions(value: Any, loc: Location, domain: Domain, problems: Problems) -> None:
    if value is None:
        return
    if not isinstance(value, YamlList):
        problems.error(
            f"actions must be a list of action names, found {describe(value)}", loc_of(value, loc)
        )
        return
    for i, item in enumerate(value):
        item_loc = value.loc(i)
        action: ActionDef | None = None
        if isinstance(item, str):
            action = ActionDef(item, location=item_loc)
        elif isinstance(item, YamlMap) and len(item) == 1 and isinstance(next(iter(item)), str):
            name, props = next(iter(item.items()))
            action = ActionDef(name, location=item_loc)
            if isinstance(props, dict):
                for key, val in props.items():
                    if key == "send_domain" and isinstance(val, bool):
                        action.send_domain = val
                    elif key == "send_domain":
                        problems.error(
                            f"action '{name}': send_domain must be true or false, found {val!r}",
                            item_loc,
                        )
                    else:
                        problems.warning(
                            f"action '{name}': unknown property '{key}' ignored (expected "
                            "send_domain)",
                            item_loc,
                        )
            elif props is not None:
                problems.error(
                    f"action '{name}': properties must be a mapping such as "
                    f"`{{send_domain: true}}`, found {describe(props)}",
                    item_loc,
                )
        else:
            problems.error(
                "an action must be a name or a one-key mapping such as "
                f"`- action_x: {{send_domain: true}}`, found {describe(item)}",
                item_loc,
            )
        if action is None:
            continue
        if action.name in domain.actions:
            first = domain.actions[action.name].location
            problems.error(
                f"action '{action.name}' is listed twice (first at line "
                f"{first.line if first else '?'})",
                item_loc,
            )
            continue
        domain.actions[action.name] = action


def _read_forms(value: Any, loc: Location, part: _Part, problems: Problems) -> None:
    if value is None:
        return
    if isinstance(value, YamlList):
        problems.warning(
            "Rasa 1.x list of forms upgraded to forms without required slots (their custom "
            "FormAction decides which slots to ask)",
            loc,
        )
        for i, name in enumerate(value):
            if isinstance(name, str):
                part.domain.forms[name] = Form(name, location=value.loc(i))
            else:
                problems.error(f"a form name must be text, found {describe(name)}", value.loc(i))
        return
    if not isinstance(value, YamlMap):
        problems.error(
            f"forms must be a mapping of form names to their definition, found {describe(value)}",
            loc_of(value, loc),
        )
        return
    for name, raw in value.items():
        form = _read_form(str(name), raw, value.loc(name), part, problems)
        if form is not None:
            part.domain.forms[form.name] = form


def _read_form(name: str, raw: Any, loc: Location, part: _Part, problems: Problems) -> Form | None:
    form = Form(name, location=loc)
    if raw is None:
        return form
    if not isinstance(raw, YamlMap):
        problems.error(
            f"form '{name}' must be a mapping with `required_slots`, found {describe(raw)}", loc
        )
        return None
    legacy_slots = _legacy_form_slots(raw)
    required = raw.get("required_slots")
    if isinstance(required, YamlMap):
        legacy_slots = list(required)
        source: YamlMap = required
    else:
        source = raw
        if required is not None and not isinstance(required, YamlList):
            problems.error(
                f"form '{name}': required_slots must be a list of slot names, "
                f"found {describe(required)}",
                raw.loc("required_slots"),
            )
        elif required is not None:
            form.required_slots = _string_list(
                required, raw.loc("required_slots"), f"form '{name}': required_slots", problems
            )
    for slot in legacy_slots:
        mappings = _read_mappings(slot, source[slot], source.loc(slot), problems)
        part.legacy_form_slots.append(_LegacyFormSlot(name, slot, mappings, source.loc(slot)))
        form.required_slots.append(slot)
    if legacy_slots:
        problems.warning(
            f"form '{name}' uses Rasa 2.x slot mappings: moved to the slots "
            f"({', '.join(legacy_slots)}) with conditions active_loop: {name} and "
            "requested_slot: <slot> (active_loop only for from_entity and from_trigger_intent), "
            "as `rasa data migrate` does",
            loc,
        )
    beside = _mappings_beside_required_slots(raw)
    if beside:
        problems.warning(
            f"form '{name}': {', '.join(beside)} beside `required_slots` look like slot "
            "mappings indented one level too shallow: ignored, as Rasa ignores them (indent "
            "them under required_slots, or move them to the slots' `mappings`)",
            raw.loc(beside[0]),
        )
    for key, val in raw.items():
        if key in beside:
            continue
        if key == "ignored_intents":
            form.ignored_intents = _names(val) or []
            if _names(val) is None:
                problems.error(
                    f"form '{name}': ignored_intents must be an intent name or a list of them",
                    raw.loc(key),
                )
        elif key in FORM_PLAN_KEYS:
            form.plans[key] = plain(val)
        elif key != "required_slots" and key not in legacy_slots:
            problems.warning(
                f"form '{name}': unknown key `{key}` ignored, as Rasa ignores it (expected "
                f"required_slots, ignored_intents or a plan: {', '.join(FORM_PLAN_KEYS)})",
                raw.loc(key),
            )
    return form


def _read_session_config(value: Any, loc: Location, problems: Problems) -> SessionConfig:
    config = SessionConfig()
    if value is None:
        return config
    if not isinstance(value, YamlMap):
        problems.error(
            "session_config must be a mapping with session_expiration_time and "
            f"carry_over_slots_to_new_session, found {describe(value)}",
            loc_of(value, loc),
        )
        return config
    for key, val in value.items():
        key_loc = value.loc(key)
        if key == "session_expiration_time":
            if val is None:
                continue
            if isinstance(val, bool) or not isinstance(val, int | float) or val < 0:
                problems.error(
                    "session_expiration_time must be a number of minutes (0 or more), "
                    f"found {val!r}",
                    key_loc,
                )
            else:
                config.session_expiration_time = float(val)
        elif key == "carry_over_slots_to_new_session":
            if isinstance(val, bool):
                config.carry_over_slots = val
            else:
                problems.error(
                    f"carry_over_slots_to_new_session must be true or false, found {val!r}",
                    key_loc,
                )
        else:
            problems.warning(
                f"unknown session_config key '{key}' ignored (expected session_expiration_time, "
                "carry_over_slots_to_new_session)",
                key_loc,
            )
    return config


def _read_config_section(value: Any, loc: Location, part: _Part, problems: Problems) -> None:
    """The 2.x domain ``config:`` section (``store_entities_as_slots``)."""
    if value is None:
        return
    if not isinstance(value, YamlMap):
        problems.error(f"config must be a mapping, found {describe(value)}", loc_of(value, loc))
        return
    for key, val in value.items():
        if key == "store_entities_as_slots" and isinstance(val, bool):
            part.store_entities_as_slots = val
        else:
            problems.warning(
                f"domain config key '{key}' ignored (only store_entities_as_slots: true/false)",
                value.loc(key),
            )


# --------------------------------------------------------------------------- merging


def _merge(parts: list[_Part], problems: Problems) -> Domain:
    """Merge per-file domains; equal re-declarations warn, different ones are errors."""
    if len(parts) == 1:
        return parts[0].domain
    merged = Domain()
    session_from: Location | None = None
    for part in parts:
        d = part.domain
        if merged.version is None:
            merged.version = d.version
        _merge_named("intent", merged.intents, d.intents, problems)
        _merge_named("entity", merged.entities, d.entities, problems)
        _merge_named("slot", merged.slots, d.slots, problems)
        _merge_named("action", merged.actions, d.actions, problems)
        _merge_named("form", merged.forms, d.forms, problems)
        for name, variations in d.responses.items():
            where = d.response_locations.get(name)
            if name not in merged.responses:
                merged.responses[name] = variations
                if where is not None:
                    merged.response_locations[name] = where
            else:
                _report_duplicate(
                    "response",
                    name,
                    merged.responses[name] == variations,
                    merged.response_locations.get(name),
                    where,
                    problems,
                )
        merged.action_texts.extend(t for t in d.action_texts if t not in merged.action_texts)
        if part.session_config_location is not None:
            if session_from is None:
                merged.session_config, session_from = d.session_config, part.session_config_location
            elif merged.session_config != d.session_config:
                problems.error(
                    f"session_config differs from the one at {session_from}",
                    part.session_config_location,
                )
    return merged


_Named = TypeVar("_Named", Intent, EntityDef, Slot, ActionDef, Form)


def _merge_named(
    kind: str, merged: dict[str, _Named], new: dict[str, _Named], problems: Problems
) -> None:
    for name, item in new.items():
        if name not in merged:
            merged[name] = item
        else:
            first = merged[name]
            _report_duplicate(kind, name, first == item, first.location, item.location, problems)


def _report_duplicate(
    kind: str,
    name: str,
    same: bool,
    first: Location | None,
    again: Location | None,
    problems: Problems,
) -> None:
    if same:
        problems.warning(f"{kind} '{name}' is declared again (first at {first})", again)
    else:
        problems.error(
            f"{kind} '{name}' is declared differently here and at {first}; keep one", again
        )


# --------------------------------------------------------------------------- 2.x upgrade


def _upgrade_legacy(domain: Domain, parts: list[_Part], problems: Problems) -> None:
    """Apply migrate.py's form-slot, auto_fill and custom-mapping upgrades to the merged domain."""
    for pending in (p for part in parts for p in part.legacy_form_slots):
        slot = domain.slots.get(pending.slot)
        if slot is None:
            problems.error(
                f"form '{pending.form}' maps slot '{pending.slot}', which is not declared "
                "under slots",
                pending.location,
            )
            continue
        slot.mappings = _with_form_condition(slot.mappings, pending)
    entity_names = set(domain.entities)
    for part in parts:
        if not part.legacy:
            continue
        for name, auto_fill in part.auto_fill.items():
            slot = domain.slots.get(name)
            if slot is None or not auto_fill or name not in entity_names:
                continue
            if not part.store_entities_as_slots:
                problems.warning(
                    f"slot '{name}': no auto_fill mapping added (store_entities_as_slots: false)",
                    slot.location,
                )
                continue
            mapping = SlotMapping(type="from_entity", entity=name, location=slot.location)
            if mapping not in slot.mappings:
                slot.mappings.append(mapping)
                problems.warning(
                    f"slot '{name}': Rasa 2.x auto_fill upgraded to the mapping "
                    f"`- type: from_entity` / `entity: {name}`",
                    slot.location,
                )
        for name in part.unmapped_slots:
            slot = domain.slots.get(name)
            if slot is not None and not slot.mappings:
                slot.mappings.append(SlotMapping(type="custom", location=slot.location))
                problems.warning(
                    f"slot '{name}' has no mappings (Rasa 2.x): a `custom` mapping was added, "
                    "as `rasa data migrate` does",
                    slot.location,
                )


def _with_form_condition(
    existing: list[SlotMapping], pending: _LegacyFormSlot
) -> list[SlotMapping]:
    """migrate.py ``_get_updated_or_new_mappings``: add the form's condition to each mapping."""
    new = list(pending.mappings)
    updated: list[SlotMapping] = []
    for mapping in existing:
        match = next((m for m in new if _same_mapping(m, mapping)), None)
        if match is not None:
            new.remove(match)
            mapping.conditions.append(_condition_for(mapping, pending))
        updated.append(mapping)
    for mapping in new:
        mapping.conditions = [_condition_for(mapping, pending)]
        updated.append(mapping)
    return updated


def _condition_for(mapping: SlotMapping, pending: _LegacyFormSlot) -> MappingCondition:
    if mapping.type in NO_REQUESTED_SLOT_CONDITION:
        return MappingCondition(active_loop=pending.form)
    return MappingCondition(active_loop=pending.form, requested_slot=pending.slot)


def _same_mapping(a: SlotMapping, b: SlotMapping) -> bool:
    """Equal apart from conditions (and where they were written)."""
    keys = ("type", "entity", "role", "group", "intent", "not_intent", "value", "action")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


# --------------------------------------------------------------------------- writing


def domain_as_dict(domain: Domain) -> dict[str, Any]:
    """Rasa 3.x's domain dict (what ``Domain.as_dict()`` gives the action server)."""
    out: dict[str, Any] = {"version": LATEST_VERSION}
    out["intents"] = [_intent_dict(i) for i in sorted(domain.intents.values(), key=_name)]
    out["entities"] = [_entity_dict(e) for e in domain.entities.values()]
    out["slots"] = {name: _slot_dict(slot) for name, slot in domain.slots.items()}
    out["responses"] = {name: [dict(v) for v in vs] for name, vs in domain.responses.items()}
    out["actions"] = [
        {a.name: {"send_domain": True}} if a.send_domain else a.name
        for a in domain.actions.values()
    ]
    out["forms"] = {name: _form_dict(form) for name, form in domain.forms.items()}
    out["e2e_actions"] = list(domain.action_texts)
    if not domain.store_entities_as_slots:
        out["config"] = {"store_entities_as_slots": False}
    expiration = domain.session_config.session_expiration_time
    out["session_config"] = {
        "session_expiration_time": int(expiration) if expiration == int(expiration) else expiration,
        "carry_over_slots_to_new_session": domain.session_config.carry_over_slots,
    }
    return {k: v for k, v in out.items() if v not in ({}, [], None)}


def dump_domain_yaml(domain: Domain) -> str:
    """A clean Rasa 3.x ``domain.yml`` (version "3.1") that reads back to an equal Domain."""
    data = domain_as_dict(domain)
    del data["version"]
    sections = [
        yaml.dump({key: value}, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
        for key, value in data.items()
    ]
    return "\n".join([f'version: "{LATEST_VERSION}"\n', *sections])


class _Dumper(yaml.SafeDumper):
    """Block style; lists indented under their key; multi-line text as ``|`` blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    try:
        plain_is_text = isinstance(load_yaml_text(value), str)
    except YamlError:
        plain_is_text = False
    # quote what a YAML 1.2 reader would not read back as this text (``1e3``, ``null``...)
    style = None if plain_is_text else '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _name(item: Intent) -> str:
    return item.name


def _intent_dict(intent: Intent) -> str | dict[str, Any]:
    props: dict[str, Any] = {}
    if intent.use_entities is not True:
        props["use_entities"] = list(intent.use_entities or [])
    if intent.ignore_entities:
        props["ignore_entities"] = list(intent.ignore_entities)
    if intent.is_retrieval:
        props["is_retrieval_intent"] = True
    return {intent.name: props} if props else intent.name


def _entity_dict(entity: EntityDef) -> str | dict[str, Any]:
    props: dict[str, Any] = {}
    if entity.roles:
        props["roles"] = list(entity.roles)
    if entity.groups:
        props["groups"] = list(entity.groups)
    if not entity.influence_conversation:
        props["influence_conversation"] = False
    return {entity.name: props} if props else entity.name


def _slot_dict(slot: Slot) -> dict[str, Any]:
    out: dict[str, Any] = {"type": slot.type, "influence_conversation": slot.influence_conversation}
    if slot.initial_value is not None:
        out["initial_value"] = slot.initial_value
    if slot.type == "categorical":
        out["values"] = list(slot.values)
    if slot.type == "float":
        out["min_value"] = slot.min_value
        out["max_value"] = slot.max_value
    out["mappings"] = [m.as_dict() for m in slot.mappings]
    return out


def _form_dict(form: Form) -> dict[str, Any]:
    out: dict[str, Any] = {"required_slots": list(form.required_slots)}
    if form.ignored_intents:
        out["ignored_intents"] = list(form.ignored_intents)
    out.update(form.plans)
    return out


# --------------------------------------------------------------------------- helpers


def display_path(path: Path, root: Path) -> str:
    """``path`` as shown in messages: relative to the bot folder when inside it."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def describe(value: Any) -> str:
    """How a wrong value is described in a message."""
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the text {value!r}"
    return f"{value!r}"


def _names(value: Any) -> list[str] | None:
    """An intent name or a list of them (Rasa's ``to_list``); None when malformed."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _string_list(value: Any, loc: Location, what: str, problems: Problems) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.error(f"{what} must be a list of names, found {describe(value)}", loc)
        return []
    out: list[str] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            out.append(item)
        else:
            item_loc = value.loc(i) if isinstance(value, YamlList) else loc
            problems.error(f"{what}: each entry must be a name, found {describe(item)}", item_loc)
    return out


def plain(value: Any) -> Any:
    """A loaded YAML value as plain dicts and lists (no line bookkeeping)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
