"""--reindex builds new vectors beside the live ones and switches in one transaction: answers
keep working during the build, and a kill at any moment never leaves the corpus worse."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO, make_settings, write_feeds_toml

from ingest.config import Settings
from ingest.embed import Embedder
from ingest.pipeline import run_ingest
from ingest.store import Corpus

pytestmark = pytest.mark.slow

NEWSBOT = [sys.executable, "-m", "bot.cli"]
FEEDS = {"deepmind": "publisher/google_deepmind_blog.xml", "bair": "trimmed/bair_blog.xml"}


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "NEWSBOT_DATA_DIR": str(settings.data_dir),
        "NEWSBOT_FEEDS": str(settings.feeds),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(REPO),
        # Small chunks: several Chroma batches of 128 chunks, so kills land mid-build.
        "NEWSBOT_CHUNK_TOKENS": "64",
        "NEWSBOT_CHUNK_OVERLAP_TOKENS": "8",
        **extra,
    }


def _snapshot(settings: Settings) -> dict[str, object]:
    """The live corpus: articles, chunk rows, full-text rows and the active vectors."""
    corpus = Corpus(settings)
    try:
        db = sqlite3.connect(settings.db_path)
        articles = db.execute(
            "SELECT id, content_hash, embedded_hash FROM articles ORDER BY id"
        ).fetchall()
        chunks = db.execute("SELECT id, article_id, text FROM chunks ORDER BY id").fetchall()
        fts = db.execute("SELECT chunk_id, text FROM chunks_fts ORDER BY 1").fetchall()
        db.close()
        got = corpus.collection.get(include=["metadatas"])
        vectors = sorted(zip(got["ids"], got["metadatas"], strict=True))
    finally:
        corpus.close()
    return {"articles": articles, "chunks": chunks, "fts": fts, "vectors": vectors}


def _collections(settings: Settings) -> set[str]:
    corpus = Corpus(settings)
    try:
        return {c.name for c in corpus.vectors.client().list_collections()}
    finally:
        corpus.close()


def _meta(settings: Settings, key: str) -> str | None:
    db = sqlite3.connect(f"file:{settings.db_path}?mode=ro", uri=True, timeout=5)
    try:
        row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None
    finally:
        db.close()


@pytest.mark.shared_data
def test_answers_use_the_old_vectors_while_the_new_ones_are_built(
    tmp_path: Path, embedder: Embedder
) -> None:
    feeds = {"hf": "trimmed/huggingface_blog.xml", "bair": "trimmed/bair_blog.xml"}
    settings = make_settings(tmp_path / "data", write_feeds_toml(tmp_path / "f.toml", feeds))
    run_ingest(settings, embedder=embedder)
    before = _snapshot(settings)
    old_name = _meta(settings, "active_collection") or settings.collection
    query = embedder.embed_query("Berkeley AI research")
    seen: list[tuple[int, int, str]] = []

    def during(stage: str, done: int, total: int) -> None:
        # A reader with its own Corpus, as the bot's engine has, mid-build.
        reader = Corpus(settings)
        try:
            dense = reader.dense_search(query, 5)
            keyword = reader.keyword_search("Berkeley research", 5)
            seen.append((len(dense), len(keyword), reader.active_collection_name()))
            assert reader.counts()["chunks"] == len(before["chunks"])
        finally:
            reader.close()

    small = settings.model_copy(update={"chunk_tokens": 64, "chunk_overlap_tokens": 8})
    report = run_ingest(small, reindex=True, embedder=embedder, progress=during)
    assert seen and all(d == 5 and k > 0 and name == old_name for d, k, name in seen)
    assert report.embedded_articles == 6

    after = _snapshot(settings)
    new_name = _meta(settings, "active_collection")
    assert new_name and new_name != old_name
    assert _collections(settings) == {new_name}  # the old collection is dropped
    # Smaller chunks: more of them, and rows, full-text index and vectors all switched together.
    assert len(after["chunks"]) > len(before["chunks"])
    assert len(after["vectors"]) == len(after["chunks"]) == len(after["fts"])
    assert all(a[1] == a[2] for a in after["articles"])  # nothing pending
    # Back to the default chunking: the corpus is what it was, in a third collection.
    run_ingest(settings, reindex=True, embedder=embedder)
    assert _snapshot(settings) == before
    assert _collections(settings) == {_meta(settings, "active_collection")}

    # A kill between the switch and the drop leaves the old collection listed as retired: the
    # next run of any kind drops it.
    corpus = Corpus(settings)
    try:
        corpus.vectors.get_collection("newsbot-left-behind")
        corpus.set_meta("retired_collections", json.dumps(["newsbot-left-behind"]))
    finally:
        corpus.close()
    assert len(_collections(settings)) == 2
    run_ingest(settings, embedder=embedder)
    assert _collections(settings) == {_meta(settings, "active_collection")}
    assert _snapshot(settings) == before


def _kill_reindex_when(settings: Settings, ready: Callable[[], bool]) -> bool:
    """Run `newsbot ingest --reindex` and SIGKILL it once `ready()`; False if it finished."""
    proc = subprocess.Popen(
        [*NEWSBOT, "ingest", "--reindex"],
        env=_env(settings, NEWSBOT_EMBEDDING_BATCH_SIZE="8"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            hit = ready()
        except sqlite3.Error:
            hit = False
        if hit:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait(timeout=30)
    return proc.returncode == -signal.SIGKILL


def _count(settings: Settings, table: str) -> int:
    db = sqlite3.connect(f"file:{settings.db_path}?mode=ro", uri=True, timeout=1)
    try:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        db.close()


@pytest.mark.shared_data
def test_killed_reindex_then_normal_run_equals_uninterrupted_run(tmp_path: Path) -> None:
    clean = make_settings(tmp_path / "clean", write_feeds_toml(tmp_path / "a.toml", FEEDS))
    subprocess.run(
        [*NEWSBOT, "ingest"], env=_env(clean), check=True, capture_output=True, timeout=600
    )
    crash = make_settings(tmp_path / "crash", write_feeds_toml(tmp_path / "b.toml", FEEDS))
    shutil.copytree(clean.data_dir, crash.data_dir)  # the same corpus, to be reindexed
    # An uninterrupted reindex with unchanged settings reproduces this corpus exactly (see the
    # test above), so it is the result every interrupted one must end at.
    expected = _snapshot(clean)
    total_chunks = len(expected["chunks"])
    assert total_chunks > 2 * 128  # several Chroma batches: kills land mid-build

    moments: dict[str, Callable[[], bool]] = {
        "first batch built": lambda: _count(crash, "rebuild_chunks") > 0,
        "most of it built": lambda: _count(crash, "rebuild_chunks") > total_chunks // 2,
    }
    for moment, ready in moments.items():
        assert _kill_reindex_when(crash, ready), f"the reindex finished before '{moment}'"
        # Killed mid-build: the live corpus is untouched (answers keep their vectors).
        assert _snapshot(crash) == expected, moment
        assert _meta(crash, "rebuild") is not None
        normal = subprocess.run(
            [*NEWSBOT, "ingest", "--json"],
            env=_env(crash),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert normal.returncode == 0, normal.stderr
        assert json.loads(normal.stdout)["embedded_articles"] == 0
        assert _snapshot(crash) == expected, moment
        # The abandoned build is gone: no half-built collection, no progress rows.
        assert _meta(crash, "rebuild") is None and _count(crash, "rebuild_chunks") == 0
        assert _collections(crash) == {_meta(crash, "active_collection") or crash.collection}

    # Killed mid-build, then `--reindex` again: it resumes and embeds only what was left.
    assert _kill_reindex_when(crash, moments["first batch built"])
    done_before = _count(crash, "rebuild_articles")
    resumed = subprocess.run(
        [*NEWSBOT, "ingest", "--reindex", "--json"],
        env=_env(crash),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["embedded_articles"] == len(expected["articles"]) - done_before
    assert 0 < report["embedded_articles"] < len(expected["articles"])
    assert _snapshot(crash) == expected
    assert _collections(crash) == {_meta(crash, "active_collection")}
