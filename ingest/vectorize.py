"""The embedding stage of an ingest: chunk the pending articles, encode, store the vectors.

Encoding is the only expensive step of an ingest; everything here keeps the encoder busy:
chunking tokenizes each article once and hands the chunks' token ids to the encoder (no second
tokenization), and while one batch is encoded a writer thread stores the previous one in Chroma
and SQLite (ONNX Runtime and torch release the GIL).
"""

from __future__ import annotations

import logging
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from ingest.chunk import Chunker
from ingest.config import Settings
from ingest.embed import Embedder
from ingest.models import Article, Chunk
from ingest.store import Corpus

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
Planned = tuple[Article, tuple[str, ...], list[Chunk]]
TokenIds = list[int] | None

# Chunks per encode call and per Chroma/SQLite write (whole articles): 16 model batches, at most
# 512; a kill loses at most two of them. Large enough that Chroma's per-call cost and the
# length-sorting tails vanish.
EMBED_BATCH_CHUNKS = 512
MODEL_BATCHES_PER_WRITE = 16


class _Reporter:
    """A progress bar on a terminal; a log line every few seconds otherwise; plus a callback."""

    def __init__(self, total: int, callback: Progress | None) -> None:
        self.total, self.done, self.callback = total, 0, callback
        self.bar = None
        self.last_log = time.monotonic()
        if sys.stderr.isatty() and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="chunk", desc="embedding", leave=False)

    def advance(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif time.monotonic() - self.last_log > 10:
            log.info("embedding: %d/%d chunks", self.done, self.total)
            self.last_log = time.monotonic()
        if self.callback:
            self.callback("embed", self.done, self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _batches(
    planned: list[tuple[Planned, list[TokenIds]]], max_chunks: int
) -> Iterator[list[tuple[Planned, list[TokenIds]]]]:
    """Consecutive groups of whole articles holding about `max_chunks` chunks each."""
    batch: list[tuple[Planned, list[TokenIds]]] = []
    size = 0
    for item in planned:
        batch.append(item)
        size += len(item[1])
        if size >= max_chunks:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _plan(
    corpus: Corpus, ids: list[str], embedder: Embedder, settings: Settings, times: dict[str, float]
) -> list[tuple[Planned, list[TokenIds]]]:
    """Every pending article with its chunks and their token ids."""
    chunker = Chunker(
        embedder.tokenizer,
        settings.chunk_tokens,
        settings.chunk_overlap_tokens,
        window=embedder.max_tokens - embedder.special_tokens,
    )
    out = []
    for article, feeds in corpus.load_articles(ids):
        pairs = chunker.chunk_with_ids(article)
        out.append(((article, feeds, [c for c, _ in pairs]), [t for _, t in pairs]))
    times["tokenize"] = times.get("tokenize", 0.0) + chunker.tokenize_seconds
    return out


def embed_pending(
    corpus: Corpus,
    embedder: Embedder,
    settings: Settings,
    progress: Progress | None = None,
    timings: dict[str, float] | None = None,
    *,
    rebuild: bool = False,
) -> tuple[int, int]:
    """Chunk and embed every pending article. Returns (articles, chunks).

    Batches of about EMBED_BATCH_CHUNKS chunks: while batch n+1 is encoded, a writer thread
    stores batch n in Chroma and SQLite. With `rebuild`, every article the reindex build has
    not done yet goes into the collection being built instead; the live vectors are not
    touched. `timings` accumulates wall seconds: chunk (of which tokenize), encode, chroma, sqlite,
    embed_stage; and embed_stage_cpu, the process's CPU seconds in this stage."""
    ids = corpus.rebuild_todo() if rebuild else corpus.pending_ids()
    if not ids:
        return 0, 0
    times: dict[str, float] = defaultdict(float) if timings is None else timings
    t0, cpu0 = time.perf_counter(), time.process_time()
    n_articles = n_chunks = 0
    reporter: _Reporter | None = None

    def write(batch: list[Planned], vectors: np.ndarray) -> None:
        if rebuild:
            corpus.store_rebuild_embeddings(batch, vectors)
        else:
            corpus.store_embeddings(batch, vectors, timings=times)
        assert reporter is not None
        reporter.advance(len(vectors))

    try:
        with ThreadPoolExecutor(1, thread_name_prefix="newsbot-store") as writer:
            # Open Chroma (seconds on first use) in the writer thread while chunking.
            in_flight: Future[Any] | None = writer.submit(lambda: corpus.collection)
            # Chunk everything first (cheap) so progress is counted in chunks, the real unit.
            planned = _plan(corpus, ids, embedder, settings, times)
            times["chunk"] = times.get("chunk", 0.0) + time.perf_counter() - t0
            reporter = _Reporter(sum(len(t) for _, t in planned), progress)
            n_articles, n_chunks = _encode_and_write(
                planned, embedder, writer, in_flight, write, times
            )
    finally:
        if reporter is not None:
            reporter.close()
        times["embed_stage"] = times.get("embed_stage", 0.0) + time.perf_counter() - t0
        cpu = time.process_time() - cpu0  # every thread of the process
        times["embed_stage_cpu"] = times.get("embed_stage_cpu", 0.0) + cpu
    return n_articles, n_chunks


def _encode_and_write(
    planned: list[tuple[Planned, list[TokenIds]]],
    embedder: Embedder,
    writer: ThreadPoolExecutor,
    in_flight: Future[Any] | None,
    write: Callable[[list[Planned], np.ndarray], None],
    times: dict[str, float],
) -> tuple[int, int]:
    """Encode batch n+1 while the writer thread stores batch n (one write at a time, in
    order; a write's error surfaces at the next batch). Returns (articles, chunks)."""
    n_articles = n_chunks = 0
    per_write = min(EMBED_BATCH_CHUNKS, MODEL_BATCHES_PER_WRITE * embedder.batch_size)
    for group in _batches(planned, per_write):
        batch = [p for p, _ in group]
        texts = [c.text for _, _, chunks in batch for c in chunks]
        token_ids = [t for _, ts in group for t in ts]
        t1 = time.perf_counter()
        vectors = embedder.embed_texts(texts, token_ids)
        times["encode"] = times.get("encode", 0.0) + time.perf_counter() - t1
        if in_flight is not None:
            in_flight.result()
        in_flight = writer.submit(write, batch, vectors)
        n_articles += len(batch)
        n_chunks += len(texts)
    if in_flight is not None:
        in_flight.result()
    return n_articles, n_chunks
