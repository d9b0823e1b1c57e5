"""Slash commands: thin handlers that call the engine in a worker thread and send what
bot.discord.render produced. Permission, cooldown and URL rules live in bot.discord.access."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.access import (
    check_public_url,
    cooldown_message,
    is_maintainer,
    maintainer_refusal,
    reindex_wait_message,
)
from bot.discord.conversation import AnswerRecord
from bot.discord.jobs import job_label
from bot.discord.render import (
    escape_markdown,
    render_answer,
    render_sources,
    render_status,
)
from bot.discord.render_stories import render_story_list
from bot.discord.replies import NO_MENTIONS, send_followups, send_text_followup
from ingest.models import ConfigError, utcnow

if TYPE_CHECKING:
    from bot.discord.client import NewsBot

log = logging.getLogger(__name__)

AUTOCOMPLETE_TTL = 30.0  # seconds a list of feed names is reused for autocomplete
MAX_CHOICES = 25


class NotMaintainer(app_commands.CheckFailure):
    """Raised by the maintainer check; the error handler turns it into a friendly refusal."""

    def __init__(self, text: str) -> None:
        super().__init__(text)


def member_role_ids(user: discord.abc.User) -> set[int]:
    """Role ids of a guild member as the interaction payload gave them (cached or not)."""
    roles = {r.id for r in getattr(user, "roles", ())}
    roles.update(int(r) for r in getattr(user, "_roles", ()))  # ids even if the role is uncached
    return roles


async def _maintainer_predicate(interaction: discord.Interaction[Any]) -> bool:
    settings = interaction.client.settings
    perms = interaction.permissions
    if is_maintainer(
        settings,
        interaction.user.id,
        member_role_ids(interaction.user),
        manage_guild=interaction.guild_id is not None and perms.manage_guild,
        guild_id=interaction.guild_id,
    ):
        return True
    log.info(
        "interaction %s: /%s refused for non-maintainer %s",
        interaction.id,
        interaction.command.qualified_name if interaction.command else "?",
        interaction.user.id,
    )
    raise NotMaintainer(maintainer_refusal(settings))


maintainer_only = app_commands.check(_maintainer_predicate)


def _filter_choices(names: list[str], current: str) -> list[app_commands.Choice[str]]:
    cur = current.strip().lower()
    ranked = sorted(
        (n for n in names if cur in n.lower()), key=lambda n: (not n.lower().startswith(cur), n)
    )
    return [app_commands.Choice(name=n[:100], value=n[:100]) for n in ranked[:MAX_CHOICES]]


def _strip_path(message: str, path: object) -> str:
    """Feed-file errors start with the file's path: not something to show in a chat."""
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


class NewsCommands(commands.Cog):
    """/ask, /latest, /sources, /status, /feeds add|remove, /reindex."""

    feeds = app_commands.Group(name="feeds", description="Manage the news feeds (maintainers)")

    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot
        self._names: tuple[float, list[str]] = (0.0, [])
        self._file_names: tuple[float, list[str]] = (0.0, [])

    # ------------------------------------------------------------------ helpers
    @property
    def engine(self) -> Any:
        return self.bot.engine

    async def feed_names(self) -> list[str]:
        at, names = self._names
        if time.monotonic() - at > AUTOCOMPLETE_TTL or not names:
            names = await asyncio.to_thread(self.engine.feed_names)
            self._names = (time.monotonic(), names)
        return names

    async def feed_file_names(self) -> list[str]:
        from ingest.feeds import load_feeds

        at, names = self._file_names
        if time.monotonic() - at > AUTOCOMPLETE_TTL or not names:
            try:
                feeds = await asyncio.to_thread(load_feeds, self.bot.settings.feeds)
                names = [f.name for f in feeds]
            except ConfigError:
                names = await self.feed_names()
            self._file_names = (time.monotonic(), names)
        return names

    def _forget_names(self) -> None:
        self._names = (0.0, [])
        self._file_names = (0.0, [])

    async def resolve_feed(self, name: str | None) -> tuple[str | None, str | None]:
        """(feed name as stored, None) or (None, a message saying there is no such feed)."""
        if not name:
            return None, None
        names = await asyncio.to_thread(self.engine.feed_names)
        if name in names:
            return name, None
        folded = {n.casefold(): n for n in names}
        if name.strip().casefold() in folded:
            return folded[name.strip().casefold()], None
        return None, (
            f"I don't know a source called **{escape_markdown(name[:100])}**. "
            "`/sources` lists them."
        )

    async def source_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return _filter_choices(await self.feed_names(), current)

    # ------------------------------------------------------------------ everyone
    @app_commands.command(name="ask")
    @app_commands.describe(
        question="Your question about AI news, e.g. what did OpenAI release this week?",
        source="Only use articles from this feed",
        since="Only articles since a date: 2025-06-01, 7d, 2w, 3m, yesterday",
        private="Only you will see the answer",
    )
    @app_commands.autocomplete(source=source_autocomplete)
    async def ask(
        self,
        interaction: discord.Interaction[Any],
        question: app_commands.Range[str, 1, 4000],
        source: str | None = None,
        since: str | None = None,
        private: bool = False,
    ) -> None:
        """Ask a question about AI news; the answer cites dated sources."""
        from bot.timeparse import parse_date_option

        wait = self.bot.cooldown.retry_after(interaction.user.id)
        if wait:
            await interaction.response.send_message(
                cooldown_message(wait), ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        since_dt = None
        if since:
            try:
                since_dt = parse_date_option(since, utcnow())
            except ValueError as e:
                self.bot.cooldown.reset(interaction.user.id)
                await interaction.response.send_message(
                    f"I couldn't read that date: {e}.",
                    ephemeral=True,
                    allowed_mentions=NO_MENTIONS,
                )
                return
        await interaction.response.defer(thinking=True, ephemeral=private)
        feed, problem = await self.resolve_feed(source)
        if problem:
            self.bot.cooldown.reset(interaction.user.id)
            await send_text_followup(interaction, problem, ephemeral=private)
            return
        answer = await self.bot.call_engine(self.engine.ask, question, feed=feed, since=since_dt)
        sent = await send_followups(
            interaction, render_answer(answer), ephemeral=private, feedback=True
        )
        self.bot.answers.remember(sent[-1].id, AnswerRecord.from_answer(answer))
        log.info(
            "interaction %s: /ask answered=%s sources=%d",
            interaction.id,
            answer.answered,
            len(answer.sources),
        )

    @app_commands.command(name="latest")
    @app_commands.describe(
        topic="Only stories about this, e.g. 'open-weight models'",
        source="Only stories this feed carries",
        count="How many stories (1-20)",
    )
    @app_commands.autocomplete(source=source_autocomplete)
    async def latest(
        self,
        interaction: discord.Interaction[Any],
        topic: app_commands.Range[str, 1, 200] | None = None,
        source: str | None = None,
        count: app_commands.Range[int, 1, 20] = 10,
    ) -> None:
        """The newest stories: each with its date, how many sources carry it and a link."""
        wait = self.bot.latest_cooldown.retry_after(interaction.user.id)
        if wait:
            await interaction.response.send_message(
                cooldown_message(wait), ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        await interaction.response.defer(thinking=True)
        feed, problem = await self.resolve_feed(source)
        if problem:
            self.bot.latest_cooldown.reset(interaction.user.id)
            await send_text_followup(interaction, problem)
            return
        feeds = (feed,) if feed else ()
        if topic and topic.strip():  # needs the embedding model: the engine's queue and lock
            stories = await self.bot.call_engine(
                self.engine.stories, topic=topic, feeds=feeds, limit=count
            )
        else:  # a plain read of the story tables: never waits behind an answer
            stories = await asyncio.to_thread(self.engine.stories, feeds=feeds, limit=count)
        await send_followups(interaction, render_story_list(stories, topic=topic, feed=feed))

    @app_commands.command(name="sources")
    async def sources(self, interaction: discord.Interaction[Any]) -> None:
        """The news feeds and their health: last success, last error."""
        await interaction.response.defer(thinking=True)
        states = await asyncio.to_thread(self.engine.feed_states)
        await send_followups(interaction, render_sources(states))

    @app_commands.command(name="status")
    async def status(self, interaction: discord.Interaction[Any]) -> None:
        """Corpus size, newest article, last ingest, embedding model and LLM backend."""
        await interaction.response.defer(thinking=True)
        stats = await asyncio.to_thread(self.engine.stats)
        minutes = self.bot.settings.ingest_interval_minutes
        extra = [
            ("Scheduled ingest", f"every {minutes:g} min" if minutes > 0 else "off"),
            ("Running job", self.bot.jobs.running or "none"),
            ("Servers", f"{len(self.bot.guilds):,}"),
        ]
        await send_followups(interaction, render_status(stats, extra))

    # ------------------------------------------------------------------ maintainers
    @feeds.command(name="add")
    @app_commands.describe(
        name="A short unique name for the feed", url="The feed's http(s) URL (RSS or Atom)"
    )
    @maintainer_only
    async def feeds_add(
        self,
        interaction: discord.Interaction[Any],
        name: app_commands.Range[str, 1, 80],
        url: app_commands.Range[str, 1, 2000],
    ) -> None:
        """Add a feed (it is fetched once to check it first). Maintainers only."""
        from ingest.feeds import add_feed
        from ingest.models import Feed
        from ingest.pipeline import check_feed

        settings = self.bot.settings
        await interaction.response.defer(thinking=True, ephemeral=True)
        try:
            await asyncio.to_thread(check_public_url, url, settings.allow_private_feed_urls)
        except ValueError as e:
            await send_text_followup(interaction, f"Not added: {e}")
            return
        feed = Feed(
            name=" ".join(name.split()), url=url.strip(), added_by=f"discord:{interaction.user.id}"
        )
        parsed = await asyncio.to_thread(check_feed, feed, settings)
        if parsed.error:
            await send_text_followup(
                interaction, f"Not added: I couldn't read a feed there ({parsed.error[:300]})."
            )
            return
        try:
            await asyncio.to_thread(add_feed, settings.feeds, feed)
        except ConfigError as e:
            reason = _strip_path(str(e), settings.feeds)
            await send_text_followup(interaction, f"Not added: {reason}")
            return
        self._forget_names()
        log.info(
            "interaction %s: feed %r added by %s", interaction.id, feed.name, interaction.user.id
        )
        found = f"{len(parsed.articles)} entries found"
        await interaction.edit_original_response(
            content=f"Added **{escape_markdown(feed.name)}** ({found}). Fetching it now…",
            allowed_mentions=NO_MENTIONS,
        )
        await self.bot.run_job_with_progress(
            interaction,
            job_label(feed.name, reindex=False),
            only=[feed.name],
            reindex=False,
            busy_note="It will be fetched by the next scheduled ingest.",
        )

    @feeds.command(name="remove")
    @app_commands.describe(name="The feed to remove")
    @maintainer_only
    async def feeds_remove(self, interaction: discord.Interaction[Any], name: str) -> None:
        """Stop fetching a feed (its stored articles stay). Maintainers only."""
        from ingest.feeds import remove_feed

        settings = self.bot.settings
        await interaction.response.defer(thinking=True, ephemeral=True)
        try:
            removed = await asyncio.to_thread(remove_feed, settings.feeds, name)
        except ConfigError as e:
            await send_text_followup(interaction, _strip_path(str(e), settings.feeds))
            return
        self._forget_names()
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
        return _filter_choices(await self.feed_file_names(), current)

    @app_commands.command(name="reindex")
    @app_commands.describe(feed="Only this feed (default: every feed)")
    @app_commands.autocomplete(feed=source_autocomplete)
    @maintainer_only
    async def reindex(self, interaction: discord.Interaction[Any], feed: str | None = None) -> None:
        """Rebuild the search vectors (all feeds or one), showing progress. Maintainers only."""
        key = feed.strip().casefold() if feed else "*"
        if not self.bot.jobs.busy:
            wait = self.bot.reindex_cooldown.retry_after(key)
            if wait:
                await interaction.response.send_message(
                    reindex_wait_message(escape_markdown(feed[:100]) if feed else None, wait),
                    ephemeral=True,
                    allowed_mentions=NO_MENTIONS,
                )
                return
        if self.bot.jobs.busy:
            await interaction.response.send_message(
                f"{self.bot.jobs.running or 'Another job'} is already running; please try again "
                "when it has finished.",
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
            return
        await interaction.response.defer(thinking=True)
        name, problem = await self.resolve_feed(feed)
        if problem:
            self.bot.reindex_cooldown.reset(key)
            await send_text_followup(interaction, problem, ephemeral=False)
            return
        ran = False
        try:
            ran = await self.bot.run_job_with_progress(
                interaction,
                job_label(name, reindex=True),
                only=[name] if name else [],
                reindex=True,
            )
        finally:
            if not ran:  # refused (another job or process) or failed: it may be asked again
                self.bot.reindex_cooldown.reset(key)
