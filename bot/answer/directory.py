"""The source directory: the names a question may use for a source (feed names, the hosts of
their articles, their authors) → feeds. Built from the corpus by the retrieval stage, used by
question understanding."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bot.answer.text import STOPWORDS

# Words that name a kind of publication or act of publishing: not a topic.
PUBLICATION_WORDS = frozenset(
    """post posts article articles blog blogs weblog entry entries piece pieces item items issue
    issues newsletter newsletters feed feeds site website page write wrote written writes publish
    published publishes put out ship shipped ships cover covered covers mention mentioned mentions
    talk talked talks discuss discussed share shared shares drop dropped drops own official
    update updates coverage bit story stories headline headlines thread threads latest newest
    recent recently lately most last first anything something stuff""".split()
)
GENERIC_NAME_WORDS = frozenset(
    "news blog feed feeds research updates posts index atom rss official weekly daily the ai "
    "engineering institute www com org net io github".split()
)


@dataclass(frozen=True)
class SourceMatch:
    feeds: tuple[str, ...]
    phrase: str  # the words of the question that named it
    author: str = ""  # set when an author (not a feed) was named
    explicit: bool = False  # named as where to look ("according to X", "X's blog")


@dataclass
class SourceDirectory:
    """Names a question may use for a source → feeds. Built from the corpus (feed names, the
    hosts of their articles, their authors); `capitalized` holds single words the corpus writes
    capitalized (names like "DeepMind"), so common words ("batch", "gradient") in a feed's name
    only count when the question writes the whole name."""

    aliases: dict[str, set[str]] = field(default_factory=dict)  # squashed alias → feeds
    authors: dict[str, str] = field(default_factory=dict)  # squashed author alias → author
    author_feeds: dict[str, set[str]] = field(default_factory=dict)  # author → feeds
    single_ok: set[str] = field(default_factory=set)  # single-word aliases usable on their own
    host_only: set[str] = field(default_factory=set)  # aliases that come only from a host name
    common: set[str] = field(default_factory=set)  # words the corpus writes in lowercase
    # Words the corpus writes as names (capitalized mid-sentence, or with digits: "openai",
    # "deepmind", "gpt-5"), so a question typed in lowercase still has names.
    name_words: set[str] = field(default_factory=set)
    capitalized: set[str] = field(default_factory=set)  # every word the corpus capitalizes
    # feed → every word of its names: its own name, its channel title, its hosts' labels
    # ("uk" of aisi.gov.uk): left over beside a source, such a word names it, not a topic
    words: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        feeds: Iterable[str],
        hosts: Mapping[str, Iterable[str]] | None = None,
        authors: Mapping[str, Mapping[str, int]] | None = None,
        capitalized: Iterable[str] = (),
        common: Iterable[str] = (),
        titles: Mapping[str, str] | None = None,
    ) -> SourceDirectory:
        """`titles`: feed → the feed's own channel title ("Posts on Lil'Log"): the name people
        know a publication by, a source name like the operator's short name."""
        d = cls()
        d.common = set(common)
        names_ok = {w.lower() for w in capitalized}
        for feed in feeds:
            phrases: list[str] = []
            for name in (feed, (titles or {}).get(feed, "")):
                phrases += _name_phrases(name)
            mine = d.words.setdefault(feed, set())
            mine.update(w for ph in phrases for w in words_of(ph))
            mine.update(w for h in (hosts or {}).get(feed, ()) for w in h.lower().split("."))
            for ph in phrases:
                words = words_of(ph)
                if words:
                    d._add(" ".join(words), feed)
                distinct = [w for w in words if w not in GENERIC_NAME_WORDS and len(w) >= 3]
                if distinct and distinct != words:
                    d._add(" ".join(distinct), feed)
                for w in distinct:
                    if len(w) >= 4 and not w.isdigit():
                        d._add(w, feed)
                        if w in names_ok or not w.isalpha():
                            d.single_ok.add(_squash(w))
            for host in (hosts or {}).get(feed, ()):
                labels = host.lower().split(".")
                for i, label in enumerate(labels):
                    if len(label) >= 4 and label not in GENERIC_NAME_WORDS:
                        for key in {_squash(label), _squash(".".join(labels[i:]))}:
                            if key not in d.aliases:
                                d.host_only.add(key)
                            d._add_squashed(key, feed)
                            d.single_ok.add(key)
        for feed, counts in (authors or {}).items():
            total = sum(counts.values())
            for author, n in counts.items():
                for name in _author_names(author):
                    d.author_feeds.setdefault(name, set()).add(feed)
                    for alias in _name_aliases(name):
                        d.authors.setdefault(alias, name)
                    # a blogger writing most of a feed names the feed itself ("Simon Willison")
                    if total and n / total >= 0.5:
                        for alias in _name_aliases(name):
                            d._add_squashed(alias, feed)
                        first = _squash(name.split()[0]) if " " in name else ""
                        if len(first) >= 4 and first not in d.common:
                            d._add_squashed(first, feed)  # "Armin's blog"
                            d.single_ok.add(first)
        return d

    def _add(self, phrase: str, feed: str) -> None:
        self._add_squashed(_squash(phrase), feed)

    def _add_squashed(self, key: str, feed: str) -> None:
        if len(key) >= 3:
            self.aliases.setdefault(key, set()).add(feed)

    def find(self, question: str) -> list[SourceMatch]:
        """Sources named in the question, longest phrase first, each once."""
        toks = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(question)]
        found: list[SourceMatch] = []
        used: set[int] = set()
        for n in (4, 3, 2, 1):
            for i in range(len(toks) - n + 1):
                span = range(i, i + n)
                if used & set(span):
                    continue
                raw = [t[0] for t in toks[i : i + n]]
                words = [_strip_possessive(w.lower()) for w in raw]
                if n == 1 and (words[0] in STOPWORDS or words[0] in PUBLICATION_WORDS):
                    continue
                key = _squash("".join(words))
                phrase = question[toks[i][1] : toks[i + n - 1][2]]
                feeds = self.aliases.get(key)
                author = self.authors.get(key, "")
                if n > 1 and key in self.host_only and any(w in self.common for w in words):
                    feeds = None  # "deep learning" is not deeplearning.ai
                if n == 1 and key not in self.single_ok and not _capitalized(raw[0]):
                    # a common word in a feed's name ("batch") is not that feed on its own
                    feeds = None
                    author = author if raw[0][:1].isupper() else ""
                if not feeds and author:
                    feeds = self.author_feeds.get(author, set())
                if feeds:
                    found.append(SourceMatch(tuple(sorted(feeds)), phrase, author))
                    used |= set(span)
        return found


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


_WORD = re.compile(r"[\w][\w.'’-]*[\w]|\w")


def words_of(text: str) -> list[str]:
    """Lowercased words of a name or question, possessives dropped ("Armin's" → "armin")."""
    return [_strip_possessive(w.lower()) for w in _WORD.findall(text)]


def _strip_possessive(word: str) -> str:
    return re.sub(r"['’]s$", "", word)


def _capitalized(raw: str) -> bool:
    return any(c.isupper() for c in raw[1:]) or (raw[:1].isupper() and len(raw) > 1)


def _name_phrases(name: str) -> list[str]:
    """A source's name as phrases: whole, and without a parenthesised part, which is a phrase of
    its own unless it is a year or a number ("OpenAI News (2026)"). A channel title's parts
    around a separator count too ("The Batch | DeepLearning.AI", "top scoring links : ClaudeAI")."""
    if not name.strip():
        return []
    base, paren = _split_paren(name)
    phrases = [base, name]
    if paren and not re.fullmatch(r"[\d\s/-]+|index|\d{4}", paren.lower()):
        phrases.append(paren)
    parts = [p.strip() for p in re.split(r"\s[|:»·–—-]\s", base) if p.strip()]
    if len(parts) > 1:
        phrases += parts
    return list(dict.fromkeys(phrases))


def _split_paren(name: str) -> tuple[str, str]:
    m = re.match(r"^(.*?)\s*\(([^)]*)\)\s*$", name)
    return (m.group(1), m.group(2)) if m else (name, "")


def _author_names(author: str) -> list[str]:
    if author.startswith("/u/"):  # a Reddit user: the name as written ("OwlsExterminator")
        name = author[3:].strip()
        return [name] if len(name) >= 5 else []
    if len(author) > 120:
        return []
    parts = [p.strip() for p in re.split(r",|\band\b|&", author) if p.strip()]
    return [p for p in parts if 2 <= len(p.split()) <= 4 and not any(c.isdigit() for c in p)]


def _name_aliases(name: str) -> list[str]:
    if " " not in name:
        return [_squash(name)]
    words = [w for w in words_of(name) if len(w) > 1]
    out = [_squash("".join(words))]
    if len(words) >= 2 and len(words[-1]) >= 5:
        out.append(_squash(words[-1]))  # "Willison", "Ronacher"
    return out
