"""Ingest benchmark over the whole ../shared/data/feeds corpus, in ONE run (ratios, not times).

Measured, each in its own process (so peak memory is its own), on the same machine in one go:

* the baseline a new user would write: LangChain's `Chroma.from_documents(chunks,
  HuggingFaceEmbeddings(all-MiniLM-L6-v2, fp32))` over the SAME chunks newsbot made (it gets
  fetching, parsing and chunking for free, so the ratio is conservative);
* newsbot's first ingest into an empty data dir, per backend (default: torch, onnx-int8), with
  its stage breakdown, then a second run with nothing changed (as a fraction of the first);
* the pure encode throughput of the same backend on the same chunks (one `embed_texts` call on
  every chunk, model already loaded), to compare the embedding stage against;
* for onnx-int8, sentence-transformers' own ONNX int8 `model.encode` on a sample of the same
  chunks, to show what the direct ONNX Runtime path gains.

The one-time ONNX export/quantization (once per machine, cached in the model cache) is timed
separately and reported, not hidden. The pipelines run in interleaved rounds (--rounds,
default 2) and each one's least disturbed round is reported: on a shared CPU a burst of other
load can slow one pipeline's whole run. CPU seconds are printed too (much less sensitive to
other load than wall time). Prints a table; asserts nothing.

    python bench/bench_ingest.py [--backends torch,onnx-int8] [--limit-files N] [--rounds N]
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
FEEDS = Path(os.environ.get("NEWSBOT_BENCH_FEEDS", REPO.parent / "shared" / "data" / "feeds"))
sys.path.insert(0, str(REPO))

ST_SAMPLE = 1000  # chunks for the sentence-transformers ONNX reference


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


def cpu_s() -> float:
    """CPU seconds of this process (all threads): less noisy than wall time on a shared CPU."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def chunk_texts(db_path: Path) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(db_path)
    rows = db.execute("SELECT id, article_id, text FROM chunks ORDER BY id").fetchall()
    db.close()
    return rows


def child_export(cache: str, backend: str) -> dict[str, float]:
    from ingest.embed import Embedder

    t0 = time.perf_counter()
    Embedder(backend=backend, cache_dir=Path(cache))
    return {"export_s": time.perf_counter() - t0}


def child_ingest(data_dir: str, feeds: str, backend: str, cache: str) -> dict[str, object]:
    from ingest.config import load_settings
    from ingest.pipeline import run_ingest

    settings = load_settings(
        data_dir=Path(data_dir),
        feeds=Path(feeds),
        embedding_backend=backend,
        model_cache=Path(cache),
    )
    c0, t0 = cpu_s(), time.perf_counter()
    first = run_ingest(settings)
    c1, t1 = cpu_s(), time.perf_counter()
    second = run_ingest(settings)
    t2 = time.perf_counter()
    rss_ingest = peak_rss_mb()
    # Pure encode: the same backend, model loaded, every chunk the ingest embedded, one call.
    from ingest.embed import Embedder

    emb = Embedder.from_settings(settings)
    texts = [t for _, _, t in chunk_texts(settings.db_path)]
    c3, t3 = cpu_s(), time.perf_counter()
    emb.embed_texts(texts)
    pure_s, pure_cpu = time.perf_counter() - t3, cpu_s() - c3
    out: dict[str, object] = {
        "articles": first.embedded_articles,
        "chunks": first.embedded_chunks,
        "first_s": t1 - t0,
        "first_cpu_s": c1 - c0,
        "second_s": t2 - t1,
        "second_embedded": second.embedded_articles,
        "timings": first.timings,
        "pure_encode_s": pure_s,
        "pure_encode_cpu_s": pure_cpu,
        "peak_rss_mb": rss_ingest,
    }
    if backend == "onnx-int8":  # sentence-transformers' own ONNX int8 encode, same sample
        from sentence_transformers import SentenceTransformer

        from ingest.embed import INT8_FILE, export_onnx, resolve_model_path

        sample = texts[:: max(1, len(texts) // ST_SAMPLE)][:ST_SAMPLE]
        path = export_onnx(resolve_model_path(settings.embedding_model), Path(cache), True)
        st = SentenceTransformer(
            str(path), device="cpu", backend="onnx", model_kwargs={"file_name": INT8_FILE}
        )
        t4 = time.perf_counter()
        st.encode(sample, batch_size=settings.embedding_batch_size, normalize_embeddings=True)
        out["st_onnx_sample_s"] = time.perf_counter() - t4
        t5 = time.perf_counter()
        emb.embed_texts(sample)
        out["direct_sample_s"] = time.perf_counter() - t5
        out["sample"] = len(sample)
    return out


def child_langchain(data_dir: str, db_path: str) -> dict[str, float]:
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings

    from ingest.embed import resolve_model_path

    rows = chunk_texts(Path(db_path))
    docs = [Document(page_content=t, metadata={"article_id": a}, id=i) for i, a, t in rows]
    c0, t0 = cpu_s(), time.perf_counter()
    emb = HuggingFaceEmbeddings(
        model_name=resolve_model_path("all-MiniLM-L6-v2"),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True},
    )
    Chroma.from_documents(docs, emb, persist_directory=data_dir, ids=[d.id for d in docs])
    return {
        "chunks": len(docs),
        "first_s": time.perf_counter() - t0,
        "first_cpu_s": cpu_s() - c0,
        "peak_rss_mb": peak_rss_mb(),
    }


def run_child(*args: str) -> dict[str, object]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env
    )
    if out.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# Wall seconds. chroma + sqlite run in a writer thread overlapped with encode; "split" is the
# chunking without the article tokenization ("tokenize"); "articles" is the SQLite storing of
# fetched articles; parse includes cleaning.
STAGES = ("fetch", "parse", "articles", "model_load", "tokenize", "split", "encode", "chroma")
STAGES += ("sqlite",)


def stage_times(t: dict[str, float]) -> dict[str, float]:
    return {
        **t,
        "articles": t.get("store_articles", 0.0),
        "split": t.get("chunk", 0.0) - t.get("tokenize", 0.0),
    }


def report(results: dict[str, dict[str, object]], exports: dict[str, float], n_files: int) -> None:
    base = results["langchain"]
    base_s = float(base["first_s"])  # type: ignore[arg-type]
    print(f"\ncorpus: {n_files} feed files from {FEEDS}")
    rounds = ", ".join(f"{name} {r['rounds_s']}" for name, r in results.items())
    print(f"first-ingest seconds per round (the best is used below): {rounds}")
    print(
        f"{'pipeline':<20}{'articles':>9}{'chunks':>8}{'first s':>9}{'vs LC':>7}"
        f"{'chunks/s':>9}{'pure/s':>8}{'stage/pure':>11}{'2nd run':>9}{'peak MB':>9}"
        f"{'CPU s':>8}{'CPU vs LC':>10}"
    )
    base_cpu = float(base["first_cpu_s"])  # type: ignore[arg-type]
    for name, r in results.items():
        first = float(r["first_s"])  # type: ignore[arg-type]
        chunks = int(r["chunks"])  # type: ignore[call-overload]
        label = name if name == "langchain" else f"newsbot {name}"
        timings: dict[str, float] = r.get("timings", {})  # type: ignore[assignment]
        if timings:
            stage_cps = chunks / timings["embed_stage"]
            pure_cps = chunks / float(r["pure_encode_s"])  # type: ignore[arg-type]
            cols = f"{stage_cps:>9.1f}{pure_cps:>8.1f}{stage_cps / pure_cps:>11.2f}"
            second = f"{float(r['second_s']) / first:>9.4f}"  # type: ignore[arg-type]
        else:
            cols = f"{chunks / first:>9.1f}{'-':>8}{'-':>11}"
            second = f"{'-':>9}"
        print(
            f"{label:<20}{int(r.get('articles', 0)):>9}{chunks:>8}{first:>9.1f}"  # type: ignore[call-overload]
            f"{base_s / first:>6.2f}x{cols}{second}{float(r['peak_rss_mb']):>9.0f}"  # type: ignore[arg-type]
            f"{float(r['first_cpu_s']):>8.1f}{base_cpu / float(r['first_cpu_s']):>9.2f}x"  # type: ignore[arg-type]
        )
    print("\nfirst-ingest breakdown (wall seconds; chroma + sqlite overlap encode in a thread):")
    print(f"{'pipeline':<20}" + "".join(f"{s:>11}" for s in STAGES) + f"{'embed stage':>12}")
    for name, r in results.items():
        t = stage_times(r.get("timings", {}))  # type: ignore[arg-type]
        if "embed_stage" in t:
            cells = "".join(f"{t.get(s, 0.0):>11.1f}" for s in STAGES)
            print(f"{'newsbot ' + name:<20}{cells}{t['embed_stage']:>12.1f}")
    for name, r in results.items():
        t = r.get("timings", {})  # type: ignore[assignment]
        if "embed_stage_cpu" in t and "pure_encode_cpu_s" in r:
            pure_cpu = float(r["pure_encode_cpu_s"])  # type: ignore[arg-type]
            print(
                f"newsbot {name}: CPU seconds, embedding stage {t['embed_stage_cpu']:.1f} "
                f"(chunk + encode + store), pure encode {pure_cpu:.1f}: "
                f"stage/pure throughput per CPU second {pure_cpu / t['embed_stage_cpu']:.2f}"
            )
    for backend, secs in exports.items():
        r = results[backend]
        with_export = float(r["first_s"]) + secs  # type: ignore[arg-type]
        print(
            f"\none-time ONNX export+quantization ({backend}, cached per machine): {secs:.1f} s; "
            f"first ingest including it: {with_export:.1f} s = {base_s / with_export:.2f}x LC"
        )
        if "st_onnx_sample_s" in r:
            st = float(r["st_onnx_sample_s"])  # type: ignore[arg-type]
            direct = float(r["direct_sample_s"])  # type: ignore[arg-type]
            print(
                f"{backend} on {r['sample']} of the same chunks: sentence-transformers' ONNX "
                f"encode {int(r['sample']) / st:.1f} chunks/s, newsbot's direct ONNX Runtime "  # type: ignore[call-overload]
                f"{int(r['sample']) / direct:.1f} chunks/s ({st / direct:.2f}x)"  # type: ignore[call-overload]
            )
    print(
        "\n'vs LC' = LangChain baseline time / this pipeline's first-ingest time (higher = faster);"
        "\n'chunks/s' = chunks / embedding-stage wall time (chunk + encode + store);"
        "\n'pure/s' = one embed_texts call on the same chunks, model loaded;"
        "\n'2nd run' = time of a second ingest with nothing changed / time of the first;"
        "\n'CPU s' = CPU seconds (all threads) of the first ingest: less sensitive to other load."
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", default="torch,onnx-int8")
    ap.add_argument("--limit-files", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds; best of each")
    ap.add_argument("--keep", type=Path, help="work directory to keep (corpora for compare)")
    ap.add_argument("--child", nargs="+")
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        fn = {"export": child_export, "ingest": child_ingest, "langchain": child_langchain}[kind]
        print(json.dumps(fn(*rest)))  # type: ignore[operator]
        return

    work = args.keep or Path(tempfile.mkdtemp(prefix="newsbot-bench-"))
    if work.exists():  # a kept directory from a previous run: start from nothing again
        for old in (*work.glob("data-*"), work / "lc", work / "model-cache"):
            shutil.rmtree(old, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    feeds = feeds_toml(work / "feeds.toml", args.limit_files)
    cache = work / "model-cache"  # a new user's empty cache: the export is measured once
    backends = args.backends.split(",")
    exports = {
        b: float(run_child("export", str(cache), b)["export_s"])  # type: ignore[arg-type]
        for b in backends
        if b != "torch"
    }
    runs: dict[str, list[dict[str, object]]] = {"langchain": [], **{b: [] for b in backends}}
    for n in range(args.rounds):  # interleaved, so a burst of other load hits one round
        for backend in backends:
            data = work / f"data-{backend}"
            shutil.rmtree(data, ignore_errors=True)
            print(f"round {n + 1}: ingesting with {backend} ...", file=sys.stderr, flush=True)
            runs[backend].append(run_child("ingest", str(data), str(feeds), backend, str(cache)))
        print(f"round {n + 1}: LangChain baseline ...", file=sys.stderr, flush=True)
        shutil.rmtree(work / "lc", ignore_errors=True)
        chunks_db = work / f"data-{backends[0]}" / "newsbot.sqlite3"
        runs["langchain"].append(run_child("langchain", str(work / "lc"), str(chunks_db)))
    results = {}
    for name, rs in runs.items():  # each pipeline's least disturbed round
        best = min(rs, key=lambda r: float(r["first_s"]))  # type: ignore[arg-type]
        results[name] = {**best, "rounds_s": [round(float(r["first_s"]), 1) for r in rs]}  # type: ignore[arg-type]
    report(results, exports, len(feeds.read_text().split("[[feeds]]")) - 1)
    (work / "results.json").write_text(
        json.dumps({"results": results, "exports": exports}, indent=2)
    )
    print(f"raw results: {work / 'results.json'}")


if __name__ == "__main__":
    main()
