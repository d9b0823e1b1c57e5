"""Pure logic of the Discord layer: maintainers, cooldown, SSRF refusal (with real DNS
resolution of loopback/private names), conversation history, job progress."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.config import DiscordSettings
from bot.discord.access import (
    Access,
    Cooldown,
    check_public_url,
    reindex_wait_message,
)
from bot.discord.conversation import (
    AnswerRecord,
    channel_allowed,
    is_addressed,
    strip_bot_mention,
    thread_name,
    turns_from_records,
)
from bot.discord.feedback import FEEDBACK_DOWN, FEEDBACK_UP, sendable_view
from bot.discord.jobs import (
    MIN_START_DELAY,
    ProgressState,
    Throttle,
    format_progress,
    format_report,
    initial_delay,
    job_label,
)
from bot.discord.store import DiscordStore
from bot.models import Answer, Source, Turn
from ingest.pipeline import FeedReport, IngestReport

DAY = datetime(2025, 7, 24, tzinfo=UTC)


# ---------------------------------------------------------------------------- maintainers
def test_maintainer_by_user_or_role_on_a_served_server_only() -> None:
    a = Access(frozenset({900}), frozenset({1}), frozenset({50, 51}))
    assert a.is_maintainer(1, guild_id=900)
    assert a.is_maintainer(2, role_ids=[7, 51], guild_id=900)
    assert not a.is_maintainer(2, role_ids=[7, 8], guild_id=900)
    # Manage Server alone is not enough unless the operator turned the fallback on
    assert not a.is_maintainer(2, role_ids=[], manage_guild=True, guild_id=900)
    fallback = Access(a.guild_ids, a.maintainer_user_ids, a.maintainer_role_ids, True)
    assert fallback.is_maintainer(2, manage_guild=True, guild_id=900)
    # another server (a stranger's, who invited the bot), or a DM: nobody, not even user 1
    for where in (901, None):
        assert not a.is_maintainer(1, guild_id=where)
        assert not a.is_maintainer(2, role_ids=[50], guild_id=where)
        assert not fallback.is_maintainer(2, manage_guild=True, guild_id=where)
    assert not Access(frozenset({900})).is_maintainer(1, role_ids=[50], guild_id=900)


def test_served_servers_and_their_refusals() -> None:
    a = Access(frozenset({900, 902}))
    assert a.serves(900) and a.serves(902)
    assert not a.serves(901) and not a.serves(None)
    assert a.refusal(901) == (
        "This bot only serves the servers its operator chose, and this is not one of them."
    )
    assert "inside the Discord servers I serve" in a.refusal(None)
    setup = Access()  # nothing listed yet: serves nobody
    assert not setup.serves(900)
    assert "(900) to NEWSBOT_GUILD_IDS" in setup.refusal(900)
    assert "none are configured yet" in setup.maintainer_refusal()
    assert Access(a.guild_ids, frozenset({1})).maintainer_refusal() == (
        "Sorry, only maintainers can do that (a maintainer role or user configured for this bot)."
    )


def test_reindex_cooldown_is_per_target_and_says_when() -> None:
    now = [1000.0]
    cooldown = Cooldown(600, clock=lambda: now[0])
    assert cooldown.retry_after("*") == 0
    assert cooldown.retry_after("deepmind") == 0  # another target
    now[0] += 60
    assert cooldown.retry_after("*") == pytest.approx(540)
    text = reindex_wait_message(None, 540, now=0)
    assert text.startswith("A re-index of all feeds ran less than a cooldown ago")
    assert "in about 9 min (<t:540:R>)" in text
    cooldown.reset("*")  # a refused job does not count
    assert cooldown.retry_after("*") == 0


def test_access_rules_from_the_env_json_settings(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("NEWSBOT_MAINTAINER_ROLE_IDS", "[1234567890123456789]")
    monkeypatch.setenv("NEWSBOT_MAINTAINER_MANAGE_SERVER", "true")
    s = DiscordSettings.load(data_dir=tmp_path)
    assert not Access.from_settings(s).is_maintainer(5, [1234567890123456789], guild_id=7)
    served = Access.from_settings(s.model_copy(update={"guild_ids": [7]}))
    assert served.is_maintainer(5, role_ids=[1234567890123456789], guild_id=7)
    assert served.is_maintainer(6, manage_guild=True, guild_id=7)


# ---------------------------------------------------------------------------- cooldown
def test_cooldown_per_user_with_retry_time() -> None:
    now = [100.0]
    cd = Cooldown(10, clock=lambda: now[0])
    assert cd.retry_after(1) == 0
    assert cd.retry_after(2) == 0  # other users are independent
    now[0] = 103.0
    assert cd.retry_after(1) == pytest.approx(7.0)
    now[0] = 110.0
    assert cd.retry_after(1) == 0
    cd.reset(1)
    assert cd.retry_after(1) == 0
    assert Cooldown(0).retry_after(1) == 0 and Cooldown(0).retry_after(1) == 0


def test_cooldown_memory_stays_bounded() -> None:
    now = [0.0]
    cd = Cooldown(1, clock=lambda: now[0])
    for i in range(10_001):
        cd.retry_after(i)
    now[0] = 5.0
    cd.retry_after(-1)
    assert len(cd._last) < 10


def test_cooldown_message_says_when() -> None:
    from bot.messages import cooldown_text

    msg = cooldown_text(6.2, "en", now=1000.0)
    assert "try again in 7 s" in msg and "<t:1007:R>" in msg


# ---------------------------------------------------------------------------- SSRF
@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://localhost/feed.xml", "loopback"),
        ("http://127.0.0.1:8080/rss", "loopback"),
        ("https://[::1]/atom", "loopback"),
        ("http://10.0.0.1/feed", "private"),
        ("http://192.168.1.20/feed", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:10.1.2.3]/", "private"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fd00::1]/", "private"),
        ("http://2130706433/", "loopback"),  # 127.0.0.1 as one decimal number
        ("http://100.64.0.1/", "non-public"),  # carrier-grade NAT
        ("http://224.0.0.1/", "multicast"),
    ],
)
def test_private_addresses_are_refused_after_real_resolution(url: str, kind: str) -> None:
    with pytest.raises(ValueError, match=kind):
        check_public_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/feed", "file:///etc/passwd", "/etc/passwd", "gopher://x", "http:///x", ""],
)
def test_non_http_urls_are_refused_even_when_private_allowed(url: str) -> None:
    with pytest.raises(ValueError):
        check_public_url(url, allow_private=True)


def test_private_allowed_by_setting_and_public_literal_ok() -> None:
    check_public_url("http://localhost:8000/feed.xml", allow_private=True)
    check_public_url("http://8.8.8.8/feed", allow_private=False)
    check_public_url("https://[2606:4700:4700::1111]/feed", allow_private=False)


def test_every_resolved_address_must_be_public() -> None:
    def resolver(answers: list[str]):
        def resolve(host, port, **kw):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers]

        return resolve

    check_public_url("https://news.example/rss", resolve=resolver(["93.184.216.34"]))
    with pytest.raises(ValueError, match="private"):
        check_public_url(
            "https://news.example/rss", resolve=resolver(["93.184.216.34", "10.0.0.5"])
        )

    def fail(host, port, **kw):
        raise socket.gaierror(-2, "Name or service not known")

    with pytest.raises(ValueError, match="couldn't resolve"):
        check_public_url("https://no-such-host.invalid/rss", resolve=fail)


# ---------------------------------------------------------------------------- conversations
def test_addressing_rules() -> None:
    assert strip_bot_mention("<@42> what's new?  ", 42) == "what's new?"
    assert strip_bot_mention("hey <@!42> and <@43>", 42) == "hey and <@43>"
    assert strip_bot_mention("<@42>", 42) == ""
    assert channel_allowed(5, None, [])
    assert channel_allowed(5, None, [5])
    assert channel_allowed(9, 5, [5])  # a thread counts as its parent
    assert not channel_allowed(9, 6, [5])
    assert is_addressed(mentions_bot=False, replies_to_answer=True, in_bot_thread=False)
    assert not is_addressed(mentions_bot=False, replies_to_answer=False, in_bot_thread=False)
    name = thread_name("@everyone " + "x" * 300)
    assert len(name) <= 100 and "@everyone" not in name
    assert thread_name("   ") == "Question"


def _answer(q: str, text: str, n: int = 2) -> Answer:
    sources = tuple(
        Source(i, f"a{i}", f"Title *{i}* [x]", f"https://e.example/{i}", "deep_mind", DAY)
        for i in range(1, n + 1)
    )
    return Answer(q, text, sources, DAY, True, note="a note")


def test_answer_record_is_what_was_answered() -> None:
    a = _answer("What did *DeepMind* ship @here?", "Gemini [1] and Genie [2].")
    rec = AnswerRecord.from_answer(a)
    assert (rec.question, rec.answer, rec.as_of) == (a.question, a.text, DAY)
    assert [(s["n"], s["article_id"], s["url"], s["title"]) for s in rec.sources] == [
        (1, "a1", "https://e.example/1", "Title *1* [x]"),
        (2, "a2", "https://e.example/2", "Title *2* [x]"),
    ]
    assert rec.sources[0]["published"] == DAY.isoformat() and rec.turn() == Turn(a.question, a.text)
    declined = Answer("q", "not in my sources", (), DAY, False, closest=a.sources[:1])
    assert [s["url"] for s in AnswerRecord.from_answer(declined).sources] == ["https://e.example/1"]


def test_history_turns_are_the_last_few() -> None:
    records = [AnswerRecord(f"q{i}", f"a{i}") for i in range(6)] + [AnswerRecord("", "x")]
    turns = turns_from_records(records, limit=3)
    assert turns == [Turn("q3", "a3"), Turn("q4", "a4"), Turn("q5", "a5")]
    assert turns_from_records(records, limit=0) == []


# ---------------------------------------------------------------------------- the bot's store
def test_the_store_remembers_each_answer_by_all_its_message_ids(tmp_path) -> None:
    path = tmp_path / "discord.sqlite3"
    first = AnswerRecord.from_answer(_answer("What did DeepMind ship?", "Gemini [1]."))
    second = AnswerRecord("Anything else?", "Genie [1].", [], None)
    store = DiscordStore(path)
    store.remember([101, 102, 103], first, channel_id=7)  # a long answer sent as 3 messages
    store.remember([200], second)
    assert store.recall(101) == first and store.recall(103) == first
    assert store.recall(999) is None
    assert store.recall_many([103, 200, 101, 5]) == {
        103: (103, first),
        101: (103, first),
        200: (200, second),
    }
    store.close()
    reopened = DiscordStore(path)  # a restart forgets nothing
    assert reopened.recall(102) == first and reopened.recall(200) == second
    reopened.close()


def test_the_store_keeps_the_newest_answers(tmp_path, monkeypatch) -> None:
    from bot.discord import store as store_mod

    path = tmp_path / "discord.sqlite3"
    store = DiscordStore(path)
    for i in range(1, 6):
        store.remember([i * 10, i * 10 + 1], AnswerRecord(f"q{i}", "a"))
    store.close()
    monkeypatch.setattr(store_mod, "KEEP_ANSWERS", 2)
    store = DiscordStore(path)
    assert [store.recall(i * 10) is not None for i in range(1, 6)] == [False] * 3 + [True] * 2
    assert store.recall(21) is None and store.recall(51) == AnswerRecord("q5", "a")
    store.close()


def test_feedback_is_one_vote_per_user_and_answer(tmp_path) -> None:
    store = DiscordStore(tmp_path / "discord.sqlite3")
    rec = AnswerRecord.from_answer(_answer("What did DeepMind ship?", "Gemini [1]."))
    store.add_feedback(user_id=1, vote=1, record=rec, message_id=500)
    store.add_feedback(user_id=2, vote=1, record=rec, message_id=500)
    store.add_feedback(user_id=1, vote=-1, record=rec, message_id=500)  # changed their mind
    rows = store.feedback()
    assert sorted((r["user_id"], r["vote"]) for r in rows) == [("1", -1), ("2", 1)]
    assert rows[0]["user_id"] == "1"  # newest first
    assert rows[0]["question"] == rec.question and rows[0]["sources"][0]["article_id"] == "a1"
    assert len(store.feedback(limit=1)) == 1
    store.close()


OLD_FEEDBACK = """CREATE TABLE feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created REAL NOT NULL, user_id TEXT NOT NULL,
    vote INTEGER NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL,
    sources TEXT NOT NULL DEFAULT '[]', message_id TEXT NOT NULL DEFAULT '',
    UNIQUE (message_id, user_id))"""


def test_feedback_from_the_corpus_file_is_copied_once_and_listed(
    tmp_path, monkeypatch, capsys
) -> None:
    """Feedback given before the bot had its own store lived in the corpus's SQLite file: the
    first opening of the store copies it (nothing lost, nothing doubled, the old rows stay)."""
    import json
    import sqlite3

    from bot.cli import main

    data = tmp_path / "data"
    data.mkdir()
    with sqlite3.connect(data / "newsbot.sqlite3") as old:
        old.execute(OLD_FEEDBACK)
        old.execute(
            "INSERT INTO feedback (created, user_id, vote, question, answer, sources, message_id)"
            " VALUES (1.7e9, '42', -1, 'who founded 01.AI?', 'Kai-Fu Lee [1].', '[]', '77')"
        )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWSBOT_DATA_DIR", str(data))
    for _ in range(2):  # the second run copies nothing more
        assert main(["feedback", "--json"]) == 0
        [row] = json.loads(capsys.readouterr().out)
        assert (row["user_id"], row["vote"], row["message_id"]) == ("42", -1, "77")
        assert row["question"] == "who founded 01.AI?"
    assert main(["feedback"]) == 0
    assert "-1  user 42: who founded 01.AI?" in capsys.readouterr().out
    with sqlite3.connect(data / "newsbot.sqlite3") as old:
        assert old.execute("SELECT count(*) FROM feedback").fetchone() == (1,)


def test_feedback_buttons_are_persistent_and_not_stored_per_message() -> None:
    async def build() -> None:
        view = sendable_view()
        ids = [c.custom_id for c in view.children]  # type: ignore[attr-defined]
        assert ids == [FEEDBACK_UP, FEEDBACK_DOWN]
        assert view.timeout is None and view.is_persistent()
        assert view.is_finished()  # so discord.py does not keep it per message

    asyncio.run(build())


# ---------------------------------------------------------------------------- jobs
def test_progress_text_and_throttle() -> None:
    label = job_label(None, reindex=True)
    assert label == "Re-index of all feeds"
    assert job_label("deepmind", reindex=False) == "Ingest of feed deepmind"
    assert format_progress(label, None, 0) == "⏳ Re-index of all feeds: starting… (0 s)"
    text = format_progress(label, ("embed", 120, 480), 14.2)
    assert text == "⏳ Re-index of all feeds: embedding 120/480 chunks (25%) · 14 s"
    state = ProgressState()
    state("embed", 1, 2)
    assert state.latest == ("embed", 1, 2) and state.version == 1

    now = [0.0]
    t = Throttle(2.0, clock=lambda: now[0])
    assert t.due()
    t.mark()
    now[0] = 1.5
    assert not t.due() and t.wait_time() == pytest.approx(0.5)
    now[0] = 2.0
    assert t.due()


def test_report_summary() -> None:
    report = IngestReport(
        feeds=[
            FeedReport("a", "ok", new=3, updated=1),
            FeedReport("b", "error", error="HTTP 500"),
        ],
        embedded_articles=3,
        embedded_chunks=9,
        seconds=1.25,
    )
    text = format_report("Ingest of all feeds", report)
    assert text.splitlines() == [
        "✅ Ingest of all feeds finished in 1.2 s: 9 chunks from 3 articles embedded.",
        "2 feeds fetched: 3 new, 1 updated.",
        "⚠️ b: HTTP 500",
    ]


def test_first_scheduled_ingest_waits_for_the_interval() -> None:
    now = datetime(2025, 7, 24, 12, tzinfo=UTC)
    assert initial_delay(None, 3600, now) == MIN_START_DELAY
    assert initial_delay(now - timedelta(minutes=50), 3600, now) == pytest.approx(600)
    assert initial_delay(now - timedelta(hours=5), 3600, now) == MIN_START_DELAY


# ---------------------------------------------------------------------------- entry points
def test_missing_token_is_a_one_line_config_error(tmp_path, monkeypatch) -> None:
    from bot.discord.client import run_bot, sync_commands
    from ingest.models import ConfigError

    monkeypatch.chdir(tmp_path)  # no .env here
    for var in ("DISCORD_TOKEN", "NEWSBOT_DISCORD_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    settings = DiscordSettings.load(data_dir=tmp_path / "data")
    for entry in (run_bot, sync_commands):
        with pytest.raises(ConfigError, match="DISCORD_TOKEN is not set") as e:
            entry(settings)
        assert "\n" not in str(e.value)
    assert not (tmp_path / "data").exists()  # nothing loaded or created before the check


def test_endpoints_point_discord_py_at_another_server(tmp_path, monkeypatch) -> None:
    import discord
    import yarl

    from bot.discord.client import configure_endpoints

    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    gateway = discord.gateway.DiscordWebSocket
    monkeypatch.setattr(gateway, "DEFAULT_GATEWAY", gateway.DEFAULT_GATEWAY)
    monkeypatch.setenv("DISCORD_API_BASE", "http://127.0.0.1:9/api/v10/")
    monkeypatch.setenv("DISCORD_GATEWAY_URL", "ws://127.0.0.1:9/gateway")
    configure_endpoints(DiscordSettings.load(data_dir=tmp_path))
    assert discord.http.Route.BASE == "http://127.0.0.1:9/api/v10"
    assert discord.http.Route("GET", "/users/@me").url == "http://127.0.0.1:9/api/v10/users/@me"
    assert yarl.URL("ws://127.0.0.1:9/gateway") == gateway.DEFAULT_GATEWAY


# ---------------------------------------------------------------------------- ingest jobs
@pytest.mark.shared_data
@pytest.mark.slow
def test_ingest_jobs_one_at_a_time_share_the_lock_and_run_on_schedule(
    tmp_path, embedder, monkeypatch, caplog
) -> None:
    """The bot's job runner over a real corpus and the real model: a second job is refused,
    a held ingest lock (the command line) makes it raise IngestLocked, and the schedule runs
    ingests off the event loop, skipping a turn while the lock is held."""
    import logging
    from types import SimpleNamespace

    from conftest import write_feeds_toml
    from filelock import FileLock

    from bot.discord import jobs as jobs_mod
    from bot.discord.jobs import IngestJobs, JobBusy
    from ingest.pipeline import IngestLocked
    from ingest.store import Corpus

    feeds = write_feeds_toml(tmp_path / "feeds.toml", {"openai": "trimmed/openai_blog.xml"})
    settings = DiscordSettings.load(
        data_dir=tmp_path / "data", feeds=feeds, fetch_backoff=0.05, ingest_interval_minutes=0.005
    )  # a scheduled ingest every 0.3 s
    corpus = Corpus(settings)
    engine = SimpleNamespace(corpus=corpus, embedder=embedder)  # the parts jobs use
    monkeypatch.setattr(jobs_mod, "MIN_START_DELAY", 0.0)

    async def scenario() -> None:
        jobs = IngestJobs(settings, engine)  # type: ignore[arg-type]
        progress: list[tuple[str, int, int]] = []
        first = asyncio.create_task(
            jobs.run("Ingest of all feeds", progress=lambda *a: progress.append(a))
        )
        await asyncio.sleep(0)  # let it take the job slot
        assert jobs.busy and jobs.running == "Ingest of all feeds"
        with pytest.raises(JobBusy, match="already running"):
            await jobs.run("Re-index of all feeds", reindex=True)
        beats = []
        while not first.done():  # the loop stays free while embedding runs in a thread
            beats.append(asyncio.get_running_loop().time())
            await asyncio.sleep(0.05)
        report = first.result()
        assert report.embedded_chunks > 0 and not report.failed
        assert progress and progress[-1][0] == "embed"
        gaps = [b - a for a, b in zip(beats, beats[1:], strict=False)]
        assert max(gaps, default=0) < 1.0, max(gaps)

        with FileLock(str(settings.lock_path)).acquire(timeout=5):
            with pytest.raises(IngestLocked):
                await jobs.run("Re-index of all feeds", reindex=True)
            jobs.start_schedule()
            await asyncio.sleep(1.0)  # a few scheduled turns, all skipped
        before = corpus.get_meta("last_ingest")
        await asyncio.sleep(1.5)  # now one runs
        await jobs.stop_schedule()
        assert corpus.get_meta("last_ingest") != before

    with caplog.at_level(logging.INFO, logger="bot.discord.jobs"):
        asyncio.run(scenario())
    assert "scheduled ingest skipped" in caplog.text
    corpus.close()


# ---------------------------------------------------------------------------- public error text
def test_public_error_text_keeps_internal_detail_in_the_log(caplog) -> None:
    from bot.discord.jobs import JobBusy
    from bot.discord.replies import public_error_text
    from ingest.models import ConfigError, NewsbotError

    caplog.set_level("INFO")
    internal = [
        NewsbotError("cannot reach the Chroma server at http://10.1.2.3:8000: refused"),
        ConfigError("/srv/newsbot/feeds.toml: invalid TOML: line 3"),
    ]
    for error in internal:
        text = public_error_text(error, 42, "interaction 42 (/ask)")
        assert text.startswith("Sorry, I can't do that right now") and text.endswith("(ref 42).")
        assert "10.1.2.3" not in text and "/srv/" not in text and "\n" not in text
    assert "http://10.1.2.3:8000" in caplog.text and "/srv/newsbot/feeds.toml" in caplog.text
    busy = public_error_text(JobBusy("Re-index of all feeds"), 7, "interaction 7 (/reindex)")
    assert busy == "Re-index of all feeds is already running; please try again when it has finished"
    bug = public_error_text(RuntimeError("secret /path"), 9, "interaction 9 (/ask)")
    assert bug.startswith("Sorry, something went wrong") and "/path" not in bug
    assert "Traceback" in caplog.text or "RuntimeError" in caplog.text


# ---------------------------------------------------------------------------- history limit
@pytest.mark.slow
def test_the_history_limit_is_one_setting(small_corpus, embedder) -> None:
    """NEWSBOT_HISTORY_TURNS bounds what the answer path sees of a conversation, whoever passes
    the history (the terminal chat, a Discord thread or reply chain)."""
    from llmserver import ScriptedChatServer

    from bot.engine import Engine

    llm = ScriptedChatServer(reply="Gemini Robotics is a model family [1].")
    history = [Turn(f"Question number {i}?", f"Answer number {i} [1].") for i in range(1, 6)]
    seen = {}
    try:
        for turns in (1, 3, 0):
            settings = small_corpus.model_copy(
                update={"llm": "openai:scripted", "llm_base_url": llm.base_url,
                        "history_turns": turns}
            )  # fmt: skip
            engine = Engine(settings, embedder=embedder)
            try:
                engine.ask("And what is Gemini Robotics?", history=history)
            finally:
                engine.close()
            prompt = llm.user_prompt()
            seen[turns] = [i for i in range(1, 6) if f"Question number {i}?" in prompt]
    finally:
        llm.close()
    assert seen == {1: [5], 3: [3, 4, 5], 0: []}


# ---------------------------------------------------------------------------- a cog on its own
@pytest.mark.slow
@pytest.mark.discord
def test_a_cog_runs_with_just_the_services_it_is_given(small_corpus, embedder, monkeypatch) -> None:
    """The slash-command cog in a plain discord.py bot (no NewsBot), with services built here
    over a real engine, against the local Discord server: what the cog does depends only on
    what it was given (here a 1-answer-per-minute cooldown and the corpus's feed names)."""
    import discord
    from discord.ext import commands
    from fakediscord import FakeDiscord

    from bot.discord.client import configure_endpoints, make_intents
    from bot.discord.commands import NewsCommands
    from bot.discord.services import build_services
    from bot.engine import Engine

    gateway = discord.gateway.DiscordWebSocket
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)  # restored after
    monkeypatch.setattr(gateway, "DEFAULT_GATEWAY", gateway.DEFAULT_GATEWAY)
    with FakeDiscord(token="cog-token") as server:
        settings = DiscordSettings.load(
            data_dir=small_corpus.data_dir, feeds=small_corpus.feeds, cooldown_seconds=60,
            discord_api_base=server.api_base, discord_gateway_url=server.gateway_url,
        )  # fmt: skip
        engine = Engine(settings, embedder=embedder)
        configure_endpoints(settings)

        async def scenario() -> tuple[Any, Any, Any]:
            bot = commands.Bot(command_prefix="!", intents=make_intents())
            services = await asyncio.to_thread(build_services, settings, engine, bot)
            closed.append(services)
            async with bot:
                await bot.login("cog-token")
                await bot.add_cog(NewsCommands(services))
                guild = discord.Object(int(server.guild_id))
                bot.tree.copy_global_to(guild=guild)
                await bot.tree.sync(guild=guild)
                connected = asyncio.create_task(bot.connect())
                await asyncio.to_thread(server.wait_ready, 30)
                run = asyncio.to_thread
                first = await run(server.invoke_slash, "latest", {"source": "simon", "count": 2})
                listed = await run(server.wait_for_followup, first, None, 30)
                again = await run(server.invoke_slash, "latest", {})
                refused = await run(server.wait_for_callback, again)
                other = await run(server.invoke_slash, "latest", {"source": "zz"}, "admin")
                unknown = await run(server.wait_for_followup, other, None, 30)
                await bot.close()
                await connected
            return listed, refused, unknown

        closed: list[Any] = []
        try:
            listed, refused, unknown = asyncio.run(scenario())
        finally:
            for services in closed:
                services.close()
            engine.close()
    [embed] = listed["message"]["embeds"]
    assert embed["title"] == "Latest stories from simonwillison"
    assert refused["type"] == 4 and "try again in" in refused["data"]["content"]
    assert unknown["message"]["content"].startswith('There is no feed called "zz"')
