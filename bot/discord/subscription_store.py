"""The bot's subscriptions: channel digest schedules and the digests sent, topic watches and
the stories they were told about. Their own tables in the bot's SQLite file
(`$NEWSBOT_DATA_DIR/discord.sqlite3`, beside the answers and feedback of bot.discord.store),
never in the corpus: the ingest side never reads them. No Discord calls here: ids are plain
integers.

Delivery is claim-first, so nothing is ever sent twice:

- A digest claims (channel, period) with one INSERT before it is sent (state `sending`), then
  records the message ids (`sent`), or `skipped` when nothing was new. A row still `sending`
  after a crash is settled by the Discord layer against the channel's history (see
  bot.discord.digests): sent if the digest is there, sent again if it is provably not, and left
  `unknown` (never resent) when the history cannot be read.
- A watch match is stored `pending` once per (watch, story) (the primary key), claimed
  `sending` right before its message goes out and marked `sent` after. A crash in between
  leaves `sending` rows, which `settle_interrupted_hits` marks `unknown` at start: a watch
  notification is at most once (a lost one costs less than a duplicate DM, and a DM channel's
  history is not worth reading back for it).
- Several bot processes (shards) share this file: each claim records its owner process
  (bot.discord.claims), and a claim left `sending` is settled only by its own process or once
  that process is gone, never while another live process may still be sending it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.discord.claims import claim_owner, owner_alive
from bot.stories.schedule import DigestSchedule
from ingest.models import NewsbotError
from ingest.store.db import SQLiteFile

SCHEMA = """
CREATE TABLE IF NOT EXISTS digest_schedules (
    channel_id INTEGER PRIMARY KEY,
    guild_id INTEGER NOT NULL,
    cadence TEXT NOT NULL,
    weekday INTEGER,
    hour INTEGER NOT NULL,
    tz TEXT NOT NULL,
    created REAL NOT NULL,
    created_by INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS digest_runs (
    channel_id INTEGER NOT NULL,
    period TEXT NOT NULL,
    state TEXT NOT NULL,
    claimed REAL NOT NULL,
    since REAL NOT NULL,
    until REAL NOT NULL,
    seq INTEGER NOT NULL,
    story_ids TEXT NOT NULL DEFAULT '[]',
    message_ids TEXT NOT NULL DEFAULT '[]',
    marker TEXT NOT NULL DEFAULT '',
    after_id INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    PRIMARY KEY (channel_id, period)
);
CREATE TABLE IF NOT EXISTS watches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id INTEGER NOT NULL,
    guild_id INTEGER NOT NULL,
    channel_id INTEGER,
    topic TEXT NOT NULL,
    created REAL NOT NULL,
    start_seq INTEGER NOT NULL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS watches_owner ON watches(owner_id);
CREATE INDEX IF NOT EXISTS watches_channel ON watches(channel_id);
CREATE TABLE IF NOT EXISTS watch_hits (
    watch_id INTEGER NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
    story_id INTEGER NOT NULL,
    state TEXT NOT NULL,
    score REAL NOT NULL,
    matched REAL NOT NULL,
    sent REAL,
    message_id INTEGER,
    PRIMARY KEY (watch_id, story_id)
);
CREATE TABLE IF NOT EXISTS subscription_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class WatchLimitReached(NewsbotError):
    """The owner already has the maximum number of watches."""


class DuplicateWatch(NewsbotError):
    """The owner already watches this topic (same delivery)."""


@dataclass(frozen=True)
class DigestRun:
    channel_id: int
    period: str
    state: str  # sending | sent | skipped | failed | unknown
    claimed: datetime
    since: datetime
    until: datetime
    seq: int
    story_ids: tuple[int, ...] = ()
    message_ids: tuple[int, ...] = ()
    marker: str = ""  # the footer the digest carries (found again by it after a crash)
    after_id: int = 0  # a Discord message id from just before the claim: where to look back
    error: str | None = None
    owner: str = ""  # the process that claimed it (bot.discord.claims)


@dataclass(frozen=True)
class Watch:
    id: int
    owner_id: int
    guild_id: int
    channel_id: int | None  # None: delivered to the owner by DM
    topic: str
    created: datetime
    start_seq: int
    last_error: str | None = None


def _ts(dt: datetime) -> float:
    return dt.timestamp()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class SubscriptionStore:
    """Thread-safe (one connection behind a lock); every method is blocking: call it from a
    worker thread in the bot (asyncio.to_thread). `path`: the bot's SQLite file
    (DiscordSettings.discord_db_path), which bot.discord.store opens too."""

    def __init__(self, path: Path) -> None:
        self._file = SQLiteFile(path, SCHEMA)
        self.owner = claim_owner()
        with self._file.tx() as db:  # owners, added after files may have been created
            for table in ("digest_runs", "watch_hits"):
                columns = {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}
                if "owner" not in columns:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN owner TEXT NOT NULL DEFAULT ''")

    def close(self) -> None:
        self._file.close()

    def get_meta(self, key: str) -> str | None:
        rows = self._file.query("SELECT value FROM subscription_meta WHERE key=?", (key,))
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._file.run(
            "INSERT OR REPLACE INTO subscription_meta(key, value) VALUES (?, ?)", (key, value)
        )

    # ------------------------------------------------------------------ digest schedules
    def set_schedule(self, s: DigestSchedule) -> bool:
        """Create or replace a channel's schedule; True when it replaced one."""
        with self._file.tx() as db:
            existed = db.execute(
                "SELECT 1 FROM digest_schedules WHERE channel_id=?", (s.channel_id,)
            ).fetchone()
            db.execute(
                "INSERT OR REPLACE INTO digest_schedules(channel_id, guild_id, cadence, weekday,"
                " hour, tz, created, created_by) VALUES (?,?,?,?,?,?,?,?)",
                (
                    s.channel_id,
                    s.guild_id,
                    s.cadence,
                    s.weekday,
                    s.hour,
                    s.tz,
                    _ts(s.created),
                    s.created_by,
                ),
            )
        return existed is not None

    def schedule(self, channel_id: int) -> DigestSchedule | None:
        found = self.schedules(channel_id)
        return found[0] if found else None

    def schedules(self, channel_id: int | None = None) -> list[DigestSchedule]:
        where, params = ("", ()) if channel_id is None else (" WHERE channel_id=?", (channel_id,))
        sql = f"SELECT * FROM digest_schedules{where} ORDER BY channel_id"
        rows = self._file.query(sql, params)
        return [DigestSchedule(**{**dict(r), "created": _dt(r["created"])}) for r in rows]

    def remove_schedule(self, channel_id: int) -> bool:
        return self._file.run("DELETE FROM digest_schedules WHERE channel_id=?", (channel_id,)) > 0

    # ------------------------------------------------------------------ digest runs
    def claim_digest(self, run: DigestRun) -> bool:
        """Claim (channel, period) before sending; False when it was claimed already."""
        return (
            self._file.run(
                "INSERT OR IGNORE INTO digest_runs(channel_id, period, state, claimed, since,"
                " until, seq, story_ids, marker, after_id, owner) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (run.channel_id, run.period, run.state, _ts(run.claimed), _ts(run.since))
                + (_ts(run.until), run.seq, json.dumps(list(run.story_ids)), run.marker)
                + (run.after_id, self.owner),
            )
            > 0
        )

    def finish_digest(
        self,
        channel_id: int,
        period: str,
        state: str,
        message_ids: Sequence[int] = (),
        error: str | None = None,
    ) -> None:
        self._file.run(
            "UPDATE digest_runs SET state=?, message_ids=?, error=?"
            " WHERE channel_id=? AND period=?",
            (state, json.dumps([int(m) for m in message_ids]), error, channel_id, period),
        )

    def release_digest(self, channel_id: int, period: str) -> None:
        """Forget a claim that provably sent nothing (so the period can be sent)."""
        self._file.run(
            "DELETE FROM digest_runs WHERE channel_id=? AND period=? AND state='sending'",
            (channel_id, period),
        )

    def digest_run(self, channel_id: int, period: str) -> DigestRun | None:
        rows = self._file.query(
            "SELECT * FROM digest_runs WHERE channel_id=? AND period=?", (channel_id, period)
        )
        return _run_of(rows[0]) if rows else None

    def last_digest(self, channel_id: int) -> DigestRun | None:
        """The latest digest that was sent or skipped (what "since the last digest" means)."""
        rows = self._file.query(
            "SELECT * FROM digest_runs WHERE channel_id=? AND state IN ('sent', 'skipped',"
            " 'unknown') ORDER BY until DESC LIMIT 1",
            (channel_id,),
        )
        return _run_of(rows[0]) if rows else None

    def listed_story_ids(self, channel_id: int, limit: int = 50) -> set[int]:
        """Stories the channel's recent digests listed (never listed twice)."""
        out: set[int] = set()
        for r in self._file.query(
            "SELECT story_ids FROM digest_runs WHERE channel_id=? AND state IN ('sent',"
            " 'unknown', 'sending') ORDER BY until DESC LIMIT ?",
            (channel_id, limit),
        ):
            out.update(int(i) for i in json.loads(r["story_ids"]))
        return out

    def unsettled_digests(self) -> list[DigestRun]:
        """Claims left `sending` (a crash, or a send whose outcome was not known) by this
        process or by one that is gone; never those another live process is sending."""
        rows = self._file.query("SELECT * FROM digest_runs WHERE state='sending'")
        return [_run_of(r) for r in rows if r["owner"] == self.owner or not owner_alive(r["owner"])]

    # ------------------------------------------------------------------ watches
    def add_watch(
        self,
        *,
        owner_id: int,
        guild_id: int,
        channel_id: int | None,
        topic: str,
        created: datetime,
        start_seq: int,
        limit: int,
    ) -> Watch:
        """Raises WatchLimitReached (`limit` per owner for DM watches, per channel for channel
        watches) or DuplicateWatch (the same topic, case-insensitive, for the same delivery)."""
        who = "channel_id=?" if channel_id is not None else "owner_id=? AND channel_id IS NULL"
        key = channel_id if channel_id is not None else owner_id
        with self._file.tx() as db:
            topics = [r[0] for r in db.execute(f"SELECT topic FROM watches WHERE {who}", (key,))]
            if topic.casefold() in {t.casefold() for t in topics}:
                raise DuplicateWatch(topic)
            if len(topics) >= limit:
                raise WatchLimitReached(str(limit))
            cur = db.execute(
                "INSERT INTO watches(owner_id, guild_id, channel_id, topic, created, start_seq)"
                " VALUES (?,?,?,?,?,?)",
                (owner_id, guild_id, channel_id, topic, _ts(created), start_seq),
            )
            watch_id = int(cur.lastrowid or 0)
        return Watch(watch_id, owner_id, guild_id, channel_id, topic, created, start_seq)

    def watches(self) -> list[Watch]:
        return [_watch_of(r) for r in self._file.query("SELECT * FROM watches ORDER BY id")]

    def watch(self, watch_id: int) -> Watch | None:
        rows = self._file.query("SELECT * FROM watches WHERE id=?", (watch_id,))
        return _watch_of(rows[0]) if rows else None

    def visible_watches(self, user_id: int, channel_id: int | None) -> list[Watch]:
        """The user's own DM watches, then the watches of `channel_id`."""
        rows = self._file.query(
            "SELECT * FROM watches WHERE (owner_id=? AND channel_id IS NULL) OR channel_id=?"
            " ORDER BY channel_id IS NOT NULL, id",
            (user_id, channel_id if channel_id is not None else -1),
        )
        return [_watch_of(r) for r in rows]

    def remove_watch(self, watch_id: int) -> bool:
        with self._file.tx() as db:
            db.execute("DELETE FROM watch_hits WHERE watch_id=?", (watch_id,))
            return db.execute("DELETE FROM watches WHERE id=?", (watch_id,)).rowcount > 0

    def set_watch_error(self, watch_id: int, error: str | None) -> None:
        self._file.run("UPDATE watches SET last_error=? WHERE id=?", (error, watch_id))

    # ------------------------------------------------------------------ watch hits
    def add_hits(self, watch_id: int, scores: dict[int, float], now: datetime) -> int:
        """Record matched stories as pending; a (watch, story) pair seen before is ignored
        (one notification per story). Returns how many were new."""
        added = 0
        with self._file.tx() as db:
            if db.execute("SELECT 1 FROM watches WHERE id=?", (watch_id,)).fetchone() is None:
                return 0  # removed meanwhile
            for story_id, score in scores.items():
                added += db.execute(
                    "INSERT OR IGNORE INTO watch_hits(watch_id, story_id, state, score, matched)"
                    " VALUES (?,?,'pending',?,?)",
                    (watch_id, story_id, float(score), _ts(now)),
                ).rowcount
        return added

    def pending_hits(self, watch_id: int) -> list[int]:
        """Stories waiting to be told about, oldest match first."""
        rows = self._file.query(
            "SELECT story_id FROM watch_hits WHERE watch_id=? AND state='pending'"
            " ORDER BY matched, story_id",
            (watch_id,),
        )
        return [int(r["story_id"]) for r in rows]

    def watches_with_pending(self) -> list[int]:
        rows = self._file.query("SELECT DISTINCT watch_id FROM watch_hits WHERE state='pending'")
        return [int(r["watch_id"]) for r in rows]

    def messages_since(self, watch_id: int, since: datetime) -> int:
        """Notification messages sent (or being sent) for a watch since `since`."""
        rows = self._file.query(
            "SELECT count(DISTINCT coalesce(message_id, -sent)) AS n FROM watch_hits"
            " WHERE watch_id=? AND state IN ('sending', 'sent') AND sent >= ?",
            (watch_id, _ts(since)),
        )
        return int(rows[0]["n"])

    def claim_hits(self, watch_id: int, story_ids: Sequence[int], now: datetime) -> list[int]:
        """pending → sending for these stories; returns the ones claimed."""
        claimed = []
        with self._file.tx() as db:
            for sid in story_ids:
                n = db.execute(
                    "UPDATE watch_hits SET state='sending', sent=?, owner=? WHERE watch_id=?"
                    " AND story_id=? AND state='pending'",
                    (_ts(now), self.owner, watch_id, sid),
                ).rowcount
                if n:
                    claimed.append(sid)
        return claimed

    def finish_hits(
        self, watch_id: int, story_ids: Sequence[int], state: str, message_id: int | None = None
    ) -> None:
        with self._file.tx() as db:
            for sid in story_ids:
                db.execute(
                    "UPDATE watch_hits SET state=?, message_id=? WHERE watch_id=? AND story_id=?",
                    (state, message_id, watch_id, sid),
                )

    def hit_states(self, watch_id: int) -> dict[int, str]:
        rows = self._file.query(
            "SELECT story_id, state FROM watch_hits WHERE watch_id=?", (watch_id,)
        )
        return {int(r["story_id"]): r["state"] for r in rows}

    def settle_interrupted_hits(self) -> int:
        """At start: notifications that were being sent when the process stopped are not
        resent (at most once; see the module doc). Those of another live process (a shard)
        are its own to finish."""
        owners = self._file.query("SELECT DISTINCT owner FROM watch_hits WHERE state='sending'")
        gone = [r["owner"] for r in owners if not owner_alive(r["owner"])]
        return sum(
            self._file.run(
                "UPDATE watch_hits SET state='unknown' WHERE state='sending' AND owner=?", (o,)
            )
            for o in gone
        )


def _run_of(r: sqlite3.Row) -> DigestRun:
    row = dict(r)
    for key in ("claimed", "since", "until"):
        row[key] = _dt(row[key])
    for key in ("story_ids", "message_ids"):
        row[key] = tuple(json.loads(row[key]))
    return DigestRun(**row)


def _watch_of(r: sqlite3.Row) -> Watch:
    return Watch(**{**dict(r), "created": _dt(r["created"])})
