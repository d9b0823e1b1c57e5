"""The model directory's read side: a model version's card (ModelCard) and a family's
(FamilyCard), built from the directory's rows by the reading rules of
ingest.store.model_directory (where the tables and the ModelDirectory reader are)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ingest.modelfacts import RUMOUR, SCALAR_FIELDS
from ingest.modelnames import catalogue_facts, families

CATALOGUE_URL = "https://models.dev"


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


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _version_order(version: str) -> tuple[float, ...]:
    """ "3.8" → (3, 8): numbers compare as numbers ("3.10" after "3.9")."""
    return tuple(float(n) for n in re.findall(r"\d+", version)) or (0.0,)


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
