"""Consistent copies of live SQLite files, for `newsbot backup` (ingest.backup).

Rule enforced here: a copy is made by SQLite's online backup API in ONE step (`pages=-1`), which
reads the source inside one read transaction. In WAL mode that transaction sees the database as
of one commit and never blocks a writer, so a copy taken while an ingest (or the bot) writes is
exactly the database at one moment: every commit before it, nothing of any commit after it. A
file copy could mix pages of two commits and is never used.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ingest.models import NewsbotError


def snapshot(source: Path, target: Path) -> dict[str, int]:
    """Copy the SQLite file `source` to `target` (which must not exist) as of one moment, as a
    single self-contained file (rollback journal, not WAL); checked with `quick_check`. Returns
    the row count of each ordinary table of the copy."""
    if target.exists():
        raise FileExistsError(target)
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.execute("PRAGMA busy_timeout=30000")
            src.backup(dst)  # pages=-1: the whole database in one step, one read transaction
            dst.execute("PRAGMA journal_mode=DELETE")
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise NewsbotError(f"the copy of {source.name} is damaged: {check}")
            return table_counts(dst)
        finally:
            dst.close()
    finally:
        src.close()


def table_counts(db: sqlite3.Connection) -> dict[str, int]:
    """Rows per table (full-text index shadow tables and SQLite's own left out)."""
    names = [
        r[0]
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name"
        )
    ]
    shadow = ("_data", "_idx", "_content", "_docsize", "_config")
    return {
        name: int(db.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0])
        for name in names
        if not name.endswith(shadow)
    }


def counts_of(path: Path) -> dict[str, int]:
    """`table_counts` of a SQLite file (opened read-only)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return table_counts(db)
    finally:
        db.close()


def is_sqlite(path: Path) -> bool:
    """Whether `path` starts with SQLite's file header."""
    try:
        with path.open("rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False
