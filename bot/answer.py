"""Answers from retrieved chunks, with numbered citations: extractive (default) or an LLM.

Flow of `Answerer.answer`: clean + validate the question → time window (explicit `since` wins,
else parsed from the question) → retrieval query (follow-ups include the previous question) →
retrieve k=8 → relevance gate → extractive sentences, or an LLM reply whose citations are
validated and renumbered (falling back to extractive on any LLM failure).

Relevance rule (see `_relevance`): the question is answerable from the hits when the best dense
cosine similarity reaches `settings.relevance_threshold`, or when a hit that is at most 0.10
below the threshold is a strong keyword match: it contains every distinctive term of the
question (the single term must be in the title when there is only one; at least 75% of them when
there are four or more). A hit also counts when every distinctive term names its feed ("What
did Google DeepMind release this week?" and a hit from the "Google DeepMind" feed), whatever its
similarity. Keyword-only hits (similarity 0) get their similarity computed here.

Names gate: when the question names something (a term written with a capital or a digit:
"GPT-5", "Kimi K2"), only hits whose title, text or feed name it are used; if none do, the
answer is "not in my sources" rather than passages about something else.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

import numpy as np

from bot.llm import MAX_ANSWER_TOKENS, ChatLLM, LLMError
from bot.models import Answer, Hit, Source, Turn
from bot.prompts import load_prompt, render_prompt
from bot.timeparse import TimeWindow, format_day, parse_time_window
from ingest.config import Settings
from ingest.embed import Embedder
from ingest.models import utcnow

log = logging.getLogger(__name__)

__all__ = [
    "Answerer",
    "SearchesCorpus",
    "build_context",
    "build_query",
    "clean_question",
    "entity_terms",
    "extract_citations",
    "is_follow_up",
    "keyword_terms",
    "looks_like_refusal",
    "renumber_citations",
    "split_sentences",
    "strip_markdown",
]

K = 8
UNKNOWN_NAME_MIN_SIMILARITY = 0.5  # see Answerer.answer: names the corpus never mentions
KEYWORD_MARGIN = 0.10  # a strong keyword match may be this far below the threshold
MAX_EXTRACT_CHARS = 600
MAX_SENTENCES = 4
MAX_SENTENCE_CHARS = 320
MAX_CANDIDATES = 100
NEAR_DUPLICATE = 0.6  # word-set Jaccard overlap above which a sentence repeats a picked one
SENTENCE_FLOOR = 0.30  # a sentence after the first needs at least this similarity
KEYWORD_BONUS = 0.10
RANK_BONUS = 0.03
ENTITY_BONUS = 0.08  # the sentence itself names what the question names
NUMBER_BONUS = 0.03  # "how much/many/when" questions: sentences with a number
CONTEXT_CHARS = 6000  # LLM prompt: total characters of source text
MAX_CONTEXT_ARTICLES = 6
HISTORY_TURNS = 3
CLOSEST = 3


class SearchesCorpus(Protocol):
    """What the answerer needs from retrieval (bot.retrieve.Retriever provides it)."""

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
    ) -> list[Hit]: ...

    def count_mentions(self, term: str) -> int:
        """How many passages of the whole corpus mention `term` (0: the corpus never does)."""
        ...


# --------------------------------------------------------------------------- question handling


def _words(text: str) -> list[str]:
    return text.split()


_DISCORD_MARKUP = re.compile(r"<(?:@[!&]?|#|/[\w -]+:)\d+>|<a?:(\w+):\d+>")

STOPWORDS = frozenset(
    _words(
        """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each else few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just let me more most my myself no nor not now of off on once only or other our
    ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    tell know give show explain describe please anything something everything thing things any
    happened happen happening going get got new news latest newest recent recently lately
    today yesterday week weeks month months year years day days since ago last past this next
    ai also say said says about announce announced announcement release released releases
    whats what's hey hi hello bot newsbot does did done make made much many
    """
    )
)
_TOKEN = re.compile(r"\w[\w.+-]*[\w+]|\w")
_FOLLOW_UP_WORDS = frozenset(
    _words(
        """they them their theirs it its that those these he him his she her there before after else
    earlier later also more other another same former latter"""
    )
)
_FOLLOW_UP_START = re.compile(
    r"^(?:and|but|so|also|what about|how about|and what|why|how come|tell me more|more on|"
    r"what else|anything else|same for|compared to|vs\.?|versus)\b",
    re.IGNORECASE,
)


def clean_question(question: str) -> str:
    """Drop Discord mention/channel/emoji markup and collapse whitespace."""
    text = _DISCORD_MARKUP.sub(lambda m: m.group(1) or " ", question or "")
    return " ".join(text.split())


def _norm_token(tok: str) -> str:
    tok = tok.strip(".-_")
    if len(tok) > 4 and tok.endswith("s") and not tok.endswith("ss"):
        tok = tok[:-1]
    return tok


def _tokens(text: str) -> set[str]:
    return {_norm_token(t) for t in _TOKEN.findall(text.lower())}


def keyword_terms(text: str) -> list[str]:
    """Distinctive terms of a question: lowercased, stopwords and 1-letter tokens dropped."""
    out: list[str] = []
    for raw in _TOKEN.findall(text.lower()):
        tok = _norm_token(raw)
        if len(tok) < 2 or tok in STOPWORDS or raw in STOPWORDS:
            continue
        if tok not in out:
            out.append(tok)
    return out


def entity_terms(text: str) -> list[str]:
    """Names in a question: terms written with a capital or a digit ("Kimi", "K2", "GPT-5",
    "RLHF"), lowercased. Bare numbers ("3", "2.5"), stopwords and a sentence's capitalized
    first word ("Summarize ...") are not names, unless written like one ("OpenAI", "GPT-5")."""
    out: list[str] = []
    for m in re.finditer(r"\w[\w.+-]*[\w+]|\w", text):
        raw = m.group(0)
        if not any(c.isupper() or c.isdigit() for c in raw) or re.fullmatch(r"[\d.]+", raw):
            continue
        before = text[: m.start()].rstrip(" \t\n\"'“‘(¿¡*_")
        if (not before or before[-1] in ".?!:") and not any(
            c.isupper() or c.isdigit() for c in raw[1:]
        ):
            continue  # "Summarize the news" - a capital only because the sentence starts
        tok = _norm_token(raw.lower())
        if len(tok) < 2 or tok in STOPWORDS or raw.lower() in STOPWORDS:
            continue
        if tok not in out:
            out.append(tok)
    return out


def is_follow_up(question: str, history: Sequence[Turn]) -> bool:
    """A question that leans on the previous one: short, or starting like "and what about",
    or using a referring word (they/it/that/those/before/after/else ...)."""
    if not history:
        return False
    words = re.findall(r"[\w'-]+", question.lower())
    if len(words) <= 4 or _FOLLOW_UP_START.match(question.strip()):
        return True
    return any(w in _FOLLOW_UP_WORDS for w in words)


def build_query(question: str, history: Sequence[Turn]) -> str:
    """The retrieval query: the question, preceded by the previous question(s) for a follow-up
    (two back when the previous question was itself a follow-up)."""
    if not is_follow_up(question, history):
        return question
    parts = [question]
    turns = list(history)
    while turns and len(parts) < 3:
        prev = clean_question(turns.pop().question)
        if not prev:
            break
        parts.insert(0, prev)
        if not is_follow_up(prev, turns):
            break
    return " ".join(parts)


def _strip_window(query: str, window: TimeWindow) -> str:
    """The query without the words that named the time window, unless nothing would remain."""
    if not window.matched:
        return query
    rest = " ".join(query.replace(window.matched, " ").split())
    return rest if keyword_terms(rest) else query


# --------------------------------------------------------------------------- text cleaning

_MD_SUBS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"```.*?(?:```|$)", re.S), " "),
    (re.compile(r"!\[[^\]]*\]\([^)]*\)"), " "),
    (re.compile(r"\[([^\]]+)\]\((?:[^()]|\([^)]*\))*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),
    (re.compile(r"<[^>\n]{1,300}>"), " "),
    (re.compile(r"https?://\S+|www\.\S+"), " "),
    # footnote refs like [3] in the source text would clash with our citation markers
    (re.compile(r"[ \t]*\[\s*\d+(?:\s*[,-]\s*\d+)*\s*\]"), ""),
    (re.compile(r"^\s{0,3}#{1,6}\s*", re.M), ""),
    (re.compile(r"^\s*>\s?", re.M), ""),
    (re.compile(r"^\s*(?:[-*+•◦▪]|\d{1,2}[.)])\s+", re.M), ""),
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])"), r"\1"),
    (re.compile(r"`([^`\n]*)`"), r"\1"),
    (re.compile(r"arXiv:\S+\s+Announce Type:\s*\S+\s*(?:Abstract:\s*)?", re.I), ""),
    (re.compile(r"^\s*[-=*_|]{3,}\s*$", re.M), ""),
]


def strip_markdown(text: str) -> str:
    """Markdown/HTML noise out, plain text kept; line breaks are kept as sentence boundaries."""
    text = html.unescape(text or "")
    for pattern, repl in _MD_SUBS:
        text = pattern.sub(repl, text)
    lines = []
    for line in text.splitlines():
        if line.count("|") >= 3:  # a table row
            continue
        line = " ".join(line.split())
        if line:
            lines.append(line)
    return "\n".join(lines)


_ABBREVIATIONS = frozenset(
    _words(
        """e.g i.e vs etc mr mrs ms dr prof st inc ltd co corp jr sr no fig approx al u.s u.k
    jan feb mar apr jun jul aug sep sept oct nov dec est dept"""
    )
)
_SENT_END = re.compile(r"[.!?…]+[\"”’')\]]*(?=\s+[\"“‘'(\[]?[A-Za-z0-9])")
_BOILERPLATE = re.compile(
    r"^(?:read more|continue reading|click here|subscribe|sign up|share this|follow us|posted by|"
    r"posted in|image:|image credit|photo:|credit:|source:|via |tags?:|filed under|related:|"
    r"comments?\b|leave a comment|table of contents|skip to|advertisement|sponsored)"
    r"|appeared first on|all rights reserved|©|cookie|subscribe to (?:our|the)|"
    r"\bthis (?:post|article) (?:was )?(?:originally )?(?:published|appeared)\b|"
    r"^(?:the )?post .{0,200} appeared first",
    re.IGNORECASE,
)


def split_sentences(text: str) -> list[str]:
    """Sentences of cleaned text; lines are boundaries; abbreviations don't end sentences."""
    out: list[str] = []
    for line in text.splitlines():
        start = 0
        for m in _SENT_END.finditer(line):
            before = line[start : m.start()].split()
            last = before[-1].lower().rstrip(".") if before else ""
            if m.group(0).startswith(".") and (
                last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())
            ):
                continue
            out.append(line[start : m.end()].strip())
            start = m.end()
        tail = line[start:].strip()
        if tail:
            out.append(tail)
    return [s for s in out if s]


_CODE_START = re.compile(
    r"^\s*(?:\$\s|>>>|uvx?\s|pip\s|npm\s|npx\s|python3?\s|curl\s|git\s|cd\s|docker\s|"
    r"import\s|from\s\S+\simport|def\s|class\s\w+[:(]|const\s|let\s|var\s|function\s)"
)
_CODE_CHARS = set("/_=@{}[]<>|\\`$#~;")


def _looks_like_code(sentence: str) -> bool:
    if _CODE_START.match(sentence):
        return True
    words = sentence.split()
    odd = sum(1 for w in words if w.startswith("--") or any(c in _CODE_CHARS for c in w))
    return odd > 0.25 * len(words)


def _usable(sentence: str) -> bool:
    """A sentence worth quoting: long enough, mostly words, not boilerplate or code."""
    if len(sentence) < 30 or len(sentence.split()) < 5:
        return False
    letters = sum(c.isalpha() for c in sentence)
    if letters < 0.5 * len(sentence):
        return False
    return not _BOILERPLATE.search(sentence) and not _looks_like_code(sentence)


def _shorten(sentence: str, limit: int = MAX_SENTENCE_CHARS) -> str:
    if len(sentence) <= limit:
        return sentence
    cut = sentence[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:-–— ")
    return cut + "…"


def _body(hit: Hit) -> str:
    """The chunk text without its leading title line."""
    text = hit.text or ""
    first, sep, rest = text.partition("\n")
    title = (hit.title or "").strip()
    if title and first.strip() == title[: len(first.strip())] and first.strip():
        return rest if sep else ""
    if title and text.startswith(title):
        return text[len(title) :]
    return text


# --------------------------------------------------------------------------- citations

_NUMBER_QUESTION = re.compile(
    r"\bhow (?:much|many|big|large|long|fast|expensive)\b|\b(?:cost|price|pricing|priced)\b|"
    r"\bwhen\b|\bwhat (?:year|date|day|month|version|percentage|score)\b",
    re.IGNORECASE,
)
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
    r"^[ \t]*\[\d{1,3}\][^\n]*\([^()\n]*,[ \t]*(?:\d{4}-\d\d-\d\d|undated)\)[ \t]*(?:\n|$)", re.M
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


# --------------------------------------------------------------------------- sources


def _source(n: int, hit: Hit) -> Source:
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


def _articles(hits: Sequence[Hit]) -> list[list[Hit]]:
    """Hits grouped by article, in order of each article's best hit."""
    groups: dict[str, list[Hit]] = {}
    for h in hits:
        groups.setdefault(h.article_id, []).append(h)
    return list(groups.values())


def build_context(hits: Sequence[Hit], budget: int = CONTEXT_CHARS) -> tuple[str, list[Hit]]:
    """Numbered source blocks for the LLM prompt, "[n] Title (feed, YYYY-MM-DD)" + text.

    One block per distinct article (up to 2 chunks merged), trimmed to the character budget.
    Returns the text and the first hit of each article, so [n] → articles[n-1].
    """
    groups = _articles(hits)[:MAX_CONTEXT_ARTICLES]
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
        header = f"[{len(firsts) + 1}] {head.title} ({feed}, {date})"
        body = "\n".join(
            " ".join(strip_markdown(_body(h)).split()) for h in sorted(group[:2], key=_chunk_order)
        ).strip()
        room = max(0, min(share, remaining) - len(header) - 1)
        if len(body) > room:
            body = body[: max(0, room - 1)].rsplit(" ", 1)[0] + "…"
        block = f"{header}\n{body}".strip()
        blocks.append(block)
        firsts.append(head)
        remaining -= len(block) + 2
    return "\n\n".join(blocks), firsts


def _chunk_order(hit: Hit) -> int:
    tail = hit.chunk_id.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


# --------------------------------------------------------------------------- the answerer


@dataclass
class _Candidate:
    text: str
    title: str
    article: int  # index into the article list (retrieval rank order)
    position: tuple[int, int]  # (chunk index, sentence index) for reading order


@dataclass
class _Relevance:
    ok: bool
    sims: list[float] = field(default_factory=list)
    keyword: list[bool] = field(default_factory=list)


class Answerer:
    """Turns a question + retrieved hits into an Answer. One per process (holds the LLM)."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        *,
        context_chars: int = CONTEXT_CHARS,
        max_answer_tokens: int = MAX_ANSWER_TOKENS,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.context_chars = context_chars  # LLM prompt budget for source text
        self.llm: ChatLLM | None = (
            ChatLLM(settings, max_tokens=max_answer_tokens) if settings.llm != "none" else None
        )

    # ----------------------------------------------------------------- public

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
    ) -> Answer:
        q = clean_question(question)
        if not q:
            return Answer(q, load_prompt("empty_question"), (), as_of, False)
        if len(q) > self.settings.max_question_chars:
            text = render_prompt("too_long", length=len(q), limit=self.settings.max_question_chars)
            return Answer(q, text, (), as_of, False)
        now = now or utcnow()
        window = parse_time_window(q, now)
        if since is not None:
            window = TimeWindow(
                since=since,
                until=None,
                prefer_recent=window.prefer_recent,
                label=f"since {format_day(since)}",
            )
        focus = _strip_window(q, window)  # this question alone, without its time words
        query = build_query(focus, history)  # + the previous question(s) for a follow-up
        hits = retriever.search(
            query,
            feed=feed,
            since=window.since,
            until=window.until,
            prefer_recent=window.prefer_recent,
            k=K,
            now=now,
        )
        qvec = self.embedder.embed_query(query)
        rel = self._relevance(query, qvec, hits)
        if not rel.ok:
            return self._not_answered(q, query, qvec, retriever, hits, window, feed, as_of, now)
        use = [
            h
            for h, s, kw in zip(hits, rel.sims, rel.keyword, strict=True)
            if kw or s >= min(max(rel.sims), self.settings.relevance_threshold) - 0.12
        ]
        # A question naming something ("GPT-5", "Kimi K2") is answered only from passages that
        # name it too (in the text, title or feed); none → not in my sources.
        names = entity_terms(query)
        if names:
            use = [h for h in use if _mentions(names, _haystack(h))]
            # A name the corpus never mentions at all ("Spotify") means the answer is most
            # likely not in it, however close the topic ("AI DJ") comes: unless the passages
            # match the question strongly and the other names are known.
            unknown = [n for n in names if retriever.count_mentions(n) == 0]
            doubtful = unknown and (
                2 * len(unknown) >= len(names) or max(rel.sims) < UNKNOWN_NAME_MIN_SIMILARITY
            )
            if not use or doubtful:
                return self._not_answered(q, query, qvec, retriever, hits, window, feed, as_of, now)
        if self.llm is None:
            return self._extractive(q, query, focus, qvec, use, as_of)
        return self._with_llm(q, query, focus, qvec, use, history, as_of, now)

    # ----------------------------------------------------------------- relevance

    def _relevance(self, query: str, qvec: np.ndarray, hits: Sequence[Hit]) -> _Relevance:
        if not hits:
            return _Relevance(False)
        sims = [float(h.similarity) for h in hits]
        missing = [i for i, s in enumerate(sims) if s <= 0.0]
        if missing:  # keyword-only hits: measure them the same way as the dense ones
            vecs = self.embedder.embed_texts([hits[i].text for i in missing])
            for i, v in zip(missing, vecs @ qvec, strict=True):
                sims[i] = float(v)
        terms = keyword_terms(query)
        threshold = self.settings.relevance_threshold
        keyword = [
            (s >= threshold - KEYWORD_MARGIN and _strong_keyword_match(terms, h))
            or _feed_match(terms, h)
            for h, s in zip(hits, sims, strict=True)
        ]
        return _Relevance(max(sims) >= threshold or any(keyword), sims, keyword)

    def _not_answered(
        self,
        q: str,
        query: str,
        qvec: np.ndarray,
        retriever: SearchesCorpus,
        hits: list[Hit],
        window: TimeWindow,
        feed: str | None,
        as_of: datetime | None,
        now: datetime,
    ) -> Answer:
        backend = "extractive" if self.llm is None else self.settings.llm
        names = entity_terms(query)
        if window.bounded:
            outside = retriever.search(query, feed=feed, prefer_recent=True, k=K, now=now)
            rel = self._relevance(query, qvec, outside)
            terms = keyword_terms(query)
            on_topic = (
                [h for h in outside if _feed_match(terms, h)]
                or [
                    h
                    for h, s, kw in zip(outside, rel.sims, rel.keyword, strict=True)
                    if kw or s >= self.settings.relevance_threshold
                ]
                if rel.ok
                else []
            )
            if names:
                on_topic = [h for h in on_topic if _mentions(names, _haystack(h))]
            if on_topic:
                newest = max(on_topic, key=lambda h: h.published.timestamp() if h.published else 0)
                text = render_prompt(
                    "no_answer_window",
                    window=window.phrase,
                    title=newest.title,
                    feed=newest.feeds[0] if newest.feeds else "unknown feed",
                    date=format_day(newest.published) if newest.published else "undated",
                )
                ordered = [newest] + [h for h in on_topic if h.article_id != newest.article_id]
                return Answer(
                    q, text, (), as_of, False, backend=backend, closest=self._closest(ordered)
                )
            hits = hits or outside
        closest = self._closest(hits)
        return Answer(q, _no_answer_text(as_of, closest), (), as_of, False, backend=backend,
                      closest=closest)  # fmt: skip

    @staticmethod
    def _closest(hits: Sequence[Hit]) -> tuple[Source, ...]:
        return tuple(_source(i + 1, g[0]) for i, g in enumerate(_articles(hits)[:CLOSEST]))

    # ----------------------------------------------------------------- extractive

    def _candidates(self, hits: Sequence[Hit]) -> tuple[list[_Candidate], list[Hit]]:
        articles = [g[0] for g in _articles(hits)]
        index = {h.article_id: i for i, h in enumerate(articles)}
        seen: set[str] = set()
        out: list[_Candidate] = []
        for h in hits:
            for j, sentence in enumerate(split_sentences(strip_markdown(_body(h)))):
                if not _usable(sentence):
                    continue
                key = re.sub(r"\W+", "", sentence.lower())
                if key in seen:
                    continue
                seen.add(key)
                out.append(
                    _Candidate(
                        _shorten(sentence), h.title, index[h.article_id], (_chunk_order(h), j)
                    )
                )
                if len(out) >= MAX_CANDIDATES:
                    return out, articles
        return out, articles

    def _extractive(
        self,
        q: str,
        query: str,
        focus: str,
        qvec: np.ndarray,
        hits: Sequence[Hit],
        as_of: datetime | None,
    ) -> Answer:
        """The best 1-4 source sentences for the question, cited per article.

        A sentence's score: cosine similarity of "<title>: <sentence>" to the question, + a
        keyword-overlap bonus, + a bonus when the sentence itself names what the question names,
        + a small bonus for better-ranked articles (+ a number bonus for how-much/how-many/when
        questions). For a follow-up the similarity mixes the full query
        (40%) and the new question alone (60%), so "what license are they under?" picks the
        license sentence rather than the one matching the previous question.
        """
        cands, articles = self._candidates(hits)
        if not cands:  # only titles/boilerplate: cite the best article's title
            best = hits[0]
            text = f"{_date_prefix(best)}{best.title} [1]"
            return Answer(q, text, (_source(1, best),), as_of, True)
        # Each sentence is embedded after its article's title, so "It costs $0.10" still knows
        # what "it" is; one batch for all candidates.
        vecs = self.embedder.embed_texts([f"{c.title}: {c.text}" for c in cands])
        sims = vecs @ qvec
        follow_up = focus != query
        if follow_up:
            sims = 0.4 * sims + 0.6 * (vecs @ self.embedder.embed_query(focus))
        terms = keyword_terms(query)
        focus_terms = keyword_terms(focus) if follow_up else []
        names = entity_terms(focus)  # the new question's own names, not the earlier ones
        wants_number = bool(_NUMBER_QUESTION.search(q))
        n_art = max(1, len(articles))
        scores = np.array(
            [
                float(sims[i])
                + KEYWORD_BONUS * _coverage(focus_terms or terms, c.text)
                + (KEYWORD_BONUS / 2 * _coverage(terms, c.text) if focus_terms else 0.0)
                + RANK_BONUS * (n_art - c.article) / n_art
                + (ENTITY_BONUS if _mentions(names, c.text) else 0.0)
                + (NUMBER_BONUS if wants_number and any(ch.isdigit() for ch in c.text) else 0.0)
                for i, c in enumerate(cands)
            ]
        )
        picked = _pick(cands, sims, scores)
        # Group by article in order of the best sentence; read each article's sentences in order.
        order: list[int] = []
        for i in picked:
            if cands[i].article not in order:
                order.append(cands[i].article)
        parts: list[str] = []
        sources: list[Source] = []
        for n, art in enumerate(order, start=1):
            hit = articles[art]
            chosen = sorted(
                (i for i in picked if cands[i].article == art), key=lambda i: cands[i].position
            )
            sentences = [_cite(cands[i].text, n) for i in chosen]
            parts.append(_date_prefix(hit) + " ".join(sentences))
            sources.append(_source(n, hit))
        return Answer(q, "\n".join(parts), tuple(sources), as_of, True)

    # ----------------------------------------------------------------- LLM

    def _with_llm(
        self,
        q: str,
        query: str,
        focus: str,
        qvec: np.ndarray,
        hits: Sequence[Hit],
        history: Sequence[Turn],
        as_of: datetime | None,
        now: datetime,
    ) -> Answer:
        assert self.llm is not None
        context, articles = build_context(hits, self.context_chars)
        user = render_prompt(
            "answer",
            question=q,
            sources=context,
            today=f"{now:%Y-%m-%d}",
            history=_history_block(history),
        )
        try:
            reply = self.llm.complete(load_prompt("system"), user)
        except LLMError as e:
            log.warning(
                "LLM %s failed (%s); answering extractively",
                self.llm.name,
                e.reason,
                exc_info=e.__cause__ is not None,
            )
            note = render_prompt("fallback_unavailable", reason=e.reason)
            return replace(self._extractive(q, query, focus, qvec, hits, as_of), note=note)
        reply = _PARROTED_HEADER.sub("", reply).strip()  # small models echo "[1] Title (...)"
        text, order = renumber_citations(reply, len(articles))
        if not order:
            if looks_like_refusal(reply):
                closest = self._closest(hits)
                text = _no_answer_text(as_of, closest)
                return Answer(q, text, (), as_of, False, backend=self.settings.llm, closest=closest)
            log.info("LLM reply cited no valid source; answering extractively")
            note = load_prompt("fallback_no_citations")
            return replace(self._extractive(q, query, focus, qvec, hits, as_of), note=note)
        sources = tuple(_source(i + 1, articles[old - 1]) for i, old in enumerate(order))
        return Answer(q, text, sources, as_of, True, backend=self.settings.llm)


# --------------------------------------------------------------------------- helpers


def _strong_keyword_match(terms: Sequence[str], hit: Hit) -> bool:
    if not terms:
        return False
    if len(terms) == 1:
        return terms[0] in _tokens(hit.title)
    present = _tokens(f"{hit.title}\n{hit.text}")
    found = sum(t in present for t in terms)
    return found == len(terms) if len(terms) <= 3 else found >= 0.75 * len(terms)


def _feed_match(terms: Sequence[str], hit: Hit) -> bool:
    """Every distinctive term names the hit's feed: "What did OpenAI ship this week?",
    "latest from Simon Willison" (feed "simonwillison")."""
    if not terms or not hit.feeds:
        return False
    tokens = _tokens(" ".join(hit.feeds))
    squashed = re.sub(r"[^a-z0-9]", "", " ".join(hit.feeds).lower())
    return all(
        t in tokens or (len(t) >= 4 and re.sub(r"[^a-z0-9]", "", t) in squashed) for t in terms
    )


def _haystack(hit: Hit) -> str:
    return f"{hit.title}\n{hit.text}\n{' '.join(hit.feeds)}"


def _mentions(terms: Sequence[str], text: str) -> bool:
    """Any term occurs as a word or a word's prefix ("gpt-5" in "GPT-5.5", "gemini" in
    "gemini-2.5"), but not inside a longer name ("gpt-5" is not in "gpt-50")."""
    if not terms:
        return False
    tokens = _tokens(text)
    return any(
        tok == t or (tok.startswith(t) and not tok[len(t)].isalnum())
        for t in terms
        for tok in tokens
    )


def _coverage(terms: Sequence[str], text: str) -> float:
    if not terms:
        return 0.0
    present = _tokens(text)
    return sum(t in present for t in terms) / len(terms)


def _pick(cands: Sequence[_Candidate], sims: np.ndarray, scores: np.ndarray) -> list[int]:
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
            words = _tokens(cands[i].text)
            if any(_jaccard(words, _tokens(cands[j].text)) > NEAR_DUPLICATE for j in picked):
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


def _no_answer_text(as_of: datetime | None, closest: Sequence[Source]) -> str:
    """prompts/no_answer.md; the closest articles themselves are in Answer.closest (the CLI and
    Discord list them as links), so the text only points at them."""
    return render_prompt(
        "no_answer",
        as_of=format_day(as_of) if as_of else "an unknown date",
        closest=" The nearest articles I have are listed below." if closest else "",
    )


def _date_prefix(hit: Hit) -> str:
    return f"({format_day(hit.published)}) " if hit.published else ""


def _history_block(history: Sequence[Turn]) -> str:
    turns = list(history)[-HISTORY_TURNS:]
    if not turns:
        return ""
    lines = []
    for t in turns:
        answer = re.sub(r"\s*\[\d+\]", "", t.answer)  # old numbering would confuse the model
        answer = " ".join(answer.split())
        if len(answer) > 300:
            answer = answer[:299].rsplit(" ", 1)[0] + "…"
        lines.append(f"User: {clean_question(t.question)}\nYou: {answer}")
    return render_prompt("history", turns="\n".join(lines)) + "\n"
