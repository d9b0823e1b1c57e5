"""The few types that cross module boundaries. Frozen, plain, no behaviour beyond derivations."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime


class NewsbotError(Exception):
    """An error a user can cause and fix; its message is one clear line."""


class ConfigError(NewsbotError):
    """Bad settings or a bad feeds file (exit code 2)."""


class IngestLocked(NewsbotError):
    """Another ingest (command line or bot) holds the lock."""


@dataclass(frozen=True)
class Feed:
    """One entry of feeds.toml."""

    name: str
    url: str  # http(s)://, file:// or a plain filesystem path
    tags: tuple[str, ...] = ()
    full_text: bool = False  # fetch each article page and extract its text (trafilatura)
    enabled: bool = True
    # Who added it, when not the operator by hand ("discord:<user id>" for /feeds add): such a
    # URL came from a Discord user, so it never gets the operator's trust for private addresses.
    added_by: str = ""

    @property
    def operator_trusted(self) -> bool:
        """The operator wrote this URL: its own origin may be a private (intranet) address."""
        return not self.added_by


@dataclass(frozen=True)
class Article:
    """One normalized feed entry. `id` is the dedupe key (see ingest.parse.article_id)."""

    id: str
    url: str
    title: str
    text: str
    feed: str  # the feed this copy came from; the store merges feeds of duplicates
    guid: str = ""
    author: str = ""
    published: datetime | None = None  # always UTC when set
    tags: tuple[str, ...] = ()

    @property
    def content_hash(self) -> str:
        """Changes exactly when what we embed changes (title or text)."""
        h = hashlib.sha256()
        h.update(self.title.encode())
        h.update(b"\x00")
        h.update(self.text.encode())
        return h.hexdigest()[:32]


@dataclass(frozen=True)
class Chunk:
    """A piece of an article sized for the embedding model, with the metadata stored beside it."""

    id: str  # f"{article_id}:{index}"
    article_id: str
    index: int
    text: str  # what is embedded and stored as the Chroma document (title line + passage)


@dataclass(frozen=True)
class FetchResult:
    """What one fetch of one feed produced. `status` is ok | not_modified | error."""

    feed: str
    status: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    url: str = ""  # final URL after redirects
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None
    http_status: int | None = None


@dataclass(frozen=True)
class ParseResult:
    """What parsing one fetched body produced. `error` set means the body was not a usable feed."""

    feed: str
    articles: tuple[Article, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None
    title: str = ""  # the feed's own channel title ("Posts on Lil'Log")
    site: str = ""  # the site the feed says it belongs to (its channel link)


@dataclass(frozen=True)
class FeedState:
    """Per-feed health and conditional-GET validators, persisted by the store."""

    name: str
    url: str = ""
    etag: str | None = None
    last_modified: str | None = None
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    items_last_fetch: int = 0
    articles_total: int = 0
    warnings: tuple[str, ...] = ()  # of the last fetch (e.g. refused article pages)
    title: str = ""  # the feed's channel title, as the feed itself writes it (feed text)
    site: str = ""  # its channel link: the publication's site


def utcnow() -> datetime:
    return datetime.now(UTC)
