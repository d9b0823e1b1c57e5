"""The article and feed-state tables: what the feeds delivered, which of it still needs
embedding, and the queries readers filter and list articles by.

The pending-hash model (enforced here):
- An article row carries the hash of its stored text (`content_hash`) and the hash of the text
  its vectors were made from (`embedded_hash`). It is *pending* while they differ (or
  `embedded_hash` is NULL). Nothing else marks work to do: a run killed anywhere leaves the
  hashes saying exactly which articles the next run must (re)embed.
- Articles are stored before they are embedded: the embed pass takes its work from
  `pending_ids` and its text from `load_articles`, both read from these tables, so no vector can
  exist for text that is not stored.
- An article whose text cannot be embedded (one item's error) is set aside with that error
  (`set_aside`): not pending while its text stays the same, so it never blocks the others; a
  new text, `ingest --reindex` or `--reindex --feed` tries it again.
- `embedded_hash` is set only by `mark_embedded`, inside the transaction that writes the chunk
  rows, after the vectors were written (see `Corpus.store_embeddings`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from ingest.models import Article, FeedState, utcnow
from ingest.store.db import Database, batches, dt, marks, ts
from ingest.store.feed_states import write_state

# Pending: no vectors of this text yet, and not set aside for this text (`set_aside`).
_PENDING = (
    "(embedded_hash IS NULL OR embedded_hash != content_hash) AND NOT EXISTS (SELECT 1 FROM"
    " set_aside x WHERE x.article_id = articles.id AND x.content_hash = articles.content_hash)"
)


def _rows_from(source: str) -> str:
    """The article rows, with their feeds, of `source` (a table or a subquery), aliased `a`."""
    return (
        "SELECT a.id, a.url, a.title, a.text, a.author, a.published,"
        f" group_concat(f.feed, char(31)) AS feeds FROM {source} a"
        " LEFT JOIN article_feeds f ON f.article_id = a.id"
    )


_ROW_SELECT = _rows_from("articles")


@dataclass(frozen=True)
class UpsertOutcome:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class ArticleRow:
    id: str
    url: str
    title: str
    text: str
    feeds: tuple[str, ...]
    published: datetime | None
    author: str = ""


def _where(
    feed: str | None, since: datetime | None, until: datetime | None = None
) -> tuple[list[str], list[Any]]:
    """SQL conditions on `articles a` for the feed and date filters, with their parameters."""
    where: list[str] = ["1=1"]
    params: list[Any] = []
    if feed:
        where.append("a.id IN (SELECT article_id FROM article_feeds WHERE feed=?)")
        params.append(feed)
    if since:
        where.append("a.published >= ?")
        params.append(since.timestamp())
    if until:
        where.append("a.published < ?")
        params.append(until.timestamp())
    return where, params


def _row(r: sqlite3.Row) -> ArticleRow:
    feeds = tuple(sorted(set((r["feeds"] or "").split("\x1f")) - {""}))
    return ArticleRow(
        id=r["id"],
        url=r["url"],
        title=r["title"],
        text=r["text"],
        feeds=feeds,
        published=dt(r["published"]),
        author=r["author"],
    )


class Articles:
    """Articles, the feeds that delivered them, and each feed's fetch state."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ writer side
    def upsert_feed(
        self, feed: str, articles: Iterable[Article], state: FeedState
    ) -> UpsertOutcome:
        """Store one feed's articles and its new state in ONE transaction.

        Rule: feed state (ETag, Last-Modified) commits with the feed's articles, so a later 304
        can never hide articles that were not stored. Duplicates (same id from another feed)
        are merged: see `_merge`.
        """
        counts = {"new": 0, "updated": 0, "unchanged": 0}
        now = utcnow().timestamp()
        with self.db.tx() as db:
            for a in articles:
                counts[self._upsert_one(db, feed, a, now)] += 1
            write_state(db, state)
        return UpsertOutcome(**counts)

    def _upsert_one(self, db: sqlite3.Connection, feed: str, a: Article, now: float) -> str:
        """Store one delivered article; "new", "updated" or "unchanged"."""
        row = db.execute(
            "SELECT content_hash, text_feed, length(text) AS n, published, author"
            " FROM articles WHERE id=?",
            (a.id,),
        ).fetchone()
        seen = db.execute(
            "SELECT content_hash FROM article_feeds WHERE article_id=? AND feed=?",
            (a.id, feed),
        ).fetchone()
        if row is None:  # new: pending until embedded (embedded_hash NULL)
            db.execute(
                "INSERT INTO articles(id, url, guid, title, text, author, published, tags,"
                " text_feed, content_hash, embedded_hash, first_seen, updated)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,NULL,?,?)",
                (
                    *(a.id, a.url, a.guid, a.title, a.text, a.author, ts(a.published)),
                    *(json.dumps(list(a.tags)), feed, a.content_hash, now, now),
                ),
            )
        db.execute(
            "INSERT INTO article_feeds(article_id, feed, content_hash) VALUES (?,?,?) "
            "ON CONFLICT(article_id, feed) DO UPDATE SET content_hash=excluded.content_hash",
            (a.id, feed, a.content_hash),
        )
        if row is None:
            return "new"
        return "updated" if self._merge(db, feed, a, row, seen, now) else "unchanged"

    @staticmethod
    def _merge(
        db: sqlite3.Connection,
        feed: str,
        a: Article,
        row: sqlite3.Row,
        seen: sqlite3.Row | None,
        now: float,
    ) -> bool:
        """Merge a copy of a stored article; True if its text changed (it becomes pending).

        The stored text is the longest copy seen (or the latest from the feed it came from); a
        feed's unchanged copy never makes the article pending again. A missing date or author
        is filled in without re-embedding (metadata only)."""
        if row["published"] is None and a.published is not None:
            db.execute("UPDATE articles SET published=? WHERE id=?", (ts(a.published), a.id))
        if not row["author"] and a.author:
            db.execute("UPDATE articles SET author=? WHERE id=?", (a.author, a.id))
        copy_changed = seen is None or seen["content_hash"] != a.content_hash
        replaces = row["text_feed"] == feed or len(a.text) > row["n"]
        if not (copy_changed and replaces and row["content_hash"] != a.content_hash):
            return False
        db.execute(
            "UPDATE articles SET url=?, guid=?, title=?, text=?, author=?, tags=?,"
            " text_feed=?, content_hash=?, updated=? WHERE id=?",
            (
                *(a.url, a.guid, a.title, a.text, a.author, json.dumps(list(a.tags))),
                *(feed, a.content_hash, now, a.id),
            ),
        )
        return True

    def mark_feed_pending(self, feed: str) -> int:
        """Make the articles of one feed pending, so the next embed pass redoes them."""
        with self.db.tx() as db:
            db.execute(
                "DELETE FROM set_aside WHERE article_id IN "
                "(SELECT article_id FROM article_feeds WHERE feed=?)",
                (feed,),
            )
            cur = db.execute(
                "UPDATE articles SET embedded_hash=NULL WHERE id IN "
                "(SELECT article_id FROM article_feeds WHERE feed=?)",
                (feed,),
            )
            return cur.rowcount

    @staticmethod
    def mark_embedded(db: sqlite3.Connection, article_id: str, content_hash: str) -> None:
        """Inside the caller's transaction: the article's vectors are those of this text."""
        db.execute("UPDATE articles SET embedded_hash=? WHERE id=?", (content_hash, article_id))

    def set_aside(self, article_id: str, content_hash: str, error: str) -> None:
        """This text of the article could not be embedded: stop trying until it changes."""
        with self.db.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO set_aside(article_id, content_hash, error, at)"
                " VALUES (?,?,?,?)",
                (article_id, content_hash, error, utcnow().timestamp()),
            )

    def clear_set_aside(self) -> int:
        """Try every set-aside article again (a full reindex)."""
        return self.db.run("DELETE FROM set_aside")

    def set_aside_articles(self) -> list[tuple[ArticleRow, str, datetime | None]]:
        """The articles set aside for their current text: (row, error, when), newest first."""
        rows = self.db.query(
            "SELECT x.article_id, x.error, x.at FROM set_aside x JOIN articles a"
            " ON a.id = x.article_id AND a.content_hash = x.content_hash ORDER BY x.at DESC"
        )
        by_id = {r.id: r for r in self.article_rows([r["article_id"] for r in rows])}
        return [(by_id[r["article_id"]], r["error"], dt(r["at"])) for r in rows]

    @staticmethod
    def adopt_rebuilt_hashes(db: sqlite3.Connection) -> None:
        """Inside the reindex switch: every article's vectors are now the rebuilt ones."""
        db.execute(
            "UPDATE articles SET embedded_hash = (SELECT r.content_hash FROM"
            " rebuild_articles r WHERE r.article_id = articles.id)"
        )

    @staticmethod
    def delete(db: sqlite3.Connection, ids: Sequence[str]) -> None:
        """Inside the caller's transaction; feeds and chunk rows go with them (cascade)."""
        db.execute(f"DELETE FROM articles WHERE id IN ({marks(ids)})", ids)

    def published_before(self, cutoff: datetime) -> list[str]:
        """Ids of articles published before `cutoff` (undated ones never are)."""
        rows = self.db.query("SELECT id FROM articles WHERE published < ?", (cutoff.timestamp(),))
        return [r["id"] for r in rows]

    # ------------------------------------------------------------------ pending work
    def known_ids(self, feed: str, ids: Sequence[str]) -> set[str]:
        """Which of these article ids this feed has already delivered."""
        known: set[str] = set()
        for part in batches(ids):
            known |= {
                r["article_id"]
                for r in self.db.query(
                    "SELECT article_id FROM article_feeds"
                    f" WHERE feed=? AND article_id IN ({marks(part)})",
                    [feed, *part],
                )
            }
        return known

    def pending_ids(self, limit: int | None = None) -> list[str]:
        """Articles whose vectors are missing or from an older text, newest first."""
        sql = f"SELECT id FROM articles WHERE {_PENDING} ORDER BY published DESC"
        rows = self.db.query(sql + (f" LIMIT {int(limit)}" if limit else ""))
        return [r["id"] for r in rows]

    def pending_count(self) -> int:
        return int(self.db.query(f"SELECT count(*) AS n FROM articles WHERE {_PENDING}")[0]["n"])

    def load_articles(self, ids: Sequence[str]) -> list[tuple[Article, tuple[str, ...]]]:
        """Articles by id with all their feeds (for chunking), in the order given."""
        out = []
        by_id = {r.id: r for r in self.article_rows(ids)}
        for i in ids:
            r = by_id.get(i)
            if r is None:
                continue
            art = Article(
                id=r.id,
                url=r.url,
                title=r.title,
                text=r.text,
                feed=r.feeds[0] if r.feeds else "",
                author=r.author,
                published=r.published,
            )
            out.append((art, r.feeds))
        return out

    # ------------------------------------------------------------------ reader side
    def article_rows(self, ids: Sequence[str]) -> list[ArticleRow]:
        out: list[ArticleRow] = []
        for part in batches(ids):
            rows = self.db.query(f"{_ROW_SELECT} WHERE a.id IN ({marks(part)}) GROUP BY a.id", part)
            out += [_row(r) for r in rows]
        return out

    def latest_articles(
        self,
        limit: int = 10,
        *,
        feed: str | None = None,
        since: datetime | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[ArticleRow]:
        """Newest articles first (undated ones last)."""
        where, params = _where(feed, since)
        if ids is not None:
            where.append("a.id IN (SELECT id FROM temp.filter_ids)")
        # The newest `limit` articles first (index articles_recency: read in order, stopping at
        # `limit`), then their feeds: grouping every article before sorting grew with the corpus
        # (450 ms at 29,000 articles, 0.3 ms this way).
        newest = (
            f"SELECT a.* FROM articles a WHERE {' AND '.join(where)}"
            " ORDER BY a.published IS NULL, a.published DESC LIMIT ?"
        )
        sql = (
            f"{_rows_from(f'({newest})')} GROUP BY a.id"
            " ORDER BY a.published IS NULL, a.published DESC"
        )
        if ids is None:
            rows = self.db.query(sql, [*params, int(limit)])
        else:
            with self.db.read_with_ids(ids) as db:
                rows = db.execute(sql, [*params, int(limit)]).fetchall()
        return [_row(r) for r in rows]

    def filter_article_ids(
        self, *, feed: str | None, since: datetime | None, until: datetime | None
    ) -> list[str]:
        where, params = _where(feed, since, until)
        sql = f"SELECT a.id FROM articles a WHERE {' AND '.join(where)}"
        return [r["id"] for r in self.db.query(sql, params)]

    def select_article_ids(
        self,
        *,
        feeds: Sequence[str] = (),
        author: str = "",
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[str]:
        """Ids of articles in any of `feeds`, by `author` (a name within the author field), in
        the window; each condition only when given."""
        where, params = _where(None, since, until)
        if feeds:
            where.append(
                f"a.id IN (SELECT article_id FROM article_feeds WHERE feed IN ({marks(feeds)}))"
            )
            params += list(feeds)
        if author:
            where.append("instr(lower(a.author), ?) > 0")
            params.append(author.lower())
        sql = f"SELECT a.id FROM articles a WHERE {' AND '.join(where)}"
        return [r["id"] for r in self.db.query(sql, params)]

    def source_facts(self) -> tuple[dict[str, list[str]], dict[str, dict[str, int]]]:
        """Per feed: the hosts its article links point to (most common first) and how many of
        its articles each author wrote. What a question may call a source by."""
        hosts: dict[str, dict[str, int]] = {}
        authors: dict[str, dict[str, int]] = {}
        rows = self.db.query(
            "SELECT f.feed, a.url, a.author FROM articles a JOIN article_feeds f"
            " ON f.article_id = a.id"
        )
        for r in rows:
            host = (urlparse(r["url"]).hostname or "").removeprefix("www.")
            if host:
                hosts.setdefault(r["feed"], {}).setdefault(host, 0)
                hosts[r["feed"]][host] += 1
            if r["author"]:
                counts = authors.setdefault(r["feed"], {})
                counts[r["author"]] = counts.get(r["author"], 0) + 1
        top_hosts = {
            feed: [
                h for h, n in sorted(c.items(), key=lambda kv: -kv[1]) if n >= 0.3 * max(c.values())
            ][:2]
            for feed, c in hosts.items()
        }
        return top_hosts, authors

    def heads(self, chars: int = 600, limit: int = 5000) -> Iterator[str]:
        """The newest articles' titles and the start of their text (vocabulary statistics)."""
        for r in self.db.query(
            "SELECT title || ' ' || substr(text, 1, ?) AS t FROM articles"
            " ORDER BY published IS NULL, published DESC LIMIT ?",
            (chars, limit),
        ):
            yield r["t"]

    def newest_published(self) -> datetime | None:
        rows = self.db.query(
            "SELECT max(published) AS p FROM articles WHERE published <= ?",
            (utcnow().timestamp() + 86400,),
        )
        return dt(rows[0]["p"])

    def counts(self) -> dict[str, Any]:
        r = self.db.query(
            "SELECT (SELECT count(*) FROM articles) AS articles,"
            " (SELECT count(*) FROM chunks) AS chunks,"
            " (SELECT count(DISTINCT feed) FROM article_feeds) AS feeds,"
            " (SELECT min(published) FROM articles) AS oldest"
        )[0]
        return dict(r)
