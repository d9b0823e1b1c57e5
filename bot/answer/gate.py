"""The answer/decline gate: is the answer to this question in the ranked passages?

Declines, each with its reason in the trace:
- `no-passages`: retrieval found nothing (in the window / source asked for).
- `version-missing`: the question names a version ("GPT-7", "Claude 9") that no source mentions
  while other versions of that family are there: the answer says which is the newest it has.
  An answer about a version comes only from articles that name it ("Grok 2" asked: an article
  about Grok 4 is on topic, not an answer); when none of the close ones does, this decline too.
- `unknown-name`: a central name of the question appears nowhere in the corpus.
- `names-absent`: the passages do not name what the question names.
- `low-relevance`: no passage is close in meaning (cosine below the threshold; 0.05 lower when
  the question named the source to look in) nor a strong keyword match.
- `window-empty`: nothing answers it in the time window asked, but passages from other times do
  (the decline names the newest of them: "nothing this week; the latest is ...").

Term coverage alone (how many of the question's words a passage holds) did not tell answerable
from unanswerable questions apart on the development set, so it is traced, not gated on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from bot.answer.corpus_view import SearchesCorpus
from bot.answer.places import place_spellings
from bot.answer.rank import RankedArticle, has_version, haystack, rank
from bot.answer.retrieve import K, Retrieved
from bot.answer.text import mentions, tokens
from bot.answer.understand import QueryPlan
from bot.models import Hit

KEYWORD_MARGIN = 0.10  # a strong keyword match may be this far below the threshold
SOURCE_MARGIN = 0.05  # with a source named as where to look, the threshold is this much lower
UNKNOWN_NAME_MIN_SIMILARITY = 0.5
NAMES_NEEDED = 0.6  # a passage must mention most of what the question names ...
NAME_WAIVER = 0.55  # ... unless it is this close in meaning (chosen on dev: bench/gate_curve.py)


class KnowsCorpus(Protocol):
    def count_mentions(self, term: str) -> int: ...

    def versions_of(self, family: str) -> list[tuple[str, Hit]]: ...


@dataclass
class Verdict:
    ok: bool
    reason: str
    use: list[RankedArticle] = field(default_factory=list)
    newest_version: tuple[str, str, Hit] | None = None  # (family, version, article)
    facts: dict[str, object] = field(default_factory=dict)
    outside: list[Hit] = field(default_factory=list)  # window-empty: on-topic, other times


def judge(
    plan: QueryPlan,
    ranked: Sequence[RankedArticle],
    found: Retrieved,
    corpus: SearchesCorpus,
    threshold: float,
    now: datetime,
) -> Verdict:
    """The gate stage: answer from `ranked`, or decline and why. With a time window and nothing
    in it, it looks outside the window for the "nothing then; the latest is ..." decline."""
    verdict = judge_passages(plan, ranked, found.sims, corpus, threshold)
    if verdict.ok or verdict.reason == "version-missing" or not plan.window.bounded:
        return verdict
    outside = _outside_window(plan, corpus, found, threshold, now)
    if not outside:
        return verdict
    return Verdict(False, "window-empty", facts=verdict.facts, outside=outside)


def _outside_window(
    plan: QueryPlan, corpus: SearchesCorpus, found: Retrieved, threshold: float, now: datetime
) -> list[Hit]:
    """On-topic passages from any time, for "nothing this week"; judged without the window."""
    hits = corpus.search(
        plan.query, feeds=tuple(f for s in plan.sources if s.explicit for f in s.feeds),
        prefer_recent=True, names=plan.names, k=K, now=now, qvec=found.qvec,
    )  # fmt: skip
    sims = {h.chunk_id: h.similarity for h in hits}
    open_plan = replace(plan, window=replace(plan.window, since=None, until=None))
    verdict = judge_passages(open_plan, rank(open_plan, hits), sims, corpus, threshold)
    return [a.head for a in verdict.use] if verdict.ok else []


def judge_passages(
    plan: QueryPlan,
    ranked: Sequence[RankedArticle],
    sims: dict[str, float],
    corpus: KnowsCorpus,
    threshold: float,
) -> Verdict:
    """`sims`: chunk id → cosine similarity to the question (every ranked chunk)."""
    if not ranked:
        return Verdict(False, "no-passages")
    missing = _version_missing(plan, ranked, corpus)
    if missing is not None:
        return missing
    best_sim = max((sims.get(h.chunk_id, 0.0) for a in ranked for h in a.hits), default=0.0)
    names = list(plan.names)
    if names:
        unknown = [n for n in names if not _known(n, corpus)]
        if unknown and (2 * len(unknown) >= len(names) or best_sim < UNKNOWN_NAME_MIN_SIMILARITY):
            why = {"unknown": unknown, "best_similarity": round(best_sim, 3)}
            return Verdict(False, "unknown-name", facts=why)
    terms = plan.terms
    named = bool(names or plan.versions) or any(not s.explicit for s in plan.sources)
    if plan.source_explicit:
        # The user said where to look: among that source's few articles, a weaker match is
        # still likely the one meant.
        threshold -= SOURCE_MARGIN
    use: list[RankedArticle] = []
    without_version: list[RankedArticle] = []
    for art in ranked:
        sim = max(sims.get(h.chunk_id, 0.0) for h in art.hits)
        strong = sim >= threshold - KEYWORD_MARGIN and (
            _strong_keyword_match(terms, art.hits) or _titled_by_version(plan, art.head)
        )
        if not (sim >= threshold or strong or _feed_match(terms, art.head)):
            continue
        if plan.versions and not any(
            has_version(haystack(art.hits), f, v) for f, v in plan.versions
        ):
            without_version.append(art)  # "Grok 2" asked: an article about Grok 4 is no answer
        elif _about_what_is_named(art, named, sim):
            use.append(art)
    if not use and without_version:
        family, version = plan.versions[0]
        asked = f"{family} {version}"  # close passages, none of them about the version asked
        return Verdict(False, "version-missing", facts={"asked": asked, "in_passages": False})
    if not use:
        return Verdict(False, "names-absent" if named else "low-relevance",
                       facts={"best_similarity": round(best_sim, 3)})  # fmt: skip
    lead = use[0]
    lead_sim = max(sims.get(h.chunk_id, 0.0) for h in lead.hits)
    coverage = max(a.terms for a in use[:3])
    # Keep the passages close to the best one.
    floor = min(lead_sim, threshold) - 0.12
    use = [a for a in use if max(sims.get(h.chunk_id, 0.0) for h in a.hits) >= floor or a.names]
    facts: dict[str, object] = {"similarity": round(lead_sim, 3), "coverage": round(coverage, 2)}
    return Verdict(True, "answered", use, facts=facts)


def _version_missing(
    plan: QueryPlan, ranked: Sequence[RankedArticle], corpus: KnowsCorpus
) -> Verdict | None:
    """A version asked that the corpus does not hold (with the newest it has), or that none of
    the passages found for the question holds."""
    for family, version in plan.versions:
        asked = f"{family} {version}"
        # "GPT-5", "Qwen3" and "DeepSeek-V3.1" (asked as "deepseek 3.1") alike
        spellings = (asked, f"{family}{version}", f"{family} v{version}")
        if not any(corpus.count_mentions(s) for s in spellings) and corpus.count_mentions(family):
            known = [(v, h) for v, h in corpus.versions_of(family) if v != version]
            newest = (family, known[0][0], known[0][1]) if known else None
            return Verdict(False, "version-missing", newest_version=newest,
                           facts={"asked": asked})  # fmt: skip
        if not any(has_version(haystack(a.hits), family, version) for a in ranked):
            # The corpus knows this version, but not with what the question is about ("Lentera"
            # with "Series B"): the passages found for the question do not hold it.
            return Verdict(False, "version-missing", facts={"asked": asked, "in_passages": False})
    return None


def _about_what_is_named(art: RankedArticle, named: bool, sim: float) -> bool:
    """A lab asked about must be named by the article (or it is from the lab's feed: "did
    OpenAI open an office in Jakarta" is not answered by another lab's office), and so must a
    country or a big city (in any of its names: "in Indonesia" is not answered by an office in
    Japan), in any language: rank.py reads both into `subjects`. Most of the question's other
    names must be there too, unless the article is close in meaning or in another language
    (where the question's other words are written differently, meaning decides)."""
    if not art.subjects:
        return False
    return not named or art.names >= NAMES_NEEDED or sim >= NAME_WAIVER or art.other_language


def _known(name: str, corpus: KnowsCorpus) -> bool:
    """The corpus mentions the name, or every distinctive part of a compound ("PII-masking")."""
    if corpus.count_mentions(name):
        return True
    if any(corpus.count_mentions(s) for s in place_spellings(name)):
        return True  # "Indonesian" asked, "Indonesia" written
    parts = [p for p in re.split(r"[-_/]", name) if len(p) >= 3 and p.isalpha()]
    return len(parts) >= 2 and all(corpus.count_mentions(p) for p in parts)


def _titled_by_version(plan: QueryPlan, head: Hit) -> bool:
    """The article's title names every version the question does ("ICLR 2026 dates?" and
    "... research at ICLR 2026"): about what is asked, however few words the question has."""
    return bool(plan.versions) and all(has_version(head.title, f, v) for f, v in plan.versions)


def _strong_keyword_match(terms: Sequence[str], hits: Sequence[Hit]) -> bool:
    if not terms:
        return False
    if len(terms) == 1:
        return terms[0] in tokens(hits[0].title)
    present = tokens(haystack(hits))
    found = sum(t in present for t in terms)
    return found == len(terms) if len(terms) <= 3 else found >= 0.75 * len(terms)


def _feed_match(terms: Sequence[str], hit: Hit) -> bool:
    """Every distinctive term names the hit's feed: "What did OpenAI ship this week?"."""
    if not terms or not hit.feeds:
        return False
    toks = tokens(" ".join(hit.feeds))
    squashed = re.sub(r"[^a-z0-9]", "", " ".join(hit.feeds).lower())
    return all(
        t in toks or (len(t) >= 4 and re.sub(r"[^a-z0-9]", "", t) in squashed) for t in terms
    )


def mentions_names(names: Sequence[str], hits: Sequence[Hit]) -> bool:
    return mentions(names, haystack(hits))
