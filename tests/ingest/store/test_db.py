"""ingest.store.db.SQLiteFile: opening one new file from several processes at once."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path
from typing import Any

from ingest.store.db import SQLiteFile

SCHEMA = "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY);"


def _open(path: str, start: Any, errors: Any) -> None:  # a Barrier and a Queue of the context
    start.wait()
    try:
        SQLiteFile(Path(path), SCHEMA).close()
    except Exception as exc:  # noqa: BLE001 (reported to the test)
        errors.put(repr(exc))


def test_processes_opening_a_new_file_at_once_all_open_it(tmp_path: Path) -> None:
    # Switching a new file to WAL takes a lock SQLite does not wait for: without a retry some
    # of them fail with "database is locked" (two bot processes starting their checks at once)
    ctx = mp.get_context("spawn")
    for n in range(6):
        path = tmp_path / f"f{n}.sqlite3"
        start, errors = ctx.Barrier(8), ctx.Queue()
        procs = [ctx.Process(target=_open, args=(str(path), start, errors)) for _ in range(8)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        failed = [errors.get() for _ in range(errors.qsize())]
        assert failed == [] and all(p.exitcode == 0 for p in procs), failed
        file = SQLiteFile(path, SCHEMA)
        try:
            assert file.query("PRAGMA journal_mode")[0][0] == "wal"
        finally:
            file.close()
