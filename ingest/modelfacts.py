"""What one article reports about the models it names: for each model version (family + version
key, read by ingest.modelnames), whether the article reports it as released, only mentions it,
or only rumours it (a rumour or a teaser is not a release), and the facts it states about it
(parameters, context length, open weights, licence, price per million tokens, benchmark
scores). Pure functions over text; the model directory (ingest.store.model_directory) stores
what they return.

A fact is given to a model only when the sentence that states it names that model and no other,
or names none while the article's title names exactly one model (a lab's launch post).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from ingest.modelnames import ModelMention, find_models

RELEASE, MENTION, RUMOUR = "release", "mention", "rumour"
_RANK = {RELEASE: 0, MENTION: 1, RUMOUR: 2}
SCALAR_FIELDS = ("context", "open_weights", "licence", "price_input", "price_output", "price")
RELEASE_NEAR = 60  # characters between a model's name and the verb that releases it
LOWERCASE_NAMES = frozenset({"o", "gpt-oss"})  # families whose names are written in lowercase
AFTER, BEFORE = 120, 15  # how far after / before a model's name a fact about it may stand
# between a name and "open weights" said of it: its own clause, or an apposition, close by
_OPEN_OF = re.compile(r"[^,;]{0,60}|\W{0,3},\s+(?:a|an|the)\b[^,;]{0,50}")
_OTHER_NAME = re.compile(
    r"\b[A-Z][A-Za-z]+(?:-[A-Za-z]+)*[- ]v?\d"
)  # "Canary 1B", "MAI-Thinking-1"
LEAD_SENTENCES = 2  # sentences of an article whose title names one model that speak of it
_COMPARISON = re.compile(
    r"\b(?:vs\.?|versus|than|outperform\w*|beat(?:s|ing)?|surpass\w*|compared|rival\w*|match\w*|"
    r"ahead of|behind|against|like|while|whereas)\b|;",
    re.IGNORECASE,
)
MAX_TEXT = 60_000  # characters of an article read (a newsletter issue can hold 40k)

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z*\"“(\[])|\n+|\s+-\s+(?=\*|[A-Z])")
_RUMOUR = re.compile(
    r"\b(?:rumou?r\w*|reportedly|leak(?:s|ed)?|teas(?:e|es|ed|er|ing)|speculat\w*|"
    r"(?:may|might|could)(?: not)? (?:be )?(?:release|launch|ship|arrive|come)\w*|"
    r"upcoming|coming soon|expected to|is said to|are said to|plans? to (?:release|launch)|"
    r"will (?:release|launch|ship|arrive|debut)|hype|unconfirmed|stealth|claim(?:s|ed|ing)?|"
    r"no (?:release|plans?)|not (?:be )?(?:released|launched)|in training|toward|promis\w*|"
    r"soon)\b",
    re.IGNORECASE,
)
_RELEASE = re.compile(
    r"\b(?:releas(?:e|es|ed|ing)|launch(?:es|ed|ing)?|introduc(?:e|es|ed|ing)|"
    r"announc(?:e|es|ed|ing)|unveil(?:s|ed|ing)?|debut(?:s|ed)?|ship(?:s|ped)|"
    r"roll(?:s|ed)? out|open[- ]sourc(?:e|es|ed)|now available|available today|"
    r"meet|hadir|meluncurkan|merilis)\b",
    re.IGNORECASE,
)
_NUM = r"(\d+(?:[.,]\d+)*)"
_PARAMS = re.compile(
    _NUM + r"\s*(B|billion|T|trillion|miliar)[- ](?:total[- ])?param", re.IGNORECASE
)
_CONTEXT = re.compile(
    r"(?:" + _NUM + r"\s*(K|k|M|million|thousand)?[- ]?(?:tokens?[- ])?(?:token[- ])?"
    r"context(?:[- ]window| length)?|context (?:window|length) of (?:up to )?"
    + _NUM
    + r"\s*(K|k|M|million|thousand)?|"
    + _NUM
    + r"\s*(K|k|M|million|thousand)?[- ]tokens? of context)",
)
_PRICE = re.compile(
    r"\$" + _NUM + r"(?:\s*/\s*\$" + _NUM + r")?\s*(?:/|per)\s*(?:1 million|million|1M|M)\b"
    r"(?:\s+(input|output)(?:\s*/\s*(output))?)?(?:\s+tokens)?",
    re.IGNORECASE,
)
# "open weights", "open-source model", "open models" (not "open-sourced its tooling")
_OPEN = re.compile(r"\bopen[- ](?:weights?|source\b|models?)\b", re.IGNORECASE)
_LICENCE = re.compile(
    r"\b(Apache[- ]2\.0|MIT|Llama \d(?:\.\d)? Community|CC[- ]BY(?:[- ]\w+)*|OpenRAIL\w*|"
    r"Gemma)[- ](?:licen[cs]e|licen[cs]ed|licen[cs]ing)",
    re.IGNORECASE,
)
BENCHMARKS = (
    "SWE-bench Verified|SWE-bench Pro|SWE-bench|MMLU-Pro|MMLU|GPQA Diamond|GPQA|HumanEval|"
    "LiveCodeBench|AIME 2025|AIME 2024|AIME|ARC-AGI-3|ARC-AGI-2|ARC-AGI-1|ARC-AGI|"
    "Humanity's Last Exam|HLE|Terminal-Bench(?: \\d\\.\\d)?|MMMU|GSM8K|BrowseComp|SimpleQA|"
    "DeepSWE|Chatbot Arena|LMArena|MATH-500|MATH|tau-bench|τ2-bench"
)
_BENCH = re.compile(
    r"(?<![#\d.])(\d{1,3}(?:\.\d+)?\s*%?)\s+on\s+(?:the\s+)?(" + BENCHMARKS + r")\b|"
    r"\b("
    + BENCHMARKS
    + r")(?:\s+score)?(?:\s+of|:|\s+at)?\s+(\d{1,3}(?:\.\d+)?(?:\s*%)?)(?![\d.]*\d)",
)


@dataclass(frozen=True)
class Fact:
    field: str  # parameters | context | open_weights | licence | price_input | ... | benchmark
    value: str


@dataclass
class Reported:
    """One model version as one article reports it."""

    family: str
    version: str  # the mention's key: "2.5 pro", "4o mini"
    name: str  # as the article writes it
    maker: str
    status: str = RUMOUR  # release | mention | rumour (the strongest of its sentences)
    in_title: bool = False
    facts: set[Fact] = field(default_factory=set)


def sentences(text: str) -> Iterator[str]:
    for s in _SENTENCE.split(text[:MAX_TEXT]):
        s = s.strip()
        if s:
            yield s


def _versioned(mentions: list[ModelMention]) -> list[ModelMention]:
    return [m for m in mentions if m.version or m.size]


def _key(m: ModelMention) -> str:
    return m.key or m.size


def report(title: str, text: str) -> list[Reported]:
    """The model versions an article names, each with its status and the facts stated."""
    out: dict[tuple[str, str], Reported] = {}
    title_models = _versioned(find_models(title))
    for m in title_models:
        r = _entry(out, m)
        r.in_title = True
        r.status = _stronger(r.status, _status(title, m))
    one = len({(m.family, _key(m)) for m in title_models}) == 1 and not _COMPARISON.search(title)
    sole = title_models[0] if one else None  # "X beats GPT-4" is not about GPT-4
    for index, sentence in enumerate(sentences(text)):
        named = _versioned(find_models(sentence))
        for m in named:
            r = _entry(out, m)
            r.status = _stronger(r.status, _status(sentence, m))
        targets = {(m.family, _key(m)) for m in named}
        if _RUMOUR.search(sentence):
            continue  # "weights promised soon", "reportedly 2T parameters": no facts
        if len(targets) == 1:
            m = named[0]
            out[(m.family, _key(m))].facts |= set(facts(sentence, m))
        elif not targets and sole is not None and index < LEAD_SENTENCES:
            stated = set(facts(sentence, None))
            if not _RELEASE.search(title):  # "X: fast models" is no launch post of X
                stated = {f for f in stated if f.field not in ("open_weights", "licence")}
            out[(sole.family, _key(sole))].facts |= stated
    return list(out.values())


def _entry(out: dict[tuple[str, str], Reported], m: ModelMention) -> Reported:
    key = (m.family, _key(m))
    if key not in out:
        out[key] = Reported(m.family, _key(m), " ".join(m.text.split()), m.maker)
        if m.size:
            out[key].facts.add(Fact("parameters", m.size))
    return out[key]


def _stronger(a: str, b: str) -> str:
    return a if _RANK[a] <= _RANK[b] else b


def _status(sentence: str, m: ModelMention) -> str:
    """Rumour when the sentence hedges; release when a release verb stands next to the name
    (written as a name: "llama 5" in lowercase is someone's joke, not a launch)."""
    if _RUMOUR.search(sentence):
        return RUMOUR
    if m.text[:1].islower() and m.family not in LOWERCASE_NAMES:
        return MENTION
    near = sentence[max(0, m.start - RELEASE_NEAR) : m.end + RELEASE_NEAR]
    return RELEASE if _RELEASE.search(near) else MENTION


def facts(sentence: str, mention: ModelMention | None) -> Iterator[Fact]:
    """The facts one sentence states about the one model it is about: after its name and close
    to it (`AFTER`), or just before it (`BEFORE`), with no comparison in between ("achieving 97%
    on AIME and outperforming Sonnet 4.6" says nothing about Sonnet 4.6)."""
    for start, fact in _stated(sentence):
        if mention is None or _about(sentence, mention, fact, start):
            yield fact


def _about(sentence: str, m: ModelMention, fact: Fact, start: int) -> bool:
    """Whether a fact at `start` is said of the model `m`: after its name and close to it, or
    (open weights only: "the open-weight Kimi K2") just before it; with no comparison and no
    other name with a number ("Canary 1B", "MAI-Thinking-1") in between."""
    if _COMPARISON.search(sentence[max(0, m.start - 16) : m.start]):
        return False  # "surpasses Llama 3.1 70B", "vs Gemma3": the model compared with
    if start >= m.end:
        between, ok = sentence[m.end : start], start - m.end <= AFTER
        if fact.field == "open_weights":  # said of it: "X, an open-weight model", "X is open"
            ok = bool(_OPEN_OF.fullmatch(between))
    else:
        between = sentence[start : m.start]
        ok = fact.field == "open_weights" and m.start - start <= BEFORE
    others = _OTHER_NAME.search(_BENCH.sub(" ", between))  # a list of scores is no other name
    return ok and not _COMPARISON.search(between) and not others


def _stated(sentence: str) -> Iterator[tuple[int, Fact]]:
    """Every fact a sentence states, with where it starts."""
    for m in _PARAMS.finditer(sentence):
        unit = "T" if m.group(2).lower().startswith("t") else "B"
        yield m.start(), Fact("parameters", m.group(1).replace(",", "") + unit)
    for m in _CONTEXT.finditer(sentence):
        number = m.group(1) or m.group(3) or m.group(5)
        value = _tokens(number, m.group(2) or m.group(4) or m.group(6))
        if value:
            yield m.start(), Fact("context", value)
    for m in _PRICE.finditer(sentence):
        if re.search(r"\b(?:to|from)\s*$", sentence[: m.start()]):
            continue  # "from $1 to $5 per million": a range of several models' prices
        first, second, kind = m.group(1), m.group(2), m.group(3)
        if second is not None:
            yield m.start(), Fact("price_input", f"${first}")
            yield m.start(), Fact("price_output", f"${second}")
        else:
            yield m.start(), Fact(f"price_{kind.lower()}" if kind else "price", f"${first}")
    if not re.search(r"\bnot open|closed", sentence, re.I):
        for m in _OPEN.finditer(sentence):
            yield m.start(), Fact("open_weights", "yes")
    for m in _LICENCE.finditer(sentence):
        name = re.sub(r"[- ]", " ", m.group(1)).replace("Apache 2.0", "Apache-2.0")
        yield m.start(), Fact("licence", name)
    for m in _BENCH.finditer(sentence):
        score, bench = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        score = score.replace(" ", "")
        if "%" in score or float(score) >= 5:  # "Terminal-Bench 2.1" names a benchmark's version
            yield m.start(), Fact("benchmark", f"{bench} {score}")


def _tokens(number: str, unit: str | None) -> str:
    """ "128", "K" → "128K"; "200,000" → "200K"; "1", "million" → "1M"."""
    try:
        value = float(number.replace(",", ""))
    except ValueError:
        return ""
    scale = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6}.get((unit or "").lower(), 1)
    tokens = value * scale
    if tokens < 1000 or tokens > 1e8:
        return ""  # "4 context windows", a year: no context length
    if tokens >= 1e6:
        return f"{round(tokens / 1e6, 2):g}M"
    return f"{round(tokens / 1e3)}K"
