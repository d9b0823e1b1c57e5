"""`newsbot eval`: measure retrieval and answers on a question set (JSON Lines).

Two input formats, told apart by the fields of the first record (no flag needed):

* **Development set** (eval/dev.jsonl), asked against the configured corpus. One object a line::

    {"id": "oai-devday", "question": "When is DevDay 2025?", "kind": "fact",
     "gold_urls": ["https://openai.com/index/announcing-devday-2025"],
     "answer_terms": ["October 6"], "feed": null, "since": null, "now": "2025-07-25"}

  `kind` is fact | latest | filtered | unanswerable; `gold_urls` are the article links that answer
  the question (empty for unanswerable ones); any of `answer_terms` in the answer text
  (case-insensitive) counts as a correct answer; `feed`/`since` are the `ask` options; `now` is
  the moment the question is asked (ISO date), so "this week" reads right over a fixed corpus.
  `note` and `pattern` (the issue-8 failure pattern a question probes) are for people; not used.

* **RealTimeQA** (`question_sentence`, `choices`, `answer`, `evidence`, ...): each question's
  evidence snippet becomes one article of a temporary corpus, then each question is asked as a
  user would ask it (without its choices). See `run_realtimeqa` for the scoring rule.

Reported (overall and per kind): retrieval hit@k and MRR@k against the gold links, for the raw
`Retriever.search` ranking (one entry per article, the same query and filters the engine used)
and for the sources the answer cites; the answer-term rate over answerable questions; the abstain
rate on unanswerable questions and the false-abstain rate on answerable ones; latency p50/p95 of
`Engine.ask`. Links are compared in `ingest.parse.canonical_url` form.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import shutil
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import AnswerSettings
from bot.engine import Engine
from bot.timeparse import parse_date_option
from ingest.models import Article, FeedState, NewsbotError, utcnow
from ingest.parse import article_id, canonical_url, html_to_text
from ingest.pipeline import embed_pending

if TYPE_CHECKING:
    import numpy as np

    from bot.models import Answer

log = logging.getLogger(__name__)

KINDS = ("fact", "latest", "filtered", "unanswerable")
ANSWERABLE_KINDS = frozenset(KINDS) - {"unanswerable"}
REQUIRED = ("id", "question", "kind", "gold_urls", "answer_terms")
OPTIONAL = ("feed", "since", "now", "note", "pattern")
RTQA_REQUIRED = ("question_id", "question_date", "question_sentence", "choices", "answer")
RTQA_FEED = "RealTimeQA"
TITLE_WORDS = 10


class EvalFileError(NewsbotError):
    """A question file that cannot be read; the message names the file and line."""


# --------------------------------------------------------------------------- pure metrics


def first_rank(ranked: Sequence[str], gold: Iterable[str]) -> int | None:
    """1-based rank of the first ranked link that is a gold link (canonical form), or None.

    Repeated links (two chunks of one article, or one story under two ids) count once, so ranks
    are ranks of distinct articles."""
    wanted = {canonical_url(u) for u in gold}
    seen: set[str] = set()
    for url in ranked:
        key = canonical_url(url)
        if key in seen:
            continue
        seen.add(key)
        if key in wanted:
            return len(seen)
    return None


def hit_at_k(rank: int | None, k: int) -> bool:
    """Whether a gold item was ranked within the first k."""
    return rank is not None and 1 <= rank <= k


def reciprocal_rank(rank: int | None, k: int) -> float:
    """1/rank when the first gold item is within the first k, else 0 (the RR of MRR@k)."""
    return 1.0 / rank if hit_at_k(rank, k) and rank is not None else 0.0


def mean(values: Iterable[float]) -> float | None:
    """Arithmetic mean; None for no values (a rate over an empty set is undefined, not 0)."""
    vals = list(values)
    return sum(vals) / len(vals) if vals else None


def rate(flags: Iterable[bool]) -> float | None:
    """Fraction of True; None when there are no flags."""
    return mean(1.0 if f else 0.0 for f in flags)


def percentile(values: Iterable[float], p: float) -> float | None:
    """The p-th percentile (0-100) with linear interpolation between closest ranks (numpy's
    default); None for no values."""
    vals = sorted(values)
    if not vals:
        return None
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, got {p}")
    pos = (len(vals) - 1) * p / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2212"), "-")
_QUOTES = {ord("\u2018"): "'", ord("\u2019"): "'", ord("\u201c"): '"', ord("\u201d"): '"'}


def normalize_text(text: str) -> str:
    """Lower case, NFKC, one kind of dash and quote, single spaces (for term matching)."""
    text = unicodedata.normalize("NFKC", text or "").translate(_DASHES).translate(_QUOTES)
    return " ".join(text.lower().split())


def term_hit(text: str, terms: Iterable[str]) -> bool:
    """Whether any of the terms occurs in the text (case-insensitive, normalized). A term that
    starts/ends with a letter or digit must not run into a neighbouring word character, so
    "52" does not match "520" and "Sol" does not match "solve"."""
    hay = normalize_text(text)
    for term in terms:
        t = normalize_text(term)
        if not t:
            continue
        pattern = re.escape(t)
        if t[0].isalnum():
            pattern = r"(?<!\w)" + pattern
        if t[-1].isalnum():
            pattern += r"(?!\w)"
        if re.search(pattern, hay):
            return True
    return False


# --------------------------------------------------------------------------- the question file


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    kind: str
    gold_urls: tuple[str, ...]
    answer_terms: tuple[str, ...]
    feed: str | None = None
    since: str | None = None
    now: datetime | None = None
    pattern: str | None = None  # the kind of wording (reword, source, author, ...)

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"


def _iso_moment(value: str) -> datetime:
    """An ISO date or datetime → aware UTC; a bare date means noon UTC of that day."""
    text = value.strip()
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, 12, tzinfo=UTC)
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"'now' must be an ISO date like 2025-07-24, got {value!r}") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _str_list(obj: dict[str, Any], key: str) -> tuple[str, ...]:
    value = obj[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{key!r} must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def parse_question(obj: object) -> EvalQuestion:
    """One decoded JSON line → EvalQuestion. Raises ValueError with a short reason."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        raise ValueError(f"missing {', '.join(repr(k) for k in missing)}")
    unknown = sorted(set(obj) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r}")
    for key in ("id", "question"):
        if not isinstance(obj[key], str) or not obj[key].strip():
            raise ValueError(f"{key!r} must be a non-empty string")
    kind = obj["kind"]
    if kind not in KINDS:
        raise ValueError(f"'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    gold = _str_list(obj, "gold_urls")
    terms = _str_list(obj, "answer_terms")
    if kind == "unanswerable" and gold:
        raise ValueError("an unanswerable question has no gold_urls")
    if kind != "unanswerable" and not gold:
        raise ValueError(f"a {kind!r} question needs at least one gold URL")
    for key in ("feed", "since", "now", "pattern"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise ValueError(f"{key!r} must be a string or null")
    now = _iso_moment(obj["now"]) if obj.get("now") else None
    since = obj.get("since") or None
    if since is not None:
        parse_date_option(since, now or utcnow())  # validated here, resolved when asked
    return EvalQuestion(
        id=obj["id"].strip(),
        question=obj["question"].strip(),
        kind=kind,
        gold_urls=gold,
        answer_terms=terms,
        feed=obj.get("feed") or None,
        since=since,
        now=now,
        pattern=obj.get("pattern") or None,
    )


def _json_lines(path: Path) -> Iterable[tuple[int, object]]:
    """(line number, decoded object) for every non-blank line; one-line errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EvalFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise EvalFileError(f"{path}: cannot read: {e}") from None
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as e:
            raise EvalFileError(f"{path}:{n}: invalid JSON: {e.msg} (column {e.colno})") from None


def load_questions(path: Path) -> list[EvalQuestion]:
    """Read a development-set JSONL file. Raises EvalFileError naming the bad line."""
    out: list[EvalQuestion] = []
    seen: dict[str, int] = {}
    for n, obj in _json_lines(path):
        try:
            q = parse_question(obj)
        except ValueError as e:
            raise EvalFileError(f"{path}:{n}: {e}") from None
        if q.id in seen:
            raise EvalFileError(f"{path}:{n}: duplicate id {q.id!r} (first on line {seen[q.id]})")
        seen[q.id] = n
        out.append(q)
    if not out:
        raise EvalFileError(f"{path}: no questions")
    return out


def detect_format(path: Path) -> str:
    """'realtimeqa' when the first record has RealTimeQA's fields, else 'dev'."""
    for _, obj in _json_lines(path):
        if isinstance(obj, dict) and "question_sentence" in obj and "choices" in obj:
            return "realtimeqa"
        return "dev"
    raise EvalFileError(f"{path}: no questions")


# --------------------------------------------------------------------------- running


@dataclass
class QuestionResult:
    id: str
    kind: str
    question: str
    answered: bool
    answer: str
    latency_s: float
    retrieval_rank: int | None = None  # rank of the first gold article in Retriever.search
    cited_rank: int | None = None  # ... among the answer's cited sources
    shown_rank: int | None = None  # ... among the sources, or the closest articles if abstained
    term_hit: bool | None = None  # None when the question has no answer terms
    retrieved: list[str] = field(default_factory=list)
    cited: list[str] = field(default_factory=list)
    correct: bool | None = None  # RealTimeQA only
    pattern: str | None = None
    lost: str | None = None  # the stage that lost it (see stage_lost)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"


def ask_traced(
    engine: Engine,
    question: str,
    *,
    feed: str | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
) -> tuple[Answer, float]:
    """Ask through the engine (timed). With `now`, the engine sees the corpus as it was then
    (articles published later are hidden); the answer carries the trace of every stage."""
    t0 = time.perf_counter()
    answer = engine.ask(question, feed=feed, since=since, now=now)
    return answer, time.perf_counter() - t0


def warm_up(engine: Engine) -> None:
    """One untimed question first: opening Chroma and first-call costs are not answer latency."""
    engine.warm_up()
    engine.ask("What is new in AI?")


def stage_lost(r: QuestionResult, k: int) -> str | None:
    """Which stage lost a question, read from the trace: `retrieve` (the gold article was never
    a candidate), `rank` (a candidate, not in the top k), `gate` (declined although ranked, or
    answered an unanswerable question), `compose` (answered from the right article but without
    the answer terms or without citing it); None when nothing was lost."""
    if not r.answerable:
        return "gate" if r.answered else None
    if r.retrieval_rank is None or r.retrieval_rank > k:
        in_candidates = r.extra.get("in_candidates")
        return "rank" if in_candidates else "retrieve"
    if not r.answered:
        return "gate"
    if r.cited_rank is None or r.term_hit is False:
        return "compose"
    return None


def evaluate_question(engine: Engine, q: EvalQuestion, k: int) -> QuestionResult:
    now = q.now or utcnow()
    since = parse_date_option(q.since, now) if q.since else None
    answer, latency = ask_traced(engine, q.question, feed=q.feed, since=since, now=q.now)
    trace = answer.trace
    retrieved = list(trace.ranked[:k]) if trace is not None else []
    candidates = list(trace.retrieved) if trace is not None else []
    cited = [s.url for s in answer.sources]
    shown = cited or [s.url for s in answer.closest]
    result = QuestionResult(
        id=q.id,
        kind=q.kind,
        question=q.question,
        answered=answer.answered,
        answer=answer.text,
        latency_s=latency,
        retrieved=retrieved,
        cited=cited,
        pattern=q.pattern,
    )
    if trace is not None:
        result.extra["decision"] = trace.decision
        result.extra["in_candidates"] = first_rank(candidates, q.gold_urls) is not None
        result.extra["plan"] = trace.get("understand")
        result.extra["gate"] = trace.get("gate")
        result.extra["compose"] = {
            k: v for k, v in trace.get("compose").items() if k.startswith("lead")
        }
    if q.gold_urls:
        result.retrieval_rank = first_rank(retrieved, q.gold_urls)
        result.cited_rank = first_rank(cited, q.gold_urls)
        result.shown_rank = first_rank(shown, q.gold_urls)
    if q.answer_terms and q.answerable:
        # An abstention lists the closest titles, which may contain a term: it never counts.
        result.term_hit = answer.answered and term_hit(answer.text, q.answer_terms)
    result.lost = stage_lost(result, k)
    return result


def summarize(results: Sequence[QuestionResult], k: int) -> dict[str, Any]:
    """The report's numbers for one group of results (pure)."""
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    with_gold = answerable  # every answerable question has gold links (checked on load)
    with_terms = [r for r in answerable if r.term_hit is not None]
    lat = [r.latency_s for r in results]

    def ranking(attr: str) -> dict[str, float | None]:
        ranks = [getattr(r, attr) for r in with_gold]
        return {
            f"hit@{k}": rate(hit_at_k(x, k) for x in ranks),
            f"mrr@{k}": mean(reciprocal_rank(x, k) for x in ranks),
        }

    return {
        "questions": len(results),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "retrieval": ranking("retrieval_rank"),
        "cited": ranking("cited_rank"),
        "shown": ranking("shown_rank"),
        "answer_term_rate": rate(bool(r.term_hit) for r in with_terms),
        "abstain_rate": rate(not r.answered for r in unanswerable),
        "false_abstain_rate": rate(not r.answered for r in answerable),
        "latency_s": {
            "p50": percentile(lat, 50),
            "p95": percentile(lat, 95),
            "mean": mean(lat),
        },
    }


def build_report(
    results: Sequence[QuestionResult], k: int, meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    kinds = [kd for kd in KINDS if any(r.kind == kd for r in results)]
    kinds += sorted({r.kind for r in results} - set(kinds))
    patterns = sorted({r.pattern for r in results if r.pattern})
    lost: dict[str, int] = {}
    for r in results:
        if r.lost:
            lost[r.lost] = lost.get(r.lost, 0) + 1
    return {
        **(meta or {}),
        "k": k,
        "overall": summarize(results, k),
        "by_kind": {kd: summarize([r for r in results if r.kind == kd], k) for kd in kinds},
        "by_pattern": {p: summarize([r for r in results if r.pattern == p], k) for p in patterns},
        "lost_at": lost,
        "results": [_result_json(r) for r in results],
    }


def _result_json(r: QuestionResult) -> dict[str, Any]:
    d = asdict(r)
    d["latency_s"] = round(r.latency_s, 4)
    if not d["extra"]:
        del d["extra"]
    if d["correct"] is None:
        del d["correct"]
    return d


# --------------------------------------------------------------------------- printing


def _pct(x: float | None) -> str:
    return "   -" if x is None else f"{100 * x:4.0f}%"


def _num(x: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if x is None else fmt.format(x)


def format_report(report: dict[str, Any]) -> str:
    k = report["k"]
    rows = [("all", report["overall"])] + list(report["by_kind"].items())
    if report.get("by_pattern"):
        rows += [("~" + p, v) for p, v in report["by_pattern"].items()]
    head = (
        f"{'kind/~pattern':<17}{'n':>4}  {'retr hit@' + str(k):>11} {'MRR':>5}  "
        f"{'cited hit@' + str(k):>12} {'MRR':>5}  {'terms':>6}  {'abstain':>7}  "
        f"{'false abst.':>11}  {'p50 s':>6} {'p95 s':>6}"
    )
    lines = []
    if report.get("title"):
        lines.append(report["title"])
    lines += [head, "-" * len(head)]
    for name, s in rows:
        ret, cit = s["retrieval"], s["cited"]
        lines.append(
            f"{name[:16]:<17}{s['questions']:>4}  {_pct(ret[f'hit@{k}']):>11} "
            f"{_num(ret[f'mrr@{k}']):>5}  {_pct(cit[f'hit@{k}']):>12} "
            f"{_num(cit[f'mrr@{k}']):>5}  {_pct(s['answer_term_rate']):>6}  "
            f"{_pct(s['abstain_rate']):>7}  {_pct(s['false_abstain_rate']):>11}  "
            f"{_num(s['latency_s']['p50'], '{:.3f}'):>6} {_num(s['latency_s']['p95'], '{:.3f}'):>6}"
        )
    if report.get("lost_at"):
        stages = ", ".join(f"{s} {n}" for s, n in sorted(report["lost_at"].items()))
        lines.append(f"questions lost, by stage: {stages}")
    for key, value in report.get("extra_lines", {}).items():
        lines.append(f"{key}: {value}")
    misses = [r for r in report["results"] if _missed(r, k)]
    if misses:
        lines.append("\nMisses (lost at: retrieval rank / cited rank / answer terms / answered):")
        for r in misses:
            lines.append(
                f"  {r['id']:<20} {(r.get('lost') or '-'):<8} "
                f"{(r.get('pattern') or r['kind'])[:14]:<14}"
                f" {_rank(r['retrieval_rank'])}/"
                f"{_rank(r['cited_rank'])} terms={_flag(r['term_hit'])} "
                f"answered={'yes' if r['answered'] else 'no'}  {r['question'][:70]}"
            )
    for w in report.get("warnings", []):
        lines.append(f"warning: {w}")
    return "\n".join(lines)


def _rank(x: int | None) -> str:
    return "-" if x is None else str(x)


def _flag(x: bool | None) -> str:
    return "-" if x is None else ("yes" if x else "no")


def _missed(r: dict[str, Any], k: int) -> bool:
    if "correct" in r:
        return not r["correct"]
    if r["kind"] == "unanswerable":
        return bool(r["answered"])
    return (
        not hit_at_k(r["retrieval_rank"], k)
        or not hit_at_k(r["cited_rank"], k)
        or r["term_hit"] is False
        or not r["answered"]
    )


# --------------------------------------------------------------------------- dev set


def missing_gold(engine: Engine, questions: Sequence[EvalQuestion]) -> list[str]:
    """Gold links with no article in the corpus (a sign that the wrong corpus is configured)."""
    urls = sorted({u for q in questions for u in q.gold_urls})
    ids = {article_id(u): u for u in urls}
    found = {row.id for row in engine.corpus.article_rows(list(ids))}
    return [u for aid, u in ids.items() if aid not in found]


def run_dev_eval(
    engine: Engine,
    questions: Sequence[EvalQuestion],
    k: int,
    progress: Callable[[int, int], None] | None = None,
    title: str = "Development set",
) -> dict[str, Any]:
    warm_up(engine)
    results = []
    for i, q in enumerate(questions, start=1):
        results.append(evaluate_question(engine, q, k))
        if progress:
            progress(i, len(questions))
    report = build_report(results, k, {"format": "dev", "title": title})
    missing = missing_gold(engine, questions)
    if missing:
        report["warnings"] = [
            f"{len(missing)} gold link(s) are not in the corpus at {engine.settings.data_dir} "
            f"(is it the eval corpus? see eval/README.md), e.g. {missing[0]}"
        ]
    return report


# --------------------------------------------------------------------------- RealTimeQA


@dataclass(frozen=True)
class RTQAQuestion:
    id: str
    date: datetime  # midnight UTC of the quiz date
    source: str
    url: str
    question: str
    choices: tuple[str, ...]
    answer: int  # index into choices
    evidence: str

    @property
    def article_url(self) -> str:
        return f"{self.url}#{self.id}"


def parse_rtqa(obj: object) -> RTQAQuestion:
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    missing = [key for key in RTQA_REQUIRED if key not in obj]
    if missing:
        raise ValueError(f"missing {', '.join(repr(key) for key in missing)}")
    choices = obj["choices"]
    if (
        not isinstance(choices, list)
        or len(choices) < 2
        or not all(isinstance(c, str) and c.strip() for c in choices)
    ):
        raise ValueError("'choices' must be a list of at least two non-empty strings")
    answer = obj["answer"]
    if not isinstance(answer, list) or len(answer) != 1:
        raise ValueError("'answer' must be a list with one choice index")
    try:
        index = int(answer[0])
    except (TypeError, ValueError):
        raise ValueError(f"'answer' must hold a choice index, got {answer[0]!r}") from None
    if not 0 <= index < len(choices):
        raise ValueError(f"answer index {index} is outside the {len(choices)} choices")
    raw_date = str(obj["question_date"]).replace("/", "-")
    try:
        d = date.fromisoformat(raw_date)
    except ValueError:
        raise ValueError(f"'question_date' must look like 2024/05/24, got {raw_date!r}") from None
    return RTQAQuestion(
        id=str(obj["question_id"]),
        date=datetime(d.year, d.month, d.day, tzinfo=UTC),
        source=str(obj.get("question_source") or "unknown").strip() or "unknown",
        url=str(obj.get("question_url") or f"https://realtimeqa.invalid/{obj['question_id']}"),
        question=_plain(obj["question_sentence"]),
        choices=tuple(_plain(c) for c in choices),
        answer=index,
        evidence=_plain(obj.get("evidence") or ""),
    )


def _plain(value: object) -> str:
    """Snippets and questions carry bits of the quiz page's HTML (inline links): as the feed
    parser would, keep the text only, on one line."""
    return " ".join(html_to_text(str(value)).split())


def load_rtqa(path: Path) -> list[RTQAQuestion]:
    out = []
    for n, obj in _json_lines(path):
        try:
            out.append(parse_rtqa(obj))
        except ValueError as e:
            raise EvalFileError(f"{path}:{n}: {e}") from None
    if not out:
        raise EvalFileError(f"{path}: no questions")
    return out


def rtqa_articles(questions: Sequence[RTQAQuestion]) -> dict[str, list[Any]]:
    """One Article per question with evidence, grouped by feed (the quiz's source).

    Title = the first words of the snippet; url = question_url + "#" + id; published = the quiz
    date. The id is guid-based: quiz questions of one week share their question_url, and links
    are compared without the fragment."""
    feeds: dict[str, list[Article]] = {}
    for q in questions:
        if not q.evidence:
            continue
        words = q.evidence.split()
        title = " ".join(words[:TITLE_WORDS]) + ("…" if len(words) > TITLE_WORDS else "")
        feed = f"{RTQA_FEED}: {q.source}"
        aid = article_id("", q.id, RTQA_FEED, prefer_guid=True)
        feeds.setdefault(feed, []).append(
            Article(
                id=aid,
                url=q.article_url,
                title=title,
                text=q.evidence,
                feed=feed,
                guid=q.id,
                published=q.date,
            )
        )
    return feeds


def choice_positions(text: str, choices: Sequence[str]) -> list[int | None]:
    """Where the text first names each choice (a word index), None when it does not name it.

    Named: the whole choice occurs (normalized, word-bounded), or, for a choice of two or more
    content words, at least two thirds of them do ("nuclear plant ... power" names "Nuclear
    power"; "Pope Leo" names "Pope Leo XIV"). Words are compared after crude suffix stripping."""
    tokens = _content_words(text)
    first: dict[str, int] = {}
    for i, w in enumerate(tokens):
        first.setdefault(w, i)
    out: list[int | None] = []
    for c in choices:
        words = list(dict.fromkeys(_content_words(c)))
        found = [first[w] for w in words if w in first]
        whole = term_hit(text, [c])
        enough = len(words) >= 2 and len(found) >= 2 / 3 * len(words)
        out.append((min(found) if found else 0) if whole or enough else None)
    return out


def choice_mentions(text: str, choices: Sequence[str]) -> list[bool]:
    """Which choices the text names (see `choice_positions`)."""
    return [p is not None for p in choice_positions(text, choices)]


_STOP = frozenset(
    "a an the of to in on for and or by with at from as is are was were be it its this that "
    "their his her they he she who what which".split()
)


def _stem(word: str) -> str:
    """Crude suffix stripping, so "used"/"using" and "scores"/"score" meet."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            return word[: -len(suffix)]
    return word


def _content_words(text: str) -> list[str]:
    words = (w.strip(".,'") for w in re.findall(r"[\w$£€%.,'-]+", normalize_text(text)))
    return [_stem(w) for w in words if w and w not in _STOP]


def rtqa_correct(
    text: str, answered: bool, choices: Sequence[str], answer: int, *, strict: bool = False
) -> bool:
    """Correct = answered and the right choice is named before any other choice is (an answer
    names its answer first; later names are context: "Nvidia passed $5T, as Apple passed $4T").
    `strict`: the right choice is the only one named."""
    if not answered:
        return False
    pos = choice_positions(text, choices)
    right = pos[answer]
    if right is None:
        return False
    others = [p for i, p in enumerate(pos) if i != answer and p is not None]
    if strict:
        return not others
    return all(p > right for p in others)


def closest_choice(vec: np.ndarray, choice_vecs: np.ndarray) -> int:
    return int((choice_vecs @ vec).argmax())


def run_realtimeqa(
    settings: AnswerSettings,
    questions: Sequence[RTQAQuestion],
    k: int,
    progress: Callable[[int, int], None] | None = None,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Evaluate on RealTimeQA over a temporary corpus made of the questions' evidence.

    Each question is asked as the user wrote it (choices are not shown to the engine), as of
    noon UTC on the quiz date. Scoring:
    - a question WITH evidence is correct when the answer is given (answered) and its text names
      the right choice before any other (`choice_positions`: the whole choice, case- and
      dash-insensitive and word-bounded, or two thirds of the words of a choice of 2+ words);
      `accuracy_strict` wants the right choice to be the only one named; `accuracy_similarity`
      is a lenient view: the choice whose embedding is closest to the answer text is the right
      one (answered only);
    - a question WITHOUT evidence is correct when the engine abstains (answered = False);
    - hit@k/MRR: the question's own evidence article in the engine's ranking/citations.
    """
    tmp = Path(tempfile.mkdtemp(prefix="newsbot-rtqa-", dir=workdir))
    try:
        models = settings.data_dir.resolve() / "models"
        tmp_settings = settings.model_copy(
            update={"data_dir": tmp / "data", "chroma_url": None, "retention_days": None}
        )
        tmp_settings.data_dir.mkdir(parents=True)
        if models.is_dir():  # reuse an ONNX export instead of redoing it in the temp dir
            (tmp_settings.data_dir / "models").symlink_to(models, target_is_directory=True)
        engine = Engine(tmp_settings)
        try:
            engine.corpus.check_model(tmp_settings.embedding_model)
            for feed, articles in rtqa_articles(questions).items():
                engine.corpus.upsert_feed(feed, articles, FeedState(name=feed))
            embed_pending(engine.corpus, engine.embedder, tmp_settings)
            return _rtqa_loop(engine, questions, k, progress)
        finally:
            engine.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _rtqa_loop(
    engine: Engine,
    questions: Sequence[RTQAQuestion],
    k: int,
    progress: Callable[[int, int], None] | None,
) -> dict[str, Any]:
    warm_up(engine)
    results: list[QuestionResult] = []
    for i, q in enumerate(questions, start=1):
        now = q.date + timedelta(hours=12)
        answer, latency = ask_traced(engine, q.question, now=now)
        ranked_ids = list(answer.trace.ranked_ids[:k]) if answer.trace is not None else []
        ranked_urls = list(answer.trace.ranked[:k]) if answer.trace is not None else []
        own = article_id("", q.id, RTQA_FEED, prefer_guid=True)
        kind = "evidence" if q.evidence else "no_evidence"
        r = QuestionResult(
            id=q.id,
            kind=kind if q.evidence else "unanswerable",
            question=q.question,
            answered=answer.answered,
            answer=answer.text,
            latency_s=latency,
            retrieved=ranked_urls,
            cited=[s.url for s in answer.sources],
        )
        if q.evidence:
            r.retrieval_rank = _id_rank(ranked_ids, own)
            r.cited_rank = _id_rank([s.article_id for s in answer.sources], own)
            shown = answer.sources or answer.closest
            r.shown_rank = _id_rank([s.article_id for s in shown], own)
            r.correct = rtqa_correct(answer.text, answer.answered, q.choices, q.answer)
            r.term_hit = r.correct
            similar: bool | None = None
            if answer.answered:
                vecs = engine.embedder.embed_texts([answer.text, *q.choices])
                similar = closest_choice(vecs[0], vecs[1:]) == q.answer
            r.extra = {
                "choices": list(q.choices),
                "right": q.choices[q.answer],
                "strict_right": rtqa_correct(
                    answer.text, answer.answered, q.choices, q.answer, strict=True
                ),
                "closest_choice_right": similar,
            }
        else:
            r.correct = not answer.answered
        results.append(r)
        if progress:
            progress(i, len(questions))
    return rtqa_report(results, k)


def _id_rank(ids: Sequence[str], wanted: str) -> int | None:
    seen: list[str] = []
    for aid in ids:
        if aid not in seen:
            seen.append(aid)
            if aid == wanted:
                return len(seen)
    return None


def rtqa_report(results: Sequence[QuestionResult], k: int) -> dict[str, Any]:
    report = build_report(results, k, {"format": "realtimeqa", "title": "RealTimeQA"})
    with_ev = [r for r in results if r.answerable]
    without = [r for r in results if not r.answerable]
    sim = [r.extra.get("closest_choice_right") for r in with_ev]
    summary = {
        "accuracy": rate(bool(r.correct) for r in results),
        "accuracy_with_evidence": rate(bool(r.correct) for r in with_ev),
        "accuracy_strict": rate(bool(r.extra.get("strict_right")) for r in with_ev),
        "accuracy_similarity": rate(bool(s) for s in sim),
        "abstain_rate_without_evidence": rate(not r.answered for r in without),
        "false_abstain_rate_with_evidence": rate(not r.answered for r in with_ev),
        "with_evidence": len(with_ev),
        "without_evidence": len(without),
    }
    report["realtimeqa"] = summary
    report["by_kind"] = {
        "evidence": report["by_kind"].get("evidence"),
        "no_evidence": report["by_kind"].get("unanswerable"),
    }
    report["by_kind"] = {key: v for key, v in report["by_kind"].items() if v is not None}
    report["extra_lines"] = {
        "accuracy (all; no-evidence questions count when abstained)": _pct(summary["accuracy"]),
        "accuracy with evidence (names the right choice first)": _pct(
            summary["accuracy_with_evidence"]
        ),
        "accuracy with evidence, strict (names the right choice only)": _pct(
            summary["accuracy_strict"]
        ),
        "accuracy with evidence by closest choice (embedding; abstentions count as wrong)": _pct(
            summary["accuracy_similarity"]
        ),
        "abstain rate without evidence": _pct(summary["abstain_rate_without_evidence"]),
        "false abstain rate with evidence": _pct(summary["false_abstain_rate_with_evidence"]),
    }
    return report


# --------------------------------------------------------------------------- command line


def _progress_printer(label: str) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\r{label}: {done}/{total}", end="" if done < total else "\n", file=sys.stderr)
        elif done == total or done % 10 == 0:
            log.info("%s: %d/%d questions", label, done, total)

    return show


def run_eval_cli(args: argparse.Namespace, settings: AnswerSettings) -> int:
    """`newsbot eval FILE [--k 5] [--json] [--limit N]`; the format is detected from FILE."""
    k = int(getattr(args, "k", 5) or 5)
    if k < 1:
        raise EvalFileError(f"--k must be at least 1, got {k}")
    limit = int(getattr(args, "limit", 0) or 0)
    rtqa_path = getattr(args, "realtimeqa", None)
    path = Path(rtqa_path or args.file)
    fmt = "realtimeqa" if rtqa_path else detect_format(path)
    if fmt == "realtimeqa":
        rtqa = load_rtqa(path)
        rtqa = rtqa[:limit] if limit > 0 else rtqa
        report = run_realtimeqa(settings, rtqa, k, _progress_printer("realtimeqa"))
    else:
        questions = load_questions(path)
        questions = questions[:limit] if limit > 0 else questions
        engine = Engine(settings)
        try:
            if engine.corpus.counts()["articles"] == 0:
                raise NewsbotError(
                    f"the corpus at {settings.data_dir} is empty: build the eval corpus first "
                    "(see eval/README.md)"
                )
            report = run_dev_eval(
                engine, questions, k, _progress_printer("eval"), title=f"Question set {path}"
            )
        finally:
            engine.close()
    report["file"] = str(path)
    if getattr(args, "json", False):
        print(json.dumps(report, ensure_ascii=False, default=str))
    else:
        print(format_report(report))
    return 0
