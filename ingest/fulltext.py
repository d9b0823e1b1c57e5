"""Full text for feeds that publish only summaries (`full_text = true`): the article pages of
NEW short items are fetched (through the outbound-HTTP policy, within a per-run page budget)
and their text extracted."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ingest.config import Settings
from ingest.fetch import PAGE_ACCEPT, fetch_page, make_client
from ingest.models import Article, ConfigError, Feed
from ingest.parse import extract_full_text, extraction_problem

FULL_TEXT_MIN_CHARS = 1200  # summary-only entries shorter than this get full-text extraction


@dataclass
class PageBudget:
    """Article-page fetches left in this run (settings.max_page_fetches_per_run)."""

    left: int

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


def with_full_text(
    feed: Feed,
    articles: list[Article],
    known: set[str],
    settings: Settings,
    budget: PageBudget,
    warnings: list[str],
) -> list[Article]:
    """Replace short summaries of NEW articles by the extracted page text (trafilatura).

    Every page goes through the outbound-HTTP policy: only the feed's own origin may be private.
    An article whose page is refused, fails or is over the run's page budget keeps its summary,
    with a warning (shown by `newsbot feeds status`)."""
    todo = [a for a in articles if a.id not in known and len(a.text) < FULL_TEXT_MIN_CHARS]
    if not todo:
        return articles
    chosen = [a for a in todo if budget.take()]
    skipped = len(todo) - len(chosen)
    if skipped:
        warnings.append(
            f"page limit reached ({settings.max_page_fetches_per_run} article pages per run, "
            f"NEWSBOT_MAX_PAGE_FETCHES_PER_RUN): {skipped} new item(s) stored from their summary"
        )
    if not chosen:
        return articles

    async def run() -> dict[str, str]:
        sem = asyncio.Semaphore(settings.fetch_concurrency)
        out: dict[str, str] = {}
        async with make_client(settings, accept=PAGE_ACCEPT) as client:

            async def one(a: Article) -> None:
                async with sem:
                    origins = [feed.url] if feed.operator_trusted else []
                    page = await fetch_page(client, a.url, settings, trusted_origins=origins)
                if not page.ok:
                    problem = page.error if page.blocked else f"{a.url[:200]}: {page.error}"
                    warnings.append(f"full text not fetched, {problem}; stored from its summary")
                    return
                text = extract_full_text(page.body, a.url)
                if text and len(text) > len(a.text):
                    out[a.id] = text

            await asyncio.gather(*(one(a) for a in chosen))
        return out

    texts = asyncio.run(run())
    return [replace(a, text=texts[a.id]) if a.id in texts else a for a in articles]


def check_full_text(feeds: Sequence[Feed]) -> None:
    """Fail at the start of a run (ConfigError, one line) when an enabled full_text feed cannot
    be served because page-text extraction does not work in this installation."""
    wanting = [f.name for f in feeds if f.enabled and f.full_text]
    if not wanting:
        return
    problem = extraction_problem()
    if problem:
        names = ", ".join(wanting[:5])
        if len(wanting) > 5:
            names += f" and {len(wanting) - 5} more"
        raise ConfigError(
            f"full-text extraction is unavailable ({problem}) but full_text = true is set for "
            f"{names}: reinstall newsbot (pip install -e .) or set full_text = false"
        )
