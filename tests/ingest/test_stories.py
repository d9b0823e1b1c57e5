"""Stories: real articles from the shared feeds, served over HTTP, embedded with the real model
and grouped at ingest; the read API, the CLI, the digest and the citation order."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import FEEDS_DIR, REPO, make_settings
from feedserver import FeedServer, Reply

from bot.answer.cite_order import primary_first
from bot.models import Answer, Source
from bot.stories.digest import digest_score, digest_stories, digest_window
from ingest.config import Settings
from ingest.embed import Embedder
from ingest.pipeline import run_ingest
from ingest.store import Corpus
from ingest.store.stories import (
    ORIGINAL,
    OTHER,
    RELAY,
    Story,
    StoryArticle,
    StoryStore,
    primary_rank,
)

RSS = {"Content-Type": "application/rss+xml"}

# Real items of the shared feeds (titles as published).
O3 = "Introducing OpenAI o3 and o4-mini"
FINE_TUNING = "Fine-tuning now available for GPT-4o"
WEBINAR = "Fine-Tuning GPT-4o Webinar"  # a week later: another event, same product
GPT4O = "Hello GPT-4o"
GPT4O_MINI = "GPT-4o mini: advancing cost-efficient intelligence"  # two months later
FLASH = "Introducing Gemini 2.5 Flash"
ISSUE = "Gemini 2.5 Flash completes the total domination of the Pareto Frontier"  # covers both


def feed_with(path: str, titles: list[str]) -> bytes:
    """The real feed file cut down to the items with these titles (bytes kept as they are)."""
    raw = (FEEDS_DIR / path).read_text(encoding="utf-8")
    head = raw[: raw.index("<item>")]
    items = re.findall(r"<item>.*?</item>", raw, flags=re.S)
    kept = [i for i in items if any(f"<title>{t}</title>" in i or f"[{t}]" in i for t in titles)]
    assert len(kept) == len(titles), (path, titles, len(kept))
    return (head + "".join(kept) + "</channel></rss>").encode()


def write_feeds(path: Path, feeds: dict[str, tuple[str, list[str]]]) -> Path:
    lines = []
    for name, (url, tags) in feeds.items():
        lines += [
            "[[feeds]]",
            f'name = "{name}"',
            f'url = "{url}"',
            f"tags = {json.dumps(tags)}",
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@dataclass
class Built:
    settings: Settings
    first_ids: dict[int, set[str]]  # stories after the first ingest → their article urls
    first_grouped: dict[str, float]  # article id → when it was grouped (first ingest)
    watermark: int  # after the first ingest


def _stories(settings: Settings) -> list[Story]:
    store = StoryStore(settings)
    try:
        return store.stories(limit=100)
    finally:
        store.close()


def _grouped(settings: Settings) -> dict[str, float]:
    db = sqlite3.connect(settings.db_path)
    try:
        return dict(db.execute("SELECT article_id, grouped FROM story_grouped").fetchall())
    finally:
        db.close()


def _story_of(stories: list[Story], title: str) -> list[Story]:
    return [s for s in stories if any(a.title == title for a in s.articles)]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Built]:
    """Two ingests over HTTP: the labs' posts first, then a newsletter issue that covers two
    of them."""
    root = tmp_path_factory.mktemp("stories")
    openai = feed_with("publisher/openai_news.xml", [O3, FINE_TUNING, WEBINAR, GPT4O, GPT4O_MINI])
    deepmind = feed_with("publisher/google_deepmind_blog.xml", [FLASH])
    issue = feed_with("publisher/smolai_ainews.xml", [ISSUE])
    with FeedServer() as server:
        server.route("/openai.xml", Reply(200, openai, RSS))
        server.route("/deepmind.xml", Reply(200, deepmind, RSS))
        server.route("/ainews.xml", Reply(200, issue, RSS))
        labs = {
            "OpenAI News": (server.url("/openai.xml"), ["lab", "openai"]),
            "Google DeepMind": (server.url("/deepmind.xml"), ["lab", "google"]),
        }
        feeds_file = write_feeds(root / "feeds.toml", labs)
        settings = make_settings(root / "data", feeds_file)
        assert run_ingest(settings, embedder=embedder).exit_code == 0
        first = _stories(settings)
        store = StoryStore(settings)
        watermark = store.watermark()
        store.close()
        built = Built(
            settings,
            {s.id: {a.url for a in s.articles} for s in first},
            _grouped(settings),
            watermark,
        )
        # The newsletter is added: a second, incremental ingest.
        write_feeds(
            feeds_file,
            {**labs, "AINews": (server.url("/ainews.xml"), ["newsletter"])},
        )
        assert run_ingest(settings, embedder=embedder).exit_code == 0
        yield built


@pytest.mark.slow
def test_first_ingest_groups_each_event_apart(built: Built) -> None:
    stories = _stories(built.settings)
    assert len(built.first_ids) == 6  # six posts, six events
    # hard negatives: same product, another event (a week later; a smaller model later on)
    for a, b in ((FINE_TUNING, WEBINAR), (GPT4O, GPT4O_MINI), (O3, FLASH)):
        assert {s.id for s in _story_of(stories, a)}.isdisjoint(s.id for s in _story_of(stories, b))
    for s in stories:
        assert s.first_seen <= s.last_updated
        assert s.title == s.articles[0].title


@pytest.mark.slow
def test_second_ingest_adds_the_newsletter_to_two_stories_without_regrouping(built: Built) -> None:
    stories = _stories(built.settings)
    with_issue = _story_of(stories, ISSUE)
    # one issue, two events: it joins the o3 story and the Gemini 2.5 Flash story
    assert sorted(s.primary.title for s in with_issue) == sorted([FLASH, O3])
    for s in with_issue:
        assert [a.title for a in s.articles] == [s.primary.title, ISSUE]  # the lab's post first
        assert s.primary.role == ORIGINAL and s.articles[-1].role == RELAY
        assert s.articles[-1].feed == "AINews" and s.source_count == 2
        assert s.last_updated == s.articles[-1].published
    # existing stories were joined, not rebuilt: same ids, the first articles not regrouped
    assert {s.id for s in with_issue} <= set(built.first_ids)
    grouped = _grouped(built.settings)
    assert {a: grouped[a] for a in built.first_grouped} == built.first_grouped
    assert len(grouped) == len(built.first_grouped) + 1
    assert len(stories) == 6  # the issue's headline is the Gemini story: no story of its own


@pytest.mark.slow
def test_watermark_reports_each_changed_story_once(built: Built) -> None:
    store = StoryStore(built.settings)
    try:
        changed = store.changed_after(built.watermark)
        assert sorted(s.primary.title for s in changed) == sorted([FLASH, O3])
        assert all(s.created_seq <= built.watermark < s.seq for s in changed)  # updated
        assert store.changed_after(store.watermark()) == []
        assert store.watermark() == max(s.seq for s in changed)
        everything = store.changed_after(0)
        assert len({s.id for s in everything}) == len(everything) == 6
    finally:
        store.close()


@pytest.mark.slow
def test_read_api_filters(built: Built) -> None:
    store = StoryStore(built.settings)
    try:
        newest_first = store.stories()
        stamps = [s.last_updated for s in newest_first]
        assert stamps == sorted(stamps, reverse=True)
        carried = store.stories(feeds=["AINews"])
        assert sorted(s.primary.title for s in carried) == sorted([FLASH, O3])
        may_2024 = store.stories(
            since=datetime(2024, 5, 1, tzinfo=UTC), until=datetime(2024, 6, 1, tzinfo=UTC)
        )
        assert [s.title for s in may_2024] == [GPT4O]
        assert store.stories(limit=2) == newest_first[:2]
    finally:
        store.close()


@pytest.mark.slow
def test_engine_topic_matches_by_meaning_and_orders_citations(
    built: Built, embedder: Embedder
) -> None:
    from bot.engine import Engine

    engine = Engine(built.settings, embedder=embedder)
    try:
        found = engine.stories(topic="a cheaper and faster Gemini model with a thinking budget")
        assert found and found[0].primary.title == FLASH
        assert not _story_of(found, WEBINAR)
        # a newsletter issue cited before the lab's post: the post gets the first number
        o3 = _story_of(engine.stories(), O3)[0]
        lab, issue = o3.articles[0].article_id, o3.articles[1].article_id
        assert engine.story_store.primary_order([issue, "x", lab]) == [lab, issue, "x"]
        assert engine.story_store.primary_order([lab, "x", issue]) == [lab, "x", issue]
        assert engine.story_watermark() > built.watermark
        assert engine.stories_changed_after(engine.story_watermark()) == []
        # a watch: which of the changed stories are about its topic
        changed = engine.stories_changed_after(built.watermark)
        about = engine.stories_about(changed, "OpenAI's new reasoning models o3 and o4-mini")
        assert [s.primary.title for s in about] == [O3]  # the issue also covers Gemini: no
        start, end, top = engine.digest(since=datetime(2025, 4, 10, tzinfo=UTC))
        assert [s.primary.title for s in top] == [FLASH, O3] and start < end
    finally:
        engine.close()


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "NEWSBOT_DATA_DIR": str(settings.data_dir),
        "NEWSBOT_FEEDS": str(settings.feeds),
        "PYTHONPATH": str(REPO),
        "HF_HUB_OFFLINE": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_cli_stories_json_shape_and_digest(built: Built) -> None:
    proc = _cli(built.settings, "stories", "--feed", "AINews", "--json")
    assert proc.returncode == 0, proc.stderr
    stories = json.loads(proc.stdout)
    assert len(stories) == 2
    for s in stories:
        assert {"title", "first_seen", "articles"} <= s.keys()
        datetime.fromisoformat(s["first_seen"])
        assert s["articles"][-1]["feed"] == "AINews"
        for a in s["articles"]:
            assert {"url", "feed", "published"} <= a.keys() and a["url"].startswith("http")
    text = _cli(built.settings, "stories", "--since", "2025-04-01")
    assert text.returncode == 0 and FLASH in text.stdout and GPT4O not in text.stdout
    bad = _cli(built.settings, "stories", "--since", "next tuesday")
    assert bad.returncode == 2 and "--since" in bad.stderr and "Traceback" not in bad.stderr
    digest = _cli(built.settings, "digest", "--since", "2025-04-10", "--json")
    assert digest.returncode == 0, digest.stderr
    top = json.loads(digest.stdout)["stories"]
    assert [s["title"] for s in top[:2]] == [FLASH, O3]  # 2 sources each, the newer first
    plain = _cli(built.settings, "digest")  # the last 24 h of the corpus: the o3 post
    assert plain.returncode == 0 and "Top stories" in plain.stdout


@pytest.mark.slow
def test_backfill_groups_an_existing_corpus_once(tmp_path: Path, embedder: Embedder) -> None:
    openai = feed_with("publisher/openai_news.xml", [O3, FINE_TUNING, WEBINAR])
    with FeedServer() as server:
        server.route("/openai.xml", Reply(200, openai, RSS))
        feeds = {"OpenAI News": (server.url("/openai.xml"), ["lab"])}
        settings = make_settings(tmp_path / "data", write_feeds(tmp_path / "feeds.toml", feeds))
        assert run_ingest(settings, embedder=embedder).exit_code == 0
        # A corpus from before stories existed: no story tables at all.
        db = sqlite3.connect(settings.db_path)
        for table in ("story_articles", "story_grouped", "stories", "story_seq"):
            db.execute(f"DROP TABLE {table}")
        db.commit()
        db.close()
        second = run_ingest(settings, embedder=embedder)  # nothing new to embed
        assert second.embedded_articles == 0
        assert len(_stories(settings)) == 3 and len(_grouped(settings)) == 3
        before = (_grouped(settings), [s.seq for s in _stories(settings)])
        run_ingest(settings, embedder=embedder)
        assert (_grouped(settings), [s.seq for s in _stories(settings)]) == before
    # Retention deletes an article: its story goes with it, the others stay.
    [webinar] = _story_of(_stories(settings), WEBINAR)
    corpus = Corpus(settings)
    try:
        corpus.delete_articles([webinar.primary.article_id])
    finally:
        corpus.close()
    left = _stories(settings)
    assert len(left) == 2 and not _story_of(left, WEBINAR)
    assert webinar.primary.article_id not in _grouped(settings)


def test_empty_corpus_lists_nothing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", write_feeds(tmp_path / "feeds.toml", {}))
    listed = _cli(settings, "stories", "--feed", "nowhere", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    digest = _cli(settings, "digest")
    assert digest.returncode == 0 and digest.stdout.startswith("Nothing new from"), digest.stderr


# ---------------------------------------------------------------- pure parts
def _article(n: int, host: str, day: datetime, role: int = OTHER) -> StoryArticle:
    return StoryArticle(f"a{n}", f"https://{host}/{n}", f"t{n}", host, day, (host,), role)


def _story(sid: int, hosts: list[str], first: datetime, last: datetime) -> Story:
    arts = tuple(_article(sid * 10 + i, h, first) for i, h in enumerate(hosts))
    return Story(sid, f"story {sid}", first, last, arts)


def test_digest_ranks_by_sources_and_recency() -> None:
    now = datetime(2025, 4, 20, tzinfo=UTC)
    since = now - timedelta(days=1)
    fresh_two = _story(1, ["a.com", "b.com"], now - timedelta(hours=2), now - timedelta(hours=1))
    old_three = _story(2, ["a.com", "b.com", "c.com"], since, since + timedelta(hours=1))
    fresh_one = _story(3, ["a.com", "a.com"], now - timedelta(hours=1), now - timedelta(hours=1))
    before = _story(4, ["x.com", "y.com", "z.com"], since - timedelta(hours=1), now)
    top = digest_stories([fresh_one, old_three, before, fresh_two], since, now)
    # the story that started before the period is in an earlier digest; one host = one source
    assert [s.id for s in top] == [1, 2, 3]
    assert digest_score(fresh_two, since, now) > digest_score(old_three, since, now)
    assert digest_stories([fresh_one, fresh_two], since, now, limit=1) == [fresh_two]
    assert digest_stories([], since, now) == []


def test_digest_window_defaults_to_the_corpus_last_day() -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    newest = datetime(2026, 8, 22, 12, tzinfo=UTC)
    since, until = digest_window(newest, None, now)
    assert until - since == timedelta(hours=24, seconds=1) and since == newest - timedelta(hours=24)
    asked = datetime(2026, 8, 1, tzinfo=UTC)
    assert digest_window(newest, asked, now) == (asked, now)
    assert digest_window(None, None, now)[1] > now


def test_a_story_is_reported_by_its_own_articles_not_by_a_passing_newsletter() -> None:
    day = datetime(2025, 4, 17, tzinfo=UTC)
    lab, issue = _article(1, "lab.com", day, ORIGINAL), _article(2, "news.com", day, RELAY)
    story = Story(1, "t", day, day, (lab, issue))
    assert story.reported_by(["a1"]) and not story.reported_by(["a2"])
    only_issue = Story(2, "t", day, day, (issue,))
    assert only_issue.reported_by(["a2"])


def test_primary_rank_from_feed_tags() -> None:
    assert primary_rank(["lab", "openai"]) == ORIGINAL
    assert primary_rank(["Newsletter"]) == RELAY
    assert primary_rank(["blog"]) == primary_rank([]) == OTHER
    assert primary_rank(["research", "newsletter"]) == ORIGINAL


def test_citations_renumbered_primary_first() -> None:
    day = datetime(2025, 4, 17, tzinfo=UTC)
    sources = (
        Source(1, "issue", "AINews issue", "https://news/1", "AINews", day),
        Source(2, "other", "Other", "https://other/2", "Blog", day),
        Source(3, "lab", "Lab post", "https://lab/3", "OpenAI", day),
    )
    answer = Answer("q?", "Issue says [1]. Other [2]. Lab [3][1].", sources, day, True)
    reordered = primary_first(answer, lambda ids: ["lab", "other", "issue"])
    assert [s.article_id for s in reordered.sources] == ["lab", "other", "issue"]
    assert [s.n for s in reordered.sources] == [1, 2, 3]
    assert reordered.text == "Issue says [3]. Other [2]. Lab [1][3]."
    assert primary_first(answer, lambda ids: list(ids)) is answer
    assert primary_first(answer, lambda ids: ["lab"]) is answer  # an order that lost ids
