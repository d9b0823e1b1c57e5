"""Discord benchmark: the real bot process against the local Discord-compatible server.

1. Latency: time from sending /ask (INTERACTION_CREATE) to the deferral callback and to the
   followup carrying the answer, p50/p95 over a list of questions asked one after another.
2. Load: /ask fired at increasing rates (per second) for a few seconds each; reports how many
   answers per second come back, the deferral latency (Discord allows 3 s) and heartbeat
   lateness measured from the heartbeat times the fake server recorded (interval 1 s). The
   highest rate with no late heartbeat and no missed deferral is the bot's capacity here.

Prints figures; asserts nothing.

    python bench/bench_discord.py [--data DIR --feeds FILE] [--questions FILE.jsonl]
                                  [--rates 1,2,4,8,16] [--seconds 8] [--llm none]
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


class RateRun:
    """/ask fired at `rate` per second for `seconds`, each in its own thread."""

    def __init__(self, server: FakeDiscord, questions: list[str]) -> None:
        self.server, self.questions = server, questions
        self.results: list[tuple[float, float, bool]] = []
        self.errors: list[BaseException] = []
        self.lock = threading.Lock()

    def one(self, question: str) -> None:
        try:
            r = ask_once(self.server, question, timeout=120)
        except BaseException as e:  # a missed deferral shows up as a timeout
            with self.lock:
                self.errors.append(e)
            return
        with self.lock:
            self.results.append(r)

    def run(self, rate: float, seconds: float) -> float:
        start = time.monotonic()
        threads = []
        for i in range(int(rate * seconds)):
            time.sleep(max(0.0, start + i / rate - time.monotonic()))
            q = self.questions[i % len(self.questions)]
            t = threading.Thread(target=self.one, args=(q,), daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join(180)
        return time.monotonic() - start


def load(server: FakeDiscord, questions: list[str], rates: list[float], seconds: float) -> None:
    interval = HEARTBEAT_MS / 1000
    print(f"\nload: /ask at a fixed rate for {seconds:g} s; heartbeat interval {interval:g} s")
    print("  rate/s  sent  answered  answers/s  defer p95  missed  answer p95  hb max gap  late")
    capacity = 0.0
    for rate in rates:
        beats_before = len(heartbeat_times(server))
        job = RateRun(server, questions)
        elapsed = job.run(rate, seconds)
        beats = heartbeat_times(server)[max(0, beats_before - 1) :]
        gaps = [b - a for a, b in zip(beats, beats[1:], strict=False)]
        max_gap = max(gaps) if gaps else float("nan")
        late = sum(1 for g in gaps if g > interval * LATE)
        missed = len(job.errors) + sum(1 for r in job.results if not r[2])
        answered = sum(1 for r in job.results if r[2])
        defer95 = pct([r[0] for r in job.results], 0.95)
        answer95 = pct([r[1] for r in job.results], 0.95)
        print(
            f"  {rate:6g}  {int(rate * seconds):4d}  {answered:8d}  {answered / elapsed:9.2f}  "
            f"{defer95 * 1000:7.0f} ms  {missed:6d}  {answer95:8.2f} s  {max_gap:8.2f} s  {late:4d}"
        )
        if late or missed:
            break
        capacity = rate
    print(f"  → sustained with no late heartbeat and no missed deferral: {capacity:g} /ask/s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, help="an existing data dir (default: build a small one)")
    p.add_argument("--feeds", type=Path, help="its feeds file")
    p.add_argument("--questions", type=Path, help="JSONL with a 'question' field per line")
    p.add_argument("--rates", default="1,2,4,8,16")
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--llm", default="none", help="NEWSBOT_LLM for the bot (default: extractive)")
    args = p.parse_args()

    questions = QUESTIONS
    if args.questions:
        rows = [json.loads(x) for x in args.questions.read_text().splitlines() if x.strip()]
        questions = [r["question"] for r in rows][:20]
    work = Path(tempfile.mkdtemp(prefix="bench-discord-"))
    try:
        if args.data:
            shutil.copytree(args.data, work / "data")
            data, feeds = work / "data", args.feeds or work / "feeds.toml"
        else:
            data, feeds = build_corpus(work)
        with FakeDiscord(heartbeat_interval_ms=HEARTBEAT_MS) as server:
            proc = start_bot(server, data, feeds, args.llm, work / "bot.log")
            try:
                latency(server, questions)
                rates = [float(r) for r in args.rates.split(",")]
                load(server, questions, rates, args.seconds)
            finally:
                proc.terminate()
                proc.wait(30)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
