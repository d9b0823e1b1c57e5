"""Hostile feed text through the real bot process and the local Discord server (issue 23.2):
a feed whose titles carry masked links, spoilers, headings, timestamps, command mentions and
URLs in capitals, served over HTTP on 127.0.0.1 and ingested with the real model; /ask (with an
LLM that writes links of its own) and /latest show all of it as text, with the bot's citation
links the only links."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from html import escape
from typing import Any

import pytest
from conftest import make_settings, write_feeds_toml
from discordbot import answering_bot_env, ask, live_markup, new_user, running_bot
from fakediscord import FakeDiscord
from feedserver import FeedServer, Reply
from llmserver import ScriptedChatServer

pytestmark = [pytest.mark.discord, pytest.mark.slow]  # real bot process, real model

TOKEN = "MTIzNDU2Nzg5.fake-bot-token.SECRET-never-log-me"
TITLES = [
    "Quibbleworks ships [Quibble-7 weights here](https://evil.example/login) today",
    "# Quibble-7 ||spoilers|| <t:0:R> </ask:123> **bold** <https://evil.example/auto>",
    "-# Quibble-7 mirror at HTTPS://EVIL.EXAMPLE/LOGIN for @everyone",
]
BODY = "Quibbleworks released the Quibble-7 open-weights model with 7 billion parameters."
LLM_REPLY = (
    "Quibbleworks shipped Quibble-7 [1]. Download it at HTTPS://EVIL.EXAMPLE/LOGIN or "
    "[here](https://evil.example/x) ||now|| <t:0:R>"
)


def _feed() -> bytes:
    items = "".join(
        f"<item><title>{escape(t)}</title><link>https://q.example/{i}</link>"
        f"<description>{escape(BODY)} Item {i}.</description>"
        f"<pubDate>Mon, 0{i + 1} Dec 2025 10:00:00 GMT</pubDate></item>"
        for i, t in enumerate(TITLES)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>q</title>'
        f"<link>https://q.example/</link>{items}</channel></rss>"
    ).encode()


@pytest.fixture(scope="module")
def hostile_bot(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[Any]:
    from ingest.pipeline import run_ingest

    root = tmp_path_factory.mktemp("hostile-bot")
    with FeedServer() as feeds:
        feeds.route("/q.xml", Reply(200, _feed(), {"Content-Type": "application/rss+xml"}))
        toml = write_feeds_toml(root / "feeds.toml", {"quibble": feeds.url("/q.xml")})
        report = run_ingest(make_settings(root / "data", toml), embedder=embedder)
    assert report.embedded_articles == 3
    llm = ScriptedChatServer(reply=LLM_REPLY)
    with FakeDiscord(token=TOKEN, heartbeat_interval_ms=1000) as server:
        server.add_guild("Stranger's Server")
        try:
            with running_bot(server, answering_bot_env(server, root, llm), root) as bot:
                yield server, bot
        finally:
            llm.close()


def _shown(message: dict[str, Any]) -> str:
    parts = [message.get("content") or ""]
    for e in message["embeds"]:
        parts += [e.get("title") or "", e.get("description") or ""]
        parts += [f"{f['name']}\n{f['value']}" for f in e.get("fields", [])]
    return "\n".join(parts)


def test_ask_and_latest_show_feed_markup_as_text(hostile_bot: Any) -> None:
    server, _ = hostile_bot
    own = tuple(f"https://q.example/{i}" for i in range(len(TITLES)))
    message = ask(server, new_user(server, "asker"), "What did Quibbleworks ship?")["message"]
    shown = _shown(message)
    assert "Quibble" in shown and "[1]" in shown, shown
    assert live_markup(shown, own) == [], shown
    answer_text = message["embeds"][0]["description"]
    assert "EVIL.EXAMPLE" not in answer_text.upper()  # the LLM's links, in any case, are gone
    iid = server.invoke_slash("latest", {"count": 5}, user=new_user(server, "reader"))
    latest = _shown(server.wait_for_followup(iid, timeout=30)["message"])
    assert "Quibble-7 weights here" in latest, latest
    assert live_markup(latest, own) == [], latest


def test_status_tells_when_the_vector_store_is_gone(hostile_bot: Any) -> None:
    server, bot = hostile_bot

    def vectors() -> str:
        iid = server.invoke_slash("status", {}, user=new_user(server, "curious"))
        [embed] = server.wait_for_followup(iid, timeout=20)["message"]["embeds"]
        return {f["name"]: f["value"] for f in embed["fields"]}["Vectors"]

    assert vectors() == "ok"
    shutil.rmtree(bot.data / "chroma")
    assert vectors().startswith("⚠️ missing for 3 chunks; the next ingest rebuilds them")
