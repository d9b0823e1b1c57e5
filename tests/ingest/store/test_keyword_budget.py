"""Keyword search on a large corpus (ingest/store/keyword.py): exact BM25 while the question's
words match few chunks; over the budget, only the chunks holding one of its rarest words are
scored, each still by its exact BM25 over all the words; the word counts behind that choice
follow the corpus when another process (or this one) adds chunks.

Real SQLite FTS5; the budget is lowered so that a corpus of 300 chunks is "large"."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from conftest import make_settings

import ingest.store.keyword as keyword
from ingest.models import Article, Chunk, FeedState
from ingest.store import Corpus
from ingest.store.db import Database
from ingest.store.keyword import KeywordIndex

DIM = 8
QUESTION = "which gemma model release did the quokka launch cover"


def _text(i: int) -> str:
    """Every chunk says model, release and launch (some more than once); gemma is in 30 of them,
    quokka in 4; every tenth chunk is long."""
    words = ["model release launch", "model " * (i % 3), "launch " * (i % 5)]
    if i % 10 == 0:
        words.append("filler words about nothing in particular " * 4)
    if i % 10 == 3:
        words.append("gemma")
    if i in (7, 77, 177, 277):
        words.append("quokka quokka" if i == 77 else "quokka")
    return " ".join(words)


def _article(i: int, text: str, feed: str = "alpha") -> Article:
    return Article(
        id=f"https://example.org/{feed}/{i}",
        url=f"https://example.org/{feed}/{i}",
        title=f"{feed} post {i}",
        text=text,
        feed=feed,
        published=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i),
    )


def _store(corpus: Corpus, arts: list[Article], feed: str) -> None:
    corpus.upsert_feed(feed, arts, FeedState(name=feed))
    items = [(a, (feed,), [Chunk(f"{a.id}:0", a.id, 0, a.text)]) for a in arts]
    vecs = np.random.default_rng(3).normal(size=(len(arts), DIM)).astype(np.float32)
    corpus.store_embeddings(items, vecs / np.linalg.norm(vecs, axis=1, keepdims=True))


@pytest.fixture
def corpus(tmp_path: Path) -> Iterator[Corpus]:
    c = Corpus(make_settings(tmp_path / "data"))
    _store(c, [_article(i, _text(i)) for i in range(300)], "alpha")
    yield c
    c.close()


def _exact(corpus: Corpus, query: str) -> dict[str, float]:
    """Every matching chunk's BM25 score over all the question's words (higher is better)."""
    rows = corpus.db.query(
        "SELECT chunk_id, -bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH ?",
        (keyword.fts_query(query),),
    )
    return {r["chunk_id"]: float(r["s"]) for r in rows}


def _assert_top(hits: list[tuple[str, str, str, float]], scores: dict[str, float]) -> None:
    """`hits` are the best of `scores`, best first (chunks tied at the cut-off may be either)."""
    best = sorted(scores.items(), key=lambda kv: -kv[1])[: len(hits)]
    assert [round(s, 9) for *_, s in hits] == [round(s, 9) for _, s in best]
    cut = best[-1][1] + 1e-9
    assert {c for c, *_, s in hits if s > cut} == {c for c, s in best if s > cut}


def _over_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyword, "SCORED_ROWS", 0)
    monkeypatch.setattr(keyword, "SCORED_SHARE", 0.2)  # 60 of the 300 chunks


def test_below_the_budget_the_search_is_the_exact_bm25_ranking(corpus: Corpus) -> None:
    exact = _exact(corpus, QUESTION)
    assert len(exact) == 300  # every chunk matches a common word
    hits = corpus.keyword_search(QUESTION, 20)
    _assert_top(hits, exact)
    assert hits[0][0] == "https://example.org/alpha/77:0"  # quokka twice, gemma-free


def test_over_the_budget_only_chunks_with_a_rare_word_are_scored_exactly(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    _over_budget(monkeypatch)
    exact = _exact(corpus, QUESTION)
    hits = corpus.keyword_search(QUESTION, 20)
    assert len(hits) == 20
    # the rarest words within 60 chunks: quokka (4) and gemma (30); the common ones are not
    for cid, _aid, text, score in hits:
        assert "quokka" in text or "gemma" in text
        assert score == pytest.approx(exact[cid], abs=1e-9)  # scored over every word
    rare = {i for i in range(300) if i % 10 == 3 or i in (7, 77, 177, 277)}
    candidates = {c: s for c, s in exact.items() if int(c.split("/")[-1].split(":")[0]) in rare}
    _assert_top(hits, candidates)
    # The price: chunks that say only common words are never listed (the exact search would
    # list 80 here).
    assert {c for c, *_ in corpus.keyword_search(QUESTION, 80)} == set(candidates)


def test_over_the_budget_a_filter_still_holds(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    _over_budget(monkeypatch)
    _store(corpus, [_article(i, _text(i) + " quokka", "beta") for i in range(5)], "beta")
    # more ids than make the exact query cheap, so the two-step plan is used
    ids = [f"https://example.org/missing/{i}" for i in range(4000)]
    ids += [f"https://example.org/beta/{i}" for i in range(5)]
    exact = _exact(corpus, QUESTION)
    hits = corpus.keyword_search(QUESTION, 50, ids)
    assert {aid for _, aid, _, _ in hits} == {f"https://example.org/beta/{i}" for i in range(5)}
    assert all(s == pytest.approx(exact[cid], abs=1e-9) for cid, _, _, s in hits)


def test_word_counts_follow_chunks_added_by_another_connection(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    _over_budget(monkeypatch)
    question = "zebu model release launch"
    assert corpus.keyword_search(question, 10)  # counts taken: zebu is in no chunk yet
    arts = [_article(i, "a zebu herd grazing", "gamma") for i in range(3)]
    corpus.upsert_feed("gamma", arts, FeedState(name="gamma"))
    other = Database(corpus.settings.db_path)  # another process's connection writes them
    try:
        with other.tx() as db:
            KeywordIndex.replace(
                db, [(a, ("gamma",), [Chunk(f"{a.id}:0", a.id, 0, a.text)]) for a in arts]
            )
    finally:
        other.close()
    # A stale count (zebu: 0) would leave zebu out of the rare words, and its chunks, which
    # say none of the common words, would never be scored.
    hits = corpus.keyword_search(question, 10)
    assert {aid for _, aid, _, _ in hits[:3]} == {a.id for a in arts}
    exact = _exact(corpus, question)  # chunks with zebu and no common word are scored exactly too
    assert all(s == pytest.approx(exact[cid], abs=1e-9) for cid, _, _, s in hits)


def test_word_counts_follow_chunks_this_connection_adds(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    _over_budget(monkeypatch)
    question = "yak model release launch"
    assert corpus.keyword_search(question, 10)
    arts = [_article(i, "a yak herd grazing", "delta") for i in range(3)]
    _store(corpus, arts, "delta")
    hits = corpus.keyword_search(question, 10)
    assert {aid for _, aid, _, _ in hits[:3]} == {a.id for a in arts}


@pytest.mark.parametrize("wide", [10, 3])
def test_a_large_filter_gives_the_filters_best_chunks(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch, wide: int
) -> None:
    """Many ids: the best chunks of the whole corpus are filtered in Python when enough of
    them pass (wide=10: 200 read, 90 pass), else the filter runs in SQL (wide=3: 60 read, 17
    pass: not enough for 20)."""
    monkeypatch.setattr(keyword, "WIDE", wide)
    even = [f"https://example.org/alpha/{i}" for i in range(0, 300, 2)]
    ids = [f"https://example.org/missing/{i}" for i in range(keyword.MANY_IDS)] + even
    exact = {
        c: s for c, s in _exact(corpus, QUESTION).items() if int(c.split("/")[-1][:-2]) % 2 == 0
    }
    hits = corpus.keyword_search(QUESTION, 20, ids)
    assert len(hits) == 20 and {aid for _, aid, _, _ in hits} <= set(even)
    _assert_top(hits, exact)
