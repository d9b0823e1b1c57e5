"""Metrics and health for the operator, with prometheus_client: opt-in (NEWSBOT_METRICS_PORT),
served on NEWSBOT_METRICS_HOST (127.0.0.1 unless configured) by a small HTTP server in a thread:

- `/metrics`: questions answered and declined (by reason), answer latency, Discord interactions
  and errors, ingest runs and articles added (by this process), and, read from the corpus at each
  scrape (so ingests run from cron count too): corpus size, feeds failing, last ingest time;
- `/healthz`: 200 `ok` once the answer engine is loaded and the corpus (SQLite) and the vectors
  (Chroma) both answer; 503 with the reason otherwise (`starting` before the engine is loaded).

The Discord layer records into one `Metrics` (bot.discord.services); nothing here knows Discord.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.models import Answer
    from ingest.pipeline import IngestReport

log = logging.getLogger(__name__)

# Answer latency buckets (seconds): the target is a p50 under 0.15 s.
LATENCY_BUCKETS = (0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


def decline_reason(answer: Answer) -> str:
    """Why an answer declined: the answer path's decision ("low-relevance", "unknown-name",
    "version-missing", ...)."""
    return answer.decision or "unknown"


def engine_health(engine: Engine) -> tuple[bool, str]:
    """(healthy, reason): the corpus's SQLite and its Chroma collection both answer."""
    try:
        engine.corpus.get_meta("last_ingest")
    except Exception as e:  # any failure of the database is "unhealthy", said in one line
        return False, f"corpus: {type(e).__name__}: {e}"
    try:
        engine.corpus.collection.count()
    except Exception as e:  # a Chroma server down, a broken embedded store
        return False, f"vectors: {type(e).__name__}: {e}"
    return True, "ok"


class CorpusCollector(Collector):
    """Gauges read from the corpus at scrape time (so they count other processes' ingests)."""

    def __init__(self) -> None:
        self.engine: Engine | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        engine = self.engine
        if engine is None:
            return
        try:
            counts = engine.corpus.counts()
            failing = sum(1 for s in engine.corpus.feed_states() if s.last_error)
            last = engine.corpus.get_meta("last_ingest")
        except Exception:  # the scrape still answers; /healthz says what is wrong
            log.warning("metrics: the corpus did not answer", exc_info=True)
            return
        yield GaugeMetricFamily("newsbot_corpus_articles", "Articles stored", counts["articles"])
        yield GaugeMetricFamily("newsbot_corpus_chunks", "Chunks in the corpus", counts["chunks"])
        yield GaugeMetricFamily("newsbot_feeds_failing", "Feeds whose last fetch failed", failing)
        if last:
            stamp = datetime.fromisoformat(last).timestamp()
            yield GaugeMetricFamily(
                "newsbot_last_ingest_timestamp_seconds", "When the last ingest finished", stamp
            )


class Metrics:
    """The bot's metrics, in a registry of their own (several in one process in tests)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.questions = Counter(
            "newsbot_questions", "Questions asked, by outcome and decline reason",
            ["outcome", "reason"], registry=r,
        )  # fmt: skip
        self.answer_seconds = Histogram(
            "newsbot_answer_seconds", "Time to answer a question (queue included)",
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.interactions = Counter(
            "newsbot_discord_interactions", "Discord interactions received", ["kind"], registry=r
        )
        self.errors = Counter(
            "newsbot_discord_errors", "Errors while handling Discord events", ["where"], registry=r
        )
        self.ingest_runs = Counter(
            "newsbot_ingest_runs", "Ingests run by this process", ["result"], registry=r
        )
        self.articles_added = Counter(
            "newsbot_articles_added", "New articles stored by this process's ingests", registry=r
        )
        self.corpus = CorpusCollector()
        r.register(self.corpus)
        self.engine: Engine | None = None

    # ------------------------------------------------------------------ recording
    def record_answer(self, answer: Answer, seconds: float) -> None:
        self.answer_seconds.observe(seconds)
        if answer.answered:
            self.questions.labels("answered", "").inc()
        else:
            self.questions.labels("declined", decline_reason(answer)).inc()

    def after_ingest(self, report: IngestReport) -> None:
        self.ingest_runs.labels("partial" if report.failed else "ok").inc()
        self.articles_added.inc(sum(f.new for f in report.feeds))

    def watch(self, engine: Engine) -> None:
        """The engine is loaded: corpus gauges and /healthz read it from now on."""
        self.engine = self.corpus.engine = engine

    def health(self) -> tuple[bool, str]:
        if self.engine is None:
            return False, "starting: the answer engine is not loaded yet"
        return engine_health(self.engine)

    # ------------------------------------------------------------------ serving
    def wsgi_app(self) -> Callable[..., Iterable[bytes]]:
        metrics_app = make_wsgi_app(self.registry)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if environ.get("PATH_INFO") == "/healthz":
                ok, reason = self.health()
                status = "200 OK" if ok else "503 Service Unavailable"
                start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
                return [(reason + "\n").encode()]
            return metrics_app(environ, start_response)  # type: ignore[no-any-return]

        return app

    def serve(self, host: str, port: int) -> MetricsServer:
        server = make_server(
            host, port, self.wsgi_app(), server_class=_Server, handler_class=_QuietHandler
        )
        thread = threading.Thread(target=server.serve_forever, name="newsbot-metrics", daemon=True)
        thread.start()
        log.info("metrics on http://%s:%d/metrics, health on /healthz", host, server.server_port)
        return MetricsServer(server, thread)


class MetricsServer:
    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self.server, self.thread = server, thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # scrapes are not log lines
        pass


def timed() -> Callable[[], float]:
    """A stopwatch: call the result for the seconds since."""
    t0 = time.perf_counter()
    return lambda: time.perf_counter() - t0
