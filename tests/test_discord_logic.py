"""Pure logic of the Discord layer: maintainers, cooldown, SSRF refusal (with real DNS
resolution of loopback/private names), conversation history, job progress."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta

import pytest

from bot.discord.access import (
    Cooldown,
    check_public_url,
    cooldown_message,
    guild_refusal,
    guild_served,
    is_maintainer,
    maintainer_refusal,
    reindex_wait_message,
)
from bot.discord.conversation import (
    AnswerRecord,
    channel_allowed,
    is_addressed,
    is_answer_embeds,
    record_from_embeds,
    strip_bot_mention,
    thread_name,
    turns_from_records,
)
from bot.discord.feedback import FEEDBACK_DOWN, FEEDBACK_UP, AnswerMemory, sendable_view
from bot.discord.jobs import (
    MIN_START_DELAY,
    ProgressState,
    Throttle,
    format_progress,
    format_report,
    initial_delay,
    job_label,
)
from bot.discord.render import render_answer
from bot.models import Answer, Source, Turn
from ingest.config import load_settings
from ingest.pipeline import FeedReport, IngestReport

DAY = datetime(2025, 7, 24, tzinfo=UTC)


# ---------------------------------------------------------------------------- maintainers
def test_maintainer_by_user_or_role_on_a_served_server_only(tmp_path) -> None:
    s = load_settings(
        data_dir=tmp_path, guild_ids=[900], maintainer_user_ids=[1], maintainer_role_ids=[50, 51]
    )
    assert is_maintainer(s, 1, guild_id=900)
    assert is_maintainer(s, 2, role_ids=[7, 51], guild_id=900)
    assert not is_maintainer(s, 2, role_ids=[7, 8], guild_id=900)
    # Manage Server alone is not enough unless the operator turned the fallback on
    assert not is_maintainer(s, 2, role_ids=[], manage_guild=True, guild_id=900)
    fallback = s.model_copy(update={"maintainer_manage_server": True})
    assert is_maintainer(fallback, 2, manage_guild=True, guild_id=900)
    # another server (a stranger's, who invited the bot), or a DM: nobody, not even user 1
    for where in (901, None):
        assert not is_maintainer(s, 1, guild_id=where)
        assert not is_maintainer(s, 2, role_ids=[50], guild_id=where)
        assert not is_maintainer(fallback, 2, manage_guild=True, guild_id=where)
    assert not is_maintainer(load_settings(data_dir=tmp_path), 1, role_ids=[50], guild_id=900)


def test_served_servers_and_their_refusals(tmp_path) -> None:
    s = load_settings(data_dir=tmp_path, guild_ids=[900, 902])
    assert guild_served(s, 900) and guild_served(s, 902)
    assert not guild_served(s, 901) and not guild_served(s, None)
    assert guild_refusal(s, 901) == (
        "This bot only serves the servers its operator chose, and this is not one of them."
    )
    assert "inside the Discord servers I serve" in guild_refusal(s, None)
    setup = load_settings(data_dir=tmp_path)  # nothing listed yet: serves nobody
    assert not guild_served(setup, 900)
    assert "(900) to NEWSBOT_GUILD_IDS" in guild_refusal(setup, 900)
    assert "none are configured yet" in maintainer_refusal(setup)
    assert maintainer_refusal(s.model_copy(update={"maintainer_user_ids": [1]})) == (
        "Sorry, only maintainers can do that (a maintainer role or user configured for this bot)."
    )


def test_reindex_cooldown_is_per_target_and_says_when(tmp_path) -> None:
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


def test_maintainer_ids_from_env_json(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NEWSBOT_MAINTAINER_ROLE_IDS", "[1234567890123456789]")
    s = load_settings(data_dir=tmp_path)
    assert not is_maintainer(s, 5, role_ids=[1234567890123456789], guild_id=7)  # not served
    s = s.model_copy(update={"guild_ids": [7]})
    assert is_maintainer(s, 5, role_ids=[1234567890123456789], guild_id=7)


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
    msg = cooldown_message(6.2, now=1000.0)
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


def test_answer_record_reads_back_from_rendered_embeds() -> None:
    a = _answer("What did *DeepMind* ship @here?", "Gemini [1] and Genie [2].")
    [payload] = render_answer(a)
    assert is_answer_embeds(payload.embeds)
    rec = record_from_embeds(payload.embeds)
    assert rec is not None
    assert rec.question == "What did *DeepMind* ship @here?"
    assert rec.answer == "Gemini [1] and Genie [2]."
    assert rec.sources == [
        {"n": 1, "title": "Title *1* [x]", "url": "https://e.example/1", "feed": "deep_mind",
         "published": "2025-07-24"},
        {"n": 2, "title": "Title *2* [x]", "url": "https://e.example/2", "feed": "deep_mind",
         "published": "2025-07-24"},
    ]  # fmt: skip
    assert AnswerRecord.from_answer(a).sources[0]["url"] == "https://e.example/1"
    assert record_from_embeds([]) is None


def test_history_turns_are_the_last_few() -> None:
    records = [AnswerRecord(f"q{i}", f"a{i}") for i in range(6)] + [AnswerRecord("", "x")]
    turns = turns_from_records(records)
    assert turns == [Turn("q2", "a2"), Turn("q3", "a3"), Turn("q4", "a4"), Turn("q5", "a5")]
    assert turns_from_records(records, limit=0) == []


def test_answer_memory_is_bounded() -> None:
    mem = AnswerMemory(size=3)
    for i in range(5):
        mem.remember(i, AnswerRecord(f"q{i}", "a"))
    assert len(mem) == 3 and mem.get(0) is None and mem.get(4) == AnswerRecord("q4", "a")


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
    from bot.discord import run_bot, sync_commands
    from ingest.models import ConfigError

    monkeypatch.chdir(tmp_path)  # no .env here
    for var in ("DISCORD_TOKEN", "NEWSBOT_DISCORD_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    settings = load_settings(data_dir=tmp_path / "data")
    for entry in (run_bot, sync_commands):
        with pytest.raises(ConfigError, match="DISCORD_TOKEN is not set") as e:
            entry(settings)
        assert "\n" not in str(e.value)
    assert not (tmp_path / "data").exists()  # nothing loaded or created before the check


def test_endpoints_point_discord_py_at_another_server(tmp_path, monkeypatch) -> None:
    import discord
    import yarl

    from bot.discord import configure_endpoints

    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    gateway = discord.gateway.DiscordWebSocket
    monkeypatch.setattr(gateway, "DEFAULT_GATEWAY", gateway.DEFAULT_GATEWAY)
    monkeypatch.setenv("DISCORD_API_BASE", "http://127.0.0.1:9/api/v10/")
    monkeypatch.setenv("DISCORD_GATEWAY_URL", "ws://127.0.0.1:9/gateway")
    configure_endpoints(load_settings(data_dir=tmp_path))
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

    from conftest import make_settings, write_feeds_toml
    from filelock import FileLock

    from bot.discord import jobs as jobs_mod
    from bot.discord.jobs import IngestJobs, JobBusy
    from ingest.pipeline import IngestLocked
    from ingest.store import Corpus

    feeds = write_feeds_toml(tmp_path / "feeds.toml", {"openai": "trimmed/openai_blog.xml"})
    settings = make_settings(tmp_path / "data", feeds, ingest_interval_minutes=0.005)  # 0.3 s
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
