"""The answer path, as stages (each its own module, typed input → typed output):

    understand  question → QueryPlan (what is asked, answer type, names + versions, sources,
                time window, listing intent)                                 bot.answer.understand
    retrieve    QueryPlan → candidate chunks (hybrid dense + keyword + names; constraints hard
                only when explicit)                                          bot.answer.retrieve
    rank        chunks → articles in answer order                            bot.answer.rank
    gate        answer or decline, and why                                   bot.answer.gate
    compose     articles → Answer (extractive, listing, or LLM; citations checked)
                                                                             bot.answer.compose

`Answerer.answer` runs them in order and records what each did in a `Trace` (`newsbot ask
--explain` prints it; the evaluation reads it). Nothing here knows about Discord.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import numpy as np

from bot.answer import compose, decline
from bot.answer.cite_order import CiteOrder, primary_first
from bot.answer.compose import (
    build_context,
    extract_citations,
    looks_like_refusal,
    renumber_citations,
    restrict_links,
)
from bot.answer.corpus_view import AsOf, SearchesCorpus
from bot.answer.decline import CLOSEST
from bot.answer.gate import Verdict, judge
from bot.answer.rank import RankedArticle, rank
from bot.answer.text import (
    clean_question,
    entity_terms,
    keyword_terms,
    split_sentences,
    strip_markdown,
    usable_sentence,
)
from bot.answer.trace import Trace
from bot.answer.understand import (
    QueryPlan,
    build_query,
    is_follow_up,
    understand,
)
from bot.config import AnswerSettings
from bot.language import question_language
from bot.llm import MAX_ANSWER_TOKENS, ChatLLM
from bot.messages import say
from bot.models import Answer, Hit, Turn
from bot.prompts import load_prompt
from bot.timeparse import format_day
from ingest.embed import Embedder
from ingest.models import utcnow

log = logging.getLogger(__name__)

__all__ = [
    "Answerer",
    "QueryPlan",
    "SearchesCorpus",
    "Trace",
    "build_context",
    "build_query",
    "clean_question",
    "entity_terms",
    "extract_citations",
    "is_follow_up",
    "keyword_terms",
    "looks_like_refusal",
    "renumber_citations",
    "restrict_links",
    "split_sentences",
    "strip_markdown",
    "understand",
    "usable_sentence",
]

K = 16  # chunks retrieved per question
TOP_ARTICLES = 5  # articles the answer may use (and the evaluation's hit@5)
LISTING_ITEMS = 5
LEAD_ARTICLES = 2  # articles whose best passages are all read, not only the retrieved chunks
PASSAGES_PER_ARTICLE = 4
_URL_ONLY = re.compile(r"^<?https?://\S+>?$", re.IGNORECASE)


class Answerer:
    """Turns a question into an Answer through the stages. One per process (holds the LLM)."""

    def __init__(
        self,
        settings: AnswerSettings,
        embedder: Embedder,
        *,
        context_chars: int = compose.CONTEXT_CHARS,
        max_answer_tokens: int = MAX_ANSWER_TOKENS,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.context_chars = context_chars  # LLM prompt budget for source text
        self.llm: ChatLLM | None = (
            ChatLLM(settings, max_tokens=max_answer_tokens) if settings.llm != "none" else None
        )

    @property
    def backend(self) -> str:
        return "extractive" if self.llm is None else self.settings.llm

    def answer(
        self,
        question: str,
        retriever: SearchesCorpus,
        *,
        feed: str | None = None,
        since: datetime | None = None,
        history: Sequence[Turn] = (),
        as_of: datetime | None = None,
        now: datetime | None = None,
        cite_order: CiteOrder | None = None,
    ) -> Answer:
        """`cite_order` (article ids → the same ids) reorders an answer's citations: the
        engine's puts a story's primary source first (bot.answer.cite_order)."""
        trace = Trace()
        if now is not None and (as_of is None or now < as_of):
            # Asked as of a past moment: articles published later did not exist yet.
            retriever = AsOf(retriever, now)
            as_of = now if as_of is None else min(as_of, now)
        lang = question_language(clean_question(question))
        ans = self._answer(
            question, retriever, feed, since, history, as_of, now, trace, cite_order, lang
        )
        trace.decision = trace.decision or ("answered" if ans.answered else "declined")
        return replace(ans, trace=trace, language=lang)

    def _answer(
        self,
        question: str,
        retriever: SearchesCorpus,
        feed: str | None,
        since: datetime | None,
        history: Sequence[Turn],
        as_of: datetime | None,
        now: datetime | None,
        trace: Trace,
        cite_order: CiteOrder | None = None,
        lang: str = "en",
    ) -> Answer:
        q = clean_question(question)
        refused = self._not_a_question(q, lang, as_of, trace)
        if refused is not None:
            return refused
        now = now or utcnow()
        plan = understand(
            q, now, directory=retriever.directory(), history=history, since=since, feed=feed
        )
        plan = replace(plan, language=lang)  # the library's verdict, hinted by plan.language
        trace.add("understand", **plan.describe())
        if plan.listing:
            listed = self._listing(plan, retriever, as_of, trace)
            if listed is not None:
                return listed
        hits = self._retrieve(plan, retriever, now, trace)
        qvec = self.embedder.embed_query(plan.query)
        sims = self._similarities(hits, qvec)
        ranked = rank(plan, hits)[:TOP_ARTICLES]
        _trace_rank(trace, ranked, hits, sims)
        verdict = judge(plan, ranked, sims, retriever, self.settings.relevance_threshold)
        trace.add("gate", ok=verdict.ok, reason=verdict.reason, **verdict.facts)
        if not verdict.ok:
            trace.decision = verdict.reason
            return self._declined(plan, verdict, retriever, ranked, as_of, now, trace)
        use = self._passages(verdict.use, retriever, qvec)
        # (a listing, above, stays newest first; an answer cites a story's primary source first)
        extractive = primary_first(compose.extractive(plan, use, as_of, trace), cite_order)
        if self.llm is None:
            return extractive
        ans = compose.with_llm(
            self.llm, plan, use, history, now, self.context_chars, extractive, trace
        )
        if not ans.answered:  # the model says the sources don't hold it
            trace.decision = "llm-refused"
            return decline.not_found(q, lang, ranked, as_of, self.backend)
        return primary_first(ans, cite_order)

    # ----------------------------------------------------------------- stages

    def _not_a_question(
        self, q: str, lang: str, as_of: datetime | None, trace: Trace
    ) -> Answer | None:
        """An empty question, one over the length limit, or a bare link: declined as such."""
        if not q or not re.search(r"\w", q):
            trace.decision = "empty question"
            return Answer(q, load_prompt("empty_question"), (), as_of, False)
        if len(q) > self.settings.max_question_chars:
            trace.decision = "question too long"
            text = say("too_long", lang, length=len(q), limit=self.settings.max_question_chars)
            return Answer(q, text, (), as_of, False)
        if _URL_ONLY.match(q):
            trace.decision = "a link, not a question"
            return Answer(q, load_prompt("url_question"), (), as_of, False)
        return None

    def _retrieve(
        self, plan: QueryPlan, retriever: SearchesCorpus, now: datetime, trace: Trace
    ) -> list[Hit]:
        w = plan.window
        explicit = [s for s in plan.sources if s.explicit]
        hard_feeds = tuple(sorted({f for s in explicit if not s.author for f in s.feeds}))
        author = next((s.author for s in explicit if s.author), "")
        soft = tuple(f for f in plan.source_feeds if f not in hard_feeds)

        def search(feeds: Sequence[str], author: str, boost: Sequence[str]) -> list[Hit]:
            return retriever.search(
                plan.query,
                feeds=feeds,
                author=author,
                boost_feeds=boost,
                since=w.since,
                until=w.until,
                prefer_recent=w.prefer_recent or plan.listing,
                names=plan.names,
                k=K,
                now=now,
            )

        hits = search(hard_feeds, author, soft)
        mode = "source-restricted" if (hard_feeds or author) else "open"
        if (hard_feeds and not author and not self._any_relevant(hits)) or (author and not hits):
            # The source named may not carry it (or the name was a topic after all): search
            # everything, still favouring that source. An author's few posts are kept as they
            # are ("what does the paper by X test": little else to match on).
            hits = search((), "", plan.source_feeds)
            mode = "source-preferred (nothing relevant within the source)"
        trace.add(
            "retrieve",
            mode=mode,
            feeds=list(hard_feeds),
            author=author,
            boost=list(soft),
            hits=len(hits),
            top=[{"url": h.url, "sim": round(h.similarity, 3), "score": round(h.score, 3)}
                 for h in hits[:8]],
        )  # fmt: skip
        return hits

    @staticmethod
    def _passages(
        use: Sequence[RankedArticle], retriever: SearchesCorpus, qvec: np.ndarray
    ) -> list[Hit]:
        """The passages to answer from: the retrieved chunks, plus the chunks of the leading
        articles closest to the question (retrieval keeps two per article; the answer of a long
        newsletter issue may be in a third)."""
        lead = [a.head.article_id for a in use[:LEAD_ARTICLES]]
        extra = retriever.passages(lead, qvec, PASSAGES_PER_ARTICLE) if lead else []
        seen: set[str] = set()
        out: list[Hit] = []
        for a in use:
            mine = [*a.hits, *(h for h in extra if h.article_id == a.head.article_id)]
            for h in mine:
                if h.chunk_id not in seen:
                    seen.add(h.chunk_id)
                    out.append(h)
        return out

    def _any_relevant(self, hits: Sequence[Hit]) -> bool:
        floor = self.settings.relevance_threshold - 0.05
        return any(h.similarity >= floor for h in hits)

    def _similarities(self, hits: Sequence[Hit], qvec: np.ndarray) -> dict[str, float]:
        """Cosine similarity of every hit; keyword-only hits (0) are measured here."""
        sims = {h.chunk_id: float(h.similarity) for h in hits}
        missing = [h for h in hits if h.similarity <= 0.0]
        if missing:
            vecs = self.embedder.embed_texts([h.text for h in missing])
            for h, v in zip(missing, vecs @ qvec, strict=True):
                sims[h.chunk_id] = float(v)
        return sims

    def _listing(
        self, plan: QueryPlan, retriever: SearchesCorpus, as_of: datetime | None, trace: Trace
    ) -> Answer | None:
        feeds = tuple(sorted({f for s in plan.sources if not s.author for f in s.feeds}))
        author = next((s.author for s in plan.sources if s.author), "")
        topic = list(plan.topic)
        w = plan.window
        items = retriever.latest(
            topic=" ".join(topic) or None,
            feeds=feeds,
            author=author,
            since=w.since,
            until=w.until,
            limit=LISTING_ITEMS,
        )
        trace.add("retrieve", mode="listing", feeds=list(feeds), author=author, topic=topic,
                  items=[i.url for i in items])  # fmt: skip
        trace.ranked = trace.retrieved = [i.url for i in items]
        trace.ranked_ids = [i.article_id for i in items]
        if items:
            trace.decision = "answered (listing)"
            return compose.listing(plan, items, as_of, trace)
        if not w.bounded:
            return None  # nothing from that source on this topic: answer as a question
        # Nothing from that source in the window: say so, and offer its newest items.
        newest = retriever.latest(feeds=feeds, author=author, limit=CLOSEST)
        trace.decision = "window-empty (listing)"
        return decline.source_window_empty(plan, newest, author or compose.source_label(feeds),
                                           as_of, self.backend)  # fmt: skip

    def _declined(
        self,
        plan: QueryPlan,
        verdict: Verdict,
        retriever: SearchesCorpus,
        ranked: Sequence[RankedArticle],
        as_of: datetime | None,
        now: datetime,
        trace: Trace,
    ) -> Answer:
        if verdict.reason == "version-missing" and verdict.newest_version is not None:
            return decline.version_missing(plan, verdict.newest_version, verdict.facts, as_of,
                                           self.backend)  # fmt: skip
        if plan.window.bounded:
            outside = self._outside_window(plan, retriever, now)
            if outside:
                return decline.window_empty(plan, outside, as_of, self.backend, trace)
        return decline.not_found(plan.question, plan.language, ranked, as_of, self.backend)

    def _outside_window(
        self, plan: QueryPlan, retriever: SearchesCorpus, now: datetime
    ) -> list[Hit]:
        """On-topic passages from any time, newest first in spirit: for "nothing this week"."""
        hits = retriever.search(
            plan.query,
            feeds=tuple(f for s in plan.sources if s.explicit for f in s.feeds),
            prefer_recent=True,
            names=plan.names,
            k=K,
            now=now,
        )
        qvec = self.embedder.embed_query(plan.query)
        sims = self._similarities(hits, qvec)
        ranked = rank(plan, hits)
        # judge without the window: are these passages about the question at all?
        open_plan = replace(plan, window=replace(plan.window, since=None, until=None))
        verdict = judge(open_plan, ranked, sims, retriever, self.settings.relevance_threshold)
        if not verdict.ok:
            return []
        return [a.head for a in verdict.use]


def _trace_rank(
    trace: Trace, ranked: Sequence[RankedArticle], hits: Sequence[Hit], sims: dict[str, float]
) -> None:
    trace.ranked = [a.head.url for a in ranked]
    trace.ranked_ids = [a.head.article_id for a in ranked]
    trace.retrieved = list(dict.fromkeys(h.url for h in hits))
    trace.add(
        "rank",
        articles=[
            {"url": a.head.url, "score": round(a.score, 3), "names": round(a.names, 2),
             "terms": round(a.terms, 2),
             "sim": round(max(sims.get(h.chunk_id, 0.0) for h in a.hits), 3),
             "date": format_day(a.head.published) if a.head.published else None}
            for a in ranked
        ],
    )  # fmt: skip


# Kept for callers that used the old names.
_usable = usable_sentence
