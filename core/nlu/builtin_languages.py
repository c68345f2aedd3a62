"""Built-in numbers and dates in the bot's language (config.yml ``language``), beyond English.

Numbers in words come from text2num (``zweiundzwanzig`` -> 22, ``vingt-deux`` -> 22), run over
the message's tokens once (linear). Dates and times: a per-language regex finds candidate
spans (a weekday with an optional "next", a relative day such as ``morgen`` or ``demain``, a
day and month, a numeric date, a clock time such as ``um 15 Uhr`` / ``à 15h`` / ``a las 15``),
then dateparser resolves only the date words of each candidate; at most :data:`MAX_CANDIDATES`
per message, so its cost stays bounded whatever the text. Weekday names, month names and
relative day words are dateparser's own locale data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from chinwag.core.nlu.text import scrub
from chinwag.core.nlu.tokenizer import tokenize

LANGUAGES = ("de", "fr", "es", "it", "pt", "nl")
MAX_CANDIDATES = 10

# "next <weekday>" and the clock forms of each language (hour, optional minute)
_NEXT = {
    "de": r"nächste[nrsm]?|kommende[nrsm]?",
    "fr": r"prochain(?:e)?",
    "es": r"pr[oó]xim[oa]",
    "it": r"prossim[oa]",
    "pt": r"pr[oó]xim[oa]",
    "nl": r"volgende|komende",
}
_NEXT_AFTER = {"fr": r"prochain(?:e)?", "it": r"prossim[oa]"}  # "vendredi prochain"


def _h(n: int) -> str:
    return rf"(?P<hour{n}>\d{{1,2}})"


def _m(n: int) -> str:
    return rf"(?P<minute{n}>\d{{2}})"


_CLOCK = {
    "de": rf"(?:um\s+)?{_h(1)}(?:[:.]{_m(1)})?\s*Uhr(?:\s+{_m(2)})?|um\s+{_h(2)}:{_m(3)}",
    "fr": rf"(?:à\s+)?{_h(1)}\s*h(?:eures?)?(?:\s*{_m(1)})?|à\s+{_h(2)}:{_m(2)}",
    "es": rf"a\s+las?\s+{_h(1)}(?::{_m(1)})?(?:\s*h)?|{_h(2)}:{_m(2)}",
    "it": rf"alle?\s+(?:ore\s+)?{_h(1)}(?:[:.]{_m(1)})?|{_h(2)}:{_m(2)}",
    "pt": rf"às?\s+{_h(1)}(?::{_m(1)}|\s*h{_m(2)}?)?(?:\s*horas)?|{_h(2)}:{_m(3)}",
    "nl": rf"(?:om\s+)?{_h(1)}(?:[:.]{_m(1)})?\s*uur|om\s+{_h(2)}:{_m(2)}",
}
# a preposition taken into a date's span, as Duckling takes "on" ("am Freitag", "le 3 mars")
_DATE_PREP = {
    "de": r"am|an|für",
    "fr": r"le|pour",
    "es": r"el|para",
    "it": r"il|per",
    "pt": r"no|na|em|para",
    "nl": r"op|voor",
}
_WEEKDAY_KEYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTH_KEYS = [
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
]  # fmt: skip


def _names(values: list[str]) -> list[str]:
    """A locale's names of one weekday or month, without the ambiguous short ones."""
    longest = max(values, key=len)
    return [v.lower() for v in values if (len(v) >= 4 or v == longest) and not v.endswith(".")]


def _alternation(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


@dataclass(frozen=True)
class _Language:
    code: str
    candidates: re.Pattern[str]
    weekdays: dict[str, int]


@cache
def _language(code: str) -> _Language:
    from dateparser.languages.loader import default_loader

    info: dict[str, Any] = default_loader.get_locale(code).info
    weekdays = {name: i for i, key in enumerate(_WEEKDAY_KEYS) for name in _names(info[key])}
    months = [name for key in _MONTH_KEYS for name in _names(info[key])]
    relative = [
        word.lower()
        for key, words in info.get("relative-type", {}).items()
        if key.endswith(("day ago", "day", "week", "week ago", "second ago"))
        for word in words
        if not re.search(r"[\\(\[]", word)
    ]
    weekday_re = _alternation(list(weekdays))
    month_re = _alternation(months)
    after = _NEXT_AFTER.get(code)
    date = (
        rf"(?:(?:{_DATE_PREP[code]})\s+)?(?:"
        rf"(?:(?P<next>{_NEXT[code]})\s+)?(?P<weekday>{weekday_re})"
        + (rf"(?:\s+(?P<next_after>{after}))?" if after else "")
        + rf"|(?P<relative>{_alternation(relative)})"
        rf"|(?P<day_month>\d{{1,2}}\.?\s+(?:de\s+)?(?:{month_re})(?:\s+(?:de\s+)?\d{{4}})?)"
        rf"|(?P<numeric>\d{{1,2}}[./]\d{{1,2}}[./](?:\d{{4}}|\d{{2}})?)"
        r")"
    )
    clock = rf"(?P<clock>{_CLOCK[code]})"
    clock2 = clock.replace("?P<", "?P<c2_")
    pattern = rf"(?<!\w)(?:(?:{date})(?:,?\s+{clock})?|{clock2})(?!\w)"
    return _Language(code, re.compile(pattern, re.IGNORECASE), weekdays)


def _parse_date(text: str, code: str, now: datetime) -> datetime | None:
    import dateparser

    settings = {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": now.replace(tzinfo=None),
        "PREFER_DAY_OF_MONTH": "first",
        "DATE_ORDER": "DMY",
    }
    parsed = dateparser.parse(text, languages=[code], settings=settings)
    return parsed.replace(tzinfo=now.tzinfo) if parsed is not None else None


def find_times(text: str, code: str, now: datetime) -> list[tuple[int, int, datetime, str]]:
    """``(start, end, moment, grain)`` of each date or time in ``text`` (language ``code``)."""
    lang = _language(code)
    out: list[tuple[int, int, datetime, str]] = []
    for i, m in enumerate(lang.candidates.finditer(text)):
        if i >= MAX_CANDIDATES:  # each may cost a dateparser call, resolved or not
            break
        g = {k: v for k, v in m.groupdict().items() if v is not None}
        hour = next((v for k, v in g.items() if "hour" in k), None)
        minute = next((v for k, v in g.items() if "minute" in k), None)
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        day: datetime | None = today
        has_date = True
        if "weekday" in g:
            ahead = (lang.weekdays[g["weekday"].lower()] - now.weekday()) % 7
            if ahead == 0 and ("next" in g or "next_after" in g):
                ahead = 7
            day = today + timedelta(days=ahead)
        elif "relative" in g or "day_month" in g or "numeric" in g:
            words = g.get("relative") or g.get("day_month") or g["numeric"]
            parsed = _parse_date(words, code, now)
            day = parsed.replace(hour=0, minute=0, second=0, microsecond=0) if parsed else None
        else:
            has_date = False
        if day is None:
            continue
        if hour is None:
            out.append((m.start(), m.end(), day, "day"))
            continue
        h, mi = int(hour), int(minute or 0)
        if h > 23 or mi > 59:
            continue
        moment = day.replace(hour=h, minute=mi)
        if not has_date and moment < now:
            moment += timedelta(days=1)
        out.append((m.start(), m.end(), moment, "minute" if minute else "hour"))
    return out


class _Word:
    """A token as text2num's ``find_numbers`` reads it."""

    def __init__(self, text: str) -> None:
        self._text = text

    def text(self) -> str:
        return self._text

    def nt_separated(self, previous: _Word) -> bool:
        return False

    def not_a_number_part(self) -> bool:
        return False


def find_numbers(text: str, code: str) -> list[tuple[int, int, float, bool]]:
    """``(start, end, value, is_ordinal)`` of each number written in words (text2num)."""
    from text_to_num import find_numbers as text2num_find

    tokens = tokenize(text)
    try:  # text2num's Rust core panics (a BaseException) on what it cannot encode
        found = text2num_find([_Word(scrub(t.text)) for t in tokens], code)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:
        return []
    out = []
    for occurrence in found:
        if occurrence.text.strip().isdigit() and tokens[occurrence.start].text.isdigit():
            continue  # digits: the digit rule has them
        start, end = tokens[occurrence.start].start, tokens[occurrence.end - 1].end
        out.append((start, end, float(occurrence.value), bool(occurrence.is_ordinal)))
    return out
