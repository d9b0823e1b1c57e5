"""Ingest jobs run by the bot: scheduled ingests and maintainer re-indexes, one at a time, in a
worker thread (embedding must never block the gateway heartbeat), sharing the ingest file lock
with the command line. Progress and report formatting are pure functions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import discord
from discord.ext import tasks

from bot.discord.replies import PublicError
from ingest.models import NewsbotError, utcnow

# Imported with this module (at start-up, before the gateway connects), not in a handler: a
# first import on the event loop holds it for a few hundred ms (feedparser, aiohttp, ...).
from ingest.pipeline import IngestLocked, IngestReport, run_ingest

if TYPE_CHECKING:
    from bot.config import DiscordSettings
    from bot.engine import Engine

log = logging.getLogger(__name__)

MIN_START_DELAY = 30.0  # seconds after start-up before the first scheduled ingest
EDIT_INTERVAL = 2.0  # at most one progress edit per this many seconds


class JobBusy(NewsbotError, PublicError):
    """The bot is already running an ingest or re-index (its text is fit for Discord)."""

    def __init__(self, running: str) -> None:
        super().__init__(f"{running} is already running; please try again when it has finished")
        self.running = running


class ProgressState:
    """Written by the worker thread (the pipeline's progress callback), read by the event loop.
    Assigning a tuple is atomic, so no lock is needed."""

    def __init__(self) -> None:
        self.latest: tuple[str, int, int] | None = None
        self.version = 0
        self.started = time.monotonic()

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.latest = (stage, done, total)
        self.version += 1


class Throttle:
    """At most one event per `interval` seconds."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.last: float | None = None

    def wait_time(self) -> float:
        if self.last is None:
            return 0.0
        return max(0.0, self.interval - (self.clock() - self.last))

    def due(self) -> bool:
        return self.wait_time() == 0.0

    def mark(self) -> None:
        self.last = self.clock()


def job_label(feed: str | None, reindex: bool) -> str:
    what = f"feed {feed}" if feed else "all feeds"
    return f"Re-index of {what}" if reindex else f"Ingest of {what}"


def format_progress(label: str, progress: tuple[str, int, int] | None, elapsed: float) -> str:
    head = f"⏳ {label}: "
    if progress is None:
        return head + f"starting… ({elapsed:.0f} s)"
    stage, done, total = progress
    verb = {"embed": "embedding", "fetch": "fetching", "parse": "parsing"}.get(stage, stage)
    unit = "chunks" if stage == "embed" else "items"
    pct = f" ({100 * done // total}%)" if total else ""
    return head + f"{verb} {done:,}/{total:,} {unit}{pct} · {elapsed:.0f} s"


def format_report(label: str, report: IngestReport) -> str:
    """One short summary of a finished job (with the failing feeds, if any)."""
    lines = [
        f"✅ {label} finished in {report.seconds:.1f} s: {report.embedded_chunks:,} chunks from "
        f"{report.embedded_articles:,} articles embedded."
    ]
    if report.feeds:
        new = sum(f.new for f in report.feeds)
        updated = sum(f.updated for f in report.feeds)
        lines.append(f"{len(report.feeds)} feeds fetched: {new:,} new, {updated:,} updated.")
    for f in report.failed[:5]:
        lines.append(f"⚠️ {f.name}: {(f.error or 'failed')[:200]}")
    if len(report.failed) > 5:
        lines.append(f"…and {len(report.failed) - 5} more failing feeds (see /sources).")
    if report.pending:
        lines.append(f"{report.pending:,} articles still wait to be embedded.")
    return "\n".join(lines)


def initial_delay(last_ingest: datetime | None, interval_s: float, now: datetime) -> float:
    """Seconds until the first scheduled ingest: when the last one is an interval old, but not
    sooner than MIN_START_DELAY (so start-up and command sync come first)."""
    if last_ingest is None:
        return MIN_START_DELAY
    remaining = interval_s - (now - last_ingest).total_seconds()
    return max(MIN_START_DELAY, remaining)


class IngestJobs:
    """One ingest job at a time in this process; the file lock guards against other processes.
    `schedule` (a discord.ext.tasks loop, started by `start_schedule`) runs one every
    NEWSBOT_INGEST_INTERVAL_MINUTES once `client` is ready; `after_ingest` is told each
    finished ingest (not re-indexes)."""

    def __init__(
        self,
        settings: DiscordSettings,
        engine: Engine,
        client: discord.Client | None = None,
        after_ingest: Callable[[IngestReport], None] | None = None,
    ) -> None:
        """`client`: the connection whose readiness the schedule waits for (None: none)."""
        self.settings = settings
        self.engine = engine
        self.client = client
        self.after_ingest = after_ingest
        self.running: str | None = None
        self._lock = asyncio.Lock()
        if settings.ingest_interval_minutes > 0:
            self.schedule.change_interval(minutes=settings.ingest_interval_minutes)

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    async def run(
        self,
        label: str,
        *,
        only: Sequence[str] = (),
        reindex: bool = False,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> IngestReport:
        """Run one ingest in a worker thread. Raises JobBusy or ingest.pipeline.IngestLocked."""
        if self._lock.locked():
            raise JobBusy(self.running or "Another job")
        async with self._lock:
            self.running = label
            log.info("%s started", label)
            try:
                report = await asyncio.to_thread(
                    run_ingest,
                    self.settings,
                    only=list(only),
                    reindex=reindex,
                    progress=progress,
                    corpus=self.engine.corpus,
                    embedder=self.engine.embedder,
                )
            finally:
                self.running = None
        log.info(
            "%s finished in %.1f s: %d chunks embedded, %d feeds failed",
            label,
            report.seconds,
            report.embedded_chunks,
            len(report.failed),
        )
        if self.after_ingest is not None and not reindex:
            self.after_ingest(report)
        return report

    # ------------------------------------------------------------------ schedule
    def start_schedule(self) -> None:
        """Start the scheduled ingests (none when the interval is 0, or already started)."""
        if self.settings.ingest_interval_minutes > 0 and not self.schedule.is_running():
            self.schedule.start()

    async def stop_schedule(self) -> None:
        task = self.schedule.get_task()
        self.schedule.cancel()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    @tasks.loop(minutes=60)  # the interval is NEWSBOT_INGEST_INTERVAL_MINUTES (constructor)
    async def schedule(self) -> None:
        """One scheduled ingest; a turn another job holds is skipped, a failure logged."""
        try:
            await self.run("Scheduled ingest")
        except (JobBusy, IngestLocked) as e:
            log.info("scheduled ingest skipped: %s", e)
        except Exception:
            log.exception("scheduled ingest failed")

    @schedule.before_loop
    async def _first_turn(self) -> None:
        """Once ready, wait until the last ingest is an interval old (at least MIN_START_DELAY)."""
        if self.client is not None:
            await self.client.wait_until_ready()
        interval = self.settings.ingest_interval_minutes * 60
        last = await asyncio.to_thread(self.engine.corpus.get_meta, "last_ingest")
        delay = initial_delay(datetime.fromisoformat(last) if last else None, interval, utcnow())
        log.info("scheduled ingest every %.0f min; first run in %.0f s", interval / 60, delay)
        await asyncio.sleep(delay)
