"""Feed text in Discord renders as text (issue 23.2): bot.discord.safe_text, used by every
surface, leaves no link, spoiler, heading, timestamp, command mention or bold of a feed's own."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from discordbot import LIVE, live_markup

from bot.answer.llm_answer import restrict_links
from bot.discord.render import render_answer, source_line
from bot.discord.render_stories import story_line
from bot.discord.safe_text import escape_answer, escape_markdown, escape_text
from bot.models import Answer, Source
from ingest.store.stories import Story, StoryArticle

HOSTILE_TITLE = (
    "# Quibbleworks ships [Quibble-7 weights here](https://evil.example/login) today "
    "||spoilers|| <https://evil.example/auto> <t:0:R> </ask:123> <:pwn:1> **bold** "
    "HTTPS://EVIL.EXAMPLE/LOGIN @everyone <@123>"
)
WHEN = datetime(2025, 12, 1, tzinfo=UTC)


def test_every_kind_of_markup_is_escaped_and_reads_the_same() -> None:
    assert live_markup(HOSTILE_TITLE) == list(LIVE)  # the checker sees each kind
    out = escape_markdown(HOSTILE_TITLE)
    assert live_markup(out) == []
    # Discord drops a backslash before punctuation: what is read is the original text
    assert re.sub(r"\\([^A-Za-z0-9\s])", r"\1", out).replace("\u200b", "") == HOSTILE_TITLE
    multi = escape_text("# Heading\n-# small\n> quote\n- item\n  + item")
    assert live_markup(multi) == [] and multi.splitlines()[3] == "\\- item"


def test_an_answer_keeps_its_citation_markers_and_nothing_else_of_the_feeds() -> None:
    text = f"{HOSTILE_TITLE} [1]. More [2, 3].\n# not a heading"
    out = escape_answer(text)
    assert out.count("[1]") == 1 and "[2, 3]" in out
    assert live_markup(out) == []


def test_rendered_answers_sources_and_stories_carry_no_feed_markup() -> None:
    source = Source(1, "a", HOSTILE_TITLE, "https://q.example/7", "quibble", WHEN)
    answer = Answer("what shipped?", f"(Dec 1) {HOSTILE_TITLE} [1]", (source,), WHEN, True)
    [payload] = render_answer(answer)
    everything = "\n".join(
        [e.description or "" for e in payload.embeds]
        + [f.value or "" for e in payload.embeds for f in e.fields]
    )
    assert live_markup(everything, ("https://q.example/7",)) == []
    assert "](https://q.example/7)" in source_line(source)  # the bot's own citation link
    article = StoryArticle("a", "https://q.example/7", HOSTILE_TITLE, "quibble", WHEN)
    story = Story(1, HOSTILE_TITLE, WHEN, WHEN, (article,))
    assert live_markup(story_line(story), ("https://q.example/7",)) == []


def test_links_an_llm_writes_in_another_case_are_removed() -> None:
    text = "Get it [1] at HTTPS://EVIL.EXAMPLE/LOGIN or Https://evil.example/x now."
    out = restrict_links(text, ["https://q.example/7"])
    assert "EVIL" not in out.upper() and "[1]" in out
