"""One ingest run: fetch → parse → normalize → dedupe → store → chunk → embed. Idempotent and
resumable: a killed run leaves the corpus consistent and the next run finishes its work."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta

from filelock import FileLock, Timeout

from ingest.config import Settings
from ingest.embed import Embedder, recorded_backend
from ingest.feeds import load_feeds
from ingest.fetch import PAGE_ACCEPT, fetch_all, fetch_page, make_client
from ingest.models import (
    Article,
    ConfigError,
    Feed,
    FeedState,
    FetchResult,
    IngestLocked,
    ParseResult,
    utcnow,
)
from ingest.parse import extract_full_text, extraction_problem, parse_feed
from ingest.store import Corpus
from ingest.story_grouping import group_new_articles
from ingest.vectorize import Progress, embed_pending

log = logging.getLogger(__name__)

FULL_TEXT_MIN_CHARS = 1200  # summary-only entries shorter than this get full-text extraction
MAX_STORED_WARNINGS = 20  # per feed, kept with its state for `newsbot feeds status`
WARNINGS_KEPT_DAYS = 7  # older warnings are dropped
_STAMP = "%Y-%m-%d %H:%M UTC"


@dataclass
class FeedReport:
    name: str
    status: str  # ok | not_modified | error
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    items: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class IngestReport:
    feeds: list[FeedReport] = field(default_factory=list)
    embedded_articles: int = 0
    embedded_chunks: int = 0
    pruned: int = 0
    pending: int = 0
    seconds: float = 0.0
    reindex: bool = False
    # Wall seconds per stage: fetch_parse (= fetch + parse + store_articles), model_load, chunk
    # (incl. tokenize), encode, chroma, sqlite (chroma + sqlite run in a writer thread,
    # overlapped with encode), embed_stage (chunk to last write).
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> list[FeedReport]:
        return [f for f in self.feeds if f.status == "error"]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d["ok"] = not self.failed
        d["totals"] = {
            k: sum(getattr(f, k) for f in self.feeds)
            for k in ("items", "new", "updated", "unchanged")
        }
        return d


@contextmanager
def ingest_lock(settings: Settings) -> Iterator[None]:
    """One ingest at a time per data dir (command line and bot share this lock)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.lock_path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise IngestLocked(
            f"another ingest is already running on {settings.data_dir} "
            f"(lock {settings.lock_path}); try again when it has finished"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _next_state(
    feed: Feed, old: FeedState | None, res: FetchResult, error: str | None, items: int
) -> FeedState:
    now = utcnow()
    base = old or FeedState(name=feed.name)
    if error:
        return replace(
            base,
            url=feed.url,
            last_attempt=now,
            last_error=error,
            consecutive_failures=base.consecutive_failures + 1,
        )
    return replace(
        base,
        url=feed.url,
        last_attempt=now,
        last_success=now,
        last_error=None,
        consecutive_failures=0,
        etag=res.etag or (base.etag if res.status == "not_modified" else None),
        last_modified=res.last_modified
        or (base.last_modified if res.status == "not_modified" else None),
        items_last_fetch=items if res.status == "ok" else base.items_last_fetch,
    )


@dataclass
class PageBudget:
    """Article-page fetches left in this run (settings.max_page_fetches_per_run)."""

    left: int

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


def _merge_warnings(old: Sequence[str], new: Sequence[str], now: datetime) -> tuple[str, ...]:
    """This run's warnings (stamped) first, then the earlier ones of the last few days."""
    fresh = [f"{now.strftime(_STAMP)}: {w}" for w in new]
    cutoff = now - timedelta(days=WARNINGS_KEPT_DAYS)
    kept = []
    for w in old:
        try:
            when = datetime.strptime(w[:20], _STAMP).replace(tzinfo=UTC)
        except ValueError:
            continue
        if when >= cutoff:
            kept.append(w)
    return tuple((fresh + kept)[:MAX_STORED_WARNINGS])


def _with_full_text(
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


def check_feed(feed: Feed, settings: Settings, *, trusted: bool = False) -> ParseResult:
    """Fetch and parse one feed once, storing nothing (to validate a feed before adding it).

    The URL is not yet the operator's (it comes from Discord): unless `trusted`, it and its
    redirects must be on public addresses (or NEWSBOT_ALLOW_PRIVATE_FEED_URLS is set)."""
    [res] = asyncio.run(fetch_all([feed], {}, settings, trust_origins=trusted))
    if res.status == "error":
        return ParseResult(feed=feed.name, error=res.error or "fetch failed")
    return parse_feed(feed, res)


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


def ingest_feeds(
    corpus: Corpus,
    feeds: Sequence[Feed],
    settings: Settings,
    timings: dict[str, float] | None = None,
) -> list[FeedReport]:
    """Fetch and parse every feed; store each feed's articles with its new state. `timings`
    (if given) accumulates wall seconds: fetch, parse (incl. cleaning and any full-text page
    fetches) and store_articles (SQLite)."""
    times: dict[str, float] = {} if timings is None else timings
    states = {s.name: s for s in corpus.feed_states()}
    t0 = time.perf_counter()
    results = asyncio.run(fetch_all(list(feeds), states, settings))
    _add_time(times, "fetch", t0)
    by_name = {f.name: f for f in feeds}
    budget = PageBudget(settings.max_page_fetches_per_run)
    reports = []
    for res in results:
        feed = by_name[res.feed]
        t0 = time.perf_counter()
        report = FeedReport(name=feed.name, status=res.status)
        error = res.error if res.status == "error" else None
        articles: list[Article] = []
        if res.status == "ok":
            parsed = parse_feed(feed, res)
            report.warnings = list(parsed.warnings)
            if parsed.error:
                error = parsed.error
            else:
                articles = list(parsed.articles)
                if feed.full_text:
                    known = corpus.known_ids(feed.name, [a.id for a in articles])
                    full = _with_full_text(feed, articles, known, settings, budget, report.warnings)
                    articles = [a for a in full if a.id not in known]
        report.items = len(articles)
        t1 = _add_time(times, "parse", t0)
        _store_feed(corpus, feed, res, report, articles, error, states.get(feed.name))
        _add_time(times, "store_articles", t1)
        reports.append(report)
    return reports


def _add_time(times: dict[str, float], key: str, since: float) -> float:
    now = time.perf_counter()
    times[key] = times.get(key, 0.0) + now - since
    return now


def _store_feed(
    corpus: Corpus,
    feed: Feed,
    res: FetchResult,
    report: FeedReport,
    articles: list[Article],
    error: str | None,
    old: FeedState | None,
) -> None:
    """Store one feed's new state and (unless it failed) its articles; fill in the report."""
    state = _next_state(feed, old, res, error, len(articles))
    state = replace(
        state, warnings=_merge_warnings(old.warnings if old else (), report.warnings, utcnow())
    )
    if error:
        report.status, report.error = "error", error
        corpus.save_feed_state(state)  # validators of the last good fetch are kept
        log.warning("feed %s: %s", feed.name, error)
    else:
        outcome = corpus.upsert_feed(feed.name, articles, state)
        report.new, report.updated, report.unchanged = (
            outcome.new,
            outcome.updated,
            outcome.unchanged,
        )
        log.info(
            "feed %s: %s, %d items (%d new, %d updated)",
            feed.name,
            res.status,
            report.items,
            report.new,
            report.updated,
        )
    for w in report.warnings:
        log.warning("feed %s: %s", feed.name, w)


def run_ingest(
    settings: Settings,
    feeds: Sequence[Feed] | None = None,
    *,
    only: Sequence[str] = (),
    reindex: bool = False,
    progress: Progress | None = None,
    corpus: Corpus | None = None,
    embedder: Embedder | None = None,
) -> IngestReport:
    """One full run under the ingest lock. With `reindex`, nothing is fetched: the vectors of
    every stored article (or of the `only` feeds) are rebuilt. Pass the process's `corpus` and
    `embedder` to reuse them (the bot does); otherwise they are opened/loaded here as needed."""
    started = time.monotonic()
    with ingest_lock(settings):
        store = corpus or Corpus(settings)
        try:
            with store.writing():
                report = _run_locked(store, settings, feeds, only, reindex, progress, embedder)
        finally:
            if store is not corpus:
                store.close()
    report.seconds = round(time.monotonic() - started, 3)
    return report


def rebuild_signature(settings: Settings) -> str:
    """What makes two builds interchangeable: a build is resumed only with the same one."""
    return (
        f"{settings.embedding_model}|{recorded_backend(settings.embedding_backend)}|"
        f"{settings.chunk_tokens}/{settings.chunk_overlap_tokens}"
    )


def _run_locked(
    store: Corpus,
    settings: Settings,
    feeds: Sequence[Feed] | None,
    only: Sequence[str],
    reindex: bool,
    progress: Progress | None,
    embedder: Embedder | None,
) -> IngestReport:
    report = IngestReport(reindex=reindex)
    store.drop_retired_collections()
    if reindex and not only:
        # Build the new vectors beside the live ones, then switch (see ingest.store).
        if settings.retention_days:
            report.pruned = store.prune_older_than(
                utcnow() - timedelta(days=settings.retention_days)
            )
        store.begin_rebuild(rebuild_signature(settings))
        if store.rebuild_todo():
            t0 = time.perf_counter()
            emb = embedder or Embedder.from_settings(settings)
            report.timings["model_load"] = time.perf_counter() - t0
            report.embedded_articles, report.embedded_chunks = embed_pending(
                store, emb, settings, progress, report.timings, rebuild=True
            )
        # the new vectors are the model's and backend's from now on (a reindex is how to switch)
        store.finish_rebuild(settings.embedding_model, recorded_backend(settings.embedding_backend))
    else:
        # Anything else changes the live corpus, which an interrupted build no longer matches.
        store.abandon_rebuild()
        if reindex:
            for name in only:
                store.mark_feed_pending(name)
        else:
            all_feeds = list(feeds) if feeds is not None else load_feeds(settings.feeds)
            chosen = [f for f in all_feeds if f.enabled and (not only or f.name in only)]
            unknown = set(only) - {f.name for f in all_feeds}
            if unknown:
                raise ConfigError(f"no feed named {', '.join(sorted(unknown))} in the feeds file")
            check_full_text(chosen)
            t0 = time.perf_counter()
            report.feeds = ingest_feeds(store, chosen, settings, report.timings)
            report.timings["fetch_parse"] = time.perf_counter() - t0
        if settings.retention_days:
            cutoff = utcnow() - timedelta(days=settings.retention_days)
            report.pruned = store.prune_older_than(cutoff)
    store.check_model(settings.embedding_model, recorded_backend(settings.embedding_backend))
    if store.pending_count():
        t0 = time.perf_counter()
        emb = embedder or Embedder.from_settings(settings)
        report.timings["model_load"] = time.perf_counter() - t0
        report.embedded_articles, report.embedded_chunks = embed_pending(
            store, emb, settings, progress, report.timings
        )
    group_new_articles(store, settings, feeds)  # stories: new articles join or start one
    report.pending = store.pending_count()
    store.set_meta("last_ingest", utcnow().isoformat())
    return report
