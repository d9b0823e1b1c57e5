"""Who may do what, how often, and which URLs may be fetched. Pure logic, no Discord calls."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from ingest.config import Settings
from ingest.netpolicy import check_url

Resolver = Callable[..., list[tuple[Any, ...]]]


# ---------------------------------------------------------------------------- maintainers
def is_maintainer(
    settings: Settings, user_id: int, role_ids: Iterable[int] = (), manage_guild: bool = False
) -> bool:
    """A maintainer is a configured user, holds a configured role, or may manage the server."""
    if user_id in settings.maintainer_user_ids:
        return True
    if set(role_ids) & set(settings.maintainer_role_ids):
        return True
    return manage_guild


MAINTAINER_REFUSAL = (
    "Sorry, only maintainers can do that: people with the Manage Server permission or a "
    "maintainer role configured for this bot."
)


# ---------------------------------------------------------------------------- cooldown
class Cooldown:
    """One question per `seconds` per user. `retry_after(user)` → 0 (allowed, recorded) or the
    seconds left to wait. Memory stays bounded: expired entries are dropped as it grows."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = float(seconds)
        self.clock = clock
        self._last: dict[int, float] = {}

    def retry_after(self, key: int) -> float:
        if self.seconds <= 0:
            return 0.0
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.seconds:
            return self.seconds - (now - last)
        self._last[key] = now
        if len(self._last) > 10_000:
            self._last = {k: t for k, t in self._last.items() if now - t < self.seconds}
        return 0.0

    def reset(self, key: int) -> None:
        """Forget a user's last use (e.g. when the request was refused before doing any work)."""
        self._last.pop(key, None)


def cooldown_message(retry_after: float, now: float | None = None) -> str:
    """A friendly line with the time to retry (a Discord relative timestamp plus seconds)."""
    now = time.time() if now is None else now
    seconds = max(1, int(retry_after + 0.999))
    return (
        f"You're asking a little fast. Please try again in {seconds} s "
        f"(<t:{int(now + seconds)}:R>)."
    )


# ---------------------------------------------------------------------------- SSRF
def check_public_url(
    url: str, allow_private: bool = False, *, resolve: Resolver = socket.getaddrinfo
) -> None:
    """Refuse URLs a Discord user must not make the bot fetch: the one outbound-HTTP policy
    (ingest.netpolicy). Raises ValueError (one friendly line) unless `url` is http(s) and every
    address its host resolves to is public; `allow_private` lifts only the public-only rule
    (link-local and cloud-metadata addresses stay refused). Blocking (DNS): call it off the
    event loop. The fetch that follows is checked again on the addresses it connects to."""
    check_url(url, allow_private=allow_private, resolve=resolve)
