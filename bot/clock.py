"""Time for the bot's schedules, injectable: the digest scheduler and the watch checks read
`clock.now()` and wait with `clock.sleep()`. Tests pass a clock whose time they set and whose
sleep never ends by itself, then drive the scheduler's `tick()` themselves (no sleeps)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def run_every(
    clock: Clock, seconds: float, jobs: Sequence[tuple[str, Callable[[], Awaitable[object]]]]
) -> None:
    """Run each job every `seconds` (by `clock`), forever; a failing job is logged and the
    others go on. Cancel the task to stop."""
    while True:
        await clock.sleep(seconds)
        for name, job in jobs:
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed", name)
