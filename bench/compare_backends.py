"""Retrieval quality of embedding backends: dense hit@k / MRR@k on an evaluation question file.

Each corpus is queried with the model and backend that built it (read from its meta), on dense
retrieval alone (one hit per article, best chunk first), so the only difference measured is the
embedding backend. The search is exact (every stored vector scored in numpy): Chroma's HNSW
index is approximate and built in a different order each time, which moved hit@5 by up to 3
points between two builds of the same torch corpus; `--index` uses it anyway, like the bot.
Questions without gold links are skipped.

    python bench/compare_backends.py QUESTIONS.jsonl DATA_DIR [DATA_DIR ...] [--k 5]
        [--model-cache DIR]

DATA_DIRs are newsbot data dirs over the same feeds, e.g. the corpora that
`python bench/bench_ingest.py --keep DIR` leaves in DIR/data-torch and DIR/data-onnx-int8.
The first is the reference; the others print their difference to it in points.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def load_questions(path: Path) -> list[tuple[str, set[str]]]:
    from ingest.parse import canonical_url

    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise SystemExit(f"{path}:{n}: not JSON ({e.msg})") from None
        gold = {canonical_url(u) for u in obj.get("gold_urls") or []}
        if obj.get("question") and gold:
            out.append((str(obj["question"]), gold))
    return out


def exact_search(corpus: object) -> object:
    """A dense_search-like function scoring every vector of the corpus's collection."""
    import numpy as np

    got = corpus.collection.get(include=["embeddings", "metadatas"])  # type: ignore[attr-defined]
    vecs = np.asarray(got["embeddings"], dtype=np.float32)
    articles = [m["article_id"] for m in got["metadatas"]]

    def search(q: object, n: int) -> list[tuple[str, str, None, float]]:
        scores = vecs @ np.asarray(q, dtype=np.float32)
        top = np.argsort(-scores, kind="stable")[:n]
        return [(got["ids"][i], articles[i], None, float(scores[i])) for i in top]

    return search


def evaluate(
    data_dir: Path,
    questions: list[tuple[str, set[str]]],
    k: int,
    cache: Path | None,
    index: bool = False,
) -> dict[str, object]:
    from ingest.config import load_settings
    from ingest.embed import INT8_SCHEME, Embedder, recorded_backend
    from ingest.parse import canonical_url
    from ingest.store import Corpus

    settings = load_settings(data_dir=data_dir)
    corpus = Corpus(settings)
    model = corpus.get_meta("embedding_model") or settings.embedding_model
    recorded = corpus.get_meta("embedding_backend") or "torch"
    backend = "onnx-int8" if recorded == INT8_SCHEME else recorded  # the scheme names its backend
    emb = Embedder(model, backend, settings.embedding_batch_size, cache or settings.model_cache)
    corpus.check_model(emb.name, recorded_backend(emb.backend), write=False)
    search = corpus.dense_search if index else exact_search(corpus)
    hits = 0
    rr = 0.0
    for question, gold in questions:
        ranked: list[str] = []
        for _, article_id, _, _ in search(emb.embed_query(question), 20 * k):  # type: ignore[operator]
            if article_id not in ranked:
                ranked.append(article_id)
            if len(ranked) == k:
                break
        urls = {r.id: canonical_url(r.url) for r in corpus.article_rows(ranked)}
        rank = next((i for i, a in enumerate(ranked, 1) if urls.get(a) in gold), None)
        hits += rank is not None
        rr += 1.0 / rank if rank else 0.0
    corpus.close()
    n = len(questions)
    return {"corpus": str(data_dir), "backend": backend, "hit": hits / n, "mrr": rr / n, "n": n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("questions", type=Path)
    ap.add_argument("data_dirs", type=Path, nargs="+")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument(
        "--model-cache",
        type=Path,
        help="ONNX export cache (bench_ingest --keep DIR: DIR/model-cache)",
    )
    ap.add_argument("--index", action="store_true", help="search with Chroma's HNSW index")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    questions = load_questions(args.questions)
    if not questions:
        raise SystemExit(f"{args.questions}: no questions with gold_urls")
    results = [evaluate(d, questions, args.k, args.model_cache, args.index) for d in args.data_dirs]
    ref = results[0]
    how = "Chroma's HNSW index" if args.index else "exact search"
    print(f"{len(questions)} questions with gold links from {args.questions}; dense only, {how}")
    print(
        f"{'backend':<12}{'hit@' + str(args.k):>8}{'MRR@' + str(args.k):>8}{'Δhit pts':>10}  corpus"
    )
    for r in results:
        delta = 100 * (float(r["hit"]) - float(ref["hit"]))  # type: ignore[arg-type]
        print(
            f"{r['backend']!s:<12}{100 * float(r['hit']):>8.1f}{100 * float(r['mrr']):>8.1f}"  # type: ignore[arg-type]
            f"{delta:>+10.1f}  {r['corpus']}"
        )


if __name__ == "__main__":
    main()
