"""The model directory: the AI models the corpus reports, per model version, with the date it was
first reported, its primary source and the facts the articles state, each with its article.

Tables (in the corpus SQLite file, beside ingest.store's; created on first use like the story
tables, through their own connection opened the way ingest.store opens it):

- `model_reports`: one row per (model version, article): the name as written, the maker, what the
  article does with it (`status`: release, mention or rumour; ingest.modelfacts), whether the
  article is in the maker's own feed (`own`), and the article's date (its publication, else when
  it was first stored) and link.
- `model_facts`: the facts an article states about a model version (field, value).
- `model_scanned`: the articles read, with the content hash read: an article is read again only
  when its text changes (incremental), and a batch of articles is recorded in one transaction
  with its rows (crash-safe: a killed run leaves whole articles, and the next run reads the
  rest). Rows go with their article (retention). `reset` empties all three (`--reindex`).

Reading rules (ModelDirectory): a model version is listed when at least one article reports it
other than as a rumour (an unknown family, one no name list knows, only when an article reports
its release). Its first-seen date is the earliest such article's; its primary source is the
maker's own feed's article (its release post first, else its earliest), else the earliest
such article. Facts come from
those articles; values that disagree are all kept (`ModelCard.disagreements`). Nothing here
needs the vectors: the directory is read from the stored article text.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ingest.config import Settings
from ingest.modelfacts import RUMOUR, SCALAR_FIELDS, Reported
from ingest.modelnames import catalogue_facts, families, read_model
from ingest.store.db import SQLiteFile, marks

SCHEMA = """
CREATE TABLE IF NOT EXISTS model_scanned (
    article_id TEXT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
    content_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS model_reports (
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    family TEXT NOT NULL,
    version TEXT NOT NULL,
    name TEXT NOT NULL,
    maker TEXT NOT NULL,
    status TEXT NOT NULL,
    in_title INTEGER NOT NULL,
    own INTEGER NOT NULL,
    published REAL NOT NULL,
    url TEXT NOT NULL,
    title TEXT NOT NULL,
    PRIMARY KEY (family, version, article_id)
);
CREATE INDEX IF NOT EXISTS model_reports_article ON model_reports(article_id);
CREATE TABLE IF NOT EXISTS model_facts (
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    family TEXT NOT NULL,
    version TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (family, version, field, value, article_id)
);
CREATE INDEX IF NOT EXISTS model_facts_article ON model_facts(article_id);
"""
CATALOGUE_URL = "https://models.dev"


@dataclass(frozen=True)
class ScanItem:
    """One stored article as the directory reads it."""

    id: str
    url: str
    title: str
    text: str
    content_hash: str
    published: float  # its publication, else when it was first stored (epoch seconds)
    feeds: tuple[str, ...]


@dataclass(frozen=True)
class ModelFact:
    field: str  # parameters | context | open_weights | licence | price_input | price_output ...
    value: str
    url: str
    published: datetime | None
    source: str = "news"  # "news" (an article of the corpus) or "models.dev" (the catalogue)

    def to_json(self) -> dict[str, object]:
        when = self.published.date().isoformat() if self.published else None
        return {"field": self.field, "value": self.value, "url": self.url, "published": when}


@dataclass(frozen=True)
class ModelCard:
    """One model version: what the corpus reports about it."""

    family: str  # key: "qwen"
    family_name: str  # "Qwen"
    maker: str
    version: str  # "2.5", "4o mini", "v3.1"
    name: str  # as the articles write it most: "Qwen2.5"
    first_seen: datetime
    url: str  # the primary source
    title: str
    articles: int
    released: datetime | None = None  # the first article that reports its release, if any
    facts: tuple[ModelFact, ...] = ()
    catalogue: tuple[ModelFact, ...] = ()  # the models.dev catalogue's facts (second source)

    def disagreements(self) -> list[str]:
        """Fields (one value expected) on which the articles state different values."""
        seen: dict[str, set[str]] = defaultdict(set)
        for f in self.facts:
            if f.field in SCALAR_FIELDS:
                seen[f.field].add(f.value)
        return sorted(k for k, v in seen.items() if len(v) > 1)

    def to_json(self) -> dict[str, object]:
        return {
            "version": self.version,
            "name": self.name,
            "first_seen": self.first_seen.date().isoformat(),
            "url": self.url,
            "facts": [f.to_json() for f in self.facts],
        }


@dataclass(frozen=True)
class FamilyCard:
    family: str
    name: str
    maker: str
    versions: tuple[ModelCard, ...] = field(default=())  # first reported last, first

    @property
    def newest(self) -> ModelCard:
        """The newest release: of the versions an article reports released, the one first
        reported last (the higher version on the same day); else the one first reported last.
        A version only mentioned in passing, or only rumoured, never beats a reported release."""
        released = [v for v in self.versions if v.released is not None]
        if not released:
            return self.versions[0]
        return max(released, key=lambda v: (v.first_seen.date(), _version_order(v.version)))

    def to_json(self) -> dict[str, object]:
        return {
            "family": self.name,
            "maker": self.maker,
            "versions": [v.to_json() for v in self.versions],
        }


class ModelDirectoryStore:
    """The directory's tables: the ingest job writes them, every process reads them."""

    def __init__(self, settings: Settings) -> None:
        # synchronous=NORMAL: a commit lost to a power cut leaves its articles unread, and the
        # next run reads them again.
        self._file = SQLiteFile(settings.db_path, SCHEMA, synchronous="NORMAL")

    def close(self) -> None:
        self._file.close()

    # ------------------------------------------------------------------ writer side
    def todo(self) -> list[str]:
        """Stored articles not read yet, or changed since they were read."""
        rows = self._file.query(
            "SELECT a.id FROM articles a LEFT JOIN model_scanned s ON s.article_id = a.id"
            " WHERE s.article_id IS NULL OR s.content_hash != a.content_hash ORDER BY a.id"
        )
        return [r["id"] for r in rows]

    def load(self, ids: Sequence[str]) -> list[ScanItem]:
        rows = self._file.query(
            "SELECT a.id, a.url, a.title, a.text, a.content_hash,"
            " coalesce(a.published, a.first_seen) AS published,"
            " (SELECT group_concat(f.feed, char(31)) FROM article_feeds f"
            "  WHERE f.article_id = a.id) AS feeds"
            f" FROM articles a WHERE a.id IN ({marks(ids)})",
            list(ids),
        )
        return [
            ScanItem(
                r["id"],
                r["url"],
                r["title"],
                r["text"],
                r["content_hash"],
                float(r["published"]),
                tuple((r["feeds"] or "").split("\x1f")),
            )
            for r in rows
        ]

    def record(self, items: Iterable[tuple[ScanItem, list[Reported], set[str]]]) -> None:
        """Replace what these articles report (one transaction); `own`: the family keys whose
        maker's own feed carries the article."""
        with self._file.tx() as db:
            for item, reports, own in items:
                _forget(db, item.id)
                for r in reports:
                    db.execute(
                        "INSERT OR REPLACE INTO model_reports VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        (
                            item.id,
                            r.family,
                            r.version,
                            r.name,
                            r.maker,
                            r.status,
                            int(r.in_title),
                            int(r.family in own),
                            item.published,
                            item.url,
                            " ".join(item.title.split()),
                        ),
                    )
                    db.executemany(
                        "INSERT OR IGNORE INTO model_facts VALUES (?,?,?,?,?)",
                        [(item.id, r.family, r.version, f.field, f.value) for f in r.facts],
                    )
                db.execute(
                    "INSERT OR REPLACE INTO model_scanned VALUES (?, ?)",
                    (item.id, item.content_hash),
                )

    def reset(self) -> None:
        """Forget everything read (the next update reads the whole corpus again)."""
        with self._file.tx() as db:
            for table in ("model_facts", "model_reports", "model_scanned"):
                db.execute(f"DELETE FROM {table}")

    def scanned_count(self) -> int:
        return int(self._file.query("SELECT count(*) AS n FROM model_scanned")[0]["n"])

    # ------------------------------------------------------------------ reader side
    def report_rows(self, family: str | None = None) -> list[sqlite3.Row]:
        where, params = ("WHERE family = ?", [family]) if family else ("", [])
        return self._file.query(f"SELECT * FROM model_reports {where}", params)

    def fact_rows(self, family: str | None = None) -> list[sqlite3.Row]:
        where, params = ("WHERE family = ?", [family]) if family else ("", [])
        return self._file.query(f"SELECT * FROM model_facts {where}", params)


def _forget(db: sqlite3.Connection, article_id: str) -> None:
    db.execute("DELETE FROM model_reports WHERE article_id = ?", (article_id,))
    db.execute("DELETE FROM model_facts WHERE article_id = ?", (article_id,))


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class ModelDirectory:
    """The reader API: families, one family's versions, a card by name, the newest version."""

    def __init__(self, settings: Settings) -> None:
        self.store = ModelDirectoryStore(settings)

    def close(self) -> None:
        self.store.close()

    def families(self) -> list[FamilyCard]:
        """Every family with a listed version, the one with the newest version first."""
        cards = self._cards(None)
        return sorted(
            cards.values(), key=lambda f: (-f.versions[0].first_seen.timestamp(), f.family)
        )

    def family(self, name: str) -> FamilyCard | None:
        """A family by its name ("qwen", "Claude", "GPT-4o" → gpt), or None."""
        key = _family_key(name)
        return self._cards(key).get(key) if key else None

    def lookup(self, name: str) -> ModelCard | None:
        """The card of a model version by name ("Qwen2.5-72B", "claude opus 4.1"); a family name
        alone gives its newest version; None when the corpus reports no such model."""
        m = read_model(name)
        key = m.family if m else _family_key(name)
        if not key:
            return None
        fam = self._cards(key).get(key)
        if fam is None:
            return None
        if m is None or not (m.version or m.size or m.variant):
            return fam.newest
        wanted = m.key or m.size
        for card in fam.versions:
            if card.version == wanted:
                return card
        return None

    def newest(self, family: str) -> ModelCard | None:
        fam = self.family(family)
        return fam.newest if fam else None

    def names(self, prefix: str = "", limit: int = 25) -> list[str]:
        """Model names for autocompletion: those containing `prefix`, newest first."""
        low = prefix.lower().strip()
        out = []
        for fam in self.families():
            for card in fam.versions:
                if low in card.name.lower() or low in f"{fam.name} {card.version}".lower():
                    out.append((card.first_seen, card.name))
        return [n for _, n in sorted(out, reverse=True)[:limit]]

    def _cards(self, family: str | None) -> dict[str, FamilyCard]:
        reports = self.store.report_rows(family)
        facts = self.store.fact_rows(family)
        return build_cards(reports, facts)


def _newest_date(fam: FamilyCard) -> float:
    return fam.newest.first_seen.timestamp()


def _version_order(version: str) -> tuple[float, ...]:
    """ "3.8" → (3, 8): numbers compare as numbers ("3.10" after "3.9")."""
    return tuple(float(n) for n in re.findall(r"\d+", version)) or (0.0,)


def _family_key(name: str) -> str:
    m = read_model(name)
    if m is not None:
        return m.family
    low = name.strip().lower()
    return low if low in families() else ""


def build_cards(reports: Sequence[Any], facts: Sequence[Any]) -> dict[str, FamilyCard]:
    """Family key → its card, from the directory's rows (the reading rules of the module doc)."""
    by_version: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for r in reports:
        if r["status"] != RUMOUR:
            by_version[(r["family"], r["version"])].append(r)
    fact_rows: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for f in facts:
        fact_rows[(f["family"], f["version"])].append(f)
    table = families()
    versions: dict[str, list[ModelCard]] = defaultdict(list)
    for (fam, version), rows in by_version.items():
        known = fam in table or fam == "o"
        if not known and not any(r["status"] == "release" for r in rows):
            continue  # a name no list knows: only once an article reports its release
        versions[fam].append(_card(fam, version, rows, fact_rows[(fam, version)]))
    out = {}
    for fam, cards in versions.items():
        cards.sort(key=lambda c: (c.first_seen, c.version), reverse=True)
        family = table.get(fam)
        name = family.display if family else ("o-series" if fam == "o" else fam.capitalize())
        maker = family.maker if family else ("OpenAI" if fam == "o" else cards[0].maker)
        out[fam] = FamilyCard(fam, name, maker, tuple(cards))
    return out


def _card(fam: str, version: str, rows: list[Any], facts: list[Any]) -> ModelCard:
    rows = sorted(rows, key=lambda r: (r["published"], r["article_id"]))
    # the maker's own feed first (its release post first), else the earliest release report
    primary = min(rows, key=lambda r: (not r["own"], r["status"] != "release" and r["own"]))
    names = Counter(r["name"] for r in rows)
    full = [n for n in names if fam.split("-")[0] in n.lower()]  # "Claude Opus 5", not "Opus 5"
    name = min(full or names, key=lambda n: (-names[n], n.islower() or "_" in n, len(n)))
    by_article = {r["article_id"]: r for r in rows}
    released = [r["published"] for r in rows if r["status"] == "release"]
    stated = []
    for f in facts:
        r = by_article.get(f["article_id"])
        if r is not None:  # facts of articles that only rumour it are not kept
            stated.append(ModelFact(f["field"], f["value"], r["url"], _dt(r["published"])))
    stated.sort(key=lambda f: (f.field, f.published or _dt(0), f.value))
    table = families()
    display = table[fam].display if fam in table else fam.capitalize()
    return ModelCard(
        family=fam,
        family_name=display,
        maker=primary["maker"],
        version=version,
        name=name,
        first_seen=_dt(rows[0]["published"]),
        url=primary["url"],
        title=primary["title"],
        articles=len(rows),
        released=_dt(min(released)) if released else None,
        facts=tuple(stated),
        catalogue=tuple(
            ModelFact(k, v, CATALOGUE_URL, None, "models.dev")
            for k, v in catalogue_facts(fam, version)
        ),
    )
