"""Chunking sized for the model window, the embedding model and its backends (real model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import FEEDS_DIR

from ingest.chunk import Chunker
from ingest.embed import Embedder
from ingest.models import Article, ConfigError, Feed, FetchResult
from ingest.parse import parse_feed


def _articles(path: str) -> list[Article]:
    feed = Feed(name="t", url=str(FEEDS_DIR / path))
    body = (FEEDS_DIR / path).read_bytes()
    res = FetchResult(feed="t", status="ok", body=body, headers={"content-type": "text/xml"})
    return list(parse_feed(feed, res).articles)


@pytest.mark.shared_data
def test_chunks_fit_the_model_window_and_cover_the_text(embedder: Embedder) -> None:
    [longest] = sorted(_articles("trimmed/gradient_blog.xml"), key=lambda a: -len(a.text))[:1]
    assert len(longest.text) > 40_000
    chunker = Chunker(embedder.tokenizer, max_tokens=200, overlap_tokens=32)
    chunks = chunker.chunk(longest)
    assert len(chunks) > 20
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert all(c.id == f"{longest.id}:{c.index}" for c in chunks)
    assert max(embedder.count_tokens(c.text) for c in chunks) <= 200 < embedder.max_tokens + 1
    assert all(c.text.startswith(longest.title[:50]) for c in chunks)
    # Every paragraph's words land in some chunk: nothing is dropped between chunks.
    body = " ".join(c.text.split("\n", 1)[1] for c in chunks if "\n" in c.text)
    for word in set(longest.text.split()[::50]):
        assert word in body


def test_an_article_without_text_still_gets_one_chunk(embedder: Embedder) -> None:
    art = Article(id="u:1", url="https://x.test/a", title="Only a title", text="", feed="t")
    [chunk] = Chunker(embedder.tokenizer).chunk(art)
    assert chunk.text == "Only a title"


def test_vectors_are_normalized_and_queries_cached(embedder: Embedder) -> None:
    vecs = embedder.embed_texts(["Gemini 2.5 Pro is a model", "A recipe for bread"])
    assert vecs.shape == (2, embedder.dimension) == (2, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    q = embedder.embed_query("Gemini 2.5 Pro is a model")
    # int8 (the default) quantizes activations per batch: alone vs in a batch agree closely.
    assert float(q @ vecs[0]) > 0.98
    assert embedder.embed_query("Gemini 2.5 Pro is a model") is q  # served from the cache
    assert embedder.embed_texts([]).shape == (0, 384)


def test_unknown_model_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot load embedding model"):
        Embedder(str(tmp_path / "no-such-model"))


@pytest.mark.shared_data
@pytest.mark.slow
def test_int8_onnx_backend_agrees_with_torch(tmp_path: Path) -> None:
    texts = [a.title + "\n" + a.text[:800] for a in _articles("trimmed/openai_blog.xml")]
    texts += ["who founded 01.AI?", "What did DeepMind release this week?"]
    int8 = Embedder(backend="onnx-int8", cache_dir=tmp_path / "models")
    assert (tmp_path / "models").is_dir()  # exported once, reused next time
    a, b = Embedder(backend="torch").embed_texts(texts), int8.embed_texts(texts)
    cosine = (a * b).sum(axis=1)
    assert cosine.min() > 0.97, cosine
    again = Embedder(backend="onnx-int8", cache_dir=tmp_path / "models")
    # (same batch: dynamic quantization scales activations per batch)
    assert np.allclose(again.embed_texts(texts), b, atol=1e-4)


@pytest.mark.parametrize("path", ["publisher/hamel_blog.xml", "trimmed/gradient_blog.xml"])
def test_chunk_token_ids_are_those_of_the_chunk_text(embedder: Embedder, path: str) -> None:
    """The ids cut from the article's one tokenization are exactly what tokenizing each chunk's
    text gives (so the encoder may skip that), and consecutive chunks overlap but never repeat
    more than the overlap."""
    chunker = Chunker(embedder.tokenizer, max_tokens=200, overlap_tokens=32)
    pairs = [p for art in _articles(path) for p in chunker.chunk_with_ids(art)]
    assert len(pairs) > 50
    for chunk, ids in pairs:
        assert ids == embedder.tokenizer.encode(chunk.text, add_special_tokens=False).ids
        assert len(ids) <= 200


def test_small_pieces_join_a_neighbour_without_repeating_text(embedder: Embedder) -> None:
    para = "Researchers trained a model on many tasks and measured how it generalizes. " * 12
    text = f"Results\n\n{para}\n\nShort tail."
    art = Article(id="u:2", url="https://x.test/b", title="A study", text=text, feed="t")
    chunks = Chunker(embedder.tokenizer, max_tokens=200, overlap_tokens=32).chunk(art)
    bodies = [c.text.split("\n", 1)[1] for c in chunks]
    assert bodies[0].startswith("Results\n\nResearchers")  # the heading joined what follows
    assert bodies[-1].endswith("Short tail.")
    assert all(b.count("Results") <= 1 and b.count("Short tail.") <= 1 for b in bodies)
    assert all(embedder.count_tokens(c.text) <= 200 for c in chunks)


def test_given_token_ids_give_the_same_vectors_as_the_texts(embedder: Embedder) -> None:
    arts = _articles("trimmed/openai_blog.xml")
    pairs = [p for a in arts for p in Chunker(embedder.tokenizer).chunk_with_ids(a)]
    texts = [c.text for c, _ in pairs] + ["an unknown text", pairs[0][0].text]
    ids = [i for _, i in pairs] + [None, None]  # the last one repeats the first: encoded once
    from_ids = embedder.embed_texts(texts, ids)
    from_texts = embedder.embed_texts(texts)
    assert np.allclose(from_ids, from_texts, atol=1e-6)
    assert np.array_equal(from_ids[0], from_ids[-1])
