"""The identity of an article: the canonical form of its link and its dedupe id."""

from __future__ import annotations

import hashlib
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

# ---------------------------------------------------------------- URLs

_TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id",
        "oly_enc_id", "vero_id", "ref", "ref_src", "ref_url", "__s", "s_cid", "cmpid",
        "ncid", "sr_share", "rss",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hmb_")
_TRACKING_VALUES = {  # params that are only tracking with these values
    "source": {"rss", "feed", "atom", "rss_feed", "feedburner", "twitter", "newsletter"},
    "from": {"rss", "feed", "atom"},
    "via": {"rss", "feed"},
    "output": {"rss"},
}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(key: str, value: str) -> bool:
    k = key.lower()
    if k in _TRACKING_PARAMS or k.startswith(_TRACKING_PREFIXES):
        return True
    return value.lower() in _TRACKING_VALUES.get(k, ())


def canonical_url(url: str, base: str | None = None) -> str:
    """The form of a link used for dedupe: absolute, scheme+host lower-cased, no fragment,
    no tracking parameters, no default port. Never raises (returns the stripped input)."""
    raw = (url or "").strip()
    try:
        if base:
            raw = urljoin(base, raw)
        parts = urlsplit(raw)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").rstrip(".")
        if not host:
            return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))
        port = parts.port
        netloc = f"[{host}]" if ":" in host else host
        if port is not None and port != _DEFAULT_PORTS.get(scheme):
            netloc = f"{netloc}:{port}"
        if parts.username or parts.password:
            netloc = f"{parts.netloc.rsplit('@', 1)[0]}@{netloc}"
        path = parts.path or ("/" if scheme in _DEFAULT_PORTS else "")
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            kept = [(k, v) for k, v in pairs if not _is_tracking(k, v)]
            if len(kept) != len(pairs):
                query = urlencode(kept, doseq=True)
        return urlunsplit((scheme, netloc, path, query, ""))
    except (ValueError, TypeError, UnicodeError):
        return raw


def is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


# ---------------------------------------------------------------- ids


def _sha(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def article_id(
    url: str = "",
    guid: str = "",
    feed_name: str = "",
    title: str = "",
    published: datetime | None = None,
    *,
    prefer_guid: bool = False,
) -> str:
    """The dedupe key of an article.

    "u:" + sha1(canonical url) when there is a link, so the same article carried by two
    feeds gets one id; else "g:" + sha1(feed name + guid); else "h:" + sha1(title + date).
    `prefer_guid` skips the link (for entries of one feed that share a link but differ).
    """
    if url and not prefer_guid:
        return "u:" + _sha(canonical_url(url))
    if guid:
        return "g:" + _sha(f"{feed_name}\x00{guid}")
    stamp = published.isoformat() if published else ""
    return "h:" + _sha(f"{title}\x00{stamp}")
