"""parse_json on a request body's bytes (orjson reads the usual body) gives what it gives on
the body's text (the standard library's bounded decoder): the same value, or the same 400
with the same words, for every body."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chinwag.adapters.hub import MAX_JSON_DEPTH, HubError, parse_json
from tests.core.test_jsontext import json_values as values


def outcome(body: bytes | str) -> tuple[Any, ...]:
    try:
        return ("value", repr(parse_json(body)))
    except HubError as exc:
        return (exc.status, exc.message, exc.detail)


def on_text(body: bytes) -> tuple[Any, ...]:
    """What the text path says of ``body``: its own reading once the bytes are text."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return (400, "malformed JSON", "the body is not UTF-8 text")
    return outcome(text)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@settings(max_examples=400, deadline=None)
@given(
    values.map(lambda v: json.dumps(v).encode())
    | st.builds(
        lambda before, value, after: (before + json.dumps(value) + after).encode(),
        st.sampled_from(["", " ", "\ufeff", "x"]),
        values,
        st.sampled_from(["", "\n", ",", "]"]),
    )
    | st.binary(max_size=12)
)
def test_bytes_and_text_read_alike(body: bytes) -> None:
    assert outcome(body) == on_text(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"sender": "u", "message": "hi"}',
        b'{"n": 12345678901234567890123}',  # past 64 bits: an exact integer, never a float
        b'{"n": -9223372036854775809}',
        b'{"n": 1' + b"0" * 5000 + b"}",  # past the digits allowed
        b'{"n": NaN}',
        b'{"n": Infinity}',
        b'{"n": 1e400}',
        b'{"s": "\\ud800"}',
        b'{"a": 1, "a": 2}',
        b"\xff\xfe",
        b"\xef\xbb\xbf{}",
        b"   ",
        b"",
        nested(MAX_JSON_DEPTH).encode(),
        nested(MAX_JSON_DEPTH + 1).encode(),
        nested(2000).encode(),
    ],
)
def test_the_edges_read_alike(body: bytes) -> None:
    assert outcome(body) == on_text(body)
