"""Draw facts of the model directory at random, each with the sentence it was read from, to
check them by reading (the fact-precision figures in README.md, "The model directory").

    python eval/model_facts_sample.py DATA_DIR --seed 23 --n 40

DATA_DIR is a corpus built by `newsbot ingest` (e.g. by bench/bench_model_directory.py --data).
Sizes written with a model's name ("Qwen2.5-72B" → parameters 72B) are left out: they are the
name itself. A fact whose sentence cannot be found again is printed with its article's title.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from ingest.config import Settings
from ingest.modelfacts import facts as facts_in
from ingest.modelfacts import sentences
from ingest.modelnames import find_models
from ingest.store import Corpus
from ingest.store.model_directory import ModelCard, ModelDirectory, ModelFact


def _source(card: ModelCard, fact: ModelFact, title: str, text: str) -> str:
    key = (fact.field, fact.value)
    for sentence in sentences(text):
        named = {
            (m.family, m.key or m.size): m for m in find_models(sentence) if m.version or m.size
        }
        if len(named) == 1 and card.family in {f for f, _ in named}:
            [m] = named.values()
            if key in {(f.field, f.value) for f in facts_in(sentence, m)}:
                return sentence
    for sentence in list(sentences(text))[:2]:
        if key in {(f.field, f.value) for f in facts_in(sentence, None)}:
            return f"[the lead of: {title}] {sentence}"
    return f"?? {title}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--seed", type=int, default=23)
    ap.add_argument("--n", type=int, default=40)
    args = ap.parse_args(argv)
    settings = Settings.load(data_dir=args.data)
    directory, corpus = ModelDirectory(settings), Corpus(settings)
    try:
        pool = [
            (card, fact)
            for fam in directory.families()
            for card in fam.versions
            for fact in card.facts
            if fact.field != "parameters"
        ]
        rows = {r.url: r for r in corpus.latest_articles(limit=1_000_000)}
        for i, (card, fact) in enumerate(random.Random(args.seed).sample(pool, args.n)):
            row = rows.get(fact.url)
            source = _source(card, fact, row.title, row.text) if row else "?? (article gone)"
            print(f"{i}. {card.name} | {fact.field}={fact.value} | {source[:300]}")
    finally:
        directory.close()
        corpus.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
