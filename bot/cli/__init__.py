"""The `newsbot` command line. Thin: parses arguments, calls ingest/engine, prints results.

Each command builds the settings class it needs; one module per group of commands:

corpus   ingest, feeds, stats         (ingest.config.Settings: the corpus)
answers  ask, latest, chat, eval      (bot.config.AnswerSettings)
serve    bot, sync, feedback, run     (bot.config.DiscordSettings)
stories  stories, digest              (bot.config.AnswerSettings)
model_directory  models               (ingest.config.Settings: the model directory)
ops      backup, restore              (ingest.config.Settings)

Exit codes: 0 success; 1 some feeds failed (the rest were ingested) or a question could not be
answered in batch mode; 2 configuration error, unusable input (not UTF-8), a storage problem
(ingest.store.db.storage_problem: one line), or another process holds the embedded corpus;
3 another ingest holds the lock. `run` exits 0 when feeds could not be fetched (it says so in
one line): the main job still did its work.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.cli import answers, corpus, model_directory, ops, serve, stories
from bot.cli.answers import chat_loop
from bot.cli.common import EXIT_CONFIG, EXIT_LOCKED, EXIT_PARTIAL, invalid_utf8
from ingest.lease import CorpusInUse
from ingest.models import ConfigError, IngestLocked, NewsbotError
from ingest.store.db import storage_problem

__all__ = ["build_parser", "chat_loop", "main"]

NOISY_LOGGERS = ("httpx", "httpcore", "chromadb", "sentence_transformers", "urllib3")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="newsbot", description=__doc__.splitlines()[0])
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    for group in (corpus, answers, serve, stories, model_directory, ops):
        group.add_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    for i, arg in enumerate(argv, 1):
        problem = invalid_utf8(arg)
        if problem:
            print(f"newsbot: argument {i} is {problem}", file=sys.stderr)
            return EXIT_CONFIG
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    settings = None
    try:
        settings = args.settings.load()  # the settings class this command needs
        return int(args.func(args, settings))
    except CorpusInUse as e:  # a set-up problem, not "try again later"
        print(f"newsbot: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except IngestLocked as e:
        print(f"newsbot: {e}", file=sys.stderr)
        return EXIT_LOCKED
    except ConfigError as e:
        print(f"newsbot: configuration error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except NewsbotError as e:
        print(f"newsbot: {e}", file=sys.stderr)
        return EXIT_PARTIAL
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        # imported here: the store (numpy, sqlite3) is not needed to start most commands

        problem = storage_problem(e, settings.data_dir if settings else Path("data"))
        if problem is None:
            raise
        logging.getLogger("newsbot").debug("storage error", exc_info=True)
        print(f"newsbot: {problem}", file=sys.stderr)
        return EXIT_CONFIG
