"""The embedding stage of an ingest: chunk the pending articles, encode, store the vectors.

Encoding is the only expensive step of an ingest; everything here keeps the encoder busy:
chunking tokenizes each article once and hands the chunks' token ids to the encoder (no second
tokenization), and while one group is encoded a writer thread stores the previous one in Chroma
and SQLite (ONNX Runtime and torch release the GIL). One stream, however many articles: the
chunking runs a few groups ahead of the writer, so memory does not grow with the corpus.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import numpy as np
from tqdm import tqdm

from ingest.chunk import Chunker
from ingest.config import Settings
from ingest.embed import Embedder
from ingest.models import Article, Chunk, NewsbotError, utcnow
from ingest.store import Corpus, is_store_failure

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
Planned = tuple[Article, tuple[str, ...], list[Chunk]]
TokenIds = list[int] | None
Item = tuple[Planned, list[TokenIds]]  # an article to embed, its chunks' token ids
Group = list[Item]  # whole articles encoded and stored together

# Chunks per encode call and per Chroma/SQLite write (whole articles): 16 model batches, at most
# 512. Large enough that Chroma's per-call cost and the length-sorting tails vanish.
EMBED_BATCH_CHUNKS = 512
MODEL_BATCHES_PER_WRITE = 16
# Groups chunked ahead of the writer: enough that the encoder never waits for the chunking,
# few enough that memory does not grow with the corpus (a kill loses at most these).
LOOKAHEAD_GROUPS = 3
LOAD_SLICE = 256  # pending articles read from SQLite at once
# Articles set aside in a row (none stored between) before the run stops: so many failures
# are the store's or the model's, not the articles'.
MAX_SET_ASIDE_IN_A_ROW = 5

# more(wait): the ids pending now if any were stored since the last call, else [] (or, with
# wait, block until some are); None once no more will come.
More = Callable[[bool], list[str] | None]


class _Reporter:
    """A progress bar on a terminal; a log line every few seconds otherwise; plus a callback.

    Counts chunks (the real unit). The total is exact once every article is chunked; before,
    it is the chunks so far plus the articles left at the average so far."""

    def __init__(self, callback: Progress | None) -> None:
        self.callback = callback
        self.articles = 0  # to embed, as far as known (the chunking thread counts them)
        self.done = self.planned_chunks = self.planned_articles = 0
        self.bar: Any = None
        self.last_log = time.monotonic()

    def plan(self, articles: int, chunks: int) -> None:
        """Called (chunking thread) before those chunks are encoded."""
        self.planned_articles += articles
        self.planned_chunks += chunks

    @property
    def total(self) -> int:
        left = max(0, self.articles - self.planned_articles)
        per_article = self.planned_chunks / max(1, self.planned_articles)
        return self.planned_chunks + round(left * per_article)

    def advance(self, n: int) -> None:
        self.done += n
        total = self.total
        if self.bar is None and sys.stderr.isatty():
            self.bar = tqdm(total=total, unit="chunk", desc="embedding", leave=False)
        if self.bar is not None:
            self.bar.total = total
            self.bar.update(n)
        elif time.monotonic() - self.last_log > 10:
            log.info("embedding: %d/%d chunks", self.done, total)
            self.last_log = time.monotonic()
        if self.callback:
            self.callback("embed", self.done, total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _batches(planned: Iterable[Item | None], max_chunks: int) -> Iterator[Group]:
    """Consecutive groups of whole articles holding about `max_chunks` chunks each; a None in
    `planned` ends the group being filled (nothing more to chunk for a while)."""
    batch: Group = []
    size = 0
    for item in planned:
        if item is not None:
            batch.append(item)
            size += len(item[1])
        if batch and (item is None or size >= max_chunks):
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def embed_pending(
    corpus: Corpus,
    embedder: Embedder,
    settings: Settings,
    progress: Progress | None = None,
    timings: dict[str, float] | None = None,
    *,
    rebuild: bool = False,
    more: More | None = None,
) -> tuple[int, int]:
    """Chunk and embed every pending article. Returns (articles, chunks).

    Streamed in groups of about EMBED_BATCH_CHUNKS chunks: each group is encoded as soon as it
    is chunked, and stored (Chroma, SQLite, by a writer thread) as soon as it is encoded, while
    the next ones are chunked and encoded; at most LOOKAHEAD_GROUPS are in memory whatever the
    corpus size. With `more`, when the pending articles are all chunked, `more()` gives the ids
    that became pending since (blocking until some do), until it returns None: the ingest job
    embeds while its feeds are still parsed, in one stream. With `rebuild`, every article the
    reindex build has not done yet goes into the collection being built instead; the live
    vectors are not touched. Articles older than the retention are left to the prune.
    `timings` accumulates wall seconds: chunk (of which tokenize), encode, chroma, sqlite,
    embed_stage; and embed_stage_cpu, the process's CPU seconds in this stage."""
    ids = corpus.rebuild_todo() if rebuild else corpus.pending_ids()
    if not ids and more is None:
        return 0, 0
    times: dict[str, float] = defaultdict(float) if timings is None else timings
    t0, cpu0 = time.perf_counter(), time.process_time()
    run = _EmbedRun(corpus, embedder, settings, times, rebuild, _Reporter(progress))
    try:
        return run.run(ids, more)
    finally:
        run.reporter.close()
        times["embed_stage"] = times.get("embed_stage", 0.0) + time.perf_counter() - t0
        cpu = time.process_time() - cpu0  # every thread of the process
        times["embed_stage_cpu"] = times.get("embed_stage_cpu", 0.0) + cpu


class _EmbedRun:
    """One embed_pending call: chunk (this thread) → encode (one thread, whose model batches
    run on every core) → store (one writer thread), group by group, in order."""

    def __init__(
        self,
        corpus: Corpus,
        embedder: Embedder,
        settings: Settings,
        times: dict[str, float],
        rebuild: bool,
        reporter: _Reporter,
    ) -> None:
        self.corpus, self.embedder, self.times, self.rebuild = corpus, embedder, times, rebuild
        self.reporter = reporter
        self.chunker = Chunker(
            embedder.tokenizer,
            settings.chunk_tokens,
            settings.chunk_overlap_tokens,
            window=embedder.max_tokens - embedder.special_tokens,
        )
        self.per_write = min(EMBED_BATCH_CHUNKS, MODEL_BATCHES_PER_WRITE * embedder.batch_size)
        self.set_aside = self.set_aside_in_a_row = 0
        days = settings.retention_days
        self.cutoff = utcnow() - timedelta(days=days) if days else None

    def _slices(self, ids: list[str], more: More | None) -> Iterator[list[str]]:
        """The ids to embed, LOAD_SLICE at a time, each once, then those `more` gives; an empty
        slice when nothing is left to chunk until the feeds store more."""
        seen: set[str] = set()
        while True:
            fresh = [i for i in ids if i not in seen]
            seen.update(fresh)
            self.reporter.articles += len(fresh)
            for start in range(0, len(fresh), LOAD_SLICE):
                yield fresh[start : start + LOAD_SLICE]
            if more is None:
                return
            got = more(False)
            if got is not None and all(i in seen for i in got):
                yield []  # the encoder gets what is chunked while this thread waits
                t = time.perf_counter()
                got = more(True)
                self.times["wait_feeds"] = (
                    self.times.get("wait_feeds", 0.0) + time.perf_counter() - t
                )
            if got is None:
                return
            ids = got

    def _plan(self, ids: list[str], more: More | None) -> Iterator[Item | None]:
        """Every article to embed with its chunks and their token ids, chunked as it is read;
        None when nothing is left to chunk for a while."""
        for part in self._slices(ids, more):
            if not part:
                yield None
                continue
            t0 = time.perf_counter()
            planned = []
            for article, feeds in self.corpus.load_articles(part):
                if self.cutoff and article.published and article.published < self.cutoff:
                    self.reporter.articles -= 1  # the prune deletes it
                    continue
                pairs = self.chunker.chunk_with_ids(article)
                planned.append(((article, feeds, [c for c, _ in pairs]), [i for _, i in pairs]))
            self.times["chunk"] = self.times.get("chunk", 0.0) + time.perf_counter() - t0
            yield from planned

    def encode(self, group: Group) -> np.ndarray:
        t1 = time.perf_counter()
        texts = [c.text for (_, _, chunks), _ in group for c in chunks]
        vectors = self.embedder.embed_texts(texts, [t for _, ts in group for t in ts])
        self.times["encode"] = self.times.get("encode", 0.0) + time.perf_counter() - t1
        return vectors

    def write(self, group: Group, encoded: Future[np.ndarray]) -> int:
        """Store the group once it is encoded (writer thread: writes happen in order). When it
        fails for a reason of its own (not the store's), each article is tried alone and the
        ones that still fail are set aside (`_alone`): one article never blocks the rest."""
        try:
            vectors = encoded.result()
            self._store(group, vectors)
        except Exception as e:
            if is_store_failure(e):
                raise
            log.warning("a group of %d articles failed (%s); trying each alone", len(group), e)
            return self._alone(group)
        self.set_aside_in_a_row = 0
        self.reporter.advance(len(vectors))
        return len(vectors)

    def _store(self, group: Group, vectors: np.ndarray) -> None:
        batch = [p for p, _ in group]
        if self.rebuild:
            self.corpus.store_rebuild_embeddings(batch, vectors)
        else:
            self.corpus.store_embeddings(batch, vectors, timings=self.times)

    def _alone(self, group: Group) -> int:
        """Encode and store each article of a failed group alone; set aside those that fail,
        with their error (`newsbot feeds status` lists them). Returns the chunks stored."""
        stored = 0
        for item in group:
            article = item[0][0]
            try:
                vectors = self.encode([item])
                self._store([item], vectors)
            except Exception as e:
                if is_store_failure(e):
                    raise
                error = f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"
                self.set_aside_in_a_row += 1
                if self.set_aside_in_a_row > MAX_SET_ASIDE_IN_A_ROW:
                    raise NewsbotError(
                        f"{self.set_aside_in_a_row} articles in a row could not be embedded "
                        f"(last: {error}); stopped: check the embedding model and the store"
                    ) from e
                log.warning("set aside article %r (%s): %s", article.title[:80], article.url, error)
                self.corpus.set_aside(article, error)
                self.set_aside += 1
                continue
            self.set_aside_in_a_row = 0
            stored += len(vectors)
            self.reporter.advance(len(vectors))
        return stored

    def run(self, ids: list[str], more: More | None) -> tuple[int, int]:
        n_articles = n_chunks = 0
        # (articles, encoding, writing) of each group not yet stored, oldest first
        queued: deque[tuple[int, Future[np.ndarray], Future[int]]] = deque()
        with (
            ThreadPoolExecutor(1, thread_name_prefix="newsbot-store") as writer,
            ThreadPoolExecutor(1, thread_name_prefix="newsbot-encode") as encoder,
        ):
            try:
                # Open Chroma (seconds on first use) in the writer thread while chunking.
                writer.submit(lambda: self.corpus.collection)
                for group in _batches(self._plan(ids, more), self.per_write):
                    self.reporter.plan(len(group), sum(len(t) for _, t in group))
                    encoding = encoder.submit(self.encode, group)
                    writing = writer.submit(self.write, group, encoding)
                    queued.append((len(group), encoding, writing))
                    while len(queued) > LOOKAHEAD_GROUPS or (queued and queued[0][2].done()):
                        articles, _, stored = queued.popleft()
                        n_chunks += stored.result()  # errors surface here
                        n_articles += articles
                while queued:
                    articles, _, stored = queued.popleft()
                    n_chunks += stored.result()
                    n_articles += articles
            except BaseException:
                for _, encoding, writing in queued:  # an error or a kill does not wait for them
                    encoding.cancel()
                    writing.cancel()
                raise
        self.times["tokenize"] = self.times.get("tokenize", 0.0) + self.chunker.tokenize_seconds
        return n_articles - self.set_aside, n_chunks
