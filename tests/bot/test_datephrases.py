"""Days named in questions (bot.datephrases, through bot.timeparse.parse_time_window)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.datephrases import REPORTING_LAG, calendar_words, format_day, named_days
from bot.timeparse import parse_time_window

# Thursday, July 24, 2025, 15:30 UTC
NOW = datetime(2025, 7, 24, 15, 30, tzinfo=UTC)


def d(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


@pytest.mark.parametrize(
    ("question", "since", "until", "label"),
    [
        # day ranges, month first or day first, with or without a year, in both languages
        ("what went up the week of July 14-20, 2025?", d(2025, 7, 14), d(2025, 7, 21),
         "Jul 14, 2025 to Jul 20, 2025"),
        ("news from 3 to 9 March 2025", d(2025, 3, 3), d(2025, 3, 10),
         "Mar 3, 2025 to Mar 9, 2025"),
        ("between March 3 and March 10, 2025?", d(2025, 3, 3), d(2025, 3, 11),
         "Mar 3, 2025 to Mar 10, 2025"),
        ("Dec 28 - Jan 3 recap", d(2024, 12, 28), d(2025, 1, 4), "Dec 28, 2024 to Jan 3, 2025"),
        ("berita 3-5 Juni", d(2025, 6, 3), d(2025, 6, 6), "Jun 3, 2025 to Jun 5, 2025"),
        # one day; without a year, the latest such day up to now
        ("what did OpenAI ship on March 5th, 2025?", d(2025, 3, 5), d(2025, 3, 6), "Mar 5, 2025"),
        ("GPT-5 on 7 August", d(2024, 8, 7), d(2024, 8, 8), "Aug 7, 2024"),
        ("apa yang dirilis pada 12 Maret 2025", d(2025, 3, 12), d(2025, 3, 13), "Mar 12, 2025"),
        ("the 5th of March", d(2025, 3, 5), d(2025, 3, 6), "Mar 5, 2025"),
        # a weekday: the latest one up to today ("last" one before today), to now
        ("stocks fell on Monday after the launch", d(2025, 7, 21), None, "since Jul 21, 2025"),
        ("what happened on Thursday", d(2025, 7, 24), None, "since Jul 24, 2025"),
        ("what happened last Thursday", d(2025, 7, 17), None, "since Jul 17, 2025"),
        ("ada apa Selasa lalu", d(2025, 7, 22), None, "since Jul 22, 2025"),
    ],
)  # fmt: skip
def test_named_days(question: str, since: datetime, until: datetime | None, label: str) -> None:
    w = parse_time_window(question, NOW)
    assert (w.since, w.until, w.label) == (since, until, label)
    assert w.matched and w.matched in question
    # a search for the news of named days runs past them: it is reported later
    assert w.reported_until == (None if until is None else until + REPORTING_LAG)


@pytest.mark.parametrize(
    "question",
    [
        "is qwen 3 better than llama 3",
        "claude sonnet 4 vs gemini 2 on coding",
        "Models released in the past 3 days",  # a relative window, not a day
        "what is Monday.com doing with agents",
        "what did the Wednesday keynote of Google I/O show",  # attributive, not a time
        "may I ask what gpt-5 can do",
        "the march of progress in robotics",
        "gpt-4 vs claude 3 to 5 times faster",
        "who founded 01.AI?",
    ],
)
def test_no_day_named(question: str) -> None:
    assert named_days(question, NOW) is None


def test_future_days_are_not_read_as_this_year() -> None:
    # "Dec 5" asked in July is last December's, not a day that has not come yet
    w = parse_time_window("what happened Dec 5", NOW)
    assert (w.since, w.until) == (d(2024, 12, 5), d(2024, 12, 6))


def test_month_and_relative_rules_still_apply() -> None:
    assert parse_time_window("in March 2025", NOW).label == "March 2025"
    assert parse_time_window("what happened this week", NOW).label == "this week"
    assert parse_time_window("minggu lalu", NOW).label == "last week"
    # a closed period's news is searched with the lag too; an open window ends now anyway
    assert parse_time_window("in March 2025", NOW).lag == REPORTING_LAG
    assert parse_time_window("what happened this week", NOW).lag == timedelta(0)
    assert parse_time_window("before 2025-03-01", NOW).lag == timedelta(0)  # said explicitly


@pytest.mark.parametrize(
    "question",
    ["In late December, Google issued a code red", "pada akhir Desember", "in mid-December"],
)
def test_part_of_a_month_is_that_month(question: str) -> None:
    w = parse_time_window(question, NOW)
    assert (w.since, w.until, w.label) == (d(2024, 12, 1), d(2025, 1, 1), "December 2024")


def test_calendar_words_are_month_and_weekday_names_of_both_languages() -> None:
    words = calendar_words()
    assert {"monday", "tuesday", "march", "maret", "selasa", "agustus"} <= words
    assert "minggu" not in words  # Sunday, but also "week": "minggu lalu" is last week
    assert not words & {"mon", "mar", "may"}  # abbreviations and "may" are also ordinary words


@pytest.mark.parametrize(
    ("question", "label"),
    [
        ("Which tech boss said this week he will leave the company he has led since 2011?",
         "this week"),
        ("what did the lab say last month about the model it has sold since 2023", "last month"),
        ("since March 2024: what changed", "since Mar 1, 2024"),  # one phrase, read by one rule
    ],
)  # fmt: skip
def test_the_narrowest_of_several_time_phrases_is_the_window(question: str, label: str) -> None:
    assert parse_time_window(question, NOW).label == label


@pytest.mark.parametrize(
    ("question", "now", "since"),
    [
        ("what happened over the weekend", NOW, d(2025, 7, 19)),  # asked on a Thursday
        ("apa yang terjadi akhir pekan lalu", NOW, d(2025, 7, 19)),
        ("news from this weekend", datetime(2025, 7, 26, 9, tzinfo=UTC), d(2025, 7, 26)),
        ("what happened last weekend", datetime(2025, 7, 26, 9, tzinfo=UTC), d(2025, 7, 19)),
    ],
)
def test_a_weekend_is_its_saturday_and_sunday(
    question: str, now: datetime, since: datetime
) -> None:
    w = parse_time_window(question, now)
    assert (w.since, w.until) == (since, since + timedelta(days=2))
    assert w.lag == REPORTING_LAG  # its news comes on the Monday
    assert named_days("the weekend of 1/19-20/2024 in the Discord", NOW) is None  # dates named


@pytest.mark.parametrize(
    ("question", "since", "until", "label"),
    [
        ("what has Mistral shipped since March 5?", d(2025, 3, 5), None, "since Mar 5, 2025"),
        ("anything before March 5, 2025?", None, d(2025, 3, 5), "before Mar 5, 2025"),
        ("sejak 12 Maret 2025 ada apa", d(2025, 3, 12), None, "since Mar 12, 2025"),
        ("what changed since Monday", d(2025, 7, 21), None, "since Jul 21, 2025"),
    ],
)
def test_since_or_before_a_named_day_is_open_on_one_side(
    question: str, since: datetime | None, until: datetime | None, label: str
) -> None:
    w = parse_time_window(question, NOW)
    assert (w.since, w.until, w.label) == (since, until, label)
    assert w.lag == timedelta(0)  # said explicitly: no reporting lag


def test_format_day() -> None:
    assert format_day(d(2025, 7, 4)) == "Jul 4, 2025"
