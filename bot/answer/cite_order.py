"""Citation order: when an answer cites several articles of one story, its primary source (the
lab's own post before the newsletter that covers it; see
StoryStore.primary_order in ingest.store.stories)
gets the first of their numbers. Nothing else changes: the same sources, the same text,
renumbered. Listings keep their newest-first order."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from bot.models import Answer

_MARKER = re.compile(r"\[(\d{1,3})\]")
CiteOrder = Callable[[Sequence[str]], list[str]]


def primary_first(answer: Answer, order: CiteOrder | None) -> Answer:
    """`answer` with its sources reordered by `order` (article ids → the same ids, primary
    sources first within a story) and the [n] markers of its text renumbered to match."""
    sources = answer.sources
    if order is None or len(sources) < 2:
        return answer
    ids = [s.article_id for s in sources]
    new_ids = order(ids)
    if new_ids == ids or sorted(new_ids) != sorted(ids):
        return answer
    by_id = {s.article_id: s for s in sources}
    new_n = {by_id[aid].n: pos for pos, aid in enumerate(new_ids, 1)}
    text = _MARKER.sub(lambda m: f"[{new_n.get(int(m.group(1)), int(m.group(1)))}]", answer.text)
    reordered = tuple(replace(by_id[aid], n=pos) for pos, aid in enumerate(new_ids, 1))
    return replace(answer, text=text, sources=reordered)
