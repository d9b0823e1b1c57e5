"""JSON Feed (jsonfeed.org) → entries shaped like feedparser's, so one path turns both into
articles (ingest.parse)."""

from __future__ import annotations

import calendar
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ingest.links import is_web_url


@dataclass(frozen=True)
class JsonFeed:
    title: str
    site: str  # home_page_url: the publication's site
    entries: list[dict[str, Any]]


def _rfc3339_struct(value: Any) -> time.struct_time | None:
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return time.gmtime(calendar.timegm(dt.utctimetuple()))
    except (OverflowError, ValueError, OSError):
        return None


def json_feed(body: bytes) -> JsonFeed | None:
    """A JSON Feed, its entries shaped like feedparser's; None when the body is not one."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or "jsonfeed.org/version" not in str(data.get("version", "")):
        return None
    items = data.get("items")
    entries: list[dict[str, Any]] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        content = []
        if isinstance(item.get("content_html"), str):
            content.append({"value": item["content_html"], "type": "text/html"})
        if isinstance(item.get("content_text"), str):
            content.append({"value": item["content_text"], "type": "text/plain"})
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        entries.append(
            {
                "id": str(item.get("id", "")) if item.get("id") is not None else "",
                "link": item.get("url") or item.get("external_url") or "",
                "title": item.get("title") if isinstance(item.get("title"), str) else "",
                "title_detail": {"type": "text/plain"},
                "content": content,
                "summary": item.get("summary") if isinstance(item.get("summary"), str) else "",
                "summary_detail": {"type": "text/plain"},
                "authors": [a for a in authors if isinstance(a, dict)]
                if isinstance(authors, list)
                else [],
                "tags": [{"term": t} for t in item.get("tags") or [] if isinstance(t, str)]
                if isinstance(item.get("tags"), list)
                else [],
                "published_parsed": _rfc3339_struct(item.get("date_published")),
                "updated_parsed": _rfc3339_struct(item.get("date_modified")),
            }
        )
    title, home = data.get("title"), data.get("home_page_url")
    site = home if isinstance(home, str) and is_web_url(home) else ""
    return JsonFeed(title if isinstance(title, str) else "", site, entries)
