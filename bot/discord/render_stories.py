"""Pure rendering of stories: /latest lines, a channel digest, a watch notification. Builds
`discord.Embed`s grouped into `Payload`s within every Discord limit (see bot.discord.layout:
lengths in UTF-16 units, 25 fields, 4,096-unit descriptions, 6,000 units per message, 10
embeds per message). Titles from feeds are untrusted: escaped, mentions defused."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import discord

from bot.discord.layout import (
    COLOR_INFO,
    COLOR_WARN,
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
    group_embeds,
    list_embeds,
    safe_url,
    trim,
)
from bot.discord.safe_text import escape_markdown
from bot.messages import say
from bot.timeparse import iso_day
from ingest.store.stories import Story, StoryArticle

COLOR_DIGEST = discord.Colour(0x1971C2)
COLOR_WATCH = discord.Colour(0xF08C00)
FOLDED_LIMIT = 15  # stories listed in one folded watch message


def _title(story: Story | StoryArticle, limit: int = SOURCE_TITLE_CHARS) -> str:
    return escape_markdown(trim(story.title.strip() or "(untitled)", limit))


def _sources(n: int) -> str:
    return f"{n} source{'s' * (n != 1)}"


def _link(label: str, url: str) -> str:
    safe = safe_url(url)
    return f"[{label}]({safe})" if safe else label


def story_line(story: Story) -> str:
    """'`2026-08-14` [Title](primary url) — deepmind · 3 sources', one line within a field."""
    feed = escape_markdown(trim(story.primary.feed or story.primary.host, 60))
    tail = f" — {feed} · {_sources(story.source_count)}" if feed else ""
    if not feed:
        tail = f" — {_sources(story.source_count)}"
    day = f"`{iso_day(story.last_updated)}`"
    line = f"{day} {_link(_title(story), story.primary.url)}{tail}"
    if dlen(line) > FIELD_VALUE_LIMIT:
        line = trim(f"{day} {_title(story)}{tail}", FIELD_VALUE_LIMIT)
    return line


def render_story_list(
    stories: Sequence[Story],
    *,
    topic: str | None = None,
    feed: str | None = None,
    problems: Sequence[str] = (),
    lang: str = "en",
) -> list[Payload]:
    """/latest: one line per story, newest first (the order given). `problems`: plain-word
    notes on failing feeds among those asked for (a failure is never shown as "no news": the
    note comes first, then whatever older stories exist)."""
    title = "Latest stories"
    if topic:
        title += f" about {escape_markdown(trim(topic, 80))}"
    if feed:
        title += f" from {escape_markdown(trim(feed, 80))}"
    lines = [story_line(s) for s in stories]
    if problems:
        older = [say("latest.older", lang)] if lines else []
        lines = [f"⚠️ {escape_markdown(trim(p, 500))}" for p in problems] + older + lines
    if not lines:
        lines = [say("latest.none", lang)]
    return group_embeds(list_embeds(title, lines, COLOR_WARN if problems else COLOR_INFO))


def _source_link(a: StoryArticle) -> str:
    return _link(escape_markdown(trim(a.feed or a.host or "source", 60)), a.url)


def source_links(story: Story, limit: int = FIELD_VALUE_LIMIT) -> str:
    """'[deepmind](url) · [ainews](url) · +2 more' (whole links only, within `limit`)."""
    links = [_source_link(a) for a in story.articles]
    out = ""
    for i, link in enumerate(links):
        rest = len(links) - i - 1
        more = f" · +{rest} more" if rest else ""
        candidate = f"{out} · {link}" if out else link
        if dlen(candidate + more) > limit:
            return (out + f" · +{len(links) - i} more") if out else f"{len(links)} sources"
        out = candidate
    return out


DIGEST_TITLE_CHARS = 120  # a story's title in a digest field name


def _digest_field(rank: int, story: Story) -> tuple[str, str, str]:
    """(field name, head line, the shortest value: the primary source linked, "+N more")."""
    name = trim(f"{rank}. {_title(story, DIGEST_TITLE_CHARS)}", FIELD_NAME_LIMIT)
    head = f"{_sources(story.source_count)} · {iso_day(story.last_updated)}\n"
    rest = len(story.articles) - 1
    shortest = _source_link(story.primary) + (f" · +{rest} more" if rest else "")
    return name, head, trim(head + shortest, FIELD_VALUE_LIMIT)


def render_digest(
    stories: Sequence[Story], *, heading: str, period: str, footer: str
) -> list[Payload]:
    """A digest: one embed, one field per story (best first), each with its primary source
    linked and as many of its other sources as fit ("+N more" for the rest). Stories that do not
    fit in 6,000 units with their primary link are left out, so it is always one message.
    `footer` marks the digest (the bot finds it again by it after a crash)."""
    embed = discord.Embed(
        title=trim(heading, TITLE_LIMIT),
        description=trim(period, DESCRIPTION_LIMIT),
        colour=COLOR_DIGEST,
    )
    embed.set_footer(text=trim(footer, FOOTER_LIMIT))
    total = embed_length(embed)
    fields: list[tuple[Story, str, str, str]] = []
    for rank, story in enumerate(list(stories)[:FIELDS_PER_EMBED], 1):
        name, head, shortest = _digest_field(rank, story)
        if total + dlen(name) + dlen(shortest) > EMBED_TOTAL_LIMIT:
            break
        fields.append((story, name, head, shortest))
        total += dlen(name) + dlen(shortest)
    for story, name, head, shortest in fields:  # then more sources, best stories first
        room = min(FIELD_VALUE_LIMIT, dlen(shortest) + EMBED_TOTAL_LIMIT - total) - dlen(head)
        value = head + source_links(story, room)
        if dlen(value) < dlen(shortest) or not value.strip():
            value = shortest
        total += dlen(value) - dlen(shortest)
        embed.add_field(name=name, value=value, inline=False)
    return group_embeds([embed])


def render_watch(topic: str, stories: Sequence[Story], footer: str) -> list[Payload]:
    """A watch notification: one story with its sources, or (several held back by the rate
    limit) a list of them, newest first."""
    about = escape_markdown(trim(topic, 100))
    if len(stories) == 1:
        story = stories[0]
        embed = discord.Embed(
            title=trim(_title(story, 240), TITLE_LIMIT),
            url=safe_url(story.primary.url),
            description=(
                f"New story matching your watch **{about}** · {_sources(story.source_count)}"
                f" · {iso_day(story.last_updated)}"
            ),
            colour=COLOR_WATCH,
        )
        lines = [
            f"{_link(_title(a), a.url)} — {escape_markdown(trim(a.feed, 60))},"
            f" {iso_day(a.published)}"
            for a in story.articles[:10]
        ]
        if len(story.articles) > 10:
            lines.append(f"…and {len(story.articles) - 10} more")
        value = ""
        for line in lines:
            line = trim(line, FIELD_VALUE_LIMIT)
            if dlen(value) + dlen(line) + 1 > FIELD_VALUE_LIMIT:
                break
            value = f"{value}\n{line}" if value else line
        embed.add_field(name="Sources", value=value or "-", inline=False)
        embed.set_footer(text=trim(footer, FOOTER_LIMIT))
        return group_embeds([embed])
    shown = sorted(stories, key=lambda s: s.last_updated, reverse=True)[:FOLDED_LIMIT]
    lines = [story_line(s) for s in shown]
    if len(stories) > len(shown):
        lines.append(f"…and {len(stories) - len(shown)} more (`/latest topic:{about}`)")
    title = f"{len(stories)} new stories matching your watch {about}"
    return group_embeds(list_embeds(title, lines, COLOR_WATCH, footer))


def digest_period_text(since: datetime, until: datetime, tz: str) -> str:
    """'Stories since 2026-08-15 09:00 (Europe/Paris)', in the schedule's zone."""
    zone = ZoneInfo(tz)
    start = since.astimezone(zone)
    end = until.astimezone(zone)
    return f"New since {start:%Y-%m-%d %H:%M} until {end:%Y-%m-%d %H:%M} ({tz})."
