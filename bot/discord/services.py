"""The services the Discord cogs use, built in one place (`build_services`) and passed to each
cog's constructor, as discord.py's examples/advanced_startup.py passes its database pool and web
client to the bot. Nothing reaches for them through the bot object, so a cog test builds exactly
the services it needs."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import discord

from bot.discord.access import Access, Cooldowns
from bot.discord.alerts import FeedAlerts
from bot.discord.jobs import IngestJobs
from bot.discord.store import DiscordStore
from bot.discord.subscriptions import Subscriptions, open_subscriptions
from bot.metrics import Metrics, timed
from ingest.feednames import resolve_feed_name
from ingest.feeds import load_feeds
from ingest.models import ConfigError, utcnow

if TYPE_CHECKING:
    from bot.config import DiscordSettings
    from bot.engine import Engine
    from bot.models import Answer
    from ingest.pipeline import IngestReport

T = TypeVar("T")

AUTOCOMPLETE_TTL = 30.0  # seconds a list of feed names is reused for autocomplete


class EngineCalls:
    """Runs blocking engine calls (ask, latest on a topic) off the event loop in the bot's own
    small pool: the engine answers one question at a time, so a burst of questions waits there
    instead of filling the default pool that quick calls (autocomplete, feedback, stats) need
    within Discord's 3 seconds."""

    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="newsbot-engine")

    async def __call__(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class FeedNames:
    """Feed names: for autocomplete (the corpus's, or the feeds file's; each cached briefly) and
    to resolve what a user typed (ingest.feednames, as the command line does)."""

    def __init__(
        self, engine: Engine, feeds_file: Path, clock: Callable[[], float] = time.monotonic
    ):
        self.engine, self.feeds_file, self.clock = engine, feeds_file, clock
        self._corpus: tuple[float, list[str]] = (0.0, [])
        self._file: tuple[float, list[str]] = (0.0, [])

    def _fresh(self, cached: tuple[float, list[str]]) -> bool:
        return bool(cached[1]) and self.clock() - cached[0] <= AUTOCOMPLETE_TTL

    async def in_corpus(self) -> list[str]:
        """The feeds the corpus holds articles of (what `source:` can filter on)."""
        if not self._fresh(self._corpus):
            self._corpus = (self.clock(), await asyncio.to_thread(self.engine.feed_names))
        return self._corpus[1]

    async def in_file(self) -> list[str]:
        """The feeds of the feeds file (what `/feeds remove` can remove); the corpus's when the
        file cannot be read (its error is the scheduled ingest's to report)."""
        if not self._fresh(self._file):
            try:
                feeds = await asyncio.to_thread(load_feeds, self.feeds_file)
                names = [f.name for f in feeds]
            except ConfigError:
                names = await self.in_corpus()
            self._file = (self.clock(), names)
        return self._file[1]

    def forget(self) -> None:
        """After the feeds file changed."""
        self._corpus = self._file = (0.0, [])

    async def resolve(self, name: str | None) -> str | None:
        """The corpus feed `name` means (None for no name); raises FeedNameError."""
        if not name:
            return None
        names = await asyncio.to_thread(self.engine.feed_names)
        return resolve_feed_name(name, names)


@dataclass(frozen=True)
class Services:
    """Everything the cogs use besides the Discord connection itself."""

    settings: DiscordSettings
    engine: Engine
    access: Access
    cooldowns: Cooldowns
    jobs: IngestJobs  # scheduled ingests and maintainer re-indexes, one at a time
    alerts: FeedAlerts  # feed health changes, told in NEWSBOT_ALERT_CHANNEL_ID
    memory: DiscordStore  # the answers sent (by message id) and the feedback on them
    feeds: FeedNames
    run_engine: EngineCalls
    subscriptions: Subscriptions  # channel digests and topic watches, on the bot's clock
    threads: set[int] = field(default_factory=set)  # threads this process opened
    metrics: Metrics = field(default_factory=Metrics)  # served when NEWSBOT_METRICS_PORT is set

    async def ask(self, question: str, **options: Any) -> Answer:
        """`engine.ask` in the engine's pool, counted (answered / declined and why) and timed."""
        took = timed()
        answer = await self.run_engine(self.engine.ask, question, **options)
        self.metrics.record_answer(answer, took())
        return answer

    def close(self) -> None:
        """Blocking: stops the engine pool and closes the bot's stores (not the engine)."""
        self.run_engine.shutdown()
        self.memory.close()
        self.subscriptions.close()


def build_services(
    settings: DiscordSettings,
    engine: Engine,
    client: discord.Client,
    *,
    access: Access | None = None,
    alerts: FeedAlerts | None = None,
    clock: Callable[[], datetime] = utcnow,
    metrics: Metrics | None = None,
) -> Services:
    """The bot's services over a loaded engine, for the Discord connection `client` (blocking:
    opens the bot's stores). Feed alerts and watches are checked after every ingest the jobs
    run; `clock` is the time the digests, the watches and (unless given) the alerts read."""
    access = access or Access.from_settings(settings)
    alerts = alerts or FeedAlerts(client, settings, clock)
    run_engine = EngineCalls()
    memory = DiscordStore(settings.discord_db_path, corpus_db=settings.db_path)
    try:
        subscriptions = open_subscriptions(settings, engine, client, access, run_engine, clock)
    except BaseException:
        memory.close()
        run_engine.shutdown()
        raise

    metrics = metrics or Metrics()

    def after_ingest(report: IngestReport) -> None:
        metrics.after_ingest(report)
        alerts.after_ingest(report)
        subscriptions.after_ingest(report)

    return Services(
        settings=settings,
        engine=engine,
        access=access,
        cooldowns=Cooldowns.from_settings(settings),
        jobs=IngestJobs(settings, engine, client, after_ingest),
        alerts=alerts,
        memory=memory,
        feeds=FeedNames(engine, settings.feeds),
        run_engine=run_engine,
        subscriptions=subscriptions,
        metrics=metrics,
    )
