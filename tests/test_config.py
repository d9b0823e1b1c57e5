"""Settings: every setting documented, bad values are one clear line, nothing read at import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from ingest.config import Settings, load_settings
from ingest.models import ConfigError


def _env_names() -> list[str]:
    names = []
    for name, field in Settings.model_fields.items():
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


def test_bad_values_are_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_FETCH_CONCURRENCY", "zero")
    with pytest.raises(ConfigError) as e:
        load_settings()
    assert "NEWSBOT_FETCH_CONCURRENCY" in str(e.value) and "\n" not in str(e.value)
    monkeypatch.delenv("NEWSBOT_FETCH_CONCURRENCY")
    monkeypatch.setenv("NEWSBOT_LLM", "gpt-4o")
    with pytest.raises(ConfigError, match="provider"):
        load_settings()


def test_env_file_and_aliases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "NEWSBOT_DATA_DIR=/srv/newsbot\nDISCORD_TOKEN=abc.def\nNEWSBOT_MAINTAINER_ROLE_IDS=[1, 2]\n"
    )
    s = load_settings()
    assert s.data_dir == Path("/srv/newsbot")
    assert s.discord_token is not None and s.discord_token.get_secret_value() == "abc.def"
    assert "abc.def" not in repr(s)  # secrets never appear in logs of the settings
    assert s.maintainer_role_ids == [1, 2]


def test_importing_the_cli_reads_no_settings(tmp_path: Path) -> None:
    # A broken environment must not break imports (tests and tools import freely).
    code = "import bot.cli, bot.engine, ingest.pipeline; print('ok')"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"NEWSBOT_FETCH_CONCURRENCY": "zero", "PYTHONPATH": str(REPO), "PATH": "/usr/bin"},
    )
    assert out.stdout.strip() == "ok", out.stderr
