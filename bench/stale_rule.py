"""How often would the "stale" rule (ingest.health) have flagged a live feed? Replays the real
feed files in ../shared/data/feeds: at each article, the feed's pace is known from the articles
before it; if the gap until its next article is longer than the rule allows, the rule would
have sent a "stale" alert although the feed was alive (a false alarm; a recovery followed).
Prints false alarms per feed-year for a fixed 14 days, for max(14 days, k × the feed's median
gap) and for the rule used, max(14 days, 2 × its 90th-percentile gap), with the median number of
days each rule waits (how late a feed that really died is noticed). Asserts nothing.

    python bench/stale_rule.py
"""

from __future__ import annotations

import calendar
import statistics
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FEEDS = ROOT.parent / "shared" / "data" / "feeds"

from ingest.health import HISTORY, Thresholds  # noqa: E402


def dates(path: Path) -> list[datetime]:
    parsed = feedparser.parse(path.read_bytes())
    out = set()
    for e in parsed.entries:
        t = e.get("published_parsed") or e.get("updated_parsed")
        if t:
            out.add(datetime.fromtimestamp(calendar.timegm(t), UTC))
    return sorted(d for d in out if d.year >= 2000)


def used_rule(d: datetime, history: list[datetime], limits: Thresholds) -> bool:
    """ingest.health.assess itself: is the feed stale at `d` (just before its next article)?"""
    from ingest.health import STALE, assess
    from ingest.models import FeedState

    state = FeedState(name="f", last_attempt=d, last_success=d)
    return assess(state, history, d, limits).status == STALE


def alarms(ds: list[datetime], factor: float | None, limits: Thresholds) -> tuple[int, list[int]]:
    """(false alarms, days allowed at each point); factor -1 = the rule used (assess)."""
    n, waits = 0, []
    for i in range(limits.min_history - 1, len(ds) - 1):
        hist = ds[max(0, i + 1 - HISTORY) : i + 1]
        gaps = [b - a for a, b in zip(hist, hist[1:], strict=False)]
        allowed = timedelta(days=limits.stale_days)
        if factor == -1:
            n += used_rule(ds[i + 1] - timedelta(seconds=1), hist, limits)
            p90 = sorted(gaps)[min(len(gaps) - 1, int(0.9 * len(gaps)))]
            waits.append(max(allowed, limits.gap_factor * p90).days)
            continue
        if factor is not None:
            allowed = max(allowed, factor * statistics.median(gaps))
        waits.append(allowed.days)
        n += ds[i + 1] - ds[i] > allowed
    return n, waits


def main() -> None:
    limits = Thresholds()
    feeds = {}
    for path in sorted(FEEDS.rglob("*.xml")):
        ds = dates(path)
        if len(ds) >= limits.min_history + 1:
            feeds[path.relative_to(FEEDS)] = ds
    years = sum((ds[-1] - ds[0]).days for ds in feeds.values()) / 365.25
    enough = limits.min_history + 1
    print(f"{len(feeds)} feeds with ≥ {enough} dated articles, {years:.1f} feed-years")
    for label, factor in [("fixed 14 days", None), ("max(14 d, 3× median gap)", 3.0),
                          ("max(14 d, 5× median gap)", 5.0),
                          ("max(14 d, 2× 90th-percentile gap) [used]", -1.0)]:  # fmt: skip
        results = [alarms(ds, factor, limits) for ds in feeds.values()]
        total = sum(n for n, _ in results)
        wait = statistics.median(w for _, ws in results for w in ws)
        print(f"  {label:42s} {total:4d} false alarms, {total / years:5.2f} per feed-year;"
              f" waits {wait:.0f} days (median)")  # fmt: skip
    print("per feed (false alarms: fixed 14 d / used rule):")
    for name, ds in feeds.items():
        gaps = [b - a for a, b in zip(ds, ds[1:], strict=False)]
        med = statistics.median(gaps).total_seconds() / 86400
        print(f"  {str(name):55s} {len(ds):4d} articles, median gap {med:6.1f} d: "
              f"{alarms(ds, None, limits)[0]} / {alarms(ds, -1.0, limits)[0]}")  # fmt: skip


if __name__ == "__main__":
    main()
