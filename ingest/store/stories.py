"""Stories: articles about the same event, from any feeds, grouped into one story.

This module owns the story tables of the corpus SQLite database and the read API every process
uses (the bot, the CLI, the Discord layer). The grouping itself (which article joins which story)
is in ingest.story_grouping; it writes through ingest.store.story_writer.StoryWriter.

Tables (created on first use, next to the tables of ingest.store; a separate connection to the
same database file, opened the way ingest.store opens it: WAL, busy timeout, foreign keys):

- `stories`: one row per story: title, primary article, first seen / last updated (the earliest
  and latest publication date of its dated articles; when none is dated, when they were grouped,
  and the story is `undated`: listed after the dated ones, outside any date window),
  `created_seq` and `seq` (a corpus-wide monotonic sequence: `seq` is bumped each time the story
  gains an article, so a watcher reads "stories changed after my watermark" and notifies once
  per story).
- `story_articles`: its articles. `role` is the primary rank (see `primary_rank`); `chunk_id` is
  the section of a newsletter issue that ties it to this story ('' for the whole article). An
  issue covering several events has one row per story. Rows go when their article is deleted
  (retention), and a story with no article left is deleted with them.
- `story_seq`: the last sequence number given (never reused, even when stories are deleted).
- `story_grouped`: the articles the grouping has seen (so grouping is incremental: only articles
  embedded since the last run are grouped; the first run after an upgrade groups the corpus
  that is there, once).

Primary source rule (the order of a story's articles): the lowest `primary_rank` first, then the
earliest publication day, then the most central article (its lead closest, on average, to the
leads of the story's other articles: a launch's announcement before the customer stories posted
the same day), then the earliest publication time and the article id. Ranks come from the tags of
the feeds that carried the article (feeds.toml); an article in several feeds takes its best rank:
  0  an original publisher: a feed tagged lab, research, company, official, government, arxiv
     or papers (the lab's own post);
  1  anything else: blogs, press, untagged feeds;
  2  a feed that relays others' news: tagged newsletter, community, aggregator, digest or roundup.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from ingest.config import Settings
from ingest.store.db import SQLiteFile, marks

# The order of a story's articles (see the module doc), over story_articles `sa`.
PRIMARY_ORDER = (
    "sa.role, CAST(coalesce(sa.published, sa.added) / 86400 AS INTEGER), -sa.similarity,"
    " coalesce(sa.published, sa.added), sa.article_id"
)
PRIMARY_TAGS = frozenset(
    {"lab", "research", "company", "official", "government", "arxiv", "papers"}
)
RELAY_TAGS = frozenset({"newsletter", "community", "aggregator", "digest", "roundup"})
ORIGINAL, OTHER, RELAY = 0, 1, 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS stories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    primary_article TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_updated REAL NOT NULL,
    undated INTEGER NOT NULL DEFAULT 0,
    created_seq INTEGER NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS stories_seq ON stories(seq);
CREATE INDEX IF NOT EXISTS stories_last_updated ON stories(last_updated);
CREATE TABLE IF NOT EXISTS story_articles (
    story_id INTEGER NOT NULL REFERENCES stories(id) ON DELETE CASCADE,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    role INTEGER NOT NULL,
    chunk_id TEXT NOT NULL DEFAULT '',
    similarity REAL NOT NULL DEFAULT 1.0,
    published REAL,
    added REAL NOT NULL,
    PRIMARY KEY (story_id, article_id)
);
CREATE INDEX IF NOT EXISTS story_articles_article ON story_articles(article_id);
-- a story's primary article and dates without reading all its articles (story_writer._refresh)
CREATE INDEX IF NOT EXISTS story_articles_primary ON story_articles(story_id, role,
    CAST(coalesce(published, added) / 86400 AS INTEGER), -similarity, coalesce(published, added),
    article_id);
CREATE INDEX IF NOT EXISTS story_articles_published ON story_articles(story_id, published);
CREATE INDEX IF NOT EXISTS story_articles_added ON story_articles(story_id, added);
CREATE TABLE IF NOT EXISTS story_grouped (
    article_id TEXT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
    grouped REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS story_seq (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    value INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS stories_drop_empty AFTER DELETE ON story_articles
WHEN NOT EXISTS (SELECT 1 FROM story_articles WHERE story_id = OLD.story_id)
BEGIN DELETE FROM stories WHERE id = OLD.story_id; END;
"""


@dataclass(frozen=True)
class StoryArticle:
    """One article of a story (primary first in `Story.articles`)."""

    article_id: str
    url: str
    title: str
    feed: str  # the first of `feeds`
    published: datetime | None
    feeds: tuple[str, ...] = ()
    role: int = OTHER  # primary rank: 0 original publisher, 1 other, 2 relay (newsletter)

    @property
    def host(self) -> str:
        return (urlparse(self.url).hostname or "").removeprefix("www.")

    def to_json(self) -> dict[str, object]:
        return {
            "article_id": self.article_id,
            "url": self.url,
            "title": self.title,
            "feed": self.feed,
            "feeds": list(self.feeds or (self.feed,)),
            "published": self.published.isoformat() if self.published else None,
        }


@dataclass(frozen=True)
class Story:
    """Articles about one event. `articles` are ordered primary first (see the module doc)."""

    id: int
    title: str
    first_seen: datetime
    last_updated: datetime
    articles: tuple[StoryArticle, ...]
    seq: int = 0  # the corpus-wide sequence number of its last change (watermarks)
    created_seq: int = 0  # the sequence number of its creation

    @property
    def primary(self) -> StoryArticle:
        return self.articles[0]

    def reported_by(self, article_ids: Iterable[str]) -> bool:
        """Whether any of these articles reports this story: one of its own articles, not a
        newsletter that covers it among other events (unless only newsletters carry it)."""
        wanted = set(article_ids)
        own = [a for a in self.articles if a.role != RELAY] or list(self.articles)
        return any(a.article_id in wanted for a in own)

    @property
    def source_count(self) -> int:
        """How many publishers carry it: distinct hosts of its articles' links."""
        return len({a.host or a.url for a in self.articles})

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "first_seen": self.first_seen.isoformat(),
            "last_updated": self.last_updated.isoformat(),
            "sources": self.source_count,
            "url": self.primary.url,
            "articles": [a.to_json() for a in self.articles],
        }


def primary_rank(tags: Iterable[str]) -> int:
    """0 original publisher, 1 other, 2 relay (see the module doc) for one feed's tags."""
    lowered = {t.lower() for t in tags}
    if lowered & PRIMARY_TAGS:
        return ORIGINAL
    if lowered & RELAY_TAGS:
        return RELAY
    return OTHER


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def open_story_tables(settings: Settings) -> SQLiteFile:
    """The story tables of the corpus file, for their reader (StoryStore) and their writer
    (ingest.store.story_writer). synchronous=NORMAL: a commit lost to a power cut leaves its
    articles ungrouped, and the next run groups them again; a backfill is not slowed by one
    fsync per article."""
    return SQLiteFile(settings.db_path, SCHEMA, synchronous="NORMAL")


class StoryStore:
    """The story tables: read by every process, written by the ingest job's grouping."""

    def __init__(self, settings: Settings) -> None:
        self._file = open_story_tables(settings)

    def close(self) -> None:
        self._file.close()

    # ------------------------------------------------------------------ reader side
    def watermark(self) -> int:
        """The sequence number of the latest change (0: no story yet). A watcher that starts now
        keeps this and later asks `changed_after(it)`."""
        rows = self._file.query("SELECT value FROM story_seq")
        return int(rows[0]["value"]) if rows else 0

    def changed_after(self, watermark: int, limit: int = 100) -> list[Story]:
        """Stories created or given a new article after `watermark`, oldest change first (so
        a watcher can advance its watermark to the last one it handled). A story created after
        the watermark has `created_seq > watermark`; one only updated has it below."""
        rows = self._file.query(
            "SELECT * FROM stories WHERE seq > ? ORDER BY seq LIMIT ?", (watermark, int(limit))
        )
        return self._build(rows)

    def stories(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        feeds: Sequence[str] = (),
        article_ids: Sequence[str] | None = None,
        limit: int = 20,
    ) -> list[Story]:
        """Stories newest first (by last update). `since`/`until` keep the stories with an
        article published in the window; `feeds` those carried by any of these feeds;
        `article_ids` those holding any of these articles (a topic match)."""
        where: list[str] = ["1=1"]
        params: list[Any] = []
        if since is not None or until is not None:
            where.append("s.undated = 0")
        if since is not None:
            where.append("s.last_updated >= ?")
            params.append(since.timestamp())
        if until is not None:
            where.append("s.first_seen < ?")
            params.append(until.timestamp())
        if feeds:
            where.append(
                "s.id IN (SELECT sa.story_id FROM story_articles sa JOIN article_feeds f"
                f" ON f.article_id = sa.article_id WHERE f.feed IN ({marks(feeds)}))"
            )
            params += list(feeds)
        if article_ids is not None:
            ids = list(dict.fromkeys(article_ids))[:900]
            if not ids:
                return []
            where.append(
                f"s.id IN (SELECT story_id FROM story_articles WHERE article_id IN ({marks(ids)}))"
            )
            params += ids
        rows = self._file.query(
            f"SELECT s.* FROM stories s WHERE {' AND '.join(where)}"
            " ORDER BY s.undated, s.last_updated DESC, s.id DESC LIMIT ?",
            [*params, int(limit)],
        )
        return self._build(rows)

    def story(self, story_id: int) -> Story | None:
        found = self._build(self._file.query("SELECT * FROM stories WHERE id=?", (story_id,)))
        return found[0] if found else None

    def article_ids_by_url(self, urls: Sequence[str]) -> dict[str, str]:
        """Stored article ids by link (links as stored: canonical)."""
        out: dict[str, str] = {}
        unique = list(dict.fromkeys(urls))
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            for r in self._file.query(
                f"SELECT id, url FROM articles WHERE url IN ({marks(part)})", part
            ):
                out[r["url"]] = r["id"]
        return out

    def stories_of(self, article_ids: Sequence[str]) -> dict[str, list[int]]:
        """The stories each of these articles belongs to."""
        out: dict[str, list[int]] = {}
        ids = list(dict.fromkeys(article_ids))
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            for r in self._file.query(
                "SELECT article_id, story_id FROM story_articles"
                f" WHERE article_id IN ({marks(part)}) ORDER BY story_id",
                part,
            ):
                out.setdefault(r["article_id"], []).append(int(r["story_id"]))
        return out

    def primary_order(self, article_ids: Sequence[str]) -> list[str]:
        """`article_ids` (cited sources, in answer order) with each story's primary source
        moved to the place of the first of its story's articles, when it is among them and
        ranks before that article by source (a lab's post before the newsletter that covers
        it). Everything else keeps its order."""
        out = list(dict.fromkeys(article_ids))
        if len(out) < 2:
            return out
        for members in self._stories_members(out).values():
            roles = dict(members)
            primary = members[0][0]
            cited = [a for a in out if a in roles]
            if len(cited) < 2 or primary not in out or roles[primary] >= roles[cited[0]]:
                continue
            out.remove(primary)
            out.insert(out.index(cited[0]), primary)
        return out

    def _stories_members(self, ids: Sequence[str]) -> dict[int, list[tuple[str, int]]]:
        """(article, role) of every article of the stories of these articles, primary first."""
        out: dict[int, list[tuple[str, int]]] = {}
        for start in range(0, len(ids), 500):
            part = list(ids[start : start + 500])
            for r in self._file.query(
                "SELECT sa.story_id, sa.article_id, sa.role FROM story_articles sa"
                " WHERE sa.story_id IN (SELECT story_id FROM story_articles"
                f" WHERE article_id IN ({marks(part)})) ORDER BY sa.story_id, {PRIMARY_ORDER}",
                part,
            ):
                members = out.setdefault(int(r["story_id"]), [])
                if all(a != r["article_id"] for a, _ in members):
                    members.append((r["article_id"], int(r["role"])))
        return out

    def _build(self, rows: Sequence[sqlite3.Row]) -> list[Story]:
        if not rows:
            return []
        ids = [int(r["id"]) for r in rows]
        members: dict[int, list[StoryArticle]] = {}
        for r in self._file.query(
            "SELECT sa.story_id, sa.article_id, sa.role, a.url, a.title, a.published,"
            " coalesce(a.published, sa.added) AS t,"
            " (SELECT group_concat(feed, char(31)) FROM (SELECT feed FROM article_feeds f"
            "   WHERE f.article_id = sa.article_id ORDER BY feed)) AS feeds"
            " FROM story_articles sa JOIN articles a ON a.id = sa.article_id"
            f" WHERE sa.story_id IN ({marks(ids)})"
            f" ORDER BY sa.story_id, {PRIMARY_ORDER}",
            ids,
        ):
            feeds = tuple(f for f in (r["feeds"] or "").split("\x1f") if f)
            members.setdefault(int(r["story_id"]), []).append(
                StoryArticle(
                    article_id=r["article_id"],
                    url=r["url"],
                    title=r["title"],
                    feed=feeds[0] if feeds else "",
                    published=_dt(r["published"]) if r["published"] is not None else None,
                    feeds=feeds,
                    role=int(r["role"]),
                )
            )
        return [
            Story(
                id=int(r["id"]),
                title=r["title"],
                first_seen=_dt(r["first_seen"]),
                last_updated=_dt(r["last_updated"]),
                articles=tuple(members[int(r["id"])]),
                seq=int(r["seq"]),
                created_seq=int(r["created_seq"]),
            )
            for r in rows
            if members.get(int(r["id"]))
        ]
