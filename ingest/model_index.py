"""Keep the model directory (ingest.store.model_directory) up to date with the stored articles:
read each new or changed article once (ingest.modelfacts) and record what it reports, a batch
per transaction. Called by the ingest job after the articles are stored; nothing is embedded.
`rebuild` (newsbot ingest --reindex) reads the whole corpus again."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.config import Settings
from ingest.feeds import load_feeds
from ingest.modelfacts import report
from ingest.modelnames import families
from ingest.models import ConfigError, Feed
from ingest.store.db import batches
from ingest.store.model_directory import ModelDirectoryStore, ScanItem
from ingest.store.stories import ORIGINAL, primary_rank

log = logging.getLogger(__name__)

BATCH = 200  # articles read and recorded per transaction


@dataclass
class DirectoryReport:
    articles: int = 0  # articles read this run
    reports: int = 0  # (model version, article) rows written
    rebuilt: bool = False


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def own_families(feeds: Sequence[str], by_name: dict[str, Feed]) -> set[str]:
    """The families whose maker publishes one of these feeds: a feed of an original publisher
    (ingest.store.stories.primary_rank) whose name or tags name the maker ("OpenAI News" for
    GPT, "Google DeepMind Blog" for Gemini) or the family ("Qwen blog")."""
    words = ""
    for name in feeds:
        feed = by_name.get(name)
        if feed is None or primary_rank(feed.tags) != ORIGINAL:
            continue
        words += " " + _squash(feed.name) + " " + " ".join(_squash(t) for t in feed.tags)
    if not words:
        return set()
    out = set()
    for key, family in families().items():
        maker = _squash(family.maker.split()[0]) if family.maker else ""
        if (len(maker) >= 3 and maker in words) or (len(key) >= 3 and _squash(key) in words):
            out.add(key)
    if "openai" in words:
        out.add("o")
    return out


def update_model_directory(
    settings: Settings, feeds: Sequence[Feed] | None = None, *, rebuild: bool = False
) -> DirectoryReport:
    """Read the articles stored since the last run (all of them with `rebuild`)."""
    if feeds is None:
        try:
            feeds = load_feeds(settings.feeds)
        except ConfigError as e:  # the run already used (or reported) the file
            log.warning("models: feed tags unavailable (%s); no maker feeds known", e)
            feeds = []
    by_name = {f.name: f for f in feeds}
    store = ModelDirectoryStore(settings)
    out = DirectoryReport(rebuilt=rebuild)
    try:
        if rebuild:
            store.reset()
        for part in batches(store.todo(), BATCH):
            done: list[tuple[ScanItem, list, set[str]]] = []
            for item in store.load(part):
                reports = report(item.title, item.text)
                done.append((item, reports, own_families(item.feeds, by_name)))
                out.reports += len(reports)
            store.record(done)
            out.articles += len(done)
    finally:
        store.close()
    if out.articles:
        log.info("models: %d article(s) read, %d model reports", out.articles, out.reports)
    return out
