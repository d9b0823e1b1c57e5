"""Feeds are fetched and parsed in a thread while the articles already stored are embedded
(ingest.pipeline._ingest_while_embedding). Whatever the interleaving, the corpus must end as a
run that parses everything first would leave it: the same articles, chunk rows, full-text rows
and vectors, nothing pending.

Real feeds (two that share articles), the real model, real SQLite and embedded Chroma."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import make_settings, write_feeds_toml

from ingest import pipeline, vectorize
from ingest.config import Settings
from ingest.embed import Embedder
from ingest.store import Corpus

FEEDS = {
    "openai-news": "publisher/openai_news.xml",
    "openai-research": "generated/olshansk_feed_openai_research.xml",
}


def _state(settings: Settings) -> dict[str, Any]:
    db = sqlite3.connect(settings.db_path)
    try:
        out: dict[str, Any] = {
            "articles": db.execute(
                "SELECT id, content_hash, embedded_hash FROM articles ORDER BY id"
            ).fetchall(),
            "chunks": db.execute("SELECT id, article_id, text FROM chunks ORDER BY id").fetchall(),
            "fts": db.execute("SELECT chunk_id, text FROM chunks_fts ORDER BY 1").fetchall(),
            "feeds": db.execute(
                "SELECT article_id, feed FROM article_feeds ORDER BY 1, 2"
            ).fetchall(),
        }
    finally:
        db.close()
    corpus = Corpus(settings)
    try:
        got = corpus.collection.get(include=["metadatas"])
        out["vectors"] = sorted(
            (cid, m["article_id"]) for cid, m in zip(got["ids"], got["metadatas"], strict=True)
        )
    finally:
        corpus.close()
    return out


@pytest.mark.shared_data
@pytest.mark.slow
def test_embedding_while_parsing_ends_as_parsing_first(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    feeds_file = write_feeds_toml(tmp_path / "feeds.toml", FEEDS)

    # Parsing first: no embedding starts before every feed is stored.
    monkeypatch.setattr(pipeline, "START_EMBEDDING_AT", 10**9)
    first = make_settings(tmp_path / "parse-first", feeds_file)
    plain = pipeline.run_ingest(first, embedder=embedder)

    # Interleaved, and forced to be: the second feed is parsed only once a first group of the
    # first feed's articles is embedded and stored, so the articles the two feeds share are
    # embedded from the first copy and updated by the second while the stream goes on.
    monkeypatch.setattr(pipeline, "START_EMBEDDING_AT", 1)
    # One group could hold every chunk: what is chunked is encoded and stored anyway while
    # the stream waits for the next feed (it would wait forever here otherwise).
    monkeypatch.setattr(vectorize, "EMBED_BATCH_CHUNKS", 10**6)
    monkeypatch.setattr(vectorize, "MODEL_BATCHES_PER_WRITE", 10**6)
    events: list[str] = []
    first_stored = threading.Event()
    real_parse = pipeline.parse_feed
    seen: list[tuple[str, int, int]] = []

    def progress(stage: str, done: int, total: int) -> None:
        if not first_stored.is_set():
            events.append("stored")
            first_stored.set()
        seen.append((stage, done, total))

    def parse(feed: Any, res: Any) -> Any:
        if feed.name == "openai-research":
            assert first_stored.wait(60), "nothing was embedded while feeds were parsed"
        events.append(f"parse {feed.name}")
        return real_parse(feed, res)

    monkeypatch.setattr(pipeline, "parse_feed", parse)
    mixed = make_settings(tmp_path / "interleaved", feeds_file)
    report = pipeline.run_ingest(mixed, embedder=embedder, progress=progress)

    assert events[:3] == ["parse openai-news", "stored", "parse openai-research"]
    assert [f.status for f in report.feeds] == ["ok", "ok"] and report.pending == 0
    # An article a later feed changed after it was embedded is embedded again, never lost.
    assert report.embedded_articles >= plain.embedded_articles
    # Progress is one rising count of chunks (across the stream and the pass for the articles
    # the second feed changed), never over its total, ending at it.
    dones = [done for stage, done, _ in seen if stage == "embed"]
    assert dones == sorted(dones) and dones[-1] == report.embedded_chunks
    assert all(done <= total for _, done, total in seen) and seen[-1][2] == dones[-1]
    assert _state(mixed) == _state(first)
    state = _state(mixed)
    assert all(content == embedded for _, content, embedded in state["articles"])
    assert state["vectors"] == [(cid, aid) for cid, aid, _ in state["chunks"]]
