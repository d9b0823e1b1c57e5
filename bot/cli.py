"""The `newsbot` command line. Thin: parses arguments, calls ingest/engine, prints results.

Exit codes: 0 success; 1 some feeds failed (the rest were ingested) or a question could not be
answered in batch mode; 2 configuration error, unusable input (not UTF-8), or another process
holds the embedded corpus; 3 another ingest holds the lock. `run` exits 0 when feeds could not
be fetched (it says so in one line): the main job still did its work.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.timeparse import iso_day
from ingest.config import Settings, load_settings
from ingest.models import ConfigError, FeedState, NewsbotError, utcnow

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.models import Answer, LatestItem
    from ingest.health import Health
    from ingest.pipeline import IngestReport

log = logging.getLogger("newsbot")

EXIT_OK, EXIT_PARTIAL, EXIT_CONFIG, EXIT_LOCKED = 0, 1, 2, 3


def _when(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC") if dt else "never"


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str))


# ---------------------------------------------------------------------------- ingest
def print_ingest_report(report: IngestReport) -> None:
    if report.feeds:
        width = max(len(f.name) for f in report.feeds)
        for f in report.feeds:
            if f.status == "error":
                line = f"FAILED  {f.error}"
            elif f.status == "not_modified":
                line = "not modified (304)"
            else:
                line = f"{f.items} items: {f.new} new, {f.updated} updated, {f.unchanged} unchanged"
            warn = (
                f"  ({len(f.warnings)} warning{'s' * (len(f.warnings) != 1)})" if f.warnings else ""
            )
            print(f"  {f.name:<{width}}  {line}{warn}")
    failed = len(report.failed)
    print(
        f"{'re-indexed' if report.reindex else 'ingested'}: {report.embedded_articles} articles "
        f"embedded as {report.embedded_chunks} chunks"
        + (f", {report.pruned} pruned by retention" if report.pruned else "")
        + (f", {report.pending} still pending" if report.pending else "")
        + (f"; {failed} of {len(report.feeds)} feeds failed" if failed else "")
        + f" ({report.seconds:.1f}s)"
    )


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.pipeline import run_ingest

    if args.feeds:
        settings = settings.model_copy(update={"feeds": Path(args.feeds)})
    report = run_ingest(settings, only=args.feed or (), reindex=args.reindex)
    if args.json:
        _print_json(report.to_json())
    else:
        print_ingest_report(report)
    return report.exit_code


# ---------------------------------------------------------------------------- feeds
WARNINGS_SHOWN = 5  # per feed in `feeds status`


def _state_line(s: FeedState | None, health: Health | None = None) -> str:
    """A feed's health for the operator: as /sources words it, plus the recorded error."""
    from bot.messages import health_text
    from ingest.health import assess

    if s is None:
        return "never fetched"
    if s.last_error:
        h = health or assess(s, (), utcnow())
        return f"FAILING: {health_text(h, utcnow())} — error: {s.last_error}"
    line = f"ok {_when(s.last_success)}, {s.items_last_fetch} items, {s.articles_total} stored"
    if health is not None and health.status == "stale":
        return f"STALE: {health_text(health, utcnow())}; last fetch {line}"
    return line


def cmd_feeds_edit(args: argparse.Namespace, settings: Settings) -> int:
    """`feeds add NAME URL` / `feeds remove NAME`: the same locked, comment-keeping edits as
    Discord's /feeds add|remove (the operator is trusted: no public-address check here)."""
    from ingest.feeds import add_feed, remove_feed
    from ingest.models import Feed

    want = 2 if args.action == "add" else 1
    if len(args.args) != want:
        usage = "NAME URL" if args.action == "add" else "NAME"
        raise ConfigError(f"usage: newsbot feeds {args.action} {usage}")
    if args.action == "add":
        name, url = args.args
        tags = tuple(args.tag or ())
        feed = Feed(" ".join(name.split()), url.strip(), tags, full_text=args.full_text)
        add_feed(settings.feeds, feed)
        print(f"Added {feed.name!r} to {settings.feeds}; `newsbot ingest --feed` fetches it.")
    else:
        removed = remove_feed(settings.feeds, args.args[0])
        print(f"Removed {removed.name!r} from {settings.feeds}; its stored articles stay.")
    return EXIT_OK


def cmd_feeds(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.feeds import load_feeds

    if args.action in ("add", "remove"):
        return cmd_feeds_edit(args, settings)
    if args.args:
        raise ConfigError(f"newsbot feeds {args.action} takes no arguments")
    feeds = load_feeds(settings.feeds)
    if args.action == "list":
        if args.json:
            _print_json([{**f.__dict__, "tags": list(f.tags)} for f in feeds])
        else:
            for f in feeds:
                flags = ("" if f.enabled else " [disabled]") + (
                    " [full text]" if f.full_text else ""
                )
                tags = f" ({', '.join(f.tags)})" if f.tags else ""
                print(f"{f.name}{tags}{flags}\n    {f.url}")
        return EXIT_OK
    from ingest.store import Corpus
    from ingest.store.health import health_for

    corpus = Corpus(settings)
    try:
        states = {s.name: s for s in corpus.feed_states()}
    finally:
        corpus.close()
    health = {h.feed: h for h in health_for(settings, utcnow())}
    if args.json:
        _print_json(
            [
                {"name": f.name, "url": f.url, **_state_json(states.get(f.name))}
                | {"health": _health_json(health.get(f.name))}
                for f in feeds
            ]
        )
        return EXIT_OK
    width = max((len(f.name) for f in feeds), default=0)
    for f in feeds:
        state = states.get(f.name)
        print(f"{f.name:<{width}}  {_state_line(state, health.get(f.name))}")
        for w in (state.warnings if state else ())[:WARNINGS_SHOWN]:
            print(f"{'':<{width}}    warning: {w}")
        if state and len(state.warnings) > WARNINGS_SHOWN:
            more = len(state.warnings) - WARNINGS_SHOWN
            print(f"{'':<{width}}    … {more} more warning(s) (--json shows all)")
    return EXIT_OK


def _state_json(s: FeedState | None) -> dict[str, Any]:
    if s is None:
        return {"fetched": False}
    return {
        "fetched": True,
        "last_success": s.last_success.isoformat() if s.last_success else None,
        "last_attempt": s.last_attempt.isoformat() if s.last_attempt else None,
        "last_error": s.last_error,
        "consecutive_failures": s.consecutive_failures,
        "items_last_fetch": s.items_last_fetch,
        "articles": s.articles_total,
        "warnings": list(s.warnings),
    }


def _health_json(h: Health | None) -> dict[str, Any]:
    """status ok | failing | stale | unknown; since (failing: the last success; stale: the
    newest article); reason: a code and its plain words; alert: bad enough to tell."""
    from bot.messages import reason_text

    if h is None:
        return {"status": "unknown"}
    return {
        "status": h.status,
        "since": h.since.isoformat() if h.since else None,
        "reason": h.reason or None,
        "reason_text": reason_text(h.reason, h.detail) if h.reason else None,
        "alert": h.alert,
        "usual_gap_days": round(h.usual_gap.total_seconds() / 86400, 2) if h.usual_gap else None,
    }


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.store import Corpus

    corpus = Corpus(settings)
    try:
        c = corpus.counts()
        out = {
            **c,
            "oldest": datetime.fromtimestamp(c["oldest"]).isoformat() if c["oldest"] else None,
            "newest": (n.isoformat() if (n := corpus.newest_published()) else None),
            "pending": corpus.pending_count(),
            "last_ingest": corpus.get_meta("last_ingest"),
            "embedding_model": corpus.get_meta("embedding_model"),
            "data_dir": str(settings.data_dir),
            "chroma": settings.chroma_url or str(settings.chroma_path),
        }
    finally:
        corpus.close()
    if args.json:
        _print_json(out)
    else:
        for k, v in out.items():
            print(f"{k:>16}: {v}")
    return EXIT_OK


# ---------------------------------------------------------------------------- answers
def _engine(settings: Settings) -> Engine:
    from bot.engine import Engine

    return Engine(settings)


def format_answer(answer: Answer) -> str:
    lines = [answer.text.strip()]
    if answer.note:
        lines.append(f"\nNote: {answer.note}")
    shown = answer.sources or answer.closest
    if shown:
        lines.append("\nSources:" if answer.sources else "\nClosest articles:")
        for s in shown:
            feeds = ", ".join(s.feeds or (s.feed,))
            lines.append(f"  [{s.n}] {s.title} ({feeds}, {iso_day(s.published)})\n      {s.url}")
    lines.append(f"\n(as of {iso_day(answer.as_of)}; {answer.backend})")
    return "\n".join(lines)


def format_latest(items: Sequence[LatestItem]) -> str:
    if not items:
        return "No articles match."
    return "\n".join(
        f"{iso_day(i.published)}  {i.title}  [{', '.join(i.feeds)}]\n            {i.url}"
        for i in items
    )


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    from bot.timeparse import parse_date_option

    try:
        return parse_date_option(value, utcnow())
    except ValueError as e:
        raise ConfigError(f"--since: {e}") from None


def _now(value: str | None) -> datetime | None:
    """--now: ask as of another moment (reproducing a question asked earlier)."""
    if not value:
        return None
    from datetime import UTC

    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--now: invalid date {value!r}: use YYYY-MM-DD") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def invalid_utf8(text: str) -> str | None:
    """A one-line description of the first byte that is not UTF-8, or None when `text` is valid.

    Python decodes argv (and stdin here) with surrogateescape, so undecodable bytes arrive as
    lone surrogates that would fail much later (tokenizer, SQLite) with a traceback."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        bad = text[e.start]
        byte = ord(bad) - 0xDC00 if 0xDC80 <= ord(bad) <= 0xDCFF else None
        what = f"byte 0x{byte:02x}" if byte is not None else f"character U+{ord(bad):04X}"
        return f"not valid UTF-8 text ({what} at character {e.start + 1})"
    return None


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    since = _since(args.since)
    now = _now(args.now)
    batch = args.question == "-"
    if batch and isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="surrogateescape")  # a bad line is reported, not fatal
    engine = _engine(settings)
    # One question per stdin line, each answered as soon as it is read (the model loaded once).
    questions = (line.strip() for line in sys.stdin) if batch else iter([args.question])
    status = EXIT_OK
    try:
        for lineno, q in enumerate(questions, 1):
            if batch and not q:
                continue  # blank lines between questions
            problem = invalid_utf8(q)
            if problem:
                print(f"newsbot: stdin line {lineno}: {problem}; skipped", file=sys.stderr)
                status = EXIT_PARTIAL
                continue
            answer = engine.ask(q, feed=args.feed, since=since, now=now)
            if args.json:
                out = answer.to_json()
                if args.explain and answer.trace is not None:
                    out["trace"] = answer.trace.to_json()
                _print_json(out)
            else:
                print(f"Q: {q}\n{format_answer(answer)}\n" if batch else format_answer(answer))
                if args.explain and answer.trace is not None:
                    print("\nHow this answer was made:\n" + answer.trace.format() + "\n")
            sys.stdout.flush()
    finally:
        engine.close()
    return status


def cmd_latest(args: argparse.Namespace, settings: Settings) -> int:
    from bot.messages import failing_note

    engine = _engine(settings)
    try:
        items = engine.latest(topic=args.topic, feed=args.feed, limit=args.limit)
        failing = engine.feed_problems([args.feed]) if args.feed else []
    finally:
        engine.close()
    if args.json:
        _print_json([i.to_json() for i in items])
    else:
        for h in failing:  # a failing feed is not "no news"
            print(f"warning: {failing_note(h)}")
        print(format_latest(items))
    return EXIT_OK


CHAT_HELP = """Ask anything about AI news. Commands:
  /latest [topic]   newest articles (optionally about a topic)
  /sources          the feeds and their health
  /help             this text
  /quit             leave (or Ctrl-D)"""


def chat_loop(engine: Engine, read: Callable[[str], str] = input) -> int:
    from bot.models import Turn

    print(CHAT_HELP)
    history: list[Turn] = []
    while True:
        try:
            line = read("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return EXIT_OK
        except UnicodeDecodeError:
            print("That line is not valid UTF-8 text; please type it again.")
            continue
        if not line:
            continue
        try:
            if line in ("/quit", "/exit"):
                return EXIT_OK
            if line == "/help":
                print(CHAT_HELP)
            elif line.startswith("/latest"):
                topic = line[len("/latest") :].strip() or None
                print(format_latest(engine.latest(topic=topic, limit=10)))
            elif line == "/sources":
                from ingest.store.health import health_for

                health = {h.feed: h for h in health_for(engine.settings, utcnow())}
                for s in engine.feed_states():
                    print(f"{s.name}: {_state_line(s, health.get(s.name))}")
            elif line.startswith("/"):
                print("Unknown command. " + CHAT_HELP)
            else:
                answer = engine.ask(line, history=history[-4:])
                print(format_answer(answer))
                if answer.answered:
                    history.append(Turn(line, answer.text))
        except NewsbotError as e:
            print(f"error: {e}")
        except Exception:
            log.exception("chat: failed to answer %r", line[:80])
            print("Sorry, something went wrong while answering; the details are in the log.")


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    engine = _engine(settings)
    try:
        return chat_loop(engine)
    finally:
        engine.close()


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from eval.evaluate import run_eval_cli

    return run_eval_cli(args, settings)


def cmd_feedback(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.store import Corpus

    corpus = Corpus(settings)
    try:
        rows = corpus.feedback(args.limit)
    finally:
        corpus.close()
    if args.json:
        _print_json(rows)
        return EXIT_OK
    if not rows:
        print("No feedback yet.")
    for r in rows:
        vote = "+1" if r["vote"] > 0 else "-1"
        print(f"{r['created'][:16]}  {vote}  user {r['user_id']}: {r['question'][:100]}")
    return EXIT_OK


# ---------------------------------------------------------------------------- bot / main job
def cmd_bot(args: argparse.Namespace, settings: Settings) -> int:
    from bot.discord import run_bot
    from ingest.feeds import load_feeds
    from ingest.pipeline import check_full_text

    if settings.ingest_interval_minutes:  # refuse to start a bot whose ingest would fail
        try:
            feeds = load_feeds(settings.feeds)
        except ConfigError:
            feeds = []  # the scheduled ingest reports a bad feeds file, as before
        check_full_text(feeds)
    return run_bot(settings)


def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    from bot.discord import sync_commands

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


NEXT_STEP = (
    "No DISCORD_TOKEN configured and no terminal: done. Next: set DISCORD_TOKEN (in .env, see "
    "README: Running the bot on your Discord server) to start the bot, or run `newsbot chat` in "
    "a terminal."
)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """The main job: ingest the configured feeds, show what is indexed, then serve: the Discord
    bot when a token is configured, else the terminal chat when there is a terminal.

    Feeds that cannot be fetched (offline machine, a feed down) are reported, not fatal: the job
    did what it was designed to do and exits 0. Real errors (bad configuration, an unreachable
    Chroma server, a broken install) still exit non-zero. `newsbot ingest` keeps its own exit
    codes for cron."""
    from ingest.pipeline import run_ingest

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


# ---------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="newsbot", description=__doc__.splitlines()[0])
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("ingest", help="fetch the feeds and update the corpus")
    s.add_argument("--feeds", help="feeds file (default: NEWSBOT_FEEDS or feeds.toml)")
    s.add_argument("--feed", action="append", help="only this feed (repeatable)")
    s.add_argument("--reindex", action="store_true", help="rebuild vectors without fetching")
    s.add_argument("--json", action="store_true", help="print a machine-readable summary")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser(
        "feeds", help="list the feeds, show their health, or add/remove one in feeds.toml"
    )
    s.add_argument("action", choices=["list", "status", "add", "remove"])
    s.add_argument("args", nargs="*", metavar="NAME [URL]", help="add: NAME URL; remove: NAME")
    s.add_argument("--tag", action="append", help="add: a tag (repeatable)")
    s.add_argument("--full-text", action="store_true", help="add: fetch each article page")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_feeds)

    s = sub.add_parser("stats", help="corpus size, freshness, model")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_stats)

    s = sub.add_parser("ask", help="answer a question (or '-' for one question per stdin line)")
    s.add_argument("question")
    s.add_argument("--feed", help="only articles from this feed")
    s.add_argument("--since", help="only articles since: 2025-06-01, 7d, 2w, yesterday")
    s.add_argument("--json", action="store_true", help="JSON (JSON Lines with '-')")
    s.add_argument(
        "--explain", action="store_true", help="also show what each stage of the answer did"
    )
    s.add_argument("--now", help="ask as of this date (YYYY-MM-DD): 'this week' reads from it")
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("latest", help="the newest articles")
    s.add_argument("--topic")
    s.add_argument("--feed")
    s.add_argument("--limit", type=int, default=10)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_latest)

    s = sub.add_parser("chat", help="interactive terminal session")
    s.set_defaults(func=cmd_chat)

    s = sub.add_parser("eval", help="evaluate retrieval and answers on a JSONL question set")
    s.add_argument("file")
    s.add_argument("--k", type=int, default=5)
    s.add_argument("--json", action="store_true")
    s.add_argument("--limit", type=int, default=0, help="only the first N questions")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("feedback", help="list 👍/👎 feedback given in Discord")
    s.add_argument("--limit", type=int, default=50)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_feedback)

    s = sub.add_parser("bot", help="run the Discord bot")
    s.set_defaults(func=cmd_bot)

    s = sub.add_parser("sync", help="sync slash commands with Discord (test guild if configured)")
    s.set_defaults(func=cmd_sync)

    s = sub.add_parser("run", help="main job: ingest, then the bot (or the terminal chat)")
    s.add_argument("--no-chat", action="store_true", help="do not start the terminal chat")
    s.set_defaults(func=cmd_run)

    from bot.cli_stories import add_story_commands

    add_story_commands(sub)  # stories, digest
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
    for noisy in ("httpx", "httpcore", "chromadb", "sentence_transformers", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    from ingest.lease import CorpusInUse
    from ingest.pipeline import IngestLocked

    try:
        settings = load_settings()
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


if __name__ == "__main__":
    raise SystemExit(main())
