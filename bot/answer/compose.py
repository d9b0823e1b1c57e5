"""Answer composition: ranked evidence → answer text with numbered citations.

- `extractive` (default): the 1-4 source sentences that best answer the question. A sentence's
  score: its chunk's similarity to the question (from retrieval), coverage of the question's
  terms, its names, and whether the sentence holds the KIND of thing asked (a person for "who",
  a number for "how much", a date for "when", a model name for "which model"); no embedding at
  question time.
- `listing`: a source's newest items (or those in a window), one dated line each.
- `with_llm`: the configured chat model over delimited, numbered sources; its citations are
  validated and renumbered, links to anything but the cited sources are removed, and any failure
  falls back to the extractive answer with a note.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

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
from bot.llm import ChatLLM, LLMError
from bot.models import Answer, Hit, LatestItem, Source, Turn
from bot.prompts import load_prompt, render_prompt
from bot.timeparse import format_day

log = logging.getLogger(__name__)

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
CONTEXT_CHARS = 6000  # LLM prompt: total characters of source text
MAX_CONTEXT_ARTICLES = 6


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
        if kind in ("number", "date") or not found <= question_tokens:
            return True
    return False


# --------------------------------------------------------------------------- citations

_CITATION = re.compile(
    r"\[\s*(?:(?:sources?|refs?|references?)\s*)?"
    r"(\d{1,3}(?:\s*(?:,|;|-|–|and|&)\s*(?:(?:sources?|refs?)\s*)?\d{1,3})*)\s*\]",
    re.IGNORECASE,
)


def _numbers(inner: str) -> list[int]:
    nums: list[int] = []
    for part in re.split(r"\s*(?:,|;|and|&)\s*", inner, flags=re.IGNORECASE):
        part = re.sub(r"(?i)sources?|refs?", "", part).strip()
        m = re.fullmatch(r"(\d+)\s*[-–]\s*(\d+)", part)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            if a <= b and b - a < 10:
                nums.extend(range(a, b + 1))
            else:
                nums.extend((a, b))
        elif part.isdigit():
            nums.append(int(part))
    return nums


def extract_citations(text: str) -> list[int]:
    """Every cited number in order of appearance ([1], [1, 2], [1][2], [Source 3], [2-4])."""
    return [n for m in _CITATION.finditer(text) for n in _numbers(m.group(1))]


def renumber_citations(text: str, valid: int | Iterable[int]) -> tuple[str, list[int]]:
    """Keep citations to valid source numbers, renumbered 1..m by first appearance.

    `valid` is the number of sources (1..valid) or the set of valid numbers. Returns the new
    text and the old numbers in new order (new n = index + 1). Invalid numbers are dropped
    from the text; a marker left with none is removed. Markers are written as [1][2].
    """
    ok = set(range(1, valid + 1)) if isinstance(valid, int) else set(valid)
    order: list[int] = []

    def repl(m: re.Match[str]) -> str:
        kept: list[int] = []
        for n in _numbers(m.group(1)):
            if n in ok and n not in kept:
                kept.append(n)
        for n in kept:
            if n not in order:
                order.append(n)
        return "".join(f"[{order.index(n) + 1}]" for n in kept) or "\x00"

    out = _CITATION.sub(repl, text)
    out = re.sub(r"[ \t]*\x00", "", out)  # a dropped marker takes its leading space with it
    out = re.sub(r"(?<=\S)[ \t]{2,}", " ", out)
    out = re.sub(r"\[(\d+)\](?=\w)", r"[\1] ", out)
    return out.strip(), order


_PARROTED_HEADER = re.compile(
    r"^[ \t]*(?:<source[^>\n]*>|\[\d{1,3}\][^\n]*\([^()\n]*,[ \t]*(?:\d{4}-\d\d-\d\d|undated)\))"
    r"[ \t]*(?:\n|$)",
    re.M,
)
_REFUSAL = re.compile(
    r"\b(?:my|the|these|provided|given) (?:sources?|context|articles?|documents?)\b[^.]{0,60}?"
    r"\b(?:do not|don't|does not|doesn't|did not|didn't|not|no|never)\b"
    r"|\bI (?:do not|don't|cannot|can't|could not|couldn't) (?:know|find|answer|tell|say)\b"
    r"|\bno (?:information|mention|details?|data)\b"
    r"|\bnot (?:mentioned|provided|covered|included|available|specified) in\b"
    r"|\bnot enough information\b|\bunable to (?:answer|find)\b",
    re.IGNORECASE,
)


def looks_like_refusal(text: str) -> bool:
    """The model says the sources don't hold the answer."""
    return bool(_REFUSAL.search(text))


_MD_LINK = re.compile(r"\[([^\]\n]{1,200})\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_BARE_URL = re.compile(r"<?\bhttps?://[^\s<>)\]]+>?")


def restrict_links(text: str, allowed: Iterable[str]) -> str:
    """Links in an LLM answer may only point at the cited sources: a masked link to anything
    else keeps its words and loses its target; a bare URL to anything else is removed."""
    ok = {u.rstrip("/") for u in allowed}

    def masked(m: re.Match[str]) -> str:
        return m.group(0) if m.group(2).rstrip("/") in ok else m.group(1)

    def bare(m: re.Match[str]) -> str:
        url = m.group(0).strip("<>")
        return m.group(0) if url.rstrip("/") in ok else ""

    return _BARE_URL.sub(bare, _MD_LINK.sub(masked, text))


# --------------------------------------------------------------------------- sources


def to_source(n: int, hit: Hit) -> Source:
    feeds = tuple(hit.feeds)
    return Source(
        n=n,
        article_id=hit.article_id,
        title=hit.title,
        url=hit.url,
        feed=feeds[0] if feeds else "",
        published=hit.published,
        feeds=feeds,
    )


def item_source(n: int, item: LatestItem) -> Source:
    """A listed item as a numbered citation."""
    return Source(
        n=n,
        article_id=item.article_id,
        title=item.title,
        url=item.url,
        feed=item.feeds[0] if item.feeds else "",
        published=item.published,
        feeds=tuple(item.feeds),
    )


def group_articles(hits: Sequence[Hit]) -> list[list[Hit]]:
    """Hits grouped by article, in order of each article's best hit."""
    groups: dict[str, list[Hit]] = {}
    for h in hits:
        groups.setdefault(h.article_id, []).append(h)
    return list(groups.values())


def chunk_order(hit: Hit) -> int:
    tail = hit.chunk_id.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def body(hit: Hit) -> str:
    """The chunk text without its leading title line."""
    text = hit.text or ""
    first, sep, rest = text.partition("\n")
    title = (hit.title or "").strip()
    if title and first.strip() == title[: len(first.strip())] and first.strip():
        return rest if sep else ""
    if title and text.startswith(title):
        return text[len(title) :]
    return text


def date_prefix(published: datetime | None) -> str:
    return f"({format_day(published)}) " if published else ""


def build_context(hits: Sequence[Hit], budget: int = CONTEXT_CHARS) -> tuple[str, list[Hit]]:
    """Numbered, delimited source blocks for the LLM prompt:
    <source id="n" title="..." feed="..." date="YYYY-MM-DD"> text </source>.

    Source text is data from the internet, not instructions: the delimiters let the system
    prompt say so, and text that imitates a delimiter is defused. One block per distinct article
    (up to 2 chunks merged), trimmed to the character budget. Returns the text and the first hit
    of each article, so [n] → articles[n-1]."""
    groups = group_articles(hits)[:MAX_CONTEXT_ARTICLES]
    blocks: list[str] = []
    firsts: list[Hit] = []
    remaining = budget
    for i, group in enumerate(groups):
        share = max(300, remaining // (len(groups) - i))
        if remaining < 200:
            break
        head = group[0]
        date = f"{head.published:%Y-%m-%d}" if head.published else "undated"
        feed = head.feeds[0] if head.feeds else "unknown feed"
        header = (
            f'<source id="{len(firsts) + 1}" title="{_attr(head.title)}" feed="{_attr(feed)}"'
            f' date="{date}">'
        )
        text = "\n".join(
            " ".join(strip_markdown(body(h)).split()) for h in sorted(group[:2], key=chunk_order)
        ).strip()
        text = re.sub(r"</?\s*source\b[^>]*>?", " ", text, flags=re.I)
        room = max(0, min(share, remaining) - len(header) - 12)
        if len(text) > room:
            text = text[: max(0, room - 1)].rsplit(" ", 1)[0] + "…"
        block = f"{header}\n{text}\n</source>"
        blocks.append(block)
        firsts.append(head)
        remaining -= len(block) + 2
    return "\n\n".join(blocks), firsts


def _attr(text: str) -> str:
    return " ".join(text.replace('"', "'").replace("<", "(").replace(">", ")").split())[:200]


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
    plan: QueryPlan, hits: Sequence[Hit], as_of: datetime | None, trace: Trace
) -> Answer:
    """The best 1-4 source sentences for the question, cited per article."""
    q = plan.question
    cands, articles = candidates(hits, plan.question, plan.answer_type in ("model", "org"))
    if not cands:  # only boilerplate: cite the best article's title
        best = hits[0]
        text = f"{date_prefix(best.published)}{best.title} [1]"
        trace.add("compose", mode="title-only", article=best.url)
        return Answer(q, text, (to_source(1, best),), as_of, True)
    terms = keyword_terms(plan.content)
    focus_terms = keyword_terms(plan.question) if plan.follow_up else []
    names = list(plan.names) or entity_terms(plan.content)
    q_tokens = tokens(plan.question)
    n_art = max(1, len(articles))
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
    # A sentence's meaning-similarity is its chunk's, known from retrieval: embedding each
    # candidate sentence at question time cost ~10 ms a sentence and chose no better on the
    # development set (what the question asks is carried by the lexical and type terms).
    order = sorted(range(len(cands)), key=lambda i: -(cands[i].lexical + cands[i].chunk_sim))
    pool = [cands[i] for i in order[:POOL]]
    sims = np.array([c.chunk_sim for c in pool], dtype=np.float32)
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
        parts.append(date_prefix(hit.published) + " ".join(sentences))
        sources.append(to_source(n, hit))
    return Answer(q, "\n".join(parts), tuple(sources), as_of, True)


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


# --------------------------------------------------------------------------- listing


def listing(
    plan: QueryPlan, items: Sequence[LatestItem], as_of: datetime | None, trace: Trace
) -> Answer:
    """A source's newest items (or its items in the window), newest first, each cited."""
    names = sorted({s.author or source_label(s.feeds) for s in plan.sources})
    window = f" {plan.window.phrase}" if plan.window.bounded else ""
    head = render_prompt(
        "listing_id" if plan.language == "id" else "listing",
        source=" / ".join(names),
        window=window,
    )
    lines = [head]
    sources: list[Source] = []
    for n, item in enumerate(items, start=1):
        lines.append(f"{date_prefix(item.published)}{item.title} [{n}]")
        sources.append(item_source(n, item))
    trace.add("compose", mode="listing", items=[i.url for i in items])
    return Answer(plan.question, "\n".join(lines), tuple(sources), as_of, True)


def source_label(feeds: Sequence[str]) -> str:
    base = sorted({re.sub(r"\s*\([^)]*\)\s*$", "", f) for f in feeds}, key=len)
    return base[0] if base else "that source"


# --------------------------------------------------------------------------- LLM


def with_llm(
    llm: ChatLLM,
    plan: QueryPlan,
    hits: Sequence[Hit],
    history: Sequence[Turn],
    now: datetime,
    context_chars: int,
    fallback: Answer,
    trace: Trace,
) -> Answer:
    """The LLM's answer over the hits, or `fallback` (extractive) with a note when it fails."""
    context, articles = build_context(hits, context_chars)
    user = render_prompt(
        "answer",
        question=plan.question,
        sources=context,
        today=f"{now:%Y-%m-%d}",
        history=history_block(history),
    )
    try:
        reply = llm.complete(load_prompt("system"), user)
    except LLMError as e:
        log.warning(
            "LLM %s failed (%s); answering extractively",
            llm.name,
            e.reason,
            exc_info=e.__cause__ is not None,
        )
        trace.add("compose", mode="llm-failed", reason=e.reason)
        return replace(fallback, note=render_prompt("fallback_unavailable", reason=e.reason))
    reply = _PARROTED_HEADER.sub("", reply).strip()  # small models echo source headers
    text, order = renumber_citations(reply, len(articles))
    if not order:
        if looks_like_refusal(reply):
            trace.add("compose", mode="llm-refused")
            return Answer(plan.question, "", (), fallback.as_of, False, backend=llm.name)
        log.info("LLM reply cited no valid source; answering extractively")
        trace.add("compose", mode="llm-no-citations")
        return replace(fallback, note=load_prompt("fallback_no_citations"))
    sources = tuple(to_source(i + 1, articles[old - 1]) for i, old in enumerate(order))
    text = restrict_links(text, [s.url for s in sources])
    trace.add("compose", mode="llm", cited=[s.url for s in sources])
    return Answer(plan.question, text, sources, fallback.as_of, True, backend=llm.name)


def history_block(history: Sequence[Turn]) -> str:
    turns = list(history)  # already limited to NEWSBOT_HISTORY_TURNS by the engine
    if not turns:
        return ""
    lines = []
    for t in turns:
        answer = re.sub(r"\s*\[\d+\]", "", t.answer)  # old numbering would confuse the model
        answer = shorten(answer, 300)
        lines.append(f"User: {' '.join(t.question.split())}\nYou: {answer}")
    return render_prompt("history", turns="\n".join(lines)) + "\n"
