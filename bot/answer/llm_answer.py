"""LLM answers: the configured chat model over delimited, numbered sources. Its citations are
validated and renumbered, links to anything but the cited sources are removed, and any failure
falls back to the extractive answer with a note."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from bot.answer.evidence import body, chunk_order, group_articles, to_source
from bot.answer.text import shorten, strip_markdown
from bot.answer.trace import Trace
from bot.answer.understand import QueryPlan
from bot.llm import ChatLLM, LLMError
from bot.messages import LANGUAGE_NAMES, say
from bot.models import Answer, Hit, Turn
from bot.prompts import render_prompt
from bot.timeparse import iso_day

log = logging.getLogger(__name__)

CONTEXT_CHARS = 6000  # LLM prompt: total characters of source text
MAX_CONTEXT_ARTICLES = 6


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
_BARE_URL = re.compile(r"<?\bhttps?://[^\s<>)\]]+>?", re.IGNORECASE)  # HTTPS://EVIL too


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


# --------------------------------------------------------------------------- prompt


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
        date = iso_day(head.published)
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
        system = render_prompt("system", language=LANGUAGE_NAMES.get(plan.language, "English"))
        reply = llm.complete(system, user)
    except LLMError as e:
        log.warning(
            "LLM %s failed (%s); answering extractively",
            llm.name,
            e.reason,
            exc_info=e.__cause__ is not None,
        )
        trace.add("compose", mode="llm-failed", reason=e.reason)
        return replace(fallback, note=say("fallback_unavailable", plan.language, reason=e.reason))
    reply = _PARROTED_HEADER.sub("", reply).strip()  # small models echo source headers
    text, order = renumber_citations(reply, len(articles))
    if not order:
        if looks_like_refusal(reply):
            trace.add("compose", mode="llm-refused")
            return Answer(plan.question, "", (), fallback.as_of, False, backend=llm.name)
        log.info("LLM reply cited no valid source; answering extractively")
        trace.add("compose", mode="llm-no-citations")
        return replace(fallback, note=say("fallback_no_citations", plan.language))
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
