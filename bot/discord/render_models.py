"""The model directory in Discord: a model's card (`/model name`) and the families with their
newest version (`/models`), as embeds within Discord's limits. Pure: no Discord connection.

Every piece of text that comes from the feeds (model names as articles write them, article
titles, fact values) is escaped by the one escaping function of every Discord surface
(bot.discord.safe_text, through `plain`); links go through render.safe_url."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.discord.layout import (
    COLOR_INFO,
    COLOR_NOT_ANSWERED,
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    FIELDS_PER_EMBED,
    FOOTER_LIMIT,
    TITLE_LIMIT,
    Payload,
    dlen,
    embed_length,
    group_embeds,
    safe_url,
    trim,
)
from bot.discord.safe_text import escape_markdown
from ingest.store.model_directory import FamilyCard, ModelCard, ModelFact

FIELD_NAMES = {
    "parameters": "Parameters",
    "context": "Context window",
    "output_limit": "Output limit",
    "open_weights": "Open weights",
    "licence": "Licence",
    "price_input": "Price per 1M input tokens",
    "price_output": "Price per 1M output tokens",
    "price": "Price per 1M tokens",
    "benchmark": "Benchmarks",
}
TITLE_CHARS = 150  # an article title in a link, before escaping


def plain(text: str) -> str:
    """Feed text made inert for Discord markdown: one line, markdown and mentions escaped."""
    return escape_markdown(text)


def _link(label: str, url: str) -> str:
    target = safe_url(url)
    return f"[{label}]({target})" if target else label


def _fact_lines(facts: Sequence[ModelFact]) -> list[str]:
    """One line per value: the value, then the first article stating it (and how many more)."""
    by_value: dict[str, list[ModelFact]] = {}
    for f in facts:
        by_value.setdefault(f.value, []).append(f)
    lines = []
    for value, cites in by_value.items():
        first = cites[0]
        when = f"{first.published:%Y-%m-%d}" if first.published else "undated"
        more = f" (+{len(cites) - 1})" if len(cites) > 1 else ""
        lines.append(f"{plain(value)} — {_link(when, first.url)}{more}")
    return lines


def _field_value(lines: list[str]) -> str:
    """Lines joined within a field's limit, saying how many were left out."""
    out: list[str] = []
    for i, line in enumerate(lines):
        rest = len(lines) - i - 1
        tail = f"\n…and {rest} more" if rest else ""
        if dlen("\n".join([*out, line]) + tail) > FIELD_VALUE_LIMIT:
            out.append(f"…and {len(lines) - i} more")
            break
        out.append(line)
    return "\n".join(out)


def render_model_card(card: ModelCard) -> discord.Embed:
    """The card: first report, primary source, each field's values with their articles, where
    sources disagree, and the models.dev catalogue's facts labelled as such."""
    maker = f" · {plain(card.maker)}" if card.maker else ""
    embed = discord.Embed(
        title=trim(f"{plain(card.name)}{maker}", TITLE_LIMIT),
        url=safe_url(card.url),
        colour=COLOR_INFO,
    )
    n = card.articles
    source = _link(plain(trim(card.title, TITLE_CHARS)), card.url)
    embed.description = trim(
        f"First reported **{card.first_seen:%Y-%m-%d}** · {n} article{'s' * (n != 1)}\n"
        f"Primary source: {source}",
        DESCRIPTION_LIMIT,
    )
    by_field: dict[str, list[ModelFact]] = {}
    for f in card.facts:
        by_field.setdefault(f.field, []).append(f)
    disagree = set(card.disagreements())
    fields = []
    for name, facts in by_field.items():
        label = FIELD_NAMES.get(name, name) + (" (sources disagree)" if name in disagree else "")
        fields.append((trim(label, FIELD_NAME_LIMIT), _field_value(_fact_lines(facts))))
    if card.catalogue:
        lines = [f"{FIELD_NAMES.get(f.field, f.field)}: {plain(f.value)}" for f in card.catalogue]
        fields.append(("models.dev catalogue (not from the news)", _field_value(lines)))
    if not card.facts:
        embed.set_footer(text="The articles state no facts about it yet.")
    for name, value in fields[:FIELDS_PER_EMBED]:
        embed.add_field(name=name, value=value, inline=False)
        if embed_length(embed) > EMBED_TOTAL_LIMIT:
            embed.remove_field(len(embed.fields) - 1)
            break
    return embed


def render_not_found(name: str) -> str:
    return (
        f'The news in the corpus reports no model called "{plain(name)[:100]}". '
        "`/models` lists the families it knows."
    )


def render_families(families: Sequence[FamilyCard]) -> discord.Embed:
    """One line per family: its maker, newest release and when it was first reported."""
    embed = discord.Embed(title="AI models in the news", colour=COLOR_INFO)
    if not families:
        embed.colour = COLOR_NOT_ANSWERED
        embed.description = "No models in the corpus yet: they are read from the articles."
        return embed
    lines = []
    for fam in families:
        card = fam.newest
        maker = f" ({plain(fam.maker)})" if fam.maker else ""
        name = _link(plain(card.name), card.url)
        lines.append(f"**{plain(fam.name)}**{maker}: {name} · {card.first_seen:%Y-%m-%d}")
    shown: list[str] = []
    for i, line in enumerate(lines):
        tail = f"\n…and {len(lines) - i} more families (`/model name` for one)"
        if dlen("\n".join([*shown, line]) + tail) > DESCRIPTION_LIMIT:
            shown.append(tail.strip())
            break
        shown.append(line)
    embed.description = "\n".join(shown)
    embed.set_footer(text="Newest release per family; /model name shows a model's card")
    return embed


def render_new_versions(cards: Sequence[ModelCard], footer: str) -> list[Payload]:
    """A version watch's message: each new version's card (newest first)."""
    embeds = []
    for card in cards:
        embed = render_model_card(card)
        embed.title = trim(f"New in the news: {embed.title}", TITLE_LIMIT)
        embed.set_footer(text=trim(footer, FOOTER_LIMIT))
        embeds.append(embed)
    return group_embeds(embeds)
