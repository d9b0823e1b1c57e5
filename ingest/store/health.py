"""The corpus reads behind feed health (ingest.health.assess: the feed states and their recent
article dates, read through the corpus's Database and FeedStates like every other reader) and
the ledger of feed alerts.

The ledger (table `feed_alerts` in the corpus database) records which health each feed was last
announced with, so a restart or a second process never announces the same thing twice:
`AlertLedger.claim` decides what to announce and claims it in one transaction; `done` records it
as announced, `release` gives it back when sending failed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ingest.config import Settings
from ingest.health import CLAIM_TTL, FAILING, OK, Health, Thresholds, assess, thresholds
from ingest.store.db import Database, SQLiteFile, dt
from ingest.store.feed_states import FeedStates

DEFAULT_THRESHOLDS = Thresholds()


# --------------------------------------------------------------------------- corpus reads
def feed_health(
    db_path: Path,
    now: datetime,
    limits: Thresholds = DEFAULT_THRESHOLDS,
    only: Sequence[str] | None = None,
    *,
    failing_only: bool = False,
) -> list[Health]:
    """The health of every fetched feed (or of `only` those; `failing_only`: of those whose
    last fetch failed), sorted by name; read through the corpus file's one door (Database,
    FeedStates)."""
    if not Path(db_path).exists():
        return []
    db = Database(Path(db_path))
    try:
        feeds = FeedStates(db)
        states = feeds.feed_states()
        if only is not None:
            wanted = set(only)
            states = [s for s in states if s.name in wanted]
        if failing_only:
            states = [s for s in states if s.last_error]
        # the history of those feeds only: reading every feed's grows with the corpus
        history = feeds.recent_dates([s.name for s in states])
    finally:
        db.close()
    return [assess(s, history.get(s.name, ()), now, limits) for s in states]


def health_for(
    settings: Settings, now: datetime, only: Sequence[str] | None = None
) -> list[Health]:
    """feed_health with the corpus and thresholds of these settings."""
    return feed_health(settings.db_path, now, thresholds(settings), only)


def failing_feeds(
    db_path: Path, feeds: Sequence[str], now: datetime, limits: Thresholds = DEFAULT_THRESHOLDS
) -> list[Health]:
    """Those of the named feeds whose last fetch failed (for answers and /latest)."""
    if not feeds:
        return []
    healths = feed_health(db_path, now, limits, only=feeds, failing_only=True)
    return [h for h in healths if h.status == FAILING]


# --------------------------------------------------------------------------- alert ledger
LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS feed_alerts (
    feed TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    since REAL,
    reason TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    failures INTEGER NOT NULL DEFAULT 0,
    announced TEXT NOT NULL DEFAULT 'ok',
    claimed REAL,
    updated REAL NOT NULL
)
"""


@dataclass(frozen=True)
class Notice:
    """One message to send: `health` became what the maintainers should be told now;
    `previous` is what they were told before (ok, failing or stale)."""

    health: Health
    previous: str
    claimed: float

    @property
    def recovered(self) -> bool:
        return self.health.announce == OK


@dataclass(frozen=True)
class AlertRecord:
    feed: str
    status: str
    announced: str
    since: datetime | None


class AlertLedger:
    """What the maintainers were told about each feed (table feed_alerts of the corpus DB),
    opened for each use (a check every CHECK_MINUTES) as every SQLite file is (SQLiteFile)."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)

    def _file(self) -> SQLiteFile:
        return SQLiteFile(self.db_path, LEDGER_SCHEMA)

    def claim(self, healths: Sequence[Health], now: datetime) -> list[Notice]:
        """Record each feed's health and claim every change not announced yet (in one
        transaction: two processes never claim the same change). Feeds not in `healths`
        (removed from the feeds file) are forgotten without a message."""
        stamp = now.timestamp()
        by_feed = {h.feed: h for h in healths}
        notices: list[Notice] = []
        with closing(self._file()) as file, file.tx() as db:
            rows = {
                r[0]: r
                for r in db.execute("SELECT feed, status, announced, claimed FROM feed_alerts")
            }
            for feed in rows.keys() - by_feed.keys():
                db.execute("DELETE FROM feed_alerts WHERE feed=?", (feed,))
            for h in healths:
                row = rows.get(h.feed)
                if row is None and h.announce == OK:
                    continue  # healthy and never announced: nothing to keep
                self._record(db, h, stamp)
                announced = row[2] if row else OK
                claimed = row[3] if row else None
                if h.announce == announced:
                    if h.announce == OK:
                        db.execute("DELETE FROM feed_alerts WHERE feed=?", (h.feed,))
                    continue
                if claimed is not None and stamp - claimed < CLAIM_TTL.total_seconds():
                    continue  # another process is announcing it right now
                db.execute("UPDATE feed_alerts SET claimed=? WHERE feed=?", (stamp, h.feed))
                notices.append(Notice(h, announced, stamp))
        return notices

    @staticmethod
    def _record(db: sqlite3.Connection, h: Health, stamp: float) -> None:
        since = h.since.timestamp() if h.since else None
        db.execute(
            "INSERT INTO feed_alerts(feed, status, since, reason, detail, failures, updated)"
            " VALUES (?,?,?,?,?,?,?) ON CONFLICT(feed) DO UPDATE SET status=excluded.status,"
            " since=excluded.since, reason=excluded.reason, detail=excluded.detail,"
            " failures=excluded.failures, updated=excluded.updated",
            (h.feed, h.announce, since, h.reason, h.detail, h.failures, stamp),
        )

    def done(self, notice: Notice) -> None:
        """The message was sent: record it as announced (a recovery forgets the feed)."""
        with closing(self._file()) as file, file.tx() as db:
            if notice.recovered:
                db.execute(
                    "DELETE FROM feed_alerts WHERE feed=? AND claimed=? AND status=?",
                    (notice.health.feed, notice.claimed, OK),
                )
            db.execute(
                "UPDATE feed_alerts SET announced=?, claimed=NULL WHERE feed=? AND claimed=?",
                (notice.health.announce, notice.health.feed, notice.claimed),
            )

    def release(self, notice: Notice) -> None:
        """Sending failed: the next check tries again."""
        with closing(self._file()) as file:
            file.run(
                "UPDATE feed_alerts SET claimed=NULL WHERE feed=? AND claimed=?",
                (notice.health.feed, notice.claimed),
            )

    def records(self) -> list[AlertRecord]:
        with closing(self._file()) as file:
            rows = file.query(
                "SELECT feed, status, announced, since FROM feed_alerts ORDER BY feed"
            )
        return [AlertRecord(r[0], r[1], r[2], dt(r[3])) for r in rows]
