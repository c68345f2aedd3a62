"""YAML reading with Rasa's rules and a line number on every key and item.

* YAML 1.2 scalars, as Rasa reads them (ruamel, version 1.2): only ``true``/``false`` are
  booleans, so ``yes``, ``no``, ``on``, ``off`` stay strings; ``12:30`` is a string, not a
  base-60 integer; dates stay strings.
* A key repeated in one mapping is an error at the repeated key's line.
* Mappings load as :class:`YamlMap` and sequences as :class:`YamlList`: plain ``dict`` and
  ``list`` subclasses that also know the line of themselves, of each key and of each item.
* Bot files are semi-trusted, so what one file can cost is bounded: nesting deeper than
  :data:`MAX_DEPTH` and anchors whose aliases (merge keys included) expand to more than
  :data:`MAX_ALIAS_EXPANSION` nodes in all (a "billion laughs" file) are errors at the line
  where the limit is crossed, found while the file is parsed, before anything is built from
  it. Bot JSON files (:func:`load_json_text`) get the same nesting bound.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from chinwag.core.data.problems import Location

# Rasa files nest about 8 deep (stories -> steps -> entities -> values); the parser and the
# constructor recurse once per level, so this also keeps far from Python's recursion limit
MAX_DEPTH = 100
# nodes that aliases (``*name``, ``<<: *name``) may add to a file, counted as if expanded
MAX_ALIAS_EXPANSION = 100_000


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
    """SafeLoader with the YAML 1.2 core schema, duplicate-key errors, line tracking and the
    nesting and alias-expansion bounds."""

    file_name = ""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._expanded = 0  # nodes added by aliases so far
        self._sizes: dict[int, int] = {}  # id(node) -> nodes in it, aliases expanded
        self._open: set[str] = set()  # anchors of the nodes being composed

    def _limit(self, message: str, mark: Any) -> YamlError:
        return YamlError(message, Location(self.file_name, mark.line + 1))

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            if event.anchor in self._open:
                raise self._limit(f"alias *{event.anchor} refers to itself", event.start_mark)
            node = super().compose_node(parent, index)
            self._expanded += self._size(node) if node is not None else 0
            if self._expanded > MAX_ALIAS_EXPANSION:
                raise self._limit(
                    f"anchors and aliases expand to more than {MAX_ALIAS_EXPANSION} nodes "
                    f"(at *{event.anchor}); refusing to build it",
                    event.start_mark,
                )
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise self._limit(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._open.add(anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            self._open.discard(anchor)
        return node

    def _size(self, node: Node) -> int:
        """Nodes in ``node`` with every alias in it expanded (memoised: aliases share nodes)."""
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        size = 1
        if isinstance(node, SequenceNode):
            size += sum(self._size(item) for item in node.value)
        elif isinstance(node, MappingNode):
            size += sum(self._size(k) + self._size(v) for k, v in node.value)
        self._sizes[id(node)] = size
        return size


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


def json_problem(exc: ValueError | RecursionError) -> str:
    """What is wrong with JSON that ``json.loads`` refused (or recursed too deep into)."""
    return exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"


def load_json_text(text: str, file: str = "<string>") -> Any:
    """Parse a bot's JSON file; raise :class:`YamlError` with file:line on any problem
    (nesting deeper than the decoder's recursion limit included)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise YamlError(f"invalid JSON: {exc.msg}", Location(file, exc.lineno)) from None
    except RecursionError:
        raise YamlError("invalid JSON: nested too deeply", Location(file, 1)) from None


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
