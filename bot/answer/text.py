"""Text helpers of the answer path: question cleaning, tokens and terms, markdown stripping,
sentence splitting. Pure functions; the one place for stopwords on the reader side."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from ingest.text import SEARCH_STOPWORDS, shorten  # shared with ingest

__all__ = [
    "STOPWORDS",
    "clean_question",
    "entity_terms",
    "keyword_terms",
    "looks_like_code",
    "mentions",
    "norm_token",
    "shorten",
    "split_sentences",
    "strip_markdown",
    "tokens",
    "usable_sentence",
]


def _words(text: str) -> list[str]:
    return text.split()


_DISCORD_MARKUP = re.compile(r"<(?:@[!&]?|#|/[\w -]+:)\d+>|<a?:(\w+):\d+>")

# The words too common to search for, plus English question words and filler and Indonesian
# function words (the corpus holds Indonesian articles and people ask in Indonesian): words that
# say nothing about WHAT is asked.
STOPWORDS = SEARCH_STOPWORDS | frozenset(
    _words(
        """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each else few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just let me more most my myself no nor not now of off on once only or other our
    ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    tell know give show explain describe please anything something everything thing things any
    happened happen happening going get got new news latest newest recent recently lately
    today yesterday week weeks month months year years day days since ago last past this next
    ai also say said says about announce announced announcement release released releases
    whats what's hey hi hello bot newsbot does did done make made much many really actually
    anyone someone somebody guys folks heard hear read saw see seen wondering curious remind
    quick question wait ok okay pls plz u ur im i'm idk btw
    yang dan di ke dari untuk dengan ini itu apa apakah siapa berapa kapan bagaimana mengapa
    kenapa adalah akan telah sudah pada oleh dalam atau juga tidak bisa ada tentang baru terbaru
    sebuah seorang para saat karena sebagai lebih hingga sampai bahwa mereka kami kita saya
    ia dia nya pun lah kah tersebut menjadi dapat serta agar jika namun masih sangat
    """
    )
)
_TOKEN = re.compile(r"\w[\w.+-]*[\w+]|\w")


def clean_question(question: str) -> str:
    """Drop Discord mention/channel/emoji markup and collapse whitespace."""
    text = _DISCORD_MARKUP.sub(lambda m: m.group(1) or " ", question or "")
    return " ".join(text.split())


def norm_token(tok: str) -> str:
    tok = tok.strip(".-_'’")
    if tok.endswith(("'s", "’s")):
        tok = tok[:-2]
    if len(tok) > 4 and tok.endswith("s") and not tok.endswith("ss"):
        tok = tok[:-1]
    return tok


def tokens(text: str) -> set[str]:
    return {norm_token(t) for t in _TOKEN.findall(text.lower())}


def keyword_terms(text: str) -> list[str]:
    """Distinctive terms of a question: lowercased, stopwords and 1-letter tokens dropped."""
    out: list[str] = []
    for raw in _TOKEN.findall(text.lower()):
        tok = norm_token(raw)
        if len(tok) < 2 or tok in STOPWORDS or raw in STOPWORDS:
            continue
        if tok not in out:
            out.append(tok)
    return out


def entity_terms(text: str) -> list[str]:
    """Names in a question: terms written with a capital or a digit ("Kimi", "K2", "GPT-5",
    "RLHF"), lowercased. Bare numbers ("3", "2.5"), stopwords and a sentence's capitalized
    first word ("Summarize ...") are not names, unless written like one ("OpenAI", "GPT-5")."""
    out: list[str] = []
    for m in _TOKEN.finditer(text):
        raw = m.group(0)
        if not any(c.isupper() or c.isdigit() for c in raw) or re.fullmatch(r"[\d.,]+", raw):
            continue
        before = text[: m.start()].rstrip(" \t\n\"'“‘(¿¡*_")
        if (not before or before[-1] in ".?!:") and not any(
            c.isupper() or c.isdigit() for c in raw[1:]
        ):
            continue  # "Summarize the news" - a capital only because the sentence starts
        tok = norm_token(raw.lower())
        if len(tok) < 2 or tok in STOPWORDS or raw.lower() in STOPWORDS:
            continue
        if tok not in out:
            out.append(tok)
    return out


def mentions(terms: Iterable[str], text: str) -> bool:
    """Any term occurs as a word or a word's prefix ("gpt-5" in "GPT-5.5", "gemini" in
    "gemini-2.5"), but not inside a longer name ("gpt-5" is not in "gpt-50")."""
    terms = list(terms)
    if not terms:
        return False
    toks = tokens(text)
    # "deepseek-r1" names both "deepseek" and "r1"; "gpt-5.5" names "gpt-5"
    toks |= {"-".join(p[i:]) for tok in toks if "-" in tok for p in [tok.split("-")]
             for i in range(1, len(p))}  # fmt: skip
    return any(
        tok == t or (tok.startswith(t) and not tok[len(t)].isalnum()) for t in terms for tok in toks
    )


# --------------------------------------------------------------------------- markdown and sentences

_MD_SUBS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"```.*?(?:```|$)", re.S), " "),
    (re.compile(r"!\[[^\]]*\]\([^)]*\)"), " "),
    (re.compile(r"\[([^\]]+)\]\((?:[^()]|\([^)]*\))*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),
    (re.compile(r"<[^>\n]{1,300}>"), " "),
    (re.compile(r"https?://\S+|www\.\S+"), " "),
    # footnote refs like [3] in the source text would clash with our citation markers
    (re.compile(r"[ \t]*\[\s*\d+(?:\s*[,-]\s*\d+)*\s*\]"), ""),
    (re.compile(r"^\s{0,3}#{1,6}\s*", re.M), ""),
    (re.compile(r"^\s*>\s?", re.M), ""),
    (re.compile(r"^\s*(?:[-*+•◦▪]|\d{1,2}[.)])\s+", re.M), ""),
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])"), r"\1"),
    (re.compile(r"`([^`\n]*)`"), r"\1"),
    (re.compile(r"arXiv:\S+\s+Announce Type:\s*\S+\s*(?:Abstract:\s*)?", re.I), ""),
    (re.compile(r"^\s*[-=*_|]{3,}\s*$", re.M), ""),
]


def strip_markdown(text: str) -> str:
    """Markdown/HTML noise out, plain text kept; line breaks are kept as sentence boundaries."""
    text = html.unescape(text or "")
    for pattern, repl in _MD_SUBS:
        text = pattern.sub(repl, text)
    lines = []
    for line in text.splitlines():
        if line.count("|") >= 3:  # a table row
            continue
        line = " ".join(line.split())
        if line:
            lines.append(line)
    return "\n".join(lines)


_ABBREVIATIONS = frozenset(
    _words(
        """e.g i.e vs etc mr mrs ms dr prof st inc ltd co corp jr sr no fig approx al u.s u.k
    jan feb mar apr jun jul aug sep sept oct nov dec est dept"""
    )
)
_SENT_END = re.compile(r"[.!?…]+[\"”’')\]]*(?=\s+[\"“‘'(\[]?[A-Za-z0-9])")
_BOILERPLATE = re.compile(
    r"^(?:read more|continue reading|click here|subscribe|sign up|share this|follow us|posted by|"
    r"posted in|image:|image credit|photo:|credit:|source:|via |tags?:|filed under|related:|"
    r"comments?\b|leave a comment|table of contents|skip to|advertisement|sponsored)"
    r"|appeared first on|all rights reserved|©|cookie|subscribe to (?:our|the)|"
    r"\bthis (?:post|article) (?:was )?(?:originally )?(?:published|appeared)\b|"
    r"^(?:the )?post .{0,200} appeared first",
    re.IGNORECASE,
)


def split_sentences(text: str) -> list[str]:
    """Sentences of cleaned text; lines are boundaries; abbreviations don't end sentences."""
    out: list[str] = []
    for line in text.splitlines():
        start = 0
        for m in _SENT_END.finditer(line):
            before = line[start : m.start()].split()
            last = before[-1].lower().rstrip(".") if before else ""
            if m.group(0).startswith(".") and (
                last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())
            ):
                continue
            out.append(line[start : m.end()].strip())
            start = m.end()
        tail = line[start:].strip()
        if tail:
            out.append(tail)
    return [s for s in out if s]


_CODE_START = re.compile(
    r"^\s*(?:\$\s|>>>|uvx?\s|pip\s|npm\s|npx\s|python3?\s|curl\s|git\s|cd\s|docker\s|"
    r"import\s|from\s\S+\simport|def\s|class\s\w+[:(]|const\s|let\s|var\s|function\s)"
)
_CODE_CHARS = set("/_=@{}[]<>|\\`$#~;")


def looks_like_code(sentence: str) -> bool:
    if _CODE_START.match(sentence):
        return True
    words = sentence.split()
    odd = sum(1 for w in words if w.startswith("--") or any(c in _CODE_CHARS for c in w))
    return odd > 0.25 * len(words)


def usable_sentence(sentence: str) -> bool:
    """A sentence worth quoting: long enough, mostly words, not boilerplate or code."""
    if len(sentence) < 30 or len(sentence.split()) < 5:
        return False
    letters = sum(c.isalpha() for c in sentence)
    if letters < 0.5 * len(sentence):
        return False
    return not _BOILERPLATE.search(sentence) and not looks_like_code(sentence)
