"""YAML reading with Rasa's rules and a line number on every key and item.

* YAML 1.2 scalars, as Rasa reads them (ruamel, version 1.2): only ``true``/``false`` are
  booleans, so ``yes``, ``no``, ``on``, ``off`` stay strings; ``12:30`` is a string, not a
  base-60 integer; dates stay strings.
* A key repeated in one mapping is an error at the repeated key's line.
* Mappings load as :class:`YamlMap` and sequences as :class:`YamlList`: plain ``dict`` and
  ``list`` subclasses that also know the line of themselves, of each key and of each item.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from core.data.problems import Location


class YamlError(Exception):
    """A file that is not valid YAML (or repeats a key), with where and what."""

    def __init__(self, message: str, location: Location) -> None:
        self.location = location
        self.message = message
        super().__init__(f"{location}: {message}")


class YamlMap(dict[Any, Any]):
    """A mapping that remembers where it and each of its keys were written."""

    file: str = ""
    line: int | None = None
    key_lines: dict[Any, int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines = {}

    def loc(self, key: Any = None) -> Location:
        """The location of ``key`` (or of the mapping itself)."""
        line = self.key_lines.get(key, self.line) if key is not None else self.line
        return Location(self.file, line)


class YamlList(list[Any]):
    """A sequence that remembers where it and each of its items were written."""

    file: str = ""
    line: int | None = None
    item_lines: list[int]

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.item_lines = []

    def loc(self, index: int | None = None) -> Location:
        if index is not None and 0 <= index < len(self.item_lines):
            return Location(self.file, self.item_lines[index])
        return Location(self.file, self.line)


def loc_of(value: Any, fallback: Location) -> Location:
    """The location of a loaded value if it carries one, else ``fallback``."""
    if isinstance(value, YamlMap | YamlList) and value.line:
        return Location(value.file, value.line)
    return fallback


class _Loader(yaml.SafeLoader):
    """SafeLoader with the YAML 1.2 core schema, duplicate-key errors and line tracking."""

    file_name = ""


# YAML 1.2 core schema resolvers (replacing YAML 1.1's yes/no/on/off, sexagesimals, dates).
_Loader.yaml_implicit_resolvers = {}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)


def _construct_int(loader: _Loader, node: ScalarNode) -> int:
    text = str(loader.construct_scalar(node)).replace("_", "")
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text)


def _construct_bool(loader: _Loader, node: ScalarNode) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"


def _construct_map(loader: _Loader, node: MappingNode) -> YamlMap:
    result = YamlMap()
    result.file = loader.file_name
    result.line = node.start_mark.line + 1
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            )
        key = "null" if key is None else key
        key_line = key_node.start_mark.line + 1
        if key in result:
            raise YamlError(
                f"duplicate key '{key}' (first written at line {result.key_lines[key]})",
                Location(loader.file_name, key_line),
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_line
    return result


def _construct_seq(loader: _Loader, node: SequenceNode) -> YamlList:
    result = YamlList()
    result.file = loader.file_name
    result.line = node.start_mark.line + 1
    for item in node.value:
        result.append(loader.construct_object(item, deep=True))
        result.item_lines.append(item.start_mark.line + 1)
    return result


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)


def load_yaml_text(text: str, file: str = "<string>") -> Any:
    """Parse YAML text; raise :class:`YamlError` with file:line on any problem."""
    loader = _Loader(text)
    loader.file_name = file
    try:
        return loader.get_single_data()
    except YamlError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = exc.problem or "malformed YAML"
        if exc.context:
            what = f"{what} ({exc.context})"
        raise YamlError(f"invalid YAML: {what}", Location(file, line)) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML: {exc}", Location(file)) from None
    finally:
        loader.dispose()


def load_yaml(path: Path | str, display: str | None = None) -> Any:
    """Read and parse a YAML file. ``display`` is the name used in messages."""
    path = Path(path)
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(f"not UTF-8 text ({exc.reason})", Location(name)) from None
    except OSError as exc:
        raise YamlError(f"cannot read file: {exc.strerror}", Location(name)) from None
    return load_yaml_text(text, name)


def is_node(value: Any) -> bool:
    return isinstance(value, Node)
