"""Prompt templates and user-facing texts, kept as files in prompts/<name>.md and loaded by name.

Looked up in order: $NEWSBOT_PROMPTS_DIR, the package data `bot._prompts` (an installed wheel
ships the top-level prompts/*.md there; an editable install maps it to prompts/), then the
repository's prompts/ (a checkout run with PYTHONPATH).
"""

from __future__ import annotations

import functools
import os
from importlib import resources
from pathlib import Path

__all__ = ["PromptNotFoundError", "load_prompt", "prompt_dirs", "render_prompt"]

REPO_PROMPTS = Path(__file__).resolve().parent.parent / "prompts"
PACKAGE = "bot._prompts"


class PromptNotFoundError(FileNotFoundError):
    """A prompt file is missing; the message names the file and where it was looked for."""


def prompt_dirs() -> list[str]:
    """Where prompts are looked for, first match wins (for error messages and docs)."""
    env = os.environ.get("NEWSBOT_PROMPTS_DIR")
    return [*([env] if env else []), f"package data {PACKAGE}", str(REPO_PROMPTS)]


def _read_packaged(filename: str) -> str | None:
    try:
        res = resources.files(PACKAGE).joinpath(filename)
        return res.read_text(encoding="utf-8") if res.is_file() else None
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError, TypeError):
        return None


@functools.cache
def load_prompt(name: str) -> str:
    """The text of prompts/<name>.md, without the trailing newline. Cached per process."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"invalid prompt name {name!r}")
    filename = f"{name}.md"
    env = os.environ.get("NEWSBOT_PROMPTS_DIR")
    for read in (
        lambda: _read_file(Path(env) / filename) if env else None,
        lambda: _read_packaged(filename),
        lambda: _read_file(REPO_PROMPTS / filename),
    ):
        text = read()
        if text is not None:
            return text.rstrip("\n")
    raise PromptNotFoundError(
        f"prompt file prompts/{filename} not found (looked in {', '.join(prompt_dirs())})"
    )


def _read_file(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def render_prompt(name: str, **values: object) -> str:
    """load_prompt(name) with {placeholders} filled; a missing value names the prompt."""
    try:
        return load_prompt(name).format(**values)
    except KeyError as e:
        raise KeyError(f"prompt prompts/{name}.md needs a value for {{{e.args[0]}}}") from None
