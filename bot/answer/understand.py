"""Question understanding: question text → QueryPlan (what is asked and where to look).

Pure: the only outside knowledge is a `SourceDirectory` (the feeds, their hosts and authors, built
from the corpus by the retrieval stage), so this module is tested without a corpus.

What a plan separates (the MRAG idea: content apart from constraints):
- `content`: the words that say WHAT is asked, without the words that say WHERE to look ("according
  to Simon Willison", "on Lilian Weng's blog", "AINews had a bit about") or WHEN ("in March 2025").
- `sources`: feeds (and authors) the question names. `source_explicit` when phrased as a place to
  look: then retrieval is restricted to them. A lab named as the subject ("what did DeepMind ...")
  is a soft preference only: newsletters cover labs too.
- `window`: the time window; `listing` when the question asks for a source's newest items (or its
  items in a window) rather than for a fact.
- `answer_type`: person | money | number | date | model | org | place | any, so the composer
  picks a sentence that holds that kind of thing.
- `names` and `versions`: what the answer must be about ("GPT-5", ("claude", "9")).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.answer.directory import PUBLICATION_WORDS, SourceDirectory, SourceMatch, words_of
from bot.answer.text import clean_question, entity_terms, keyword_terms
from bot.answer.versions import MONTHS, versions_in
from bot.datephrases import calendar_words, format_day
from bot.language import detect_language
from bot.models import Turn
from bot.timeparse import TimeWindow, parse_time_window

# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class QueryPlan:
    question: str  # cleaned question as asked
    content: str  # what is asked: without source, time and publication words
    query: str  # retrieval query: `content`, plus the previous question for a follow-up
    answer_type: str  # person | money | number | date | model | org | place | any
    names: tuple[str, ...]  # entity terms of the content ("gpt-5", "kimi")
    versions: tuple[tuple[str, str], ...]  # ("claude", "9") for "Claude 9"
    sources: tuple[SourceMatch, ...]
    window: TimeWindow
    listing: bool  # asks for a source's newest items / its items in the window
    topic: tuple[str, ...]  # for a listing: the topic words left besides the source
    language: str  # "en" | "id"
    follow_up: bool = False

    @property
    def source_feeds(self) -> tuple[str, ...]:
        return tuple(sorted({f for s in self.sources for f in s.feeds}))

    @property
    def terms(self) -> list[str]:
        """The content's distinctive terms, without words that only name a kind of post."""
        return [t for t in keyword_terms(self.content) if t not in PUBLICATION_WORDS]

    @property
    def source_explicit(self) -> bool:
        return any(s.explicit for s in self.sources)

    @property
    def authors(self) -> tuple[str, ...]:
        return tuple(sorted({s.author for s in self.sources if s.author}))

    def describe(self) -> dict[str, object]:
        w = self.window
        return {
            "content": self.content,
            "query": self.query,
            "answer_type": self.answer_type,
            "names": list(self.names),
            "versions": [" ".join(v) for v in self.versions],
            "sources": [
                {
                    "phrase": s.phrase,
                    "feeds": list(s.feeds),
                    "author": s.author,
                    "explicit": s.explicit,
                }
                for s in self.sources
            ],  # fmt: skip
            "window": w.label or None,
            "since": format_day(w.since) if w.since else None,
            "until": format_day(w.until) if w.until else None,
            "prefer_recent": w.prefer_recent,
            "listing": self.listing,
            "topic": list(self.topic),
            "language": self.language,
            "follow_up": self.follow_up,
        }


_EXPLICIT_BEFORE = re.compile(
    r"(?:^\s*(?:in|at)\s+(?:the\s+)?|(?:according\s+to|per|from|on|via|by|read\s+(?:on|in)|"
    r"(?:post|posts|article|articles|blog|piece|entry|issue|newsletter|feed|writeup|item|"
    r"coverage|story|update|tulisan|artikel|menurut|di|dari)\s+(?:on|in|from|by|at)))\s*$",
    re.IGNORECASE,
)
_EXPLICIT_AFTER = re.compile(
    r"^\s*(?:['’]s\s+)?(?:own\s+)?(?:blog|weblog|post|posts|article|articles|newsletter|feed|"
    r"site|website|page|write-?up|piece|pieces|entry|issue|issues|news\s+feed|team\s+blog|"
    r"latest|newest|most\s+recent|recent|new|"
    r"had|ran|wrote|writes|posted|posts|published|publishes|covered|covers|mentioned|mentions|"
    r"said|says|reported|reports|shared|talked|discussed|noted|linked|cover|write|mention|say|"
    r"report|post|publish|blogged|put\s+out|dropped)\b",
    re.IGNORECASE,
)

RECENT_DAYS = 31
_RECENTLY = re.compile(
    r"\b(?:recently|lately|these\s+days|in\s+recent\s+(?:days|weeks)|belakangan\s+ini"
    r"|baru-baru\s+ini)\b",
    re.IGNORECASE,
)

_LISTING = re.compile(
    r"\b(?:latest|newest|most\s+recent|recent|last|new|terbaru|baru)\b\s*"
    r"(?:\w+\s+){0,2}?(?:post|posts|article|articles|entry|entries|piece|pieces|item|items|"
    r"issue|issues|update|updates|news|blog\s+posts?|stuff|thing|things|writing|tulisan|"
    r"artikel|berita)\b|\b(?:latest|newest|most\s+recent)\s+(?:from|on|by|at|in)\b"
    r"|\bwhat(?:'s|\s+is|\s+was)?\s+new\b|\bwhat(?:'s|\s+has)?\s+(?:been\s+)?(?:posted|published)\b"
    r"|\bwhat\s+did\s+.{1,40}?\s+(?:post|publish|write|blog|put\s+out)\b"
    r"|\b(?:anything|something)\s+new\b|\bapa\s+(?:yang\s+)?(?:terbaru|baru)\b",
    re.IGNORECASE,
)

_TYPE_RULES: list[tuple[str, re.Pattern[str]]] = [
    (
        "person",
        re.compile(
            r"^\s*(?:and\s+)?who\b(?!\s+(?:made|makes|released|releases|launched|built|"
            r"develops|developed|owns|acquired|bought|is\s+behind))|\bwho\s+(?:is|was|are|were)\s+"
            r"(?:the\s+)?(?:ceo|cto|founder|author|head|lead|president|chief)"
            r"|\bwhich\s+(?:person|people|researcher|researchers|author|authors|ceo|founder|"
            r"executive|scientist)\b|\bname\s+of\s+the\s+(?:person|ceo|author|founder|researcher)"
            r"|\bsiapa\b",
            re.IGNORECASE,
        ),
    ),
    (
        "money",  # an amount paid, raised or charged, not a change ("by how much did it cut")
        re.compile(
            r"^(?!.*\b(?:by\s+how\s+much|cut|cuts|reduce[sd]?|lower(?:ed)?|drop(?:ped)?|"
            r"increase[sd]?|fell|rise|rose)\b).*(?:"
            r"\bhow\s+much\s+(?:money\b|(?:[\w.-]+\s+){0,6}?(?:cost|costs|pay|paid|charge[sd]?|"
            r"spen[dt]|raised?|fund(?:ing|ed)?|sold|sell|invest(?:ed)?|worth|valued)\b)"
            r"|(?<![-\w])(?:price[sd]?|pricing|costs?|charge[sd]?|fees?|fine|valuation|salary|"
            r"funding)\b(?!-)"
            r"|\b(?:biaya|harga|denda|tarif|dana|pendanaan)\b)",
            re.IGNORECASE,
        ),
    ),
    (
        "number",
        re.compile(
            r"\bhow\s+(?:much|many|big|large|long|fast|expensive|cheap|often|far|old|high|low)\b"
            r"|\bwhat\s+(?:[\w.-]+\s+){0,3}?(?:percentage|percent|share|price|cost|score|"
            r"accuracy|size|amount|valuation|number|fraction|rate)\b"
            r"|(?<![-\w])(?:cost|costs|price|pricing|priced|charge|charges|charged|fee|fees)\b(?!-)"
            r"|\bberapa\b",
            re.IGNORECASE,
        ),
    ),
    (
        "date",
        re.compile(
            r"^\s*(?:and\s+)?when\b|\bwhen\s+(?:is|was|did|does|will)\b"
            r"|\bwhat\s+(?:date|day|year|month|time)\b|\bkapan\b|\btanggal\s+berapa\b"
            r"|\b(?:release|launch|start|end)\s+date\b|\b(?:dates?|tanggal)\s*\??\s*$",
            re.IGNORECASE,
        ),
    ),
    (
        "model",
        re.compile(
            r"\b(?:which|what)\s+(?:\w+\s+)?(?:model|models|llm|llms|version|checkpoint|system)\b"
            r"|\bwhat(?:'s|s|\s+is|\s+was)\s+(?:the\s+)?(?:\w+\s+)?(?:benchmark|tool|feature|"
            r"product|project|dataset|app|library|framework|paper|method|technique|trick)\b"
            r"(?=.*\b(?:where|that|which|for|called|named|behind)\b)"
            r"|\bwhat(?:'s|\s+is|\s+was)\s+(?:the\s+)?(?:new\s+)?(?:model|tool|product)\s+called"
            r"|\bwhat\s+is\s+it\s+called\b|\bwhat(?:'s|\s+is)\s+the\s+name\b|\bmodel\s+apa\b"
            r"|\b(?:name|called)\s*\??\s*$"
            r"|\bnama\s+model\b",
            re.IGNORECASE,
        ),
    ),
    (
        "org",
        re.compile(
            r"\b(?:which|what)\s+(?:\w+\s+)?(?:company|companies|lab|labs|startup|startups|firm|"
            r"firms|organization|organisation|org|team|university|partner|partners)\b"
            r"|\bwho\s+(?:made|makes|released|releases|launched|built|develops|developed|owns|"
            r"acquired|bought|is\s+behind)\b|\bperusahaan\s+apa\b",
            re.IGNORECASE,
        ),
    ),
    (
        "place",
        re.compile(
            r"^\s*(?:and\s+)?where\b|\bwhere\s+(?:is|was|are|were|will|did|does)\b"
            r"|\b(?:which|what)\s+(?:city|country|countries|venue|place|location|state|region)\b"
            r"|\bin\s+which\s+(?:city|country)\b|\bdi\s+mana\b|\bdimana\b",
            re.IGNORECASE,
        ),
    ),
]


def answer_type(question: str) -> str:
    for kind, pattern in _TYPE_RULES:
        if pattern.search(question):
            return kind
    return "any"


# --------------------------------------------------------------------------- follow-ups

_FOLLOW_UP_WORDS = frozenset(
    """they them their theirs it its that those these he him his she her there before after else
    earlier later also more other another same former latter""".split()
)
_FOLLOW_UP_START = re.compile(
    r"^(?:and|but|so|also|what about|how about|and what|why|how come|tell me more|more on|"
    r"what else|anything else|same for|compared to|vs\.?|versus)\b",
    re.IGNORECASE,
)


def is_follow_up(question: str, history: Sequence[Turn]) -> bool:
    """A question that leans on the previous one: short, or starting like "and what about",
    or using a referring word (they/it/that/those/before/after/else ...)."""
    if not history:
        return False
    words = re.findall(r"[\w'-]+", question.lower())
    if len(words) <= 4 or _FOLLOW_UP_START.match(question.strip()):
        return True
    return any(w in _FOLLOW_UP_WORDS for w in words)


def build_query(question: str, history: Sequence[Turn]) -> str:
    """The retrieval query: the question, preceded by the previous question(s) for a follow-up
    (two back when the previous question was itself a follow-up)."""
    if not is_follow_up(question, history):
        return question
    parts = [question]
    turns = list(history)
    while turns and len(parts) < 3:
        prev = clean_question(turns.pop().question)
        if not prev:
            break
        parts.insert(0, prev)
        if not is_follow_up(prev, turns):
            break
    return " ".join(parts)


# --------------------------------------------------------------------------- understand


def understand(
    question: str,
    now: datetime,
    *,
    directory: SourceDirectory | None = None,
    history: Sequence[Turn] = (),
    since: datetime | None = None,
    feed: str | None = None,
) -> QueryPlan:
    """The plan for one question. `since`/`feed` are explicit options (CLI, slash command)."""
    q = clean_question(question)
    window = _window(q, now, since)
    rest = q.replace(window.matched, " ") if window.matched else q
    sources = _sources(rest, directory, feed)
    content, bare, listing = _content(q, rest, sources, window)
    follow = is_follow_up(q, history)
    bare_terms = [t for t in keyword_terms(bare) if t not in PUBLICATION_WORDS and not t.isdigit()]
    names_of = directory.words if directory else {}
    source_words = {w for s in sources for f in s.feeds for w in names_of.get(f) or words_of(f)}
    return QueryPlan(
        question=q,
        content=content,
        query=build_query(content, history) if follow else content,
        answer_type=answer_type(q),
        names=_names(content, directory, sources),
        versions=tuple(versions_in(content, directory.capitalized if directory else frozenset())),
        sources=tuple(sources),
        window=window,
        listing=listing,
        topic=tuple(t for t in bare_terms if t not in source_words),
        language=detect_language(q),
        follow_up=follow,
    )


def _window(question: str, now: datetime, since: datetime | None) -> TimeWindow:
    window = parse_time_window(question, now)
    if not window.bounded and _RECENTLY.search(question):
        # "recently"/"lately" over a corpus that stopped months ago: the past month, so the
        # answer can say plainly that nothing that recent is in the sources.
        window = TimeWindow(now - timedelta(days=RECENT_DAYS), None, True, "the past month", "")
    if since is not None:
        window = TimeWindow(since, None, window.prefer_recent, f"since {format_day(since)}")
    return window


def _sources(rest: str, directory: SourceDirectory | None, feed: str | None) -> list[SourceMatch]:
    """The sources named: the `feed` option, then what the directory finds in the question."""
    sources: list[SourceMatch] = []
    if feed:
        sources.append(SourceMatch((feed,), feed, explicit=True))
    if directory is not None:
        for m in directory.find(rest):
            # an author named is where to look (their posts), whatever the phrasing
            explicit = bool(m.author) or _is_explicit(rest, m.phrase)
            sources.append(SourceMatch(_narrow(m.feeds, rest), m.phrase, m.author, explicit))
    return sources


def _content(
    q: str, rest: str, sources: Sequence[SourceMatch], window: TimeWindow
) -> tuple[str, str, bool]:
    """(content: what is asked, bare: without any source phrase, listing: asks for items)."""
    content = rest
    for s in sources:
        if s.phrase and (s.explicit or s.author):
            content = _drop_phrase(content, s.phrase)
    bare = content
    for s in sources:
        bare = _drop_phrase(bare, s.phrase)
    listing = bool(sources) and _asks_listing(q, bare, window)
    if listing:
        for s in sources:  # "latest from DeepMind": the lab is where to look, not the topic
            content = _drop_phrase(content, s.phrase)
    content = " ".join(content.split()) or q
    if not keyword_terms(content):
        content = " ".join(rest.split()) or q
    return content, bare, listing


def _names(
    content: str, directory: SourceDirectory | None, sources: Sequence[SourceMatch]
) -> tuple[str, ...]:
    common = directory.common if directory is not None else set()
    return tuple(
        n
        for n in dict.fromkeys([*entity_terms(content), *_known_names(content, directory)])
        if n not in _source_words(sources)
        and n not in calendar_words()  # "on Monday", "in March": when, not what
        and (len(n) > 2 or any(c.isdigit() for c in n))  # "SF", "US": not what is asked
        and not ("-" in n and any(p in common for p in n.split("-")))  # "AI-generated"
    )


def _known_names(text: str, directory: SourceDirectory | None) -> list[str]:
    if directory is None or not directory.name_words:
        return []
    return [t for t in keyword_terms(text) if t in directory.name_words and t not in MONTHS]


def _narrow(feeds: tuple[str, ...], question: str) -> tuple[str, ...]:
    """Of several feeds of one source, those whose name has a word the question uses and the
    others lack ("OpenAI's research posts" → OpenAI Research, not OpenAI News)."""
    if len(feeds) < 2:
        return feeds
    asked = set(words_of(question))
    words = {f: set(words_of(f)) for f in feeds}
    shared = set.intersection(*words.values())
    keep = tuple(f for f in feeds if (words[f] - shared) & asked)
    return keep or feeds


def _source_words(sources: Sequence[SourceMatch]) -> set[str]:
    return {w for s in sources for w in keyword_terms(s.phrase)}


def _is_explicit(text: str, phrase: str) -> bool:
    i = text.find(phrase)
    if i < 0:
        return False
    before, after = text[:i], text[i + len(phrase) :]
    return bool(_EXPLICIT_BEFORE.search(before) or _EXPLICIT_AFTER.match(after))


_FRAME_BEFORE = r"(?:\b(?:according\s+to|per|via|on|from|in|at)\s+(?:the\s+)?)?"
_FRAME_AFTER = (
    r"(?:['’]s)?(?:\s+own)?(?:\s+(?:news|research|team)\b)?"
    r"(?:\s+(?:blog|weblog|newsletter|news\s+feed|feed|site|website|page)\b)?"
)


def _drop_phrase(text: str, phrase: str) -> str:
    """The text without the source phrase and the words that framed it ("according to X",
    "on X's blog", "X's own news feed")."""
    pattern = _FRAME_BEFORE + re.escape(phrase) + _FRAME_AFTER
    out = re.sub(pattern, " ", text, count=1, flags=re.IGNORECASE)
    return re.sub(r"^\s*[,;:-]\s*|\s+(?=[,?.!])", lambda m: "" if m.group(0).strip() else "", out)


def _asks_listing(question: str, content: str, window: TimeWindow) -> bool:
    """A request for items rather than a fact: "latest post on X", "what's new from X",
    "what did X publish in March" - with at most one topic word left ("latest X post on
    agents": the newest of X's items about agents)."""
    asks = bool(_LISTING.search(question))
    if not asks and not window.bounded:
        return False
    topic = [t for t in keyword_terms(content) if t not in PUBLICATION_WORDS and not t.isdigit()]
    return len(topic) <= 1 if asks else not topic
