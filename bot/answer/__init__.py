"""The answer path, as stages (each its own module, typed input → typed output):

    understand  question → QueryPlan (what is asked, answer type, names + versions, sources,
                time window, listing intent)                                 bot.answer.understand
    models      a question about a model → Answer from the model directory, or on
                                                                             bot.answer.model_lookup
    listing     "latest from X" → the items                                  bot.answer.listing
    retrieve    QueryPlan → Retrieved (hybrid dense + keyword + names; constraints hard only
                when explicit; the question embedded once)  bot.answer.retrieve, bot.answer.search
    rank        chunks → articles in answer order                            bot.answer.rank
    gate        answer or decline, and why → Verdict                         bot.answer.gate
    compose     articles → Answer (extractive or LLM; citations checked)     bot.answer.extract,
                bot.answer.llm_answer; declines                              bot.answer.decline
    across languages, meaning is measured by                                 bot.answer.multilingual

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

from bot.answer import decline
from bot.answer.cite_order import CiteOrder, primary_first
from bot.answer.corpus_view import AsOf, SearchesCorpus
from bot.answer.extract import extractive
from bot.answer.gate import judge
from bot.answer.listing import list_items
from bot.answer.llm_answer import CONTEXT_CHARS, with_llm
from bot.answer.model_lookup import answer_from_directory
from bot.answer.multilingual import Multilingual
from bot.answer.rank import RankedArticle, rank
from bot.answer.retrieve import retrieve
from bot.answer.text import clean_question
from bot.answer.trace import Trace
from bot.answer.understand import QueryPlan, understand
from bot.config import AnswerSettings
from bot.datephrases import format_day
from bot.language import question_language
from bot.llm import MAX_ANSWER_TOKENS, ChatLLM
from bot.messages import say
from bot.models import Answer, Hit, Turn
from bot.prompts import load_prompt
from ingest.embed import Embedder
from ingest.models import utcnow

log = logging.getLogger(__name__)

TOP_ARTICLES = 5  # articles the answer may use (and the evaluation's hit@5)
LEAD_ARTICLES = 2  # articles whose best passages are all read, not only the retrieved chunks
PASSAGES_PER_ARTICLE = 4
WIDE_PASSAGES = 32  # read of a lead article, before the closest PASSAGES_PER_ARTICLE are kept
_URL_ONLY = re.compile(r"^<?https?://\S+>?$", re.IGNORECASE)


class Answerer:
    """Turns a question into an Answer through the stages. One per process (holds the LLM)."""

    def __init__(
        self,
        settings: AnswerSettings,
        embedder: Embedder,
        *,
        context_chars: int = CONTEXT_CHARS,
        max_answer_tokens: int = MAX_ANSWER_TOKENS,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.context_chars = context_chars  # LLM prompt budget for source text
        self.multilingual = Multilingual()  # loaded when a question first needs it
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
        """The stages in one straight line: understand → (model directory) → (listing) →
        retrieve → rank → gate → compose. Each records what it did in the Answer's trace;
        the Answer carries the plan and the decision.
        `cite_order` (article ids → the same ids) reorders an answer's citations: the
        engine's puts a story's primary source first (bot.answer.cite_order)."""
        trace = Trace()
        if now is not None and (as_of is None or now < as_of):
            # Asked as of a past moment: articles published later did not exist yet.
            retriever = AsOf(retriever, now)
            as_of = now if as_of is None else min(as_of, now)
        q = clean_question(question)
        lang = question_language(q)
        refused = self._not_a_question(q, lang, as_of, trace)
        if refused is not None:
            return replace(refused, trace=trace, language=lang, decision=trace.decision)
        now = now or utcnow()
        plan = understand(
            q, now, directory=retriever.directory(), history=history, since=since, feed=feed
        )
        plan = replace(plan, language=lang)  # the library's verdict, hinted by plan.language
        trace.add("understand", **plan.describe())
        ans = self._from_plan(plan, retriever, history, as_of, now, trace, cite_order)
        trace.decision = trace.decision or ("answered" if ans.answered else "declined")
        return replace(ans, trace=trace, language=lang, plan=plan, decision=trace.decision)

    def _from_plan(
        self,
        plan: QueryPlan,
        retriever: SearchesCorpus,
        history: Sequence[Turn],
        as_of: datetime | None,
        now: datetime,
        trace: Trace,
        cite_order: CiteOrder | None,
    ) -> Answer:
        known = answer_from_directory(plan, retriever.models(), as_of, trace)
        if known is not None:
            return known
        if plan.listing:
            listed = list_items(plan, retriever, as_of, self.backend, trace)
            if listed is not None:
                return listed
        threshold = self.settings.relevance_threshold
        found = retrieve(plan, retriever, self.embedder, now, threshold, trace, self.multilingual)
        ranked = rank(plan, found.hits)[:TOP_ARTICLES]
        _trace_rank(trace, ranked, found.hits, found.sims)
        verdict = judge(plan, ranked, found, retriever, threshold, now)
        trace.add("gate", ok=verdict.ok, reason=verdict.reason, **verdict.facts)
        if not verdict.ok:
            trace.decision = verdict.reason
            return decline.for_verdict(plan, verdict, ranked, as_of, self.backend, trace)
        use = _passages(plan, verdict.use, retriever, found.qvec, self.multilingual)
        # (a listing, above, stays newest first; an answer cites a story's primary source first)
        extracted = extractive(plan, use, as_of, trace, self.multilingual)
        extracted = primary_first(extracted, cite_order)
        if self.llm is None:
            return extracted
        ans = with_llm(self.llm, plan, use, history, now, self.context_chars, extracted, trace)
        if not ans.answered:  # the model says the sources don't hold it
            trace.decision = "llm-refused"
            return decline.not_found(plan.question, plan.language, ranked, as_of, self.backend)
        return primary_first(ans, cite_order)

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


def _passages(
    plan: QueryPlan,
    use: Sequence[RankedArticle],
    retriever: SearchesCorpus,
    qvec: np.ndarray,
    multilingual: Multilingual,
) -> list[Hit]:
    """The passages to answer from: the retrieved chunks, plus the chunks of the leading
    articles closest to the question (retrieval keeps two per article; the answer of a long
    newsletter issue may be in a third)."""
    lead = [a.head.article_id for a in use[:LEAD_ARTICLES]]
    extra = retriever.passages(lead, qvec, WIDE_PASSAGES) if lead else []
    extra = _closest_per_article(plan, extra, multilingual)
    seen: set[str] = set()
    out: list[Hit] = []
    for a in use:
        mine = [*a.hits, *(h for h in extra if h.article_id == a.head.article_id)]
        for h in mine:
            if h.chunk_id not in seen:
                seen.add(h.chunk_id)
                out.append(h)
    return out


def _closest_per_article(
    plan: QueryPlan, hits: Sequence[Hit], multilingual: Multilingual
) -> list[Hit]:
    """The PASSAGES_PER_ARTICLE chunks of each article closest to the question. Where the
    question or the article is not English, closeness is the multilingual encoder's (the
    English model's order means little there)."""
    better = multilingual.where_needed(plan.question, plan.language, hits)
    if better:
        hits = sorted(hits, key=lambda h: -better.get(h.chunk_id, h.similarity))
    per: dict[str, int] = {}
    out = []
    for h in hits:
        per[h.article_id] = per.get(h.article_id, 0) + 1
        if per[h.article_id] <= PASSAGES_PER_ARTICLE:
            out.append(h)
    return out


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
