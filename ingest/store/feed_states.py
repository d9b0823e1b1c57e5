"""Per-feed fetch state (the `feed_state` table): validators, health, warnings, and the feed's
own title and site. Written with a feed's articles in one transaction (ingest.store.articles)
or alone after a failed fetch."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

from ingest.health import HISTORY
from ingest.models import FeedState
from ingest.store.db import Database, dt, marks, ts


class FeedStates:
    """The one reader and writer of `feed_state` (the corpus's feed states, feed health)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def save(self, state: FeedState) -> None:
        with self.db.tx() as db:
            write_state(db, state)

    def feed_states(self) -> list[FeedState]:
        counts = {
            r["feed"]: r["n"]
            for r in self.db.query("SELECT feed, count(*) AS n FROM article_feeds GROUP BY feed")
        }
        return [
            FeedState(
                name=r["name"],
                url=r["url"],
                etag=r["etag"],
                last_modified=r["last_modified"],
                last_attempt=dt(r["last_attempt"]),
                last_success=dt(r["last_success"]),
                last_error=r["last_error"],
                consecutive_failures=r["consecutive_failures"],
                items_last_fetch=r["items_last_fetch"],
                articles_total=counts.get(r["name"], 0),
                warnings=tuple(json.loads(r["warnings"] or "[]")),
                title=r["title"],
                site=r["site"],
            )
            for r in self.db.query("SELECT * FROM feed_state ORDER BY name")
        ]

    def feed_names(self) -> list[str]:
        """Feeds that have delivered at least one stored article."""
        return [r["feed"] for r in self.db.query("SELECT DISTINCT feed FROM article_feeds")]

    def feed_state(self, name: str) -> FeedState | None:
        return next((s for s in self.feed_states() if s.name == name), None)

    def recent_dates(
        self, feeds: Sequence[str], limit: int = HISTORY + 5
    ) -> dict[str, list[datetime]]:
        """Each of `feeds`' newest article dates (published, else when first stored), newest
        first: the history feed health judges a feed's pace by."""
        if not feeds:
            return {}
        rows = self.db.query(
            "SELECT feed, t FROM (SELECT af.feed AS feed, coalesce(a.published, a.first_seen)"
            " AS t, row_number() OVER (PARTITION BY af.feed ORDER BY"
            " coalesce(a.published, a.first_seen) DESC) AS n FROM article_feeds af"
            f" JOIN articles a ON a.id = af.article_id WHERE af.feed IN ({marks(feeds)}))"
            " WHERE n <= ? ORDER BY feed, t DESC",
            (*feeds, limit),
        )
        out: dict[str, list[datetime]] = {}
        for r in rows:
            out.setdefault(r["feed"], []).append(datetime.fromtimestamp(r["t"], UTC))
        return out


def write_state(db: sqlite3.Connection, s: FeedState) -> None:
    db.execute(
        "INSERT OR REPLACE INTO feed_state(name, url, etag, last_modified, last_attempt,"
        " last_success, last_error, consecutive_failures, items_last_fetch, warnings, title, site)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            *(s.name, s.url, s.etag, s.last_modified, ts(s.last_attempt), ts(s.last_success)),
            *(s.last_error, s.consecutive_failures, s.items_last_fetch),
            json.dumps(list(s.warnings), ensure_ascii=False),
            s.title,
            s.site,
        ),
    )
