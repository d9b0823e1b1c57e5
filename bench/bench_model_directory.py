"""What the model directory adds to a first ingest of the shared corpus (target: <= 10%).

One first ingest (eval/feeds.toml: every real feed of ../shared/data/feeds) into an empty data
dir, with the stage timings the ingest job reports: `models` is the directory's share. Then the
directory alone is rebuilt from the stored articles (what `--reindex` does for it) a few times,
and a second ingest with nothing new shows what an incremental run costs. Prints; asserts nothing.

    nice -n 10 python bench/bench_model_directory.py [--data DIR] [--rounds 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ingest.config import Settings  # noqa: E402
from ingest.model_index import update_model_directory  # noqa: E402
from ingest.pipeline import run_ingest  # noqa: E402
from ingest.store.model_directory import ModelDirectory  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, help="data dir to build (default: a temp dir)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    data = args.data or Path(tempfile.mkdtemp(prefix="newsbot-models-bench-"))
    shutil.rmtree(data, ignore_errors=True)
    settings = Settings.load(data_dir=data, feeds=REPO / "eval" / "feeds.toml")
    first = run_ingest(settings)
    models = first.timings.get("models", 0.0)
    print(
        f"first ingest: {first.seconds:.1f} s wall, {first.embedded_articles} articles,"
        f" {first.embedded_chunks} chunks"
    )
    print(f"  model directory: {models:.2f} s = {100 * models / first.seconds:.1f}% of it")
    rebuilds = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        rep = update_model_directory(settings, rebuild=True)
        rebuilds.append(time.perf_counter() - t0)
    print(
        f"  rebuild alone (--reindex): best {min(rebuilds):.2f} s over {args.rounds},"
        f" {rep.articles} articles, {rep.reports} reports"
    )
    second = run_ingest(settings)
    print(
        f"second ingest (nothing new): {second.seconds:.2f} s,"
        f" model directory {second.timings.get('models', 0.0) * 1000:.0f} ms"
    )
    directory = ModelDirectory(settings)
    fams = directory.families()
    print(f"directory: {len(fams)} families, {sum(len(f.versions) for f in fams)} versions")
    directory.close()
    if args.data is None:
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
