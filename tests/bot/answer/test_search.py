"""bot/answer/search.py `Retriever.versions_of`: the versions of a family the corpus names, read
from the stored text (real SQLite full-text index), newest first; a model's size is no version."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from conftest import make_settings

from bot.answer.search import Retriever
from ingest.embed import Embedder
from ingest.models import Article, Chunk, FeedState
from ingest.store import Corpus

TEXTS = [
    "Meta released Llama 3.1 with a 405B variant.",
    "Achieving Llama 70B performance on a laptop; LLaMA-7B trains on one 16GB GPU.",
    "Mixtral 8x7B and Mistral 7B struggled, while Qwen 72B and Qwen-235B-A22B did well.",
    "Alibaba's Qwen 3 tops the open leaderboard; Qwen2.5 was last year's.",
]


@pytest.fixture
def corpus(tmp_path: Path) -> Iterator[Corpus]:
    c = Corpus(make_settings(tmp_path / "data"))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    arts = [
        Article(id=f"https://example.org/{i}", url=f"https://example.org/{i}", title=f"post {i}",
                text=t, feed="alpha", published=start + timedelta(days=i))
        for i, t in enumerate(TEXTS)
    ]  # fmt: skip
    c.upsert_feed("alpha", arts, FeedState(name="alpha"))
    vecs = np.eye(len(arts), 8, dtype=np.float32)
    c.store_embeddings([(a, ("alpha",), [Chunk(f"{a.id}:0", a.id, 0, a.text)]) for a in arts], vecs)
    yield c
    c.close()


def test_a_size_is_no_version(corpus: Corpus, embedder: Embedder) -> None:
    retriever = Retriever(corpus, embedder, corpus.settings)  # type: ignore[arg-type]
    # "Llama 70B" and "LLaMA-7B" are sizes, not Llama 70 or Llama 7 (a decline would otherwise
    # say "the newest Llama I have is Llama 70"); nor are "Mixtral 8x7B", "Qwen 72B", "Qwen-235B"
    assert [v for v, _ in retriever.versions_of("llama")] == ["3.1"]
    assert [v for v, _ in retriever.versions_of("qwen")] == ["3", "2.5"]
    assert [v for v, _ in retriever.versions_of("mistral")] == []
    assert [v for v, _ in retriever.versions_of("mixtral")] == []
    newest = dict(retriever.versions_of("qwen"))["3"]
    assert newest.url == "https://example.org/3"
