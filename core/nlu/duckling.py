"""Rasa's DucklingEntityExtractor with a ``url``: entities from a Duckling server.

Speaks to Duckling as Rasa does (rasa/nlu/extractors/duckling_entity_extractor.py): POST
``{url}/parse`` with the form fields ``text``, ``locale`` (config ``locale``, else
``<language>_<LANGUAGE>``), ``tz`` (config ``timezone``; left out when unset, so Duckling uses
its own), ``dims`` (the JSON list of config ``dimensions``, ``null`` for all) and ``reftime``
(milliseconds since the epoch). ``RASA_DUCKLING_HTTP_URL`` in the environment overrides the
url, as in Rasa. Each match becomes an entity as Rasa writes it; an interval time's value is
``{"from": ..., "to": ...}``.

NLU parsing runs on the pipeline's own thread, so a blocking client bounded by ``timeout``
(seconds, Rasa's default 3) is right here. A server that is down, slow or answers nonsense
is logged once per outage (not once per message) and is not asked again for
:data:`RETRY_AFTER` seconds; meanwhile the ``fallback`` extractor (chinwag's built-ins, in the
bot's language) answers, so a Rasa bot whose config names ``url: http://localhost:8000`` still
understands numbers and dates when no Duckling runs. Rasa gives no entities then; pass no
fallback for that.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any, Protocol

logger = logging.getLogger(__name__)

EXTRACTOR = "DucklingEntityExtractor"
URL_ENV = "RASA_DUCKLING_HTTP_URL"
DEFAULT_TIMEOUT = 3.0
MAX_RESPONSE_BYTES = 1 << 20  # a Duckling answer for a capped text is a few kilobytes
RETRY_AFTER = 30.0  # seconds a server that failed is left alone


class Extractor(Protocol):
    def extract(self, text: str) -> list[dict[str, Any]]: ...


def duckling_locale(language: str, locale: str | None = None) -> str:
    """Rasa's locale: the configured one, else ``de`` -> ``de_DE``."""
    if locale:
        return locale
    lang = language.split("_")[0].split("-")[0].lower()
    return f"{lang}_{lang.upper()}"


def _value(match: dict[str, Any]) -> Any:
    value = match.get("value") or {}
    if value.get("type") == "interval":
        return {
            "to": (value.get("to") or {}).get("value"),
            "from": (value.get("from") or {}).get("value"),
        }
    return value.get("value")


def _entity(match: Any, text_length: int) -> dict[str, Any] | None:
    """A Duckling match as Rasa's entity; None when it is not one (a broken server)."""
    if not isinstance(match, dict) or not isinstance(match.get("value"), dict):
        return None
    start, end, dim = match.get("start"), match.get("end"), match.get("dim")
    if not (isinstance(start, int) and isinstance(end, int) and isinstance(dim, str)):
        return None
    if not 0 <= start < end <= text_length:
        return None
    return {
        "entity": dim,
        "start": start,
        "end": end,
        "text": match.get("body", match.get("text")),
        "value": _value(match),
        "confidence": 1.0,
        "additional_info": match["value"],
        "extractor": EXTRACTOR,
    }


class DucklingHTTPExtractor:
    """Entities from the Duckling server at ``url``."""

    name = EXTRACTOR

    def __init__(
        self,
        url: str,
        dimensions: list[str] | None = None,
        *,
        language: str = "en",
        locale: str | None = None,
        timezone: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        now: Callable[[], float] | None = None,
        fallback: Extractor | None = None,
    ) -> None:
        self.url = url
        self.dimensions = list(dimensions) if dimensions else None
        self.locale = duckling_locale(language, locale)
        self.timezone = timezone
        self.timeout = timeout
        self._now = now or time.time
        self.fallback = fallback
        self._down = False  # log an outage once, and its end
        self._retry_at = 0.0  # time.monotonic() before which the server is not asked

    def _parse_url(self) -> str:
        base = os.environ.get(URL_ENV) or self.url
        return base.rstrip("/") + "/parse"

    def payload(self, text: str) -> dict[str, str]:
        fields = {
            "text": text,
            "locale": self.locale,
            "dims": json.dumps(self.dimensions),
            "reftime": str(int(self._now()) * 1000),
        }
        if self.timezone:
            fields["tz"] = self.timezone
        return fields

    def _post(self, text: str) -> Any:
        url = self._parse_url()
        request = urllib.request.Request(
            url,
            data=urllib.parse.urlencode(self.payload(text)).encode("utf-8"),
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return json.loads(response.read(MAX_RESPONSE_BYTES + 1)[:MAX_RESPONSE_BYTES])

    def _unavailable(self, text: str) -> list[dict[str, Any]]:
        return self.fallback.extract(text) if self.fallback is not None else []

    def extract(self, text: str) -> list[dict[str, Any]]:
        if self._down and time.monotonic() < self._retry_at:
            return self._unavailable(text)
        try:
            matches = self._post(text)
        except (OSError, ValueError) as exc:  # refused, timed out, HTTP error, not JSON
            if not self._down:
                instead = "chinwag's built-in extractor" if self.fallback else "no entities"
                logger.error(
                    "Duckling at %s did not answer (%s): %s until it does (asked again every "
                    "%.0f s). Is the server running (https://github.com/facebook/duckling"
                    "#quickstart)?",
                    self._parse_url(),
                    exc,
                    instead,
                    RETRY_AFTER,
                )
            self._down = True
            self._retry_at = time.monotonic() + RETRY_AFTER
            return self._unavailable(text)
        if self._down:
            logger.warning("Duckling at %s answers again", self._parse_url())
            self._down = False
        if not isinstance(matches, list):
            return []
        entities = [e for e in (_entity(m, len(text)) for m in matches) if e is not None]
        if self.dimensions is not None:
            entities = [e for e in entities if e["entity"] in self.dimensions]
        return entities
