"""The real bot process (`python -m bot.cli bot`) against the local Discord server
(tests/fakediscord), shared by the Discord tests: its environment, starting it and waiting until
it is connected, and the helpers that read what it sent. Fixtures built on these are in
tests/conftest.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import REPO
from fakediscord import FakeDiscord
from fakediscord.world import make_user
from llmserver import ScriptedChatServer

JSON = dict[str, Any]
EPHEMERAL = 1 << 6
QUESTION = "What did Google DeepMind announce about Gemini?"


@dataclass
class Bot:
    """A running bot process, its directory (data/, feeds.toml) and its log."""

    proc: subprocess.Popen[bytes]
    root: Path
    log_path: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, pattern: str, timeout: float = 20.0, since: int = 0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log()[since:]
            m = re.search(pattern, text)
            if m:
                return m.group(0)
            assert self.proc.poll() is None, f"the bot exited:\n{self.log()[-3000:]}"
            time.sleep(0.1)
        raise TimeoutError(f"{pattern!r} not in the bot log:\n{self.log()[-3000:]}")


def bot_env(server: FakeDiscord, root: Path, **extra: str) -> dict[str, str]:
    """The bot's environment: none of the developer's NEWSBOT_*/DISCORD_* settings, this
    server (and its token), the corpus in `root`/data and `root`/feeds.toml, commands synced to
    the server's guild, which is the one served; `extra` settings on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "DISCORD_"))}
    env.update(server.bot_env())
    env.update(
        PYTHONPATH=str(REPO),
        HF_HUB_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
        TOKENIZERS_PARALLELISM="false",
        NEWSBOT_DATA_DIR=str(root / "data"),
        NEWSBOT_FEEDS=str(root / "feeds.toml"),
        NEWSBOT_SYNC_COMMANDS="true",
        NEWSBOT_TEST_GUILD_ID=server.guild_id,
        NEWSBOT_GUILD_IDS=json.dumps([int(server.guild_id)]),
    )
    env.update(extra)
    return env


def answering_bot_env(
    server: FakeDiscord, root: Path, llm: ScriptedChatServer, **extra: str
) -> dict[str, str]:
    """bot_env of a bot that answers with the scripted LLM, has maintainers (the server's
    Maintainer role and user), a 30 s cooldown, opens threads and never ingests on its own."""
    answering = {
        "NEWSBOT_MAINTAINER_ROLE_IDS": json.dumps([int(server.roles["Maintainer"]["id"])]),
        "NEWSBOT_MAINTAINER_USER_IDS": json.dumps([int(server.users["maintainer"]["id"])]),
        "NEWSBOT_COOLDOWN_SECONDS": "30",
        "NEWSBOT_INGEST_INTERVAL_MINUTES": "0",
        "NEWSBOT_LLM": "openai:scripted",
        "NEWSBOT_LLM_BASE_URL": llm.base_url,
        "NEWSBOT_OPEN_THREADS": "true",
    }
    return bot_env(server, root, **{**answering, **extra})


def start_bot(env: dict[str, str], root: Path, log_path: Path | None = None) -> Bot:
    """Start `python -m bot.cli bot` in `root`, its output in `log_path` (root/bot.log)."""
    log_path = log_path or root / "bot.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "bot"],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Bot(proc, root, log_path)


@contextmanager
def running_bot(server: FakeDiscord, env: dict[str, str], root: Path) -> Iterator[Bot]:
    """start_bot, then wait until it is connected to `server`; killed on the way out."""
    bot = start_bot(env, root)
    try:
        server.wait_ready(timeout=90)
        bot.wait_log(r"connected as", timeout=30)
        yield bot
    finally:
        if bot.proc.poll() is None:
            bot.proc.kill()
            bot.proc.wait(10)


def wait_for_command(server: FakeDiscord, bot: Bot, name: str, timeout: float = 60) -> None:
    """Until the bot has synced the slash command `name` to the server's guild."""
    deadline = time.monotonic() + timeout
    while name not in {c["name"] for c in server.commands(server.guild_id)}:
        assert bot.proc.poll() is None and time.monotonic() < deadline, bot.log()
        time.sleep(0.2)


# ---------------------------------------------------------------------------- what it sent
def new_user(server: FakeDiscord, name: str) -> JSON:
    """A fresh member with no roles (each test its own, so the cooldown never interferes)."""
    return make_user(server.world.snowflake(), name)


def records(server: FakeDiscord, kind: str, pred: Callable[[JSON], bool] = lambda r: True):
    with server.lock:
        return [r for r in server.records if r["kind"] == kind and pred(r)]


def followups(server: FakeDiscord, iid: str) -> list[JSON]:
    return records(server, "followup", lambda r: r["interaction_id"] == iid)


def answer_lines(message: JSON) -> list[str]:
    return [
        line
        for e in message["embeds"]
        for f in e.get("fields", [])
        if f["name"].startswith(("Sources", "Closest"))
        for line in f["value"].splitlines()
    ]


def ask(server: FakeDiscord, user: JSON, question: str = QUESTION, **options: Any) -> JSON:
    """/ask → the deferred callback → the followup that replaced "thinking"; returns it."""
    iid = server.invoke_slash("ask", {"question": question, **options}, user=user)
    callback = server.wait_for_callback(iid)
    assert callback["status"] == 200 and callback["type"] == 5, callback
    return server.wait_for_followup(iid, timeout=30)


# Markup Discord would act on: an unescaped character is one with no backslash before it.
_U = r"(?<!\\)"
LIVE = {
    "masked link": re.compile(_U + r"\[[^\]]*" + _U + r"\]\("),
    "url": re.compile(r"https?:(?<!\\:)//", re.IGNORECASE),
    "angle markup": re.compile(_U + r"<(?:t:|/|:|@[!&]?\d|https?:)", re.IGNORECASE),
    "spoiler": re.compile(_U + r"\|" + _U + r"\|"),
    "bold": re.compile(_U + r"\*" + _U + r"\*"),
    "heading": re.compile(r"^[ \t]*(?:-#|#)", re.MULTILINE),
    "everyone": re.compile(r"@everyone"),
}


def live_markup(text: str, allowed_links: tuple[str, ...] = ()) -> list[str]:
    """The kinds of feed markup Discord would render in `text`, the bot's own links aside."""
    for url in allowed_links:
        text = re.sub(r"\]\(" + re.escape(url) + r"\)", "]", text)
    return [kind for kind, pattern in LIVE.items() if pattern.search(text)]
