"""HTTP (and file) fetching of feeds and article pages: conditional GET, size caps, retries.

Nothing here raises for a failed fetch: every failure becomes a FetchResult with
status "error" and a one-line `error`, so one bad feed never stops an ingest run.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC
from http import HTTPStatus
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import httpx

from ingest.config import Settings
from ingest.feeds import url_kind
from ingest.models import Feed, FeedState, FetchResult
from ingest.netpolicy import BlockedURL, make_transport, trusted

log = logging.getLogger(__name__)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
MAX_REDIRECTS = 5
RETRY_AFTER_CAP = 60.0  # seconds; a server asking for longer is not retried in this run
JITTER = 0.1  # fraction of the backoff added at random
TOTAL_DEADLINE_FACTOR = 3  # one attempt may take at most 3 x fetch_timeout in total
# We decode bodies ourselves, piece by piece, so only encodings we can decode incrementally.
ACCEPT_ENCODING = "gzip, deflate"
DECODE_PIECE = 64 * 1024  # at most this many decompressed bytes per decompress() call


class _Oversize(Exception):
    def __init__(self, decoded: bool = False) -> None:
        super().__init__()
        self.decoded = decoded


class _Retryable(Exception):
    """A failure worth another attempt; `delay` overrides the backoff when set (Retry-After)."""

    def __init__(self, message: str, http_status: int | None = None, delay: float | None = None):
        super().__init__(message)
        self.http_status = http_status
        self.delay = delay


def format_bytes(n: int) -> str:
    """10_000_000 -> '10 MB', 3_500_000 -> '3.5 MB', 2048 -> '2 kB'."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.3g} MB"
    if n >= 1000:
        return f"{n / 1000:.3g} kB"
    return f"{n} bytes"


def _one_line(text: object, limit: int = 200) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _status_line(code: int, reason: str = "") -> str:
    if not reason:
        try:
            reason = HTTPStatus(code).phrase
        except ValueError:
            reason = ""
    return f"HTTP {code} {_one_line(reason, 80)}".strip()


def _lower_headers(headers: httpx.Headers) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in headers.multi_items():
        k = key.lower()
        out[k] = f"{out[k]}, {value}" if k in out else value
    return out


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def backoff_delay(settings: Settings, attempt: int) -> float:
    """settings.fetch_backoff * 2**attempt plus up to 10% jitter."""
    base = settings.fetch_backoff * (2**attempt)
    return base + random.uniform(0, base * JITTER)


def make_client(settings: Settings, *, accept: str = FEED_ACCEPT) -> httpx.AsyncClient:
    """The one shared client of an ingest run: redirects (max 5), timeouts, User-Agent, and the
    outbound-HTTP policy (ingest.netpolicy) on every request and every redirect hop."""
    limits = httpx.Limits(
        max_connections=max(settings.fetch_concurrency * 2, 10),
        max_keepalive_connections=settings.fetch_concurrency,
    )
    return httpx.AsyncClient(
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        timeout=httpx.Timeout(settings.fetch_timeout),
        headers={
            "User-Agent": settings.user_agent,
            "Accept": accept,
            "Accept-Encoding": ACCEPT_ENCODING,
        },
        transport=make_transport(settings, limits=limits),
    )


# ---------------------------------------------------------------- files


def _file_path(url: str) -> Path:
    if "://" in url:
        parts = urlsplit(url)
        host = parts.netloc
        path = url2pathname(unquote(parts.path))
        if host and host != "localhost":
            path = f"//{host}{path}"  # UNC-style; will most likely not exist
        return Path(path)
    return Path(url).expanduser()


def _read_file(feed_name: str, url: str, state: FeedState | None, cap: int) -> FetchResult:
    path = _file_path(url)
    try:
        st = path.stat()
        if not path.is_file():
            return FetchResult(feed_name, "error", url=url, error=f"not a file: {path}")
        # A file's validator: size + mtime in ns, so an edit within the same second still counts.
        etag = f'W/"file-{st.st_size}-{st.st_mtime_ns}"'
        last_modified = email.utils.formatdate(st.st_mtime, usegmt=True)
        if state is not None and state.etag == etag:
            return FetchResult(
                feed_name, "not_modified", url=url, etag=etag, last_modified=last_modified
            )
        if st.st_size > cap:
            return FetchResult(
                feed_name,
                "error",
                url=url,
                error=f"file larger than {format_bytes(cap)} cap ({format_bytes(st.st_size)})",
            )
        with path.open("rb") as f:
            body = f.read(cap + 1)
    except FileNotFoundError:
        return FetchResult(feed_name, "error", url=url, error=f"file not found: {path}")
    except PermissionError:
        return FetchResult(feed_name, "error", url=url, error=f"permission denied: {path}")
    except OSError as e:
        msg = f"cannot read {path}: {e.strerror or e}"
        return FetchResult(feed_name, "error", url=url, error=msg)
    if len(body) > cap:  # grew while we read it
        return FetchResult(
            feed_name, "error", url=url, error=f"file larger than {format_bytes(cap)} cap"
        )
    return FetchResult(feed_name, "ok", body=body, url=url, etag=etag, last_modified=last_modified)


# ---------------------------------------------------------------- HTTP


class _Decoder:
    """Incremental Content-Encoding decoding that never inflates more than DECODE_PIECE bytes
    at once (a gzip bomb is stopped after `cap` bytes, not after a 64 MB burst)."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._gzip = encoding in ("gzip", "x-gzip")
        self._raw_deflate = False
        self._started = False
        self._done = False  # gzip: the last member ended and what follows is not gzip
        self._d = self._new()

    def _new(self) -> zlib._Decompress:
        if self._gzip:
            return zlib.decompressobj(zlib.MAX_WBITS | 16)
        return zlib.decompressobj(-zlib.MAX_WBITS if self._raw_deflate else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data and not self._done:
            if not self._started and not self._gzip:
                self._started = True
                try:  # "deflate" is zlib-wrapped by the RFC, raw by some servers
                    out = self._d.decompress(data, DECODE_PIECE)
                except zlib.error:
                    self._raw_deflate = True
                    self._d = self._new()
                    out = self._d.decompress(data, DECODE_PIECE)
            else:
                out = self._d.decompress(data, DECODE_PIECE)
            yield out
            while len(out) == DECODE_PIECE or self._d.unconsumed_tail:
                out = self._d.decompress(self._d.unconsumed_tail, DECODE_PIECE)
                yield out
            data = b""
            if self._gzip and self._d.eof:  # concatenated gzip members are one body
                rest = self._d.unused_data
                if rest[:2] == b"\x1f\x8b":
                    self._d = self._new()
                    data = rest
                elif rest:
                    self._done = True  # trailing garbage is ignored, like browsers do

    def flush(self) -> bytes:
        if self._done:
            return b""
        tail = self._d.flush()
        if not self._d.eof:
            raise zlib.error("the body ends before the compressed stream does (truncated)")
        return tail


async def _read_capped(response: httpx.Response, cap: int) -> bytes:
    """The decoded body, or _Oversize as soon as more than `cap` bytes (compressed or
    decompressed) have arrived. Decoding is incremental: memory stays near `cap`."""
    declared = response.headers.get("content-length")
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        encoding = ""
    if declared and declared.isdigit() and int(declared) > cap and not encoding:
        raise _Oversize
    decoder: _Decoder | None = None
    if encoding:
        if encoding not in ("gzip", "x-gzip", "deflate"):
            raise httpx.DecodingError(f"unsupported Content-Encoding {encoding[:40]!r}")
        decoder = _Decoder(encoding)
    body = bytearray()
    raw_size = 0
    try:
        async for chunk in response.aiter_raw():
            raw_size += len(chunk)
            if raw_size > cap:
                raise _Oversize
            pieces = decoder.feed(chunk) if decoder is not None else (chunk,)
            for piece in pieces:
                if len(body) + len(piece) > cap:
                    raise _Oversize(decoded=decoder is not None)
                body += piece
        if decoder is not None:
            tail = decoder.flush()
            if len(body) + len(tail) > cap:
                raise _Oversize(decoded=True)
            body += tail
    except zlib.error as e:
        raise httpx.DecodingError(f"{encoding} body is corrupt: {e}") from None
    return bytes(body)


def _oversize_message(cap: int, e: _Oversize) -> str:
    return f"response larger than {format_bytes(cap)} cap" + (
        " when decompressed" if e.decoded else ""
    )


async def _attempt(
    client: httpx.AsyncClient,
    feed_name: str,
    url: str,
    request_headers: dict[str, str],
    state: FeedState | None,
    settings: Settings,
    extensions: dict[str, object],
) -> FetchResult:
    """One GET. Returns a final result, or raises _Retryable."""
    async with client.stream("GET", url, headers=request_headers, extensions=extensions) as resp:
        headers = _lower_headers(resp.headers)
        final_url = str(resp.url)
        code = resp.status_code
        etag = headers.get("etag")
        last_modified = headers.get("last-modified")
        if code == 304:
            return FetchResult(
                feed_name,
                "not_modified",
                headers=headers,
                url=final_url,
                etag=etag or (state.etag if state else None),
                last_modified=last_modified or (state.last_modified if state else None),
                http_status=code,
            )
        status_line = _status_line(code, resp.reason_phrase)
        if code == 429 or code >= 500:
            wait = parse_retry_after(headers.get("retry-after"))
            if wait is not None and wait > RETRY_AFTER_CAP:
                return FetchResult(
                    feed_name,
                    "error",
                    headers=headers,
                    url=final_url,
                    http_status=code,
                    error=f"{status_line} (server asks to retry after {wait:.0f} s)",
                )
            raise _Retryable(status_line, http_status=code, delay=wait)
        if code >= 300:  # 4xx other than 429; 3xx that were not followed
            hint = ""
            if 300 <= code < 400:
                hint = " (redirect without a usable Location)"
            return FetchResult(
                feed_name,
                "error",
                headers=headers,
                url=final_url,
                http_status=code,
                error=status_line + hint,
            )
        try:
            body = await _read_capped(resp, settings.max_feed_bytes)
        except _Oversize as e:
            return FetchResult(
                feed_name,
                "error",
                headers=headers,
                url=final_url,
                http_status=code,
                error=_oversize_message(settings.max_feed_bytes, e),
            )
        return FetchResult(
            feed_name,
            "ok",
            body=body,
            headers=headers,
            url=final_url,
            etag=etag,
            last_modified=last_modified,
            http_status=code,
        )


def _describe(exc: BaseException, timeout: float) -> tuple[str, bool]:
    """(one-line message, retryable) for an exception raised by httpx (or the policy)."""
    if isinstance(exc, BlockedURL):
        return _one_line(exc, 400), False
    if isinstance(exc, httpx.ConnectTimeout):
        return f"timed out connecting (after {timeout:g} s)", True
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"timed out after {timeout:g} s", True
    if isinstance(exc, httpx.TooManyRedirects):
        return f"too many redirects (more than {MAX_REDIRECTS})", False
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"unsupported URL: {_one_line(exc)}", False
    if isinstance(exc, httpx.InvalidURL | httpx.LocalProtocolError):
        return f"invalid URL or request: {_one_line(exc)}", False
    if isinstance(exc, httpx.DecodingError):
        return f"could not decode the response body: {_one_line(exc)}", False
    if isinstance(exc, httpx.ConnectError):
        detail = _one_line(exc) or type(exc).__name__
        return f"connection failed: {detail}", True
    if isinstance(exc, httpx.TransportError):  # ReadError, RemoteProtocolError, ...
        detail = _one_line(exc) or "connection closed"
        return f"network error: {detail}", True
    return f"unexpected error: {type(exc).__name__}: {_one_line(exc)}", False


async def fetch_feed(
    client: httpx.AsyncClient,
    feed: Feed,
    state: FeedState | None,
    settings: Settings,
    *,
    trust_origin: bool = True,
) -> FetchResult:
    """Fetch one feed (HTTP with conditional GET and retries, or a local file). Never raises.

    With `trust_origin` (a feed the operator wrote in feeds.toml) the feed's own origin may be
    a private address; a URL from anyone else (a Discord user) gets the public-only check."""
    try:
        return await _fetch_feed(client, feed, state, settings, trust_origin)
    except asyncio.CancelledError:
        raise
    except Exception as e:  # a bug of ours must not stop the run either
        log.exception("feed=%s unexpected fetch failure", feed.name)
        return FetchResult(
            feed.name,
            "error",
            url=feed.url,
            error=f"unexpected error: {type(e).__name__}: {_one_line(e)}",
        )


async def _fetch_feed(
    client: httpx.AsyncClient,
    feed: Feed,
    state: FeedState | None,
    settings: Settings,
    trust_origin: bool,
) -> FetchResult:
    kind = url_kind(feed.url)
    if kind == "file":
        return await asyncio.to_thread(
            _read_file, feed.name, feed.url, state, settings.max_feed_bytes
        )
    if kind != "http":
        return FetchResult(
            feed.name, "error", url=feed.url, error=f"unsupported URL scheme {kind!r}"
        )
    request_headers: dict[str, str] = {}
    if state is not None and state.etag:
        request_headers["If-None-Match"] = state.etag
    if state is not None and state.last_modified:
        request_headers["If-Modified-Since"] = state.last_modified

    extensions: dict[str, object] = dict(trusted(feed.url) if trust_origin else trusted())
    attempts = settings.fetch_retries + 1
    deadline = settings.fetch_timeout * TOTAL_DEADLINE_FACTOR
    last_error = "no attempt made"
    last_status: int | None = None
    for attempt in range(attempts):
        delay: float | None = None
        try:
            async with asyncio.timeout(deadline):
                result = await _attempt(
                    client, feed.name, feed.url, request_headers, state, settings, extensions
                )
            if result.status == "error":
                log.warning("feed=%s fetch failed: %s", feed.name, result.error)
            return result
        except _Retryable as e:
            last_error, last_status, delay = str(e), e.http_status, e.delay
        except TimeoutError:  # the total deadline of one attempt (asyncio.timeout)
            last_error, last_status = f"timed out: no complete response in {deadline:g} s", None
        except Exception as e:
            message, retryable = _describe(e, settings.fetch_timeout)
            last_error, last_status = message, None
            if not retryable:
                break
        if attempt + 1 < attempts:
            wait = backoff_delay(settings, attempt)
            if delay is not None:
                wait = max(wait, min(delay, RETRY_AFTER_CAP))
            log.info(
                "feed=%s attempt %d/%d failed (%s); retrying in %.2f s",
                feed.name,
                attempt + 1,
                attempts,
                last_error,
                wait,
            )
            await asyncio.sleep(wait)
    if attempts > 1 and attempt + 1 == attempts:
        last_error = f"{last_error} (after {attempts} attempts)"
    log.warning("feed=%s fetch failed: %s", feed.name, last_error)
    return FetchResult(feed.name, "error", url=feed.url, error=last_error, http_status=last_status)


async def fetch_all(
    feeds: Iterable[Feed],
    states: dict[str, FeedState],
    settings: Settings,
    *,
    client: httpx.AsyncClient | None = None,
    trust_origins: bool = True,
) -> list[FetchResult]:
    """Fetch every given feed with at most settings.fetch_concurrency in flight.

    Results are in the order of `feeds`. One client is shared (pass your own to reuse it).
    `trust_origins=False` for URLs that did not come from the operator's feeds file.
    """
    feed_list = list(feeds)
    semaphore = asyncio.Semaphore(settings.fetch_concurrency)

    async def one(c: httpx.AsyncClient, feed: Feed) -> FetchResult:
        async with semaphore:
            started = time.monotonic()
            result = await fetch_feed(
                c,
                feed,
                states.get(feed.name),
                settings,
                trust_origin=trust_origins and feed.operator_trusted,
            )
            log.info(
                "feed=%s fetched status=%s http=%s bytes=%d in %.2f s",
                feed.name,
                result.status,
                result.http_status,
                len(result.body),
                time.monotonic() - started,
            )
            return result

    if client is not None:
        return list(await asyncio.gather(*(one(client, f) for f in feed_list)))
    async with make_client(settings) as own:
        return list(await asyncio.gather(*(one(own, f) for f in feed_list)))


@dataclass(frozen=True)
class Page:
    """An article page: `body` and `headers` when fetched, else a one-line `error`."""

    url: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    blocked: bool = False  # refused by the outbound-HTTP policy (ingest.netpolicy)

    @property
    def ok(self) -> bool:
        return self.error is None


async def fetch_page(
    client: httpx.AsyncClient, url: str, settings: Settings, *, trusted_origins: Iterable[str] = ()
) -> Page:
    """GET an article page for full-text extraction (cap: max_page_bytes). Never raises.

    Pages come from feed content: only public addresses, except on `trusted_origins` (the
    origin of the operator's feed URL, which may be an intranet host)."""

    def fail(message: str, blocked: bool = False) -> Page:
        if blocked:  # the message names the refused URL (maybe a redirect hop)
            log.warning("page %s", message)
        else:
            log.warning("page %s: %s", url, message)
        return Page(url, error=message, blocked=blocked)

    if url_kind(url) != "http":
        return fail("not an http(s) URL; skipped")
    try:
        async with asyncio.timeout(settings.fetch_timeout * TOTAL_DEADLINE_FACTOR):
            async with client.stream(
                "GET",
                url,
                headers={"Accept": PAGE_ACCEPT},
                extensions=dict(trusted(*trusted_origins)),
            ) as resp:
                headers = _lower_headers(resp.headers)
                if resp.status_code >= 300:
                    return fail(_status_line(resp.status_code, resp.reason_phrase))
                ctype = headers.get("content-type", "").split(";")[0].strip().lower()
                if ctype and not (
                    ctype.startswith("text/") or "html" in ctype or ctype.endswith("xml")
                ):
                    return fail(f"not an HTML page ({ctype})")
                try:
                    body = await _read_capped(resp, settings.max_page_bytes)
                except _Oversize as e:
                    return fail(_oversize_message(settings.max_page_bytes, e))
                headers["x-final-url"] = str(resp.url)
                return Page(url, body=body, headers=headers)
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        return fail(f"timed out after {settings.fetch_timeout * TOTAL_DEADLINE_FACTOR:g} s")
    except Exception as e:
        message, _ = _describe(e, settings.fetch_timeout)
        return fail(message, blocked=isinstance(e, BlockedURL))
