"""How well watches match stories: precision and recall of bot.stories.watch_match on the labelled
(topic, article) pairs of eval/watch_examples.jsonl, and the table of thresholds they were
chosen from.

    python bench/bench_watch_match.py [--root DIR]

It ingests the four feeds the examples come from (../shared/data/feeds) into a temporary corpus
(or DIR, reused when it already holds one) first (about a minute). Each example is scored on
the story its article belongs to, exactly as the bot scores a new story for a watch.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FEEDS_DIR = REPO.parent / "shared" / "data" / "feeds"
FEEDS = {
    "simonwillison": "publisher/simonwillison_atom_2026-08-12.xml",
    "anthropic-news": "generated/olshansk_feed_anthropic_news.xml",
    "anthropic-research": "generated/ati_anthropic-research.xml",
    "openai-research": "generated/olshansk_feed_openai_research.xml",
}
EXAMPLES = REPO / "eval" / "watch_examples.jsonl"
Row = tuple[dict, float, float, float, bool]


def build_corpus(root: Path) -> Path:
    from ingest.config import load_settings
    from ingest.pipeline import run_ingest

    lines = []
    for name, rel in FEEDS.items():
        tag = "blog" if name == "simonwillison" else "lab"
        lines += ["[[feeds]]", f'name = "{name}"', f'url = "{FEEDS_DIR / rel}"']
        lines += [f'tags = ["{tag}"]', ""]
    (root / "feeds.toml").write_text("\n".join(lines), encoding="utf-8")
    settings = load_settings(data_dir=root / "data", feeds=root / "feeds.toml")
    report = run_ingest(settings)
    print(f"corpus: {report.embedded_articles} articles, {report.embedded_chunks} chunks")
    return root / "data"


def score(data: Path) -> tuple[list[Row], list[bool]]:
    """(example, meaning, word share, words needed, names present) for every example, and
    what Engine.stories_about (bot.stories.topics, `newsbot stories --topic`) says of it."""
    from bot.config import AnswerSettings
    from bot.engine import Engine
    from bot.stories.watch_match import content_words, load_story_texts, match_story, words_needed

    engine = Engine(AnswerSettings.load(data_dir=data))
    corpus, stories, embedder = engine.corpus, engine.story_store, engine.embedder
    engine_says: list[bool] = []
    examples = [json.loads(line) for line in EXAMPLES.read_text().splitlines() if line.strip()]
    by_url = {r[0]: r[1] for r in corpus.db.query("SELECT url, id FROM articles")}
    capitalized = engine.retriever.directory().capitalized
    out = []
    for ex in examples:
        aid = by_url.get(ex["url"])
        sid = stories.stories_of([aid]).get(aid, [None])[0] if aid else None
        story = stories.story(sid) if sid is not None else None
        if story is None:
            print(f"missing from the corpus: {ex['url']}")
            continue
        texts, vectors = load_story_texts(corpus, [story])
        vec = embedder.embed_query(ex["topic"])
        m = match_story(ex["topic"], vec, texts[0], vectors, capitalized=capitalized)
        out.append((ex, m.meaning, m.words, words_needed(content_words(ex["topic"])), m.names))
        engine_says.append(bool(engine.stories_about([story], ex["topic"])))
    engine.close()
    return out, engine_says


def prf(
    rows: list[Row], threshold: float, strong: float, verdicts: list[bool] | None = None
) -> str:
    from bot.stories.watch_match import decide

    tp = fp = fn = 0
    for i, (ex, sim, share, needed, numbers) in enumerate(rows):
        got = decide(sim, share, needed, numbers, threshold, strong)
        if verdicts is not None:
            got = verdicts[i]
        tp += got and ex["match"]
        fp += got and not ex["match"]
        fn += (not got) and ex["match"]
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return f"precision {p:.2f} recall {r:.2f} (tp {tp}, fp {fp}, fn {fn})"


def main() -> None:
    from bot.stories.watch_match import STRONG, THRESHOLD, decide

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", type=Path, help="build (or reuse) the corpus here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.root or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        built = (root / "data" / "newsbot.sqlite3").exists()
        rows, engine_says = score(root / "data" if built else build_corpus(root))
    print(f"\n{'meaning':>7} {'words':>5}  label  got  topic → article")
    for ex, sim, share, needed, numbers in sorted(rows, key=lambda r: (r[0]["topic"], -r[1])):
        got = decide(sim, share, needed, numbers)
        mark = "" if got == ex["match"] else "  ✗"
        label = "match" if ex["match"] else "  -  "
        print(
            f"{sim:7.3f} {share:5.2f}  {label}  {'yes' if got else ' no'}  "
            f"{ex['topic']} → {ex['url'].split('/', 3)[-1]}{mark}"
        )
    print(f"\n{len(rows)} examples, {sum(r[0]['match'] for r in rows)} matches")
    print("meaning alone (no word witness):")
    for t in (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7):
        print(f"  >= {t:.2f}: {prf(rows, 2.0, t)}")
    print("meaning with the words, or strong meaning alone:")
    for strong in (0.6, 0.65, 0.7, 0.75):
        for t in (0.3, 0.35, 0.4, 0.45, 0.5):
            print(f"  threshold {t:.2f}, strong {strong:.2f}: {prf(rows, t, strong)}")
    print(f"\nchosen: threshold {THRESHOLD}, strong {STRONG}: {prf(rows, THRESHOLD, STRONG)}")
    print(f"for comparison, Engine.stories_about: {prf(rows, 0, 0, engine_says)}")


if __name__ == "__main__":
    main()
