"""The maintainer's success paths through the real bot (`python -m bot.cli bot`, unmodified
discord.py) against tests/fakediscord: `/feeds add` of a feed served on 127.0.0.1 (private
addresses are allowed for THIS bot only), written to feeds.toml with its comments kept,
ingested and answerable; `/feeds remove` likewise. The corpus lives in a real Chroma server
(`chroma run` on loopback), which the last test stops: the reply says so in plain words and
the server's address stays in the log.

One bot process serves the module; tests run in file order."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FEEDS_DIR, make_settings
from discordbot import Bot, answer_lines, bot_env, running_bot
from fakediscord import FakeDiscord
from fakediscord.world import make_user
from feedserver import FeedServer

from ingest.feeds import load_feeds

pytestmark = [pytest.mark.discord, pytest.mark.slow]  # real bot process, real model

TOKEN = "MTIzNDU2Nzg5.fake-bot-token.SECRET-feeds"
EPHEMERAL = 1 << 6
FEEDS_TOML = f"""# The operator's feeds. These comments must survive every edit.
# (second header line)

# --- Labs ---------------------------------------------------------------

[[feeds]]
name = "openai-blog"
url = "{FEEDS_DIR / "trimmed/openai_blog.xml"}"
tags = ["lab"]  # an inline note

# --- Community ----------------------------------------------------------

[[feeds]]
name = "huggingface"
url = "{FEEDS_DIR / "trimmed/huggingface_blog.xml"}"
"""
BAIR = FEEDS_DIR / "trimmed/bair_blog.xml"  # 3 long posts, not in the starting corpus
BAIR_QUESTION = "What is gradient-based planning for world models at longer horizons?"
BAIR_POST = "bair.berkeley.edu/blog/2026/04/20/grasp/"


def comment_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def chroma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen, str]]:
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    exe = Path(sys.executable).with_name("chroma")
    cmd = [str(exe), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, "chroma did not start"
            time.sleep(0.2)
    yield proc, f"http://127.0.0.1:{port}"
    if proc.poll() is None:
        proc.terminate()
        proc.wait(30)


@pytest.fixture(scope="module")
def feeds_http() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.serve("/bair.xml", BAIR.read_bytes(), "application/rss+xml")
        yield server


@pytest.fixture(scope="module")
def bot(
    server: FakeDiscord,
    chroma: tuple[subprocess.Popen, str],
    embedder: object,
    tmp_path_factory: pytest.TempPathFactory,
    shared_feeds: Path,
) -> Iterator[Bot]:
    from ingest.pipeline import run_ingest

    root = tmp_path_factory.mktemp("discord-feeds")
    (root / "feeds.toml").write_text(FEEDS_TOML, encoding="utf-8")
    settings = make_settings(root / "data", root / "feeds.toml", chroma_url=chroma[1])
    report = run_ingest(settings, embedder=embedder)  # type: ignore[arg-type]
    assert not report.failed and report.embedded_articles == 6
    env = bot_env(
        server,
        root,
        NEWSBOT_CHROMA_URL=chroma[1],
        NEWSBOT_ALLOW_PRIVATE_FEED_URLS="true",  # this test's feed is on 127.0.0.1
        NEWSBOT_MAINTAINER_USER_IDS=json.dumps([int(server.users["maintainer"]["id"])]),
        NEWSBOT_COOLDOWN_SECONDS="0",
        NEWSBOT_INGEST_INTERVAL_MINUTES="0",
        NEWSBOT_LLM="none",
        NEWSBOT_FETCH_BACKOFF="0.05",
    )
    with running_bot(server, env, root) as running:
        yield running


def ask(server: FakeDiscord, question: str) -> dict:
    user = make_user(server.world.snowflake(), "asker")
    iid = server.invoke_slash("ask", {"question": question}, user=user)
    assert server.wait_for_callback(iid)["type"] == 5
    return server.wait_for_followup(iid, timeout=60)["message"]


# ---------------------------------------------------------------------------- tests
def test_a_maintainer_adds_a_local_feed_it_is_saved_ingested_and_answerable(
    server: FakeDiscord, bot: Bot, feeds_http: FeedServer
) -> None:
    before = ask(server, BAIR_QUESTION)
    assert not any(BAIR_POST in line for line in answer_lines(before))  # not known yet

    url = feeds_http.url("/bair.xml")
    since = server.mark()
    iid = server.invoke_slash(
        "feeds", {"name": "bair", "url": url}, user="maintainer", subcommand="add"
    )
    callback = server.wait_for_callback(iid)
    assert callback["type"] == 5 and callback["data"]["flags"] & EPHEMERAL  # only they see it
    done = server.wait_for_edit(predicate=lambda m: "✅" in m["content"], timeout=180, since=since)
    assert "Ingest of feed bair finished" in done["message"]["content"]
    assert "3 articles embedded" in done["message"]["content"]
    assert feeds_http.requests_for("/bair.xml")  # fetched from the local server

    text = (bot.root / "feeds.toml").read_text(encoding="utf-8")
    assert comment_lines(text) == comment_lines(FEEDS_TOML)  # every comment, in order
    assert text.startswith(FEEDS_TOML)  # appended after the operator's text, untouched
    assert load_feeds(bot.root / "feeds.toml")[-1].url == url

    lines = answer_lines(ask(server, BAIR_QUESTION))
    # cited by the feed's own title (its channel <title>), not the maintainer's short name
    bair = "— The Berkeley Artificial Intelligence Research Blog,"
    assert any(BAIR_POST in line and bair in line for line in lines), lines


def test_a_maintainer_removes_feeds_and_the_comments_stay(server: FakeDiscord, bot: Bot) -> None:
    iid = server.invoke_autocomplete(
        "feeds", {"name": "ba"}, focused="name", user="maintainer", subcommand="remove"
    )
    assert [c["value"] for c in server.wait_for_callback(iid)["data"]["choices"]] == ["bair"]
    for name in ("bair", "openai-blog"):  # the last feed; the first (a section title follows)
        iid = server.invoke_slash("feeds", {"name": name}, user="maintainer", subcommand="remove")
        message = server.wait_for_followup(iid, timeout=20)["message"]
        assert message["flags"] & EPHEMERAL
        assert message["content"].startswith(f"Removed **{name}**")
    text = (bot.root / "feeds.toml").read_text(encoding="utf-8")
    assert [f.name for f in load_feeds(bot.root / "feeds.toml")] == ["huggingface"]
    assert comment_lines(text) == comment_lines(FEEDS_TOML)  # every comment line, in order
    assert "an inline note" not in text  # it was on a line of openai-blog's own table
    assert text.index("# --- Community") < text.index('name = "huggingface"')
    iid = server.invoke_autocomplete(
        "feeds", {"name": "ba"}, focused="name", user="maintainer", subcommand="remove"
    )
    assert server.wait_for_callback(iid)["data"]["choices"] == []  # gone from the file
    # stored articles stay searchable
    assert any(BAIR_POST in line for line in answer_lines(ask(server, BAIR_QUESTION)))
    # removing it again: one line, nothing changes
    iid = server.invoke_slash("feeds", {"name": "bair"}, user="maintainer", subcommand="remove")
    message = server.wait_for_followup(iid, timeout=20)["message"]
    assert message["content"].startswith("no feed named 'bair'")
    assert str(bot.root) not in message["content"]  # the file's path is not shown
    assert (bot.root / "feeds.toml").read_text(encoding="utf-8") == text


def test_a_failing_service_is_said_plainly_and_detailed_in_the_log(
    server: FakeDiscord, bot: Bot, chroma: tuple[subprocess.Popen, str]
) -> None:
    proc, url = chroma
    proc.terminate()
    proc.wait(30)
    port = url.rsplit(":", 1)[1]
    texts: list[str] = []
    for _ in range(3):  # the first query may still degrade to keyword search
        user = make_user(server.world.snowflake(), "asker")
        iid = server.invoke_slash("ask", {"question": BAIR_QUESTION}, user=user)
        assert server.wait_for_callback(iid)["type"] == 5
        original = server.interaction(iid).original_id
        reply = server.wait_for(  # an answer (followup), or "thinking…" edited into an error
            lambda r, iid=iid, original=original: (
                (r["kind"] == "followup" and r["interaction_id"] == iid and r["status"] < 300)
                or (r["kind"] == "edit" and r["message"]["id"] == original)
            ),
            timeout=60,
        )["message"]
        if not reply["embeds"]:
            texts.append(reply["content"])
            break
    assert texts, "no error reply"
    [text] = texts
    assert text.startswith("Sorry, I can't do that right now: a service I depend on")
    assert "(ref " in text and "127.0.0.1" not in text and port not in text
    assert f"cannot reach the Chroma server at {url}" in bot.log()  # the detail: in the log

    since = server.mark()  # a mention goes through the same place
    author = make_user(server.world.snowflake(), "mentioner")
    server.send_message(None, author, BAIR_QUESTION, mentions_bot=True)
    reply = server.wait_for_message(
        None, lambda m: m["content"].startswith("Sorry"), timeout=60, since=since
    )
    assert reply["content"].startswith("Sorry, I can't do that right now")
    assert "127.0.0.1" not in reply["content"] and port not in reply["content"]
    assert bot.proc.poll() is None
