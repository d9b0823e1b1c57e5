"""Rendering answers and lists into Discord payloads: every limit respected, nothing cut badly."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import discord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.discord.layout import (
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    EMBEDS_PER_MESSAGE,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    FIELDS_PER_EMBED,
    FOOTER_LIMIT,
    TITLE_LIMIT,
    Payload,
    dlen,
    embed_length,
    safe_url,
    split_text,
    text_payloads,
    trim,
)
from bot.discord.render import render_answer, render_sources, render_status, source_line
from bot.discord.render_stories import render_story_list
from bot.discord.safe_text import ZWSP, neutralize_mentions
from bot.models import Answer, CorpusStats, Source
from ingest.models import FeedState
from ingest.store.stories import Story, StoryArticle

DAY = datetime(2025, 7, 24, 12, 0, tzinfo=UTC)
CITATION = re.compile(r"\[\d+\]")
LINK = re.compile(r"\[(?:\\.|[^\[\]\\\n])*\]\([^()\s]*\)")


def src(n: int, title: str = "Gemini 2.5 ships", url: str | None = None, feed: str = "deepmind"):
    return Source(
        n=n,
        article_id=f"a{n}",
        title=title,
        url=url if url is not None else f"https://example.com/posts/{n}",
        feed=feed,
        published=DAY,
    )


def answer(text: str, sources=(), **kw) -> Answer:
    defaults = dict(question="What did DeepMind ship?", as_of=DAY, answered=True)
    defaults.update(kw)
    return Answer(text=text, sources=tuple(sources), **defaults)  # type: ignore[arg-type]


def assert_within_limits(payloads: list[Payload]) -> None:
    assert payloads, "nothing to send"
    for p in payloads:
        assert p.content or p.embeds, "empty message"
        assert dlen(p.content) <= CONTENT_LIMIT
        assert len(p.embeds) <= EMBEDS_PER_MESSAGE
        assert sum(embed_length(e) for e in p.embeds) <= EMBED_TOTAL_LIMIT
        for e in p.embeds:
            assert dlen(e.title) <= TITLE_LIMIT
            assert dlen(e.description) <= DESCRIPTION_LIMIT
            assert len(e.fields) <= FIELDS_PER_EMBED
            assert dlen(e.footer.text) <= FOOTER_LIMIT
            for f in e.fields:
                assert 0 < dlen(f.name) <= FIELD_NAME_LIMIT
                assert 0 < dlen(f.value) <= FIELD_VALUE_LIMIT
            # what discord.py itself would send must also be within its own counting
            assert len(e) <= EMBED_TOTAL_LIMIT
            assert e.title or e.description or e.fields or e.footer.text


def descriptions(payloads: list[Payload]) -> str:
    return "\n".join(e.description or "" for p in payloads for e in p.embeds)


def field_values(payloads: list[Payload]) -> list[str]:
    return [f.value for p in payloads for e in p.embeds for f in e.fields]


# ---------------------------------------------------------------------------- answers
def test_answer_embed_has_text_numbered_linked_sources_and_footer() -> None:
    a = answer("DeepMind released Gemini 2.5 [1] and Genie 3 [2].", [src(1), src(2, "Genie 3")])
    [payload] = render_answer(a)
    [embed] = payload.embeds
    assert embed.title == "What did DeepMind ship?"
    assert embed.description == "DeepMind released Gemini 2.5 [1] and Genie 3 [2]."
    [field] = embed.fields
    assert field.name == "Sources"
    assert field.value.splitlines() == [
        "[1] [Gemini 2.5 ships](https://example.com/posts/1) — deepmind, 2025-07-24",
        "[2] [Genie 3](https://example.com/posts/2) — deepmind, 2025-07-24",
    ]
    assert embed.footer.text == "as of 2025-07-24 · extractive"
    assert_within_limits([payload])


def test_not_answered_shows_closest_articles_and_note() -> None:
    a = answer(
        "I couldn't find that in the news I have.",
        answered=False,
        closest=(src(1, "Nearby story"),),
        note="the LLM was unreachable; extractive answer",
        backend="extractive",
    )
    [payload] = render_answer(a)
    [embed] = payload.embeds
    assert embed.fields[0].name == "Closest articles"
    assert "Nearby story" in embed.fields[0].value
    assert embed.description.endswith("-# ℹ️ the LLM was unreachable; extractive answer")
    assert embed.colour != render_answer(answer("x [1]", [src(1)]))[0].embeds[0].colour


def test_answer_without_as_of_or_sources() -> None:
    [payload] = render_answer(answer("Nothing yet.", as_of=None, answered=False))
    [embed] = payload.embeds
    assert embed.fields == []
    assert embed.footer.text == "as of no articles yet · extractive"


def test_feed_titles_are_escaped_and_mentions_defused() -> None:
    title = "**Big** _news_ for @everyone: [click](https://evil.example) <@&123> `code` ~x~ |y|"
    a = answer(
        "Ping @everyone and @here and <@123> and <@&456> [1].",
        [src(1, title, feed="feed_with_*stars*")],
        question="@here what about <@&999>?",
    )
    [payload] = render_answer(a)
    [embed] = payload.embeds
    assert "@everyone" not in embed.description and "@here" not in embed.description
    assert f"@{ZWSP}everyone" in embed.description
    assert "<@123>" not in embed.description and "<@&456>" not in embed.description
    assert "@here" not in embed.title and "<@&999>" not in embed.title
    line = embed.fields[0].value
    assert "**Big**" not in line and "\\*\\*Big\\*\\*" in line
    assert "\\[click\\]" in line  # the feed's fake link is not a link
    assert "feed\\_with\\_\\*stars\\*" in line
    assert "@everyone" not in line


def test_urls_are_made_safe_or_not_linked() -> None:
    assert safe_url("https://en.wikipedia.org/wiki/Foo_(bar)") == (
        "https://en.wikipedia.org/wiki/Foo_%28bar%29"
    )
    assert safe_url("file:///etc/passwd") is None
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("https://x.example/" + "a" * 2000) is None
    line = source_line(src(3, "Local", url="/tmp/feed.xml"))
    assert line == "[3] Local — deepmind, 2025-07-24"


def test_source_line_stays_within_a_field_whatever_the_feed_says() -> None:
    s = src(7, "T" * 5000, url="https://x.example/" + "p" * 590, feed="F" * 3000)
    line = source_line(s)
    assert dlen(line) <= FIELD_VALUE_LIMIT
    assert line.startswith("[7] ")


def test_long_answer_is_split_within_limits_keeping_citations() -> None:
    sentence = "OpenAI released a model with a long name that matters [{}]. "
    text = "".join(sentence.format(i % 40 + 1) for i in range(900))  # ~55,000 chars
    sources = [src(i, f"Article number {i} " + "x" * 150) for i in range(1, 41)]
    payloads = render_answer(answer(text, sources))
    assert len(payloads) > 1
    assert_within_limits(payloads)
    assert CITATION.findall(descriptions(payloads)) == CITATION.findall(text)
    lines = [ln for v in field_values(payloads) for ln in v.splitlines()]
    assert [ln.split(" ", 1)[0] for ln in lines] == [f"[{i}]" for i in range(1, 41)]
    # the title is on the first embed only, the footer on the last one only
    embeds = [e for p in payloads for e in p.embeds]
    assert embeds[0].title and not any(e.title for e in embeds[1:])
    assert embeds[-1].footer.text and not any(e.footer.text for e in embeds[:-1])


def test_many_sources_spill_into_more_fields_and_embeds() -> None:
    sources = [src(i, "Ü" * 180, url="https://x.example/" + "q" * 500) for i in range(1, 121)]
    payloads = render_answer(answer("Short [1].", sources))
    assert_within_limits(payloads)
    names = [f.name for p in payloads for e in p.embeds for f in e.fields]
    assert names[0] == "Sources" and all(n == "Sources (cont.)" for n in names[1:])
    text = "\n".join(field_values(payloads))
    assert all(f"[{i}] " in text for i in range(1, 121))


def test_split_prefers_paragraphs_and_never_cuts_links() -> None:
    link = "[a long link label](https://example.com/a/very/long/path)"
    text = ("word " * 30 + link + " ") * 20 + "\n\n" + "tail [12]"
    pieces = split_text(text, 200)
    assert all(dlen(p) <= 200 for p in pieces)
    assert sum(p.count(link) for p in pieces) == 20
    assert pieces[-1].endswith("tail [12]")


def test_split_counts_astral_characters_twice() -> None:
    text = "😀" * 3000
    pieces = split_text(text, 1000)
    assert all(dlen(p) <= 1000 for p in pieces)
    assert "".join(pieces) == text


def test_trim_and_text_payloads() -> None:
    assert trim("abcdef", 4) == "abc…"
    assert trim("abc", 4) == "abc"
    assert trim("ab\\*cd", 4) == "ab…"  # never leaves a dangling backslash
    payloads = text_payloads("x " * 3000)
    assert len(payloads) == 3
    assert_within_limits(payloads)


def test_neutralize_mentions() -> None:
    out = neutralize_mentions("@everyone @Here <@1> <@!2> <@&3>")
    assert "@everyone" not in out and "@Here" not in out
    assert not re.search(r"<@[!&]?\d", out)


# ---------------------------------------------------------------------------- lists
def story(i: int, title: str, url: str, feeds: tuple[str, ...], when: datetime | None) -> Story:
    """A story of one article per feed (each on its own host)."""
    articles = tuple(
        StoryArticle(f"a{i}-{n}", url.replace("x.example", f"x{n}.example"), title, f, when, (f,))
        for n, f in enumerate(feeds)
    )
    return Story(i, title, when or DAY, when or DAY, articles)


def test_latest_list_is_compact_with_dates_and_links() -> None:
    stories = [story(i, f"Story {i} *", f"https://x.example/{i}", ("deepmind", "hn"), DAY)
               for i in range(20)]  # fmt: skip
    [payload] = render_story_list(stories, topic="gemini", feed="deepmind")
    [embed] = payload.embeds
    assert embed.title == "Latest stories about gemini from deepmind"
    first = embed.description.splitlines()[0]
    assert first == "`2025-07-24` [Story 0 \\*](https://x0.example/0) — deepmind · 2 sources"
    assert len(embed.description.splitlines()) == 20


def test_latest_with_huge_titles_failing_feeds_and_empty() -> None:
    stories = [story(i, "T" * 900, "https://x.example/" + "u" * 500, ("f" * 300,), None)
               for i in range(20)]  # fmt: skip
    payloads = render_story_list(stories)
    assert_within_limits(payloads)
    assert sum(len(e.description.splitlines()) for p in payloads for e in p.embeds) == 20
    [empty] = render_story_list([])
    assert "No stories found" in empty.embeds[0].description
    [failing] = render_story_list(stories[:2], feed="lab", problems=["lab is failing *"])
    lines = failing.embeds[0].description.splitlines()
    assert lines[:2] == ["⚠️ lab is failing \\*", "Showing the older articles I have from it."]
    assert len(lines) == 4 and failing.embeds[0].colour != empty.embeds[0].colour


def test_sources_and_status_embeds() -> None:
    states = [
        FeedState(name="ok-feed", last_success=DAY, articles_total=12),
        FeedState(
            name="bad_feed",
            last_success=None,
            last_error="HTTP 429 Too Many Requests @everyone",
            consecutive_failures=3,
        ),
    ]
    [payload] = render_sources(states)
    [embed] = payload.embeds
    lines = embed.description.splitlines()
    assert lines[0].startswith("⚠️ **bad\\_feed**")
    assert "3 failures in a row" in embed.description and "@everyone" not in embed.description
    assert "✅ **ok-feed** — 12 articles · last success 2025-07-24 12:00 UTC" in embed.description
    assert embed.footer.text == "2 feeds · 1 failing"
    many = [FeedState(name=f"feed-{i}", last_error="e" * 500) for i in range(200)]
    assert_within_limits(render_sources(many))

    stats = CorpusStats(
        articles=330,
        chunks=1200,
        feeds=10,
        newest=DAY,
        oldest=None,
        last_ingest=DAY,
        embedding_model="all-MiniLM-L6-v2",
        extra={"llm": "none"},
    )
    [payload] = render_status(stats, [("Scheduled ingest", "every 60 min")])
    fields = {f.name: f.value for f in payload.embeds[0].fields}
    assert fields["Articles"] == "330"
    assert fields["Oldest article"] == "never"
    assert fields["Embedding model"] == "all-MiniLM-L6-v2"
    assert fields["LLM backend"] == "none"
    assert fields["Scheduled ingest"] == "every 60 min"
    assert isinstance(payload.embeds[0], discord.Embed)


# ---------------------------------------------------------------------------- properties
_words = st.sampled_from(
    ["the", "model", "Gemini", "*bold*", "_x_", "@everyone", "<@&42>", "😀", "é", "\\", "`"]
)
_citation = st.integers(1, 60).map(lambda n: f"[{n}]")
_link = st.tuples(st.text("abc ", min_size=1, max_size=30), st.text("xyz/", max_size=80)).map(
    lambda t: f"[{t[0]}](https://e.example/{t[1]})"
)
_url = st.text("abcdef/?=", max_size=120).map(lambda s: f"https://u.example/{s}")
_sep = st.sampled_from([" ", " ", " ", "\n", "\n\n", ". ", ", "])
_token = st.one_of(_words, _citation, _link, _url, st.text(max_size=12))
_text = st.lists(st.tuples(_token, _sep), max_size=400).map(
    lambda parts: "".join(a + b for a, b in parts)
)
_long_text = st.tuples(_text, st.integers(1, 40)).map(lambda t: t[0] * t[1])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_text, limit=st.integers(200, 600))
def test_split_text_properties(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    assert all(0 < dlen(p) <= limit for p in pieces)
    # nothing lost but whitespace at the cuts
    assert "".join("".join(p.split()) for p in pieces) == "".join(text.split())
    # every citation and every link survives whole, in order
    assert CITATION.findall("\n".join(pieces)) == CITATION.findall(text)
    assert [m for p in pieces for m in LINK.findall(p)] == LINK.findall(text)


_source = st.builds(
    lambda n, title, url, feed: src(n, title, url, feed),
    st.integers(1, 99),
    st.text(max_size=400),
    st.one_of(_url, st.text(max_size=50), st.just("https://x.example/" + "z" * 700)),
    st.text(max_size=120),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=_long_text,
    question=st.text(max_size=1200),
    sources=st.lists(_source, max_size=60),
    note=st.one_of(st.none(), st.text(max_size=700)),
    answered=st.booleans(),
    backend=st.text(min_size=1, max_size=3000),
)
def test_render_answer_always_within_limits_and_keeps_citations(
    text: str, question: str, sources: list[Source], note: str | None, answered: bool, backend: str
) -> None:
    a = answer(
        text,
        sources if answered else (),
        question=question,
        note=note,
        answered=answered,
        closest=tuple(sources) if not answered else (),
        backend=backend,
    )
    payloads = render_answer(a)
    assert_within_limits(payloads)
    assert CITATION.findall(descriptions(payloads)) == CITATION.findall(text)
    lines = [ln for v in field_values(payloads) for ln in v.splitlines()]
    assert [int(ln[1 : ln.index("]")]) for ln in lines] == [s.n for s in sources]
    everything = descriptions(payloads) + "".join(field_values(payloads))
    assert "@everyone" not in everything.replace(f"@{ZWSP}", "")
