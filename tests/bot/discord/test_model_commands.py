"""/model and /models: the real bot process against the local Discord-compatible server
(tests/fakediscord) on a real corpus (Anthropic's and Google's feeds from ../shared/data, real
embedding model), and the rendering's limits and escaping on cards built for the purpose."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import discord
import pytest
from conftest import FEEDS_DIR, make_settings
from discordbot import bot_env, running_bot, wait_for_command
from fakediscord import FakeDiscord

from bot.discord.layout import EMBED_TOTAL_LIMIT, embed_length
from bot.discord.render_models import plain, render_families, render_model_card
from ingest.store.model_directory import FamilyCard, ModelCard, ModelFact

TOKEN = "MTIzNDU2Nzg5.fake-bot-token.models"
EPHEMERAL = 1 << 6
FEEDS_TOML = """
[[feeds]]
name = "Anthropic News"
url = "{anthropic}"
tags = ["lab", "anthropic"]

[[feeds]]
name = "Google AI Blog"
url = "{google}"
tags = ["lab", "google"]
"""

# ---------------------------------------------------------------------------- rendering (pure)
WHEN = datetime(2026, 8, 1, tzinfo=UTC)


def _card(facts: int, name: str = "Claude Opus 4.1") -> ModelCard:
    return ModelCard(
        family="claude",
        family_name="Claude",
        maker="Anthropic",
        version="4.1 opus",
        name=name,
        first_seen=WHEN,
        url="https://www.anthropic.com/news/claude-opus-4-1",
        title="Claude Opus 4.1 *is* here [link](https://evil.example) @everyone",
        articles=3,
        facts=tuple(
            ModelFact("benchmark", f"Bench{i} {i}%", f"https://example.com/{i}", WHEN)
            for i in range(facts)
        )
        + (
            ModelFact("context", "200K", "https://a.example/1", WHEN),
            ModelFact("context", "1M", "https://a.example/2", WHEN),
        ),
    )


def test_feed_text_is_escaped_and_pings_nobody() -> None:
    text = plain("**bold** @everyone <@123456789012345678> [x](https://evil.example)")
    assert text.startswith("\\*\\*bold\\*\\* ") and "@everyone" not in text
    assert "<@123456789012345678>" not in text and "\\[x\\](https" in text
    embed = render_model_card(_card(2, name="GPT-5 @here **x**"))
    assert "@here" not in (embed.title or "") and "\\*\\*x\\*\\*" in (embed.title or "")
    assert "[link](https://evil.example)" not in (embed.description or "")


def test_a_card_with_many_facts_stays_within_discords_limits() -> None:
    embed = render_model_card(_card(400))
    assert embed_length(embed) <= EMBED_TOTAL_LIMIT and len(embed.fields) <= 25
    assert all(len(f.value or "") <= 1024 for f in embed.fields)
    bench = next(f for f in embed.fields if f.name == "Benchmarks")
    assert bench.value and bench.value.splitlines()[-1].startswith("…and ")
    assert any(f.name == "Context window (sources disagree)" for f in embed.fields)


def test_the_family_list_stays_within_the_description_limit() -> None:
    fams = [FamilyCard(f"f{i}", f"Family{i}", "Maker", (_card(0),)) for i in range(300)]
    embed = render_families(fams)
    assert len(embed.description or "") <= 4096
    assert (embed.description or "").splitlines()[-1].startswith("…and ")
    empty = render_families([])
    assert isinstance(empty, discord.Embed) and "No models" in (empty.description or "")


# ---------------------------------------------------------------------------- the real bot
@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, embedder: Any, shared_feeds: Path) -> Path:
    from ingest.pipeline import run_ingest

    root = tmp_path_factory.mktemp("models-bot")
    feeds = root / "feeds.toml"
    feeds.write_text(
        FEEDS_TOML.format(
            anthropic=FEEDS_DIR / "generated/olshansk_feed_anthropic_news.xml",
            google=FEEDS_DIR / "publisher/google_keyword_ai.xml",
        ),
        encoding="utf-8",
    )
    report = run_ingest(make_settings(root / "data", feeds), embedder=embedder)
    assert not report.failed and "models" in report.timings
    return root


@pytest.fixture(scope="module")
def bot(server: FakeDiscord, root: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = bot_env(
        server,
        root,
        NEWSBOT_INGEST_INTERVAL_MINUTES="0",
    )
    with running_bot(server, env, root) as running:
        wait_for_command(server, running, "model")
        yield running.proc


@pytest.mark.discord
@pytest.mark.slow
def test_models_lists_families_with_their_newest_release(
    server: FakeDiscord, bot: subprocess.Popen[bytes]
) -> None:
    iid = server.invoke_slash("models", {})
    callback = server.wait_for_callback(iid, timeout=20)
    assert callback["status"] == 200 and callback["type"] == 4
    [embed] = callback["data"]["embeds"]
    assert embed["title"] == "AI models in the news"
    assert "**Claude** (Anthropic): [Claude " in embed["description"]
    assert callback["data"]["allowed_mentions"]["parse"] == []


@pytest.mark.discord
@pytest.mark.slow
def test_model_card_autocomplete_and_unknown_name(
    server: FakeDiscord, bot: subprocess.Popen[bytes]
) -> None:
    iid = server.invoke_autocomplete("model", {"name": "opus"}, focused="name")
    choices = [c["value"] for c in server.wait_for_callback(iid)["data"]["choices"]]
    assert choices and all("opus" in c.lower() for c in choices)
    assert any(c.startswith("Claude Opus 4") for c in choices), choices

    iid = server.invoke_slash("model", {"name": "claude opus 4.1"})
    callback = server.wait_for_callback(iid, timeout=20)
    assert callback["status"] == 200, callback
    [embed] = callback["data"]["embeds"]
    assert embed["title"].startswith("Claude Opus 4.1") and "Anthropic" in embed["title"]
    assert embed["url"].startswith("https://www.anthropic.com/")  # the maker's own post
    assert embed["description"].startswith("First reported **2025-08-0")

    iid = server.invoke_slash("model", {"name": "Frobnicator 9"})
    callback = server.wait_for_callback(iid, timeout=20)
    assert callback["data"]["flags"] & EPHEMERAL
    assert callback["data"]["content"].startswith(
        'The news in the corpus reports no model called "Frobnicator 9".'
    )
