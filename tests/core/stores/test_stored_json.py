"""The stores' JSON of an event: the text ``json.JSONEncoder(ensure_ascii=False,
allow_nan=False)`` gives, also right after an encoding that failed."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chinwag.core.stores.base import _MARKERS, stored_json

REFERENCE = json.JSONEncoder(ensure_ascii=False, allow_nan=False)

json_values = st.recursive(
    st.none()
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
        assert _MARKERS == {}
        # the same objects again, fine this time: no false circular reference
        assert stored_json({"first": shared, "again": shared}) == REFERENCE.encode(
            {"first": shared, "again": shared}
        )
