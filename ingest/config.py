"""The corpus settings: what the ingest job, and every process that reads the corpus, needs
(data dir, feeds file, embedding model, Chroma, chunking, fetching). Answer settings extend them
in bot/config.py, Discord settings there too; each process builds the class it needs, lazily
(`Settings.load()`), never at import.

The class keeps the plain name `Settings`: inside ingest/ it is the only settings class there is.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from ingest.models import ConfigError

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """Every setting has an env var NEWSBOT_<NAME> (listed in .env.example and README)."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- corpus ---
    data_dir: Path = Path("data")
    feeds: Path = Path("feeds.toml")
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    embedding_backend: Literal["torch", "onnx", "onnx-int8"] = "onnx-int8"
    embedding_batch_size: int = Field(32, ge=1, le=1024)
    embedding_threads: int = Field(0, ge=0, le=256)  # 0 = every core this process may use
    model_cache: Path | None = None  # ONNX exports; unset = ~/.cache/newsbot/models
    chroma_url: str | None = None  # e.g. http://127.0.0.1:8000; unset = embedded store in data_dir
    collection: str = "newsbot"
    chunk_tokens: int = Field(200, ge=32, le=512)
    chunk_overlap_tokens: int = Field(32, ge=0, le=256)
    retention_days: int | None = Field(None, ge=1)

    # --- fetch ---
    fetch_concurrency: int = Field(4, ge=1, le=64)
    fetch_timeout: float = Field(20.0, gt=0)
    fetch_retries: int = Field(2, ge=0, le=10)
    fetch_backoff: float = Field(1.0, ge=0)
    max_feed_bytes: int = Field(10_000_000, ge=1024)
    max_page_bytes: int = Field(3_000_000, ge=1024)
    max_page_fetches_per_run: int = Field(200, ge=0)  # article pages of full_text feeds
    # characters of one article's text that are kept (and embedded); the rest is cut, with a warning
    max_article_chars: int = Field(100_000, ge=1000)
    user_agent: str = "newsbot/0.1 (+https://github.com/newsbot/newsbot)"
    # loopback/private addresses for article links, redirects and Discord's /feeds add
    allow_private_feed_urls: bool = False
    # --- feed health (ingest.health: `feeds status`, /sources, the bot's feed alerts) ---
    alert_failures: int = Field(3, ge=1)  # failed runs in a row before a feed is alerted
    alert_stale_days: float = Field(14.0, gt=0)  # nothing new this long (and 3x its usual gap)

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "newsbot.sqlite3"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "ingest.lock"

    @classmethod
    def load(cls, **overrides: object) -> Self:
        """Build from env/.env plus overrides; a bad value is a one-line ConfigError. An override
        this class does not have is a programming error (TypeError), never silently dropped."""
        names = set(cls.model_fields)
        for field in cls.model_fields.values():  # or an alias (NEWSBOT_DISCORD_TOKEN, ...)
            names.update(str(a) for a in getattr(field.validation_alias, "choices", ()))
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(f"{cls.__name__} has no setting {', '.join(unknown)}")
        try:
            return cls(**overrides)  # type: ignore[arg-type]
        except ValidationError as e:
            first = e.errors()[0]
            loc = ".".join(str(p) for p in first["loc"]) or "settings"
            raise ConfigError(f"invalid setting NEWSBOT_{loc.upper()}: {first['msg']}") from None
        except SettingsError as e:  # a list that is not JSON, before any validation
            m = re.search(r'field "(\w+)"', str(e))
            name = m.group(1).upper() if m else "?"
            raise ConfigError(
                f"invalid setting NEWSBOT_{name}: not valid JSON (a list is written [1, 2])"
            ) from None


def load_settings(**overrides: object) -> Settings:
    """The corpus settings (`Settings.load`)."""
    return Settings.load(**overrides)
