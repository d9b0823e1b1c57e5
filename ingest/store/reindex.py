"""A full reindex into a NEW collection, switched to in one transaction.

Rule (crash-safe reindex): a full reindex never touches the live vectors. It builds a new
collection, recording its progress in `rebuild_articles`/`rebuild_chunks` (vectors first, then
the progress rows: `store`), then switches in ONE SQLite transaction (meta `active_collection`,
the chunk rows and full-text index, every article's `embedded_hash`: `finish`), then drops the
old collection. Killed before the switch, the old corpus is intact and the next `--reindex`
resumes the build (same model and chunking) while a normal run discards it (`abandon`); killed
after it, the new one is complete and the next run drops the old collection (see
vectors.drop_retired).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import numpy as np

from ingest.config import Settings
from ingest.models import Article, Chunk, NewsbotError, utcnow
from ingest.store.articles import Articles
from ingest.store.db import Database, put_meta
from ingest.store.keyword import KeywordIndex
from ingest.store.vectors import VectorIndex, retire

log = logging.getLogger(__name__)


class Rebuild:
    """The state of a reindex (meta `rebuild`: the new collection and the signature of the
    model and chunking it is built with) and its switch."""

    def __init__(self, settings: Settings, db: Database, vectors: VectorIndex) -> None:
        self.settings = settings
        self.db = db
        self.vectors = vectors

    def in_progress(self) -> dict[str, str] | None:
        raw = self.db.get_meta("rebuild")
        return dict(json.loads(raw)) if raw else None

    def begin(self, signature: str) -> str:
        """Start building a new collection for a full reindex, or resume an interrupted build
        made with the same model and chunking (`signature`). Returns the new collection name."""
        current = self.in_progress()
        if current and current["signature"] == signature:
            log.info("resuming the interrupted reindex into %s", current["collection"])
            return current["collection"]
        if current:
            self.abandon()
        active = self.vectors.active_name()
        stamp = utcnow().strftime("%Y%m%d%H%M%S")
        name = f"{self.settings.collection}-r{stamp}"
        if name == active:
            name += "b"
        with self.db.tx() as db:
            db.execute("DELETE FROM rebuild_articles")
            db.execute("DELETE FROM rebuild_chunks")
            put_meta(db, "rebuild", json.dumps({"collection": name, "signature": signature}))
        return name

    def abandon(self) -> None:
        """Forget an interrupted build (its collection is dropped); the live corpus is as was."""
        current = self.in_progress()
        if current is None:
            return
        with self.db.tx() as db:
            db.execute("DELETE FROM rebuild_articles")
            db.execute("DELETE FROM rebuild_chunks")
            db.execute("DELETE FROM meta WHERE key='rebuild'")
            retire(db, current["collection"])
        log.warning("an interrupted reindex was discarded; the live vectors are unchanged")
        self.vectors.drop_retired()

    def todo(self) -> list[str]:
        """Articles the current build has not embedded (or embedded from an older text)."""
        rows = self.db.query(
            "SELECT a.id FROM articles a LEFT JOIN rebuild_articles r ON r.article_id = a.id"
            " WHERE (r.content_hash IS NULL OR r.content_hash != a.content_hash) AND NOT EXISTS"
            " (SELECT 1 FROM set_aside x WHERE x.article_id = a.id"
            " AND x.content_hash = a.content_hash)"
            " ORDER BY a.published DESC"
        )
        return [r["id"] for r in rows]

    def store(
        self,
        items: Sequence[tuple[Article, tuple[str, ...], Sequence[Chunk]]],
        vectors: np.ndarray,
    ) -> None:
        """Add a batch to the collection being built: vectors first, then its progress rows
        (a kill in between redoes the batch; the vector write is idempotent)."""
        current = self.in_progress()
        if current is None:
            raise NewsbotError("no reindex in progress")
        self.vectors.write(self.vectors.get_collection(current["collection"]), items, vectors)
        with self.db.tx() as db:
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

    def finish(self, model_id: str, backend: str | None = None) -> str:
        """Switch to the built collection in one transaction, then drop the old one."""
        current = self.in_progress()
        if current is None:
            raise NewsbotError("no reindex in progress")
        new, old = current["collection"], self.vectors.active_name()
        built = self.vectors.get_collection(new).count()  # (created if the corpus is empty)
        staged = self.db.query("SELECT count(*) AS n FROM rebuild_chunks")[0]["n"]
        if built != staged:  # the build's collection lost vectors: never switch to it
            self.abandon()
            raise NewsbotError(
                f"the new vectors are incomplete ({built} of {staged}); the reindex was "
                "discarded and the current vectors kept: run it again"
            )
        with self.db.tx() as db:  # THE switch: everything below commits together
            KeywordIndex.adopt_staged(db)
            Articles.adopt_rebuilt_hashes(db)
            for key, value in (
                ("active_collection", new),
                ("embedding_model", model_id),
                ("last_embed", utcnow().isoformat()),
                *((("embedding_backend", backend),) if backend else ()),
            ):
                put_meta(db, key, value)
            db.execute("DELETE FROM meta WHERE key='rebuild'")
            db.execute("DELETE FROM rebuild_articles")
            db.execute("DELETE FROM rebuild_chunks")
            if old != new:
                retire(db, old)
        self.vectors.drop_retired()
        return new
