"""`newsbot backup FILE` / `newsbot restore FILE`: one archive of what cannot be fetched again.

The corpus is history: feeds drop old items, so an article lost is lost for good. A backup holds

- every SQLite file of the data dir, each copied by SQLite's online backup API as of one moment
  (ingest.store.snapshot), so it is safe while the bot and an ingest run: the corpus
  (`newsbot.sqlite3`: articles, chunk text, feed state, stories, feed alerts) and the bot's own
  file (`discord.sqlite3`: answers sent, feedback, digests, watches, conversation memory);
- the embedding model's directory, when NEWSBOT_EMBEDDING_MODEL is a local directory;
- MANIFEST.json, written last: the settings that shaped the corpus (model, backend, chunking),
  the row counts of every table and the SHA-256 of every file.

Not in it: the Chroma vectors and the ONNX exports. Both are derived data, rebuilt from the
articles: `restore` runs the existing re-index (`newsbot ingest --reindex`) after unpacking.

Rules enforced here:
- The archive is written inside a hidden work directory beside FILE and renamed to FILE only once
  complete and flushed to disk: a backup killed half-way leaves no file named FILE (only the
  hidden `.newsbot-backup-*` directory), and an earlier FILE stays intact until then.
- `restore` accepts only an archive whose manifest is its last member and whose every file has
  the size and hash the manifest lists; it writes only into an empty (or new) data dir.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from ingest.config import Settings
from ingest.models import ConfigError
from ingest.store.snapshot import is_sqlite, snapshot

FORMAT = "newsbot-backup/1"
MANIFEST = "MANIFEST.json"
MODEL_DIR = "model"  # the embedding model's directory, inside the archive and the data dir
SHAPING = ("embedding_model", "embedding_backend", "chunk_tokens", "chunk_overlap_tokens")


@dataclass(frozen=True)
class BackupReport:
    path: Path
    bytes: int
    files: dict[str, int]  # name in the archive -> bytes
    tables: dict[str, dict[str, int]]  # SQLite file -> table -> rows
    seconds: float


@dataclass(frozen=True)
class RestoreReport:
    data_dir: Path
    manifest: dict[str, Any]
    settings: dict[str, Any]  # the settings the corpus was built with (SHAPING)
    model_dir: Path | None  # where the backed-up model directory was restored
    differences: list[str] = field(default_factory=list)  # NEWSBOT_X: backup a, here b


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _model_files(settings: Settings) -> Iterator[tuple[str, Path]]:
    """(name in the archive, file) of the embedding model, when it is a local directory."""
    root = Path(settings.embedding_model).expanduser()
    if not root.is_dir():
        return
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        yield str(PurePosixPath(MODEL_DIR, *path.relative_to(root).parts)), path


def _sqlite_files(settings: Settings) -> list[Path]:
    files = sorted(p for p in settings.data_dir.glob("*.sqlite3") if is_sqlite(p))
    if settings.db_path not in files:
        raise ConfigError(f"no corpus at {settings.db_path}: nothing to back up")
    return files


def create_backup(settings: Settings, target: Path) -> BackupReport:
    """Write the backup archive (tar + gzip) to `target`; see the module's rules."""
    t0 = time.perf_counter()
    target = target.expanduser().absolute()
    if target.is_dir():
        raise ConfigError(f"{target} is a directory: give the backup's file name")
    if not target.parent.is_dir():
        raise ConfigError(f"no directory {target.parent} for the backup")
    sources = _sqlite_files(settings)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".newsbot-backup-") as tmp:
        work = Path(tmp)
        members: list[tuple[str, Path]] = []
        tables: dict[str, dict[str, int]] = {}
        for source in sources:  # each file as of one moment (the corpus first: it is largest)
            copy = work / source.name
            tables[source.name] = snapshot(source, copy)
            members.append((source.name, copy))
        members += list(_model_files(settings))
        files: dict[str, dict[str, Any]] = {
            name: {"bytes": p.stat().st_size, "sha256": _sha256(p)} for name, p in members
        }
        manifest = {
            "format": FORMAT,
            "created": datetime.now(UTC).isoformat(),
            "settings": {k: getattr(settings, k) for k in SHAPING},
            "model_source": settings.embedding_model if any(_model_files(settings)) else None,
            "tables": tables,
            "files": files,
            "derived": "Chroma vectors and ONNX exports: rebuilt by `newsbot ingest --reindex`",
        }
        partial = work / "archive.partial"
        _write_archive(partial, members, manifest)
        os.replace(partial, target)  # complete and on disk: only now does FILE exist
        _fsync_dir(target.parent)
    size = target.stat().st_size
    return BackupReport(
        target,
        size,
        {k: int(v["bytes"]) for k, v in files.items()},
        tables,
        time.perf_counter() - t0,
    )


def _write_archive(path: Path, members: list[tuple[str, Path]], manifest: dict[str, Any]) -> None:
    with path.open("wb") as raw:
        with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=3) as tar:
            for name, file in members:
                tar.add(file, arcname=name, recursive=False)
            data = json.dumps(manifest, indent=1, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
            tar.addfile(info, io.BytesIO(data))
        raw.flush()
        os.fsync(raw.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------- restore
def restore_backup(settings: Settings, archive: Path) -> RestoreReport:
    """Unpack `archive` into the (empty or new) data dir, checking every file against the
    manifest first; nothing is written to the data dir unless the whole archive is sound. The
    vectors are not restored: the caller re-indexes (`restore_settings` says with what)."""
    data_dir = settings.data_dir.expanduser().absolute()
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise ConfigError(
            f"the data dir {data_dir} is not empty: restore only into an empty or new data dir "
            "(set NEWSBOT_DATA_DIR); nothing was changed"
        )
    if not archive.is_file():
        raise ConfigError(f"no backup file {archive}")
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data_dir.parent, prefix=".newsbot-restore-") as tmp:
        work = Path(tmp)
        manifest = _unpack(archive, work)
        data_dir.mkdir(exist_ok=True)
        for entry in sorted(work.iterdir()):
            os.replace(entry, data_dir / entry.name)
    shaped = dict(manifest.get("settings", {}))
    model_dir = data_dir / MODEL_DIR if (data_dir / MODEL_DIR).is_dir() else None
    differences = [
        f"NEWSBOT_{k.upper()}: the backup's corpus was built with {shaped[k]!r}, "
        f"this environment says {getattr(settings, k)!r}"
        for k in SHAPING
        if k in shaped and shaped[k] != getattr(settings, k) and not (model_dir and k == SHAPING[0])
    ]
    return RestoreReport(data_dir, manifest, shaped, model_dir, differences)


def restore_settings(settings: Settings, report: RestoreReport) -> Settings:
    """The settings to re-index the restored corpus with: the ones that built it (its model,
    from the restored directory when the backup held one; backend; chunking)."""
    update = {k: v for k, v in report.settings.items() if k in SHAPING}
    if report.model_dir is not None:
        update["embedding_model"] = str(report.model_dir)
    return settings.model_copy(update=update)


def _incomplete(archive: Path, why: str) -> ConfigError:
    return ConfigError(f"{archive} is not a complete newsbot backup ({why}); nothing was restored")


def _unpack(archive: Path, work: Path) -> dict[str, Any]:
    """Extract into `work`, hashing as it goes; the manifest must come last and match."""
    seen: dict[str, dict[str, Any]] = {}
    manifest: dict[str, Any] | None = None
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar:
                if manifest is not None:
                    raise _incomplete(archive, f"{member.name} after the manifest")
                if member.name == MANIFEST:
                    manifest = json.loads(tar.extractfile(member).read())  # type: ignore[union-attr]
                    continue
                seen[member.name] = _extract_one(archive, tar, member, work)
    except (tarfile.TarError, EOFError, zlib.error, OSError, ValueError) as e:
        raise _incomplete(archive, str(e) or type(e).__name__) from None
    if manifest is None:
        raise _incomplete(archive, "no manifest: the backup did not finish")
    if manifest.get("format") != FORMAT:
        raise _incomplete(archive, f"unknown format {manifest.get('format')!r}")
    if seen != manifest.get("files"):
        missing = sorted(set(manifest.get("files", {})) ^ set(seen)) or ["a file's content"]
        raise _incomplete(archive, f"does not match its manifest: {', '.join(missing[:3])}")
    return manifest


def _extract_one(
    archive: Path, tar: tarfile.TarFile, member: tarfile.TarInfo, work: Path
) -> dict[str, Any]:
    parts = PurePosixPath(member.name).parts
    if not member.isfile() or not parts or member.name.startswith("/") or ".." in parts:
        raise _incomplete(archive, f"unexpected member {member.name!r}")
    path = work.joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    source = tar.extractfile(member)
    assert source is not None  # a regular file
    h, size = hashlib.sha256(), 0
    with path.open("wb") as out:
        for block in iter(lambda: source.read(1 << 20), b""):
            h.update(block)
            size += len(block)
            out.write(block)
    return {"bytes": size, "sha256": h.hexdigest()}
