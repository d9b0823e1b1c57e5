"""Scale benchmark: the bot on a corpus many times the shared one (`make bench-scale`).

    python bench/bench_scale.py [--sizes 2500,100000] [--dir /tmp/newsbot-scale] [--asks 40]
    python bench/bench_scale.py --measure DIR [DIR ...]   # step 3 only, on corpora already built

Steps, each measurement in a process of its own (so peak memory is that process's):

1. **Base corpus**: every feed of eval/feeds.toml (the 31 real feed files of ../shared/data,
   about 2,580 distinct articles) ingested by the real pipeline with the real model.
2. **Grown corpus** (each size after the first): copies of the base articles are added until
   the corpus holds N articles. Copy k of article i has
   - a distinct link: the article's link with `?nbcopy=k-<8 hex of its id>` (not a tracking
     parameter, so it is another article id);
   - a distinct text: the article's paragraphs rotated by k, plus the first paragraph of another
     base article (i + 7919·k mod M), and the title with "(k)" appended;
   - a date k·37 days before the original (the corpus grows into the past, as history does);
   - the same feeds;
   - chunks made by the real chunker, and for each chunk the vector of the base article's chunk
     at the same position (or its last) plus Gaussian noise (σ = 0.02 per dimension, then
     normalised; cosine to the original ≈ 0.93). Embedding 100,000 articles with the model would
     take over an hour on 2 cores; search cost depends on the number of vectors, not on what
     they mean. The articles, chunk rows, keyword index, Chroma vectors and stories are written
     through the store's own API (`Corpus.upsert_feed`, `Corpus.store_embeddings`,
     `group_new_articles`), exactly as an ingest writes them.
3. **Measured at each size**: the bot's engine loaded in a fresh process (as `newsbot bot`
   does), then `ask` over the first --asks questions of eval/dev.jsonl after 3 warm-up
   questions (p50/p95), `latest` (plain and on a topic) and `stories` (what `/latest` shows), and
   the process's peak RSS; then an incremental ingest of 100 new articles (a new RSS file of
   copies of 100 base articles drawn at random, dated the last 100 minutes, with `nbnew=`
   links: fetched, parsed, chunked, embedded with the real model, grouped into stories, as
   `newsbot ingest --feed` does), its time and peak RSS; then the data dir's size on disk.

Prints one table with a column per size and the growth from the first size to the last.
Targets at 100,000 articles: ask p50 <= 150 ms, incremental ingest of 100 <= 10 s, bot peak
memory <= 1.5 GB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from statistics import median
from typing import Any
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NOISE = 0.02
DAYS_PER_COPY = 37
WARMUP = 3
TOPIC = "open-weights models"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def settings_for(root: Path) -> Any:
    from bot.config import AnswerSettings

    return AnswerSettings.load(data_dir=root / "data", feeds=root / "feeds.toml")


def write_base_feeds(root: Path) -> None:
    """eval/feeds.toml with its relative paths made absolute."""
    text = (REPO / "eval" / "feeds.toml").read_text()
    base = REPO / "eval"
    text = re.sub(
        r'url = "([^":]+)"', lambda m: f'url = "{(base / m[1]).resolve()}"', text
    )  # relative paths (not URLs) are relative to eval/
    (root / "feeds.toml").write_text(text)


# ---------------------------------------------------------------------------- variants
def variant(row: Any, feeds: tuple[str, ...], k: int, other_text: str) -> Any:
    """Copy k of a stored article (see the module docstring)."""
    from ingest.links import article_id
    from ingest.models import Article

    tag = hashlib.sha1(row.id.encode()).hexdigest()[:8]  # two base articles may share a link
    url = row.url + ("&" if "?" in row.url else "?") + f"nbcopy={k}-{tag}"
    paras = [p for p in row.text.split("\n") if p.strip()] or [row.text]
    shift = k % len(paras)
    borrowed = next((p for p in other_text.split("\n") if p.strip()), "")
    text = "\n".join(paras[shift:] + paras[:shift] + [borrowed])
    published = row.published - timedelta(days=DAYS_PER_COPY * k) if row.published else None
    return Article(
        id=article_id(url), url=url, title=f"{row.title} ({k})", text=text, feed=feeds[0],
        author=row.author, published=published, tags=row.tags,
    )  # fmt: skip


def _base(corpus: Any) -> tuple[list[Any], dict[str, tuple[str, ...]], dict[str, list[Any]]]:
    """The base articles (those without `nbcopy`), their feeds and chunk vectors by position."""
    base = "SELECT id FROM articles WHERE url NOT LIKE '%nbcopy=%' AND url NOT LIKE '%nbnew=%'"
    ids = [r["id"] for r in corpus.db.query(base)]
    loaded = corpus.load_articles(ids)
    rows = [a for a, _ in loaded]
    feeds = {a.id: tuple(f) for a, f in loaded}
    chunk_ids = [
        r["id"]
        for r in corpus.db.query(
            "SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id WHERE a.url NOT LIKE"
            " '%nbcopy=%' AND a.url NOT LIKE '%nbnew=%' ORDER BY c.id"
        )
    ]
    vecs = corpus.chunk_vectors(chunk_ids)
    by_article: dict[str, list[tuple[int, Any]]] = {}
    for cid, v in vecs.items():
        aid, idx = cid.rsplit(":", 1)
        by_article.setdefault(aid, []).append((int(idx), v))
    ordered = {a: [v for _, v in sorted(vs, key=lambda t: t[0])] for a, vs in by_article.items()}
    rows = [r for r in rows if r.id in ordered and r.id in feeds]
    if not rows:
        raise SystemExit("no base article with its vectors: is the base corpus embedded?")
    return rows, feeds, ordered


def child_grow(root: str, target: int) -> dict[str, Any]:
    import numpy as np

    from ingest.chunk import Chunker
    from ingest.embed import Embedder
    from ingest.store import Corpus
    from ingest.story_grouping import group_new_articles

    settings = settings_for(Path(root))
    corpus = Corpus(settings)
    t0 = time.perf_counter()
    corpus.claim_vectors()
    with corpus.writing():
        # copies an interrupted run stored but never embedded
        left = "SELECT id FROM articles WHERE url LIKE '%nbcopy=%' AND embedded_hash IS NULL"
        corpus.delete_articles([r["id"] for r in corpus.db.query(left)])
        rows, feeds, vectors = _base(corpus)
        have = corpus.counts()["articles"]
        chunker = Chunker(
            Embedder.from_settings(settings).tokenizer,
            settings.chunk_tokens,
            settings.chunk_overlap_tokens,
        )
        rng = np.random.default_rng(have)
        k = 1 + (have - len(rows)) // len(rows)  # the copies already made, then the next
        start = (have - len(rows)) % len(rows)
        added = 0
        while have + added < target:
            batch = []
            for i in range(start, len(rows)):
                if have + added + len(batch) >= target or len(batch) >= 500:
                    break
                other = rows[(i + 7919 * k) % len(rows)].text
                batch.append((i, variant(rows[i], feeds[rows[i].id], k, other)))
            _write(corpus, batch, rows, feeds, vectors, chunker, rng)
            added += len(batch)
            start = batch[-1][0] + 1 if batch else len(rows)
            if start >= len(rows):
                k, start = k + 1, 0
            print(f"  grow: {have + added}/{target}", file=sys.stderr, flush=True)
        t1 = time.perf_counter()
        grouping = group_new_articles(corpus, settings)
    corpus.close()
    return {"added": added, "write_s": t1 - t0, "stories_s": time.perf_counter() - t1,
            "stories": grouping.new_stories}  # fmt: skip


def _write(corpus: Any, batch: list[Any], rows: list[Any], feeds: Any, vectors: Any,
           chunker: Any, rng: Any) -> None:  # fmt: skip
    import numpy as np

    by_feed: dict[str, list[Any]] = {}
    for _, art in batch:
        by_feed.setdefault(art.feed, []).append(art)
    for feed, arts in by_feed.items():
        state = corpus.feeds.feed_state(feed)
        corpus.upsert_feed(feed, arts, state)
    items, vecs = [], []
    for i, art in batch:
        chunks = chunker.chunk(art)
        base = vectors[rows[i].id]
        for c in chunks:
            v = base[min(c.index, len(base) - 1)] + rng.normal(0, NOISE, len(base[0]))
            vecs.append(v / np.linalg.norm(v))
        items.append((art, feeds[rows[i].id], chunks))
    corpus.store_embeddings(items, np.asarray(vecs, dtype=np.float32))


# ---------------------------------------------------------------------------- measurements
def child_measure(root: str, asks: int) -> dict[str, Any]:
    """The bot's side: engine load, ask p50/p95 warm, latest, stories, peak memory."""
    from bot.engine import Engine

    settings = settings_for(Path(root))
    t0 = time.perf_counter()
    engine = Engine(settings)
    load_s = time.perf_counter() - t0
    lines = (REPO / "eval" / "dev.jsonl").read_text().splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    for q in questions[:WARMUP]:
        engine.ask(q)
    times, answered = [], 0
    for q in questions[WARMUP : WARMUP + asks]:
        t = time.perf_counter()
        answered += engine.ask(q).answered
        times.append(time.perf_counter() - t)
    out = {
        "articles": engine.stats().articles,
        "chunks": engine.stats().chunks,
        "engine_load_s": load_s,
        "ask_p50_ms": 1000 * median(times),
        "ask_p95_ms": 1000 * sorted(times)[max(0, round(0.95 * len(times)) - 1)],
        "answered": f"{answered}/{len(times)}",
        "latest_ms": _best_ms(lambda: engine.latest(limit=10)),
        "latest_topic_ms": _best_ms(lambda: engine.latest(topic=TOPIC, limit=10)),
        "stories_ms": _best_ms(lambda: engine.stories(limit=10)),
        "stories_topic_ms": _best_ms(lambda: engine.stories(topic=TOPIC, limit=10)),
        "bot_peak_rss_mb": peak_rss_mb(),
    }
    engine.close()
    return out


def _best_ms(fn: Any, runs: int = 5) -> float:
    """Median of `runs` warm calls (one call first to warm up)."""
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * median(times)


def write_new_feed(root: Path, size: int) -> str:
    """An RSS file of 100 articles the corpus does not hold (copies of 100 base articles drawn
    at random, seeded by `size`, with `nbnew=` links and dates of the last 100 minutes), added
    to the feeds file; returns the feed's name."""
    from ingest.store import Corpus

    listed, runs = (root / "feeds.toml").read_text(), 0
    while f'name = "bench-new-{size}-{runs}"' in listed:  # one new feed per measurement
        runs += 1
    name = f"bench-new-{size}-{runs}"
    settings = settings_for(root)
    corpus = Corpus(settings)
    try:
        ids = [r["id"] for r in corpus.db.query(
            "SELECT id FROM articles WHERE url NOT LIKE '%nbcopy=%' AND url NOT LIKE '%nbnew=%' "
            "ORDER BY id")]  # fmt: skip
        rows = corpus.article_rows(random.Random(f"{size}-{runs}").sample(ids, 100))
    finally:
        corpus.close()
    items = []
    now = datetime.now(UTC)
    for i, r in enumerate(rows):
        link = r.url + ("&" if "?" in r.url else "?") + f"nbnew={size}-{runs}"
        when = now - timedelta(minutes=i)
        items.append(
            f"<item><title>{escape(r.title)} (update {size})</title><link>{escape(link)}</link>"
            f"<guid>{escape(link)}</guid><pubDate>{format_datetime(when)}</pubDate>"
            f"<description>{escape(r.text)}</description></item>"
        )
    path = root / f"{name}.xml"
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{name}</title><link>https://example.org/</link>{''.join(items)}</channel></rss>"
    )
    with (root / "feeds.toml").open("a") as f:
        f.write(f'\n[[feeds]]\nname = "{name}"\nurl = "{path}"\ntags = ["news"]\n')
    return name


def child_ingest(root: str, feed: str | None) -> dict[str, Any]:
    from ingest.pipeline import run_ingest

    settings = settings_for(Path(root))
    t0 = time.perf_counter()
    report = run_ingest(settings, only=[feed] if feed else ())
    return {
        "ingest_s": time.perf_counter() - t0,
        "embedded": report.embedded_articles,
        "chunks": report.embedded_chunks,
        "timings": {k: round(v, 2) for k, v in report.timings.items()},
        "ingest_peak_rss_mb": peak_rss_mb(),
    }


def disk_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


# ---------------------------------------------------------------------------- driver
def run_child(*args: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", *args]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"child {args} failed ({proc.returncode})")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def measure(root: Path, size: int, asks: int) -> dict[str, Any]:
    row = run_child("measure", str(root), str(asks))
    feed = write_new_feed(root, size or row["articles"])
    inc = run_child("ingest", str(root), feed)
    row.update(
        incremental_100_s=inc["ingest_s"],
        incremental_embedded=inc["embedded"],
        incremental_chunks=inc["chunks"],
        incremental_timings=inc["timings"],
        ingest_peak_rss_mb=inc["ingest_peak_rss_mb"],
        disk_mb=disk_mb(root / "data"),
    )
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


ROWS = [  # (key, label, target at 100,000)
    ("articles", "articles", ""),
    ("chunks", "chunks", ""),
    ("engine_load_s", "engine load (s)", ""),
    ("ask_p50_ms", "ask p50 warm (ms)", "<= 150"),
    ("ask_p95_ms", "ask p95 warm (ms)", ""),
    ("latest_ms", "latest (ms)", ""),
    ("latest_topic_ms", "latest on a topic (ms)", ""),
    ("stories_ms", "stories (ms)", ""),
    ("stories_topic_ms", "stories on a topic (ms)", ""),
    ("incremental_100_s", "incremental ingest of 100 (s)", "<= 10"),
    ("bot_peak_rss_mb", "bot peak memory (MB)", "<= 1536"),
    ("ingest_peak_rss_mb", "ingest peak memory (MB)", ""),
    ("disk_mb", "disk (MB)", ""),
]


def print_table(results: list[dict[str, Any]]) -> None:
    head = ["metric", *[f"{r['articles']:,}" for r in results], "growth", "target"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for key, label, target in ROWS:
        values = [r[key] for r in results]
        growth = f"{values[-1] / values[0]:.1f}x" if values[0] else "-"
        cells = [f"{v:,.0f}" if v >= 100 else f"{v:.2f}" for v in values]
        print(f"| {label} | " + " | ".join(cells) + f" | {growth} | {target} |")
    print("incremental ingest stages (s):", [r["incremental_timings"] for r in results])
    print("answered:", [r["answered"] for r in results])
    print("incremental chunks:", [r["incremental_chunks"] for r in results])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="2500,100000", help="corpus sizes, ascending")
    p.add_argument("--dir", default="/tmp/newsbot-scale", help="work directory (kept)")
    p.add_argument("--asks", type=int, default=40, help="questions timed per size")
    p.add_argument(
        "--measure",
        nargs="+",
        metavar="DIR",
        help="only measure the corpora already in these work directories (a data/ and a"
        " feeds.toml each; the incremental ingest adds 100 articles to each), smallest first",
    )
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "grow":
            out = child_grow(rest[0], int(rest[1]))
        elif kind == "measure":
            out = child_measure(rest[0], int(rest[1]))
        else:
            out = child_ingest(rest[0], rest[1] if len(rest) > 1 else None)
        print(json.dumps(out))
        return
    if args.measure:
        print_table([measure(Path(d), 0, args.asks) for d in args.measure])
        return
    root = Path(args.dir)
    root.mkdir(parents=True, exist_ok=True)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if not (root / "data" / "newsbot.sqlite3").exists():
        write_base_feeds(root)
        base = run_child("ingest", str(root))
        print(f"base corpus: {base}", file=sys.stderr, flush=True)
    results = []
    for size in sizes:
        grown = run_child("grow", str(root), str(size))
        print(f"grown to {size}: {grown}", file=sys.stderr, flush=True)
        results.append(measure(root, size, args.asks))
    print_table(results)


if __name__ == "__main__":
    main()
