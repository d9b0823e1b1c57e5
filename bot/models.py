"""Types of the reader side: what retrieval returns and what an answer is."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with the metadata of its article."""

    chunk_id: str
    article_id: str
    text: str  # chunk text (starts with the article title line)
    title: str
    url: str
    feeds: tuple[str, ...]
    published: datetime | None
    score: float  # fused score, higher is better
    similarity: float = 0.0  # cosine similarity of the dense match (0 when keyword-only)


@dataclass(frozen=True)
class Source:
    """A numbered citation: [n] → article."""

    n: int
    article_id: str
    title: str
    url: str
    feed: str  # the first feed; `feeds` lists all
    published: datetime | None
    feeds: tuple[str, ...] = ()
    # The publication by its own name: the channel title of `feed` ("Posts on Lil'Log"), or ""
    # when the feed never said (then `feed`, the operator's short name, names it).
    publication: str = ""

    @property
    def label(self) -> str:
        """What a citation calls the source: the publication's own title, else the feed."""
        return self.publication or self.feed

    def to_json(self) -> dict[str, object]:
        return {
            "n": self.n,
            "title": self.title,
            "url": self.url,
            "feed": self.feed,
            "publication": self.label,
            "feeds": list(self.feeds or (self.feed,)),
            "published": self.published.isoformat() if self.published else None,
        }


@dataclass(frozen=True)
class Answer:
    """What the engine says. `sources` are the cited ones, numbered as in `text`."""

    question: str
    text: str
    sources: tuple[Source, ...]
    as_of: datetime | None  # newest article in the corpus
    answered: bool  # False: the corpus does not hold the answer (or the question was unusable)
    note: str | None = None  # one line for the user, e.g. "the LLM was unreachable; extractive"
    backend: str = "extractive"
    closest: tuple[Source, ...] = ()  # when not answered: the nearest articles, for the user
    language: str = "en"  # of the question, and so of the bot's own words (bot.messages)
    # How the question was understood (bot.answer.understand.QueryPlan); None when it was not
    # a usable question. Callers read it, never the trace.
    plan: Any = field(default=None, compare=False, repr=False)
    # What the answer path decided and why: "answered", "answered (listing)", "low-relevance",
    # "version-missing", "window-empty", ... (the gate's reasons; metrics count declines by it)
    decision: str = ""
    # What each stage of the answer path did (bot.answer.trace.Trace); not part of the JSON.
    trace: Any = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, object]:
        return {
            "question": self.question,
            "answer": self.text,
            "answered": self.answered,
            "sources": [s.to_json() for s in self.sources],
            "closest": [s.to_json() for s in self.closest],
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "note": self.note,
            "backend": self.backend,
        }


@dataclass(frozen=True)
class LatestItem:
    """One article in a "latest news" list; a story carried by several feeds appears once."""

    article_id: str
    title: str
    url: str
    feeds: tuple[str, ...]
    published: datetime | None
    summary: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "title": self.title,
            "url": self.url,
            "feeds": list(self.feeds),
            "published": self.published.isoformat() if self.published else None,
            "summary": self.summary,
        }


@dataclass(frozen=True)
class Turn:
    """One earlier exchange in a conversation (for follow-up questions)."""

    question: str
    answer: str


@dataclass(frozen=True)
class CorpusStats:
    articles: int
    chunks: int
    feeds: int
    newest: datetime | None
    oldest: datetime | None
    last_ingest: datetime | None
    embedding_model: str
    pending: int = 0  # articles stored but not yet embedded
    extra: dict[str, object] = field(default_factory=dict)
