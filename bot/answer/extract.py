"""Extractive answers: the 1-4 source sentences that best answer the question, cited per article.

A sentence's score: its chunk's similarity to the question (from retrieval), coverage of the
question's terms, its names, and whether the sentence holds the KIND of thing asked (a person for
"who", a number for "how much", a date for "when", a model name for "which model"); no embedding
at question time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from bot.answer.evidence import body, chunk_order, date_prefix, group_articles, to_source
from bot.answer.multilingual import Multilingual, text_language
from bot.answer.text import (
    entity_terms,
    keyword_terms,
    mentions,
    shorten,
    split_sentences,
    strip_markdown,
    tokens,
    usable_sentence,
)
from bot.answer.trace import Trace
from bot.answer.understand import QueryPlan
from bot.models import Answer, Hit, Source

MAX_EXTRACT_CHARS = 600
MAX_SENTENCES = 4
MAX_SENTENCE_CHARS = 320
MAX_CANDIDATES = 160
POOL = 24  # sentences considered after the lexical pass
NEAR_DUPLICATE = 0.6  # word-set Jaccard overlap above which a sentence repeats a picked one
SENTENCE_FLOOR = 0.30  # a sentence after the first needs at least this similarity
KEYWORD_BONUS = 0.25
RANK_BONUS = 0.04
ENTITY_BONUS = 0.08  # the sentence itself names what the question names
TYPE_BONUS = 0.12  # the sentence holds the kind of thing asked for
TYPE_PENALTY = 0.06
TYPE_REACH = 0.3  # how far below the best a fitting sentence may be and still lead
# --------------------------------------------------------------------------- answer types

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?|Januari|Februari|Maret|Mei|"
    r"Juni|Juli|Agustus|Oktober|Desember)"
)
_TYPE_PATTERNS: dict[str, re.Pattern[str]] = {
    "number": re.compile(
        r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|dozen|hundred|thousand|"
        r"million|billion|trillion|half|double|twice|juta|miliar|triliun)\b",
        re.IGNORECASE,
    ),
    "money": re.compile(
        r"[$€£¥₹]\s?\d|\b(?:US\$|USD|EUR|Rp\.?)\s?\d|\b\d[\d.,]*\s?(?:[kKmMbB]n?|million|billion|"
        r"trillion|juta|miliar|triliun)?\s?(?:dollars?|euros?|pounds|yuan|yen|rupiah|rupees?)\b",
        re.IGNORECASE,
    ),
    "date": re.compile(
        rf"\b{_MONTH}\.?\s+\d{{1,2}}\b|\b\d{{1,2}}\s+{_MONTH}\b|\b(?:19|20)\d\d\b|"
        r"\b\d{4}-\d\d-\d\d\b|\b(?:today|yesterday|tomorrow|next week|last week|this week|"
        r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b"
    ),
    "model": re.compile(
        r"\b[A-Za-z]+[-\s]?\d+(?:\.\d+)?[A-Za-z]*\b|\b[a-z]+[A-Z]\w+\b|\b[A-Z][a-z]+[A-Z]\w*\b|"
        r"\b[A-Z]{2,}[\w-]*\b"
    ),
    "person": re.compile(
        r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s+(?:[A-Z]\.\s*)?[A-Z][a-z]+(?:-[A-Z][a-z]+)?)+\b"
        r"|\b(?:CEO|CTO|founder|co-founder|cofounder|researcher|author|professor|scientist|"
        r"he|she|said|says|according to)\b"
    ),
    "place": re.compile(
        r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:[\s,]+[A-Z][a-z]+)*\b|\b(?:in|at)\s+[A-Z][a-z]+"
    ),
    "org": re.compile(
        r"\b[A-Z][\w.&-]*(?:\s+[A-Z][\w.&-]*)*\s*(?:Inc|Labs?|AI|Corp|Technologies|University|"
        r"Institute)?\b"
    ),
}


def fits_type(kind: str, sentence: str, question_tokens: set[str]) -> bool:
    """The sentence holds the kind of thing asked for, beyond what the question already says."""
    pattern = _TYPE_PATTERNS.get(kind)
    if pattern is None:
        return True
    for m in pattern.finditer(sentence):
        found = tokens(m.group(0))
        if kind in ("money", "number", "date") or not found <= question_tokens:
            return True
    return False


# --------------------------------------------------------------------------- extractive


@dataclass
class Candidate:
    text: str
    title: str
    article: int  # index into the article list (rank order)
    position: tuple[int, int]  # (chunk index, sentence index) for reading order
    chunk_sim: float = 0.0  # similarity of its chunk to the question (before any embedding)
    lexical: float = 0.0


def candidates(
    hits: Sequence[Hit], question: str = "", name_asked: bool = False
) -> tuple[list[Candidate], list[Hit]]:
    """Quotable sentences of the hits, in rank order. An article's title is a candidate too when
    its text gives fewer than two sentences (summary-only feeds: the title is the news) or, with
    a name is asked for ("what's the benchmark called": the title names it) - unless the title
    only repeats the question."""
    articles = [g[0] for g in group_articles(hits)]
    index = {h.article_id: i for i, h in enumerate(articles)}
    seen: set[str] = set()
    out: list[Candidate] = []
    per_article: dict[int, int] = {}
    for h in hits:
        for j, sentence in enumerate(split_sentences(strip_markdown(body(h)))):
            if not usable_sentence(sentence):
                continue
            key = re.sub(r"\W+", "", sentence.lower())
            if key in seen:
                continue
            seen.add(key)
            art = index[h.article_id]
            per_article[art] = per_article.get(art, 0) + 1
            out.append(
                Candidate(
                    shorten(sentence, MAX_SENTENCE_CHARS),
                    h.title,
                    art,
                    (chunk_order(h), j),
                    h.similarity,
                )
            )
            if len(out) >= MAX_CANDIDATES:
                return out, articles
    asked = tokens(question)
    for art, h in enumerate(articles):
        if len(h.title.split()) < 2 or (asked and tokens(h.title) <= asked):
            continue  # a title that only repeats the question says nothing
        if per_article.get(art, 0) < 2 or name_asked:
            key = re.sub(r"\W+", "", h.title.lower())
            if key not in seen:
                seen.add(key)
                title = shorten(h.title, MAX_SENTENCE_CHARS)
                out.append(Candidate(title, "", art, (-1, 0), h.similarity))
    return out, articles


def extractive(
    plan: QueryPlan,
    hits: Sequence[Hit],
    as_of: datetime | None,
    trace: Trace,
    multilingual: Multilingual | None = None,
) -> Answer:
    """The best 1-4 source sentences for the question, cited per article."""
    q = plan.question
    cands, articles = candidates(hits, plan.question, plan.answer_type in ("model", "org"))
    if not cands:  # only boilerplate: cite the best article's title
        best = hits[0]
        text = f"{date_prefix(best.published, plan.language)}{best.title} [1]"
        trace.add("compose", mode="title-only", article=best.url)
        return Answer(q, text, (to_source(1, best),), as_of, True)
    _score_lexical(plan, cands, len(articles))
    q_tokens, terms = tokens(plan.question), keyword_terms(plan.content)
    # A sentence's meaning-similarity is its chunk's, known from retrieval: embedding each
    # candidate sentence at question time cost ~10 ms a sentence and chose no better on the
    # development set (what the question asks is carried by the lexical and type terms).
    order = sorted(range(len(cands)), key=lambda i: -(cands[i].lexical + cands[i].chunk_sim))
    pool = [cands[i] for i in order[:POOL]]
    sims = np.array([c.chunk_sim for c in pool], dtype=np.float32)
    if multilingual is not None:
        _sentence_meaning(plan, pool, sims, multilingual)
    scores = sims + np.array([c.lexical for c in pool], dtype=np.float32)
    fits = [fits_type(plan.answer_type, c.text, q_tokens) for c in pool]
    if plan.answer_type != "any" and any(fits):
        # The first sentence must hold what was asked (a person for "who", a number for "how
        # many"), when one close enough to the best does.
        top = float(scores.max())
        fitting = [i for i, f in enumerate(fits) if f and scores[i] >= top - TYPE_REACH]
        if fitting:
            first = max(fitting, key=lambda i: scores[i])
            scores[first] = top + 1e-6
    picked = _pick(pool, sims, scores)
    lead = picked[0]
    trace.add(
        "compose",
        mode="extractive",
        candidates=len(cands),
        considered=len(pool),
        lead_sim=round(float(sims[lead]), 3),
        lead_fit=fits_type(plan.answer_type, pool[lead].text, q_tokens),
        lead_cov=round(_coverage(terms, pool[lead].text + " " + pool[lead].title), 2),
        picked=[
            {"score": round(float(scores[i]), 3), "sim": round(float(sims[i]), 3),
             "article": pool[i].article + 1, "text": pool[i].text[:120]}
            for i in picked
        ],
    )  # fmt: skip
    return _cited(plan, pool, picked, articles, as_of)


def _sentence_meaning(
    plan: QueryPlan, pool: Sequence[Candidate], sims: np.ndarray, multilingual: Multilingual
) -> None:
    """Sentences in another language than the question's: words barely overlap across
    languages, so the sentence's own meaning (the multilingual encoder) decides, not its chunk's.
    (Within Indonesian its sentence scores chose worse than the chunk's and the words: dev.)"""
    idx = [i for i, c in enumerate(pool) if text_language(c.text) != plan.language]
    found = multilingual.similarity(plan.question, [pool[i].text for i in idx])
    if found is not None:
        for i, v in zip(idx, found, strict=True):
            sims[i] = v


def _score_lexical(plan: QueryPlan, cands: Sequence[Candidate], n_articles: int) -> None:
    """Each candidate's lexical score: coverage of the question's terms, its article's rank,
    the names it mentions, and whether it holds the kind of thing asked."""
    terms = keyword_terms(plan.content)
    focus_terms = keyword_terms(plan.question) if plan.follow_up else []
    names = list(plan.names) or entity_terms(plan.content)
    q_tokens = tokens(plan.question)
    n_art = max(1, n_articles)
    for c in cands:
        covered = _coverage(focus_terms or terms, c.text + " " + c.title)
        if not c.title and plan.answer_type not in ("model", "org", "any"):
            covered -= 0.2  # a title rarely holds the person, number or date asked for
        fit = fits_type(plan.answer_type, c.text, q_tokens)
        c.lexical = (
            KEYWORD_BONUS * covered
            + RANK_BONUS * (n_art - c.article) / n_art
            + (ENTITY_BONUS if mentions(names, c.text) else 0.0)
            + (TYPE_BONUS if fit and plan.answer_type != "any" else 0.0)
            - (TYPE_PENALTY if not fit else 0.0)
        )


def _cited(
    plan: QueryPlan,
    pool: Sequence[Candidate],
    picked: Sequence[int],
    articles: Sequence[Hit],
    as_of: datetime | None,
) -> Answer:
    """The picked sentences, one line per article in order of first pick, in reading order."""
    by_article: list[int] = []
    for i in picked:
        if pool[i].article not in by_article:
            by_article.append(pool[i].article)
    parts: list[str] = []
    sources: list[Source] = []
    for n, art in enumerate(by_article, start=1):
        hit = articles[art]
        mine = sorted((i for i in picked if pool[i].article == art), key=lambda i: pool[i].position)
        sentences = [_cite(pool[i].text, n) for i in mine]
        parts.append(date_prefix(hit.published, plan.language) + " ".join(sentences))
        sources.append(to_source(n, hit))
    return Answer(plan.question, "\n".join(parts), tuple(sources), as_of, True)


def _coverage(terms: Sequence[str], text: str) -> float:
    if not terms:
        return 0.0
    present = tokens(text)
    return sum(t in present for t in terms) / len(terms)


def _pick(cands: Sequence[Candidate], sims: np.ndarray, scores: np.ndarray) -> list[int]:
    """The best 1-4 sentences: close to the best score, not near-duplicates, ≤ 600 chars."""
    ranked = [int(i) for i in np.argsort(-scores, kind="stable")]
    best = float(scores[ranked[0]])
    picked: list[int] = []
    total = 0
    per_article: dict[int, int] = {}
    for i in ranked:
        if len(picked) >= MAX_SENTENCES:
            break
        if picked:
            drop = 0.25 if len(picked) == 1 else 0.12
            if scores[i] < best - drop:
                break
            if sims[i] < SENTENCE_FLOOR:
                continue
            words = tokens(cands[i].text)
            if any(_jaccard(words, tokens(cands[j].text)) > NEAR_DUPLICATE for j in picked):
                continue
            if per_article.get(cands[i].article, 0) >= 3:
                continue
            if total + len(cands[i].text) > MAX_EXTRACT_CHARS:
                continue
        picked.append(i)
        total += len(cands[i].text) + 5
        per_article[cands[i].article] = per_article.get(cands[i].article, 0) + 1
    return picked


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _cite(sentence: str, n: int) -> str:
    """Put the marker before a closing period: "X released Y [1]." (else after: "Why? [1]")."""
    if sentence.endswith(".") and not sentence.endswith("..."):
        return f"{sentence[:-1]} [{n}]."
    return f"{sentence} [{n}]"
