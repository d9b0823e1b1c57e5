"""Who may do what, how often, and which URLs may be fetched. Pure logic, no Discord calls."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ingest.netpolicy import check_url

if TYPE_CHECKING:
    from bot.config import DiscordSettings

Resolver = Callable[..., list[tuple[Any, ...]]]


# ---------------------------------------------------------------------------- access rules
LEAVING_NOTICE = (
    "Hi! This newsbot instance only serves the servers its operator listed, so I'm leaving this "
    "one. If you run this bot, add this server's id ({guild_id}) to NEWSBOT_GUILD_IDS first."
)


@dataclass(frozen=True)
class Access:
    """Which servers this instance serves and who its maintainers are (from NEWSBOT_GUILD_IDS,
    NEWSBOT_MAINTAINER_*), with the one-line refusals users get."""

    guild_ids: frozenset[int] = frozenset()
    maintainer_user_ids: frozenset[int] = frozenset()
    maintainer_role_ids: frozenset[int] = frozenset()
    maintainer_manage_server: bool = False

    @classmethod
    def from_settings(cls, settings: DiscordSettings) -> Access:
        return cls(
            frozenset(settings.guild_ids),
            frozenset(settings.maintainer_user_ids),
            frozenset(settings.maintainer_role_ids),
            settings.maintainer_manage_server,
        )

    @property
    def has_maintainers(self) -> bool:
        return bool(
            self.maintainer_user_ids or self.maintainer_role_ids or self.maintainer_manage_server
        )

    def serves(self, guild_id: int | None) -> bool:
        """Only the servers in NEWSBOT_GUILD_IDS. Direct messages (no server) are never served:
        they would let anyone bypass the allow-list."""
        return guild_id is not None and guild_id in self.guild_ids

    def refusal(self, guild_id: int | None) -> str:
        """The one line a user gets when they use the bot where it does not serve."""
        if guild_id is None:
            return "I only answer inside the Discord servers I serve; please ask me there."
        if not self.guild_ids:
            return (
                "This bot is not enabled for any server yet: its operator can enable this one "
                f"by adding its id ({guild_id}) to NEWSBOT_GUILD_IDS."
            )
        return "This bot only serves the servers its operator chose, and this is not one of them."

    def is_maintainer(
        self,
        user_id: int,
        role_ids: Iterable[int] = (),
        manage_guild: bool = False,
        *,
        guild_id: int | None,
    ) -> bool:
        """A maintainer, on a served server only (never in DMs or elsewhere), is a configured
        user or holds a configured role; Manage Server counts only when
        NEWSBOT_MAINTAINER_MANAGE_SERVER is on."""
        if not self.serves(guild_id):
            return False
        if user_id in self.maintainer_user_ids or set(role_ids) & self.maintainer_role_ids:
            return True
        return self.maintainer_manage_server and manage_guild

    def is_maintainer_of(self, interaction: Any) -> bool:
        """`is_maintainer` for the user of a Discord interaction (its member's role ids as the
        payload gave them, cached or not; Manage Server in that channel)."""
        user = interaction.user
        roles = {r.id for r in getattr(user, "roles", ())}
        roles.update(int(r) for r in getattr(user, "_roles", ()))
        guild_id = interaction.guild_id
        manage = guild_id is not None and interaction.permissions.manage_guild
        return self.is_maintainer(user.id, roles, manage, guild_id=guild_id)

    def maintainer_refusal(self) -> str:
        if not self.has_maintainers:
            return (
                "Sorry, only maintainers can do that, and none are configured yet: the bot's "
                "operator sets NEWSBOT_MAINTAINER_USER_IDS or NEWSBOT_MAINTAINER_ROLE_IDS."
            )
        who = "a maintainer role or user configured for this bot"
        if self.maintainer_manage_server:
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


@dataclass(frozen=True)
class Cooldowns:
    """The bot's rate limits: one question (/ask or a mention) and, in its own bucket, one
    /latest per user per NEWSBOT_COOLDOWN_SECONDS; one re-index per target ("*" = all feeds,
    or a feed name) per NEWSBOT_REINDEX_COOLDOWN_MINUTES."""

    ask: Cooldown
    latest: Cooldown
    reindex: Cooldown

    @classmethod
    def from_settings(cls, settings: DiscordSettings) -> Cooldowns:
        seconds = settings.cooldown_seconds
        return cls(
            Cooldown(seconds), Cooldown(seconds), Cooldown(settings.reindex_cooldown_minutes * 60)
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
