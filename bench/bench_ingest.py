"""Ingest benchmark over the whole ../shared/data/feeds corpus.

For each embedding backend (torch fp32, onnx fp32, onnx int8): a first ingest into an empty data
dir (articles/s, chunks/s, peak RSS), then a second run with nothing changed (as a fraction of
the first). Baseline in the same run: a straightforward LangChain pipeline,
`Chroma.from_documents(chunks, HuggingFaceEmbeddings(...))`, over the SAME chunks.
Each measurement runs in its own process so peak memory is its own. Prints ratios; asserts nothing.

    python bench/bench_ingest.py [--backends torch,onnx,onnx-int8] [--limit-files N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FEEDS = REPO.parent / "shared" / "data" / "feeds"
sys.path.insert(0, str(REPO))


def feeds_toml(path: Path, limit: int) -> Path:
    files = sorted(p for p in FEEDS.rglob("*.xml"))[: limit or None]
    lines = []
    for p in files:
        name = f"{p.parent.name}-{p.stem}"
        lines += ["[[feeds]]", f'name = "{name}"', f'url = "{p}"', ""]
    path.write_text("\n".join(lines))
    return path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_ingest(data_dir: str, feeds: str, backend: str) -> dict[str, float]:
    from ingest.config import load_settings
    from ingest.pipeline import run_ingest

    settings = load_settings(data_dir=Path(data_dir), feeds=Path(feeds), embedding_backend=backend)
    t0 = time.perf_counter()
    first = run_ingest(settings)
    t1 = time.perf_counter()
    second = run_ingest(settings)
    t2 = time.perf_counter()
    # The model load is part of the first run: measure it alone to report embedding throughput.
    from ingest.embed import Embedder

    t3 = time.perf_counter()
    Embedder.from_settings(settings)
    load = time.perf_counter() - t3
    return {
        "articles": first.embedded_articles,
        "chunks": first.embedded_chunks,
        "first_s": t1 - t0,
        "second_s": t2 - t1,
        "second_embedded": second.embedded_articles,
        "model_load_s": load,
        "peak_rss_mb": peak_rss_mb(),
    }


def child_langchain(data_dir: str, db_path: str) -> dict[str, float]:
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings

    from ingest.embed import resolve_model_path

    db = sqlite3.connect(db_path)
    rows = db.execute("SELECT id, article_id, text FROM chunks").fetchall()
    docs = [Document(page_content=t, metadata={"article_id": a}, id=i) for i, a, t in rows]
    t0 = time.perf_counter()
    emb = HuggingFaceEmbeddings(
        model_name=resolve_model_path("all-MiniLM-L6-v2"),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True},
    )
    Chroma.from_documents(docs, emb, persist_directory=data_dir, ids=[d.id for d in docs])
    return {"chunks": len(docs), "first_s": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb()}


def run_child(*args: str) -> dict[str, float]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env
    )
    if out.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", default="torch,onnx,onnx-int8")
    ap.add_argument("--limit-files", type=int, default=0)
    ap.add_argument("--child", nargs="+")
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "export":
            from ingest.embed import Embedder

            Embedder(backend=rest[1], cache_dir=Path(rest[0]))
            result: dict[str, float] = {}
        else:
            result = child_ingest(*rest) if kind == "ingest" else child_langchain(*rest)
        print(json.dumps(result))
        return

    work = Path(tempfile.mkdtemp(prefix="newsbot-bench-"))
    feeds = feeds_toml(work / "feeds.toml", args.limit_files)
    models = work / "models"  # share ONNX exports between runs; export time is not ingest time
    results: dict[str, dict[str, float]] = {}
    first_db = None
    for backend in args.backends.split(","):
        data = work / f"data-{backend}"
        if backend != "torch":  # the one-time ONNX export is not ingest time
            run_child("export", str(models), backend)
            shutil.copytree(models, data / "models")
        results[backend] = run_child("ingest", str(data), str(feeds), backend)
        first_db = first_db or data / "newsbot.sqlite3"
    assert first_db is not None
    results["langchain"] = run_child("langchain", str(work / "lc"), str(first_db))

    base = results["langchain"]
    print(f"\ncorpus: {len(feeds.read_text().split('[[feeds]]')) - 1} feed files from {FEEDS}")
    print(
        f"{'pipeline':<22}{'articles':>9}{'chunks':>8}{'first s':>9}{'chunks/s':>10}"
        f"{'art/s':>8}{'2nd run':>9}{'peak MB':>9}{'vs LC':>8}"
    )
    for name, r in results.items():
        cps = r["chunks"] / r["first_s"]
        aps = r.get("articles", 0) / r["first_s"]
        second = f"{r['second_s'] / r['first_s']:.5f}" if "second_s" in r else "-"
        ratio = base["first_s"] / r["first_s"]
        label = name if name == "langchain" else f"newsbot {name}"
        print(
            f"{label:<22}{int(r.get('articles', 0)):>9}{int(r['chunks']):>8}{r['first_s']:>9.1f}"
            f"{cps:>10.1f}{aps:>8.1f}{second:>9}{r['peak_rss_mb']:>9.0f}{ratio:>7.2f}x"
        )
    print(
        "\n'2nd run' = time of a second ingest with nothing changed / time of the first;"
        "\n'vs LC' = LangChain baseline time / this pipeline's time (higher is faster)."
    )
    (work / "results.json").write_text(json.dumps(results, indent=2))
    print(f"raw results: {work / 'results.json'}")


if __name__ == "__main__":
    main()
