"""A small hand-built corpus and a retriever over it (the real embedding model ranks it) for
the answer-path tests (tests/bot/answer/test_answer.py, test_language.py, test_llm.py), and the
way they ask: at a fixed `NOW`, with a corpus `AS_OF`."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from bot.answer import Answerer
from bot.answer.directory import SourceDirectory
from bot.config import AnswerSettings, load_answer_settings
from bot.models import Answer, Hit, LatestItem
from ingest.embed import Embedder

NOW = datetime(2025, 7, 24, 15, 0, tzinfo=UTC)  # a Thursday
AS_OF = datetime(2025, 7, 22, 18, 0, tzinfo=UTC)


def day(m: int, d: int, y: int = 2025) -> datetime:
    return datetime(y, m, d, 12, tzinfo=UTC)


def article(
    aid: str, title: str, feeds: tuple[str, ...], published: datetime, *bodies: str
) -> list[Hit]:
    """The chunks of one article as hits (chunk text = title line + passage, as in the store)."""
    return [
        Hit(
            chunk_id=f"{aid}:{i}",
            article_id=aid,
            text=f"{title}\n{body}",
            title=title,
            url=f"https://news.example/{aid}",
            feeds=feeds,
            published=published,
            score=0.0,
        )
        for i, body in enumerate(bodies)
    ]


CORPUS: list[Hit] = [
    *article(
        "gemini-flash-lite",
        "Gemini 2.5 Flash-Lite is now stable and generally available",
        ("Google DeepMind",),
        day(7, 22),
        "Today we're releasing the stable version of Gemini 2.5 Flash-Lite, our fastest and "
        "lowest cost model in the Gemini 2.5 family. It is priced at $0.10 per 1 million input "
        "tokens and $0.40 per 1 million output tokens. Developers can start building with it in "
        "Google AI Studio and Vertex AI.",
        "Like the other 2.5 models, Flash-Lite has a **1 million-token context window**, "
        "controllable thinking budgets and support for native tools such as Grounding with "
        "Google Search and code execution. [Read more about pricing](https://ai.google.dev/p)",
    ),
    *article(
        "kimi-k2",
        "Moonshot AI open-sources Kimi K2",
        ("AINews", "Simon Willison"),
        day(7, 12),
        "Moonshot AI released Kimi K2, a mixture-of-experts language model with 1 trillion total "
        "parameters and 32 billion activated parameters. The weights are available on Hugging "
        "Face under a modified MIT license. Kimi K2 scores 65.8% on SWE-bench Verified, ahead "
        "of most open models.",
    ),
    *article(
        "chatgpt-agent",
        "Introducing ChatGPT agent",
        ("OpenAI",),
        day(7, 17),
        "ChatGPT agent can now think and act, using its own virtual computer to complete "
        "complex tasks from start to finish. It is rolling out to Pro, Plus and Team users "
        "today, with Pro users getting 400 messages per month.\n"
        "The post Introducing ChatGPT agent appeared first on OpenAI.",
    ),
    *article(
        "claude-fs",
        "Anthropic launches Claude for Financial Services",
        ("Anthropic",),
        day(7, 15),
        "Anthropic announced Claude for Financial Services, a solution that helps analysts with "
        "market research, due diligence and investment decisions. It connects Claude to data "
        "providers such as S&P Global, FactSet and PitchBook.",
    ),
    # One story carried by two feeds under two article ids (a near-duplicate pair).
    *article(
        "grok4-ainews",
        "xAI releases Grok 4",
        ("AINews",),
        day(7, 10),
        "xAI released Grok 4 on July 9, claiming state-of-the-art results on Humanity's Last "
        "Exam. Grok 4 Heavy runs several agents in parallel and costs $300 per month through "
        "the SuperGrok Heavy plan.",
    ),
    *article(
        "grok4-decoder",
        "xAI unveils Grok 4 and Grok 4 Heavy",
        ("The Decoder",),
        day(7, 10),
        "Grok 4 Heavy runs several agents in parallel and costs $300 per month through the "
        "SuperGrok Heavy plan. xAI says the model was trained with ten times more reinforcement "
        "learning compute than Grok 3.",
    ),
    *article(
        "qwen3-coder",
        "Notes on Qwen3-Coder",
        ("Simon Willison",),
        day(7, 23),
        "## Qwen3-Coder\n\n**Qwen3-Coder** is a 480B parameter mixture-of-experts model with "
        "35B active parameters, released by the Qwen team at Alibaba.\n"
        "* It supports a context length of 256K tokens natively, e.g. for repository-scale "
        "tasks.\n![chart](https://img.example/chart.png)\n"
        "See [the announcement](https://qwenlm.github.io/blog/qwen3-coder/) for benchmarks [3].",
    ),
    *article(
        "deepseek-r1",
        "DeepSeek-R1: open reasoning model",
        ("AINews",),
        day(1, 20),
        "DeepSeek released DeepSeek-R1, an open reasoning model trained with large-scale "
        "reinforcement learning, under the MIT license. It performs comparably to OpenAI o1 on "
        "math, code and reasoning benchmarks.",
    ),
]


class CorpusRetriever:
    """A test double for bot.answer.search.Retriever.search over hand-built hits: filters like the
    real one and ranks by the real model's cosine similarity (dense only)."""

    def __init__(
        self, embedder: Embedder, hits: Sequence[Hit], keyword_only: Sequence[str] = ()
    ) -> None:
        self.embedder = embedder
        self.hits = list(hits)
        self.vecs = embedder.embed_texts([h.text for h in self.hits])
        self.keyword_only = set(keyword_only)  # article ids reported with similarity 0
        self.calls: list[dict[str, object]] = []

    def count_mentions(self, term: str) -> int:
        """Like the store's FTS phrase count: words compared, punctuation ignored."""

        def words(text: str) -> str:
            return " " + " ".join(re.findall(r"\w+", text.lower())) + " "

        return sum(words(term) in words(" ".join([h.title, h.text, *h.feeds])) for h in self.hits)

    def directory(self) -> SourceDirectory:
        return SourceDirectory.build(sorted({f for h in self.hits for f in h.feeds}))

    def models(self) -> None:
        return None  # no model directory: the questions go to the passages

    def versions_of(self, family: str) -> list[tuple[str, Hit]]:
        found: dict[str, Hit] = {}
        for h in self.hits:
            for m in re.finditer(rf"{re.escape(family)}[ -]?(\d+(?:\.\d+)?)", h.text, re.I):
                found.setdefault(m.group(1), h)
        return sorted(found.items(), key=lambda vh: float(vh[0]), reverse=True)

    def passages(self, article_ids: Sequence[str], qvec: object, k: int = 4) -> list[Hit]:
        return []  # every chunk of these small articles is retrieved already

    def latest(
        self,
        *,
        topic: str | None = None,
        feeds: Sequence[str] = (),
        author: str = "",
        limit: int = 10,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[LatestItem]:
        """A source's newest articles, like the store's listing (one item per article)."""
        self.calls.append({"latest": True, "feeds": sorted(feeds), "since": since,
                           "until": until, "topic": topic})  # fmt: skip
        items: dict[str, LatestItem] = {}
        for h in sorted(self.hits, key=lambda h: h.published or NOW, reverse=True):
            if feeds and not set(feeds) & set(h.feeds):
                continue
            if since is not None and (h.published is None or h.published < since):
                continue
            if until is not None and (h.published is None or h.published >= until):
                continue
            items.setdefault(
                h.article_id,
                LatestItem(h.article_id, h.title, h.url, tuple(h.feeds), h.published),
            )
        return list(items.values())[:limit]

    def search(
        self,
        query: str,
        *,
        feed: str | None = None,
        feeds: Sequence[str] = (),
        author: str = "",
        since: datetime | None = None,
        until: datetime | None = None,
        prefer_recent: bool = False,
        boost_feeds: Sequence[str] = (),
        names: Sequence[str] = (),
        k: int = 8,
        now: datetime | None = None,
        qvec: np.ndarray | None = None,
    ) -> list[Hit]:
        wanted = {*feeds, *([feed] if feed else [])}
        self.calls.append(
            {"query": query, "feed": feed, "feeds": sorted(wanted), "since": since,
             "until": until, "prefer_recent": prefer_recent, "k": k}
        )  # fmt: skip
        sims = self.vecs @ (self.embedder.embed_query(query) if qvec is None else qvec)
        out = []
        for h, s in zip(self.hits, sims, strict=True):
            if wanted and not wanted & set(h.feeds):
                continue
            if since is not None and (h.published is None or h.published < since):
                continue
            if until is not None and (h.published is None or h.published >= until):
                continue
            sim = 0.0 if h.article_id in self.keyword_only else float(s)
            out.append(dataclasses.replace(h, similarity=sim, score=float(s)))
        out.sort(key=lambda h: -h.score)
        return out[:k]


def ask(answerer: Answerer, retriever: CorpusRetriever, question: str, **kw: object) -> Answer:
    return answerer.answer(question, retriever, as_of=AS_OF, now=NOW, **kw)  # type: ignore[arg-type]


def llm_answerer(embedder: Embedder, base_url: str, **kw: object) -> Answerer:
    settings: AnswerSettings = load_answer_settings(
        llm="openai:scripted", llm_base_url=base_url, llm_timeout=5, **kw
    )
    return Answerer(settings, embedder)
