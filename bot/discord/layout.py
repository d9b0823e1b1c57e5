"""How a Discord message is laid out: the documented limits, `Payload` (one message), lengths
in UTF-16 units, trimming, splitting text at safe boundaries, grouping embeds into messages, and
the bot's colours. Every renderer (render, render_stories, render_models) builds on these, so
each limit is kept in one place:

* 2,000 characters of message content,
* 256 for an embed title and a field name, 4,096 for a description, 1,024 for a field value,
  2,048 for a footer, 25 fields per embed,
* 10 embeds per message and 6,000 characters across all embeds of one message.

Lengths are counted in UTF-16 code units (`dlen`), which is never less than the number of code
points, so a payload within our count is within Discord's whichever way it counts.

Text is split at paragraph, line, sentence or word boundaries, never inside a citation marker
("[3]"), a markdown link ("[Title](https://...)"), a bare URL or an escape sequence. Nothing
here escapes text: bot.discord.safe_text is the one place for that."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import discord

CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FIELDS_PER_EMBED = 25
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000  # across all embeds of one message
EMBEDS_PER_MESSAGE = 10

SOURCE_TITLE_CHARS = 180  # a source's title is trimmed to this before escaping
URL_CHARS = 600  # longer URLs are not linked (they would crowd out everything else)

COLOR_ANSWER = discord.Colour(0x5865F2)
COLOR_NOT_ANSWERED = discord.Colour(0x99AAB5)
COLOR_INFO = discord.Colour(0x2B8A3E)
COLOR_WARN = discord.Colour(0xE67700)

CONTINUED = " (cont.)"


@dataclass
class Payload:
    """One Discord message: optional content plus up to 10 embeds."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)


# ---------------------------------------------------------------------------- lengths & trimming
def dlen(text: str | None) -> int:
    """Length as Discord may count it: UTF-16 code units (≥ code points)."""
    if not text:
        return 0
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def fit_prefix(text: str, limit: int) -> int:
    """Number of leading characters of `text` whose `dlen` is at most `limit`."""
    if len(text) <= limit and dlen(text) <= limit:
        return len(text)
    units = 0
    for i, c in enumerate(text):
        units += 2 if ord(c) > 0xFFFF else 1
        if units > limit:
            return i
    return len(text)


def trim(text: str, limit: int, ellipsis: str = "…") -> str:
    """`text` cut to `limit` units (ending with an ellipsis when cut)."""
    if dlen(text) <= limit:
        return text
    keep = fit_prefix(text, max(0, limit - dlen(ellipsis)))
    cut = text[:keep].rstrip()
    if cut.endswith("\\"):  # do not leave a dangling escape that would eat the ellipsis
        cut = cut[:-1]
    return cut + ellipsis


def embed_length(embed: discord.Embed) -> int:
    """What counts towards the 6,000-character limit, in `dlen` units."""
    total = dlen(embed.title) + dlen(embed.description)
    total += sum(dlen(f.name) + dlen(f.value) for f in embed.fields)
    total += dlen(embed.footer.text) + dlen(embed.author.name)
    return total


# ---------------------------------------------------------------------------- untrusted text
def safe_url(url: str) -> str | None:
    """An http(s) URL usable inside a markdown link, or None when it cannot be linked safely."""
    url = url.strip()
    if not re.match(r"https?://[^/\s]", url, re.IGNORECASE):
        return None
    for bad, good in ((" ", "%20"), ("(", "%28"), (")", "%29"), ("<", "%3C"), (">", "%3E")):
        url = url.replace(bad, good)
    if any(ord(c) < 33 for c in url) or dlen(url) > URL_CHARS:
        return None
    return url


def format_when(dt: datetime | None) -> str:
    """Absolute UTC time plus a Discord relative timestamp (rendered in fields/descriptions)."""
    if dt is None:
        return "never"
    dt = dt.astimezone(UTC)
    return f"{dt:%Y-%m-%d %H:%M} UTC (<t:{int(dt.timestamp())}:R>)"


# ---------------------------------------------------------------------------- splitting
# Spans that must never be cut: markdown links, citation markers, <url>, bare URLs, escapes.
_PROTECTED_RE = re.compile(
    r"\[(?:\\.|[^\[\]\\\n])*\]\([^()\s]*\)"  # [label](url), label may hold escapes
    r"|\[\d+(?:\s*[,;–-]\s*\d+)*\]"  # [3], [1, 2], [2-4]
    r"|<https?://[^>\s]*>"  # <https://...>
    r"|https?://[^\s<>()\[\]]+"  # bare URL
    r"|\\[^A-Za-z0-9\s]",  # \* escape
    re.IGNORECASE,
)
# Preferred cut points, best first, with the minimum fraction of the limit they must reach.
_SEPARATORS: tuple[tuple[str, float], ...] = (
    ("\n\n", 0.5),
    ("\n", 0.5),
    (". ", 0.3),
    ("? ", 0.3),
    ("! ", 0.3),
    ("; ", 0.3),
    (", ", 0.3),
    (" ", 0.0),
)


def _protected_spans(text: str) -> tuple[list[int], list[int]]:
    starts: list[int] = []
    ends: list[int] = []
    for m in _PROTECTED_RE.finditer(text):
        starts.append(m.start())
        ends.append(m.end())
    return starts, ends


def _inside(pos: int, starts: list[int], ends: list[int]) -> tuple[int, int] | None:
    """The protected span strictly containing the cut position `pos`, if any."""
    i = bisect.bisect_left(starts, pos) - 1  # last span starting before pos
    if i >= 0 and ends[i] > pos:
        return starts[i], ends[i]
    return None


def _best_cut(text: str, hard: int) -> int:
    starts, ends = _protected_spans(text)
    for sep, min_frac in _SEPARATORS:
        floor = max(1, int(hard * min_frac))
        end = hard
        while True:
            idx = text.rfind(sep, 0, end)
            if idx < 0:
                break
            cut = idx + len(sep)
            if cut < floor:
                break
            if _inside(cut, starts, ends) is None:
                return cut
            end = idx  # inside a protected span: look further left
    span = _inside(hard, starts, ends)
    if span is not None and span[0] > 0:
        return span[0]  # cut just before the span rather than through it
    return hard  # a single unbreakable run longer than the limit: no choice left


def split_text(text: str, limit: int) -> list[str]:
    """Split `text` into pieces of at most `limit` units at the best boundaries available."""
    if limit < 2:
        raise ValueError("limit too small")
    pieces: list[str] = []
    rest = text.strip()
    while dlen(rest) > limit:
        hard = max(1, fit_prefix(rest, limit))
        cut = _best_cut(rest, hard)
        piece = rest[:cut].rstrip()
        if not piece:  # only whitespace before the cut: take the hard prefix
            piece, cut = rest[:hard], hard
        pieces.append(piece)
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def pack_lines(lines: Iterable[str], limit: int, sep: str = "\n") -> list[str]:
    """Group whole lines into blocks of at most `limit` units (a longer line is trimmed)."""
    blocks: list[str] = []
    current = ""
    for raw in lines:
        line = trim(raw, limit)
        if not current:
            current = line
        elif dlen(current) + dlen(sep) + dlen(line) <= limit:
            current += sep + line
        else:
            blocks.append(current)
            current = line
    if current:
        blocks.append(current)
    return blocks


def group_embeds(embeds: Sequence[discord.Embed], content: str | None = None) -> list[Payload]:
    """Group embeds into messages: ≤ 10 per message and ≤ 6,000 units across them."""
    payloads: list[Payload] = []
    current = Payload(content=content)
    total = 0
    for embed in embeds:
        size = embed_length(embed)
        if current.embeds and (
            len(current.embeds) >= EMBEDS_PER_MESSAGE or total + size > EMBED_TOTAL_LIMIT
        ):
            payloads.append(current)
            current, total = Payload(), 0
        current.embeds.append(embed)
        total += size
    if current.embeds or current.content:
        payloads.append(current)
    return payloads


def text_payloads(text: str) -> list[Payload]:
    """Plain text (already safe) as one or more content-only messages."""
    return [Payload(content=piece) for piece in split_text(text, CONTENT_LIMIT)] or [
        Payload(content="…")
    ]


# ---------------------------------------------------------------------------- lists
def list_embeds(
    title: str, lines: Sequence[str], colour: discord.Colour, footer: str | None = None
) -> list[discord.Embed]:
    """Lines packed into descriptions (the title on the first embed, the footer on the last)."""
    blocks = pack_lines(lines, DESCRIPTION_LIMIT - 100) or ["(nothing)"]
    embeds = [
        discord.Embed(
            title=trim(title, TITLE_LIMIT) if i == 0 else None, description=block, colour=colour
        )
        for i, block in enumerate(blocks)
    ]
    if footer:
        embeds[-1].set_footer(text=trim(footer, FOOTER_LIMIT))
    return embeds
