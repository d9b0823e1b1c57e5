"""Retrieved evidence as an answer cites it: hits grouped by article, a chunk's text without its
title line, numbered sources, the date prefix of an answer line, a source's label."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from bot.messages import format_day
from bot.models import Hit, LatestItem, Source


def to_source(n: int, hit: Hit) -> Source:
    feeds = tuple(hit.feeds)
    return Source(
        n=n,
        article_id=hit.article_id,
        title=hit.title,
        url=hit.url,
        feed=feeds[0] if feeds else "",
        published=hit.published,
        feeds=feeds,
    )


def item_source(n: int, item: LatestItem) -> Source:
    """A listed item as a numbered citation."""
    return Source(
        n=n,
        article_id=item.article_id,
        title=item.title,
        url=item.url,
        feed=item.feeds[0] if item.feeds else "",
        published=item.published,
        feeds=tuple(item.feeds),
    )


def group_articles(hits: Sequence[Hit]) -> list[list[Hit]]:
    """Hits grouped by article, in order of each article's best hit."""
    groups: dict[str, list[Hit]] = {}
    for h in hits:
        groups.setdefault(h.article_id, []).append(h)
    return list(groups.values())


def chunk_order(hit: Hit) -> int:
    tail = hit.chunk_id.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def body(hit: Hit) -> str:
    """The chunk text without its leading title line."""
    text = hit.text or ""
    first, sep, rest = text.partition("\n")
    title = (hit.title or "").strip()
    if title and first.strip() == title[: len(first.strip())] and first.strip():
        return rest if sep else ""
    if title and text.startswith(title):
        return text[len(title) :]
    return text


def date_prefix(published: datetime | None, lang: str = "en") -> str:
    """The date before an article's sentences, in the question's language."""
    return f"({format_day(published, lang)}) " if published else ""


def source_label(feeds: Sequence[str]) -> str:
    base = sorted({re.sub(r"\s*\([^)]*\)\s*$", "", f) for f in feeds}, key=len)
    return base[0] if base else "that source"
