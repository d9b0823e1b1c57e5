"""What tells two articles' stories apart or together by name: the words a corpus writes as
names (Vocabulary: capitalized mid-sentence, and rare), product names with their versions, and
whether two titles name different releases of one family. Used by the story grouping
(ingest.story_grouping); the answer path's source directory reads names with CaseCounts too."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

_WORD = re.compile(r"[A-Za-z][\w'’-]*[\w]|[A-Za-z]")
_MID_WORD = re.compile(r"(?<=[\w,;:)\]\"'”] )([A-Za-z][\w+-]*[\w+]|[A-Za-z])")
# a product name and its version: "GPT-4.1", "Claude 3.5", "o3", "gpt-image-1", "llm 0.32.1"
_VERSION = re.compile(
    r"(?<![\w.])([A-Za-z][A-Za-z]*?)([ -]?)v?(\d+(?:\.\d+)*(?:[a-z]+\d*)?)(?![\w.]*\d)",
    re.IGNORECASE,
)


def _version_pairs(text: str, title: bool = False) -> Iterable[tuple[str, str]]:
    """(family, version) pairs. A lowercase word before a number ("to 500", "from 177,000")
    names no product, except in a title when the number is a version ("llm 0.33")."""
    for fam, sep, ver in _VERSION.findall(text):
        if sep == " " and fam.islower() and not (title and re.search(r"\.|[a-z]", ver)):
            continue
        yield fam.lower(), ver.lower()


@dataclass
class CaseCounts:
    """How often the newest articles' heads write each word mid-sentence, and how often
    capitalized: what tells a name ("OpenAI", "Kimi") from a common word ("batch")."""

    upper: dict[str, int]
    total: dict[str, int]
    heads_read: int

    @classmethod
    def read(cls, heads: Iterable[str]) -> CaseCounts:
        upper: dict[str, int] = defaultdict(int)
        total: dict[str, int] = defaultdict(int)
        read = 0
        for text in heads:
            read += 1
            for m in _MID_WORD.finditer(text):
                raw = m.group(1)
                key = raw.lower()
                total[key] += 1
                if not raw.islower():
                    upper[key] += 1
        return cls(upper, total, read)

    def rare_cap(self, docs: int) -> int:
        """The most heads a word may appear in and still single something out: rare among the
        heads read (the newest 5,000). With the corpus's whole size here, a 100,000-article
        corpus took words in 4,000 of 5,000 heads ("OpenAI") for names."""
        return max(30, min(docs, self.heads_read) // 25)


@dataclass(frozen=True)
class Vocabulary:
    """Words the corpus writes capitalized mid-sentence and rarely enough to name something."""

    names: frozenset[str] = frozenset()

    @classmethod
    def build(cls, heads: Iterable[str], docs: int) -> Vocabulary:
        counts = CaseCounts.read(heads)
        cap = counts.rare_cap(docs)
        return cls(
            frozenset(
                w
                for w, n in counts.total.items()
                if 3 <= n <= cap and counts.upper[w] >= 0.8 * n and len(w) >= 3
            )
        )

    def keys(self, text: str) -> set[str]:
        """The distinctive names of `text`: rare names, and names with their version."""
        out = {w.lower() for w in _WORD.findall(text) if w.lower() in self.names}
        out |= {f"{fam}{ver}" for fam, ver in _version_pairs(text)}
        return out


def versions(text: str) -> dict[str, set[str]]:
    """Product family → the versions a title names ("GPT-4.1 and GPT-4o" → gpt: {4.1, 4o})."""
    out: dict[str, set[str]] = defaultdict(set)
    for fam, ver in _version_pairs(text, title=True):
        if len(fam) >= 2:
            out[fam].add(ver)
    return out


def conflicting(a: dict[str, set[str]], b: dict[str, set[str]]) -> bool:
    """Both name a family, with no version in common: two releases, not one story."""
    return any(not (a[f] & b[f]) for f in a.keys() & b.keys())
