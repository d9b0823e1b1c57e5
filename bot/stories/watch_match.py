"""Does a story match a watched topic? By meaning, with the words as a second witness.

A story is read from its *reporting* articles (ingest.store.stories: every article that is not a
newsletter relaying it; a story only newsletters carry is read from its primary issue): the
first two chunks of each (title and opening, the part that says what the article is about;
long posts mention many things further down), at most `MAX_ARTICLES` of them. Their vectors are
the ones the corpus already stores; only the topic is embedded.

    meaning  = the best cosine similarity of the topic to those chunks
    words    = the share of the topic's content words found in them or in the titles
               (case-insensitive, light stemming: "watermarking" finds "watermark")

A story matches when it holds the topic's names and numbers (`required_words`: the words the
topic capitalizes or the corpus writes capitalized, and versions: "Claude Opus 5" never
matches a story about Opus 4.8 or Sonnet 5, "claude code" never one about another Claude
product, though the model finds them all close) and either `meaning >= STRONG` (close in
meaning, whatever the words) or `meaning >= THRESHOLD` with the topic's words there (all of
one or two words, two thirds of more). The meaning floor keeps a stray mention from matching.

The thresholds were chosen on eval/watch_examples.jsonl (72 labelled topic/story pairs from four
real feeds, hard negatives included: same lab, same product name, other version);
bench/bench_watch_match.py prints the table. At 0.4 / 0.7: precision 0.96, recall 0.62
(meaning alone at 0.4, names required: 0.83 / 0.81; without the name rule: 0.72 / 0.83; the
topic rule of `newsbot stories --topic`, Engine.stories_about: 0.71 / 0.86).
What it misses are topics that need world knowledge ("Anthropic IPO" for an S-1 filing, "new
offices in Asia" for Seoul) and one-word generic topics the model places badly
("acquisitions"): a missed story costs less than a wrong DM.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ingest.store.stories import RELAY, Story

if TYPE_CHECKING:
    from ingest.store import Corpus

MAX_ARTICLES = 6
LEAD_CHUNKS = 2
STRONG = 0.7  # meaning alone
THRESHOLD = 0.4  # meaning, with the topic's words present

STOPWORDS = frozenset(
    "a an and or the of in on for to with about from by at as is are be new news ai latest "
    "any anything all what whats how why when who".split()
)
_TOKEN = re.compile(r"[a-z0-9]+(?:[.][0-9]+)*")


@dataclass(frozen=True)
class StoryText:
    """What a story is matched on: the chunk ids of its reporting articles' leads (vectors come
    from the corpus) and their text with the titles (for the word witness)."""

    story_id: int
    chunk_ids: tuple[str, ...]
    text: str


def reporting_articles(story: Story) -> list[str]:
    """Article ids a story is read from (see the module doc)."""
    own = [a.article_id for a in story.articles if a.role != RELAY]
    return (own or [story.primary.article_id])[:MAX_ARTICLES]


def lead_chunk_ids(story: Story) -> list[str]:
    return [f"{aid}:{i}" for aid in reporting_articles(story) for i in range(LEAD_CHUNKS)]


def _stem(word: str) -> str:
    """'watermarking' → 'watermark', 'models' → 'model', 'boxes' → 'box' (and 'drones' →
    'drone'): enough to find a word in another form, not a linguistic stemmer."""
    if word.endswith(("sses", "xes", "zes", "ches", "shes")):
        return word[:-2]
    for suffix in ("ing", "ed", "s"):
        if suffix == "s" and word.endswith(("ss", "us", "is")):  # class, Opus, analysis
            continue
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> list[str]:
    """The topic's words that carry meaning, stemmed, in order, without repeats."""
    words = [_stem(w) for w in _TOKEN.findall(text.lower()) if w not in STOPWORDS]
    return list(dict.fromkeys(w for w in words if w))


def text_words(text: str) -> set[str]:
    return {_stem(w) for w in _TOKEN.findall(text.lower())}


def word_share(topic_words: Sequence[str], have: set[str]) -> float:
    """The share of `topic_words` among the words `have` of a story (a word counts when a word
    of the story has the same stem, or starts with it when the stem has five letters or more)."""
    if not topic_words:
        return 0.0
    found = 0
    for t in topic_words:
        if t in have or (len(t) >= 5 and any(w.startswith(t) for w in have)):
            found += 1
    return found / len(topic_words)


def required_words(topic: str, capitalized: Collection[str] = ()) -> list[str]:
    """The words of the topic a story must contain: numbers and versions ("5", "4.1") and
    names: the words the topic capitalizes ("Claude Opus 5", "SQLite") or the corpus writes
    capitalized (`capitalized`, lowercase: "claude code" names Claude Code); never stopwords
    such as "AI"."""
    out = []
    for raw in re.findall(r"[A-Za-z0-9]+(?:[.][0-9]+)*", topic):
        low = raw.lower()
        if low in STOPWORDS:
            continue
        if any(c.isdigit() or c.isupper() for c in raw) or low in capitalized:
            out.append(_stem(low))
    return list(dict.fromkeys(out))


def required_present(required: Sequence[str], have: set[str]) -> bool:
    """Every required word is in the story; a number also as a sub-version ("5" in "5.1",
    never in "4.5" or "15")."""
    for t in required:
        if t not in have and not (t[:1].isdigit() and any(w.startswith(t + ".") for w in have)):
            return False
    return True


def words_needed(topic_words: Sequence[str]) -> float:
    """All of one or two words; two thirds of three or more."""
    return 1.0 if len(topic_words) <= 2 else 2 / 3


def meaning(topic_vector: np.ndarray, vectors: Iterable[np.ndarray]) -> float:
    """The best cosine similarity of the topic to any of the vectors (0 when there are none)."""
    q = topic_vector / (np.linalg.norm(topic_vector) or 1.0)
    best = 0.0
    for v in vectors:
        norm = float(np.linalg.norm(v)) or 1.0
        best = max(best, float(np.dot(q, v)) / norm)
    return best


def decide(
    sim: float,
    share: float,
    needed: float,
    names: bool = True,
    threshold: float = THRESHOLD,
    strong: float = STRONG,
) -> bool:
    """The rule of the module doc; a story missing a required word (`names`) never matches."""
    return names and (sim >= strong or (sim >= threshold and share >= needed - 1e-9))


@dataclass(frozen=True)
class Match:
    story_id: int
    meaning: float
    words: float
    matched: bool
    names: bool = True  # the topic's names and numbers are all in the story


def match_story(
    topic: str,
    topic_vector: np.ndarray,
    story: StoryText,
    vectors: dict[str, np.ndarray],
    *,
    capitalized: Collection[str] = (),
    threshold: float = THRESHOLD,
    strong: float = STRONG,
) -> Match:
    words = content_words(topic)
    sim = meaning(topic_vector, (vectors[c] for c in story.chunk_ids if c in vectors))
    have = text_words(story.text)
    share = word_share(words, have)
    names = required_present(required_words(topic, capitalized), have)
    ok = bool(words) and decide(sim, share, words_needed(words), names, threshold, strong)
    return Match(story.story_id, sim, share, ok, names)


def load_story_texts(
    corpus: Corpus, stories: Sequence[Story]
) -> tuple[list[StoryText], dict[str, np.ndarray]]:
    """Blocking (SQLite and the vector store): what `match_story` needs for these stories."""
    wanted = {s.id: lead_chunk_ids(s) for s in stories}
    ids = {aid for s in stories for aid in reporting_articles(s)}
    texts: dict[str, str] = {}
    keep = {c for cs in wanted.values() for c in cs}
    for cid, _aid, text in corpus.article_chunks(sorted(ids)):
        if cid in keep:
            texts[cid] = text
    vectors = corpus.chunk_vectors(sorted(keep & texts.keys()))
    out = []
    for s in stories:
        titles = " \n".join(dict.fromkeys([s.title, *(a.title for a in s.articles)]))
        body = " \n".join(texts.get(c, "") for c in wanted[s.id])
        out.append(StoryText(s.id, tuple(wanted[s.id]), titles + " \n" + body))
    return out, vectors
