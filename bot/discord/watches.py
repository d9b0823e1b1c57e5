"""Watches: the check that tells watchers about new stories (the `/watch` commands are in
bot.discord.subscription_commands).

`/watch add <topic>` watches for yourself (delivered by DM); with `channel:` a maintainer
watches for a channel (posted there). After every ingest of the bot (and every
NEWSBOT_SUBSCRIPTIONS_TICK_SECONDS, for ingests another process ran) `WatchService.check()`
reads the stories created since its watermark (Engine.stories_changed_after), matches them to
every watch by meaning (bot.stories.watch_match, through the engine's lock) and stores each (watch,
story) pair once, pending; then it delivers: one message per story with its sources, at most
`NEWSBOT_WATCH_MAX_PER_HOUR` messages per watch and hour; what is over the limit waits and is
folded into one message when the next one may go.
A story is told once per watch, however many articles it gains; delivery is at most once
(bot.discord.subscription_store). Engine work runs in worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord
import numpy as np

from bot.discord.digests import ChannelGone
from bot.discord.model_watches import ModelWatchCheck, watched_family
from bot.discord.render_stories import render_watch
from bot.discord.replies import send_to_channel
from bot.discord.subscription_store import Watch
from bot.stories.watch_match import match_story
from ingest.store.stories import Story

if TYPE_CHECKING:
    from bot.discord.access import Access
    from bot.discord.subscription_store import SubscriptionStore
    from bot.engine import Engine

log = logging.getLogger(__name__)

WATERMARK = "watch_seq"  # meta key: the last story sequence number checked
BATCH = 200  # stories read per round
MAX_AGE = timedelta(days=7)  # a "new" story has news from the last week (not a feed's backlog)
RunEngine = Callable[..., Awaitable[Any]]


class WatchService:
    """Matches new stories to watches and delivers the notifications."""

    def __init__(
        self,
        client: discord.Client,
        engine: Engine,
        store: SubscriptionStore,
        access: Access,
        clock: Callable[[], datetime],
        max_per_hour: int,
        run_engine: RunEngine,
        models: ModelWatchCheck | None = None,
    ) -> None:
        """`access`: which servers are served (a watch elsewhere waits); `max_per_hour`:
        messages per watch and hour (NEWSBOT_WATCH_MAX_PER_HOUR); `run_engine`: the bot's
        pool for blocking engine work (bot.discord.services.EngineCalls); `models`: the
        watches on a family's versions, checked with the others."""
        self.client, self.engine, self.store, self.access = client, engine, store, access
        self.clock, self.max_per_hour, self.run_engine = clock, max_per_hour, run_engine
        self._lock = asyncio.Lock()  # one check at a time (after an ingest and every tick)
        self._topics: dict[str, np.ndarray] = {}
        self.models = models

    def start_watermark(self) -> None:
        """Blocking, at start: watches begin with the stories of now (never the backlog)."""
        if self.store.get_meta(WATERMARK) is None:
            self.store.set_meta(WATERMARK, str(self.engine.story_watermark()))

    async def check(self) -> None:
        """Match the stories created since the last check, then deliver what is pending."""
        async with self._lock:
            now = self.clock()
            await self._match_new(now)
            await self._deliver(now)
            if self.models is not None:
                await self.models.check(self._target)

    # ------------------------------------------------------------------ matching
    async def _match_new(self, now: datetime) -> None:
        mark = await asyncio.to_thread(self.store.get_meta, WATERMARK)
        if mark is None:  # the first check ever: start from now, not from the whole corpus
            current = await asyncio.to_thread(self.engine.story_watermark)
            await asyncio.to_thread(self.store.set_meta, WATERMARK, str(current))
            return
        watermark = int(mark)
        while True:
            stories = await asyncio.to_thread(self.engine.stories_changed_after, watermark, BATCH)
            if not stories:
                return
            watches = await asyncio.to_thread(self.store.watches)
            if watches:
                hits = await self.run_engine(self.match, watches, stories, now)
                for watch_id, scores in hits.items():
                    added = await asyncio.to_thread(self.store.add_hits, watch_id, scores, now)
                    if added:
                        log.info("watch %s: %d new matching stories", watch_id, added)
            watermark = max(s.seq for s in stories)
            await asyncio.to_thread(self.store.set_meta, WATERMARK, str(watermark))

    def match(
        self, watches: Sequence[Watch], stories: Sequence[Story], now: datetime
    ) -> dict[int, dict[int, float]]:
        """Blocking (model, vector store): {watch id: {story id: similarity}} of the matches
        among new stories (created after the watch, with news from the last week)."""
        fresh = [s for s in stories if s.last_updated >= now - MAX_AGE]
        if not fresh:
            return {}
        texts, vectors, capitalized = self.engine.watch_inputs(fresh)
        out: dict[int, dict[int, float]] = {}
        for watch in watches:
            if watched_family(watch.topic):
                continue  # a watch on a family's versions (bot.discord.model_watches)
            vector = self._topics.get(watch.topic)
            if vector is None:
                vector = self._topics[watch.topic] = self.engine.embed_topic(watch.topic)
            for story, text in zip(fresh, texts, strict=True):
                if story.created_seq <= watch.start_seq:
                    continue  # the story existed when the watch was made
                m = match_story(watch.topic, vector, text, vectors, capitalized=capitalized)
                if m.matched:
                    out.setdefault(watch.id, {})[story.id] = m.meaning
        return out

    # ------------------------------------------------------------------ delivery
    async def _deliver(self, now: datetime) -> None:
        for watch_id in await asyncio.to_thread(self.store.watches_with_pending):
            watch = await asyncio.to_thread(self.store.watch, watch_id)
            if watch is None or not self.access.serves(watch.guild_id):
                continue
            sent = await asyncio.to_thread(
                self.store.messages_since, watch_id, now - timedelta(hours=1)
            )
            budget = self.max_per_hour - sent
            if budget <= 0:
                continue  # held back: folded into the next message the limit allows
            pending = await asyncio.to_thread(self.store.pending_hits, watch_id)
            stories = [s for s in await asyncio.to_thread(self._stories, pending) if s]
            gone = set(pending) - {s.id for s in stories}
            if gone:  # deleted by retention meanwhile
                await asyncio.to_thread(self.store.finish_hits, watch_id, sorted(gone), "gone")
            if len(stories) <= budget:  # one message per story
                groups = [[s] for s in stories]
            else:  # the last message the limit allows holds all the rest
                groups = [[s] for s in stories[: budget - 1]] + [stories[budget - 1 :]]
            for group in groups:
                await self._send(watch, group, now)

    def _stories(self, ids: Sequence[int]) -> list[Story | None]:
        return [self.engine.story_store.story(i) for i in ids]

    async def _send(self, watch: Watch, stories: list[Story], now: datetime) -> None:
        ids = [s.id for s in stories]
        claimed = await asyncio.to_thread(self.store.claim_hits, watch.id, ids, now)
        stories = [s for s in stories if s.id in claimed]
        if not stories:
            return
        footer = f"Watch #{watch.id} · /watch remove to stop it"
        payloads = render_watch(watch.topic, stories, footer)
        state, message_id, error = "sent", None, None
        try:
            target = await self._target(watch)
            sent = await send_to_channel(target, payloads)
            message_id = sent[0].id if sent else None
        except discord.Forbidden as e:
            state, error = "failed", _delivery_problem(watch, e)
        except (discord.NotFound, ChannelGone):
            state, error = "failed", "the channel is gone, or not one I can post in"
        except (TimeoutError, discord.HTTPException, OSError) as e:
            state, error = "unknown", f"Discord did not confirm the message ({e})"
        await asyncio.to_thread(self.store.finish_hits, watch.id, claimed, state, message_id)
        await asyncio.to_thread(self.store.set_watch_error, watch.id, error)
        log.info(
            "watch %s: %d stories %s%s",
            watch.id,
            len(claimed),
            state,
            f" ({error})" if error else "",
        )

    async def _target(self, watch: Watch) -> discord.abc.Messageable:
        if watch.channel_id is None:
            return await self.client.create_dm(discord.Object(id=watch.owner_id))
        channel = self.client.get_channel(watch.channel_id)
        if channel is None:
            channel = await self.client.fetch_channel(watch.channel_id)
        if not isinstance(channel, discord.TextChannel):
            raise ChannelGone(f"channel {watch.channel_id}")
        return channel


def _delivery_problem(watch: Watch, error: discord.Forbidden) -> str:
    if watch.channel_id is None:
        return (
            "I couldn't send you a direct message: allow direct messages from members of this "
            "server (Privacy Settings) to get your watches."
        )
    return f"I can't post in <#{watch.channel_id}> ({error.text or 'missing permissions'})."
