"""Channel digests: the scheduler that posts them (the `/digest` commands that set them up are in
bot.discord.subscription_commands).

The scheduler's `tick()` (every NEWSBOT_SUBSCRIPTIONS_TICK_SECONDS, reading the bot's clock;
tests call it with their own clock) posts, for every schedule whose occurrence has come
(bot.stories.schedule.due_period), one digest per period: the top stories since the channel's
previous digest, in one embed. A period with nothing new is recorded as skipped and posts
nothing.

Never twice for a period, also after a crash: the period is claimed in the subscription store
(bot.discord.subscription_store: one INSERT, unique on channel + period) before anything is
sent, and the message ids are recorded after. A claim left `sending` (the process died, or
Discord's answer was lost) is settled against the channel's history at the next tick or start:
the digest's footer names its period, so if it is there the claim becomes `sent`; if the history
provably lacks it the claim is released and the period sent; if the history cannot be read the
claim becomes `unknown` and is never resent. So digests are at most once: a duplicate in a
community channel is worse than a missed digest, which `/digest now` shows anyway. Each message
also carries a nonce Discord enforces for a few minutes, so a resend right after a lost answer
returns the first message instead of posting a second.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import discord

from bot.discord.layout import Payload
from bot.discord.render_stories import digest_period_text, render_digest
from bot.discord.replies import NO_MENTIONS
from bot.discord.subscription_store import DigestRun
from bot.stories.schedule import DigestSchedule, due_period, select_digest
from ingest.store.stories import Story

if TYPE_CHECKING:
    from bot.discord.access import Access
    from bot.discord.subscription_store import SubscriptionStore
    from bot.engine import Engine

log = logging.getLogger(__name__)

CANDIDATES = 1000  # stories read to choose a digest from
HISTORY_SCAN = 500  # channel messages read back to settle an interrupted digest


@dataclass(frozen=True)
class DigestPlan:
    """What a channel's next digest holds, and where its window starts and ends."""

    schedule: DigestSchedule
    since: datetime
    until: datetime
    seq: int  # the story sequence when it was planned (the next digest starts after it)
    stories: list[Story]


def _marker(schedule: DigestSchedule, period: str) -> str:
    """The footer naming a digest's period: how the bot finds it again after a crash."""
    kind = "Weekly" if schedule.cadence == "weekly" else "Daily"
    return f"{kind} digest for {period} · {schedule.describe()}"


def _nonce(channel_id: int, period: str, index: int) -> str:
    return hashlib.sha1(f"{channel_id}:{period}:{index}".encode()).hexdigest()[:25]


class DigestService:
    """Plans, sends and records digests. Blocking work goes to worker threads."""

    def __init__(
        self,
        client: discord.Client,
        engine: Engine,
        store: SubscriptionStore,
        access: Access,
        clock: Callable[[], datetime],
        stories: int,
    ) -> None:
        """`access`: which servers are served (a schedule elsewhere waits); `stories`: at most
        this many in one digest (NEWSBOT_DIGEST_STORIES)."""
        self.client, self.engine, self.store, self.access = client, engine, store, access
        self.clock, self.stories = clock, stories
        self._lock = asyncio.Lock()  # one tick at a time

    # ------------------------------------------------------------------ planning
    def plan(self, schedule: DigestSchedule, now: datetime) -> DigestPlan:
        """Blocking: the stories of the channel's next digest (bot.stories.schedule)."""
        last = self.store.last_digest(schedule.channel_id)
        since = last.until if last else now - schedule.period
        seq = self.engine.story_watermark()
        candidates = self.engine.stories(
            since=since - schedule.period, until=now + timedelta(seconds=1), limit=CANDIDATES
        )
        stories = select_digest(
            candidates,
            since=since,
            now=now,
            after_seq=last.seq if last else 0,
            already_listed=self.store.listed_story_ids(schedule.channel_id),
            limit=self.stories,
            period=schedule.period,
        )
        return DigestPlan(schedule, since, now, seq, stories)

    def render(self, plan: DigestPlan, period: str) -> list[Payload]:
        s = plan.schedule
        heading = "Top stories of the week" if s.cadence == "weekly" else "Top stories of the day"
        return render_digest(
            plan.stories,
            heading=heading,
            period=digest_period_text(plan.since, plan.until, s.tz),
            footer=_marker(s, period),
        )

    async def preview(self, schedule: DigestSchedule) -> tuple[DigestPlan, list[Payload]]:
        now = self.clock()
        plan = await asyncio.to_thread(self.plan, schedule, now)
        return plan, self.render(plan, "preview")

    # ------------------------------------------------------------------ the tick
    async def tick(self) -> None:
        """Post every digest that is due (see the module doc). One channel's failure is
        logged and does not stop the others."""
        async with self._lock:
            now = self.clock()
            await self.settle()
            for schedule in await asyncio.to_thread(self.store.schedules):
                due = due_period(schedule, now)
                if due is None or not self.access.serves(schedule.guild_id):
                    continue
                period = due[0]
                if await asyncio.to_thread(self.store.digest_run, schedule.channel_id, period):
                    continue
                try:
                    await self.post(schedule, period, now)
                except Exception:
                    log.exception("digest for channel %s (%s) failed", schedule.channel_id, period)

    async def post(self, schedule: DigestSchedule, period: str, now: datetime) -> str:
        """Claim the period, then send the digest (or record it skipped); returns the state."""
        plan = await asyncio.to_thread(self.plan, schedule, now)
        run = DigestRun(
            channel_id=schedule.channel_id,
            period=period,
            state="sending" if plan.stories else "skipped",
            claimed=now,
            since=plan.since,
            until=plan.until,
            seq=plan.seq,
            story_ids=tuple(s.id for s in plan.stories),
            marker=_marker(schedule, period),
            after_id=discord.utils.time_snowflake(datetime.now(UTC) - timedelta(minutes=5)),
        )
        if not await asyncio.to_thread(self.store.claim_digest, run):
            return "claimed already"
        if not plan.stories:
            log.info("digest for channel %s (%s): nothing new, skipped", run.channel_id, period)
            return "skipped"
        return await self._send(run, self.render(plan, period))

    async def _send(self, run: DigestRun, payloads: list[Payload]) -> str:
        state, error = "sending", None
        ids: list[int] = []
        try:
            channel = await self._channel(run.channel_id)
            if channel is None:
                raise ChannelGone("not a channel the bot can post in")
            for i, payload in enumerate(payloads):
                message = await channel.send(
                    payload.content or None,
                    embeds=payload.embeds,
                    allowed_mentions=NO_MENTIONS,
                    nonce=_nonce(run.channel_id, run.period, i),
                )
                ids.append(message.id)
            state = "sent"
        except (discord.Forbidden, discord.NotFound, ChannelGone) as e:  # nothing was posted
            state, error = "failed", f"{type(e).__name__}: {e}"
            log.warning("digest for channel %s (%s) not posted: %s", run.channel_id, run.period, e)
            if not isinstance(e, discord.Forbidden):  # the channel is gone: so is its schedule
                await asyncio.to_thread(self.store.remove_schedule, run.channel_id)
        except (TimeoutError, discord.HTTPException, OSError) as e:
            log.warning(
                "digest for channel %s (%s): outcome unknown (%s); settled at the next tick",
                run.channel_id,
                run.period,
                e,
            )
            return "sending"
        await asyncio.to_thread(
            self.store.finish_digest, run.channel_id, run.period, state, ids, error
        )
        log.info(
            "digest for channel %s (%s): %s, %d stories",
            run.channel_id,
            run.period,
            state,
            len(run.story_ids),
        )
        return state

    async def _channel(self, channel_id: int) -> discord.TextChannel | None:
        channel = self.client.get_channel(channel_id)
        if channel is None:
            channel = await self.client.fetch_channel(channel_id)
        return channel if isinstance(channel, discord.TextChannel) else None

    # ------------------------------------------------------------------ crash recovery
    async def settle(self) -> None:
        """Settle the claims left `sending` (see the module doc)."""
        for run in await asyncio.to_thread(self.store.unsettled_digests):
            key, error = (run.channel_id, run.period), None
            try:
                found = await self._find_sent(run)
            except (TimeoutError, discord.HTTPException, OSError) as e:
                found, error = None, f"cannot read the channel back: {e}"
            if found:  # it was sent: record it
                state = "sent"
                await asyncio.to_thread(self.store.finish_digest, *key, state, found)
            elif found is None:  # unsure: never risk a second digest
                state = "unknown"
                await asyncio.to_thread(self.store.finish_digest, *key, state, (), error)
            else:  # provably not sent: the tick may send it
                state = "released"
                await asyncio.to_thread(self.store.release_digest, *key)
            log.info("digest %s/%s after an interruption: %s %s", *key, state, error or "")

    async def _find_sent(self, run: DigestRun) -> list[int] | None:
        """The ids of the digest's messages in the channel ([] if provably absent, None when
        more history came after it than is read back)."""
        channel = await self._channel(run.channel_id)
        if channel is None:
            return []  # nothing can be in a channel that is gone
        guild = getattr(channel, "guild", None)
        if guild is not None and not channel.permissions_for(guild.me).read_message_history:
            return None  # Discord then returns an empty history, which would prove nothing
        me = self.client.user.id if self.client.user else 0
        seen = 0
        after = discord.Object(id=run.after_id)
        async for message in channel.history(limit=HISTORY_SCAN, after=after):
            seen += 1
            footer = message.embeds[0].footer.text if message.embeds else None
            if message.author.id == me and footer == run.marker:
                return [message.id]
        return [] if seen < HISTORY_SCAN else None


class ChannelGone(Exception):
    """The digest's channel no longer exists or is not a text channel."""
