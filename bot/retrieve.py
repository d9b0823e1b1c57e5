"""Hybrid, news-aware retrieval over the corpus.

Dense (Chroma, cosine) and keyword (SQLite FTS5, BM25) candidates are fused with reciprocal rank
fusion, then weighted by recency, capped per article, and returned with article metadata.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from datetime import datetime

import numpy as np

from bot.models import Hit, LatestItem
from ingest.config import Settings
from ingest.embed import Embedder
from ingest.models import utcnow
from ingest.store import ArticleRow, Corpus

RRF_K = 60
CANDIDATES = 60
PER_ARTICLE = 2
KEYWORD_WEIGHT = 0.5  # weight of the normalized BM25 score next to cosine similarity
RECENT_WEIGHT = 2.0  # with "latest"/"recent"/"this week": how much a fresh article outranks
SOURCE_BOOST = 1.5  # a question naming a source ("what did DeepMind ...") favours its feed
GENERIC_FEED_WORDS = frozenset(
    "news blog feed feeds research updates posts index atom rss official weekly daily".split()
)


def _recency(published: datetime | None, now: datetime, half_life_days: float) -> float:
    if published is None:
        return 0.0
    age = max(0.0, (now - published).total_seconds() / 86400)
    return math.pow(0.5, age / half_life_days)


def _norm_title(title: str) -> str:
    return re.sub(r"\W+", " ", title.lower()).strip()


class Retriever:
    def __init__(self, corpus: Corpus, embedder: Embedder, settings: Settings) -> None:
        self.corpus = corpus
        self.embedder = embedder
        self.settings = settings

    def search(
        self,
        query: str,
        *,
        feed: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        prefer_recent: bool = False,
        k: int = 8,
        now: datetime | None = None,
        per_article: int = PER_ARTICLE,
    ) -> list[Hit]:
        """The best `k` chunks for `query` (at most `per_article` per article), best first."""
        now = now or utcnow()
        ids = (
            self.corpus.filter_article_ids(feed=feed, since=since, until=until)
            if (feed or since or until)
            else None
        )
        qvec = self.embedder.embed_query(query)
        dense = self.corpus.dense_search(qvec, CANDIDATES, ids)
        keyword = self.corpus.keyword_search(query, CANDIDATES, ids)

        fused: dict[str, float] = defaultdict(float)
        found: dict[str, tuple[str, str]] = {}
        similarity: dict[str, float] = {}
        for rank, (cid, aid, text, sim) in enumerate(dense):
            fused[cid] += 1.0 / (RRF_K + rank)
            found[cid] = (aid, text)
            similarity[cid] = sim
        top_bm25 = max((bm25 for *_, bm25 in keyword), default=0.0)
        keyword_score: dict[str, float] = {}
        for rank, (cid, aid, text, bm25) in enumerate(keyword):
            fused[cid] += 1.0 / (RRF_K + rank)
            keyword_score[cid] = bm25 / top_bm25 if top_bm25 > 0 else 0.0
            found.setdefault(cid, (aid, text))
        missing = [cid for cid in found if cid not in similarity]
        if missing:
            for cid, vec in self.corpus.chunk_vectors(missing).items():
                similarity[cid] = float(np.dot(qvec, vec))

        rows = {r.id: r for r in self.corpus.article_rows(list({a for a, _ in found.values()}))}
        named = self._feeds_named_in(query)
        relevance: list[tuple[float, str, str, str, ArticleRow]] = []
        for cid, base in fused.items():
            aid, text = found[cid]
            row = rows.get(aid)
            if row is None:  # vectors of an article being rewritten by a concurrent ingest
                continue
            # Fusion rewards agreement; similarity keeps the scale meaningful across queries; the
            # normalized BM25 score keeps a decisive keyword match (a new model name the
            # embedding model has never seen) from being buried by rank fusion alone.
            score = (
                base * RRF_K / 2
                + similarity.get(cid, 0.0)
                + KEYWORD_WEIGHT * keyword_score.get(cid, 0.0)
            )
            if named and named & set(row.feeds):
                score *= SOURCE_BOOST
            relevance.append((score, cid, aid, text, row))
        relevance.sort(key=lambda t: t[0], reverse=True)

        weight, half_life = (RECENT_WEIGHT, 45.0) if prefer_recent else (0.15, 365.0)
        if prefer_recent and relevance:
            # "Recent" is relative to the newest of the good matches, not the wall clock: a
            # source that has been quiet for months still has a most recent release.
            good = relevance[0][0] * 0.6
            dates = [
                r.published
                for score, *_, r in relevance
                if score >= good
                and r.published
                and r.published <= now
                and (not named or named & set(r.feeds))
            ]
            now = max(dates, default=now)
        scored = sorted(
            (
                (
                    score * (1.0 + weight * _recency(row.published, now, half_life)),
                    cid,
                    aid,
                    text,
                    row,
                )
                for score, cid, aid, text, row in relevance
            ),
            key=lambda t: t[0],
            reverse=True,
        )

        hits: list[Hit] = []
        per: dict[str, int] = defaultdict(int)
        for score, cid, aid, text, row in scored:
            if per[aid] >= per_article:
                continue
            per[aid] += 1
            hits.append(_hit(cid, text, row, score, similarity.get(cid, 0.0)))
            if len(hits) >= k:
                break
        return hits

    def count_mentions(self, term: str) -> int:
        """Passages mentioning `term`; a feed's own name counts too ("DeepMind")."""
        key = re.sub(r"[^a-z0-9]+", "", term.lower())
        feeds = [
            f
            for f in self.corpus.feed_names()
            if key and key in re.sub(r"[^a-z0-9]+", "", f.lower())
        ]
        return len(feeds) + self.corpus.count_mentions(term)

    def _feeds_named_in(self, query: str) -> set[str]:
        """Feeds whose distinctive name parts appear in the question ("DeepMind" → deepmind)."""
        words = set(re.findall(r"[a-z0-9]+", query.lower()))
        named = set()
        for feed in self.corpus.feed_names():
            parts = {p for p in re.split(r"[^a-z0-9]+", feed.lower()) if len(p) >= 4}
            if parts - GENERIC_FEED_WORDS & words:
                named.add(feed)
        return named

    def latest(
        self,
        *,
        topic: str | None = None,
        feed: str | None = None,
        limit: int = 10,
        since: datetime | None = None,
    ) -> list[LatestItem]:
        """Newest articles first; with a topic, only articles that match it (semantic or keyword).
        A story carried by several feeds (same link, or same title) is listed once."""
        limit = max(1, min(limit, 50))
        if topic and topic.strip():
            hits = self.search(topic, feed=feed, since=since, k=limit * 4, per_article=1)
            floor = self.settings.relevance_threshold
            relevant = [h.article_id for h in hits if h.similarity >= floor]
            rows = self.corpus.latest_articles(limit * 4, ids=relevant) if relevant else []
        else:
            rows = self.corpus.latest_articles(limit * 2, feed=feed, since=since)
        items: list[LatestItem] = []
        by_title: dict[str, int] = {}
        for r in rows:
            key = _norm_title(r.title)
            if key in by_title:  # the same story under another link: merge its feeds
                i = by_title[key]
                merged = tuple(sorted(set(items[i].feeds) | set(r.feeds)))
                items[i] = LatestItem(**{**items[i].__dict__, "feeds": merged})
                continue
            by_title[key] = len(items)
            items.append(
                LatestItem(
                    article_id=r.id,
                    title=r.title,
                    url=r.url,
                    feeds=r.feeds,
                    published=r.published,
                    summary=_summary(r.text),
                )
            )
            if len(items) >= limit:
                break
        return items


def _summary(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + "…"


def _hit(cid: str, text: str, row: ArticleRow, score: float, sim: float) -> Hit:
    return Hit(
        chunk_id=cid,
        article_id=row.id,
        text=text,
        title=row.title,
        url=row.url,
        feeds=row.feeds,
        published=row.published,
        score=score,
        similarity=sim,
    )
