"""bot.answer.understand: question → QueryPlan, without a corpus (a SourceDirectory built from
feed names, hosts and authors like the retriever builds it from the store)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.answer.directory import SourceDirectory
from bot.answer.understand import answer_type, understand
from bot.answer.versions import versions_in
from bot.models import Turn

NOW = datetime(2026, 8, 25, 12, tzinfo=UTC)
FEEDS = [
    "Simon Willison",
    "Simon Willison (08-16)",
    "Lil'Log",
    "The Batch",
    "AINews (smol.ai)",
    "Google DeepMind Blog",
    "Google DeepMind News",
    "OpenAI News",
    "OpenAI Research",
    "Armin Ronacher",
    "r/ClaudeAI",
]
HOSTS = {
    "Simon Willison": ["simonwillison.net"],
    "Lil'Log": ["lilianweng.github.io"],
    "The Batch": ["deeplearning.ai"],
    "AINews (smol.ai)": ["news.smol.ai"],
    "Google DeepMind Blog": ["deepmind.google"],
    "Armin Ronacher": ["lucumr.pocoo.org"],
}
AUTHORS = {
    "Simon Willison": {"Simon Willison": 30},
    "Armin Ronacher": {"Armin Ronacher": 10},
    "r/ClaudeAI": {"/u/OwlsExterminator": 1, "/u/someone_else": 1},
}
CAPITALIZED = {"deepmind", "openai", "anthropic", "gemini", "gemma", "willison", "smol"}
COMMON = {"batch", "deep", "learning", "news", "research", "blog", "generated", "style"}


@pytest.fixture(scope="module")
def directory() -> SourceDirectory:
    d = SourceDirectory.build(FEEDS, HOSTS, AUTHORS, CAPITALIZED, COMMON)
    d.name_words = {"gemma", "kimi", "lentera", "komdigi"}
    d.capitalized = CAPITALIZED | d.name_words
    return d


def plan(q: str, d: SourceDirectory, **kw: object):  # type: ignore[no-untyped-def]
    return understand(q, NOW, directory=d, **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- sources


def test_a_source_named_as_where_to_look_is_explicit_and_leaves_the_content(
    directory: SourceDirectory,
) -> None:
    for q in [
        "according to simon willison, how common is the affected datasette setup",
        "on Simon Willison's blog, how common is the affected datasette setup",
        "simon willison wrote about how common the affected datasette setup is?",
    ]:
        p = plan(q, directory)
        assert p.source_explicit, q
        assert set(p.source_feeds) == {"Simon Willison", "Simon Willison (08-16)"}
        assert "simon" not in p.content.lower() and "datasette" in p.content, p.content
        assert "blog" not in p.content.lower()


def test_a_lab_as_the_subject_is_only_a_preference(directory: SourceDirectory) -> None:
    p = plan("what did DeepMind release for weather forecasting", directory)
    assert p.sources and not p.source_explicit
    assert set(p.source_feeds) <= {"Google DeepMind Blog", "Google DeepMind News"}
    assert not p.listing


def test_common_words_and_hosts_do_not_pass_for_sources(directory: SourceDirectory) -> None:
    # "batch" is a common word; "deep learning" is not deeplearning.ai
    assert not plan("what batch size did they train with", directory).sources
    assert not plan("is deep learning hitting a wall", directory).sources
    assert plan("did the batch cover the new tariffs", directory).source_feeds == ("The Batch",)
    # ... and a year in a feed's name ("OpenAI News (2026)") is not a source either
    d2 = SourceDirectory.build(["OpenAI News (2026)"], capitalized={"openai"})
    assert not understand("who won in 2026", NOW, directory=d2).sources


def test_a_word_of_one_feed_name_narrows_between_a_labs_feeds(directory: SourceDirectory) -> None:
    assert plan("newest research post from openai", directory).source_feeds == ("OpenAI Research",)
    assert set(plan("latest from openai", directory).source_feeds) == {
        "OpenAI News",
        "OpenAI Research",
    }


def test_authors_and_bloggers_name_their_feeds(directory: SourceDirectory) -> None:
    p = plan("what did armin ronacher write about agent loops", directory)
    assert p.authors == ("Armin Ronacher",) and p.source_explicit
    assert plan("what's the newest post on armin's blog", directory).source_feeds == (
        "Armin Ronacher",
    )
    p = plan("OwlsExterminator's post about claude usage, which model was it", directory)
    assert p.source_feeds == ("r/ClaudeAI",) and p.authors == ("OwlsExterminator",)
    # the host of a one-person blog names it: "lilian weng" ~ lilianweng.github.io
    assert plan("latest from lilian weng?", directory).source_feeds == ("Lil'Log",)


@pytest.mark.parametrize(
    ("question", "listing"),
    [
        ("latest from lilian weng?", True),
        ("what's new from deepmind", True),
        ("newest post on the smol ai newsletter", True),
        ("simon willison's most recent posts?", True),
        ("what did the batch publish in november 2025", True),
        ("what did simon willison say about prompt injection", False),
        ("latest gemini model from deepmind and its context window", False),
        ("what's the newest model?", False),  # no source: a question, not a listing
    ],
)
def test_listing_intent(directory: SourceDirectory, question: str, listing: bool) -> None:
    assert plan(question, directory).listing is listing


def test_source_and_month_combine(directory: SourceDirectory) -> None:
    p = plan("what did the batch publish in november 2025", directory)
    assert p.listing and p.source_feeds == ("The Batch",)
    assert p.window.since == datetime(2025, 11, 1, tzinfo=UTC)
    assert p.window.until == datetime(2025, 12, 1, tzinfo=UTC)
    assert not p.topic


# --------------------------------------------------------------------------- what is asked


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("who is the ceo of the language learning app speak", "person"),
        ("siapa yang memimpin pendanaan seri A?", "person"),
        ("how many junior engineers took part in the study", "number"),
        ("what gpqa diamond score did it get", "number"),
        ("what does openai charge per million tokens", "money"),
        ("how much did it cost to train cendana 2", "money"),
        ("what did openai ship for fine-tuning in december", "any"),  # not a fine
        ("which low-cost model tops the leaderboard", "any"),  # "low-cost" asks no amount
        ("berapa biaya pelatihan Cendana 2?", "money"),
        ("By how much did the copilot cut diagnostic errors", "number"),  # a change, not a price
        ("How much did GPT-5 cut the cost of protein production", "number"),
        ("berapa GPU yang dipakai", "number"),
        ("when is ICLR 2026 happening", "date"),
        ("kapan aturan itu berlaku?", "date"),
        ("ICLR 2026 dates?", "date"),
        ("release date for claude opus 6?", "date"),
        ("which model did openai use to explain neurons", "model"),
        ("whats the benchmark where two agents invent a number system", "model"),
        ("langchain's no-code agent builder, name?", "model"),
        ("which company put out an agents api", "org"),
        ("who released the new open model", "org"),
        ("where was the first major AI conference in Africa held", "place"),
        ("did an AI really disprove an old conjecture", "any"),
    ],
)
def test_answer_type(question: str, kind: str) -> None:
    assert answer_type(question) == kind


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("has GPT-7 shipped?", [("gpt", "7")]),
        ("what can Claude 9 do", [("claude", "9")]),
        ("is gemma 5 out yet", [("gemma", "5")]),  # lowercase, but a known name
        ("whats changed in llm 0.34", [("llm", "0.34")]),  # a dotted number is a version
        ("has kimi k4 dropped?", [("kimi k", "4")]),
        ("deepseek v5 benchmarks", [("deepseek", "5")]),
        ("how many people went to NeurIPS 2026", [("neurips", "2026")]),
        ("who won the 2026 turing award", [("turing", "2026")]),
        ("how much did it raise in its series B?", [("series", "b")]),
        ("the top 5 models in march", []),
        ("apa yang dirilis pada Maret 2026", []),  # a month in Indonesian is no product either
        ("berita Agustus 2025 tentang Qwen", []),
        ("what happened in 2025", []),
        ("it costs 10 dollars", []),
    ],
)
def test_versions(text: str, expected: list[tuple[str, str]]) -> None:
    known = frozenset({"gemma", "kimi", "deepseek", "turing", "maret", "agustus"})
    assert versions_in(text, known) == expected


def test_names_from_a_lowercase_question_come_from_the_corpus_vocabulary(
    directory: SourceDirectory,
) -> None:
    p = plan("how much did lentera raise from komdigi", directory)
    assert {"lentera", "komdigi"} <= set(p.names)
    # short ones ("SF") and compounds of common words ("AI-generated") are not what is asked
    p = plan("when must AI-generated videos in SF be labelled", directory)
    assert p.names == ()


def test_recently_is_the_past_month(directory: SourceDirectory) -> None:
    p = plan("what has anthropic announced recently", directory)
    assert p.window.bounded and p.window.since is not None
    assert (NOW - p.window.since).days == 31
    # an explicit window wins
    assert plan("what did deepmind post recently in march 2026", directory).window.label == (
        "March 2026"
    )


def test_follow_up_keeps_the_previous_question(directory: SourceDirectory) -> None:
    history = [Turn("What is Gemini Robotics?", "Gemini Robotics is ... [1]")]
    p = plan("and what license is it under?", directory, history=history)
    assert p.follow_up and p.query.startswith("What is Gemini Robotics?")
    assert "license" in p.content


def test_a_feed_is_known_by_its_own_channel_title() -> None:
    """The operator's short names ("lilianweng", "aisi", "claude-reddit") say nothing a user
    would type; the feeds' own titles do ("Lil'Log", "AISI", "r/ClaudeAI")."""
    titles = {
        "lilianweng": "Posts on Lil'Log",
        "aisi": "AISI Blog (AI Security Institute)",
        "claude-reddit": "top scoring links : ClaudeAI",
        "batch": "The Batch | DeepLearning.AI",
    }
    hosts = {"aisi": ["aisi.gov.uk"]}
    d = SourceDirectory.build(list(titles), hosts, titles=titles, capitalized={"claudeai", "aisi"})
    assert plan("what's the newest post on Lil'Log?", d).source_feeds == ("lilianweng",)
    assert plan("latest from the UK AISI blog", d).source_feeds == ("aisi",)
    # "UK" names the publication (its site is aisi.gov.uk): no topic is left to filter by
    uk = plan("What's the latest post on the UK AI Security Institute (AISI) blog?", d)
    assert uk.listing and uk.source_feeds == ("aisi",) and uk.topic == ()
    assert plan("what are people saying on r/ClaudeAI about rate limits", d).source_feeds == (
        "claude-reddit",
    )
    assert plan("what did The Batch say about agents", d).source_feeds == ("batch",)
    # the words of a title that only say what kind of thing it is are no source on their own
    assert not plan("any good posts on scaling laws?", d).sources


def test_a_name_inside_a_hyphenated_name_is_no_product_version() -> None:
    """ "cde-small-v1" is one model's name, not a product "small" at version 1; names that start
    a token keep their versions however they are written."""
    assert versions_in("what is cde-small-v1 good for?") == []
    assert versions_in("is text-embedding-3 better than bge?") == []
    assert ("deepseek", "3.1") in versions_in("what's new in deepseek v3.1?", {"deepseek"})
    assert ("deepseek", "3.1") in versions_in("DeepSeek-V3.1 benchmarks")
    assert ("gpt", "5") in versions_in("how much does GPT-5 cost?")


def test_weekdays_and_months_are_when_not_what(directory: SourceDirectory) -> None:
    # "on Tuesday" is the window; a weekday or month elsewhere is still no name to look for
    p = plan("On Tuesday, UK newspapers ran a shared warning about what?", directory)
    assert p.window.label.startswith("since") and "tuesday" not in p.names
    p = plan("what did the Wednesday keynote of Google I/O show about Gemini", directory)
    assert "wednesday" not in p.names and "gemini" in p.names
    assert "march" not in plan("which model beat GPT-5 in March", directory).names
