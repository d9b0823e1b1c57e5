"""Feed alerts and answers about failing feeds through the real bot (NewsBot with the
unmodified discord.py client, over real sockets) against the local Discord-compatible server
(tests/fakediscord), on a real corpus (real embedding model) fed by a real HTTP feed server.

The bot runs in this process, in its own event-loop thread, so the test holds its clock (the
alerts' `clock`) and runs "Scheduled ingest" jobs itself, exactly as the schedule does, instead
of sleeping until one is due. A restart is a new NewsBot over the same corpus.

Tests run in file order and share one corpus and feed server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, TypeVar

import discord
import pytest
from fakediscord import FakeDiscord
from feedserver import FeedServer, Reply

from bot.config import DiscordSettings as Settings
from bot.discord.alerts import FeedAlerts
from bot.discord.client import NewsBot, configure_endpoints, serve
from bot.discord.services import Services, build_services

pytestmark = [pytest.mark.discord, pytest.mark.slow]  # real bot, real model

T = TypeVar("T")
TOKEN = "MTIzNDU2Nzg5.fake-bot-token.SECRET-alerts"
EPHEMERAL = 1 << 6
FIRST = datetime(2026, 3, 1, 9, tzinfo=UTC)  # the feed posts daily from here, 8 posts
POSTS = 8
TOPICS = ["a robotics model", "a speech model", "a coding agent", "a safety report",
          "an image model", "a math benchmark", "a video model", "a translation model"]  # fmt: skip


def feed_xml() -> bytes:
    items = []
    for i, topic in enumerate(TOPICS[:POSTS]):
        when = format_datetime(FIRST + timedelta(days=i))
        items.append(
            f"<item><title>Lumen Labs releases {topic}</title>"
            f"<link>https://lumen.example/posts/{i}</link><pubDate>{when}</pubDate>"
            f"<description>Lumen Labs announced {topic} called Lumen-{i}, available to "
            f"researchers this week with an open license.</description></item>"
        )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Lumen Labs</title>'
        "<link>https://lumen.example/</link><description>News</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class RunningBot:
    """A NewsBot connected to the fake server, driven from the test thread."""

    def __init__(self, settings: Settings, engine: Any, clock: Clock) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def build() -> tuple[NewsBot, Services]:
            bot = NewsBot(settings)
            alerts = FeedAlerts(bot, settings, clock)  # the test holds the alerts' clock
            services = await asyncio.to_thread(build_services, settings, engine, bot, alerts=alerts)
            return bot, services

        self.bot, self.services = self.run(build())
        started = serve(self.bot, TOKEN, self.services)  # the engine stays the test's
        self.started = asyncio.run_coroutine_threadsafe(started, self.loop)
        self.run(self.bot.wait_until_ready(), timeout=60)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def scheduled_ingest(self) -> Any:
        """One turn of the schedule: the ingest job, then the alert check it starts."""

        async def turn() -> Any:
            report = await self.services.jobs.run("Scheduled ingest")
            await self.services.alerts.idle()
            return report

        return self.run(turn())

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.run(self.bot.close())
        self.started.result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.serve("/lumen.xml", feed_xml(), "application/rss+xml")
        yield server


@pytest.fixture(scope="module")
def server() -> Iterator[FakeDiscord]:
    with FakeDiscord(token=TOKEN, heartbeat_interval_ms=1000) as fake:
        yield fake


@pytest.fixture(scope="module")
def settings(
    tmp_path_factory: pytest.TempPathFactory, feeds: FeedServer, server: FakeDiscord
) -> Iterator[Settings]:
    root = tmp_path_factory.mktemp("alerts")
    toml = root / "feeds.toml"
    toml.write_text(f'[[feeds]]\nname = "lumen"\nurl = "{feeds.url("/lumen.xml")}"\n')
    s = Settings.load(
        data_dir=root / "data",
        feeds=toml,
        fetch_backoff=0.05,
        fetch_retries=0,
        alert_channel_id=int(server.channels["news"]["id"]),
        guild_ids=[int(server.guild_id)],
        maintainer_user_ids=[int(server.users["maintainer"]["id"])],
        sync_commands=True,
        test_guild_id=int(server.guild_id),
        ingest_interval_minutes=0,
        cooldown_seconds=0,
        NEWSBOT_DISCORD_API_BASE=server.api_base,
        NEWSBOT_DISCORD_GATEWAY_URL=server.gateway_url,
    )
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    configure_endpoints(s)
    yield s
    discord.http.Route.BASE = base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway


@pytest.fixture(scope="module")
def engine(settings: Settings, embedder: Any) -> Iterator[Any]:
    from bot.engine import Engine

    eng = Engine(settings, embedder)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(FIRST + timedelta(days=POSTS))  # the day after the last post


@pytest.fixture(scope="module")
def bot(settings: Settings, engine: Any, clock: Clock) -> Iterator[RunningBot]:
    running = RunningBot(settings, engine, clock)
    yield running
    running.close()


def alerts(server: FakeDiscord) -> list[dict[str, Any]]:
    return server.messages(server.channels["news"]["id"])


def followups(server: FakeDiscord, iid: str | None = None) -> list[dict[str, Any]]:
    with server.lock:
        return [r for r in server.records if r["kind"] == "followup"
                and r["status"] < 300 and iid in (None, r["interaction_id"])]  # fmt: skip


def sources_text(server: FakeDiscord) -> str:
    iid = server.invoke_slash("sources", {}, user="user")
    [embed] = server.wait_for_followup(iid, timeout=20)["message"]["embeds"]
    return embed["description"]


# ---------------------------------------------------------------------------- tests
def test_a_healthy_feed_is_not_alerted(server: FakeDiscord, bot: RunningBot) -> None:
    report = bot.scheduled_ingest()
    assert not report.failed and report.embedded_articles == POSTS
    assert alerts(server) == []
    assert "✅ **lumen** — 8 articles · last success" in sources_text(server)


def test_failing_n_runs_sends_exactly_one_alert(
    server: FakeDiscord, bot: RunningBot, feeds: FeedServer
) -> None:
    feeds.route("/lumen.xml", Reply(500, b"oops"))
    for _ in range(2):
        assert bot.scheduled_ingest().failed
    assert alerts(server) == []  # two failures: not yet (NEWSBOT_ALERT_FAILURES=3)
    listed = sources_text(server)  # but /sources shows it, in plain words only
    assert "⚠️ **lumen**" in listed and "the site had a server error (HTTP 500)" in listed
    assert "Internal Server Error" not in listed and "attempt" not in listed
    assert [f for f in followups(server) if f["message"]["flags"] & EPHEMERAL] == []
    # a maintainer also gets the recorded errors, only for their eyes
    iid = server.invoke_slash("sources", {}, user="maintainer")
    server.wait_for_followup(iid, lambda m: bool(m["flags"] & EPHEMERAL), timeout=20)
    [public, private] = [f["message"] for f in followups(server, iid)]
    assert "Internal Server Error" not in public["embeds"][0]["description"]
    assert not public["flags"] & EPHEMERAL
    assert "**lumen**: `HTTP 500 Internal Server Error" in private["embeds"][0]["description"]
    for _ in range(3):
        bot.scheduled_ingest()
    [alert] = alerts(server)
    text = alert["content"]
    assert text.startswith("⚠️ Feed **lumen** is failing: the site had a server error (HTTP 500).")
    assert "Last successful fetch" in text and "3 failed runs in a row" in text
    assert "Error: `HTTP 500 Internal Server Error" in text  # the detail, for maintainers
    assert server.allowed_mentions(alert["id"])["parse"] == []
    assert alert["mentions"] == [] and not alert["mention_everyone"]


def test_a_failing_feed_is_never_shown_as_no_news(server: FakeDiscord, bot: RunningBot) -> None:
    iid = server.invoke_slash("latest", {"source": "lumen"}, user="user")
    [embed] = server.wait_for_followup(iid, timeout=20)["message"]["embeds"]
    lines = embed["description"].splitlines()
    assert lines[0].startswith("⚠️ lumen has been failing since ")
    assert "the site had a server error (HTTP 500)" in lines[0]
    assert lines[1] == "Showing the older articles I have from it."
    assert any("Lumen Labs releases" in line for line in lines[2:])

    iid = server.invoke_slash(
        "ask", {"question": "what did Lumen Labs release?", "source": "lumen"}, user="admin"
    )
    [embed] = server.wait_for_followup(iid, timeout=60)["message"]["embeds"]
    assert "lumen has been failing since" in embed["description"]
    iid = server.invoke_slash(
        "ask", {"question": "apa yang dirilis Lumen Labs?", "source": "lumen"}, user="owner"
    )
    [embed] = server.wait_for_followup(iid, timeout=60)["message"]["embeds"]
    assert "lumen gagal diambil sejak" in embed["description"]  # in the asker's language
    assert "situsnya mengalami galat server (HTTP 500)" in embed["description"]


def test_a_restart_does_not_repeat_the_alert(
    server: FakeDiscord, bot: RunningBot, settings: Settings, engine: Any, clock: Clock
) -> None:
    bot.close()
    again = RunningBot(settings, engine, clock)
    try:
        again.scheduled_ingest()
        assert again.run(again.services.alerts.check()) == 0
        assert len(alerts(server)) == 1
    finally:
        again.close()


def test_recovery_is_one_message_and_staleness_follows_the_clock(
    server: FakeDiscord, settings: Settings, engine: Any, clock: Clock, feeds: FeedServer
) -> None:
    feeds.serve("/lumen.xml", feed_xml(), "application/rss+xml")
    running = RunningBot(settings, engine, clock)
    try:
        for _ in range(2):
            running.scheduled_ingest()
        first, recovered = alerts(server)
        assert recovered["content"] == (
            "✅ Feed **lumen** has recovered: fetched successfully again."
        )
        # the feed posted daily; 20 days without a post is stale (more than 14 days)
        clock.now = FIRST + timedelta(days=POSTS - 1 + 20)
        running.scheduled_ingest()
        assert running.run(running.services.alerts.check()) == 0
        stale = alerts(server)[-1]["content"]
        assert len(alerts(server)) == 3
        assert stale == (
            "⚠️ Feed **lumen** has published nothing new since Mar 8, 2026 (20 days; it usually "
            "posts every 24 hours)."
        )
    finally:
        running.close()
    restarted = RunningBot(settings, engine, clock)
    try:
        restarted.scheduled_ingest()
        assert len(alerts(server)) == 3  # not twice, also after a restart
    finally:
        restarted.close()
