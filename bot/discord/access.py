"""Who may do what, how often, and which URLs may be fetched. Pure logic, no Discord calls."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from ingest.config import Settings
from ingest.netpolicy import check_url

Resolver = Callable[..., list[tuple[Any, ...]]]


# ---------------------------------------------------------------------------- servers
def guild_served(settings: Settings, guild_id: int | None) -> bool:
    """Whether this instance serves a server: only the ids in NEWSBOT_GUILD_IDS. Direct messages
    (no server) are never served: they would let anyone bypass the allow-list."""
    return guild_id is not None and guild_id in settings.guild_ids


def guild_refusal(settings: Settings, guild_id: int | None) -> str:
    """The one line a user gets when they use the bot where it does not serve."""
    if guild_id is None:
        return "I only answer inside the Discord servers I serve; please ask me there."
    if not settings.guild_ids:
        return (
            "This bot is not enabled for any server yet: its operator can enable this one by "
            f"adding its id ({guild_id}) to NEWSBOT_GUILD_IDS."
        )
    return "This bot only serves the servers its operator chose, and this is not one of them."


LEAVING_NOTICE = (
    "Hi! This newsbot instance only serves the servers its operator listed, so I'm leaving this "
    "one. If you run this bot, add this server's id ({guild_id}) to NEWSBOT_GUILD_IDS first."
)


# ---------------------------------------------------------------------------- maintainers
def is_maintainer(
    settings: Settings,
    user_id: int,
    role_ids: Iterable[int] = (),
    manage_guild: bool = False,
    *,
    guild_id: int | None,
) -> bool:
    """A maintainer, on a served server only (never in DMs or elsewhere), is a configured user
    or holds a configured role; Manage Server counts only when NEWSBOT_MAINTAINER_MANAGE_SERVER
    is on."""
    if not guild_served(settings, guild_id):
        return False
    if user_id in settings.maintainer_user_ids:
        return True
    if set(role_ids) & set(settings.maintainer_role_ids):
        return True
    return settings.maintainer_manage_server and manage_guild


def maintainer_refusal(settings: Settings) -> str:
    if (
        not settings.maintainer_user_ids
        and not settings.maintainer_role_ids
        and not settings.maintainer_manage_server
    ):
        return (
            "Sorry, only maintainers can do that, and none are configured yet: the bot's "
            "operator sets NEWSBOT_MAINTAINER_USER_IDS or NEWSBOT_MAINTAINER_ROLE_IDS."
        )
    who = "a maintainer role or user configured for this bot"
    if settings.maintainer_manage_server:
        who += ", or the Manage Server permission"
    return f"Sorry, only maintainers can do that ({who})."


# ---------------------------------------------------------------------------- cooldown
class Cooldown:
    """One question per `seconds` per user. `retry_after(user)` → 0 (allowed, recorded) or the
    seconds left to wait. Memory stays bounded: expired entries are dropped as it grows."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = float(seconds)
        self.clock = clock
        self._last: dict[Any, float] = {}

    def retry_after(self, key: Any) -> float:
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

    def reset(self, key: Any) -> None:
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


def reindex_wait_message(target: str | None, retry_after: float, now: float | None = None) -> str:
    """The refusal of a re-index started again too soon after the last one of the same target."""
    now = time.time() if now is None else now
    minutes = max(1, int(retry_after / 60 + 0.999))
    what = f"feed {target}" if target else "all feeds"
    return (
        f"A re-index of {what} ran less than a cooldown ago; the next one can start in about "
        f"{minutes} min (<t:{int(now + retry_after)}:R>)."
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
