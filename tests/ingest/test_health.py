"""Feed health (ingest.health): the pure assessment, plain-word reasons, the corpus reads and
the alert ledger that keeps a restart or a second process from repeating a message."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.discord.render import render_sources
from bot.messages import health_text, reason_text
from ingest.health import FAILING, OK, STALE, UNKNOWN, Health, Thresholds, assess, reason_code
from ingest.models import Article, FeedState, utcnow
from ingest.store.health import AlertLedger, failing_feeds, feed_health

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def every(gap: timedelta, n: int, last: datetime) -> list[datetime]:
    return [last - i * gap for i in range(n)]


def fetched(name: str = "lab", **kw: object) -> FeedState:
    base = {"last_attempt": NOW - timedelta(hours=1), "last_success": NOW - timedelta(hours=1)}
    return FeedState(name=name, **{**base, **kw})  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- assess
def test_failing_is_alerted_only_after_the_configured_number_of_runs() -> None:
    last_ok = NOW - 3 * DAY
    for n, alert in ((1, False), (2, False), (3, True), (7, True)):
        state = fetched(last_error="HTTP 503 Service Unavailable", consecutive_failures=n,
                        last_success=last_ok)  # fmt: skip
        h = assess(state, every(DAY, 20, NOW), NOW)
        assert (h.status, h.alert, h.failures, h.since) == (FAILING, alert, n, last_ok)
        assert h.reason == "server-error" and h.announce == (FAILING if alert else OK)
    five = assess(fetched(last_error="x", consecutive_failures=3), [], NOW, Thresholds(failures=5))
    assert not five.alert


def test_stale_follows_the_feeds_own_pace() -> None:
    daily = every(DAY, 30, NOW - 15 * DAY)  # a daily feed, quiet for 15 days
    h = assess(fetched(), daily, NOW)
    assert (h.status, h.since, h.usual_gap) == (STALE, NOW - 15 * DAY, DAY)
    assert assess(fetched(), every(DAY, 30, NOW - 10 * DAY), NOW).status == OK  # < 14 days
    monthly = every(30 * DAY, 12, NOW - 40 * DAY)  # a monthly feed 40 days after its last post
    assert assess(fetched(), monthly, NOW).status == OK
    assert assess(fetched(), every(30 * DAY, 12, NOW - 95 * DAY), NOW).status == STALE
    # too little history to know its pace: never "stale"
    assert assess(fetched(), every(DAY, 4, NOW - 300 * DAY), NOW).status == OK
    # a shorter setting
    assert assess(fetched(), daily[5:], NOW, Thresholds(stale_days=3)).status == STALE
    # articles dated in the future (a bad clock) do not hide staleness
    assert assess(fetched(), [*daily, NOW + 400 * DAY], NOW).status == STALE


def test_failing_wins_over_stale_and_unknown_when_never_fetched() -> None:
    old = every(DAY, 30, NOW - 100 * DAY)
    assert assess(fetched(last_error="timed out", consecutive_failures=4), old, NOW).status == (
        FAILING
    )
    assert assess(None, old, NOW, name="new").status == UNKNOWN
    assert assess(FeedState(name="new"), [], NOW).status == UNKNOWN


@pytest.mark.parametrize(
    ("error", "code"),
    [
        ("connection failed: [Errno 111] Connection refused (after 3 attempts)", "refused"),
        (
            "connection failed: cannot resolve 'feeds.corp.internal': Name or service not known",
            "dns",
        ),  # fmt: skip
        ("timed out connecting (after 20 s)", "timeout"),
        ("timed out: no complete response in 60 s (after 3 attempts)", "timeout"),
        ("HTTP 404 Not Found", "gone"),
        ("HTTP 403 Forbidden", "denied"),
        ("HTTP 429 Too Many Requests (server asks to retry after 900 s)", "rate-limited"),
        ("HTTP 503 Service Unavailable (after 3 attempts)", "server-error"),
        ("refused http://10.1.2.3/feed.xml: 10.1.2.3 is a private address (set ...)", "blocked"),
        ("not a feed: got an HTML page (a login or error page?)", "not-a-feed"),
        ("empty response body", "empty"),
        ("response larger than 10 MB cap", "too-large"),
        ("file not found: /srv/feeds/x.xml", "file"),
        ("too many redirects (more than 5)", "redirects"),
        ("network error: Server disconnected without sending a response.", "network"),
        ("something nobody expected", "other"),
    ],
)
def test_reason_codes_and_their_plain_words(error: str, code: str) -> None:
    assert reason_code(error) == code
    for lang in ("en", "id"):
        words = reason_text(code, error, lang)
        assert words and "{" not in words
        # nothing of the recorded error's hosts, addresses or paths
        for secret in ("corp.internal", "10.1.2.3", "/srv/feeds", "Errno"):
            assert secret not in words
    if code in ("gone", "denied", "server-error"):
        assert "(HTTP " in reason_text(code, error)


def test_health_text_in_both_languages() -> None:
    h = Health("lab", FAILING, NOW - 2 * DAY, "refused", "connection refused", 3, True)
    assert health_text(h, NOW) == (
        "failing since Mar 18, 2026 12:00 UTC: the site refused the connection "
        "(3 failures in a row)"
    )
    assert health_text(h, NOW, "id").startswith("gagal sejak 18 Mar 2026 12:00 UTC: situsnya")
    stale = Health("lab", STALE, NOW - 20 * DAY, alert=True, usual_gap=2 * DAY)
    assert health_text(stale, NOW) == (
        "stale since Feb 28, 2026: nothing new for 20 days (it usually posts every 2 days)"
    )
    assert "28 Feb 2026" in health_text(stale, NOW, "id")


def test_sources_show_plain_reasons_never_the_recorded_error() -> None:
    secret = "connection failed: cannot resolve 'feeds.corp.internal' @everyone"
    states = [
        fetched("intranet", last_error=secret, consecutive_failures=3, articles_total=4),
        fetched("quiet", articles_total=30),
        fetched("fine", articles_total=9),
    ]
    health = [
        assess(states[0], [], NOW),
        assess(states[1], every(DAY, 30, NOW - 20 * DAY), NOW, name="quiet"),
        assess(states[2], every(DAY, 30, NOW), NOW),
    ]
    [payload] = render_sources(states, health, NOW)
    [embed] = payload.embeds
    text = embed.description
    assert "corp.internal" not in text and "@everyone" not in text and "resolve" not in text
    assert "⚠️ **intranet** — 4 articles · failing since" in text
    assert "the site's address could not be found (3 failures in a row)" in text
    assert "💤 **quiet** — 30 articles · stale since Feb 28, 2026" in text
    assert "✅ **fine** — 9 articles · last success" in text
    assert embed.footer.text == "3 feeds · 1 failing · 1 stale"


# ---------------------------------------------------------------------------- corpus reads
def _corpus(tmp_path: Path):
    from conftest import make_settings

    from ingest.store import Corpus

    settings = make_settings(tmp_path / "data")
    return settings, Corpus(settings)


def _article(feed: str, i: int, published: datetime | None) -> Article:
    return Article(id=f"https://{feed}.example/{i}", url=f"https://{feed}.example/{i}",
                   title=f"Post {i}", text="text", feed=feed, published=published)  # fmt: skip


def test_feed_health_reads_states_and_history_from_the_corpus(tmp_path: Path) -> None:
    settings, corpus = _corpus(tmp_path)
    try:
        daily = [_article("daily", i, NOW - (20 + i) * DAY) for i in range(10)]
        corpus.upsert_feed("daily", daily, fetched("daily"))
        broken = fetched("broken", last_error="HTTP 500 Internal Server Error",
                         consecutive_failures=3, last_success=NOW - 5 * DAY)  # fmt: skip
        corpus.upsert_feed("broken", [_article("broken", 1, NOW - DAY)], broken)
        undated = [_article("undated", i, None) for i in range(6)]  # dated by first_seen
        corpus.upsert_feed("undated", undated, fetched("undated"))
    finally:
        corpus.close()
    health = {h.feed: h for h in feed_health(settings.db_path, NOW)}
    assert health["daily"].status == STALE and health["daily"].since == NOW - 20 * DAY
    assert health["broken"].status == FAILING and health["broken"].alert
    # undated articles count from when they were first stored (today, in this test)
    today = utcnow()
    [fresh] = feed_health(settings.db_path, today, only=["undated"])
    [quiet] = feed_health(settings.db_path, today + 20 * DAY, only=["undated"])
    assert fresh.status == OK and quiet.status == STALE
    assert abs((quiet.since or NOW) - today) < timedelta(minutes=5)
    assert [h.feed for h in failing_feeds(settings.db_path, ["broken", "daily"], NOW)] == ["broken"]
    assert failing_feeds(settings.db_path, [], NOW) == []
    assert feed_health(tmp_path / "missing.sqlite3", NOW) == []


# ---------------------------------------------------------------------------- ledger
def _failing(feed: str = "lab", n: int = 3) -> Health:
    return Health(feed, FAILING, NOW - DAY, "refused", "connection refused", n, alert=n >= 3)


def test_ledger_announces_each_change_once_across_restarts(tmp_path: Path) -> None:
    db = tmp_path / "corpus.sqlite3"
    ledger = AlertLedger(db)
    assert ledger.claim([_failing(n=2)], NOW) == []  # below the threshold: nothing
    [notice] = ledger.claim([_failing(n=3)], NOW)
    assert notice.previous == OK and not notice.recovered
    assert ledger.claim([_failing(n=3)], NOW) == []  # claimed: not twice, even before sent
    ledger.done(notice)
    restarted = AlertLedger(db)  # a new process over the same corpus
    assert restarted.claim([_failing(n=4)], NOW + DAY) == []
    [back] = restarted.claim([Health("lab", OK)], NOW + 2 * DAY)
    assert back.recovered and back.previous == FAILING
    restarted.done(back)
    assert restarted.records() == []  # healthy again: forgotten
    assert AlertLedger(db).claim([Health("lab", OK)], NOW + 3 * DAY) == []


def test_ledger_release_retries_and_a_crashed_claim_expires(tmp_path: Path) -> None:
    ledger = AlertLedger(tmp_path / "c.sqlite3")
    [notice] = ledger.claim([_failing()], NOW)
    ledger.release(notice)  # the send failed
    [again] = ledger.claim([_failing()], NOW + timedelta(minutes=1))
    # a process that died after claiming: another one takes over after the claim expires
    assert ledger.claim([_failing()], NOW + timedelta(minutes=5)) == []
    [taken] = ledger.claim([_failing()], NOW + timedelta(minutes=12))
    ledger.done(again)  # the old claim no longer holds: it records nothing
    assert ledger.records()[0].announced == OK
    ledger.done(taken)
    assert ledger.records()[0].announced == FAILING


def test_ledger_stale_then_failing_is_a_new_message_and_removed_feeds_are_forgotten(
    tmp_path: Path,
) -> None:
    ledger = AlertLedger(tmp_path / "c.sqlite3")
    stale = Health("lab", STALE, NOW - 30 * DAY, alert=True, usual_gap=DAY)
    [first] = ledger.claim([stale], NOW)
    ledger.done(first)
    [second] = ledger.claim([_failing()], NOW)
    assert second.previous == STALE and second.health.status == FAILING
    ledger.done(second)
    assert ledger.claim([], NOW) == [] and ledger.records() == []  # removed from feeds.toml


def test_two_processes_checking_at_once_claim_each_change_once(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite3"
    feeds = [_failing(f"feed-{i}") for i in range(20)]
    claimed: list[str] = []
    lock = threading.Lock()

    def check() -> None:
        got = AlertLedger(db).claim(feeds, NOW)
        with lock:
            claimed.extend(n.health.feed for n in got)

    threads = [threading.Thread(target=check) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(h.feed for h in feeds)


def test_feeds_status_shows_the_same_health_with_the_recorded_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from conftest import write_feeds_toml

    from bot.cli import main

    settings, corpus = _corpus(tmp_path)
    today = utcnow()
    try:
        quiet = [_article("quiet", i, today - (40 + i) * DAY) for i in range(10)]
        corpus.upsert_feed("quiet", quiet, fetched("quiet", last_success=today))
        broken = fetched("broken", last_error="connection failed: cannot resolve 'db.corp'",
                         consecutive_failures=4, last_success=today - 3 * DAY)  # fmt: skip
        corpus.upsert_feed("broken", [_article("broken", 1, today)], broken)
    finally:
        corpus.close()
    toml = write_feeds_toml(tmp_path / "feeds.toml", {"quiet": "https://q.example/f",
                                                     "broken": "https://db.corp/f"})  # fmt: skip
    monkeypatch.setenv("NEWSBOT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("NEWSBOT_FEEDS", str(toml))
    assert main(["feeds", "status"]) == 0
    out = capsys.readouterr().out.splitlines()
    broken_line = next(line for line in out if line.startswith("broken"))
    assert "FAILING: failing since" in broken_line
    assert "the site's address could not be found (4 failures in a row)" in broken_line
    assert broken_line.endswith("— error: connection failed: cannot resolve 'db.corp'")
    quiet_line = next(line for line in out if line.startswith("quiet"))
    assert "STALE: stale since" in quiet_line and "nothing new for 40 days" in quiet_line
    assert main(["feeds", "status", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["broken"]["health"]["status"] == FAILING and rows["broken"]["health"]["alert"]
    assert rows["broken"]["health"]["reason"] == "dns"
    assert rows["quiet"]["health"]["status"] == STALE
    assert rows["quiet"]["health"]["usual_gap_days"] == 1.0
    assert rows["quiet"]["last_error"] is None  # the existing keys are kept
