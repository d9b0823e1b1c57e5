"""Slash commands for everyone: /ask, /latest, /sources, /status. Thin handlers that call the
engine off the event loop and send what bot.discord.render produced; the rules (cooldowns, feed
names) come from the services passed in."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from discord import app_commands

from bot.discord.conversation import AnswerRecord
from bot.discord.cooldown import CooldownCog, Refused, cooldown
from bot.discord.feedback import sendable_view
from bot.discord.render import render_answer, render_source_errors, render_sources, render_status
from bot.discord.render_stories import render_story_list
from bot.discord.replies import send_followups
from bot.discord.safe_text import escape_markdown
from bot.discord.services import FeedNames, Services
from bot.language import question_language
from bot.messages import cooldown_text, failing_note, say
from bot.timeparse import parse_date_option
from ingest.feednames import FeedNameError
from ingest.models import utcnow
from ingest.store.health import health_for

log = logging.getLogger(__name__)

MAX_CHOICES = 25


def filter_choices(names: list[str], current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete: the names containing what was typed, those starting with it first."""
    cur = current.strip().lower()
    ranked = sorted(
        (n for n in names if cur in n.lower()), key=lambda n: (not n.lower().startswith(cur), n)
    )
    return [app_commands.Choice(name=n[:100], value=n[:100]) for n in ranked[:MAX_CHOICES]]


def feed_problem(error: FeedNameError, lang: str = "en") -> str:
    """The resolver's message in the asker's language (in English, the sentence the command
    line prints), the names quoted and escaped for Discord."""
    values = error.values(lambda name: f'"{escape_markdown(name)}"')
    return say(f"reply.feed_{error.kind}", lang, **values)


async def resolve_source(
    feeds: FeedNames, name: str | None, *, ephemeral: bool = True, lang: str = "en"
) -> str | None:
    """The feed `name` means (None for no name); an unknown or ambiguous name is `Refused`."""
    try:
        return await feeds.resolve(name)
    except FeedNameError as e:
        raise Refused(feed_problem(e, lang), ephemeral=ephemeral) from None


def ask_cooldown_text(interaction: discord.Interaction[Any], wait: float) -> str:
    """In the language of the question asked."""
    return cooldown_text(wait, question_language(interaction.namespace.question or ""))


def latest_cooldown_text(interaction: discord.Interaction[Any], wait: float) -> str:
    return cooldown_text(wait)


class NewsCommands(CooldownCog):
    """/ask, /latest, /sources, /status."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.cooldowns = services.cooldowns  # read by the @cooldown checks

    async def source_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return filter_choices(await self.services.feeds.in_corpus(), current)

    @app_commands.command(name="ask")
    @app_commands.describe(
        question="Your question about AI news, e.g. what did OpenAI release this week?",
        source="Only use articles from this feed",
        since="Only articles since a date: 2025-06-01, 7d, 2w, 3m, yesterday",
        private="Only you will see the answer",
    )
    @app_commands.autocomplete(source=source_autocomplete)
    @cooldown("ask", ask_cooldown_text)
    async def ask(
        self,
        interaction: discord.Interaction[Any],
        question: app_commands.Range[str, 1, 4000],
        source: str | None = None,
        since: str | None = None,
        private: bool = False,
    ) -> None:
        """Ask a question about AI news; the answer cites dated sources."""
        s, lang = self.services, question_language(question)
        since_dt = None
        if since:
            try:
                since_dt = parse_date_option(since, utcnow())
            except ValueError as e:
                raise Refused(say("reply.bad_date", lang, error=e)) from None
        await interaction.response.defer(thinking=True, ephemeral=private)
        feed = await resolve_source(s.feeds, source, ephemeral=private, lang=lang)
        answer = await s.ask(question, feed=feed, since=since_dt)
        sent = await send_followups(
            interaction, render_answer(answer), ephemeral=private, view=sendable_view()
        )
        record = AnswerRecord.from_answer(answer)
        ids = [m.id for m in sent]
        await asyncio.to_thread(s.memory.remember, ids, record, interaction.channel_id)
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
    @cooldown("latest", latest_cooldown_text)
    async def latest(
        self,
        interaction: discord.Interaction[Any],
        topic: app_commands.Range[str, 1, 200] | None = None,
        source: str | None = None,
        count: app_commands.Range[int, 1, 20] = 10,
    ) -> None:
        """The newest stories: each with its date, how many sources carry it and a link."""
        s = self.services
        await interaction.response.defer(thinking=True)
        feed = await resolve_source(s.feeds, source)
        feeds = (feed,) if feed else ()
        if topic and topic.strip():  # needs the embedding model: the engine's queue and lock
            stories = await s.run_engine(s.engine.stories, topic=topic, feeds=feeds, limit=count)
        else:  # a plain read of the story tables: never waits behind an answer
            stories = await asyncio.to_thread(s.engine.stories, feeds=feeds, limit=count)
        failing = await asyncio.to_thread(s.engine.feed_problems, [feed]) if feed else []
        notes = [failing_note(h) for h in failing]  # a failing feed is not "no news"
        rendered = render_story_list(stories, topic=topic, feed=feed, problems=notes)
        await send_followups(interaction, rendered)

    @app_commands.command(name="sources")
    async def sources(self, interaction: discord.Interaction[Any]) -> None:
        """The news feeds and their health: last success, last error."""
        s = self.services
        await interaction.response.defer(thinking=True)
        states = await asyncio.to_thread(s.engine.feed_states)
        now = s.alerts.clock()  # the same clock as the feed alerts
        health = await asyncio.to_thread(health_for, s.settings, now)
        await send_followups(interaction, render_sources(states, health, now))
        details = render_source_errors(health)  # the recorded errors: maintainers only
        if details and s.access.is_maintainer_of(interaction):
            await send_followups(interaction, details, ephemeral=True)

    @app_commands.command(name="status")
    async def status(self, interaction: discord.Interaction[Any]) -> None:
        """Corpus size, newest article, last ingest, embedding model and LLM backend."""
        s = self.services
        await interaction.response.defer(thinking=True)
        stats = await asyncio.to_thread(s.engine.stats)
        missing = await asyncio.to_thread(s.engine.corpus.missing_vectors)
        minutes = s.settings.ingest_interval_minutes
        extra = [
            ("Vectors", f"⚠️ missing for {missing:,} chunks; the next ingest rebuilds them")
            if missing
            else ("Vectors", "ok"),
            ("Scheduled ingest", f"every {minutes:g} min" if minutes > 0 else "off"),
            ("Running job", s.jobs.running or "none"),
            ("Servers", f"{len(interaction.client.guilds):,}"),
        ]
        await send_followups(interaction, render_status(stats, extra))
