"""The built wheel is a working install: it ships every prompt and answers from a fresh venv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
from conftest import FEEDS_DIR, REPO


def test_every_package_of_the_tree_is_listed_in_pyproject() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    listed = set(config["setuptools"]["packages"])
    in_tree = {
        ".".join(p.parent.relative_to(REPO).parts)
        for top in ("bot", "ingest")
        for p in (REPO / top).rglob("__init__.py")
    }
    assert in_tree <= listed, f"add to [tool.setuptools] packages: {sorted(in_tree - listed)}"
    assert config["setuptools"]["package-dir"]["bot._prompts"] == "prompts"


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NEWSBOT_", "DISCORD_", "PYTHON", "VIRTUAL_ENV"))
    }
    return {**env, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", **extra}


@pytest.mark.shared_data
@pytest.mark.slow
def test_the_wheel_ships_the_prompts_and_answers_from_a_fresh_venv(tmp_path: Path) -> None:
    # Build from a copy of the sources, so the checkout gets no build/ or egg-info.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for name in ("bot", "ingest", "prompts", "eval"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
         "-w", str(dist), "-q"],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    [wheel] = dist.glob("newsbot-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    prompts = sorted(p.name for p in (REPO / "prompts").glob("*.md"))
    assert prompts and all(f"bot/_prompts/{p}" in names for p in prompts)

    # A fresh venv with only the wheel; the shared venv's packages are reused (no download)
    # through a .pth line, which does not run the shared venv's editable-install hook.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "-q", str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    Path(site, "shared-venv.pth").write_text(sysconfig.get_path("purelib") + "\n")

    work = tmp_path / "work"  # not the checkout: nothing to find in ./prompts
    work.mkdir()
    (work / "feeds.toml").write_text(
        f'[[feeds]]\nname = "bair"\nurl = "{FEEDS_DIR / "trimmed/bair_blog.xml"}"\n'
    )
    env = _clean_env()
    where = subprocess.run(
        [str(python), "-c", "import bot.prompts as p; print(p.__file__); "
         "print(p.load_prompt('system')[:40])"],
        cwd=work, env=env, check=True, capture_output=True, text=True,
    ).stdout.splitlines()  # fmt: skip
    assert where[0].startswith(site) and not where[0].startswith(str(REPO))
    assert where[1] == (REPO / "prompts/system.md").read_text()[:40]

    newsbot = str(venv / "bin" / "newsbot")
    ingest = subprocess.run(
        [newsbot, "ingest"], cwd=work, env=env, capture_output=True, text=True, timeout=600
    )
    assert ingest.returncode == 0, ingest.stderr[-2000:]
    ask = subprocess.run(
        [newsbot, "ask", "What is gradient-based planning for world models?"],
        cwd=work, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert ask.returncode == 0, ask.stderr[-2000:]
    assert "Sources:" in ask.stdout and "bair.berkeley.edu" in ask.stdout
    assert "Traceback" not in ask.stderr
