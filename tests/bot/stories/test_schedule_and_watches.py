"""Digests and watches without Discord: schedule periods in real time zones (DST included),
which stories a digest lists, the subscriptions store's claims and limits, the watch matching
rules, and the rendering limits of digests, /latest lines and watch messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from bot.config import DiscordSettings
from bot.discord.layout import EMBED_TOTAL_LIMIT, FIELD_VALUE_LIMIT, dlen, embed_length
from bot.discord.render_stories import render_digest, render_story_list, render_watch, story_line
from bot.discord.subscription_store import (
    DigestRun,
    DuplicateWatch,
    SubscriptionStore,
    WatchLimitReached,
)
from bot.stories.schedule import (
    DigestSchedule,
    due_period,
    last_occurrence,
    next_occurrence,
    parse_timezone,
    period_key,
    select_digest,
    zone_choices,
)
from bot.stories.watch_match import (
    StoryText,
    content_words,
    decide,
    match_story,
    required_present,
    required_words,
    text_words,
    word_share,
)
from ingest.models import ConfigError
from ingest.store.stories import ORIGINAL, RELAY, Story, StoryArticle


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def article(n: int, feed: str = "lab", host: str = "lab.example", role: int = ORIGINAL, **kw):
    return StoryArticle(
        article_id=f"a{n}",
        url=kw.get("url", f"https://{host}/post/{n}"),
        title=kw.get("title", f"Post {n}"),
        feed=feed,
        published=kw.get("published", utc(2026, 8, 10)),
        feeds=(feed,),
        role=role,
    )


def story(
    sid: int,
    *,
    seq: int,
    first: datetime,
    last: datetime | None = None,
    hosts: int = 1,
    title: str = "A story",
    created_seq: int | None = None,
) -> Story:
    arts = tuple(article(sid * 10 + i, f"feed{i}", f"host{i}.example") for i in range(hosts))
    return Story(
        id=sid,
        title=title,
        first_seen=first,
        last_updated=last or first,
        articles=arts,
        seq=seq,
        created_seq=seq if created_seq is None else created_seq,
    )


# ---------------------------------------------------------------------------- schedules
PARIS = DigestSchedule(1, 2, "daily", 9, "Europe/Paris", created=utc(2026, 1, 1))


def test_daily_occurrences_follow_the_local_hour_across_dst() -> None:
    summer = last_occurrence(PARIS, utc(2026, 8, 13, 8, 0))
    assert summer == utc(2026, 8, 13, 7, 0)  # 09:00 CEST = 07:00 UTC
    assert last_occurrence(PARIS, utc(2026, 8, 13, 6, 59)) == utc(2026, 8, 12, 7, 0)
    winter = last_occurrence(PARIS, utc(2026, 12, 1, 9, 0))
    assert winter == utc(2026, 12, 1, 8, 0)  # 09:00 CET = 08:00 UTC
    # the night clocks go forward (29 March 2026): the next 09:00 is 23 hours after the last
    before = utc(2026, 3, 28, 8, 30)
    assert next_occurrence(PARIS, before) - last_occurrence(PARIS, before) == timedelta(hours=23)
    assert period_key(PARIS, summer) == "2026-08-13"


def test_an_hour_that_does_not_exist_locally_still_happens_once() -> None:
    gap = DigestSchedule(1, 2, "daily", 2, "Europe/Paris", created=utc(2026, 1, 1))
    # 02:00 does not exist on 29 March in Paris: it is taken with the winter offset
    occ = last_occurrence(gap, utc(2026, 3, 29, 12))
    assert occ == utc(2026, 3, 29, 1, 0) and period_key(gap, occ) == "2026-03-29"
    assert next_occurrence(gap, occ) == utc(2026, 3, 30, 0, 0)


def test_weekly_schedule_and_due_period() -> None:
    weekly = DigestSchedule(
        1, 2, "weekly", 18, "America/New_York", weekday=0, created=utc(2026, 8, 12)
    )
    # Monday 17 August 2026 18:00 EDT = 22:00 UTC
    assert next_occurrence(weekly, utc(2026, 8, 12)) == utc(2026, 8, 17, 22)
    assert due_period(weekly, utc(2026, 8, 16)) is None  # before the first occurrence
    assert due_period(weekly, utc(2026, 8, 20)) == ("2026-08-17", utc(2026, 8, 17, 22))
    # the bot was down for three weeks: one digest, for the latest occurrence
    assert due_period(weekly, utc(2026, 9, 9))[0] == "2026-09-07"
    assert weekly.describe() == "weekly on Monday at 18:00 (America/New_York)"


def test_time_zone_names_are_checked_with_a_clear_error() -> None:
    assert parse_timezone("europe/paris") == "Europe/Paris"
    assert parse_timezone(" UTC ") == "UTC"
    assert parse_timezone("America/New York") == "America/New_York"
    with pytest.raises(ValueError, match=r"'Paris' is not a time zone I know\. Use an IANA name"):
        parse_timezone("Paris")
    with pytest.raises(ValueError, match="not a time zone"):
        parse_timezone("CEST+2")
    assert zone_choices("jakarta") == ["Asia/Jakarta"]
    assert zone_choices("paris")[0] == "Europe/Paris"
    assert len(zone_choices("a")) == 25


def test_digest_lists_what_is_new_since_the_last_one_ranked_by_sources_and_recency() -> None:
    since, now = utc(2026, 8, 12, 7), utc(2026, 8, 13, 7)
    day = timedelta(days=1)
    stories = [
        story(1, seq=5, first=utc(2026, 8, 12, 9), hosts=1),
        story(2, seq=6, first=utc(2026, 8, 12, 8), last=utc(2026, 8, 13, 6), hosts=3),
        story(3, seq=7, first=utc(2026, 8, 13, 6), hosts=2),
        story(4, seq=3, first=utc(2026, 8, 12, 10), hosts=5),  # in the last digest's sequence
        story(5, seq=9, first=utc(2026, 8, 1), hosts=4),  # old news from a new feed
        story(6, seq=10, first=utc(2026, 8, 12, 20), hosts=2),  # listed already
        story(7, seq=11, first=utc(2026, 8, 11, 12), last=utc(2026, 8, 11, 13)),  # late article
    ]
    top = select_digest(
        stories, since=since, now=now, after_seq=4, already_listed={6}, limit=10, period=day
    )
    assert [s.id for s in top] == [2, 3, 1, 7]
    assert [
        s.id
        for s in select_digest(
            stories, since=since, now=now, after_seq=4, already_listed={6}, limit=2, period=day
        )
    ] == [2, 3]


# ---------------------------------------------------------------------------- store
def test_store_claims_a_period_once_and_keeps_the_window(tmp_path: Path) -> None:
    store = SubscriptionStore(tmp_path / "subs.sqlite3")
    assert not store.set_schedule(PARIS) and store.set_schedule(PARIS)  # created, replaced
    run = DigestRun(
        1,
        "2026-08-13",
        "sending",
        utc(2026, 8, 13, 7),
        utc(2026, 8, 12, 7),
        utc(2026, 8, 13, 7),
        12,
        story_ids=(3, 4),
        marker="m",
        after_id=99,
    )
    assert store.claim_digest(run)
    assert not store.claim_digest(run)  # a second claim of the period is refused
    assert [r.period for r in store.unsettled_digests()] == ["2026-08-13"]
    assert store.last_digest(1) is None  # not sent yet
    store.finish_digest(1, "2026-08-13", "sent", [777])
    last = store.last_digest(1)
    assert last and last.until == utc(2026, 8, 13, 7) and last.seq == 12
    assert last.message_ids == (777,) and last.after_id == 99
    assert store.listed_story_ids(1) == {3, 4}
    store.release_digest(1, "2026-08-13")  # only releases a claim still `sending`
    assert store.digest_run(1, "2026-08-13") is not None
    store.close()
    reopened = SubscriptionStore(tmp_path / "subs.sqlite3")  # survives a restart
    assert reopened.schedule(1) == PARIS and reopened.last_digest(1) == last
    assert reopened.remove_schedule(1) and not reopened.remove_schedule(1)


def test_subscriptions_share_the_bots_file_with_its_answer_store(tmp_path: Path) -> None:
    """Both stores of the bot open discord.sqlite3 at once, each with its own tables."""
    from bot.discord.conversation import AnswerRecord
    from bot.discord.store import DiscordStore

    path = tmp_path / "discord.sqlite3"
    answers, subscriptions = DiscordStore(path), SubscriptionStore(path)
    subscriptions.set_meta("watch_seq", "7")
    assert not subscriptions.set_schedule(PARIS)
    answers.remember([42], AnswerRecord("q?", "a.", [], None))
    answers.close()
    subscriptions.close()
    again, answers = SubscriptionStore(path), DiscordStore(path)
    assert again.get_meta("watch_seq") == "7" and again.schedule(1) == PARIS
    assert answers.recall(42) is not None and answers.recall(42).question == "q?"
    again.close()
    answers.close()


def test_store_bounds_watches_and_records_each_story_once(tmp_path: Path) -> None:
    store = SubscriptionStore(tmp_path / "subs.sqlite3")
    now = utc(2026, 8, 20)
    add = dict(owner_id=7, guild_id=1, created=now, start_seq=5, limit=2)
    w1 = store.add_watch(channel_id=None, topic="Claude Code", **add)
    store.add_watch(channel_id=None, topic="robotics", **add)
    with pytest.raises(DuplicateWatch):
        store.add_watch(channel_id=None, topic="claude code", **add)
    with pytest.raises(WatchLimitReached):
        store.add_watch(channel_id=None, topic="third", **add)
    store.add_watch(channel_id=42, topic="third", **add)  # a channel has its own bound
    assert [w.topic for w in store.visible_watches(7, 42)] == ["Claude Code", "robotics", "third"]
    assert [w.topic for w in store.visible_watches(8, None)] == []
    assert store.add_hits(w1.id, {10: 0.5, 11: 0.6}, now) == 2
    assert store.add_hits(w1.id, {10: 0.9, 12: 0.4}, now) == 1  # story 10 is not told twice
    assert store.pending_hits(w1.id) == [10, 11, 12]
    assert store.claim_hits(w1.id, [10, 11], now) == [10, 11]
    assert store.claim_hits(w1.id, [10], now) == []
    assert store.messages_since(w1.id, now - timedelta(hours=1)) == 1  # two stories, one claim
    store.finish_hits(w1.id, [10, 11], "sent", 555)
    assert store.messages_since(w1.id, now - timedelta(hours=1)) == 1
    assert store.messages_since(w1.id, now + timedelta(seconds=1)) == 0
    assert store.claim_hits(w1.id, [12], now) == [12]
    assert store.settle_interrupted_hits() == 1  # a crash while sending: never resent
    assert store.hit_states(w1.id) == {10: "sent", 11: "sent", 12: "unknown"}
    assert store.remove_watch(w1.id) and store.hit_states(w1.id) == {}


def test_settings_are_discord_settings_validated_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEWSBOT_WATCH_LIMIT", "0")
    with pytest.raises(ConfigError, match="^invalid setting NEWSBOT_WATCH_LIMIT: "):
        DiscordSettings.load()
    monkeypatch.setenv("NEWSBOT_WATCH_LIMIT", "3")
    monkeypatch.setenv("NEWSBOT_DIGEST_STORIES", "26")  # one embed holds 25 fields
    with pytest.raises(ConfigError, match="NEWSBOT_DIGEST_STORIES"):
        DiscordSettings.load()
    monkeypatch.delenv("NEWSBOT_DIGEST_STORIES")
    s = DiscordSettings.load()
    assert (s.watch_limit, s.watch_max_per_hour, s.digest_stories) == (3, 4, 10)


# ---------------------------------------------------------------------------- matching
def test_topic_words_names_and_numbers() -> None:
    assert content_words("Watermarking AI-generated text") == ["watermark", "generat", "text"]
    assert required_words("Claude Opus 5") == ["claude", "opus", "5"]
    assert required_words("claude code", capitalized={"claude", "code"}) == ["claude", "code"]
    assert required_words("AI for biology") == []  # "AI" is a stopword, not a name
    have = text_words("Introducing Claude Opus 5.1, with watermarks")
    assert required_present(["claude", "opus", "5"], have)  # 5.1 is a 5
    assert not required_present(["5"], text_words("Opus 4.5 and 15 others"))
    assert required_present(["4"], text_words("Opus 4.8"))
    assert word_share(["watermark", "text"], have) == 0.5


def test_match_needs_the_names_and_meaning() -> None:
    vec = np.array([1.0, 0.0])
    close, far = np.array([0.9, 0.1]), np.array([0.3, 0.95])
    text = StoryText(1, ("a:0", "b:0"), "Introducing Claude Tag \nClaude Tag lets teams")
    m = match_story("Claude Code", vec, text, {"a:0": close})
    assert m.meaning > 0.9 and not m.names and not m.matched  # close, but not Claude Code
    text = StoryText(2, ("c:0",), "Auto mode is now the default in Claude Code")
    assert match_story("Claude Code", vec, text, {"c:0": close}).matched
    assert not match_story("Claude Code", vec, text, {"c:0": far}).matched  # a stray mention
    assert decide(0.45, 1.0, 1.0) and not decide(0.45, 0.5, 1.0) and decide(0.75, 0.0, 1.0)
    assert not decide(0.95, 1.0, 1.0, names=False)


# ---------------------------------------------------------------------------- rendering
def test_digest_stays_one_message_within_every_limit() -> None:
    long_title = "@everyone " + "Gemini " * 80
    stories = []
    for i in range(25):
        arts = tuple(
            article(
                i * 100 + j,
                f"feed-{j}",
                f"h{j}.example",
                title=long_title,
                url=f"https://h{j}.example/" + "x" * 300,
            )
            for j in range(12)
        )
        stories.append(Story(i, long_title, utc(2026, 8, 12), utc(2026, 8, 13), arts, seq=i))
    [payload] = render_digest(
        stories,
        heading="Top stories of the day",
        period="New since …",
        footer="Daily digest for 2026-08-13 · daily at 09:00 (UTC)",
    )
    [embed] = payload.embeds
    assert embed_length(embed) <= EMBED_TOTAL_LIMIT and len(embed.fields) <= 25
    assert all(dlen(f.value) <= FIELD_VALUE_LIMIT and dlen(f.name) <= 256 for f in embed.fields)
    assert len(embed.fields) >= 5  # cut sources ("+N more") before dropping stories
    assert "@everyone" not in str(embed.to_dict()).replace("@\u200beveryone", "")
    assert embed.footer.text == "Daily digest for 2026-08-13 · daily at 09:00 (UTC)"
    assert "more" in embed.fields[0].value


def test_latest_lines_and_watch_messages() -> None:
    s = Story(
        3,
        "Mojo is *open* source",
        utc(2026, 8, 17),
        utc(2026, 8, 18),
        (
            article(1, "simonwillison", "simonwillison.net", title="Mojo [is] open"),
            article(2, "ainews", "news.smol.ai", role=RELAY),
        ),
        seq=4,
    )
    line = story_line(s)
    assert line == (
        "`2026-08-18` [Mojo is \\*open\\* source](https://simonwillison.net/post/1)"
        " — simonwillison · 2 sources"
    )
    [payload] = render_story_list([s], topic="mojo", feed=None)
    assert payload.embeds[0].title == "Latest stories about mojo"
    [empty] = render_story_list([], topic=None, feed="deepmind")
    assert "No stories found" in empty.embeds[0].description
    [one] = render_watch("Mojo", [s], "Watch #1")
    assert one.embeds[0].url == "https://simonwillison.net/post/1"
    assert "news.smol.ai/post/2" in one.embeds[0].fields[0].value
    others = [
        Story(i, f"S{i}", utc(2026, 8, i), utc(2026, 8, i), s.articles, seq=i) for i in range(1, 21)
    ]
    [folded] = render_watch("Mojo", others, "Watch #1")
    assert folded.embeds[0].title == "20 new stories matching your watch Mojo"
    assert "and 5 more" in folded.embeds[0].description
