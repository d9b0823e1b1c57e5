"""A Discord-compatible server (REST + gateway websocket) for running a discord.py bot in tests.

It serves 127.0.0.1 from a background thread with its own event loop, so synchronous tests can
drive it. Point an unmodified discord.py at it with ``discord.http.Route.BASE = server.api_base``
and ``DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(server.gateway_url)``. API: README.md.
All state changes and gateway dispatches happen on the server's loop; readers take ``lock``.
"""

from __future__ import annotations

import asyncio
import copy
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
    read_body,
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
        compression: str = "auto",
        privileged_intents: int = PRIVILEGED,
        interaction_deadline: float = 3.0,
        followup_ttl: float = 15 * 60,
    ) -> None:
        self.token = token  # None: any token is accepted
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.compression = compression  # "auto": as the client asks; "none": plain text frames
        self.privileged_intents = privileged_intents  # the ones "enabled in the developer portal"
        self.interaction_deadline = interaction_deadline
        self.followup_ttl = followup_ttl
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
        self._injected: list[JSON] = []
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
        return bool(token) and (self.token is None or token == self.token)

    # ---------------------------------------------------------------- records and waiting
    def record(self, kind: str, **fields: Any) -> Record:
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
        """The channel's current messages (not ephemeral, not deleted), oldest first."""
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

    def inject_error(
        self,
        method: str,
        path_regex: str,
        status: int = 500,
        body: JSON | None = None,
        count: int = 1,
    ) -> None:
        """Answer the next ``count`` matching API requests with an error. A 429 gets
        ``retry_after`` 0.05 s and the ``Via`` header, so discord.py waits and retries."""
        if body is None and status == 429:
            body = {"message": "You are being rate limited.", "retry_after": 0.05, "global": False}
        body = body or {"message": f"{status}: injected", "code": 0}
        rule = {"method": method.upper(), "path": re.compile(path_regex), "status": status}
        with self.lock:
            self._injected.append({**rule, "body": body, "count": count})

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
        data = command_data(self.world, command, options or {}, subcommand)
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
        data = command_data(self.world, command, options, subcommand, focused)
        where = {"guild_id": guild_id, "dm": dm}
        return self._run(lambda: self.interactions.create(4, data, user, channel_id, **where))

    def click_button(
        self,
        message_id: str,
        custom_id: str,
        user: str | JSON = "user",
        values: list[str] | None = None,
    ) -> str:
        """Click a button, or pick ``values`` in a select menu, on a message; returns the id."""
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
        if values is not None:
            data["values"] = values
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

    # ---------------------------------------------------------------- HTTP plumbing
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        entry: JSON = {"method": request.method, "path": request.path, "query": dict(request.query)}
        try:
            if request.path.startswith("/api/"):
                self._raise_injected(request)
                public = re.match(r"/api/v\d+/(webhooks|interactions|gateway)", request.path)
                auth = request.headers.get("Authorization", "")
                if not public and not (auth.startswith("Bot ") and self.token_ok(auth[4:])):
                    raise DiscordError(401, 0, "401: Unauthorized")
            response = await handler(request)
            entry["status"] = response.status
        except DiscordError as exc:
            entry.update(status=exc.status, error=exc.body())
            headers = {"Via": "1.1 google"} if exc.status == 429 else {}
            response = json_response(exc.body(), exc.status, headers)
        except Exception as exc:  # a bug here: make it visible to the test, then answer 500
            self.record("server_error", path=request.path, error=repr(exc))
            raise
        with self.lock:
            self.requests.append(entry)
        return response

    def _raise_injected(self, request: web.Request) -> None:
        with self.lock:
            for rule in self._injected:
                method_ok = rule["method"] in (request.method, "*")
                if rule["count"] > 0 and method_ok and rule["path"].search(request.path):
                    rule["count"] -= 1
                    body = rule["body"]
                    code, message = body.get("code", 0), body.get("message", "")
                    raise DiscordError(rule["status"], code, message, raw=body)

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_get("/gateway", self.gateway.handle)
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/users/@me", self._get_me),
            ("DELETE", "/users/@me/guilds/{guild}", self._leave_guild),
            ("POST", "/users/@me/channels", self._open_dm),
            ("GET", "/gateway", self._get_gateway),
            ("GET", "/gateway/bot", self._get_gateway),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/applications/@me", self._get_application),
            ("*", "/applications/{app}/commands", self._commands_http),
            ("*", "/applications/{app}/guilds/{guild}/commands", self._commands_http),
            ("GET", "/channels/{cid}", self._get_channel),
            ("POST", "/channels/{cid}/typing", self._typing),
            ("GET", "/channels/{cid}/messages", self._history),
            ("POST", "/channels/{cid}/messages", self._post_message),
            ("GET", "/channels/{cid}/messages/{mid}", self._message_http),
            ("PATCH", "/channels/{cid}/messages/{mid}", self._message_http),
            ("DELETE", "/channels/{cid}/messages/{mid}", self._message_http),
            ("PUT", "/channels/{cid}/messages/{mid}/reactions/{emoji}/@me", self._reaction),
            ("DELETE", "/channels/{cid}/messages/{mid}/reactions/{emoji}/@me", self._reaction),
            ("POST", "/channels/{cid}/messages/{mid}/threads", self._create_thread),
            ("POST", "/channels/{cid}/threads", self._create_thread),
            ("POST", "/interactions/{iid}/{token}/callback", self.interactions.callback),
            ("POST", "/webhooks/{app}/{token}", self.interactions.followup),
            ("*", "/webhooks/{app}/{token}/messages/{mid}", self.interactions.webhook_message),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, "/api/v10" + path, handler)
        app.router.add_route("*", "/{tail:.*}", self._unknown)

    async def _unknown(self, request: web.Request) -> web.Response:
        entry = {"method": request.method, "path": request.path, "query": dict(request.query)}
        with self.lock:
            self.unknown_requests.append({**entry, "body": await request.text()})
        self.record("unknown_request", **entry)
        raise DiscordError(404, 0, "404: Not Found")

    # ---------------------------------------------------------------- REST handlers
    async def _get_me(self, request: web.Request) -> web.Response:
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
        """Create DM: the bot's DM channel with a user (the same one each time). Opening it
        always works on Discord; sending there fails with 403/50007 when the user does not
        accept DMs from the bot (``close_dms``). An unknown user is 400/50033."""
        payload, _ = await read_body(request)
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
        """The user stops (or starts again) accepting direct messages from the bot."""
        with self.lock:
            user_id = self.world.user(who)["id"]
            if closed:
                self.world.dms_closed.add(user_id)
            else:
                self.world.dms_closed.discard(user_id)

    def dm_channel_id(self, who: str | JSON) -> str:
        """The id of the user's DM channel with the bot (created if needed)."""
        with self.lock:
            return str(self.world.dm_channel(who)["id"])

    async def _get_gateway(self, request: web.Request) -> web.Response:
        if not request.path.endswith("/bot"):
            return json_response({"url": self.gateway_url})
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return json_response({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    async def _get_application(self, request: web.Request) -> web.Response:
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

    async def _commands_http(self, request: web.Request) -> web.Response:
        guild = request.match_info.get("guild")
        if request.match_info["app"] != self.application_id:
            raise unknown("Application", 10002)
        if guild not in (None, self.guild_id):
            raise unknown("Guild", 10004)
        if request.method == "GET":
            return json_response(self.commands(guild))
        if request.method not in ("PUT", "POST"):
            raise DiscordError(405, 0, "405: Method Not Allowed")
        payload, _ = await read_body(request)
        incoming = payload if request.method == "PUT" else [payload]
        if not isinstance(incoming, list):
            raise DiscordError(400, 50035, "Invalid Form Body")
        validate_commands(incoming)
        with self.lock:
            current = self._commands.setdefault(guild, [])
            ids = {(c["name"], c.get("type", 1)): c["id"] for c in current}
            stored = []
            for command in incoming:
                key = (command["name"], command.get("type", 1))
                extra = {"guild_id": guild} if guild else {}
                defaults = {"type": 1, "options": [], "default_member_permissions": None}
                fixed = {"application_id": self.application_id, "version": self.world.snowflake()}
                command_id = ids.get(key) or self.world.snowflake()  # ids survive a re-sync
                stored.append({**defaults, **command, **fixed, **extra, "id": command_id})
            if request.method == "PUT":
                self._commands[guild] = stored
            else:
                kept = [c for c in current if c["id"] != stored[0]["id"]]
                self._commands[guild] = kept + stored
        self.record("commands", guild_id=guild, method=request.method, commands=stored)
        if request.method == "PUT":
            return json_response(stored)
        return json_response(stored[0], 200 if stored[0]["id"] in ids.values() else 201)

    def _channel(self, request: web.Request) -> JSON:
        channel = self.world.by_id.get(request.match_info["cid"])
        if channel is None:
            raise unknown("Channel", 10003)
        return channel

    async def _get_channel(self, request: web.Request) -> web.Response:
        return json_response(self._channel(request))

    async def _typing(self, request: web.Request) -> web.Response:
        self.record("typing", channel_id=self._channel(request)["id"])
        return json_response(None, 204)

    async def _history(self, request: web.Request) -> web.Response:
        """GET messages: newest first, ``limit`` 1-100 (default 50), ``before``/``after``."""
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
        channel = self._channel(request)
        payload, files = await read_body(request)
        message = self.store.create(channel["id"], self.bot_user, payload, "rest", files=files)
        return json_response(message)

    async def _message_http(self, request: web.Request) -> web.Response:
        channel, message_id = self._channel(request), request.match_info["mid"]
        message = self.store.by_id.get(message_id)
        if message is None or message["channel_id"] != channel["id"]:
            raise unknown("Message", 10008)
        if request.method == "GET":
            return json_response(message)
        if request.method == "DELETE":
            self.store.delete(message_id, "rest")
            return json_response(None, 204)
        if message["author"]["id"] != self.application_id:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        payload, files = await read_body(request)
        return json_response(self.store.edit(message_id, payload, "rest", files=files))

    async def _reaction(self, request: web.Request) -> web.Response:
        message_id, emoji = request.match_info["mid"], request.match_info["emoji"]
        message = self.store.by_id.get(message_id)
        if message is None:
            raise unknown("Message", 10008)
        reactions = [r for r in message["reactions"] if r["emoji"]["name"] != emoji]
        if request.method == "PUT":
            reactions.append({"emoji": {"id": None, "name": emoji}, "count": 1, "me": True})
        with self.lock:
            message["reactions"] = reactions
        self.record("reaction", message_id=message_id, emoji=emoji, method=request.method)
        return json_response(None, 204)

    async def _create_thread(self, request: web.Request) -> web.Response:
        """A thread from a message gets the message's id, as on Discord."""
        parent, payload = self._channel(request), (await read_body(request))[0]
        form = FormErrors()
        form.length(("name",), payload.get("name"), 100, required=True)
        form.raise_if_any()
        message_id = request.match_info.get("mid")
        if message_id is not None and message_id not in self.store.by_id:
            raise unknown("Message", 10008)
        thread_id = message_id or self.world.snowflake()
        thread_type = int(payload.get("type") or 11)
        thread = self.world.make_channel(thread_id, payload["name"], thread_type, parent["id"])
        metadata = {"archived": False, "locked": False, "archive_timestamp": now_iso()}
        archive_after = payload.get("auto_archive_duration") or 1440
        metadata["auto_archive_duration"] = archive_after
        counts = {"message_count": 0, "member_count": 1, "owner_id": self.application_id}
        thread.update(counts, thread_metadata=metadata)
        with self.lock:
            self.world.by_id[thread_id] = thread
        self.record("thread", thread=thread, message_id=message_id)
        member = {"id": thread_id, "user_id": self.application_id, "join_timestamp": now_iso()}
        event = {**thread, "newly_created": True, "member": {**member, "flags": 0}}
        self.gateway.dispatch("THREAD_CREATE", event)
        return json_response(thread, 201)
