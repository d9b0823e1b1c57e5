"""How story grouping scales: articles placed per second at 2,500 and at 50,000 articles.

    python bench/bench_story_grouping.py [--items 2500 50000] [--days 60] [--root DIR]

For each size it writes one synthetic feed of short items (a few hundred companies and products,
each event reported several times, dates spread over `--days` days, so a week's window holds
thousands of articles: the case that made grouping quadratic), ingests it with the real model
into a fresh corpus (embedding is not timed here) and prints the grouping's rate from the
ingest's own timing (`stories`), then the ratio of the two rates: about 1 when grouping cost
grows linearly with the articles.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

COMPANIES = [f"{a}{b}" for a in ("Quib", "Zor", "Vex", "Lum", "Nor", "Tal") for b in
             ("ble", "tex", "ion", "ara", "ova", "ith", "ant", "eon")]  # fmt: skip
PRODUCTS = ["Orca", "Falcon", "Pike", "Heron", "Lynx", "Otter", "Wren", "Ibis", "Marten"]
VERBS = ["releases", "ships", "announces", "open-sources", "previews", "updates"]
TOPICS = ["for coding", "for robotics", "with longer context", "for phones", "for science",
          "with tool use", "for speech", "for vision", "in 40 languages"]  # fmt: skip


def synthetic_feed(items: int, days: float, seed: int = 7) -> bytes:
    """An RSS feed of `items` short items: events (company, product, version, topic) each
    reported by 1-4 items within two days, the events spread evenly over `days` (the same span
    for every size: a larger feed is a denser one, as an archive of one busy month)."""
    rng = random.Random(seed)
    start = datetime(2025, 6, 1, tzinfo=UTC)
    out: list[str] = []
    n = 0
    while n < items:
        company, product = rng.choice(COMPANIES), rng.choice(PRODUCTS)
        version, topic = f"{rng.randint(1, 9)}.{rng.randint(0, 9)}", rng.choice(TOPICS)
        when = start + timedelta(days=days * n / items)
        for _ in range(min(rng.randint(1, 4), items - n)):
            at = when + timedelta(hours=rng.uniform(0, 48))
            title = f"{company} {rng.choice(VERBS)} {product}-{version} {topic}"
            text = (
                f"{company} said {product}-{version} is its newest model {topic}. "
                f"The release follows {rng.choice(PRODUCTS)} and comes with a report on "
                f"{rng.choice(TOPICS).split()[-1]} benchmarks."
            )
            out.append(
                f"<item><title>{escape(title)}</title><link>https://{company.lower()}.example/"
                f"{n}</link><description>{escape(text)}</description>"
                f"<pubDate>{at:%a, %d %b %Y %H:%M:%S} GMT</pubDate></item>"
            )
            n += 1
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>bench</title>'
        f"<link>https://bench.example/</link>{''.join(out)}</channel></rss>"
    ).encode()


def run_size(root: Path, items: int, days: float) -> tuple[float, float]:
    """(articles placed per second, grouping seconds) for one fresh corpus of `items`."""
    from ingest.config import load_settings
    from ingest.pipeline import run_ingest

    work = root / f"n{items}"
    work.mkdir(parents=True, exist_ok=True)
    feed = work / "feed.xml"
    feed.write_bytes(synthetic_feed(items, days))
    (work / "feeds.toml").write_text(f'[[feeds]]\nname = "bench"\nurl = "{feed}"\n')
    settings = load_settings(
        data_dir=work / "data", feeds=work / "feeds.toml", max_feed_bytes=100_000_000
    )
    t0 = time.perf_counter()
    report = run_ingest(settings)
    seconds = report.timings["stories"]
    print(
        f"{items:>7,} articles: ingest {time.perf_counter() - t0:6.1f} s, embedded "
        f"{report.embedded_articles:,}; grouping {seconds:6.1f} s = "
        f"{report.embedded_articles / seconds:7.1f} articles/s",
        flush=True,
    )
    return report.embedded_articles / seconds, seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=int, nargs="+", default=[2500, 50000])
    p.add_argument("--days", type=float, default=30.0)
    p.add_argument("--root", type=Path, help="work directory (default: a temporary one)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.root or Path(tmp)
        rates = [run_size(root, n, args.days) for n in args.items]
    if len(rates) > 1:
        print(f"rate at {args.items[-1]:,} / rate at {args.items[0]:,}: "
              f"{rates[-1][0] / rates[0][0]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
