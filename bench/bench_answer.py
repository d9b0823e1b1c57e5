"""Answer benchmark over the eval corpus (eval/feeds.toml) and the development set (eval/dev.jsonl).

Warm (model loaded, in one process each, run one after the other):
  * newsbot: `Engine.ask` (extractive: hybrid retrieval + relevance gate + sentence selection),
    with each question's own options (feed, since, now), as `newsbot eval` asks them;
  * baseline: a plain LangChain retriever over the SAME Chroma collection and persist directory,
    `Chroma(...).as_retriever(search_kwargs={"k": 8}).invoke(question)`, embeddings by
    `HuggingFaceEmbeddings` of the same model. It only retrieves: no keyword search, no filters,
    no answer.
Questions per second, p50/p95 latency and the ratio; retrieval hit@5 of each on the dev and the
held-out test split (newsbot: its ranking, read from the answer's trace; baseline: the top 5
distinct articles of a plain dense search). Then the time to first answer from a cold
start: a fresh process running `newsbot ask "..."`, and a fresh process doing the LangChain
retriever's first query. Prints figures; asserts nothing.

    python bench/bench_answer.py [--data-dir eval/data] [--backend onnx-int8] [--rounds 2]

Without --data-dir (or when it holds no corpus) the eval corpus is built in a temp dir first
(about 5,200 chunks: minutes). An existing eval corpus is reused as is (never written).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEV_SET = REPO / "eval" / "dev.jsonl"
SPLITS = {"dev": DEV_SET, "test": REPO / "eval" / "test.jsonl"}
HIT_K = 5
EVAL_FEEDS = REPO / "eval" / "feeds.toml"
K = 8


def percentile(values: list[float], p: float) -> float:
    from eval.evaluate import percentile as pct

    out = pct(values, p)
    return float("nan") if out is None else out


def child_env(data_dir: str, backend: str) -> dict[str, str]:
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "TOKENIZERS_PARALLELISM": "false",
        "NEWSBOT_DATA_DIR": data_dir,
        "NEWSBOT_FEEDS": str(EVAL_FEEDS),
        "NEWSBOT_EMBEDDING_BACKEND": backend,
        "NEWSBOT_LLM": "none",
    }


def timings(latencies: list[float]) -> dict[str, float]:
    total = sum(latencies)
    return {
        "questions": len(latencies),
        "total_s": total,
        "qps": len(latencies) / total if total else float("nan"),
        "p50_s": percentile(latencies, 50),
        "p95_s": percentile(latencies, 95),
        "mean_s": statistics.fmean(latencies) if latencies else float("nan"),
    }


# --------------------------------------------------------------------------- children


def child_engine(rounds: int) -> dict[str, Any]:
    from bot.config import load_answer_settings
    from bot.engine import Engine
    from bot.timeparse import parse_date_option
    from eval.evaluate import load_questions
    from ingest.models import utcnow

    questions = load_questions(DEV_SET)
    t0 = time.perf_counter()
    engine = Engine(load_answer_settings())
    load_s = time.perf_counter() - t0
    engine.ask("warm-up: what is new in AI?")  # first-call costs (Chroma open, caches)
    latencies: list[float] = []
    searches: list[float] = []
    answered = 0
    for _ in range(rounds):
        for q in questions:
            since = parse_date_option(q.since, q.now or utcnow()) if q.since else None
            t = time.perf_counter()
            a = engine.ask(q.question, feed=q.feed, since=since, now=q.now)
            latencies.append(time.perf_counter() - t)
            answered += a.answered
            # Retrieval alone, like for like with the LangChain retriever (same k, no filters).
            t = time.perf_counter()
            engine.retriever.search(q.question, k=K)
            searches.append(time.perf_counter() - t)
    hits = {name: _engine_hits(engine, path) for name, path in SPLITS.items() if path.exists()}
    engine.close()
    return {
        **timings(latencies),
        "load_s": load_s,
        "answered": answered,
        "search": timings(searches),
        "hit_at_5": hits,
    }


def _engine_hits(engine: Any, path: Path) -> float:
    """hit@5 of the answer path's ranking (from the trace) over a split's answerable questions."""
    from bot.timeparse import parse_date_option
    from eval.evaluate import first_rank, load_questions
    from ingest.models import utcnow

    flags = []
    for q in load_questions(path):
        if not q.answerable:
            continue
        since = parse_date_option(q.since, q.now or utcnow()) if q.since else None
        a = engine.ask(q.question, feed=q.feed, since=since, now=q.now)
        rank = first_rank(a.trace.ranked[:HIT_K], q.gold_urls)
        flags.append(rank is not None)
    return sum(flags) / len(flags)


def _langchain_hits(data_dir: str, path: Path) -> float:
    """hit@5 of plain dense retrieval: the top 5 distinct articles of a k=20 chunk search."""
    from eval.evaluate import first_rank, load_questions
    from ingest.config import load_settings
    from ingest.store import Corpus

    retriever = _langchain_retriever(data_dir, k=4 * HIT_K)
    corpus = Corpus(load_settings(data_dir=Path(data_dir)))
    flags = []
    try:
        for q in load_questions(path):
            if not q.answerable:
                continue
            # the collection's metadata is the article id (what newsbot stores); its link is
            # the corpus row's
            docs = retriever.invoke(q.question)
            ids = list(dict.fromkeys(d.metadata["article_id"] for d in docs))
            urls = {r.id: r.url for r in corpus.article_rows(ids[:HIT_K])}
            links = [urls[i] for i in ids[:HIT_K] if i in urls]
            flags.append(first_rank(links, q.gold_urls) is not None)
    finally:
        corpus.close()
    return sum(flags) / len(flags)


def _langchain_retriever(data_dir: str, k: int = K) -> Any:
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_huggingface import HuggingFaceEmbeddings

    from ingest.config import load_settings
    from ingest.embed import resolve_model_path

    settings = load_settings(data_dir=Path(data_dir))
    persist = _baseline_collection(settings)
    emb = HuggingFaceEmbeddings(
        model_name=resolve_model_path(settings.embedding_model),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True},
    )
    store = Chroma(
        collection_name=BASELINE_COLLECTION,
        persist_directory=str(persist),
        embedding_function=emb,
        client_settings=ChromaSettings(anonymized_telemetry=False, is_persistent=True),
    )
    return store.as_retriever(search_kwargs={"k": k})


BASELINE_COLLECTION = "langchain"


def _baseline_collection(settings: Any) -> Path:
    """The plain pipeline's own Chroma collection: the same chunks and vectors as newsbot's,
    stored the way LangChain's Chroma store reads them (the chunk text as the document; newsbot
    keeps texts in SQLite and only vectors and article ids in Chroma, where LangChain finds no
    documents and returns nothing). Built once per corpus state in a temp dir, never in the
    corpus's own data dir."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from ingest.store import Corpus

    corpus = Corpus(settings)
    try:
        stamp = f"{corpus.counts()['chunks']}-{corpus.active_collection_name()}"
        persist = Path(tempfile.gettempdir()) / f"newsbot-bench-langchain-{stamp}"
        if (persist / "done").exists():
            return persist  # built: the timed runs do not read the corpus again
        chunks = corpus.article_chunks(corpus.select_article_ids())
        vectors = corpus.chunk_vectors([cid for cid, _, _ in chunks])
    finally:
        corpus.close()
    shutil.rmtree(persist, ignore_errors=True)
    client = chromadb.PersistentClient(
        path=str(persist), settings=ChromaSettings(anonymized_telemetry=False)
    )
    col = client.create_collection(BASELINE_COLLECTION, metadata={"hnsw:space": "cosine"})
    rows = [(cid, aid, text) for cid, aid, text in chunks if cid in vectors]
    for start in range(0, len(rows), 4000):
        part = rows[start : start + 4000]
        col.add(
            ids=[cid for cid, _, _ in part],
            embeddings=[vectors[cid].tolist() for cid, _, _ in part],
            documents=[text for _, _, text in part],
            metadatas=[{"article_id": aid} for _, aid, _ in part],
        )
    (persist / "done").write_text("ok")
    return persist


def child_langchain(data_dir: str, rounds: int) -> dict[str, Any]:
    from eval.evaluate import load_questions

    questions = load_questions(DEV_SET)
    t0 = time.perf_counter()
    retriever = _langchain_retriever(data_dir)
    load_s = time.perf_counter() - t0
    retriever.invoke("warm-up: what is new in AI?")
    latencies: list[float] = []
    docs = 0
    for _ in range(rounds):
        for q in questions:
            t = time.perf_counter()
            docs += len(retriever.invoke(q.question))
            latencies.append(time.perf_counter() - t)
    hits = {n: _langchain_hits(data_dir, p) for n, p in SPLITS.items() if p.exists()}
    return {**timings(latencies), "load_s": load_s, "docs": docs, "hit_at_5": hits}


def child_langchain_build(data_dir: str) -> dict[str, Any]:
    """The baseline's collection, built before any timed run (reused when it is there)."""
    from ingest.config import load_settings

    return {"persist": str(_baseline_collection(load_settings(data_dir=Path(data_dir))))}


def child_langchain_cold(data_dir: str, question: str) -> dict[str, Any]:
    """Imports, model load and the first query, timed from inside (the parent times the rest)."""
    t0 = time.perf_counter()
    docs = _langchain_retriever(data_dir).invoke(question)
    return {"first_query_s": time.perf_counter() - t0, "docs": len(docs)}


def run_child(env: dict[str, str], *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    if out.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def cold_newsbot(env: dict[str, str], question: str) -> float:
    newsbot = Path(sys.executable).with_name("newsbot")
    cmd = [str(newsbot)] if newsbot.exists() else [sys.executable, "-m", "bot.cli"]
    t0 = time.perf_counter()
    out = subprocess.run([*cmd, "ask", question], capture_output=True, text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"newsbot ask failed:\n{out.stderr[-3000:]}")
    return wall


def cold_langchain(env: dict[str, str], data_dir: str, question: str) -> tuple[float, float]:
    t0 = time.perf_counter()
    inner = run_child(env, "langchain-cold", data_dir, question)
    return time.perf_counter() - t0, float(inner["first_query_s"])


# --------------------------------------------------------------------------- main


def ensure_corpus(data_dir: Path | None, backend: str) -> tuple[Path, Path | None]:
    """(data dir holding the eval corpus, temp dir to delete or None)."""
    if data_dir is not None and (data_dir / "newsbot.sqlite3").exists():
        return data_dir, None
    work = Path(tempfile.mkdtemp(prefix="newsbot-bench-answer-"))
    target = data_dir or work / "data"
    print(f"building the eval corpus in {target} (minutes) ...", flush=True)
    t0 = time.perf_counter()
    env = child_env(str(target), backend)
    newsbot = Path(sys.executable).with_name("newsbot")
    cmd = [str(newsbot)] if newsbot.exists() else [sys.executable, "-m", "bot.cli"]
    out = subprocess.run([*cmd, "ingest"], capture_output=True, text=True, env=env, cwd=REPO)
    if out.returncode not in (0, 1):
        raise SystemExit(f"ingest failed:\n{out.stderr[-3000:]}")
    print(f"built in {time.perf_counter() - t0:.0f}s", flush=True)
    return target, (work if data_dir is None else None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, help="an eval corpus to reuse (e.g. eval/data)")
    ap.add_argument(
        "--backend",
        default=os.environ.get("NEWSBOT_EMBEDDING_BACKEND", "onnx-int8"),  # the default backend
        help="embedding backend of newsbot's queries (torch, onnx, onnx-int8)",
    )
    ap.add_argument("--rounds", type=int, default=2, help="passes over the development set")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "engine":
            result = child_engine(int(rest[0]))
        elif kind == "langchain":
            result = child_langchain(rest[0], int(rest[1]))
        elif kind == "langchain-build":
            result = child_langchain_build(rest[0])
        else:
            result = child_langchain_cold(rest[0], rest[1])
        print(json.dumps(result))
        return

    data_dir, temp = ensure_corpus(args.data_dir, args.backend)
    try:
        data = str(data_dir.resolve())
        env = child_env(data, args.backend)
        first_q = next(iter(DEV_SET.read_text(encoding="utf-8").splitlines()))
        question = json.loads(first_q)["question"]

        engine = run_child(env, "engine", str(args.rounds))
        run_child(env, "langchain-build", data)  # its collection once, outside the timed runs
        chain = run_child(env, "langchain", data, str(args.rounds))
        cold_nb = cold_newsbot(env, question)
        cold_lc, cold_lc_inner = cold_langchain(env, data, question)
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)

    n = engine["questions"]
    print(f"\ncorpus: {data_dir}; {n} asks ({args.rounds} x {n // max(args.rounds, 1)} questions)")
    print(f"{'warm, model loaded':<48}{'q/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}")
    rows = [
        (f"newsbot Engine.ask ({args.backend}, extractive)", engine),
        (f"newsbot Retriever.search only (hybrid, k={K})", engine["search"]),
        (f"LangChain Chroma retriever (k={K})", chain),
    ]
    for label, r in rows:
        print(
            f"{label:<48}{r['qps']:>8.2f}{1000 * r['p50_s']:>9.0f}{1000 * r['p95_s']:>9.0f}"
            f"{1000 * r['mean_s']:>9.0f}"
        )
    search = engine["search"]
    print(
        f"ratio newsbot ask / LangChain retriever: {engine['qps'] / chain['qps']:.2f}x questions "
        f"per second, {engine['p50_s'] / chain['p50_s']:.2f}x p50 latency "
        f"(newsbot answered {engine['answered']} of {n})\n"
        f"ratio newsbot retrieval / LangChain retriever: {search['qps'] / chain['qps']:.2f}x "
        f"questions per second, {search['p50_s'] / chain['p50_s']:.2f}x p50 latency"
    )
    print(f"\nretrieval hit@{HIT_K} over the answerable questions of each split:")
    for name in engine["hit_at_5"]:
        nb, lc = engine["hit_at_5"][name], chain["hit_at_5"].get(name, float("nan"))
        print(f"  {name:<5} newsbot {nb:6.1%}   plain dense top-{HIT_K} (LangChain) {lc:6.1%}")
    print(f"\ncold start, time to first answer (fresh process): question {question!r}")
    print(f"  newsbot ask (wall)                    {cold_nb:6.2f} s")
    print(
        f"  LangChain first query (wall)          {cold_lc:6.2f} s "
        f"(imports + model + query inside the process: {cold_lc_inner:.2f} s)"
    )
    print(
        f"\nmodel/engine load in the warm runs: newsbot {engine['load_s']:.2f} s, "
        f"LangChain {chain['load_s']:.2f} s"
    )


if __name__ == "__main__":
    main()
