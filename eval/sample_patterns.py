"""Draw the articles the held-out pattern questions (eval/test_patterns.jsonl) are written from,
and check that file against the parsed feeds.

    PYTHONPATH=. python eval/sample_patterns.py --seed 20 --out eval/sample_patterns.txt
    PYTHONPATH=. python eval/sample_patterns.py --grep 'attendance|attendees'   # absence checks
    PYTHONPATH=. python eval/sample_patterns.py --show <url>                     # one article
    PYTHONPATH=. python eval/sample_patterns.py --check eval/test_patterns.jsonl

Every feed of eval/feeds.toml is parsed with newsbot's own code (`ingest.pipeline.check_feed`,
links in `ingest.parse.canonical_url` form), as in eval/sample_heldout.py. Only articles of the
test split are drawn (sha1(url) ends in an odd hex digit; so the dev-split Indonesian seed article
of ../shared/data/seed is never drawn). Each pattern draws from its own pool (below) with
`random.Random(f"{seed}:{pattern}")`: a feed with weight sqrt(its articles), then one of its
articles (sorted by URL), so AINews does not crowd out the labs. An article is drawn for one
pattern only; the same seed and feed files give the same draw on any machine.

Pools: crosslingual = every Indonesian article (feeds tagged "indonesia") plus English news
articles; names_versions = articles whose title names a version or a size ("3.5", "v2", "70B");
absent_detail / quiz / which_one = news articles (labs, newsletters, Hacker News) with enough
text; publication_name = publications (a feed's channel <title>, the name people know; feeds that
share one are one publication) drawn at random, each with one random article and its "latest"
item: the newest test-split item that stays the newest for a while, and the moment (`now`) to
ask for it. `--check` verifies a question file: ids, kinds, gold links among the parsed articles,
a test-split gold that is in the draw, gold not after `now`, the newest item at `now` among a
"latest" question's golds, and no six consecutive words shared with a gold article's title.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from ingest.config import Settings
from ingest.feeds import load_feeds
from ingest.parse import canonical_url
from ingest.pipeline import check_feed

EVAL_DIR = Path(__file__).resolve().parent
FEEDS_TOML = EVAL_DIR / "feeds.toml"
SAMPLE_TXT = EVAL_DIR / "sample_patterns.txt"
PATTERNS = {  # pattern -> how many articles to draw (more than the questions: some won't fit)
    "crosslingual": 14,
    "names_versions": 16,
    "absent_detail": 16,
    "publication_name": 12,
    "quiz": 16,
    "which_one": 16,
}
NEWS_FEEDS = (
    "OpenAI News",
    "OpenAI News (2026)",
    "OpenAI Research",
    "Google DeepMind Blog",
    "Google DeepMind News",
    "Google AI Blog",
    "Anthropic News",
    "Anthropic Research",
    "Microsoft AI Blog",
    "Meta Engineering: AI Research",
    "Hugging Face Blog",
    "AISI Blog",
    "AINews (smol.ai)",
    "The Batch",
    "Hacker News",
    "Simon Willison",
    "Simon Willison (08-16)",
    "Simon Willison (08-22)",
    "r/ClaudeAI",
)
VERSION_RE = re.compile(r"\b\d+(\.\d+)+\b|\bv\d+\b|\b\d+(\.\d+)?[BbMm]\b|\w-\d+(\.\d+)?\b")
MIN_CHARS = 100  # lab feeds carry ~120-character summaries; Hacker News items carry none


@dataclass
class Item:
    url: str
    title: str
    date: str
    published: datetime | None
    text: str
    feeds: list[str] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)


def is_test(url: str) -> bool:
    return int(hashlib.sha1(url.encode()).hexdigest()[-1], 16) % 2 == 1


def load_items(feeds_toml: Path = FEEDS_TOML) -> tuple[dict[str, Item], dict[str, str]]:
    """Every article keyed by canonical URL (first feed first), and feed name -> channel title."""
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    items: dict[str, Item] = {}
    titles: dict[str, str] = {}
    for feed in load_feeds(feeds_toml):
        parsed = check_feed(feed, settings)
        if parsed.error:
            sys.exit(f"sample_patterns: {feed.name}: {parsed.error}")
        titles[feed.name] = " ".join(parsed.title.split())
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
                    published=a.published,
                    text=a.text,
                )
            if feed.name not in item.feeds:
                item.feeds.append(feed.name)
            item.tags.update(feed.tags)
    return items, titles


def pools(items: dict[str, Item]) -> dict[str, list[Item]]:
    test = sorted((i for i in items.values() if is_test(i.url)), key=lambda i: i.url)
    news = [i for i in test if i.feeds[0] in NEWS_FEEDS and len(i.text) >= MIN_CHARS]
    return {
        "crosslingual": [i for i in test if "indonesia" in i.tags] + news,
        "names_versions": [i for i in test if VERSION_RE.search(i.title)],
        "absent_detail": news,
        "quiz": news,
        "which_one": news,
    }


def pick(rng: random.Random, group: list[Item], n: int, used: set[str]) -> list[Item]:
    """n articles: a feed drawn with weight sqrt(its articles left), then one of its articles,
    so the big AINews feed does not crowd out the labs' feeds."""
    by_feed: dict[str, list[Item]] = {}
    for item in group:
        if item.url not in used:
            by_feed.setdefault(item.feeds[0], []).append(item)
    out: list[Item] = []
    while len(out) < n and by_feed:
        names = sorted(by_feed)
        name = rng.choices(names, weights=[len(by_feed[k]) ** 0.5 for k in names])[0]
        out.append(by_feed[name].pop(rng.randrange(len(by_feed[name]))))
        if not by_feed[name]:
            del by_feed[name]
    return out


def group_of(titles: dict[str, str], feed: str) -> list[str]:
    """Every feed with the same channel <title> as `feed` (the publication as people name it)."""
    return [f for f, t in titles.items() if t == titles[feed]]


def visible_newest(items: dict[str, Item], feeds: list[str], now: datetime) -> Item | None:
    """The publication's newest item published at or before `now`."""
    dated = [i for i in items.values() if set(feeds) & set(i.feeds) and i.published]
    dated = [i for i in dated if i.published and i.published <= now]
    return max(dated, key=lambda i: (i.published, i.url), default=None)


def latest_now(items: dict[str, Item], feeds: list[str]) -> tuple[Item, datetime] | None:
    """The newest test-split item of a publication that is, for a while, its newest item, and
    the moment (a day after it, or half-way to the next item) a "latest" question is asked."""
    dated = sorted(
        (i for i in items.values() if set(feeds) & set(i.feeds) and i.published),
        key=lambda i: (i.published, i.url),
        reverse=True,
    )
    for newer, item in zip([None, *dated], dated, strict=False):
        assert item.published
        gap = (newer.published - item.published) if newer and newer.published else None
        if not is_test(item.url) or (gap is not None and gap.total_seconds() < 7200):
            continue
        step = timedelta(days=1) if gap is None else min(timedelta(days=1), gap / 2)
        return item, item.published + step
    return None


def draw(items: dict[str, Item], titles: dict[str, str], seed: int) -> list[tuple[str, Item]]:
    picked: list[tuple[str, Item]] = []
    used: set[str] = set()
    for pattern, group in pools(items).items():
        rng = random.Random(f"{seed}:{pattern}")
        if pattern == "crosslingual":  # every Indonesian test article, then English ones
            indo = [i for i in group if "indonesia" in i.tags]
            rest = [i for i in group if "indonesia" not in i.tags and i.url not in used]
            chosen = indo + pick(rng, rest, PATTERNS[pattern] - len(indo), used)
        else:
            chosen = pick(rng, group, PATTERNS[pattern], used)
        for item in chosen:
            used.add(item.url)
            picked.append((pattern, item))
    rng = random.Random(f"{seed}:publication_name")
    pubs = sorted({t for f, t in titles.items() if any(f in i.feeds for i in items.values())})
    for pub in rng.sample(pubs, PATTERNS["publication_name"]):
        feeds = [f for f, t in titles.items() if t == pub]
        found = latest_now(items, feeds)
        if found:
            picked.append((f"publication_name:latest@{found[1].isoformat()}:{pub}", found[0]))
        mine = [i for i in items.values() if set(feeds) & set(i.feeds) and is_test(i.url)]
        mine = sorted((i for i in mine if i.url not in used), key=lambda i: i.url)
        if mine:
            item = rng.choice(mine)
            used.add(item.url)
            picked.append((f"publication_name:{pub}", item))
    return picked


def render(picked: list[tuple[str, Item]], titles: dict[str, str], seed: int) -> str:
    lines = [
        f"# eval/sample_patterns.py --seed {seed}: {len(picked)} rows (test split: odd sha1)",
        "# pattern\tdate\tchars\turl\ttitle\tfeeds (channel title)",
    ]
    for pattern, i in picked:
        feeds = "; ".join(f"{f} ({titles.get(f, '')})" for f in i.feeds)
        lines.append("\t".join([pattern, i.date, str(len(i.text)), i.url, i.title, feeds]))
    return "\n".join(lines) + "\n"


def words(s: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", s.lower())


def shares_six(question: str, title: str) -> bool:
    q, t = " ".join(words(question)), words(title)
    return any(" ".join(t[k : k + 6]) in q for k in range(len(t) - 5))


def check(path: Path, items: dict[str, Item], titles: dict[str, str]) -> int:
    """Print every problem of the question file; return how many there were."""
    errors: list[str] = []
    counts: dict[str, int] = {}
    kinds = {"fact", "latest", "filtered", "unanswerable"}
    seen: set[str] = set()
    dev_golds = 0
    drawn = set()
    if SAMPLE_TXT.exists():  # the draw: every answerable question must rest on a drawn article
        lines = SAMPLE_TXT.read_text(encoding="utf-8").splitlines()
        drawn = {ln.split("\t")[3] for ln in lines if ln and not ln.startswith("#")}
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    for row in rows:
        qid = row.get("id", "?")
        if qid in seen:
            errors.append(f"{qid}: duplicate id")
        seen.add(qid)
        counts[row["pattern"]] = counts.get(row["pattern"], 0) + 1
        if row["kind"] not in kinds:
            errors.append(f"{qid}: kind {row['kind']!r}")
        gold = row["gold_urls"]
        if (row["kind"] == "unanswerable") != (not gold):
            errors.append(f"{qid}: unanswerable iff no gold")
        if not row.get("answer_terms") and row["kind"] == "fact":
            errors.append(f"{qid}: no answer_terms")
        now = datetime.fromisoformat(row["now"]) if row.get("now") else None
        for url in gold:
            item = items.get(url)
            if item is None:
                errors.append(f"{qid}: gold not in parsed feeds: {url}")
                continue
            if shares_six(row["question"], item.title):
                errors.append(f"{qid}: shares 6 words with title {item.title!r}")
            if now and item.published and item.published > now:
                errors.append(f"{qid}: gold published after now: {url}")
        if gold and not any(is_test(u) for u in gold):
            errors.append(f"{qid}: no gold article from the test split (odd sha1)")
        if gold and drawn and not set(gold) & drawn:
            errors.append(f"{qid}: no gold article is in the draw ({SAMPLE_TXT.name})")
        dev_golds += sum(1 for u in gold if u in items and not is_test(u))
        if row["kind"] == "latest" and gold and now and gold[0] in items:
            feeds = [g for f in items[gold[0]].feeds for g in group_of(titles, f)]
            top = visible_newest(items, feeds, now)
            if top is None or top.url not in gold:
                errors.append(f"{qid}: newest item at now is {top.url if top else None}")
    for e in errors:
        print(e)
    total = sum(counts.values())
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    golds = sum(len(r["gold_urls"]) for r in rows)
    print(
        f"{path.name}: {total} questions ({summary}); {golds} gold links, all checked against "
        f"{len(items)} parsed articles ({dev_golds} also answering golds from the dev half); "
        f"{len(errors)} problems"
    )
    return len(errors)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--feeds", type=Path, default=FEEDS_TOML)
    ap.add_argument("--out", type=Path, help="also write the draw to this file")
    ap.add_argument("--check", type=Path, help="check a question file instead of drawing")
    ap.add_argument("--grep", help="list articles whose title or text matches this regex")
    ap.add_argument("--show", help="print one article (by canonical URL)")
    args = ap.parse_args(argv)
    items, titles = load_items(args.feeds)
    if args.check:
        return 1 if check(args.check, items, titles) else 0
    if args.grep:
        rx = re.compile(args.grep, re.I)
        for i in items.values():
            for m in rx.finditer(i.title + "\n" + i.text):
                ctx = (i.title + "\n" + i.text)[max(0, m.start() - 80) : m.end() + 80]
                print(f"{i.url}\t{i.date}\t{' '.join(ctx.split())}")
        return 0
    if args.show:
        i = items[args.show]
        print(f"{i.title}\n{i.date} {i.feeds} test={is_test(i.url)}\n\n{i.text}")
        return 0
    text = render(draw(items, titles, args.seed), titles, args.seed)
    sys.stdout.write(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
