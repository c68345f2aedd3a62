"""Turning a user's text into parse data (intent, entities, ranking) in Rasa's shape.

Two understandings live here:

* ``/intent{"entity": "value"}`` payloads (what buttons send) are parsed directly and always
  bypass NLU, with Rasa's syntax (``/intent@0.8{...}`` sets the confidence).
* :class:`ExampleInterpreter` serves until a trained NLU model exists: a message that matches a
  training example (case- and whitespace-insensitive, annotated entity spans acting as
  wildcards) gets that example's intent and entities; anything else is ``nlu_fallback``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Protocol

from chinwag.core.data.training import Entity, Message, NLUData

PAYLOAD = re.compile(
    r"^/(?P<intent>[^{@\s]+)(?:@(?P<confidence>[0-9.]+))?(?P<entities>\{.*\})?\s*$"
)
FALLBACK_INTENT = "nlu_fallback"


class PayloadError(ValueError):
    """A ``/intent{...}`` payload whose entity JSON is malformed."""


def parse_payload(text: str) -> dict[str, Any] | None:
    """Parse data for a ``/intent{...}`` payload, or None when ``text`` is not one."""
    match = PAYLOAD.match(text.strip())
    if not match:
        return None
    intent = match.group("intent")
    try:
        confidence = float(match.group("confidence") or 1.0)
    except ValueError:
        raise PayloadError(f"payload '{_short(text)}' has a malformed @confidence") from None
    entities: list[dict[str, Any]] = []
    raw = match.group("entities")
    if raw:
        try:
            values = json.loads(raw, parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc) or "too deep"
            raise PayloadError(
                f"entities of payload '{_short(text)}' are not valid JSON: {why}"
            ) from None
        for name, value in values.items():
            for item in value if isinstance(value, list) else [value]:
                entities.append({"entity": name, "value": item, "start": 0, "end": len(text)})
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": intent, "confidence": confidence}],
        "entities": entities,
    }


def intent_payload(name: Any, entities: Any = None) -> str:
    """The ``/intent{...}`` text for Rasa's trigger_intent body (``name``, and ``entities`` as
    ``{entity: value}`` or ``[{entity, value}]``); :class:`PayloadError` names the field that
    is wrong, so nothing malformed reaches a conversation."""
    if not isinstance(name, str) or not name or not re.fullmatch(r"[^{@\s/]+", name):
        raise PayloadError(f"name: expected an intent name, got {json.dumps(name)[:80]}")
    if entities is None:
        entities = {}
    if isinstance(entities, list):
        values: dict[str, list[Any]] = {}
        for i, entity in enumerate(entities):
            if not isinstance(entity, dict) or not isinstance(entity.get("entity"), str):
                raise PayloadError(
                    f"entities[{i}]: expected an object with 'entity' (text) and 'value'"
                )
            values.setdefault(entity["entity"], []).append(entity.get("value"))
        entities = values
    if not isinstance(entities, dict):
        raise PayloadError("entities: expected an object {entity: value} or a list")
    try:
        text = json.dumps(entities, allow_nan=False)
    except (ValueError, RecursionError):
        raise PayloadError("entities: values must be finite JSON values") from None
    return f"/{name}{text}" if entities else f"/{name}"


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class Interpreter(Protocol):
    async def parse(self, text: str) -> dict[str, Any]: ...


@dataclass
class _Pattern:
    source: str  # the regex, its entity groups named {prefix}e0, {prefix}e1, ...
    example: Message
    spans: list[Entity]  # the annotated entities, in text order, one regex group each
    literal: int  # characters of fixed text: the more, the more specific the example

    def regex_source(self, prefix: str) -> str:
        return self.source.replace("{prefix}", prefix)


# examples tried by one regex (an alternation): at most this many
PATTERNS_PER_REGEX = 100


def _normalize(text: str) -> str:
    """Whitespace folded; case is left to the patterns (they ignore it)."""
    return " ".join(text.split())


class ExampleInterpreter:
    """Exact-match understanding from the bot's own training examples (no model needed).

    Entity spans match any text, so ``[4](number) people`` understands ``12 people``. When
    several examples match, the one with the most fixed text wins; an example that is only
    an entity (``- [thai](cuisine)``) matches only values the bot knows for that entity
    (annotated, in a lookup table or a synonym), or it would match every message.
    """

    def __init__(self, nlu: NLUData) -> None:
        self._synonyms = {k.lower(): v for k, v in nlu.synonyms.items()}
        self._known: dict[str, set[str]] = {}
        for example in nlu.examples:
            for ent in example.entities:
                values = self._known.setdefault(ent.entity, set())
                values.add(str(ent.value).lower())
                if ent.start is not None and ent.end is not None:
                    values.add(example.text[ent.start : ent.end].lower())
        for name, items in nlu.lookups.items():
            self._known.setdefault(name, set()).update(i.lower() for i in items)
        for variant, value in nlu.synonyms.items():  # a synonym counts for its value's entity
            for values in self._known.values():
                if str(value).lower() in values:
                    values.add(variant.lower())
        # most fixed text first (file order among equals): the first match is the best one
        self._patterns = sorted(
            (self._compile(example) for example in nlu.examples), key=lambda p: -p.literal
        )
        # start -> the patterns from there to the end of its block as one alternation (each
        # block's made now; those from another start when an entity-only example fails)
        self._alternations: dict[int, re.Pattern[str]] = {}
        for start in range(0, len(self._patterns), PATTERNS_PER_REGEX):
            self._alternation(start)

    @staticmethod
    def _compile(example: Message) -> _Pattern:
        text = example.text
        parts: list[str] = []
        spans: list[Entity] = []
        cursor = 0
        for ent in sorted(
            (e for e in example.entities if e.start is not None and e.end is not None),
            key=lambda e: e.start or 0,
        ):
            assert ent.start is not None and ent.end is not None
            if ent.start < cursor:
                continue  # overlapping annotations: keep the first
            parts.append(re.escape(_normalize(text[cursor : ent.start])))
            parts.append(f"(?P<{{prefix}}e{len(spans)}>.+?)")
            spans.append(ent)
            cursor = ent.end
        parts.append(re.escape(_normalize(text[cursor:])))
        pattern = "".join(parts).replace(r"\ ", r"\s*")
        # (re.escape leaves no braces alone, so the only "{prefix}" is the group names')
        starts = [0, *(e.end or 0 for e in spans)]
        ends = [*(e.start or 0 for e in spans), len(text)]
        # the fixed text between entities; spaces alone are no text
        literal = sum(len(text[a:b].strip()) for a, b in zip(starts, ends, strict=True))
        return _Pattern(rf"^\s*{pattern}\s*[.!?]*\s*$", example, spans, literal)

    def _alternation(self, start: int) -> re.Pattern[str]:
        """The patterns from ``start`` to the end of its block of ``PATTERNS_PER_REGEX`` as
        one regex: each in a group named ``p<index>`` (its entities ``p<index>e0``, ...), so
        a match's ``lastgroup`` (the outermost group closes last) names the first pattern
        that matches, as trying them one by one finds it."""
        regex = self._alternations.get(start)
        if regex is None:
            end = (start // PATTERNS_PER_REGEX + 1) * PATTERNS_PER_REGEX
            regex = self._alternations[start] = re.compile(
                "|".join(
                    f"(?P<p{i}>{self._patterns[i].regex_source(f'p{i}')})"
                    for i in range(start, min(end, len(self._patterns)))
                ),
                re.IGNORECASE,
            )
        return regex

    def _first_match(self, text: str) -> tuple[_Pattern, list[dict[str, Any]]] | None:
        """The first pattern that matches ``text`` and its entities."""
        normal = _normalize(text)
        start = 0
        while start < len(self._patterns):
            match = self._alternation(start).match(normal)
            if match is None:  # none from start to the end of its block
                start = (start // PATTERNS_PER_REGEX + 1) * PATTERNS_PER_REGEX
                continue
            group = match.lastgroup or ""
            pattern = self._patterns[int(group[1:])]
            entities = self._entities(pattern, text, match, group)
            if entities is not None:
                return pattern, entities
            start = int(group[1:]) + 1  # its values are not known ones: try the next
        return None

    def _entities(
        self, pattern: _Pattern, text: str, match: re.Match[str], prefix: str
    ) -> list[dict[str, Any]] | None:
        """The entities of ``pattern`` (which ``match`` matched, its groups named with
        ``prefix``) in ``text``; None when the example is only entities and their values are
        not ones the bot knows."""
        entities: list[dict[str, Any]] = []
        for i, ent in enumerate(pattern.spans):
            raw = match.group(f"{prefix}e{i}").strip()
            if not pattern.literal and raw.lower() not in self._known.get(ent.entity, set()):
                return None
            start = text.find(raw)
            found: dict[str, Any] = {
                "entity": ent.entity,
                "value": self._synonyms.get(raw.lower(), raw),
                "start": start if start >= 0 else None,
                "end": start + len(raw) if start >= 0 else None,
            }
            if ent.role:
                found["role"] = ent.role
            if ent.group:
                found["group"] = ent.group
            entities.append(found)
        return entities

    async def parse(self, text: str) -> dict[str, Any]:
        payload = parse_payload(text)
        if payload is not None:
            return payload
        best = self._first_match(text)
        intent = best[0].example.intent if best else FALLBACK_INTENT
        return {
            "text": text,
            "intent": {"name": intent, "confidence": 1.0},
            "intent_ranking": [{"name": intent, "confidence": 1.0}],
            "entities": best[1] if best else [],
        }
