"""When a channel's digest is due and which stories it lists. Pure functions (no I/O, no Discord).

A schedule is daily or weekly (one weekday) at a whole hour of an IANA time zone. Its
*occurrences* are that local time on those days; the *period* of an occurrence is named by its
local date ("2026-08-16"), and a channel gets at most one digest per period (the store's
claim is unique on channel + period). Local times that do not exist (a DST gap: 02:00 on the
spring-forward night) are taken with the offset before the change, so they fall an hour later
in local time; repeated ones (the autumn night) are the first of the two.

Which stories a digest lists (`select_digest`): the stories created or given a new article
since the previous digest of the channel (by the corpus's story sequence, so an article that
arrives late from a slow feed is not lost between two digests), not listed by an earlier
digest of the channel, and with news from the period (last update at most one period before
the previous digest: old items of a newly added feed are not "new"). They are ranked by
bot.stories.digest.digest_score: how many publishers carry them, weighted by recency.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cache

from bot.stories.digest import digest_score
from ingest.store.stories import Story

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CADENCES = ("daily", "weekly")


@dataclass(frozen=True)
class DigestSchedule:
    """One channel's digest: `weekday` (0 = Monday) only for weekly ones."""

    channel_id: int
    guild_id: int
    cadence: str
    hour: int
    tz: str
    weekday: int | None = None
    created: datetime = datetime(1970, 1, 1, tzinfo=UTC)
    created_by: int = 0

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.tz)

    @property
    def period(self) -> timedelta:
        return timedelta(days=7 if self.cadence == "weekly" else 1)

    def describe(self) -> str:
        """'daily at 09:00 (Europe/Paris)' / 'weekly on Monday at 09:00 (UTC)'."""
        when = f"at {self.hour:02d}:00 ({self.tz})"
        if self.cadence == "weekly" and self.weekday is not None:
            return f"weekly on {WEEKDAYS[self.weekday]} {when}"
        return f"daily {when}"


@cache
def zone_names() -> dict[str, str]:
    """Every IANA zone name by its casefolded form (read from disk once: call it off the event
    loop first)."""
    return {name.casefold(): name for name in zoneinfo.available_timezones()}


def parse_timezone(name: str) -> str:
    """The canonical IANA name for `name` ("europe/paris" → "Europe/Paris", "utc" → "UTC"), or
    ValueError with one line saying what is accepted."""
    cleaned = name.strip().replace(" ", "_")
    found = zone_names().get(cleaned.casefold())
    if found is None:
        shown = name.strip()[:60] or "(empty)"
        raise ValueError(
            f"'{shown}' is not a time zone I know. Use an IANA name such as Europe/Paris, "
            "America/New_York, Asia/Jakarta or UTC."
        )
    return found


def zone_choices(current: str, limit: int = 25) -> list[str]:
    """Time zone names for autocomplete: those containing what was typed, prefix matches
    first (with nothing typed: a few common ones)."""
    cur = current.strip().casefold().replace(" ", "_")
    if not cur:
        return ["UTC", "Europe/London", "Europe/Paris", "America/New_York", "Asia/Jakarta"]
    names = sorted(zone_names().values())
    ranked = sorted(
        (n for n in names if cur in n.casefold()),
        key=lambda n: (not n.casefold().startswith(cur), "/" + cur not in n.casefold(), n),
    )
    return ranked[:limit]


def _at(day: datetime, schedule: DigestSchedule) -> datetime:
    """The schedule's hour on a local calendar day, as an aware UTC time."""
    local = datetime.combine(day.date(), time(schedule.hour), tzinfo=schedule.zone)
    return local.astimezone(UTC)


def last_occurrence(schedule: DigestSchedule, now: datetime) -> datetime:
    """The latest scheduled time at or before `now` (UTC)."""
    local_now = now.astimezone(schedule.zone)
    back = 0
    if schedule.cadence == "weekly" and schedule.weekday is not None:
        back = (local_now.weekday() - schedule.weekday) % 7
    candidate = _at(local_now - timedelta(days=back), schedule)
    step = 7 if schedule.cadence == "weekly" else 1
    while candidate > now:
        back += step
        candidate = _at(local_now - timedelta(days=back), schedule)
    return candidate


def next_occurrence(schedule: DigestSchedule, now: datetime) -> datetime:
    """The first scheduled time after `now` (UTC)."""
    last = last_occurrence(schedule, now)
    local = last.astimezone(schedule.zone)
    step = 7 if schedule.cadence == "weekly" else 1
    for days in range(step, step * 3):  # a DST change never moves an hour by a day
        candidate = _at(local + timedelta(days=days), schedule)
        if candidate > now:
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover


def period_key(schedule: DigestSchedule, occurrence: datetime) -> str:
    """The period an occurrence opens, named by its local date."""
    return occurrence.astimezone(schedule.zone).date().isoformat()


def due_period(schedule: DigestSchedule, now: datetime) -> tuple[str, datetime] | None:
    """(period, occurrence) of the digest due at `now`: the latest occurrence, unless it is
    before the schedule was made (the first digest is the next occurrence). Several missed
    occurrences (the bot was down) give one digest, for the latest."""
    occurrence = last_occurrence(schedule, now)
    if occurrence < schedule.created:
        return None
    return period_key(schedule, occurrence), occurrence


def select_digest(
    stories: Sequence[Story],
    *,
    since: datetime,
    now: datetime,
    after_seq: int,
    already_listed: Collection[int],
    limit: int,
    period: timedelta,
) -> list[Story]:
    """The stories of the next digest, best first (see the module doc)."""
    fresh = [
        s
        for s in stories
        if s.seq > after_seq
        and s.id not in already_listed
        and s.last_updated >= since - period
        and s.first_seen <= now
    ]
    fresh.sort(key=lambda s: (-digest_score(s, since, now), -s.last_updated.timestamp(), -s.id))
    return fresh[: max(0, limit)]
