"""`newsbot backup FILE` and `newsbot restore FILE`: running it for real (ingest.backup). These
build only the corpus settings (ingest.config.Settings)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli.common import EXIT_OK, print_json
from bot.cli.corpus import print_ingest_report
from ingest.backup import create_backup, restore_backup, restore_settings
from ingest.config import Settings


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser(
        "backup", help="write one consistent archive of the corpus and the bot's file"
    )
    s.add_argument("file", help="the archive to write (e.g. /var/backups/newsbot-DATE.tar.gz)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_backup, settings=Settings)

    s = sub.add_parser("restore", help="unpack a backup into an empty data dir and re-index")
    s.add_argument("file", help="an archive written by `newsbot backup`")
    s.add_argument(
        "--no-reindex",
        action="store_true",
        help="only unpack; run `newsbot ingest --reindex` later to rebuild the vectors",
    )
    s.set_defaults(func=cmd_restore, settings=Settings)


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    report = create_backup(settings, Path(args.file))
    corpus = report.tables.get(settings.db_path.name, {})
    if args.json:
        print_json(
            {
                "path": str(report.path),
                "bytes": report.bytes,
                "files": report.files,
                "tables": report.tables,
                "seconds": round(report.seconds, 2),
            }
        )
        return EXIT_OK
    print(
        f"backup {report.path}: {report.bytes / 1e6:.1f} MB, {len(report.files)} files, "
        f"{corpus.get('articles', 0)} articles, {corpus.get('feed_state', 0)} feeds, "
        f"{corpus.get('stories', 0)} stories ({report.seconds:.1f}s)"
    )
    return EXIT_OK


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    report = restore_backup(settings, Path(args.file))
    tables = report.manifest.get("tables", {}).get(settings.db_path.name, {})
    print(
        f"restored {tables.get('articles', 0)} articles, {tables.get('feed_state', 0)} feeds "
        f"(backup of {report.manifest.get('created', '?')}) into {report.data_dir}"
    )
    if report.model_dir:
        print(f"the embedding model was restored to {report.model_dir}")
    for line in report.differences:
        print(f"note: {line}")
    rebuild = restore_settings(settings, report)
    if report.differences or report.model_dir:
        shaped = ", ".join(f"NEWSBOT_{k.upper()}={v}" for k, v in report.settings.items())
        print(f"the vectors are rebuilt with the corpus's own settings; run the bot with {shaped}")
    if args.no_reindex:
        print("vectors not rebuilt (derived data): run `newsbot ingest --reindex` next")
        return EXIT_OK
    from ingest.pipeline import run_ingest  # lazy: start-up time (HTTP, feedparser)

    print("rebuilding the vectors (derived data, not in the backup) ...")
    ingest_report = run_ingest(rebuild, reindex=True)
    print_ingest_report(ingest_report)
    return EXIT_OK
