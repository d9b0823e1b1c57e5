"""Slash commands for digests and watches: `/digest schedule|now|stop` (maintainers) and
`/watch add|list|remove` (everyone; a channel's watches are maintainers'). Thin handlers over the
subscription store and the digest scheduler (bot.discord.subscriptions) they get from the
services; the maintainer rule and its refusal are those of bot.discord.maintainers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.layout import text_payloads, trim
from bot.discord.maintainers import require_maintainer
from bot.discord.model_watches import family_display, watched_family
from bot.discord.replies import reply_or_edit, send_followups
from bot.discord.safe_text import escape_markdown
from bot.discord.services import Services
from bot.discord.subscription_store import DuplicateWatch, Watch, WatchLimitReached
from bot.stories.schedule import (
    CADENCES,
    WEEKDAYS,
    DigestSchedule,
    next_occurrence,
    parse_timezone,
    zone_choices,
)
from bot.stories.watch_match import content_words

log = logging.getLogger(__name__)


class DigestCommands(commands.Cog):
    """/digest schedule, /digest now, /digest stop (maintainers)."""

    digest = app_commands.Group(
        name="digest", description="A digest of the top stories in this channel (maintainers)"
    )

    def __init__(self, services: Services) -> None:
        self.services = services
        self.store = services.subscriptions.store

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Every command of this cog: maintainers only (autocomplete is not checked)."""
        return require_maintainer(self.services.access, interaction)

    async def timezone_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=z, value=z) for z in zone_choices(current)]

    @digest.command(name="schedule")
    @app_commands.describe(
        cadence="Daily, or weekly on one day",
        hour="The hour it is posted (0-23), in the time zone",
        timezone="An IANA time zone, e.g. Europe/Paris, America/New_York, UTC",
        weekday="For a weekly digest: the day (default Monday)",
    )
    @app_commands.choices(cadence=[app_commands.Choice(name=c, value=c) for c in CADENCES])
    @app_commands.choices(
        weekday=[app_commands.Choice(name=d, value=i) for i, d in enumerate(WEEKDAYS)]
    )
    @app_commands.autocomplete(timezone=timezone_autocomplete)
    async def schedule(
        self,
        interaction: discord.Interaction[Any],
        cadence: app_commands.Choice[str],
        hour: app_commands.Range[int, 0, 23],
        timezone: app_commands.Range[str, 1, 64] = "UTC",
        weekday: app_commands.Choice[int] | None = None,
    ) -> None:
        """Post a digest of the top stories in this channel, daily or weekly. Maintainers only."""
        problem = _channel_problem(interaction)
        try:
            tz = parse_timezone(timezone)
        except ValueError as e:
            problem = problem or str(e)
        if problem:
            await reply_or_edit(interaction, problem)
            return
        now = self.services.subscriptions.clock()
        new = DigestSchedule(
            channel_id=interaction.channel_id or 0,
            guild_id=interaction.guild_id or 0,
            cadence=cadence.value,
            hour=hour,
            tz=tz,
            weekday=(weekday.value if weekday else 0) if cadence.value == "weekly" else None,
            created=now,
            created_by=interaction.user.id,
        )
        replaced = await asyncio.to_thread(self.store.set_schedule, new)
        at = int(next_occurrence(new, now).timestamp())
        log.info("interaction %s: digest %s in %s", interaction.id, new.describe(), new.channel_id)
        await reply_or_edit(
            interaction,
            f"{'Updated: this' if replaced else 'This'} channel gets a digest {new.describe()}; "
            f"the next one <t:{at}:F> (<t:{at}:R>). It lists the top stories since the previous "
            "digest, and a period with nothing new is skipped. `/digest now` previews it.",
        )

    @digest.command(name="now")
    async def now(self, interaction: discord.Interaction[Any]) -> None:
        """Preview this channel's next digest (only you see it). Maintainers only."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        channel_id = interaction.channel_id or 0
        schedule = await asyncio.to_thread(self.store.schedule, channel_id)
        note = ""
        if schedule is None:
            note = "No digest is scheduled here; this is what a daily one would hold. "
            schedule = DigestSchedule(channel_id, interaction.guild_id or 0, "daily", 9, "UTC")
        plan, payloads = await self.services.subscriptions.digests.preview(schedule)
        if not plan.stories:
            text = (
                f"{note}Nothing new since {plan.since:%Y-%m-%d %H:%M} UTC, so no digest would be "
                "posted now."
            )
            await send_followups(interaction, text_payloads(text.strip()), ephemeral=True)
            return
        if note:
            payloads[0].content = note.strip()
        await send_followups(interaction, payloads, ephemeral=True)

    @digest.command(name="stop")
    async def stop(self, interaction: discord.Interaction[Any]) -> None:
        """Stop this channel's digest. Maintainers only."""
        removed = await asyncio.to_thread(self.store.remove_schedule, interaction.channel_id or 0)
        text = (
            "Stopped: no more digests in this channel."
            if removed
            else "There is no digest scheduled in this channel."
        )
        await reply_or_edit(interaction, text)


def _channel_problem(interaction: discord.Interaction[Any]) -> str | None:
    """Why a digest cannot go to the command's channel (None: it can)."""
    if not isinstance(interaction.channel, discord.TextChannel):
        return "Digests go to a text or announcement channel; please run this in one."
    perms = interaction.app_permissions
    if not (perms.send_messages and perms.embed_links and perms.read_message_history):
        return (
            "I can't post the digest here: I need the Send Messages, Embed Links and Read Message"
            " History permissions in this channel (the last one to check, after a restart, that"
            " a digest was not already posted)."
        )
    return None


class WatchCommands(commands.Cog):
    """/watch add, /watch list, /watch remove."""

    watch = app_commands.Group(name="watch", description="Be told when a new story matches a topic")

    def __init__(self, services: Services) -> None:
        self.services = services
        self.store = services.subscriptions.store

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
        problem = None
        if not content_words(topic):
            problem = (
                "That topic has no words I can match on; try e.g. `open-weight models` or "
                "`Claude Code`."
            )
        elif channel is not None:
            require_maintainer(self.services.access, interaction)
            perms = channel.permissions_for(channel.guild.me)
            if not (perms.send_messages and perms.embed_links):
                problem = (
                    f"I can't post in {channel.mention}: I need the Send Messages and Embed "
                    "Links permissions there."
                )
        if problem:
            await reply_or_edit(interaction, problem)
            return
        await reply_or_edit(interaction, await self._add(interaction, topic, channel))

    async def _add(
        self,
        interaction: discord.Interaction[Any],
        topic: str,
        channel: discord.TextChannel | None,
    ) -> str:
        """Store the watch; the reply saying what was done, or why not."""
        s = self.services.settings
        start = await asyncio.to_thread(self.services.engine.story_watermark)
        try:
            watch = await asyncio.to_thread(
                self.store.add_watch,
                owner_id=interaction.user.id,
                guild_id=interaction.guild_id or 0,
                channel_id=channel.id if channel else None,
                topic=topic,
                created=self.services.subscriptions.clock(),
                start_seq=start,
                limit=s.watch_limit,
            )
        except WatchLimitReached:
            who = f"{channel.mention} already has" if channel else "You already have"
            return (
                f"{who} {s.watch_limit} watches, the most allowed. Remove one with "
                "`/watch remove` first."
            )
        except DuplicateWatch:
            where = f"{channel.mention} already watches" if channel else "You already watch"
            return f"{where} **{escape_markdown(topic)}**."
        log.info("interaction %s: watch %s added", interaction.id, watch.id)
        topic, n = escape_markdown(watch.topic), s.watch_max_per_hour
        family = watched_family(watch.topic)
        if family:  # a family's versions (bot.discord.model_watches), not stories
            name = escape_markdown(family_display(family))
            where = channel.mention if channel is not None else "you (by direct message)"
            return f"Watching **{topic}** for {where}: each new {name} version the news reports."
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
            await reply_or_edit(interaction, "No watches yet. Add one with `/watch add topic:...`.")
            return
        lines = []
        for w in mine:
            where = "by direct message" if w.channel_id is None else f"in <#{w.channel_id}>"
            line = f"#{w.id} **{escape_markdown(w.topic)}** — {where}"
            if w.last_error:
                line += f"\n  ⚠️ {escape_markdown(trim(w.last_error, 300))}"
            lines.append(line)
        await reply_or_edit(interaction, trim("\n".join(lines), 2000))

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
            await reply_or_edit(
                interaction,
                "I can't find that watch among yours or this channel's; `/watch list` shows them.",
            )
            return
        if found.channel_id is not None:
            require_maintainer(self.services.access, interaction)
        await asyncio.to_thread(self.store.remove_watch, found.id)
        log.info("interaction %s: watch %s removed", interaction.id, found.id)
        await reply_or_edit(interaction, f"Stopped watching **{escape_markdown(found.topic)}**.")


def _pick(watches: Sequence[Watch], value: str) -> Watch | None:
    """The watch a user chose: by id (what autocomplete sends) or by its topic."""
    key = value.strip().lstrip("#")
    for w in watches:
        if key == str(w.id) or key.casefold() == w.topic.casefold():
            return w
    return None
