"""The listing stage: "latest from X", "what did X post in March" → the items themselves, newest
first, instead of an answer from passages. None when there is nothing to list and no window to
say it about: the question is then answered as a question."""

from __future__ import annotations

from datetime import datetime

from bot.answer import decline
from bot.answer.compose import listing
from bot.answer.corpus_view import SearchesCorpus
from bot.answer.decline import CLOSEST
from bot.answer.evidence import source_label
from bot.answer.trace import Trace
from bot.answer.understand import QueryPlan
from bot.models import Answer

LISTING_ITEMS = 5


def list_items(
    plan: QueryPlan, corpus: SearchesCorpus, as_of: datetime | None, backend: str, trace: Trace
) -> Answer | None:
    feeds = tuple(sorted({f for s in plan.sources if not s.author for f in s.feeds}))
    author = next((s.author for s in plan.sources if s.author), "")
    topic = list(plan.topic)
    w = plan.window
    items = corpus.latest(
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
        return listing(plan, items, as_of, trace)
    if not w.bounded:
        return None  # nothing from that source on this topic: answer as a question
    # Nothing from that source in the window: say so, and offer its newest items.
    newest = corpus.latest(feeds=feeds, author=author, limit=CLOSEST)
    trace.decision = "window-empty (listing)"
    label = author or source_label(feeds)
    return decline.source_window_empty(plan, newest, label, as_of, backend)
