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
- `model_versions_seen`: each model version with the sequence number it got when an article
  first reported it other than as a rumour; never emptied (not by `reset`, not by retention),
  so a watcher that keeps a watermark (`ModelDirectory.new_versions`) is told once per version,
  and a rebuild announces nothing again.

Reading rules (ModelDirectory): a model version is listed when at least one article reports it
other than as a rumour (an unknown family, one no name list knows, only when an article reports
its release). Its first-seen date is the earliest such article's; its primary source is the
maker's own feed's article (its release post first, else its earliest), else the earliest
such article. Facts come from
those articles; values that disagree are all kept (`ModelCard.disagreements`). Nothing here
needs the vectors: the directory is read from the stored article text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ingest.config import Settings
from ingest.modelfacts import RUMOUR, Reported
from ingest.modelnames import families, read_model
from ingest.store.db import SQLiteFile, marks
from ingest.store.model_cards import FamilyCard, ModelCard, ModelFact, build_cards

__all__ = ["FamilyCard", "ModelCard", "ModelDirectory", "ModelDirectoryStore", "ModelFact"]

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
CREATE TABLE IF NOT EXISTS model_versions_seen (
    family TEXT NOT NULL,
    version TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (family, version)
);
CREATE INDEX IF NOT EXISTS model_versions_seen_seq ON model_versions_seen(seq);
"""


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
                _seen(db, [r for r in reports if r.status != RUMOUR])

    def reset(self) -> None:
        """Forget everything read (the next update reads the whole corpus again)."""
        with self._file.tx() as db:
            for table in ("model_facts", "model_reports", "model_scanned"):
                db.execute(f"DELETE FROM {table}")

    def watermark(self) -> int:
        """The sequence number of the last version seen (0: none yet)."""
        rows = self._file.query("SELECT max(seq) AS n FROM model_versions_seen")
        return int(rows[0]["n"] or 0)

    def seen_after(self, watermark: int) -> list[tuple[str, str, int]]:
        """(family, version, seq) of the versions first seen after `watermark`, in order."""
        rows = self._file.query(
            "SELECT family, version, seq FROM model_versions_seen WHERE seq > ? ORDER BY seq",
            (watermark,),
        )
        return [(r["family"], r["version"], int(r["seq"])) for r in rows]

    def scanned_count(self) -> int:
        return int(self._file.query("SELECT count(*) AS n FROM model_scanned")[0]["n"])

    # ------------------------------------------------------------------ reader side
    def report_rows(self, family: str | None = None) -> list[sqlite3.Row]:
        where, params = ("WHERE family = ?", [family]) if family else ("", [])
        return self._file.query(f"SELECT * FROM model_reports {where}", params)

    def fact_rows(self, family: str | None = None) -> list[sqlite3.Row]:
        where, params = ("WHERE family = ?", [family]) if family else ("", [])
        return self._file.query(f"SELECT * FROM model_facts {where}", params)


def _seen(db: sqlite3.Connection, reports: Sequence[Reported]) -> None:
    """Give each version reported for the first time the next sequence number. Kept across
    `reset` and retention, so a rebuild never makes an old version new again."""
    for r in reports:
        db.execute(
            "INSERT OR IGNORE INTO model_versions_seen(family, version, seq) SELECT ?, ?,"
            " coalesce(max(seq), 0) + 1 FROM model_versions_seen",
            (r.family, r.version),
        )


def _forget(db: sqlite3.Connection, article_id: str) -> None:
    db.execute("DELETE FROM model_reports WHERE article_id = ?", (article_id,))
    db.execute("DELETE FROM model_facts WHERE article_id = ?", (article_id,))


class ModelDirectory:
    """The reader API: families, one family's versions, a card by name, the newest version."""

    def __init__(self, settings: Settings) -> None:
        self.store = ModelDirectoryStore(settings)

    def close(self) -> None:
        self.store.close()

    def families(self) -> list[FamilyCard]:
        """Every family with a listed version, the one with the newest release first."""
        cards = self._cards(None)
        return sorted(cards.values(), key=lambda f: (-f.newest.first_seen.timestamp(), f.family))

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

    def watermark(self) -> int:
        """Keep this, and later ask `new_versions(it)`: a watcher told once per new version."""
        return self.store.watermark()

    def new_versions(self, watermark: int) -> list[tuple[int, ModelCard]]:
        """The versions first reported (other than as a rumour) after `watermark` and listed
        now, oldest first, each with its sequence number (the watcher's next watermark)."""
        seen = self.store.seen_after(watermark)
        if not seen:
            return []
        cards = self._cards(None)
        out = []
        for family, version, seq in seen:
            fam = cards.get(family)
            card = next((c for c in fam.versions if c.version == version), None) if fam else None
            if card is not None:
                out.append((seq, card))
        return out

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


def _family_key(name: str) -> str:
    m = read_model(name)
    if m is not None:
        return m.family
    low = name.strip().lower()
    return low if low in families() else ""
