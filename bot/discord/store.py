"""What the Discord bot remembers, in its own SQLite file beside the corpus
(`$NEWSBOT_DATA_DIR/discord.sqlite3`): each answer it sent, keyed by the Discord ids of the
messages it was sent as, and the 👍/👎 feedback given on answers.

An answer is stored as it was answered (question, answer text, cited articles, as-of time), so
what the bot remembers never depends on how the message looks now: an edited, re-rendered or
partly deleted embed changes nothing. Follow-up questions (a reply chain, a thread) and feedback
read the record from here.

Written by the bot process only (from worker threads: the calls block briefly); `newsbot
feedback` reads it. Feedback given before this store existed lived in a `feedback` table of the
corpus's SQLite file: it is copied here once, when the store is first opened, and the old table
is left as it was.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.discord.conversation import AnswerRecord
from ingest.models import utcnow
from ingest.store.db import SQLiteFile

log = logging.getLogger(__name__)

KEEP_ANSWERS = 100_000  # answers remembered (the newest); older ones are dropped at start-up

SCHEMA = """
PRAGMA journal_mode=WAL;
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY,  -- the Discord id of the answer's last message (with the buttons)
    created REAL NOT NULL,
    channel_id INTEGER,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    sources TEXT NOT NULL DEFAULT '[]',  -- JSON: n, article_id, url, title, feed(s), published
    as_of TEXT  -- ISO time of the newest article the answer could see
);
CREATE TABLE IF NOT EXISTS answer_messages (
    message_id INTEGER PRIMARY KEY,  -- every message the answer was sent as (long ones: several)
    answer_id INTEGER NOT NULL REFERENCES answers(id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    user_id TEXT NOT NULL,
    vote INTEGER NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    sources TEXT NOT NULL DEFAULT '[]',
    message_id TEXT NOT NULL DEFAULT '',
    UNIQUE (message_id, user_id)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
FEEDBACK_COLUMNS = "created, user_id, vote, question, answer, sources, message_id"


class DiscordStore:
    """The bot's memory of its answers and their feedback. Thread-safe; blocking."""

    def __init__(self, path: Path, corpus_db: Path | None = None) -> None:
        """`corpus_db`: the corpus's SQLite file, whose old `feedback` table is copied once."""
        self.path = path
        self._file = SQLiteFile(path, SCHEMA)
        if corpus_db is not None:
            self._import_old_feedback(corpus_db)
        self._prune(KEEP_ANSWERS)

    def close(self) -> None:
        self._file.close()

    def _write(self, statements: Iterable[tuple[str, Sequence[Any]]]) -> None:
        """Run statements in one transaction."""
        with self._file.tx() as db:
            for sql, params in statements:
                db.execute(sql, params)

    # ------------------------------------------------------------------ answers
    def remember(
        self, message_ids: Sequence[int], record: AnswerRecord, channel_id: int | None = None
    ) -> None:
        """Store an answer sent as `message_ids` (in order; the last one carries the buttons)."""
        if not message_ids:
            return
        answer_id = message_ids[-1]
        as_of = record.as_of.isoformat() if record.as_of else None
        row = (answer_id, utcnow().timestamp(), channel_id, record.question, record.answer,
               json.dumps(record.sources), as_of)  # fmt: skip
        self._write(
            [
                ("INSERT OR REPLACE INTO answers VALUES (?,?,?,?,?,?,?)", row),
                *(
                    ("INSERT OR REPLACE INTO answer_messages VALUES (?,?)", (m, answer_id))
                    for m in message_ids
                ),
            ]
        )

    def recall(self, message_id: int) -> AnswerRecord | None:
        """The answer a message of the bot belongs to (None: not an answer, or forgotten)."""
        found = self.recall_many([message_id])
        return found[message_id][1] if found else None

    def recall_many(self, message_ids: Sequence[int]) -> dict[int, tuple[int, AnswerRecord]]:
        """message id → (answer id, record) for those of `message_ids` that are answers; the
        parts of one long answer share its answer id."""
        ids = list(dict.fromkeys(message_ids))[:500]
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._file.query(
            "SELECT m.message_id, a.* FROM answer_messages m JOIN answers a ON a.id = m.answer_id"
            f" WHERE m.message_id IN ({marks})",
            ids,
        )
        return {r["message_id"]: (r["id"], _record(r)) for r in rows}

    def _prune(self, keep: int) -> None:
        rows = self._file.query("SELECT id FROM answers ORDER BY id DESC LIMIT 1 OFFSET ?", (keep,))
        if rows:  # Discord ids grow with time: the smaller ones are the older answers
            self._write([("DELETE FROM answers WHERE id <= ?", (rows[0]["id"],))])

    # ------------------------------------------------------------------ feedback
    def add_feedback(
        self, *, user_id: int, vote: int, record: AnswerRecord, message_id: int
    ) -> None:
        """One vote per user and answer message; voting again replaces the vote."""
        row = (utcnow().timestamp(), str(user_id), vote, record.question, record.answer,
               json.dumps(record.sources), str(message_id))  # fmt: skip
        self._write(
            [
                (
                    f"INSERT INTO feedback ({FEEDBACK_COLUMNS}) VALUES (?,?,?,?,?,?,?)"
                    " ON CONFLICT(message_id, user_id) DO UPDATE SET"
                    " vote=excluded.vote, created=excluded.created",
                    row,
                )
            ]
        )

    def feedback(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest feedback first."""
        rows = self._file.query("SELECT * FROM feedback ORDER BY created DESC LIMIT ?", (limit,))
        return [
            {
                **dict(r),
                "created": datetime.fromtimestamp(r["created"], UTC).isoformat(),
                "sources": json.loads(r["sources"]),
            }
            for r in rows
        ]

    def _import_old_feedback(self, corpus_db: Path) -> None:
        """Copy the corpus file's old `feedback` table here, once (the old rows stay there)."""
        if self._file.query("SELECT 1 FROM meta WHERE key = 'old_feedback_imported'"):
            return
        rows: list[sqlite3.Row] = []
        if corpus_db.exists():
            old = sqlite3.connect(corpus_db, timeout=30)  # only read
            try:
                old.row_factory = sqlite3.Row
                has = old.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'feedback'"
                ).fetchall()
                if has:
                    rows = old.execute(f"SELECT {FEEDBACK_COLUMNS} FROM feedback").fetchall()
            finally:
                old.close()
        marks = ",".join("?" * len(FEEDBACK_COLUMNS.split(",")))
        self._write(
            [
                *(
                    (
                        f"INSERT OR IGNORE INTO feedback ({FEEDBACK_COLUMNS}) VALUES ({marks})",
                        tuple(r),
                    )  # fmt: skip
                    for r in rows
                ),
                # OR IGNORE: two bot processes (shards) starting at once both get here; the
                # rows are kept once by their UNIQUE key, and the first mark stays
                (
                    "INSERT OR IGNORE INTO meta VALUES ('old_feedback_imported', ?)",
                    (utcnow().isoformat(),),
                ),
            ]
        )
        if rows:
            log.info("copied %d feedback rows from %s to %s", len(rows), corpus_db, self.path)


def _record(row: sqlite3.Row) -> AnswerRecord:
    as_of = datetime.fromisoformat(row["as_of"]) if row["as_of"] else None
    return AnswerRecord(row["question"], row["answer"], json.loads(row["sources"]), as_of)
