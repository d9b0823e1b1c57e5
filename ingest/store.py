"""The corpus: a Chroma collection (chunk vectors) plus a SQLite database (articles, chunk text
with a full-text index, per-feed state, feedback). The ONLY module that talks to Chroma.

Consistency rules (a run may be killed at any point):
- An article row is written (with its content hash) before anything is embedded. It is
  "pending" while `embedded_hash` differs from `content_hash`.
- Embedding a pending article: delete its old vectors in Chroma, add the new ones, then, in one
  SQLite transaction, replace its chunk rows and set `embedded_hash`. A crash before that commit
  leaves the article pending, and the next run redoes exactly that article (delete + add are
  idempotent by article id).
- Feed state (ETag, Last-Modified) is committed in the same transaction as the feed's articles,
  so a 304 can never hide articles that were not stored.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import numpy as np

from ingest.config import Settings
from ingest.models import Article, Chunk, ConfigError, FeedState, NewsbotError, utcnow

log = logging.getLogger(__name__)

SCHEMA = """
PRAGMA journal_mode=WAL;
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    guid TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    author TEXT NOT NULL DEFAULT '',
    published REAL,
    tags TEXT NOT NULL DEFAULT '[]',
    text_feed TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    embedded_hash TEXT,
    first_seen REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published);
CREATE INDEX IF NOT EXISTS articles_pending ON articles(embedded_hash, content_hash);
CREATE TABLE IF NOT EXISTS article_feeds (
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    feed TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    PRIMARY KEY (article_id, feed)
);
CREATE INDEX IF NOT EXISTS article_feeds_feed ON article_feeds(feed);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    chunk_id UNINDEXED, article_id UNINDEXED, text, tokenize='porter unicode61'
);
CREATE TABLE IF NOT EXISTS feed_state (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL DEFAULT '',
    etag TEXT,
    last_modified TEXT,
    last_attempt REAL,
    last_success REAL,
    last_error TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    items_last_fetch INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    user_id TEXT NOT NULL,
    vote INTEGER NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    sources TEXT NOT NULL DEFAULT '[]',
    message_id TEXT NOT NULL DEFAULT '',
    UNIQUE (message_id, user_id)
);
"""

STOPWORDS = frozenset(
    (
        "a an and are as at be been but by can could did do does for from had has have how i if"
        " in into is it its me my no not of on or our so than that the their them then there these"
        " they this to up was we were what when where which who whom why will with would you your"
        " about any some tell latest new news recent recently today week month year"
    ).split()
)


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


def _ts(dt: datetime | None) -> float | None:
    return dt.timestamp() if dt else None


def _dt(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


def _batches(ids: Sequence[str], size: int = 500) -> Iterator[list[str]]:
    """Slices of at most `size` ids (SQLite caps the number of bound variables)."""
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def _marks(part: Sequence[object]) -> str:
    return ",".join("?" * len(part))


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


def fts_query(text: str) -> str:
    """Question → FTS5 OR-query of its content words (quoted, so no FTS syntax leaks through)."""
    words = re.findall(r"[\w][\w.\-']*[\w]|\w", text.lower())
    terms = [w for w in dict.fromkeys(words) if w not in STOPWORDS and len(w) > 1]
    return " OR ".join('"' + w.replace('"', "") + '"' for w in terms[:32])


class Corpus:
    """Owns the corpus schema. One instance per process; safe to share between threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            settings.db_path, check_same_thread=False, isolation_level=None, timeout=30
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()
        self._collection: Any = None

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key=?", (key,))
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def collection(self) -> Any:
        """The Chroma collection, opened on first use (embedded store or server)."""
        if self._collection is None:
            self._collection = self._open_collection()
        return self._collection

    def _client(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        url = self.settings.chroma_url
        if not url:
            return chromadb.PersistentClient(
                path=str(self.settings.chroma_path), settings=chroma_settings
            )
        parts = urlparse(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"NEWSBOT_CHROMA_URL must look like http://host:port, got {url!r}")
        try:
            return chromadb.HttpClient(
                host=parts.hostname,
                port=parts.port or (443 if parts.scheme == "https" else 8000),
                ssl=parts.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as e:
            raise NewsbotError(f"cannot reach the Chroma server at {url}: {e}") from e

    def _open_collection(self) -> Any:
        client = self._client()
        return client.get_or_create_collection(
            self.settings.collection,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
        )

    def reset_vectors(self) -> None:
        """Drop every vector and chunk; every article becomes pending (for --reindex)."""
        client = self._client()
        try:
            client.delete_collection(self.settings.collection)
        except Exception:  # chromadb raises NotFoundError/ValueError depending on version
            log.debug("collection %s did not exist", self.settings.collection)
        self._collection = None
        with self._tx() as db:
            db.execute("DELETE FROM chunks")
            db.execute("DELETE FROM chunks_fts")
            db.execute("UPDATE articles SET embedded_hash=NULL")
            db.execute("DELETE FROM meta WHERE key IN ('embedding_model', 'embedding_backend')")

    def mark_feed_pending(self, feed: str) -> int:
        """Make the articles of one feed pending, so the next embed pass redoes them."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE articles SET embedded_hash=NULL WHERE id IN "
                "(SELECT article_id FROM article_feeds WHERE feed=?)",
                (feed,),
            )
            return cur.rowcount

    def check_model(self, model: str, backend: str | None = None, *, write: bool = True) -> None:
        """Refuse to mix vectors of two embedding models or backends in one collection.

        The writer (`write=True`) records model and backend in an empty corpus; a reader only
        checks. Corpora from before the backend was recorded were built with torch."""
        current = self.get_meta("embedding_model")
        if current is None:
            if write:
                self.set_meta("embedding_model", model)
                if backend:
                    self.set_meta("embedding_backend", backend)
            return
        built_with = self.get_meta("embedding_backend") or "torch"
        if current != model or (backend is not None and built_with != backend):
            raise ConfigError(
                f"the corpus was embedded with {current!r} ({built_with}) but this process uses "
                f"{model!r} ({backend or built_with}); run `newsbot ingest --reindex` to rebuild "
                "the vectors, or set NEWSBOT_EMBEDDING_MODEL/NEWSBOT_EMBEDDING_BACKEND back"
            )

    # ------------------------------------------------------------------ writer side
    def upsert_feed(
        self, feed: str, articles: Iterable[Article], state: FeedState
    ) -> UpsertOutcome:
        """Store one feed's articles and its new state in ONE transaction.

        Duplicates (same id from another feed) are merged: the article records every feed.
        The stored text of a duplicate is the longest copy seen; a feed's unchanged copy never
        makes the article pending again.
        """
        new = updated = unchanged = 0
        now = utcnow().timestamp()
        with self._tx() as db:
            for a in articles:
                h = a.content_hash
                row = db.execute(
                    "SELECT content_hash, text_feed, length(text) AS n, published FROM articles "
                    "WHERE id=?",
                    (a.id,),
                ).fetchone()
                seen = db.execute(
                    "SELECT content_hash FROM article_feeds WHERE article_id=? AND feed=?",
                    (a.id, feed),
                ).fetchone()
                if row is None:
                    db.execute(
                        "INSERT INTO articles(id, url, guid, title, text, author, published, tags,"
                        " text_feed, content_hash, embedded_hash, first_seen, updated)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?,NULL,?,?)",
                        (
                            a.id,
                            a.url,
                            a.guid,
                            a.title,
                            a.text,
                            a.author,
                            _ts(a.published),
                            json.dumps(list(a.tags)),
                            feed,
                            h,
                            now,
                            now,
                        ),
                    )
                    new += 1
                db.execute(
                    "INSERT INTO article_feeds(article_id, feed, content_hash) VALUES (?,?,?) "
                    "ON CONFLICT(article_id, feed)"
                    " DO UPDATE SET content_hash=excluded.content_hash",
                    (a.id, feed, h),
                )
                if row is None:
                    continue
                if row["published"] is None and a.published is not None:
                    db.execute(
                        "UPDATE articles SET published=? WHERE id=?", (_ts(a.published), a.id)
                    )
                copy_changed = seen is None or seen["content_hash"] != h
                replaces = row["text_feed"] == feed or len(a.text) > row["n"]
                if copy_changed and replaces and row["content_hash"] != h:
                    db.execute(
                        "UPDATE articles SET url=?, guid=?, title=?, text=?, author=?, tags=?,"
                        " text_feed=?, content_hash=?, updated=? WHERE id=?",
                        (
                            a.url,
                            a.guid,
                            a.title,
                            a.text,
                            a.author,
                            json.dumps(list(a.tags)),
                            feed,
                            h,
                            now,
                            a.id,
                        ),
                    )
                    updated += 1
                else:
                    unchanged += 1
            self._write_state(db, state)
        return UpsertOutcome(new, updated, unchanged)

    def save_feed_state(self, state: FeedState) -> None:
        with self._tx() as db:
            self._write_state(db, state)

    @staticmethod
    def _write_state(db: sqlite3.Connection, s: FeedState) -> None:
        db.execute(
            "INSERT OR REPLACE INTO feed_state(name, url, etag, last_modified, last_attempt,"
            " last_success, last_error, consecutive_failures, items_last_fetch)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (
                s.name,
                s.url,
                s.etag,
                s.last_modified,
                _ts(s.last_attempt),
                _ts(s.last_success),
                s.last_error,
                s.consecutive_failures,
                s.items_last_fetch,
            ),
        )

    def known_ids(self, feed: str, ids: Sequence[str]) -> set[str]:
        """Which of these article ids this feed has already delivered."""
        known: set[str] = set()
        for part in _batches(ids):
            known |= {
                r["article_id"]
                for r in self._query(
                    "SELECT article_id FROM article_feeds"
                    f" WHERE feed=? AND article_id IN ({_marks(part)})",
                    [feed, *part],
                )
            }
        return known

    def pending_ids(self, limit: int | None = None) -> list[str]:
        sql = (
            "SELECT id FROM articles WHERE embedded_hash IS NULL OR embedded_hash != content_hash"
            " ORDER BY published DESC"
        )
        rows = self._query(sql + (f" LIMIT {int(limit)}" if limit else ""))
        return [r["id"] for r in rows]

    def pending_count(self) -> int:
        return self._query(
            "SELECT count(*) AS n FROM articles"
            " WHERE embedded_hash IS NULL OR embedded_hash != content_hash"
        )[0]["n"]

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

    def store_embeddings(
        self,
        items: Sequence[tuple[Article, tuple[str, ...], Sequence[Chunk]]],
        vectors: np.ndarray,
        timings: dict[str, float] | None = None,
    ) -> None:
        """Replace the vectors and chunk rows of these articles (see the consistency rules).
        `timings` (if given) accumulates the seconds spent in Chroma and in SQLite."""
        t0 = time.perf_counter()
        ids, docs, metas = [], [], []
        for art, feeds, chunks in items:
            for c in chunks:
                ids.append(c.id)
                docs.append(c.text)
                metas.append(
                    {
                        "article_id": art.id,
                        "link": art.url,
                        "title": art.title[:500],
                        "feeds": ", ".join(feeds),
                        "published": int(art.published.timestamp()) if art.published else 0,
                        "published_iso": art.published.isoformat() if art.published else "",
                        "chunk": c.index,
                    }
                )
        if len(ids) != len(vectors):
            raise ValueError("one vector per chunk expected")
        article_ids = [art.id for art, _, _ in items]
        self.collection.delete(where={"article_id": {"$in": article_ids}})
        if ids:
            self.collection.upsert(ids=ids, embeddings=vectors, documents=docs, metadatas=metas)
        t1 = time.perf_counter()
        with self._tx() as db:
            # Only articles embedded before have rows to replace. chunks_fts cannot index
            # article_id, so deleting from it scans the table: skip it for new articles.
            had_chunks: set[str] = set()
            for part in _batches(article_ids):
                had_chunks |= {
                    r[0]
                    for r in db.execute(
                        "SELECT DISTINCT article_id FROM chunks"
                        f" WHERE article_id IN ({_marks(part)})",
                        part,
                    )
                }
            for art, _, chunks in items:
                if art.id in had_chunks:
                    db.execute("DELETE FROM chunks WHERE article_id=?", (art.id,))
                    db.execute("DELETE FROM chunks_fts WHERE article_id=?", (art.id,))
                db.executemany(
                    "INSERT INTO chunks(id, article_id, idx, text) VALUES (?,?,?,?)",
                    [(c.id, art.id, c.index, c.text) for c in chunks],
                )
                db.executemany(
                    "INSERT INTO chunks_fts(chunk_id, article_id, text) VALUES (?,?,?)",
                    [(c.id, art.id, c.text) for c in chunks],
                )
                db.execute(
                    "UPDATE articles SET embedded_hash=? WHERE id=?", (art.content_hash, art.id)
                )
            db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('last_embed', ?)",
                (utcnow().isoformat(),),
            )
        if timings is not None:
            timings["chroma"] = timings.get("chroma", 0.0) + t1 - t0
            timings["sqlite"] = timings.get("sqlite", 0.0) + time.perf_counter() - t1

    def delete_articles(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        for part in _batches(ids):
            self.collection.delete(where={"article_id": {"$in": part}})
            with self._tx() as db:
                db.execute(f"DELETE FROM chunks_fts WHERE article_id IN ({_marks(part)})", part)
                db.execute(f"DELETE FROM articles WHERE id IN ({_marks(part)})", part)
        return len(ids)

    def prune_older_than(self, cutoff: datetime) -> int:
        """Retention: delete articles published before `cutoff` (undated articles are kept)."""
        rows = self._query("SELECT id FROM articles WHERE published < ?", (cutoff.timestamp(),))
        return self.delete_articles([r["id"] for r in rows])

    # ------------------------------------------------------------------ reader side
    def article_rows(self, ids: Sequence[str]) -> list[ArticleRow]:
        out: list[ArticleRow] = []
        for part in _batches(ids):
            rows = self._query(
                "SELECT a.id, a.url, a.title, a.text, a.author, a.published,"
                " group_concat(f.feed, char(31)) AS feeds FROM articles a"
                " LEFT JOIN article_feeds f ON f.article_id = a.id"
                f" WHERE a.id IN ({_marks(part)}) GROUP BY a.id",
                part,
            )
            out += [self._row(r) for r in rows]
        return out

    @staticmethod
    def _row(r: sqlite3.Row) -> ArticleRow:
        feeds = tuple(sorted(set((r["feeds"] or "").split("\x1f")) - {""}))
        return ArticleRow(
            id=r["id"],
            url=r["url"],
            title=r["title"],
            text=r["text"],
            feeds=feeds,
            published=_dt(r["published"]),
            author=r["author"],
        )

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
            where.append(f"a.id IN ({_marks(ids) or 'NULL'})")
            params += list(ids)
        rows = self._query(
            "SELECT a.id, a.url, a.title, a.text, a.author, a.published,"
            " group_concat(f.feed, char(31)) AS feeds FROM articles a"
            " LEFT JOIN article_feeds f ON f.article_id = a.id"
            f" WHERE {' AND '.join(where)} GROUP BY a.id"
            " ORDER BY a.published IS NULL, a.published DESC LIMIT ?",
            [*params, int(limit)],
        )
        return [self._row(r) for r in rows]

    def filter_article_ids(
        self, *, feed: str | None, since: datetime | None, until: datetime | None
    ) -> list[str]:
        where, params = _where(feed, since, until)
        sql = f"SELECT a.id FROM articles a WHERE {' AND '.join(where)}"
        return [r["id"] for r in self._query(sql, params)]

    def dense_search(
        self, vector: np.ndarray, n: int, article_ids: Sequence[str] | None = None
    ) -> list[tuple[str, str, str, float]]:
        """(chunk_id, article_id, text, cosine similarity), best first."""
        if article_ids is not None and not article_ids:
            return []
        where = {"article_id": {"$in": list(article_ids)}} if article_ids is not None else None
        try:
            total = self.collection.count()
            if total == 0:
                return []
            res = self.collection.query(
                query_embeddings=[vector.tolist()],
                n_results=min(n, total),
                where=where,
                include=["documents", "metadatas", "distances"],
            )
        except Exception as e:  # noqa: BLE001 - see _vector_store_unavailable
            self._vector_store_unavailable(e)
            return []
        out = []
        for cid, doc, meta, dist in zip(
            res["ids"][0],
            res["documents"][0],
            res["metadatas"][0],
            res["distances"][0],
            strict=True,
        ):
            out.append((cid, str(meta["article_id"]), doc or "", 1.0 - float(dist)))
        return out

    def _vector_store_unavailable(self, error: Exception) -> None:
        """Readers degrade to keyword search instead of failing when Chroma cannot answer.

        The embedded store is single-process: while a separate `newsbot ingest` process writes
        it, a reader can find segments not yet on disk. Use a Chroma server
        (NEWSBOT_CHROMA_URL) to share one corpus between processes without this."""
        if isinstance(error, NewsbotError):
            raise error
        log.warning("vector search unavailable, using keyword search only: %s", error)
        self._collection = None  # reopen on next use

    def chunk_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of these chunks (those that exist)."""
        if not chunk_ids:
            return {}
        try:
            res = self.collection.get(ids=list(chunk_ids), include=["embeddings"])
        except Exception as e:  # noqa: BLE001 - see _vector_store_unavailable
            self._vector_store_unavailable(e)
            return {}
        return {
            cid: np.asarray(vec, dtype=np.float32)
            for cid, vec in zip(res["ids"], res["embeddings"], strict=True)
        }

    def keyword_search(
        self, query: str, n: int, article_ids: Sequence[str] | None = None
    ) -> list[tuple[str, str, str, float]]:
        """(chunk_id, article_id, text, bm25 score (higher is better)), best first."""
        q = fts_query(query)
        if not q or (article_ids is not None and not article_ids):
            return []
        sql = (
            "SELECT chunk_id, article_id, text, -bm25(chunks_fts) AS s"
            " FROM chunks_fts WHERE chunks_fts MATCH ?"
        )
        params: list[Any] = [q]
        if article_ids is not None:
            sql += f" AND article_id IN ({','.join('?' * len(article_ids))})"
            params += list(article_ids)
        rows = self._query(sql + " ORDER BY bm25(chunks_fts) LIMIT ?", [*params, n])
        return [(r["chunk_id"], r["article_id"], r["text"], float(r["s"])) for r in rows]

    def count_mentions(self, term: str, cap: int = 1000) -> int:
        """Chunks whose text contains `term` as a phrase (counting stops at `cap`)."""
        bare = re.sub(r"['’]s?$", "", term.lower())  # "OpenAI's" → "openai"
        phrase = " ".join(re.findall(r"\w+", bare))
        if not phrase:
            return 0
        rows = self._query(
            "SELECT count(*) AS n FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)",
            (f'"{phrase}"', cap),
        )
        return int(rows[0]["n"])

    def newest_published(self) -> datetime | None:
        rows = self._query(
            "SELECT max(published) AS p FROM articles WHERE published <= ?",
            (utcnow().timestamp() + 86400,),
        )
        return _dt(rows[0]["p"])

    def feed_states(self) -> list[FeedState]:
        counts = {
            r["feed"]: r["n"]
            for r in self._query("SELECT feed, count(*) AS n FROM article_feeds GROUP BY feed")
        }
        return [
            FeedState(
                name=r["name"],
                url=r["url"],
                etag=r["etag"],
                last_modified=r["last_modified"],
                last_attempt=_dt(r["last_attempt"]),
                last_success=_dt(r["last_success"]),
                last_error=r["last_error"],
                consecutive_failures=r["consecutive_failures"],
                items_last_fetch=r["items_last_fetch"],
                articles_total=counts.get(r["name"], 0),
            )
            for r in self._query("SELECT * FROM feed_state ORDER BY name")
        ]

    def feed_names(self) -> list[str]:
        """Feeds that have delivered at least one stored article."""
        return [r["feed"] for r in self._query("SELECT DISTINCT feed FROM article_feeds")]

    def feed_state(self, name: str) -> FeedState | None:
        return next((s for s in self.feed_states() if s.name == name), None)

    def counts(self) -> dict[str, Any]:
        r = self._query(
            "SELECT (SELECT count(*) FROM articles) AS articles,"
            " (SELECT count(*) FROM chunks) AS chunks,"
            " (SELECT count(DISTINCT feed) FROM article_feeds) AS feeds,"
            " (SELECT min(published) FROM articles) AS oldest"
        )[0]
        return dict(r)

    # ------------------------------------------------------------------ feedback
    def add_feedback(
        self,
        *,
        user_id: str,
        vote: int,
        question: str,
        answer: str,
        sources: list[dict[str, Any]],
        message_id: str = "",
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO feedback"
                "(created, user_id, vote, question, answer, sources, message_id)"
                " VALUES (?,?,?,?,?,?,?) ON CONFLICT(message_id, user_id) DO UPDATE SET"
                " vote=excluded.vote, created=excluded.created",
                (
                    utcnow().timestamp(),
                    user_id,
                    vote,
                    question,
                    answer,
                    json.dumps(sources),
                    message_id,
                ),
            )

    def feedback(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._query("SELECT * FROM feedback ORDER BY created DESC LIMIT ?", (limit,))
        return [
            {
                **dict(r),
                "created": datetime.fromtimestamp(r["created"], UTC).isoformat(),
                "sources": json.loads(r["sources"]),
            }
            for r in rows
        ]
