"""Time expressions in questions → search windows; --since values → datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.timeparse import TimeWindow, parse_date_option, parse_time_window

# Thursday, July 24, 2025, 15:30 UTC
NOW = datetime(2025, 7, 24, 15, 30, tzinfo=UTC)


def d(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("question", "since", "until", "label"),
    [
        ("What happened today?", d(2025, 7, 24), None, "today"),
        ("Any AI news from yesterday?", d(2025, 7, 23), d(2025, 7, 24), "yesterday"),
        ("What did OpenAI release this week?", d(2025, 7, 21), None, "this week"),
        ("What happened last week in AI?", d(2025, 7, 14), d(2025, 7, 21), "last week"),
        ("Models released in the past 3 days", NOW - timedelta(days=3), None, "the past 3 days"),
        ("anything in the last two weeks?", NOW - timedelta(weeks=2), None, "the past 2 weeks"),
        ("What changed over the past week?", NOW - timedelta(days=7), None, "the past week"),
        ("news from the last 24 hours", NOW - timedelta(hours=24), None, "the past 24 hours"),
        ("big launches in the past 2 months", d(2025, 5, 24, 15, 30), None, "the past 2 months"),
        ("What shipped this month?", d(2025, 7, 1), None, "this month"),
        ("What shipped last month?", d(2025, 6, 1), d(2025, 7, 1), "last month"),
        ("Best open models this year", d(2025, 1, 1), None, "this year"),
        ("What did Anthropic announce in June 2025?", d(2025, 6, 1), d(2025, 7, 1), "June 2025"),
        ("June 2025 model releases", d(2025, 6, 1), d(2025, 7, 1), "June 2025"),
        ("Sept. 2024 news", d(2024, 9, 1), d(2024, 10, 1), "September 2024"),
        ("What happened in 2024?", d(2024, 1, 1), d(2025, 1, 1), "2024"),
        ("What has Mistral shipped since March?", d(2025, 3, 1), None, "since Mar 1, 2025"),
        ("since March 2024", d(2024, 3, 1), None, "since Mar 1, 2024"),
        ("Anything since 2025-03-01?", d(2025, 3, 1), None, "since Mar 1, 2025"),
        ("What happened on 2025-07-01?", d(2025, 7, 1), d(2025, 7, 2), "Jul 1, 2025"),
        ("What launched before 2025-01-01?", None, d(2025, 1, 1), "before Jan 1, 2025"),
        ("Any news since last week?", d(2025, 7, 14), None, "since Jul 14, 2025"),
        # Indonesian, the bot's other language
        ("Apa berita AI hari ini?", d(2025, 7, 24), None, "today"),
        ("Ada kabar apa kemarin?", d(2025, 7, 23), d(2025, 7, 24), "yesterday"),
        ("Apa yang dirilis DeepMind minggu ini?", d(2025, 7, 21), None, "this week"),
        ("model baru pekan ini", d(2025, 7, 21), None, "this week"),
        ("Apa yang terjadi minggu lalu?", d(2025, 7, 14), d(2025, 7, 21), "last week"),
        ("rilis minggu kemarin", d(2025, 7, 14), d(2025, 7, 21), "last week"),
        ("Apa yang diluncurkan bulan ini?", d(2025, 7, 1), None, "this month"),
        ("Apa yang diluncurkan bulan lalu?", d(2025, 6, 1), d(2025, 7, 1), "last month"),
        ("model terbuka terbaik tahun ini", d(2025, 1, 1), None, "this year"),
        ("regulasi AI tahun lalu", d(2024, 1, 1), d(2025, 1, 1), "last year"),
        ("Apa yang diumumkan Anthropic pada Juni 2025?", d(2025, 6, 1), d(2025, 7, 1), "June 2025"),
        ("berita Agustus 2024", d(2024, 8, 1), d(2024, 9, 1), "August 2024"),
        ("Apa yang terjadi pada tahun 2024?", d(2024, 1, 1), d(2025, 1, 1), "2024"),
        ("rilis pada bulan Mei", d(2025, 5, 1), d(2025, 6, 1), "May 2025"),
        ("Apa yang dirilis Mistral sejak Maret?", d(2025, 3, 1), None, "since Mar 1, 2025"),
        ("berita sejak 2025-03-01", d(2025, 3, 1), None, "since Mar 1, 2025"),
        ("model dalam 3 hari terakhir", NOW - timedelta(days=3), None, "the past 3 days"),
        ("dua minggu terakhir", NOW - timedelta(weeks=2), None, "the past 2 weeks"),
        ("berita sebulan terakhir", d(2025, 6, 24, 15, 30), None, "the past month"),
        ("ada apa sejak minggu lalu?", d(2025, 7, 14), None, "since Jul 14, 2025"),
    ],
)
def test_windows(question: str, since: datetime | None, until: datetime | None, label: str) -> None:
    w = parse_time_window(question, NOW)
    assert (w.since, w.until, w.label) == (since, until, label)
    assert w.bounded
    assert w.matched and w.matched.lower() in question.lower()


def test_month_without_year_is_the_latest_one_that_began() -> None:
    # December has not begun in 2025 by July: it means December 2024.
    w = parse_time_window("What happened in December?", NOW)
    assert (w.since, w.until, w.label) == (d(2024, 12, 1), d(2025, 1, 1), "December 2024")
    w = parse_time_window("since November", NOW)
    assert w.since == d(2024, 11, 1)
    w = parse_time_window("What happened in July?", NOW)
    assert (w.since, w.until) == (d(2025, 7, 1), d(2025, 8, 1))


def test_month_arithmetic_clamps_the_day() -> None:
    now = d(2025, 3, 31, 12)
    w = parse_time_window("past month", now)
    assert w.since == d(2025, 2, 28, 12)
    w = parse_time_window("last month", d(2025, 1, 15))
    assert (w.since, w.until) == (d(2024, 12, 1), d(2025, 1, 1))


def test_week_starts_on_monday_even_on_monday() -> None:
    monday = d(2025, 7, 21, 8)
    assert parse_time_window("this week", monday).since == d(2025, 7, 21)
    w = parse_time_window("last week", monday)
    assert (w.since, w.until) == (d(2025, 7, 14), d(2025, 7, 21))


@pytest.mark.parametrize(
    "question",
    [
        "What's the latest from Anthropic?",
        "newest open-weights models",
        "any recent news on Gemini?",
        "What has DeepMind published recently?",
        "What's new with Llama?",
        "Apa model open-weights terbaru?",
        "kabar terkini soal Gemini",
    ],
)
def test_recency_words_prefer_recent_without_a_window(question: str) -> None:
    w = parse_time_window(question, NOW)
    assert w.prefer_recent
    assert not w.bounded
    assert w.label == ""


def test_recency_word_and_window_together() -> None:
    w = parse_time_window("latest OpenAI news this week", NOW)
    assert w.prefer_recent and w.since == d(2025, 7, 21) and w.label == "this week"


@pytest.mark.parametrize(
    "question",
    [
        "What is GPT-4.1?",
        "How many parameters does Llama 3.1 405B have?",
        "Who leads the marketing team at Mistral?",  # "mar" inside a word is not March
        "Qwen3-235B-A22B benchmark results",
        "¿Qué es Gemini 2.5 Pro?",
        "Siapa pendiri startup di balik model Cendana?",
        "Berapa biaya melatih model itu?",  # "melatih" holds no month
        "Kapan pemilu desa dimulai?",  # "des" inside a word is not Desember
        "",
    ],
)
def test_no_time_expression_gives_an_empty_window(question: str) -> None:
    assert parse_time_window(question, NOW) == TimeWindow()


def test_naive_now_is_utc_and_results_are_aware() -> None:
    w = parse_time_window("today", datetime(2025, 7, 24, 1, 0))
    assert w.since == d(2025, 7, 24)
    assert w.since is not None and w.since.tzinfo is not None


def test_other_timezone_now_is_converted() -> None:
    # 01:00 on Jul 25 at UTC+2 is 23:00 on Jul 24 UTC.
    now = datetime(2025, 7, 25, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    assert parse_time_window("today", now).since == d(2025, 7, 24)


def test_phrase() -> None:
    w = parse_time_window("last week", NOW)
    assert w.phrase == "from last week"
    assert parse_time_window("since March", NOW).phrase == "since Mar 1, 2025"
    assert TimeWindow().phrase == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-06-01", d(2025, 6, 1)),
        ("2025-06-01T10:00:00Z", d(2025, 6, 1, 10)),
        ("7d", NOW - timedelta(days=7)),
        ("2w", NOW - timedelta(weeks=2)),
        ("12h", NOW - timedelta(hours=12)),
        ("3m", d(2025, 4, 24, 15, 30)),
        ("1y", d(2024, 7, 24, 15, 30)),
        (" 7D ", NOW - timedelta(days=7)),
        ("yesterday", d(2025, 7, 23)),
        ("today", d(2025, 7, 24)),
        ("this week", d(2025, 7, 21)),
    ],
)
def test_parse_date_option(value: str, expected: datetime) -> None:
    got = parse_date_option(value, NOW)
    assert got == expected
    assert got.tzinfo is not None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty date"),
        ("soon", "invalid date 'soon'"),
        ("7 parsecs", "invalid date"),
        ("2025-13-01", "invalid date"),
        ("2030-01-01", "in the future"),
    ],
)
def test_parse_date_option_errors_are_one_clear_line(value: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_date_option(value, NOW)
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    if "invalid" in message or "empty" in message:
        assert "YYYY-MM-DD" in text and "7d" in text


@pytest.mark.parametrize("value", ["1000000000d", "99999999999999999999h", "3000y", "40000m"])
def test_ages_beyond_the_calendar_are_a_one_line_value_error(value: str) -> None:
    # OverflowError used to escape (CLI and Discord catch ValueError): a traceback.
    with pytest.raises(ValueError, match="too far back") as info:
        parse_date_option(value, NOW)
    assert "\n" not in str(info.value) and value in str(info.value)


def test_an_overflowing_age_in_a_question_is_no_window() -> None:
    assert parse_time_window("news in the past 1000000000 days", NOW).since is None
    assert parse_time_window("in the past 3 years", NOW).since == d(2022, 7, 24, 15, 30)
