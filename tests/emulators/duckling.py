"""A fake Duckling server (``POST /parse``) answering as Duckling's documented HTTP API does.

Duckling (https://github.com/facebook/duckling, exe/ExampleMain.hs) reads the form fields
``text``, ``locale`` (or ``lang``), ``dims`` (a JSON list; absent or ``null`` for all), ``tz``
(default America/Los_Angeles) and ``reftime`` (milliseconds since the epoch), and answers a
JSON list of ``{"body", "start", "end", "dim", "latent", "value"}``. This fake knows a handful
of German and English phrases per dimension (time, number, amount-of-money, distance, email),
resolves times against ``reftime`` in ``tz`` as Duckling does, and refuses what Duckling
refuses (no ``text``: 422, an unknown locale's language: 422). ``serve_in_thread`` runs it on
its own event loop, for synchronous callers such as ``chinwag test``.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from tests.emulators import Call, FakeServer

DEFAULT_TZ = "America/Los_Angeles"
Resolver = Callable[[re.Match[str], datetime], dict[str, Any]]

_DE_WEEKDAYS = ["montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonntag"]
_EN_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_DE_NUMBERS = {"zweiundzwanzig": 22, "drei": 3, "zwölf": 12, "hundert": 100}
_EN_NUMBERS = {"twenty two": 22, "three": 3, "twelve": 12, "a hundred": 100}


def _time(moment: datetime, grain: str) -> dict[str, Any]:
    iso = moment.isoformat(timespec="milliseconds")
    value = {"value": iso, "grain": grain, "type": "value"}
    return {**value, "values": [dict(value)]}


def _next_weekday(names: list[str]) -> Resolver:
    def resolve(m: re.Match[str], now: datetime) -> dict[str, Any]:
        ahead = (names.index(m.group("day").lower()) - now.weekday()) % 7 or 7
        day = (now + timedelta(days=ahead)).replace(hour=0, minute=0, second=0, microsecond=0)
        if m.group("hour"):
            return _time(day.replace(hour=int(m.group("hour"))), "hour")
        return _time(day, "day")

    return resolve


def _tomorrow(m: re.Match[str], now: datetime) -> dict[str, Any]:
    day = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return _time(day, "day")


def _number(table: dict[str, int]) -> Resolver:
    def resolve(m: re.Match[str], now: datetime) -> dict[str, Any]:
        raw = m.group(0).lower()
        value = table[raw] if raw in table else int(raw)
        return {"value": value, "type": "value"}

    return resolve


def _unit(unit: str) -> Resolver:
    def resolve(m: re.Match[str], now: datetime) -> dict[str, Any]:
        return {"value": int(m.group("n")), "type": "value", "unit": unit}

    return resolve


def _email(m: re.Match[str], now: datetime) -> dict[str, Any]:
    return {"value": m.group(0)}


_EMAIL = (r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", _email)
# language -> dimension -> (pattern, resolver); longer phrases first, as Duckling prefers them
PHRASES: dict[str, dict[str, list[tuple[str, Resolver]]]] = {
    "de": {
        "time": [
            (
                rf"(?:am\s+)?nächsten\s+(?P<day>{'|'.join(_DE_WEEKDAYS)})"
                r"(?:\s+um\s+(?P<hour>\d{1,2})\s+Uhr)?",
                _next_weekday(_DE_WEEKDAYS),
            ),
            (r"morgen", _tomorrow),
        ],
        "amount-of-money": [(r"(?P<n>\d+)\s*(?:Euro|€)", _unit("EUR"))],
        "distance": [(r"(?P<n>\d+)\s*(?:Kilometer|km)", _unit("kilometre"))],
        "number": [(r"\d+|" + "|".join(_DE_NUMBERS), _number(_DE_NUMBERS))],
        "email": [_EMAIL],
    },
    "en": {
        "time": [
            (
                rf"next\s+(?P<day>{'|'.join(_EN_WEEKDAYS)})(?:\s+at\s+(?P<hour>\d{{1,2}}))?",
                _next_weekday(_EN_WEEKDAYS),
            ),
            (r"tomorrow", _tomorrow),
        ],
        "amount-of-money": [(r"(?P<n>\d+)\s*(?:euros?|€)", _unit("EUR"))],
        "distance": [(r"(?P<n>\d+)\s*(?:kilometers?|km)", _unit("kilometre"))],
        "number": [(r"\d+|" + "|".join(_EN_NUMBERS), _number(_EN_NUMBERS))],
        "email": [_EMAIL],
    },
}


def parse(text: str, language: str, dims: list[str] | None, now: datetime) -> list[dict[str, Any]]:
    """Duckling's answer for ``text``: the longest non-overlapping matches of ``dims``."""
    found: list[dict[str, Any]] = []
    for dim, rules in PHRASES[language].items():
        if dims is not None and dim not in dims:
            continue
        for pattern, resolve in rules:
            for m in re.finditer(rf"(?<!\w)(?:{pattern})(?!\w)", text, re.IGNORECASE):
                found.append(
                    {
                        "body": m.group(0),
                        "start": m.start(),
                        "end": m.end(),
                        "dim": dim,
                        "latent": False,
                        "value": resolve(m, now),
                    }
                )
    found.sort(key=lambda e: (e["start"] - e["end"], e["start"]))
    kept: list[dict[str, Any]] = []
    for entity in found:
        if all(entity["end"] <= k["start"] or k["end"] <= entity["start"] for k in kept):
            kept.append(entity)
    return sorted(kept, key=lambda e: e["start"])


class FakeDuckling(FakeServer):
    """``POST /parse`` as Duckling serves it; every request is recorded as a ``parse`` call."""

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/parse", self._parse)
        return app

    async def _parse(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        await self.record(Call("parse", dict(request.headers), form))
        if "text" not in form:
            return web.Response(status=422, text="Need a 'text' parameter to parse")
        locale = form.get("locale") or form.get("lang") or "en_US"
        language = locale.split("_")[0].lower()
        if language not in PHRASES:
            return web.Response(status=422, text=f"Unsupported locale: {locale}")
        dims_raw = json.loads(form.get("dims") or "null")
        tz = ZoneInfo(form.get("tz") or DEFAULT_TZ)
        reftime = form.get("reftime")
        now = datetime.fromtimestamp(int(reftime) / 1000, tz) if reftime else datetime.now(tz)
        return web.json_response(parse(form["text"], language, dims_raw, now))


@contextmanager
def serve_in_thread() -> Iterator[FakeDuckling]:
    """A :class:`FakeDuckling` on its own event loop in a thread, stopped on exit."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = FakeDuckling()
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=10)
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
