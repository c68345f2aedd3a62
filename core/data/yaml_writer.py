"""Write training data as clean Rasa 3.x YAML (``version: "3.1"``) that reads back unchanged.

Used by ``chinwag data convert`` (Markdown/JSON/2.x to 3.x) and by interactive export. NLU
examples are written as ``examples: |`` blocks with inline entity annotations in their shortest
form; stories and rules use Rasa 3.x step keys. Reading the output with
:func:`core.data.yaml_reader.read_training_yaml` gives back equal objects (locations aside).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from chinwag.core.data.nlu_text import annotate
from chinwag.core.data.training import (
    FILLED,
    ActionStep,
    CheckpointStep,
    Entity,
    LoopStep,
    Message,
    NLUData,
    SlotStep,
    Step,
    Story,
    StoryData,
    UserStep,
)

FORMAT_VERSION = "3.1"
_HEADER = f'version: "{FORMAT_VERSION}"\n'


class _Dumper(yaml.SafeDumper):
    """Block style as in Rasa's files, ``|`` for multi-line text, quoting for YAML 1.2."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)
# loaded YamlMap/YamlList values (slot values, metadata, responses) write as plain YAML
_Dumper.add_multi_representer(dict, yaml.SafeDumper.represent_dict)
_Dumper.add_multi_representer(list, yaml.SafeDumper.represent_list)
# Plain scalars a YAML 1.2 reader takes for numbers although YAML 1.1 does not (1e5, 0o17):
# registering them makes the emitter quote such strings.
_Dumper.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789."),
)
_Dumper.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^0o[0-7]+$"), list("0"))


def _dump(document: dict[str, Any]) -> str:
    if not document:
        return _HEADER
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return _HEADER + body


# ---------------------------------------------------------------------------------- NLU


def dump_nlu_yaml(nlu: NLUData) -> str:
    """NLU examples, synonyms, regexes, lookups and NLU-file responses as Rasa 3.x YAML."""
    items: list[dict[str, Any]] = []
    by_intent: dict[str, list[Message]] = {}
    for message in nlu.examples:
        by_intent.setdefault(message.intent, []).append(message)
    for intent, messages in by_intent.items():
        items.extend(_intent_items(intent, messages))
    by_value: dict[str, list[str]] = {}
    for variant, value in nlu.synonyms.items():
        by_value.setdefault(value, []).append(variant)
    for value, variants in by_value.items():
        items.append({"synonym": value, "examples": _block(variants)})
    regexes: dict[str, list[str]] = {}
    for regex in nlu.regexes:
        regexes.setdefault(regex.name, []).append(regex.pattern)
    for name, patterns in regexes.items():
        items.append({"regex": name, "examples": _block(patterns)})
    for name, elements in nlu.lookups.items():
        if elements:
            items.append({"lookup": name, "examples": _block(elements)})
    document: dict[str, Any] = {}
    if items:
        document["nlu"] = items
    if nlu.responses:
        document["responses"] = {name: list(v) for name, v in nlu.responses.items()}
    return _dump(document)


def _block(lines: list[str]) -> str:
    return "".join(f"- {line}\n" for line in lines)


def _intent_items(intent: str, messages: list[Message]) -> list[dict[str, Any]]:
    """One item per run of examples sharing the intent-level metadata."""
    runs: list[list[Message]] = []
    for message in messages:
        if runs and runs[-1][0].metadata.get("intent") == message.metadata.get("intent"):
            runs[-1].append(message)
        else:
            runs.append([message])
    items = []
    for run in runs:
        item: dict[str, Any] = {"intent": intent}
        if run[0].metadata.get("intent") is not None:
            item["metadata"] = run[0].metadata["intent"]
        texts = [annotate(m.text, m.entities) for m in run]
        as_list = any("\n" in t or "example" in m.metadata for t, m in zip(texts, run, strict=True))
        if as_list:
            examples: list[dict[str, Any]] = []
            for text, message in zip(texts, run, strict=True):
                example: dict[str, Any] = {"text": text}
                if message.metadata.get("example") is not None:
                    example["metadata"] = message.metadata["example"]
                examples.append(example)
            item["examples"] = examples
        else:
            item["examples"] = _block(texts)
        items.append(item)
    return items


# ------------------------------------------------------------------------ stories and rules


def dump_stories_yaml(data: StoryData) -> str:
    """Stories (and test stories) and rules as Rasa 3.x YAML."""
    document: dict[str, Any] = {}
    if data.stories:
        document["stories"] = [_story(s) for s in data.stories]
    if data.rules:
        document["rules"] = [_rule(r) for r in data.rules]
    return _dump(document)


def _story(story: Story) -> dict[str, Any]:
    item: dict[str, Any] = {"story": story.name}
    if story.metadata:
        item["metadata"] = story.metadata
    item["steps"] = [_step(s) for s in story.steps]
    return item


def _rule(rule: Story) -> dict[str, Any]:
    item: dict[str, Any] = {"rule": rule.name}
    if rule.metadata:
        item["metadata"] = rule.metadata
    if rule.condition:
        item["condition"] = [_step(s) for s in rule.condition]
    if rule.conversation_start:
        item["conversation_start"] = True
    item["steps"] = [_step(s) for s in rule.steps]
    if not rule.wait_for_user_input:
        item["wait_for_user_input"] = False
    return item


def _step(step: Step) -> dict[str, Any]:
    if isinstance(step, UserStep):
        return _user(step)
    if isinstance(step, ActionStep):
        return {"action": step.name} if step.name is not None else {"bot": step.text}
    if isinstance(step, SlotStep):
        return {"slot_was_set": _slots(step.slots)}
    if isinstance(step, LoopStep):
        return {"active_loop": step.name}
    if isinstance(step, CheckpointStep):
        item: dict[str, Any] = {"checkpoint": step.name}
        if step.conditions:
            item["slot_was_set"] = [{k: v} for k, v in step.conditions.items()]
        return item
    return {"or": [_step(a) for a in step.alternatives]}


def _slots(slots: dict[str, Any]) -> list[Any]:
    """``- name`` for a slot set without a value (FILLED), ``- name: value`` otherwise."""
    return [name if value == FILLED else {name: value} for name, value in slots.items()]


def _user(step: UserStep) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if step.intent is not None:
        item["intent"] = step.intent
    if step.text is not None:
        text = step.text if step.text.startswith("/") else annotate(step.text, step.entities)
        item["user"] = text
    elif step.entities:
        item["entities"] = [_entity(e) for e in step.entities]
    return item


def _entity(entity: Entity) -> Any:
    if entity.value == "" and entity.role is None and entity.group is None:
        return entity.entity
    out: dict[str, Any] = {entity.entity: entity.value}
    if entity.role is not None:
        out["role"] = entity.role
    if entity.group is not None:
        out["group"] = entity.group
    return out
