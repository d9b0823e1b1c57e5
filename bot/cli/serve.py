"""`newsbot bot`, `sync`, `feedback` and `run` (the main job): the Discord side. These build the
Discord settings (bot.config.DiscordSettings)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bot.cli.answers import cmd_chat
from bot.cli.common import EXIT_OK, print_json
from bot.cli.corpus import cmd_stats, print_ingest_report
from bot.config import DiscordSettings
from bot.discord.store import DiscordStore
from ingest.feeds import load_feeds
from ingest.models import ConfigError

if TYPE_CHECKING:
    from ingest.pipeline import IngestReport

NEXT_STEP = (
    "No DISCORD_TOKEN configured and no terminal: done. Next: set DISCORD_TOKEN (in .env, see "
    "README: Running the bot on your Discord server) to start the bot, or run `newsbot chat` in "
    "a terminal."
)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser("feedback", help="list 👍/👎 feedback given in Discord")
    s.add_argument("--limit", type=int, default=50)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_feedback, settings=DiscordSettings)

    s = sub.add_parser("bot", help="run the Discord bot")
    s.set_defaults(func=cmd_bot, settings=DiscordSettings)

    s = sub.add_parser("sync", help="sync slash commands with Discord (test guild if configured)")
    s.set_defaults(func=cmd_sync, settings=DiscordSettings)

    s = sub.add_parser("run", help="main job: ingest, then the bot (or the terminal chat)")
    s.add_argument("--no-chat", action="store_true", help="do not start the terminal chat")
    s.set_defaults(func=cmd_run, settings=DiscordSettings)


def cmd_feedback(args: argparse.Namespace, settings: DiscordSettings) -> int:
    store = DiscordStore(settings.discord_db_path, corpus_db=settings.db_path)
    try:
        rows = store.feedback(args.limit)
    finally:
        store.close()
    if args.json:
        print_json(rows)
        return EXIT_OK
    if not rows:
        print("No feedback yet.")
    for r in rows:
        vote = "+1" if r["vote"] > 0 else "-1"
        print(f"{r['created'][:16]}  {vote}  user {r['user_id']}: {r['question'][:100]}")
    return EXIT_OK


def cmd_bot(args: argparse.Namespace, settings: DiscordSettings) -> int:
    from bot.discord.client import run_bot  # lazy: start-up time (discord.py)
    from ingest.fulltext import check_full_text  # lazy: start-up time (HTTP)

    if settings.ingest_interval_minutes:  # refuse to start a bot whose ingest would fail
        try:
            feeds = load_feeds(settings.feeds)
        except ConfigError:
            feeds = []  # the scheduled ingest reports a bad feeds file, as before
        check_full_text(feeds)
    return run_bot(settings)


def cmd_sync(args: argparse.Namespace, settings: DiscordSettings) -> int:
    from bot.discord.client import sync_commands  # lazy: start-up time (discord.py)

    return sync_commands(settings)


def reachability_line(report: IngestReport) -> str | None:
    """One summary line for the main job when feeds failed; None when every feed was fetched."""
    total = len(report.feeds)
    failed = len(report.failed)
    if not failed:
        return None
    if failed == total:
        return f"0 of {total} feeds reachable — is this machine online?"
    return f"{total - failed} of {total} feeds reachable; the failures are listed above."


def cmd_run(args: argparse.Namespace, settings: DiscordSettings) -> int:
    """The main job: ingest the configured feeds, show what is indexed, then serve: the Discord
    bot when a token is configured, else the terminal chat when there is a terminal.

    Feeds that cannot be fetched (offline machine, a feed down) are reported, not fatal: the job
    did what it was designed to do and exits 0. Real errors (bad configuration, an unreachable
    Chroma server, a broken install) still exit non-zero. `newsbot ingest` keeps its own exit
    codes for cron."""
    from ingest.pipeline import run_ingest  # lazy: start-up time (HTTP, feedparser)

    report = run_ingest(settings)
    print_ingest_report(report)
    cmd_stats(argparse.Namespace(json=False), settings)
    summary = reachability_line(report)
    if summary:
        print(f"\n{summary}")
    if settings.discord_token:
        return cmd_bot(args, settings)
    if sys.stdin.isatty() and not args.no_chat:
        print("\nNo DISCORD_TOKEN configured: starting the terminal chat instead.")
        return cmd_chat(args, settings)
    print(f"\n{NEXT_STEP}")
    return EXIT_OK
