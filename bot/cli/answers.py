"""`newsbot ask`, `latest`, `chat` and `eval`: questions answered by the engine. These build the
answer settings (bot.config.AnswerSettings)."""

from __future__ import annotations

import argparse
import io
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.cli.common import (
    EXIT_OK,
    EXIT_PARTIAL,
    feed_option,
    invalid_utf8,
    print_json,
    shown,
)
from bot.cli.corpus import state_line
from bot.config import AnswerSettings
from bot.messages import failing_note
from bot.models import Turn
from bot.timeparse import iso_day, parse_date_option
from ingest.models import ConfigError, NewsbotError, utcnow
from ingest.store.health import health_for

if TYPE_CHECKING:
    from bot.engine import Engine  # lazy: start-up time (the answer path)
    from bot.models import Answer, LatestItem

log = logging.getLogger("newsbot")

CHAT_HELP = """Ask anything about AI news. Commands:
  /latest [topic]   newest articles (optionally about a topic)
  /sources          the feeds and their health
  /help             this text
  /quit             leave (or Ctrl-D)"""


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser("ask", help="answer a question (or '-' for one question per stdin line)")
    s.add_argument("question")
    s.add_argument("--feed", help="only articles from this feed")
    s.add_argument("--since", help="only articles since: 2025-06-01, 7d, 2w, yesterday")
    s.add_argument("--json", action="store_true", help="JSON (JSON Lines with '-')")
    s.add_argument(
        "--explain", action="store_true", help="also show what each stage of the answer did"
    )
    s.add_argument("--now", help="ask as of this date (YYYY-MM-DD): 'this week' reads from it")
    s.set_defaults(func=cmd_ask, settings=AnswerSettings)

    s = sub.add_parser("latest", help="the newest articles")
    s.add_argument("--topic")
    s.add_argument("--feed")
    s.add_argument("--limit", type=int, default=10)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_latest, settings=AnswerSettings)

    s = sub.add_parser("chat", help="interactive terminal session")
    s.set_defaults(func=cmd_chat, settings=AnswerSettings)

    s = sub.add_parser("eval", help="evaluate retrieval and answers on a JSONL question set")
    s.add_argument("file")
    s.add_argument("--k", type=int, default=5)
    s.add_argument("--json", action="store_true")
    s.add_argument("--limit", type=int, default=0, help="only the first N questions")
    s.set_defaults(func=cmd_eval, settings=AnswerSettings)


def _engine(settings: AnswerSettings) -> Engine:
    from bot.engine import Engine  # lazy: start-up time (the answer path)

    return Engine(settings)


def format_answer(answer: Answer) -> str:
    lines = [answer.text.strip()]
    if answer.note:
        lines.append(f"\nNote: {answer.note}")
    shown = answer.sources or answer.closest
    if shown:
        lines.append("\nSources:" if answer.sources else "\nClosest articles:")
        for s in shown:
            feeds = ", ".join(dict.fromkeys([s.label, *(s.feeds or (s.feed,))]))
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

    try:
        return parse_date_option(value, utcnow())
    except ValueError as e:
        raise ConfigError(f"--since: {e}") from None


def _now(value: str | None) -> datetime | None:
    """--now: ask as of another moment (reproducing a question asked earlier)."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--now: invalid date {value!r}: use YYYY-MM-DD") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _print_answer(args: argparse.Namespace, question: str, answer: Answer, batch: bool) -> None:
    if args.json:
        out = answer.to_json()
        if args.explain and answer.trace is not None:
            out["trace"] = answer.trace.to_json()
        print_json(out)
        return
    text = shown(format_answer(answer))
    print(f"Q: {shown(question)}\n{text}\n" if batch else text)
    if args.explain and answer.trace is not None:
        print("\nHow this answer was made:\n" + answer.trace.format() + "\n")


def cmd_ask(args: argparse.Namespace, settings: AnswerSettings) -> int:
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
        feed = feed_option(args.feed, engine.feed_names()) if args.feed else None
        for lineno, q in enumerate(questions, 1):
            if batch and not q:
                continue  # blank lines between questions
            problem = invalid_utf8(q)
            if problem:
                print(f"newsbot: stdin line {lineno}: {problem}; skipped", file=sys.stderr)
                status = EXIT_PARTIAL
                continue
            _print_answer(args, q, engine.ask(q, feed=feed, since=since, now=now), batch)
            sys.stdout.flush()
    finally:
        engine.close()
    return status


def cmd_latest(args: argparse.Namespace, settings: AnswerSettings) -> int:
    engine = _engine(settings)
    try:
        feed = feed_option(args.feed, engine.feed_names()) if args.feed else None
        items = engine.latest(topic=args.topic, feed=feed, limit=args.limit)
        failing = engine.feed_problems([feed]) if feed else []
    finally:
        engine.close()
    if args.json:
        print_json([i.to_json() for i in items])
    else:
        for h in failing:  # a failing feed is not "no news"
            print(f"warning: {failing_note(h)}")
        print(shown(format_latest(items)))
    return EXIT_OK


def _chat_line(engine: Engine, line: str, history: list[Turn]) -> None:
    """One line of the chat: a command, or a question (answered ones join the history)."""
    if line == "/help":
        print(CHAT_HELP)
    elif line.startswith("/latest"):
        topic = line[len("/latest") :].strip() or None
        print(shown(format_latest(engine.latest(topic=topic, limit=10))))
    elif line == "/sources":
        health = {h.feed: h for h in health_for(engine.settings, utcnow())}
        for s in engine.feed_states():
            print(f"{s.name}: {state_line(s, health.get(s.name))}")
    elif line.startswith("/"):
        print("Unknown command. " + CHAT_HELP)
    else:  # the engine uses the last NEWSBOT_HISTORY_TURNS of the history
        answer = engine.ask(line, history=history)
        print(shown(format_answer(answer)))
        if answer.answered:
            history.append(Turn(line, answer.text))


def chat_loop(engine: Engine, read: Callable[[str], str] = input) -> int:
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
        if line in ("/quit", "/exit"):
            return EXIT_OK
        if not line:
            continue
        try:
            _chat_line(engine, line, history)
        except NewsbotError as e:
            print(f"error: {e}")
        except Exception:
            log.exception("chat: failed to answer %r", line[:80])
            print("Sorry, something went wrong while answering; the details are in the log.")


def cmd_chat(args: argparse.Namespace, settings: AnswerSettings) -> int:
    engine = _engine(settings)
    try:
        return chat_loop(engine)
    finally:
        engine.close()


def cmd_eval(args: argparse.Namespace, settings: AnswerSettings) -> int:
    from eval.evaluate import run_eval_cli  # lazy: start-up time (eval, newsbot eval only)

    return run_eval_cli(args, settings)
