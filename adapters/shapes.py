"""Checking the shape of a platform's JSON before a platform library reads it.

slack-bolt and python-telegram-bot trust the platform: a field of the wrong type makes them
raise deep inside (a 500). The channels describe the fields they and the library read, and
:func:`check_shape` refuses anything else with one located message (``event.user: expected
text, found a list``), answered 400.

A shape is a type (``str``, ``int``, ``dict``, ``list``...; ``int`` never matches ``bool``), a
tuple of types, ``{key: shape}`` (a JSON object whose listed keys, when present and not null,
have those shapes; other keys are not looked at; ``Required(shape)`` for a key that must be
there), or ``[shape]`` (an array of that shape).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Shape = Any  # type | tuple[type, ...] | dict[str, Shape] | list[Shape]

_NAMES = {
    str: "text",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dict: "an object",
    list: "an array",
}


@dataclass(frozen=True)
class Required:
    """In an object's shape: this key must be present, not null, and have ``shape``."""

    shape: Any


class ShapeError(ValueError):
    """A value that does not have the expected shape; the message says where and what."""


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    for kind in (bool, dict, list, str, int, float):
        if isinstance(value, kind):
            return _NAMES[kind]
    return type(value).__name__


def _expected(shape: Shape) -> str:
    if isinstance(shape, dict):
        return "an object"
    if isinstance(shape, list):
        return "an array"
    if isinstance(shape, tuple):
        return " or ".join(_NAMES.get(kind, kind.__name__) for kind in shape)
    return _NAMES.get(shape, shape.__name__)


def _matches_type(value: Any, kinds: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in kinds:
        return False
    return isinstance(value, kinds)


def check_shape(value: Any, shape: Shape, where: str) -> None:
    """ShapeError naming the first place where ``value`` does not have ``shape``."""
    stack: list[tuple[Any, Shape, str]] = [(value, shape, where)]
    while stack:
        item, expected, path = stack.pop()
        if isinstance(expected, dict):
            if not isinstance(item, dict):
                raise ShapeError(f"{path}: expected an object, found {_describe(item)}")
            for key, inner in expected.items():
                if isinstance(inner, Required):
                    if item.get(key) is None:
                        raise ShapeError(f"{path}.{key}: missing")
                    inner = inner.shape
                if item.get(key) is not None:
                    stack.append((item[key], inner, f"{path}.{key}"))
        elif isinstance(expected, list):
            if not isinstance(item, list):
                raise ShapeError(f"{path}: expected an array, found {_describe(item)}")
            stack.extend((element, expected[0], f"{path}[{i}]") for i, element in enumerate(item))
        else:
            kinds = expected if isinstance(expected, tuple) else (expected,)
            if not _matches_type(item, kinds):
                raise ShapeError(f"{path}: expected {_expected(expected)}, found {_describe(item)}")
