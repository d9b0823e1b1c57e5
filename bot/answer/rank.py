"""Ranking: retrieved chunks → articles in the order the answer should use them.

Retrieval scores chunks; the answer needs articles. An article's score is its best chunk's
fused score (normalized to the best article's), plus how much of what the question names and
asks it covers: its title, chunks and feed names hold the question's names and content terms.
One article never fills every slot: retrieval already caps chunks per article.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.answer.directory import SourceMatch
from bot.answer.multilingual import text_language
from bot.answer.places import names_place, place_spellings
from bot.answer.text import keyword_terms, mentions, tokens
from bot.answer.understand import QueryPlan
from bot.models import Hit

NAME_WEIGHT = 0.35
TERM_WEIGHT = 0.25
COVER_FROM, COVER_FULL = 0.35, 0.55  # similarity → coverage across languages (_meaning_cover)


@dataclass(frozen=True)
class RankedArticle:
    hits: tuple[Hit, ...]  # this article's chunks, best first
    score: float
    names: float  # share of the question's names it mentions
    terms: float  # share of the question's content terms it holds
    other_language: bool = False  # written in another language than the question
    # names every lab the question asks about (or is from its feed) and every place (country or
    # big city) in any of its names
    subjects: bool = True

    @property
    def head(self) -> Hit:
        return self.hits[0]


def rank(plan: QueryPlan, hits: Sequence[Hit]) -> list[RankedArticle]:
    groups: dict[str, list[Hit]] = {}
    for h in hits:
        groups.setdefault(h.article_id, []).append(h)
    if not groups:
        return []
    top = max(h.score for h in hits) or 1.0
    terms = plan.terms
    out: list[RankedArticle] = []
    for group in groups.values():
        hay = haystack(group)
        present = tokens(hay)
        name_cov = _name_coverage(plan, hay, group[0].feeds)
        term_cov = sum(t in present for t in terms) / len(terms) if terms else 0.0
        other = text_language(group[0].text) != plan.language
        if other:
            # Another language writes the question's words its own way ("Chinese" / "China",
            # "founded" / "didirikan"): what the article covers is judged by meaning instead.
            meant = _meaning_cover(max(h.similarity for h in group))
            name_cov, term_cov = max(name_cov, meant), max(term_cov, meant)
        score = group[0].score / top + NAME_WEIGHT * name_cov + TERM_WEIGHT * term_cov
        subjects = all(
            _subject_in(s, hay, group[0].feeds) for s in plan.sources if not s.explicit
        ) and all(names_place(n, hay) for n in plan.names if place_spellings(n))
        out.append(RankedArticle(tuple(group), score, name_cov, term_cov, other, subjects))
    out.sort(key=lambda a: a.score, reverse=True)
    return out


def _meaning_cover(similarity: float) -> float:
    """0 at the relevance threshold's similarity, 1 at that of a typical answering passage
    (the development set's mean for the gold chunk), linear between."""
    low, high = COVER_FROM, COVER_FULL
    return min(1.0, max(0.0, (similarity - low) / (high - low)))


def _name_coverage(plan: QueryPlan, hay: str, feeds: Sequence[str]) -> float:
    """Share of what the question names that the article names: its names, and a lab named as
    the subject ("what did OpenAI ...": mentioned, or the article is from that lab's feed)."""
    checks = [_names_it(n, hay) for n in plan.names]
    checks += [has_version(hay, family, version) for family, version in plan.versions]
    checks += [_subject_in(s, hay, feeds) for s in plan.sources if not s.explicit]
    return sum(checks) / len(checks) if checks else 0.0


def _subject_in(source: SourceMatch, hay: str, feeds: Sequence[str]) -> bool:
    """A lab named as the subject: mentioned, or the article is from that lab's feed. A lab's
    name is written the same in every language, unlike the question's other words."""
    return bool(set(source.feeds) & set(feeds)) or mentions(keyword_terms(source.phrase), hay)


def has_version(text: str, family: str, version: str) -> bool:
    dash = r"[\s\-\u2010-\u2015]?"  # any dash: OpenAI writes "GPT‑5" with U+2011
    pattern = rf"(?<![\w.]){re.escape(family)}{dash}v?{re.escape(version)}(?![\w]|\.\d)"
    return re.search(pattern, text, re.IGNORECASE) is not None


def _names_it(name: str, hay: str) -> bool:
    """The text names it, or every part of a compound ("PII-masking": "PII ... masking")."""
    if mentions([name], hay) or names_place(name, hay):  # "Chinese" asked, "Tiongkok" written
        return True
    parts = [p for p in name.split("-") if len(p) >= 3]
    return len(parts) >= 2 and all(mentions([p], hay) for p in parts)


def haystack(hits: Sequence[Hit]) -> str:
    h = hits[0]
    return "\n".join([h.title, *(x.text for x in hits), " ".join(h.feeds)])
