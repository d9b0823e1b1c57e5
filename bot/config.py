"""The reader side's settings, each a superset of the one before, so a process builds exactly one:

* `ingest.config.Settings` — the corpus (every process; `newsbot ingest`, `feeds`, `stats`),
* `AnswerSettings` — plus how questions are answered (`newsbot ask`, `latest`, `chat`, `eval`),
* `DiscordSettings` — plus the Discord bot (`newsbot bot`, `sync`, `run`, `feedback`).

Each reads only its own variables (a bad Discord variable never stops `newsbot ingest`), is
built lazily (`AnswerSettings.load()`), and reports a bad value in one line.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator

from ingest.config import Settings


class AnswerSettings(Settings):
    """How questions are answered (env NEWSBOT_<NAME>)."""

    llm: str = "none"  # none | openai:<model> | ollama:<model> | <provider>:<model>
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout: float = Field(30.0, gt=0)
    llm_temperature: float = 0.1
    relevance_threshold: float = 0.35
    max_question_chars: int = Field(1000, ge=10)
    # earlier exchanges of a conversation (a chat, a Discord thread or reply chain) the answer
    # path sees; the engine passes no more than these
    history_turns: int = Field(3, ge=0, le=20)

    @field_validator("llm")
    @classmethod
    def _llm_form(cls, v: str) -> str:
        v = v.strip()
        if v != "none" and ":" not in v:
            raise ValueError("must be 'none' or '<provider>:<model>', e.g. openai:gpt-4o-mini")
        return v


class DiscordSettings(AnswerSettings):
    """The Discord bot process: token, servers, maintainers, channels, cooldowns, schedule,
    feed alerts, digests and watches."""

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
    alert_channel_id: int | None = None  # feed alerts go here (bot.discord.alerts); unset: none
    # channel digests and topic watches (bot.discord.digests, bot.discord.watches)
    digest_stories: int = Field(10, ge=1, le=25)  # stories in one digest (one embed field each)
    watch_limit: int = Field(10, ge=1, le=100)  # watches per user (and per channel)
    watch_max_per_hour: int = Field(4, ge=1, le=60)  # messages per watch per hour
    subscriptions_tick_seconds: float = Field(60.0, ge=5)  # how often schedules are checked
    # /metrics and /healthz (bot.metrics): off unless a port is set; loopback unless configured
    metrics_port: int | None = Field(None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    # Shards (discord.py AutoShardedBot): unset = the count Discord recommends, all in this
    # process; NEWSBOT_SHARD_IDS splits them across processes (each its own, same count)
    shard_count: int | None = Field(None, ge=1)
    shard_ids: list[int] | None = None

    @field_validator("shard_ids")
    @classmethod
    def _shard_ids(cls, v: list[int] | None, info: ValidationInfo) -> list[int] | None:
        count = info.data.get("shard_count")
        if v is None:
            return v
        if count is None:
            raise ValueError("needs NEWSBOT_SHARD_COUNT too (the same in every process)")
        if not v or any(not 0 <= i < count for i in v):
            raise ValueError(f"must be shard ids from 0 to {count - 1}, e.g. [0]")
        return v

    @property
    def discord_db_path(self) -> Path:
        """The bot's own SQLite file (answers it sent, feedback on them, digest schedules and
        watches), beside the corpus."""
        return self.data_dir / "discord.sqlite3"


def load_answer_settings(**overrides: object) -> AnswerSettings:
    return AnswerSettings.load(**overrides)


def load_discord_settings(**overrides: object) -> DiscordSettings:
    return DiscordSettings.load(**overrides)
