"""The fixture world: one guild with channels, roles and users, rendered as Discord payloads.

Only the fields discord.py reads with ``data[...]`` (and a few that change behaviour: roles,
permissions, member_count, owner_id) are filled in; discord.py reads everything else with .get().
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]

DISCORD_EPOCH_MS = 1420070400000
ADMINISTRATOR, MANAGE_GUILD = 1 << 3, 1 << 5
# add reactions, view channel, send, embed links, attach files, read history, external emojis,
# change nickname, use application commands, create public threads, send in threads
EVERYONE_PERMISSIONS = sum(1 << bit for bit in (6, 10, 11, 14, 15, 16, 18, 26, 31, 35, 38))
ALL_PERMISSIONS = (1 << 51) - 1
JOINED_AT = "2024-01-01T00:00:00+00:00"


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class Snowflakes:
    """Increasing ids that encode the current time: discord.py derives created_at (and so
    whether an interaction has expired) from them."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            now = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
            self._last = max(now, self._last + 1)
            return str(self._last)


def make_user(user_id: str, name: str, bot: bool = False) -> JSON:
    return {
        "id": user_id,
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
    }


class World:
    """Guild "Test Guild": #general and #news under a category; roles @everyone, Maintainer,
    Admin (Manage Guild) and the bot's managed role; users user, maintainer, admin, owner."""

    def __init__(self) -> None:
        self.snowflake = sf = Snowflakes()
        self.application_id = sf()  # also the bot user's id, as for any modern application
        self.guild_id = sf()
        self.bot_user = make_user(self.application_id, "NewsBot", bot=True)
        self.users = {
            name: make_user(sf(), name) for name in ("user", "maintainer", "admin", "owner")
        }
        self.roles = {
            "@everyone": self._role(self.guild_id, "@everyone", 0, EVERYONE_PERMISSIONS),
            "Maintainer": self._role(sf(), "Maintainer", 1, EVERYONE_PERMISSIONS),
            "Admin": self._role(sf(), "Admin", 2, EVERYONE_PERMISSIONS | MANAGE_GUILD),
            "NewsBot": self._role(sf(), "NewsBot", 3, EVERYONE_PERMISSIONS),
        }
        self.roles["NewsBot"].update(managed=True, tags={"bot_id": self.application_id})
        self.member_roles: dict[str, list[str]] = {
            self.users["maintainer"]["id"]: [self.roles["Maintainer"]["id"]],
            self.users["admin"]["id"]: [self.roles["Admin"]["id"]],
            self.application_id: [self.roles["NewsBot"]["id"]],
        }
        category = self.make_channel(sf(), "Text Channels", 4)
        self.channels = {"Text Channels": category}
        for position, name in enumerate(("general", "news")):
            self.channels[name] = self.make_channel(sf(), name, 0, category["id"], position)
        self.channel_id = self.channels["general"]["id"]
        self.by_id: dict[str, JSON] = {c["id"]: c for c in self.channels.values()}  # + threads
        self.other_guilds: dict[str, JSON] = {}  # more servers the bot is in (add_guild)
        self.left: set[str] = set()  # servers the bot left
        self.seen: dict[str, JSON] = {}  # users met as dicts (new_user in tests), by id
        self.dms_closed: set[str] = set()  # users who do not accept DMs from the bot

    def add_guild(self, name: str, owner: str = "user") -> JSON:
        """Another server the bot is in: one #lobby channel (its system channel), only the
        @everyone role, every fixture user as a member without roles, `owner` owning it."""
        guild_id = self.snowflake()
        lobby = {**self.make_channel(self.snowflake(), "lobby", 0), "guild_id": guild_id}
        self.by_id[lobby["id"]] = lobby
        guild = {
            "id": guild_id,
            "name": name,
            "owner_id": self.user(owner)["id"],
            "channel_id": lobby["id"],
            "roles": [self._role(guild_id, "@everyone", 0, EVERYONE_PERMISSIONS)],
            "channels": [lobby],
        }
        self.other_guilds[guild_id] = guild
        return guild

    def other_member(self, guild_id: str, who: str | JSON, with_permissions: bool = False) -> JSON:
        """A member of another server (no roles; the owner has every permission)."""
        user, guild = self.user(who), self.other_guilds[guild_id]
        member: JSON = {"user": user, "roles": [], "joined_at": JOINED_AT, "nick": None,
                        "deaf": False, "mute": False, "pending": False, "flags": 0}  # fmt: skip
        if with_permissions:
            owner = user["id"] == guild["owner_id"]
            member["permissions"] = str(ALL_PERMISSIONS if owner else EVERYONE_PERMISSIONS)
        return member

    def other_guild_payload(self, guild_id: str) -> JSON:
        """GUILD_CREATE of another server (``add_guild``): every fixture user a member."""
        guild = self.other_guilds[guild_id]
        members = [self.other_member(guild_id, u) for u in [*self.users.values(), self.bot_user]]
        return {
            **self.guild_payload(),
            "id": guild_id,
            "name": guild["name"],
            "owner_id": guild["owner_id"],
            "system_channel_id": guild["channel_id"],
            "member_count": len(members),
            "members": members,
            "roles": guild["roles"],
            "channels": guild["channels"],
            "threads": [],
        }

    def dm_channel(self, who: str | JSON) -> JSON:
        """The DM channel between a user and the bot (created on first use)."""
        user = self.user(who)
        for channel in self.by_id.values():
            if channel["type"] == 1 and channel["recipients"][0]["id"] == user["id"]:
                return channel
        channel = {"id": self.snowflake(), "type": 1, "recipients": [user],
                   "last_message_id": None}  # fmt: skip
        self.by_id[channel["id"]] = channel
        return channel

    @staticmethod
    def _role(role_id: str, name: str, position: int, permissions: int) -> JSON:
        return {
            "id": role_id,
            "name": name,
            "position": position,
            "permissions": str(permissions),
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def make_channel(
        self, channel_id: str, name: str, type_: int, parent: str | None = None, position: int = 0
    ) -> JSON:
        """A channel of the main server (type 0 text, 4 category, 11 public thread)."""
        return {
            "id": channel_id,
            "type": type_,
            "guild_id": self.guild_id,
            "name": name,
            "position": position,
            "parent_id": parent,
            "permission_overwrites": [],
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
        }

    def user(self, who: str | JSON) -> JSON:
        """A user by fixture name ("user", "maintainer", "admin", "owner", "bot"), id or dict; a
        user first met as a dict (a test's own user) is known by id afterwards, as Discord knows
        everyone who used the bot (Create DM finds them)."""
        if isinstance(who, dict):
            self.seen.setdefault(who["id"], who)
            return who
        everyone = {**self.users, **self.seen, "bot": self.bot_user}
        found = everyone.get(who) or next(
            (u for u in everyone.values() if u["id"] == str(who)), None
        )
        if found is None:
            raise KeyError(f"unknown user {who!r}; known: {sorted(everyone)}")
        return found

    def permissions(self, who: str | JSON) -> int:
        """Guild-level permissions, as Discord computes them (owner and Administrator get all)."""
        user_id = self.user(who)["id"]
        if user_id == self.users["owner"]["id"]:
            return ALL_PERMISSIONS
        granted = self.member_roles.get(user_id, [])
        roles = [r for r in self.roles.values() if r["id"] in granted or r["name"] == "@everyone"]
        permissions = 0
        for role in roles:
            permissions |= int(role["permissions"])
        return ALL_PERMISSIONS if permissions & ADMINISTRATOR else permissions

    def member(
        self, who: str | JSON, *, with_user: bool = True, with_permissions: bool = False
    ) -> JSON:
        """A member of the main server with its roles; in an interaction it also carries
        its computed ``permissions``, as Discord sends them."""
        user = self.user(who)
        member: JSON = {
            "roles": list(self.member_roles.get(user["id"], [])),
            "joined_at": JOINED_AT,
            "nick": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
        }
        if with_user:
            member["user"] = user
        if with_permissions:
            member["permissions"] = str(self.permissions(user))
        return member

    def guild_payload(self) -> JSON:
        """GUILD_CREATE: every member is listed, so discord.py considers the guild chunked."""
        members = [self.member(u) for u in [*self.users.values(), self.bot_user]]
        threads = [c for c in self.by_id.values() if c["type"] in (10, 11, 12)]
        return {
            "id": self.guild_id,
            "name": "Test Guild",
            "icon": None,
            "owner_id": self.users["owner"]["id"],
            "features": [],
            "preferred_locale": "en-US",
            "system_channel_id": self.channel_id,
            "joined_at": JOINED_AT,
            "unavailable": False,
            "large": False,
            "member_count": len(members),
            "members": members,
            "roles": list(self.roles.values()),
            "channels": [c for c in self.by_id.values() if c not in threads],
            "threads": threads,
            "emojis": [],
            "stickers": [],
            "presences": [],
            "voice_states": [],
        }

    def pings(self, content: str, allowed: JSON | None, replied_author: str | None) -> JSON:
        """mentions / mention_roles / mention_everyone of a message: who it actually pings,
        honouring allowed_mentions (absent: everything in the text, plus the replied-to author)."""
        users = set(re.findall(r"<@!?(\d+)>", content))
        roles = set(re.findall(r"<@&(\d+)>", content))
        everyone = "@everyone" in content or "@here" in content
        replied = True
        if allowed is not None:
            parse = allowed.get("parse") or []
            if "users" not in parse:
                users &= {str(u) for u in allowed.get("users") or []}
            if "roles" not in parse:
                roles &= {str(r) for r in allowed.get("roles") or []}
            everyone = everyone and "everyone" in parse
            replied = bool(allowed.get("replied_user", False))
        if replied_author and replied:
            users.add(replied_author)
        known = {u["id"] for u in [*self.users.values(), self.bot_user]}
        mentions = [
            {**self.user(u), "member": self.member(u, with_user=False)}
            for u in sorted(users & known)
        ]
        role_ids = sorted(roles & {r["id"] for r in self.roles.values()})
        return {"mentions": mentions, "mention_roles": role_ids, "mention_everyone": everyone}
