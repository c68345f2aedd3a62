"""Built-in entities without a Duckling server: numbers, ordinals, amounts, dates and times,
emails, URLs, phone numbers, durations.

Serves where a Rasa config names DucklingEntityExtractor. Entities come out as Rasa's
DucklingEntityExtractor writes them (rasa/nlu/extractors/duckling_entity_extractor.py):
``entity`` is the Duckling dimension (``number``, ``ordinal``, ``amount-of-money``, ``time``,
``duration``, ``email``, ``url``, ``phone-number``), ``value`` is Duckling's ``value.value``
(a number, or an ISO-8601 time with milliseconds and offset), ``additional_info`` Duckling's
``value`` object, ``confidence`` 1.0. Overlapping matches resolve as Duckling does: the longest
wins, so ``$12.50`` is an amount and not also the number 12.5.

Numbers, ordinals, dates and times speak the bot's ``language``: English by the rules below,
German, French, Spanish, Italian, Portuguese and Dutch by core/nlu/builtin_languages.py
(text2num and dateparser); the other dimensions are written alike in those languages.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chinwag.core.nlu import builtin_languages

DIMENSIONS = (
    "number",
    "ordinal",
    "amount-of-money",
    "time",
    "duration",
    "email",
    "url",
    "phone-number",
)
EXTRACTOR = "DucklingEntityExtractor"
# Duckling's server resolves times in this zone when the request has no ``tz`` (exe/
# ExampleMain.hs, defaultTimeZone); Rasa sends none unless the config sets ``timezone``
DEFAULT_TIMEZONE = "America/Los_Angeles"

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}  # fmt: skip
_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
         ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
         ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
         ("december", "dec")]
    )
    for m in names
}  # fmt: skip
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_CURRENCIES = {
    "$": "$", "usd": "USD", "dollar": "$", "dollars": "$", "bucks": "$", "€": "EUR",
    "eur": "EUR", "euro": "EUR", "euros": "EUR", "£": "GBP", "gbp": "GBP", "pound": "GBP",
    "pounds": "GBP", "¥": "JPY", "yen": "JPY", "cents": "cent", "cent": "cent",
}  # fmt: skip
_DURATION_UNITS = {
    "second": "second", "seconds": "second", "sec": "second", "secs": "second",
    "minute": "minute", "minutes": "minute", "min": "minute", "mins": "minute",
    "hour": "hour", "hours": "hour", "day": "day", "days": "day", "week": "week",
    "weeks": "week", "month": "month", "months": "month", "year": "year", "years": "year",
}  # fmt: skip

_WORD_NUM = "|".join(sorted([*_UNITS, *_TENS, *_SCALES, "a", "and"], key=len, reverse=True))
_BASIC_NUM = "|".join(sorted([*_UNITS, *_TENS], key=len, reverse=True))
_SCALE_NUM = r"an?\s+(?:hundred|thousand|million|billion)"
_SPELLED = rf"(?:(?:{_BASIC_NUM}|{_SCALE_NUM})(?:[\s-]+(?:{_WORD_NUM}))*)"
_DIGITS = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
_NUMBER = re.compile(rf"(?<![\w.])-?(?:{_DIGITS})(?![\w@])|\b{_SPELLED}\b", re.IGNORECASE)
_DIGIT_NUMBER = re.compile(rf"(?<![\w.])-?(?:{_DIGITS})(?![\w@])")
_ORDINAL_WORDS = "|".join(sorted(_ORDINALS, key=len, reverse=True))
_ORDINAL = re.compile(
    rf"\b(?:\d+(?:st|nd|rd|th)|(?:(?:{'|'.join(_TENS)})[\s-]?)?(?:{_ORDINAL_WORDS}))\b",
    re.IGNORECASE,
)
_CUR_SYM = r"[$€£¥]"
_CUR_WORD = r"usd|eur|gbp|dollars?|bucks|euros?|pounds?|yen|cents?"
_AMOUNT = re.compile(
    rf"(?:{_CUR_SYM}|\b(?:usd|eur|gbp)\s?)\s?(?P<a>{_DIGITS})(?:\s?(?P<scale>k|thousand|million|m)\b)?"
    rf"|(?P<b>{_DIGITS}|{_SPELLED})\s?(?:(?P<sym>{_CUR_SYM})|(?P<word>{_CUR_WORD})\b)",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_URL = re.compile(
    r"\b(?:https?://[^\s<>\"]+|www\.[^\s<>\"]+|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|edu|gov|co|de|uk|fr|ai)(?:/[^\s<>\"]*)?)",
    re.IGNORECASE,
)
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d\s().-]{5,}\d(?!\w)")
_DURATION_WORDS = "|".join(sorted(_DURATION_UNITS, key=len, reverse=True))
_DURATION = re.compile(
    rf"\b(?P<n>{_DIGITS}|{_SPELLED}|an?)\s+(?P<unit>{_DURATION_WORDS})\b",
    re.IGNORECASE,
)

_CLOCK = r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>a\.?m\.?|p\.?m\.?)?"
_DAY_WORDS = r"today|tonight|tomorrow|yesterday|the day after tomorrow|day after tomorrow|now"
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_YEAR = r"(?:1\d{3}|20\d{2}|2100)"  # Duckling's years: integers 1000-2100
_CYCLE_SHIFT = {
    "this": 0, "current": 0, "next": 1, "coming": 1, "upcoming": 1, "last": -1, "past": -1,
    "previous": -1,
}  # fmt: skip
# Duckling's span conventions: "on <day>" and "in|during <month>|<year>" take the
# preposition into the time's span; a year alone is latent (a number), "in 2019" is a time
_DATE = (
    rf"(?:on\s+)?(?:"
    rf"(?P<rel>{_DAY_WORDS})"
    rf"|(?:(?P<next>next|this|last)\s+)?(?P<weekday>{'|'.join(_WEEKDAYS)})"
    rf"|(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m1>{_MONTH_RE})\.?(?:,?\s+(?P<y1>{_YEAR}))?"
    rf"|(?P<m2>{_MONTH_RE})\.?\s+(?:the\s+)?(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y2>{_YEAR}))?"
    rf"|(?P<iso>\d{{4}}-\d{{2}}-\d{{2}})"
    rf"|(?P<us>\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?))"
    rf"|(?:(?:in|during)\s+)?(?P<m3>{_MONTH_RE})\.?,?\s+(?P<y3>{_YEAR})"
    rf"|(?:in|during)\s+(?P<m4>{_MONTH_RE})"
    rf"|(?:in|during)\s+(?P<y4>{_YEAR})"
    rf"|(?:(?:in|during)\s+)?(?P<mm>\d{{1,2}})/(?P<yyyy>{_YEAR})"
    rf"|(?P<shift>{'|'.join(_CYCLE_SHIFT)})\s+(?P<cycle>week|month|year)"
    rf"|in\s+(?P<in_n>\d+|{_SPELLED}|an?)\s+(?P<in_unit>minutes?|hours?|days?|weeks?)"
)
_TIME_OF_DAY = rf"(?:at\s+)?(?:{_CLOCK}|(?P<named>noon|midnight|morning|afternoon|evening))"
_TIMES = (
    re.compile(rf"\b(?:{_DATE})(?:\s+(?:at\s+|in\s+the\s+)?(?:{_TIME_OF_DAY}))?\b", re.IGNORECASE),
    re.compile(rf"\b(?:{_TIME_OF_DAY})(?:\s+(?:on\s+)?(?:{_DATE}))?(?!\w)", re.IGNORECASE),
)


_MAX_SPELLED = 10**15


def words_to_number(text: str) -> float | None:
    """``twenty one`` -> 21, ``a hundred and five`` -> 105; None when not a spelled number."""
    total = 0
    current = 0
    seen = False
    for word in re.split(r"[\s-]+", text.lower().strip()):
        if word in ("and", ""):
            continue
        if word in ("a", "an"):
            current = max(current, 1)
        elif word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:
            total += max(current, 1) * _SCALES[word]
            current = 0
        else:
            return None
        seen = True
        if max(total, current) > _MAX_SPELLED:  # "hundred hundred hundred ...": not a number
            return None
    return float(total + current) if seen else None


# larger numbers (309 nines is no float; 5,000 digits no int Python will parse) are not matched
MAX_DIGITS = 30


def parse_number(text: str) -> float | None:
    """``1,000.5`` -> 1000.5, ``twenty one`` -> 21; None when not a number or not finite."""
    cleaned = text.replace(",", "").strip()
    try:
        value = float(cleaned)
    except ValueError:
        return words_to_number(text)
    return value if math.isfinite(value) else None


def _as_number(value: float) -> int | float | None:
    """An integral value as int; None for what JSON cannot carry (inf, nan)."""
    if not math.isfinite(value):
        return None
    return int(value) if value == int(value) else value


def _ordinal_value(text: str) -> int | None:
    low = text.lower()
    digits = re.match(r"(\d+)", low)
    if digits:
        return int(digits.group(1)) if len(digits.group(1)) <= MAX_DIGITS else None
    parts = re.split(r"[\s-]+", low)
    value = 0
    for part in parts:
        if part in _TENS:
            value += _TENS[part]
        elif part in _ORDINALS:
            value += _ORDINALS[part]
        else:
            return None
    return value


@dataclass
class _Match:
    dim: str
    start: int
    end: int
    value: Any
    info: dict[str, Any]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


class BuiltinExtractor:
    """Rule-based stand-in for Duckling; ``dimensions`` limits what it reports."""

    name = EXTRACTOR

    def __init__(
        self,
        dimensions: Iterable[str] | None = None,
        timezone: str | None = None,
        now: Callable[[], datetime] | None = None,
        language: str | None = None,
    ) -> None:
        wanted = list(dimensions) if dimensions else list(DIMENSIONS)
        self.dimensions = [d for d in wanted if d in DIMENSIONS]
        self.timezone = timezone
        self._now = now
        code = (language or "en").split("_")[0].split("-")[0].lower()
        # None: English (the rules below); else a language of builtin_languages
        self.language = code if code in builtin_languages.LANGUAGES else None

    def _reference(self) -> datetime:
        tz = ZoneInfo(self.timezone or DEFAULT_TIMEZONE)
        return self._now().astimezone(tz) if self._now else datetime.now(tz)

    def extract(self, text: str) -> list[dict[str, Any]]:
        matches: list[_Match] = []
        for dim in self.dimensions:
            matches.extend(getattr(self, "_" + dim.replace("-", "_"))(text))
        matches.sort(key=lambda m: (-(m.end - m.start), m.start, DIMENSIONS.index(m.dim)))
        # longest first; kept spans never overlap, so a sorted list of them answers "does this
        # one overlap a kept one?" by its two neighbours (n log n, not n squared)
        kept: list[_Match] = []
        starts: list[int] = []
        for m in matches:
            i = bisect.bisect_left(starts, m.start)
            if i > 0 and kept[i - 1].end > m.start:
                continue
            if i < len(kept) and kept[i].start < m.end:
                continue
            kept.insert(i, m)
            starts.insert(i, m.start)
        return [
            {
                "entity": m.dim,
                "start": m.start,
                "end": m.end,
                "value": m.value,
                "confidence": 1.0,
                "additional_info": m.info,
                "extractor": self.name,
            }
            for m in kept
        ]

    # ------------------------------------------------------------ dimensions

    def _number(self, text: str) -> list[_Match]:
        out = []
        if self.language:
            for start, end, found, ordinal in builtin_languages.find_numbers(text, self.language):
                n = _as_number(found)
                if not ordinal and n is not None:
                    out.append(_Match("number", start, end, n, {"value": n, "type": "value"}))
        for m in (_DIGIT_NUMBER if self.language else _NUMBER).finditer(text):
            raw = m.group().strip()
            value = parse_number(raw)
            if value is None or raw.lower() in ("a", "an"):
                continue
            num = _as_number(value)
            if num is None:
                continue
            out.append(
                _Match(
                    "number", m.start(), m.start() + len(raw), num, {"value": num, "type": "value"}
                )
            )
        return out

    def _ordinal(self, text: str) -> list[_Match]:
        out = []
        if self.language:
            for start, end, found, ordinal in builtin_languages.find_numbers(text, self.language):
                n = _as_number(found)
                if ordinal and n is not None:
                    out.append(_Match("ordinal", start, end, n, {"value": n, "type": "value"}))
            return out
        for m in _ORDINAL.finditer(text):
            value = _ordinal_value(m.group())
            if value is not None:
                out.append(
                    _Match("ordinal", m.start(), m.end(), value, {"value": value, "type": "value"})
                )
        return out

    def _amount_of_money(self, text: str) -> list[_Match]:
        out = []
        for m in _AMOUNT.finditer(text):
            raw = m.group("a") or m.group("b")
            value = parse_number(raw) if raw else None
            if value is None:
                continue
            if m.group("a"):
                symbol = (
                    m.group().strip()[0]
                    if m.group().strip()[0] in "$€£¥"
                    else m.group().strip()[:3]
                )
                unit = _CURRENCIES.get(symbol.lower(), symbol.upper())
                scale = (m.group("scale") or "").lower()
                value *= {"k": 1e3, "thousand": 1e3, "million": 1e6, "m": 1e6}.get(scale, 1)
            else:
                unit = _CURRENCIES[(m.group("sym") or m.group("word")).lower()]
            num = _as_number(value)
            if num is None:
                continue
            out.append(
                _Match(
                    "amount-of-money",
                    m.start(),
                    m.end(),
                    num,
                    {"value": num, "unit": unit, "type": "value"},
                )
            )
        return out

    def _email(self, text: str) -> list[_Match]:
        return [
            _Match("email", m.start(), m.end(), m.group(), {"value": m.group()})
            for m in _EMAIL.finditer(text)
        ]

    def _url(self, text: str) -> list[_Match]:
        out = []
        for m in _URL.finditer(text):
            url = m.group().rstrip(".,;:!?)")
            if "@" in text[max(0, m.start() - 1) : m.start() + 1]:
                continue  # the domain of an email address
            domain = re.sub(r"^https?://", "", url).split("/")[0]
            out.append(
                _Match(
                    "url", m.start(), m.start() + len(url), url, {"value": url, "domain": domain}
                )
            )
        return out

    def _phone_number(self, text: str) -> list[_Match]:
        out = []
        for m in _PHONE.finditer(text):
            raw = m.group().strip()
            digits = re.sub(r"\D", "", raw)
            if 7 <= len(digits) <= 15:
                value = ("+" if raw.startswith("+") else "") + digits
                out.append(
                    _Match("phone-number", m.start(), m.start() + len(raw), value, {"value": value})
                )
        return out

    def _duration(self, text: str) -> list[_Match]:
        out = []
        for m in _DURATION.finditer(text):
            if text[max(0, m.start() - 3) : m.start()].lower() == "in ":
                continue  # "in 3 days" is a time
            n = m.group("n").lower()
            value = 1.0 if n in ("a", "an") else parse_number(n)
            if value is None:
                continue
            unit = _DURATION_UNITS[m.group("unit").lower()]
            num = _as_number(value)
            if num is None:
                continue
            info = {"value": num, "unit": unit, unit: num, "type": "value"}
            out.append(_Match("duration", m.start(), m.end(), num, info))
        return out

    @staticmethod
    def _time_match(start: int, end: int, moment: datetime, grain: str) -> _Match:
        iso = _iso(moment)
        info = {
            "value": iso,
            "grain": grain,
            "type": "value",
            "values": [{"value": iso, "grain": grain, "type": "value"}],
        }
        return _Match("time", start, end, iso, info)

    def _time(self, text: str) -> list[_Match]:
        out = []
        now = self._reference()
        if self.language:
            return [
                self._time_match(*found)
                for found in builtin_languages.find_times(text, self.language, now)
            ]
        for m in (m for regex in _TIMES for m in regex.finditer(text)):
            if not m.group().strip():
                continue
            try:
                resolved = self._resolve_time(m, now)
            except OverflowError:  # "in 10**20 days": past the calendar
                resolved = None
            if resolved is None:
                continue
            out.append(self._time_match(m.start(), m.end(), *resolved))
        return out

    @staticmethod
    def _resolve_time(m: re.Match[str], now: datetime) -> tuple[datetime, str] | None:
        g = {k: (v.lower() if isinstance(v, str) else v) for k, v in m.groupdict().items()}
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        grain = "day"
        has_date = True
        if g["rel"]:
            offsets = {"today": 0, "tonight": 0, "now": 0, "tomorrow": 1, "yesterday": -1}
            day += timedelta(days=offsets.get(g["rel"], 2))
            if g["rel"] == "now":
                return now.replace(microsecond=0), "second"
            if g["rel"] == "tonight" and not g["hour"]:
                return day.replace(hour=18), "hour"
        elif g["weekday"]:
            ahead = (_WEEKDAYS.index(g["weekday"]) - now.weekday()) % 7
            if g["next"] == "next" and ahead == 0:
                ahead = 7
            if g["next"] == "last":
                ahead -= 7
            day += timedelta(days=ahead)
        elif g["m1"] or g["m2"]:
            month = _MONTHS[g["m1"] or g["m2"]]
            dnum = int(g["d1"] or g["d2"])
            year = int(g["y1"] or g["y2"] or now.year)
            try:
                day = day.replace(year=year, month=month, day=dnum)
            except ValueError:
                return None
            if not (g["y1"] or g["y2"]) and day < now.replace(
                hour=0, minute=0, second=0, microsecond=0
            ):
                day = day.replace(year=year + 1)
        elif g["iso"]:
            try:
                y, mo, d = (int(x) for x in g["iso"].split("-"))
                day = day.replace(year=y, month=mo, day=d)
            except ValueError:
                return None
        elif g["us"]:
            parts = [int(x) for x in g["us"].split("/")]
            year = parts[2] if len(parts) == 3 else now.year
            year += 2000 if year < 100 else 0
            try:
                day = day.replace(year=year, month=parts[0], day=parts[1])
            except ValueError:
                return None
        elif g["m3"] or g["m4"] or g["mm"]:
            month = int(g["mm"]) if g["mm"] else _MONTHS[g["m3"] or g["m4"]]
            if not 1 <= month <= 12:
                return None
            explicit = g["y3"] or g["yyyy"]
            year = int(explicit) if explicit else now.year + (month < now.month)
            day = day.replace(year=year, month=month, day=1)
            grain = "month"
        elif g["y4"]:
            day = day.replace(year=int(g["y4"]), month=1, day=1)
            grain = "year"
        elif g["cycle"]:
            shift = _CYCLE_SHIFT[g["shift"]]
            grain = g["cycle"]
            if grain == "week":
                day -= timedelta(days=day.weekday() - 7 * shift)
            elif grain == "month":
                months = day.year * 12 + day.month - 1 + shift
                day = day.replace(year=months // 12, month=months % 12 + 1, day=1)
            else:
                day = day.replace(year=day.year + shift, month=1, day=1)
        elif g["in_unit"]:
            n_raw = g["in_n"]
            n = 1.0 if n_raw in ("a", "an") else parse_number(n_raw)
            if n is None:
                return None
            unit = g["in_unit"].rstrip("s")
            delta = {
                "minute": timedelta(minutes=n),
                "hour": timedelta(hours=n),
                "day": timedelta(days=n),
                "week": timedelta(weeks=n),
            }[unit]
            moment = now.replace(second=0, microsecond=0) + delta
            return (
                (moment, "minute")
                if unit in ("minute", "hour")
                else (moment.replace(hour=0, minute=0), "day")
            )
        else:
            has_date = False
        if g["hour"] is None and g["named"] is None:
            return (day, grain) if has_date else None
        if g["named"]:
            hour = {"noon": 12, "midnight": 0, "morning": 9, "afternoon": 15, "evening": 19}[
                g["named"]
            ]
            minute = 0
            grain = "hour"
        else:
            hour = int(g["hour"])
            minute = int(g["minute"] or 0)
            ampm = (g["ampm"] or "").replace(".", "")
            if (
                not ampm
                and g["minute"] is None
                and not has_date
                and "at" not in m.group().lower()[:3]
            ):
                return None  # a bare number is not a time
            if hour > 23 or minute > 59 or (ampm and hour > 12):
                return None
            if ampm == "pm" and hour < 12:
                hour += 12
            if ampm == "am" and hour == 12:
                hour = 0
            grain = "minute" if g["minute"] else "hour"
        moment = day.replace(hour=hour, minute=minute)
        if not has_date and moment < now:
            moment += timedelta(days=1)
        return moment, grain
