"""Answers in the asker's language: detection (bot.language), the catalogue (bot.messages,
prompts/*_id.md) and the answer path's own words, dates and LLM instruction in Indonesian,
with English unchanged. Retrieval is test_answer's CorpusRetriever over hand-built articles
with the real embedding model."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime

import discord
import pytest
from answerkit import AS_OF, NOW, CorpusRetriever, ask, llm_answerer
from llmserver import ScriptedChatServer, scripted_llm_fixture  # noqa: F401 (fixture)

from bot.answer import Answerer
from bot.config import load_answer_settings
from bot.discord.render import render_answer
from bot.language import detect, detect_language, question_language, strip_names
from bot.messages import PHRASES, format_day, say, window_phrase
from bot.models import Answer, Source
from bot.prompts import REPO_PROMPTS
from bot.timeparse import TimeWindow
from ingest.embed import Embedder

slow = pytest.mark.slow  # the real embedding model


# ---------------------------------------------------------------------------- detection
@pytest.mark.parametrize(
    ("question", "lang"),
    [
        ("siapa CEO Anthropic?", "id"),
        ("kapan GPT-5 dirilis?", "id"),
        ("berapa GPU yang dipakai buat melatih cendana 2", "id"),
        ("denda maksimal buat platform yang nggak kasih label konten AI berapa?", "id"),
        ("apa itu mixture of experts?", "id"),
        ("who is Anthropic's CEO?", "en"),
        ("any new Indonesian language models?", "en"),
        ("GPT-4o vs o1?", "en"),  # names only: the bot's default
        ("Kimi K2", "en"),
        ("And OpenAI?", "en"),  # a follow-up: one short word besides the names
        ("Terus OpenAI?", "id"),
        ("explain Gemini 2.5 Flash", "en"),
        ("¿Cuántos parámetros tiene Kimi K2?", "en"),  # neither language: English
        ("Quel est le prix de Claude?", "en"),
        ("", "en"),
    ],
)
def test_question_language(question: str, lang: str) -> None:
    assert question_language(question) == lang


def test_names_are_left_out_and_the_function_word_hint_wins() -> None:
    assert strip_names("Apakah GPT-4o lebih murah dari Claude Sonnet?") == (
        "Apakah lebih murah dari"
    )
    assert detect("Kimi K2", hint="id") == "id"
    assert detect("Kimi K2 OpenAI GPT-5") == "en"


# ---------------------------------------------------------------------------- catalogue
def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def test_every_phrase_exists_in_both_languages_with_the_same_placeholders() -> None:
    for key, texts in PHRASES.items():
        assert set(texts) == {"en", "id"}, key
        assert _fields(texts["en"]) == _fields(texts["id"]), key
        assert texts["en"] != texts["id"] or key == "answer.sources", key


def test_every_indonesian_prompt_has_its_english_twin_with_the_same_placeholders() -> None:
    twins = sorted(REPO_PROMPTS.glob("*_id.md"))
    assert {p.stem for p in twins} >= {
        "no_answer_id", "no_answer_source_id", "no_answer_version_id", "no_answer_window_id",
        "listing_id", "too_long_id", "fallback_no_citations_id", "fallback_unavailable_id",
    }  # fmt: skip
    for path in twins:
        english = REPO_PROMPTS / path.name.replace("_id.md", ".md")
        assert english.is_file(), path
        assert _fields(path.read_text()) == _fields(english.read_text()), path


def test_dates_and_windows_in_both_languages() -> None:
    for dt, en, id_ in [
        (datetime(2026, 3, 12, tzinfo=UTC), "Mar 12, 2026", "12 Mar 2026"),
        (datetime(2025, 5, 1, tzinfo=UTC), "May 1, 2025", "1 Mei 2025"),
        (datetime(2025, 8, 17, tzinfo=UTC), "Aug 17, 2025", "17 Agu 2025"),
        (datetime(2025, 12, 31, tzinfo=UTC), "Dec 31, 2025", "31 Des 2025"),
    ]:
        assert (format_day(dt), format_day(dt, "id")) == (en, id_)
    assert (format_day(None), format_day(None, "id")) == ("undated", "tanpa tanggal")
    week = TimeWindow(datetime(2025, 7, 21, tzinfo=UTC), None, label="this week")
    assert window_phrase(week) == "from this week"
    assert window_phrase(week, "id") == "sejak 21 Jul 2025"
    july = TimeWindow(datetime(2025, 7, 1, tzinfo=UTC), datetime(2025, 8, 1, tzinfo=UTC))
    assert window_phrase(july, "id") == "antara 1 Jul 2025 dan 31 Jul 2025"
    assert say("too_long", "id", length=5, limit=3).startswith("Pertanyaan itu terlalu panjang")
    assert say("too_long", "fr", length=5, limit=3).startswith("That question is too long")


# ---------------------------------------------------------------------------- answers
@pytest.fixture(scope="module")
def retriever(embedder: Embedder) -> CorpusRetriever:
    from answerkit import CORPUS

    return CorpusRetriever(embedder, CORPUS)


@pytest.fixture(scope="module")
def answerer(embedder: Embedder) -> Answerer:
    return Answerer(load_answer_settings(), embedder)


@slow
def test_indonesian_question_gets_an_indonesian_decline(
    answerer: Answerer, retriever: CorpusRetriever
) -> None:
    ans = ask(answerer, retriever, "Apa ibu kota Prancis?")
    assert not ans.answered and ans.language == "id" and ans.closest
    assert ans.text == (
        "Saya tidak menemukan jawabannya di sumber saya (feed berita AI, artikel terbaru dari "
        "22 Jul 2025), jadi saya tidak akan menebak. Artikel terdekat yang saya punya ada di "
        "bawah."
    )
    english = ask(answerer, retriever, "What is the capital of France?")
    assert english.language == "en" and english.text.startswith("I couldn't find an answer")
    assert "Jul 22, 2025" in english.text


@slow
def test_indonesian_framing_dates_and_embeds(
    answerer: Answerer, retriever: CorpusRetriever
) -> None:
    ans = ask(answerer, retriever, "berapa jumlah parameter Kimi K2?")
    assert ans.answered and ans.language == "id"
    assert ans.text.startswith("(12 Jul 2025) ") and "1 trillion" in ans.text  # sources as is
    english = ask(answerer, retriever, "How many parameters does Kimi K2 have?")
    assert english.text.startswith("(Jul 12, 2025) ")
    [payload] = render_answer(ans)
    assert payload.embeds[-1].fields[0].name == "Sumber"
    assert payload.embeds[-1].footer.text.startswith("per 2025-07-22")


@slow
def test_indonesian_window_decline_names_the_window_in_indonesian(
    answerer: Answerer, retriever: CorpusRetriever
) -> None:
    since = datetime(2025, 7, 21, tzinfo=UTC)
    ans = ask(answerer, retriever, "apa yang dirilis Moonshot AI?", since=since)
    assert not ans.answered
    assert ans.text.startswith("Tidak ada di sumber saya sejak 21 Jul 2025 yang menjawab itu")
    assert "(AINews, 12 Jul 2025)" in ans.text
    english = ask(answerer, retriever, "What did Moonshot AI release?", since=since)
    assert "Nothing in my sources since Jul 21, 2025 answers that" in english.text


@slow
def test_indonesian_listing_head(answerer: Answerer, retriever: CorpusRetriever) -> None:
    ans = ask(answerer, retriever, "apa yang terbaru dari Simon Willison?")
    assert ans.answered and ans.text.startswith("Terbaru dari Simon Willison di sumber saya:")
    assert re.search(r"^\(\d{1,2} \w{3} \d{4}\) ", ans.text.splitlines()[1])


@slow
def test_with_an_llm_the_system_prompt_names_the_language(
    embedder: Embedder, retriever: CorpusRetriever, scripted_llm: ScriptedChatServer
) -> None:
    scripted_llm.reply = "Kimi K2 punya 1 triliun parameter [1]."
    llm = llm_answerer(embedder, scripted_llm.base_url)
    ans = ask(llm, retriever, "berapa jumlah parameter Kimi K2?")
    system = scripted_llm.requests[-1]["messages"][0]["content"]
    assert "Answer in Indonesian (Bahasa Indonesia)" in system
    assert ans.answered and ans.text == "Kimi K2 punya 1 triliun parameter [1]."
    ask(llm, retriever, "How many parameters does Kimi K2 have?")
    assert "Answer in English" in scripted_llm.requests[-1]["messages"][0]["content"]
    scripted_llm.status = 500
    try:
        fallback = ask(llm, retriever, "berapa jumlah parameter Kimi K2?")
    finally:
        scripted_llm.status = 200
    assert fallback.note == (
        "Model bahasa sedang tidak tersedia (HTTP 500); ini bagian artikel yang cocok."
    )


def test_english_answer_embeds_are_unchanged() -> None:
    src = Source(1, "a", "Title", "https://e.example/a", "feed", AS_OF)
    ans = Answer("Q?", "A [1].", (src,), AS_OF, True)
    [payload] = render_answer(ans)
    embed: discord.Embed = payload.embeds[-1]
    assert embed.fields[0].name == "Sources"
    assert embed.footer.text == "as of 2025-07-22 · extractive"
    unanswered = Answer("Q?", "no", (), None, False, closest=(src,), language="id")
    [payload] = render_answer(unanswered)
    assert payload.embeds[-1].fields[0].name == "Artikel terdekat"
    assert payload.embeds[-1].footer.text == "per belum ada artikel · extractive"
    assert NOW > AS_OF


def test_function_word_signal() -> None:
    assert detect_language("siapa yang memimpin pendanaan seri A lentera ai?") == "id"
    assert detect_language("berapa GPU yang dipakai buat melatih cendana 2") == "id"
    assert detect_language("who leads the series A of lentera ai?") == "en"
    assert detect_language("") == "en"
