"""bot.discord.store.DiscordStore: the old feedback of the corpus file is copied once, also when
several bot processes (one per shard) open a new store at the same moment."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from pathlib import Path
from typing import Any

from bot.discord.store import FEEDBACK_COLUMNS, DiscordStore


def _corpus_with_old_feedback(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute(f"CREATE TABLE feedback ({FEEDBACK_COLUMNS})")
    db.executemany(
        "INSERT INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(1.0, "u1", 1, "q1", "a1", "[]", "m1"), (2.0, "u2", -1, "q2", "a2", "[]", "m2")],
    )
    db.commit()
    db.close()


def _open(path: str, corpus: str, start: Any, errors: Any) -> None:  # a Barrier, a Queue
    start.wait()
    try:
        DiscordStore(Path(path), corpus_db=Path(corpus)).close()
    except Exception as exc:  # noqa: BLE001 (reported to the test)
        errors.put(repr(exc))


def test_old_feedback_is_copied_once(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.sqlite3"
    _corpus_with_old_feedback(corpus)
    for _ in range(2):  # a second start copies nothing again
        store = DiscordStore(tmp_path / "discord.sqlite3", corpus_db=corpus)
        assert sorted(f["question"] for f in store.feedback()) == ["q1", "q2"]
        store.close()


def test_shards_starting_at_once_all_open_the_store(tmp_path: Path) -> None:
    # Each process finds nothing imported yet and imports: without OR IGNORE on the mark, all
    # but the first failed with "UNIQUE constraint failed: meta.key" and their bot exited.
    corpus = tmp_path / "corpus.sqlite3"
    _corpus_with_old_feedback(corpus)
    ctx = mp.get_context("spawn")
    for n in range(4):
        path = tmp_path / f"discord{n}.sqlite3"
        start, errors = ctx.Barrier(6), ctx.Queue()
        args = (str(path), str(corpus), start, errors)
        procs = [ctx.Process(target=_open, args=args) for _ in range(6)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        failed = [errors.get() for _ in range(errors.qsize())]
        assert failed == [] and all(p.exitcode == 0 for p in procs), failed
        store = DiscordStore(path)
        try:
            assert sorted(f["question"] for f in store.feedback()) == ["q1", "q2"]
        finally:
            store.close()
