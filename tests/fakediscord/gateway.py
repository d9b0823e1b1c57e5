"""The gateway websocket: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, RESUME, dispatches.

discord.py 2.x connects with ``?v=10&encoding=json&compress=zstd-stream`` when the
``zstandard`` package is importable (it is here: langsmith pulls it in), else
``compress=zlib-stream``; both are honoured (one compression context per connection, each
message flushed). It sends plain-text JSON frames itself.
"""

from __future__ import annotations

import asyncio
import copy
import json
import secrets
import time
import zlib
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from .world import JSON

if TYPE_CHECKING:
    from .server import FakeDiscord

try:
    import zstandard
except ImportError:  # pragma: no cover - depends on the environment
    zstandard = None  # type: ignore[assignment]

MEMBERS, PRESENCES, GUILD_MESSAGES, REACTIONS, DIRECT_MESSAGES, MESSAGE_CONTENT = (
    1 << 1,
    1 << 8,
    1 << 9,
    1 << 10,
    1 << 12,
    1 << 15,
)
PRIVILEGED = MEMBERS | PRESENCES | MESSAGE_CONTENT
EVENT_INTENTS = {
    "MESSAGE_CREATE": GUILD_MESSAGES,
    "MESSAGE_UPDATE": GUILD_MESSAGES,
    "MESSAGE_DELETE": GUILD_MESSAGES,
    "MESSAGE_REACTION_ADD": REACTIONS,
}


class Connection:
    """One websocket, its transport compression and an ordered send queue."""

    def __init__(self, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.ws, self.compress = ws, compress
        self.queue: asyncio.Queue[JSON] = asyncio.Queue()
        self.session: Session | None = None
        self.zlib = zlib.compressobj()
        self.zstd = zstandard.ZstdCompressor().compressobj() if zstandard else None

    def send(self, payload: JSON) -> None:
        self.queue.put_nowait(payload)

    async def writer(self) -> None:
        """Send queued payloads in order: compressed as the client asked (one zlib or zstd
        context per connection, each message flushed), else as text frames."""
        while True:
            raw = json.dumps(await self.queue.get()).encode()
            if self.compress == "zlib-stream":  # shared context, each message ends 00 00 ff ff
                await self.ws.send_bytes(
                    self.zlib.compress(raw) + self.zlib.flush(zlib.Z_SYNC_FLUSH)
                )
            elif self.compress == "zstd-stream" and self.zstd is not None:
                data = self.zstd.compress(raw)
                await self.ws.send_bytes(data + self.zstd.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK))
            else:
                await self.ws.send_str(raw.decode())


class Session:
    """An identified session; it outlives its connection so that RESUME can replay events."""

    def __init__(self, intents: int, shard: tuple[int, int] | None = None) -> None:
        self.id, self.intents, self.seq = secrets.token_hex(16), intents, 0
        self.shard = shard  # (id, count) from IDENTIFY; None: unsharded (every server)
        self.history: list[JSON] = []
        self.conn: Connection | None = None

    def owns(self, guild_id: str | None) -> bool:
        """Whether this session's shard receives a server's events, as Discord routes them:
        shard (guild_id >> 22) % count; direct messages (no server) go to shard 0."""
        if self.shard is None:
            return True
        shard_id, count = self.shard
        if guild_id is None:
            return shard_id == 0
        return (int(guild_id) >> 22) % count == shard_id

    def dispatch(self, event: str, data: JSON) -> None:
        """Number the event (``s``), keep it for a RESUME, send it if connected."""
        self.seq += 1
        payload = {"op": 0, "t": event, "s": self.seq, "d": data}
        self.history = [*self.history[-999:], payload]
        if self.conn is not None:
            self.conn.send(payload)


class Gateway:
    """The gateway websocket (``/gateway``) and the identified sessions it dispatches to."""

    def __init__(self, server: FakeDiscord) -> None:
        self.server = server
        self.sessions: dict[str, Session] = {}

    def dispatch(self, event: str, data: JSON) -> None:
        """Send a DISPATCH to every session whose intents allow it (on the server's loop):
        message events of a server channel need GUILD_MESSAGES, those of a DM channel (no
        ``guild_id``) DIRECT_MESSAGES, as on Discord. Without MESSAGE_CONTENT, messages arrive
        with empty content/embeds/attachments/components unless the bot wrote them or is
        mentioned, as on Discord."""
        bot_id = self.server.world.application_id
        guild = data.get("guild_id") or (data.get("id") if event.startswith("GUILD_") else None)
        for session in list(self.sessions.values()):
            if not session.owns(guild):  # another shard's server
                continue
            needed = EVENT_INTENTS.get(event, 0)
            if needed == GUILD_MESSAGES and not data.get("guild_id"):
                needed = DIRECT_MESSAGES  # a message in a DM channel
            if needed and not session.intents & needed:
                continue
            payload = data
            if (
                event in ("MESSAGE_CREATE", "MESSAGE_UPDATE")
                and not session.intents & MESSAGE_CONTENT
            ):
                readable = data["author"]["id"] == bot_id or any(
                    m["id"] == bot_id for m in data["mentions"]
                )
                if not readable:
                    payload = {
                        **data,
                        "content": "",
                        "embeds": [],
                        "attachments": [],
                        "components": [],
                    }
            session.dispatch(event, copy.deepcopy(payload))

    async def close_all(self, code: int) -> None:
        """Close every connection (``drop_gateway``, ``stop``); sessions stay resumable."""
        for session in list(self.sessions.values()):
            if session.conn is not None:
                await session.conn.ws.close(code=code)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """One connection: HELLO with the heartbeat interval, then the client's ops. Only
        ``encoding=json`` is spoken; an undecodable frame closes with 4002, as on Discord."""
        server = self.server
        ws = web.WebSocketResponse(max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        server.record("gateway_connect", query=dict(request.query))
        if request.query.get("encoding", "json") != "json":
            await ws.close(code=4002, message=b"only encoding=json is supported")
            return ws
        conn = Connection(ws, request.query.get("compress"))
        writer = asyncio.create_task(conn.writer())
        conn.send({"op": 10, "d": {"heartbeat_interval": server.heartbeat_interval_ms}})
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    try:
                        payload = json.loads(message.data)
                    except ValueError:
                        await ws.close(code=4002, message=b"Error while decoding payload.")
                        break
                    await self._on_op(conn, payload.get("op"), payload.get("d"))
        finally:
            writer.cancel()
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None
            server.record("gateway_close", code=ws.close_code)
        return ws

    async def _on_op(self, conn: Connection, op: int | None, data: JSON | None) -> None:
        """HEARTBEAT is acknowledged (and recorded), IDENTIFY starts a session, RESUME
        replays what a known session missed (an unknown one gets INVALID_SESSION)."""
        server = self.server
        if op == 1:  # HEARTBEAT
            with server.lock:
                server.heartbeats.append((time.monotonic(), id(conn)))
            server.record("heartbeat", seq=data)
            conn.send({"op": 11})
        elif op == 2 and isinstance(data, dict):  # IDENTIFY
            await self._identify(conn, data)
        elif op == 6 and isinstance(data, dict):  # RESUME
            session = self.sessions.get(data.get("session_id") or "")
            if session is None or not server.token_ok(data.get("token")):
                conn.send({"op": 9, "d": False})  # INVALID_SESSION, not resumable
                return
            server.record("resume", session_id=session.id, seq=data.get("seq"))
            session.conn, conn.session = conn, session
            for old in session.history:
                if old["s"] > (data.get("seq") or 0):
                    conn.send(old)
            session.dispatch("RESUMED", {})
        else:  # presence, voice state, member requests...: recorded, not acted on
            server.record("gateway_op", op=op, data=data)

    async def _identify(self, conn: Connection, data: JSON) -> None:
        """A wrong token closes with 4004; a privileged intent the application was not granted
        closes with 4014; else READY, then a GUILD_CREATE per server the bot is in."""
        server, world = self.server, self.server.world
        server.record("identify", payload={k: v for k, v in data.items() if k != "token"})
        if not server.token_ok(data.get("token")):
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        intents = int(data.get("intents") or 0)
        if intents & PRIVILEGED & ~server.privileged_intents:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        shard = data.get("shard")
        if shard is not None and not (
            isinstance(shard, list) and len(shard) == 2 and 0 <= shard[0] < shard[1]
        ):
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return
        session = Session(intents, (int(shard[0]), int(shard[1])) if shard else None)
        session.conn, conn.session = conn, session
        self.sessions[session.id] = session
        # application flags GATEWAY_{PRESENCE,GUILD_MEMBERS,MESSAGE_CONTENT}_LIMITED
        limited = ((1 << 13, PRESENCES), (1 << 15, MEMBERS), (1 << 19, MESSAGE_CONTENT))
        flags = sum(flag for flag, intent in limited if server.privileged_intents & intent)
        ready = {
            "v": 10,
            "user": {**world.bot_user, "verified": True, "mfa_enabled": False},
            "guilds": [
                {"id": gid, "unavailable": True}
                for gid in [world.guild_id, *world.other_guilds]
                if gid not in world.left and session.owns(gid)
            ],
            "session_id": session.id,
            "resume_gateway_url": server.gateway_url,
            "application": {"id": world.application_id, "flags": flags},
            "private_channels": [],
        }
        if shard:
            ready["shard"] = list(shard)
        session.dispatch("READY", ready)
        if world.guild_id not in world.left and session.owns(world.guild_id):
            session.dispatch("GUILD_CREATE", world.guild_payload())
        for guild_id in [g for g in world.other_guilds if g not in world.left and session.owns(g)]:
            session.dispatch("GUILD_CREATE", world.other_guild_payload(guild_id))
        server.ready_event.set()
