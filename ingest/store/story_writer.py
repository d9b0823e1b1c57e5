"""The writer side of the story tables (see ingest.store.stories for the tables and their rules):
what the grouping reads back and how it records its decisions, one transaction per article.
Only the ingest job's grouping writes stories; every reader uses StoryStore."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from ingest.config import Settings
from ingest.models import utcnow
from ingest.store.stories import PRIMARY_ORDER, open_story_tables


def _ts(dt: datetime | None) -> float | None:
    return dt.timestamp() if dt else None


@dataclass(frozen=True)
class Membership:
    """What the grouping decided for one article: join `story_id` (None: a new story)."""

    article_id: str
    story_id: int | None
    role: int
    published: datetime | None
    chunk_id: str = ""
    similarity: float = 1.0


@dataclass(frozen=True)
class Member:
    """A story's article as the grouping reads it back."""

    story_id: int
    article_id: str
    role: int
    chunk_id: str  # '' when the whole article is about the story (an anchor)
    story_first_seen: float  # epoch seconds
    story_last_updated: float = 0.0


class StoryWriter:
    """The grouping's own reads of the story tables and its writes (not a StoryStore: the
    grouping never reads stories the way their readers do)."""

    def __init__(self, settings: Settings) -> None:
        self._file = open_story_tables(settings)

    def close(self) -> None:
        self._file.close()

    def ungrouped(self) -> list[str]:
        """Embedded articles the grouping has not seen, oldest publication first."""
        rows = self._file.query(
            "SELECT a.id FROM articles a LEFT JOIN story_grouped g ON g.article_id = a.id"
            " WHERE g.article_id IS NULL AND a.embedded_hash = a.content_hash"
            " ORDER BY coalesce(a.published, a.first_seen), a.id"
        )
        return [r["id"] for r in rows]

    def reset(self) -> None:
        """Forget every story (the next grouping regroups the whole corpus). The sequence
        keeps counting, so watchers never see a number twice."""
        with self._file.tx() as db:
            db.execute("DELETE FROM story_articles")
            db.execute("DELETE FROM stories")
            db.execute("DELETE FROM story_grouped")

    def grouped_count(self) -> int:
        return int(self._file.query("SELECT count(*) AS n FROM story_grouped")[0]["n"])

    def candidates(self, start: datetime, end: datetime) -> list[Member]:
        """The articles of the stories with news in the window (first seen before its end,
        last updated after its start)."""
        rows = self._file.query(
            "SELECT sa.story_id, sa.article_id, sa.role, sa.chunk_id, s.first_seen,"
            " s.last_updated FROM stories s JOIN story_articles sa ON sa.story_id = s.id"
            " WHERE s.last_updated >= ? AND s.first_seen <= ?",
            (start.timestamp(), end.timestamp()),
        )
        return [Member(int(r[0]), r[1], int(r[2]), r[3], float(r[4]), float(r[5])) for r in rows]

    def story_dates(self, story_ids: Sequence[int]) -> dict[int, tuple[float, float]]:
        """(first seen, last updated) of these stories (those that still exist)."""
        rows = self._file.query(
            "SELECT id, first_seen, last_updated FROM stories"
            f" WHERE id IN ({','.join('?' * len(story_ids))})",
            list(story_ids),
        )
        return {int(r[0]): (float(r[1]), float(r[2])) for r in rows}

    def record(
        self,
        article_id: str,
        title: str,
        joins: Sequence[Membership],
        links: Sequence[Membership] = (),
        merge: Sequence[int] = (),
        central: Sequence[tuple[int, str, float]] = (),
    ) -> list[int]:
        """Record the grouping of one article in one transaction: it joins each story of
        `joins` (a Membership with story_id None starts a story titled `title`); each of
        `links` (sections of other articles, e.g. an earlier newsletter issue that covered the
        event first) joins its story, or with story_id None the story this article is in first;
        the stories of `merge` (that this article showed to be the same event) are folded into
        that story; `central` gives the anchors of its story their new centrality (story, article,
        mean similarity to the story's other anchors: the primary-order tie-break); and the
        article is marked grouped. Returns the story ids it is now in."""
        now = utcnow().timestamp()
        out: list[int] = []
        with self._file.tx() as db:
            row = db.execute("SELECT value FROM story_seq").fetchone()
            seq = int(row[0]) if row else 0
            for m in joins:
                seq += 1
                out.append(self._join(db, m, title, seq, now))
            for m in links:
                sid = m.story_id if m.story_id is not None else (out[0] if out else None)
                if sid is not None:
                    seq += 1
                    self._join(db, replace(m, story_id=sid), title, seq, now)
            if out and (central or merge):
                seq += 1
                self._fold(db, out[0], [o for o in merge if o not in out], central)
                self._refresh(db, out[0], seq)
            db.execute("INSERT OR REPLACE INTO story_seq(one, value) VALUES (1, ?)", (seq,))
            db.execute(
                "INSERT OR REPLACE INTO story_grouped(article_id, grouped) VALUES (?, ?)",
                (article_id, now),
            )
        return out

    def _join(self, db: sqlite3.Connection, m: Membership, title: str, seq: int, now: float) -> int:
        """Add the membership (starting its story when story_id is None); the story id."""
        sid = m.story_id
        if sid is None:
            when = _ts(m.published) or now
            cur = db.execute(
                "INSERT INTO stories(title, primary_article, first_seen, last_updated,"
                " created_seq, seq) VALUES (?,?,?,?,?,?)",
                (title, m.article_id, when, when, seq, seq),
            )
            sid = int(cur.lastrowid or 0)
        self._add(db, sid, m, now)
        self._refresh(db, sid, seq)
        return sid

    @staticmethod
    def _fold(
        db: sqlite3.Connection,
        into: int,
        others: Sequence[int],
        central: Sequence[tuple[int, str, float]],
    ) -> None:
        """Move the articles of `others` into story `into` (deleting them), then set the
        centrality of its anchors."""
        for other in others:
            db.execute(
                "INSERT OR IGNORE INTO story_articles SELECT ?, article_id, role, chunk_id,"
                " similarity, published, added FROM story_articles WHERE story_id=?",
                (into, other),
            )
            db.execute("DELETE FROM stories WHERE id=?", (other,))
        for sid, aid, value in central:
            db.execute(
                "UPDATE story_articles SET similarity=? WHERE story_id=? AND article_id=?",
                (value, sid, aid),
            )

    @staticmethod
    def _add(db: sqlite3.Connection, story_id: int, m: Membership, now: float) -> None:
        db.execute(
            "INSERT OR IGNORE INTO story_articles(story_id, article_id, role, chunk_id,"
            " similarity, published, added) VALUES (?,?,?,?,?,?,?)",
            (story_id, m.article_id, m.role, m.chunk_id, m.similarity, _ts(m.published), now),
        )

    @staticmethod
    def _refresh(db: sqlite3.Connection, story_id: int, seq: int) -> None:
        """Dates, primary article and title of a story after it gained an article."""
        first = db.execute(
            "SELECT sa.article_id, a.title FROM story_articles sa"
            " JOIN articles a ON a.id = sa.article_id WHERE sa.story_id=?"
            f" ORDER BY {PRIMARY_ORDER} LIMIT 1",
            (story_id,),
        ).fetchone()
        span = db.execute(  # one indexed lookup each (a story may hold thousands of articles)
            "SELECT (SELECT min(published) FROM story_articles WHERE story_id=:s),"
            " (SELECT max(published) FROM story_articles WHERE story_id=:s),"
            " (SELECT min(added) FROM story_articles WHERE story_id=:s),"
            " (SELECT max(added) FROM story_articles WHERE story_id=:s)",
            {"s": story_id},
        ).fetchone()
        undated = span[0] is None  # then the dates are when its articles were grouped
        db.execute(
            "UPDATE stories SET primary_article=?, title=?, first_seen=?, last_updated=?,"
            " undated=?, seq=? WHERE id=?",
            (
                first[0],
                first[1],
                span[2] if undated else span[0],
                span[3] if undated else span[1],
                int(undated),
                seq,
                story_id,
            ),
        )
