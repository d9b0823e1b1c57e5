"""Candidate retrieval: hybrid, news-aware search over the corpus (the reader's only way in).

Three candidate lists are fused with reciprocal rank fusion: dense (Chroma, cosine) on the
question's content, keyword (SQLite FTS5, BM25) on its distinctive terms, and a names list (BM25
on the names alone: "Kimi K2", "Komdigi"), which also finds articles in another language that
share the names. The fused score keeps the cosine similarity and the normalized BM25 score next to
the rank terms, so a decisive match is not buried. Then: a soft boost for feeds the question
names as a subject, recency (strong only when the question asks for recent news), at most
`per_article` chunks per article.

Hard filters (feeds, author, time window) apply only when the question or an option makes them
explicit; the plan decides (bot.answer.understand).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlparse

import numpy as np

from bot.answer.directory import SourceDirectory
from bot.answer.text import STOPWORDS, shorten
from bot.config import AnswerSettings
from bot.models import Hit, LatestItem
from ingest.embed import Embedder
from ingest.models import utcnow
from ingest.store import CHROMA_IN_BATCH, ArticleRow, Corpus
from ingest.store.model_directory import ModelDirectory
from ingest.story_names import CaseCounts

RRF_K = 60
CANDIDATES = 60
WIDE_DENSE = 1200  # chunks a dense search under a large filter reads unfiltered first (~35 ms)
PER_ARTICLE = 2
KEYWORD_WEIGHT = 0.5  # weight of the normalized BM25 score next to cosine similarity
NAMES_WEIGHT = 0.3  # weight of the normalized names-only BM25 score
RECENT_WEIGHT = 2.0  # with "latest"/"recent"/"this week": how much a fresh article outranks
VOCABULARY_CHARS = 1500  # of each article, read for the name vocabulary
SUMMARY_CHARS = 200  # of a listed item's text, in its JSON form
SOURCE_BOOST = 1.25  # a lab named as the subject ("what did DeepMind ...") favours its feeds


def _recency(published: datetime | None, now: datetime, half_life_days: float) -> float:
    if published is None:
        return 0.0
    age = max(0.0, (now - published).total_seconds() / 86400)
    return math.pow(0.5, age / half_life_days)


def _norm_title(title: str) -> str:
    return re.sub(r"\W+", " ", title.lower()).strip()


@dataclass
class _Fused:
    """Candidate chunks of one search: fused rank score, (article id, text), cosine similarity
    to the question, and the weighted BM25 scores, each by chunk id."""

    rank: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    found: dict[str, tuple[str, str]] = field(default_factory=dict)
    similarity: dict[str, float] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=lambda: defaultdict(float))


class Retriever:
    def __init__(self, corpus: Corpus, embedder: Embedder, settings: AnswerSettings) -> None:
        self.corpus = corpus
        self.embedder = embedder
        self.settings = settings
        self._directory: tuple[str | None, SourceDirectory] | None = None
        self._models: ModelDirectory | None = None

    # ----------------------------------------------------------------- sources

    def close(self) -> None:
        if self._models is not None:
            self._models.close()

    def models(self) -> ModelDirectory:
        """The model directory built at ingest (read by the model stage)."""
        if self._models is None:
            self._models = ModelDirectory(self.settings)
        return self._models

    def directory(self) -> SourceDirectory:
        """The names a question may use for a source; rebuilt when an ingest changed the corpus."""
        stamp = self.corpus.get_meta("last_ingest")
        if self._directory is None or self._directory[0] != stamp:
            feeds = self.corpus.feed_names()
            hosts, authors = self.corpus.source_facts()
            titles = {}
            for state in self.corpus.feed_states():
                titles[state.name] = state.title
                site = (urlparse(state.site).hostname or "").removeprefix("www.")
                if site and site not in hosts.get(state.name, []):
                    hosts.setdefault(state.name, []).append(site)
            capitalized, names, common = self._vocabulary()
            directory = SourceDirectory.build(
                feeds, hosts, authors, capitalized, common, titles=titles
            )
            directory.name_words = names
            directory.capitalized = capitalized
            self._directory = (stamp, directory)
        return self._directory[1]

    def _vocabulary(self) -> tuple[set[str], set[str], set[str]]:
        """Words the corpus writes capitalized (not first in a sentence, at least 80% of at least
        3 times: "OpenAI", "DeepMind", "Kimi"); of those, the ones rare enough to name
        something; and words it writes in lowercase (common words: "batch", "gradient")."""
        counts = CaseCounts.read(self.corpus.heads(VOCABULARY_CHARS))
        upper, total = counts.upper, counts.total
        capitalized = {
            w
            for w, n in total.items()
            if n >= 3 and upper[w] >= 0.8 * n and len(w) >= 3 and w not in STOPWORDS
        }
        # very frequent ones ("API", "CEO", "OpenAI") do not single out what is asked
        cap = counts.rare_cap(max(1, self.corpus.counts()["articles"]))
        names = {w for w in capitalized if total[w] <= cap}
        common = {w for w, n in total.items() if n >= 3 and upper[w] <= 0.5 * n}
        return capitalized, names, common

    # ----------------------------------------------------------------- search

    def search(
        self,
        query: str,
        *,
        feed: str | None = None,
        feeds: Sequence[str] = (),
        author: str = "",
        since: datetime | None = None,
        until: datetime | None = None,
        prefer_recent: bool = False,
        boost_feeds: Sequence[str] = (),
        names: Sequence[str] = (),
        k: int = 8,
        now: datetime | None = None,
        per_article: int = PER_ARTICLE,
        qvec: np.ndarray | None = None,
    ) -> list[Hit]:
        """The best `k` chunks for `query` (at most `per_article` per article), best first.
        `feed`/`feeds`/`author`/`since`/`until` filter; `boost_feeds` and recency only rank;
        `qvec` is the query's vector when the caller has it (the question is embedded once)."""
        now = now or utcnow()
        hard_feeds = [*feeds, *([feed] if feed else [])]
        ids = None
        if hard_feeds or author or since or until:
            ids = self.corpus.select_article_ids(feeds=hard_feeds, author=author, since=since,
                                                 until=until)  # fmt: skip
        qvec = self.embedder.embed_query(query) if qvec is None else qvec
        fused = self._fuse(query, qvec, names, ids)
        relevance = self._relevance(fused, boost_feeds)
        if prefer_recent and relevance:
            # "Recent" is relative to the newest of the good matches, not the wall clock: a
            # source that has been quiet for months still has a most recent release.
            good = relevance[0][0] * 0.6
            dates = [
                r.published
                for score, *_, r in relevance
                if score >= good and r.published and r.published <= now
            ]
            now = max(dates, default=now)
        weight, half_life = (RECENT_WEIGHT, 45.0) if prefer_recent else (0.15, 365.0)
        scored = sorted(
            (
                (score * (1.0 + weight * _recency(row.published, now, half_life)), cid, aid, t, row)
                for score, cid, aid, t, row in relevance
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
            hits.append(_hit(cid, text, row, score, fused.similarity.get(cid, 0.0)))
            if len(hits) >= k:
                break
        return hits

    def _fuse(
        self, query: str, qvec: np.ndarray, names: Sequence[str], ids: list[str] | None
    ) -> _Fused:
        """The three candidate lists fused by rank, with each chunk's cosine similarity (also
        for chunks only the keyword lists found) and its weighted, normalized BM25 scores."""
        dense = self._dense(qvec, ids)
        keyword = self.corpus.keyword_search(query, CANDIDATES, ids)
        by_name = self.corpus.keyword_search(" ".join(names), CANDIDATES // 2, ids) if names else []
        out = _Fused()
        for rank, (cid, aid, text, sim) in enumerate(dense):
            out.rank[cid] += 1.0 / (RRF_K + rank)
            out.found[cid] = (aid, text)
            out.similarity[cid] = sim
        for results, weight in ((keyword, KEYWORD_WEIGHT), (by_name, NAMES_WEIGHT)):
            top = max((s for *_, s in results), default=0.0)
            for rank, (cid, aid, text, bm25) in enumerate(results):
                out.rank[cid] += 1.0 / (RRF_K + rank)
                out.extra[cid] += weight * (bm25 / top if top > 0 else 0.0)
                out.found.setdefault(cid, (aid, text))
        missing = [cid for cid in out.found if cid not in out.similarity]
        if missing:
            for cid, vec in self.corpus.chunk_vectors(missing).items():
                out.similarity[cid] = float(np.dot(qvec, vec))
        return out

    def _dense(self, qvec: np.ndarray, ids: list[str] | None) -> list[tuple[str, str, str, float]]:
        """The CANDIDATES chunks closest to the question (among `ids`' when given). Chroma's
        filter on many ids is slow (1 s for 25,000 articles of 100,000): the nearest
        WIDE_DENSE chunks of the whole corpus are read first, and when CANDIDATES of them pass
        the filter they are exactly the filtered search's result."""
        if ids is None or len(ids) < CHROMA_IN_BATCH:
            return self.corpus.dense_search(qvec, CANDIDATES, ids)
        wide = self.corpus.dense_search(qvec, WIDE_DENSE)
        wanted = set(ids)
        kept = [hit for hit in wide if hit[1] in wanted]
        if len(kept) >= CANDIDATES or len(wide) < WIDE_DENSE:
            return kept[:CANDIDATES]
        return self.corpus.dense_search(qvec, CANDIDATES, ids)

    def _relevance(
        self, fused: _Fused, boost_feeds: Sequence[str]
    ) -> list[tuple[float, str, str, str, ArticleRow]]:
        """(score, chunk id, article id, text, row) per candidate, best first: rank fusion plus
        cosine plus BM25, times the boost of a feed the question names as its subject."""
        aids = list({a for a, _ in fused.found.values()})
        rows = {r.id: r for r in self.corpus.article_rows(aids)}
        boost = set(boost_feeds)
        relevance: list[tuple[float, str, str, str, ArticleRow]] = []
        for cid, base in fused.rank.items():
            aid, text = fused.found[cid]
            row = rows.get(aid)
            if row is None:  # vectors of an article being rewritten by a concurrent ingest
                continue
            score = base * RRF_K / 2 + fused.similarity.get(cid, 0.0) + fused.extra.get(cid, 0.0)
            if boost and boost & set(row.feeds):
                score *= SOURCE_BOOST
            relevance.append((score, cid, aid, text, row))
        relevance.sort(key=lambda t: t[0], reverse=True)
        return relevance

    def passages(self, article_ids: Sequence[str], qvec: np.ndarray, k: int = 4) -> list[Hit]:
        """The `k` chunks of each of these articles closest to the question: a long newsletter's
        one answering paragraph, wherever it is in the issue."""
        chunks = self.corpus.article_chunks(article_ids)
        if not chunks:
            return []
        vecs = self.corpus.chunk_vectors([cid for cid, _, _ in chunks])
        rows = {r.id: r for r in self.corpus.article_rows(list(article_ids))}
        scored = sorted(
            (
                (float(np.dot(qvec, vecs[cid])), cid, aid, text)
                for cid, aid, text in chunks
                if cid in vecs and aid in rows
            ),
            reverse=True,
        )
        per: dict[str, int] = defaultdict(int)
        out: list[Hit] = []
        for sim, cid, aid, text in scored:
            if per[aid] < k:
                per[aid] += 1
                out.append(_hit(cid, text, rows[aid], sim, sim))
        return out

    def count_mentions(self, term: str) -> int:
        """Passages mentioning `term`; a feed's own name counts too ("DeepMind")."""
        key = re.sub(r"[^a-z0-9]+", "", term.lower())
        feeds = [
            f
            for f in self.corpus.feed_names()
            if key and key in re.sub(r"[^a-z0-9]+", "", f.lower())
        ]
        return len(feeds) + self.corpus.count_mentions(term)

    def versions_of(self, family: str, limit: int = 400) -> list[tuple[str, Hit]]:
        """Versions of a product family the corpus mentions ("gpt" → "5", "4.1", ...), each with
        the newest article that names it, newest version first."""
        pattern = re.compile(
            rf"(?<![\w.]){re.escape(family)}[ -]?v?((?:19|20)\d\d|\d{{1,2}}(?:\.\d{{1,2}})?)"
            r"(?!\d|\.\d|\s?[BMKT]\b|x\d)",  # a size is no version: "Llama 70B", "8x7B"
            re.I,
        )
        found: dict[str, set[str]] = defaultdict(set)
        for _cid, aid, text, _score in self.corpus.keyword_search(family, limit):
            for m in pattern.finditer(text):
                found[m.group(1)].add(aid)
        rows = {
            r.id: r for r in self.corpus.article_rows(list({a for s in found.values() for a in s}))
        }
        out: list[tuple[str, Hit]] = []
        for ver, aids in found.items():
            dated = [rows[a] for a in aids if a in rows]
            if not dated:
                continue
            newest = max(dated, key=lambda r: r.published.timestamp() if r.published else 0.0)
            out.append((ver, _hit(f"{newest.id}:0", newest.text[:400], newest, 0.0, 0.0)))
        out.sort(key=lambda vh: _version_key(vh[0]), reverse=True)
        return out

    # ----------------------------------------------------------------- listings

    def latest(
        self,
        *,
        topic: str | None = None,
        feed: str | None = None,
        feeds: Sequence[str] = (),
        author: str = "",
        limit: int = 10,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[LatestItem]:
        """Newest articles first; with a topic, only articles that match it (semantic or keyword).
        A story carried by several feeds (same link, or same title) is listed once."""
        limit = max(1, min(limit, 50))
        all_feeds = [*feeds, *([feed] if feed else [])]
        if topic and topic.strip():
            hits = self.search(
                topic,
                feeds=all_feeds,
                author=author,
                since=since,
                until=until,
                k=limit * 4,
                per_article=1,
            )
            floor = self.settings.relevance_threshold
            relevant = [h.article_id for h in hits if h.similarity >= floor]
            rows = self.corpus.latest_articles(limit * 4, ids=relevant) if relevant else []
        elif all_feeds or author or until:
            ids = self.corpus.select_article_ids(
                feeds=all_feeds, author=author, since=since, until=until
            )
            rows = self.corpus.latest_articles(limit * 2, ids=ids) if ids else []
        else:
            rows = self.corpus.latest_articles(limit * 2, since=since)
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
                    summary=shorten(r.text, SUMMARY_CHARS),
                )
            )
            if len(items) >= limit:
                break
        return items


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


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
