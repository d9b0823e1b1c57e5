"""The answer engine: the one object the CLI and the Discord layer talk to.

It ties retrieval (bot.retrieve) and answering (bot.answer) over the corpus (ingest.store).
Blocking and CPU-bound: async callers run it in a worker thread (asyncio.to_thread).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from bot.answer import Answerer
from bot.answer.places import place_spellings
from bot.answer.search import Retriever
from bot.config import AnswerSettings
from bot.datephrases import named_days
from bot.messages import failing_note
from bot.models import Answer, CorpusStats, LatestItem, Source, Turn
from bot.stories.digest import digest_stories, digest_window
from bot.stories.topics import about, relevant_articles
from bot.stories.watch_match import StoryText, load_story_texts
from ingest.embed import Embedder, recorded_backend
from ingest.health import Health, thresholds
from ingest.models import FeedState, utcnow
from ingest.store import Corpus
from ingest.store.health import failing_feeds
from ingest.store.stories import Story, StoryStore


class Engine:
    """Loads the embedding model, the corpus and the LLM once; answers many questions."""

    def __init__(self, settings: AnswerSettings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.corpus = Corpus(settings)
        self.corpus.claim_vectors()  # one process per embedded store: refused here, not later
        self.embedder = embedder or Embedder.from_settings(settings)
        # Never query vectors built by another model/backend (one-line error naming --reindex).
        self.corpus.check_model(
            self.embedder.name, recorded_backend(self.embedder.backend), write=False
        )
        self.retriever = Retriever(self.corpus, self.embedder, settings)
        self.answerer = Answerer(settings, self.embedder)
        self._lock = threading.Lock()  # the model and Chroma client are used from worker threads
        self.story_store = StoryStore(settings)
        self._titles: tuple[str | None, dict[str, str]] | None = None  # feed → channel title

    def ask(
        self,
        question: str,
        *,
        feed: str | None = None,
        since: datetime | None = None,
        history: Sequence[Turn] = (),
        now: datetime | None = None,
    ) -> Answer:
        """Answer one question from the corpus, with numbered, validated citations. Of the
        conversation's `history` (oldest first) only the last NEWSBOT_HISTORY_TURNS are used."""
        keep = self.settings.history_turns
        turns = list(history)[-keep:] if keep > 0 else []
        with self._lock:
            answer = self.answerer.answer(
                question,
                self.retriever,
                feed=feed,
                since=since,
                history=turns,
                as_of=self.corpus.newest_published(),
                now=now,
                cite_order=self.story_store.primary_order,
            )
        return self._note_failing_feeds(self._with_publications(answer), feed)

    def warm_up(self) -> None:
        """Load what the first question would otherwise wait for (the multilingual encoder,
        about a second; dateparser's locale data; the country names). A long-running process
        calls it once at start; a one-shot `ask` not."""
        named_days("on March 5, 2025", datetime.now(UTC))
        place_spellings("china")
        with self._lock:
            if self.answerer.multilingual.available:
                self.answerer.multilingual.embed(["warm up"])

    def feed_problems(self, feeds: Sequence[str]) -> list[Health]:
        """Those of these feeds whose last fetch failed: an answer or a listing about them
        says so instead of looking like there is no news."""
        return failing_feeds(self.settings.db_path, feeds, utcnow(), thresholds(self.settings))

    def _note_failing_feeds(self, answer: Answer, feed: str | None) -> Answer:
        plan = answer.plan
        named: list[str] = []
        if plan is not None:  # "latest from X" (a listing): X is where to look
            named = [f for s in plan.sources if s.explicit or plan.listing for f in s.feeds]
        problems = self.feed_problems(list(dict.fromkeys([*([feed] if feed else []), *named])))
        if not problems:
            return answer
        note = " ".join(failing_note(h, answer.language) for h in problems)
        return replace(answer, note=f"{answer.note} {note}" if answer.note else note)

    def _with_publications(self, answer: Answer) -> Answer:
        """Citations name the publication by its own channel title where the feed gave one."""
        stamp = self.corpus.get_meta("last_ingest")
        if self._titles is None or self._titles[0] != stamp:
            self._titles = (stamp, {s.name: s.title for s in self.corpus.feed_states()})
        titles = self._titles[1]

        # A source known only by its link (a fact of the model directory): its stored article.
        bare = [s.article_id for s in (*answer.sources, *answer.closest) if not s.feed]
        rows = {r.id: r for r in self.corpus.article_rows(bare)} if bare else {}

        def named(sources: tuple[Source, ...]) -> tuple[Source, ...]:
            out = []
            for s in sources:
                row = rows.get(s.article_id)
                if row is not None:
                    s = replace(s, title=row.title, feed=row.feeds[0] if row.feeds else "",
                                feeds=tuple(row.feeds))  # fmt: skip
                out.append(replace(s, publication=titles.get(s.feed, "")))
            return tuple(out)

        return replace(answer, sources=named(answer.sources), closest=named(answer.closest))

    def latest(
        self, *, topic: str | None = None, feed: str | None = None, limit: int = 10
    ) -> list[LatestItem]:
        """Newest articles. Without a topic it is a plain read of the article table (the store
        serialises its own SQLite use), so it never waits behind a long answer; a topic needs
        the embedding model and Chroma, which the engine's lock guards."""
        if not (topic and topic.strip()):
            return self.retriever.latest(topic=None, feed=feed, limit=limit)
        with self._lock:
            return self.retriever.latest(topic=topic, feed=feed, limit=limit)

    def stories(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        feeds: Sequence[str] = (),
        topic: str | None = None,
        limit: int = 20,
    ) -> list[Story]:
        """Stories newest first (see ingest.store.stories); with a topic, those about it by meaning
        (bot.stories.topics) among the articles the retriever finds for it."""
        if not (topic and topic.strip()):
            return self.story_store.stories(since=since, until=until, feeds=feeds, limit=limit)
        with self._lock:
            hits = self.retriever.search(
                topic, feeds=feeds, since=since, until=until, k=limit * 4, per_article=1
            )
        passages = ((h.article_id, f"{h.title}\n{h.text}", h.similarity) for h in hits)
        ids = relevant_articles(topic, passages, self.settings.relevance_threshold)
        found = self.story_store.stories(
            since=since, until=until, feeds=feeds, article_ids=ids, limit=limit * 2
        )
        return about(found, ids)[:limit]

    def stories_about(self, stories: Sequence[Story], topic: str) -> list[Story]:
        """Those of `stories` about `topic` by meaning (bot.stories.topics; for a watch: the
        new stories that match it), in the order given."""
        ids = [a.article_id for s in stories for a in s.articles]
        if not ids or not topic.strip():
            return []
        with self._lock:
            qvec = self.embedder.embed_query(topic)
            hits = self.corpus.dense_search(qvec, 4 * len(ids), ids)
        passages = ((aid, text, sim) for _, aid, text, sim in hits)
        return about(stories, relevant_articles(topic, passages, self.settings.relevance_threshold))

    def digest(
        self, *, since: datetime | None = None, now: datetime | None = None, limit: int = 10
    ) -> tuple[datetime, datetime, list[Story]]:
        """The digest of a period (bot.stories.digest): its start, its end and its top stories.
        Without `since`: the last 24 hours of the corpus."""
        start, end = digest_window(self.corpus.newest_published(), since, now or utcnow())
        candidates = self.story_store.stories(since=start, until=end, limit=1000)
        return start, end, digest_stories(candidates, start, end, limit)

    def stories_changed_after(self, watermark: int, limit: int = 100) -> list[Story]:
        """Stories created or updated after `watermark` (a `Story.seq`), oldest change first:
        a watcher keeps the last `seq` it handled and notifies once per story (a story created
        after its watermark has `created_seq > watermark`)."""
        return self.story_store.changed_after(watermark, limit)

    def story_watermark(self) -> int:
        """The current end of the story sequence (where a new watcher starts)."""
        return self.story_store.watermark()

    def watch_inputs(
        self, stories: Sequence[Story]
    ) -> tuple[list[StoryText], dict[str, np.ndarray], set[str]]:
        """What watches are matched on (bot.stories.watch_match): the stories' leads, the stored
        vectors of those chunks, and the words the corpus writes capitalized (names)."""
        with self._lock:
            texts, vectors = load_story_texts(self.corpus, stories)
            return texts, vectors, self.retriever.directory().capitalized

    def embed_topic(self, topic: str) -> np.ndarray:
        """A watched topic's vector (the model is the answers' too: under the engine's lock)."""
        with self._lock:
            return self.embedder.embed_query(topic)

    def stats(self) -> CorpusStats:
        c = self.corpus.counts()
        last = self.corpus.get_meta("last_ingest")
        return CorpusStats(
            articles=c["articles"],
            chunks=c["chunks"],
            feeds=c["feeds"],
            newest=self.corpus.newest_published(),
            oldest=datetime.fromtimestamp(c["oldest"], UTC) if c["oldest"] else None,
            last_ingest=datetime.fromisoformat(last) if last else None,
            embedding_model=self.corpus.get_meta("embedding_model")
            or self.settings.embedding_model,
            pending=self.corpus.pending_count(),
            extra={"llm": self.settings.llm, "backend": self.settings.embedding_backend},
        )

    def feed_states(self) -> list[FeedState]:
        return self.corpus.feed_states()

    def feed_names(self) -> list[str]:
        return [s.name for s in self.corpus.feed_states()]

    def close(self) -> None:
        self.retriever.close()
        self.story_store.close()
        self.corpus.close()
