"""A Discord-compatible server (REST + gateway websocket) for running a discord.py bot in tests.

It serves 127.0.0.1 from a background thread with its own event loop, so synchronous tests can
drive it. Point an unmodified discord.py at it with ``discord.http.Route.BASE = server.api_base``
and ``DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(server.gateway_url)``. API: README.md.
All state changes and gateway dispatches happen on the server's loop; readers take ``lock``.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from .commands import command_data
from .gateway import PRIVILEGED, Gateway
from .interactions import Interaction, Interactions
from .messages import MessageStore
from .protocol import (
    DiscordError,
    FormErrors,
    json_response,
    read_json,
    unknown,
    validate_commands,
)
from .world import JSON, World, now_iso

Record = dict[str, Any]
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeDiscord:
    """A Discord look-alike for one bot: one guild, its channels, roles and users (World)."""

    def __init__(
        self,
        *,
        token: str | None = None,
        heartbeat_interval_ms: int = 41250,
        privileged_intents: int = PRIVILEGED,
        interaction_deadline: float = 3.0,
        followup_ttl: float = 15 * 60,
    ) -> None:
        self.token = token  # None: any token is accepted
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.privileged_intents = privileged_intents  # the ones "enabled in the developer portal"
        self.interaction_deadline = interaction_deadline
        self.followup_ttl = followup_ttl
        self.recommended_shards = 1  # GET /gateway/bot
        self.world = world = World()
        self.guild_id, self.channel_id = world.guild_id, world.channel_id
        self.application_id, self.bot_user = world.application_id, world.bot_user
        self.users, self.roles, self.channels = world.users, world.roles, world.channels
        self.gateway = Gateway(self)
        self.ready_event = threading.Event()
        self.lock = threading.Condition(threading.RLock())
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # Recorded (read them under self.lock, or through the accessors below)
        self.records: list[Record] = []
        self.requests: list[JSON] = []
        self.unknown_requests: list[JSON] = []
        self.heartbeats: list[tuple[float, int]] = []  # (monotonic time, connection)
        self._commands: dict[str | None, list[JSON]] = {None: []}
        self._failing: list[JSON] = []  # fail_requests rules
        self.store = MessageStore(self)
        self.interactions = Interactions(self)

    # ---------------------------------------------------------------- lifecycle
    @property
    def api_base(self) -> str:
        """For ``discord.http.Route.BASE`` (env DISCORD_API_BASE)."""
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        """For ``DiscordWebSocket.DEFAULT_GATEWAY`` (env DISCORD_GATEWAY_URL)."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    def bot_env(self) -> dict[str, str]:
        """Environment variables that point the bot at this server."""
        token = self.token or "fake-token"
        return {
            "DISCORD_API_BASE": self.api_base,
            "DISCORD_GATEWAY_URL": self.gateway_url,
            "DISCORD_TOKEN": token,
        }

    def start(self) -> FakeDiscord:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        started = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(sock, started), daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the fake Discord server did not start")
        return self

    def _serve(self, sock: socket.socket, started: threading.Event) -> None:
        self._loop = loop = asyncio.new_event_loop()
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        self._add_routes(app)
        runner = web.AppRunner(app, handle_signals=False)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.SockSite(runner, sock).start())
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.gateway.close_all(1001), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> FakeDiscord:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, fn: Callable[[], T]) -> T:
        """Run fn on the server's loop and return its result."""
        assert self._loop is not None, "the server is not started"

        async def call() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(10)

    def token_ok(self, token: str | None) -> bool:
        """The bot's token (any, when the server was made without one)."""
        return bool(token) and (self.token is None or token == self.token)

    # ---------------------------------------------------------------- records and waiting
    def record(self, kind: str, **fields: Any) -> Record:
        """Append to ``records`` (what the tests wait for and read) and wake the waiters."""
        entry = {"kind": kind, "at": time.monotonic(), **copy.deepcopy(fields)}
        with self.lock:
            self.records.append(entry)
            self.lock.notify_all()
        return entry

    def mark(self) -> int:
        """The end of the record log now; pass it as ``since=`` to wait only for newer ones."""
        with self.lock:
            return len(self.records)

    def wait_for(
        self, predicate: Callable[[Record], bool], timeout: float = 10.0, since: int = 0
    ) -> Record:
        """The first record (from index ``since``) matching predicate, or TimeoutError."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for entry in self.records[since:]:
                    if predicate(entry):
                        return copy.deepcopy(entry)
                if time.monotonic() >= deadline:
                    tail = [(r["kind"], r.get("status")) for r in self.records[-10:]]
                    raise TimeoutError(f"no matching record within {timeout}s; last: {tail}")
                self.lock.wait(deadline - time.monotonic())

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Wait until a client has identified and been sent READY and GUILD_CREATE."""
        if not self.ready_event.wait(timeout):
            raise TimeoutError("the bot did not identify on the gateway")

    def wait_for_callback(self, interaction_id: str, timeout: float = 10.0) -> Record:
        """The interaction's callback record (also a rejected one: check ``status``)."""
        return self.wait_for(
            lambda r: r["kind"] == "callback" and r["interaction_id"] == interaction_id, timeout
        )

    def wait_for_followup(
        self,
        interaction_id: str,
        predicate: Callable[[JSON], bool] | None = None,
        timeout: float = 10.0,
        since: int = 0,
    ) -> Record:
        """A successful followup; after a deferral the first one replaces the loading message."""

        def match(r: Record) -> bool:
            return (
                r["kind"] == "followup"
                and r["interaction_id"] == interaction_id
                and r["status"] < 300
                and (predicate is None or predicate(r["message"]))
            )

        return self.wait_for(match, timeout, since)

    def wait_for_message(
        self,
        channel_id: str | None = None,
        predicate: Callable[[JSON], bool] | None = None,
        timeout: float = 10.0,
        since: int = 0,
        author_id: str | None = None,
    ) -> JSON:
        """A message created (by default by the bot, by any route) in a channel (default: any)."""
        author = author_id or self.application_id

        def match(r: Record) -> bool:
            return (
                r["kind"] == "message"
                and channel_id in (None, r["channel_id"])
                and r["message"]["author"]["id"] == author
                and (predicate is None or predicate(r["message"]))
            )

        return self.wait_for(match, timeout, since)["message"]

    def wait_for_edit(
        self,
        message_id: str | None = None,
        predicate: Callable[[JSON], bool] | None = None,
        timeout: float = 10.0,
        since: int = 0,
    ) -> Record:
        """An edit record: ``message`` (after) and ``before``."""

        def match(r: Record) -> bool:
            return (
                r["kind"] == "edit"
                and message_id in (None, r["message"]["id"])
                and (predicate is None or predicate(r["message"]))
            )

        return self.wait_for(match, timeout, since)

    def messages(self, channel_id: str | None = None) -> list[JSON]:
        """The channel's current messages (not the ephemeral ones), oldest first."""
        with self.lock:
            ids = self.store.by_channel.get(channel_id or self.channel_id, [])
            return copy.deepcopy([self.store.by_id[i] for i in ids])

    def message(self, message_id: str) -> JSON:
        """Any message by id, ephemeral ones included."""
        with self.lock:
            return copy.deepcopy(self.store.by_id[message_id])

    def versions(self, message_id: str) -> list[JSON]:
        """Every version of a message: as created, then after each edit."""
        with self.lock:
            return copy.deepcopy(self.store.versions.get(message_id, []))

    def allowed_mentions(self, message_id: str) -> JSON | None:
        """The allowed_mentions in force for a message's latest version (None: never sent)."""
        with self.lock:
            return copy.deepcopy(self.store.allowed.get(message_id))

    def interaction(self, interaction_id: str) -> Interaction:
        """The server's state of an interaction: payload, token, callback, its messages."""
        with self.lock:
            return self.interactions.by_id[interaction_id]

    def commands(self, guild_id: str | None = None) -> list[JSON]:
        """The synced commands: global (None) or of a guild."""
        with self.lock:
            return copy.deepcopy(self._commands.get(guild_id, []))

    def heartbeat_gaps(self) -> list[float]:
        """Seconds between consecutive heartbeats on the same connection; compare them with
        heartbeat_interval_ms / 1000 (discord.py beats once at HELLO, then every interval)."""
        with self.lock:
            beats = list(self.heartbeats)
        pairs = zip(beats, beats[1:], strict=False)
        return [b[0] - a[0] for a, b in pairs if a[1] == b[1]]

    # ---------------------------------------------------------------- driving the bot
    def send_message(
        self,
        channel_id: str | None,
        author: str | JSON,
        content: str,
        mentions_bot: bool = False,
        reply_to: str | None = None,
        *,
        reply_mention: bool = True,
        embeds: list[JSON] | None = None,
    ) -> JSON:
        """A user posts a message (the bot gets MESSAGE_CREATE); returns it. ``mentions_bot``
        prefixes ``<@bot>``; a reply pings the replied-to author unless ``reply_mention=False``."""
        cid = channel_id or self.channel_id
        mention = f"<@{self.application_id}>"
        if mentions_bot and mention not in content:
            content = f"{mention} {content}"
        body: JSON = {"content": content, "embeds": embeds or []}
        if reply_to is not None:
            body["message_reference"] = {"message_id": reply_to, "channel_id": cid}
            body["allowed_mentions"] = {"parse": ["users", "roles"], "replied_user": reply_mention}
        user = self.world.user(author)
        return self._run(lambda: self.store.create(cid, user, body, "user"))

    def edit_message(
        self, message_id: str, *, content: str | None = None, embeds: list[JSON] | None = None
    ) -> JSON:
        """The message changes without the bot asking (a moderator's tool, or Discord
        re-rendering it): the new version is stored and MESSAGE_UPDATE dispatched; returns it."""
        body: JSON = {"content": content, "embeds": embeds}
        return self._run(lambda: self.store.edit(message_id, body, "world"))

    def invoke_slash(
        self,
        command_name: str,
        options: JSON | None = None,
        user: str | JSON = "user",
        channel_id: str | None = None,
        subcommand: str | None = None,
        *,
        guild_id: str | None = None,
        dm: bool = False,
    ) -> str:
        """Send an APPLICATION_COMMAND interaction for a synced command; returns its id.
        ``subcommand``: "add" for ``/feeds add`` (or name it "feeds add"), "group sub" for a
        nested group. ``guild_id``: from another server (``add_guild``); ``dm``: from a DM."""
        command, subcommand = self._find_command(command_name, subcommand)
        picked = functools.partial(self._picked_channel, user)
        data = command_data(command, options or {}, subcommand, channel=picked)
        where = {"guild_id": guild_id, "dm": dm}
        return self._run(lambda: self.interactions.create(2, data, user, channel_id, **where))

    def invoke_autocomplete(
        self,
        command_name: str,
        options: JSON,
        focused: str,
        user: str | JSON = "user",
        channel_id: str | None = None,
        subcommand: str | None = None,
        *,
        guild_id: str | None = None,
        dm: bool = False,
    ) -> str:
        """Send an autocomplete interaction; the bot answers with a type 8 callback (choices)."""
        command, subcommand = self._find_command(command_name, subcommand)
        data = command_data(command, options, subcommand, focused)
        where = {"guild_id": guild_id, "dm": dm}
        return self._run(lambda: self.interactions.create(4, data, user, channel_id, **where))

    def _picked_channel(self, user: str | JSON, value: str) -> JSON:
        """A channel option's resolved channel, as Discord sends it: id, name, type, parent and
        the invoking user's permissions there (the fake has no channel overwrites)."""
        channel = self.world.channels.get(value) or self.world.by_id.get(str(value))
        if channel is None:
            raise ValueError(f"no channel {value!r}")
        keys = ("id", "name", "type", "parent_id", "guild_id")
        partial = {k: channel[k] for k in keys if k in channel}
        return {**partial, "permissions": str(self.world.permissions(user))}

    def click_button(
        self,
        message_id: str,
        custom_id: str,
        user: str | JSON = "user",
    ) -> str:
        """Click a button on a message (MESSAGE_COMPONENT, type 3); returns the interaction id.
        A component that is not there, or is disabled, cannot be clicked (ValueError)."""
        message = self.message(message_id)
        rows = message.get("components") or []
        found = [
            c
            for row in rows
            for c in row.get("components") or []
            if c.get("custom_id") == custom_id
        ]
        if not found or found[0].get("disabled"):
            raise ValueError(f"message {message_id} has no enabled component {custom_id!r}")
        data: JSON = {"custom_id": custom_id, "component_type": found[0]["type"]}
        channel_id = message["channel_id"]
        return self._run(lambda: self.interactions.create(3, data, user, channel_id, message))

    def add_guild(self, name: str, owner: str = "user") -> str:
        """Another server with the bot in it (before the bot connects: listed in READY);
        returns its id. ``join_guild`` adds one while the bot runs."""
        return self._run(lambda: self.world.add_guild(name, owner))["id"]

    def join_guild(self, name: str, owner: str = "user") -> str:
        """Someone adds the bot to a new server now: GUILD_CREATE; returns its id."""

        def join() -> str:
            guild_id = self.world.add_guild(name, owner)["id"]
            payload = self.world.other_guild_payload(guild_id)
            del payload["unavailable"]  # as Discord sends it on a join (discord.py: guild_join)
            self.gateway.dispatch("GUILD_CREATE", payload)
            return guild_id

        return self._run(join)

    def drop_gateway(self, code: int = 4000) -> None:
        """Close the gateway connections; discord.py reconnects and RESUMEs."""
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self.gateway.close_all(code), self._loop).result(10)

    def _find_command(self, name: str, subcommand: str | None) -> tuple[JSON, str | None]:
        """The synced command (guild first, then global) and the subcommand path."""
        name, _, rest = name.strip().partition(" ")
        subcommand = " ".join(filter(None, [rest, subcommand])) or None
        with self.lock:
            for scope in (self.guild_id, None):
                for command in self._commands.get(scope, []):
                    if command["name"] == name and command.get("type", 1) == 1:
                        return command, subcommand
        raise ValueError(f"command {name!r} was never synced")

    def fail_requests(
        self, method: str, path_regex: str, status: int, code: int, message: str, count: int = 1
    ) -> None:
        """The next ``count`` API requests matching ``method`` and ``path_regex`` (searched in
        the path) fail with Discord's error body: what Discord answers when the bot lost a
        permission meanwhile (403/50001 Missing Access on a channel a moderator closed to it)
        or is down (5xx, which discord.py retries a few times before giving up)."""
        rule = {"method": method.upper(), "path": re.compile(path_regex), "count": count}
        with self.lock:
            self._failing.append({**rule, "error": DiscordError(status, code, message)})

    # ---------------------------------------------------------------- HTTP plumbing
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every API request: ``Authorization: Bot <token>`` (401 otherwise; webhooks and
        interaction callbacks authenticate by their token), Discord's JSON error bodies,
        and a ``requests`` entry; a bug in the fake is recorded as ``server_error``."""
        entry: JSON = {"method": request.method, "path": request.path, "query": dict(request.query)}
        try:
            if request.path.startswith("/api/"):
                self._fail_if_asked(request)
                public = re.match(r"/api/v\d+/(webhooks|interactions|gateway)", request.path)
                auth = request.headers.get("Authorization", "")
                if not public and not (auth.startswith("Bot ") and self.token_ok(auth[4:])):
                    raise DiscordError(401, 0, "401: Unauthorized")
            response = await handler(request)
            entry["status"] = response.status
        except DiscordError as exc:
            entry.update(status=exc.status, error=exc.body())
            response = json_response(exc.body(), exc.status)
        except Exception as exc:  # a bug here: make it visible to the test, then answer 500
            self.record("server_error", path=request.path, error=repr(exc))
            raise
        with self.lock:
            self.requests.append(entry)
        return response

    def _fail_if_asked(self, request: web.Request) -> None:
        with self.lock:
            for rule in self._failing:
                wanted = rule["method"] == request.method and rule["path"].search(request.path)
                if rule["count"] > 0 and wanted:
                    rule["count"] -= 1
                    raise rule["error"]

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_get("/gateway", self.gateway.handle)
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/gateway/bot", self._gateway_bot),
            ("GET", "/users/@me", self._get_me),
            ("DELETE", "/users/@me/guilds/{guild}", self._leave_guild),
            ("POST", "/users/@me/channels", self._open_dm),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("PUT", "/applications/{app}/commands", self._sync_commands),
            ("PUT", "/applications/{app}/guilds/{guild}/commands", self._sync_commands),
            ("GET", "/channels/{cid}", self._get_channel),
            ("POST", "/channels/{cid}/typing", self._typing),
            ("GET", "/channels/{cid}/messages", self._history),
            ("POST", "/channels/{cid}/messages", self._post_message),
            ("GET", "/channels/{cid}/messages/{mid}", self._get_message),
            ("POST", "/channels/{cid}/messages/{mid}/threads", self._create_thread),
            ("POST", "/interactions/{iid}/{token}/callback", self.interactions.callback),
            ("POST", "/webhooks/{app}/{token}", self.interactions.followup),
            ("PATCH", "/webhooks/{app}/{token}/messages/{mid}", self.interactions.edit_message),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, "/api/v10" + path, handler)
        app.router.add_route("*", "/{tail:.*}", self._unknown)

    async def _unknown(self, request: web.Request) -> web.Response:
        """A route Discord has but the fake does not: 404, kept in ``unknown_requests``."""
        entry = {"method": request.method, "path": request.path, "query": dict(request.query)}
        with self.lock:
            self.unknown_requests.append({**entry, "body": await request.text()})
        self.record("unknown_request", **entry)
        raise DiscordError(404, 0, "404: Not Found")

    # ---------------------------------------------------------------- REST handlers
    async def _gateway_bot(self, request: web.Request) -> web.Response:
        """What a sharded client asks first: the gateway URL and the recommended shard count
        (``recommended_shards``, 1 unless a test sets it)."""
        return json_response(
            {
                "url": self.gateway_url,
                "shards": self.recommended_shards,
                "session_start_limit": {
                    "total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1,
                },
            }
        )  # fmt: skip

    async def _get_me(self, request: web.Request) -> web.Response:
        """``login()``: the bot user (a bad token was already refused with 401)."""
        return json_response({**self.bot_user, "verified": True, "mfa_enabled": False})

    async def _leave_guild(self, request: web.Request) -> web.Response:
        """The bot leaves a server: recorded as ``leave``, GUILD_DELETE dispatched."""
        guild_id = request.match_info["guild"]
        with self.lock:
            known = guild_id == self.guild_id or guild_id in self.world.other_guilds
            if not known or guild_id in self.world.left:
                raise unknown("Guild", 10004)
            self.world.left.add(guild_id)  # other_guilds keeps it: tests may still use it
        self.record("leave", guild_id=guild_id)
        self.gateway.dispatch("GUILD_DELETE", {"id": guild_id})
        return json_response(None, 204)

    async def _open_dm(self, request: web.Request) -> web.Response:
        """``user.create_dm()`` (Create DM): the bot's DM channel with a user, the same one each
        time (recorded as ``dm_channel``). Opening it always works on Discord; sending there
        fails with 403/50007 when the user does not accept DMs from the bot (``close_dms``). An
        unknown user is 400/50033 "Invalid Recipient(s)"."""
        payload = await read_json(request)
        user_id = str((payload or {}).get("recipient_id", ""))
        with self.lock:
            try:
                user = self.world.user(user_id)
            except KeyError:
                raise DiscordError(400, 50033, "Invalid Recipient(s)") from None
            channel = self.world.dm_channel(user)
        self.record("dm_channel", channel=copy.deepcopy(channel))
        return json_response(channel)

    def close_dms(self, who: str | JSON, closed: bool = True) -> None:
        """The user stops (or starts again) accepting direct messages from the bot (privacy
        settings, or no server in common): sending in their DM channel fails with 403/50007."""
        with self.lock:
            user_id = self.world.user(who)["id"]
            if closed:
                self.world.dms_closed.add(user_id)
            else:
                self.world.dms_closed.discard(user_id)

    def dm_channel_id(self, who: str | JSON) -> str:
        """The id of the user's DM channel with the bot (created if needed), the one Create DM
        returns: to wait for the bot's DMs with ``wait_for_message``."""
        with self.lock:
            return str(self.world.dm_channel(who)["id"])

    async def _get_application(self, request: web.Request) -> web.Response:
        """``application_info()``: the application, whose owner is the fixture user "owner"."""
        application = {
            "id": self.application_id,
            "name": "NewsBot",
            "icon": None,
            "description": "",
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": self.users["owner"],
            "flags": 0,
        }
        return json_response(application)

    async def _sync_commands(self, request: web.Request) -> web.Response:
        """PUT (bulk overwrite) of the global or a guild's commands, as discord.py's
        ``tree.sync()`` does: validated as Discord does; ids survive a re-sync."""
        guild = request.match_info.get("guild")
        if request.match_info["app"] != self.application_id:
            raise unknown("Application", 10002)
        if guild not in (None, self.guild_id):
            raise unknown("Guild", 10004)
        incoming = await read_json(request)
        if not isinstance(incoming, list):
            raise DiscordError(400, 50035, "Invalid Form Body")
        validate_commands(incoming)
        with self.lock:
            ids = {(c["name"], c.get("type", 1)): c["id"] for c in self._commands.get(guild, [])}
            stored = []
            for command in incoming:
                key = (command["name"], command.get("type", 1))
                extra = {"guild_id": guild} if guild else {}
                defaults = {"type": 1, "options": [], "default_member_permissions": None}
                fixed = {"application_id": self.application_id, "version": self.world.snowflake()}
                command_id = ids.get(key) or self.world.snowflake()
                stored.append({**defaults, **command, **fixed, **extra, "id": command_id})
            self._commands[guild] = stored
        self.record("commands", guild_id=guild, method=request.method, commands=stored)
        return json_response(stored)

    def _channel(self, request: web.Request) -> JSON:
        """The channel of the route, or 404/10003 Unknown Channel."""
        channel = self.world.by_id.get(request.match_info["cid"])
        if channel is None:
            raise unknown("Channel", 10003)
        return channel

    async def _get_channel(self, request: web.Request) -> web.Response:
        """``fetch_channel(id)``: any channel of a server the bot is in, whatever its shard (REST
        is not sharded: a process can post in another shard's channel)."""
        return json_response(self._channel(request))

    async def _typing(self, request: web.Request) -> web.Response:
        """``channel.typing()``: recorded as ``typing``."""
        self.record("typing", channel_id=self._channel(request)["id"])
        return json_response(None, 204)

    async def _history(self, request: web.Request) -> web.Response:
        """A channel's history (``channel.history()``): newest first, ``limit`` 1-100 (default
        50; more is 400), only those ``before`` a message id when given; with ``after``, the
        ``limit`` oldest messages after that id (still newest first, as Discord returns them:
        discord.py pages forward from the first one)."""
        channel, query = self._channel(request), request.query
        limit = int(query.get("limit", 50))
        if not 1 <= limit <= 100:
            form = FormErrors()
            form.add(
                ("limit",), "NUMBER_TYPE_MAX", "int value should be less than or equal to 100."
            )
            form.raise_if_any()
        messages = self.messages(channel["id"])
        if "before" in query:
            messages = [m for m in messages if int(m["id"]) < int(query["before"])]
        if "after" in query:
            messages = [m for m in messages if int(m["id"]) > int(query["after"])][:limit]
        return json_response(messages[-limit:][::-1])

    async def _post_message(self, request: web.Request) -> web.Response:
        """``channel.send()``: a message by the bot (MESSAGE_CREATE), validated as Discord does."""
        channel = self._channel(request)
        message = self.store.create(channel["id"], self.bot_user, await read_json(request), "rest")
        return json_response(message)

    async def _get_message(self, request: web.Request) -> web.Response:
        """``channel.fetch_message(id)``: 404/10008 for a message not in that channel."""
        channel, message_id = self._channel(request), request.match_info["mid"]
        message = self.store.by_id.get(message_id)
        if message is None or message["channel_id"] != channel["id"]:
            raise unknown("Message", 10008)
        return json_response(message)

    async def _create_thread(self, request: web.Request) -> web.Response:
        """``message.create_thread()``: a public thread (type 11) owned by the bot, with the
        message's id, as on Discord; its name is 1-100 characters (else 400/50035)."""
        parent, payload = self._channel(request), await read_json(request)
        form = FormErrors()
        form.length(("name",), payload.get("name"), 100, required=True)
        form.raise_if_any()
        thread_id = request.match_info["mid"]
        if thread_id not in self.store.by_id:
            raise unknown("Message", 10008)
        thread = self.world.make_channel(thread_id, payload["name"], 11, parent["id"])
        metadata = {"archived": False, "locked": False, "archive_timestamp": now_iso()}
        archive_after = payload.get("auto_archive_duration") or 1440
        metadata["auto_archive_duration"] = archive_after
        counts = {"message_count": 0, "member_count": 1, "owner_id": self.application_id}
        thread.update(counts, thread_metadata=metadata)
        with self.lock:
            self.world.by_id[thread_id] = thread
        self.record("thread", thread=thread, message_id=thread_id)
        member = {"id": thread_id, "user_id": self.application_id, "join_timestamp": now_iso()}
        event = {**thread, "newly_created": True, "member": {**member, "flags": 0}}
        self.gateway.dispatch("THREAD_CREATE", event)
        return json_response(thread, 201)
