"""Which stories are about a topic (`newsbot stories --topic`, a watch on new stories).

By meaning first: an article is about the topic when its passage is close to it (cosine at
least `STRONG`), or fairly close (the relevance threshold of answers) and holding at least half
of the topic's words ("o3 reasoning models" does not take a Gemini launch that is only about
reasoning models too). A story is about the topic when one of its own articles is; a newsletter
that covers it among other events does not count (ingest.store.stories.Story.reported_by).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.answer.text import keyword_terms, tokens
from ingest.store.stories import Story

STRONG = 0.5
COVERAGE = 0.5


def relevant_articles(
    topic: str, passages: Iterable[tuple[str, str, float]], floor: float
) -> list[str]:
    """Ids of the articles (from (article id, passage text, similarity), best first) about
    `topic`, in that order."""
    terms = keyword_terms(topic)
    out: list[str] = []
    for aid, text, sim in passages:
        if aid in out or sim < floor:
            continue
        covered = sum(t in tokens(text) for t in terms) / len(terms) if terms else 0.0
        if sim >= STRONG or covered >= COVERAGE:
            out.append(aid)
    return out


def about(stories: Sequence[Story], relevant: Iterable[str]) -> list[Story]:
    wanted = set(relevant)
    return [s for s in stories if s.reported_by(wanted)]
