"""eval.evaluate: the metric functions, the question-file loaders and their errors, the
development set itself (eval/dev.jsonl against the real feed files), and end-to-end runs over a
real corpus with the real model (the dev-set format and RealTimeQA)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import FEEDS_DIR, REPO, SHARED

from eval.evaluate import (
    EvalFileError,
    QuestionResult,
    build_report,
    choice_mentions,
    detect_format,
    first_rank,
    format_report,
    hit_at_k,
    load_questions,
    load_rtqa,
    mean,
    parse_rtqa,
    percentile,
    rate,
    reciprocal_rank,
    rtqa_articles,
    rtqa_correct,
    run_eval_cli,
    run_realtimeqa,
    summarize,
    term_hit,
)
from ingest.config import Settings
from ingest.feeds import load_feeds
from ingest.models import FetchResult
from ingest.parse import canonical_url, parse_feed

DEV_SET = REPO / "eval" / "dev.jsonl"
EVAL_FEEDS = REPO / "eval" / "feeds.toml"
EVAL_EXTRA = REPO / "eval" / "extra"
RTQA_FILE = SHARED / "realtimeqa" / "ai_subset.jsonl"


# --------------------------------------------------------------------------- metrics


def test_first_rank_counts_distinct_articles_in_canonical_form() -> None:
    ranked = [
        "https://a.example/x",
        "https://a.example/x#section",  # the same article again: not a new rank
        "https://B.example/y?utm_source=rss",
        "https://c.example/z",
    ]
    assert first_rank(ranked, ["https://b.example/y"]) == 2
    assert first_rank(ranked, ["https://c.example/z", "https://a.example/x"]) == 1
    assert first_rank(ranked, ["https://nowhere.example/"]) is None
    assert first_rank([], ["https://a.example/x"]) is None


def test_hit_at_k_and_reciprocal_rank() -> None:
    assert hit_at_k(1, 1) and hit_at_k(5, 5)
    assert not hit_at_k(6, 5) and not hit_at_k(None, 5) and not hit_at_k(0, 5)
    assert reciprocal_rank(1, 5) == 1.0
    assert reciprocal_rank(4, 5) == pytest.approx(0.25)
    assert reciprocal_rank(6, 5) == 0.0  # MRR@k: beyond k counts as a miss
    assert reciprocal_rank(None, 5) == 0.0


def test_mean_and_rate_are_undefined_on_nothing() -> None:
    assert mean([]) is None and rate([]) is None
    assert mean([1.0, 2.0, 6.0]) == pytest.approx(3.0)
    assert rate([True, False, False, True]) == pytest.approx(0.5)


def test_percentile_interpolates_like_numpy() -> None:
    np = pytest.importorskip("numpy")
    values = [0.9, 0.1, 0.4, 0.2, 5.0, 0.3]
    for p in (0, 25, 50, 90, 95, 100):
        assert percentile(values, p) == pytest.approx(float(np.percentile(values, p)))
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_term_hit_is_case_insensitive_normalized_and_word_bounded() -> None:
    assert term_hit("DevDay returns on October 6, 2025", ["october 6"])
    assert term_hit("Introducing GPT\u20114.5 today", ["GPT-4.5"])  # non-breaking hyphen
    assert term_hit("a “4.5 GW” deal", ["4.5 gw"])
    assert not term_hit("it scored 520 points", ["52"])
    assert term_hit("it scored 52 points", ["52"])
    assert not term_hit("they solve it", ["Sol"])
    assert term_hit("raised $65B in Series H", ["$65B"])  # a term starting with a symbol
    assert not term_hit("anything", [])


def _result(kind: str, **kw: Any) -> QuestionResult:
    base: dict[str, Any] = {
        "id": kw.pop("id", kind),
        "kind": kind,
        "question": "q?",
        "answered": True,
        "answer": "a",
        "latency_s": 1.0,
    }
    base.update(kw)
    return QuestionResult(**base)


def test_summarize_rates_over_the_right_questions() -> None:
    results = [
        _result("fact", retrieval_rank=1, cited_rank=1, term_hit=True, latency_s=0.1),
        _result("fact", retrieval_rank=3, cited_rank=None, term_hit=False, latency_s=0.2),
        _result("latest", answered=False, term_hit=False, latency_s=0.3),
        _result("unanswerable", answered=False, latency_s=0.4),
        _result("unanswerable", answered=True, latency_s=2.0),
    ]
    s = summarize(results, k=2)
    assert (s["questions"], s["answerable"], s["unanswerable"]) == (5, 3, 2)
    assert s["retrieval"]["hit@2"] == pytest.approx(1 / 3)  # rank 3 is beyond k=2
    assert s["retrieval"]["mrr@2"] == pytest.approx(1 / 3)
    assert s["cited"]["hit@2"] == pytest.approx(1 / 3)
    assert s["answer_term_rate"] == pytest.approx(1 / 3)
    assert s["abstain_rate"] == pytest.approx(0.5)
    assert s["false_abstain_rate"] == pytest.approx(1 / 3)
    assert s["latency_s"]["p50"] == pytest.approx(0.3)
    assert s["latency_s"]["p95"] == pytest.approx(0.4 + 0.8 * 1.6)

    report = build_report(results, k=2)
    assert list(report["by_kind"]) == ["fact", "latest", "unanswerable"]
    assert report["by_kind"]["fact"]["retrieval"]["mrr@2"] == pytest.approx(0.5)
    assert report["by_kind"]["unanswerable"]["abstain_rate"] == pytest.approx(0.5)
    text = format_report(report)
    assert "retr hit@2" in text and "unanswerable" in text
    assert "Misses" in text  # the second fact, the latest and one unanswerable missed


# --------------------------------------------------------------------------- the question file


GOOD = {
    "id": "q1",
    "question": "When is DevDay?",
    "kind": "fact",
    "gold_urls": ["https://openai.com/index/announcing-devday-2025"],
    "answer_terms": ["October 6"],
}


def _write(path: Path, *lines: object) -> Path:
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n",
        encoding="utf-8",
    )
    return path


def test_load_questions_reads_options(tmp_path: Path) -> None:
    extra = {**GOOD, "id": "q2", "kind": "latest", "feed": "OpenAI News", "since": "7d",
             "now": "2025-07-25"}  # fmt: skip
    na = {"id": "q3", "question": "Who won Eurovision?", "kind": "unanswerable",
          "gold_urls": [], "answer_terms": []}  # fmt: skip
    qs = load_questions(_write(tmp_path / "q.jsonl", GOOD, "", extra, na))
    assert [q.id for q in qs] == ["q1", "q2", "q3"]
    assert qs[1].feed == "OpenAI News" and qs[1].since == "7d"
    assert qs[1].now == datetime(2025, 7, 25, 12, tzinfo=UTC)
    assert qs[0].answerable and not qs[2].answerable


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "invalid JSON"),
        ('["a list"]', "expected a JSON object"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "question"}), "missing 'question'"),
        (json.dumps({**GOOD, "kind": "trivia"}), "'kind' must be one of"),
        (json.dumps({**GOOD, "gold_urls": "https://x"}), "'gold_urls' must be a list"),
        (json.dumps({**GOOD, "kind": "unanswerable"}), "has no gold_urls"),
        (json.dumps({**GOOD, "gold_urls": []}), "needs at least one gold URL"),
        (json.dumps({**GOOD, "now": "yesterday-ish"}), "ISO date"),
        (json.dumps({**GOOD, "since": "sometime"}), "invalid date"),
        (json.dumps({**GOOD, "colour": "red"}), "unknown key 'colour'"),
    ],
)
def test_a_bad_line_is_one_clear_error_naming_the_line(
    tmp_path: Path, line: str, message: str
) -> None:
    path = _write(tmp_path / "q.jsonl", GOOD, line)
    with pytest.raises(EvalFileError) as e:
        load_questions(path)
    text = str(e.value)
    assert text.startswith(f"{path}:2: ") and message in text
    assert "\n" not in text


def test_duplicate_ids_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(EvalFileError, match=r":3: duplicate id 'q1' \(first on line 1\)"):
        load_questions(_write(tmp_path / "dup.jsonl", GOOD, {**GOOD, "id": "q9"}, GOOD))
    with pytest.raises(EvalFileError, match="no such file"):
        load_questions(tmp_path / "absent.jsonl")
    with pytest.raises(EvalFileError, match="no questions"):
        load_questions(_write(tmp_path / "empty.jsonl", "", "  "))


@pytest.mark.shared_data
def test_detect_format(tmp_path: Path) -> None:
    assert detect_format(_write(tmp_path / "d.jsonl", GOOD)) == "dev"
    assert detect_format(RTQA_FILE) == "realtimeqa"


# --------------------------------------------------------------------------- RealTimeQA pieces

RTQA = {
    "question_id": "20230210_2",
    "question_date": "2023/02/10",
    "question_source": "THE WEEK",
    "question_url": "https://www.theweek.co.uk/quiz",
    "question_sentence": "Which company unveiled a new AI chatbot tool dubbed “Bard”?",
    "choices": ["Amazon", "Facebook", "Yahoo", "Google"],
    "answer": ["3"],
    "evidence": "Google has unveiled Bard, a chatbot to rival ChatGPT. " * 3,
}


def test_parse_rtqa_and_its_errors() -> None:
    q = parse_rtqa(RTQA)
    assert q.answer == 3 and q.choices[q.answer] == "Google"
    assert q.date == datetime(2023, 2, 10, tzinfo=UTC)
    assert q.article_url == "https://www.theweek.co.uk/quiz#20230210_2"
    with pytest.raises(ValueError, match="outside the 4 choices"):
        parse_rtqa({**RTQA, "answer": ["4"]})
    with pytest.raises(ValueError, match="question_date"):
        parse_rtqa({**RTQA, "question_date": "10 Feb 2023"})
    with pytest.raises(ValueError, match="missing 'choices'"):
        parse_rtqa({k: v for k, v in RTQA.items() if k != "choices"})


@pytest.mark.shared_data
def test_load_rtqa_names_the_bad_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.jsonl", RTQA, {**RTQA, "answer": ["x"]})
    with pytest.raises(EvalFileError, match=r"r\.jsonl:2: 'answer' must hold a choice index"):
        load_rtqa(path)
    assert len(load_rtqa(RTQA_FILE)) == sum(1 for x in RTQA_FILE.open() if x.strip())


def test_rtqa_articles_one_per_question_with_evidence() -> None:
    same_quiz = {**RTQA, "question_id": "20230210_29", "evidence": "Alphabet lost $100bn."}
    no_evidence = {**RTQA, "question_id": "20230210_30", "evidence": ""}
    qs = [parse_rtqa(r) for r in (RTQA, same_quiz, no_evidence)]
    feeds = rtqa_articles(qs)
    articles = [a for arts in feeds.values() for a in arts]
    assert len(articles) == 2  # the question without evidence has no article
    # Questions of one quiz share a URL; their articles must stay distinct.
    assert len({a.id for a in articles}) == 2
    first = articles[0]
    assert first.title.startswith("Google has unveiled Bard") and first.title.endswith("…")
    assert first.published == datetime(2023, 2, 10, tzinfo=UTC)
    assert first.url.endswith("#20230210_2")


def test_rtqa_scoring_names_the_right_choice_only() -> None:
    choices = ["Amazon", "Facebook", "Yahoo", "Google"]
    assert rtqa_correct("(Feb 8, 2023) Google unveiled Bard [1].", True, choices, 3)
    assert not rtqa_correct("Google unveiled Bard [1].", False, choices, 3)  # abstained
    assert not rtqa_correct("Googles of them [1].", True, choices, 3)  # not the word
    # The answer names its answer first; a later choice is context, a wrong first one is wrong.
    nvidia = "Nvidia passed $5 trillion, the week Apple topped $4 trillion [1]."
    companies = ["Apple", "Microsoft", "Nvidia", "Tesla"]
    assert rtqa_correct(nvidia, True, companies, 2)
    assert not rtqa_correct(nvidia, True, companies, 2, strict=True)
    assert not rtqa_correct(nvidia, True, companies, 0)
    assert rtqa_correct("Pope Leo warned about AI [1].", True, ["Bill Gates", "Pope Leo XIV"], 1)
    power = ["Solar power", "Wind power", "Nuclear power"]
    three_mile = "Microsoft will source power from the Three Mile Island nuclear plant [1]."
    assert choice_mentions(three_mile, power) == [False, False, True]
    long = [
        "By patching together newly found scores",
        "Using artificial intelligence (AI) technology",
    ]
    text = "Musicologists used artificial intelligence technology to complete the symphony."
    assert choice_mentions(text, long) == [False, True]


# --------------------------------------------------------------------------- the development set


def _feed_links() -> set[str]:
    links: set[str] = set()
    for feed in load_feeds(EVAL_FEEDS):
        body = Path(feed.url).read_bytes()
        parsed = parse_feed(feed, FetchResult(feed=feed.name, status="ok", body=body))
        assert parsed.error is None, (feed.name, parsed.error)
        links |= {canonical_url(a.url) for a in parsed.articles}
    return links


@pytest.mark.shared_data
def test_eval_feeds_cover_every_feed_file() -> None:
    listed = {Path(f.url).resolve() for f in load_feeds(EVAL_FEEDS)}
    files = {
        p.resolve()
        for p in FEEDS_DIR.rglob("*.xml")
        if "edge-cases" not in p.parts  # failed fetches: no articles (see the toml)
    }
    extra_dir = (EVAL_FEEDS.parent / "extra").resolve()
    extra = {p.resolve() for p in extra_dir.glob("*.xml")}  # hand-written seed articles
    seed_dir = (FEEDS_DIR.parent / "seed").resolve()
    seed = {p.resolve() for p in seed_dir.glob("*.xml")}  # the real Indonesian article
    assert files and seed and listed == files | extra | seed
    assert all(p.parent in (extra_dir, seed_dir) for p in listed - files)
    text = EVAL_FEEDS.read_text(encoding="utf-8")
    assert "/work/" not in text  # relative paths, so a fresh clone works


@pytest.mark.shared_data
def test_dev_set_is_valid_and_its_gold_links_exist_in_the_feeds() -> None:
    questions = load_questions(DEV_SET)
    assert len(questions) >= 40
    kinds = [q.kind for q in questions]
    assert set(kinds) == {"fact", "latest", "filtered", "unanswerable"}
    assert kinds.count("unanswerable") >= 8
    links = _feed_links()
    missing = [(q.id, u) for q in questions for u in q.gold_urls if canonical_url(u) not in links]
    assert not missing
    for q in questions:
        if q.kind == "latest":
            assert q.now is not None, f"{q.id}: a 'latest' question needs 'now'"
        if q.kind == "filtered":
            assert q.feed or q.since or q.now, f"{q.id}: nothing filters it"
    names = {f.name for f in load_feeds(EVAL_FEEDS)}
    assert all(q.feed in names for q in questions if q.feed)
    # Questions are phrased by a user, not copied titles.
    assert len({q.question.lower() for q in questions}) == len(questions)


# --------------------------------------------------------------------------- end to end

SMALL_SET = [
    {
        "id": "aeneas",
        "question": "Which DeepMind model helps historians read ancient inscriptions?",
        "kind": "fact",
        "gold_urls": [
            "https://deepmind.google/discover/blog/aeneas-transforms-how-historians-connect-the-past/"
        ],
        "answer_terms": ["Aeneas"],
    },
    {
        "id": "gemini-cli",
        "question": "What is Gemini CLI?",
        "kind": "fact",
        "gold_urls": [
            "https://blog.google/technology/developers/introducing-gemini-cli-open-source-ai-agent/"
        ],
        "answer_terms": ["open-source", "agent"],
    },
    {
        "id": "phi-flash",
        "question": "What is Phi-4-mini-flash-reasoning optimized for?",
        "kind": "filtered",
        "feed": "microsoft-ai",
        "gold_urls": [
            "https://azure.microsoft.com/en-us/blog/"
            "reasoning-reimagined-introducing-phi-4-mini-flash-reasoning/"
        ],
        "answer_terms": ["edge", "mobile", "latency"],
    },
    {
        "id": "latest-deepmind",
        "question": "What's the latest from Google DeepMind?",
        "kind": "latest",
        "now": "2025-07-24",
        "gold_urls": [
            "https://deepmind.google/discover/blog/aeneas-transforms-how-historians-connect-the-past/",
            "https://deepmind.google/discover/blog/"
            "gemini-25-flash-lite-is-now-ready-for-scaled-production-use/",
        ],
        "answer_terms": ["Aeneas", "Flash-Lite"],
    },
    {
        "id": "sourdough",
        "question": "What's a good recipe for sourdough bread?",
        "kind": "unanswerable",
        "gold_urls": [],
        "answer_terms": [],
    },
    {
        "id": "eurovision",
        "question": "Who won the Eurovision Song Contest in 2025?",
        "kind": "unanswerable",
        "gold_urls": [],
        "answer_terms": [],
    },
]


def _args(file: Path, **kw: Any) -> argparse.Namespace:
    return argparse.Namespace(file=str(file), k=kw.get("k", 5), json=kw.get("json", True),
                              limit=kw.get("limit", 0))  # fmt: skip


@pytest.mark.slow
def test_end_to_end_eval_over_a_real_corpus(
    tmp_path: Path, small_corpus: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path / "small.jsonl", *SMALL_SET)
    assert run_eval_cli(_args(path), small_corpus) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "dev" and report["k"] == 5
    overall = report["overall"]
    assert (overall["questions"], overall["answerable"], overall["unanswerable"]) == (6, 4, 2)
    for key in ("retrieval", "cited", "shown"):
        assert set(overall[key]) == {"hit@5", "mrr@5"}
        assert 0.0 <= overall[key]["hit@5"] <= 1.0
    assert set(report["by_kind"]) == {"fact", "filtered", "latest", "unanswerable"}
    assert overall["latency_s"]["p50"] > 0
    assert overall["latency_s"]["p95"] >= overall["latency_s"]["p50"]
    assert "warnings" not in report  # every gold link is in this corpus
    by_id = {r["id"]: r for r in report["results"]}
    aeneas = by_id["aeneas"]  # clearly answerable: found first, cited, named
    assert aeneas["retrieval_rank"] == 1 and aeneas["cited_rank"] == 1
    assert aeneas["answered"] and aeneas["term_hit"] is True
    retrieved = by_id["phi-flash"]["retrieved"]  # the feed filter reached the retriever
    assert retrieved and all("microsoft.com/" in u for u in retrieved)
    assert not by_id["sourdough"]["answered"]
    assert by_id["sourdough"]["retrieval_rank"] is None

    # The table form, on the first two questions only.
    assert run_eval_cli(_args(path, json=False, limit=2, k=3), small_corpus) == 0
    out = capsys.readouterr().out
    assert "retr hit@3" in out and "fact" in out and "unanswerable" not in out


@pytest.mark.slow
def test_eval_warns_when_gold_links_are_not_in_the_corpus(
    tmp_path: Path, small_corpus: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    other = {**SMALL_SET[0], "gold_urls": ["https://openai.com/index/announcing-devday-2025"]}
    path = _write(tmp_path / "other.jsonl", other)
    assert run_eval_cli(_args(path), small_corpus) == 0
    report = json.loads(capsys.readouterr().out)
    assert "not in the corpus" in report["warnings"][0]
    assert report["overall"]["retrieval"]["hit@5"] == 0.0


@pytest.mark.slow
def test_realtimeqa_over_its_own_evidence(tmp_path: Path, small_corpus: Settings) -> None:
    records = [json.loads(x) for x in RTQA_FILE.read_text(encoding="utf-8").splitlines()]
    wanted = {"20230210_2", "20250131_4", "20200717_5"}  # Bard, DeepSeek, no evidence
    questions = [parse_rtqa(r) for r in records if r["question_id"] in wanted]
    settings = small_corpus.model_copy(update={"data_dir": tmp_path / "unused"})
    report = run_realtimeqa(settings, questions, k=5, workdir=tmp_path)
    summary = report["realtimeqa"]
    assert (summary["with_evidence"], summary["without_evidence"]) == (2, 1)
    by_id = {r["id"]: r for r in report["results"]}
    assert by_id["20230210_2"]["retrieval_rank"] == 1  # its own snippet comes first
    assert by_id["20250131_4"]["retrieval_rank"] == 1
    assert by_id["20200717_5"]["retrieval_rank"] is None  # no article of its own
    assert 0.0 <= summary["accuracy"] <= 1.0
    assert list(tmp_path.glob("newsbot-rtqa-*")) == []  # the temporary corpus is removed
