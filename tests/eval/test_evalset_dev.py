"""The dev split of the evaluation set (eval/dev.jsonl, issue 8): valid, grounded in the parsed
eval corpus, and shaped as the brief asks (patterns, paraphrase pairs, time anchors, no copied
titles). Parsing every eval feed takes a few seconds; nothing is embedded."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import REPO

from eval.evaluate import EvalQuestion, load_questions
from ingest.models import Article
from ingest.parse import canonical_url

SPLIT = "dev"
SET = REPO / "eval" / f"{SPLIT}.jsonl"
SEED_FEED = "Berita AI Indonesia"
WINDOW_EMPTY_NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)

MINIMUM = {
    "reword": 30,
    "answer_type": 15,
    "source": 12,
    "author": 5,
    "latest_source": 8,
    "source_month": 6,
    "long_digest": 8,
    "version_nearmiss": 6,
    "crosslingual": 5,
    "window_empty": 4,
    "unanswerable": 12,
}
KIND_OF = {
    "latest_source": {"latest"},
    "source_month": {"filtered"},
    "version_nearmiss": {"unanswerable"},
    "window_empty": {"unanswerable"},
    "unanswerable": {"unanswerable"},
}
MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
# Phrases that only mean something at a given moment: such a question must carry `now`.
TIME_PHRASE = re.compile(
    rf"\b(today|yesterday|this (week|month|year)|last (week|month|few days)|recently|lately"
    rf"|latest|newest|most recent|(in|from) ({MONTHS})\b|({MONTHS}) \d{{4}})",
    re.IGNORECASE,
)
INDONESIAN = {"siapa", "berapa", "yang", "buat", "untuk", "apa", "kapan", "nggak"}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _shares_run(question: str, title: str, n: int = 6) -> bool:
    q, t = _words(question), _words(title)
    runs = {tuple(t[i : i + n]) for i in range(len(t) - n + 1)}
    return any(tuple(q[i : i + n]) in runs for i in range(len(q) - n + 1))


@pytest.fixture(scope="module")
def corpus(eval_corpus: dict[str, list[Article]]) -> dict[str, list[Article]]:
    """Canonical link -> every parsed copy of that article (one per feed that carries it)."""
    return eval_corpus


@pytest.fixture(scope="module")
def questions() -> list[EvalQuestion]:
    return load_questions(SET)


@pytest.fixture(scope="module")
def raw() -> list[dict[str, Any]]:
    lines = SET.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_size_ids_and_uniqueness(questions: list[EvalQuestion], raw: list[dict[str, Any]]) -> None:
    assert len(questions) >= 115
    ids = [q.id for q in questions]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith(f"{SPLIT}-") for i in ids)
    texts = [" ".join(q.question.lower().split()) for q in questions]
    assert len(set(texts)) == len(texts)
    assert all(r.get("pattern") in MINIMUM for r in raw), "every question names its pattern"


def test_pattern_counts_and_kinds(raw: list[dict[str, Any]]) -> None:
    counts = Counter(r["pattern"] for r in raw)
    short = {p: (counts[p], n) for p, n in MINIMUM.items() if counts[p] < n}
    assert not short, f"pattern: (have, need) {short}"
    for r in raw:
        allowed = KIND_OF.get(r["pattern"])
        assert allowed is None or r["kind"] in allowed, (r["id"], r["kind"])
        if r["pattern"] in {"version_nearmiss", "window_empty"}:
            assert r.get("note"), f"{r['id']}: say what the corpus does have"


def test_paraphrase_pairs(raw: list[dict[str, Any]]) -> None:
    by_id = {r["id"]: r for r in raw}
    pairs = [(by_id[i[:-2]], r) for i, r in by_id.items() if i.endswith("-p")]
    assert len(pairs) >= 10
    for a, b in pairs:
        assert set(a["gold_urls"]) & set(b["gold_urls"]), (a["id"], b["id"])
        overlap = set(_words(a["question"])) & set(_words(b["question"]))
        assert len(overlap) < 0.6 * len(set(_words(b["question"]))), f"{b['id']}: too close"


@pytest.mark.shared_data
def test_gold_links_exist_and_titles_are_not_copied(
    questions: list[EvalQuestion], corpus: dict[str, list[Article]]
) -> None:
    missing = [(q.id, u) for q in questions for u in q.gold_urls if canonical_url(u) not in corpus]
    assert not missing
    copied = [
        q.id
        for q in questions
        for u in q.gold_urls
        if any(_shares_run(q.question, a.title) for a in corpus[canonical_url(u)])
    ]
    assert not copied, f"6+ consecutive title words in {copied}"
    for q in questions:
        assert bool(q.answer_terms) == q.answerable, q.id
        assert bool(q.gold_urls) == q.answerable, q.id


def test_now_where_the_question_needs_a_moment(
    questions: list[EvalQuestion], raw: list[dict[str, Any]]
) -> None:
    pattern = {r["id"]: r["pattern"] for r in raw}
    for q in questions:
        if q.kind in {"latest", "filtered"} or TIME_PHRASE.search(q.question):
            assert q.now is not None, f"{q.id}: needs 'now'"
        if pattern[q.id] == "window_empty":
            assert q.now == WINDOW_EMPTY_NOW, q.id


@pytest.mark.shared_data
def test_latest_and_month_golds_fit_their_moment(
    questions: list[EvalQuestion], raw: list[dict[str, Any]], corpus: dict[str, list[Article]]
) -> None:
    pattern = {r["id"]: r["pattern"] for r in raw}
    by_feed: dict[str, list[Article]] = {}
    for copies in corpus.values():
        for a in copies:
            by_feed.setdefault(a.feed, []).append(a)
    for q in questions:
        if pattern[q.id] not in {"latest_source", "source_month"}:
            continue
        now = q.now
        assert now is not None
        golds = {canonical_url(u) for u in q.gold_urls}
        for u in golds:
            assert all(a.published and a.published <= now for a in corpus[u]), (q.id, u)
        if pattern[q.id] == "source_month":
            # All of one feed's items in one month (the brief keeps such windows to <= 5).
            assert len(golds) <= 5, q.id
            feeds = set.intersection(*({a.feed for a in corpus[u]} for u in golds))
            months = {
                a.published.strftime("%Y-%m") for u in golds for a in corpus[u] if a.published
            }
            assert len(months) == 1, (q.id, months)
            window = {
                canonical_url(x.url)
                for feed in feeds
                for x in by_feed[feed]
                if x.published and x.published.strftime("%Y-%m") in months
            }
            assert feeds and window == golds, q.id
            continue
        # A latest gold is among the 3 newest items (as of `now`) of a feed that carries it.
        for u in golds:
            ok = False
            for a in corpus[u]:
                seen = [x for x in by_feed[a.feed] if x.published and x.published <= now]
                seen.sort(key=lambda x: x.published or now, reverse=True)
                ok = ok or u in {canonical_url(x.url) for x in seen[:3]}
            assert ok, (q.id, u)


@pytest.mark.shared_data
def test_crosslingual_questions_use_the_indonesian_seed(
    questions: list[EvalQuestion], raw: list[dict[str, Any]], corpus: dict[str, list[Article]]
) -> None:
    cross = {r["id"] for r in raw if r["pattern"] == "crosslingual"}
    langs: Counter[str] = Counter()
    for q in questions:
        if q.id not in cross:
            continue
        feeds = {a.feed for u in q.gold_urls for a in corpus[canonical_url(u)]}
        assert feeds == {SEED_FEED}, q.id
        langs["id" if set(_words(q.question)) & INDONESIAN else "en"] += 1
    assert langs["en"] >= 3 and langs["id"] >= 2, langs
    seed = [a for copies in corpus.values() for a in copies if a.feed == SEED_FEED]
    assert 400 <= max(len(a.text.split()) for a in seed) <= 800


@pytest.mark.shared_data
def test_unanswerable_names_are_absent_from_the_corpus(
    raw: list[dict[str, Any]], corpus: dict[str, list[Article]]
) -> None:
    """Spot-check the key names of version near-misses and unanswerable questions."""
    text = "\n".join(a.title + "\n" + a.text for copies in corpus.values() for a in copies[:1])
    absent = [
        r"Gemma ?5\b", r"Qwen ?4\b", r"Bun 1\.5", r"DeepSeek[- ]V5", r"Kimi[- ]K4", r"Sora 3",
        r"GPT-5\.7", r"Gemini 3\.8", r"llm 0\.34", r"Opus 6", r"BharatGen", r"Blindsight",
        r"NeurIPS 2026", r"Sahabat", r"Series B.{0,80}Lentera|Lentera.{0,200}Series B",
    ]  # fmt: skip
    found = [p for p in absent if re.search(p, text, re.IGNORECASE)]
    assert not found
    assert sum(r["pattern"] == "version_nearmiss" for r in raw) >= 6


def test_sample_is_on_this_side_of_the_split() -> None:
    lines = (REPO / "eval" / f"sample_{SPLIT}.txt").read_text(encoding="utf-8").splitlines()
    urls = [line.split("\t")[1] for line in lines if line and not line.startswith("#")]
    assert len(urls) >= 50
    even = set("02468ace")
    assert all((hashlib.sha1(u.encode()).hexdigest()[-1] in even) == (SPLIT == "dev") for u in urls)
