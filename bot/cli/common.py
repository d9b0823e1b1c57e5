"""What every `newsbot` command shares: exit codes, date formats, JSON output, input checks, and
the one way a `--feed NAME` typed by the user is resolved (the same as Discord's `source:`)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ingest.feednames import FeedNameError, resolve_feed_name
from ingest.models import ConfigError
from ingest.sanitize import clean_text

EXIT_OK, EXIT_PARTIAL, EXIT_CONFIG, EXIT_LOCKED = 0, 1, 2, 3


def when(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC") if dt else "never"


def shown(text: str) -> str:
    """Text for the terminal: corpus text is cleaned at ingest, but a corpus stored before that
    or an LLM's reply may still hold terminal escapes or bidi controls (ingest.sanitize)."""
    return clean_text(text)


def print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str))


def feed_option(name: str, names: Iterable[str]) -> str:
    """The feed a `--feed` value means among `names` (ingest.feednames.resolve_feed_name); a name
    that means none or several is a one-line error (exit code 2)."""
    try:
        return resolve_feed_name(name, names)
    except FeedNameError as e:
        raise ConfigError(f"--feed: {e}") from None


def invalid_utf8(text: str) -> str | None:
    """A one-line description of the first byte that is not UTF-8, or None when `text` is valid.

    Python decodes argv (and stdin here) with surrogateescape, so undecodable bytes arrive as
    lone surrogates that would fail much later (tokenizer, SQLite) with a traceback."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        bad = text[e.start]
        byte = ord(bad) - 0xDC00 if 0xDC80 <= ord(bad) <= 0xDCFF else None
        what = f"byte 0x{byte:02x}" if byte is not None else f"character U+{ord(bad):04X}"
        return f"not valid UTF-8 text ({what} at character {e.start + 1})"
    return None
