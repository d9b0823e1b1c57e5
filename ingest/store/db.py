"""The corpus's SQLite database: one connection shared by the threads of a process, the schema
and its migrations, transactions, and the `meta` key/value table.

Every table is created here, so the whole schema reads in one place; the module that owns a
table is the only one that writes it (named beside each table below). A transaction that spans
several owners (a feed's articles with its state, an embedded batch, the reindex switch) is
opened by the code that states the rule it keeps, and each owner adds its rows inside it.
"""

from __future__ import annotations

import errno
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

WAL_WAIT_SECONDS = 30  # as long as the connection waits for a writer (its timeout)

SCHEMA = """
PRAGMA journal_mode=WAL;
-- articles.py: articles and the feeds that delivered them
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
-- newest first, undated last (latest_articles): read in index order, not sorted per query
CREATE INDEX IF NOT EXISTS articles_recency ON articles(published IS NULL, published DESC);
CREATE INDEX IF NOT EXISTS articles_pending ON articles(embedded_hash, content_hash);
CREATE TABLE IF NOT EXISTS article_feeds (
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    feed TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    PRIMARY KEY (article_id, feed)
);
CREATE INDEX IF NOT EXISTS article_feeds_feed ON article_feeds(feed);
-- articles.py: articles whose text could not be embedded, set aside until that text changes
CREATE TABLE IF NOT EXISTS set_aside (
    article_id TEXT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
    content_hash TEXT NOT NULL,
    error TEXT NOT NULL,
    at REAL NOT NULL
);
-- keyword.py: chunks and their full-text index
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
-- articles.py: per-feed fetch state
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
    warnings TEXT NOT NULL DEFAULT '[]',
    title TEXT NOT NULL DEFAULT '',
    site TEXT NOT NULL DEFAULT ''
);
-- this module (keys written by vectors.py, reindex.py and the ingest job)
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- reindex.py: the progress of a reindex into a new collection
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


def ts(dt: datetime | None) -> float | None:
    """A datetime as stored (epoch seconds), or NULL."""
    return dt.timestamp() if dt else None


def dt(ts: float | None) -> datetime | None:
    """A stored epoch (or NULL) as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


def batches(ids: Sequence[str], size: int = 500) -> Iterator[list[str]]:
    """Slices of at most `size` ids (SQLite caps the number of bound variables)."""
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def marks(part: Sequence[object]) -> str:
    """`?,?,…`: one placeholder per value."""
    return ",".join("?" * len(part))


class SQLiteFile:
    """One SQLite connection, safe to share between the threads of a process (every use holds
    `lock`), in WAL mode so readers in other processes never wait for a writer: write
    transactions (`tx`) and reads (`query`). Every SQLite file of newsbot is opened through it:
    the corpus (Database), and the bot's own file (bot.discord.store, subscription_store)."""

    def __init__(self, path: Path, schema: str, *, synchronous: str | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=30
        )
        self.connection.row_factory = sqlite3.Row
        self.connection.execute("PRAGMA foreign_keys=ON")
        self.connection.execute("PRAGMA busy_timeout=30000")
        if synchronous is not None:
            self.connection.execute(f"PRAGMA synchronous={synchronous}")
        self.lock = threading.RLock()
        with self.lock:
            self._wal()
            self.connection.executescript(schema)

    def _wal(self) -> None:
        """WAL mode, once per file. Switching takes an exclusive lock for which SQLite does not
        wait (no busy handler): processes opening a new file at once get "database is locked";
        they retry within the connection's timeout instead of failing."""
        deadline = time.monotonic() + WAL_WAIT_SECONDS
        while True:
            try:
                self.connection.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def close(self) -> None:
        with self.lock:
            self.connection.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: everything written inside it commits together or not at all
        (BEGIN IMMEDIATE: it waits for another writer instead of failing half-way)."""
        with self.lock:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return list(self.connection.execute(sql, params).fetchall())

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement in its own transaction; the number of rows it changed."""
        with self.lock:
            return int(self.connection.execute(sql, params).rowcount)


class Database(SQLiteFile):
    """The corpus's SQLite file: its schema, migrations, filters by id, and meta."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Columns added after a corpus may have been created (idempotent)."""
        db = self.connection
        columns = {r["name"] for r in db.execute("PRAGMA table_info(feed_state)")}
        if "warnings" not in columns:
            db.execute("ALTER TABLE feed_state ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]'")
        for name in ("title", "site"):  # the feed's own name and site (source names)
            if name not in columns:
                db.execute(f"ALTER TABLE feed_state ADD COLUMN {name} TEXT NOT NULL DEFAULT ''")

    @contextmanager
    def read_with_ids(self, ids: Sequence[str]) -> Iterator[sqlite3.Connection]:
        """A read transaction in which `temp.filter_ids` holds exactly `ids`.

        Filters join this table instead of binding every id as a variable: a source or date
        filter on a large corpus can match more articles than SQLite's variable limit."""
        with self.lock:
            db = self.connection
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

    # ------------------------------------------------------------------ meta
    def get_meta(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key=?", (key,))
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.tx() as db:
            put_meta(db, key, value)

    def meta_list(self, key: str) -> list[str]:
        """A meta value holding a JSON list (empty when unset)."""
        raw = self.get_meta(key)
        return list(json.loads(raw)) if raw else []


def put_meta(db: sqlite3.Connection, key: str, value: str) -> None:
    """Set a meta key inside the caller's transaction."""
    db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))


def _chain(error: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    seen: BaseException | None = error
    while seen is not None and len(out) < 8:
        out.append(seen)
        seen = seen.__cause__ or seen.__context__
    return out


def storage_problem(error: BaseException, data_dir: Path) -> str | None:
    """One line saying what is wrong with the corpus's storage and what to do, for an error
    anywhere in whose chain a data directory that is not one, is read-only or full, or a
    damaged corpus file shows; None for any other error."""
    for e in _chain(error):
        text = str(e).lower()
        code = getattr(e, "errno", None)
        where = getattr(e, "filename", None) or data_dir
        if isinstance(e, (FileExistsError, NotADirectoryError)):
            return (
                f"the data directory {data_dir} (or a folder in its path) is a file, not a "
                "directory: set NEWSBOT_DATA_DIR to a directory"
            )
        if code == errno.ENOSPC or "disk is full" in text or "no space left" in text:
            return (
                f"the disk of {data_dir} is full ({' '.join(str(e).split())}): free some "
                "space and run the command again; nothing stored so far is lost"
            )
        if code in (errno.EROFS, errno.EACCES, errno.EPERM) or "readonly database" in text:
            return (
                f"cannot write to {where} ({' '.join(str(e).split())}): make the data "
                "directory writable, or set NEWSBOT_DATA_DIR to one that is"
            )
        if isinstance(e, sqlite3.OperationalError) and "unable to open" in text:
            return (
                f"cannot open the corpus in {data_dir} ({e}): check that the directory exists, "
                "is readable and writable, or set NEWSBOT_DATA_DIR to one that is"
            )
        if isinstance(e, sqlite3.DatabaseError) and (
            "malformed" in text or "not a database" in text or "corrupt" in text
        ):
            return (
                f"the corpus file in {data_dir} is damaged ({e}): restore it from a backup, "
                "or move newsbot.sqlite3 and chroma/ away and run `newsbot ingest` to rebuild "
                "the corpus from the feeds"
            )
    return None
