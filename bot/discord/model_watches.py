"""Watches on a model family's versions: `/watch add "Qwen versions"` (or "GPT models", "new
Claude releases": a family's name with version, release or model) tells the watcher once per
new version of that family the news reports (ingest.store.model_directory: `new_versions`
after a watermark kept in the bot's store), instead of matching stories. A topic that is only
a name ("Qwen") stays a story watch. Run by the watch check (bot.discord.watches) after every
ingest and every tick.

Delivery is at most once: the watermark moves past the new versions before anything is sent.
A version counts as new when the corpus first reports it (other than as a rumour) after the
last check, whatever the article's date; at most MAX_PER_MESSAGE versions go in one message."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import discord

from bot.discord.digests import ChannelGone
from bot.discord.render_models import render_new_versions
from bot.discord.replies import send_to_channel
from bot.discord.subscription_store import Watch
from ingest.modelnames import families, read_model
from ingest.store.model_directory import ModelCard, ModelDirectory

if TYPE_CHECKING:
    from bot.discord.access import Access
    from bot.discord.subscription_store import SubscriptionStore

log = logging.getLogger(__name__)

WATERMARK = "watch_model_seq"  # meta key: the last model-version sequence number told
MAX_PER_MESSAGE = 5
_ASKS_VERSIONS = frozenset("version versions release releases model models".split())
_FILLER = _ASKS_VERSIONS | {"new", "the", "all", "every", "of"}
Target = Callable[[Watch], Awaitable[discord.abc.Messageable]]


def watched_family(topic: str) -> str | None:
    """The family whose versions a watch's topic asks for ("Qwen versions", "GPT models",
    "new Claude releases"), or None ("Qwen" alone, "Claude Code", "open-weight models")."""
    words = re.findall(r"[\w.+-]+", topic.lower())
    if not _ASKS_VERSIONS & set(words):
        return None
    rest = " ".join(w for w in words if w not in _FILLER)
    if not rest:
        return None
    m = read_model(rest)
    if m is not None and not (m.version or m.size or m.variant) and m.text.lower() == rest:
        return m.family
    return rest if rest in families() else None


def family_display(key: str) -> str:
    """ "qwen" → "Qwen", "o" → "o-series"."""
    family = families().get(key)
    return family.display if family else ("o-series" if key == "o" else key)


class ModelWatchCheck:
    """Tells the watches on a family's versions about its new versions."""

    def __init__(self, directory: ModelDirectory, store: SubscriptionStore, access: Access):
        self.directory, self.store, self.access = directory, store, access

    def start_watermark(self) -> None:
        """Blocking, at start: begin with the versions of now (never the backlog)."""
        if self.store.get_meta(WATERMARK) is None:
            self.store.set_meta(WATERMARK, str(self.directory.watermark()))

    def close(self) -> None:
        self.directory.close()

    async def check(self, target: Target) -> None:
        mark = await asyncio.to_thread(self.store.get_meta, WATERMARK)
        if mark is None:
            await asyncio.to_thread(self.start_watermark)
            return
        new = await asyncio.to_thread(self.directory.new_versions, int(mark))
        if not new:
            return
        top = max(seq for seq, _ in new)
        await asyncio.to_thread(self.store.set_meta, WATERMARK, str(top))  # at most once
        cards = [card for _, card in new]
        for watch in await asyncio.to_thread(self.store.watches):
            family = watched_family(watch.topic)
            mine = [c for c in cards if c.family == family]
            if mine and self.access.serves(watch.guild_id):
                await self._send(watch, mine, target)

    async def _send(self, watch: Watch, cards: Sequence[ModelCard], target: Target) -> None:
        newest = sorted(cards, key=lambda c: c.first_seen, reverse=True)[:MAX_PER_MESSAGE]
        footer = f"Watch #{watch.id} · /watch remove to stop it"
        try:
            await send_to_channel(await target(watch), render_new_versions(newest, footer))
        except (discord.HTTPException, ChannelGone, TimeoutError, OSError) as e:
            log.warning("watch %s: new model versions not delivered (%s)", watch.id, e)
            return
        log.info("watch %s: told %d new model version(s)", watch.id, len(newest))
