"""The answers that decline, each saying why in the asker's language and offering the closest
articles (Answer.closest; the CLI and Discord list them as links)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from bot.answer.evidence import group_articles, item_source, to_source
from bot.answer.gate import Verdict
from bot.answer.rank import RankedArticle
from bot.answer.trace import Trace
from bot.answer.understand import QueryPlan
from bot.messages import format_day as say_day
from bot.messages import say, window_phrase
from bot.models import Answer, Hit, LatestItem, Source

CLOSEST = 3  # closest articles offered with a decline


def closest_sources(ranked: Sequence[RankedArticle]) -> tuple[Source, ...]:
    return tuple(to_source(i + 1, a.head) for i, a in enumerate(ranked[:CLOSEST]))


def for_verdict(
    plan: QueryPlan,
    verdict: Verdict,
    ranked: Sequence[RankedArticle],
    as_of: datetime | None,
    backend: str,
    trace: Trace,
) -> Answer:
    """The decline the gate's verdict calls for."""
    if verdict.reason == "version-missing" and verdict.newest_version is not None:
        return version_missing(plan, verdict.newest_version, verdict.facts, as_of, backend)
    if verdict.reason == "window-empty" and verdict.outside:
        return window_empty(plan, verdict.outside, as_of, backend, trace)
    return not_found(plan.question, plan.language, ranked, as_of, backend)


def not_found(
    question: str,
    lang: str,
    ranked: Sequence[RankedArticle],
    as_of: datetime | None,
    backend: str,
) -> Answer:
    """prompts/no_answer.md; the text only points at the closest articles below it."""
    closest = closest_sources(ranked)
    text = say(
        "no_answer",
        lang,
        as_of=say_day(as_of, lang) if as_of else say("answer.unknown_date", lang),
        closest=say("answer.closest_below", lang) if closest else "",
    )
    return Answer(question, text, (), as_of, False, backend=backend, closest=closest)


def version_missing(
    plan: QueryPlan,
    newest_version: tuple[str, str, Hit],
    facts: Mapping[str, object],
    as_of: datetime | None,
    backend: str,
) -> Answer:
    """ "My sources don't mention Gemini 9…", naming the newest version the corpus has."""
    lang = plan.language
    family, version, hit = newest_version
    text = say(
        "no_answer_version",
        lang,
        asked=str(facts.get("asked", family)).title(),
        family=family.title() if family.islower() and len(family) > 3 else family.upper(),
        newest=f"{family.upper() if len(family) <= 3 else family.title()} {version}",
        title=hit.title,
        feed=hit.feeds[0] if hit.feeds else say("answer.unknown_feed", lang),
        date=say_day(hit.published, lang),
    )
    closest = (to_source(1, hit),)
    return Answer(plan.question, text, (), as_of, False, backend=backend, closest=closest)


def window_empty(
    plan: QueryPlan, outside: Sequence[Hit], as_of: datetime | None, backend: str, trace: Trace
) -> Answer:
    """Nothing in the time window asked; `outside` are on-topic passages from any time: name the
    newest of them and offer the closest."""
    lang = plan.language
    newest = max(outside, key=lambda h: h.published.timestamp() if h.published else 0)
    text = say(
        "no_answer_window",
        lang,
        window=window_phrase(plan.window, lang),
        title=newest.title,
        feed=newest.feeds[0] if newest.feeds else say("answer.unknown_feed", lang),
        date=say_day(newest.published, lang),
    )
    ordered = [newest] + [h for h in outside if h.article_id != newest.article_id]
    trace.add("decline", window_empty=True, newest=newest.url)
    closest = tuple(to_source(i + 1, g[0]) for i, g in enumerate(group_articles(ordered)[:CLOSEST]))
    return Answer(plan.question, text, (), as_of, False, backend=backend, closest=closest)


def source_window_empty(
    plan: QueryPlan,
    newest: Sequence[LatestItem],
    label: str,
    as_of: datetime | None,
    backend: str,
) -> Answer:
    """A listing ("latest from X this week") with nothing from X in the window: say so, and
    offer X's newest items."""
    lang = plan.language
    closest = tuple(item_source(i + 1, it) for i, it in enumerate(newest))
    text = say(
        "no_answer_source",
        lang,
        source=label,
        window=f" {window_phrase(plan.window, lang)}",
        closest=say("answer.newest_below", lang) if closest else "",
    )
    return Answer(plan.question, text, (), as_of, False, backend=backend, closest=closest)
