"""Pick the articles an evaluation split is written from: at random, stratified across feeds.

    PYTHONPATH=. python eval/sample_heldout.py --split test --seed 8 --size 110 \
          # prints the sample
    PYTHONPATH=. python eval/sample_heldout.py --split test --seed 8 --size 110 \
        --out eval/sample_test.txt

Every feed of eval/feeds.toml is read and parsed with the project's own code
(`ingest.pipeline.check_feed`: the same fetch + parse as `newsbot ingest`), so the links are the
article URLs the store keeps (`ingest.parse.canonical_url` form).

Disjoint splits: an article belongs to the dev split when the last hex digit of
sha1(url) is even, to the test split when it is odd; a split samples only its own articles.

One article appears once, under the first feed (in feeds.toml order) that carries it; the sample
lists every feed that carries it. Strata are feeds, plus one extra stratum for the long AINews
(smol.ai) issues (full content, >= LONG_CHARS characters), so deep newsletter issues are always
in the sample (at least LONG_MIN of them). Each stratum with articles gets at least one pick;
the rest of `--size` is shared out in proportion to the stratum's size (largest remainders),
so big feeds get more. Inside a stratum the picks are
`random.Random(f"{seed}:{split}:{stratum}").sample` over its articles sorted by URL:
the same seed and feed files give the same sample on any machine.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ingest.config import Settings
from ingest.feeds import load_feeds
from ingest.parse import canonical_url
from ingest.pipeline import check_feed

EVAL_DIR = Path(__file__).resolve().parent
FEEDS_TOML = EVAL_DIR / "feeds.toml"
LONG_FEED = "AINews (smol.ai)"
LONG_CHARS = 5000
LONG_STRATUM = f"{LONG_FEED} [long issues]"
LONG_MIN = 6  # long issues are few (~10) but the split needs several for deep-digest questions
SPLITS = ("dev", "test")


@dataclass
class Item:
    url: str
    title: str
    date: str
    chars: int
    author: str
    feeds: list[str] = field(default_factory=list)


def split_of(url: str) -> str:
    """'dev' when sha1(url)'s last hex digit is even, else 'test'."""
    return "dev" if int(hashlib.sha1(url.encode()).hexdigest()[-1], 16) % 2 == 0 else "test"


def load_items(feeds_toml: Path = FEEDS_TOML) -> dict[str, Item]:
    """Every article of every feed, keyed by canonical URL, in feeds.toml order."""
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    items: dict[str, Item] = {}
    for feed in load_feeds(feeds_toml):
        parsed = check_feed(feed, settings)
        if parsed.error:
            sys.exit(f"sample: {feed.name}: {parsed.error}")
        for a in parsed.articles:
            url = canonical_url(a.url)
            if not url:
                continue
            item = items.get(url)
            if item is None:
                item = items[url] = Item(
                    url=url,
                    title=" ".join(a.title.split()),
                    date=a.published.date().isoformat() if a.published else "-",
                    chars=len(a.text),
                    author=a.author,
                )
            if feed.name not in item.feeds:
                item.feeds.append(feed.name)
    return items


def strata(items: dict[str, Item], split: str) -> dict[str, list[Item]]:
    """Stratum name -> that split's articles, sorted by URL (stratum order: feeds.toml)."""
    out: dict[str, list[Item]] = {}
    for item in items.values():
        if split_of(item.url) != split:
            continue
        name = item.feeds[0]
        if name == LONG_FEED and item.chars >= LONG_CHARS:
            name = LONG_STRATUM
        out.setdefault(name, []).append(item)
    return {name: sorted(group, key=lambda i: i.url) for name, group in out.items()}


def allocate(
    sizes: dict[str, int], total: int, minimum: dict[str, int] | None = None
) -> dict[str, int]:
    """At least one per stratum (or its `minimum`), the rest in proportion to size (largest
    remainders), never more than a stratum holds."""
    floor = minimum or {}
    alloc = {name: min(max(1, floor.get(name, 1)), n) for name, n in sizes.items()}
    left = max(0, total - sum(alloc.values()))
    pool = sum(sizes.values())
    if not pool or not left:
        return alloc
    shares = {name: left * n / pool for name, n in sizes.items()}
    for name, share in shares.items():
        alloc[name] = min(sizes[name], alloc[name] + math.floor(share))
    rest = total - sum(alloc.values())
    for name in sorted(shares, key=lambda k: (-(shares[k] % 1), k)):
        if rest <= 0:
            break
        if alloc[name] < sizes[name]:
            alloc[name] += 1
            rest -= 1
    return alloc


def sample(items: dict[str, Item], split: str, seed: int, size: int) -> list[tuple[str, Item]]:
    groups = strata(items, split)
    sizes = {name: len(g) for name, g in groups.items()}
    alloc = allocate(sizes, size, {LONG_STRATUM: LONG_MIN})
    picked: list[tuple[str, Item]] = []
    for name, group in groups.items():
        rng = random.Random(f"{seed}:{split}:{name}")
        for item in sorted(rng.sample(group, alloc[name]), key=lambda i: i.date, reverse=True):
            picked.append((name, item))
    return picked


def render(picked: list[tuple[str, Item]], split: str, seed: int, size: int) -> str:
    lines = [
        f"# eval/sample.py --split {split} --seed {seed} --size {size}: {len(picked)} articles",
        "# stratum\tdate\tchars\turl\ttitle\tauthor\tfeeds",
    ]
    for name, i in picked:
        row = [name, i.date, str(i.chars), i.url, i.title, i.author or "-", "; ".join(i.feeds)]
        lines.append("\t".join(row))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=SPLITS, required=True)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--size", type=int, default=100, help="articles to pick (default 100)")
    ap.add_argument("--feeds", type=Path, default=FEEDS_TOML)
    ap.add_argument("--out", type=Path, help="also write the sample to this file")
    args = ap.parse_args(argv)
    picked = sample(load_items(args.feeds), args.split, args.seed, args.size)
    text = render(picked, args.split, args.seed, args.size)
    sys.stdout.write(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
