"""Wiring of digests and watches into the bot: their store, services and cogs, each given its
dependencies explicitly, and the task that runs the digest tick and the watch check on the
bot's clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from discord.ext import commands

from bot.clock import Clock, run_every
from bot.digest_schedule import zone_names
from bot.discord.digests import DigestCommands, DigestService
from bot.discord.watches import WatchCommands, WatchService
from bot.subscriptions import (
    SubscriptionSettings,
    SubscriptionStore,
    load_subscription_settings,
    subscriptions_path,
)

if TYPE_CHECKING:
    from bot.engine import Engine
    from ingest.config import Settings


@dataclass
class Subscriptions:
    store: SubscriptionStore
    digests: DigestService
    watches: WatchService
    clock: Clock
    limits: SubscriptionSettings
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def start(self) -> None:
        """Check digests and watches every NEWSBOT_SUBSCRIPTIONS_TICK_SECONDS of the clock."""
        if self.task is None:
            jobs = [("digest tick", self.digests.tick), ("watch check", self.watches.check)]
            every = self.limits.subscriptions_tick_seconds
            self.task = asyncio.create_task(
                run_every(self.clock, every, jobs), name="newsbot-subscriptions"
            )

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
            self.task = None
        await asyncio.to_thread(self.store.close)


async def install_subscriptions(
    bot: commands.Bot,
    *,
    engine: Engine,
    settings: Settings,
    clock: Clock,
    run_engine: Callable[..., Any],
    limits: SubscriptionSettings | None = None,
) -> Subscriptions:
    """Open the subscriptions store (settling watch notifications a crash interrupted) and add
    the /digest and /watch cogs. Call `start()` on the result to run the schedules."""
    if limits is None:
        limits = await asyncio.to_thread(load_subscription_settings)
    store = await asyncio.to_thread(SubscriptionStore, subscriptions_path(settings.data_dir))
    await asyncio.to_thread(store.settle_interrupted_hits)
    digests = DigestService(bot, engine, store, clock, settings, limits)
    watches = WatchService(bot, engine, store, clock, settings, limits, run_engine)
    await asyncio.to_thread(watches.start_watermark)
    await asyncio.to_thread(zone_names)  # the time zone list, read once, off the event loop
    await bot.add_cog(DigestCommands(digests, store, settings, clock))
    await bot.add_cog(WatchCommands(engine, store, settings, limits, clock))
    return Subscriptions(store, digests, watches, clock, limits)


async def add_subscription_definitions(bot: commands.Bot) -> None:
    """Only the /digest and /watch definitions, for `newsbot sync` (no handler runs there)."""
    for cog in (DigestCommands, WatchCommands):
        await bot.add_cog(cog.__new__(cog))
