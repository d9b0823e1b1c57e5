"""Reading a response body within a byte cap: streamed, decoded incrementally (gzip, deflate),
stopped as soon as the cap is passed, so memory stays near the cap whatever the server sends."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import httpx

# We decode bodies ourselves, piece by piece, so only encodings we can decode incrementally.
ACCEPT_ENCODING = "gzip, deflate"
DECODE_PIECE = 64 * 1024  # at most this many decompressed bytes per decompress() call


def format_bytes(n: int) -> str:
    """10_000_000 -> '10 MB', 3_500_000 -> '3.5 MB', 2048 -> '2 kB'."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.3g} MB"
    if n >= 1000:
        return f"{n / 1000:.3g} kB"
    return f"{n} bytes"


class Oversize(Exception):
    """More than the cap arrived (`decoded`: only once decompressed)."""

    def __init__(self, decoded: bool = False) -> None:
        super().__init__()
        self.decoded = decoded


class Decoder:
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


async def read_capped(response: httpx.Response, cap: int) -> bytes:
    """The decoded body, or Oversize as soon as more than `cap` bytes (compressed or
    decompressed) have arrived. Decoding is incremental: memory stays near `cap`."""
    declared = response.headers.get("content-length")
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        encoding = ""
    if declared and declared.isdigit() and int(declared) > cap and not encoding:
        raise Oversize
    decoder: Decoder | None = None
    if encoding:
        if encoding not in ("gzip", "x-gzip", "deflate"):
            raise httpx.DecodingError(f"unsupported Content-Encoding {encoding[:40]!r}")
        decoder = Decoder(encoding)
    body = bytearray()
    raw_size = 0
    try:
        async for chunk in response.aiter_raw():
            raw_size += len(chunk)
            if raw_size > cap:
                raise Oversize
            pieces = decoder.feed(chunk) if decoder is not None else (chunk,)
            for piece in pieces:
                if len(body) + len(piece) > cap:
                    raise Oversize(decoded=decoder is not None)
                body += piece
        if decoder is not None:
            tail = decoder.flush()
            if len(body) + len(tail) > cap:
                raise Oversize(decoded=True)
            body += tail
    except zlib.error as e:
        raise httpx.DecodingError(f"{encoding} body is corrupt: {e}") from None
    return bytes(body)


def oversize_message(cap: int, e: Oversize) -> str:
    return f"response larger than {format_bytes(cap)} cap" + (
        " when decompressed" if e.decoded else ""
    )
