"""Watches: `/watch add|list|remove`, and the check that tells watchers about new stories.

`/watch add <topic>` watches for yourself (delivered by DM); with `channel:` a maintainer
watches for a channel (posted there). After every ingest of the bot (and every minute, for
ingests another process ran) `WatchService.check()` reads the stories created since its
watermark (Engine.stories_changed_after), matches them to every watch by meaning
(bot.watch_match) and stores each (watch, story) pair once, pending; then it delivers: one
message per story with its sources, at most `NEWSBOT_WATCH_MAX_PER_HOUR` messages per watch and
hour; what is over the limit waits and is folded into one message when the next one may go.
A story is told once per watch, however many articles it gains; delivery is at most once
(bot.subscriptions). Engine work runs in worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord
import numpy as np
from discord import app_commands
from discord.ext import commands

from bot.discord.access import guild_served, is_maintainer
from bot.discord.commands import member_role_ids
from bot.discord.digests import ChannelGone, require_maintainer
from bot.discord.render import escape_markdown, trim
from bot.discord.render_stories import render_watch
from bot.discord.replies import NO_MENTIONS, send_to_channel
from bot.subscriptions import DuplicateWatch, Watch, WatchLimitReached
from bot.watch_match import content_words, load_story_texts, match_story
from ingest.stories import Story

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.engine import Engine
    from bot.subscriptions import SubscriptionSettings, SubscriptionStore
    from ingest.config import Settings

log = logging.getLogger(__name__)

WATERMARK = "watch_seq"  # meta key: the last story sequence number checked
BATCH = 200  # stories read per round
MAX_AGE = timedelta(days=7)  # a "new" story has news from the last week (not a feed's backlog)
RunEngine = Callable[..., Any]


class WatchService:
    """Matches new stories to watches and delivers the notifications."""

    def __init__(
        self,
        client: discord.Client,
        engine: Engine,
        store: SubscriptionStore,
        clock: Clock,
        settings: Settings,
        limits: SubscriptionSettings,
        run_engine: RunEngine,
    ) -> None:
        self.client, self.engine, self.store, self.clock = client, engine, store, clock
        self.settings, self.limits, self.run_engine = settings, limits, run_engine
        self._lock = asyncio.Lock()  # one check at a time (after an ingest and every minute)
        self._topics: dict[str, np.ndarray] = {}

    def start_watermark(self) -> None:
        """Blocking, at start: watches begin with the stories of now (never the backlog)."""
        if self.store.get_meta(WATERMARK) is None:
            self.store.set_meta(WATERMARK, str(self.engine.story_watermark()))

    async def check(self) -> None:
        """Match the stories created since the last check, then deliver what is pending."""
        async with self._lock:
            now = self.clock.now()
            await self._match_new(now)
            await self._deliver(now)

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
        texts, vectors = load_story_texts(self.engine.corpus, fresh)
        capitalized = self.engine.retriever.directory().capitalized
        out: dict[int, dict[int, float]] = {}
        for watch in watches:
            vector = self._topics.get(watch.topic)
            if vector is None:
                vector = self._topics[watch.topic] = self.engine.embedder.embed_query(watch.topic)
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
            if watch is None or not guild_served(self.settings, watch.guild_id):
                continue
            sent = await asyncio.to_thread(
                self.store.messages_since, watch_id, now - timedelta(hours=1)
            )
            budget = self.limits.watch_max_per_hour - sent
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


# ---------------------------------------------------------------------------- the commands
class WatchCommands(commands.Cog):
    """/watch add, /watch list, /watch remove."""

    watch = app_commands.Group(name="watch", description="Be told when a new story matches a topic")

    def __init__(
        self,
        engine: Engine,
        store: SubscriptionStore,
        settings: Settings,
        limits: SubscriptionSettings,
        clock: Clock,
    ) -> None:
        self.engine, self.store, self.settings = engine, store, settings
        self.limits, self.clock = limits, clock

    def _maintainer(self, interaction: discord.Interaction[Any]) -> bool:
        perms = interaction.permissions
        return is_maintainer(
            self.settings,
            interaction.user.id,
            member_role_ids(interaction.user),
            manage_guild=interaction.guild_id is not None and perms.manage_guild,
            guild_id=interaction.guild_id,
        )

    @watch.command(name="add")
    @app_commands.describe(
        topic="What to watch, e.g. open-weight models, Claude Code, AI and cybersecurity",
        channel="Maintainers: post matches in this channel instead of messaging you",
    )
    async def add(
        self,
        interaction: discord.Interaction[Any],
        topic: app_commands.Range[str, 2, 100],
        channel: discord.TextChannel | None = None,
    ) -> None:
        """Get a message when a new story matches a topic (by meaning, not only keywords)."""
        topic = " ".join(topic.split())
        if not content_words(topic):
            await _reply(
                interaction,
                "That topic has no words I can match on; try e.g. "
                "`open-weight models` or `Claude Code`.",
            )
            return
        if channel is not None:
            require_maintainer(self.settings, interaction)
            perms = channel.permissions_for(channel.guild.me)
            if not (perms.send_messages and perms.embed_links):
                await _reply(
                    interaction,
                    f"I can't post in {channel.mention}: I need the Send "
                    "Messages and Embed Links permissions there.",
                )
                return
        start = await asyncio.to_thread(self.engine.story_watermark)
        try:
            watch = await asyncio.to_thread(
                self.store.add_watch,
                owner_id=interaction.user.id,
                guild_id=interaction.guild_id or 0,
                channel_id=channel.id if channel else None,
                topic=topic,
                created=self.clock.now(),
                start_seq=start,
                limit=self.limits.watch_limit,
            )
        except WatchLimitReached:
            await _reply(interaction, self._limit_text(channel))
            return
        except DuplicateWatch:
            where = f"{channel.mention} already watches" if channel else "You already watch"
            await _reply(interaction, f"{where} **{escape_markdown(topic)}**.")
            return
        log.info("interaction %s: watch %s added", interaction.id, watch.id)
        await _reply(interaction, self._added_text(watch, channel))

    def _limit_text(self, channel: discord.TextChannel | None) -> str:
        n = self.limits.watch_limit
        who = f"{channel.mention} already has" if channel else "You already have"
        return f"{who} {n} watches, the most allowed. Remove one with `/watch remove` first."

    def _added_text(self, watch: Watch, channel: discord.TextChannel | None) -> str:
        topic, n = escape_markdown(watch.topic), self.limits.watch_max_per_hour
        if channel is not None:
            return (
                f"Watching **{topic}** for {channel.mention}: each new matching story will be "
                f"posted there (at most {n} messages an hour; more are grouped)."
            )
        return (
            f"Watching **{topic}** for you: I'll send you a direct message for each new "
            f"matching story (at most {n} an hour; more are grouped). Allow direct messages "
            "from this server's members so I can reach you."
        )

    @watch.command(name="list")
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        """Your watches, and this channel's."""
        mine = await asyncio.to_thread(
            self.store.visible_watches, interaction.user.id, interaction.channel_id
        )
        if not mine:
            await _reply(interaction, "No watches yet. Add one with `/watch add topic:...`.")
            return
        lines = []
        for w in mine:
            where = "by direct message" if w.channel_id is None else f"in <#{w.channel_id}>"
            line = f"#{w.id} **{escape_markdown(w.topic)}** — {where}"
            if w.last_error:
                line += f"\n  ⚠️ {escape_markdown(trim(w.last_error, 300))}"
            lines.append(line)
        await _reply(interaction, trim("\n".join(lines), 2000))

    async def remove_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        watches = await asyncio.to_thread(
            self.store.visible_watches, interaction.user.id, interaction.channel_id
        )
        cur = current.strip().casefold().lstrip("#")
        choices = []
        for w in watches:
            label = f"#{w.id} {w.topic}" + (" (DM)" if w.channel_id is None else " (channel)")
            if cur in label.casefold():
                choices.append(app_commands.Choice(name=label[:100], value=str(w.id)))
        return choices[:25]

    @watch.command(name="remove")
    @app_commands.describe(watch="The watch to remove (start typing its topic)")
    @app_commands.autocomplete(watch=remove_autocomplete)
    async def remove(self, interaction: discord.Interaction[Any], watch: str) -> None:
        """Stop a watch: yours, or (maintainers) this channel's."""
        visible = await asyncio.to_thread(
            self.store.visible_watches, interaction.user.id, interaction.channel_id
        )
        found = _pick(visible, watch)
        if found is None:
            await _reply(
                interaction,
                "I can't find that watch among yours or this channel's; `/watch list` shows them.",
            )
            return
        if found.channel_id is not None:
            require_maintainer(self.settings, interaction)
        await asyncio.to_thread(self.store.remove_watch, found.id)
        log.info("interaction %s: watch %s removed", interaction.id, found.id)
        await _reply(interaction, f"Stopped watching **{escape_markdown(found.topic)}**.")


def _pick(watches: Sequence[Watch], value: str) -> Watch | None:
    """The watch a user chose: by id (what autocomplete sends) or by its topic."""
    key = value.strip().lstrip("#")
    for w in watches:
        if key == str(w.id) or key.casefold() == w.topic.casefold():
            return w
    return None


async def _reply(interaction: discord.Interaction[Any], text: str) -> None:
    await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
