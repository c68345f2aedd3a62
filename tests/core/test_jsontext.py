"""core/jsontext.py: the hub's JSON (orjson where it writes and reads the very same values,
the standard library where it would not): ``stored_json`` reads back as its data, ``dumps`` and
``json_copy`` as ``json.dumps`` does, ``json_value`` is ``json.loads``; ``JSONText`` gives its
encoder's text, also right after an encoding that failed; ``storable``: what reading every
event back gave."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import math
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chinwag.core.events import EVENT_TYPES, Event, event_from_dict
from chinwag.core.jsontext import (
    JSONText,
    _strict_json,
    dumps,
    json_copy,
    json_value,
    stored_json,
)
from chinwag.core.stores.base import StoredForm, UnstorableEvent, storable
from tests.core.test_events import ENTITY, FIELDS, NUMBER, OBJECT, TEXT, mostly

REFERENCE = json.JSONEncoder(ensure_ascii=False, allow_nan=False)


class Colour(enum.Enum):
    RED = "red"


json_values = st.recursive(
    st.none()
    | st.sampled_from(["\u00e9t\u00e9", "\U0001f600", "\ud800"])
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


DEEP = nested(300)  # past orjson's limit, within the standard library's


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all through (1 is not 1.0 nor True; NaN is NaN)."""
    return repr(a) == repr(b)


@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_stored_json_reads_back_as_its_data(data: dict[str, Any]) -> None:
    text = stored_json(data)
    assert same(json.loads(text), data)
    assert same(json.loads(text), json.loads(REFERENCE.encode(data)))


def test_stored_texts_are_compact_on_both_paths() -> None:
    assert stored_json({"a": 1, "b": [1.5, None]}) == '{"a":1,"b":[1.5,null]}'  # orjson's
    assert stored_json({"a": (1,), "b": 2**70}) == '{"a":[1],"b":1180591620717411303424}'


@given(st.dictionaries(st.text(), json_values, max_size=6) | json_values)
def test_dumps_and_json_copy_read_back_as_json_dumps(value: Any) -> None:
    assert same(json.loads(dumps(value)), json.loads(json.dumps(value)))
    assert same(json_copy(value), json.loads(json.dumps(value)))


@pytest.mark.parametrize(
    "value",
    [
        math.nan,
        {"x": [math.inf, -math.inf, 1.5]},
        (1, [2, (3,)]),
        {1: "a", False: "b", None: "c", 2.5: "d"},
        {"big": 2**64, "bigger": -(2**70), "low": -(2**63) - 1, "edge": 2**63 - 1},
        {"surrogate": "\ud800"},
        DEEP,
    ],
)
def test_what_orjson_would_write_differently_is_written_as_json_dumps_does(value: Any) -> None:
    assert same(json.loads(dumps(value)), json.loads(json.dumps(value)))
    assert same(json_copy(value), json.loads(json.dumps(value)))


def test_json_copy_makes_new_objects() -> None:
    value = {"events": [{"event": "slot", "value": [1, 2]}]}
    copy = json_copy(value)
    assert copy == value and copy is not value
    assert copy["events"][0]["value"] is not value["events"][0]["value"]


@pytest.mark.parametrize(
    "bad, error",
    [
        ({"value": math.nan}, "Out of range float values are not JSON compliant"),
        ({"value": [1, -math.inf]}, "Out of range float values are not JSON compliant"),
        ({"when": datetime.datetime(2026, 12, 7)}, "is not JSON serializable"),
        ({"id": uuid.UUID(int=7)}, "is not JSON serializable"),
        ({"colour": Colour.RED}, "is not JSON serializable"),
        ({"set": {1, 2}}, "is not JSON serializable"),
    ],
)
def test_stored_json_refuses_what_is_not_json_as_the_standard_library_does(
    bad: dict[str, Any], error: str
) -> None:
    with pytest.raises((ValueError, TypeError), match=error):
        stored_json(bad)
    with pytest.raises((ValueError, TypeError), match=error):
        REFERENCE.encode(bad)


@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers())
def test_numbers_are_read_as_json_loads_reads_them(number: float) -> None:
    for text in (repr(number), json.dumps([number]), stored_json({"n": number})):
        assert same(json_value(text), json.loads(text))


@pytest.mark.parametrize(
    "text",
    [
        "-9223372036854775808",  # the 64-bit edges, which orjson reads as integers
        "18446744073709551615",
        "-9223372036854775809",  # past them, which it would read as floats
        "18446744073709551616",
        '{"id": 123456789012345678901234567890}',
        "[NaN, Infinity, -Infinity, 1e400]",
        '"\\ud800"',
        '{"a": 1, "a": 2}',
    ],
)
def test_json_value_reads_the_edges_as_json_loads(text: str) -> None:
    assert same(json_value(text), json.loads(text))


def test_a_failed_encoding_leaves_nothing_behind() -> None:
    circular: list[Any] = []
    circular.append(circular)
    shared = {"x": 1}
    for bad, error in (
        ({"value": circular}, "Circular reference"),
        ({"value": math.nan}, "not JSON compliant"),
        ({"value": {1, 2}}, "not JSON serializable"),
    ):
        with pytest.raises((ValueError, TypeError)) as exc:
            stored_json({"first": shared, **bad})
        assert error in str(exc.value)
        assert _strict_json._markers == {}
        # the same objects again, fine this time: no false circular reference
        assert same(
            json.loads(_strict_json({"first": shared, "again": shared})),
            {"first": shared, "again": shared},
        )


def test_json_text_is_its_encoders_text() -> None:
    encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False)
    data = {"é": [1, 2.5, None, True, "x\n"], "n": {"m": []}}
    assert JSONText(encoder)(data) == encoder.encode(data)


def read_back_storable(seq: int, event: Event) -> StoredForm:
    """``storable`` as it was before the read-back was skipped for events known to parse:
    every event serialized, then parsed back."""
    try:
        data = event.to_dict()
        text = REFERENCE.encode(data)
        text.encode("utf-8")
        event_from_dict(data)
    except (TypeError, ValueError, RecursionError) as exc:
        raise UnstorableEvent(
            f"conversation 'c' event {seq} ('{event.type_name}') cannot be stored: {exc}"
        ) from exc
    return StoredForm(data, text)


def parsed_text(form: StoredForm) -> StoredForm:
    """``form`` with its text as the value it reads back as (the two encoders' texts differ
    in their blanks and float spellings)."""
    return StoredForm(form.data, repr(json.loads(form.text)))


def outcome(check: Callable[[], StoredForm]) -> tuple[Any, ...]:
    try:
        form = parsed_text(check())
    except Exception as exc:  # the error and its message, the uncaught ones included
        return (type(exc), str(exc))
    return (form.data, form.text)


ANY = mostly(TEXT | NUMBER | OBJECT | st.lists(TEXT | mostly(ENTITY), max_size=2) | st.floats())
# each event field by name (the JSON key it is written under may differ), else ANY
BY_FIELD = {
    **FIELDS,
    "key": TEXT,
    "action_name": TEXT,
    "intent": OBJECT | TEXT,
    "entities": FIELDS["entities"],
    "kill_on_user_message": FIELDS["kill_on_user_msg"],
}


@st.composite
def events(draw: st.DrawFn) -> Event:
    """Any event type, its fields mostly well typed, sometimes not (what an action returns)."""
    cls = draw(st.sampled_from(EVENT_TYPES))
    kwargs = {
        f.name: draw(BY_FIELD.get(f.name, ANY))
        for f in dataclasses.fields(cls)
        if f.init and f.name not in ("trigger_date_time",) and draw(st.booleans())
    }
    if cls.type_name == "reminder":
        kwargs["trigger_date_time"] = draw(st.datetimes())
    try:
        return cls(**kwargs)
    except Exception:  # required fields missing, or refused by the class itself
        assume(False)
        raise


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events(), st.integers(0, 3))
def test_storable_stores_and_refuses_what_reading_every_event_back_did(
    event: Event, seq: int
) -> None:
    """Same stored data and text, or the same error with the same message (an uncaught one,
    such as float() of a huge integer, included), for every event type."""
    assert outcome(lambda: storable("c", seq, event)) == outcome(
        lambda: read_back_storable(seq, event)
    )


def loads_outcome(parse: Callable[[str], Any], text: str) -> tuple[Any, ...]:
    try:
        return ("value", repr(parse(text)))
    except Exception as exc:
        return (type(exc), str(exc))


@settings(max_examples=500, deadline=None)
@given(
    st.text(max_size=20)
    | st.builds(
        lambda before, value, after: before + json.dumps(value) + after,
        st.sampled_from(["", " ", "\n", "\ufeff", "x", "["]),
        json_values | st.floats() | st.integers(min_value=2**60),
        st.sampled_from(["", " ", "\t\n", "x", ",1", "]", "}"]),
    )
)
def test_json_value_is_json_loads(text: str) -> None:
    """A stored row's JSON: the same value as json.loads, or its very error (blanks, a BOM,
    extra data, an unterminated or nested-missing value: json.loads itself decides)."""
    assert loads_outcome(json_value, text) == loads_outcome(json.loads, text)
