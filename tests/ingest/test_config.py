"""Settings: split by who reads them (corpus / answers / Discord), every setting documented, bad
values are one clear line, each command builds only the class it needs, nothing read at import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from bot.config import AnswerSettings, DiscordSettings
from ingest.config import Settings, load_settings
from ingest.models import ConfigError

CORPUS_ONLY = {"data_dir", "feeds", "embedding_model", "chroma_url", "fetch_timeout"}
ANSWER_ONLY = {"llm", "llm_base_url", "relevance_threshold", "max_question_chars", "history_turns"}
DISCORD_ONLY = {"discord_token", "guild_ids", "maintainer_role_ids", "cooldown_seconds",
                "ingest_interval_minutes", "sync_commands", "test_guild_id", "digest_stories",
                "watch_limit", "watch_max_per_hour", "subscriptions_tick_seconds"}  # fmt: skip


def _env_names() -> list[str]:
    names = []
    for name, field in DiscordSettings.model_fields.items():  # the superset of all settings
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        names.append(str(choices[-1]) if choices else f"NEWSBOT_{name.upper()}")
    return names


def test_every_setting_is_in_env_example_and_readme() -> None:
    example = (REPO / ".env.example").read_text()
    readme = (REPO / "README.md").read_text()
    for env in _env_names():
        assert env in example, f"{env} missing from .env.example"
        assert env in readme, f"{env} missing from README.md"


def test_each_side_defines_only_its_own_settings() -> None:
    corpus, answer = set(Settings.model_fields), set(AnswerSettings.model_fields)
    discord = set(DiscordSettings.model_fields)
    assert corpus >= CORPUS_ONLY and not (ANSWER_ONLY | DISCORD_ONLY) & corpus
    assert corpus | ANSWER_ONLY <= answer and not DISCORD_ONLY & answer
    assert answer | DISCORD_ONLY <= discord


def test_bad_values_are_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_FETCH_CONCURRENCY", "zero")
    with pytest.raises(ConfigError) as e:
        load_settings()
    assert "NEWSBOT_FETCH_CONCURRENCY" in str(e.value) and "\n" not in str(e.value)
    monkeypatch.delenv("NEWSBOT_FETCH_CONCURRENCY")
    monkeypatch.setenv("NEWSBOT_LLM", "gpt-4o")
    with pytest.raises(ConfigError, match="provider"):
        AnswerSettings.load()
    monkeypatch.setenv("NEWSBOT_LLM", "none")
    monkeypatch.setenv("NEWSBOT_COOLDOWN_SECONDS", "-1")
    with pytest.raises(ConfigError) as e:
        DiscordSettings.load()
    assert str(e.value).startswith("invalid setting NEWSBOT_COOLDOWN_SECONDS: ")
    assert "\n" not in str(e.value)


def test_a_setting_of_another_side_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad Discord or answer setting never stops the processes that do not read it."""
    monkeypatch.setenv("NEWSBOT_COOLDOWN_SECONDS", "soon")
    monkeypatch.setenv("NEWSBOT_LLM", "gpt-4o")
    assert load_settings().fetch_concurrency == 4
    monkeypatch.delenv("NEWSBOT_LLM")
    assert AnswerSettings.load().llm == "none"
    with pytest.raises(ConfigError, match="NEWSBOT_COOLDOWN_SECONDS"):
        DiscordSettings.load()


def test_an_override_the_class_does_not_have_is_refused() -> None:
    with pytest.raises(TypeError, match="Settings has no setting llm"):
        load_settings(llm="openai:x")  # would be silently dropped otherwise
    assert AnswerSettings.load(llm="openai:x", history_turns=1).history_turns == 1


def test_each_command_builds_the_settings_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("NEWSBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NEWSBOT_GUILD_IDS", "not a list")
    monkeypatch.setenv("NEWSBOT_LLM", "gpt-4o")
    assert main(["stats", "--json"]) == 0  # the corpus settings only
    assert '"articles": 0' in capsys.readouterr().out
    assert main(["ask", "x"]) == 2  # the answer settings: NEWSBOT_LLM is read
    assert "invalid setting NEWSBOT_LLM" in capsys.readouterr().err
    monkeypatch.delenv("NEWSBOT_LLM")
    assert main(["feedback"]) == 2  # the Discord settings
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("newsbot: configuration error: invalid setting NEWSBOT_GUILD_IDS")


def test_env_file_and_aliases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "NEWSBOT_DATA_DIR=/srv/newsbot\nDISCORD_TOKEN=abc.def\nNEWSBOT_MAINTAINER_ROLE_IDS=[1, 2]\n"
    )
    s = DiscordSettings.load()
    assert s.data_dir == Path("/srv/newsbot")
    assert s.discord_token is not None and s.discord_token.get_secret_value() == "abc.def"
    assert "abc.def" not in repr(s)  # secrets never appear in logs of the settings
    assert s.maintainer_role_ids == [1, 2]
    assert s.discord_db_path == Path("/srv/newsbot/discord.sqlite3")
    assert load_settings().data_dir == Path("/srv/newsbot")  # the same .env, its own part


def test_importing_the_cli_reads_no_settings(tmp_path: Path) -> None:
    # A broken environment must not break imports (tests and tools import freely).
    code = "import bot.cli, bot.engine, bot.discord.client, ingest.pipeline; print('ok')"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"NEWSBOT_FETCH_CONCURRENCY": "zero", "PYTHONPATH": str(REPO), "PATH": "/usr/bin"},
    )
    assert out.stdout.strip() == "ok", out.stderr
