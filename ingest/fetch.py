"""HTTP (and file) fetching of feeds and article pages: conditional GET, size caps, retries.

Nothing here raises for a failed fetch: every failure becomes a FetchResult with
status "error" and a one-line `error`, so one bad feed never stops an ingest run.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import logging
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from ingest.bodies import ACCEPT_ENCODING, Oversize, format_bytes, oversize_message, read_capped
from ingest.config import Settings
from ingest.feeds import url_kind
from ingest.models import Feed, FeedState, FetchResult
from ingest.netpolicy import BlockedURL, make_transport, trusted
from ingest.text import one_line

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


class _Failed(Exception):
    """A failed attempt. `retryable`: another attempt may succeed; `delay` (a Retry-After)
    replaces the backoff when longer."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        http_status: int | None = None,
        delay: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.http_status = http_status
        self.delay = delay


def _status_line(code: int, reason: str = "") -> str:
    if not reason:
        try:
            reason = HTTPStatus(code).phrase
        except ValueError:
            reason = ""
    return f"HTTP {code} {one_line(reason, 80)}".strip()


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


async def _attempt(
    client: httpx.AsyncClient,
    feed_name: str,
    url: str,
    request_headers: dict[str, str],
    state: FeedState | None,
    settings: Settings,
    extensions: dict[str, object],
) -> FetchResult:
    """One GET within the total deadline. Returns a final result, or raises _Failed."""
    deadline = settings.fetch_timeout * TOTAL_DEADLINE_FACTOR
    try:
        async with (
            asyncio.timeout(deadline),
            client.stream("GET", url, headers=request_headers, extensions=extensions) as resp,
        ):
            return await _response(resp, feed_name, state, settings)
    except _Failed:
        raise
    except TimeoutError:  # the total deadline of one attempt (asyncio.timeout)
        raise _Failed(f"timed out: no complete response in {deadline:g} s") from None
    except Exception as e:
        message, retryable = _describe(e, settings.fetch_timeout)
        raise _Failed(message, retryable=retryable) from None


async def _response(
    resp: httpx.Response, feed_name: str, state: FeedState | None, settings: Settings
) -> FetchResult:
    """The result of a response: not modified, a body, or an error (5xx and 429: _Failed)."""
    headers = _lower_headers(resp.headers)
    code = resp.status_code
    etag, last_modified = headers.get("etag"), headers.get("last-modified")
    meta: dict[str, Any] = {"headers": headers, "url": str(resp.url), "http_status": code}
    if code == 304:
        return FetchResult(
            feed_name,
            "not_modified",
            etag=etag or (state.etag if state else None),
            last_modified=last_modified or (state.last_modified if state else None),
            **meta,
        )
    status_line = _status_line(code, resp.reason_phrase)
    if code == 429 or code >= 500:
        wait = parse_retry_after(headers.get("retry-after"))
        if wait is not None and wait > RETRY_AFTER_CAP:
            error = f"{status_line} (server asks to retry after {wait:.0f} s)"
            return FetchResult(feed_name, "error", error=error, **meta)
        raise _Failed(status_line, http_status=code, delay=wait)
    if code >= 300:  # 4xx other than 429; 3xx that were not followed
        hint = " (redirect without a usable Location)" if code < 400 else ""
        return FetchResult(feed_name, "error", error=status_line + hint, **meta)
    try:
        body = await read_capped(resp, settings.max_feed_bytes)
    except Oversize as e:
        error = oversize_message(settings.max_feed_bytes, e)
        return FetchResult(feed_name, "error", error=error, **meta)
    return FetchResult(feed_name, "ok", body=body, etag=etag, last_modified=last_modified, **meta)


def _describe(exc: BaseException, timeout: float) -> tuple[str, bool]:
    """(one-line message, retryable) for an exception raised by httpx (or the policy)."""
    if isinstance(exc, BlockedURL):
        return one_line(exc, 400), False
    if isinstance(exc, httpx.ConnectTimeout):
        return f"timed out connecting (after {timeout:g} s)", True
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"timed out after {timeout:g} s", True
    if isinstance(exc, httpx.TooManyRedirects):
        return f"too many redirects (more than {MAX_REDIRECTS})", False
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"unsupported URL: {one_line(exc)}", False
    if isinstance(exc, httpx.InvalidURL | httpx.LocalProtocolError):
        return f"invalid URL or request: {one_line(exc)}", False
    if isinstance(exc, httpx.DecodingError):
        return f"could not decode the response body: {one_line(exc)}", False
    if isinstance(exc, httpx.ConnectError):
        detail = one_line(exc) or type(exc).__name__
        return f"connection failed: {detail}", True
    if isinstance(exc, httpx.TransportError):  # ReadError, RemoteProtocolError, ...
        detail = one_line(exc) or "connection closed"
        return f"network error: {detail}", True
    return f"unexpected error: {type(exc).__name__}: {one_line(exc)}", False


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
            error=f"unexpected error: {type(e).__name__}: {one_line(e)}",
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
    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        retry=retry_if_exception(lambda e: isinstance(e, _Failed) and e.retryable),
        wait=functools.partial(_retry_wait, settings),
        before_sleep=functools.partial(_log_retry, feed.name, attempts),
        reraise=True,
    )
    try:
        result: FetchResult = await retrying(
            _attempt, client, feed.name, feed.url, request_headers, state, settings, extensions
        )
    except _Failed as e:
        error = str(e)
        if e.retryable and attempts > 1:  # every attempt was used
            error = f"{error} (after {attempts} attempts)"
        log.warning("feed=%s fetch failed: %s", feed.name, error)
        return FetchResult(feed.name, "error", url=feed.url, error=error, http_status=e.http_status)
    if result.status == "error":
        log.warning("feed=%s fetch failed: %s", feed.name, result.error)
    return result


def _retry_wait(settings: Settings, retry: RetryCallState) -> float:
    """The backoff before the next attempt, or longer when the server asked (Retry-After)."""
    wait = backoff_delay(settings, retry.attempt_number - 1)
    failure = retry.outcome.exception() if retry.outcome else None
    if isinstance(failure, _Failed) and failure.delay is not None:
        wait = max(wait, min(failure.delay, RETRY_AFTER_CAP))
    return wait


def _log_retry(feed_name: str, attempts: int, retry: RetryCallState) -> None:
    failure = retry.outcome.exception() if retry.outcome else None
    wait = retry.next_action.sleep if retry.next_action else 0.0
    log.info(
        "feed=%s attempt %d/%d failed (%s); retrying in %.2f s",
        *(feed_name, retry.attempt_number, attempts, failure, wait),
    )


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
            trust = trust_origins and feed.operator_trusted
            result = await fetch_feed(c, feed, states.get(feed.name), settings, trust_origin=trust)
            took = time.monotonic() - started
            log.info(
                "feed=%s fetched status=%s http=%s bytes=%d in %.2f s",
                *(feed.name, result.status, result.http_status, len(result.body), took),
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
                    body = await read_capped(resp, settings.max_page_bytes)
                except Oversize as e:
                    return fail(oversize_message(settings.max_page_bytes, e))
                headers["x-final-url"] = str(resp.url)
                return Page(url, body=body, headers=headers)
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        return fail(f"timed out after {settings.fetch_timeout * TOTAL_DEADLINE_FACTOR:g} s")
    except Exception as e:
        message, _ = _describe(e, settings.fetch_timeout)
        return fail(message, blocked=isinstance(e, BlockedURL))
