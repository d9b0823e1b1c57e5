"""Who may open the embedded Chroma store: many readers, or one writer, never both.

The embedded store (chromadb.PersistentClient) keeps its index in the memory of the process
that opened it: a second process writing the same directory leaves the first one reading stale
or half-written segments. So every process that opens an embedded store holds a lease on
`<data dir>/chroma.lease` (flock): shared while it only reads (`newsbot ask`, `chat`, the
bot between ingests), exclusive while it writes (an ingest or a reindex, from the command line
or inside the bot). A conflicting process is refused with one line naming the two supported
set-ups. The lease dies with its process (the kernel drops the flock), so a crash never leaves
a stale lock behind. A Chroma server (NEWSBOT_CHROMA_URL) needs no lease.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ingest.models import ConfigError, IngestLocked

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock; the embedded store is unguarded
    fcntl = None  # type: ignore[assignment]

SETUPS = (
    "one process per embedded corpus: either run only the bot and let it ingest on its own "
    "schedule (NEWSBOT_INGEST_INTERVAL_MINUTES, /reindex; no separate `newsbot ingest`), or run "
    "a Chroma server (`chroma run --path DIR --port 8000`) and set NEWSBOT_CHROMA_URL for the bot "
    "and every `newsbot` command"
)


class CorpusInUse(IngestLocked, ConfigError):
    """Another process holds the embedded store in a conflicting way. An IngestLocked, so the
    bot's scheduled ingest skips a run instead of failing; the command line exits 2 (set-up)."""


@dataclass
class _Held:
    fd: int
    readers: int = 0
    writers: int = 0


_held: dict[str, _Held] = {}
_mutex = threading.Lock()


def _refuse(path: Path, writing: bool) -> CorpusInUse:
    doing = "write" if writing else "read"
    other = "is using" if writing else "is writing"
    return CorpusInUse(
        f"cannot {doing} the embedded corpus {path.parent}: another newsbot process {other} it. "
        f"Supported set-ups: {SETUPS}"
    )


def _lock(held: _Held, path: Path, writing: bool, *, keep_shared: bool = False) -> None:
    if fcntl is None:
        return
    try:
        fcntl.flock(held.fd, (fcntl.LOCK_EX if writing else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        if keep_shared:
            # Linux drops the shared lock before trying the exclusive one: take it back.
            with contextlib.suppress(BlockingIOError):
                fcntl.flock(held.fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        raise _refuse(path, writing) from None


def acquire(path: Path, *, writing: bool) -> None:
    """Take (or upgrade to) a read or write lease on `path` for this process."""
    key = str(path.resolve())
    with _mutex:
        held = _held.get(key)
        if held is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            held = _Held(os.open(key, os.O_RDWR | os.O_CREAT, 0o644))
            try:
                _lock(held, path, writing)
            except BaseException:
                os.close(held.fd)
                raise
            _held[key] = held
        elif writing and not held.writers:
            _lock(held, path, True, keep_shared=True)  # upgrade this process's shared lease
        if writing:
            held.writers += 1
        else:
            held.readers += 1


def release(path: Path, *, writing: bool) -> None:
    """Give back one read or write lease; the last one closes the lease file."""
    key = str(path.resolve())
    with _mutex:
        held = _held.get(key)
        if held is None:
            return
        if writing:
            held.writers = max(0, held.writers - 1)
        else:
            held.readers = max(0, held.readers - 1)
        if not held.writers and not held.readers:
            os.close(held.fd)  # drops the flock
            del _held[key]
        elif not held.writers and fcntl is not None:
            fcntl.flock(held.fd, fcntl.LOCK_SH)  # back to reading: other readers may come in
