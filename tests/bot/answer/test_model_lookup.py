"""The model stage of the answer path (bot/answer/model_lookup.py): which questions it takes,
and answers from the directory of a real corpus through the engine."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from bot.answer.model_lookup import read_question
from bot.engine import Engine
from ingest.config import Settings
from ingest.embed import Embedder


@pytest.mark.parametrize(
    ("question", "family", "asks"),
    [
        ("what's the newest qwen model?", "qwen", "newest"),
        ("when did GPT-5 come out?", "gpt", "when"),
        ("who makes kimi k2?", "kimi", "maker"),
        ("what is the context window of Qwen3.8-27B?", "qwen", "context"),
        ("siapa pembuat Kimi K2?", "kimi", "maker"),
        ("how much does claude opus 4.1 cost per million tokens", "claude", "price"),
    ],
)
def test_model_questions_are_read_for_what_they_ask(question: str, family: str, asks: str) -> None:
    read = read_question(question)
    assert read is not None and (read.mention.family, read.asks) == (family, asks)


@pytest.mark.parametrize(
    "question",
    [
        "what did deepmind publish this week?",  # no model named
        "compare gpt-5 and claude opus 4.1 pricing",  # two models: the passages compare them
        "why did the gemini 2.5 launch slip?",  # a model, but nothing the directory answers
    ],
)
def test_other_questions_go_on_to_the_passages(question: str) -> None:
    assert read_question(question) is None


@pytest.fixture(scope="module")
def engine(small_corpus: Settings, embedder: Embedder) -> Iterator[Engine]:
    eng = Engine(small_corpus, embedder=embedder)
    yield eng
    eng.close()


@pytest.mark.slow
def test_the_newest_of_a_family_comes_from_the_directory_cited_and_dated(engine: Engine) -> None:
    family = engine.retriever.models().family("gemini")
    assert family is not None
    answer = engine.ask("what's the newest gemini model?")
    assert answer.answered and answer.trace.decision == "answered (model directory)"
    newest = family.newest  # the directory's rule: /models and answers agree
    assert newest.name in answer.text and answer.sources[0].url == newest.url
    # the citation is the stored article: its title, feed and date, as for any answer
    row = engine.corpus.article_rows([answer.sources[0].article_id])[0]
    assert answer.sources[0].title == row.title and answer.sources[0].feed in row.feeds
    assert re.match(r"^\(\w{3} \d{1,2}, \d{4}\) ", answer.text)


@pytest.mark.slow
def test_a_model_the_directory_lacks_goes_to_the_passages(engine: Engine) -> None:
    answer = engine.ask("when did Quibble-7 come out?")
    assert answer.trace.decision != "answered (model directory)"
    assert not answer.answered
