"""What the answer path reads of the corpus: the `SearchesCorpus` protocol (retrieval provides
it) and `AsOf`, the same corpus as it was at a past moment (later articles hidden)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from bot.answer.directory import SourceDirectory
from bot.answer.model_lookup import HasModels
from bot.models import Hit, LatestItem


class SearchesCorpus(Protocol):
    """What the answerer needs from retrieval (bot.answer.search.Retriever provides it)."""

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
    ) -> list[Hit]: ...

    def count_mentions(self, term: str) -> int: ...

    def versions_of(self, family: str) -> list[tuple[str, Hit]]: ...

    def passages(self, article_ids: Sequence[str], qvec: np.ndarray, k: int = 4) -> list[Hit]: ...

    def directory(self) -> SourceDirectory: ...

    def models(self) -> HasModels | None: ...

    def latest(
        self,
        *,
        topic: str | None = None,
        feeds: Sequence[str] = (),
        author: str = "",
        limit: int = 10,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[LatestItem]: ...


class AsOf:
    """A retriever that sees the corpus as it was at `cutoff` (later articles hidden)."""

    def __init__(self, inner: SearchesCorpus, cutoff: datetime) -> None:
        self.inner = inner
        self.cutoff = cutoff

    def _until(self, until: datetime | None) -> datetime:
        return min(until, self.cutoff) if until is not None else self.cutoff

    def search(self, query: str, **kwargs: Any) -> list[Hit]:
        kwargs["until"] = self._until(kwargs.get("until"))
        return self.inner.search(query, **kwargs)

    def latest(self, **kwargs: Any) -> list[LatestItem]:
        kwargs["until"] = self._until(kwargs.get("until"))
        return self.inner.latest(**kwargs)

    def count_mentions(self, term: str) -> int:
        return self.inner.count_mentions(term)

    def versions_of(self, family: str) -> list[tuple[str, Hit]]:
        return [(v, h) for v, h in self.inner.versions_of(family)
                if h.published is None or h.published <= self.cutoff]  # fmt: skip

    def passages(self, article_ids: Sequence[str], qvec: np.ndarray, k: int = 4) -> list[Hit]:
        return self.inner.passages(article_ids, qvec, k)

    def directory(self) -> SourceDirectory:
        return self.inner.directory()

    def models(self) -> HasModels | None:
        return self.inner.models()  # the model stage reads it as of the answer's moment
