"""Slash commands for maintainers: /feeds add|remove and /reindex. Every command of this cog is
refused, with one friendly line, to anyone who is not a maintainer (bot.discord.access)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from discord import app_commands

from bot.config import DiscordSettings
from bot.discord.access import Access, Cooldowns, check_public_url, reindex_wait_message
from bot.discord.commands import filter_choices, resolve_source
from bot.discord.cooldown import CooldownCog, Refused, cooldown
from bot.discord.jobs import IngestJobs, job_label
from bot.discord.progress import run_job_with_progress
from bot.discord.replies import NO_MENTIONS, send_text_followup
from bot.discord.safe_text import escape_markdown
from bot.discord.services import FeedNames
from ingest.feeds import add_feed, remove_feed
from ingest.models import ConfigError, Feed
from ingest.pipeline import check_feed

log = logging.getLogger(__name__)


class NotMaintainer(app_commands.CheckFailure):
    """Raised by the maintainer check; the error handler shows its text as the refusal."""

    def __init__(self, text: str) -> None:
        super().__init__(text)


def require_maintainer(access: Access, interaction: discord.Interaction[Any]) -> bool:
    """True for a maintainer (bot.discord.access); anyone else gets NotMaintainer, whose text
    the central error handler shows ephemerally. Every maintainer-only command uses this."""
    if access.is_maintainer_of(interaction):
        return True
    log.info(
        "interaction %s: /%s refused for non-maintainer %s",
        interaction.id,
        interaction.command.qualified_name if interaction.command else "?",
        interaction.user.id,
    )
    raise NotMaintainer(access.maintainer_refusal())


def _strip_path(message: str, path: object) -> str:
    """Feed-file errors start with the file's path: not something to show in a chat."""
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def reindex_target(interaction: discord.Interaction[Any]) -> str:
    """The re-index cooldown's key: the feed as typed ("*": every feed)."""
    feed = interaction.namespace.feed
    return feed.strip().casefold() if feed else "*"


def reindex_cooldown_text(interaction: discord.Interaction[Any], wait: float) -> str:
    feed = interaction.namespace.feed
    return reindex_wait_message(escape_markdown(feed[:100]) if feed else None, wait)


class MaintainerCommands(CooldownCog):
    """/feeds add, /feeds remove, /reindex."""

    feeds = app_commands.Group(name="feeds", description="Manage the news feeds (maintainers)")

    def __init__(
        self,
        settings: DiscordSettings,
        access: Access,
        jobs: IngestJobs,
        feed_names: FeedNames,
        cooldowns: Cooldowns,
    ) -> None:
        self.settings, self.access, self.jobs = settings, access, jobs
        self.feed_names = feed_names
        self.cooldowns = cooldowns  # read by the @cooldown check of /reindex

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Every command of this cog: maintainers only (autocomplete is not checked)."""
        return require_maintainer(self.access, interaction)

    @feeds.command(name="add")
    @app_commands.describe(
        name="A short unique name for the feed", url="The feed's http(s) URL (RSS or Atom)"
    )
    async def feeds_add(
        self,
        interaction: discord.Interaction[Any],
        name: app_commands.Range[str, 1, 80],
        url: app_commands.Range[str, 1, 2000],
    ) -> None:
        """Add a feed (it is fetched once to check it first). Maintainers only."""
        settings = self.settings
        await interaction.response.defer(thinking=True, ephemeral=True)
        try:
            await asyncio.to_thread(check_public_url, url, settings.allow_private_feed_urls)
        except ValueError as e:
            await send_text_followup(interaction, f"Not added: {e}")
            return
        user = interaction.user.id
        feed = Feed(name=" ".join(name.split()), url=url.strip(), added_by=f"discord:{user}")
        parsed = await asyncio.to_thread(check_feed, feed, settings)
        if parsed.error:
            reason = f"I couldn't read a feed there ({parsed.error[:300]})"
            await send_text_followup(interaction, f"Not added: {reason}.")
            return
        try:
            await asyncio.to_thread(add_feed, settings.feeds, feed)
        except ConfigError as e:
            reason = _strip_path(str(e), settings.feeds)
            await send_text_followup(interaction, f"Not added: {reason}")
            return
        self.feed_names.forget()
        log.info("interaction %s: feed %r added by %s", interaction.id, feed.name, user)
        found = f"{len(parsed.articles)} entries found"
        await interaction.edit_original_response(
            content=f"Added **{escape_markdown(feed.name)}** ({found}). Fetching it now…",
            allowed_mentions=NO_MENTIONS,
        )
        await run_job_with_progress(
            self.jobs,
            interaction,
            job_label(feed.name, reindex=False),
            only=[feed.name],
            reindex=False,
            busy_note="It will be fetched by the next scheduled ingest.",
        )

    @feeds.command(name="remove")
    @app_commands.describe(name="The feed to remove")
    async def feeds_remove(self, interaction: discord.Interaction[Any], name: str) -> None:
        """Stop fetching a feed (its stored articles stay). Maintainers only."""

        settings = self.settings
        await interaction.response.defer(thinking=True, ephemeral=True)
        try:
            removed = await asyncio.to_thread(remove_feed, settings.feeds, name)
        except ConfigError as e:
            await send_text_followup(interaction, _strip_path(str(e), settings.feeds))
            return
        self.feed_names.forget()
        log.info(
            "interaction %s: feed %r removed by %s",
            interaction.id,
            removed.name,
            interaction.user.id,
        )
        await send_text_followup(
            interaction,
            f"Removed **{escape_markdown(removed.name)}**: it won't be fetched any more. "
            "Articles already stored stay searchable.",
        )

    @feeds_remove.autocomplete("name")
    async def _feeds_remove_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return filter_choices(await self.feed_names.in_file(), current)

    async def _feed_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return filter_choices(await self.feed_names.in_corpus(), current)

    @app_commands.command(name="reindex")
    @app_commands.describe(feed="Only this feed (default: every feed)")
    @app_commands.autocomplete(feed=_feed_autocomplete)
    @cooldown("reindex", reindex_cooldown_text, key=reindex_target)
    async def reindex(self, interaction: discord.Interaction[Any], feed: str | None = None) -> None:
        """Rebuild the search vectors (all feeds or one), showing progress. Maintainers only."""
        if self.jobs.busy:
            running = self.jobs.running or "Another job"
            raise Refused(f"{running} is already running; please try again when it has finished.")
        await interaction.response.defer(thinking=True)
        name = await resolve_source(self.feed_names, feed, ephemeral=False)
        ran = await run_job_with_progress(
            self.jobs,
            interaction,
            job_label(name, reindex=True),
            only=[name] if name else [],
            reindex=True,
        )
        if not ran:  # another job or process: it told the user; it may be asked again
            raise Refused()
