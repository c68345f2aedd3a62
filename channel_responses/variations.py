"""Pick one variation of a response for a channel and the conversation's slots, then fill it.

The choice is Rasa 3.6's ``ResponseVariationFilter`` (rasa/core/nlg/generator.py) used by the
``TemplatedNaturalLanguageGenerator`` (rasa/core/nlg/response.py): among a response's
variations, the first non-empty group wins, and one variation of that group is drawn at random:

1. variations with a ``condition`` that matches the slots, for this channel;
2. variations without a condition, for this channel;
3. variations with a matching ``condition`` and no channel;
4. variations with neither channel nor condition.

A condition is a list of ``{type: slot, name, value}``; it matches when every named slot has
that value (strings compared case-insensitively, as Rasa does).

Filling replaces ``{name}`` with the value of the slot (or keyword argument) ``name`` as plain
text. Unlike Rasa's ``str.format``-based interpolator nothing is ever evaluated: ``{0}`` and
``{slot.__class__}`` stay as written, as does any placeholder that names no slot; a value that
itself contains ``{other}`` is not expanded again. ``{{`` and ``}}`` are Rasa's (``str.format``'s)
escapes for literal braces, so ``{{name}}`` gives ``{name}`` and a button payload written
``/inform{{"cuisine": "{cuisine}"}}`` gives ``/inform{"cuisine": "thai"}``. An empty slot fills
in as ``None``, as in Rasa.
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Mapping
from typing import Any

from chinwag.core.domain import Domain
from chinwag.core.tracker import Tracker

# the keys Rasa interpolates (RESPONSE_KEYS_TO_INTERPOLATE); nested strings are filled too
FILLED_KEYS = ("text", "image", "custom", "buttons", "attachment", "quick_replies")
# every generated response carries these keys (None when the variation has no such part)
RESPONSE_KEYS = ("text", "buttons", "image", "custom", "quick_replies", "attachment", "elements")
# selection keys: they say when a variation applies, not what it says
SELECTION_KEYS = ("channel", "condition")

# an escaped brace, or a placeholder ``{name}`` (names hold no newline and no brace)
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^\n{}]+)\}")


class ResponseGenerator:
    """Generates a response dict from the domain's responses (Rasa's templated NLG)."""

    def __init__(self, domain: Domain, rng: random.Random | None = None) -> None:
        self.domain = domain
        self.rng = rng if rng is not None else random.Random()

    def generate(
        self, name: str, tracker: Tracker, channel: str | None, /, **kwargs: Any
    ) -> dict[str, Any] | None:
        """A filled response for ``name`` on ``channel``; None if the domain has no such response.

        Keyword arguments fill placeholders too and win over slots of the same name.
        """
        variation = self.choose(name, tracker.slots, channel)
        if variation is None:
            return None
        return fill_response(name, variation, {**tracker.slots, **kwargs})

    def choose(
        self, name: str, slots: Mapping[str, Any], channel: str | None
    ) -> dict[str, Any] | None:
        """The variation of ``name`` to use (drawn with the generator's rng), unfilled."""
        candidates = suitable_variations(self.domain.responses.get(name, []), slots, channel)
        if not candidates:
            return None
        return self.rng.choice(candidates)


def suitable_variations(
    variations: list[dict[str, Any]], slots: Mapping[str, Any], channel: str | None
) -> list[dict[str, Any]]:
    """The best group of variations for these slots and this channel (see the module doc)."""
    default = [v for v in variations if not v.get("condition")]
    conditional = [v for v in variations if v.get("condition") and matches_condition(v, slots)]
    groups = (
        [v for v in conditional if channel is not None and v.get("channel") == channel],
        [v for v in default if channel is not None and v.get("channel") == channel],
        [v for v in conditional if v.get("channel") is None],
        [v for v in default if v.get("channel") is None],
    )
    return next((group for group in groups if group), [])


def matches_condition(variation: Mapping[str, Any], slots: Mapping[str, Any]) -> bool:
    """Whether every ``{type: slot, name, value}`` of the variation's condition holds."""
    for constraint in variation.get("condition") or []:
        actual, wanted = slots.get(constraint.get("name")), constraint.get("value")
        if isinstance(actual, str) and isinstance(wanted, str):
            if actual.casefold() != wanted.casefold():
                return False
        elif actual != wanted:
            return False
    return True


def fill_response(
    name: str, variation: Mapping[str, Any], values: Mapping[str, Any]
) -> dict[str, Any]:
    """A new response dict for ``variation`` with its placeholders filled from ``values``.

    It has every key of :data:`RESPONSE_KEYS` plus ``response`` (the response's name); the
    variation's other keys (``id``, ``metadata``, ``button_type``...) are kept and the
    selection keys ``channel`` and ``condition`` dropped.
    """
    out: dict[str, Any] = dict.fromkeys(RESPONSE_KEYS)
    for key, value in variation.items():
        if key in SELECTION_KEYS:
            continue
        out[key] = fill(value, values) if key in FILLED_KEYS else copy.deepcopy(value)
    out["response"] = name
    return out


def fill(value: Any, values: Mapping[str, Any]) -> Any:
    """``value`` with placeholders filled in every string it holds (dicts and lists walked)."""
    if isinstance(value, str):
        return fill_text(value, values)
    if isinstance(value, dict):
        return {key: fill(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, values) for item in value]
    return value


def fill_text(text: str, values: Mapping[str, Any]) -> str:
    """Replace each ``{name}`` whose name is in ``values`` by ``str(value)``, in one pass."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)[0]  # "{{" or "}}"
        return str(values[name]) if name in values else match.group(0)

    return _PLACEHOLDER.sub(replace, text)
