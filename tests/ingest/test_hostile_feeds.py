"""Hostile and broken feed input (issue 23): one large entry never stops the corpus, one article
that cannot be embedded is set aside while the rest are embedded, and control characters never
reach the stored text. Real parts: feeds over HTTP on 127.0.0.1, the real model, real Chroma."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import REPO, make_settings, write_feeds_toml
from feedserver import FeedServer, Reply

from ingest.config import Settings
from ingest.embed import Embedder
from ingest.models import Article, Chunk
from ingest.pipeline import run_ingest
from ingest.sanitize import MAX_TITLE_CHARS, clean_line, clean_text, sanitize_articles
from ingest.store import Corpus
from ingest.store.vectors import CHROMA_WRITE_BATCH

NEWSBOT = [sys.executable, "-m", "bot.cli"]
RSS = {"Content-Type": "application/rss+xml"}


def rss(items: list[tuple[str, str, str]]) -> bytes:
    """An RSS 2.0 feed of (title, link, description) items, each escaped as XML text."""
    body = "".join(
        f"<item><title>{escape(t)}</title><link>{link}</link>"
        f"<description>{escape(d)}</description>"
        f"<pubDate>Mon, 0{i + 1} Dec 2025 10:00:00 GMT</pubDate></item>"
        for i, (t, link, d) in enumerate(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<link>https://example.org/</link>{body}</channel></rss>"
    ).encode()


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "NEWSBOT_DATA_DIR": str(settings.data_dir),
        "NEWSBOT_FEEDS": str(settings.feeds),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(REPO),
    }
    return subprocess.run(
        [*NEWSBOT, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


# ---------------------------------------------------------------- cleaning (pure)
def test_control_characters_escapes_and_bidi_are_removed() -> None:
    hostile = (
        "Safe\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07 \x1b[2J\x1b[31mred\x1b[0m"
        "\x07\x08\x9b1m\x85 \u202eevil\u202c \u2066x\u2069"
    )
    assert clean_text(hostile) == "Safeclick red evil x"  # C1 CSI (\\x9b) too
    assert clean_text("a\r\nb\tc\n\nd") == "a\nb\tc\n\nd"  # newline and tab stay
    assert clean_line("Open\u200bAI \u200fships\ufeff\n GPT\u00ad-5") == "OpenAI ships GPT-5"
    assert clean_text("Emoji 👩\u200d💻 stays") == "Emoji 👩\u200d💻 stays"


def test_sanitize_bounds_title_and_text_with_a_warning_naming_the_article() -> None:
    text = ("word " * 50 + "\n\n") * 100  # 25,200 characters in paragraphs
    a = Article(id="x", url="https://e.org/big", title="T" * 5 + " big" * 200, text=text, feed="f")
    warnings: list[str] = []
    [out] = sanitize_articles([a], 10_000, warnings)
    assert len(out.text) <= 10_000 and out.text.endswith("word")  # cut at a paragraph
    assert len(out.title) <= MAX_TITLE_CHARS
    assert len(warnings) == 2 and any("https://e.org/big" in w for w in warnings)
    assert "NEWSBOT_MAX_ARTICLE_CHARS" in warnings[1]
    same: list[str] = []
    ok = Article(id="y", url="u", title="fine", text="short", feed="f")
    assert sanitize_articles([ok], 10_000, same) == [ok] and not same


# ---------------------------------------------------------------- Chroma batches (real Chroma)
def test_one_article_with_more_vectors_than_a_chroma_batch_is_written(
    tmp_settings: Settings,
) -> None:
    """Chroma refuses more than its max batch size (5,461 embedded) in one call: an article
    with more chunks than that is written in several calls, and rewritten idempotently."""
    n = CHROMA_WRITE_BATCH + 2000
    article = Article(id="big", url="https://e.org/big", title="big", text="x", feed="f")
    chunks = [Chunk(f"big:{i}", "big", i, f"c{i}") for i in range(n)]
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n, 8)).astype(np.float32)
    corpus = Corpus(tmp_settings)
    try:
        assert n > corpus.vectors.client().get_max_batch_size()
        collection = corpus.vectors.get_collection("batches")
        corpus.vectors.write(collection, [(article, ("f",), chunks)], vectors)
        corpus.vectors.write(collection, [(article, ("f",), chunks[:10])], vectors[:10])
        assert collection.count() == 10  # the rewrite replaced every earlier vector
        corpus.vectors.write(collection, [(article, ("f",), chunks)], vectors)
        assert collection.count() == n
    finally:
        corpus.close()


# ---------------------------------------------------------------- ingest end to end
def test_a_huge_entry_is_cut_with_a_warning_and_every_article_is_embedded(
    tmp_path: Path, embedder: Embedder
) -> None:
    huge = ("Quibble-7 weights are huge. " * 40 + "\n\n") * 2000  # about 2.2 MB of text
    body = rss(
        [
            ("Quibbleworks ships Quibble-7", "https://q.example/7", huge),
            ("Small lab releases Tiny-1", "https://q.example/tiny", "A tiny model for phones."),
        ]
    )
    with FeedServer() as server:
        server.route("/feed.xml", Reply(200, body, RSS))
        feeds = write_feeds_toml(tmp_path / "feeds.toml", {"q": server.url("/feed.xml")})
        settings = make_settings(tmp_path / "data", feeds, max_article_chars=20_000)
        report = run_ingest(settings, embedder=embedder)
    assert report.exit_code == 0 and report.embedded_articles == 2 and report.pending == 0
    [feed] = report.feeds
    assert any("Quibbleworks ships Quibble-7" in w and "20,000" in w for w in feed.warnings)
    corpus = Corpus(settings)
    try:
        lengths = {r[0]: r[1] for r in corpus.db.query("SELECT url, length(text) FROM articles")}
    finally:
        corpus.close()
    assert lengths["https://q.example/7"] <= 20_000
    status = _cli(settings, "feeds", "status")
    assert status.returncode == 0 and "NEWSBOT_MAX_ARTICLE_CHARS" in status.stdout


def test_an_article_that_cannot_be_embedded_is_set_aside_and_never_blocks_the_rest(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails for one article (fault injected in the store's write; everything
    else real) sets that article aside with its error; the others are embedded, later runs do
    not stop on it, `feeds status` and `stats` say so, and a reindex tries it again."""
    items = [(f"Story {i}", f"https://e.example/{i}", f"Body of story {i}.") for i in range(6)]
    items.append(("Poison", "https://e.example/poison", "This one fails to store."))
    real_store = Corpus.store_embeddings

    def failing(self: Corpus, batch: Any, vectors: Any, timings: Any = None) -> None:
        if any(a.url.endswith("/poison") for a, _, _ in batch):
            raise ValueError("Batch size of 10469 is greater than max batch size of 5461")
        real_store(self, batch, vectors, timings)

    with FeedServer() as server:
        server.route("/feed.xml", Reply(200, rss(items), RSS))
        feeds = write_feeds_toml(tmp_path / "feeds.toml", {"e": server.url("/feed.xml")})
        settings = make_settings(tmp_path / "data", feeds)
        monkeypatch.setattr(Corpus, "store_embeddings", failing)
        first = run_ingest(settings, embedder=embedder)
        assert first.exit_code == 0 and first.embedded_articles == 6 and first.pending == 0
        # A new article later is embedded: the set-aside one does not block the queue.
        items.append(("Later news", "https://e.example/later", "Something new happened."))
        server.route("/feed.xml", Reply(200, rss(items), RSS))
        second = run_ingest(settings, embedder=embedder)
        assert second.embedded_articles == 1 and second.pending == 0
    status = _cli(settings, "feeds", "status", "--json")
    [feed] = json.loads(status.stdout)
    [aside] = feed["set_aside"]
    assert aside["title"] == "Poison" and "max batch size" in aside["error"]
    text = _cli(settings, "feeds", "status").stdout
    assert "not embedded (set aside): 'Poison'" in text
    monkeypatch.setattr(Corpus, "store_embeddings", real_store)
    again = run_ingest(settings, embedder=embedder, reindex=True)
    assert again.embedded_articles == 8 and again.pending == 0
    assert json.loads(_cli(settings, "feeds", "status", "--json").stdout)[0]["set_aside"] == []


def test_stored_titles_and_text_carry_no_control_characters(
    tmp_path: Path, embedder: Embedder
) -> None:
    title = "Evil \x1b]8;;https://evil.example/\x07link\x1b]8;;\x07 \x1b[2J\u202eclear\x07"
    body = rss([(title, "https://e.example/1", "Text \x1b[31mred\x9b\x08 and\ttab.")])
    with FeedServer() as server:
        server.route("/feed.xml", Reply(200, body, RSS))
        feeds = write_feeds_toml(tmp_path / "feeds.toml", {"e": server.url("/feed.xml")})
        settings = make_settings(tmp_path / "data", feeds)
        run_ingest(settings, embedder=embedder)
    out = _cli(settings, "latest")
    assert out.returncode == 0, out.stderr
    assert "Evil link clear" in out.stdout
    assert not any(ch in out.stdout for ch in "\x1b\x07\x08\x9b\u202e")
    answer = _cli(settings, "ask", "What is the evil link about?")
    assert "[1]" in answer.stdout, answer.stdout + answer.stderr
    assert not any(ch in answer.stdout for ch in "\x1b\x07\x08\x9b\u202e")


# ---------------------------------------------------------------- a lost vector store
def test_a_deleted_vector_store_is_reported_and_rebuilt_by_the_next_ingest(
    tmp_path: Path, embedder: Embedder
) -> None:
    """Each step a process of its own, as for an operator (Chroma caches an open store per
    process, so a store deleted under a running process is not what this is about)."""
    items = [(f"Story {i}", f"https://e.example/{i}", f"Body of story {i}.") for i in range(4)]
    with FeedServer() as server:
        server.route("/feed.xml", Reply(200, rss(items), RSS))
        feeds = write_feeds_toml(tmp_path / "feeds.toml", {"e": server.url("/feed.xml")})
        settings = make_settings(tmp_path / "data", feeds)
        assert "4 articles embedded" in _cli(settings, "ingest").stdout
        assert json.loads(_cli(settings, "stats", "--json").stdout)["vectors"] == "ok"
        shutil.rmtree(settings.chroma_path)
        stats = json.loads(_cli(settings, "stats", "--json").stdout)
        assert stats["vectors"].startswith("MISSING for 4 of 4 chunks"), stats
        again = _cli(settings, "ingest")  # 200 again: nothing new in the feed
        assert again.returncode == 0 and "4 articles embedded" in again.stdout, again.stderr
        assert "lacks the vectors of 4 chunk(s)" in again.stderr
    assert "vectors: ok" in _cli(settings, "stats").stdout
    corpus = Corpus(settings)
    try:
        assert corpus.collection.count() == 4 and corpus.missing_vectors(open_store=True) == 0
        vector = embedder.embed_query("Story 2")
        assert corpus.dense_search(vector, 1)[0][3] > 0.3  # answers use the vectors again
    finally:
        corpus.close()
