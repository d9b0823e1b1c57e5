"""The first run a new user makes: `newsbot run` offline, with no token and no terminal."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import REPO

NEWSBOT = Path(sys.executable).with_name("newsbot")  # the installed entry point


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def _run(tmp_path: Path, *args: str, feeds: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "feeds.toml").write_text(feeds, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "DISCORD_"))}
    env.update(
        PYTHONPATH=str(REPO),  # this checkout's code behind the installed entry point
        HF_HUB_OFFLINE="1",
        NEWSBOT_FETCH_RETRIES="0",
    )
    cmd = [str(NEWSBOT)] if NEWSBOT.exists() else [sys.executable, "-m", "bot.cli"]
    return subprocess.run(
        [*cmd, *args],
        cwd=tmp_path,  # data/ and a (missing) .env here, never the checkout's
        env=env,
        stdin=subprocess.DEVNULL,  # no terminal
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_offline_first_run_exits_0_with_one_summary_line_and_the_next_step(
    tmp_path: Path,
) -> None:
    port = _closed_port()
    feeds = "".join(
        f'[[feeds]]\nname = "feed{i}"\nurl = "http://127.0.0.1:{port}/feed{i}.xml"\n\n'
        for i in range(3)
    )
    proc = _run(tmp_path, "run", feeds=feeds)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert out.count("FAILED") == 3  # each feed's failure is listed
    assert "0 of 3 feeds reachable — is this machine online?" in out
    assert out.count("feeds reachable") == 1
    assert "set DISCORD_TOKEN" in out and "`newsbot chat`" in out
    assert "Traceback" not in proc.stderr
    # The same offline ingest keeps its documented cron exit code: 1, some feeds failed.
    assert _run(tmp_path, "ingest", feeds=feeds).returncode == 1


def test_a_real_error_still_fails_the_first_run(tmp_path: Path) -> None:
    proc = _run(tmp_path, "run", feeds='[[feeds]]\nname = "no url"\n')
    assert proc.returncode == 2
    assert "configuration error" in proc.stderr and "url" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_readme_feed_count_matches_feeds_toml() -> None:
    feeds = tomllib.loads((REPO / "feeds.toml").read_text(encoding="utf-8"))["feeds"]
    enabled = [f for f in feeds if f.get("enabled", True)]
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    [listed] = re.findall(r"`feeds\.toml`\s+lists (\d+) real", readme)
    assert int(listed) == len(feeds) == len(enabled)
    assert f"0 of {len(enabled)} feeds reachable" in readme


def test_invalid_utf8_on_argv_and_stdin_is_one_clear_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env.update(PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", NEWSBOT_DATA_DIR=str(tmp_path / "d"))
    bad = b"who founded \xff\xfe01.AI?"
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "ask", os.fsdecode(bad)],
        env=env, capture_output=True, timeout=120,
    )  # fmt: skip
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "Traceback" not in err
    assert err.strip() == "newsbot: argument 2 is not valid UTF-8 text (byte 0xff at character 13)"

    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "ask", "-", "--since", "1000000000d"],
        env=env, input=b"x\n", capture_output=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr.decode()
    assert "too far back" in proc.stderr.decode()


@pytest.mark.slow  # loads the embedding model to answer the valid line
def test_invalid_utf8_stdin_line_is_skipped_and_the_rest_answered(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env.update(PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", NEWSBOT_DATA_DIR=str(tmp_path / "d"))
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "ask", "-", "--json"],
        env=env, input=b"\xc3\x28 broken\nwhat is new?\n", capture_output=True, timeout=300,
    )  # fmt: skip
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "Traceback" not in err
    assert "newsbot: stdin line 1: not valid UTF-8 text (byte 0xc3 at character 1); skipped" in err
    assert len(proc.stdout.decode().splitlines()) == 1  # the valid question was answered


def test_chat_survives_a_line_that_is_not_utf8(capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import chat_loop

    lines = iter([b"\xff bad"])

    def read(_prompt: str) -> str:
        for raw in lines:
            return raw.decode("utf-8")  # raises as input() does on a non-UTF-8 terminal line
        raise EOFError

    assert chat_loop(None, read=read) == 0  # type: ignore[arg-type]
    assert "not valid UTF-8" in capsys.readouterr().out
