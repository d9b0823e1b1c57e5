"""Story grouping's cost grows linearly with the articles (issue 23.4), on a real corpus of
synthetic short items (bench/bench_story_grouping.py's feed) ingested with the real model:
the window of stories is read from SQLite once per day of articles, not once per article, and
the stories are those the per-article reading made (checked against a grouping that reads the
window again for every article)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import REPO, make_settings

from ingest import story_window
from ingest.embed import Embedder
from ingest.pipeline import run_ingest
from ingest.store import Corpus
from ingest.store.story_writer import StoryWriter
from ingest.story_grouping import StoryGrouper, group_new_articles
from ingest.story_names import Vocabulary

sys.path.insert(0, str(REPO / "bench"))
from bench_story_grouping import synthetic_feed  # noqa: E402

ITEMS, DAYS = 400, 10


def _stories(settings: object) -> list[list[tuple[str, str]]]:
    corpus = Corpus(settings)  # type: ignore[arg-type]
    try:
        rows = corpus.db.query("SELECT story_id, article_id, chunk_id FROM story_articles")
    finally:
        corpus.close()
    out: dict[int, list[tuple[str, str]]] = {}
    for sid, aid, cid in rows:
        out.setdefault(sid, []).append((aid, cid))
    return sorted(sorted(v) for v in out.values())


@pytest.mark.slow
def test_the_window_is_read_once_per_day_and_the_stories_are_unchanged(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_bytes(synthetic_feed(ITEMS, DAYS))
    (tmp_path / "feeds.toml").write_text(f'[[feeds]]\nname = "bench"\nurl = "{feed}"\n')
    settings = make_settings(tmp_path / "data", tmp_path / "feeds.toml")
    report = run_ingest(settings, embedder=embedder)  # groups them, the window way
    assert report.embedded_articles == ITEMS
    fast = _stories(settings)
    assert 20 < len(fast) < ITEMS  # events of several articles

    reads = []
    real = StoryWriter.candidates

    def counted(self: StoryWriter, start: object, end: object) -> object:
        reads.append(start)
        return real(self, start, end)  # type: ignore[arg-type]

    monkeypatch.setattr(StoryWriter, "candidates", counted)
    writer = StoryWriter(settings)
    writer.reset()
    writer.close()
    corpus = Corpus(settings)
    try:
        assert group_new_articles(corpus, settings).articles == ITEMS
    finally:
        corpus.close()
    assert len(reads) <= DAYS + 3  # once per day of articles, not once per article
    assert _stories(settings) == fast

    # The same stories when the window is read again for every article (STEP 0: the old way).
    monkeypatch.setattr(story_window, "STEP", 0.0)
    writer = StoryWriter(settings)
    writer.reset()
    corpus = Corpus(settings)
    try:
        vocab = Vocabulary.build(corpus.heads(1500), ITEMS)
        ids = writer.ungrouped()
        StoryGrouper(corpus, writer, {}, vocab).run(ids)
    finally:
        corpus.close()
        writer.close()
    assert len(reads) > 0.9 * ITEMS  # read for (about) every article
    assert _stories(settings) == fast
