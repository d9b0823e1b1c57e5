"""Days named in questions: "on March 5, 2025", "July 14-20, 2025", "3 to 9 Maret 2026",
"between March 3 and March 10", "on Monday", "Selasa lalu", "over the weekend".

Read with dateparser's grammar and its CLDR-derived locale data (month and weekday names,
ordinals, day-month order) for the bot's two languages, English and Indonesian, rather than a
hand-written list of spellings. `bot.timeparse` asks here first: a named day is more specific
than the month or year around it ("from 3 to 9 March 2025" is not all of March).

News of a day is often published in the days after it (weekly newsletters, recaps): the window
of named days carries REPORTING_LAG, which the answer's search adds after the last day (a
listing of a source's posts on those days does not).
A weekday alone ("on Monday", "last Tuesday") is the latest such day up to now, and its
window runs to now. Pure functions; datetimes are timezone-aware UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import NamedTuple

import dateparser
from dateparser.languages import default_loader

LANGUAGES = ["en", "id"]
REPORTING_LAG = timedelta(days=7)
MAX_RANGE = timedelta(days=62)  # longer "ranges" are not day ranges ("2 to 300")
_SEP = r"\s*(?:-|–|—|to|through|thru|until|till|and|sampai|hingga|dan|s/d|s\.d\.)\s*"
_ORD = r"(?:st|nd|rd|th)?"
_WORD = r"[^\W\d_]{3,10}\.?"
_YEAR = r"(?:,?\s*(?P<year>(?:19|20)\d\d))?"
# "July 14-20, 2025", "March 3 and March 10, 2025", "Dec 1 - Dec 5"
_MONTH_FIRST = re.compile(
    rf"\b(?P<m1>{_WORD})\s+(?P<d1>\d{{1,2}}){_ORD}{_SEP}(?:(?P<m2>{_WORD})\s+)?"
    rf"(?P<d2>\d{{1,2}}){_ORD}\b{_YEAR}",
    re.IGNORECASE,
)
# "14-20 July 2025", "3 to 9 Maret 2026", "28 June - 2 July"
_DAY_FIRST = re.compile(
    rf"\b(?P<d1>\d{{1,2}}){_ORD}(?:\s+(?P<m1>{_WORD}))?{_SEP}(?P<d2>\d{{1,2}}){_ORD}\s+"
    rf"(?:of\s+)?(?P<m2>{_WORD}){_YEAR}",
    re.IGNORECASE,
)
# one day: "March 5th, 2025", "7 August", "12 Maret 2026", "the 5th of March"
_ONE_DAY = (
    re.compile(rf"\b(?P<m>{_WORD})\s+(?P<d>\d{{1,2}}){_ORD}\b{_YEAR}", re.IGNORECASE),
    re.compile(rf"\b(?P<d>\d{{1,2}}){_ORD}\s+(?:of\s+)?(?P<m>{_WORD}){_YEAR}", re.IGNORECASE),
)
# a weekday as a time: "on Monday", "last Tuesday", "this past Friday", "(pada hari) Senin lalu";
# not "the Wednesday keynote"
_WEEKDAY = re.compile(
    r"\b(?:(?P<lead>on|last|this\s+past|past|since|sejak|pada(?:\s+hari)?|hari)\s+)?"
    r"(?P<name>[^\W\d_]+)"
    r"\b(?![.\-]\w)(?P<lalu>\s+(?:lalu|kemarin))?",
    re.IGNORECASE,
)


def _settings(now: datetime) -> dict[str, object]:
    return {
        "RELATIVE_BASE": now.astimezone(UTC).replace(tzinfo=None),
        "PREFER_DATES_FROM": "past",
        "REQUIRE_PARTS": ["day", "month"],
        "RETURN_AS_TIMEZONE_AWARE": False,
    }


@cache
def calendar_words() -> frozenset[str]:
    """Month and weekday names (not abbreviations) of the bot's languages, lowercased: time
    words, never names of what a question is about ("on Monday", "in March")."""
    out: set[str] = set()
    units: set[str] = set()
    for lang in LANGUAGES:
        info = default_loader.get_locale(lang).info
        for key in ("week", "day", "month", "year"):
            units.update(w.lower() for w in info.get(key, []) if isinstance(w, str))
        for key in (*_MONTH_KEYS, *_WEEKDAY_KEYS):
            out.update(w.lower() for w in info.get(key, []) if isinstance(w, str) and len(w) > 3)
    return frozenset(out - units)  # "minggu" is Sunday and "week" in Indonesian


@cache
def _weekday_names() -> dict[str, int]:
    names: dict[str, int] = {}
    for lang in LANGUAGES:
        info = default_loader.get_locale(lang).info
        for i, key in enumerate(_WEEKDAY_KEYS):
            for w in info.get(key, []):
                if isinstance(w, str) and len(w) > 3 and w.lower() in calendar_words():
                    names[w.lower()] = i
    return names


_MONTH_KEYS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
)  # fmt: skip
_WEEKDAY_KEYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@cache
def month_numbers() -> dict[str, int]:
    """Every spelling of a month the locales know, abbreviations too ("Sept", "Agt", "Mrt"),
    lowercased → 1-12."""
    return {
        w.lower(): number
        for lang in LANGUAGES
        for number, key in enumerate(_MONTH_KEYS, start=1)
        for w in default_loader.get_locale(lang).info.get(key, [])
        if isinstance(w, str) and len(w) >= 3
    }


def _day(text: str, now: datetime) -> datetime | None:
    found = dateparser.parse(text, languages=LANGUAGES, settings=_settings(now))  # type: ignore[arg-type]
    if found is None:
        return None
    return datetime(found.year, found.month, found.day, tzinfo=UTC)


def _is_month(word: str) -> bool:
    return word.lower().rstrip(".") in month_numbers()


def _range(m: re.Match[str], now: datetime) -> tuple[datetime, datetime] | None:
    year = m.group("year") or ""
    m1, m2 = m.group("m1") or m.group("m2"), m.group("m2") or m.group("m1")
    if not all(_is_month(w) for w in (m1, m2)):
        return None
    end = _day(f"{m.group('d2')} {m2} {year}", now)
    if end is None:
        return None
    start = _day(f"{m.group('d1')} {m1} {year or end.year}", now)
    if start is not None and start > end and not m.group("year"):
        start = start.replace(year=start.year - 1)  # "Dec 28 - Jan 3"
    if start is None or not timedelta(0) <= end - start <= MAX_RANGE:
        return None
    return start, end


_SINCE = re.compile(r"\b(?:since|after|from|sejak|setelah|mulai|dari)\s+(?:the\s+)?$", re.I)
_BEFORE = re.compile(r"\b(?:before|until|till|sebelum|hingga|sampai)\s+(?:the\s+)?$", re.I)


def format_day(dt: datetime) -> str:
    """A day in prose, as answers write it: "Jul 24, 2025"."""
    return f"{dt:%b} {dt.day}, {dt.year}"


class NamedDays(NamedTuple):
    since: datetime | None  # None: "before <day>"
    until: datetime | None  # exclusive; None: up to now ("since <day>", "on Monday")
    label: str  # "Mar 5, 2025", "Jul 14, 2025 to Jul 20, 2025", "since Jul 21, 2025"
    matched: str  # the question's words that named them


def _from_or_to(before: str, day: datetime, matched: str) -> NamedDays:
    """One day: "since March 5" opens the window there, "before March 5" ends it there."""
    if _SINCE.search(before):
        return NamedDays(day, None, f"since {format_day(day)}", matched)
    if _BEFORE.search(before):
        return NamedDays(None, day, f"before {format_day(day)}", matched)
    return _window(day, day, matched)


def _window(first: datetime, last: datetime, matched: str) -> NamedDays:
    label = format_day(first) if first == last else f"{format_day(first)} to {format_day(last)}"
    return NamedDays(first, last + timedelta(days=1), label, matched)


def named_days(question: str, now: datetime) -> NamedDays | None:
    """The days the question names, or None when it names no day."""
    now = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    for pattern in (_MONTH_FIRST, _DAY_FIRST):
        for m in pattern.finditer(question):
            span = _range(m, now)
            if span is not None:
                return _window(*span, m.group(0).strip())
    for pattern in _ONE_DAY:
        for m in pattern.finditer(question):
            if not _is_month(m.group("m")):
                continue
            day = _day(f"{m.group('d')} {m.group('m')} {m.group('year') or ''}", now)
            if day is not None and day <= now:
                return _from_or_to(question[: m.start()], day, m.group(0).strip())
    return _weekend(question, now) or _weekday(question, now)


_WEEKEND = re.compile(
    r"\b(?:(?P<last>last|past)|over|this|during)\s+(?:the\s+)?weekend\b(?!\s+of\b)"
    r"|\bakhir\s+pekan(?P<lalu>\s+lalu)?\b",
    re.IGNORECASE,
)


def _weekend(question: str, now: datetime) -> NamedDays | None:
    """ "over the weekend", "last weekend", "akhir pekan lalu": the latest Saturday and Sunday
    that have begun ("last" asked on a weekend: the one before)."""
    m = _WEEKEND.search(question)
    if m is None:
        return None
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    saturday = today - timedelta(days=(today.weekday() - 5) % 7)
    if today.weekday() >= 5 and (m.group("last") or m.group("lalu")):
        saturday -= timedelta(days=7)
    return _window(saturday, saturday + timedelta(days=1), m.group(0).strip())


def _weekday(question: str, now: datetime) -> NamedDays | None:
    """ "on Monday", "last Tuesday", "Senin lalu": the latest such day up to today."""
    for m in _WEEKDAY.finditer(question):
        weekday = _weekday_names().get(m.group("name").lower())
        if weekday is None or not (m.group("lead") or m.group("lalu")):
            continue
        today = datetime(now.year, now.month, now.day, tzinfo=UTC)
        back = (today.weekday() - weekday) % 7
        lead = " ".join((m.group("lead") or "").lower().split())
        if back == 0 and (lead in ("last", "this past", "past") or m.group("lalu")):
            back = 7  # "last Monday" asked on a Monday: the one before
        day = today - timedelta(days=back)
        return NamedDays(day, None, f"since {format_day(day)}", m.group(0).strip())
    return None
