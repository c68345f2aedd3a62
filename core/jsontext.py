"""JSON text and values as the hub reads and writes them, by orjson wherever it reads and
writes the very same values as the standard library, by the standard library where it would
not (NaN and the infinities, integers past 64 bits, tuples, keys that are not text, lone
surrogates, very deep values): the same values and the same errors as ``json`` throughout,
several times faster. A stored event's text, an in-process action's tracker and results,
the REST channel's answers and every stored event read back go through here.
"""

from __future__ import annotations

import json
import json.scanner
from json.encoder import (  # type: ignore[attr-defined]
    c_make_encoder,
    encode_basestring,
    encode_basestring_ascii,
)
from typing import Any

import orjson


class JSONText:
    """``encoder.encode(data)``, the same text, without what ``encode`` redoes on every
    call: a closure and a new C encoder (a third of its cost for an event's small dict). The
    C encoder is made once with the encoder's options; its circular-reference markers are
    emptied by every encoding that ends normally, and cleared here after one that fails."""

    __slots__ = ("_c_encoder", "_encoder", "_markers")

    def __init__(self, encoder: json.JSONEncoder) -> None:
        self._encoder = encoder
        self._markers: dict[int, Any] | None = {} if encoder.check_circular else None
        self._c_encoder = (
            None
            if c_make_encoder is None or encoder.indent is not None
            else c_make_encoder(
                self._markers,
                encoder.default,
                encode_basestring_ascii if encoder.ensure_ascii else encode_basestring,
                None,
                encoder.key_separator,
                encoder.item_separator,
                encoder.sort_keys,
                encoder.skipkeys,
                encoder.allow_nan,
            )
        )

    def __call__(self, data: Any) -> str:
        if self._c_encoder is None:  # a Python without the C accelerator
            return self._encoder.encode(data)
        try:
            return "".join(self._c_encoder(data, 0))
        except BaseException:
            if self._markers:
                self._markers.clear()  # what the failed encoding left
            raise


# The standard library's encoders, for what orjson would write differently (below): the
# stores' (compact, as orjson's; no NaN or infinities: they are not JSON) and json.dumps's
_strict_json = JSONText(
    json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
)
_lenient_json = JSONText(json.JSONEncoder())
# types orjson would write and the standard library refuses: raised on, as unknown types are
_ORJSON_STRICT = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def _orjson_round_trip(value: Any) -> tuple[bytes, Any] | None:
    """orjson's compact text of ``value`` and the value it reads back (new objects), when that
    is the very same value; ``None`` when it is not: NaN and the infinities (orjson writes
    them as null), tuples (read back as lists), integers past 64 bits, keys that are not
    text, a UUID or an enum (orjson writes them, the standard library refuses them), lone
    surrogates, circular or very deep values. Those go through the standard library, which
    writes them as it always has or says what is wrong."""
    try:
        text = orjson.dumps(value, option=_ORJSON_STRICT)
        copy = orjson.loads(text)
        return (text, copy) if copy == value else None
    except Exception:  # orjson's refusals, or an odd __eq__: the standard library decides
        return None


def stored_json(data: Any) -> str:
    """``data`` (JSON values) as compact JSON text that reads back as ``data`` itself; a
    ``ValueError`` or ``TypeError`` saying what is not JSON (NaN, an infinity, a circular
    reference, another type). What every store writes for an event.

    orjson writes it, several times faster than the standard library (encoding events took
    a tenth of a message's instructions), and what it wrote is read back and compared."""
    done = _orjson_round_trip(data)
    return _strict_json(data) if done is None else done[0].decode()


def dumps(value: Any) -> str:
    """JSON text that reads back as ``json.loads(json.dumps(value))``, NaN and the infinities
    written as ``json.dumps`` writes them: the REST channel's answers, and an event's text
    for an in-process action's tracker (what an action server would be sent)."""
    done = _orjson_round_trip(value)
    return _lenient_json(value) if done is None else done[0].decode()


def json_copy(value: Any) -> Any:
    """``json.loads(json.dumps(value))``, the same values as new objects (what an action
    server parses from what it is sent); the same errors for what is not JSON."""
    done = _orjson_round_trip(value)
    return json_value(_lenient_json(value)) if done is None else done[1]


# what json.loads scans with (its default decoder's scanner)
_scan_once = json.scanner.make_scanner(json.decoder.JSONDecoder())  # type: ignore[arg-type]
# digits 1-9 as 0s: nineteen 0s in a row are a number of 19 digits or more, which may be an
# integer orjson reads as a float (past 64 bits: below -2**63 or above 2**64 - 1)
_DIGITS_AS_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19
NOT_READ = object()  # what orjson_value gives for a text orjson would read differently


def orjson_value(raw: bytes) -> Any:
    """The value of the UTF-8 JSON text ``raw`` as orjson reads it, when that is the value
    ``json.loads`` gives; ``NOT_READ`` when it may not be (a number of 19 digits or more:
    orjson reads an integer past 64 bits as a float) or orjson refuses the text (NaN, an
    infinity, a lone surrogate, bad UTF-8, a syntax error...): ``json.loads`` decides those,
    with its own errors."""
    if _LONG_NUMBER in raw.translate(_DIGITS_AS_ZEROS):
        return NOT_READ
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return NOT_READ


def json_value(text: str) -> Any:
    """``json.loads(text)``: the same values, the same errors.

    orjson reads it, several times faster, unless it would read it differently: a number of
    19 digits or more (orjson reads an integer past 64 bits as a float), NaN, an infinity, a
    lone surrogate or anything else it refuses. Those go through ``json.loads`` (without its
    Python layers for the text of one value without surrounding blanks, which the stores
    write)."""
    try:
        value = orjson_value(text.encode())
    except UnicodeEncodeError:  # a lone surrogate in the text itself
        value = NOT_READ
    if value is not NOT_READ:
        return value
    try:
        value, end = _scan_once(text, 0)
    except StopIteration:
        end = -1
    return value if end == len(text) else json.loads(text)
