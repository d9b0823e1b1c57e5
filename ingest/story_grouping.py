"""Story grouping: which story each newly embedded article joins, or whether it starts one.

Incremental: each run groups only the articles embedded since the last one (ingest.store.stories
keeps the list), oldest publication first, against the stories of the surrounding days (held in
memory: ingest.story_window); the first run after an upgrade groups the whole corpus that way,
once. Nothing is re-embedded: the chunk vectors are read back. An article whose text changes
later keeps its stories; one deleted (retention) leaves them; a story left empty is deleted.

How an article is matched (thresholds below, tuned on the `tune` half of eval/story_pairs.jsonl):

- *Names*: the distinctive names of a text are the words the corpus writes capitalized and rarely
  (not "OpenAI", which is everywhere), and product names with their version ("gpt4.1",
  "gemini2.5", "o3"). An article's *lead* is its first chunk (its title and opening).
- Every story has *anchors*: its articles that report the event as a whole (a lab's post, a blog
  post, the headline of a newsletter issue that started the story). A newsletter issue that
  joined a story through one of its sections is not an anchor, so two issues never chain.
- An article that is not from a relay feed (ingest.store.stories.primary_rank) joins the story of
  its closest anchor when their leads are similar enough: `NAMED` when the leads share a name,
  `PLAIN` when they share none, plus `PER_DAY` for each day between them; never when the titles
  name one product with different versions ("GPT-4.1" / "GPT-4.5"), and only with stories that
  started at most `WINDOW_DAYS` before it (no chains of follow-ups). A relay issue's headline is
  matched only through a name of the article's title.
- A newsletter issue (relay feed) is matched section by section (chunk by chunk): it joins every
  story (at most `MAX_STORIES_PER_ISSUE`) one of its chunks is close to (`SECTION`, plus
  `SECTION_PER_DAY` per day from the anchor) when the chunk names the anchor's title names (or,
  for a title without names, one of its lead's names), from `RELAY_BEFORE_DAYS` before the
  anchor to `RELAY_AFTER_DAYS` after it. It starts its own story too, unless its title names one
  of the stories it joined (its headline story).
- The same section test links an article to the earlier issues that covered the event first
  (news often surfaces in a newsletter a day before the lab's post).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

import numpy as np

from ingest.config import Settings
from ingest.feeds import load_feeds
from ingest.models import ConfigError, Feed, utcnow
from ingest.store import Corpus
from ingest.store.stories import OTHER, RELAY, primary_rank
from ingest.store.story_writer import Member, Membership, StoryWriter
from ingest.story_names import Vocabulary, conflicting, versions
from ingest.story_window import StoryWindow

log = logging.getLogger(__name__)

DAY = 86400.0
WINDOW_DAYS = 7.0  # a story takes non-newsletter articles for this long after it started
NAMED = 0.45  # lead similarity needed when the leads share a name ...
PLAIN = 0.68  # ... and when they share none
PER_DAY = 0.05  # added to both per day between the two articles
DUPLICATE = 0.85  # a newsletter section this close needs no shared name
SECTION = 0.5  # similarity of a newsletter chunk to an anchor's lead ...
SECTION_PER_DAY = 0.02  # ... plus this per day between them
RELAY_BEFORE_DAYS = 4.0  # a newsletter section may precede the anchor by this much ...
RELAY_AFTER_DAYS = 10.0  # ... and follow it by this much (weekly newsletters)
MAX_STORIES_PER_ISSUE = 8
VOCABULARY_CHARS = 1500
LOAD_BATCH = 400  # articles whose chunk vectors are read at once
# A story with this many anchors or more updates only the new article's centrality, against
# its first CENTRAL_MAX anchors (all anchors' would cost the square of its size each time).
CENTRAL_MAX = 64


@dataclass
class Item:
    """An article as the grouping sees it."""

    id: str
    title: str
    when: float  # publication time (ingest time when undated), epoch seconds
    published: datetime | None
    role: int
    feeds: tuple[str, ...]
    chunk_ids: list[str]
    texts: list[str]
    vectors: np.ndarray  # one row per chunk, unit length
    keys: set[str] = field(default_factory=set)  # the title's names
    lead_keys: set[str] = field(default_factory=set)  # the lead's names (title included)
    versions: dict[str, set[str]] = field(default_factory=dict)
    chunk_keys: dict[int, set[str]] = field(default_factory=dict)  # computed when needed

    @property
    def lead(self) -> np.ndarray:
        return self.vectors[0]


@dataclass
class GroupingReport:
    articles: int = 0
    new_stories: int = 0
    joined: int = 0  # memberships added to existing stories
    backfill: bool = False


@dataclass
class Placement:
    """What the grouping decided for one article."""

    joins: list[Membership]  # the stories it joins (story_id None: it starts one)
    links: list[Membership] = field(default_factory=list)  # earlier issues' sections, with it
    merge: list[int] = field(default_factory=list)  # stories folded into its story
    central: list[tuple[int, str, float]] = field(default_factory=list)  # anchors' centrality


@dataclass(frozen=True)
class Section:
    similarity: float
    chunk_id: str
    index: int


class StoryGrouper:
    def __init__(
        self, corpus: Corpus, store: StoryWriter, roles: dict[str, int], vocab: Vocabulary
    ) -> None:
        self.corpus = corpus
        self.store = store
        self.roles = roles
        self.vocab = vocab
        self._items: dict[str, Item | None] = {}
        span = DAY * max(WINDOW_DAYS, RELAY_AFTER_DAYS)
        self.window = StoryWindow(store, span, self.load, self._lead)

    def _lead(self, article_id: str) -> tuple[np.ndarray, float] | None:
        item = self._items.get(article_id)
        return (item.lead, item.when) if item is not None else None

    # ------------------------------------------------------------------ loading
    def load(self, ids: Sequence[str]) -> None:
        todo = [i for i in dict.fromkeys(ids) if i not in self._items]
        for start in range(0, len(todo), LOAD_BATCH):
            part = todo[start : start + LOAD_BATCH]
            rows = {r.id: r for r in self.corpus.article_rows(part)}
            chunks: dict[str, list[tuple[str, str]]] = defaultdict(list)
            for cid, aid, text in self.corpus.article_chunks(part):
                chunks[aid].append((cid, text))
            vecs = self.corpus.chunk_vectors([c for cs in chunks.values() for c, _ in cs])
            for aid in part:
                row = rows.get(aid)
                have = [(c, t) for c, t in chunks.get(aid, []) if c in vecs]
                if row is None or not have:
                    self._items[aid] = None
                    continue
                when = row.published.timestamp() if row.published else utcnow().timestamp()
                self._items[aid] = Item(
                    id=aid,
                    title=row.title,
                    when=when,
                    published=row.published,
                    role=min((self.roles.get(f, OTHER) for f in row.feeds), default=OTHER),
                    feeds=row.feeds,
                    chunk_ids=[c for c, _ in have],
                    texts=[t for _, t in have],
                    vectors=np.stack([vecs[c] for c, _ in have]),
                    keys=self.vocab.keys(row.title),
                    lead_keys=self.vocab.keys(have[0][1]) | self.vocab.keys(row.title),
                    versions=versions(row.title),
                )

    def item(self, article_id: str) -> Item | None:
        return self._items.get(article_id)

    # ------------------------------------------------------------------ grouping
    def run(self, ids: Sequence[str]) -> GroupingReport:
        report = GroupingReport()
        for start in range(0, len(ids), LOAD_BATCH):
            part = ids[start : start + LOAD_BATCH]
            self.load(part)
            for aid in part:
                item = self._items.get(aid)
                if item is None:
                    continue  # no vectors (yet): grouped by a later run
                p = self.place(item)
                self.window.record(item.id, item.title, p.joins, p.links, p.merge, p.central)
                report.articles += 1
                report.new_stories += sum(m.story_id is None for m in p.joins)
                report.joined += sum(m.story_id is not None for m in p.joins)
            # keep memory bounded on a large backfill: only recent articles stay cached
            newest = max((it.when for a in part if (it := self._items.get(a))), default=0.0)
            horizon = newest - DAY * (WINDOW_DAYS + RELAY_AFTER_DAYS)
            keep, items = self.window.article_ids(), self._items  # (window: older stories too)
            self._items = {k: v for k, v in items.items() if v and (v.when >= horizon or k in keep)}
        return report

    def place(self, item: Item) -> Placement:
        """Where this article goes (see Placement)."""
        own = Membership(item.id, None, item.role, item.published)
        win = self.window
        win.ensure(item.when)
        if item.role == RELAY:
            return Placement(self._place_issue(item, own))
        matched: dict[int, float] = {}  # story → best lead similarity
        for row in win.near(item.lead, item.when, NAMED, PER_DAY, WINDOW_DAYS):
            sid, aid = win.row(row)
            if sid in matched or aid == item.id or not win.inside(sid, item.when):
                continue  # rows come most similar first: a story's first match is its best
            if win.stories[sid].first_seen < item.when - WINDOW_DAYS * DAY:
                continue
            anchor = self._items.get(aid)
            score = self.match(item, anchor) if anchor is not None else None
            if score is not None:
                matched[sid] = score
        if not matched:
            return Placement([own], self._earlier_issues(item, None))
        best = max(matched, key=lambda sid: matched[sid])
        # A story of one article this one also matches was the same event, grouped apart
        # because it came first: fold it in (never two grown stories: no chains).
        merge = [sid for sid in matched if sid != best and win.anchor_count(sid) == 1]
        folded = (best, *merge)
        big = sum(win.anchor_count(sid) for sid in folded) >= CENTRAL_MAX
        peers = [m for sid in folded for m in self._anchors(sid, CENTRAL_MAX)]
        central = self._centrality(item, peers, best, own_only=big)
        mine = central.pop()[2]
        joins = [Membership(item.id, best, item.role, item.published, "", mine)]
        return Placement(joins, self._earlier_issues(item, best), merge, central)

    def _anchors(self, story_id: int, limit: int) -> list[Member]:
        """The story's first `limit` members that report it as a whole (with vectors)."""
        members = self.window.members(story_id)
        return list(
            islice((m for m in members if not m.chunk_id and self._items.get(m.article_id)), limit)
        )

    def _centrality(
        self, item: Item, peers: list[Member], story: int, own_only: bool = False
    ) -> list[tuple[int, str, float]]:
        """(story, article, mean lead similarity to the other anchors) of the story's anchors
        once `item` joins; the item's own entry last. `own_only` (a story of CENTRAL_MAX
        anchors or more, of which `peers` are the first): only the item's, against those."""
        ids = dict.fromkeys(m.article_id for m in peers if m.article_id != item.id)
        group = [a for i in ids if (a := self._items.get(i)) is not None] + [item]
        leads = np.stack([a.lead for a in group])
        n = len(group)
        if own_only:  # constant, not quadratic, in the story's size
            return [(story, item.id, float((leads[:-1] @ item.lead).sum() / (n - 1)))]
        sims = leads @ leads.T
        return [
            (story, a.id, float((sims[i].sum() - sims[i, i]) / (n - 1)))
            for i, a in enumerate(group)
        ]

    def match(self, item: Item, anchor: Item) -> float | None:
        """The lead similarity when `item` reports the same event as `anchor`, else None."""
        days = abs(item.when - anchor.when) / DAY
        if days > WINDOW_DAYS or conflicting(item.versions, anchor.versions):
            return None
        sim = float(item.lead @ anchor.lead)
        if anchor.role == RELAY:  # an issue's headline: through a name of the item's title
            named = bool(item.keys) and item.keys <= anchor.lead_keys
            return sim if named and sim >= NAMED + PER_DAY * days else None
        shared = bool(item.lead_keys & anchor.lead_keys)
        need = (NAMED if shared else PLAIN) + PER_DAY * days
        return sim if sim >= need else None

    def _place_issue(self, item: Item, own: Membership) -> list[Membership]:
        best: dict[int, tuple[Section, bool]] = {}  # story → its best section, headline?
        covered = self._covered(item)
        win = self.window
        days = (RELAY_BEFORE_DAYS, RELAY_AFTER_DAYS)
        for row in win.near_sections(item.vectors, item.when, days, SECTION, SECTION_PER_DAY):
            sid, aid = win.row(row)
            anchor = self._items.get(aid)
            if anchor is None or anchor.role == RELAY or aid == item.id or sid in covered:
                continue
            if not win.inside(sid, item.when):
                continue
            if win.stories[sid].first_seen < item.when - RELAY_AFTER_DAYS * DAY:
                continue
            hit = self.section(item, anchor)
            if hit is not None and (sid not in best or hit.similarity > best[sid][0].similarity):
                best[sid] = (hit, bool(anchor.keys & item.keys))
        chosen = sorted(best.items(), key=lambda kv: -kv[1][0].similarity)
        chosen = chosen[:MAX_STORIES_PER_ISSUE]
        joins = [
            Membership(item.id, sid, item.role, item.published, hit.chunk_id, hit.similarity)
            for sid, (hit, _) in chosen
        ]
        if not any(headline for _, (_, headline) in chosen):
            joins.append(own)
        return joins

    def _covered(self, issue: Item) -> set[int]:
        """Stories an earlier issue of the same newsletter already covered (more than a day
        before this one): a newsletter reports an event once; a later mention is another story
        (its benchmarks, its quantizations), not more coverage of this one."""
        out = set()
        for m in self.window.relays(issue.when):
            other = self._items.get(m.article_id)
            if (
                other is not None
                and other.id != issue.id
                and other.role == RELAY
                and set(other.feeds) & set(issue.feeds)
                and other.when < issue.when - DAY
            ):
                out.add(m.story_id)
        return out

    def _earlier_issues(self, item: Item, story: int | None) -> list[Membership]:
        """Sections of newsletter issues published before `item` that cover its event: the
        closest issue of each newsletter that does not cover its story yet."""
        issues = {m.article_id for m in self.window.relays(item.when)} - {item.id}
        if not issues:
            return []
        inside = {m.article_id for m in self.window.members(story)} if story else set()
        covering = {f for a in inside if (it := self._items.get(a)) for f in it.feeds}
        best: dict[str, Membership] = {}  # newsletter → its issue's section
        for aid in sorted(issues - inside):
            issue = self._items.get(aid)
            if issue is None or issue.when > item.when or set(issue.feeds) & covering:
                continue
            hit = self.section(issue, item)
            key = issue.feeds[0] if issue.feeds else aid
            if hit is not None and (key not in best or hit.similarity > best[key].similarity):
                best[key] = Membership(
                    aid, story, RELAY, issue.published, hit.chunk_id, hit.similarity
                )
        return list(best.values())

    def section(self, issue: Item, anchor: Item) -> Section | None:
        """The issue's chunk that covers the anchor's event, if one does."""
        delta = (issue.when - anchor.when) / DAY
        if not -RELAY_BEFORE_DAYS <= delta <= RELAY_AFTER_DAYS:
            return None
        need = SECTION + SECTION_PER_DAY * abs(delta)
        sims = issue.vectors @ anchor.lead
        for i in np.argsort(-sims):
            sim = float(sims[i])
            if sim < need:
                return None
            if sim >= DUPLICATE or self._names_it(issue, int(i), anchor):
                return Section(sim, issue.chunk_ids[int(i)], int(i))
        return None

    def _names_it(self, issue: Item, index: int, anchor: Item) -> bool:
        """The chunk names the anchor's title names (or one name of its lead, when its title
        has none)."""
        if index not in issue.chunk_keys:
            issue.chunk_keys[index] = self.vocab.keys(issue.texts[index]) | issue.keys
        names = issue.chunk_keys[index]
        if anchor.keys:
            return anchor.keys <= names
        return bool(anchor.lead_keys & names)


def group_new_articles(
    corpus: Corpus, settings: Settings, feeds: Sequence[Feed] | None = None
) -> GroupingReport:
    """Group the articles embedded since the last run (all of them on the first run after an
    upgrade: the backfill). Called by the ingest job once vectors are written."""
    if feeds is None:
        try:
            feeds = load_feeds(settings.feeds)
        except ConfigError as e:  # the run already used (or reported) the file
            log.warning("stories: feed tags unavailable (%s); no primary-source ranks", e)
            feeds = []
    store = StoryWriter(settings)
    try:
        ids = store.ungrouped()
        if not ids:
            return GroupingReport()
        backfill = store.grouped_count() == 0 and len(ids) > 1
        docs = max(1, corpus.counts()["articles"])
        vocab = Vocabulary.build(corpus.heads(VOCABULARY_CHARS), docs)
        roles = {f.name: primary_rank(f.tags) for f in feeds}
        grouper = StoryGrouper(corpus, store, roles, vocab)
        report = grouper.run(ids)
        report.backfill = backfill
    finally:
        store.close()
    log.info(
        "stories: %d article(s) grouped%s: %d new stories, %d joined existing ones",
        report.articles,
        " (first grouping of this corpus)" if report.backfill else "",
        report.new_stories,
        report.joined,
    )
    return report
