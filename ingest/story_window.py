"""The stories around the articles being grouped, kept in memory for one grouping run, so that
placing an article costs about the same however many articles the corpus (or one busy week of
it) holds.

Placing an article used to read every story of its ±10-day window from SQLite and compare its
lead with each of their anchors in Python: with thousands of articles in a week, both grew with
every article placed (quadratic in all). Here:

- the window is read from SQLite once per STEP of publication time (articles are placed oldest
  first), with STEP of margin; what a placement changes (a new member, a new or merged story, a
  story's new dates) is applied to the copy in memory, so it is always what SQLite holds;
- the anchors' leads are rows of one matrix: one matrix product finds the few anchors close
  enough to matter (`near`, `near_sections`), and only those go through the Python rules of
  ingest.story_grouping; those rules, and so the stories, are the same as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np

from ingest.store.stories import RELAY
from ingest.store.story_writer import Member, Membership, StoryWriter

DAY = 86400.0
STEP = DAY  # the window is read again when the articles placed have moved on by this much
EPS = 1e-5  # a matrix product and a dot product may differ in the last bits: keep edge cases
# Anchor rows `near` gives at most (the most similar): what the Python rules look at per article
# is bounded, however many articles a week holds (a normal window has far fewer close anchors).
MAX_ROWS = 256


@dataclass
class _Story:
    first_seen: float
    last_updated: float
    members: list[Member] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)  # the members' article ids
    relays: list[Member] = field(default_factory=list)  # the members of role RELAY
    rows: list[int] = field(default_factory=list)  # its anchor rows (whole articles, vectors)


class StoryWindow:
    """The stories with news within `span` seconds of the article being placed.

    `lead(article_id)` gives an article's lead vector and publication time (None when it has no
    vectors: such an article is not a candidate); `load(ids)` makes them available."""

    def __init__(
        self,
        store: StoryWriter,
        span: float,
        load: Callable[[Sequence[str]], None],
        lead: Callable[[str], tuple[np.ndarray, float] | None],
    ) -> None:
        self.store, self.span, self._load, self._lead = store, span, load, lead
        self._at: float | None = None
        self.stories: dict[int, _Story] = {}
        self._rows: list[tuple[int, str]] = []  # (story id, article id) of each anchor row
        self._leads = np.zeros((0, 0), dtype=np.float32)
        self._when = np.zeros(0)
        self._relay = np.zeros(0, dtype=bool)
        self._relay_stories: set[int] = set()  # stories with a member of role RELAY
        self._sorted = 0  # rows [0, _sorted) are in publication order (read in that order) ...
        self._tail_sorted = True  # ... and so are those added since, while this holds
        self.refreshes = 0

    # ------------------------------------------------------------------ reading
    def ensure(self, when: float) -> None:
        """Read the window from SQLite again when `when` is outside the part read last."""
        if self._at is None or not self._at <= when <= self._at + STEP:
            self._refresh(when)

    def _refresh(self, when: float) -> None:
        start = datetime.fromtimestamp(when - self.span, UTC)
        end = datetime.fromtimestamp(when + self.span + STEP, UTC)
        members = self.store.candidates(start, end)
        self._load([m.article_id for m in members])
        leads = {m.article_id: self._lead(m.article_id) for m in members}
        members.sort(key=lambda m: lead[1] if (lead := leads[m.article_id]) else 0.0)
        self.stories, self._rows, self._at = {}, [], when
        self._relay_stories = set()
        self._leads = np.zeros((0, 0), dtype=np.float32)
        self._when, self._relay = np.zeros(0), np.zeros(0, dtype=bool)
        for m in members:
            story = self.stories.setdefault(
                m.story_id, _Story(m.story_first_seen, m.story_last_updated)
            )
            self._add(story, m)
        self._sorted, self._tail_sorted = len(self._rows), True
        self.refreshes += 1

    def _add(self, story: _Story, m: Member) -> None:
        if m.article_id in story.ids:
            return  # (story, article) is a key: a second membership is ignored, as in SQLite
        story.members.append(m)
        story.ids.add(m.article_id)
        if m.role == RELAY:
            story.relays.append(m)
            self._relay_stories.add(m.story_id)
        lead = self._lead(m.article_id) if not m.chunk_id else None
        if lead is None:
            return
        n = len(self._rows)
        if n == len(self._when):  # grow the row arrays (doubling)
            cap = max(64, 2 * n)
            leads = np.zeros((cap, lead[0].shape[0]), dtype=np.float32)
            if n:
                leads[:n] = self._leads[:n]
            self._leads = leads
            self._when = np.resize(self._when, cap)
            self._relay = np.resize(self._relay, cap)
        story.rows.append(n)
        if n > self._sorted and lead[1] < self._when[n - 1]:
            self._tail_sorted = False
        self._leads[n] = lead[0]
        self._when[n] = lead[1]
        self._relay[n] = m.role == RELAY
        self._rows.append((m.story_id, m.article_id))

    def inside(self, story_id: int, when: float) -> bool:
        """The story has news in the window of `when` (as StoryWriter.candidates tells it)."""
        s = self.stories.get(story_id)
        return (
            s is not None
            and s.last_updated >= when - self.span
            and (s.first_seen <= when + self.span)
        )

    def article_ids(self) -> set[str]:
        """Every article of the stories held."""
        return {a for s in self.stories.values() for a in s.ids}

    def anchor_count(self, story_id: int) -> int:
        s = self.stories.get(story_id)
        return len(s.rows) if s else 0

    def members(self, story_id: int) -> list[Member]:
        s = self.stories.get(story_id)
        return s.members if s else []

    def relays(self, when: float) -> Iterator[Member]:
        """The newsletter memberships (role RELAY) of the stories in the window of `when`."""
        for sid in self._relay_stories:
            if self.inside(sid, when):
                yield from self.stories[sid].relays

    def row(self, i: int) -> tuple[int, str]:
        """(story id, article id) of anchor row i."""
        return self._rows[i]

    def near(
        self, lead: np.ndarray, when: float, base: float, per_day: float, days: float
    ) -> list[int]:
        """Anchor rows within `days` of `when` whose lead similarity to `lead` is at least
        `base` + `per_day` × days apart, most similar first (at most MAX_ROWS)."""
        found: list[np.ndarray] = []
        for a, b in self._spans(when - days * DAY, when + days * DAY):
            sims = self._leads[a:b] @ lead
            apart = np.abs(when - self._when[a:b]) / DAY
            found.append(
                a + np.flatnonzero((apart <= days) & (sims >= base + per_day * apart - EPS))
            )
        ok = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
        if not len(ok):
            return []
        sims = self._leads[ok] @ lead
        return ok[np.argsort(-sims, kind="stable")[:MAX_ROWS]].tolist()

    def near_sections(
        self, chunks: np.ndarray, when: float, days: tuple[float, float], base: float, step: float
    ) -> list[int]:
        """Anchor rows (not newsletters) one of `chunks` is close to: similarity at least
        `base` + `step` × days apart, the anchor published from `days[0]` days after `when`
        to `days[1]` days before it."""
        before, after = days
        out: list[int] = []
        for a, b in self._spans(when - after * DAY, when + before * DAY):
            sims = (self._leads[a:b] @ chunks.T).max(axis=1)
            delta = (when - self._when[a:b]) / DAY
            ok = (delta >= -before) & (delta <= after) & ~self._relay[a:b]
            ok &= sims >= base + step * np.abs(delta) - EPS
            out += (a + np.flatnonzero(ok)).tolist()
        return out

    def _spans(self, start: float, end: float) -> list[tuple[int, int]]:
        """Ranges of rows that hold every row published from `start` to `end` (the rows read
        from SQLite, and those added since, are each in publication order: a binary search)."""
        n, cut = len(self._rows), self._sorted
        spans = []
        for a, b, ordered in ((0, cut, True), (cut, n, self._tail_sorted)):
            if ordered and b > a:
                times = self._when[a:b]
                a, b = (
                    a + int(np.searchsorted(times, start)),
                    a + int(np.searchsorted(times, end, side="right")),
                )
            if b > a:
                spans.append((a, b))
        return spans

    # ------------------------------------------------------------------ writing
    def record(
        self,
        article_id: str,
        title: str,
        joins: Sequence[Membership],
        links: Sequence[Membership] = (),
        merge: Sequence[int] = (),
        central: Sequence[tuple[int, str, float]] = (),
    ) -> list[int]:
        """StoryWriter.record, then the same change in the window."""
        out = self.store.record(article_id, title, joins, links, merge, central)
        touched = set(out)
        if out:
            for other in (o for o in merge if o not in out):  # folded into out[0]
                self._relay_stories.discard(other)
                gone = self.stories.pop(other, _Story(0, 0))
                for member in gone.members:
                    self._move(replace(member, story_id=out[0]))
                target = self.stories.get(out[0])
                for i in gone.rows:  # re-pointed; kept once even if also a member there
                    self._rows[i] = (out[0], self._rows[i][1])
                    if target is not None:
                        target.rows.append(i)
        new = [replace_sid(m, sid) for m, sid in zip(joins, out, strict=False)]
        for m in links:
            sid = m.story_id if m.story_id is not None else (out[0] if out else None)
            if sid is not None:
                new.append(replace_sid(m, sid))
                touched.add(sid)
        dates = self.store.story_dates(sorted(touched)) if touched else {}
        for sid, (first, last) in dates.items():
            story = self.stories.setdefault(sid, _Story(first, last))
            story.first_seen, story.last_updated = first, last
        for member in new:
            if member.story_id in self.stories:
                self._add(self.stories[member.story_id], member)
        return out

    def _move(self, m: Member) -> None:
        """A member of a folded story, now in `m.story_id` (its anchor row is re-pointed)."""
        story = self.stories.get(m.story_id)
        if story is not None and m.article_id not in story.ids:
            story.members.append(m)
            story.ids.add(m.article_id)
            if m.role == RELAY:
                story.relays.append(m)
                self._relay_stories.add(m.story_id)


def replace_sid(m: Membership, story_id: int) -> Member:
    """A recorded membership as the window holds it."""
    return Member(story_id, m.article_id, m.role, m.chunk_id, 0.0, 0.0)
