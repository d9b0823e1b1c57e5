"""Fetched bytes + headers → Articles. Pure functions; nothing here raises on bad input.

`parse_feed` runs feedparser (RSS 0.9x/1.0/2.0, Atom, CDF) or a small JSON Feed reader,
then normalizes each entry: canonical URL, dedupe id, plain-text title and body, UTC date.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import html
import json
import logging
import re
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser

from ingest.models import Article, Feed, FetchResult, ParseResult

log = logging.getLogger(__name__)

MIN_DATE = datetime(1990, 1, 1, tzinfo=UTC)
MAX_FUTURE = timedelta(days=2)
TITLE_FROM_TEXT_CHARS = 80
MAX_TAGS = 30

# ---------------------------------------------------------------- URLs

_TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id",
        "oly_enc_id", "vero_id", "ref", "ref_src", "ref_url", "__s", "s_cid", "cmpid",
        "ncid", "sr_share", "rss",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hmb_")
_TRACKING_VALUES = {  # params that are only tracking with these values
    "source": {"rss", "feed", "atom", "rss_feed", "feedburner", "twitter", "newsletter"},
    "from": {"rss", "feed", "atom"},
    "via": {"rss", "feed"},
    "output": {"rss"},
}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(key: str, value: str) -> bool:
    k = key.lower()
    if k in _TRACKING_PARAMS or k.startswith(_TRACKING_PREFIXES):
        return True
    return value.lower() in _TRACKING_VALUES.get(k, ())


def canonical_url(url: str, base: str | None = None) -> str:
    """The form of a link used for dedupe: absolute, scheme+host lower-cased, no fragment,
    no tracking parameters, no default port. Never raises (returns the stripped input)."""
    raw = (url or "").strip()
    try:
        if base:
            raw = urljoin(base, raw)
        parts = urlsplit(raw)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").rstrip(".")
        if not host:
            return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))
        port = parts.port
        netloc = f"[{host}]" if ":" in host else host
        if port is not None and port != _DEFAULT_PORTS.get(scheme):
            netloc = f"{netloc}:{port}"
        if parts.username or parts.password:
            netloc = f"{parts.netloc.rsplit('@', 1)[0]}@{netloc}"
        path = parts.path or ("/" if scheme in _DEFAULT_PORTS else "")
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            kept = [(k, v) for k, v in pairs if not _is_tracking(k, v)]
            if len(kept) != len(pairs):
                query = urlencode(kept, doseq=True)
        return urlunsplit((scheme, netloc, path, query, ""))
    except (ValueError, TypeError, UnicodeError):
        return raw


def _is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


# ---------------------------------------------------------------- ids


def _sha(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def article_id(
    url: str = "",
    guid: str = "",
    feed_name: str = "",
    title: str = "",
    published: datetime | None = None,
    *,
    prefer_guid: bool = False,
) -> str:
    """The dedupe key of an article.

    "u:" + sha1(canonical url) when there is a link, so the same article carried by two
    feeds gets one id; else "g:" + sha1(feed name + guid); else "h:" + sha1(title + date).
    `prefer_guid` skips the link (for entries of one feed that share a link but differ).
    """
    if url and not prefer_guid:
        return "u:" + _sha(canonical_url(url))
    if guid:
        return "g:" + _sha(f"{feed_name}\x00{guid}")
    stamp = published.isoformat() if published else ""
    return "h:" + _sha(f"{title}\x00{stamp}")


# ---------------------------------------------------------------- HTML → text

_SKIP_TAGS = frozenset(
    {"script", "style", "noscript", "iframe", "svg", "template", "head", "object", "canvas"}
)
_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
     "source", "track", "wbr"}
)  # fmt: skip
_PARA_TAGS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "figure",
     "section", "article", "header", "footer", "aside", "nav", "main", "address",
     "details", "summary", "hr", "dl", "fieldset", "form"}
)  # fmt: skip
_LINE_TAGS = frozenset(
    {"div", "br", "tr", "dt", "dd", "figcaption", "caption", "option", "legend", "center"}
)
_LIST_TAGS = frozenset({"ul", "ol", "menu", "dir"})
_CELL_TAGS = frozenset({"td", "th"})
_TAG_RE = re.compile(r"<[a-zA-Z!/?]")
_WS_RE = re.compile(r"[^\S\n]+")  # whitespace except newlines
_ANY_WS_RE = re.compile(r"\s+")
_BLANKS_RE = re.compile(r"\n{3,}")
_INVISIBLE_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_PRE_MARK = "\ue000"  # marks a line of <pre> text, whose spacing is kept
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.pending = 0  # newlines owed before the next text
        self.prefix = ""  # list marker owed before the next text
        self.skip = 0
        self.pre = 0
        self.lists: list[list[Any]] = []  # [tag, counter]
        self.row_has_text = False  # a cell of this table row produced text
        self.cell_sep = False  # " | " owed before the next text (a new cell started)

    def _break(self, n: int) -> None:
        if self.out:
            self.pending = max(self.pending, n)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            if tag not in _VOID_TAGS:
                self.skip += 1
            return
        if self.skip:
            return
        if tag in _LIST_TAGS:
            self._break(1 if self.lists else 2)
            self.lists.append([tag, 0])
        elif tag == "li":
            self._break(1)
            depth = max(len(self.lists), 1)
            marker = "- "
            if self.lists and self.lists[-1][0] == "ol":
                self.lists[-1][1] += 1
                marker = f"{self.lists[-1][1]}. "
            self.prefix = "  " * (depth - 1) + marker
        elif tag in _PARA_TAGS:
            self._break(1 if self.lists else 2)
            if tag == "pre":
                self.pre += 1
        elif tag in _LINE_TAGS:
            self._break(1)
            if tag == "tr":
                self.row_has_text = self.cell_sep = False
        elif tag in _CELL_TAGS:
            self.cell_sep = self.row_has_text

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip:
            return
        if tag in ("br", "hr", "p", "div"):
            self._break(2 if tag == "hr" else 1)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            if self.skip:
                self.skip -= 1
            return
        if self.skip:
            return
        if tag in _LIST_TAGS:
            if self.lists:
                self.lists.pop()
            self._break(1 if self.lists else 2)
        elif tag == "li":
            self._break(1)
        elif tag in _PARA_TAGS:
            if tag == "pre" and self.pre:
                self.pre -= 1
            self._break(1 if self.lists else 2)
        elif tag in _LINE_TAGS:
            self._break(1)

    def _text(self, text: str, pre: bool = False) -> None:
        starts_line = bool(self.pending or self.prefix or not self.out)
        if (starts_line or self.cell_sep) and not pre:
            text = text.lstrip(" ")
            if not text:
                return
        if self.cell_sep and not starts_line:
            text = " | " + text
        self.cell_sep = False
        self.row_has_text = True
        if self.pending:
            self.out.append("\n" * self.pending)
        if starts_line:
            self.out.append(self.prefix + (_PRE_MARK if pre else ""))
        self.pending = 0
        self.prefix = ""
        self.out.append(text)

    def handle_data(self, data: str) -> None:
        if self.skip or not data:
            return
        data = data.replace(_PRE_MARK, "")
        if self.pre:
            for i, line in enumerate(data.replace("\r\n", "\n").split("\n")):
                if i:
                    self._break(1)
                if line.strip():
                    self._text(line.replace("\t", "    ").rstrip("\r"), pre=True)
            return
        self._text(_ANY_WS_RE.sub(" ", data))

    def text(self) -> str:
        return "".join(self.out)


def _tidy(text: str) -> str:
    """Collapse whitespace inside lines (keeping indentation and <pre> lines as they are),
    keep at most one blank line."""
    text = _INVISIBLE_RE.sub("", _CONTROL_RE.sub("", text))
    lines = []
    for ln in text.split("\n"):
        body = ln.lstrip(" ")
        if body.startswith(_PRE_MARK):
            lines.append(ln.replace(_PRE_MARK, "", 1).rstrip())
        else:
            lines.append(" " * (len(ln) - len(body)) + _WS_RE.sub(" ", body).rstrip())
    return _BLANKS_RE.sub("\n\n", "\n".join(lines)).strip("\n").rstrip()


def _plain_to_text(text: str) -> str:
    """Plain (or Markdown-ish) text: keep its line structure, normalize the rest."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    return _tidy(text.replace(_PRE_MARK, "")).strip()


def html_to_text(markup: str) -> str:
    """HTML (or plain text) → readable plain text. Never raises.

    Drops script/style/noscript/iframe/svg content and all tags, decodes entities, turns
    block elements into paragraphs and list items into "- " / "1. " lines.
    """
    if not markup:
        return ""
    if not isinstance(markup, str):
        markup = str(markup)
    try:
        if not _TAG_RE.search(markup):
            return _plain_to_text(html.unescape(markup))
        parser = _TextExtractor()
        parser.feed(markup)
        parser.close()
        return _tidy(parser.text())
    except Exception:  # HTMLParser can raise (AssertionError) on odd <![ ... ]> sections
        try:
            stripped = re.sub(r"<[^>]*>", " ", markup)
            return _tidy(_ANY_WS_RE.sub(" ", html.unescape(stripped))).strip()
        except Exception:
            return ""


_SHARE_WORDS = (
    r"share|share this|share on|tweet|post|facebook|twitter|x|linkedin|reddit|email|e-mail|"
    r"print|copy link|whatsapp|pocket|mastodon|bluesky|threads|telegram|hacker news|pinterest"
)
_BOILERPLATE_LINE_RE = re.compile(
    r"(?:"
    # WordPress's RSS footer: "The post <title> appeared first on <site>."
    r"the post .{1,400} appeared first on .{1,200}"
    r"|comments|\[link\] \[comments\]|read more|continue reading.{0,200}"
    r"|read the (?:full|rest of the|original) (?:post|article|story).{0,200}"
    r"|your browser does not support (?:html5 |the )?video(?: tag)?"
    r"|skip to (?:main )?content|back to top|(?:previous|next|older|newer) (?:post|article|entry)"
    r"|(?:subscribe|sign up)(?: now)?(?: to (?:our|the|my) newsletter)?"
    # share/nav rows: only network names and separators ("Share: Twitter | LinkedIn | Email")
    rf"|(?:(?:{_SHARE_WORDS})\s*[:|•·,/\-]?\s*)+"
    r")[\s.:!…»→]*",
    re.IGNORECASE,
)
_READ_MORE_TAIL_RE = re.compile(r"(?:\.\.\.|…)?\s*(?:read more|continue reading)[\s.…»→]*$", re.I)


def strip_boilerplate(text: str) -> str:
    """Drop feed boilerplate lines (WordPress's "The post X appeared first on Y.", share and
    navigation rows, "Read more", "Comments") and a trailing "... Read more" on a line."""
    out: list[str] = []
    for line in text.split("\n"):
        body = line.strip()
        if body and _BOILERPLATE_LINE_RE.fullmatch(body):
            continue
        if body:
            line = _READ_MORE_TAIL_RE.sub("", line.rstrip()).rstrip() or ""
            if not line.strip():
                continue
        out.append(line)
    return _BLANKS_RE.sub("\n\n", "\n".join(out)).strip()


def _one_line(text: object, limit: int = 200) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


# ---------------------------------------------------------------- full text


_PROBE_PAGE = (
    "<html><body><article><h1>Probe</h1>"
    + "".join(f"<p>Probe paragraph {i} holds enough words to count as text.</p>" for i in range(8))
    + "</article></body></html>"
)


@functools.cache
def extraction_problem() -> str | None:
    """Why full-text extraction cannot work in this installation (one line), or None.

    Imports trafilatura and extracts a small page, so a missing optional dependency (jusText
    needs lxml.html.clean, shipped as lxml_html_clean) is found before any page is fetched."""
    try:
        import trafilatura

        text = trafilatura.extract(_PROBE_PAGE, favor_precision=True, output_format="txt")
    except Exception as e:
        return f"{type(e).__name__}: {_one_line(e, 160)}"
    if not text or "Probe paragraph" not in text:
        return "trafilatura returned no text for a test page"
    return None


def extract_full_text(html_bytes: bytes | str, url: str) -> str | None:
    """Main text of an article page via trafilatura (precision first, no comments).

    None when nothing useful was found or on any failure.
    """
    if not html_bytes:
        return None
    try:
        import trafilatura

        text = trafilatura.extract(
            html_bytes,
            url=url or None,
            favor_precision=True,
            include_comments=False,
            include_tables=True,
            include_images=False,
            deduplicate=True,
            output_format="txt",
        )
    except Exception as e:
        log.warning("full text of %s: extraction failed: %s", url, _one_line(e))
        return None
    if not text:
        return None
    text = _plain_to_text(text)
    return text or None


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
    return strip_boilerplate(_plain_to_text(value))


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
    if isinstance(guid, str) and _is_web_url(guid.strip()):  # only an absolute permalink
        candidates.append(guid)
    for candidate in candidates:
        url = canonical_url(candidate, base or None)
        if _is_web_url(url):
            return url
    return ""


def _shorten(text: str, limit: int = TITLE_FROM_TEXT_CHARS) -> str:
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0] or flat[:limit]
    return cut.rstrip(" ,.;:-") + "…"


# ---------------------------------------------------------------- JSON Feed


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


def _json_feed(body: bytes) -> tuple[str, list[dict[str, Any]], str] | None:
    """(title, entries shaped like feedparser's, home page) for a JSON Feed; else None."""
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
    return (
        title if isinstance(title, str) else "",
        entries,
        home if isinstance(home, str) else "",
    )


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
    return _one_line(html.unescape(m.group(1).decode("utf-8", "replace")), 80)


def _bozo_warning(exc: Any) -> str | None:
    """A one-line warning for feedparser's bozo exception; None for harmless ones."""
    name = type(exc).__name__
    if name in ("CharacterEncodingOverride", "NonXMLContentType"):
        return None  # e.g. text/xml without charset: parsed fine, nothing to act on
    return f"malformed feed, kept what parsed: {name}: {_one_line(exc, 160)}"


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
        return ParseResult(
            feed=feed.name, error=f"parse failed: {type(e).__name__}: {_one_line(e)}"
        )


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
    base = result.url if _is_web_url(result.url) else ""
    content_type = headers.get("content-type", "").lower()

    warnings: list[str] = []
    json_feed = None
    if body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
        json_feed = _json_feed(body)
    if json_feed is not None:
        title, entries, home = json_feed
        base = base or (home if _is_web_url(home) else "")
        version = "json"
    else:
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
            return ParseResult(feed=feed.name, error=f"feed parser failed: {_one_line(e)}")
        version = str(_get(parsed, "version", "") or "")
        entries = list(_get(parsed, "entries", []) or [])
        feed_info = _get(parsed, "feed", {})
        title = _get(feed_info, "title", "")
        title = " ".join(str(title).split()) if isinstance(title, str) else ""
        feed_link = _get(feed_info, "link", "")
        if not base and isinstance(feed_link, str) and _is_web_url(feed_link):
            base = feed_link
        if not version and not entries:
            page_title = _sniff_html(body, content_type)
            if page_title is not None:
                hint = f" ({page_title!r})" if page_title else ""
                return ParseResult(feed=feed.name, error=f"not a feed: got an HTML page{hint}")
            exc = _get(parsed, "bozo_exception")
            detail = f" ({type(exc).__name__}: {_one_line(exc, 120)})" if exc else ""
            return ParseResult(feed=feed.name, error=f"not a feed: no RSS/Atom structure{detail}")
        if _get(parsed, "bozo", False):
            warning = _bozo_warning(_get(parsed, "bozo_exception"))
            if warning:
                warnings.append(warning)
        if not version:
            warnings.append("unknown feed format; kept the entries that parsed")

    feed_author = _author_of(feed_info) if json_feed is None else ""
    articles, entry_warnings = _articles(feed, entries, base, now, feed_author)
    warnings.extend(entry_warnings)
    log.debug("feed=%s parsed %s: %d articles", feed.name, version, len(articles))
    return ParseResult(
        feed=feed.name, articles=tuple(articles), warnings=tuple(warnings), title=title
    )


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
            guid = _get(entry, "id", "")
            guid = guid.strip() if isinstance(guid, str) else str(guid)
            link = _link_of(entry, base)
            title = _title_of(entry)
            text = _text_of(entry)
            if not (link or title or text):
                continue  # nothing to show or cite (a bare guid is not an article)
            published = _published_of(entry, now)
            fields.append(
                {
                    "url": link,
                    "guid": guid,
                    "title": title or _shorten(text) or link,
                    "text": text,
                    "author": _author_of(entry) or feed_author,
                    "published": published,
                    "tags": _tags_of(entry, feed.tags),
                }
            )
        except Exception as e:  # one broken entry must not cost the feed
            broken += 1
            log.warning("feed=%s skipped a broken entry: %s", feed.name, _one_line(e))
    if broken:
        warnings.append(f"skipped {broken} broken entr{'y' if broken == 1 else 'ies'}")

    # Entries of one feed that share a link (or, without a link, a guid) but are different
    # items (every entry links to the home page, or even repeats its guid) keep ids of their
    # own - guid-based when their guid is unique there, else title+date-based - so none is lost.
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
    if duplicates:
        warnings.append(f"skipped {duplicates} duplicate entr{'y' if duplicates == 1 else 'ies'}")
    if shared:
        warnings.append(
            f"{len(shared)} link(s) shared by different entries; those use per-entry ids"
        )
    return articles, warnings
