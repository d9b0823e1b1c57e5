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
- A full reindex never touches the live vectors: it builds a NEW collection (recording its
  progress in rebuild_articles/rebuild_chunks), then switches in ONE SQLite transaction (meta
  `active_collection`, the chunk rows and full-text index, every article's `embedded_hash`),
  then drops the old collection. Killed before the switch, the old corpus is intact and the
  next `--reindex` resumes the build; killed after it, the new one is complete. Collections
  waiting to be dropped are listed in meta `retired_collections` and dropped by the next run.
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
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from ingest import lease
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
    items_last_fetch INTEGER NOT NULL DEFAULT 0,
    warnings TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rebuild_articles (
    article_id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rebuild_chunks (
    id TEXT PRIMARY KEY,
    article_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rebuild_chunks_article ON rebuild_chunks(article_id);
"""

CHROMA_IN_BATCH = 4000  # ids per Chroma `$in` filter (Chroma's SQLite allows 32,766 variables)

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


def _is_connection_error(error: BaseException) -> bool:
    """A refused/reset/timed-out connection anywhere in the exception's chain."""
    seen: BaseException | None = error
    for _ in range(8):
        if seen is None:
            return False
        if (
            isinstance(seen, (ConnectionError, TimeoutError))
            or "connect" in type(seen).__name__.lower()
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


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
        self._migrate()
        self._lock = threading.RLock()
        self._collection: Any = None
        self._collection_name: str | None = None
        self._chroma: Any = None
        self._read_lease = False

    # ------------------------------------------------------------------ plumbing
    def _migrate(self) -> None:
        """Columns added after a corpus may have been created (idempotent)."""
        columns = {r["name"] for r in self._db.execute("PRAGMA table_info(feed_state)")}
        if "warnings" not in columns:
            self._db.execute(
                "ALTER TABLE feed_state ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]'"
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
            if self._read_lease:
                lease.release(self.lease_path, writing=False)
                self._read_lease = False

    @property
    def lease_path(self) -> Path:
        return self.settings.data_dir / "chroma.lease"

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the write lease of the embedded store (no-op with a Chroma server): refused
        with one line while another process reads or writes it (see ingest.lease)."""
        if self.settings.chroma_url:
            yield
            return
        lease.acquire(self.lease_path, writing=True)
        try:
            yield
        finally:
            lease.release(self.lease_path, writing=True)

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

    @contextmanager
    def _read_with_ids(self, ids: Sequence[str]) -> Iterator[sqlite3.Connection]:
        """A read transaction in which `temp.filter_ids` holds exactly `ids`.

        Filters join this table instead of binding every id as a variable: a source or date
        filter on a large corpus can match more articles than SQLite's variable limit."""
        with self._lock:
            db = self._db
            db.execute("CREATE TEMP TABLE IF NOT EXISTS filter_ids (id TEXT PRIMARY KEY)")
            db.execute("BEGIN")
            try:
                db.execute("DELETE FROM temp.filter_ids")
                db.executemany(
                    "INSERT OR IGNORE INTO temp.filter_ids(id) VALUES (?)", ((i,) for i in ids)
                )
                yield db
            finally:
                db.execute("ROLLBACK")  # the temp rows are scratch; nothing else was written

    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key=?", (key,))
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def collection(self) -> Any:
        """The active Chroma collection (embedded store or server), opened on first use and
        reopened when a reindex (maybe in another process) has switched to a new one."""
        name = self.active_collection_name()
        if self._collection is None or self._collection_name != name:
            self._collection = self._get_collection(name)
            self._collection_name = name
        return self._collection

    def claim_vectors(self) -> None:
        """Open the embedded store now (taking its read lease), so that a process conflicting
        with another is refused at start-up rather than at its first question."""
        if not self.settings.chroma_url:
            self._client()

    def active_collection_name(self) -> str:
        return self.get_meta("active_collection") or self.settings.collection

    def _client(self) -> Any:
        if self._chroma is None:
            self._chroma = self._new_client()
        return self._chroma

    def _new_client(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        url = self.settings.chroma_url
        if not url:
            if not self._read_lease:
                lease.acquire(self.lease_path, writing=False)
                self._read_lease = True
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

    def _get_collection(self, name: str) -> Any:
        try:
            return self._client().get_or_create_collection(
                name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
            )
        except Exception as e:
            if self.settings.chroma_url and _is_connection_error(e):
                # The server is down: a service failure to report, not a reason to answer from
                # keyword search alone without saying so.
                self._chroma = None
                raise NewsbotError(
                    f"cannot reach the Chroma server at {self.settings.chroma_url}: {e}"
                ) from e
            raise

    # ------------------------------------------------------------------ reindex (new collection)
    def _meta_list(self, key: str) -> list[str]:
        raw = self.get_meta(key)
        return list(json.loads(raw)) if raw else []

    def drop_retired_collections(self) -> int:
        """Drop the collections a switch (or an abandoned rebuild) left behind."""
        retired = self._meta_list("retired_collections")
        if not retired:
            return 0
        client = self._client()
        for name in retired:
            try:
                client.delete_collection(name)
            except Exception:  # chromadb raises NotFoundError/ValueError depending on version
                log.debug("collection %s was already gone", name)
        with self._tx() as db:
            db.execute("DELETE FROM meta WHERE key='retired_collections'")
        log.info("dropped %d retired vector collection(s): %s", len(retired), ", ".join(retired))
        return len(retired)

    def _retire(self, db: sqlite3.Connection, name: str) -> None:
        row = db.execute("SELECT value FROM meta WHERE key='retired_collections'").fetchone()
        names = json.loads(row["value"]) if row else []
        if name not in names:
            names.append(name)
        db.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('retired_collections', ?)",
            (json.dumps(names),),
        )

    def rebuild_in_progress(self) -> dict[str, str] | None:
        raw = self.get_meta("rebuild")
        return dict(json.loads(raw)) if raw else None

    def begin_rebuild(self, signature: str) -> str:
        """Start building a new collection for a full reindex, or resume an interrupted build
        made with the same model and chunking (`signature`). Returns the new collection name."""
        current = self.rebuild_in_progress()
        if current and current["signature"] == signature:
            log.info("resuming the interrupted reindex into %s", current["collection"])
            return current["collection"]
        if current:
            self.abandon_rebuild()
        active = self.active_collection_name()
        stamp = utcnow().strftime("%Y%m%d%H%M%S")
        name = f"{self.settings.collection}-r{stamp}"
        if name == active:
            name += "b"
        with self._tx() as db:
            db.execute("DELETE FROM rebuild_articles")
            db.execute("DELETE FROM rebuild_chunks")
            db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('rebuild', ?)",
                (json.dumps({"collection": name, "signature": signature}),),
            )
        return name

    def abandon_rebuild(self) -> None:
        """Forget an interrupted build (its collection is dropped); the live corpus is as was."""
        current = self.rebuild_in_progress()
        if current is None:
            return
        with self._tx() as db:
            db.execute("DELETE FROM rebuild_articles")
            db.execute("DELETE FROM rebuild_chunks")
            db.execute("DELETE FROM meta WHERE key='rebuild'")
            self._retire(db, current["collection"])
        log.warning("an interrupted reindex was discarded; the live vectors are unchanged")
        self.drop_retired_collections()

    def rebuild_todo(self) -> list[str]:
        """Articles the current build has not embedded (or embedded from an older text)."""
        rows = self._query(
            "SELECT a.id FROM articles a LEFT JOIN rebuild_articles r ON r.article_id = a.id"
            " WHERE r.content_hash IS NULL OR r.content_hash != a.content_hash"
            " ORDER BY a.published DESC"
        )
        return [r["id"] for r in rows]

    def store_rebuild_embeddings(
        self,
        items: Sequence[tuple[Article, tuple[str, ...], Sequence[Chunk]]],
        vectors: np.ndarray,
    ) -> None:
        """Add a batch to the collection being built (vectors first, then its progress rows)."""
        current = self.rebuild_in_progress()
        if current is None:
            raise NewsbotError("no reindex in progress")
        self._write_vectors(self._get_collection(current["collection"]), items, vectors)
        with self._tx() as db:
            for art, _, chunks in items:
                db.execute("DELETE FROM rebuild_chunks WHERE article_id=?", (art.id,))
                db.executemany(
                    "INSERT INTO rebuild_chunks(id, article_id, idx, text) VALUES (?,?,?,?)",
                    [(c.id, art.id, c.index, c.text) for c in chunks],
                )
                db.execute(
                    "INSERT OR REPLACE INTO rebuild_articles(article_id, content_hash)"
                    " VALUES (?, ?)",
                    (art.id, art.content_hash),
                )

    def finish_rebuild(self, model_id: str, backend: str | None = None) -> str:
        """Switch to the built collection in one transaction, then drop the old one."""
        current = self.rebuild_in_progress()
        if current is None:
            raise NewsbotError("no reindex in progress")
        new, old = current["collection"], self.active_collection_name()
        built = self._get_collection(new).count()  # (created if the corpus has no article)
        staged = self._query("SELECT count(*) AS n FROM rebuild_chunks")[0]["n"]
        if built != staged:  # the build's collection lost vectors: never switch to it
            self.abandon_rebuild()
            raise NewsbotError(
                f"the new vectors are incomplete ({built} of {staged}); the reindex was "
                "discarded and the current vectors kept: run it again"
            )
        with self._tx() as db:
            db.execute("DELETE FROM chunks")
            db.execute("DELETE FROM chunks_fts")
            db.execute(
                "INSERT INTO chunks(id, article_id, idx, text) SELECT r.id, r.article_id,"
                " r.idx, r.text FROM rebuild_chunks r JOIN articles a ON a.id = r.article_id"
            )
            db.execute(
                "INSERT INTO chunks_fts(chunk_id, article_id, text)"
                " SELECT id, article_id, text FROM chunks"
            )
            db.execute(
                "UPDATE articles SET embedded_hash = (SELECT r.content_hash FROM"
                " rebuild_articles r WHERE r.article_id = articles.id)"
            )
            for key, value in (
                ("active_collection", new),
                ("embedding_model", model_id),
                ("last_embed", utcnow().isoformat()),
                *((("embedding_backend", backend),) if backend else ()),
            ):
                db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))
            db.execute("DELETE FROM meta WHERE key='rebuild'")
            db.execute("DELETE FROM rebuild_articles")
            db.execute("DELETE FROM rebuild_chunks")
            if old != new:
                self._retire(db, old)
        self.drop_retired_collections()
        return new

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
                    "SELECT content_hash, text_feed, length(text) AS n, published, author"
                    " FROM articles WHERE id=?",
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
                if not row["author"] and a.author:  # metadata only: nothing to re-embed
                    db.execute("UPDATE articles SET author=? WHERE id=?", (a.author, a.id))
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
            " last_success, last_error, consecutive_failures, items_last_fetch, warnings)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
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
                json.dumps(list(s.warnings), ensure_ascii=False),
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

    @staticmethod
    def _write_vectors(
        collection: Any,
        items: Sequence[tuple[Article, tuple[str, ...], Sequence[Chunk]]],
        vectors: np.ndarray,
    ) -> None:
        """Replace the vectors of these articles in `collection` (idempotent by article id)."""
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
        collection.delete(where={"article_id": {"$in": article_ids}})
        if ids:
            collection.upsert(ids=ids, embeddings=vectors, documents=docs, metadatas=metas)

    def store_embeddings(
        self,
        items: Sequence[tuple[Article, tuple[str, ...], Sequence[Chunk]]],
        vectors: np.ndarray,
        timings: dict[str, float] | None = None,
    ) -> None:
        """Replace the vectors and chunk rows of these articles (see the consistency rules).
        `timings` (if given) accumulates the seconds spent in Chroma and in SQLite."""
        t0 = time.perf_counter()
        self._write_vectors(self.collection, items, vectors)
        article_ids = [art.id for art, _, _ in items]
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
            where.append("a.id IN (SELECT id FROM temp.filter_ids)")
        sql = (
            "SELECT a.id, a.url, a.title, a.text, a.author, a.published,"
            " group_concat(f.feed, char(31)) AS feeds FROM articles a"
            " LEFT JOIN article_feeds f ON f.article_id = a.id"
            f" WHERE {' AND '.join(where)} GROUP BY a.id"
            " ORDER BY a.published IS NULL, a.published DESC LIMIT ?"
        )
        if ids is None:
            rows = self._query(sql, [*params, int(limit)])
        else:
            with self._read_with_ids(ids) as db:
                rows = db.execute(sql, [*params, int(limit)]).fetchall()
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
        # Chroma binds every `$in` value as an SQL variable: a large filter is queried in slices
        # and the per-slice top n merged, which is exactly the top n of the whole filter.
        wheres: list[dict[str, Any] | None] = (
            [None]
            if article_ids is None
            else [
                {"article_id": {"$in": part}}
                for part in _batches(list(dict.fromkeys(article_ids)), CHROMA_IN_BATCH)
            ]
        )
        out = []
        try:
            total = self.collection.count()
            if total == 0:
                return []
            for where in wheres:
                res = self.collection.query(
                    query_embeddings=[vector.tolist()],
                    n_results=min(n, total),
                    where=where,
                    include=["documents", "metadatas", "distances"],
                )
                for cid, doc, meta, dist in zip(
                    res["ids"][0],
                    res["documents"][0],
                    res["metadatas"][0],
                    res["distances"][0],
                    strict=True,
                ):
                    out.append((cid, str(meta["article_id"]), doc or "", 1.0 - float(dist)))
        except Exception as e:  # noqa: BLE001 - see _vector_store_unavailable
            self._vector_store_unavailable(e)
            return []
        if len(wheres) > 1:
            out.sort(key=lambda hit: hit[3], reverse=True)
        return out[:n]

    def _vector_store_unavailable(self, error: Exception) -> None:
        """Readers degrade to keyword search instead of failing when Chroma cannot answer (a
        Chroma server restarting, a collection dropped by a reindex switch a moment ago).
        Two processes on one embedded store cannot happen: see ingest.lease."""
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
            "SELECT chunk_id, article_id, text, -bm25(chunks_fts) AS s FROM chunks_fts"
            " WHERE chunks_fts MATCH ?{} ORDER BY bm25(chunks_fts) LIMIT ?"
        )
        if article_ids is None:
            rows = self._query(sql.format(""), (q, n))
        else:
            sql = sql.format(" AND article_id IN (SELECT id FROM temp.filter_ids)")
            with self._read_with_ids(article_ids) as db:
                rows = db.execute(sql, (q, n)).fetchall()
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
                f"a.id IN (SELECT article_id FROM article_feeds WHERE feed IN ({_marks(feeds)}))"
            )
            params += list(feeds)
        if author:
            where.append("instr(lower(a.author), ?) > 0")
            params.append(author.lower())
        sql = f"SELECT a.id FROM articles a WHERE {' AND '.join(where)}"
        return [r["id"] for r in self._query(sql, params)]

    def article_chunks(self, article_ids: Sequence[str]) -> list[tuple[str, str, str]]:
        """(chunk_id, article_id, text) of every chunk of these articles, in reading order."""
        out: list[tuple[str, str, str]] = []
        for part in _batches(article_ids):
            rows = self._query(
                f"SELECT id, article_id, text FROM chunks WHERE article_id IN ({_marks(part)})"
                " ORDER BY article_id, idx",
                part,
            )
            out += [(r["id"], r["article_id"], r["text"]) for r in rows]
        return out

    def source_facts(self) -> tuple[dict[str, list[str]], dict[str, dict[str, int]]]:
        """Per feed: the hosts its article links point to (most common first) and how many of
        its articles each author wrote. What a question may call a source by."""
        hosts: dict[str, dict[str, int]] = {}
        authors: dict[str, dict[str, int]] = {}
        rows = self._query(
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
        for r in self._query(
            "SELECT title || ' ' || substr(text, 1, ?) AS t FROM articles"
            " ORDER BY published IS NULL, published DESC LIMIT ?",
            (chars, limit),
        ):
            yield r["t"]

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
                warnings=tuple(json.loads(r["warnings"] or "[]")),
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
