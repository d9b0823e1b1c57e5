"""Metrics and health (bot.metrics): /healthz fails until the engine is loaded and when the corpus
stops answering; a scrape of the real bot process (against the local Discord server) counts the
questions it answered and declined, their latency, the interactions, and the corpus size."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import make_settings, write_feeds_toml
from discordbot import bot_env, start_bot
from fakediscord import FakeDiscord
from fakediscord.world import make_user
from prometheus_client.parser import text_string_to_metric_families

from bot.config import DiscordSettings
from bot.metrics import Metrics
from ingest.config import Settings
from ingest.embed import Embedder

TOKEN = "MTIzNDU2Nzg5.fake-bot-token.metrics"
FEEDS = {
    "deepmind": "publisher/google_deepmind_blog.xml",
    "openai-blog": "trimmed/openai_blog.xml",
}


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, parsed by prometheus_client's own parser."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def corpus(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, shared_feeds: Path
) -> Settings:
    from ingest.pipeline import run_ingest

    root = tmp_path_factory.mktemp("metrics-corpus")
    settings = make_settings(root / "data", write_feeds_toml(root / "feeds.toml", FEEDS))
    assert not run_ingest(settings, embedder=embedder).failed
    return settings


@pytest.mark.slow
def test_healthz_is_ok_only_while_the_engine_is_loaded_and_the_corpus_answers(
    corpus: Settings, embedder: Embedder
) -> None:
    from bot.engine import Engine

    metrics = Metrics()
    server = metrics.serve("127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.port}"
    try:
        status, body = get(base + "/healthz")
        assert (status, body.split(":")[0]) == (503, "starting")
        engine = Engine(DiscordSettings.load(data_dir=corpus.data_dir), embedder=embedder)
        metrics.watch(engine)
        assert get(base + "/healthz") == (200, "ok\n")
        scraped = samples(get(base + "/metrics")[1])
        assert scraped[("newsbot_corpus_articles", ())] == engine.stats().articles > 0
        engine.close()  # the corpus stops answering
        status, body = get(base + "/healthz")
        assert status == 503 and body.startswith("corpus:"), body
    finally:
        server.stop()


@pytest.fixture(scope="module")
def bot(
    corpus: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FakeDiscord, str, subprocess.Popen[bytes]]]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("metrics-bot") / "bot.log"
    with FakeDiscord(token=TOKEN, heartbeat_interval_ms=1000) as server:
        env = bot_env(
            server, corpus.data_dir.parent,
            NEWSBOT_DATA_DIR=str(corpus.data_dir), NEWSBOT_FEEDS=str(corpus.feeds),
            NEWSBOT_COOLDOWN_SECONDS="0", NEWSBOT_INGEST_INTERVAL_MINUTES="0",
            NEWSBOT_METRICS_PORT=str(port),
        )  # fmt: skip
        proc = start_bot(env, log_path.parent, log_path).proc
        try:
            server.wait_ready(timeout=90)
            deadline = time.monotonic() + 60
            while get_or_none(f"http://127.0.0.1:{port}/healthz") != 200:
                assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
            yield server, f"http://127.0.0.1:{port}", proc
        finally:
            proc.terminate()
            proc.wait(20)


def get_or_none(url: str) -> int | None:
    try:
        return get(url)[0]
    except OSError:
        return None


@pytest.mark.discord
@pytest.mark.slow
def test_a_scrape_while_the_bot_runs_counts_questions_latency_and_interactions(
    bot: tuple[FakeDiscord, str, subprocess.Popen[bytes]], corpus: Settings
) -> None:
    server, base, _ = bot
    user = make_user(server.world.snowflake(), "asker")
    questions = [
        "What did Google DeepMind announce about Gemini?",
        "What did the Zorblax Foundation release for quantum knitting in 1850?",
    ]
    for q in questions:
        iid = server.invoke_slash("ask", {"question": q}, user=user)
        server.wait_for_followup(iid, timeout=60)
    status, text = get(base + "/metrics")
    assert status == 200
    got = samples(text)
    answered = got[("newsbot_questions_total", (("outcome", "answered"), ("reason", "")))]
    declined = {
        dict(labels)["reason"]: v
        for (name, labels), v in got.items()
        if name == "newsbot_questions_total" and dict(labels)["outcome"] == "declined"
    }
    assert answered == 1 and sum(declined.values()) == 1, got
    assert "unknown" not in declined and "" not in declined  # a reason is named
    assert got[("newsbot_answer_seconds_count", ())] == 2
    assert got[("newsbot_answer_seconds_sum", ())] > 0
    assert got[("newsbot_discord_interactions_total", (("kind", "/ask"),))] == 2
    with sqlite3.connect(corpus.db_path) as db:
        articles = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    assert got[("newsbot_corpus_articles", ())] == articles
    assert got[("newsbot_feeds_failing", ())] == 0
    assert get(base + "/healthz") == (200, "ok\n")


def test_the_metrics_port_is_bound_to_loopback_unless_configured() -> None:
    settings = DiscordSettings.load(metrics_port=9100)
    assert (settings.metrics_host, settings.metrics_port) == ("127.0.0.1", 9100)
    assert DiscordSettings.load().metrics_port is None  # off unless asked for


def test_ingest_runs_and_articles_added_are_counted() -> None:
    from ingest.pipeline import FeedReport, IngestReport

    metrics = Metrics()
    metrics.after_ingest(IngestReport(feeds=[FeedReport("a", "ok", new=3), FeedReport("b", "ok")]))
    failed = FeedReport("c", "error", error="HTTP 500")
    metrics.after_ingest(IngestReport(feeds=[FeedReport("a", "ok", new=2), failed]))
    server = metrics.serve("127.0.0.1", 0)
    try:
        got = samples(get(f"http://127.0.0.1:{server.port}/metrics")[1])
    finally:
        server.stop()
    assert got[("newsbot_ingest_runs_total", (("result", "ok"),))] == 1
    assert got[("newsbot_ingest_runs_total", (("result", "partial"),))] == 1
    assert got[("newsbot_articles_added_total", ())] == 5
    assert ("newsbot_corpus_articles", ()) not in got  # no engine yet: no corpus gauges
