"""The ingest job end to end: real feeds, the real model, a real Chroma (embedded and server)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import FEEDS_DIR, REPO, make_settings, write_feeds_toml
from feedserver import FeedServer, Reply

from ingest import vectorize
from ingest.config import Settings
from ingest.embed import Embedder
from ingest.feeds import load_feeds
from ingest.models import ConfigError, FeedState
from ingest.parse import parse_feed
from ingest.pipeline import IngestLocked, ingest_feeds, ingest_lock, run_ingest
from ingest.store import Corpus

NEWSBOT = [sys.executable, "-m", "bot.cli"]


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "NEWSBOT_DATA_DIR": str(settings.data_dir),
        "NEWSBOT_FEEDS": str(settings.feeds),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(REPO),
    }
    env.update(extra)
    return env


def _snapshot(settings: Settings) -> dict[str, object]:
    """Everything that defines a corpus, for comparing two runs."""
    corpus = Corpus(settings)
    try:
        db = sqlite3.connect(settings.db_path)
        articles = db.execute(
            "SELECT id, content_hash, embedded_hash FROM articles ORDER BY id"
        ).fetchall()
        chunks = db.execute("SELECT id, article_id, text FROM chunks ORDER BY id").fetchall()
        fts = db.execute("SELECT count(*) FROM chunks_fts").fetchone()[0]
        feeds = db.execute("SELECT article_id, feed FROM article_feeds ORDER BY 1, 2").fetchall()
        db.close()
        got = corpus.collection.get(include=["metadatas"])
        vectors = sorted(
            (cid, meta["article_id"])
            for cid, meta in zip(got["ids"], got["metadatas"], strict=True)
        )
    finally:
        corpus.close()
    return {"articles": articles, "chunks": chunks, "fts": fts, "feeds": feeds, "vectors": vectors}


def _vectors_by_chunk(settings: Settings) -> dict[str, tuple[float, ...]]:
    corpus = Corpus(settings)
    try:
        got = corpus.collection.get(include=["embeddings"])
    finally:
        corpus.close()
    return {
        cid: tuple(float(x) for x in vec)
        for cid, vec in zip(got["ids"], got["embeddings"], strict=True)
    }


# ---------------------------------------------------------------- dedupe (no embedding needed)
@pytest.mark.shared_data
def test_cross_feed_duplicates_are_stored_once_with_both_feeds(tmp_path: Path) -> None:
    feeds_file = write_feeds_toml(
        tmp_path / "feeds.toml",
        {
            "openai-news": "publisher/openai_news.xml",
            "openai-research": "generated/olshansk_feed_openai_research.xml",
        },
    )
    settings = make_settings(tmp_path / "data", feeds_file)
    feeds = load_feeds(feeds_file)
    # What the parser sees, independently of the store.
    from ingest.fetch import _read_file

    ids = {}
    for f in feeds:
        res = _read_file(f.name, f.url, None, settings.max_feed_bytes)
        ids[f.name] = {a.id for a in parse_feed(f, res).articles}
    shared = ids["openai-news"] & ids["openai-research"]
    assert len(shared) >= 150  # README: 162 links in both feeds

    corpus = Corpus(settings)
    reports = ingest_feeds(corpus, feeds, settings)
    assert [r.status for r in reports] == ["ok", "ok"]
    counts = corpus.counts()
    assert counts["articles"] == len(ids["openai-news"] | ids["openai-research"])
    some = sorted(shared)[:20]
    assert all(
        set(r.feeds) == {"openai-news", "openai-research"} for r in corpus.article_rows(some)
    )
    # Re-running with both feeds unchanged changes nothing and makes nothing pending again.
    pending = corpus.pending_count()
    db = sqlite3.connect(settings.db_path)
    db.execute("UPDATE articles SET embedded_hash = content_hash")
    db.commit()
    db.close()
    for f in feeds:  # forget the validators so both files are parsed again
        corpus.save_feed_state(FeedState(name=f.name))
    again = ingest_feeds(corpus, feeds, settings)
    assert [r.status for r in again] == ["ok", "ok"]
    assert sum(r.new + r.updated for r in again) == 0
    assert corpus.pending_count() == 0
    assert pending == counts["articles"]
    corpus.close()


# ---------------------------------------------------------------- incremental, with the model
@pytest.mark.shared_data
@pytest.mark.slow
def test_simon_willison_snapshots_incremental(tmp_path: Path, embedder: Embedder) -> None:
    feeds_file = tmp_path / "feeds.toml"
    settings = make_settings(tmp_path / "data", feeds_file)
    seen: list[tuple[int, int, int]] = []
    for day in ("08-12", "08-16", "08-22"):
        write_feeds_toml(feeds_file, {"simon": f"publisher/simonwillison_atom_2026-{day}.xml"})
        report = run_ingest(settings, embedder=embedder)
        [f] = report.feeds
        assert f.status == "ok" and f.items == 30
        # Exactly the new and changed articles are embedded; nothing else.
        assert report.embedded_articles == f.new + f.updated
        seen.append((f.new, f.updated, f.unchanged))
    # The three snapshots hold 76 distinct entry ids, but the 08-12 one appends
    # "#atom-everything" to its ids and links: 20 of its posts are the same pages as in 08-16.
    # Canonical links (fragment dropped) make them one article each: 30 + 10 + 16 = 56.
    assert seen[0] == (30, 0, 0)
    assert seen[1][0] == 10 and seen[1][0] + seen[1][1] + seen[1][2] == 30
    assert seen[2][0] == 16  # 14 entries shared with 08-16
    snap = _snapshot(settings)
    assert len(snap["articles"]) == 56
    assert len(snap["vectors"]) == len(snap["chunks"]) == snap["fts"]

    # Nothing changed: a second run of the last snapshot embeds nothing.
    again = run_ingest(settings, embedder=embedder)
    assert again.embedded_articles == 0 and again.exit_code == 0


@pytest.mark.slow
def test_a_feeds_own_title_is_stored_as_clean_text(tmp_path: Path, embedder: Embedder) -> None:
    """The channel title is feed text: its terminal escapes, controls and bidi controls are
    dropped when it is stored, as an article title's are."""
    feed = tmp_path / "hostile.xml"
    feed.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>Evil &#x1b;]8;;https://evil.example&#x7;Lab&#x1b;]8;;&#x7; \u202eNews</title>"
        "<link>https://evil.example/</link><item><title>One post</title>"
        "<link>https://evil.example/1</link><description>Some text about a model release."
        "</description></item></channel></rss>",
        encoding="utf-8",
    )
    settings = make_settings(
        tmp_path / "data", write_feeds_toml(tmp_path / "f.toml", {"e": str(feed)})
    )
    assert not run_ingest(settings, embedder=embedder).failed
    corpus = Corpus(settings)
    try:
        state = corpus.feeds.feed_state("e")
        assert state is not None and state.title == "Evil Lab News", repr(state.title)
        assert state.site == "https://evil.example/"
    finally:
        corpus.close()


@pytest.mark.shared_data
@pytest.mark.slow
def test_a_feeds_own_title_and_site_are_kept_also_for_an_older_corpus(
    tmp_path: Path, embedder: Embedder
) -> None:
    feeds_file = write_feeds_toml(tmp_path / "feeds.toml", {"ll": "publisher/lilianweng_posts.xml"})
    settings = make_settings(tmp_path / "data", feeds_file)
    run_ingest(settings, embedder=embedder)
    corpus = Corpus(settings)
    try:
        state = corpus.feeds.feed_state("ll")
        assert state is not None and state.title == "Posts on Lil'Log"
        assert state.site.startswith("https://lilianweng.github.io")
        # A corpus from before titles were kept: its validators would answer "not modified"
        # for ever. The next run fetches it once unconditionally, stores the title, and
        # re-embeds nothing.
        corpus.db.run("UPDATE feed_state SET title='', site=''")
        again = run_ingest(settings, embedder=embedder)
        assert [f.status for f in again.feeds] == ["ok"] and again.embedded_articles == 0
        assert corpus.feeds.feed_state("ll").title == "Posts on Lil'Log"  # type: ignore[union-attr]
        third = run_ingest(settings, embedder=embedder)
        assert [f.status for f in third.feeds] == ["not_modified"]
    finally:
        corpus.close()


@pytest.mark.shared_data
@pytest.mark.slow
def test_unchanged_over_http_is_not_reembedded_and_changed_article_replaces_chunks(
    tmp_path: Path, embedder: Embedder
) -> None:
    body = (FEEDS_DIR / "trimmed/bair_blog.xml").read_bytes()
    with FeedServer() as server:
        server.route("/bair.xml", Reply(200, body, {"Content-Type": "application/rss+xml"}))
        settings = make_settings(
            tmp_path / "data",
            write_feeds_toml(tmp_path / "feeds.toml", {"bair": server.url("/bair.xml")}),
        )
        first = run_ingest(settings, embedder=embedder)
        assert first.embedded_articles == 3
        before = _snapshot(settings)

        second = run_ingest(settings, embedder=embedder)  # 200 again, same bytes, no validators
        assert second.feeds[0].status == "ok" and second.feeds[0].unchanged == 3
        assert second.embedded_articles == 0
        assert _snapshot(settings) == before
        vecs_before = _vectors_by_chunk(settings)

        # Change one article's text: only it is re-embedded, and its old chunks are gone.
        at = body.index(b"<description>", body.index(b"<item>")) + len(b"<description>")
        changed = body[:at] + b"BREAKING UPDATE. " + body[at:]
        assert changed != body
        server.route("/bair.xml", Reply(200, changed, {"Content-Type": "application/rss+xml"}))
        third = run_ingest(settings, embedder=embedder)
        assert third.feeds[0].updated == 1 and third.embedded_articles == 1
        after = _snapshot(settings)
        assert after["vectors"] == [c[:2] for c in after["chunks"]]
        changed_ids = {c[1] for c in after["chunks"] if "BREAKING UPDATE" in c[2]}
        assert len(changed_ids) == 1
        assert not any("BREAKING UPDATE" in c[2] for c in before["chunks"])
        # Only the changed article's vectors are new; the others are the same vectors.
        now = _vectors_by_chunk(settings)
        old_vecs, new_vecs = set(vecs_before.items()), set(now.items())
        assert {cid.rsplit(":", 1)[0] for cid, _ in new_vecs - old_vecs} == changed_ids
        assert {cid.rsplit(":", 1)[0] for cid, _ in old_vecs - new_vecs} == changed_ids


@pytest.mark.shared_data
@pytest.mark.slow
def test_reindex_rebuilds_vectors_without_fetching(tmp_path: Path, embedder: Embedder) -> None:
    feeds_file = write_feeds_toml(
        tmp_path / "feeds.toml",
        {"hf": "trimmed/huggingface_blog.xml", "bair": "trimmed/bair_blog.xml"},
    )
    settings = make_settings(tmp_path / "data", feeds_file)
    run_ingest(settings, embedder=embedder)
    before = _snapshot(settings)
    feeds_file.write_text("this is not toml = = =")  # proves --reindex reads no feeds
    report = run_ingest(settings, reindex=True, embedder=embedder)
    assert report.embedded_articles == 6 and report.feeds == []
    assert _snapshot(settings) == before
    one = run_ingest(settings, reindex=True, only=["hf"], embedder=embedder)
    assert one.embedded_articles == 3
    assert _snapshot(settings) == before


def test_progress_counts_chunks_in_order_across_write_groups(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Groups are encoded and stored while later ones are still chunked, and the chunking runs
    at most LOOKAHEAD_GROUPS groups ahead of the storing (memory does not grow with the
    corpus). Progress is reported in chunks, in order, never over its total (an estimate until
    every article is chunked, then exact), and every chunk ends up stored once."""
    monkeypatch.setattr(vectorize, "EMBED_BATCH_CHUNKS", 8)  # many groups from two feeds
    monkeypatch.setattr(vectorize, "LOAD_SLICE", 2)
    ahead: list[int] = []  # groups chunked and not yet stored, each time one is chunked
    groups = {"planned": 0, "stored": 0}
    real_plan, real_write = vectorize._Reporter.plan, vectorize._EmbedRun.write

    def plan(self: Any, articles: int, chunks: int) -> None:
        groups["planned"] += 1
        ahead.append(groups["planned"] - groups["stored"])
        real_plan(self, articles, chunks)

    def write(self: Any, *args: Any) -> int:
        time.sleep(0.2)  # a slow store: the chunking gets as far ahead as it may
        n = real_write(self, *args)
        groups["stored"] += 1
        return n

    monkeypatch.setattr(vectorize._Reporter, "plan", plan)
    monkeypatch.setattr(vectorize._EmbedRun, "write", write)
    feeds_file = write_feeds_toml(
        tmp_path / "feeds.toml",
        {"gradient": "trimmed/gradient_blog.xml", "bair": "trimmed/bair_blog.xml"},
    )
    settings = make_settings(tmp_path / "data", feeds_file)
    seen: list[tuple[str, int, int]] = []
    report = run_ingest(settings, embedder=embedder, progress=lambda *a: seen.append(a))
    embeds = [(done, total) for stage, done, total in seen if stage == "embed"]
    assert len(embeds) > vectorize.LOOKAHEAD_GROUPS + 2
    assert groups["stored"] == groups["planned"] == len(embeds)
    assert max(ahead) == vectorize.LOOKAHEAD_GROUPS + 1  # the queue fills, and no further
    assert embeds[-1] == (report.embedded_chunks, report.embedded_chunks)
    assert all(done <= total for done, total in embeds)
    dones = [done for done, _ in embeds]
    assert dones == sorted(dones)
    for key in ("chunk", "tokenize", "encode", "chroma", "sqlite", "embed_stage"):
        assert report.timings[key] > 0, key
    snap = _snapshot(settings)
    assert len(snap["chunks"]) == len(snap["vectors"]) == report.embedded_chunks  # type: ignore[arg-type]


def test_changing_the_embedding_model_requires_reindex(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    corpus = Corpus(settings)
    corpus.check_model("all-MiniLM-L6-v2")
    with pytest.raises(ConfigError, match="--reindex"):
        corpus.check_model("some/other-model")
    corpus.close()


@pytest.mark.shared_data
@pytest.mark.slow
def test_retention_prunes_old_articles(tmp_path: Path, embedder: Embedder) -> None:
    feeds_file = write_feeds_toml(
        tmp_path / "feeds.toml",
        {"colah": "publisher/colah_rss.xml", "hf": "trimmed/huggingface_blog.xml"},
    )
    settings = make_settings(tmp_path / "data", feeds_file)
    run_ingest(settings, embedder=embedder)
    days = (datetime.now(UTC) - datetime(2020, 1, 1, tzinfo=UTC)).days
    retained = settings.model_copy(update={"retention_days": days})
    pruned = run_ingest(retained, embedder=embedder)
    assert pruned.pruned == 6  # colah's posts are 2015-2019; the HF posts are 2026
    # A first ingest with retention never embeds what the retention drops.
    fresh = run_ingest(
        retained.model_copy(update={"data_dir": tmp_path / "fresh"}), embedder=embedder
    )
    assert (fresh.embedded_articles, fresh.pruned, fresh.pending) == (3, 6, 0)
    snap = _snapshot(settings)
    assert len(snap["articles"]) == 3
    assert {a for _, a, _ in snap["chunks"]} == {a for a, _, _ in snap["articles"]}
    assert len(snap["vectors"]) == len(snap["chunks"])


# ---------------------------------------------------------------- safety
def test_a_second_ingest_is_refused_while_one_runs(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", write_feeds_toml(tmp_path / "f.toml", {}))
    with ingest_lock(settings):
        with pytest.raises(IngestLocked, match="already running"):
            run_ingest(settings)
        proc = subprocess.run(
            [*NEWSBOT, "ingest"], env=_env(settings), capture_output=True, text=True, timeout=120
        )
    assert proc.returncode == 3
    assert "another ingest is already running" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.shared_data
def test_cli_exit_codes_and_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[feeds]]\nname = 'x'\n")  # no url
    settings = make_settings(tmp_path / "data", bad)
    proc = subprocess.run(
        [*NEWSBOT, "ingest"], env=_env(settings), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert "configuration error" in proc.stderr and "url" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1

    feeds_file = write_feeds_toml(
        tmp_path / "feeds.toml",
        {
            "empty-feed": "edge-cases/reddit_chatgptcoding_no_entries.xml",
            "html-429": "edge-cases/reddit_localllama_429.html.xml",
            "zero-bytes": "edge-cases/reddit_localllama_empty.xml",
        },
    )
    settings = make_settings(tmp_path / "data", feeds_file)
    proc = subprocess.run(
        [*NEWSBOT, "ingest", "--json"],
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    status = {f["name"]: f for f in out["feeds"]}
    assert status["empty-feed"]["status"] == "ok" and status["empty-feed"]["items"] == 0
    assert status["html-429"]["status"] == "error" and "HTML" in status["html-429"]["error"]
    assert status["zero-bytes"]["status"] == "error"
    assert out["ok"] is False

    proc = subprocess.run(
        [*NEWSBOT, "feeds", "status", "--json"],
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    health = {f["name"]: f for f in json.loads(proc.stdout)}
    assert health["html-429"]["consecutive_failures"] == 1
    assert health["empty-feed"]["last_error"] is None


@pytest.mark.shared_data
@pytest.mark.slow
def test_killed_run_then_normal_run_equals_uninterrupted_run(tmp_path: Path) -> None:
    feeds = {"deepmind": "publisher/google_deepmind_blog.xml", "bair": "trimmed/bair_blog.xml"}
    clean = make_settings(tmp_path / "clean", write_feeds_toml(tmp_path / "a.toml", feeds))
    crash = make_settings(tmp_path / "crash", write_feeds_toml(tmp_path / "b.toml", feeds))
    env = _env(crash, NEWSBOT_EMBEDDING_BATCH_SIZE="8")
    proc = subprocess.Popen(
        [*NEWSBOT, "ingest"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    killed_at = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            db = sqlite3.connect(f"file:{crash.db_path}?mode=ro", uri=True, timeout=1)
            killed_at = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
            db.close()
        except sqlite3.Error:
            killed_at = 0
        if killed_at > 0:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    partial = _snapshot(crash)
    assert 0 < len(partial["chunks"]) < 300
    assert any(e is None for _, _, e in partial["articles"])  # work left pending

    resumed = subprocess.run(
        [*NEWSBOT, "ingest", "--json"], env=_env(crash), capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    # The resumed run embeds only what was left, not everything again.
    total_articles = len(partial["articles"])
    assert 0 < report["embedded_articles"] < total_articles
    subprocess.run(
        [*NEWSBOT, "ingest"], env=_env(clean), check=True, capture_output=True, timeout=600
    )
    assert _snapshot(crash) == _snapshot(clean)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.shared_data
@pytest.mark.slow
def test_chroma_server_mode(tmp_path: Path, embedder: Embedder) -> None:
    port = _free_port()
    chroma = Path(sys.executable).with_name("chroma")
    server = subprocess.Popen(
        [
            str(chroma),
            "run",
            "--path",
            str(tmp_path / "chroma-server"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        feeds_file = write_feeds_toml(
            tmp_path / "feeds.toml",
            {"hf": "trimmed/huggingface_blog.xml", "bair": "trimmed/bair_blog.xml"},
        )
        settings = make_settings(
            tmp_path / "data", feeds_file, chroma_url=f"http://127.0.0.1:{port}"
        )
        report = run_ingest(settings, embedder=embedder)
        assert report.embedded_articles == 6
        assert not (settings.chroma_path).exists()  # nothing embedded locally
        corpus = Corpus(settings)
        hits = corpus.dense_search(embedder.embed_query("Berkeley AI research"), 3)
        assert hits and corpus.collection.count() == corpus.counts()["chunks"]
        corpus.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_unreachable_chroma_server_is_a_clear_error(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "data",
        write_feeds_toml(tmp_path / "f.toml", {}),
        chroma_url=f"http://127.0.0.1:{_free_port()}",
    )
    proc = subprocess.run(
        [*NEWSBOT, "ingest", "--reindex"],
        env=_env(settings, NEWSBOT_CHROMA_URL=settings.chroma_url or ""),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "Chroma" in proc.stderr and "Traceback" not in proc.stderr
