"""Feed health (ok, failing, stale) and the ledger of feed alerts already announced.

`assess` is a pure function: a feed's state, the dates of its articles, the time now and the
thresholds give its health.

- failing: its last fetch failed. Worth an alert once it failed `failures` runs in a row.
  `since` is its last successful fetch (None: never fetched successfully).
- stale: fetched fine, but nothing new for longer than it usually goes without: at least
  `stale_days`, and more for a feed that posts rarely or irregularly (`gap_factor` times the
  90th percentile of its own recent gaps between articles), so a monthly feed is not flagged
  after two weeks. A feed with fewer than `min_history` dated articles has no usual pace and is
  never stale. `since` is its newest article. Replayed over the real feeds in
  ../shared/data (bench/stale_rule.py), this flags a live feed 0.26 times per feed-year; a
  fixed 14 days would 5.0 times, 3x the median gap 1.2 times.

Errors are recorded as technical one-liners (they may name internal hosts or addresses);
`reason_code` turns one into a code the reader side words plainly for everyone, while the raw
text stays for maintainers.

The corpus reads behind it and the ledger of alerts already announced are in
ingest.store.health (the store package is the only one that talks to the databases).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ingest.config import Settings
from ingest.models import FeedState

OK, FAILING, STALE, UNKNOWN = "ok", "failing", "stale", "unknown"
HISTORY = 30  # newest articles per feed that define its usual pace
CLAIM_TTL = timedelta(minutes=10)  # a claim older than this was left by a crashed process
FUTURE_SLACK = timedelta(days=1)  # articles dated further ahead are ignored (bad clocks)


@dataclass(frozen=True)
class Thresholds:
    failures: int = 3  # failed runs in a row before an alert
    stale_days: float = 14.0  # at least this long without a new article before "stale"
    gap_factor: float = 2.0  # ... and this many times its 90th-percentile gap
    min_history: int = 5  # dated articles needed to know a feed's usual pace


def thresholds(settings: Settings) -> Thresholds:
    return Thresholds(failures=settings.alert_failures, stale_days=settings.alert_stale_days)


@dataclass(frozen=True)
class Health:
    feed: str
    status: str  # ok | failing | stale | unknown (never fetched)
    since: datetime | None = None  # failing: last success (None: never); stale: newest article
    reason: str = ""  # failing: a reason code (see REASONS); words for it live in bot.messages
    detail: str = ""  # failing: the recorded error, for maintainers only
    failures: int = 0
    alert: bool = False  # bad enough to tell the maintainers
    usual_gap: timedelta | None = None  # the feed's median gap between articles

    @property
    def announce(self) -> str:
        """What the maintainers should have been told: failing, stale, or ok."""
        return self.status if self.alert else OK


def assess(
    state: FeedState | None,
    published: Iterable[datetime],
    now: datetime,
    limits: Thresholds = Thresholds(),
    name: str = "",
) -> Health:
    """The health of one feed from its state and the dates of its articles (any order)."""
    feed = state.name if state else name
    dates = sorted(d for d in published if d <= now + FUTURE_SLACK)[-HISTORY:]
    gaps = [b - a for a, b in zip(dates, dates[1:], strict=False)]
    known = len(dates) >= limits.min_history
    usual = timedelta(seconds=statistics.median(g.total_seconds() for g in gaps)) if known else None
    longest = sorted(gaps)[min(len(gaps) - 1, int(0.9 * len(gaps)))] if known else None
    if state is None or not (state.last_error or state.last_attempt or state.last_success):
        return Health(feed, UNKNOWN, usual_gap=usual)
    if state.last_error:
        n = max(1, state.consecutive_failures)
        return Health(
            feed,
            FAILING,
            state.last_success,
            reason_code(state.last_error),
            state.last_error,
            n,
            alert=n >= limits.failures,
            usual_gap=usual,
        )
    if longest is not None and dates:
        allowed = max(timedelta(days=limits.stale_days), limits.gap_factor * longest)
        if now - dates[-1] > allowed:
            return Health(feed, STALE, dates[-1], alert=True, usual_gap=usual)
    return Health(feed, OK, usual_gap=usual)


# --------------------------------------------------------------------------- reasons
# (code, pattern over the lower-cased error), first match wins. The texts come from
# ingest.fetch, ingest.netpolicy and ingest.parse.
_REASONS: tuple[tuple[str, str], ...] = (
    ("blocked", r"^refused |only public addresses|never fetched|unsupported url scheme"),
    ("refused", r"connection refused|errno 111\b"),
    ("dns", r"resolve|name or service not known|getaddrinfo|nodename|no address"),
    ("timeout", r"timed out|timeout"),
    ("tls", r"certificate|ssl|tls"),
    ("rate-limited", r"\bhttp 429\b"),
    ("gone", r"\bhttp 40[45]\b|\bhttp 410\b"),
    ("denied", r"\bhttp 40[13]\b|\bhttp 407\b"),
    ("server-error", r"\bhttp 5\d\d\b"),
    ("http", r"\bhttp [34]\d\d\b"),
    ("redirects", r"redirect"),
    ("too-large", r"larger than"),
    ("empty", r"empty response"),
    ("not-a-feed", r"not a feed|html page|rss/atom|parse failed|feed parser failed"),
    ("file", r"file not found|permission denied|not a file|cannot read"),
    ("bad-response", r"decode|corrupt|compressed"),
    ("network", r"connection|network error"),
)
REASONS = tuple(code for code, _ in _REASONS) + ("other",)
_HTTP = re.compile(r"\bHTTP (\d{3})\b")


def reason_code(error: str) -> str:
    """A recorded fetch/parse error → one of REASONS (never its text: it may name hosts)."""
    low = error.lower()
    for code, pattern in _REASONS:
        if re.search(pattern, low):
            return code
    return "other"


def http_status(error: str) -> int | None:
    """The HTTP status an error names, if any (safe to show: it names no host)."""
    m = _HTTP.search(error)
    return int(m.group(1)) if m else None
