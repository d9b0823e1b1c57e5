"""Where an answer's time goes: `ask` over the development questions with each store call timed.

    python bench/profile_ask.py --data DIR --feeds FEEDS [--asks 40]

Loads the engine as `newsbot bot` does, warms it with 3 questions, then times `ask` over the next
--asks questions of eval/dev.jsonl. Each store call an answer makes (keyword search, count of
mentions, dense search, vectors, article rows, ...) is wrapped in a timer, so the report shows,
per stage, how many calls an answer makes and the milliseconds they cost per answer (mean), next
to the ask p50/p95. Compare two corpus sizes to see what grows.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.config import AnswerSettings  # noqa: E402
from bot.engine import Engine  # noqa: E402
from ingest.store import Corpus, keyword  # noqa: E402
from ingest.store.keyword import KeywordIndex  # noqa: E402
from ingest.store.vectors import VectorIndex  # noqa: E402

STAGES: list[tuple[type, str]] = [
    (KeywordIndex, "keyword_search"),
    (KeywordIndex, "count_mentions"),
    (KeywordIndex, "chunk_texts"),
    (KeywordIndex, "article_chunks"),
    (VectorIndex, "dense_search"),
    (VectorIndex, "chunk_vectors"),
    (Corpus, "article_rows"),
    (Corpus, "select_article_ids"),
    (Corpus, "get_meta"),
]
WARMUP = 3

spent: dict[str, float] = defaultdict(float)
calls: dict[str, int] = defaultdict(int)
each: dict[str, list[float]] = defaultdict(list)


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            took = time.perf_counter() - t
            spent[name] += took
            calls[name] += 1
            each[name].append(took)

    return run


def instrument(engine: Engine) -> None:
    for cls, name in STAGES:
        setattr(cls, name, _timed(name, getattr(cls, name)))
    embedder = engine.retriever.embedder
    embedder.embed_query = _timed("embed_query", embedder.embed_query)  # type: ignore[method-assign]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--feeds", required=True)
    p.add_argument("--asks", type=int, default=40)
    p.add_argument("--questions", default=str(REPO / "eval" / "dev.jsonl"))
    p.add_argument("--keyword-share", type=float, help="keyword.SCORED_SHARE to try")
    args = p.parse_args()
    if args.keyword_share is not None:
        keyword.SCORED_SHARE = args.keyword_share
    settings = AnswerSettings.load(data_dir=Path(args.data), feeds=Path(args.feeds))
    engine = Engine(settings)
    lines = Path(args.questions).read_text().splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    for q in questions[:WARMUP]:
        engine.ask(q)
    instrument(engine)
    times = []
    for q in questions[WARMUP : WARMUP + args.asks]:
        t = time.perf_counter()
        engine.ask(q)
        times.append(time.perf_counter() - t)
    n = len(times)
    out = {
        "chunks": engine.stats().chunks,
        "asks": n,
        "ask_p50_ms": round(1000 * median(times), 1),
        "ask_p95_ms": round(1000 * sorted(times)[max(0, round(0.95 * n) - 1)], 1),
        "ask_mean_ms": round(1000 * sum(times) / n, 1),
        "stages_ms_per_ask": {k: round(1000 * v / n, 1) for k, v in sorted(spent.items())},
        "calls_per_ask": {k: round(c / n, 2) for k, c in sorted(calls.items())},
        "call_p50_max_ms": {
            k: [round(1000 * median(v), 1), round(1000 * max(v), 1)]
            for k, v in sorted(each.items())
        },
    }
    engine.close()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
