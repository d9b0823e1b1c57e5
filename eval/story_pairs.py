"""Pairwise precision and recall of the story grouping on labelled article pairs.

`eval/story_pairs.jsonl`: one pair per line, `a` and `b` (article links), `same` (true when a
reader judged both to report the same event), `kind` (how the pair was sampled), `split` (`tune`:
the half the grouping's thresholds were tuned on; `test`: the other half) and a `note`. A pair is
predicted "same" when the two articles share a story (an issue of a newsletter may be in several).

    NEWSBOT_DATA_DIR=eval/data NEWSBOT_FEEDS=eval/feeds.toml newsbot ingest   # the full corpus
    NEWSBOT_DATA_DIR=eval/data python -m eval.story_pairs [--regroup] [--json]

`--regroup` forgets the corpus' stories and groups it again first (after a change of the
grouping); the feeds file gives the feeds' tags (primary ranks).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.config import load_settings
from ingest.parse import canonical_url
from ingest.store import Corpus
from ingest.store.stories import StoryStore
from ingest.store.story_writer import StoryWriter
from ingest.story_grouping import group_new_articles

PAIRS = Path(__file__).with_name("story_pairs.jsonl")


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    same: bool
    kind: str
    split: str
    note: str = ""


def load_pairs(path: Path = PAIRS) -> list[Pair]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        d = json.loads(line)
        try:
            out.append(
                Pair(d["a"], d["b"], bool(d["same"]), d["kind"], d["split"], d.get("note", ""))
            )
        except KeyError as e:
            raise ValueError(f"{path}:{n}: missing {e}") from None
    return out


def score(pairs: Sequence[Pair], predicted_same: Sequence[bool]) -> dict[str, Any]:
    tp = sum(p.same and s for p, s in zip(pairs, predicted_same, strict=True))
    fp = sum(not p.same and s for p, s in zip(pairs, predicted_same, strict=True))
    fn = sum(p.same and not s for p, s in zip(pairs, predicted_same, strict=True))
    return {
        "pairs": len(pairs),
        "positives": sum(p.same for p in pairs),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": round(tp / (tp + fp), 3) if tp + fp else None,
        "recall": round(tp / (tp + fn), 3) if tp + fn else None,
    }


def evaluate(settings: Any, pairs: Sequence[Pair]) -> dict[str, Any]:
    """Precision/recall per split (and over all pairs) on the corpus of `settings`."""
    store = StoryStore(settings)
    try:
        urls = {u for p in pairs for u in (p.a, p.b)}
        ids = store.article_ids_by_url([canonical_url(u) for u in urls])
        by_url = {u: ids.get(canonical_url(u)) for u in urls}
        missing = sorted(u for u, i in by_url.items() if i is None)
        stories = store.stories_of([i for i in by_url.values() if i])
    finally:
        store.close()
    kept = [p for p in pairs if by_url[p.a] and by_url[p.b]]
    predicted = [
        bool(set(stories.get(by_url[p.a] or "", [])) & set(stories.get(by_url[p.b] or "", [])))
        for p in kept
    ]
    report: dict[str, Any] = {"missing_articles": missing}
    for split in ("tune", "test", "all"):
        chosen = [(p, s) for p, s in zip(kept, predicted, strict=True) if split in ("all", p.split)]
        report[split] = score([p for p, _ in chosen], [s for _, s in chosen])
    report["errors"] = [
        {"a": p.a, "b": p.b, "same": p.same, "kind": p.kind, "split": p.split, "note": p.note}
        for p, s in zip(kept, predicted, strict=True)
        if p.same != s
    ]
    return report


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m eval.story_pairs", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--pairs", type=Path, default=PAIRS)
    ap.add_argument("--regroup", action="store_true", help="group the corpus again first")
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--errors",
        choices=["tune", "test", "all", "none"],
        default="tune",
        help="which split's wrong pairs to list (default: tune; keep test for reporting)",
    )
    args = ap.parse_args(argv)

    settings = load_settings()
    if args.regroup:
        regroup(settings)
    report = evaluate(settings, load_pairs(args.pairs))
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    for split in ("tune", "test", "all"):
        r = report[split]
        print(
            f"{split:>5}: {r['pairs']} pairs ({r['positives']} same story): "
            f"precision {r['precision']}, recall {r['recall']} "
            f"(tp {r['tp']}, fp {r['fp']}, fn {r['fn']})"
        )
    for e in report["errors"]:
        if args.errors not in ("all", e["split"]):
            continue
        kind = "missed" if e["same"] else "merged"
        print(f"  {kind} [{e['split']}, {e['kind']}] {e['note']}\n      {e['a']}\n      {e['b']}")
    if report["missing_articles"]:
        print(f"{len(report['missing_articles'])} labelled article(s) not in this corpus")
    return 0


def regroup(settings: Any) -> None:
    store = StoryWriter(settings)
    try:
        store.reset()
    finally:
        store.close()
    corpus = Corpus(settings)
    try:
        group_new_articles(corpus, settings)
    finally:
        corpus.close()


if __name__ == "__main__":
    sys.exit(main())
