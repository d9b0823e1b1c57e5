"""Answer composition: ranked evidence → answer text with numbered citations.

- `extractive` (default; bot.answer.extract): the 1-4 source sentences that best answer the
  question.
- `listing`: a source's newest items (or those in a window), one dated line each.
- `with_llm` (bot.answer.llm_answer): the configured chat model over delimited, numbered
  sources; any failure falls back to the extractive answer with a note.

The answer engine reaches every composer through this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.answer.evidence import date_prefix, item_source, source_label
from bot.answer.trace import Trace
from bot.answer.understand import QueryPlan
from bot.messages import say, window_phrase
from bot.models import Answer, LatestItem, Source

# --------------------------------------------------------------------------- listing


def listing(
    plan: QueryPlan, items: Sequence[LatestItem], as_of: datetime | None, trace: Trace
) -> Answer:
    """A source's newest items (or its items in the window), newest first, each cited."""
    names = sorted({s.author or source_label(s.feeds) for s in plan.sources})
    window = f" {window_phrase(plan.window, plan.language)}" if plan.window.bounded else ""
    head = say("listing", plan.language, source=" / ".join(names), window=window)
    lines = [head]
    sources: list[Source] = []
    for n, item in enumerate(items, start=1):
        lines.append(f"{date_prefix(item.published, plan.language)}{item.title} [{n}]")
        sources.append(item_source(n, item))
    trace.add("compose", mode="listing", items=[i.url for i in items])
    return Answer(plan.question, "\n".join(lines), tuple(sources), as_of, True)
