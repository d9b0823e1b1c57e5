"""`/watch add` on a model family's versions: the real bot process against the local
Discord-compatible server, with its scheduled ingest on a real corpus (../shared/data feeds, real
embedding model). A feed added to the feeds file while the bot runs brings a new GPT version:
the watcher of "GPT models" gets one direct message with its card, and no second one."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FEEDS_DIR, make_settings
from discordbot import bot_env, running_bot, wait_for_command
from fakediscord import FakeDiscord

from bot.discord.model_watches import watched_family

TOKEN = "MTIzNDU2Nzg5.fake-bot-token.model-watch"
FEED = """
[[feeds]]
name = "{name}"
url = "{url}"
tags = ["lab", "{tag}"]
"""


@pytest.mark.parametrize(
    ("topic", "family"),
    [
        ("Qwen versions", "qwen"),
        ("GPT models", "gpt"),
        ("new Claude releases", "claude"),
        ("Qwen", None),  # a name alone stays a story watch
        ("Claude Code", None),
        ("open-weight models", None),
        ("Qwen 3 models", None),
    ],
)
def test_a_topic_asks_for_a_familys_versions(topic: str, family: str | None) -> None:
    assert watched_family(topic) == family


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, embedder: Any, shared_feeds: Path) -> Path:
    from ingest.pipeline import run_ingest

    root = tmp_path_factory.mktemp("model-watch")
    feeds = root / "feeds.toml"
    anthropic = FEEDS_DIR / "generated/olshansk_feed_anthropic_news.xml"
    feeds.write_text(FEED.format(name="Anthropic News", url=anthropic, tag="anthropic"))
    assert not run_ingest(make_settings(root / "data", feeds), embedder=embedder).failed
    return root


@pytest.fixture(scope="module")
def bot(server: FakeDiscord, root: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = bot_env(
        server,
        root,
        NEWSBOT_INGEST_INTERVAL_MINUTES="0.05",  # every 3 s: picks up the feed the test adds
        NEWSBOT_SUBSCRIPTIONS_TICK_SECONDS="5",
    )
    with running_bot(server, env, root) as running:
        wait_for_command(server, running, "watch")
        yield running.proc


@pytest.mark.discord
@pytest.mark.slow
def test_a_version_watch_is_told_once_per_new_version(
    server: FakeDiscord, bot: subprocess.Popen[bytes], root: Path
) -> None:
    iid = server.invoke_slash("watch add", {"topic": "GPT models"}, user="user")
    callback = server.wait_for_callback(iid, timeout=20)
    assert callback["status"] == 200 and callback["type"] == 4, callback
    assert callback["data"]["content"] == (
        "Watching **GPT models** for you (by direct message): each new GPT version the news "
        "reports."
    )
    since = server.mark()
    openai = FEEDS_DIR / "trimmed/openai_blog.xml"
    with (root / "feeds.toml").open("a", encoding="utf-8") as f:
        f.write(FEED.format(name="OpenAI News", url=openai, tag="openai"))
    dm = server.dm_channel_id("user")
    message = server.wait_for_message(dm, timeout=120, since=since)
    [embed] = message["embeds"]
    assert embed["title"] == "New in the news: GPT-5.5 · OpenAI"
    assert embed["url"].startswith("https://openai.com/")
    assert embed["footer"]["text"].startswith("Watch #")
    assert server.allowed_mentions(message["id"])["parse"] == []
    time.sleep(12)  # more scheduled ingests and watch ticks: nothing is told twice
    told = [m for m in server.messages(dm) if m["author"]["id"] == server.application_id]
    assert len(told) == 1, told
