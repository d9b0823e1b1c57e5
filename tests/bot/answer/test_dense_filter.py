"""A dense search under a large source/date filter (bot/answer/search.py `Retriever._dense`):
the nearest chunks of the whole corpus are read first and filtered, and the filtered Chroma query
runs only when too few of them pass; either way the result is the filter's nearest chunks.

Real embedded Chroma and SQLite; the vectors are written directly (8 dimensions, seeded)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from conftest import make_settings

import bot.answer.search as search
from bot.answer.search import CANDIDATES, Retriever
from ingest.embed import Embedder
from ingest.models import Article, Chunk, FeedState
from ingest.store import CHROMA_IN_BATCH, Corpus

DIM = 8
N = 300


def _unit(rows: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(rows, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture
def corpus(tmp_path: Path) -> Iterator[tuple[Corpus, np.ndarray]]:
    c = Corpus(make_settings(tmp_path / "data"))
    arts = [
        Article(
            id=f"https://example.org/{i}",
            url=f"https://example.org/{i}",
            title=f"post {i}",
            text=f"text number {i}",
            feed="alpha",
            published=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i),
        )
        for i in range(N)
    ]
    c.upsert_feed("alpha", arts, FeedState(name="alpha"))
    vecs = _unit(N, 5)
    c.store_embeddings([(a, ("alpha",), [Chunk(f"{a.id}:0", a.id, 0, a.text)]) for a in arts], vecs)
    yield c, vecs
    c.close()


def _nearest(vecs: np.ndarray, q: np.ndarray, among: list[int]) -> list[str]:
    sims = sorted(((float(vecs[i] @ q), i) for i in among), reverse=True)
    return [f"https://example.org/{i}:0" for _, i in sims[:CANDIDATES]]


def test_a_large_filter_gives_the_filters_nearest_chunks(
    corpus: tuple[Corpus, np.ndarray], embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, vecs = corpus
    retriever = Retriever(c, embedder, c.settings)  # type: ignore[arg-type]
    monkeypatch.setattr(search, "WIDE_DENSE", 120)  # the corpus is 300 chunks: read 120 first
    missing = [f"https://example.org/missing/{i}" for i in range(CHROMA_IN_BATCH)]
    for seed, among in ((1, list(range(0, N, 2)) + [1, 3, 5]), (2, list(range(7, N, 9)))):
        # 153 of 300 articles: the first 120 hold 60 of them; 33: they do not (Chroma's filter)
        q = _unit(1, seed)[0]
        ids = missing + [f"https://example.org/{i}" for i in among]
        hits = retriever._dense(q, ids)
        assert [cid for cid, *_ in hits] == _nearest(vecs, q, among)
        assert all(abs(sim - float(vecs[int(cid.split("/")[-1][:-2])] @ q)) < 1e-4
                   for cid, _, _, sim in hits)  # fmt: skip


def test_a_small_filter_and_no_filter_are_asked_of_chroma_directly(
    corpus: tuple[Corpus, np.ndarray], embedder: Embedder
) -> None:
    c, vecs = corpus
    retriever = Retriever(c, embedder, c.settings)  # type: ignore[arg-type]
    q = _unit(1, 3)[0]
    among = list(range(10, 200, 3))
    hits = retriever._dense(q, [f"https://example.org/{i}" for i in among])
    assert [cid for cid, *_ in hits] == _nearest(vecs, q, among)
    assert [cid for cid, *_ in retriever._dense(q, None)] == _nearest(vecs, q, list(range(N)))
    assert retriever._dense(q, []) == []
