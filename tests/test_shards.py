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
