"""JSONText: the text its encoder gives (the stores' JSON of an event; ``json.dumps``),
also right after an encoding that failed."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chinwag.core.stores.base import dumps, stored_json

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
