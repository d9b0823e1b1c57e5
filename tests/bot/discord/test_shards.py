"""Sharding: several bot processes (one shard each) on one host share the corpus and the bot's
file, and every digest and watch message goes out once: the claim ledgers hold across
processes, and no process settles a claim another live process is still sending."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, make_settings, write_feeds_toml
from discordbot import bot_env, start_bot
from fakediscord import FakeDiscord

from bot.discord.subscription_store import DigestRun, SubscriptionStore

CLAIMER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from bot.discord.subscription_store import DigestRun, SubscriptionStore
    store = SubscriptionStore(__import__("pathlib").Path(sys.argv[1]))
    now = datetime.now(UTC)
    store.claim_digest(DigestRun(1, "2026-12-07", "sending", now, now, now, 0, marker="m"))
    watch = store.add_watch(owner_id=5, guild_id=9, channel_id=None, topic="gemini",
                            created=now, start_seq=0, limit=10)
    store.add_hits(watch.id, {42: 0.9}, now)
    assert store.claim_hits(watch.id, [42], now) == [42]
    print("claimed", flush=True)
    sys.stdin.read()  # "sending" until the test closes stdin
    """
)


def test_a_claim_is_settled_only_once_the_process_sending_it_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "discord.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    other = subprocess.Popen(
        [sys.executable, "-c", CLAIMER, str(path)], env=env, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "claimed"
        store = SubscriptionStore(path)  # another shard's process, starting meanwhile
        assert store.unsettled_digests() == []  # the other process may still be sending it
        assert store.settle_interrupted_hits() == 0
        assert store.hit_states(1) == {42: "sending"}
        run = DigestRun(1, "2026-12-07", "sending", *[datetime.now(UTC)] * 3, 0)
        assert not store.claim_digest(run)  # and the period stays claimed
    finally:
        if other.stdin:
            other.stdin.close()
        other.wait(10)
    # The claimer is gone (a crash while sending): now its claims are settled.
    assert [r.period for r in store.unsettled_digests()] == ["2026-12-07"]
    assert store.settle_interrupted_hits() == 1
    assert store.hit_states(1) == {42: "unknown"}
    store.close()


# ---------------------------------------------------------------------------- two bot processes
TOKEN = "MTIzNDU2Nzg5.fake-bot-token.shards"
FEEDS = {"deepmind": "publisher/google_deepmind_blog.xml", "openai-blog": "trimmed/openai_blog.xml"}
FRESH_TITLE = "Zephyrine 7 launched: an open-weights model for weather forecasting"


def fresh_feed(path: Path) -> Path:
    """Two articles of today about one new thing (a story for the digest and the watch)."""
    now = datetime.now(UTC)
    items = "".join(
        f"<item><title>{title}</title><link>https://example.org/{slug}</link>"
        f"<pubDate>{format_datetime(now - timedelta(minutes=m))}</pubDate>"
        "<description>Zephyrine 7 is an open-weights weather forecasting model released today "
        "by the Zephyr lab, with a technical report and weights on the hub.</description></item>"
        for title, slug, m in [(FRESH_TITLE, "zephyrine-7", 30), ("Zephyrine 7 weights", "z7", 20)]
    )
    path.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Zephyr lab</title>'
        f"<link>https://example.org/</link>{items}</channel></rss>"
    )
    return path


def start_shard(server: FakeDiscord, root: Path, shard: int, log: Path) -> subprocess.Popen[bytes]:
    env = bot_env(
        server, root, NEWSBOT_COOLDOWN_SECONDS="0", NEWSBOT_INGEST_INTERVAL_MINUTES="0",
        NEWSBOT_SUBSCRIPTIONS_TICK_SECONDS="5",
        NEWSBOT_SHARD_COUNT="2", NEWSBOT_SHARD_IDS=f"[{shard}]",
    )  # fmt: skip
    return start_bot(env, root, log).proc


@pytest.fixture
def two_shards(
    tmp_path: Path, embedder: Any, shared_feeds: Path
) -> Iterator[tuple[FakeDiscord, list[subprocess.Popen[bytes]], list[Path]]]:
    from bot.discord.watches import WATERMARK
    from bot.stories.schedule import DigestSchedule
    from ingest.pipeline import run_ingest
    from ingest.store.stories import StoryStore

    feeds = write_feeds_toml(tmp_path / "feeds.toml", FEEDS)
    settings = make_settings(tmp_path / "data", feeds)
    assert not run_ingest(settings, embedder=embedder).failed
    with FakeDiscord(token=TOKEN, heartbeat_interval_ms=1000) as server:
        now = datetime.now(UTC)
        subs = SubscriptionStore(settings.data_dir / "discord.sqlite3")
        subs.set_schedule(DigestSchedule(
            int(server.channel_id), int(server.guild_id), "daily", now.hour, "UTC",
            created=now - timedelta(days=2),
        ))  # fmt: skip
        subs.add_watch(
            owner_id=1, guild_id=int(server.guild_id), channel_id=int(server.channel_id),
            topic="Zephyrine weather model", created=now, start_seq=0, limit=10,
        )  # fmt: skip
        stories = StoryStore(settings)
        subs.set_meta(WATERMARK, str(stories.watermark()))  # the watch starts here
        stories.close()
        subs.close()
        with feeds.open("a") as f:
            f.write(f'\n[[feeds]]\nname = "zephyr"\nurl = "{fresh_feed(tmp_path / "z.xml")}"\n')
        assert not run_ingest(settings, embedder=embedder).failed
        logs = [tmp_path / f"bot{i}.log" for i in (0, 1)]
        bots = [start_shard(server, tmp_path, i, logs[i]) for i in (0, 1)]
        try:
            yield server, bots, logs
        finally:
            for proc in bots:
                proc.terminate()
            for proc in bots:
                proc.wait(20)


def _wait(predicate: Any, bots: list[subprocess.Popen[bytes]], logs: list[Path], timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        for proc, log in zip(bots, logs, strict=True):
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        time.sleep(0.2)
    raise TimeoutError("\n".join(log.read_text(errors="replace")[-2000:] for log in logs))


@pytest.mark.discord
@pytest.mark.slow
def test_two_bot_processes_with_a_shard_each_send_every_message_once(
    two_shards: tuple[FakeDiscord, list[subprocess.Popen[bytes]], list[Path]],
) -> None:
    server, bots, logs = two_shards
    connected = re.compile(r"connected as")
    _wait(
        lambda: all(connected.search(p.read_text(errors="replace")) for p in logs), bots, logs, 90
    )
    with server.lock:
        shards = sorted(
            r["payload"].get("shard") for r in server.records if r["kind"] == "identify"
        )
    assert shards == [[0, 2], [1, 2]]  # each process identified with its own shard
    owner = (int(server.guild_id) >> 22) % 2  # the shard Discord routes this server to

    def posted() -> list[dict[str, Any]]:
        return [m for m in server.messages(server.channel_id) if m["embeds"]]

    def digests() -> list[dict[str, Any]]:
        return [
            m
            for m in posted()
            if " digest for " in m["embeds"][0].get("footer", {}).get("text", "")
        ]

    def watch_messages() -> list[dict[str, Any]]:
        return [
            m
            for m in posted()
            if m["embeds"][0].get("footer", {}).get("text", "").startswith("Watch #")
        ]

    _wait(lambda: digests() and watch_messages(), bots, logs, 60)
    time.sleep(12)  # two more ticks of each process: nothing is sent again
    assert len(digests()) == 1 and len(watch_messages()) == 1, [m["embeds"] for m in posted()]
    assert "Zephyrine 7" in json.dumps(digests()[0]["embeds"])
    # A command of this server reaches only the process of its shard, and is answered once.
    iid = server.invoke_slash("ask", {"question": "What is Zephyrine 7?"}, user="user")
    assert server.wait_for_callback(iid)["status"] == 200
    server.wait_for_followup(iid, timeout=60)

    def answered_by() -> list[int]:
        return [i for i, log in enumerate(logs) if "/ask answered=" in log.read_text("utf-8")]

    assert _wait(answered_by, bots, logs, 10) == [owner]
    time.sleep(1)
    assert answered_by() == [owner]
