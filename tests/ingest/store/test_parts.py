"""The parts behind `Corpus` (ingest/store/), each consistency rule checked where it is kept:
a feed's articles with its state, the pending-hash merge of duplicates, vectors before "done",
deletion from every part, the reindex switch, the schema migration, and keyword search.

Real SQLite and a real embedded Chroma; the vectors are written directly (no model needed)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from conftest import make_settings

from ingest.models import Article, Chunk, FeedState, NewsbotError
from ingest.store import Corpus, UpsertOutcome, fts_query

DIM = 8
_RNG = np.random.default_rng(11)


def _art(n: int, feed: str = "alpha", text: str = "", **fields: object) -> Article:
    base = Article(
        id=f"https://example.org/{n}",
        url=f"https://example.org/{n}",
        title=f"Post {n}",
        text=text or f"quokka news number {n}",
        feed=feed,
        published=datetime(2026, 1, n, tzinfo=UTC),
    )
    return replace(base, **fields)


def _items(
    corpus: Corpus, ids: list[str] | None = None
) -> list[tuple[Article, tuple[str, ...], list[Chunk]]]:
    """The pending articles (or `ids`) as the embed pass sees them: two chunks each."""
    loaded = corpus.load_articles(ids if ids is not None else corpus.pending_ids())
    return [
        (a, feeds, [Chunk(f"{a.id}:{i}", a.id, i, f"{a.title} part {i}: {a.text}") for i in (0, 1)])
        for a, feeds in loaded
    ]


def _vectors(n: int) -> np.ndarray:
    v = _RNG.normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _embed(corpus: Corpus) -> int:
    items = _items(corpus)
    corpus.store_embeddings(items, _vectors(2 * len(items)))
    return len(items)


@pytest.fixture
def corpus(tmp_path: Path) -> Iterator[Corpus]:
    c = Corpus(make_settings(tmp_path / "data"))
    yield c
    c.close()


def test_a_feed_and_its_state_are_stored_together_or_not_at_all(corpus: Corpus) -> None:
    def broken() -> Iterator[Article]:
        yield _art(1)
        yield _art(2)
        raise RuntimeError("the parser died half-way")

    with pytest.raises(RuntimeError):
        corpus.upsert_feed("alpha", broken(), FeedState(name="alpha", etag='"v2"'))
    # Neither the articles nor the new ETag: a 304 next time cannot hide the lost articles.
    assert corpus.counts()["articles"] == 0
    assert corpus.feeds.feed_state("alpha") is None

    out = corpus.upsert_feed("alpha", [_art(1), _art(2)], FeedState(name="alpha", etag='"v2"'))
    assert out == UpsertOutcome(new=2)
    state = corpus.feeds.feed_state("alpha")
    assert state is not None and state.etag == '"v2"' and state.articles_total == 2
    assert corpus.pending_count() == 2  # stored, not yet embedded


def test_duplicates_keep_the_longest_copy_and_an_unchanged_copy_is_not_pending(
    corpus: Corpus,
) -> None:
    short = _art(1, text="quokka short")
    corpus.upsert_feed("alpha", [short], FeedState(name="alpha"))
    _embed(corpus)
    assert corpus.pending_count() == 0

    # Another feed's longer copy replaces the text and makes the article pending.
    longer = replace(short, feed="beta", text="quokka short, and the rest of the story")
    assert corpus.upsert_feed("beta", [longer], FeedState(name="beta")).updated == 1
    assert corpus.pending_ids() == [short.id]
    [row] = corpus.article_rows([short.id])
    assert row.text == longer.text and row.feeds == ("alpha", "beta")
    _embed(corpus)

    # The first feed's unchanged short copy again: nothing changes, nothing pending.
    assert corpus.upsert_feed("alpha", [short], FeedState(name="alpha")).unchanged == 1
    # A third feed's shorter, different copy does not replace the longest one.
    tiny = replace(short, feed="gamma", text="quokka")
    assert corpus.upsert_feed("gamma", [tiny], FeedState(name="gamma")).unchanged == 1
    assert corpus.pending_count() == 0
    assert corpus.article_rows([short.id])[0].text == longer.text

    # The feed the stored text came from edits it (even shorter): its edit wins.
    edited = replace(longer, text="quokka short, corrected")
    assert corpus.upsert_feed("beta", [edited], FeedState(name="beta")).updated == 1
    assert corpus.article_rows([short.id])[0].text == edited.text
    assert corpus.pending_ids() == [short.id]


def test_a_missing_date_or_author_is_filled_in_without_reembedding(corpus: Corpus) -> None:
    bare = _art(1, published=None, author="")
    corpus.upsert_feed("alpha", [bare], FeedState(name="alpha"))
    _embed(corpus)
    dated = replace(bare, feed="beta", published=datetime(2026, 3, 1, tzinfo=UTC), author="Ada")
    assert corpus.upsert_feed("beta", [dated], FeedState(name="beta")) == UpsertOutcome(unchanged=1)
    [row] = corpus.article_rows([bare.id])
    assert row.published == dated.published and row.author == "Ada"
    assert corpus.pending_count() == 0


def test_vectors_are_written_before_an_article_is_marked_done(corpus: Corpus) -> None:
    corpus.upsert_feed("alpha", [_art(1), _art(2)], FeedState(name="alpha"))
    items = _items(corpus)

    # The vector write fails (one vector short): SQLite is not touched, both stay pending.
    with pytest.raises(ValueError, match="one vector per chunk"):
        corpus.store_embeddings(items, _vectors(3))
    assert corpus.pending_count() == 2 and corpus.counts()["chunks"] == 0
    assert corpus.keyword_search("quokka", 10) == []

    # Killed after the vectors, before the commit: still pending, and the run that redoes
    # the batch leaves exactly one copy of each vector, chunk row and full-text row.
    corpus.vectors.write(corpus.collection, items, _vectors(4))
    assert corpus.pending_count() == 2 and corpus.collection.count() == 4
    # Those vectors are not hits yet: their chunk text (in SQLite) is not committed.
    assert corpus.dense_search(_vectors(1)[0], 10) == []
    corpus.store_embeddings(_items(corpus), _vectors(4))
    assert corpus.pending_count() == 0
    assert corpus.collection.count() == corpus.counts()["chunks"] == 4
    assert len(corpus.keyword_search("quokka", 10)) == 4
    # Dense hits carry the chunk text from SQLite; Chroma holds vectors and article ids only.
    hits = corpus.dense_search(_vectors(1)[0], 10)
    assert sorted(text for _, _, text, _ in hits) == sorted(
        c.text for _, _, chunks in items for c in chunks
    )
    stored = corpus.collection.get(include=["documents", "metadatas"])
    assert stored["documents"] == [None] * 4
    assert {m["article_id"] for m in stored["metadatas"]} == {a.id for a, _, _ in items}
    assert corpus.get_meta("last_embed")


def test_a_changed_article_replaces_its_chunks_everywhere(corpus: Corpus) -> None:
    first = _art(1, text="quokka first version")
    corpus.upsert_feed("alpha", [first], FeedState(name="alpha"))
    _embed(corpus)
    corpus.upsert_feed(
        "alpha", [replace(first, text="wombat second version")], FeedState(name="alpha")
    )
    _embed(corpus)
    chunks = corpus.article_chunks([first.id])
    assert [c[0] for c in chunks] == [f"{first.id}:0", f"{first.id}:1"]  # reading order
    assert all("wombat" in text for _, _, text in chunks)
    assert corpus.keyword_search("quokka", 10) == []
    assert len(corpus.keyword_search("wombat", 10)) == 2 == corpus.collection.count()


def test_prune_removes_an_article_from_every_part_and_keeps_undated_ones(corpus: Corpus) -> None:
    old = _art(1, published=datetime(2020, 5, 1, tzinfo=UTC))
    new, undated = _art(2), _art(3, published=None)
    corpus.upsert_feed("alpha", [old, new, undated], FeedState(name="alpha"))
    _embed(corpus)

    assert corpus.prune_older_than(datetime(2025, 1, 1, tzinfo=UTC)) == 1
    kept = {new.id, undated.id}
    assert set(corpus.articles.filter_article_ids(feed=None, since=None, until=None)) == kept
    assert corpus.article_chunks([old.id]) == []
    assert {a for _, a, _, _ in corpus.keyword_search("quokka", 10)} == kept
    assert {a for _, a, _, _ in corpus.dense_search(_vectors(1)[0], 10)} == kept
    assert corpus.collection.count() == corpus.counts()["chunks"] == 4
    state = corpus.feeds.feed_state("alpha")
    assert state is not None and state.articles_total == 2


def test_a_reindex_switches_only_to_complete_vectors(corpus: Corpus) -> None:
    arts = [_art(n) for n in (1, 2, 3)]
    corpus.upsert_feed("alpha", arts, FeedState(name="alpha"))
    _embed(corpus)
    live = corpus.active_collection_name()

    # A build that lost a vector is discarded; the live vectors stay active.
    name = corpus.begin_rebuild("sig-a")
    assert sorted(corpus.rebuild_todo()) == sorted(a.id for a in arts)
    corpus.store_rebuild_embeddings(_items(corpus, corpus.rebuild_todo()), _vectors(6))
    assert corpus.rebuild_todo() == []
    assert corpus.begin_rebuild("sig-a") == name  # same signature: resumed, not restarted
    corpus.vectors.get_collection(name).delete(ids=[f"{arts[0].id}:0"])
    with pytest.raises(NewsbotError, match="incomplete"):
        corpus.finish_rebuild("model-x")
    assert corpus.active_collection_name() == live and corpus.get_meta("rebuild") is None
    assert {c.name for c in corpus.vectors.client().list_collections()} == {live}
    assert len(corpus.dense_search(_vectors(1)[0], 10)) == 6

    # A complete build is switched to in one step; the old collection is dropped.
    name = corpus.begin_rebuild("sig-b")
    corpus.store_rebuild_embeddings(_items(corpus, corpus.rebuild_todo()), _vectors(6))
    assert corpus.finish_rebuild("model-x", "torch") == name
    assert corpus.active_collection_name() == name
    assert {c.name for c in corpus.vectors.client().list_collections()} == {name}
    assert corpus.get_meta("embedding_model") == "model-x" and corpus.pending_count() == 0
    assert corpus.collection.count() == corpus.counts()["chunks"] == 6


def test_an_old_feed_state_table_gains_its_warnings_column(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    old = sqlite3.connect(data / "newsbot.sqlite3")
    old.execute(
        "CREATE TABLE feed_state (name TEXT PRIMARY KEY, url TEXT NOT NULL DEFAULT '',"
        " etag TEXT, last_modified TEXT, last_attempt REAL, last_success REAL,"
        " last_error TEXT, consecutive_failures INTEGER NOT NULL DEFAULT 0,"
        " items_last_fetch INTEGER NOT NULL DEFAULT 0)"
    )
    old.execute("INSERT INTO feed_state(name, etag) VALUES ('alpha', '\"v1\"')")
    old.commit()
    old.close()

    corpus = Corpus(make_settings(data))
    try:
        [state] = corpus.feed_states()
        assert (state.name, state.etag, state.warnings) == ("alpha", '"v1"', ())
        corpus.save_feed_state(replace(state, warnings=("page refused",)))
        assert corpus.feed_states()[0].warnings == ("page refused",)
    finally:
        corpus.close()
    again = Corpus(make_settings(data))  # the migration runs once; reopening keeps the data
    try:
        assert again.feed_states()[0].warnings == ("page refused",)
    finally:
        again.close()


def test_keyword_queries_are_quoted_content_words() -> None:
    assert fts_query('What did "OpenAI" release this week?') == '"openai" OR "release"'
    assert fts_query("gpt-4.5 NEAR(o3)") == '"gpt-4.5" OR "near" OR "o3"'
    assert fts_query("what is the news?") == ""


def test_mentions_count_phrases_and_source_facts_name_hosts_and_authors(corpus: Corpus) -> None:
    arts = [
        _art(1, text="OpenAI released a model", author="Ada"),
        _art(2, text="a model from OpenAI", author="Ada"),
        _art(3, text="open ai is two words here", author="Bob"),
        _art(4, url="https://www.example.org/4"),
        _art(5, url="https://elsewhere.net/5"),
    ]
    corpus.upsert_feed("alpha", arts, FeedState(name="alpha"))
    _embed(corpus)
    assert corpus.count_mentions("OpenAI's") == 4  # two chunks each of two articles
    assert corpus.count_mentions("open ai") == 2
    assert corpus.count_mentions("'s") == 0
    hosts, authors = corpus.source_facts()
    assert hosts == {"alpha": ["example.org"]}  # elsewhere.net is too rare to name the feed
    assert authors == {"alpha": {"Ada": 2, "Bob": 1}}
