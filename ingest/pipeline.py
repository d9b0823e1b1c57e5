"""One ingest run: fetch → parse → normalize → dedupe → store → chunk → embed. Idempotent and
resumable: a killed run leaves the corpus consistent and the next run finishes its work."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta

from filelock import FileLock, Timeout

from ingest.config import Settings
from ingest.embed import Embedder, recorded_backend
from ingest.feeds import load_feeds
from ingest.fetch import fetch_all
from ingest.fulltext import PageBudget, check_full_text, with_full_text
from ingest.model_index import update_model_directory
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
from ingest.parse import parse_feed
from ingest.sanitize import clean_line, sanitize_articles
from ingest.store import Corpus
from ingest.story_grouping import group_new_articles
from ingest.vectorize import More, Progress, embed_pending

log = logging.getLogger(__name__)

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


def check_feed(feed: Feed, settings: Settings, *, trusted: bool = False) -> ParseResult:
    """Fetch and parse one feed once, storing nothing (to validate a feed before adding it).

    The URL is not yet the operator's (it comes from Discord): unless `trusted`, it and its
    redirects must be on public addresses (or NEWSBOT_ALLOW_PRIVATE_FEED_URLS is set)."""
    [res] = asyncio.run(fetch_all([feed], {}, settings, trust_origins=trusted))
    if res.status == "error":
        return ParseResult(feed=feed.name, error=res.error or "fetch failed")
    return parse_feed(feed, res)


def ingest_feeds(
    corpus: Corpus,
    feeds: Sequence[Feed],
    settings: Settings,
    timings: dict[str, float] | None = None,
    on_stored: Callable[[int], None] | None = None,
) -> list[FeedReport]:
    """Fetch and parse every feed; store each feed's articles with its new state. `timings`
    (if given) accumulates wall seconds: fetch, parse (incl. cleaning and any full-text page
    fetches) and store_articles (SQLite). `on_stored` (if given) is told, after each feed, how
    many of its articles were stored new or changed."""
    times: dict[str, float] = {} if timings is None else timings
    states = {s.name: s for s in corpus.feed_states()}
    # A feed whose own title was never recorded (a corpus from before titles were kept) is
    # fetched once without validators, so a "not modified" does not hide its title for good.
    asked = {n: s if s.title else replace(s, etag=None, last_modified=None)
             for n, s in states.items()}  # fmt: skip
    t0 = time.perf_counter()
    results = asyncio.run(fetch_all(list(feeds), asked, settings))
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
        channel: tuple[str, str] | None = None
        if res.status == "ok":
            parsed = parse_feed(feed, res)
            report.warnings = list(parsed.warnings)
            if parsed.error:
                error = parsed.error
            else:
                channel = (parsed.title, parsed.site)
                articles = list(parsed.articles)
                if feed.full_text:
                    known = corpus.known_ids(feed.name, [a.id for a in articles])
                    full = with_full_text(feed, articles, known, settings, budget, report.warnings)
                    articles = [a for a in full if a.id not in known]
        articles = sanitize_articles(articles, settings.max_article_chars, report.warnings)
        report.items = len(articles)
        t1 = _add_time(times, "parse", t0)
        _store_feed(corpus, feed, res, report, articles, error, states.get(feed.name), channel)
        _add_time(times, "store_articles", t1)
        reports.append(report)
        if on_stored is not None:
            on_stored(report.new + report.updated)
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
    channel: tuple[str, str] | None = None,
) -> None:
    """Store one feed's new state and (unless it failed) its articles; fill in the report.
    `channel`: the feed's own title and site, when this fetch parsed them."""
    state = _next_state(feed, old, res, error, len(articles))
    if channel is not None:  # a feed without a title of its own is known by its name
        title = clean_line(channel[0])[:300] or feed.name  # feed text: cleaned like titles
        state = replace(state, title=title, site=clean_line(channel[1])[:300])
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
        _prune(store, settings, report)
        store.begin_rebuild(rebuild_signature(settings))
        if store.rebuild_todo():
            _embed(store, settings, report, progress, embedder, rebuild=True)
        # the new vectors are the model's and backend's from now on (a reindex is how to switch)
        store.finish_rebuild(settings.embedding_model, recorded_backend(settings.embedding_backend))
    else:
        # Anything else changes the live corpus, which an interrupted build no longer matches.
        store.abandon_rebuild()
        store.check_model(settings.embedding_model, recorded_backend(settings.embedding_backend))
        store.restore_missing_vectors()  # a deleted vector store: its articles become pending
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
            embedder = _ingest_while_embedding(store, chosen, settings, report, progress, embedder)
        _prune(store, settings, report)
        if store.pending_count():
            _embed(store, settings, report, progress, embedder)
    t0 = time.perf_counter()
    group_new_articles(store, settings, feeds)  # stories: new articles join or start one
    report.timings["stories"] = time.perf_counter() - t0
    t0 = time.perf_counter()  # the model directory: new/changed articles (all with --reindex)
    update_model_directory(settings, feeds, rebuild=reindex and not only)
    report.timings["models"] = time.perf_counter() - t0
    report.pending = store.pending_count()
    store.set_meta("last_ingest", utcnow().isoformat())
    return report


# Articles stored by the feeds thread before the embedding starts (about one write group of
# chunks): the first encode batches are full.
START_EMBEDDING_AT = 256


def _ingest_while_embedding(
    store: Corpus,
    feeds: Sequence[Feed],
    settings: Settings,
    report: IngestReport,
    progress: Progress | None,
    embedder: Embedder | None,
) -> Embedder | None:
    """Fetch and parse the feeds in a thread while this one embeds the articles they have
    stored so far, in one stream (embed_pending's `more`): encoding, the only expensive step,
    does not wait for the parsing. Returns the embedder if one was loaded. Right whatever the
    interleaving: an article is marked embedded with the hash of the text it was embedded from,
    so one a later feed changes stays pending (articles.py) and the caller embeds it.

    The feeds thread reports what it stores (`on_stored`) instead of this thread counting the
    pending articles over and over: that count scans the articles (about 14 ms at 100,000) and
    holds the database the feeds thread is writing to."""
    tally = threading.Condition()
    waiting = store.pending_count()  # left by an earlier run, plus what the thread stores

    def stored(n: int) -> None:
        nonlocal waiting
        with tally:
            waiting += n
            tally.notify()

    def more(wait: bool) -> list[str] | None:
        """The ids pending now if the feeds thread stored any since the last call, else []
        (with `wait`: once it does); None when it ended and stored nothing since."""
        nonlocal waiting
        with tally:
            if wait:
                tally.wait_for(lambda: waiting or parsing.done())
            if not waiting:
                return None if parsing.done() else []
            waiting = 0
        return store.pending_ids()

    with ThreadPoolExecutor(1, thread_name_prefix="newsbot-feeds") as thread:
        parsing = thread.submit(ingest_feeds, store, feeds, settings, report.timings, stored)
        parsing.add_done_callback(lambda _: stored(0))  # wakes the waits when it ends
        with tally:
            tally.wait_for(lambda: waiting or parsing.done())
        if waiting:  # there is work: load the model while the feeds are parsed
            embedder = embedder or _load_embedder(settings, report)
            with tally:
                tally.wait_for(lambda: waiting >= START_EMBEDDING_AT or parsing.done())
                waiting = 0  # embed_pending reads what is pending now; more() the rest
            _prune(store, settings, report)
            _embed(store, settings, report, progress, embedder, more=more)
        report.feeds = parsing.result()
    times = report.timings
    times["fetch_parse"] = sum(times.get(k, 0.0) for k in ("fetch", "parse", "store_articles"))
    return embedder


def _prune(store: Corpus, settings: Settings, report: IngestReport) -> None:
    """Retention: drop the articles older than settings.retention_days (before embedding)."""
    if settings.retention_days:
        report.pruned += store.prune_older_than(utcnow() - timedelta(days=settings.retention_days))


def _embed(
    store: Corpus,
    settings: Settings,
    report: IngestReport,
    progress: Progress | None,
    embedder: Embedder | None,
    *,
    rebuild: bool = False,
    more: More | None = None,
) -> Embedder:
    """Embed the pending articles, or those a reindex build has not done (loading the model on
    first need), and those `more` gives (embed_pending); returns the embedder. Progress counts
    on from the run's earlier passes."""
    embedder = embedder or _load_embedder(settings, report)
    base, report_to = report.embedded_chunks, progress
    if progress is not None and base:

        def report_to(stage: str, done: int, total: int) -> None:
            progress(stage, base + done, base + total)

    articles, chunks = embed_pending(
        store, embedder, settings, report_to, report.timings, rebuild=rebuild, more=more
    )
    report.embedded_articles += articles
    report.embedded_chunks += chunks
    return embedder


def _load_embedder(settings: Settings, report: IngestReport) -> Embedder:
    t0 = time.perf_counter()
    embedder = Embedder.from_settings(settings)
    report.timings["model_load"] = time.perf_counter() - t0
    return embedder
