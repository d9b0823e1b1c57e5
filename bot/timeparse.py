"""Time expressions in questions ("this week", "in June 2025", "latest") → a search window.

English and Indonesian, the bot's two languages ("minggu ini", "bulan lalu", "Juni 2025",
"3 hari terakhir", "terbaru"); labels are English either way.

Pure functions, no I/O. All datetimes are timezone-aware UTC; a naive `now` is taken as UTC.
Calendar weeks start on Monday. `until` is exclusive.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bot.datephrases import REPORTING_LAG, format_day, month_numbers, named_days

_EPOCH = datetime(1, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TimeWindow:
    """A window to search in. Empty (both bounds None) when the question names no time."""

    since: datetime | None = None
    until: datetime | None = None  # exclusive
    prefer_recent: bool = False
    label: str = ""  # for display: "this week", "June 2025", "the past 3 days", "since Mar 1, 2025"
    matched: str = ""  # the text of the question that named the window (empty for recency words)
    lag: timedelta = timedelta(0)  # news of these days may be published this much after them

    @property
    def reported_until(self) -> datetime | None:
        """Where a search for news of the window's days ends (`until` plus the lag)."""
        return None if self.until is None else self.until + self.lag

    @property
    def bounded(self) -> bool:
        return self.since is not None or self.until is not None

    @property
    def phrase(self) -> str:
        """How the label reads after "Nothing in my sources": "from this week", "since ..."."""
        if not self.label:
            return ""
        if self.label.startswith(("since ", "before ")):
            return self.label
        return f"from {self.label}"


MONTHS = month_numbers()  # English and Indonesian spellings, from dateparser's locale data
_MONTH_NAMES = [
    "", "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December",
]  # fmt: skip
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "couple of": 2, "few": 3,
    "a few": 3, "satu": 1, "dua": 2, "tiga": 3, "empat": 4, "lima": 5, "enam": 6, "tujuh": 7,
    "delapan": 8, "sembilan": 9, "sepuluh": 10, "beberapa": 3,
}  # fmt: skip

_MONTH_RE = rf"(?P<month>{'|'.join(sorted(MONTHS, key=len, reverse=True))})\.?"
_YEAR_RE = r"(?P<year>(?:19|20)\d\d)"
_NUM_RE = (
    r"(?P<num>\d{1,4}|a few|a couple of|couple of|few|one|two|three|four|five|six|seven|eight"
    r"|nine|ten|eleven|twelve)"
)
_UNIT_RE = r"(?P<unit>hours?|hrs?|days?|weeks?|wks?|months?|years?|yrs?)"
# Indonesian: "(dalam) 3 hari terakhir", "dua minggu terakhir", "sebulan terakhir"
_ID_NUM_RE = (
    r"(?P<num>\d{1,4}|satu|dua|tiga|empat|lima|enam|tujuh|delapan|sembilan|sepuluh|beberapa)"
)
_ID_UNITS = {"jam": "h", "hari": "d", "minggu": "w", "pekan": "w", "bulan": "m", "tahun": "y"}
_ID_UNIT_RE = r"(?P<unit>jam|hari|minggu|pekan|bulan|tahun)"
_RECENT_RE = re.compile(
    r"\b(latest|newest|most recent|recent|recently|lately|new|current|currently|just released"
    r"|right now|these days|nowadays"
    r"|terbaru|terkini|baru-baru ini|baru saja|belakangan ini|saat ini)\b",
    re.IGNORECASE,
)


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _day_start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _month_start(year: int, month: int) -> datetime:
    while month < 1:
        month += 12
        year -= 1
    while month > 12:
        month -= 12
        year += 1
    return datetime(year, month, 1, tzinfo=UTC)


def _minus_months(dt: datetime, months: int) -> datetime:
    """Calendar subtraction, clamping the day (Mar 31 - 1 month → Feb 28/29)."""
    total = dt.year * 12 + (dt.month - 1) - months
    year, month0 = divmod(total, 12)
    month = month0 + 1
    nxt = _month_start(year, month + 1)
    last_day = (nxt - timedelta(days=1)).day
    return dt.replace(year=year, month=month, day=min(dt.day, last_day))


def iso_day(dt: datetime | None) -> str:
    """A day as lists and citations show it: "2025-07-24" (UTC), or "undated"."""
    if dt is None:
        return "undated"
    return f"{dt.astimezone(UTC) if dt.tzinfo else dt:%Y-%m-%d}"


def _num(text: str) -> int:
    text = text.lower().strip()
    if text.isdigit():
        return int(text)
    return _NUMBER_WORDS.get(text.removeprefix("a ").strip(), _NUMBER_WORDS.get(text, 1))


def _most_recent_month(month: int, now: datetime) -> int:
    """The year of the latest occurrence of `month` that has started by `now`."""
    return now.year if month <= now.month else now.year - 1


# Each rule: (pattern, handler(match, now) -> TimeWindow | None). First match wins, so more
# specific patterns come first.
Handler = Callable[[re.Match[str], datetime], "TimeWindow | None"]


def _w(since: datetime | None, until: datetime | None, label: str, m: re.Match[str]) -> TimeWindow:
    return TimeWindow(since=since, until=until, label=label, matched=m.group(0).strip())


def _iso_since(m: re.Match[str], now: datetime) -> TimeWindow | None:
    try:
        d = date.fromisoformat(m.group("iso"))
    except ValueError:
        return None
    since = _day_start(d)
    return _w(since, None, f"since {format_day(since)}", m)


def _iso_before(m: re.Match[str], now: datetime) -> TimeWindow | None:
    try:
        d = date.fromisoformat(m.group("iso"))
    except ValueError:
        return None
    until = _day_start(d)
    return _w(None, until, f"before {format_day(until)}", m)


def _iso_on(m: re.Match[str], now: datetime) -> TimeWindow | None:
    try:
        d = date.fromisoformat(m.group("iso"))
    except ValueError:
        return None
    since = _day_start(d)
    return _w(since, since + timedelta(days=1), format_day(since), m)


def _since_month(m: re.Match[str], now: datetime) -> TimeWindow | None:
    month = MONTHS[m.group("month").lower()]
    year = int(m.group("year")) if m.group("year") else _most_recent_month(month, now)
    since = _month_start(year, month)
    return _w(since, None, f"since {format_day(since)}", m)


def _since_year(m: re.Match[str], now: datetime) -> TimeWindow | None:
    since = _month_start(int(m.group("year")), 1)
    return _w(since, None, f"since {format_day(since)}", m)


def _month_year(m: re.Match[str], now: datetime) -> TimeWindow | None:
    month = MONTHS[m.group("month").lower()]
    year = int(m.group("year"))
    return _w(
        _month_start(year, month), _month_start(year, month + 1), f"{_MONTH_NAMES[month]} {year}", m
    )


def _in_month(m: re.Match[str], now: datetime) -> TimeWindow | None:
    month = MONTHS[m.group("month").lower()]
    year = _most_recent_month(month, now)
    return _w(
        _month_start(year, month), _month_start(year, month + 1), f"{_MONTH_NAMES[month]} {year}", m
    )


def _in_year(m: re.Match[str], now: datetime) -> TimeWindow | None:
    year = int(m.group("year"))
    return _w(_month_start(year, 1), _month_start(year + 1, 1), str(year), m)


def _past_n(m: re.Match[str], now: datetime) -> TimeWindow | None:
    """ "the past 3 days", "in the last week"; "3 hari terakhir", "sebulan terakhir"."""
    num = m.groupdict().get("num")
    n = _num(num) if num else 1
    if n <= 0:
        return None
    unit = m.group("unit").lower()
    letter = _ID_UNITS.get(unit) or (unit[0] if unit[0] in "hdwm" else "y")
    word = {"h": "hour", "d": "day", "w": "week", "m": "month", "y": "year"}[letter]
    try:
        since = _minus_age(now, n, letter)
    except (OverflowError, ValueError):  # "the past 1000000000 days": no usable lower bound
        return None
    label = f"the past {word}" if n == 1 else f"the past {n} {word}s"
    return _w(since, None, label, m)


def _today(m: re.Match[str], now: datetime) -> TimeWindow | None:
    return _w(_day_start(now.date()), None, "today", m)


def _yesterday(m: re.Match[str], now: datetime) -> TimeWindow | None:
    today = _day_start(now.date())
    return _w(today - timedelta(days=1), today, "yesterday", m)


def _this_week(m: re.Match[str], now: datetime) -> TimeWindow | None:
    monday = _day_start(now.date() - timedelta(days=now.weekday()))
    return _w(monday, None, "this week", m)


def _last_week(m: re.Match[str], now: datetime) -> TimeWindow | None:
    monday = _day_start(now.date() - timedelta(days=now.weekday()))
    return _w(monday - timedelta(days=7), monday, "last week", m)


def _this_month(m: re.Match[str], now: datetime) -> TimeWindow | None:
    return _w(_month_start(now.year, now.month), None, "this month", m)


def _last_month(m: re.Match[str], now: datetime) -> TimeWindow | None:
    start = _month_start(now.year, now.month)
    return _w(_month_start(now.year, now.month - 1), start, "last month", m)


def _this_year(m: re.Match[str], now: datetime) -> TimeWindow | None:
    return _w(_month_start(now.year, 1), None, "this year", m)


def _last_year(m: re.Match[str], now: datetime) -> TimeWindow | None:
    return _w(_month_start(now.year - 1, 1), _month_start(now.year, 1), "last year", m)


def _since_relative(m: re.Match[str], now: datetime) -> TimeWindow | None:
    inner = parse_time_window(m.group("rest"), now)
    if inner.since is None:
        return None
    return _w(inner.since, None, f"since {format_day(inner.since)}", m)


_ISO = r"(?P<iso>\d{4}-\d\d-\d\d)"
# "in late December", "in early March", "pada akhir Desember": the month (its news is searched
# with the reporting lag, which covers a late part's reports)
_PART_OF = (
    r"(?:(?:the\s+)?(?:early|mid|late|end\s+of|beginning\s+of|start\s+of|middle\s+of|awal|"
    r"pertengahan|akhir)[\s-]+(?:of\s+)?(?:bulan\s+)?)?"
)
# Indonesian: "minggu/pekan" week, "bulan" month, "tahun" year; "ini" this, "lalu"/"kemarin" last
# ("kemarin" alone: yesterday; "hari ini": today); "sejak" since, "sebelum" before, "pada" in.
_LAST_ID = r"(?:lalu|kemarin|yang\s+lalu)"
_RULES: list[tuple[re.Pattern[str], Handler]] = [
    (re.compile(rf"\b(?:since|after|from|sejak|setelah|mulai)\s+{_ISO}\b", re.I), _iso_since),
    (re.compile(rf"\b(?:before|until|till|sebelum)\s+{_ISO}\b", re.I), _iso_before),
    (re.compile(rf"\b(?:on\s+|pada\s+)?{_ISO}\b", re.I), _iso_on),
    (
        re.compile(
            rf"\b(?:since|sejak)\s+(?:the\s+(?:start|beginning)\s+of\s+|awal\s+)?(?:bulan\s+)?"
            rf"{_MONTH_RE}(?:,?\s+{_YEAR_RE})?\b",
            re.I,
        ),
        _since_month,
    ),
    (
        re.compile(
            rf"\b(?:since|sejak)\s+(?:the\s+(?:start|beginning)\s+of\s+|awal\s+)?(?:tahun\s+)?"
            rf"{_YEAR_RE}\b",
            re.I,
        ),
        _since_year,
    ),
    (
        re.compile(
            r"\bsince\s+(?P<rest>yesterday|last\s+(?:week|month|year)"
            r"|the\s+(?:start|beginning)\s+of\s+(?:this|the)\s+(?:week|month|year))\b",
            re.I,
        ),
        _since_relative,
    ),
    (
        re.compile(
            rf"\bsejak\s+(?P<rest>kemarin|(?:minggu|pekan|bulan|tahun)\s+{_LAST_ID})\b", re.I
        ),
        _since_relative,
    ),
    (re.compile(rf"\b{_MONTH_RE},?\s+{_YEAR_RE}\b", re.I), _month_year),
    (
        re.compile(rf"\b(?:in|during|throughout|of|for|pada|selama|tahun)\s+{_YEAR_RE}\b", re.I),
        _in_year,
    ),
    (
        re.compile(
            rf"\b(?:in|during|throughout|pada\s+bulan|selama\s+bulan|pada|selama|bulan)\s+"
            rf"{_PART_OF}{_MONTH_RE}(?!\s*\d)\b",
            re.I,
        ),
        _in_month,
    ),
    (
        re.compile(
            rf"\b(?:(?:in|over|during|within|for)\s+)?(?:the\s+)?(?:past|last|previous)\s+"
            rf"{_NUM_RE}\s+{_UNIT_RE}(?=\W|$)",
            re.I,
        ),
        _past_n,
    ),
    (
        re.compile(
            rf"\b(?:(?:in|over|during|within|for)\s+the\s+(?:past|last)|(?:the\s+)?past)\s+"
            rf"{_UNIT_RE}(?=\W|$)",
            re.I,
        ),
        _past_n,
    ),
    (
        re.compile(
            rf"\b(?:(?:dalam|selama)\s+)?(?:{_ID_NUM_RE}\s+|se)?{_ID_UNIT_RE}\s+terakhir\b", re.I
        ),
        _past_n,
    ),
    (
        re.compile(r"\btoday(?:'s)?\b|\bthis\s+(?:morning|afternoon|evening)\b|\btonight\b", re.I),
        _today,
    ),
    (re.compile(r"\bhari\s+ini\b|\b(?:pagi|siang|sore|malam)\s+ini\b", re.I), _today),
    (re.compile(r"\byesterday(?:'s)?\b", re.I), _yesterday),
    (re.compile(r"\bthis\s+week(?:'s)?\b", re.I), _this_week),
    (re.compile(r"\b(?:minggu|pekan)\s+ini\b", re.I), _this_week),
    (re.compile(r"\blast\s+week(?:'s)?\b", re.I), _last_week),
    (re.compile(rf"\b(?:minggu|pekan)\s+{_LAST_ID}\b", re.I), _last_week),
    (re.compile(r"\bthis\s+month(?:'s)?\b", re.I), _this_month),
    (re.compile(r"\bbulan\s+ini\b", re.I), _this_month),
    (re.compile(r"\blast\s+month(?:'s)?\b", re.I), _last_month),
    (re.compile(rf"\bbulan\s+{_LAST_ID}\b", re.I), _last_month),
    (re.compile(r"\bthis\s+year(?:'s)?\b", re.I), _this_year),
    (re.compile(r"\btahun\s+ini\b", re.I), _this_year),
    (re.compile(r"\blast\s+year(?:'s)?\b", re.I), _last_year),
    (re.compile(rf"\btahun\s+{_LAST_ID}\b", re.I), _last_year),
    # "kemarin" alone (not "minggu kemarin"): after the rules above, which take those first
    (re.compile(r"\bkemarin\b", re.I), _yesterday),
]


def parse_time_window(question: str, now: datetime) -> TimeWindow:
    """The time window a question names, plus whether it asks for recent news.

    "in the last week"/"past week" mean the past 7 days; "last week" alone means the previous
    calendar week. A month without a year ("in March", "since March") is the latest March that
    has begun. Recency words (latest, newest, recent, recently, new, ...) set prefer_recent.
    """
    now = _utc(now)
    prefer_recent = bool(_RECENT_RE.search(question))
    days = named_days(question, now)  # a day or days named: more specific than the rules below
    w = (
        _narrowest(question, now)
        if days is None
        else TimeWindow(days.since, days.until, label=days.label, matched=days.matched)
    )
    if w is None:
        return TimeWindow(prefer_recent=prefer_recent)
    # a closed period's news (a month, last week, named days) is published up to days after it
    lag = REPORTING_LAG if w.since is not None and w.until is not None else timedelta(0)
    return TimeWindow(w.since, w.until, prefer_recent, w.label, w.matched, lag)


def _narrowest(question: str, now: datetime) -> TimeWindow | None:
    """Each rule's first reading of text no earlier rule took; the narrowest is the filter
    ("this week" in "... the company he's led since 2011")."""
    found: list[tuple[tuple[int, int], TimeWindow]] = []
    for pattern, handler in _RULES:
        for m in pattern.finditer(question):
            taken = any(m.start() < e and b < m.end() for (b, e), _ in found)
            w = None if taken else handler(m, now)
            if w is not None:
                found.append((m.span(), w))
                break
    windows = [w for _, w in found]
    return min(windows, key=lambda w: (w.until or now) - (w.since or _EPOCH)) if windows else None


_AGE_RE = re.compile(r"^\s*(\d+)\s*(h|d|w|m|mo|y)\s*$", re.IGNORECASE)
_DATE_WORDS = frozenset(
    ("today", "yesterday", "this week", "last week", "this month", "last month", "this year")
)
DATE_OPTION_HELP = "use YYYY-MM-DD, an age like 7d, 2w, 3m or 12h, or today/yesterday"


def _minus_age(now: datetime, n: int, unit: str) -> datetime:
    """`now` minus n hours/days/weeks/months/years. OverflowError/ValueError when out of range."""
    if unit == "h":
        return now - timedelta(hours=n)
    if unit == "d":
        return now - timedelta(days=n)
    if unit == "w":
        return now - timedelta(weeks=n)
    if unit in ("m", "mo"):
        return _minus_months(now, n)
    return _minus_months(now, 12 * n)


def parse_date_option(s: str, now: datetime) -> datetime:
    """A `--since` value → UTC datetime. Raises ValueError with a one-line message."""
    now = _utc(now)
    text = (s or "").strip()
    if not text:
        raise ValueError(f"empty date: {DATE_OPTION_HELP}")
    m = _AGE_RE.match(text)
    if m:
        try:
            return _minus_age(now, int(m.group(1)), m.group(2).lower())
        except (OverflowError, ValueError):  # past year 1, or too large for a timedelta
            raise ValueError(
                f"date {text!r} is too far back (before year 1): {DATE_OPTION_HELP}"
            ) from None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    else:
        dt = _utc(dt)
        if dt > now + timedelta(days=1):
            raise ValueError(f"date {text!r} is in the future")
        return dt
    lowered = text.lower()
    if lowered in _DATE_WORDS:
        w = parse_time_window(lowered, now)
        if w.since is not None:
            return w.since
    raise ValueError(f"invalid date {text!r}: {DATE_OPTION_HELP}")
