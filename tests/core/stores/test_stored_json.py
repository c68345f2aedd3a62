"""JSONText: the text its encoder gives (the stores' JSON of an event; ``json.dumps``),
also right after an encoding that failed; ``storable``: what reading every event back gave."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chinwag.core.events import EVENT_TYPES, Event, event_from_dict
from chinwag.core.stores.base import (
    StoredForm,
    UnstorableEvent,
    dumps,
    json_value,
    storable,
    stored_json,
)
from tests.core.test_events import ENTITY, FIELDS, NUMBER, OBJECT, TEXT, mostly

REFERENCE = json.JSONEncoder(ensure_ascii=False, allow_nan=False)

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


@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_the_same_text_as_the_reference_encoder(data: dict[str, Any]) -> None:
    assert stored_json(data) == REFERENCE.encode(data)
    assert dumps(data) == json.dumps(data)


@given(st.floats() | st.text())
def test_top_level_values_and_json_dumps_extensions(value: Any) -> None:
    assert dumps(value) == json.dumps(value)  # NaN and infinities as json.dumps writes them


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
        assert stored_json._markers == {}
        # the same objects again, fine this time: no false circular reference
        assert stored_json({"first": shared, "again": shared}) == REFERENCE.encode(
            {"first": shared, "again": shared}
        )


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


def outcome(check: Callable[[], StoredForm]) -> tuple[Any, ...]:
    try:
        form = check()
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
        return ("value", parse(text))
    except Exception as exc:
        return (type(exc), str(exc))


@settings(max_examples=500, deadline=None)
@given(
    st.text(max_size=20)
    | st.builds(
        lambda before, value, after: before + json.dumps(value) + after,
        st.sampled_from(["", " ", "\n", "\ufeff", "x", "["]),
        json_values,
        st.sampled_from(["", " ", "\t\n", "x", ",1", "]", "}"]),
    )
)
def test_json_value_is_json_loads(text: str) -> None:
    """A stored row's JSON: the same value as json.loads, or its very error (blanks, a BOM,
    extra data, an unterminated or nested-missing value: json.loads itself decides)."""
    assert loads_outcome(json_value, text) == loads_outcome(json.loads, text)
