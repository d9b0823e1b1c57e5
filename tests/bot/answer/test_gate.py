"""bot.answer.gate.judge_passages over hand-built passages: which articles an answer may use."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.answer.directory import SourceDirectory
from bot.answer.gate import judge_passages
from bot.answer.rank import rank
from bot.answer.understand import understand
from bot.models import Hit

NOW = datetime(2026, 8, 25, 12, tzinfo=UTC)
DIRECTORY = SourceDirectory.build(
    ["OpenAI News", "Google DeepMind Blog", "AINews (smol.ai)"],
    {"OpenAI News": ["openai.com"], "Google DeepMind Blog": ["deepmind.google"]},
    {},
    {"openai", "deepmind", "grok", "jakarta", "london"},
    {"news", "blog"},
)


class Corpus:
    """What the gate asks the corpus: how often a term is mentioned, a family's versions."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts

    def count_mentions(self, term: str) -> int:
        """Texts holding the term's words in a row, as the keyword index's phrase query counts
        (words are runs of letters and digits: "GPT‑5" is "gpt 5", whatever the dash)."""
        return sum(f" {_words(term)} " in f" {_words(t)} " for t in self.texts)

    def versions_of(self, family: str) -> list[tuple[str, Hit]]:
        return []


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def hit(n: int, text: str, feed: str, sim: float) -> Hit:
    return Hit(f"c{n}", f"a{n}", text, text.split(".")[0], f"https://x.test/{n}", (feed,),
               NOW, 1.0 - n / 10, sim)  # fmt: skip


def judge(question: str, hits: list[Hit]) -> tuple[bool, str, list[str]]:
    plan = understand(question, NOW, directory=DIRECTORY)
    verdict = judge_passages(
        plan, rank(plan, hits), {h.chunk_id: h.similarity for h in hits},
        Corpus([h.text for h in hits]), 0.35,
    )  # fmt: skip
    return verdict.ok, verdict.reason, [a.head.article_id for a in verdict.use]


def test_a_lab_asked_about_must_be_named_by_the_article_used() -> None:
    # close in meaning (an office opening), but it never names OpenAI: not an answer about it
    office = hit(1, "Google DeepMind opens an office in Jakarta. The team will hire 50.",
                 "AINews (smol.ai)", 0.62)  # fmt: skip
    ok, reason, use = judge("did OpenAI open an office in Jakarta?", [office])
    assert not ok and reason == "names-absent" and not use
    # an article from the lab's own feed names it, whatever its words
    own = hit(2, "Our first office in Southeast Asia opens in Jakarta.", "OpenAI News", 0.62)
    ok, _, use = judge("did OpenAI open an office in Jakarta?", [office, own])
    assert ok and use == ["a2"]


def test_an_answer_about_a_version_uses_only_articles_that_name_it() -> None:
    grok4 = hit(1, "xAI launched Grok 4, trained on 100k H100 GPUs.", "AINews (smol.ai)", 0.7)
    grok2 = hit(2, "Grok 2 was trained on 20k GPUs, xAI said.", "AINews (smol.ai)", 0.5)
    ok, _, use = judge("how many GPUs did xAI use to train Grok 2?", [grok4, grok2])
    assert ok and use == ["a2"]
    # the corpus knows Grok 2, but none of the close passages is about it
    other = hit(3, "Grok 2 is on the leaderboard.", "AINews (smol.ai)", 0.1)
    ok, reason, use = judge("how many GPUs did xAI use to train Grok 2?", [grok4, other])
    assert not ok and reason == "version-missing" and not use


def test_a_demonym_is_known_when_the_corpus_writes_the_country() -> None:
    # "Indonesian" appears nowhere, "Indonesia" does: not an unknown name
    label = hit(1, "Platforms in Indonesia must label AI-generated content from 1 October 2026.",
                "AINews (smol.ai)", 0.6)  # fmt: skip
    ok, _, use = judge("from what date must Indonesian platforms label AI content?", [label])
    assert ok and use == ["a1"]


def test_a_few_words_naming_a_version_find_the_article_titled_by_it() -> None:
    # "ICLR 2026 dates?" is too short to be close in meaning to anything; the article titled by
    # the edition asked is still the one, when it is near the threshold
    text = "Research at ICLR 2026. Held April 23-27, 2026 in Rio."
    titled = Hit("c1", "a1", text, "Research at ICLR 2026", "https://x.test/1", ("Vector",),
                 NOW, 0.9, 0.26)  # fmt: skip
    other = hit(2, "ICLR 2024 in Vienna had 7,000 attendees.", "AINews (smol.ai)", 0.5)
    ok, _, use = judge("ICLR 2026 dates?", [titled, other])
    assert ok and use == ["a1"]
    far = Hit("c3", "a3", "Research at ICLR 2026.", "Research at ICLR 2026", "https://x.test/3",
              ("Vector",), NOW, 0.9, 0.1)  # fmt: skip
    ok, reason, _ = judge("ICLR 2026 dates?", [far, other])
    assert not ok and reason == "version-missing"


def test_a_version_written_with_a_non_breaking_hyphen_is_that_version() -> None:
    # OpenAI writes "GPT‑5" with U+2011; the version asked is there all the same
    article = hit(1, "Introducing GPT‑5 for developers: pricing and context.", "OpenAI News", 0.6)
    ok, _, use = judge("what did openai say about gpt-5 for developers", [article])
    assert ok and use == ["a1"]


def test_a_country_asked_about_must_be_named_however_close_the_article() -> None:
    # very close in meaning (an OpenAI office opening), but in another country: not an answer
    germany = hit(1, "OpenAI opens its first office in Germany, based in Munich.", "OpenAI News",
                  0.8)  # fmt: skip
    ok, _, use = judge("did OpenAI open an office in Brazil?", [germany])
    assert not ok and not use
    # the country in another of its names (here its Indonesian one) is named all the same
    assert judge("did OpenAI open an office in Germany?", [germany])[0]
    jerman = hit(2, "OpenAI membuka kantor pertamanya di Jerman.", "OpenAI News", 0.6)
    ok, _, use = judge("did OpenAI open an office in Germany?", [jerman])
    assert ok and use == ["a2"]


def test_a_big_city_asked_about_must_be_named_too() -> None:
    munich = hit(1, "OpenAI opens its first office in Germany, based in Munich.", "OpenAI News",
                 0.8)  # fmt: skip
    ok, _, use = judge("did OpenAI open an office in Jakarta?", [munich])
    assert not ok and not use
    assert judge("did OpenAI open an office in Munich?", [munich])[0]
    # a word that is a city's name only once normalised is no city ("Queens" → "queen")
    queen = hit(2, "The Queen's portrait was generated by an AI model from OpenAI.", "OpenAI News",
                0.8)  # fmt: skip
    assert judge("which OpenAI model made the Queen's portrait?", [queen])[0]
