"""What NLU reads of a message: valid Unicode, and at most ``max_chars`` of it.

Messages come from the internet. A lone surrogate (``"\\ud800"``, valid in JSON's ``\\u``
escapes, not in UTF-8) cannot be encoded for the CRF, the policies or a MongoDB store, so it
becomes U+FFFD, one character for one (entity offsets stay right). NLU's cost grows with the
text, so it reads only the first :data:`DEFAULT_MAX_CHARS` characters (config.yml
``nlu_max_chars``); the conversation still stores the whole message.
"""

from __future__ import annotations

import re
from typing import Any

# far beyond any chat message Rasa bots are trained on, and parsed in a few milliseconds
DEFAULT_MAX_CHARS = 2000
_SURROGATE = re.compile("[\ud800-\udfff]")


def scrub(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings (keys too) replaced by U+FFFD
    (a structure nested beyond Python's recursion limit is left as it is)."""
    try:
        return _scrub(value)
    except RecursionError:
        return value


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def nlu_view(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """The part of ``text`` NLU reads: its first ``max_chars`` characters, surrogates scrubbed."""
    return scrub(text[:max_chars]) if max_chars > 0 else scrub(text)
