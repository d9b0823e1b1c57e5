"""Feed alerts in the maintainers' channel (NEWSBOT_ALERT_CHANNEL_ID).

After every ingest the bot runs (and every CHECK_MINUTES in between, for ingests run by
another process and for feeds going quiet), the health of the configured feeds
(ingest.health) is compared with what the maintainers were last told (the ledger in the
corpus): a feed that failed NEWSBOT_ALERT_FAILURES runs in a row, or went stale, gets ONE
message with the reason in plain words, since when, and the recorded error; a feed that
recovers gets one message. The ledger is claimed in one SQLite transaction before sending, so a
restart or a second bot process never repeats a message; a failed send is released and tried
again at the next check. Database work runs in worker threads; messages never ping anyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import tasks

from bot.discord.layout import trim
from bot.discord.replies import NO_MENTIONS
from bot.discord.safe_text import escape_markdown, neutralize_mentions
from bot.messages import format_day, format_time, gap_text, reason_text, say
from ingest.feeds import load_feeds
from ingest.health import FAILING, OK
from ingest.models import ConfigError, utcnow
from ingest.store.health import AlertLedger, Notice, health_for

if TYPE_CHECKING:
    from bot.config import DiscordSettings

log = logging.getLogger(__name__)

CHECK_MINUTES = 30.0  # between two checks when no ingest ran in this process
DETAIL_CHARS = 400


def alert_text(notice: Notice, now: datetime) -> str:
    """The message for one change of a feed's health (maintainers only: with the recorded
    error, which may name internal hosts)."""
    h = notice.health
    feed = escape_markdown(trim(h.feed, 80))
    if notice.recovered:
        key = "alert.recovered_failing" if notice.previous == FAILING else "alert.recovered_stale"
        return say(key, feed=feed)
    if h.status == FAILING:
        last = (
            say("alert.last_success", since=format_time(h.since)) if h.since else say("alert.never")
        )
        text = say(
            "alert.failing",
            feed=feed,
            reason=reason_text(h.reason, h.detail),
            last=last,
            n=h.failures,
        )
        detail = neutralize_mentions(trim(" ".join(h.detail.split()), DETAIL_CHARS))
        detail = detail.replace("`", "'")
        return text + "\n" + say("alert.detail", detail=f"`{detail}`")
    assert h.since is not None
    return say(
        "alert.stale",
        feed=feed,
        since=format_day(h.since),
        days=max(1, (now - h.since).days),
        gap=gap_text(h.usual_gap),
    )


class FeedAlerts:
    """Checks feed health and posts the changes; one check at a time in this process."""

    def __init__(
        self,
        client: discord.Client,
        settings: DiscordSettings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """`client`: the Discord connection the alert channel is found through."""
        self.client = client
        self.settings = settings
        self.clock = clock
        self.ledger = AlertLedger(self.settings.db_path)
        self._lock = asyncio.Lock()
        self._pending: set[asyncio.Task[int]] = set()

    @property
    def channel_id(self) -> int | None:
        return self.settings.alert_channel_id

    def start(self) -> None:
        """Periodic checks (also covers ingests by other processes and feeds going quiet)."""
        if self.channel_id is not None and not self.periodic.is_running():
            self.periodic.start()

    async def stop(self) -> None:
        """Cancel the periodic checks and a check still running after the last ingest."""
        running = [t for t in (self.periodic.get_task(), *self._pending) if t is not None]
        self.periodic.cancel()
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def after_ingest(self, report: Any = None) -> None:
        """Called when an ingest finished: check in the background (never blocks the caller)."""
        if self.channel_id is None:
            return
        task = asyncio.create_task(self.check(), name="newsbot-feed-alerts-check")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def idle(self) -> None:
        """Wait for the checks already started (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    @tasks.loop(minutes=CHECK_MINUTES)
    async def periodic(self) -> None:
        try:
            await self.check()
        except Exception:
            log.exception("feed alert check failed")

    @periodic.before_loop
    async def _first_check(self) -> None:
        """The first periodic check one interval after the bot is ready (an ingest this
        process runs checks right after itself)."""
        await self.client.wait_until_ready()
        await asyncio.sleep(CHECK_MINUTES * 60)

    async def check(self) -> int:
        """Post what changed since the last check; returns the number of messages sent."""
        if self.channel_id is None:
            return 0
        async with self._lock:
            channel = await self._channel()
            if channel is None:
                return 0
            now = self.clock()
            notices = await asyncio.to_thread(self._claim, now)
            sent = 0
            for notice in notices:
                try:
                    await channel.send(alert_text(notice, now), allowed_mentions=NO_MENTIONS)
                except discord.HTTPException as e:
                    feed = notice.health.feed
                    log.warning("feed %s: alert not sent (%s); retrying later", feed, e)
                    await asyncio.to_thread(self.ledger.release, notice)
                    continue
                await asyncio.to_thread(self.ledger.done, notice)
                sent += 1
                log.info(
                    "feed %s: told the maintainers it is %s",
                    notice.health.feed,
                    "ok again" if notice.health.announce == OK else notice.health.status,
                )
            return sent

    def _claim(self, now: datetime) -> list[Notice]:
        try:
            names: list[str] | None = [f.name for f in load_feeds(self.settings.feeds) if f.enabled]
        except ConfigError:
            names = None  # a broken feeds file is reported by the ingest; judge every feed
        return self.ledger.claim(health_for(self.settings, now, names), now)

    async def _channel(self) -> discord.abc.Messageable | None:
        cid = self.channel_id
        assert cid is not None
        channel = self.client.get_channel(cid)
        if channel is None:
            try:
                channel = await self.client.fetch_channel(cid)
            except discord.HTTPException as e:
                log.warning("NEWSBOT_ALERT_CHANNEL_ID %s: cannot use that channel (%s)", cid, e)
                return None
        if not isinstance(channel, discord.abc.Messageable):
            log.warning("NEWSBOT_ALERT_CHANNEL_ID %s is not a channel messages can be sent to", cid)
            return None
        return channel
