"""A small Discord-compatible server (REST + gateway websocket) for testing discord.py bots.

It runs on 127.0.0.1 in a background thread with its own event loop, so that synchronous tests
can drive it. Point an unmodified discord.py client at it with ``discord.http.Route.BASE =
server.api_base`` and ``DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(server.gateway_url)``.
See README.md in this package for the API.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import secrets
import socket
import threading
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import WSMsgType, web

try:  # discord.py asks for zstd-stream when `zstandard` is importable, zlib-stream otherwise
    import zstandard
except ImportError:  # pragma: no cover - depends on the environment
    zstandard = None

JSON = dict[str, Any]
Record = dict[str, Any]
T = TypeVar("T")

DISCORD_EPOCH_MS = 1420070400000
ATTACHMENT_LIMIT = 10 * 1024 * 1024
# Permission bits (https://discord.com/developers/docs/topics/permissions)
ADMINISTRATOR, MANAGE_GUILD = 1 << 3, 1 << 5
EVERYONE_PERMISSIONS = sum(1 << b for b in (6, 10, 11, 14, 15, 16, 18, 26, 31, 35, 36, 38))
ALL_PERMISSIONS = (1 << 51) - 1
# Gateway intents
GUILD_MESSAGES, GUILD_MESSAGE_REACTIONS, MESSAGE_CONTENT = 1 << 9, 1 << 10, 1 << 15
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | MESSAGE_CONTENT  # members, presences, message content
EVENT_INTENTS = {
    "MESSAGE_CREATE": GUILD_MESSAGES,
    "MESSAGE_UPDATE": GUILD_MESSAGES,
    "MESSAGE_DELETE": GUILD_MESSAGES,
    "MESSAGE_REACTION_ADD": GUILD_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE": GUILD_MESSAGE_REACTIONS,
}
EPHEMERAL, LOADING = 1 << 6, 1 << 7


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class DiscordError(Exception):
    """An HTTP error answered with Discord's JSON error body."""

    def __init__(self, status: int, code: int, message: str, errors: JSON | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> JSON:
        body: JSON = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


def unknown(what: str, code: int) -> DiscordError:
    return DiscordError(404, code, f"Unknown {what}")


class FormErrors:
    """Collects errors in Discord's nested ``{"field": {"_errors": [...]}}`` shape."""

    def __init__(self) -> None:
        self.errors: JSON = {}

    def add(self, path: tuple[str, ...], code: str, message: str) -> None:
        node = self.errors
        for key in path:
            node = node.setdefault(key, {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def max_len(self, path: tuple[str, ...], value: Any, limit: int, required: bool = False) -> int:
        text = "" if value is None else str(value)
        if required and not text:
            self.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        elif len(text) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
        return len(text)

    def raise_if_any(self, prefix: tuple[str, ...] = ()) -> None:
        if self.errors:
            errors = self.errors
            for key in reversed(prefix):
                errors = {key: errors}
            raise DiscordError(400, 50035, "Invalid Form Body", errors)


def validate_message(body: JSON, *, creating: bool, prefix: tuple[str, ...] = ()) -> None:
    """Apply Discord's message limits; raise DiscordError 50035 / 50006 like Discord does."""
    form = FormErrors()
    form.max_len(("content",), body.get("content"), 2000)
    embeds = body.get("embeds") or []
    if len(embeds) > 10:
        form.add(("embeds",), "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds[:10]):
        at = ("embeds", str(i))
        total += form.max_len((*at, "title"), embed.get("title"), 256)
        total += form.max_len((*at, "description"), embed.get("description"), 4096)
        total += form.max_len((*at, "footer", "text"), (embed.get("footer") or {}).get("text"), 2048)
        total += form.max_len((*at, "author", "name"), (embed.get("author") or {}).get("name"), 256)
        fields = embed.get("fields") or []
        if len(fields) > 25:
            form.add((*at, "fields"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for j, fld in enumerate(fields):
            total += form.max_len((*at, "fields", str(j), "name"), fld.get("name"), 256, True)
            total += form.max_len((*at, "fields", str(j), "value"), fld.get("value"), 1024, True)
    if total > 6000:
        form.add(("embeds",), "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
    rows = body.get("components") or []
    if len(rows) > 5:
        form.add(("components",), "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    for i, row in enumerate(rows):
        inner = row.get("components") or []
        if len(inner) > 5:
            form.add(("components", str(i), "components"), "BASE_TYPE_MAX_LENGTH",
                     "Must be 5 or fewer in length.")
        for j, comp in enumerate(inner):
            at = ("components", str(i), "components", str(j))
            form.max_len((*at, "label"), comp.get("label"), 80)
            form.max_len((*at, "custom_id"), comp.get("custom_id"), 100)
    form.raise_if_any(prefix)
    if creating and not any(
        body.get(k) for k in ("content", "embeds", "components", "sticker_ids", "poll", "attachments")
    ):
        raise DiscordError(400, 50006, "Cannot send an empty message")


def validate_commands(commands: list[JSON]) -> None:
    """The checks Discord applies when commands are synced (names, lengths, option order)."""
    form = FormErrors()
    if len(commands) > 100:
        form.add((), "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
    seen: set[tuple[str, int]] = set()

    def check(path: tuple[str, ...], item: JSON, slash: bool) -> None:
        name = item.get("name") or ""
        if slash and (not re.fullmatch(r"[-_\w]{1,32}", name) or name != name.lower()):
            form.add((*path, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        if slash and not 1 <= len(item.get("description") or "") <= 100:
            form.add((*path, "description"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        options = item.get("options") or []
        if len(options) > 25:
            form.add((*path, "options"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        optional_seen = False
        for k, opt in enumerate(options):
            if opt.get("required") and optional_seen:
                form.add((*path, "options"), "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                         "Required options must be placed before non-required options")
            optional_seen = optional_seen or (opt.get("type") not in (1, 2) and not opt.get("required"))
            if len(opt.get("choices") or []) > 25:
                form.add((*path, "options", str(k), "choices"), "BASE_TYPE_MAX_LENGTH",
                         "Must be 25 or fewer in length.")
            check((*path, "options", str(k)), opt, True)

    for i, cmd in enumerate(commands):
        key = (cmd.get("name", ""), cmd.get("type", 1))
        if key in seen:
            form.add((str(i), "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME",
                     "Application command names must be unique")
        seen.add(key)
        check((str(i),), cmd, cmd.get("type", 1) == 1)
    form.raise_if_any()


class Snowflakes:
    """Increasing ids that encode the current time, as discord.py derives created_at from them."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            value = max((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22, self._last + 1)
            self._last = value
            return str(value)


class GatewaySession:
    """One identified gateway session; survives a dropped connection so that RESUME works."""

    def __init__(self, session_id: str, intents: int) -> None:
        self.id, self.intents, self.seq = session_id, intents, 0
        self.history: list[JSON] = []
        self.conn: GatewayConnection | None = None

    def dispatch(self, event: str, data: JSON) -> None:
        self.seq += 1
        payload = {"op": 0, "t": event, "s": self.seq, "d": data}
        self.history = [*self.history[-999:], payload]
        if self.conn is not None:
            self.conn.send(payload)


class GatewayConnection:
    """A websocket plus its transport compression and an ordered send queue."""

    def __init__(self, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.ws, self.compress = ws, compress
        self.queue: asyncio.Queue[JSON] = asyncio.Queue()
        self.session: GatewaySession | None = None
        self._zlib = zlib.compressobj()
        self._zstd = zstandard.ZstdCompressor().compressobj() if zstandard else None

    def send(self, payload: JSON) -> None:
        self.queue.put_nowait(payload)

    async def writer(self) -> None:
        while True:
            raw = json.dumps(await self.queue.get()).encode()
            if self.compress == "zlib-stream":
                await self.ws.send_bytes(self._zlib.compress(raw) + self._zlib.flush(zlib.Z_SYNC_FLUSH))
            elif self.compress == "zstd-stream" and self._zstd is not None:
                flush = zstandard.COMPRESSOBJ_FLUSH_BLOCK
                await self.ws.send_bytes(self._zstd.compress(raw) + self._zstd.flush(flush))
            else:
                await self.ws.send_str(raw.decode())


class Interaction:
    """Server-side bookkeeping of one interaction sent to the bot."""

    def __init__(self, payload: JSON) -> None:
        self.id: str = payload["id"]
        self.token: str = payload["token"]
        self.payload = payload
        self.created = time.monotonic()
        self.callback: JSON | None = None
        self.original_id: str | None = None
        self.followup_ids: list[str] = []

    @property
    def type(self) -> int:
        return int(self.payload["type"])


class FakeDiscord:
    """A Discord look-alike with one guild, a few channels, roles and users. See README.md."""

    def __init__(
        self,
        *,
        token: str | None = None,
        heartbeat_interval_ms: int = 41250,
        compression: str = "auto",
        privileged_intents: int = PRIVILEGED_INTENTS,
        interaction_deadline: float = 3.0,
        followup_ttl: float = 15 * 60,
    ) -> None:
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.compression = compression  # "auto": honour the client's ?compress=, "none": plain text
        self.privileged_intents = privileged_intents
        self.interaction_deadline = interaction_deadline
        self.followup_ttl = followup_ttl
        self.snowflake = Snowflakes()
        self.ready_event = threading.Event()
        self._cond = threading.Condition(threading.RLock())
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        # recorded data (guarded by self._cond)
        self.records: list[Record] = []
        self.requests: list[JSON] = []
        self.unknown_requests: list[JSON] = []
        self.heartbeats: list[float] = []
        self.identify_payloads: list[JSON] = []
        self.files: dict[str, bytes] = {}
        self._messages: dict[str, JSON] = {}
        self._channel_messages: dict[str, list[str]] = {}
        self._versions: dict[str, list[JSON]] = {}
        self._allowed: dict[str, JSON | None] = {}
        self._commands: dict[str | None, list[JSON]] = {None: []}
        self._interactions: dict[str, Interaction] = {}
        self._sessions: dict[str, GatewaySession] = {}
        self._injected: list[JSON] = []
        self._build_world()

    # ------------------------------------------------------------------ world
    def _build_world(self) -> None:
        sf = self.snowflake
        self.application_id = sf()
        self.guild_id = sf()
        self.bot_user = self._make_user(self.application_id, "NewsBot", bot=True)
        self.users: dict[str, JSON] = {
            name: self._make_user(sf(), name) for name in ("user", "maintainer", "admin", "owner")
        }
        role = self._make_role
        self.roles: dict[str, JSON] = {
            "@everyone": role(self.guild_id, "@everyone", 0, EVERYONE_PERMISSIONS),
            "Maintainer": role(sf(), "Maintainer", 1, EVERYONE_PERMISSIONS),
            "Admin": role(sf(), "Admin", 2, EVERYONE_PERMISSIONS | MANAGE_GUILD),
            "NewsBot": role(sf(), "NewsBot", 3, EVERYONE_PERMISSIONS, bot_id=self.application_id),
        }
        self.member_roles: dict[str, list[str]] = {
            self.users["user"]["id"]: [],
            self.users["maintainer"]["id"]: [self.roles["Maintainer"]["id"]],
            self.users["admin"]["id"]: [self.roles["Admin"]["id"]],
            self.users["owner"]["id"]: [],
            self.application_id: [self.roles["NewsBot"]["id"]],
        }
        category = self._make_channel(sf(), "Text Channels", 4, 0)
        self.channels: dict[str, JSON] = {"Text Channels": category}
        for position, name in enumerate(("general", "news")):
            self.channels[name] = self._make_channel(sf(), name, 0, position, category["id"])
        self.channel_id = self.channels["general"]["id"]
        self._channels: dict[str, JSON] = {c["id"]: c for c in self.channels.values()}

    @staticmethod
    def _make_user(user_id: str, name: str, bot: bool = False) -> JSON:
        return {"id": user_id, "username": name, "discriminator": "0", "global_name": name,
                "avatar": None, "bot": bot, "system": False, "public_flags": 0, "flags": 0,
                "banner": None, "accent_color": None, "avatar_decoration_data": None}

    def _make_role(self, role_id: str, name: str, pos: int, perms: int, bot_id: str = "") -> JSON:
        return {"id": role_id, "name": name, "color": 0, "colors": {"primary_color": 0},
                "hoist": False, "icon": None, "unicode_emoji": None, "position": pos,
                "permissions": str(perms), "managed": bool(bot_id), "mentionable": False,
                "flags": 0, "tags": {"bot_id": bot_id} if bot_id else {}}

    def _make_channel(self, cid: str, name: str, ctype: int, pos: int, parent: str | None = None) -> JSON:
        return {"id": cid, "type": ctype, "guild_id": self.guild_id, "name": name, "position": pos,
                "parent_id": parent, "topic": None, "nsfw": False, "last_message_id": None,
                "rate_limit_per_user": 0, "permission_overwrites": [], "flags": 0}

    def user(self, who: str | JSON) -> JSON:
        """A user by fixture name ("user", "maintainer", "admin", "owner", "bot"), id or dict."""
        if isinstance(who, dict):
            return who
        if who == "bot" or who == self.application_id:
            return self.bot_user
        if who in self.users:
            return self.users[who]
        for user in self.users.values():
            if user["id"] == str(who):
                return user
        raise KeyError(f"unknown user {who!r}")

    def permissions(self, who: str | JSON) -> int:
        user_id = self.user(who)["id"]
        if user_id == self.users["owner"]["id"]:
            return ALL_PERMISSIONS
        perms = int(self.roles["@everyone"]["permissions"])
        for role in self.roles.values():
            if role["id"] in self.member_roles.get(user_id, []):
                perms |= int(role["permissions"])
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms

    def member(self, who: str | JSON, *, with_user: bool = True, with_permissions: bool = False) -> JSON:
        user = self.user(who)
        member: JSON = {"roles": list(self.member_roles.get(user["id"], [])), "nick": None,
                        "avatar": None, "banner": None, "joined_at": "2024-01-01T00:00:00+00:00",
                        "premium_since": None, "deaf": False, "mute": False, "pending": False,
                        "flags": 0, "communication_disabled_until": None}
        if with_user:
            member["user"] = user
        if with_permissions:
            member["permissions"] = str(self.permissions(user))
        return member

    def guild_payload(self) -> JSON:
        members = [self.member(u) for u in [*self.users.values(), self.bot_user]]
        threads = [c for c in self._channels.values() if c["type"] in (10, 11, 12)]
        return {"id": self.guild_id, "name": "Test Guild", "icon": None, "splash": None,
                "discovery_splash": None, "banner": None, "description": None,
                "owner_id": self.users["owner"]["id"], "afk_channel_id": None, "afk_timeout": 300,
                "verification_level": 0, "default_message_notifications": 1,
                "explicit_content_filter": 0, "mfa_level": 0, "nsfw_level": 0, "features": [],
                "premium_tier": 0, "premium_subscription_count": 0, "preferred_locale": "en-US",
                "system_channel_id": self.channel_id, "system_channel_flags": 0,
                "rules_channel_id": None, "public_updates_channel_id": None,
                "safety_alerts_channel_id": None, "vanity_url_code": None,
                "premium_progress_bar_enabled": False, "max_members": 500000,
                "max_video_channel_users": 25, "application_id": None, "emojis": [], "stickers": [],
                "roles": list(self.roles.values()), "joined_at": "2024-01-01T00:00:00+00:00",
                "large": False, "unavailable": False, "member_count": len(members),
                "members": members, "channels": [c for c in self._channels.values() if c not in threads],
                "threads": threads, "presences": [], "voice_states": [], "stage_instances": [],
                "guild_scheduled_events": [], "soundboard_sounds": [], "lazy": True}

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """The value for ``discord.http.Route.BASE`` (env DISCORD_API_BASE)."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """The value for ``DiscordWebSocket.DEFAULT_GATEWAY`` (env DISCORD_GATEWAY_URL)."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    def bot_env(self) -> dict[str, str]:
        """Environment variables that point the bot at this server."""
        return {"DISCORD_API_BASE": self.api_base, "DISCORD_GATEWAY_URL": self.gateway_url,
                "DISCORD_TOKEN": self.token or "fake-token"}

    def start(self) -> FakeDiscord:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        started = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(sock, started), daemon=True,
                                        name="fakediscord")
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("fake Discord server did not start")
        return self

    def _serve(self, sock: socket.socket, started: threading.Event) -> None:
        self._loop = loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        self._add_routes(app)
        self._runner = web.AppRunner(app, handle_signals=False)
        loop.run_until_complete(self._runner.setup())
        loop.run_until_complete(web.SockSite(self._runner, sock).start())
        started.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        with self._cond:
            sessions = list(self._sessions.values())

        async def close_all() -> None:
            for session in sessions:
                if session.conn is not None:
                    await session.conn.ws.close(code=1001)

        asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> FakeDiscord:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, fn: Callable[[], T]) -> T:
        """Run fn on the server's loop (all state changes and dispatches happen there)."""
        assert self._loop is not None, "server not started"

        async def call() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(10)

    # ------------------------------------------------------------------ recording and waiting
    def _record(self, kind: str, **fields: Any) -> Record:
        record = {"kind": kind, "at": time.monotonic(), **copy.deepcopy(fields)}
        with self._cond:
            self.records.append(record)
            self._cond.notify_all()
        return record

    def mark(self) -> int:
        """The current end of the record log; pass it as ``since=`` to wait only for newer ones."""
        with self._cond:
            return len(self.records)

    def wait_for(self, predicate: Callable[[Record], bool], timeout: float = 10.0,
                 since: int = 0) -> Record:
        """The first record (from index ``since``) matching predicate; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for record in self.records[since:]:
                    if predicate(record):
                        return copy.deepcopy(record)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    tail = [(r["kind"], r.get("status"), r.get("message", {}).get("content"))
                            for r in self.records[-8:]]
                    raise TimeoutError(f"no matching record after {timeout}s; last: {tail}")
                self._cond.wait(remaining)

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Wait until a client has identified and received READY and GUILD_CREATE."""
        if not self.ready_event.wait(timeout):
            raise TimeoutError("the bot did not identify on the gateway")

    def wait_for_callback(self, interaction_id: str, timeout: float = 10.0) -> Record:
        return self.wait_for(lambda r: r["kind"] == "callback"
                             and r["interaction_id"] == interaction_id, timeout)

    def wait_for_followup(self, interaction_id: str, predicate: Callable[[JSON], bool] | None = None,
                          timeout: float = 10.0, since: int = 0) -> Record:
        return self.wait_for(lambda r: r["kind"] == "followup" and r["status"] < 300
                             and r["interaction_id"] == interaction_id
                             and (predicate is None or predicate(r["message"])), timeout, since)

    def wait_for_message(self, channel_id: str | None = None,
                         predicate: Callable[[JSON], bool] | None = None, timeout: float = 10.0,
                         since: int = 0, author_id: str | None = None) -> JSON:
        """A message created in a channel (default: by the bot, via any route)."""
        author = author_id or self.application_id
        return self.wait_for(lambda r: r["kind"] == "message"
                             and (channel_id is None or r["channel_id"] == channel_id)
                             and r["message"]["author"]["id"] == author
                             and (predicate is None or predicate(r["message"])), timeout,
                             since)["message"]

    def wait_for_edit(self, message_id: str | None = None,
                      predicate: Callable[[JSON], bool] | None = None, timeout: float = 10.0,
                      since: int = 0) -> Record:
        return self.wait_for(lambda r: r["kind"] == "edit"
                             and (message_id is None or r["message"]["id"] == message_id)
                             and (predicate is None or predicate(r["message"])), timeout, since)

    def messages(self, channel_id: str | None = None) -> list[JSON]:
        """Current (non-ephemeral, not deleted) messages of a channel, oldest first."""
        with self._cond:
            ids = self._channel_messages.get(channel_id or self.channel_id, [])
            return copy.deepcopy([self._messages[i] for i in ids])

    def message(self, message_id: str) -> JSON:
        with self._cond:
            return copy.deepcopy(self._messages[message_id])

    def versions(self, message_id: str) -> list[JSON]:
        """Every version of a message: as created, then after each edit."""
        with self._cond:
            return copy.deepcopy(self._versions.get(message_id, []))

    def allowed_mentions(self, message_id: str) -> JSON | None:
        """The allowed_mentions sent with the latest version of a message (None if absent)."""
        with self._cond:
            return copy.deepcopy(self._allowed.get(message_id))

    def interaction(self, interaction_id: str) -> Interaction:
        with self._cond:
            return self._interactions[interaction_id]

    def commands(self, guild_id: str | None = None) -> list[JSON]:
        """Synced commands: global (None) or for a guild id."""
        with self._cond:
            return copy.deepcopy(self._commands.get(guild_id, []))

    def heartbeat_gaps(self) -> list[float]:
        """Seconds between consecutive heartbeats (compare with heartbeat_interval_ms / 1000)."""
        with self._cond:
            beats = list(self.heartbeats)
        return [b - a for a, b in zip(beats, beats[1:], strict=False)]

    def inject_error(self, method: str, path_regex: str, status: int = 500,
                     body: JSON | None = None, count: int = 1) -> None:
        """Answer the next ``count`` matching API requests with this error (429 gets retry_after)."""
        if body is None:
            body = ({"message": "You are being rate limited.", "retry_after": 0.05, "global": False}
                    if status == 429 else {"message": f"{status}: injected", "code": 0})
        with self._cond:
            self._injected.append({"method": method.upper(), "path": re.compile(path_regex),
                                   "status": status, "body": body, "count": count})

    # ------------------------------------------------------------------ driving the bot
    def send_message(self, channel_id: str | None, author: str | JSON, content: str,
                     mentions_bot: bool = False, reply_to: str | None = None, *,
                     reply_mention: bool = True, embeds: list[JSON] | None = None) -> JSON:
        """A user posts a message; the bot receives MESSAGE_CREATE. Returns the message."""
        cid = channel_id or self.channel_id
        bot_mention = f"<@{self.application_id}>"
        if mentions_bot and bot_mention not in content:
            content = f"{bot_mention} {content}"
        body: JSON = {"content": content, "embeds": embeds or []}
        if reply_to is not None:
            body["message_reference"] = {"message_id": reply_to, "channel_id": cid}
            body["allowed_mentions"] = {"parse": ["users", "roles", "everyone"],
                                        "replied_user": reply_mention}
        return self._run(lambda: self._create_message(cid, self.user(author), body, "user"))

    def invoke_slash(self, command_name: str, options: JSON | None = None, user: str | JSON = "user",
                     channel_id: str | None = None, subcommand: str | None = None) -> str:
        """Send an APPLICATION_COMMAND interaction for a synced command; returns its id.

        ``subcommand`` is "add" for ``/feeds add`` or "group sub" for nested groups.
        """
        data = self._command_data(command_name, options or {}, subcommand, focused=None)
        return self._run(lambda: self._send_interaction(2, data, user, channel_id))

    def invoke_autocomplete(self, command_name: str, options: JSON, focused: str,
                            user: str | JSON = "user", channel_id: str | None = None,
                            subcommand: str | None = None) -> str:
        """Send an APPLICATION_COMMAND_AUTOCOMPLETE interaction; the answer is a type 8 callback."""
        data = self._command_data(command_name, options, subcommand, focused=focused)
        return self._run(lambda: self._send_interaction(4, data, user, channel_id))

    def click_button(self, message_id: str, custom_id: str, user: str | JSON = "user",
                     values: list[str] | None = None) -> str:
        """Click a button (or pick ``values`` in a select menu) on a message; returns the id."""
        message = self.message(message_id)
        found = [c for row in message.get("components") or [] for c in row.get("components") or []
                 if c.get("custom_id") == custom_id]
        if not found:
            raise ValueError(f"message {message_id} has no component {custom_id!r}")
        if found[0].get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled")
        data: JSON = {"custom_id": custom_id, "component_type": found[0]["type"]}
        if values is not None:
            data["values"] = values
        return self._run(lambda: self._send_interaction(3, data, user, message["channel_id"],
                                                        message))

    def drop_gateway(self, code: int = 4000) -> None:
        """Close the gateway connections (the client should reconnect and RESUME)."""
        async def close() -> None:
            for session in list(self._sessions.values()):
                if session.conn is not None:
                    await session.conn.ws.close(code=code)

        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)

    def _find_command(self, name: str) -> tuple[JSON, bool]:
        with self._cond:
            for cmd in self._commands.get(self.guild_id, []):
                if cmd["name"] == name and cmd.get("type", 1) == 1:
                    return cmd, True
            for cmd in self._commands[None]:
                if cmd["name"] == name and cmd.get("type", 1) == 1:
                    return cmd, False
        raise ValueError(f"command {name!r} was never synced")

    def _command_data(self, name: str, options: JSON, subcommand: str | None,
                      focused: str | None) -> JSON:
        if subcommand is None and " " in name:
            name, subcommand = name.split(" ", 1)
        cmd, in_guild = self._find_command(name)
        data: JSON = {"id": cmd["id"], "name": cmd["name"], "type": 1}
        if in_guild:
            data["guild_id"] = self.guild_id
        wrappers, defs = [], cmd.get("options") or []
        for part in (subcommand or "").split():
            sub = next((o for o in defs if o["name"] == part and o["type"] in (1, 2)), None)
            if sub is None:
                raise ValueError(f"/{name} has no subcommand {part!r}")
            wrappers.append(sub)
            defs = sub.get("options") or []
        if any(o["type"] in (1, 2) for o in defs):
            raise ValueError(f"/{name} {subcommand or ''} needs a subcommand")
        built, resolved = self._build_options(defs, options, focused)
        for sub in reversed(wrappers):
            built = [{"name": sub["name"], "type": sub["type"], "options": built}]
        data["options"] = built
        if resolved:
            data["resolved"] = resolved
        return data

    def _build_options(self, defs: list[JSON], given: JSON, focused: str | None
                       ) -> tuple[list[JSON], JSON]:
        built: list[JSON] = []
        resolved: JSON = {}
        by_name = {d["name"]: d for d in defs}
        for key in given:
            if key not in by_name:
                raise ValueError(f"unknown option {key!r}; the command has {sorted(by_name)}")
        for d in defs:
            if d["name"] not in given:
                if d.get("required") and focused is None:
                    raise ValueError(f"required option {d['name']!r} missing")
                continue
            value, otype = given[d["name"]], d["type"]
            if d["name"] == focused:
                built.append({"name": d["name"], "type": otype, "value": value, "focused": True})
                continue
            if otype in (6, 7, 8, 9):
                value = self._resolve_option(otype, value, resolved)
            else:
                value = {3: str, 4: int, 5: bool, 10: float}.get(otype, lambda v: v)(value)
                self._check_option(d, value)
            built.append({"name": d["name"], "type": otype, "value": value})
        return built, resolved

    @staticmethod
    def _check_option(d: JSON, value: Any) -> None:
        choices = [c["value"] for c in d.get("choices") or []]
        if choices and value not in choices:
            raise ValueError(f"{d['name']}={value!r} is not one of {choices}")
        low, high = d.get("min_value"), d.get("max_value")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(f"{d['name']}={value!r} outside [{low}, {high}]")
        if isinstance(value, str) and not d.get("min_length", 0) <= len(value) <= d.get(
                "max_length", 6000):
            raise ValueError(f"{d['name']} length {len(value)} outside the allowed range")

    def _resolve_option(self, otype: int, value: Any, resolved: JSON) -> str:
        if otype == 7:
            channel = self.channels.get(value) or self._channels[str(value)]
            resolved.setdefault("channels", {})[channel["id"]] = {
                **channel, "permissions": str(ALL_PERMISSIONS)}
            return str(channel["id"])
        if otype in (8, 9) and (value in self.roles or any(
                r["id"] == str(value) for r in self.roles.values())):
            role = self.roles.get(value) or next(
                r for r in self.roles.values() if r["id"] == str(value))
            resolved.setdefault("roles", {})[role["id"]] = role
            return str(role["id"])
        user = self.user(value)
        resolved.setdefault("users", {})[user["id"]] = user
        resolved.setdefault("members", {})[user["id"]] = self.member(
            user, with_user=False, with_permissions=True)
        return str(user["id"])

    def _send_interaction(self, itype: int, data: JSON, user: str | JSON, channel_id: str | None,
                          message: JSON | None = None) -> str:
        channel = self._channels[channel_id or self.channel_id]
        payload: JSON = {
            "id": self.snowflake(), "application_id": self.application_id, "type": itype,
            "data": data, "guild_id": self.guild_id,
            "guild": {"id": self.guild_id, "locale": "en-US", "features": []},
            "channel_id": channel["id"], "channel": {**channel, "permissions": str(
                self.permissions(user))},
            "member": self.member(user, with_permissions=True),
            "token": "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48), "version": 1,
            "locale": "en-US", "guild_locale": "en-US",
            "app_permissions": str(self.permissions("bot")), "entitlements": [],
            "authorizing_integration_owners": {"0": self.guild_id}, "context": 0,
            "attachment_size_limit": ATTACHMENT_LIMIT,
        }
        if message is not None:
            payload["message"] = message
        interaction = Interaction(payload)
        with self._cond:
            self._interactions[interaction.id] = interaction
        self._record("interaction", interaction_id=interaction.id, payload=payload)
        self._dispatch("INTERACTION_CREATE", payload)
        return interaction.id

    # ------------------------------------------------------------------ messages
    def _pings(self, content: str, allowed: JSON | None, replied_author: str | None
               ) -> tuple[list[JSON], list[str], bool]:
        """Who a message actually pings, honouring allowed_mentions like Discord does."""
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
        known = {u["id"]: u for u in [*self.users.values(), self.bot_user]}
        mentions = [{**known[u], "member": self.member(u, with_user=False)}
                    for u in sorted(users) if u in known]
        role_ids = sorted(r for r in roles if any(x["id"] == r for x in self.roles.values()))
        return mentions, role_ids, everyone

    def _create_message(self, channel_id: str, author: JSON, body: JSON, source: str, *,
                        files: list[JSON] | None = None, mtype: int = 0,
                        interaction: Interaction | None = None, prefix: tuple[str, ...] = ()
                        ) -> JSON:
        if channel_id not in self._channels or self._channels[channel_id]["type"] == 4:
            raise unknown("Channel", 10003)
        attachments = self._attachments(channel_id, files or [])
        validate_message({**body, "attachments": attachments or body.get("attachments")},
                         creating=True, prefix=prefix)
        replied_author, referenced = None, None
        ref = body.get("message_reference")
        if ref:
            referenced = self._messages.get(str(ref.get("message_id")))
            if referenced is None and ref.get("fail_if_not_exists", True):
                form = FormErrors()
                form.add(("message_reference",), "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
                form.raise_if_any(prefix)
            if referenced is not None:
                replied_author, mtype = referenced["author"]["id"], 19
        allowed = body.get("allowed_mentions")
        mentions, roles, everyone = self._pings(body.get("content") or "", allowed, replied_author)
        flags = int(body.get("flags") or 0) & (EPHEMERAL | LOADING | (1 << 2) | (1 << 12))
        msg: JSON = {
            "id": self.snowflake(), "type": mtype, "channel_id": channel_id,
            "guild_id": self.guild_id, "author": author, "content": body.get("content") or "",
            "timestamp": now_iso(), "edited_timestamp": None, "tts": bool(body.get("tts")),
            "mention_everyone": everyone, "mentions": mentions, "mention_roles": roles,
            "mention_channels": [], "attachments": attachments,
            "embeds": [{"type": "rich", **e} for e in body.get("embeds") or []],
            "reactions": [], "pinned": False, "flags": flags,
            "components": body.get("components") or [], "nonce": body.get("nonce"),
        }
        if interaction is None:
            msg["member"] = self.member(author, with_user=False)
        else:
            name = (interaction.payload.get("data") or {}).get("name")
            user = interaction.payload["member"]["user"]
            msg.update(webhook_id=self.application_id, application_id=self.application_id,
                       interaction_metadata={"id": interaction.id, "type": interaction.type,
                                             "user": user, "name": name,
                                             "authorizing_integration_owners": {"0": self.guild_id}},
                       interaction={"id": interaction.id, "type": interaction.type,
                                    "name": name, "user": user})
        if ref:
            msg["message_reference"] = {"type": 0, "message_id": str(ref["message_id"]),
                                        "channel_id": channel_id, "guild_id": self.guild_id}
            msg["referenced_message"] = copy.deepcopy(referenced)
        with self._cond:
            self._messages[msg["id"]] = msg
            self._versions[msg["id"]] = [copy.deepcopy(msg)]
            self._allowed[msg["id"]] = copy.deepcopy(allowed)
            if not flags & EPHEMERAL:
                self._channel_messages.setdefault(channel_id, []).append(msg["id"])
                self._channels[channel_id]["last_message_id"] = msg["id"]
        self._record("message", channel_id=channel_id, message=msg, allowed_mentions=allowed,
                     source=source, interaction_id=interaction.id if interaction else None)
        if not flags & EPHEMERAL:
            self._dispatch("MESSAGE_CREATE", msg)
        return msg

    def _attachments(self, channel_id: str, files: list[JSON]) -> list[JSON]:
        if sum(len(f["data"]) for f in files) > ATTACHMENT_LIMIT:
            raise DiscordError(413, 40005, "Request entity too large")
        out = []
        for f in files:
            aid = self.snowflake()
            self.files[aid] = f["data"]
            url = f"{self.base_url}/attachments/{channel_id}/{aid}/{f['filename']}"
            out.append({"id": aid, "filename": f["filename"], "size": len(f["data"]), "url": url,
                        "proxy_url": url, "content_type": f["content_type"]})
        return out

    def _edit_message(self, message_id: str, body: JSON, source: str, *,
                      files: list[JSON] | None = None, prefix: tuple[str, ...] = ()) -> JSON:
        msg = self._messages.get(message_id)
        if msg is None:
            raise unknown("Message", 10008)
        validate_message(body, creating=False, prefix=prefix)
        before = copy.deepcopy(msg)
        for key in ("content", "components"):
            if key in body and body[key] is not None:
                msg[key] = body[key]
        if body.get("embeds") is not None:
            msg["embeds"] = [{"type": "rich", **e} for e in body["embeds"]]
        if "attachments" in body or files:
            keep = {str(a.get("id")) for a in body.get("attachments") or []}
            msg["attachments"] = [a for a in msg["attachments"] if a["id"] in keep]
            msg["attachments"] += self._attachments(msg["channel_id"], files or [])
        if "allowed_mentions" in body:
            self._allowed[message_id] = body["allowed_mentions"]
        if "content" in body:
            replied = (msg.get("referenced_message") or {}).get("author", {}).get("id")
            msg["mentions"], msg["mention_roles"], msg["mention_everyone"] = self._pings(
                msg["content"], self._allowed.get(message_id), replied)
        if body.get("flags") is not None:
            msg["flags"] = (msg["flags"] & EPHEMERAL) | (int(body["flags"]) & (1 << 2))
        msg["flags"] &= ~LOADING
        validate_message(msg, creating=True, prefix=prefix)
        msg["edited_timestamp"] = now_iso()
        with self._cond:
            self._versions[message_id].append(copy.deepcopy(msg))
        self._record("edit", channel_id=msg["channel_id"], message=msg, before=before,
                     allowed_mentions=self._allowed.get(message_id), source=source)
        if not msg["flags"] & EPHEMERAL:
            self._dispatch("MESSAGE_UPDATE", msg)
        return msg

    def _delete_message(self, message_id: str, source: str) -> None:
        with self._cond:
            msg = self._messages.pop(message_id, None)
            if msg is None:
                raise unknown("Message", 10008)
            ids = self._channel_messages.get(msg["channel_id"], [])
            if message_id in ids:
                ids.remove(message_id)
        self._record("delete", channel_id=msg["channel_id"], message=msg, source=source)
        if not msg["flags"] & EPHEMERAL:
            self._dispatch("MESSAGE_DELETE", {"id": message_id, "channel_id": msg["channel_id"],
                                              "guild_id": self.guild_id})

    # ------------------------------------------------------------------ gateway
    def _dispatch(self, event: str, data: JSON) -> None:
        """Send a DISPATCH to every identified session whose intents allow it (loop thread)."""
        for session in list(self._sessions.values()):
            if event in EVENT_INTENTS and not session.intents & EVENT_INTENTS[event]:
                continue
            payload = data
            if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE") and not self._may_read(session, data):
                payload = {**data, "content": "", "embeds": [], "attachments": [],
                           "components": []}
            session.dispatch(event, copy.deepcopy(payload))

    def _may_read(self, session: GatewaySession, msg: JSON) -> bool:
        """Without MESSAGE_CONTENT, content is only visible in the bot's own or mentioning messages."""
        return bool(session.intents & MESSAGE_CONTENT) or msg["author"]["id"] == self.application_id \
            or any(m["id"] == self.application_id for m in msg.get("mentions", []))

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        query = dict(request.query)
        self._record("gateway_connect", query=query)
        if query.get("encoding", "json") != "json":
            await ws.close(code=4002, message=b"only encoding=json is supported")
            return ws
        compress = query.get("compress") if self.compression == "auto" else None
        conn = GatewayConnection(ws, compress)
        writer = asyncio.create_task(conn.writer())
        conn.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms,
                                   "_trace": ['["fakediscord",{"micros":0}]']}})
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_op(conn, json.loads(msg.data))
        finally:
            while not conn.queue.empty() and not ws.closed:
                await asyncio.sleep(0.01)
            writer.cancel()
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None
            self._record("gateway_close", code=ws.close_code)
        return ws

    async def _on_op(self, conn: GatewayConnection, payload: JSON) -> None:
        op, data = payload.get("op"), payload.get("d")
        if op == 1:
            with self._cond:
                self.heartbeats.append(time.monotonic())
            self._record("heartbeat", seq=data)
            conn.send({"op": 11})
        elif op == 2:
            await self._identify(conn, data)
        elif op == 6:
            session = self._sessions.get(data.get("session_id"))
            if session is None or not self._token_ok(data.get("token")):
                conn.send({"op": 9, "d": False})
                return
            self._record("resume", session_id=session.id, seq=data.get("seq"))
            session.conn, conn.session = conn, session
            for old in session.history:
                if old["s"] > (data.get("seq") or 0):
                    conn.send(old)
            session.dispatch("RESUMED", {"_trace": []})
        elif op == 8:
            members = self.guild_payload()["members"]
            if conn.session is not None:
                conn.session.dispatch("GUILD_MEMBERS_CHUNK", {
                    "guild_id": self.guild_id, "members": members, "chunk_index": 0,
                    "chunk_count": 1, "not_found": [], "nonce": data.get("nonce")})
        else:
            self._record("gateway_op", op=op, data=data)

    def _token_ok(self, token: str | None) -> bool:
        return bool(token) and (self.token is None or token == self.token)

    async def _identify(self, conn: GatewayConnection, data: JSON) -> None:
        safe = {k: v for k, v in data.items() if k != "token"}
        with self._cond:
            self.identify_payloads.append(safe)
        self._record("identify", payload=safe)
        if not self._token_ok(data.get("token")):
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        intents = int(data.get("intents") or 0)
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        session = GatewaySession(secrets.token_hex(16), intents)
        session.conn, conn.session = conn, session
        flags = sum(bit for bit, intent in ((1 << 13, 1 << 8), (1 << 15, 1 << 1), (1 << 19, 1 << 15))
                    if self.privileged_intents & intent)
        self._sessions[session.id] = session
        session.dispatch("READY", {
            "v": 10, "user": {**self.bot_user, "verified": True, "mfa_enabled": False,
                              "email": None},
            "guilds": [{"id": self.guild_id, "unavailable": True}], "session_id": session.id,
            "resume_gateway_url": self.gateway_url, "session_type": "normal",
            "application": {"id": self.application_id, "flags": flags}, "private_channels": [],
            "relationships": [], "presences": [], "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["fake"], "user_settings": {}, "auth": {}, "_trace": [],
        })
        session.dispatch("GUILD_CREATE", self.guild_payload())
        self.ready_event.set()

    # ------------------------------------------------------------------ HTTP plumbing
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[..., Any]
                          ) -> web.StreamResponse:
        path = request.path
        entry: JSON = {"method": request.method, "path": path, "query": dict(request.query),
                       "at": time.monotonic()}
        try:
            if path.startswith("/api/"):
                self._check_injected(request)
                open_path = re.match(r"/api/v\d+/(webhooks|interactions|gateway)", path)
                auth = request.headers.get("Authorization", "")
                if not open_path and not (auth.startswith("Bot ") and self._token_ok(auth[4:])):
                    raise DiscordError(401, 0, "401: Unauthorized")
            response = await handler(request)
        except DiscordError as exc:
            entry.update(status=exc.status, error=exc.body())
            with self._cond:
                self.requests.append(entry)
            headers = {"Via": "1.1 google"} if exc.status == 429 else None
            return self._json(exc.body(), exc.status, headers)
        entry["status"] = response.status
        with self._cond:
            self.requests.append(entry)
        return response

    def _check_injected(self, request: web.Request) -> None:
        with self._cond:
            for rule in self._injected:
                if rule["count"] > 0 and rule["method"] in (request.method, "*") \
                        and rule["path"].search(request.path):
                    rule["count"] -= 1
                    body = rule["body"]
                    raise DiscordError(rule["status"], body.get("code", 0), body.get("message", ""),
                                       None) if rule["status"] != 429 else _RateLimited(body)

    @staticmethod
    def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        # discord.py only parses JSON when Content-Type is exactly "application/json".
        if status == 204:
            return web.Response(status=204)
        return web.Response(body=json.dumps(data).encode(), status=status,
                            headers={"Content-Type": "application/json", **(headers or {})})

    @staticmethod
    async def _body(request: web.Request) -> tuple[JSON, list[JSON]]:
        """The JSON payload and uploaded files of a JSON or multipart (payload_json) request."""
        files: list[JSON] = []
        try:
            if request.content_type == "multipart/form-data":
                form = await request.post()
                payload = json.loads(str(form.get("payload_json") or "{}"))
                for value in form.values():
                    if isinstance(value, web.FileField):
                        files.append({"filename": value.filename, "data": value.file.read(),
                                      "content_type": value.content_type})
                return payload, files
            raw = await request.read()
            return (json.loads(raw) if raw else {}), files
        except ValueError:
            raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None

    def _add_routes(self, app: web.Application) -> None:
        r = app.router
        api = "/api/v{version:\\d+}"
        r.add_get("/gateway", self._gateway)
        r.add_get("/_control/state", self._control_state)
        for method, path, handler in [
            ("GET", "/users/@me", self._get_me),
            ("GET", "/gateway", self._get_gateway),
            ("GET", "/gateway/bot", self._get_gateway),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/applications/@me", self._get_application),
            ("GET", "/applications/{app}/commands", self._commands_http),
            ("PUT", "/applications/{app}/commands", self._commands_http),
            ("POST", "/applications/{app}/commands", self._commands_http),
            ("GET", "/applications/{app}/guilds/{guild}/commands", self._commands_http),
            ("PUT", "/applications/{app}/guilds/{guild}/commands", self._commands_http),
            ("POST", "/applications/{app}/guilds/{guild}/commands", self._commands_http),
            ("GET", "/channels/{cid}", self._get_channel),
            ("POST", "/channels/{cid}/typing", self._typing),
            ("GET", "/channels/{cid}/messages", self._history),
            ("POST", "/channels/{cid}/messages", self._post_message),
            ("GET", "/channels/{cid}/messages/{mid}", self._message_http),
            ("PATCH", "/channels/{cid}/messages/{mid}", self._message_http),
            ("DELETE", "/channels/{cid}/messages/{mid}", self._message_http),
            ("PUT", "/channels/{cid}/messages/{mid}/reactions/{emoji}/@me", self._reaction),
            ("DELETE", "/channels/{cid}/messages/{mid}/reactions/{emoji}/@me", self._reaction),
            ("POST", "/channels/{cid}/messages/{mid}/threads", self._thread_http),
            ("POST", "/channels/{cid}/threads", self._thread_http),
            ("POST", "/interactions/{iid}/{token}/callback", self._callback),
            ("POST", "/webhooks/{app}/{token}", self._followup),
            ("GET", "/webhooks/{app}/{token}/messages/{mid}", self._webhook_message),
            ("PATCH", "/webhooks/{app}/{token}/messages/{mid}", self._webhook_message),
            ("DELETE", "/webhooks/{app}/{token}/messages/{mid}", self._webhook_message),
        ]:
            r.add_route(method, api + path, handler)
        r.add_route("*", "/{tail:.*}", self._unknown)

    async def _unknown(self, request: web.Request) -> web.Response:
        body = await request.text()
        with self._cond:
            self.unknown_requests.append({"method": request.method, "path": request.path,
                                          "query": dict(request.query), "body": body})
        self._record("unknown_request", method=request.method, path=request.path)
        raise DiscordError(404, 0, "404: Not Found")

    async def _control_state(self, request: web.Request) -> web.Response:
        with self._cond:
            state = {"records": len(self.records), "heartbeats": len(self.heartbeats),
                     "commands": {str(k): v for k, v in self._commands.items()},
                     "messages": {c: [self._messages[i] for i in ids]
                                  for c, ids in self._channel_messages.items()},
                     "unknown_requests": self.unknown_requests, "requests": self.requests[-100:]}
        return self._json(state)

    # ------------------------------------------------------------------ REST handlers
    async def _get_me(self, request: web.Request) -> web.Response:
        return self._json({**self.bot_user, "verified": True, "mfa_enabled": False,
                           "email": None, "locale": "en-US"})

    async def _get_gateway(self, request: web.Request) -> web.Response:
        url = f"ws://127.0.0.1:{self.port}/gateway"
        if request.path.endswith("/bot"):
            return self._json({"url": url, "shards": 1, "session_start_limit": {
                "total": 1000, "remaining": 999, "reset_after": 86400000, "max_concurrency": 1}})
        return self._json({"url": url})

    async def _get_application(self, request: web.Request) -> web.Response:
        return self._json({
            "id": self.application_id, "name": "NewsBot", "icon": None, "description": "",
            "summary": "", "type": None, "bot_public": False, "bot_require_code_grant": False,
            "verify_key": "0" * 64, "flags": 0, "owner": self.users["owner"], "team": None,
            "bot": self.bot_user, "redirect_uris": [], "interactions_endpoint_url": None,
            "approximate_guild_count": 1, "tags": [],
        })

    async def _commands_http(self, request: web.Request) -> web.Response:
        if request.match_info["app"] != self.application_id:
            raise unknown("Application", 10002)
        guild = request.match_info.get("guild")
        if guild is not None and guild != self.guild_id:
            raise unknown("Guild", 10004)
        if request.method == "GET":
            return self._json(self.commands(guild))
        payload, _ = await self._body(request)
        incoming = payload if request.method == "PUT" else [payload]
        if not isinstance(incoming, list):
            raise DiscordError(400, 50035, "Invalid Form Body")
        validate_commands(incoming)
        with self._cond:
            current = self._commands.setdefault(guild, [])
            ids = {(c["name"], c.get("type", 1)): c["id"] for c in current}
            stored = []
            for cmd in incoming:
                key = (cmd["name"], cmd.get("type", 1))
                full = {"type": 1, "default_member_permissions": None, "nsfw": False,
                        "options": [], **cmd, "id": ids.get(key) or self.snowflake(),
                        "application_id": self.application_id, "version": self.snowflake()}
                if guild is not None:
                    full["guild_id"] = guild
                stored.append(full)
            if request.method == "PUT":
                self._commands[guild] = stored
            else:
                self._commands[guild] = [c for c in current
                                         if (c["name"], c.get("type", 1)) not in ids.keys() & {
                                             (stored[0]["name"], stored[0]["type"])}] + stored
        self._record("commands", guild_id=guild, method=request.method, commands=stored)
        if request.method == "PUT":
            return self._json(stored)
        created = (stored[0]["name"], stored[0]["type"]) not in ids
        return self._json(stored[0], 201 if created else 200)

    def _channel(self, request: web.Request) -> JSON:
        channel = self._channels.get(request.match_info["cid"])
        if channel is None:
            raise unknown("Channel", 10003)
        return channel

    async def _get_channel(self, request: web.Request) -> web.Response:
        return self._json(self._channel(request))

    async def _typing(self, request: web.Request) -> web.Response:
        self._record("typing", channel_id=self._channel(request)["id"])
        return self._json(None, 204)

    async def _history(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        q = request.query
        limit = int(q.get("limit", 50))
        if not 1 <= limit <= 100:
            form = FormErrors()
            form.add(("limit",), "NUMBER_TYPE_MAX", "int value should be less than or equal to 100.")
            form.raise_if_any()
        with self._cond:
            msgs = [self._messages[i] for i in self._channel_messages.get(channel["id"], [])]
        if "before" in q:
            msgs = [m for m in msgs if int(m["id"]) < int(q["before"])]
        if "after" in q:
            msgs = [m for m in msgs if int(m["id"]) > int(q["after"])][:limit]
        return self._json(list(reversed(msgs[-limit:])))

    async def _post_message(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        payload, files = await self._body(request)
        msg = self._create_message(channel["id"], self.bot_user, payload, "rest", files=files)
        return self._json(msg)

    async def _message_http(self, request: web.Request) -> web.Response:
        self._channel(request)
        mid = request.match_info["mid"]
        if request.method == "DELETE":
            self._delete_message(mid, "rest")
            return self._json(None, 204)
        if mid not in self._messages or self._messages[mid]["channel_id"] != request.match_info["cid"]:
            raise unknown("Message", 10008)
        if request.method == "GET":
            return self._json(self._messages[mid])
        if self._messages[mid]["author"]["id"] != self.application_id:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        payload, files = await self._body(request)
        return self._json(self._edit_message(mid, payload, "rest", files=files))

    async def _reaction(self, request: web.Request) -> web.Response:
        mid, emoji = request.match_info["mid"], request.match_info["emoji"]
        msg = self._messages.get(mid)
        if msg is None:
            raise unknown("Message", 10008)
        reactions = [r for r in msg["reactions"] if r["emoji"]["name"] != emoji]
        if request.method == "PUT":
            reactions.append({"emoji": {"id": None, "name": emoji}, "count": 1, "me": True})
        msg["reactions"] = reactions
        self._record("reaction", message_id=mid, emoji=emoji, added=request.method == "PUT")
        return self._json(None, 204)

    async def _thread_http(self, request: web.Request) -> web.Response:
        parent = self._channel(request)
        payload, _ = await self._body(request)
        form = FormErrors()
        form.max_len(("name",), payload.get("name"), 100, required=True)
        form.raise_if_any()
        mid = request.match_info.get("mid")
        if mid is not None and mid not in self._messages:
            raise unknown("Message", 10008)
        thread = {**self._make_channel(mid or self.snowflake(), payload["name"],
                                       int(payload.get("type") or 11), 0, parent["id"]),
                  "owner_id": self.application_id, "message_count": 0, "member_count": 1,
                  "thread_metadata": {"archived": False, "locked": False,
                                      "auto_archive_duration": payload.get(
                                          "auto_archive_duration") or 1440,
                                      "archive_timestamp": now_iso(), "create_timestamp": now_iso()}}
        with self._cond:
            self._channels[thread["id"]] = thread
        self._record("thread", thread=thread, message_id=mid)
        self._dispatch("THREAD_CREATE", {**thread, "newly_created": True, "member": {
            "id": thread["id"], "user_id": self.application_id, "join_timestamp": now_iso(),
            "flags": 0}})
        return self._json(thread, 201)

    # ------------------------------------------------------------------ interactions
    async def _callback(self, request: web.Request) -> web.Response:
        interaction = self._interactions.get(request.match_info["iid"])
        if interaction is None or interaction.token != request.match_info["token"]:
            raise unknown("interaction", 10062)
        payload, files = await self._body(request)
        try:
            if time.monotonic() - interaction.created > self.interaction_deadline:
                raise unknown("interaction", 10062)
            if interaction.callback is not None:
                raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
            response = self._respond(interaction, payload, files)
        except DiscordError as exc:
            self._record("callback", interaction_id=interaction.id, type=payload.get("type"),
                         data=payload.get("data"), status=exc.status, error=exc.body())
            raise
        self._record("callback", interaction_id=interaction.id, type=payload.get("type"),
                     data=payload.get("data"), status=200,
                     allowed_mentions=(payload.get("data") or {}).get("allowed_mentions"))
        return self._json(response)

    def _respond(self, interaction: Interaction, payload: JSON, files: list[JSON]) -> JSON:
        ctype, data = payload.get("type"), payload.get("data") or {}
        allowed = {2: {4, 5, 8, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}[interaction.type]
        if ctype not in allowed:
            raise DiscordError(400, 50035, "Invalid Form Body", {"type": {"_errors": [{
                "code": "INTERACTION_RESPONSE_TYPE_INVALID",
                "message": "Interaction response type is invalid for this interaction type"}]}})
        message = None
        if ctype in (4, 5):
            body = data if ctype == 4 else {"flags": (int(data.get("flags") or 0) & EPHEMERAL)
                                            | LOADING, "content": ""}
            if ctype == 5:
                validate_message({}, creating=False)
            message = self._create_message(
                interaction.payload["channel_id"], self.bot_user, body, "interaction",
                files=files, mtype=20 if interaction.type == 2 else 0, interaction=interaction,
                prefix=("data",)) if ctype == 4 or True else None
            interaction.original_id = message["id"]
        elif ctype == 7:
            message = self._edit_message(interaction.payload["message"]["id"], data, "interaction",
                                         files=files, prefix=("data",))
        elif ctype == 8 and len(data.get("choices") or []) > 25:
            raise DiscordError(400, 50035, "Invalid Form Body", {"data": {"choices": {"_errors": [
                {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 25 or fewer in length."}]}}})
        interaction.callback = payload
        result: JSON = {"interaction": {
            "id": interaction.id, "type": interaction.type,
            "response_message_id": message["id"] if message else None,
            "response_message_loading": ctype == 5,
            "response_message_ephemeral": bool(message and message["flags"] & EPHEMERAL)}}
        if message is not None:
            result["resource"] = {"type": ctype, "message": message}
        return result

    def _by_token(self, request: web.Request) -> Interaction:
        token = request.match_info["token"]
        for interaction in self._interactions.values():
            if interaction.token == token and request.match_info["app"] == self.application_id:
                if time.monotonic() - interaction.created > self.followup_ttl:
                    raise DiscordError(401, 50027, "Invalid Webhook Token")
                return interaction
        raise unknown("Webhook", 10015)

    async def _followup(self, request: web.Request) -> web.Response:
        interaction = self._by_token(request)
        payload, files = await self._body(request)
        status = 200
        try:
            if interaction.callback is None:
                raise unknown("Webhook", 10015)
            original = self._messages.get(interaction.original_id or "")
            if original is not None and original["flags"] & LOADING:
                # After a deferred response, the first followup replaces the "thinking" message.
                msg = self._edit_message(original["id"], payload, "followup", files=files)
            else:
                msg = self._create_message(interaction.payload["channel_id"], self.bot_user,
                                           payload, "followup", files=files, interaction=interaction)
                interaction.followup_ids.append(msg["id"])
        except DiscordError as exc:
            self._record("followup", interaction_id=interaction.id, status=exc.status,
                         error=exc.body(), message=payload)
            raise
        self._record("followup", interaction_id=interaction.id, status=status, message=msg,
                     allowed_mentions=payload.get("allowed_mentions"))
        wait = request.query.get("wait", "false").lower() in ("1", "true")
        return self._json(msg) if wait else self._json(None, 204)

    async def _webhook_message(self, request: web.Request) -> web.Response:
        interaction = self._by_token(request)
        mid = request.match_info["mid"]
        if mid == "@original":
            mid = interaction.original_id or ""
        if mid not in self._messages or (mid != interaction.original_id
                                         and mid not in interaction.followup_ids):
            raise unknown("Message", 10008)
        if request.method == "GET":
            return self._json(self._messages[mid])
        if request.method == "DELETE":
            self._delete_message(mid, "webhook")
            return self._json(None, 204)
        payload, files = await self._body(request)
        try:
            msg = self._edit_message(mid, payload, "webhook", files=files)
        except DiscordError as exc:
            self._record("edit_failed", interaction_id=interaction.id, message_id=mid,
                         status=exc.status, error=exc.body(), message=payload)
            raise
        return self._json(msg)


class _RateLimited(DiscordError):
    def __init__(self, body: JSON) -> None:
        super().__init__(429, 0, body.get("message", "You are being rate limited."))
        self._raw = body

    def body(self) -> JSON:
        return self._raw
