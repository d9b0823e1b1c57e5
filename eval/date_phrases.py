"""Precision and recall of the time-phrase reader (bot.timeparse + bot.datephrases) on sentences
drawn at random from the shared corpus, labelled by hand in eval/date_phrases.jsonl.

    python eval/date_phrases.py sample --seed 21 --n 50 --out /tmp/d.jsonl   # the same draw
    python eval/date_phrases.py score      # P/R: the reader now, and the month/relative rules alone
    python eval/date_phrases.py errors

Half of the sentences are drawn from sentences holding a time word by a broad pattern (a month or
weekday name, a year, "ago", "yesterday", "last week", "minggu lalu", ... - chosen by a plain
pattern, not by the reader), half from any sentence, so recall is measured on enough time
phrases and precision on ordinary text. Each is read as if asked on its article's publication
day at noon UTC. Gold: the window of the sentence's most specific time phrase (a day, a range of
days, a weekday, a month, a year, a relative span), as `since`/`until` days (until exclusive,
null when open), or `none` when it names no time. A reading is right when both days match.
The reporting lag added for searches is not part of the window. Labelled after the reader was
written (no half was tuned on).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

from bot import timeparse
from bot.answer.text import split_sentences
from eval.sample import FEEDS_TOML, parse_all
from ingest.feeds import load_feeds

LABELS = Path(__file__).resolve().parent / "date_phrases.jsonl"
_TIME_WORD = re.compile(
    r"\b(?:jan(?:uary|uari)?|feb(?:ruary|ruari)?|mar(?:ch)?|maret|apr(?:il)?|may|mei|june?|juni|"
    r"july?|juli|aug(?:ust)?|agustus|sep(?:t|tember)?|oct(?:ober)?|oktober|nov(?:ember)?|"
    r"dec(?:ember)?|desember|monday|tuesday|wednesday|thursday|friday|saturday|sunday|senin|"
    r"selasa|rabu|kamis|jumat|sabtu|(?:19|20)\d\d|ago|yesterday|today|tomorrow|kemarin|"
    r"(?:last|this|next|past)\s+(?:week|month|year)|(?:minggu|bulan|tahun)\s+(?:lalu|ini))\b",
    re.IGNORECASE,
)


def sample(seed: int, n: int) -> list[dict[str, object]]:
    articles = [a for arts in parse_all(load_feeds(FEEDS_TOML)).values() for a in arts]
    articles = sorted({a.url: a for a in articles if a.published}.values(), key=lambda a: a.url)
    rng = random.Random(seed)
    picks: list[dict[str, object]] = []
    seen: set[str] = set()
    while len(picks) < n:
        a = rng.choice(articles)
        sentences = [s for s in split_sentences(a.text) if 30 <= len(s) <= 400]
        if len(picks) % 2 == 0:
            sentences = [s for s in sentences if _TIME_WORD.search(s)]
        if not sentences:
            continue
        s = rng.choice(sentences)
        if s in seen:
            continue
        seen.add(s)
        assert a.published is not None
        picks.append(
            {"url": a.url, "published": a.published.date().isoformat(), "text": s, "gold": None}
        )
    return picks


def read(text: str, published: str, rules_only: bool = False) -> dict[str, str | None] | None:
    now = datetime.fromisoformat(published).replace(hour=12, tzinfo=UTC)
    if rules_only:
        with mock.patch.object(timeparse, "named_days", lambda *_: None):
            w = timeparse.parse_time_window(text, now)
    else:
        w = timeparse.parse_time_window(text, now)
    if not w.bounded:
        return None
    day = lambda d: d.date().isoformat() if d else None  # noqa: E731
    return {"since": day(w.since), "until": day(w.until)}


def score(rows: list[dict[str, Any]], rules_only: bool = False) -> dict[str, float | int]:
    tp = fp = fn = 0
    for r in rows:
        got, gold = read(r["text"], r["published"], rules_only), r["gold"]
        if got is not None and got == gold:
            tp += 1
        else:
            fp += got is not None
            fn += gold is not None
    return {
        "precision": round(tp / (tp + fp), 3) if tp + fp else 1.0,
        "recall": round(tp / (tp + fn), 3) if tp + fn else 1.0,
        "tp": tp, "fp": fp, "fn": fn,
        "with a time phrase": sum(r["gold"] is not None for r in rows),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cmd", choices=("sample", "score", "errors"))
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--out", type=Path, help="sample file (default: the labelled file)")
    args = ap.parse_args(argv)
    if args.cmd == "sample":
        out = args.out or LABELS
        if out.exists() and args.out is None:
            print(f"{out} exists (its labels would be lost): --out elsewhere")
            return 2
        with out.open("w", encoding="utf-8") as f:
            for p in sample(args.seed, args.n):
                f.write(json.dumps(p, ensure_ascii=False) + "\n")
        print(f"{args.n} sentences -> {out}", file=sys.stderr)
        return 0
    rows = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]
    if args.cmd == "errors":
        for r in rows:
            got = read(r["text"], r["published"])
            if got != r["gold"]:
                print(f"gold {r['gold']} read {got}: {r['text'][:160]}")
        return 0
    print("the reader (named days, then the rules)", json.dumps(score(rows)))
    print("the rules alone (before named days)   ", json.dumps(score(rows, rules_only=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
