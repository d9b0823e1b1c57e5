"""Discord benchmark: the real bot process against the local Discord-compatible server.

1. Latency: time from sending /ask (INTERACTION_CREATE) to the deferral callback and to the
   followup carrying the answer, p50/p95 over a list of questions asked one after another.
2. Load: bursts of N concurrent /ask (N = 1, 4, 16, 32): answers per second until the burst
   is answered, the deferral latency (Discord allows 3 s) and heartbeat lateness measured from
   the heartbeat times the fake server recorded (interval 1 s, late = a gap over 1.5 s). The
   largest burst with no late heartbeat and no missed deferral is reported.

Prints figures; asserts nothing.

    python bench/bench_discord.py [--corpus DIR] [--questions FILE.jsonl] [--bursts 1,4,16,32]
                                  [--llm none]

--corpus DIR holds data/ and feeds.toml; it is built there (small, real) when missing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FEEDS_DIR = REPO.parent / "shared" / "data" / "feeds"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from fakediscord import FakeDiscord  # noqa: E402

HEARTBEAT_MS = 1000
LATE = 1.5  # a heartbeat gap over 1.5 intervals is late
SMALL = {
    "deepmind": "publisher/google_deepmind_blog.xml",
    "openai-blog": "trimmed/openai_blog.xml",
    "huggingface": "trimmed/huggingface_blog.xml",
    "arxiv-cs-ai": "trimmed/arxiv_cs_ai.xml",
    "microsoft-ai": "publisher/microsoft_ai_blog.xml",
}
QUESTIONS = [
    "What did Google DeepMind announce about Gemini?",
    "What is Genie 3?",
    "What did OpenAI say about its partnership with Microsoft?",
    "What are OpenAI's principles?",
    "What did Hugging Face publish recently?",
    "Which new arXiv papers are about AI agents?",
    "What did Microsoft announce about Copilot?",
    "What is AlphaFold used for?",
    "How is DeepMind using AI for weather forecasting?",
    "What did Google DeepMind say about AI safety?",
    "Which Gemini models were released in 2025?",
    "What is Gemini Robotics?",
    "What did DeepMind publish about mathematics?",
    "What is new in Gemini 2.5 Pro?",
    "What did Microsoft say about responsible AI?",
    "Has DeepMind released anything about fusion energy?",
    "What is Veo?",
    "What did DeepMind announce about AlphaEvolve?",
    "What is Imagen?",
    "What did DeepMind say about protein design?",
]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def build_corpus(root: Path) -> tuple[Path, Path]:
    from ingest.config import load_settings
    from ingest.pipeline import run_ingest

    feeds = root / "feeds.toml"
    lines = []
    for name, rel in SMALL.items():
        lines += ["[[feeds]]", f'name = "{name}"', f'url = "{FEEDS_DIR / rel}"', ""]
    feeds.write_text("\n".join(lines))
    settings = load_settings(data_dir=root / "data", feeds=feeds)
    started = time.monotonic()
    report = run_ingest(settings)
    print(
        f"corpus: {report.embedded_articles} articles, {report.embedded_chunks} chunks "
        f"built in {time.monotonic() - started:.1f} s"
    )
    return root / "data", feeds


def start_bot(server: FakeDiscord, data: Path, feeds: Path, llm: str, log: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "DISCORD_"))}
    env.update(server.bot_env())
    env.update(
        PYTHONPATH=str(REPO),
        NEWSBOT_DATA_DIR=str(data),
        NEWSBOT_FEEDS=str(feeds),
        NEWSBOT_SYNC_COMMANDS="true",
        NEWSBOT_TEST_GUILD_ID=server.guild_id,
        NEWSBOT_COOLDOWN_SECONDS="0",
        NEWSBOT_INGEST_INTERVAL_MINUTES="0",
        NEWSBOT_LLM=llm,
    )
    started = time.monotonic()
    out = open(log, "wb")  # noqa: SIM115 (kept open for the process's lifetime)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "bot"], env=env, stdout=out, stderr=subprocess.STDOUT
    )
    server.wait_ready(timeout=180)
    print(f"bot: gateway READY {time.monotonic() - started:.1f} s after the process started")
    time.sleep(2.5)  # on_ready
    return proc


def ask_once(server: FakeDiscord, question: str, timeout: float = 60) -> tuple[float, float, bool]:
    """(seconds to the deferral, seconds to the answer, deferral accepted)."""
    sent = time.monotonic()
    iid = server.invoke_slash("ask", {"question": question}, user="user")
    callback = server.wait_for_callback(iid, timeout=timeout)
    followup = server.wait_for_followup(iid, timeout=timeout)
    return callback["at"] - sent, followup["at"] - sent, callback["status"] == 200


def latency(server: FakeDiscord, questions: list[str]) -> None:
    for q in questions[:2]:  # warm-up (first LLM/tokenizer use)
        ask_once(server, q)
    defer, answer = [], []
    for q in questions:
        d, a, _ = ask_once(server, q)
        defer.append(d * 1000)
        answer.append(a * 1000)
    print(f"\n/ask latency over {len(questions)} questions, one at a time")
    for name, xs in (("deferral", defer), ("answer", answer)):
        print(f"  {name:9s} p50 {pct(xs, 0.5):6.0f} ms   p95 {pct(xs, 0.95):6.0f} ms")


def heartbeat_times(server: FakeDiscord) -> list[float]:
    with server.lock:
        beats = list(server.heartbeats)
    return [b[0] if isinstance(b, tuple) else b for b in beats]


class Burst:
    """N /ask sent at once, each from its own thread."""

    def __init__(self, server: FakeDiscord, questions: list[str]) -> None:
        self.server, self.questions = server, questions
        self.results: list[tuple[float, float, bool]] = []
        self.errors: list[BaseException] = []
        self.lock = threading.Lock()

    def one(self, question: str) -> None:
        try:
            r = ask_once(self.server, question, timeout=300)
        except BaseException as e:  # a missed deferral shows up as a timeout
            with self.lock:
                self.errors.append(e)
            return
        with self.lock:
            self.results.append(r)

    def run(self, n: int, offset: int) -> float:
        start = time.monotonic()
        threads = []
        for i in range(n):
            q = self.questions[(offset + i) % len(self.questions)]
            t = threading.Thread(target=self.one, args=(q,), daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join(600)
        return time.monotonic() - start


def load(server: FakeDiscord, questions: list[str], bursts: list[int]) -> None:
    interval = HEARTBEAT_MS / 1000
    print(f"\nload: bursts of concurrent /ask; heartbeat interval {interval:g} s (late > {LATE}x)")
    print("  burst  answered  seconds  answers/s  defer p95  missed  answer p95  hb max gap  late")
    capacity, offset = 0, 0
    for n in bursts:
        beats_before = len(heartbeat_times(server))
        job = Burst(server, questions)
        elapsed = job.run(n, offset)
        offset += n
        beats = heartbeat_times(server)[max(0, beats_before - 1) :]
        gaps = [b - a for a, b in zip(beats, beats[1:], strict=False)]
        max_gap = max(gaps) if gaps else float("nan")
        late = sum(1 for g in gaps if g > interval * LATE)
        missed = len(job.errors) + sum(1 for r in job.results if not r[2])
        answered = sum(1 for r in job.results if r[2])
        defer95 = pct([r[0] for r in job.results], 0.95)
        answer95 = pct([r[1] for r in job.results], 0.95)
        print(
            f"  {n:5d}  {answered:8d}  {elapsed:7.1f}  {answered / elapsed:9.2f}  "
            f"{defer95 * 1000:7.0f} ms  {missed:6d}  {answer95:8.2f} s  {max_gap:8.2f} s  {late:4d}"
        )
        if late or missed:
            break
        capacity = n
    print(f"  → largest burst with no late heartbeat and no missed deferral: {capacity}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, help="data/ + feeds.toml (built when missing)")
    p.add_argument("--questions", type=Path, help="JSONL with a 'question' field per line")
    p.add_argument("--bursts", default="1,4,16,32")
    p.add_argument("--llm", default="none", help="NEWSBOT_LLM for the bot (default: extractive)")
    args = p.parse_args()

    questions = QUESTIONS
    if args.questions:
        rows = [json.loads(x) for x in args.questions.read_text().splitlines() if x.strip()]
        questions = [r["question"] for r in rows][:20]
    work = Path(tempfile.mkdtemp(prefix="bench-discord-"))
    try:
        corpus = args.corpus or work / "corpus"
        if not (corpus / "data" / "newsbot.sqlite3").exists():
            corpus.mkdir(parents=True, exist_ok=True)
            build_corpus(corpus)
        shutil.copytree(corpus / "data", work / "data")  # the bot may write to it
        with FakeDiscord(heartbeat_interval_ms=HEARTBEAT_MS) as server:
            proc = start_bot(server, work / "data", corpus / "feeds.toml", args.llm, work / "log")
            try:
                latency(server, questions)
                load(server, questions, [int(b) for b in args.bursts.split(",")])
            finally:
                proc.terminate()
                proc.wait(30)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
