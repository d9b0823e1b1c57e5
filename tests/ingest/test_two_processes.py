"""Two processes, one corpus: refused on an embedded store (one line naming the two supported
set-ups), supported through a Chroma server (`chroma run`) shared by both."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, make_settings, write_feeds_toml

from ingest.config import Settings
from ingest.embed import Embedder
from ingest.store import Corpus

NEWSBOT = [sys.executable, "-m", "bot.cli"]


def _cli(settings: Settings, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env.update(
        NEWSBOT_DATA_DIR=str(settings.data_dir),
        NEWSBOT_FEEDS=str(settings.feeds),
        HF_HUB_OFFLINE="1",
        PYTHONPATH=str(REPO),
    )
    if settings.chroma_url:
        env["NEWSBOT_CHROMA_URL"] = settings.chroma_url
    return subprocess.run(
        [*NEWSBOT, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def _refusal(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("newsbot:")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    line = lines[0]
    # Both supported set-ups are named.
    assert "NEWSBOT_INGEST_INTERVAL_MINUTES" in line
    assert "chroma run" in line and "NEWSBOT_CHROMA_URL" in line
    return line


@pytest.mark.shared_data
def test_a_second_process_on_an_embedded_store_is_refused(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "data",
        write_feeds_toml(tmp_path / "f.toml", {"bair": "trimmed/bair_blog.xml"}),
    )
    reader = Corpus(settings)  # e.g. the bot, answering questions
    try:
        reader.claim_vectors()
        line = _refusal(_cli(settings, "ingest"))  # cron's `newsbot ingest`
        assert "cannot write" in line and str(settings.data_dir) in line
        assert reader.counts()["articles"] == 0  # nothing was written
        with reader.writing():  # now the bot's own ingest runs: readers are refused too
            assert "cannot read" in _refusal(_cli(settings, "ask", "what is new?"))
    finally:
        reader.close()
    # Once the first process has gone, the same command works.
    proc = _cli(settings, "ingest")
    assert proc.returncode == 0, proc.stderr[-2000:]
    corpus = Corpus(settings)
    try:
        assert corpus.counts()["articles"] == 3
    finally:
        corpus.close()


def _lease_in_child(path: Path, *, writing: bool, hold: float = 0.0) -> subprocess.Popen[str]:
    code = (
        "import sys, time\nfrom pathlib import Path\nfrom ingest import lease\n"
        f"try:\n    lease.acquire(Path({str(path)!r}), writing={writing})\n"
        "except lease.CorpusInUse:\n    print('refused', flush=True); sys.exit(0)\n"
        f"print('granted', flush=True); time.sleep({hold})\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )


def _answer(child: subprocess.Popen[str]) -> str:
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    return line


def test_lease_many_readers_or_one_writer(tmp_path: Path) -> None:
    from ingest import lease

    path = tmp_path / "chroma.lease"
    lease.acquire(path, writing=False)  # this process reads
    try:
        reader = _lease_in_child(path, writing=False, hold=30)
        assert _answer(reader) == "granted"  # readers share
        with pytest.raises(lease.CorpusInUse, match="another newsbot process is using it"):
            lease.acquire(path, writing=True)  # no upgrade while another process reads
        reader.kill()
        reader.wait()
        # The failed upgrade kept this process's shared lease: a writer is still refused.
        writer = _lease_in_child(path, writing=True)
        assert _answer(writer) == "refused"
        writer.wait()
        lease.acquire(path, writing=True)  # alone now: the upgrade succeeds
        assert _answer(_lease_in_child(path, writing=False)) == "refused"
        lease.release(path, writing=True)  # back to reading
        assert _answer(_lease_in_child(path, writing=False)) == "granted"
    finally:
        lease.release(path, writing=False)
    assert _answer(_lease_in_child(path, writing=True)) == "granted"


@pytest.mark.slow
def test_readers_share_an_embedded_store(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    reader = Corpus(settings)
    try:
        reader.claim_vectors()
        proc = _cli(settings, "ask", "what did DeepMind release?")
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "couldn't find" in proc.stdout
    finally:
        reader.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("chroma")), "run", "--path",
         str(tmp_path / "chroma-server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.shared_data
@pytest.mark.slow
def test_ingest_and_answers_in_two_processes_through_a_chroma_server(
    tmp_path: Path, embedder: Embedder, chroma_server: str
) -> None:
    from bot.engine import Engine

    feeds = {"deepmind": "publisher/google_deepmind_blog.xml", "bair": "trimmed/bair_blog.xml"}
    settings = make_settings(
        tmp_path / "data",
        write_feeds_toml(tmp_path / "f.toml", feeds),
        chroma_url=chroma_server,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env.update(
        NEWSBOT_DATA_DIR=str(settings.data_dir),
        NEWSBOT_FEEDS=str(settings.feeds),
        NEWSBOT_CHROMA_URL=chroma_server,
        HF_HUB_OFFLINE="1",
        PYTHONPATH=str(REPO),
    )
    # The bot's side: an engine answering in this process while `newsbot ingest` writes.
    eng = Engine(settings, embedder=embedder)
    writer = subprocess.Popen(
        [*NEWSBOT, "ingest"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    errors: list[BaseException] = []
    asked = 0
    try:
        while writer.poll() is None:
            try:
                eng.ask("What is Gemini?")
                eng.latest(limit=3)
                asked += 1
            except BaseException as e:  # noqa: BLE001 - the assertion is that nothing escapes
                errors.append(e)
        assert writer.returncode == 0, (
            writer.stderr.read().decode()[-2000:] if writer.stderr else ""
        )
        final = eng.ask("What is Gemini Robotics?")
    finally:
        eng.close()
    assert errors == [] and asked > 0
    assert final.answered  # the reader sees what the other process wrote
    assert not settings.chroma_path.exists() and not (settings.data_dir / "chroma.lease").exists()
    # And a third process answers from the same server.
    ask = _cli(settings, "ask", "What is Gemini Robotics?")
    assert ask.returncode == 0 and "Sources:" in ask.stdout, ask.stderr[-2000:]
