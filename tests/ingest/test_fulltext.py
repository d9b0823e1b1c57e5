"""Full-text feeds: extraction through the installed trafilatura (+ lxml_html_clean) on a real
article served locally, the per-run page cap, and a loud start-up failure when extraction is
broken in the installation."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import feedparser
import pytest
from conftest import FEEDS_DIR, REPO, make_settings
from feedserver import FeedServer

from ingest.feeds import load_feeds
from ingest.fulltext import check_full_text
from ingest.models import Feed, FeedState
from ingest.parse import extraction_problem
from ingest.pipeline import _merge_warnings, ingest_feeds
from ingest.store import Corpus

REAL_POST = FEEDS_DIR / "publisher" / "lucumr_atom.xml"


def _rss(items: list[tuple[str, str, str]]) -> bytes:
    body = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link><guid>{escape(link)}</guid>"
        f"<pubDate>Wed, 19 Aug 2026 10:00:00 GMT</pubDate>"
        f"<description>{escape(summary)}</description></item>"
        for t, link, summary in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{body}</channel></rss>'
    ).encode()


def _blog_page(title: str, article_html: str) -> bytes:
    """A real post's HTML inside the chrome of a typical blog page."""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)} | Armin Ronacher's Thoughts and Writings</title>"
        "<link rel='stylesheet' href='/static/style.css'></head><body>"
        "<header><nav><a href='/'>Home</a> <a href='/archive/'>Archive</a> "
        "<a href='/tags/'>Tags</a> <a href='/about/'>About the author and this site</a></nav>"
        "</header><div class='sidebar'><h3>Subscribe</h3><p>Sign up to the newsletter for "
        "weekly updates</p></div><main><article>"
        f"<h1>{escape(title)}</h1><p class='date'>written on August 19, 2026</p>"
        f"{article_html}</article></main>"
        "<section id='comments'><h3>Comments</h3><p>Cheap replica watches, click here!</p>"
        "</section><footer><p>&copy; Copyright 2026 by Armin Ronacher. "
        "Content licensed under the Creative Commons.</p></footer></body></html>"
    ).encode()


def test_extraction_works_in_this_installation() -> None:
    assert extraction_problem() is None


@pytest.mark.shared_data
def test_full_text_of_a_real_article_page_served_locally(tmp_path: Path) -> None:
    entry = feedparser.parse(REAL_POST.read_bytes()).entries[0]
    assert entry.title == "What Is Reasoning"
    page = _blog_page(entry.title, entry.content[0].value)
    with FeedServer() as server:
        link = server.url("/2026/8/19/what-is-reasoning/")
        server.serve("/2026/8/19/what-is-reasoning/", page, "text/html; charset=utf-8")
        feed_url = server.serve(
            "/feed.xml",
            _rss([(entry.title, link, "A few weeks ago a paper was shared.")]),
            "application/rss+xml",
        )
        settings = make_settings(tmp_path / "data", fetch_retries=0)
        corpus = Corpus(settings)
        try:
            [report] = ingest_feeds(
                corpus, [Feed(name="lucumr", url=feed_url, full_text=True)], settings
            )
            [(article, _)] = corpus.load_articles(corpus.pending_ids())
        finally:
            corpus.close()
        assert len(server.requests_for("/2026/8/19/what-is-reasoning/")) == 1
    assert report.status == "ok" and report.warnings == []
    text = article.text
    assert "Reasoning traces are usually hidden from us." in text
    assert "GPT-OSS" in text and "Harmony response format" in text
    for chrome in ("Archive", "Sign up to the newsletter", "replica watches", "Copyright 2026"):
        assert chrome not in text, chrome
    assert len(text) > 3000


def test_page_fetches_per_run_are_capped_across_feeds(tmp_path: Path) -> None:
    page = b"<html><body><article>" + b"<p>Words about models and agents.</p>" * 40 + b"</article>"
    with FeedServer() as server:
        feeds = []
        for name in ("a", "b"):
            items = []
            for i in range(3):
                path = f"/{name}/post-{i}"
                server.serve(path, page, "text/html")
                items.append((f"{name} post {i}", server.url(path), "short summary"))
            url = server.serve(f"/{name}.xml", _rss(items), "application/rss+xml")
            feeds.append(Feed(name=name, url=url, full_text=True))
        settings = make_settings(tmp_path / "data", max_page_fetches_per_run=4)
        corpus = Corpus(settings)
        try:
            reports = ingest_feeds(corpus, feeds, settings)
            states = {s.name: s for s in corpus.feed_states()}
        finally:
            corpus.close()
        page_requests = [r for r in server.requests if "/post-" in r.path]
    assert len(page_requests) == 4
    assert [r.new for r in reports] == [3, 3]  # nothing lost: the rest keep their summary
    assert reports[0].warnings == []
    [warning] = reports[1].warnings
    assert warning.startswith("page limit reached (4 article pages per run")
    assert "2 new item(s) stored from their summary" in warning  # 3 + 1 fetched
    [stored] = states["b"].warnings  # kept for `newsbot feeds status`, with the time
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC: " + re.escape(warning), stored)
    assert states["a"].warnings == ()


def test_feed_state_warnings_survive_an_old_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = sqlite3.connect(data / "newsbot.sqlite3")
    db.execute(  # the feed_state table as corpora created before warnings were kept have it
        "CREATE TABLE feed_state (name TEXT PRIMARY KEY, url TEXT NOT NULL DEFAULT '',"
        " etag TEXT, last_modified TEXT, last_attempt REAL, last_success REAL, last_error TEXT,"
        " consecutive_failures INTEGER NOT NULL DEFAULT 0,"
        " items_last_fetch INTEGER NOT NULL DEFAULT 0)"
    )
    db.execute("INSERT INTO feed_state(name, url) VALUES ('old', 'https://x.org/rss')")
    db.commit()
    db.close()
    corpus = Corpus(make_settings(data))
    try:
        assert corpus.feeds.feed_state("old") == FeedState(name="old", url="https://x.org/rss")
        corpus.save_feed_state(FeedState(name="new", warnings=("w1", "w2 — ünïcode")))
        assert corpus.feeds.feed_state("new").warnings == ("w1", "w2 — ünïcode")  # type: ignore[union-attr]
    finally:
        corpus.close()


def test_check_full_text_only_cares_about_enabled_full_text_feeds() -> None:
    check_full_text([Feed("a", "x"), Feed("b", "y", full_text=True)])  # extraction works here


BROKEN = (
    "import sys; sys.modules['lxml_html_clean'] = None  # as on a fresh install without it\n"
    "from bot.cli import main; sys.exit(main(sys.argv[1:]))\n"
)


def test_run_fails_loudly_when_extraction_is_unavailable(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.toml"
    post = FEEDS_DIR / "trimmed" / "openai_blog.xml"
    feeds.write_text(
        f'[[feeds]]\nname = "plain"\nurl = "{post}"\n\n'
        f'[[feeds]]\nname = "press"\nurl = "{post}"\nfull_text = true\n\n'
        f'[[feeds]]\nname = "off"\nurl = "{post}"\nfull_text = true\nenabled = false\n',
        encoding="utf-8",
    )
    assert [f.name for f in load_feeds(feeds)] == ["plain", "press", "off"]
    env = {
        **os.environ,
        "NEWSBOT_DATA_DIR": str(tmp_path / "data"),
        "NEWSBOT_FEEDS": str(feeds),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(REPO),
    }
    out = subprocess.run(
        [sys.executable, "-c", BROKEN, "ingest"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    [line] = lines
    assert "full-text extraction is unavailable (ImportError: lxml.html.clean" in line
    assert "full_text = true is set for press: " in line  # not "plain", not the disabled "off"
    assert out.stdout == ""
    # The bot refuses to start too (its scheduled ingest would fail), before connecting.
    bot = subprocess.run(
        [sys.executable, "-c", BROKEN, "bot"],
        capture_output=True,
        text=True,
        env={**env, "DISCORD_TOKEN": "not.a.token", "NEWSBOT_INGEST_INTERVAL_MINUTES": "60"},
        cwd=tmp_path,
        timeout=300,
    )
    assert bot.returncode == 2, bot.stderr
    assert [ln for ln in bot.stderr.splitlines() if ln.strip()] == lines
    db = tmp_path / "data" / "newsbot.sqlite3"
    if db.exists():  # nothing was fetched or stored
        con = sqlite3.connect(db)
        assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 0
        con.close()


def test_check_full_text_names_the_feeds(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['lxml_html_clean'] = None\n"
        "from ingest.models import Feed, ConfigError\n"
        "from ingest.fulltext import check_full_text\n"
        "check_full_text([Feed('a', 'x'), Feed('b', 'y', full_text=True, enabled=False)])\n"
        "try:\n"
        "    check_full_text([Feed(f'f{i}', 'x', full_text=True) for i in range(7)])\n"
        "except ConfigError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "set for f0, f1, f2, f3, f4 and 2 more" in out.stdout
    assert "pip install" in out.stdout


def test_warnings_are_stamped_and_kept_for_a_week() -> None:
    now = datetime(2026, 12, 2, 7, 5, tzinfo=UTC)
    old = (
        "2026-12-01 06:00 UTC: yesterday's refusal",
        "2026-11-20 06:00 UTC: too old",
        "no stamp",
    )
    merged = _merge_warnings(old, ["new one"], now)
    assert merged == ("2026-12-02 07:05 UTC: new one", "2026-12-01 06:00 UTC: yesterday's refusal")
    assert _merge_warnings(merged, [], now) == merged  # a run without warnings keeps them
    many = _merge_warnings(merged, [f"w{i}" for i in range(30)], now)
    assert len(many) == 20 and many[0].endswith("w0")
