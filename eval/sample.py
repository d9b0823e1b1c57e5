"""Pick the articles an evaluation split is written from, at random and reproducibly.

    python eval/sample.py --split dev --seed 8     # prints the sample, writes eval/sample_dev.txt
    python eval/sample.py --split test --seed 8    # the held-out split, from other articles

Every feed in eval/feeds.toml is parsed with newsbot's own parser (so links are exactly the
canonical article URLs the store keeps). The two splits never share an article: `dev` draws only
from articles whose sha1(url) ends in an even hex digit, `test` only from odd ones. The sample is
stratified: every feed with eligible articles gets at least one, the rest is shared in proportion
to feed size, and long AINews (smol.ai) issues (full content, tens of thousands of characters) get
their own quota. Hand-written seed feeds under eval/extra/ are not sampled. An article carried by
several feeds (the Simon Willison snapshots) is counted once, under the first feed that has it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ingest.feeds import load_feeds
from ingest.models import Article, Feed, FetchResult
from ingest.parse import parse_feed

EVAL_DIR = Path(__file__).resolve().parent
FEEDS_TOML = EVAL_DIR / "feeds.toml"
EXTRA_DIR = EVAL_DIR / "extra"
SMOL_FEED = "AINews (smol.ai)"
LONG_CHARS = 10_000  # an AINews issue longer than this is a "long digest"
EVEN = frozenset("02468ace")


@dataclass(frozen=True)
class Pick:
    feed: str
    url: str
    title: str
    date: str
    chars: int
    long_digest: bool


def split_of(url: str) -> str:
    """'dev' for links whose sha1 ends in an even hex digit, else 'test'."""
    return "dev" if hashlib.sha1(url.encode()).hexdigest()[-1] in EVEN else "test"


def parse_all(feeds: Iterable[Feed]) -> dict[str, list[Article]]:
    """Feed name -> its parsed articles (links in canonical form). Raises on a broken feed."""
    out: dict[str, list[Article]] = {}
    for feed in feeds:
        path = Path(feed.url)
        result = FetchResult(feed=feed.name, status="ok", body=path.read_bytes())
        parsed = parse_feed(feed, result)
        if parsed.error:
            raise SystemExit(f"{feed.name}: {parsed.error}")
        out[feed.name] = list(parsed.articles)
    return out


def _pick(a: Article) -> Pick:
    date = a.published.date().isoformat() if a.published else "-"
    long = a.feed == SMOL_FEED and len(a.text) >= LONG_CHARS
    return Pick(a.feed, a.url, " ".join(a.title.split()), date, len(a.text), long)


def _quotas(sizes: dict[str, int], n: int) -> dict[str, int]:
    """One per non-empty feed, the rest in proportion to size (largest remainders)."""
    live = {k: v for k, v in sizes.items() if v > 0}
    quota = {k: 1 for k in live}
    rest = max(n - len(live), 0)
    total = sum(live.values())
    if rest and total:
        shares = {k: rest * v / total for k, v in live.items()}
        for k, s in shares.items():
            quota[k] += int(s)
        left = n - sum(quota.values())
        for k in sorted(shares, key=lambda k: (-(shares[k] - int(shares[k])), k))[: max(left, 0)]:
            quota[k] += 1
    return {k: min(q, live[k]) for k, q in quota.items()}


def sample(
    by_feed: dict[str, list[Article]], split: str, seed: int, n: int, n_long: int
) -> list[Pick]:
    """The reproducible stratified sample of one split."""
    rng = random.Random(f"{split}:{seed}")
    seen: set[str] = set()
    pools: dict[str, list[Pick]] = {}
    for name, articles in by_feed.items():
        pool = []
        for a in articles:
            if not a.url or a.url in seen or split_of(a.url) != split:
                continue
            seen.add(a.url)
            pool.append(_pick(a))
        pools[name] = sorted(pool, key=lambda p: p.url)
    longs = [p for p in pools.get(SMOL_FEED, []) if p.long_digest]
    chosen_long = rng.sample(longs, min(n_long, len(longs)))
    if SMOL_FEED in pools:
        pools[SMOL_FEED] = [p for p in pools[SMOL_FEED] if not p.long_digest]
    quotas = _quotas({k: len(v) for k, v in pools.items()}, n - len(chosen_long))
    picks = list(chosen_long)
    for name in pools:
        if quotas.get(name):
            picks.extend(rng.sample(pools[name], quotas[name]))
    order = {name: i for i, name in enumerate(by_feed)}
    return sorted(picks, key=lambda p: (order[p.feed], p.date, p.url))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=("dev", "test"), required=True)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--n", type=int, default=70, help="articles in the sample (default 70)")
    ap.add_argument("--long", type=int, default=6, help="long AINews issues among them")
    ap.add_argument("--feeds", type=Path, default=FEEDS_TOML)
    ap.add_argument("--out", type=Path, help="sample file (default eval/sample_<split>.txt)")
    ap.add_argument("--dump", type=Path, help="also write every parsed article as JSONL here")
    args = ap.parse_args(argv)

    feeds = load_feeds(args.feeds)
    by_feed = parse_all(feeds)
    # Hand-written seed articles (eval/extra/) have questions of their own; sample real feeds.
    real = {f.name for f in feeds if EXTRA_DIR not in Path(f.url).resolve().parents}
    if args.dump:
        with args.dump.open("w", encoding="utf-8") as f:
            for articles in by_feed.values():
                for a in articles:
                    rec = {
                        "feed": a.feed,
                        "url": a.url,
                        "title": a.title,
                        "author": a.author,
                        "published": a.published.isoformat() if a.published else None,
                        "text": a.text,
                    }
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    picks = sample(
        {k: v for k, v in by_feed.items() if k in real}, args.split, args.seed, args.n, args.long
    )
    opts = f"--split {args.split} --seed {args.seed} --n {args.n} --long {args.long}"
    header = f"# eval/sample.py {opts}\n# feed\turl\ttitle\tdate\tchars\tlong_digest\n"
    lines = [
        f"{p.feed}\t{p.url}\t{p.title}\t{p.date}\t{p.chars}\t{'long' if p.long_digest else ''}"
        for p in picks
    ]
    text = header + "\n".join(lines) + "\n"
    out = args.out or EVAL_DIR / f"sample_{args.split}.txt"
    out.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    print(f"# {len(picks)} articles from {len({p.feed for p in picks})} feeds -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
