"""The outbound-HTTP policy (ingest/netpolicy.py): address spellings, the rules, and SSRF through
feed content against real local servers (a full_text feed whose items link to another service)."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import REPO, make_settings
from feedserver import FeedServer, Reply
from hypothesis import given
from hypothesis import strategies as st

from ingest.config import Settings
from ingest.embed import Embedder
from ingest.fetch import make_client
from ingest.models import Feed
from ingest.netpolicy import (
    BlockedURL,
    PolicyTransport,
    check_url,
    embedded_ipv4,
    origin_of,
    parse_ip_literal,
    refusal,
    trusted,
)
from ingest.pipeline import check_feed, ingest_feeds, run_ingest
from ingest.store import Corpus

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address


# ---------------------------------------------------------------------------- spellings
@pytest.mark.parametrize(
    "spelling",
    [
        "127.0.0.1",
        "2130706433",
        "0x7f000001",
        "0X7F000001",
        "127.1",
        "127.0.1",
        "0177.0.0.1",
        "017700000001",
        "0x7f.1",
        "0x7f.0.0.0x1",
        "127.0.0.1.",
    ],
)
def test_ipv4_spellings_of_loopback(spelling: str) -> None:
    assert parse_ip_literal(spelling) == V4("127.0.0.1")
    assert socket.inet_aton(spelling.rstrip(".")) == bytes([127, 0, 0, 1])  # the C library agrees
    assert refusal(parse_ip_literal(spelling), allow_private=False) == "loopback"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "spelling",
    ["example.com", "127.0.0.1.example", "1.2.3.4.5", "256.0.0.1", "08.0.0.1", "0x", "1..1", ""],
)
def test_dns_names_and_non_addresses_are_not_literals(spelling: str) -> None:
    if spelling == "0x":
        assert parse_ip_literal(spelling) == V4(0)  # inet_aton reads "0x" as 0
        return
    assert parse_ip_literal(spelling) is None


@pytest.mark.parametrize(
    ("spelling", "inner"),
    [
        ("[::ffff:127.0.0.1]", "127.0.0.1"),  # IPv4-mapped
        ("::ffff:7f00:1", "127.0.0.1"),  # mapped, hex
        ("::ffff:0:10.0.0.1", "10.0.0.1"),  # IPv4-translated (SIIT)
        ("::127.0.0.1", "127.0.0.1"),  # IPv4-compatible (deprecated)
        ("2002:7f00:1::", "127.0.0.1"),  # 6to4
        ("2002:a9fe:a9fe::1", "169.254.169.254"),  # 6to4 of the metadata address
        ("64:ff9b::7f00:1", "127.0.0.1"),  # NAT64
        ("64:ff9b::192.168.1.1", "192.168.1.1"),
        ("[fe80::1%25eth0]", None),
    ],
)
def test_ipv6_forms_carrying_ipv4_are_judged_by_it(spelling: str, inner: str | None) -> None:
    ip = parse_ip_literal(spelling.replace("%25", "%"))
    assert isinstance(ip, V6)
    assert embedded_ipv4(ip) == (V4(inner) if inner else None)
    assert refusal(ip, allow_private=False) is not None


@st.composite
def ipv4_spellings(draw: st.DrawFn) -> tuple[V4, str]:
    """Any address in any inet_aton spelling: 1 to 4 parts, each decimal, hex or octal."""
    value = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(1, 4))
    raw = value.to_bytes(4, "big")
    parts = [*raw[: n - 1], int.from_bytes(raw[n - 1 :], "big")]
    out = []
    for part in parts:
        base = draw(st.sampled_from(["dec", "hex", "HEX", "oct"]))
        out.append(
            {"dec": str(part), "hex": f"0x{part:x}", "HEX": f"0X{part:X}", "oct": f"0{part:o}"}[
                base
            ]
        )
    return V4(value), ".".join(out)


@given(ipv4_spellings())
def test_every_ipv4_spelling_normalises_like_the_c_library(case: tuple[V4, str]) -> None:
    ip, spelling = case
    assert parse_ip_literal(spelling) == ip
    assert parse_ip_literal(spelling + ".") == ip
    assert socket.inet_aton(spelling) == ip.packed


@given(st.text(max_size=300))
def test_parsing_never_raises(text: str) -> None:
    ip = parse_ip_literal(text)
    assert ip is None or isinstance(ip, V4 | V6)
    origin = origin_of(f"http://{text}/")
    assert origin is None or origin[0] == "http"


def test_absurd_numbers_are_not_addresses() -> None:
    assert parse_ip_literal("9" * 5000) is None
    assert parse_ip_literal("4294967296") is None  # 2**32
    assert parse_ip_literal("4294967295") == V4("255.255.255.255")


def _ipv6_carriers(v4: V4) -> list[V6]:
    n = int(v4)
    return [
        V6(f"::ffff:{v4}"),  # mapped
        V6((0xFFFF << 32) | n),  # mapped, from an integer
        V6(f"::ffff:0:{v4}"),  # translated
        V6(f"64:ff9b::{v4}"),  # NAT64
        V6((0x2002 << 112) | (n << 80) | 0x1),  # 6to4
    ]


@given(st.integers(0, 2**32 - 1), st.booleans())
def test_ipv6_carriers_get_the_verdict_of_their_ipv4(value: int, allow_private: bool) -> None:
    v4 = V4(value)
    for v6 in _ipv6_carriers(v4):
        assert embedded_ipv4(v6) == v4
        assert refusal(v6, allow_private=allow_private) == refusal(v4, allow_private=allow_private)


SPECIAL_V4 = [
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8 10.0.0.0/8 100.64.0.0/10 127.0.0.0/8 169.254.0.0/16 172.16.0.0/12 "
        "192.0.0.0/24 192.0.2.0/24 192.168.0.0/16 198.18.0.0/15 198.51.100.0/24 "
        "203.0.113.0/24 224.0.0.0/4 240.0.0.0/4 100.100.100.200/32"
    ).split()
]


@given(st.integers(0, 2**32 - 1))
def test_public_ipv4_means_outside_every_special_range(value: int) -> None:
    ip = V4(value)
    special = any(ip in net for net in SPECIAL_V4)
    assert (refusal(ip, allow_private=False) is not None) == special


@given(st.integers(0, 2**128 - 1))
def test_public_ipv6_is_global_unicast_only(value: int) -> None:
    ip = V6(value)
    if refusal(ip, allow_private=False) is None:
        inner = embedded_ipv4(ip)
        assert ip in ipaddress.IPv6Network("2000::/3") or (
            inner is not None and refusal(inner, allow_private=False) is None
        )
        assert not ip.is_link_local and not ip.is_loopback and not ip.is_multicast


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "169.254.170.2",
        "100.100.100.200",
        "fd00:ec2::254",
        "fe80::1",
        "::ffff:169.254.169.254",
        "2002:a9fe:a9fe::",
        "64:ff9b::a9fe:a9fe",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "ff02::1",
        "255.255.255.255",
    ],
)
def test_link_local_metadata_and_non_unicast_are_always_refused(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert refusal(ip, allow_private=True) is not None
    assert refusal(ip, allow_private=False) is not None


def test_private_allowed_only_when_asked() -> None:
    for address in ("127.0.0.1", "10.1.2.3", "192.168.1.1", "::1", "fd12::1", "::ffff:10.0.0.1"):
        ip = ipaddress.ip_address(address)
        assert refusal(ip, allow_private=False) is not None
        assert refusal(ip, allow_private=True) is None
    for address in ("8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"):
        assert refusal(ipaddress.ip_address(address), allow_private=False) is None


def test_origins_are_normalised() -> None:
    assert origin_of("HTTP://Example.COM/feed") == ("http", "example.com", 80)
    assert origin_of("https://example.com:443/x") == ("https", "example.com", 443)
    assert origin_of("http://2130706433:8080/") == origin_of("http://127.0.0.1:8080/a")
    assert origin_of("http://127.0.0.1:8080/") != origin_of("https://127.0.0.1:8080/")
    assert origin_of("http://127.0.0.1:8080/") != origin_of("http://127.0.0.1:8081/")
    assert origin_of("ftp://example.com/") is None
    assert origin_of("/etc/passwd") is None


def test_check_url_messages() -> None:
    with pytest.raises(BlockedURL, match=r"'169\.254\.169\.254' resolves to a link-local"):
        check_url("http://169.254.169.254/latest/meta-data/", allow_private=True)
    with pytest.raises(BlockedURL, match="cloud metadata"):
        check_url("http://[fd00:ec2::254]/", allow_private=True)
    with pytest.raises(BlockedURL, match="loopback"):
        check_url("http://0x7f000001/")
    with pytest.raises(BlockedURL, match=r"i\.e\. 127\.0\.0\.1"):
        check_url("http://[2002:7f00:1::]/")
    with pytest.raises(BlockedURL, match="only http:// and https://"):
        check_url("gopher://example.com/", allow_private=True)
    assert check_url("http://localhost:9/", allow_private=True)  # resolves, allowed
    assert check_url("http://8.8.8.8/") == [V4("8.8.8.8")]


# ---------------------------------------------------------------------------- connections
@pytest.fixture
def origin() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


def _resolver(answers: list[list[str]], calls: list[str]):
    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[min(len(calls) - 1, len(answers) - 1)]

    return resolve


async def test_resolved_once_and_the_checked_address_is_the_one_connected(origin) -> None:
    origin.serve("/", b"secret", "text/plain")
    calls: list[str] = []
    # A rebinding name: public on the first answer, loopback on every later one.
    resolve = _resolver([["93.184.216.34"], ["127.0.0.1"]], calls)
    transport = PolicyTransport(resolve=resolve)
    async with httpx.AsyncClient(transport=transport, timeout=1.0) as c:
        with pytest.raises(httpx.TransportError):
            await c.get(f"http://rebind.test:{origin.port}/")
    assert calls == ["rebind.test"]  # one resolution; the connect went to 93.184.216.34
    assert origin.requests == []


async def test_every_answer_must_be_public(origin) -> None:
    calls: list[str] = []
    transport = PolicyTransport(resolve=_resolver([["93.184.216.34", "127.0.0.1"]], calls))
    async with httpx.AsyncClient(transport=transport, timeout=2.0) as c:
        with pytest.raises(BlockedURL, match=r"'mixed\.test' resolves to a loopback address"):
            await c.get(f"http://mixed.test:{origin.port}/")
    assert origin.requests == []


async def test_trusted_origin_keeps_host_header_and_pools_are_separate(origin) -> None:
    origin.serve("/feed", b"ok", "text/plain")
    calls: list[str] = []
    transport = PolicyTransport(resolve=_resolver([["127.0.0.1"]], calls))
    url = f"http://intranet.test:{origin.port}/feed"
    async with httpx.AsyncClient(transport=transport, timeout=2.0) as c:
        r = await c.get(url, extensions=trusted(url))
        assert r.status_code == 200 and r.text == "ok"
        # The same origin, now from content: the kept-alive trusted connection is not reused.
        with pytest.raises(BlockedURL, match="loopback"):
            await c.get(url)
        # Trust is for that origin only: another port of the same host is checked.
        with pytest.raises(BlockedURL):
            await c.get(f"http://intranet.test:{origin.port + 1}/", extensions=trusted(url))
    assert [r.headers["host"] for r in origin.requests] == [f"intranet.test:{origin.port}"]


async def test_redirect_hops_are_checked(origin) -> None:
    with FeedServer() as internal:
        internal.serve("/admin", b"internal", "text/plain")
        hop = origin.redirect("/go", internal.url("/admin"), status=302)
        s = Settings(_env_file=None, fetch_timeout=2.0)  # type: ignore[call-arg]
        async with make_client(s) as c:
            with pytest.raises(BlockedURL, match=rf"refused {internal.url('/admin')}"):
                await c.get(hop, extensions=trusted(hop))
        assert len(origin.requests_for("/go")) == 1
        assert internal.requests == []


# ---------------------------------------------------------------------------- SSRF end to end
RSS_HEAD = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Lab news</title>'


def _rss(items: list[tuple[str, str]]) -> bytes:
    body = b"".join(
        f"<item><title>{title}</title><link>{link}</link><guid>{title}</guid>"
        f"<pubDate>Mon, 02 Jun 2025 10:00:00 GMT</pubDate>"
        f"<description>Summary of {title}.</description></item>".encode()
        for title, link in items
    )
    return RSS_HEAD + body + b"</channel></rss>"


GOOD_PAGE = (
    "<!doctype html><html><head><title>Good</title></head><body><nav>Home About</nav><article>"
    + "".join(
        f"<p>Paragraph {i}: the lab released a new open-weights model with a longer context "
        f"window and better tool use, evaluated on agentic coding benchmarks.</p>"
        for i in range(10)
    )
    + "</article><footer>footer</footer></body></html>"
).encode()


@pytest.fixture
def ssrf_setup(tmp_path: Path) -> Iterator[tuple[FeedServer, FeedServer, FeedServer, Path]]:
    """The feed's origin, and an internal service on 127.0.0.1 and on [::1] (other ports)."""
    with FeedServer() as feed, FeedServer() as internal, FeedServer("::1") as internal6:
        for s in (internal, internal6):
            s.route("/secret", Reply(200, b"<html><body><p>TOP SECRET</p></body></html>"))
        p, p6 = internal.port, internal6.port
        links = {
            "other-port": f"http://127.0.0.1:{p}/secret",
            "localhost": f"http://localhost:{p}/secret",
            "ipv6-loopback": f"http://[::1]:{p6}/secret",
            "decimal": f"http://2130706433:{p}/secret",
            "hex": f"http://0x7f000001:{p}/secret",
            "short": f"http://127.1:{p}/secret",
            "mapped": f"http://[::ffff:127.0.0.1]:{p}/secret",
            "own-origin-redirect": feed.url("/moved"),
            "metadata": "http://169.254.169.254/latest/meta-data/",
            "good": feed.url("/good"),
        }
        feed.redirect("/moved", internal.url("/secret"), status=302)
        feed.serve("/good", GOOD_PAGE, "text/html; charset=utf-8")
        feed.serve("/feed.xml", _rss(list(links.items())), "application/rss+xml")
        feed.redirect("/feed-moved", internal.url("/secret"), status=302)
        toml = tmp_path / "feeds.toml"
        toml.write_text(
            f'[[feeds]]\nname = "lab"\nurl = "{feed.url("/feed.xml")}"\nfull_text = true\n\n'
            f'[[feeds]]\nname = "hijacked"\nurl = "{feed.url("/feed-moved")}"\n',
            encoding="utf-8",
        )
        yield feed, internal, internal6, toml


def _texts(settings: Settings) -> dict[str, str]:
    corpus = Corpus(settings)
    try:
        rows = corpus.db.query("SELECT title, text FROM articles")
        return {r["title"]: r["text"] for r in rows}
    finally:
        corpus.close()


@pytest.mark.slow
def test_ssrf_through_feed_content_is_refused_end_to_end(
    tmp_path: Path, ssrf_setup, embedder: Embedder
) -> None:
    feed, internal, internal6, toml = ssrf_setup
    settings = make_settings(tmp_path / "data", toml, fetch_retries=0, fetch_timeout=5.0)
    report = run_ingest(settings, embedder=embedder)

    assert internal.requests == [] and internal6.requests == []  # not one request got through
    assert len(feed.requests_for("/moved")) == 1  # the hop on the feed's origin was allowed
    texts = _texts(settings)
    assert len(texts) == 10
    for title, text in texts.items():
        if title == "good":  # the control: a page on the feed's own origin gets full text
            assert "Paragraph 9: the lab released" in text
        else:
            assert text == f"Summary of {title}.", title
    assert "TOP SECRET" not in json.dumps(texts)

    lab, hijacked = report.feeds
    assert lab.status == "ok" and lab.new == 10
    assert len(lab.warnings) == 9 and all("stored from its summary" in w for w in lab.warnings)
    assert hijacked.status == "error"
    assert hijacked.error is not None and "refused" in hijacked.error
    assert "loopback" in hijacked.error

    env = {
        **os.environ,
        "NEWSBOT_DATA_DIR": str(settings.data_dir),
        "NEWSBOT_FEEDS": str(toml),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(REPO),
    }
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "feeds", "status", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    status = {f["name"]: f for f in json.loads(out.stdout)}
    warnings = status["lab"]["warnings"]
    assert len(warnings) == 9
    joined = " ".join(warnings)
    for needle in (
        f"refused http://127.0.0.1:{internal.port}/secret",  # other port, and the redirect hop
        f"refused http://localhost:{internal.port}/secret",
        f"refused http://[::1]:{internal6.port}/secret",
        f"refused http://2130706433:{internal.port}/secret",
        f"refused http://0x7f000001:{internal.port}/secret",
        f"refused http://127.1:{internal.port}/secret",
        "link-local (cloud metadata)",
    ):
        assert needle in joined, needle
    assert "refused" in status["hijacked"]["last_error"]
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "feeds", "status"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    lines = out.stdout.splitlines()
    assert sum("UTC: full text not fetched, refused" in line for line in lines) == 5
    assert any("4 more warning(s)" in line for line in lines)


def test_allow_private_setting_lets_content_reach_private_addresses(
    tmp_path: Path, ssrf_setup
) -> None:
    # The control for the test above: with the opt-in, the same links do reach the service.
    feed, internal, internal6, toml = ssrf_setup
    settings = make_settings(tmp_path / "data", toml, fetch_retries=0, allow_private_feed_urls=True)
    corpus = Corpus(settings)
    try:
        from ingest.feeds import load_feeds

        reports = ingest_feeds(corpus, load_feeds(toml), settings)
    finally:
        corpus.close()
    assert len(internal.requests) >= 6 and len(internal6.requests) == 1
    lab = reports[0]
    assert any("link-local" in w for w in lab.warnings)  # metadata: refused even so


def test_discord_added_feed_is_checked_like_content(ssrf_setup, tmp_path: Path) -> None:
    feed, internal, _, _ = ssrf_setup
    s = make_settings(tmp_path / "data", fetch_retries=0)
    parsed = check_feed(Feed(name="x", url=feed.url("/feed.xml")), s)
    assert parsed.error is not None and "loopback" in parsed.error
    ok = check_feed(Feed(name="x", url=feed.url("/feed.xml")), s, trusted=True)
    assert ok.error is None and len(ok.articles) == 10
    allowed = make_settings(tmp_path / "data", fetch_retries=0, allow_private_feed_urls=True)
    assert check_feed(Feed(name="x", url=feed.url("/feed.xml")), allowed).error is None
    assert internal.requests == []


def test_a_feed_added_from_discord_stays_untrusted_on_every_later_run(
    ssrf_setup, tmp_path: Path
) -> None:
    """/feeds add writes `added_by = "discord:<user>"`: on every scheduled run its URL is checked
    as content (the name might resolve privately later), while the operator's own feed on the
    same private origin is fetched."""
    from ingest.feeds import add_feed, load_feeds

    feed, internal, _, _ = ssrf_setup
    s = make_settings(tmp_path / "data", fetch_retries=0)
    toml = tmp_path / "mine.toml"
    add_feed(toml, Feed(name="by-hand", url=feed.url("/feed.xml")))
    add_feed(toml, Feed(name="from-discord", url=feed.url("/feed.xml") + "?d=1",
                        added_by="discord:42"))  # fmt: skip
    feeds = load_feeds(toml)
    assert [f.added_by for f in feeds] == ["", "discord:42"]
    assert 'added_by = "discord:42"' in toml.read_text(encoding="utf-8")
    corpus = Corpus(s)
    try:
        reports = {r.name: r for r in ingest_feeds(corpus, feeds, s)}
    finally:
        corpus.close()
    assert reports["by-hand"].status == "ok" and reports["by-hand"].new == 10
    assert reports["from-discord"].status == "error"
    assert "loopback" in (reports["from-discord"].error or "")
    assert internal.requests == []


async def test_proxy_environment_is_not_used(origin, monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy would resolve and connect for us, out of the policy's sight.
    with FeedServer() as proxy:
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(name, proxy.url(""))
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        url = origin.serve("/feed", b"direct", "text/plain")
        s = Settings(_env_file=None, fetch_timeout=2.0)  # type: ignore[call-arg]
        async with make_client(s) as c:
            r = await c.get(url, extensions=trusted(url))
            with pytest.raises(BlockedURL):
                await c.get(url)  # untrusted: refused, not handed to the proxy
        assert r.text == "direct"
        assert proxy.requests == []


def _tls_files(tmp: Path, host: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for `host` signed by it (openssl command line)."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=tmp, check=True, capture_output=True, timeout=60)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=newsbot test CA")  # fmt: skip
    run("req", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", f"/CN={host}")
    (tmp / "san.ext").write_text(f"subjectAltName=DNS:{host}\n")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "san.ext")  # fmt: skip
    return tmp / "ca.pem", tmp / "leaf.pem", tmp / "leaf.key"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_https_to_a_checked_address_keeps_sni_and_certificate_checks(
    tmp_path: Path,
) -> None:
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    ca, cert, key = _tls_files(tmp_path, "intranet.test")
    seen: dict[str, object] = {}
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)

    def record_sni(sock: object, name: str | None, ctx: object) -> None:
        seen["sni"] = name

    server_ctx.sni_callback = record_sni

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen["host"] = self.headers["Host"]
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    class TLSServer(ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self):  # type: ignore[no-untyped-def]
            sock, addr = super().get_request()
            return server_ctx.wrap_socket(sock, server_side=True), addr

    httpd = TLSServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        port = httpd.server_address[1]
        url = f"https://intranet.test:{port}/feed"
        calls: list[str] = []
        client_ctx = ssl.create_default_context(cafile=str(ca))
        transport = PolicyTransport(resolve=_resolver([["127.0.0.1"]], calls), verify=client_ctx)
        async with httpx.AsyncClient(transport=transport, timeout=5.0) as c:
            r = await c.get(url, extensions=trusted(url))
        assert r.status_code == 200 and r.text == "ok"
        assert seen == {"sni": "intranet.test", "host": f"intranet.test:{port}"}
        assert calls == ["intranet.test"]
        # The same address under another name: the certificate check still applies.
        transport = PolicyTransport(resolve=_resolver([["127.0.0.1"]], []), verify=client_ctx)
        other = f"https://other.test:{port}/feed"
        async with httpx.AsyncClient(transport=transport, timeout=5.0) as c:
            with pytest.raises(httpx.ConnectError, match="certificate|hostname"):
                await c.get(other, extensions=trusted(other))
    finally:
        httpd.shutdown()
        httpd.server_close()
