"""The one outbound-HTTP policy (SSRF protection) of every fetch: feeds, redirects, article pages
and the URL check of Discord's `/feeds add`.

Rules:
- Only http:// and https:// URLs.
- A URL that comes from content (article links, redirects) or from a Discord user must resolve to
  public addresses only. The check is made on EVERY connection (so on every redirect hop), on the
  addresses actually connected to: the host is resolved once, the addresses are checked, and the
  socket is opened to one of exactly those addresses (no DNS-rebinding window). TLS still uses the
  URL's host name for SNI and certificate checks, and the Host header is unchanged.
- Every IPv4/IPv6 spelling is normalised before it is judged: 2130706433, 0x7f000001, 0177.1,
  127.1, IPv4-mapped/-translated/-compatible IPv6, 6to4 (2002::/16), NAT64 (64:ff9b::/96).
- Link-local addresses, cloud metadata endpoints (169.254.169.254, fd00:ec2::254,
  100.100.100.200), unspecified, multicast and broadcast addresses are ALWAYS refused.
- A feed URL the operator wrote in feeds.toml may be private (intranet feeds are legitimate).
  That trust covers exactly that origin (scheme, host, port): a request carries its trusted
  origins in the `TRUSTED_ORIGINS` request extension (which httpx keeps on redirects), and any
  other origin gets the public-only check.
- `allow_private_feed_urls` (off by default; for tests and intranets) allows private addresses
  everywhere, but never the always-refused ones.

Trusted and untrusted requests use two separate connection pools, so a connection opened under
the weaker rule is never reused for a request that needs the stricter one.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Origin = tuple[str, str, int]  # (scheme, normalised host, port)
AsyncResolver = Callable[[str, int], Awaitable[list[str]]]
SyncResolver = Callable[..., list[tuple[Any, ...]]]

TRUSTED_ORIGINS = "newsbot_trusted_origins"  # request extension: frozenset[Origin]
SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}

_V4 = ipaddress.IPv4Address
_V6 = ipaddress.IPv6Address
_N4 = ipaddress.IPv4Network
_N6 = ipaddress.IPv6Network

METADATA = frozenset(
    {
        _V4("169.254.169.254"),  # AWS, GCP, Azure, Oracle, OpenStack...
        _V4("169.254.170.2"),  # AWS ECS task metadata
        _V4("100.100.100.200"),  # Alibaba Cloud
        _V6("fd00:ec2::254"),  # AWS over IPv6
    }
)
_MAPPED = _N6("::ffff:0:0/96")  # IPv4-mapped
_TRANSLATED = _N6("::ffff:0:0:0/96")  # SIIT IPv4-translated
_COMPATIBLE = _N6("::/96")  # deprecated IPv4-compatible (also holds :: and ::1)
_NAT64 = _N6("64:ff9b::/96")  # well-known NAT64 prefix
_NAT64_LOCAL = _N6("64:ff9b:1::/48")  # local-use NAT64 (RFC 8215): never public
_SIXTOFOUR = _N6("2002::/16")
_TEREDO = _N6("2001::/32")
_GLOBAL_UNICAST = _N6("2000::/3")
_SHARED_V4 = _N4("100.64.0.0/10")  # carrier-grade NAT
_BROADCAST = _V4("255.255.255.255")


class BlockedURL(ValueError):
    """A fetch the policy refuses. The message is one line a person can act on."""


# ---------------------------------------------------------------------------- addresses
def _int_part(text: str) -> int | None:
    """One part of an inet_aton-style IPv4 address: decimal, 0x-hex or 0-octal."""
    if not text:
        return None
    if text[:2] in ("0x", "0X"):
        digits = text[2:]
        if not digits:
            return 0
        return int(digits, 16) if all(c in "0123456789abcdefABCDEF" for c in digits) else None
    if len(text) > 1 and text[0] == "0":
        return int(text, 8) if all(c in "01234567" for c in text) else None
    return int(text) if text.isdigit() and text.isascii() else None


def _parse_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """Every spelling inet_aton accepts: a, a.b, a.b.c, a.b.c.d; each part decimal/hex/octal."""
    if len(text) > 64:  # no address spelling is longer; keeps int() of huge strings away
        return None
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = [_int_part(p) for p in parts]
    if any(v is None for v in values):
        return None
    nums = [v for v in values if v is not None]
    *head, last = nums
    if any(v > 255 for v in head) or last >= 1 << (8 * (5 - len(nums))):
        return None
    value = last
    for i, v in enumerate(head):
        value |= v << (24 - 8 * i)
    return _V4(value)


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a host name spells, in any accepted notation; None for a DNS name.

    '[::1]', '::1', '2130706433', '0x7f000001', '0177.0.0.1', '127.1', '127.0.0.1.' and
    'fe80::1%eth0' are all literals. Case and one trailing dot are ignored.
    """
    h = host.strip()
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    if h.endswith(".") and ":" not in h:
        h = h[:-1]
    if ":" in h:
        try:
            return _V6(h.split("%", 1)[0])
        except ValueError:
            return None
    return _parse_ipv4(h)


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, translated, compatible, NAT64, 6to4)."""
    if isinstance(ip, _V4):
        return None
    low32 = _V4(int(ip) & 0xFFFFFFFF)
    if ip in _MAPPED or ip in _TRANSLATED or ip in _NAT64 or ip in _NAT64_LOCAL:
        return low32
    if ip in _COMPATIBLE and int(ip) > 1:  # not :: or ::1
        return low32
    if ip in _SIXTOFOUR:
        return ip.sixtofour
    return None


def _always_refused(ip: IPAddress) -> str | None:
    """Refused even for trusted origins and with allow_private_feed_urls."""
    if ip in METADATA:
        return "cloud metadata" if not ip.is_link_local else "link-local (cloud metadata)"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip == _BROADCAST:
        return "broadcast"
    return None


def _not_public(ip: IPAddress) -> str | None:
    """Why an address (not carrying an IPv4 one) is not on the public internet."""
    if ip.is_loopback:
        return "loopback"
    if ip.is_private:
        return "private"
    if isinstance(ip, _V4):
        if ip in _SHARED_V4 or not ip.is_global:
            return "non-public"
        if ip.is_reserved:
            return "reserved"
        return None
    if ip in _TEREDO:
        return "non-public (Teredo)"
    if ip.is_reserved or ip.is_site_local:
        return "reserved"
    if ip not in _GLOBAL_UNICAST or not ip.is_global:
        return "non-public"
    return None


def refusal(ip: IPAddress, *, allow_private: bool) -> str | None:
    """The kind of address that makes `ip` refused ('loopback', 'link-local', ...), or None.

    IPv6 forms that carry an IPv4 address are judged by that address (and by themselves).
    `allow_private` lifts the public-only rule but not the always-refused kinds.
    """
    inner = embedded_ipv4(ip)
    for candidate in (ip, inner):
        if candidate is not None and (kind := _always_refused(candidate)):
            return kind
    if allow_private:
        return None
    if inner is not None:
        if ip in _NAT64_LOCAL:
            return "non-public (local NAT64)"
        if ip in _COMPATIBLE:
            kind = _not_public(inner)
            return kind or "reserved (IPv4-compatible IPv6)"
        return _not_public(inner)
    return _not_public(ip)


def _describe(host: str, ip: IPAddress, kind: str) -> str:
    inner = embedded_ipv4(ip)
    shown = f"{ip}, i.e. {inner}" if inner is not None else str(ip)
    return f"{host!r} resolves to a {kind} address ({shown})"


# ---------------------------------------------------------------------------- URLs, origins
def normalise_host(host: str) -> str:
    ip = parse_ip_literal(host)
    if ip is not None:
        return str(ip)
    return host.strip().lower().rstrip(".")


def origin_of(url: str | httpx.URL) -> Origin | None:
    """(scheme, host, port) of an http(s) URL, hosts normalised; None for anything else."""
    try:
        u = url if isinstance(url, httpx.URL) else httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    scheme = u.scheme.lower()
    if scheme not in SCHEMES or not u.host:
        return None
    return (scheme, normalise_host(u.host), u.port or DEFAULT_PORTS[scheme])


def trusted(*urls: str) -> dict[str, frozenset[Origin]]:
    """Request extensions that trust the origins of these operator-written URLs."""
    origins = frozenset(o for u in urls if (o := origin_of(u)) is not None)
    return {TRUSTED_ORIGINS: origins}


def _check_scheme(url: str) -> tuple[str, str, int]:
    try:
        u = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError):
        raise BlockedURL("That doesn't look like a valid URL.") from None
    scheme = u.scheme.lower()
    if scheme not in SCHEMES:
        raise BlockedURL(f"only http:// and https:// URLs can be fetched, not {scheme or '?'}://")
    if not u.host:
        raise BlockedURL("That URL has no host name.")
    return scheme, u.host, u.port or DEFAULT_PORTS[scheme]


def check_url(
    url: str, *, allow_private: bool = False, resolve: SyncResolver = socket.getaddrinfo
) -> list[IPAddress]:
    """Blocking check of a URL (DNS): raises BlockedURL (one line) unless every address it
    resolves to may be fetched; returns those addresses. For up-front checks (Discord
    `/feeds add`); the fetch itself is checked again on the addresses it connects to."""
    _scheme, host, port = _check_scheme(url)
    literal = parse_ip_literal(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            infos = resolve(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise BlockedURL(f"I couldn't resolve the host {host!r}; check the URL.") from None
        addresses = []
        for info in infos:
            ip = parse_ip_literal(str(info[4][0]))
            if ip is None:
                raise BlockedURL(f"{host!r} resolves to an unusable address.")
            addresses.append(ip)
        if not addresses:
            raise BlockedURL(f"I couldn't resolve the host {host!r}; check the URL.")
    for ip in addresses:
        kind = refusal(ip, allow_private=allow_private)
        if kind:
            raise BlockedURL(_describe(host, ip, kind) + "; only public addresses are allowed.")
    return addresses


# ---------------------------------------------------------------------------- connections
async def _system_resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class _Refused(Exception):
    """Raised inside the connection pool; the transport turns it into BlockedURL with the URL."""

    def __init__(self, text: str, always: bool = True) -> None:
        super().__init__(text)
        self.text = text
        self.always = always  # refused whatever the origin or the settings


class PolicyBackend(httpcore.AsyncNetworkBackend):
    """Resolves once, checks every address, connects to a checked address (never the name)."""

    def __init__(self, *, allow_private: bool, resolve: AsyncResolver | None = None) -> None:
        self.allow_private = allow_private
        self._resolve = resolve or _system_resolve
        self._inner = httpcore.AnyIOBackend()

    async def _addresses(self, host: str, port: int, timeout: float | None) -> list[IPAddress]:
        literal = parse_ip_literal(host)
        if literal is not None:
            return [literal]
        try:
            async with asyncio.timeout(timeout):
                raw = await self._resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host!r} timed out") from None
        except (OSError, UnicodeError) as e:
            detail = getattr(e, "strerror", None) or str(e) or type(e).__name__
            raise httpcore.ConnectError(f"cannot resolve {host!r}: {detail}") from None
        addresses = []
        for text in raw:
            ip = parse_ip_literal(text)
            if ip is None:
                raise _Refused(f"{host!r} resolves to an unusable address ({text!r})")
            addresses.append(ip)
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host!r}: no address")
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        started = time.monotonic()
        addresses = await self._addresses(host, port, timeout)
        for ip in addresses:  # every address must pass: no "one public, one private" names
            kind = refusal(ip, allow_private=self.allow_private)
            if kind:
                always = refusal(ip, allow_private=True) is not None
                raise _Refused(_describe(host, ip, kind), always=always)
        last: Exception | None = None
        for ip in dict.fromkeys(addresses):
            left = None if timeout is None else max(0.001, timeout - (time.monotonic() - started))
            try:
                return await self._inner.connect_tcp(
                    str(ip), port, left, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                last = e
        assert last is not None
        raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise _Refused("unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _pooled_transport(
    backend: PolicyBackend, limits: httpx.Limits, verify: Any = True
) -> httpx.AsyncHTTPTransport:
    transport = httpx.AsyncHTTPTransport(limits=limits, verify=verify)
    # httpx has no public way to choose the network backend; its pool is rebuilt with ours.
    # tests/ingest/test_netpolicy.py fails loudly if a future httpx stops using `_pool`.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(verify=verify),  # honours SSL_CERT_FILE/DIR
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=backend,
    )
    return transport


class PolicyTransport(httpx.AsyncBaseTransport):
    """An httpx transport that applies the policy to every request, redirects included."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        limits: httpx.Limits | None = None,
        resolve: AsyncResolver | None = None,
        verify: Any = True,
    ) -> None:
        limits = limits or httpx.Limits(max_connections=20, max_keepalive_connections=10)
        self.allow_private = allow_private
        self._public = _pooled_transport(
            PolicyBackend(allow_private=allow_private, resolve=resolve), limits, verify
        )
        self._trusted = _pooled_transport(
            PolicyBackend(allow_private=True, resolve=resolve), limits, verify
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        origin = origin_of(request.url)
        if origin is None:
            raise BlockedURL(f"refused {url[:200]}: only http:// and https:// URLs are fetched")
        is_trusted = origin in request.extensions.get(TRUSTED_ORIGINS, ())
        transport = self._trusted if is_trusted else self._public
        try:
            return await transport.handle_async_request(request)
        except _Refused as e:
            hint = (
                "never fetched"
                if e.always
                else "only the origin of a feed URL in feeds.toml may be private"
            )
            raise BlockedURL(f"refused {url[:200]}: {e.text} ({hint})") from None

    async def aclose(self) -> None:
        await self._public.aclose()
        await self._trusted.aclose()


def make_transport(
    settings: Any, *, limits: httpx.Limits | None = None, resolve: AsyncResolver | None = None
) -> PolicyTransport:
    """The transport of every client that fetches feeds or pages (from ingest.config.Settings)."""
    return PolicyTransport(
        allow_private=bool(settings.allow_private_feed_urls), limits=limits, resolve=resolve
    )
