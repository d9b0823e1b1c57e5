"""The LLM backend against real servers on loopback: llama-cpp-python serving SmolLM2-135M
(marked `llm`, skipped when not installed), a refused port, and a server that never answers.

A 135M model is often wrong, so these tests check plumbing, not answer quality: a request
reaches the server, citations in the reply are validated, and every failure falls back to the
extractive answer with a one-line note instead of raising.
"""

from __future__ import annotations

import re
import time

import pytest
from answerkit import AS_OF, CORPUS, NOW, CorpusRetriever
from llmserver import (  # noqa: F401 (fixtures)
    LlamaServer,
    SilentServer,
    free_port,
    llm_server_fixture,
    silent_server_fixture,
    start_server_or_skip,
)

from bot.answer import Answerer
from bot.config import load_answer_settings
from bot.models import Answer
from ingest.embed import Embedder

QUESTION = "How many parameters does Kimi K2 have?"
UNAVAILABLE = "The language model is unavailable right now ("
MARKER = re.compile(r"\[(\d+)\]")


@pytest.fixture(scope="module")
def retriever(embedder: Embedder) -> CorpusRetriever:
    return CorpusRetriever(embedder, CORPUS)


def llm_answerer(embedder: Embedder, base_url: str, timeout: float = 120.0) -> Answerer:
    settings = load_answer_settings(
        llm="openai:smollm2", llm_base_url=base_url, llm_timeout=timeout
    )
    # A short prompt (~400 tokens) and reply keep each request quick on 2 busy cores.
    return Answerer(settings, embedder, context_chars=1200, max_answer_tokens=48)


def completions(server: LlamaServer) -> int:
    return server.log_tail(1_000_000).count("POST /v1/chat/completions")


def assert_valid_citations(ans: Answer) -> None:
    cited = [int(n) for n in MARKER.findall(ans.text)]
    assert set(cited) == {s.n for s in ans.sources}
    assert list(dict.fromkeys(cited)) == list(range(1, len(ans.sources) + 1))
    corpus_ids = {h.article_id for h in CORPUS}
    assert {s.article_id for s in ans.sources} <= corpus_ids


@pytest.mark.shared_data
@pytest.mark.llm
@pytest.mark.slow
def test_real_server_reply_is_parsed_and_validated(
    embedder: Embedder, retriever: CorpusRetriever, llm_server: LlamaServer
) -> None:
    before = completions(llm_server)
    ans = llm_answerer(embedder, llm_server.base_url).answer(
        QUESTION, retriever, as_of=AS_OF, now=NOW
    )
    assert completions(llm_server) == before + 1  # the request reached the server
    assert ans.note is None or not ans.note.startswith(UNAVAILABLE), ans.note
    assert ans.as_of == AS_OF
    if ans.backend == "openai:smollm2" and ans.answered:
        assert ans.sources  # an LLM answer is only accepted with a valid citation
    elif ans.answered:  # cited nothing valid: the extractive answer, with the note
        assert ans.backend == "extractive"
        assert ans.note and "cited no sources" in ans.note
    else:  # the model said the sources don't hold it
        assert ans.backend == "openai:smollm2" and ans.closest
    assert_valid_citations(ans)


@pytest.mark.shared_data
@pytest.mark.llm
@pytest.mark.slow
def test_server_stopped_midway_falls_back(
    embedder: Embedder, retriever: CorpusRetriever, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_server_or_skip()
    try:
        answerer = llm_answerer(embedder, server.base_url)
        first = answerer.answer(QUESTION, retriever, as_of=AS_OF, now=NOW)
        assert first.note is None or not first.note.startswith(UNAVAILABLE)
    finally:
        server.stop()
    assert server.proc is not None and server.proc.poll() is not None
    with caplog.at_level("WARNING", logger="bot.answer"):
        ans = answerer.answer(QUESTION, retriever, as_of=AS_OF, now=NOW)
    assert ans.answered and ans.backend == "extractive"
    assert ans.note == (
        "The language model is unavailable right now (connection refused); "
        "showing matching passages instead."
    )
    assert "1 trillion" in ans.text
    assert_valid_citations(ans)
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert warnings and warnings[-1].exc_info is not None  # the traceback is logged


@pytest.mark.slow
def test_connection_refused_falls_back(embedder: Embedder, retriever: CorpusRetriever) -> None:
    base_url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    started = time.monotonic()
    ans = llm_answerer(embedder, base_url).answer(QUESTION, retriever, as_of=AS_OF, now=NOW)
    assert time.monotonic() - started < 30
    assert ans.answered and ans.backend == "extractive"
    assert ans.note is not None and ans.note.startswith(UNAVAILABLE)
    assert "connection refused" in ans.note
    assert_valid_citations(ans)


@pytest.mark.slow
def test_timeout_falls_back(
    embedder: Embedder, retriever: CorpusRetriever, silent_server: SilentServer
) -> None:
    answerer = llm_answerer(embedder, silent_server.base_url, timeout=1.0)
    started = time.monotonic()
    ans = answerer.answer(QUESTION, retriever, as_of=AS_OF, now=NOW)
    elapsed = time.monotonic() - started
    assert silent_server.accepted  # the request did connect
    assert elapsed < 20  # one try of ~1 s plus the extractive answer, no retries
    assert ans.answered and ans.backend == "extractive"
    assert ans.note == (
        "The language model is unavailable right now (timed out after 1s); "
        "showing matching passages instead."
    )
    assert_valid_citations(ans)
