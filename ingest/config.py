"""Typed settings shared by every process. Built lazily (`get_settings()`), never at import."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    user_agent: str = "newsbot/0.1 (+https://github.com/newsbot/newsbot)"

    # --- answers ---
    llm: str = "none"  # none | openai:<model> | ollama:<model> | <provider>:<model>
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout: float = Field(30.0, gt=0)
    llm_temperature: float = 0.1
    relevance_threshold: float = 0.35
    max_question_chars: int = Field(1000, ge=10)

    # --- discord ---
    discord_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("NEWSBOT_DISCORD_TOKEN", "DISCORD_TOKEN")
    )
    discord_api_base: str | None = Field(
        None, validation_alias=AliasChoices("NEWSBOT_DISCORD_API_BASE", "DISCORD_API_BASE")
    )
    discord_gateway_url: str | None = Field(
        None, validation_alias=AliasChoices("NEWSBOT_DISCORD_GATEWAY_URL", "DISCORD_GATEWAY_URL")
    )
    guild_ids: list[int] = []  # the servers this instance serves; empty = none (setup mode)
    maintainer_role_ids: list[int] = []
    maintainer_user_ids: list[int] = []
    maintainer_manage_server: bool = False  # Manage Server on a served server = maintainer
    channel_ids: list[int] = []  # empty = answer mentions in every channel the bot can see
    open_threads: bool = True
    sync_commands: bool = False  # sync slash commands at start-up (or run `newsbot sync`)
    test_guild_id: int | None = None  # sync to this guild only (instant) during development
    ingest_interval_minutes: float = Field(60.0, ge=0)  # 0 = no scheduled ingest
    cooldown_seconds: float = Field(10.0, ge=0)
    reindex_cooldown_minutes: float = Field(10.0, ge=0)  # per target (all feeds, or one feed)
    allow_private_feed_urls: bool = False
    # --- feed alerts (ingest.health, bot.discord.alerts) ---
    alert_channel_id: int | None = None  # maintainers' channel; unset = no alert messages
    alert_failures: int = Field(3, ge=1)  # failed runs in a row before a feed is alerted
    alert_stale_days: float = Field(14.0, gt=0)  # nothing new this long (and 3x its usual gap)

    @field_validator("llm")
    @classmethod
    def _llm_form(cls, v: str) -> str:
        v = v.strip()
        if v != "none" and ":" not in v:
            raise ValueError("must be 'none' or '<provider>:<model>', e.g. openai:gpt-4o-mini")
        return v

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "newsbot.sqlite3"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "ingest.lock"


def load_settings(**overrides: object) -> Settings:
    """Build settings from env/.env plus overrides; a bad value is a one-line ConfigError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(f"invalid setting NEWSBOT_{loc.upper()}: {first['msg']}") from None


@functools.cache
def get_settings() -> Settings:
    return load_settings()
