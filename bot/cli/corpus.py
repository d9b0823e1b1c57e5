"""`newsbot ingest`, `feeds list|status|add|remove` and `stats`: the corpus and its feeds. These
build only the corpus settings (ingest.config.Settings)."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.common import EXIT_OK, feed_option, print_json, when
from bot.messages import health_text, reason_text
from ingest.config import Settings
from ingest.feeds import add_feed, load_feeds, remove_feed
from ingest.health import assess
from ingest.models import ConfigError, Feed, FeedState, utcnow
from ingest.store import Corpus
from ingest.store.health import health_for

if TYPE_CHECKING:
    from ingest.health import Health
    from ingest.pipeline import IngestReport

WARNINGS_SHOWN = 5  # per feed in `feeds status`


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser("ingest", help="fetch the feeds and update the corpus")
    s.add_argument("--feeds", help="feeds file (default: NEWSBOT_FEEDS or feeds.toml)")
    s.add_argument("--feed", action="append", help="only this feed (repeatable)")
    s.add_argument("--reindex", action="store_true", help="rebuild vectors without fetching")
    s.add_argument("--json", action="store_true", help="print a machine-readable summary")
    s.set_defaults(func=cmd_ingest, settings=Settings)

    s = sub.add_parser(
        "feeds", help="list the feeds, show their health, or add/remove one in feeds.toml"
    )
    s.add_argument("action", choices=["list", "status", "add", "remove"])
    s.add_argument("args", nargs="*", metavar="NAME [URL]", help="add: NAME URL; remove: NAME")
    s.add_argument("--tag", action="append", help="add: a tag (repeatable)")
    s.add_argument("--full-text", action="store_true", help="add: fetch each article page")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_feeds, settings=Settings)

    s = sub.add_parser("stats", help="corpus size, freshness, model")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_stats, settings=Settings)


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


def corpus_feed_names(settings: Settings) -> list[str]:
    """The feeds the corpus holds articles of."""
    corpus = Corpus(settings)
    try:
        return [s.name for s in corpus.feed_states()]
    finally:
        corpus.close()


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.pipeline import run_ingest  # lazy: start-up time (HTTP, feedparser)

    if args.feeds:
        settings = settings.model_copy(update={"feeds": Path(args.feeds)})
    only: list[str] = []
    if args.feed:  # a re-index works on the corpus's feeds; an ingest on the file's
        if args.reindex:
            names = corpus_feed_names(settings)
        else:
            names = [f.name for f in load_feeds(settings.feeds)]
        only = [feed_option(name, names) for name in args.feed]
    report = run_ingest(settings, only=only, reindex=args.reindex)
    if args.json:
        print_json(report.to_json())
    else:
        print_ingest_report(report)
    return report.exit_code


# ---------------------------------------------------------------------------- feeds
def state_line(s: FeedState | None, health: Health | None = None) -> str:
    """A feed's health for the operator: as /sources words it, plus the recorded error."""
    if s is None:
        return "never fetched"
    if s.last_error:
        h = health or assess(s, (), utcnow())
        return f"FAILING: {health_text(h, utcnow())} — error: {s.last_error}"
    line = f"ok {when(s.last_success)}, {s.items_last_fetch} items, {s.articles_total} stored"
    if health is not None and health.status == "stale":
        return f"STALE: {health_text(health, utcnow())}; last fetch {line}"
    return line


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


def cmd_feeds_edit(args: argparse.Namespace, settings: Settings) -> int:
    """`feeds add NAME URL` / `feeds remove NAME`: the same locked, comment-keeping edits as
    Discord's /feeds add|remove (the operator is trusted: no public-address check here)."""
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
    if args.action in ("add", "remove"):
        return cmd_feeds_edit(args, settings)
    if args.args:
        raise ConfigError(f"newsbot feeds {args.action} takes no arguments")
    feeds = load_feeds(settings.feeds)
    if args.action == "list":
        if args.json:
            print_json([{**f.__dict__, "tags": list(f.tags)} for f in feeds])
            return EXIT_OK
        for f in feeds:
            flags = ("" if f.enabled else " [disabled]") + (" [full text]" if f.full_text else "")
            tags = f" ({', '.join(f.tags)})" if f.tags else ""
            print(f"{f.name}{tags}{flags}\n    {f.url}")
        return EXIT_OK
    corpus = Corpus(settings)
    try:
        states = {s.name: s for s in corpus.feed_states()}
        aside = _set_aside_by_feed(corpus)
    finally:
        corpus.close()
    health = {h.feed: h for h in health_for(settings, utcnow())}
    if args.json:
        print_json(
            [
                {"name": f.name, "url": f.url, **_state_json(states.get(f.name))}
                | {"health": _health_json(health.get(f.name)), "set_aside": aside.get(f.name, [])}
                for f in feeds
            ]
        )
        return EXIT_OK
    width = max((len(f.name) for f in feeds), default=0)
    for f in feeds:
        state = states.get(f.name)
        print(f"{f.name:<{width}}  {state_line(state, health.get(f.name))}")
        for w in (state.warnings if state else ())[:WARNINGS_SHOWN]:
            print(f"{'':<{width}}    warning: {w}")
        if state and len(state.warnings) > WARNINGS_SHOWN:
            more = len(state.warnings) - WARNINGS_SHOWN
            print(f"{'':<{width}}    … {more} more warning(s) (--json shows all)")
        for a in aside.get(f.name, [])[:WARNINGS_SHOWN]:
            print(f"{'':<{width}}    not embedded (set aside): {a['title']!r}: {a['error']}")
    return EXIT_OK


def _set_aside_by_feed(corpus: Corpus) -> dict[str, list[dict[str, Any]]]:
    """The articles that could not be embedded, under each of their feeds."""
    out: dict[str, list[dict[str, Any]]] = {}
    for row, error, at in corpus.set_aside_articles():
        item: dict[str, Any] = {"id": row.id, "title": row.title, "url": row.url, "error": error}
        item["since"] = at.isoformat() if at else None
        for feed in row.feeds:
            out.setdefault(feed, []).append(item)
    return out


def _vectors_line(missing: int, chunks: int) -> str:
    """Whether every stored chunk has its vector (a deleted vector store is said plainly)."""
    if not missing:
        return "ok"
    return (
        f"MISSING for {missing:,} of {chunks:,} chunks (the vector store was deleted or lost; "
        "answers use keyword search only): the next `newsbot ingest` rebuilds them"
    )


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    corpus = Corpus(settings)
    try:
        c = corpus.counts()
        out = {
            **c,
            "oldest": datetime.fromtimestamp(c["oldest"]).isoformat() if c["oldest"] else None,
            "newest": (n.isoformat() if (n := corpus.newest_published()) else None),
            "pending": corpus.pending_count(),
            "vectors": _vectors_line(corpus.missing_vectors(), c["chunks"]),
            "last_ingest": corpus.get_meta("last_ingest"),
            "embedding_model": corpus.get_meta("embedding_model"),
            "data_dir": str(settings.data_dir),
            "chroma": settings.chroma_url or str(settings.chroma_path),
        }
    finally:
        corpus.close()
    if args.json:
        print_json(out)
    else:
        for k, v in out.items():
            print(f"{k:>16}: {v}")
    return EXIT_OK
