"""The chunk rows of the embedded articles and their full-text (FTS5) index: keyword search,
phrase counts, and the text of an article's chunks.

Rule: the chunk rows and `chunks_fts` always change together, in the transaction that marks the
article embedded (`Corpus.store_embeddings`) or switches a reindex (`Rebuild.finish`), so keyword
search and dense search see the same chunks.

Keyword search is an OR-query of the question's words ranked by BM25, and FTS5 computes BM25 for
every chunk that matches any word: common words ("ai", "model") match a fifth to two thirds of a
large corpus, which cost ~120 ms per search at 256,000 chunks. When the words match more chunks
than `SCORED_ROWS` (or `SCORED_SHARE` of the corpus, the larger), the search scores only the
chunks holding one of its rarest words (as many as fit in the budget, at least the rarest), each
still by its BM25 score over all the words (see `_TWO_STEP`). Below the budget it is exact. At
256,000 chunks (budget 8%) its top 60 share 99% with the exact ranking's on 80 dev questions, at
40 ms of CPU instead of 106 (bench/profile_ask.py; README "Scale").
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence

from ingest.models import Article, Chunk
from ingest.store.db import Database, batches, marks
from ingest.text import SEARCH_STOPWORDS as STOPWORDS

SCORED_ROWS = 12_000  # chunks one keyword search scores at most (about 15 ms) ...
SCORED_SHARE = 0.08  # ... or this share of the corpus's chunks, when that is more
RARE_TERMS = 1  # the candidates hold one of at least this many of the rarest words
MANY_IDS = 2_000  # a filter of this many articles or more is applied to the best WIDE * n ...
WIDE = 10  # ... chunks of the whole corpus first (see `_widely`)

# The chunks holding one of the rare words, each with its BM25 score over all the words: BM25 is a
# sum over the query's phrases, each counted once, so "(rare) AND (common)" scores the chunks that
# also hold a common word exactly, and "(rare) NOT (common)" the others (a common word's share is
# 0 in a chunk that does not hold it). One query "(rare) AND (all)" would count the rare ones twice.
_TWO_STEP = """
WITH top AS (
    SELECT rowid AS r, -bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH ?{f}
    UNION ALL
    SELECT rowid AS r, -bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH ?{f}
    ORDER BY s DESC, r LIMIT ?)
SELECT f.chunk_id, f.article_id, f.text, top.s FROM top
JOIN chunks_fts f ON f.rowid = top.r ORDER BY top.s DESC, top.r
"""
_FULL = """
SELECT chunk_id, article_id, text, -bm25(chunks_fts) AS s FROM chunks_fts
WHERE chunks_fts MATCH ?{f} ORDER BY bm25(chunks_fts) LIMIT ?
"""
_FILTER = " AND article_id IN (SELECT id FROM temp.filter_ids)"


def fts_terms(text: str) -> list[str]:
    """A question's content words as quoted FTS5 phrases (so no FTS syntax leaks through)."""
    words = re.findall(r"[\w][\w.\-']*[\w]|\w", text.lower())
    terms = [w for w in dict.fromkeys(words) if w not in STOPWORDS and len(w) > 1]
    return ['"' + w.replace('"', "") + '"' for w in terms[:32]]


def fts_query(text: str) -> str:
    """Question → FTS5 OR-query of its content words."""
    return " OR ".join(fts_terms(text))


class KeywordIndex:
    """The `chunks` and `chunks_fts` tables."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # Chunks per word (counted up to a cap) and the corpus's chunk count, valid while the
        # database is unchanged: common words recur in most questions and cost most to count.
        self._counts: dict[tuple[str, int], int] = {}
        self._counted_at: tuple[int, int] | None = None
        self._chunks = 0

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
        terms = fts_terms(query)
        if not terms or (article_ids is not None and not article_ids):
            return []
        # A filter does not make the exact query cheaper: FTS5 cannot index the article id, so
        # every chunk matching a word is still read (to ~300 ms at 256,000 chunks).
        if article_ids is None:
            sql, params = self._plan(terms, n)
            rows = self.db.query(sql.format(f=""), params)
        elif len(article_ids) >= MANY_IDS and (rows := self._widely(terms, n, article_ids)):
            pass
        else:
            sql, params = self._plan(terms, n)
            with self.db.read_with_ids(article_ids) as db:
                rows = db.execute(sql.format(f=_FILTER), params).fetchall()
        return [(r["chunk_id"], r["article_id"], r["text"], float(r["s"])) for r in rows]

    def _widely(self, terms: list[str], n: int, article_ids: Sequence[str]) -> list[sqlite3.Row]:
        """The best `n` of these articles' chunks, from the best WIDE * n of the whole corpus
        when at least `n` of those are theirs (then they are exactly the filtered search's); []
        when not. Copying a large filter into the scratch table costs more (44 ms for 20,000)."""
        sql, params = self._plan(terms, WIDE * n)
        rows = self.db.query(sql.format(f=""), params)
        wanted = set(article_ids)
        kept = [r for r in rows if r["article_id"] in wanted]
        return kept[:n] if len(kept) >= n or len(rows) < WIDE * n else []

    def _plan(self, terms: list[str], n: int) -> tuple[str, tuple[object, ...]]:
        """The exact query when the words match few chunks; else the two-step one over the
        chunks that hold one of the rarest words (see the module's docstring)."""
        everything = " OR ".join(terms)
        with self.db.lock:
            chunks = self._chunk_count()
            budget = max(SCORED_ROWS, int(SCORED_SHARE * chunks))
            if chunks <= budget:  # nothing can match more chunks than the budget
                return _FULL, (everything, n)
            counts = {t: self._count(t, budget + 1) for t in terms}
        rare: list[str] = []
        scored = 0
        for term in sorted((t for t in terms if counts[t]), key=lambda t: counts[t]):
            if len(rare) >= RARE_TERMS and scored + counts[term] > budget:
                break
            rare.append(term)
            scored += counts[term]
        if len(rare) == sum(1 for t in terms if counts[t]):  # every word fits: score them all
            return _FULL, (everything, n)
        either = " OR ".join(rare)
        common = " OR ".join(t for t in terms if t not in rare)
        return _TWO_STEP, (f"({either}) AND ({common})", f"({either}) NOT ({common})", n)

    def _fresh(self) -> None:
        """Forget the counts when chunks were added (by another process: `data_version`, or by
        this connection: the newest chunk row; not `total_changes`, which every filtered search
        moves with its scratch table)."""
        db = self.db.connection
        version = int(db.execute("PRAGMA data_version").fetchone()[0])
        newest = db.execute("SELECT max(rowid) FROM chunks").fetchone()[0]
        stamp = (version, int(newest or 0))
        if stamp != self._counted_at:
            self._counts.clear()
            self._chunks = int(db.execute("SELECT count(*) FROM chunks").fetchone()[0])
            self._counted_at = stamp

    def _chunk_count(self) -> int:
        self._fresh()
        return self._chunks

    def _count(self, term: str, cap: int) -> int:
        """Chunks holding `term`, counted up to `cap` (the caller holds the lock)."""
        key = (term, cap)
        if key not in self._counts:
            if len(self._counts) > 50_000:
                self._counts.clear()
            self._counts[key] = int(
                self.db.connection.execute(
                    "SELECT count(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ?"
                    " LIMIT ?)",
                    (term, cap),
                ).fetchone()[0]
            )
        return self._counts[key]

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
