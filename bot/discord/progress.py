"""An ingest or re-index started from Discord, shown as the command's response edited in place
with its progress (at most one edit per EDIT_INTERVAL seconds) and then its summary."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import discord

from bot.discord.jobs import (
    EDIT_INTERVAL,
    IngestJobs,
    JobBusy,
    ProgressState,
    Throttle,
    format_progress,
    format_report,
)
from bot.discord.replies import NO_MENTIONS
from ingest.models import IngestLocked

log = logging.getLogger(__name__)

IDLE_REFRESH = 10.0  # seconds: refresh the elapsed time of a job that reports no progress
LOCKED = (
    "Another ingest (probably `newsbot ingest` on the server) is running right now; please try "
    "again when it has finished."
)


async def run_job_with_progress(
    jobs: IngestJobs,
    interaction: discord.Interaction[Any],
    label: str,
    *,
    only: Sequence[str],
    reindex: bool,
    busy_note: str = "",
) -> bool:
    """Run an ingest job, editing the original response with its progress, then its report.
    False when it could not start (another job, or another process's ingest)."""
    state = ProgressState()
    throttle = Throttle(EDIT_INTERVAL)
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def edit(text: str) -> None:
        await asyncio.sleep(throttle.wait_time())
        throttle.mark()
        try:
            await interaction.edit_original_response(content=text, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as e:  # e.g. the 15-minute token expired
            log.warning("interaction %s: progress edit failed (%s)", interaction.id, e)

    await edit(format_progress(label, None, 0))
    task = asyncio.create_task(jobs.run(label, only=only, reindex=reindex, progress=state))
    shown = state.version
    while not task.done():
        await asyncio.wait({task}, timeout=0.5)
        if task.done() or not throttle.due():
            continue
        idle = throttle.last is None or throttle.clock() - throttle.last >= IDLE_REFRESH
        if state.version != shown or idle:  # new progress, or show that it is still alive
            shown = state.version
            await edit(format_progress(label, state.latest, loop.time() - started))
    try:
        report = task.result()
    except JobBusy as e:
        await edit(f"{e}. {busy_note}".strip())
        return False
    except IngestLocked:
        await edit(f"{LOCKED} {busy_note}".strip())
        return False
    await edit(format_report(label, report))
    return True
