"""Digests and watches as one service of the bot (bot.discord.services builds it): their store,
the digest scheduler and the watch checker, and the task that runs both every
NEWSBOT_SUBSCRIPTIONS_TICK_SECONDS. Started and stopped with the bot's other background work
(as the feed alerts are); the watch check also runs after every ingest the bot's jobs run."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import tasks

from bot.discord.digests import DigestService
from bot.discord.model_watches import ModelWatchCheck
from bot.discord.subscription_store import SubscriptionStore
from bot.discord.watches import WatchService
from bot.stories.schedule import zone_names
from ingest.store.model_directory import ModelDirectory

if TYPE_CHECKING:
    from bot.config import DiscordSettings
    from bot.discord.access import Access
    from bot.engine import Engine

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]  # the time, timezone-aware (UTC); tests hold their own


class Subscriptions:
    """The store, the digest scheduler and the watch checker; `clock` is what both read, and
    `periodic` (a discord.ext.tasks loop) runs both every `tick_seconds` once `client` is
    ready."""

    def __init__(
        self,
        client: discord.Client,
        store: SubscriptionStore,
        digests: DigestService,
        watches: WatchService,
        clock: Clock,
        tick_seconds: float,
    ) -> None:
        self.client = client
        self.store, self.digests, self.watches = store, digests, watches
        self.clock, self.tick_seconds = clock, tick_seconds
        self._pending: set[asyncio.Task[None]] = set()
        self.periodic.change_interval(seconds=tick_seconds)

    def start(self) -> None:
        """Check digests and watches every `tick_seconds` (also covers ingests run by another
        process)."""
        if not self.periodic.is_running():
            self.periodic.start()

    @tasks.loop(hours=1)  # the interval is `tick_seconds` (constructor)
    async def periodic(self) -> None:
        jobs: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("digest tick", self.digests.tick),
            ("watch check", self.watches.check),
        ]
        for name, job in jobs:
            try:
                await job()
            except Exception:
                log.exception("%s failed", name)

    @periodic.before_loop
    async def _first_tick(self) -> None:
        """The first tick one interval after the bot is ready."""
        await self.client.wait_until_ready()
        await asyncio.sleep(self.tick_seconds)

    def after_ingest(self, report: Any = None) -> None:
        """Called when an ingest finished: check the watches in the background."""
        task = asyncio.create_task(self.watches.check(), name="newsbot-watch-check")
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("watch check after an ingest failed", exc_info=task.exception())

    async def idle(self) -> None:
        """Wait for the checks already started (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel the periodic task and a watch check still running after the last ingest."""
        running = [t for t in (self.periodic.get_task(), *self._pending) if t is not None]
        self.periodic.cancel()
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def close(self) -> None:
        """Blocking: closes the store (and the model directory the watches read)."""
        self.store.close()
        if self.watches.models is not None:
            self.watches.models.close()


def open_subscriptions(
    settings: DiscordSettings,
    engine: Engine,
    client: discord.Client,
    access: Access,
    run_engine: Callable[..., Awaitable[Any]],
    clock: Clock,
) -> Subscriptions:
    """Blocking: open the store (settling watch notifications a crash interrupted), start the
    watches from the stories of now (never the backlog), read the time zone list once."""
    store = SubscriptionStore(settings.discord_db_path)
    try:
        store.settle_interrupted_hits()
        digests = DigestService(client, engine, store, access, clock, settings.digest_stories)
        models = ModelWatchCheck(ModelDirectory(settings), store, access)
        watches = WatchService(
            client, engine, store, access, clock, settings.watch_max_per_hour, run_engine, models
        )
        watches.start_watermark()
        models.start_watermark()
        zone_names()
    except BaseException:
        store.close()
        raise
    return Subscriptions(
        client, store, digests, watches, clock, settings.subscriptions_tick_seconds
    )
