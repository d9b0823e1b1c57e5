"""Digests and watches through the real bot: `NewsBot` (unmodified discord.py, real sockets)
against the local Discord-compatible server (tests/fakediscord), on a real corpus grouped into
stories by the real ingest, with the real embedding model.

The bot runs in this process (its own thread and event loop, started by `serve` with services
built here) so that the tests can give it a clock: `FakeClock` says what time it is, and the
periodic check waits an hour of real time (NEWSBOT_SUBSCRIPTIONS_TICK_SECONDS), so nothing
happens on a timer during a test; a test sets the time and calls the scheduler's `tick()` (or
the watch check) on the bot's loop. New articles arrive the way they do in production: the
feed file changes and the bot's own ingest job runs (which then runs the watch check).

One bot serves the module (a test restarts it); tests run in file order, along one timeline:
12 Aug 2026 (the corpus), digests on 13, 14 and 16 Aug, interrupted digests on 17 Aug,
watches on 22 Aug, a digest that cannot be checked on 24 Aug."""

from __future__ import annotations

import asyncio
import email.utils
import functools
import json
import re
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import discord
import pytest
from fakediscord import FakeDiscord
from fakediscord.world import make_user

from bot.config import DiscordSettings
from bot.discord.client import NewsBot, configure_endpoints, serve
from bot.discord.services import Services, build_services
from bot.discord.subscription_store import DigestRun

pytestmark = [pytest.mark.discord, pytest.mark.slow]

TOKEN = "MTIzNDU2Nzg5.fake-bot-token.digests"
EPHEMERAL = 1 << 6
JSON = dict[str, Any]
PARIS_FOOTER = "Daily digest for {} · daily at 09:00 (Europe/Paris)"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class FakeClock:
    """The bot's clock in these tests: the time is what the test sets."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def __call__(self) -> datetime:
        return self.current


def rss_until(src: Path, dest: Path, start: datetime, end: datetime) -> Path:
    """A copy of a real RSS feed with only the items published in [start, end] (a feed as it
    was on `end`)."""
    text = src.read_text(encoding="utf-8")

    def keep(m: re.Match[str]) -> str:
        date = re.search(r"<pubDate>([^<]+)</pubDate>", m.group(0))
        when = email.utils.parsedate_to_datetime(date.group(1)) if date else None
        return m.group(0) if when and start <= when <= end else ""

    dest.write_text(re.sub(r"\s*<item>.*?</item>", keep, text, flags=re.S), encoding="utf-8")
    return dest


class BotThread:
    """A NewsBot on its own event loop in a thread, connected to the fake server, with services
    built over the test's engine and clock (the engine stays the test's)."""

    def __init__(self, settings: DiscordSettings, engine: Any, clock: FakeClock) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def build() -> tuple[NewsBot, Services]:
            bot = NewsBot(settings)
            build = functools.partial(build_services, settings, engine, bot, clock=clock)
            return bot, await asyncio.to_thread(build)

        self.bot, self.services = self.run(build())
        self.task = asyncio.run_coroutine_threadsafe(
            serve(self.bot, TOKEN, self.services), self.loop
        )
        self.run(asyncio.wait_for(self.bot.wait_until_ready(), 60))

    def run(self, coro: Any, timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def subs(self) -> Any:
        return self.services.subscriptions

    def tick(self) -> None:
        self.run(self.subs.digests.tick())

    def ingest(self) -> None:
        """The bot's own ingest job (which starts the watch check when it is done)."""
        report = self.run(self.services.jobs.run("Scheduled ingest"), timeout=300)
        assert not report.failed

    def stop(self) -> None:
        self.run(self.bot.close())
        self.task.result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@dataclass
class World:
    server: FakeDiscord
    clock: FakeClock
    root: Path
    settings: DiscordSettings
    engine: Any
    bot: BotThread
    simon: Path  # the feed files of Simon Willison's blog, one per day

    @property
    def news(self) -> str:
        return str(self.server.channels["news"]["id"])

    @property
    def general(self) -> str:
        return str(self.server.channels["general"]["id"])

    def set_simon(self, day: str) -> None:
        shutil.copy(self.simon / f"simonwillison_atom_2026-08-{day}.xml", self.root / "simon.xml")

    def restart(self) -> None:
        self.bot.stop()
        self.bot = BotThread(self.settings, self.engine, self.clock)

    def runs(self, channel: str) -> dict[str, tuple[str, list[int]]]:
        with sqlite3.connect(self.settings.discord_db_path) as db:
            rows = db.execute(
                "SELECT period, state, message_ids FROM digest_runs WHERE channel_id=?",
                (int(channel),),
            ).fetchall()
        return {p: (s, json.loads(m)) for p, s, m in rows}


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, shared_feeds: Path
) -> Iterator[World]:
    from bot.engine import Engine
    from ingest.pipeline import run_ingest

    root, simon = tmp_path_factory.mktemp("subscriptions"), shared_feeds / "publisher"
    shutil.copy(simon / "simonwillison_atom_2026-08-12.xml", root / "simon.xml")
    news = shared_feeds / "generated/olshansk_feed_anthropic_news.xml"
    rss_until(news, root / "anthropic.xml", utc(2026, 7, 1), utc(2026, 8, 12, 23, 59))
    (root / "feeds.toml").write_text(
        f'[[feeds]]\nname = "simonwillison"\nurl = "{root / "simon.xml"}"\ntags = ["blog"]\n\n'
        f'[[feeds]]\nname = "anthropic"\nurl = "{root / "anthropic.xml"}"\ntags = ["lab"]\n',
        encoding="utf-8",
    )
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    with FakeDiscord(token=TOKEN, heartbeat_interval_ms=1000) as server:
        settings = DiscordSettings.load(
            data_dir=root / "data",
            feeds=root / "feeds.toml",
            fetch_backoff=0.05,
            discord_token=TOKEN,
            discord_api_base=server.api_base,
            discord_gateway_url=server.gateway_url,
            guild_ids=[int(server.guild_id)],
            maintainer_role_ids=[int(server.roles["Maintainer"]["id"])],
            sync_commands=True,
            test_guild_id=int(server.guild_id),
            ingest_interval_minutes=0,
            cooldown_seconds=0,
            watch_limit=3,
            watch_max_per_hour=2,
            subscriptions_tick_seconds=3600,  # never during a test: the tests tick
        )
        assert not run_ingest(settings, embedder=embedder).failed
        configure_endpoints(settings)
        engine = Engine(settings, embedder=embedder)
        clock = FakeClock(utc(2026, 8, 12, 12))
        bot = BotThread(settings, engine, clock)
        w = World(server, clock, root, settings, engine, bot, simon)
        try:
            yield w
        finally:
            w.bot.stop()
            engine.close()
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


# ---------------------------------------------------------------------------- helpers
def new_user(server: FakeDiscord, name: str) -> JSON:
    return make_user(server.world.snowflake(), name)


def ephemeral_reply(server: FakeDiscord, iid: str) -> str:
    callback = server.wait_for_callback(iid, timeout=30)
    assert callback["status"] == 200 and callback["type"] == 4, callback
    assert callback["data"]["flags"] & EPHEMERAL
    assert callback["data"].get("allowed_mentions", {}).get("parse") == []
    return str(callback["data"]["content"])


def bot_messages(server: FakeDiscord, channel_id: str) -> list[JSON]:
    return [m for m in server.messages(channel_id) if m["author"]["id"] == server.application_id]


def digests_in(server: FakeDiscord, channel_id: str) -> list[JSON]:
    """The digests the bot posted in a channel (their footer names their period)."""
    return [
        m
        for m in bot_messages(server, channel_id)
        if m["embeds"] and " digest for " in m["embeds"][0].get("footer", {}).get("text", "")
    ]


def field_titles(message: JSON) -> list[str]:
    return [re.sub(r"^\d+\. ", "", f["name"]) for f in message["embeds"][0]["fields"]]


def digest_stories(w: World, message: JSON) -> list[str]:
    return field_titles(message)


# ---------------------------------------------------------------------------- commands
def test_digest_and_watch_commands_are_synced(world: World) -> None:
    commands = {c["name"]: c for c in world.server.commands(world.server.guild_id)}
    assert {"digest", "watch", "latest"} <= set(commands)
    digest = {o["name"]: o for o in commands["digest"]["options"]}
    assert sorted(digest) == ["now", "schedule", "stop"]
    options = {o["name"]: o for o in digest["schedule"]["options"]}
    assert [c["value"] for c in options["cadence"]["choices"]] == ["daily", "weekly"]
    assert (options["hour"]["min_value"], options["hour"]["max_value"]) == (0, 23)
    assert options["timezone"]["autocomplete"] and len(options["weekday"]["choices"]) == 7
    watch = {o["name"]: o for o in commands["watch"]["options"]}
    assert sorted(watch) == ["add", "list", "remove"]
    add = {o["name"]: o for o in watch["add"]["options"]}
    assert add["topic"]["required"] and add["channel"]["type"] == 7  # a channel option


def test_latest_lists_stories_with_source_counts_newest_first(world: World) -> None:
    server = world.server
    iid = server.invoke_slash("latest", {"count": 6}, user=new_user(server, "reader"))
    [embed] = server.wait_for_followup(iid, timeout=30)["message"]["embeds"]
    assert embed["title"] == "Latest stories"
    lines = embed["description"].splitlines()
    assert len(lines) == 6
    pattern = (
        r"^`(\d{4}-\d\d-\d\d)` \[.+\]\(https://[^)]+\) — (simonwillison|anthropic) · \d+ sources?$"
    )
    found = [re.match(pattern, line) for line in lines]
    assert all(found), lines
    days = [m.group(1) for m in found if m]
    assert days == sorted(days, reverse=True) and days[0] == "2026-08-12"
    iid = server.invoke_slash("latest", {"source": "nope"}, user=new_user(server, "r2"))
    text = server.wait_for_followup(iid, timeout=30)["message"]["content"]
    assert text.startswith('There is no feed called "nope"')


def test_digest_is_for_maintainers_and_checks_the_time_zone(world: World) -> None:
    server = world.server
    options = {"cadence": "daily", "hour": 9, "timezone": "Europe/Paris"}
    iid = server.invoke_slash("digest schedule", options, user="user", channel_id=world.news)
    assert "only maintainers" in ephemeral_reply(server, iid)
    bad = {**options, "timezone": "Mars/Olympus"}
    iid = server.invoke_slash("digest schedule", bad, user="maintainer", channel_id=world.news)
    assert ephemeral_reply(server, iid) == (
        "'Mars/Olympus' is not a time zone I know. Use an IANA name such as Europe/Paris, "
        "America/New_York, Asia/Jakarta or UTC."
    )
    iid = server.invoke_autocomplete(
        "digest schedule", {**options, "timezone": "paris"}, focused="timezone", user="maintainer"
    )
    assert server.wait_for_callback(iid)["data"]["choices"][0]["value"] == "Europe/Paris"
    assert world.bot.run(asyncio.to_thread(world.bot.subs.store.schedules)) == []


# ---------------------------------------------------------------------------- digests
def test_scheduled_digest_is_posted_once_per_period_with_links(world: World) -> None:
    server, clock = world.server, world.clock
    options = {"cadence": "daily", "hour": 9, "timezone": "Europe/Paris"}
    iid = server.invoke_slash("digest schedule", options, user="maintainer", channel_id=world.news)
    reply = ephemeral_reply(server, iid)
    first = int(utc(2026, 8, 13, 7).timestamp())  # 09:00 in Paris (CEST)
    assert reply.startswith("This channel gets a digest daily at 09:00 (Europe/Paris)")
    assert f"<t:{first}:F>" in reply
    world.bot.tick()
    assert digests_in(server, world.news) == []  # not before the first 09:00
    clock.current = utc(2026, 8, 13, 7, 30)
    world.bot.tick()
    [message] = digests_in(server, world.news)
    [embed] = message["embeds"]
    assert embed["title"] == "Top stories of the day"
    assert embed["footer"]["text"] == PARIS_FOOTER.format("2026-08-13")
    assert embed["description"].startswith("New since 2026-08-12 09:30 until 2026-08-13 09:30")
    assert 1 <= len(embed["fields"]) <= 10
    for f in embed["fields"]:
        assert re.match(r"^\d+ sources? · 2026-08-1[12]\n\[[^\]]+\]\(https://", f["value"]), f
    assert server.allowed_mentions(message["id"])["parse"] == []
    world.bot.tick()
    world.bot.tick()
    assert len(digests_in(server, world.news)) == 1  # once per period
    assert world.runs(world.news)["2026-08-13"] == ("sent", [int(message["id"])])


def test_a_period_with_nothing_new_is_skipped(world: World) -> None:
    world.clock.current = utc(2026, 8, 14, 7, 30)
    world.bot.tick()
    assert len(digests_in(world.server, world.news)) == 1
    assert world.runs(world.news)["2026-08-14"][0] == "skipped"


def test_preview_and_next_digest_hold_only_the_new_stories(world: World) -> None:
    server, clock = world.server, world.clock
    [first] = digests_in(server, world.news)
    world.set_simon("16")  # four days of new posts arrive
    clock.current = utc(2026, 8, 16, 7, 30)
    world.bot.ingest()
    iid = server.invoke_slash("digest now", {}, user="maintainer", channel_id=world.news)
    assert server.wait_for_callback(iid)["data"]["flags"] & EPHEMERAL
    preview = server.wait_for_followup(iid, timeout=60)["message"]
    assert preview["flags"] & EPHEMERAL and preview["embeds"][0]["fields"]
    assert len(digests_in(server, world.news)) == 1  # a preview posts nothing
    world.bot.tick()
    second = digests_in(server, world.news)[-1]
    assert second["embeds"][0]["footer"]["text"] == PARIS_FOOTER.format("2026-08-16")
    assert field_titles(second) == field_titles(preview)
    assert not set(field_titles(second)) & set(field_titles(first))
    assert "CORS Chat" in field_titles(second)  # posted on 15 August
    assert "Quoting Dario Amodei" not in field_titles(second)  # later on 16 August


def test_a_claim_left_by_a_crash_before_sending_is_sent_once(world: World) -> None:
    server, clock = world.server, world.clock
    options = {"cadence": "daily", "hour": 9, "timezone": "Europe/Paris"}
    iid = server.invoke_slash(
        "digest schedule", options, user="maintainer", channel_id=world.general
    )
    assert "This channel gets a digest" in ephemeral_reply(server, iid)
    clock.current = utc(2026, 8, 17, 7, 30)
    after = discord.utils.time_snowflake(datetime.now(UTC) - timedelta(minutes=1))
    crashed = DigestRun(
        int(world.general),
        "2026-08-17",
        "sending",
        clock.current,
        clock.current,
        clock.current,
        0,
        marker=PARIS_FOOTER.format("2026-08-17"),
        after_id=after,
    )  # what a process that died right after claiming left behind
    assert world.bot.run(asyncio.to_thread(world.bot.subs.store.claim_digest, crashed))
    world.bot.tick()
    [digest] = digests_in(server, world.general)
    assert digest["embeds"][0]["footer"]["text"] == PARIS_FOOTER.format("2026-08-17")
    assert world.runs(world.general)["2026-08-17"] == ("sent", [int(digest["id"])])
    assert world.runs(world.news)["2026-08-17"][0] == "skipped"


# ---------------------------------------------------------------------------- watches
def watch(server: FakeDiscord, user: Any, topic: str, **options: Any) -> str:
    iid = server.invoke_slash("watch add", {"topic": topic, **options}, user=user)
    return ephemeral_reply(server, iid)


def test_watches_are_added_bounded_and_listed(world: World) -> None:
    server = world.server
    world.clock.current = utc(2026, 8, 22, 12)
    alice = new_user(server, "alice")
    assert watch(server, alice, "Qwen").startswith(
        "Watching **Qwen** for you: I'll send you a direct message for each new matching story"
    )
    assert watch(server, alice, "qwen") == "You already watch **qwen**."
    assert watch(server, alice, "robotics").startswith("Watching **robotics**")
    assert watch(server, alice, "quantum chips").startswith("Watching")
    assert watch(server, alice, "one too many") == (
        "You already have 3 watches, the most allowed. Remove one with `/watch remove` first."
    )
    assert "no words I can match" in watch(server, alice, "the and of")
    assert "only maintainers" in watch(server, "user", "LLM", channel="news")
    reply = watch(server, "maintainer", "LLM", channel="news")
    assert reply.startswith(f"Watching **LLM** for <#{world.news}>: each new matching story")
    closed = new_user(server, "closed-dms")
    server.close_dms(closed)
    watch(server, closed, "Qwen")
    iid = server.invoke_slash("watch list", {}, user=alice, channel_id=world.general)
    lines = ephemeral_reply(server, iid).splitlines()
    assert [re.sub(r"^#\d+ ", "", ln) for ln in lines] == [
        "**Qwen** — by direct message",
        "**robotics** — by direct message",
        "**quantum chips** — by direct message",
    ]


def test_new_stories_reach_their_watchers_once_within_the_rate_limit(world: World) -> None:
    server = world.server
    alice = next(u for u in server.world.seen.values() if u["username"] == "alice")
    closed = next(u for u in server.world.seen.values() if u["username"] == "closed-dms")
    before_news = len(bot_messages(server, world.news))
    since = server.mark()
    world.set_simon("22")
    world.bot.ingest()  # the watch check runs after it, in the background
    dm = server.dm_channel_id(alice)
    message = server.wait_for_message(dm, timeout=60, since=since)
    [embed] = message["embeds"]
    assert embed["title"].startswith("Qwen 3.8 27B")
    assert embed["description"].startswith("New story matching your watch **Qwen** · ")
    assert (
        embed["fields"][0]["name"] == "Sources"
        and "simonwillison.net" in embed["fields"][0]["value"]
    )
    assert server.allowed_mentions(message["id"])["parse"] == []
    world.bot.run(world.bot.subs.watches.check())  # let the background check finish
    assert [m["id"] for m in bot_messages(server, dm)] == [message["id"]]  # robotics: nothing
    posted = bot_messages(server, world.news)[before_news:]
    store = world.bot.subs.store
    [llm] = [w for w in world.bot.run(asyncio.to_thread(store.watches)) if w.topic == "LLM"]
    states = world.bot.run(asyncio.to_thread(store.hit_states, llm.id))
    assert len(states) >= 3 and set(states.values()) == {"sent"}  # llm 0.32.1, llm-openrouter…
    assert len(posted) == 2  # at most 2 messages an hour: the second holds the rest
    assert posted[0]["embeds"][0]["description"].startswith("New story matching your watch **LLM**")
    folded = posted[1]["embeds"][0]
    assert folded["title"] == f"{len(states) - 1} new stories matching your watch LLM"
    assert len(folded["description"].splitlines()) == len(states) - 1
    world.bot.run(world.bot.subs.watches.check())
    assert len(bot_messages(server, world.news)) == before_news + 2  # told once per story
    iid = server.invoke_slash("watch list", {}, user=closed)
    assert "I couldn't send you a direct message" in ephemeral_reply(server, iid)


def test_watch_remove_autocompletes_own_watches(world: World) -> None:
    server = world.server
    alice = next(u for u in server.world.seen.values() if u["username"] == "alice")
    iid = server.invoke_autocomplete("watch remove", {"watch": "qw"}, focused="watch", user=alice)
    [choice] = server.wait_for_callback(iid)["data"]["choices"]
    assert re.match(r"^#\d+ Qwen \(DM\)$", choice["name"])
    iid = server.invoke_slash("watch remove", {"watch": choice["value"]}, user=alice)
    assert ephemeral_reply(server, iid) == "Stopped watching **Qwen**."
    iid = server.invoke_slash("watch remove", {"watch": "LLM"}, user="user", channel_id=world.news)
    assert "only maintainers" in ephemeral_reply(server, iid)
    iid = server.invoke_slash("watch list", {}, user=alice)
    assert "Qwen" not in ephemeral_reply(server, iid)


# ---------------------------------------------------------------------------- restarts
def test_a_digest_sent_but_not_recorded_is_not_sent_again_after_a_restart(world: World) -> None:
    server, store = world.server, world.bot.subs.store
    before = len(digests_in(server, world.news))
    world.clock.current = utc(2026, 8, 23, 7, 30)

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the process died here")

    store.finish_digest = crash  # the message goes out, then nothing is recorded
    world.bot.tick()
    assert len(digests_in(server, world.news)) == before + 1
    assert world.runs(world.news)["2026-08-23"] == ("sending", [])
    world.restart()  # a new process: the claim is still there
    world.bot.tick()
    posted = digests_in(server, world.news)
    assert len(posted) == before + 1
    assert world.runs(world.news)["2026-08-23"] == ("sent", [int(posted[-1]["id"])])
    assert world.bot.run(asyncio.to_thread(world.bot.subs.store.schedules))  # still scheduled


def test_a_claim_that_cannot_be_checked_is_never_resent(world: World) -> None:
    server, clock = world.server, world.clock
    clock.current = utc(2026, 8, 24, 7, 30)
    after = discord.utils.time_snowflake(datetime.now(UTC) - timedelta(minutes=1))
    crashed = DigestRun(
        int(world.news),
        "2026-08-24",
        "sending",
        clock.current,
        clock.current,
        clock.current,
        0,
        marker=PARIS_FOOTER.format("2026-08-24"),
        after_id=after,
    )
    assert world.bot.run(asyncio.to_thread(world.bot.subs.store.claim_digest, crashed))
    before = len(digests_in(server, world.news))
    # the bot can no longer read the channel back (a moderator took its access meanwhile)
    server.fail_requests("GET", rf"/channels/{world.news}/messages$", 403, 50001, "Missing Access")
    world.bot.tick()
    world.bot.tick()
    assert len(digests_in(server, world.news)) == before
    assert world.runs(world.news)["2026-08-24"][0] == "unknown"


def test_digest_stop(world: World) -> None:
    server = world.server
    iid = server.invoke_slash("digest stop", {}, user="maintainer", channel_id=world.news)
    assert ephemeral_reply(server, iid) == "Stopped: no more digests in this channel."
    iid = server.invoke_slash("digest stop", {}, user="maintainer", channel_id=world.news)
    assert ephemeral_reply(server, iid) == "There is no digest scheduled in this channel."
    world.clock.current = utc(2026, 8, 25, 7, 30)
    before = len(digests_in(server, world.news))
    world.bot.tick()
    assert len(digests_in(server, world.news)) == before
