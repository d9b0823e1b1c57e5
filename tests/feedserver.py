"""A real HTTP server on 127.0.0.1 for fetch tests (stdlib ThreadingHTTPServer in a thread).

Routes are configured per test::

    with FeedServer() as server:
        server.route("/feed.xml", Reply(200, body, {"Content-Type": "application/rss+xml"}))
        server.route("/flaky", Reply(500), Reply(200, body))       # 500 first, then 200
        server.route("/cached", Reply(200, body), etag='"v1"')      # 304 on If-None-Match
        server.redirect("/old", "/feed.xml")
        url = server.url("/feed.xml")
        ...
        assert server.requests_for("/flaky")[1].headers["user-agent"]

Replies of a route are used in order; the last one repeats. Every request is recorded with its
headers, and the server counts requests in flight (`max_in_flight`) to check concurrency bounds.
"""

from __future__ import annotations

import dataclasses
import gzip as gzip_module
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

CHUNK = 64 * 1024


@dataclass
class Reply:
    """One canned response."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before sending the status line
    gzip: bool = False  # send the body gzip-compressed with Content-Encoding: gzip
    stream_size: int = 0  # stream this many filler bytes (chunked, no Content-Length) instead
    content_length: bool = True  # False: no Content-Length, body delimited by closing
    trickle: float = 0.0  # seconds between chunks of a streamed body


@dataclass
class Route:
    replies: list[Reply]
    etag: str | None = None
    last_modified: str | None = None
    served: int = 0


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    at: float


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms stalls
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self.server.owner._handle(self)

    def do_HEAD(self) -> None:
        self.server.owner._handle(self)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: FeedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return  # a client closing its keep-alive connection (or giving up) is normal here
        super().handle_error(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


class FeedServer:
    """Start with `with FeedServer() as server:` (or start()/stop()). `host="::1"` serves on
    IPv6 loopback."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._routes: dict[str, Route] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> FeedServer:
        server_class = _Server6 if ":" in self.host else _Server
        self._httpd = server_class((self.host, 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    def url(self, path: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    # ------------------------------------------------------------ configuration

    def route(
        self,
        path: str,
        *replies: Reply,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> str:
        """Serve `replies` in order at `path` (the last repeats); returns the full URL.

        With `etag` / `last_modified`, those headers are sent with 2xx replies and a request
        whose If-None-Match / If-Modified-Since matches gets 304 Not Modified.
        """
        with self._lock:
            self._routes[path] = Route(list(replies) or [Reply()], etag, last_modified)
        return self.url(path)

    def serve(
        self, path: str, body: bytes, content_type: str = "application/xml", **kw: Any
    ) -> str:
        """Shorthand: 200 with `body` and a Content-Type."""
        headers = {"Content-Type": content_type} if content_type else {}
        headers.update(kw.pop("headers", {}))
        return self.route(path, Reply(200, body, headers, **kw))

    def redirect(self, path: str, to: str, status: int = 301) -> str:
        return self.route(path, Reply(status, b"", {"Location": to}))

    def requests_for(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def reset_counters(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_in_flight = 0

    # ------------------------------------------------------------ serving

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server stops; False if it stopped."""
        return not self._stopping.wait(seconds)

    def _handle(self, h: _Handler) -> None:
        path = h.path
        with self._lock:
            self.requests.append(
                RecordedRequest(
                    h.command, path, {k.lower(): v for k, v in h.headers.items()}, time.time()
                )
            )
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            route = self._routes.get(path) or self._routes.get(urlsplit(path).path)
            reply: Reply | None = None
            if route is not None:
                reply = route.replies[min(route.served, len(route.replies) - 1)]
                route.served += 1
        try:
            if route is None or reply is None:
                self._send(h, Reply(404, b"not found", {"Content-Type": "text/plain"}))
                return
            if reply.delay and not self._sleep(reply.delay):
                return
            if 200 <= reply.status < 300 and self._not_modified(h, route):
                headers = {}
                if route.etag:
                    headers["ETag"] = route.etag
                if route.last_modified:
                    headers["Last-Modified"] = route.last_modified
                self._send(h, Reply(304, b"", headers))
                return
            if 200 <= reply.status < 300:
                extra = dict(reply.headers)
                if route.etag:
                    extra.setdefault("ETag", route.etag)
                if route.last_modified:
                    extra.setdefault("Last-Modified", route.last_modified)
                reply = dataclasses.replace(reply, headers=extra)
            self._send(h, reply)
        except (TimeoutError, BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            h.close_connection = True  # the client went away (e.g. it hit its size cap)
        finally:
            with self._lock:
                self.in_flight -= 1

    @staticmethod
    def _not_modified(h: _Handler, route: Route) -> bool:
        inm = h.headers.get("If-None-Match")
        if route.etag and inm:
            return route.etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*"
        ims = h.headers.get("If-Modified-Since")
        return bool(route.last_modified and ims and ims.strip() == route.last_modified)

    def _send(self, h: _Handler, reply: Reply) -> None:
        body = reply.body
        headers = dict(reply.headers)
        if reply.gzip:
            body = gzip_module.compress(body)
            headers["Content-Encoding"] = "gzip"
        h.send_response(reply.status)
        for name, value in headers.items():
            h.send_header(name, value)
        no_body = reply.status in (204, 304) or reply.status < 200 or h.command == "HEAD"
        if reply.stream_size and not no_body:
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            self._stream(h, reply)
            return
        if no_body:
            h.end_headers()
            return
        if reply.content_length:
            h.send_header("Content-Length", str(len(body)))
        else:
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        h.wfile.write(body)
        h.wfile.flush()

    def _stream(self, h: _Handler, reply: Reply) -> None:
        filler = (b"<!-- " + b"x" * (CHUNK - 9) + b" -->\n")[:CHUNK]
        sent = 0
        while sent < reply.stream_size:
            piece = filler[: min(CHUNK, reply.stream_size - sent)]
            h.wfile.write(f"{len(piece):X}\r\n".encode() + piece + b"\r\n")
            sent += len(piece)
            if reply.trickle and not self._sleep(reply.trickle):
                return
        h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()


def refused_port() -> int:
    """A loopback port with nothing listening (connecting to it is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
