"""The corpus: a Chroma collection (chunk vectors) plus a SQLite database (articles, chunk text
with a full-text index, per-feed state). `Corpus` is the one object the rest of newsbot uses;
behind it each part owns its tables and states the rule it keeps:

    db.py        SQLite connection, schema, migrations, transactions, meta
    articles.py  articles; the pending-hash model; article queries and stats
    feed_states.py  the feed_state table and each feed's recent article dates (feed health,
                 ingest.store.health, reads them here too: one reader of that table)
    keyword.py   chunk rows and their full-text index; keyword search
    vectors.py   the Chroma client and collections, dense search; the embedded store's lease
    reindex.py   a full reindex into a new collection, switched in one transaction

Consistency rules (a run may be killed at any point), each enforced where it is written down:
- Articles are stored (with their content hash) before anything is embedded, and an article is
  "pending" while `embedded_hash` differs from `content_hash` (articles.py).
- Vectors are written before an article is marked done (`Corpus.store_embeddings`).
- A feed's state commits with its articles (`Articles.upsert_feed`).
- A full reindex builds a new collection and switches in one transaction (reindex.py).
- One writer at a time on the embedded store (`VectorIndex.writing`, ingest.lease).
Only this package imports chromadb and sqlite3.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import numpy as np

from ingest.config import Settings
from ingest.models import Article, Chunk, FeedState, utcnow
from ingest.store.articles import ArticleRow, Articles, UpsertOutcome
from ingest.store.db import Database, batches, marks, put_meta, storage_problem
from ingest.store.feed_states import FeedStates
from ingest.store.keyword import STOPWORDS, KeywordIndex, fts_query
from ingest.store.reindex import Rebuild
from ingest.store.vectors import CHROMA_IN_BATCH, VectorIndex, is_store_failure

__all__ = [
    "CHROMA_IN_BATCH",
    "STOPWORDS",
    "ArticleRow",
    "Corpus",
    "UpsertOutcome",
    "fts_query",
    "is_store_failure",
    "storage_problem",
]

log = logging.getLogger(__name__)

Batch = Sequence[tuple[Article, tuple[str, ...], Sequence[Chunk]]]


class Corpus:
    """Owns the corpus. One instance per process; safe to share between threads.

    The parts are public (`db`, `articles`, `feeds`, `keyword`, `vectors`, `rebuild`): a reader
    (and a test) asks the part that answers. The methods below are the writes that span parts
    (they keep the consistency rules) and the hand-offs production code still calls; one only
    tests used is not kept."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings.db_path)
        self.articles = Articles(self.db)
        self.feeds = FeedStates(self.db)
        self.keyword = KeywordIndex(self.db)
        self.vectors = VectorIndex(settings, self.db)
        self.rebuild = Rebuild(settings, self.db, self.vectors)

    def close(self) -> None:
        with self.db.lock:
            self.db.close()
            self.vectors.close()

    # ------------------------------------------------------------------ writes across parts
    def store_embeddings(
        self, items: Batch, vectors: np.ndarray, timings: dict[str, float] | None = None
    ) -> None:
        """Replace the vectors and chunk rows of these articles, and mark them done.

        Rule: vectors first, then ONE SQLite transaction replaces the chunk rows (and their
        full-text rows) and sets `embedded_hash`. A kill before that commit leaves the articles
        pending, and the next run redoes exactly them (the vector write deletes and adds by
        article id, so redoing it is harmless). `timings` (if given) accumulates the seconds
        spent in Chroma and in SQLite."""
        t0 = time.perf_counter()
        self.vectors.write(self.vectors.collection, items, vectors)
        t1 = time.perf_counter()
        with self.db.tx() as db:
            self.keyword.replace(db, items)
            for art, _, _ in items:
                self.articles.mark_embedded(db, art.id, art.content_hash)
            put_meta(db, "last_embed", utcnow().isoformat())
        if timings is not None:
            timings["chroma"] = timings.get("chroma", 0.0) + t1 - t0
            timings["sqlite"] = timings.get("sqlite", 0.0) + time.perf_counter() - t1

    def missing_vectors(self, *, open_store: bool = False) -> int:
        """Chunk rows without a vector (see VectorIndex.missing): 0 in a healthy corpus."""
        chunks = int(self.db.query("SELECT count(*) AS n FROM chunks")[0]["n"])
        return self.vectors.missing(chunks, open_store=open_store)

    def restore_missing_vectors(self) -> int:
        """Writer, before embedding: make every article whose chunks lack vectors pending again
        (a deleted or lost vector store), so this run re-embeds exactly them. Returns how many.
        An embedded store not open yet is not opened for this (seconds, for a run that may have
        nothing to embed): a deleted one is told by its missing file."""
        missing = self.missing_vectors()
        if not missing:
            return 0
        have = self.vectors.stored_ids() if self.vectors.collection.count() else set()
        rows = self.db.query("SELECT id, article_id FROM chunks")
        lacking = sorted({r["article_id"] for r in rows if r["id"] not in have})
        for part in batches(lacking):
            with self.db.tx() as db:
                db.execute(
                    f"UPDATE articles SET embedded_hash=NULL WHERE id IN ({marks(part)})", part
                )
        log.warning(
            "the vector store lacks the vectors of %d chunk(s): re-embedding their %d article(s)",
            missing,
            len(lacking),
        )
        return len(lacking)

    def delete_articles(self, ids: Sequence[str]) -> int:
        """Delete articles everywhere: vectors first, then (one transaction per slice) their
        rows. A kill in between leaves rows without vectors; the next prune deletes them."""
        if not ids:
            return 0
        for part in batches(ids):
            self.vectors.delete(part)
            with self.db.tx() as db:
                self.keyword.delete(db, part)
                self.articles.delete(db, part)
        return len(ids)

    def prune_older_than(self, cutoff: datetime) -> int:
        """Retention: delete articles published before `cutoff` (undated articles are kept)."""
        return self.delete_articles(self.articles.published_before(cutoff))

    def writing(self) -> AbstractContextManager[None]:
        """Hold the write lease of the embedded store (see VectorIndex.writing)."""
        return self.vectors.writing()

    # ------------------------------------------------------------------ articles and feeds
    def upsert_feed(
        self, feed: str, articles: Iterable[Article], state: FeedState
    ) -> UpsertOutcome:
        return self.articles.upsert_feed(feed, articles, state)

    def save_feed_state(self, state: FeedState) -> None:
        self.feeds.save(state)

    def mark_feed_pending(self, feed: str) -> int:
        return self.articles.mark_feed_pending(feed)

    def known_ids(self, feed: str, ids: Sequence[str]) -> set[str]:
        return self.articles.known_ids(feed, ids)

    def pending_ids(self, limit: int | None = None) -> list[str]:
        return self.articles.pending_ids(limit)

    def pending_count(self) -> int:
        return self.articles.pending_count()

    def set_aside(self, article: Article, error: str) -> None:
        """An article whose text could not be embedded: not pending until its text changes."""
        self.articles.set_aside(article.id, article.content_hash, error)

    def set_aside_articles(self) -> list[tuple[ArticleRow, str, datetime | None]]:
        return self.articles.set_aside_articles()

    def load_articles(self, ids: Sequence[str]) -> list[tuple[Article, tuple[str, ...]]]:
        return self.articles.load_articles(ids)

    def article_rows(self, ids: Sequence[str]) -> list[ArticleRow]:
        return self.articles.article_rows(ids)

    def latest_articles(
        self,
        limit: int = 10,
        *,
        feed: str | None = None,
        since: datetime | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[ArticleRow]:
        return self.articles.latest_articles(limit, feed=feed, since=since, ids=ids)

    def select_article_ids(
        self,
        *,
        feeds: Sequence[str] = (),
        author: str = "",
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[str]:
        return self.articles.select_article_ids(
            feeds=feeds, author=author, since=since, until=until
        )

    def source_facts(self) -> tuple[dict[str, list[str]], dict[str, dict[str, int]]]:
        return self.articles.source_facts()

    def heads(self, chars: int = 600, limit: int = 5000) -> Iterator[str]:
        return self.articles.heads(chars, limit)

    def newest_published(self) -> datetime | None:
        return self.articles.newest_published()

    def counts(self) -> dict[str, Any]:
        return self.articles.counts()

    def feed_states(self) -> list[FeedState]:
        return self.feeds.feed_states()

    def feed_names(self) -> list[str]:
        return self.feeds.feed_names()

    # ------------------------------------------------------------------ search
    def keyword_search(
        self, query: str, n: int, article_ids: Sequence[str] | None = None
    ) -> list[tuple[str, str, str, float]]:
        return self.keyword.keyword_search(query, n, article_ids)

    def count_mentions(self, term: str, cap: int = 1000) -> int:
        return self.keyword.count_mentions(term, cap)

    def article_chunks(self, article_ids: Sequence[str]) -> list[tuple[str, str, str]]:
        return self.keyword.article_chunks(article_ids)

    def dense_search(
        self, vector: np.ndarray, n: int, article_ids: Sequence[str] | None = None
    ) -> list[tuple[str, str, str, float]]:
        """(chunk_id, article_id, text, cosine similarity), best first. The text is the chunk
        row's: a vector whose chunk row is not committed yet (its article is still being
        stored, see `store_embeddings`) or is gone is not a hit."""
        hits = self.vectors.dense_search(vector, n, article_ids)
        texts = self.keyword.chunk_texts([cid for cid, _, _ in hits])
        return [(cid, aid, texts[cid], score) for cid, aid, score in hits if cid in texts]

    def chunk_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        return self.vectors.chunk_vectors(chunk_ids)

    # ------------------------------------------------------------------ vectors and reindex
    @property
    def collection(self) -> Any:
        return self.vectors.collection

    def active_collection_name(self) -> str:
        return self.vectors.active_name()

    def claim_vectors(self) -> None:
        self.vectors.claim()

    def check_model(self, model: str, backend: str | None = None, *, write: bool = True) -> None:
        self.vectors.check_model(model, backend, write=write)

    def drop_retired_collections(self) -> int:
        return self.vectors.drop_retired()

    def begin_rebuild(self, signature: str) -> str:
        self.articles.clear_set_aside()  # a full reindex tries the set-aside articles again
        return self.rebuild.begin(signature)

    def abandon_rebuild(self) -> None:
        self.rebuild.abandon()

    def rebuild_todo(self) -> list[str]:
        return self.rebuild.todo()

    def store_rebuild_embeddings(self, items: Batch, vectors: np.ndarray) -> None:
        self.rebuild.store(items, vectors)

    def finish_rebuild(self, model_id: str, backend: str | None = None) -> str:
        return self.rebuild.finish(model_id, backend)

    # ------------------------------------------------------------------ meta
    def get_meta(self, key: str) -> str | None:
        return self.db.get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        self.db.set_meta(key, value)
