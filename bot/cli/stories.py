"""`newsbot stories` and `newsbot digest`: the stories of the corpus (see ingest.store.stories).
These build the answer settings (bot.config.AnswerSettings).

Without --topic they read the story tables only (no model, no vector store); --topic matches
stories by meaning through the answer engine. Their `--feed` is a filter (repeatable, exact
names), not a feed to resolve.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime

from bot.cli.common import print_json, shown
from bot.config import AnswerSettings
from bot.stories.digest import DIGEST_LIMIT, digest_stories, digest_window
from bot.timeparse import iso_day, parse_date_option
from ingest.models import ConfigError, utcnow
from ingest.store import Corpus
from ingest.store.stories import Story, StoryStore

STORIES_LIMIT = 20
DIGEST_CANDIDATES = 1000  # stories read to choose a digest from


def _date(value: str | None, option: str) -> datetime | None:
    if not value:
        return None

    try:
        return parse_date_option(value, utcnow())
    except ValueError as e:
        raise ConfigError(f"{option}: {e}") from None


def format_story(story: Story, indent: str = "    ") -> str:
    n = story.source_count
    head = f"{iso_day(story.last_updated)}  {story.title}  ({n} source{'s' * (n != 1)})"
    lines = [head]
    for a in story.articles:
        lines.append(f"{indent}{iso_day(a.published)}  [{a.feed}] {a.title}\n{indent}    {a.url}")
    return "\n".join(lines)


def format_stories(stories: Sequence[Story]) -> str:
    if not stories:
        return "No stories match."
    return "\n".join(format_story(s) for s in stories)


def cmd_stories(args: argparse.Namespace, settings: AnswerSettings) -> int:
    since, until = _date(args.since, "--since"), _date(args.until, "--until")
    if since and until and until <= since:
        raise ConfigError("--until must be after --since")
    feeds = tuple(args.feed or ())
    limit = max(1, min(args.limit, 500))
    if args.topic and args.topic.strip():
        from bot.engine import Engine  # lazy: start-up time (the answer path)

        engine = Engine(settings)
        try:
            found = engine.stories(
                since=since, until=until, feeds=feeds, topic=args.topic, limit=limit
            )
        finally:
            engine.close()
    else:
        Corpus(settings).close()  # the corpus tables exist (an empty data dir lists nothing)
        store = StoryStore(settings)
        try:
            found = store.stories(since=since, until=until, feeds=feeds, limit=limit)
        finally:
            store.close()
    if args.json:
        print_json([s.to_json() for s in found])
    else:
        print(shown(format_stories(found)))
    return 0


def cmd_digest(args: argparse.Namespace, settings: AnswerSettings) -> int:
    corpus = Corpus(settings)
    store = StoryStore(settings)
    try:
        since, now = digest_window(
            corpus.newest_published(), _date(args.since, "--since"), utcnow()
        )
        candidates = store.stories(since=since, until=now, limit=DIGEST_CANDIDATES)
    finally:
        store.close()
        corpus.close()
    top = digest_stories(candidates, since, now, max(1, args.limit))
    if args.json:
        print_json(
            {
                "since": since.isoformat(),
                "until": now.isoformat(),
                "stories": [s.to_json() for s in top],
            }
        )
        return 0
    period = f"{since:%Y-%m-%d %H:%M} to {now:%Y-%m-%d %H:%M} UTC"
    if not top:
        print(f"Nothing new from {period}.")
        return 0
    print(f"Top stories, {period}:")
    for i, s in enumerate(top, 1):
        n = s.source_count
        print(f"{i:>2}. {shown(s.title)} ({n} source{'s' * (n != 1)}, {iso_day(s.last_updated)})")
        for a in s.articles:
            print(f"      {a.url}  [{a.feed}]")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser("stories", help="articles grouped into stories, newest first")
    s.add_argument("--since", help="stories with news since: 2025-06-01, 7d, 2w, yesterday")
    s.add_argument("--until", help="stories with news before this date")
    s.add_argument("--feed", action="append", help="carried by this feed (repeatable)")
    s.add_argument("--topic", help="about this topic (by meaning)")
    s.add_argument("--limit", type=int, default=STORIES_LIMIT)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_stories, settings=AnswerSettings)

    s = sub.add_parser("digest", help="the top stories of a period (default: the last 24 h)")
    s.add_argument("--since", help="from this date (default: 24 h before the newest article)")
    s.add_argument("--limit", type=int, default=DIGEST_LIMIT)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_digest, settings=AnswerSettings)
