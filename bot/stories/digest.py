"""What a digest holds: the top stories of a period. Pure functions (no I/O), shared by
`newsbot digest` and the Discord digest.

A digest lists the stories that started in the period (first seen in [since, now)), so a story
appears in one digest, not in every digest while newsletters keep covering it. They are ranked
by how many publishers carry them, weighted by recency:

    score = sources × (0.5 + 0.5 × freshness),  freshness = 1 − age / period length

where age is the time from the story's last update to `now` (1 for a story updated at `now`,
0 for one last updated at `since`). So a fresh story with two sources outranks a three-source
story from the start of the period, and among equals the newer comes first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from ingest.store.stories import Story

DIGEST_LIMIT = 10
DEFAULT_PERIOD = timedelta(hours=24)


def digest_score(story: Story, since: datetime, now: datetime) -> float:
    span = max((now - since).total_seconds(), 1.0)
    age = (now - story.last_updated).total_seconds()
    freshness = min(1.0, max(0.0, 1.0 - age / span))
    return story.source_count * (0.5 + 0.5 * freshness)


def digest_stories(
    stories: Sequence[Story], since: datetime, now: datetime, limit: int = DIGEST_LIMIT
) -> list[Story]:
    """The top `limit` stories that started in [since, now), best first (see the module doc);
    ties go to the most recently updated, then the newest story."""
    fresh = [s for s in stories if since <= s.first_seen < now]
    fresh.sort(key=lambda s: (-digest_score(s, since, now), -s.last_updated.timestamp(), -s.id))
    return fresh[: max(0, limit)]


def digest_window(
    newest: datetime | None, since: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The period a digest covers: from `since` to `now` when a start is given; otherwise the
    last 24 hours of the corpus (ending at its newest article, or `now` if that is later than
    now or the corpus is empty), so a corpus that is not updated still has a digest."""
    if since is not None:
        return since, now
    end = min(newest, now) if newest is not None else now
    return end - DEFAULT_PERIOD, end + timedelta(seconds=1)
