"""Story grouping: which story each newly embedded article joins, or whether it starts one.

Incremental: each run groups only the articles embedded since the last one (ingest.stories
keeps the list), oldest publication first, against the stories of the surrounding days; the
first run after an upgrade groups the whole corpus that way, once. Nothing is re-embedded: the
chunk vectors are read back from the corpus.

How an article is matched (all thresholds below; tuned on half of eval/story_pairs.jsonl):

- Every story has *anchors*: its articles that report the event as a whole (a lab's post, a blog
  post, the headline of a newsletter issue that started the story). A newsletter issue that
  joined a story through one of its sections is not an anchor: two issues never chain.
- An article that is not from a relay feed (see ingest.stories.primary_rank) joins the story of
  its best anchor within `WINDOW_DAYS` when their leads (first chunk: title and opening) are
  near duplicates (`DUPLICATE`), or close (`NAMED`) and the two titles share a distinctive name
  (a rare capitalized word of the corpus, or a name with its version: "gpt4.1", "gemini2.5").
  Two titles naming the same product with different versions never match ("GPT-4.1" and
  "GPT-4.5"), and a relay issue's headline is only matched through a shared name.
- A newsletter issue (relay feed) is matched section by section: it joins every story (at most
  `MAX_STORIES_PER_ISSUE`) one of its chunks is close to (`SECTION`), when that chunk names the
  anchor's distinctive names, within `RELAY_AFTER_DAYS` after the anchor. It starts its own
  story too, unless its title names one of the stories it joined (its headline story).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from ingest.config import Settings
from ingest.models import ConfigError, Feed, utcnow
from ingest.store import Corpus
from ingest.stories import ORIGINAL, OTHER, RELAY, Membership, StoryStore, primary_rank

log = logging.getLogger(__name__)

WINDOW_DAYS = 7.0  # two non-newsletter articles of one story are at most this far apart
RELAY_BEFORE_DAYS = 2.0  # a newsletter section may precede the anchor by this much ...
RELAY_AFTER_DAYS = 10.0  # ... and follow it by this much (weekly newsletters)
DUPLICATE = 0.85  # lead similarity of a repost / the same post in two feeds
NAMED = 0.55  # lead similarity enough when the titles share a distinctive name
SECTION = 0.5  # similarity of a newsletter chunk to an anchor's lead, with the names in it
MAX_STORIES_PER_ISSUE = 8
VOCABULARY_CHARS = 1500
LOAD_BATCH = 400  # articles whose chunk vectors are read at once

_WORD = re.compile(r"[A-Za-z][\w'’-]*[\w]|[A-Za-z]")
_MID_WORD = re.compile(r"(?<=[\w,;:)\]\"'”] )([A-Za-z][\w+-]*[\w+]|[A-Za-z])")
_VERSION = re.compile(
    r"(?<![\w.])([A-Za-z][A-Za-z]*?)[ -]?v?(\d+(?:\.\d+)?[a-z]?)(?![\w.]*\d)", re.IGNORECASE
)


@dataclass(frozen=True)
class Vocabulary:
    """Words the corpus writes capitalized mid-sentence and rarely enough to name something."""

    names: frozenset[str] = frozenset()

    @classmethod
    def build(cls, heads: Iterable[str], docs: int) -> Vocabulary:
        upper: dict[str, int] = defaultdict(int)
        total: dict[str, int] = defaultdict(int)
        for text in heads:
            for m in _MID_WORD.finditer(text):
                raw = m.group(1)
                key = raw.lower()
                total[key] += 1
                if not raw.islower():
                    upper[key] += 1
        cap = max(30, docs // 25)
        return cls(
            frozenset(
                w for w, n in total.items() if 3 <= n <= cap and upper[w] >= 0.8 * n and len(w) >= 3
            )
        )

    def keys(self, text: str) -> set[str]:
        """The distinctive names of `text`: rare names, and names with their version."""
        out = {w.lower() for w in _WORD.findall(text) if w.lower() in self.names}
        out |= {f"{fam.lower()}{ver.lower()}" for fam, ver in _VERSION.findall(text)}
        return out


def versions(text: str) -> dict[str, set[str]]:
    """Product family → the versions `text` names ("GPT-4.1 and GPT-4o" → gpt: {4.1, 4o})."""
    out: dict[str, set[str]] = defaultdict(set)
    for fam, ver in _VERSION.findall(text):
        if len(fam) >= 2:
            out[fam.lower()].add(ver.lower())
    return out


def conflicting(a: dict[str, set[str]], b: dict[str, set[str]]) -> bool:
    """Both name a family, with no version in common: two releases, not one story."""
    return any(not (a[f] & b[f]) for f in a.keys() & b.keys())


@dataclass
class Item:
    """An article as the grouping sees it."""

    id: str
    title: str
    when: float  # publication time (ingest time when undated), epoch seconds
    published: datetime | None
    role: int
    chunk_ids: list[str]
    texts: list[str]
    vectors: np.ndarray  # one row per chunk, unit length
    keys: set[str] = field(default_factory=set)  # the title's distinctive names
    versions: dict[str, set[str]] = field(default_factory=dict)

    @property
    def lead(self) -> np.ndarray:
        return self.vectors[0]


@dataclass
class GroupingReport:
    articles: int = 0
    new_stories: int = 0
    joined: int = 0  # memberships added to existing stories
    backfill: bool = False


class StoryGrouper:
    def __init__(
        self, corpus: Corpus, store: StoryStore, roles: dict[str, int], vocab: Vocabulary
    ) -> None:
        self.corpus = corpus
        self.store = store
        self.roles = roles
        self.vocab = vocab
        self._items: dict[str, Item | None] = {}

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
                role = min((self.roles.get(f, OTHER) for f in row.feeds), default=OTHER)
                when = row.published.timestamp() if row.published else utcnow().timestamp()
                self._items[aid] = Item(
                    id=aid,
                    title=row.title,
                    when=when,
                    published=row.published,
                    role=role,
                    chunk_ids=[c for c, _ in have],
                    texts=[t for _, t in have],
                    vectors=np.stack([vecs[c] for c, _ in have]),
                    keys=self.vocab.keys(row.title),
                    versions=versions(row.title),
                )

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
                joins = self.place(item)
                self.store.record(item.id, item.title, joins)
                report.articles += 1
                report.new_stories += sum(m.story_id is None for m in joins)
                report.joined += sum(m.story_id is not None for m in joins)
            # keep memory bounded on a large backfill: only recent articles stay cached
            keep = max((self._items[a].when for a in part if self._items.get(a)), default=0.0)
            horizon = keep - 86400 * (WINDOW_DAYS + RELAY_AFTER_DAYS)
            self._items = {k: v for k, v in self._items.items() if v and v.when >= horizon}
        return report

    def anchors(self, item: Item) -> dict[int, list[Item]]:
        """Anchors of the stories around the item's date, by story."""
        when = datetime.fromtimestamp(item.when, UTC)
        span = timedelta(days=max(WINDOW_DAYS, RELAY_AFTER_DAYS))
        members = self.store.candidates(when - span, when + span)
        self.load([aid for _, aid, _, chunk in members if not chunk])
        out: dict[int, list[Item]] = defaultdict(list)
        for sid, aid, _, chunk in members:
            anchor = self._items.get(aid)
            if not chunk and anchor is not None and anchor.id != item.id:
                out[sid].append(anchor)
        return out

    def place(self, item: Item) -> list[Membership]:
        """The stories this article joins; a Membership with story_id None starts one."""
        own = Membership(item.id, None, item.role, item.published)
        anchors = self.anchors(item)
        if item.role == RELAY:
            return self._place_issue(item, anchors, own)
        best: tuple[float, int] | None = None
        for sid, items in anchors.items():
            for anchor in items:
                score = self.match(item, anchor)
                if score is not None and (best is None or score > best[0]):
                    best = (score, sid)
        if best is None:
            return [own]
        return [Membership(item.id, best[1], item.role, item.published, "", best[0])]

    def match(self, item: Item, anchor: Item) -> float | None:
        """The lead similarity when `item` reports the same event as `anchor`, else None."""
        if abs(item.when - anchor.when) > WINDOW_DAYS * 86400:
            return None
        if conflicting(item.versions, anchor.versions):
            return None
        sim = float(item.lead @ anchor.lead)
        shared = bool(item.keys & anchor.keys)
        if anchor.role == RELAY:
            return sim if shared and sim >= NAMED else None
        if sim >= DUPLICATE or (shared and sim >= NAMED):
            return sim
        return None

    def _place_issue(
        self, item: Item, anchors: dict[int, list[Item]], own: Membership
    ) -> list[Membership]:
        found: list[tuple[float, int, str, bool]] = []  # (similarity, story, chunk, headline)
        for sid, items in anchors.items():
            best: tuple[float, str, bool] | None = None
            for anchor in items:
                hit = self.section(item, anchor)
                if hit is not None and (best is None or hit[0] > best[0]):
                    best = hit
            if best is not None:
                found.append((best[0], sid, best[1], best[2]))
        found.sort(reverse=True)
        joins = [
            Membership(item.id, sid, item.role, item.published, chunk, sim)
            for sim, sid, chunk, _ in found[:MAX_STORIES_PER_ISSUE]
        ]
        if not any(headline for *_, headline in found[:MAX_STORIES_PER_ISSUE]):
            joins.append(own)
        return joins

    def section(self, item: Item, anchor: Item) -> tuple[float, str, bool] | None:
        """(similarity, chunk id, is headline) of the issue's chunk that covers the anchor."""
        if anchor.role == RELAY:
            return None
        delta = item.when - anchor.when
        if not -RELAY_BEFORE_DAYS * 86400 <= delta <= RELAY_AFTER_DAYS * 86400:
            return None
        sims = item.vectors @ anchor.lead
        for i in np.argsort(-sims):
            sim = float(sims[i])
            if sim < SECTION:
                return None
            names = self.vocab.keys(item.texts[i]) | item.keys
            if sim >= DUPLICATE or (anchor.keys and anchor.keys <= names):
                headline = bool(anchor.keys & item.keys)
                return sim, item.chunk_ids[i], headline
        return None


def feed_roles(feeds: Sequence[Feed]) -> dict[str, int]:
    return {f.name: primary_rank(f.tags) for f in feeds}


def group_new_articles(
    corpus: Corpus, settings: Settings, feeds: Sequence[Feed] | None = None
) -> GroupingReport:
    """Group the articles embedded since the last run (all of them on the first run after an
    upgrade: the backfill). Called by the ingest job once vectors are written."""
    if feeds is None:
        from ingest.feeds import load_feeds

        try:
            feeds = load_feeds(settings.feeds)
        except ConfigError as e:  # the run already used (or reported) the file
            log.warning("stories: feed tags unavailable (%s); no primary-source ranks", e)
            feeds = []
    store = StoryStore(settings)
    try:
        ids = store.ungrouped()
        if not ids:
            return GroupingReport()
        backfill = store.grouped_count() == 0 and len(ids) > 1
        docs = max(1, corpus.counts()["articles"])
        vocab = Vocabulary.build(corpus.heads(VOCABULARY_CHARS), docs)
        grouper = StoryGrouper(corpus, store, feed_roles(feeds), vocab)
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


__all__ = [
    "ORIGINAL",
    "OTHER",
    "RELAY",
    "GroupingReport",
    "StoryGrouper",
    "Vocabulary",
    "group_new_articles",
]
