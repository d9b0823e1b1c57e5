"""Pure rendering: answers, feed health and corpus stats → Discord payloads, laid out within
Discord's limits by bot.discord.layout (stories: bot.discord.render_stories; models:
bot.discord.render_models). Nothing here talks to Discord. Feed text is untrusted: every piece
of it is escaped by bot.discord.safe_text (the one place for it), so it shows as text: no
markdown, links, mentions or timestamps of its own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import discord

from bot.discord.layout import (
    COLOR_ANSWER,
    COLOR_INFO,
    COLOR_NOT_ANSWERED,
    COLOR_WARN,
    CONTINUED,
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    FIELDS_PER_EMBED,
    FOOTER_LIMIT,
    SOURCE_TITLE_CHARS,
    TITLE_LIMIT,
    Payload,
    dlen,
    embed_length,
    format_when,
    group_embeds,
    list_embeds,
    pack_lines,
    safe_url,
    split_text,
    trim,
)
from bot.discord.safe_text import escape_answer, escape_markdown, neutralize_mentions
from bot.messages import health_text, say
from bot.models import Answer, CorpusStats, Source
from bot.timeparse import iso_day
from ingest.health import FAILING, OK, STALE, UNKNOWN, Health, assess
from ingest.models import FeedState, utcnow


# ---------------------------------------------------------------------------- answers
def source_line(source: Source, limit: int = FIELD_VALUE_LIMIT) -> str:
    """'[1] [Title](url) — feed, 2025-07-24', within `limit` units whatever the feed says."""
    title = escape_markdown(trim(source.title.strip() or "(untitled)", SOURCE_TITLE_CHARS))
    feed = escape_markdown(trim(source.label or "", 60))
    tail = f" — {feed}, {iso_day(source.published)}" if feed else ""
    if not feed:
        tail = f" — {iso_day(source.published)}"
    url = safe_url(source.url)
    line = f"[{source.n}] [{title}]({url}){tail}" if url else f"[{source.n}] {title}{tail}"
    if dlen(line) > limit:
        line = trim(f"[{source.n}] {title}{tail}", limit)
    return line


def _answer_embed(title: str | None, description: str, colour: discord.Colour) -> discord.Embed:
    return discord.Embed(title=title, description=description, colour=colour)


def answer_footer(answer: Answer) -> str:
    lang = answer.language
    as_of = iso_day(answer.as_of) if answer.as_of else say("answer.no_articles", lang)
    return trim(f"{say('answer.as_of', lang, date=as_of)} · {answer.backend}", FOOTER_LIMIT)


def render_answer(answer: Answer) -> list[Payload]:
    """Answer → one or more messages of embeds (the last one gets the feedback buttons)."""
    colour = COLOR_ANSWER if answer.answered else COLOR_NOT_ANSWERED
    title = trim(escape_markdown(answer.question) or "Answer", TITLE_LIMIT)
    body = escape_answer(answer.text.strip()) or "(no answer)"
    if answer.note:
        body += "\n\n-# ℹ️ " + escape_markdown(trim(answer.note, 500))
    footer = answer_footer(answer)
    embeds = [
        _answer_embed(title if i == 0 else None, chunk, colour)
        for i, chunk in enumerate(split_text(body, DESCRIPTION_LIMIT))
    ]
    items = answer.sources if answer.answered or not answer.closest else answer.closest
    name = say("answer.sources" if items is answer.sources else "answer.closest", answer.language)
    blocks = pack_lines((source_line(s) for s in items), FIELD_VALUE_LIMIT)
    for i, value in enumerate(blocks):
        field_name = name if i == 0 else name + CONTINUED
        target = embeds[-1]
        grown = embed_length(target) + dlen(field_name) + dlen(value) + dlen(footer)
        if len(target.fields) >= FIELDS_PER_EMBED or grown > EMBED_TOTAL_LIMIT:
            target = discord.Embed(colour=colour)
            embeds.append(target)
        target.add_field(name=field_name, value=value, inline=False)
    embeds[-1].set_footer(text=footer)
    return group_embeds(embeds)


HEALTH_ICONS = {OK: "✅", FAILING: "⚠️", STALE: "💤", UNKNOWN: "⏳"}


def feed_state_line(s: FeedState, health: Health | None = None, now: datetime | None = None) -> str:
    """One feed for /sources: its health in plain words. /sources is public, so a failure is
    told by its reason (ingest.health.reason_code), never by the recorded error, which may name
    internal hosts or addresses (maintainers get it in the alert channel)."""
    now = now or utcnow()
    h = health or assess(s, (), now)
    name = escape_markdown(trim(s.name, 80))
    line = f"{HEALTH_ICONS.get(h.status, '⏳')} **{name}** — {s.articles_total} articles · "
    if h.status == OK:
        return line + f"last success {format_when(s.last_success)}"
    return line + escape_markdown(trim(health_text(h, now), 400))


def render_sources(
    states: Sequence[FeedState],
    health: Sequence[Health] = (),
    now: datetime | None = None,
) -> list[Payload]:
    by_name = {h.feed: h for h in health}
    now = now or utcnow()
    shown = {s.name: by_name.get(s.name) or assess(s, (), now) for s in states}
    failing = sum(1 for h in shown.values() if h.status == FAILING)
    stale = sum(1 for h in shown.values() if h.status == STALE)
    footer = f"{len(states)} feeds · {failing} failing" + (f" · {stale} stale" if stale else "")
    ordered = sorted(states, key=lambda s: s.name.lower())
    lines = [feed_state_line(s, shown[s.name], now) for s in ordered]
    if not lines:
        lines = ["No feeds have been fetched yet. A maintainer can add one with `/feeds add`."]
    colour = COLOR_WARN if failing or stale else COLOR_INFO
    return group_embeds(list_embeds("Sources", lines, colour, footer))


def render_source_errors(health: Sequence[Health]) -> list[Payload]:
    """For maintainers only (sent ephemerally): the recorded error of each failing feed, which
    may name internal hosts and so never goes into the public /sources."""
    lines = []
    for h in sorted(health, key=lambda h: h.feed.lower()):
        if h.status == FAILING:
            detail = neutralize_mentions(trim(" ".join(h.detail.split()), 600)).replace("`", "'")
            lines.append(f"**{escape_markdown(trim(h.feed, 80))}**: `{detail}`")
    title = "Recorded errors (visible only to you)"
    return group_embeds(list_embeds(title, lines, COLOR_WARN)) if lines else []


def render_status(stats: CorpusStats, extra: Sequence[tuple[str, str]] = ()) -> list[Payload]:
    embed = discord.Embed(title="Status", colour=COLOR_INFO)
    rows: list[tuple[str, str]] = [
        ("Articles", f"{stats.articles:,}"),
        ("Chunks", f"{stats.chunks:,}"),
        ("Pending articles", f"{stats.pending:,}"),
        ("Feeds", f"{stats.feeds:,}"),
        ("Newest article", format_when(stats.newest)),
        ("Oldest article", format_when(stats.oldest)),
        ("Last ingest", format_when(stats.last_ingest)),
        ("Embedding model", escape_markdown(stats.embedding_model)),
        ("LLM backend", escape_markdown(str(stats.extra.get("llm", "none")))),
        *extra,
    ]
    for name, value in rows[:FIELDS_PER_EMBED]:
        embed.add_field(
            name=trim(name, FIELD_NAME_LIMIT),
            value=trim(value or "-", FIELD_VALUE_LIMIT),
            inline=True,
        )
    return group_embeds([embed])
