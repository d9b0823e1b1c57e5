"""The vector index: the Chroma client (an embedded store in data/ or a Chroma server), the
active collection, dense search, and the collections a reindex retires. The ONLY module that
talks to Chroma.

Rules enforced here:
- One writer at a time on an embedded store, and no reader beside it: the embedded store keeps
  its index in the memory of the process that opened it, so opening it takes a read lease and
  writing takes the write lease (`writing`; see ingest.lease). With a Chroma server the server
  arbitrates and no lease is taken.
- Vectors of two embedding models or backends are never mixed in one corpus (`check_model`).
- The active collection is named in meta `active_collection` (switched by a reindex, maybe in
  another process: `collection` reopens it when the name changes). Collections waiting to be
  dropped are listed in meta `retired_collections` and dropped by the next run
  (`drop_retired`), so a kill between a switch and its drop leaves nothing behind for long.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from ingest import lease
from ingest.config import Settings
from ingest.models import Article, Chunk, ConfigError, NewsbotError
from ingest.store.db import Database, batches

log = logging.getLogger(__name__)

CHROMA_IN_BATCH = 4000  # ids per Chroma `$in` filter (Chroma's SQLite allows 32,766 variables)
# Vectors per Chroma add: an embedded store refuses more than its max batch size (5,461 with
# SQLite's 32,766 variables) in one call, whatever the article they belong to.
CHROMA_WRITE_BATCH = 4000


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


_STORE_WORDS = ("disk", "read-only", "readonly", "locked", "malformed", "no space")


def is_store_failure(error: BaseException) -> bool:
    """An error of the store itself (a full disk, a read-only or broken file, a locked database,
    an unreachable Chroma server), anywhere in the exception's chain: it would fail every
    write, so it stops the run instead of setting one article aside."""
    seen: BaseException | None = error
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, (NewsbotError, OSError, sqlite3.OperationalError)):
            return True
        if isinstance(seen, sqlite3.DatabaseError) or _is_connection_error(seen):
            return True
        if any(word in str(seen).lower() for word in _STORE_WORDS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def retire(db: sqlite3.Connection, name: str) -> None:
    """Inside the caller's transaction: list a collection to be dropped by `drop_retired`."""
    row = db.execute("SELECT value FROM meta WHERE key='retired_collections'").fetchone()
    names = json.loads(row["value"]) if row else []
    if name not in names:
        names.append(name)
    db.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES ('retired_collections', ?)",
        (json.dumps(names),),
    )


class VectorIndex:
    """The Chroma side of the corpus. The client is opened on first use."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._collection: Any = None
        self._collection_name: str | None = None
        self._chroma: Any = None
        self._read_lease = False

    # ------------------------------------------------------------------ leases
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

    def claim(self) -> None:
        """Open the embedded store now (taking its read lease), so that a process conflicting
        with another is refused at start-up rather than at its first question."""
        if not self.settings.chroma_url:
            self.client()

    def close(self) -> None:
        """Release the read lease (the embedded store stays open until the process ends)."""
        if self._read_lease:
            lease.release(self.lease_path, writing=False)
            self._read_lease = False

    # ------------------------------------------------------------------ client and collections
    def client(self) -> Any:
        if self._chroma is None:
            self._chroma = self._new_client()
        return self._chroma

    def _new_client(self) -> Any:
        import chromadb  # lazy: start-up time (about 1 s)
        from chromadb.config import Settings as ChromaSettings  # lazy: start-up time

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

    def get_collection(self, name: str) -> Any:
        try:
            return self.client().get_or_create_collection(
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

    def active_name(self) -> str:
        return self.db.get_meta("active_collection") or self.settings.collection

    @property
    def collection(self) -> Any:
        """The active Chroma collection (embedded store or server), opened on first use and
        reopened when a reindex (maybe in another process) has switched to a new one."""
        name = self.active_name()
        if self._collection is None or self._collection_name != name:
            self._collection = self.get_collection(name)
            self._collection_name = name
        return self._collection

    def missing(self, chunks: int, *, open_store: bool = False) -> int:
        """How many of `chunks` chunk rows have no vector in the active collection (the vector
        store was deleted or lost). An embedded store this process has not opened is opened
        only with `open_store` (it takes the read lease); without, only a deleted store is told.
        0 when nothing is missing or it cannot be told."""
        if chunks <= 0:
            return 0
        embedded = not self.settings.chroma_url
        if embedded and not (self.settings.chroma_path / "chroma.sqlite3").exists():
            return chunks
        if embedded and self._chroma is None and not open_store:
            return 0
        try:
            have = int(self.collection.count())
        except NewsbotError:
            raise
        except Exception as e:  # noqa: BLE001 - a reader is told nothing rather than failing
            log.warning("could not count the stored vectors: %s", e)
            return 0
        return max(0, chunks - have)

    def stored_ids(self, page: int = CHROMA_WRITE_BATCH) -> set[str]:
        """Every chunk id with a vector in the active collection."""
        ids: set[str] = set()
        while True:
            got = self.collection.get(include=[], limit=page, offset=len(ids))["ids"]
            ids.update(got)
            if len(got) < page:
                return ids

    def drop_retired(self) -> int:
        """Drop the collections a switch (or an abandoned rebuild) left behind."""
        retired = self.db.meta_list("retired_collections")
        if not retired:
            return 0
        client = self.client()
        for name in retired:
            try:
                client.delete_collection(name)
            except Exception:  # chromadb raises NotFoundError/ValueError depending on version
                log.debug("collection %s was already gone", name)
        with self.db.tx() as db:
            db.execute("DELETE FROM meta WHERE key='retired_collections'")
        log.info("dropped %d retired vector collection(s): %s", len(retired), ", ".join(retired))
        return len(retired)

    def check_model(self, model: str, backend: str | None = None, *, write: bool = True) -> None:
        """Refuse to mix vectors of two embedding models or backends in one collection.

        The writer (`write=True`) records model and backend in an empty corpus; a reader only
        checks. Corpora from before the backend was recorded were built with torch."""
        current = self.db.get_meta("embedding_model")
        if current is None:
            if write:
                self.db.set_meta("embedding_model", model)
                if backend:
                    self.db.set_meta("embedding_backend", backend)
            return
        built_with = self.db.get_meta("embedding_backend") or "torch"
        if current != model or (backend is not None and built_with != backend):
            raise ConfigError(
                f"the corpus was embedded with {current!r} ({built_with}) but this process uses "
                f"{model!r} ({backend or built_with}); run `newsbot ingest --reindex` to rebuild "
                "the vectors, or set NEWSBOT_EMBEDDING_MODEL/NEWSBOT_EMBEDDING_BACKEND back"
            )

    # ------------------------------------------------------------------ writes
    @staticmethod
    def write(
        collection: Any,
        items: Sequence[tuple[Article, tuple[str, ...], Sequence[Chunk]]],
        vectors: np.ndarray,
    ) -> None:
        """Replace the vectors of these articles in `collection` (idempotent by article id:
        a batch redone after a crash deletes what the killed run had added).

        Chroma holds the vectors and each chunk's article id, nothing else: the chunk text is
        in SQLite (`chunks`, keyword.py), which readers join to the hits (`Corpus.dense_search`).
        Documents in Chroma would be indexed for Chroma's own full-text search, which newsbot
        never uses: that indexing cost more than the vectors (about 2.5x the write time)."""
        ids = [c.id for _, _, chunks in items for c in chunks]
        metas: list[Any] = [{"article_id": art.id} for art, _, chunks in items for _ in chunks]
        if len(ids) != len(vectors):
            raise ValueError("one vector per chunk expected")
        article_ids = [art.id for art, _, _ in items]
        for part in batches(article_ids, CHROMA_IN_BATCH):
            collection.delete(where={"article_id": {"$in": part}})
        for start in range(0, len(ids), CHROMA_WRITE_BATCH):
            end = start + CHROMA_WRITE_BATCH
            collection.upsert(
                ids=ids[start:end], embeddings=vectors[start:end], metadatas=metas[start:end]
            )

    def delete(self, article_ids: Sequence[str]) -> None:
        """Drop every vector of these articles from the active collection."""
        self.collection.delete(where={"article_id": {"$in": list(article_ids)}})

    # ------------------------------------------------------------------ reads
    def dense_search(
        self, vector: np.ndarray, n: int, article_ids: Sequence[str] | None = None
    ) -> list[tuple[str, str, float]]:
        """(chunk_id, article_id, cosine similarity), best first."""
        if article_ids is not None and not article_ids:
            return []
        # Chroma binds every `$in` value as an SQL variable: a large filter is queried in slices
        # and the per-slice top n merged, which is exactly the top n of the whole filter.
        wheres: list[dict[str, Any] | None] = (
            [None]
            if article_ids is None
            else [
                {"article_id": {"$in": part}}
                for part in batches(list(dict.fromkeys(article_ids)), CHROMA_IN_BATCH)
            ]
        )
        out = []
        try:
            # No count() first: it cost as much as a third of the query on a large collection,
            # and Chroma returns what there is when asked for more (nothing when empty).
            for where in wheres:
                res = self.collection.query(
                    query_embeddings=[vector.tolist()],
                    n_results=n,
                    where=where,
                    include=["metadatas", "distances"],
                )
                for cid, meta, dist in zip(
                    res["ids"][0], res["metadatas"][0], res["distances"][0], strict=True
                ):
                    out.append((cid, str(meta["article_id"]), 1.0 - float(dist)))
        except Exception as e:  # noqa: BLE001 - see _unavailable
            self._unavailable(e)
            return []
        if len(wheres) > 1:
            out.sort(key=lambda hit: hit[2], reverse=True)
        return out[:n]

    def chunk_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of these chunks (those that exist)."""
        out: dict[str, np.ndarray] = {}
        try:
            # in slices: Chroma binds every id as an SQL variable (at 62,000 ids the whole
            # list failed with "too many SQL variables" and the caller got nothing)
            for part in batches(list(chunk_ids), CHROMA_IN_BATCH):
                res = self.collection.get(ids=part, include=["embeddings"])
                out.update(
                    (cid, np.asarray(vec, dtype=np.float32))
                    for cid, vec in zip(res["ids"], res["embeddings"], strict=True)
                )
        except Exception as e:  # noqa: BLE001 - see _unavailable
            self._unavailable(e)
            return {}
        return out

    def _unavailable(self, error: Exception) -> None:
        """Readers degrade to keyword search instead of failing when Chroma cannot answer (a
        Chroma server restarting, a collection dropped by a reindex switch a moment ago).
        Two processes on one embedded store cannot happen: see ingest.lease."""
        if isinstance(error, NewsbotError):
            raise error
        log.warning("vector search unavailable, using keyword search only: %s", error)
        self._collection = None  # reopen on next use
