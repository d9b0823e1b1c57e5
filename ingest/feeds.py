"""feeds.toml → Feed records, with one-line errors; and atomic, locked, comment-keeping edits
of that file. (What a feed name typed by a user means: ingest.feednames.)

The file is a list of `[[feeds]]` tables::

    [[feeds]]
    name = "OpenAI News"                      # required, unique
    url = "https://openai.com/news/rss.xml"   # http(s)://, file:// or a filesystem path
    tags = ["lab", "openai"]                  # optional
    full_text = false                         # optional: fetch each page and extract its text
    enabled = true                            # optional

A relative filesystem path is resolved against the folder of the TOML file.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomli_w
import tomlkit
from filelock import FileLock, Timeout
from tomlkit.container import Container
from tomlkit.items import AoT, Array, Comment, Table, Whitespace

from ingest.models import ConfigError, Feed

FEED_KEYS = frozenset({"name", "url", "tags", "full_text", "enabled", "added_by"})
HTTP_SCHEMES = frozenset({"http", "https"})

DEFAULT_HEADER = (
    "# newsbot feeds: one [[feeds]] table per feed.\n"
    "# Keys: name (required, unique), url (required: http(s)://, file:// or a path relative to\n"
    "# this file), tags (list of strings), full_text (fetch each article page), enabled.\n"
)

# "openai.com/news/rss.xml": a URL that lost its scheme, not a file someone meant.
_HOSTLIKE = re.compile(
    r"^(?:www\.[^/\\]+|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}[:/?])", re.IGNORECASE
)


def url_kind(url: str) -> str:
    """'http' for http(s) URLs, 'file' for file:// URLs and plain paths, else the bad scheme."""
    if "://" not in url:
        return "file"  # a filesystem path (also "C:\\feeds\\x.xml")
    scheme = url.split("://", 1)[0].strip().lower()
    if scheme in HTTP_SCHEMES:
        return "http"
    if scheme == "file":
        return "file"
    return scheme or "(empty)"


def _check_url(url: str, where: str, base_dir: Path | None) -> str:
    """Validate one feed url; return it with a relative plain path made absolute."""
    url = url.strip()
    if not url:
        raise ConfigError(f"{where}: 'url' is empty")
    if any(c.isspace() for c in url) and "://" in url:
        raise ConfigError(f"{where}: url {url!r} contains whitespace")
    kind = url_kind(url)
    if kind == "http":
        try:
            host = urlsplit(url).hostname
        except ValueError as e:
            raise ConfigError(f"{where}: url {url!r} is not a valid URL ({e})") from None
        if not host:
            raise ConfigError(f"{where}: url {url!r} has no host")
        return url
    if kind == "file":
        if "://" in url:  # file:///abs/path
            return url
        path = Path(url).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.exists() and _HOSTLIKE.match(url):
            raise ConfigError(f"{where}: url {url!r} has no scheme; did you mean 'https://{url}'?")
        return str(path)
    raise ConfigError(
        f"{where}: url {url!r} has unsupported scheme {kind!r} (use http, https, file or a path)"
    )


def _feed_from_table(table: Any, where: str, base_dir: Path | None) -> Feed:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table ([[feeds]]), got {type(table).__name__}")
    unknown = sorted(set(table) - FEED_KEYS)
    if unknown:
        allowed = ", ".join(sorted(FEED_KEYS))
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {allowed})")
    name = table.get("name")
    if name is None:
        raise ConfigError(f"{where}: missing 'name'")
    if not isinstance(name, str):
        raise ConfigError(f"{where}: 'name' must be a string, got {type(name).__name__}")
    name = name.strip()
    if not name:
        raise ConfigError(f"{where}: 'name' is empty")
    if any(c in name for c in "\r\n\t"):
        raise ConfigError(f"{where}: 'name' must be a single line")
    where = f"{where} ({name!r})"
    url = table.get("url")
    if url is None:
        raise ConfigError(f"{where}: missing 'url'")
    if not isinstance(url, str):
        raise ConfigError(f"{where}: 'url' must be a string, got {type(url).__name__}")
    url = _check_url(url, where, base_dir)
    tags = table.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ConfigError(f"{where}: 'tags' must be a list of strings, e.g. tags = [\"lab\"]")
    clean_tags = tuple(dict.fromkeys(t.strip() for t in tags if t.strip()))
    flags: dict[str, bool] = {}
    for key, default in (("full_text", False), ("enabled", True)):
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {key!r} must be true or false, got {type(value).__name__}")
        flags[key] = value
    added_by = table.get("added_by", "")
    if not isinstance(added_by, str):
        raise ConfigError(f"{where}: 'added_by' must be a string, got {type(added_by).__name__}")
    return Feed(name=name, url=url, tags=clean_tags, added_by=added_by.strip(), **flags)


def parse_feeds_toml(text: str, source: str, base_dir: Path | None = None) -> list[Feed]:
    """Parse feeds.toml content; `source` names the file in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = " ".join(str(e).split())
        raise ConfigError(f"{source}: invalid TOML: {msg}") from None
    except RecursionError:  # tomllib recurses once per nesting level
        raise ConfigError(f"{source}: invalid TOML: arrays or tables nested too deeply") from None
    unknown = sorted(set(data) - {"feeds"})
    if unknown:
        hint = " (did you mean [[feeds]]?)" if unknown[0] in ("feed", "Feeds", "FEEDS") else ""
        raise ConfigError(f"{source}: unknown top-level key {unknown[0]!r}{hint}")
    tables = data.get("feeds", [])
    if not isinstance(tables, list):
        raise ConfigError(f"{source}: 'feeds' must be an array of tables ([[feeds]])")
    feeds: list[Feed] = []
    seen: dict[str, int] = {}
    for i, table in enumerate(tables, start=1):
        feed = _feed_from_table(table, f"{source}: feed #{i}", base_dir)
        if feed.name in seen:
            raise ConfigError(
                f"{source}: duplicate feed name {feed.name!r} (feeds #{seen[feed.name]} and #{i})"
            )
        seen[feed.name] = i
        feeds.append(feed)
    return feeds


def load_feeds(path: Path) -> list[Feed]:
    """Read and validate feeds.toml. Raises ConfigError with one line naming the file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: feeds file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a feeds TOML file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read feeds file ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(f"{path}: not valid UTF-8 (line {line}); save it as UTF-8") from None
    return parse_feeds_toml(text, str(path), path.resolve().parent)


def _header_of(path: Path) -> str:
    """The leading comment block of an existing file (kept on save), else the default header."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    except (OSError, UnicodeDecodeError):
        return DEFAULT_HEADER
    header: list[str] = []
    for line in lines:
        if line.startswith("#") or (header and not line.strip()):
            header.append(line)
        else:
            break
    text = "".join(header).rstrip()
    return text + "\n" if text else DEFAULT_HEADER


def _table_of(feed: Feed, base_dir: Path) -> dict[str, Any]:
    url = feed.url
    if url_kind(url) == "file" and "://" not in url:
        # keep paths under the file's folder relative, as a person would write them
        with contextlib.suppress(ValueError):
            url = Path(url).resolve().relative_to(base_dir).as_posix()
    table: dict[str, Any] = {"name": feed.name, "url": url}
    if feed.tags:
        table["tags"] = list(feed.tags)
    if feed.full_text:
        table["full_text"] = True
    if not feed.enabled:
        table["enabled"] = False
    if feed.added_by:
        table["added_by"] = feed.added_by
    return table


def _write_atomic(path: Path, text: str) -> None:
    """Replace the file's content atomically (temp file in the same folder + os.replace)."""
    base_dir = path.resolve().parent
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=base_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def save_feeds(path: Path, feeds: list[Feed]) -> None:
    """Write feeds atomically (temp file in the same folder + os.replace), keeping the header.
    A full rewrite: comments between feeds are lost (add_feed/remove_feed keep them)."""
    path = Path(path)
    base_dir = path.resolve().parent
    names = [f.name for f in feeds]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ConfigError(f"{path}: duplicate feed name {dup!r}")
    body = tomli_w.dumps({"feeds": [_table_of(f, base_dir) for f in feeds]})
    text = _header_of(path) + "\n" + body
    # Round-trip check before touching the file: never write something load_feeds rejects.
    parse_feeds_toml(text, str(path), base_dir)
    _write_atomic(path, text)


# ---------------------------------------------------------------------------- edits
# Every edit of feeds.toml (Discord's /feeds add|remove, the CLI's `newsbot feeds add|remove`)
# is a read-modify-write under one file lock next to the file, so concurrent edits from the
# bot and the command line never lose each other's changes. Edits go through tomlkit, which
# keeps the operator's comments and layout.
FEEDS_LOCK_TIMEOUT = 10.0  # seconds to wait for another edit of the same file


def feeds_lock_path(path: Path) -> Path:
    """The lock file of a feeds file: `feeds.toml.lock` beside it."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def feeds_file_lock(path: Path, timeout: float = FEEDS_LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the edit lock of a feeds file (shared by every process); ConfigError on timeout."""
    lock = FileLock(str(feeds_lock_path(path)))
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise ConfigError(
            f"{path}: another edit of the feeds file is still running; try again in a moment"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _read_doc(path: Path) -> tuple[str, tomlkit.TOMLDocument]:
    """The file's text (validated by load_feeds) and its tomlkit document."""
    load_feeds(path)  # one-line errors for a broken file, before any edit
    text = path.read_text(encoding="utf-8")
    return text, tomlkit.parse(text)


def _is_trivia(entry: tuple[Any, Any]) -> bool:
    key, item = entry
    return key is None and isinstance(item, Comment | Whitespace)


def _trailing_trivia(table: Table) -> int:
    """Index in the table's body where its trailing comments/blank lines start. tomlkit keeps
    the comments written above a `[[feeds]]` header (a section title, a note on that feed) at
    the end of the PREVIOUS table."""
    body = table.value.body
    n = len(body)
    while n and _is_trivia(body[n - 1]):
        n -= 1
    return n


def _insert_trivia(container: Container, index: int, items: list[Any]) -> None:
    """Insert comments/whitespace into a container's body before `index` (tomlkit has no public
    call for key-less items at a position; keep its key → index map in step)."""
    for offset, item in enumerate(items):
        at = index + offset
        for key, where in list(container._map.items()):
            if isinstance(where, tuple):
                container._map[key] = tuple(w + 1 if w >= at else w for w in where)
            elif where >= at:
                container._map[key] = where + 1
        container.body.insert(at, (None, item))


def _new_table(feed: Feed, base_dir: Path) -> Table:
    table = tomlkit.table()
    for key, value in _table_of(feed, base_dir).items():
        table[key] = value
    return table


def _commit_edit(path: Path, doc: tomlkit.TOMLDocument) -> list[Feed]:
    text = tomlkit.dumps(doc)
    # Round-trip check before touching the file: never write something load_feeds rejects.
    feeds = parse_feeds_toml(text, str(path), path.resolve().parent)
    _write_atomic(path, text)
    return feeds


def add_feed(path: Path, feed: Feed) -> list[Feed]:
    """Append a feed (validated like the file's own entries); creates the file if missing.
    Keeps every comment of the file; serialised with other edits by the file lock."""
    path = Path(path)
    base_dir = path.resolve().parent
    checked = _feed_from_table(_table_of(feed, base_dir), f"{path}: new feed", base_dir)
    with feeds_file_lock(path):
        if path.exists():
            _, doc = _read_doc(path)
            feeds = load_feeds(path)
        else:
            doc, feeds = tomlkit.parse(DEFAULT_HEADER + "\n"), []
        for existing in feeds:
            if existing.name == checked.name:
                raise ConfigError(f"{path}: a feed named {checked.name!r} already exists")
            if existing.url == checked.url:
                raise ConfigError(
                    f"{path}: feed {existing.name!r} already has the url {checked.url!r}"
                )
        table = _new_table(checked, base_dir)
        current = doc.get("feeds")
        if isinstance(current, AoT) and len(current):
            last = current[-1]
            if not last.value.body or not isinstance(last.value.body[-1][1], Whitespace):
                last.value.append(None, Whitespace("\n"))  # a blank line between tables
            current.append(table)
        elif isinstance(current, Array):  # feeds = [{...}, ...] written inline
            inline = tomlkit.inline_table()
            inline.update(_table_of(checked, base_dir))
            current.append(inline)
        else:
            doc["feeds"] = tomlkit.aot()
            doc["feeds"].append(table)
        return _commit_edit(path, doc)


def remove_feed(path: Path, name: str) -> Feed:
    """Remove the feed called `name`; returns it. ConfigError if there is no such feed.
    Comments written above the NEXT feed (a section title) stay in place."""
    path = Path(path)
    with feeds_file_lock(path):
        _, doc = _read_doc(path)
        feeds = load_feeds(path)
        index = next((i for i, f in enumerate(feeds) if f.name == name.strip()), None)
        if index is None:
            known = ", ".join(repr(f.name) for f in feeds[:10]) or "none"
            raise ConfigError(f"{path}: no feed named {name!r} (feeds: {known})")
        removed = feeds[index]
        tables = doc["feeds"]
        if isinstance(tables, AoT):
            table = tables[index]
            cut = _trailing_trivia(table)
            tail = [item for _, item in table.value.body[cut:]]
            if any(isinstance(item, Comment) for item in tail):
                if index > 0:  # move them to the end of the previous table
                    previous = tables[index - 1].value
                    while previous.body and _is_trivia(previous.body[-1]):
                        if isinstance(previous.body[-1][1], Comment):
                            break
                        previous.body.pop()
                    for item in tail:
                        previous.append(None, item)
                else:  # the first table: they go just above the array of tables
                    at = next(
                        i for i, (k, _) in enumerate(doc.body) if k is not None and k.key == "feeds"
                    )
                    if at and isinstance(doc.body[at - 1][1], Whitespace):
                        while tail and isinstance(tail[0], Whitespace):
                            tail.pop(0)
                    _insert_trivia(doc, at, tail)
        del tables[index]
        _commit_edit(path, doc)
        return removed
