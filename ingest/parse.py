"""Fetched bytes + headers → Articles. Pure functions; nothing here raises on bad input.

`parse_feed` runs feedparser (RSS 0.9x/1.0/2.0, Atom, CDF) or a small JSON Feed reader,
then normalizes each entry: canonical URL, dedupe id, plain-text title and body, UTC date.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser

from ingest.jsonfeed import json_feed
from ingest.links import article_id, canonical_url, is_web_url
from ingest.models import Article, Feed, FetchResult, ParseResult
from ingest.text import (
    extract_full_text,
    extraction_problem,
    html_to_text,
    one_line,
    plain_to_text,
    shorten,
    strip_boilerplate,
)

# The helpers other modules (and the tests) know as ingest.parse's.
__all__ = [
    "article_id",
    "canonical_url",
    "extract_full_text",
    "extraction_problem",
    "html_to_text",
    "parse_feed",
    "strip_boilerplate",
    "to_utc",
]

log = logging.getLogger(__name__)

MIN_DATE = datetime(1990, 1, 1, tzinfo=UTC)
MAX_FUTURE = timedelta(days=2)
TITLE_FROM_TEXT_CHARS = 81  # a title made from the text: 80 characters and "…"
MAX_TAGS = 30

# ---------------------------------------------------------------- entries


def _get(obj: Any, key: str, default: Any = None) -> Any:
    try:
        value = obj.get(key, default)
    except Exception:
        return default
    return default if value is None else value


_MARKUP = re.compile(r"<(?:[a-zA-Z][a-zA-Z0-9]*\b[^<>]*|/[a-zA-Z][a-zA-Z0-9]*\s*)>")


def _as_text(value: Any, content_type: str | None) -> str:
    if not isinstance(value, str) or not value:
        return ""
    ctype = (content_type or "text/html").lower()
    # Feeds often declare HTML as text/plain (Google's blog): markup is markup whatever its label.
    if "html" in ctype or "xml" in ctype or _MARKUP.search(value):
        return strip_boilerplate(html_to_text(value))
    return strip_boilerplate(plain_to_text(value))


def _title_of(entry: Any) -> str:
    raw = _get(entry, "title", "")
    if not isinstance(raw, str) or not raw.strip():
        return ""
    ctype = str(_get(_get(entry, "title_detail", {}), "type", "text/plain"))
    if "html" in ctype.lower():
        return " ".join(html_to_text(raw).split())
    return " ".join(html.unescape(raw).split())


def _text_of(entry: Any) -> str:
    candidates: list[str] = []
    for content in _get(entry, "content", []) or []:
        candidates.append(_as_text(_get(content, "value", ""), _get(content, "type")))
    detail = _get(entry, "summary_detail", {})
    candidates.append(_as_text(_get(entry, "summary", ""), _get(detail, "type")))
    description = _get(entry, "description", "")
    if description and description != _get(entry, "summary", ""):
        candidates.append(_as_text(description, _get(detail, "type")))
    return max(candidates, key=len, default="")


def _author_of(entry: Any) -> str:
    names: list[str] = []
    for a in _get(entry, "authors", []) or []:
        name = _get(a, "name", "") if isinstance(a, Mapping) else ""
        if isinstance(name, str) and name.strip():
            names.append(name)
    if not names:
        name = _get(_get(entry, "author_detail", {}), "name", "") or _get(entry, "author", "")
        if isinstance(name, str) and name.strip():
            names.append(name)
    clean = [" ".join(html_to_text(n).split()) for n in names]
    return ", ".join(dict.fromkeys(n for n in clean if n))[:300]


def _tags_of(entry: Any, feed_tags: Iterable[str]) -> tuple[str, ...]:
    out: dict[str, str] = {}
    for tag in _get(entry, "tags", []) or []:
        term = _get(tag, "term", "") or _get(tag, "label", "")
        if not isinstance(term, str):
            continue
        term = " ".join(term.split())
        if term and len(term) <= 100 and term.lower() not in out:
            out[term.lower()] = term
    for term in feed_tags:
        if term and term.lower() not in out:
            out[term.lower()] = term
    return tuple(list(out.values())[:MAX_TAGS])


def to_utc(value: Any, now: datetime | None = None) -> datetime | None:
    """A feedparser struct_time (UTC) → aware UTC datetime; None if invalid or absurd
    (before 1990, or more than 2 days in the future)."""
    if value is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(v) for v in tuple(value)[:6])
        dt = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None
    now = now or datetime.now(UTC)
    if dt < MIN_DATE or dt > now + MAX_FUTURE:
        return None
    return dt


def _published_of(entry: Any, now: datetime) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        dt = to_utc(_get(entry, key), now)
        if dt is not None:
            return dt
    return None


def _link_of(entry: Any, base: str) -> str:
    """The entry's web link, absolute; "" if it has none."""
    candidates: list[str] = []
    link = _get(entry, "link", "")
    guid_is_link = bool(_get(entry, "guidislink", False))
    if isinstance(link, str) and link.strip() and not guid_is_link:
        candidates.append(link)
    for alt in _get(entry, "links", []) or []:
        if _get(alt, "rel", "alternate") == "alternate" and isinstance(_get(alt, "href"), str):
            candidates.append(_get(alt, "href"))
    guid = _get(entry, "id", "")
    if isinstance(guid, str) and is_web_url(guid.strip()):  # only an absolute permalink
        candidates.append(guid)
    for candidate in candidates:
        url = canonical_url(candidate, base or None)
        if is_web_url(url):
            return url
    return ""


# ---------------------------------------------------------------- documents


class _NotAFeed(Exception):
    """The body holds no feed; the message is the ParseResult's one-line error."""


@dataclass
class _FeedDoc:
    """A parsed feed document before its entries become articles."""

    version: str
    title: str
    entries: list[Any]
    base: str  # what relative links are resolved against
    author: str = ""  # the feed's own author, for entries without one
    warnings: list[str] = field(default_factory=list)
    site: str = ""  # the channel's own link (the publication's site)


# ---------------------------------------------------------------- the feed


def _sniff_html(body: bytes, content_type: str) -> str | None:
    """If the body is an HTML page, its <title> (or "" when untitled); else None."""
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    is_html = head.startswith((b"<!doctype html", b"<html")) or (
        "html" in content_type and b"<rss" not in head and b"<feed" not in head
    )
    if not is_html:
        return None
    m = re.search(rb"<title[^>]*>(.*?)</title", body[:65536], re.I | re.S)
    if not m:
        return ""
    return one_line(html.unescape(m.group(1).decode("utf-8", "replace")), 80)


def _bozo_warning(exc: Any) -> str | None:
    """A one-line warning for feedparser's bozo exception; None for harmless ones."""
    name = type(exc).__name__
    if name in ("CharacterEncodingOverride", "NonXMLContentType"):
        return None  # e.g. text/xml without charset: parsed fine, nothing to act on
    return f"malformed feed, kept what parsed: {name}: {one_line(exc, 160)}"


def _feedparser(body: bytes, headers: dict[str, str]) -> Any:
    # No sanitizing or URI rewriting inside content: html_to_text drops scripts and tags
    # anyway, and both passes cost about a third of the parse time.
    return feedparser.parse(
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )


def parse_feed(feed: Feed, result: FetchResult, *, now: datetime | None = None) -> ParseResult:
    """Parse one fetched feed into Articles. Never raises; a broken entry is skipped."""
    try:
        return _parse_feed(feed, result, now or datetime.now(UTC))
    except Exception as e:  # defensive: a bug here must not stop the run
        log.exception("feed=%s parse failed", feed.name)
        return ParseResult(feed=feed.name, error=f"parse failed: {type(e).__name__}: {one_line(e)}")


def _parse_feed(feed: Feed, result: FetchResult, now: datetime) -> ParseResult:
    if result.status == "not_modified":
        return ParseResult(feed=feed.name)
    if result.status != "ok":
        return ParseResult(feed=feed.name, error=result.error or f"fetch {result.status}")
    body = result.body or b""
    if not body.strip():
        return ParseResult(feed=feed.name, error="empty response body")

    headers = {str(k).lower(): str(v) for k, v in (result.headers or {}).items()}
    # The body is already decoded (gzip): feedparser must not see these.
    for hop in ("content-encoding", "content-length", "transfer-encoding"):
        headers.pop(hop, None)
    # Relative links are resolved against the final URL by _link_of, not by handing the URL
    # to feedparser as Content-Location: feedparser would also rewrite a guid such as "12345"
    # into "https://host/feed/12345", which then passes for a permalink.
    base = result.url if is_web_url(result.url) else ""
    doc = None
    if body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{" and (jf := json_feed(body)):
        doc = _FeedDoc("json", jf.title, jf.entries, base or jf.site, site=jf.site)
    try:
        doc = doc or _xml_feed(body, headers, base)
    except _NotAFeed as e:
        return ParseResult(feed=feed.name, error=str(e))
    articles, entry_warnings = _articles(feed, doc.entries, doc.base, now, doc.author)
    log.debug("feed=%s parsed %s: %d articles", feed.name, doc.version, len(articles))
    return ParseResult(
        feed=feed.name,
        articles=tuple(articles),
        warnings=(*doc.warnings, *entry_warnings),
        title=doc.title,
        site=doc.site,
    )


def _xml_feed(body: bytes, headers: dict[str, str], base: str) -> _FeedDoc:
    """feedparser's reading of the body (RSS, Atom, RDF, CDF); _NotAFeed when it holds none."""
    content_type = headers.get("content-type", "").lower()
    warnings: list[str] = []
    try:
        parsed = _feedparser(body, headers)
        if not _get(parsed, "version") and not _get(parsed, "entries") and content_type:
            # A Content-Type can mislead the charset detection (e.g. a UTF-16 feed served
            # as text/xml, which means us-ascii): try again, sniffing BOM and declaration.
            retry = _feedparser(body, {k: v for k, v in headers.items() if k != "content-type"})
            if _get(retry, "version") or _get(retry, "entries"):
                parsed = retry
                warnings.append(f"ignored the charset implied by Content-Type {content_type!r}")
    except Exception as e:
        raise _NotAFeed(f"feed parser failed: {one_line(e)}") from None
    version = str(_get(parsed, "version", "") or "")
    entries = list(_get(parsed, "entries", []) or [])
    feed_info = _get(parsed, "feed", {})
    title = _get(feed_info, "title", "")
    title = " ".join(str(title).split()) if isinstance(title, str) else ""
    feed_link = _get(feed_info, "link", "")
    site = feed_link if isinstance(feed_link, str) and is_web_url(feed_link) else ""
    base = base or site
    if not version and not entries:
        page_title = _sniff_html(body, content_type)
        if page_title is not None:
            hint = f" ({page_title!r})" if page_title else ""
            raise _NotAFeed(f"not a feed: got an HTML page{hint}")
        exc = _get(parsed, "bozo_exception")
        detail = f" ({type(exc).__name__}: {one_line(exc, 120)})" if exc else ""
        raise _NotAFeed(f"not a feed: no RSS/Atom structure{detail}")
    if _get(parsed, "bozo", False):
        warning = _bozo_warning(_get(parsed, "bozo_exception"))
        if warning:
            warnings.append(warning)
    if not version:
        warnings.append("unknown feed format; kept the entries that parsed")
    return _FeedDoc(version, title, entries, base, _author_of(feed_info), warnings, site)


def _articles(
    feed: Feed, entries: list[Any], base: str, now: datetime, feed_author: str = ""
) -> tuple[list[Article], list[str]]:
    """Entries → articles. An entry without an author of its own gets the feed's (an Atom
    <feed><author>, a one-person blog), so "according to <blogger>" can find its posts."""
    warnings: list[str] = []
    fields: list[dict[str, Any]] = []
    broken = 0
    for entry in entries:
        try:
            f = _entry_fields(entry, feed, base, now)
        except Exception as e:  # one broken entry must not cost the feed
            broken += 1
            log.warning("feed=%s skipped a broken entry: %s", feed.name, one_line(e))
            continue
        if f is not None:
            f["author"] = f["author"] or feed_author
            fields.append(f)
    if broken:
        warnings.append(f"skipped {broken} broken entr{'y' if broken == 1 else 'ies'}")
    articles, duplicates, shared = _with_ids(feed, fields)
    if duplicates:
        warnings.append(f"skipped {duplicates} duplicate entr{'y' if duplicates == 1 else 'ies'}")
    if shared:
        warnings.append(f"{shared} link(s) shared by different entries; those use per-entry ids")
    return articles, warnings


def _entry_fields(entry: Any, feed: Feed, base: str, now: datetime) -> dict[str, Any] | None:
    """An entry's Article fields (all but id and feed); None when it has nothing to show."""
    guid = _get(entry, "id", "")
    guid = guid.strip() if isinstance(guid, str) else str(guid)
    link = _link_of(entry, base)
    title = _title_of(entry)
    text = _text_of(entry)
    if not (link or title or text):
        return None  # nothing to show or cite (a bare guid is not an article)
    return {
        "url": link,
        "guid": guid,
        "title": title or shorten(text, TITLE_FROM_TEXT_CHARS) or link,
        "text": text,
        "author": _author_of(entry),
        "published": _published_of(entry, now),
        "tags": _tags_of(entry, feed.tags),
    }


def _with_ids(feed: Feed, fields: list[dict[str, Any]]) -> tuple[list[Article], int, int]:
    """(articles, duplicates skipped, links shared by different entries).

    Entries of one feed that share a link (or, without a link, a guid) but are different items
    (every entry links to the home page, or even repeats its guid) keep ids of their own -
    guid-based when their guid is unique there, else title+date-based - so none is lost."""
    groups: dict[str, set[tuple[str, str, str]]] = {}
    for f in fields:
        key = f["url"] or (f"guid:{f['guid']}" if f["guid"] else "")
        if key:
            groups.setdefault(key, set()).add((f["guid"], f["title"], str(f["published"])))
    shared = {key for key, idents in groups.items() if len(idents) > 1}
    guid_uses: dict[tuple[str, str], int] = {}
    for key in shared:
        for guid, _, _ in groups[key]:
            guid_uses[key, guid] = guid_uses.get((key, guid), 0) + 1

    articles: list[Article] = []
    seen: set[str] = set()
    duplicates = 0
    for f in fields:
        key = f["url"] or (f"guid:{f['guid']}" if f["guid"] else "")
        if key in shared:
            guid = f["guid"] if guid_uses[key, f["guid"]] == 1 else ""
            aid = article_id("", guid, feed.name, f["title"], f["published"])
        else:
            aid = article_id(f["url"], f["guid"], feed.name, f["title"], f["published"])
        if aid in seen:
            duplicates += 1
            continue
        seen.add(aid)
        articles.append(Article(id=aid, feed=feed.name, **f))
    return articles, duplicates, len(shared)
