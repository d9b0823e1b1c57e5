"""Product names with a version in a question ("GPT-7", "Claude 9", "Kimi K4"), an event's
edition ("NeurIPS 2026") and funding rounds ("Series B"): what an answer must be about."""

from __future__ import annotations

import re

from bot.answer.text import STOPWORDS
from bot.datephrases import month_numbers

# A family starts a name: never inside a hyphenated or slashed one ("cde-small-v1" is one
# model's name, not a product "small" at version 1).
_VERSION = re.compile(
    r"(?<![\w./-])([A-Za-z][A-Za-z]{1,15}(?:[ -][A-Za-z](?=\d))?)(?:[ -]?)"
    r"(v?\d{1,2}(?:\.\d{1,2})?)([a-z]{0,2})(?![\w.%])"
)
_EDITIONS = (
    re.compile(r"(?<![\w.])(?P<name>[A-Za-z][\w-]{2,20})[ -](?P<year>(?:19|20)\d\d)(?![\w.])"),
    re.compile(r"(?<![\w.])(?P<year>(?:19|20)\d\d)\s+(?P<name>[A-Za-z][\w-]{2,20})"),
)
_ROUND = re.compile(r"\bseries\s+([a-hA-H])\b", re.IGNORECASE)
_NOT_FAMILIES = frozenset(
    """top series phase level stage step part chapter version v gen generation covid windows
    iphone pixel tier plan day week month year hour minute page section figure table class
    round top best under over about than after before since first last only just""".split()
)


def versions_in(text: str, known: set[str] | frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """Product names with a version ("GPT-7", "Claude 9", "gemini 5", "Kimi K4"): (family,
    version). `known`: words the corpus writes as names, so lowercase questions count too."""
    out: list[tuple[str, str]] = []
    for m in _VERSION.finditer(text):
        family, version, suffix = m.group(1), m.group(2).lstrip("v"), m.group(3)
        family = re.sub(r"[ -][vV]$", "", family)  # "DeepSeek V3": the V marks the version
        low = family.lower()
        head = low.split()[0].split("-")[0]
        if head in STOPWORDS or head in _NOT_FAMILIES or head in MONTHS or len(head) < 2:
            continue
        named = family[:1].isupper() or any(c.isupper() for c in family) or head in known
        if not (named or "-" in m.group(0) or "." in version):
            continue  # "top 5", "in 3": a capital, a hyphen, a dotted version or a known name
        out.append((low, version + suffix))
    editions = (m for pattern in _EDITIONS for m in pattern.finditer(text))
    for m in editions:  # an event's edition: "NeurIPS 2026", "2026 Turing"
        family, year = m.group("name"), m.group("year")
        low = family.lower()
        if low in STOPWORDS or low in _NOT_FAMILIES or low in MONTHS:
            continue
        if family[:1].isupper() or any(c.isupper() for c in family) or low in known:
            out.append((low, year))
    for m in _ROUND.finditer(text):  # a funding round: "Series B"
        out.append(("series", m.group(1).lower()))
    return out


MONTHS = frozenset(month_numbers())  # "March 2026" / "Maret 2026" is a month, not a version
