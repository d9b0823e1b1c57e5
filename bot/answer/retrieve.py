"""The retrieve stage: QueryPlan → candidates (Retrieved), through the corpus search
(bot.answer.search). The question is embedded once, here; a source named as where to look is a
hard filter, widened to every feed when it holds nothing close to the question."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from bot.answer.corpus_view import SearchesCorpus
from bot.answer.multilingual import Multilingual
from bot.answer.rank import has_version
from bot.answer.trace import Trace
from bot.answer.understand import QueryPlan
from bot.models import Hit
from ingest.embed import Embedder

K = 16  # chunks retrieved per question
SOURCE_FALLBACK_MARGIN = 0.05  # a named source holds nothing this close to the threshold: widen


@dataclass(frozen=True)
class Retrieved:
    """What the retrieve stage found: the question's vector (it is embedded once, here), the
    candidate chunks best first, each one's cosine similarity to the question, and how it
    searched (restricted to a named source, or wider because that source held nothing)."""

    qvec: np.ndarray
    hits: tuple[Hit, ...]
    sims: dict[str, float]
    mode: str


def retrieve(
    plan: QueryPlan,
    corpus: SearchesCorpus,
    embedder: Embedder,
    now: datetime,
    threshold: float,
    trace: Trace,
    multilingual: Multilingual | None = None,
) -> Retrieved:
    """The retrieve stage: QueryPlan → candidates. A source named as the place to look is a hard
    filter; when it holds nothing close to the question (the name was a topic after all, or
    it does not carry it) the search widens to every feed, still favouring that source."""
    qvec = embedder.embed_query(plan.query)
    w = plan.window
    explicit = [s for s in plan.sources if s.explicit]
    hard_feeds = tuple(sorted({f for s in explicit if not s.author for f in s.feeds}))
    author = next((s.author for s in explicit if s.author), "")
    soft = tuple(f for f in plan.source_feeds if f not in hard_feeds)

    recent = w.prefer_recent or plan.listing
    until = w.until if plan.listing else w.reported_until  # news of a day comes days after it

    def search(feeds: Sequence[str], author: str, boost: Sequence[str]) -> list[Hit]:
        return corpus.search(
            plan.query, feeds=feeds, author=author, boost_feeds=boost, since=w.since,
            until=until, prefer_recent=recent, names=plan.names, k=K, now=now, qvec=qvec,
        )  # fmt: skip

    hits = search(hard_feeds, author, soft)
    mode = "source-restricted" if (hard_feeds or author) else "open"
    if recent and plan.versions and not _holds_a_version(plan, hits):
        # "what's new in DeepSeek V3.1": newer articles about later versions crowd out the one
        # asked about; the version decides, not recency.
        recent = False
        hits = search(hard_feeds, author, soft)
        mode += ", without recency (the version asked for)"
    floor = threshold - SOURCE_FALLBACK_MARGIN
    nothing_close = not any(h.similarity >= floor for h in hits)
    if (hard_feeds and not author and nothing_close) or (author and not hits):
        # An author's few posts are kept as they are ("what does the paper by X test": little
        # else to match on).
        hits = search((), "", plan.source_feeds)
        mode = "source-preferred (nothing relevant within the source)"
    sims = similarities(hits, qvec, embedder)
    if multilingual is not None:
        hits = across_languages(plan, hits, sims, multilingual)
    trace.add(
        "retrieve", mode=mode, feeds=list(hard_feeds), author=author, boost=list(soft),
        hits=len(hits),
        top=[{"url": h.url, "sim": round(sims[h.chunk_id], 3), "score": round(h.score, 3)}
             for h in hits[:8]],
    )  # fmt: skip
    return Retrieved(qvec, tuple(hits), sims, mode)


def _holds_a_version(plan: QueryPlan, hits: Sequence[Hit], articles: int = 5) -> bool:
    """One of the first `articles` articles names a version the question asks about."""
    lead = list(dict.fromkeys(h.article_id for h in hits))[:articles]
    return any(
        has_version(f"{h.title}\n{h.text}", f, v)
        for h in hits if h.article_id in lead for f, v in plan.versions
    )  # fmt: skip


def similarities(hits: Sequence[Hit], qvec: np.ndarray, embedder: Embedder) -> dict[str, float]:
    """Cosine similarity of every hit to the question; a chunk without a stored vector
    (keyword-only, 0) is embedded here."""
    sims = {h.chunk_id: float(h.similarity) for h in hits}
    missing = [h for h in hits if h.similarity <= 0.0]
    if missing:
        vecs = embedder.embed_texts([h.text for h in missing])
        for h, v in zip(missing, vecs @ qvec, strict=True):
            sims[h.chunk_id] = float(v)
    return sims


def across_languages(
    plan: QueryPlan, hits: Sequence[Hit], sims: dict[str, float], multilingual: Multilingual
) -> list[Hit]:
    """Where the English-only model cannot judge meaning (the question or the passage is not
    English), the multilingual encoder's similarity counts too (the higher of the two); `sims`,
    the hits' own similarity and their fused score are updated alike, best first again."""
    better = multilingual.where_needed(plan.question, plan.language, hits)
    if not better:
        return list(hits)
    out: list[Hit] = []
    for h in hits:
        gain = max(0.0, better.get(h.chunk_id, 0.0) - sims[h.chunk_id])
        if gain:  # the fused score holds the cosine as a term: it gains what the cosine did
            sims[h.chunk_id] += gain
            h = replace(h, similarity=sims[h.chunk_id], score=h.score + gain)
        out.append(h)
    return sorted(out, key=lambda h: h.score, reverse=True)
