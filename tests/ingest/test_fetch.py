"""ingest.fetch against a real HTTP server on 127.0.0.1 (tests/feedserver.py)."""

from __future__ import annotations

import asyncio
import gzip
import struct
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import SHARED
from feedserver import FeedServer, Reply, refused_port

from ingest.bodies import DECODE_PIECE, Decoder, format_bytes
from ingest.config import Settings
from ingest.fetch import fetch_all, fetch_feed, fetch_page, make_client, parse_retry_after
from ingest.models import Feed, FeedState, FetchResult
from ingest.parse import parse_feed

DATA = SHARED
FEEDS = DATA / "feeds"

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Test feed</title><link>https://example.org/</link>
<item><title>First &amp; best</title><link>https://example.org/a?utm_source=rss</link>
<guid>a-1</guid><pubDate>Mon, 02 Jun 2025 10:00:00 GMT</pubDate>
<description>&lt;p&gt;Hello &lt;b&gt;world&lt;/b&gt;&lt;/p&gt;</description></item>
<item><title>Second</title><link>https://example.org/b</link>
<pubDate>Tue, 03 Jun 2025 10:00:00 GMT</pubDate><description>Plain text.</description></item>
</channel></rss>"""

XML = {"Content-Type": "application/rss+xml"}


def settings(**overrides: object) -> Settings:
    base: dict[str, Any] = {
        "fetch_timeout": 2.0,
        "fetch_retries": 2,
        "fetch_backoff": 0.01,
        "fetch_concurrency": 4,
    }
    base.update(overrides)
    return Settings(_env_file=None, **base)  # type: ignore[call-arg]  # pydantic-settings


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(settings()) as c:
        yield c


async def fetch(
    client: httpx.AsyncClient, url: str, state: FeedState | None = None, **overrides: object
) -> FetchResult:
    return await fetch_feed(client, Feed(name="t", url=url), state, settings(**overrides))


# ------------------------------------------------------------------ success paths


async def test_200_returns_body_headers_and_validators(server, client) -> None:
    url = server.route(
        "/feed.xml",
        Reply(200, RSS, {"Content-Type": "application/rss+xml; charset=utf-8", "X-Foo": "Bar"}),
        etag='"v1"',
        last_modified="Mon, 02 Jun 2025 10:00:00 GMT",
    )
    result = await fetch(client, url)
    assert result.status == "ok", result.error
    assert result.body == RSS
    assert result.http_status == 200
    assert result.url == url
    assert result.etag == '"v1"'
    assert result.last_modified == "Mon, 02 Jun 2025 10:00:00 GMT"
    assert result.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert result.headers["x-foo"] == "Bar"  # keys lower-cased
    sent = server.requests_for("/feed.xml")[0].headers
    assert sent["user-agent"] == settings().user_agent
    assert "application/rss+xml" in sent["accept"]
    assert "if-none-match" not in sent and "if-modified-since" not in sent
    parsed = parse_feed(Feed(name="t", url=url), result)
    assert [a.title for a in parsed.articles] == ["First & best", "Second"]


async def test_304_with_etag(server, client) -> None:
    url = server.route("/feed.xml", Reply(200, RSS, XML), etag='"abc"')
    first = await fetch(client, url)
    assert first.status == "ok" and first.etag == '"abc"'
    state = FeedState(name="t", url=url, etag=first.etag, last_modified=first.last_modified)
    second = await fetch(client, url, state)
    assert second.status == "not_modified"
    assert second.http_status == 304
    assert second.etag == '"abc"'
    assert second.body == b""
    assert server.requests_for("/feed.xml")[1].headers["if-none-match"] == '"abc"'


async def test_304_with_last_modified_keeps_validators(server, client) -> None:
    lm = "Wed, 21 Oct 2025 07:28:00 GMT"
    url = server.route("/feed.xml", Reply(200, RSS, XML), last_modified=lm)
    state = FeedState(name="t", etag='"old-etag"', last_modified=lm)
    result = await fetch(client, url, state)
    assert result.status == "not_modified"
    assert result.last_modified == lm
    assert result.etag == '"old-etag"'  # not sent back by the server: the state's is kept
    sent = server.requests_for("/feed.xml")[0].headers
    assert sent["if-modified-since"] == lm
    assert sent["if-none-match"] == '"old-etag"'


async def test_changed_etag_gets_full_body(server, client) -> None:
    url = server.route("/feed.xml", Reply(200, RSS, XML), etag='"v2"')
    result = await fetch(client, url, FeedState(name="t", etag='"v1"'))
    assert result.status == "ok" and result.body == RSS and result.etag == '"v2"'


async def test_redirect_reports_final_url(server, client) -> None:
    final = server.serve("/new/feed.xml", RSS)
    server.redirect("/old", "/moved")
    server.redirect("/moved", final, status=308)
    result = await fetch(client, server.url("/old"))
    assert result.status == "ok"
    assert result.url == final
    assert result.body == RSS


async def test_redirect_loop_is_a_clear_error(server, client) -> None:
    server.redirect("/a", "/b")
    server.redirect("/b", "/a")
    result = await fetch(client, server.url("/a"))
    assert result.status == "error"
    assert result.error == "too many redirects (more than 5)"
    assert len(server.requests) == 6  # the first request + 5 redirects followed, no retries


async def test_gzip_body_is_decoded(server, client) -> None:
    url = server.route("/feed.xml", Reply(200, RSS, XML, gzip=True))
    result = await fetch(client, url)
    assert result.status == "ok"
    assert result.headers["content-encoding"] == "gzip"
    assert result.body == RSS
    assert "gzip" in server.requests[0].headers["accept-encoding"]
    assert len(parse_feed(Feed(name="t", url=url), result).articles) == 2


@pytest.mark.parametrize("ctype", ["text/plain", "application/octet-stream", "text/html", ""])
async def test_wrong_content_type_is_still_parsed(server, client, ctype: str) -> None:
    url = server.serve("/feed", RSS, content_type=ctype)
    result = await fetch(client, url)
    parsed = parse_feed(Feed(name="t", url=url), result)
    assert parsed.error is None
    assert len(parsed.articles) == 2


async def test_latin1_charset_from_header_is_honoured(server, client) -> None:
    body = (
        "<rss version='2.0'><channel><title>Caf\u00e9</title>"
        "<item><title>Na\u00efve r\u00e9sum\u00e9</title><link>http://x.org/1</link></item>"
        "</channel></rss>"
    ).encode("latin-1")
    url = server.serve("/latin1.xml", body, content_type="text/xml; charset=ISO-8859-1")
    result = await fetch(client, url)
    parsed = parse_feed(Feed(name="t", url=url), result)
    assert parsed.title == "Caf\u00e9"
    assert parsed.articles[0].title == "Na\u00efve r\u00e9sum\u00e9"


async def test_real_feed_file_over_http(server, client) -> None:
    if not FEEDS.is_dir():
        pytest.skip(f"shared data not found at {FEEDS}")
    body = (FEEDS / "publisher" / "openai_news.xml").read_bytes()
    url = server.route("/rss.xml", Reply(200, body, XML, gzip=True))
    result = await fetch(client, url)
    parsed = parse_feed(Feed(name="openai", url=url), result)
    assert parsed.error is None
    assert len(parsed.articles) == 599
    assert parsed.title == "OpenAI News"


# ------------------------------------------------------------------ errors and retries


async def test_404_is_not_retried(server, client) -> None:
    url = server.route("/gone", Reply(404, b"nope", {"Content-Type": "text/plain"}))
    result = await fetch(client, url)
    assert result.status == "error"
    assert result.error == "HTTP 404 Not Found"
    assert result.http_status == 404
    assert len(server.requests_for("/gone")) == 1


async def test_500_then_success_on_retry(server, client) -> None:
    url = server.route("/flaky", Reply(500), Reply(503), Reply(200, RSS, XML))
    result = await fetch(client, url)
    assert result.status == "ok", result.error
    assert result.body == RSS
    assert len(server.requests_for("/flaky")) == 3


async def test_persistent_5xx_gives_up_after_retries(server, client) -> None:
    url = server.route("/down", Reply(502))
    result = await fetch(client, url, fetch_retries=1)
    assert result.status == "error"
    assert result.error == "HTTP 502 Bad Gateway (after 2 attempts)"
    assert result.http_status == 502
    assert len(server.requests_for("/down")) == 2


async def test_backoff_grows_exponentially(server, client) -> None:
    url = server.route("/down", Reply(500))
    await fetch(client, url, fetch_retries=2, fetch_backoff=0.2)
    times = [r.at for r in server.requests_for("/down")]
    assert len(times) == 3
    first_gap, second_gap = times[1] - times[0], times[2] - times[1]
    assert 0.2 <= first_gap < 0.6
    assert 0.4 <= second_gap < 1.0


async def test_429_honours_retry_after(server, client) -> None:
    url = server.route(
        "/limited", Reply(429, b"slow down", {"Retry-After": "1"}), Reply(200, RSS, XML)
    )
    result = await fetch(client, url)
    assert result.status == "ok"
    times = [r.at for r in server.requests_for("/limited")]
    assert len(times) == 2
    assert times[1] - times[0] >= 0.95  # waited Retry-After, not the 0.01 s backoff


async def test_429_with_long_retry_after_is_not_retried(server, client) -> None:
    url = server.route("/limited", Reply(429, b"", {"Retry-After": "3600"}))
    result = await fetch(client, url)
    assert result.status == "error"
    assert result.error == "HTTP 429 Too Many Requests (server asks to retry after 3600 s)"
    assert len(server.requests_for("/limited")) == 1


async def test_timeout_is_a_clear_error_and_fast(server) -> None:
    url = server.route("/slow", Reply(200, RSS, XML, delay=5))
    s = settings(fetch_timeout=0.3, fetch_retries=1)
    started = time.monotonic()
    async with make_client(s) as c:
        result = await fetch_feed(c, Feed(name="t", url=url), None, s)
    assert result.status == "error"
    assert result.error == "timed out after 0.3 s (after 2 attempts)"
    assert time.monotonic() - started < 2.0
    assert len(server.requests_for("/slow")) == 2


async def test_trickling_body_hits_the_total_deadline(server) -> None:
    # Each chunk arrives within the read timeout, but the whole body never ends in time.
    url = server.route("/drip", Reply(200, headers=XML, stream_size=10_000_000, trickle=0.1))
    s = settings(fetch_timeout=0.3, fetch_retries=0)
    started = time.monotonic()
    async with make_client(s) as c:
        result = await fetch_feed(c, Feed(name="t", url=url), None, s)
    assert result.status == "error"
    assert result.error == "timed out: no complete response in 0.9 s"
    assert time.monotonic() - started < 3.0


async def test_connection_refused(client) -> None:
    url = f"http://127.0.0.1:{refused_port()}/feed.xml"
    result = await fetch(client, url, fetch_retries=1)
    assert result.status == "error"
    assert result.error is not None
    assert result.error.startswith("connection failed")
    assert result.error.endswith("(after 2 attempts)")
    assert "\n" not in result.error


async def test_oversized_streamed_body_stops_early(server) -> None:
    cap = 1_000_000
    url = server.route("/huge", Reply(200, headers=XML, stream_size=300_000_000))
    s = settings(max_feed_bytes=cap)
    tracemalloc.start()
    started = time.monotonic()
    try:
        async with make_client(s) as c:
            result = await fetch_feed(c, Feed(name="t", url=url), None, s)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.status == "error"
    assert result.error == "response larger than 1 MB cap"
    assert result.body == b""
    assert time.monotonic() - started < 5.0  # 300 MB were offered; we stopped at ~1 MB
    assert peak < 8 * cap, f"peak memory {peak} bytes"
    assert len(server.requests_for("/huge")) == 1  # not retried


async def test_oversized_declared_length_rejected_before_reading(server, client) -> None:
    body = b"<rss>" + b" " * 1_200_000 + b"</rss>"
    url = server.route("/big", Reply(200, body, XML))
    result = await fetch(client, url, max_feed_bytes=1_000_000)
    assert result.error == "response larger than 1 MB cap"


async def test_default_cap_message() -> None:
    assert format_bytes(settings().max_feed_bytes) == "10 MB"
    assert format_bytes(3_500_000) == "3.5 MB"


async def test_html_error_page_fetches_but_does_not_parse(server, client) -> None:
    page = b"<!doctype html><html><head><title>Too Many Requests</title></head><body>x</body>"
    url = server.serve("/r.xml", page, content_type="text/html; charset=utf-8")
    result = await fetch(client, url)
    assert result.status == "ok"
    parsed = parse_feed(Feed(name="t", url=url), result)
    assert parsed.error == "not a feed: got an HTML page ('Too Many Requests')"
    assert parsed.articles == ()


async def test_empty_body(server, client) -> None:
    url = server.serve("/empty.xml", b"")
    result = await fetch(client, url)
    assert result.status == "ok" and result.body == b""
    assert parse_feed(Feed(name="t", url=url), result).error == "empty response body"


async def test_bad_urls_never_raise(client) -> None:
    for url, expected in [
        ("http://[::1/feed", "invalid URL"),
        ("ftp://example.org/feed.xml", "unsupported URL scheme 'ftp'"),
        ("http://no-such-host.invalid/feed", "connection failed"),
    ]:
        result = await fetch(client, url, fetch_retries=0)
        assert result.status == "error", url
        assert result.error is not None and expected in result.error, result.error


# ------------------------------------------------------------------ files


async def test_file_url_and_plain_path(tmp_path: Path, client) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(RSS)
    for url in (path.as_uri(), str(path)):
        result = await fetch(client, url)
        assert result.status == "ok", result.error
        assert result.body == RSS
        assert result.etag is not None
        assert len(parse_feed(Feed(name="t", url=url), result).articles) == 2


async def test_file_not_modified_until_it_changes(tmp_path: Path, client) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(RSS)
    first = await fetch(client, str(path))
    state = FeedState(name="t", etag=first.etag, last_modified=first.last_modified)
    assert (await fetch(client, str(path), state)).status == "not_modified"
    path.write_bytes(RSS + b"\n")
    again = await fetch(client, str(path), state)
    assert again.status == "ok" and again.body.endswith(b"\n")


async def test_missing_and_oversized_files(tmp_path: Path, client) -> None:
    missing = await fetch(client, str(tmp_path / "nope.xml"))
    assert missing.status == "error"
    assert missing.error == f"file not found: {tmp_path / 'nope.xml'}"
    big = tmp_path / "big.xml"
    big.write_bytes(b"x" * 1_500_000)
    result = await fetch(client, big.as_uri(), max_feed_bytes=1_000_000)
    assert result.status == "error"
    assert result.error == "file larger than 1 MB cap (1.5 MB)"


# ------------------------------------------------------------------ fetch_all


async def test_fetch_all_bounds_concurrency_and_keeps_order(server) -> None:
    feeds = []
    for i in range(10):
        server.route(f"/f{i}.xml", Reply(200, RSS.replace(b"Test feed", b"F%d" % i), XML,
                                         delay=0.25))  # fmt: skip
        feeds.append(Feed(name=f"f{i}", url=server.url(f"/f{i}.xml")))
    s = settings(fetch_concurrency=3)
    started = time.monotonic()
    results = await fetch_all(feeds, {}, s)
    elapsed = time.monotonic() - started
    assert [r.feed for r in results] == [f.name for f in feeds]
    assert all(r.status == "ok" for r in results)
    assert all(b"F%d" % i in r.body for i, r in enumerate(results))
    assert server.max_in_flight == 3  # never more than N, and N were used
    assert elapsed >= 4 * 0.25 - 0.05  # ceil(10 / 3) rounds of 0.25 s


async def test_fetch_all_uses_states_and_mixes_failures(server) -> None:
    ok = server.route("/ok.xml", Reply(200, RSS, XML), etag='"e1"')
    bad = server.route("/bad.xml", Reply(404))
    feeds = [Feed(name="ok", url=ok), Feed(name="bad", url=bad)]
    states = {"ok": FeedState(name="ok", etag='"e1"')}
    results = await fetch_all(feeds, states, settings())
    assert [r.status for r in results] == ["not_modified", "error"]
    assert server.requests_for("/ok.xml")[0].headers["if-none-match"] == '"e1"'


async def test_fetch_all_can_be_cancelled(server) -> None:
    url = server.route("/slow", Reply(200, RSS, XML, delay=5))
    task = asyncio.create_task(fetch_all([Feed(name="s", url=url)], {}, settings()))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# ------------------------------------------------------------------ pages


async def test_fetch_page(server, client) -> None:
    page = b"<html><body><article><p>Hello</p></article></body></html>"
    ok = server.serve("/post", page, content_type="text/html; charset=utf-8")
    got = await fetch_page(client, ok, settings(), trusted_origins=[ok])
    assert got.ok and got.error is None and not got.blocked
    assert got.body == page
    assert got.headers["content-type"].startswith("text/html")
    assert "text/html" in server.requests_for("/post")[0].headers["accept"]


async def test_fetch_page_failures_return_none(server, client, caplog) -> None:
    missing = server.route("/missing", Reply(404))
    pdf = server.serve("/paper.pdf", b"%PDF-1.7", content_type="application/pdf")
    huge = server.route("/huge", Reply(200, headers={"Content-Type": "text/html"},
                                       stream_size=50_000_000))  # fmt: skip
    s = settings(max_page_bytes=100_000)
    here = [server.url("/")]  # the feed's origin: trusted, so loopback is allowed here
    pages = [
        await fetch_page(client, missing, s, trusted_origins=here),
        await fetch_page(client, pdf, s, trusted_origins=here),
        await fetch_page(client, huge, s, trusted_origins=here),
        await fetch_page(client, f"http://127.0.0.1:{refused_port()}/x", s),
        await fetch_page(client, "/etc/passwd", s),
    ]
    assert all(not p.ok and p.body == b"" for p in pages)
    assert [p.error for p in pages[:3]] == [
        "HTTP 404 Not Found",
        "not an HTML page (application/pdf)",
        "response larger than 100 kB cap",
    ]
    assert pages[3].blocked and "loopback" in (pages[3].error or "")  # untrusted origin
    assert pages[4].error == "not an http(s) URL; skipped"
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "HTTP 404" in messages and "larger than 100 kB cap" in messages


# ------------------------------------------------------------------ helpers


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = 1_700_000_000.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:14:20 GMT", now=now) == pytest.approx(60.0)
    assert parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now=now) == 0.0


# ------------------------------------------------------------------ content encodings


def _gzip_bomb(megabytes: int) -> bytes:
    """A valid single-member gzip body of `megabytes` MB of zeros (about 1 kB per MB).

    Built from one full-flushed 1 MB block repeated (after Z_FULL_FLUSH the compressor starts
    afresh, so every further block is byte-identical), with the real CRC-32 and size."""
    mb = bytes(1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    first = c.compress(mb) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(mb) + c.flush(zlib.Z_FULL_FLUSH)
    end = c.flush(zlib.Z_FINISH)[:-8]  # the last (empty) block, without the 3 MB trailer
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(mb, crc)
    trailer = struct.pack("<II", crc, (megabytes << 20) & 0xFFFFFFFF)
    return first + block * (megabytes - 1) + end + trailer


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return _gzip_bomb(1024)  # ~1.06 MB that inflates to 1 GiB


async def test_gzip_bomb_is_refused_with_small_peak_memory(server, bomb: bytes) -> None:
    assert len(bomb) < 1_100_000
    url = server.route(
        "/bomb.xml", Reply(200, bomb, {"Content-Type": "application/rss+xml",
                                       "Content-Encoding": "gzip"})
    )  # fmt: skip
    s = settings(max_feed_bytes=10_000_000)  # the default cap
    tracemalloc.start()
    started = time.monotonic()
    try:
        async with make_client(s) as c:
            result = await fetch_feed(c, Feed(name="t", url=url), None, s)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.status == "error"
    assert result.error == "response larger than 10 MB cap when decompressed"
    assert result.body == b""
    assert peak < 20_000_000, f"peak memory {peak} bytes"  # was ~180 MB decoded in 64 MB bursts
    assert time.monotonic() - started < 10.0
    assert len(server.requests_for("/bomb.xml")) == 1  # not retried


def test_decoder_inflates_in_bounded_pieces(bomb: bytes) -> None:
    decoder = Decoder("gzip")
    pieces = [len(p) for p in decoder.feed(bomb[:65536])]  # one network read: ~64 MB inside
    assert sum(pieces) > 50_000_000
    assert max(pieces) <= DECODE_PIECE


async def test_multi_member_gzip_and_both_deflates_are_decoded(server, client) -> None:
    half = len(RSS) // 2
    members = gzip.compress(RSS[:half]) + gzip.compress(RSS[half:])
    zlib_wrapped = zlib.compress(RSS)
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    raw_deflate = raw.compress(RSS) + raw.flush()
    for path, body, encoding in (
        ("/members", members, "gzip"),
        ("/zlib", zlib_wrapped, "deflate"),
        ("/raw", raw_deflate, "deflate"),
        ("/trailing", gzip.compress(RSS) + b"\0\0junk", "gzip"),
    ):
        url = server.route(path, Reply(200, body, {**XML, "Content-Encoding": encoding}))
        result = await fetch(client, url)
        assert result.status == "ok", (path, result.error)
        assert result.body == RSS, path


async def test_corrupt_or_unknown_encoding_is_a_clear_error(server, client) -> None:
    packed = gzip.compress(RSS)
    for path, body, why in (
        ("/corrupt", packed[:10] + b"\x07" + packed[11:], "invalid block type"),  # BTYPE=11
        ("/truncated", packed[: len(packed) // 2], "truncated"),
    ):
        bad = server.route(path, Reply(200, body, {**XML, "Content-Encoding": "gzip"}))
        result = await fetch(client, bad)
        assert result.status == "error" and result.error is not None
        assert result.error.startswith("could not decode the response body: gzip body is corrupt")
        assert why in result.error and "\n" not in result.error
        assert len(server.requests_for(path)) == 1  # not retried
    br = server.route("/br", Reply(200, b"\x1b\x00", {**XML, "Content-Encoding": "br"}))
    result = await fetch(client, br)
    assert result.error == "could not decode the response body: unsupported Content-Encoding 'br'"
    assert server.requests_for("/br")[0].headers["accept-encoding"] == "gzip, deflate"
