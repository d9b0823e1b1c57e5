"""The chunk rows of the embedded articles and their full-text (FTS5) index: keyword search,
phrase counts, and the text of an article's chunks.

Rule: the chunk rows and `chunks_fts` always change together, in the transaction that marks the
article embedded (`Corpus.store_embeddings`) or switches a reindex (`Rebuild.finish`), so keyword
search and dense search see the same chunks.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence

from ingest.models import Article, Chunk
from ingest.store.db import Database, batches, marks
from ingest.text import SEARCH_STOPWORDS as STOPWORDS


def fts_query(text: str) -> str:
    """Question → FTS5 OR-query of its content words (quoted, so no FTS syntax leaks through)."""
    words = re.findall(r"[\w][\w.\-']*[\w]|\w", text.lower())
    terms = [w for w in dict.fromkeys(words) if w not in STOPWORDS and len(w) > 1]
    return " OR ".join('"' + w.replace('"', "") + '"' for w in terms[:32])


class KeywordIndex:
    """The `chunks` and `chunks_fts` tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ writes (caller's tx)
    @staticmethod
    def replace(
        db: sqlite3.Connection, items: Sequence[tuple[Article, tuple[str, ...], Sequence[Chunk]]]
    ) -> None:
        """Replace the chunk rows and full-text rows of these articles."""
        # Only articles embedded before have rows to replace. chunks_fts cannot index
        # article_id, so deleting from it scans the table: skip it for new articles.
        article_ids = [art.id for art, _, _ in items]
        had_chunks: set[str] = set()
        for part in batches(article_ids):
            had_chunks |= {
                r[0]
                for r in db.execute(
                    f"SELECT DISTINCT article_id FROM chunks WHERE article_id IN ({marks(part)})",
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

    @staticmethod
    def delete(db: sqlite3.Connection, article_ids: Sequence[str]) -> None:
        """Drop the full-text rows of these articles (their chunk rows cascade with them)."""
        db.execute(
            f"DELETE FROM chunks_fts WHERE article_id IN ({marks(article_ids)})", article_ids
        )

    @staticmethod
    def adopt_staged(db: sqlite3.Connection) -> None:
        """Inside the reindex switch: the rebuilt chunks (of articles still stored) become the
        chunk rows, and the full-text index is rebuilt from them."""
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

    # ------------------------------------------------------------------ reads
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
            rows = self.db.query(sql.format(""), (q, n))
        else:
            sql = sql.format(" AND article_id IN (SELECT id FROM temp.filter_ids)")
            with self.db.read_with_ids(article_ids) as db:
                rows = db.execute(sql, (q, n)).fetchall()
        return [(r["chunk_id"], r["article_id"], r["text"], float(r["s"])) for r in rows]

    def count_mentions(self, term: str, cap: int = 1000) -> int:
        """Chunks whose text contains `term` as a phrase (counting stops at `cap`)."""
        bare = re.sub(r"['’]s?$", "", term.lower())  # "OpenAI's" → "openai"
        phrase = " ".join(re.findall(r"\w+", bare))
        if not phrase:
            return 0
        rows = self.db.query(
            "SELECT count(*) AS n FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)",
            (f'"{phrase}"', cap),
        )
        return int(rows[0]["n"])

    def chunk_texts(self, chunk_ids: Sequence[str]) -> dict[str, str]:
        """Text of these chunks (those that are stored)."""
        out: dict[str, str] = {}
        for part in batches(list(chunk_ids)):
            rows = self.db.query(f"SELECT id, text FROM chunks WHERE id IN ({marks(part)})", part)
            out.update((r["id"], r["text"]) for r in rows)
        return out

    def article_chunks(self, article_ids: Sequence[str]) -> list[tuple[str, str, str]]:
        """(chunk_id, article_id, text) of every chunk of these articles, in reading order."""
        out: list[tuple[str, str, str]] = []
        for part in batches(article_ids):
            rows = self.db.query(
                f"SELECT id, article_id, text FROM chunks WHERE article_id IN ({marks(part)})"
                " ORDER BY article_id, idx",
                part,
            )
            out += [(r["id"], r["article_id"], r["text"]) for r in rows]
        return out
