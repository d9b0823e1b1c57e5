"""Source/date filters on a corpus larger than SQLite's (and Chroma's) variable limits.

The vectors are written directly (no model needed): the store, real SQLite and a real embedded
Chroma are what is tested."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from conftest import make_settings

from ingest.models import Article, Chunk, FeedState
from ingest.store import CHROMA_IN_BATCH, Corpus

DIM = 8


def _article(i: int, feed: str, text: str) -> Article:
    return Article(
        id=f"https://example.org/{feed}/{i}",
        url=f"https://example.org/{feed}/{i}",
        title=f"{feed} post {i}",
        text=text,
        feed=feed,
        published=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=i),
    )


@pytest.fixture
def corpus(tmp_path: Path) -> Corpus:
    c = Corpus(make_settings(tmp_path / "data"))
    rng = np.random.default_rng(7)
    for feed, word in (("alpha", "quokka"), ("beta", "quokka wombat")):
        arts = [_article(i, feed, f"{word} news number {i}") for i in range(12)]
        c.upsert_feed(feed, arts, FeedState(name=feed))
        items = [(a, (feed,), [Chunk(f"{a.id}:0", a.id, 0, a.text)]) for a in arts]
        vecs = rng.normal(size=(len(arts), DIM)).astype(np.float32)
        c.store_embeddings(items, vecs / np.linalg.norm(vecs, axis=1, keepdims=True))
    yield c
    c.close()


def test_filters_accept_more_ids_than_sqlite_and_chroma_allow(corpus: Corpus) -> None:
    limit = corpus.db.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    beta = corpus.articles.filter_article_ids(feed="beta", since=None, until=None)
    assert len(beta) == 12
    # What a source filter on a corpus of `limit` + 1 articles hands the store: the real ids
    # among a crowd that matches nothing.
    ids = [f"https://example.org/missing/{i}" for i in range(limit + 1)] + beta
    assert len(ids) > limit and len(ids) > CHROMA_IN_BATCH

    hits = corpus.keyword_search("quokka", 50, ids)
    assert {a for _, a, _, _ in hits} == set(beta)

    rows = corpus.latest_articles(5, ids=ids)
    assert [r.id for r in rows] == sorted(beta, key=lambda i: int(i.rsplit("/", 1)[1]))[::-1][:5]

    query = np.ones(DIM, dtype=np.float32) / np.sqrt(DIM)
    dense = corpus.dense_search(query, 5, ids)
    # Exactly the top 5 of the filtered set, as one unsliced query over those ids returns it.
    expected = corpus.dense_search(query, 5, beta)
    assert [h[0] for h in dense] == [h[0] for h in expected]
    assert len(dense) == 5 and all(a in beta for _, a, _, _ in dense)
    # Without a filter, both feeds compete.
    assert len(corpus.dense_search(query, 24)) == 24


def test_date_filter_and_empty_filter(corpus: Corpus) -> None:
    since = datetime(2026, 1, 10, tzinfo=UTC)
    ids = corpus.articles.filter_article_ids(feed=None, since=since, until=None)
    assert len(ids) == 2 * 3  # days 9, 10, 11 of both feeds
    assert corpus.keyword_search("quokka", 50, []) == []
    assert corpus.dense_search(np.ones(DIM, dtype=np.float32), 5, []) == []
    assert corpus.latest_articles(5, ids=[]) == []
    # The scratch table leaves nothing behind between calls.
    assert len(corpus.keyword_search("wombat", 50, ids)) == 3
