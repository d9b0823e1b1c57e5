"""Pure-encode probe: the ONNX encoder's batching and threading options on real chunks.

Parses the shared feeds, chunks them like an ingest, and times `embed_texts` on every STEP-th
chunk for each variant, in interleaved rounds (a shared CPU drifts: compare within one run).
Prints chunks/s (best and median wall) and CPU seconds per 1,000 chunks, which other load
disturbs much less than wall time. Asserts nothing.

    python bench/probe_encode.py [--step 3] [--rounds 2] [--backend onnx-int8]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_ingest import FEEDS  # noqa: E402

# name: (MAX_BATCH_TOKENS, rows per batch, PARALLEL_BATCHES)
VARIANTS = {
    "32 rows, 2 intra-op threads (before)": (10**9, 32, False),
    "1024 tokens, 2 intra-op threads": (1024, 32, False),
    "512 tokens, 2 intra-op threads": (512, 32, False),
    "2048 tokens, parallel batches": (2048, 32, True),
    "1024 tokens, parallel batches": (1024, 32, True),
    "512 tokens, parallel batches": (512, 32, True),
    "256 tokens, parallel batches": (256, 32, True),
}


def real_chunks(embedder: object, step: int) -> tuple[list[str], list[list[int] | None]]:
    from ingest.chunk import Chunker
    from ingest.models import Feed, FetchResult
    from ingest.parse import parse_feed

    chunker = Chunker(embedder.tokenizer)  # type: ignore[attr-defined]
    pairs = []
    for path in sorted(FEEDS.rglob("*.xml")):
        feed = Feed(name=path.stem, url=str(path))
        res = FetchResult(feed=feed.name, status="ok", body=path.read_bytes(), headers={})
        for article in parse_feed(feed, res).articles:
            pairs += chunker.chunk_with_ids(article)
    pairs = pairs[::step]
    return [c.text for c, _ in pairs], [ids for _, ids in pairs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--step", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--backend", default="onnx-int8", choices=["onnx", "onnx-int8"])
    ap.add_argument("--model-cache", type=Path)
    args = ap.parse_args()
    import ingest.embed as embed

    def apply(variant: tuple[int, int, bool]) -> None:
        embed.MAX_BATCH_TOKENS, _, embed.PARALLEL_BATCHES = variant

    embedders = {}
    for name, variant in VARIANTS.items():  # the thread layout is fixed when a session opens
        apply(variant)
        embedders[name] = embed.Embedder(backend=args.backend, cache_dir=args.model_cache)
        embedders[name].batch_size = variant[1]
    texts, ids = real_chunks(next(iter(embedders.values())), args.step)
    print(f"{len(texts)} real chunks from {FEEDS}, backend {args.backend}")
    wall: dict[str, list[float]] = {name: [] for name in VARIANTS}
    cpu: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(args.rounds):
        for name, variant in VARIANTS.items():
            apply(variant)
            c0, t0 = time.process_time(), time.perf_counter()
            embedders[name].embed_texts(texts, ids)
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    print(f"{'variant':<40}{'best/s':>8}{'median/s':>10}{'CPU s/1000':>12}")
    for name in VARIANTS:
        best, median = len(texts) / min(wall[name]), len(texts) / statistics.median(wall[name])
        per_k = 1000 * min(cpu[name]) / len(texts)
        print(f"{name:<40}{best:>8.1f}{median:>10.1f}{per_k:>12.2f}")


if __name__ == "__main__":
    main()
