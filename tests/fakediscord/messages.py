"""Messages: create and edit with Discord's validation (limits, empty messages, replies to a
message that does not exist, a DM to a user who does not accept them), who they ping, retried
sends de-duplicated by an enforced nonce, and the gateway events Discord sends for them
(MESSAGE_CREATE / MESSAGE_UPDATE, never for ephemeral messages). Keeps every version of every
message and the allowed_mentions it was sent with."""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING

from .protocol import DiscordError, FormErrors, unknown, validate_message
from .world import JSON, now_iso

if TYPE_CHECKING:
    from .interactions import Interaction
    from .server import FakeDiscord

EPHEMERAL, LOADING, SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS = 1 << 6, 1 << 7, 1 << 2, 1 << 12
NONCE_WINDOW = 300.0  # seconds an enforced nonce is remembered ("the past few minutes")


class MessageStore:
    """All messages by id (``by_id``), channel order (``by_channel``, without ephemeral ones),
    ``versions`` (as created, then after each edit), ``allowed`` (allowed_mentions), ``sent_at``
    (wall-clock creation time, for the nonce window)."""

    def __init__(self, server: FakeDiscord) -> None:
        self.server, self.world = server, server.world
        self.by_id: dict[str, JSON] = {}
        self.by_channel: dict[str, list[str]] = {}
        self.versions: dict[str, list[JSON]] = {}
        self.allowed: dict[str, JSON | None] = {}
        self.sent_at: dict[str, float] = {}

    def create(
        self,
        channel_id: str,
        author: JSON,
        body: JSON,
        source: str,
        *,
        interaction: Interaction | None = None,
        prefix: tuple[str, ...] = (),
        loading: bool = False,
    ) -> JSON:
        """A new message (``source``: user, rest, interaction, followup). A reply to a message
        that does not exist is 400 unless ``fail_if_not_exists`` is false (then no reply); a
        category is not a channel one can post in (404/10003); a DM to a user who does not accept
        the bot's DMs is 403/50007; a retried send with an enforced nonce returns the first
        message. ``loading``: the "is thinking" placeholder of a deferred interaction, the only
        message allowed to be empty."""
        channel = self.world.by_id.get(channel_id)
        if channel is None or channel["type"] == 4:
            raise unknown("Channel", 10003)
        if channel["type"] == 1 and channel["recipients"][0]["id"] in self.world.dms_closed:
            raise DiscordError(403, 50007, "Cannot send messages to this user")
        repeated = self._same_nonce(channel_id, author, body)
        if repeated is not None:
            return repeated
        validate_message(body, creating=not loading, prefix=prefix)
        ref, referenced = body.get("message_reference"), None
        if ref:
            referenced = self.by_id.get(str(ref.get("message_id")))
            if referenced is None and ref.get("fail_if_not_exists", True):
                form = FormErrors()
                form.add(
                    ("message_reference",), "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                )
                form.raise_if_any(prefix)
        replied = referenced["author"]["id"] if referenced else None
        allowed = body.get("allowed_mentions")
        settable = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | (EPHEMERAL if interaction else 0)
        message: JSON = {
            "id": self.world.snowflake(),
            "type": 19 if referenced else (20 if interaction and interaction.type == 2 else 0),
            "channel_id": channel_id,
            "guild_id": channel.get("guild_id"),
            "author": author,
            "content": body.get("content") or "",
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts")),
            **self.world.pings(body.get("content") or "", allowed, replied),
            "attachments": [],
            "embeds": [{"type": "rich", **e} for e in body.get("embeds") or []],
            "components": body.get("components") or [],
            "reactions": [],
            "pinned": False,
            "flags": (int(body.get("flags") or 0) & settable) | (LOADING if loading else 0),
            "nonce": body.get("nonce"),
        }
        if interaction is None:
            if channel.get("guild_id") == self.world.guild_id:
                message["member"] = self.world.member(author, with_user=False)
        else:
            payload = interaction.payload
            user = payload["member"]["user"] if "member" in payload else payload["user"]
            name = interaction.payload["data"].get("name")
            meta = {"id": interaction.id, "type": interaction.type, "user": user, "name": name}
            message.update(
                webhook_id=self.world.application_id, application_id=self.world.application_id
            )
            message.update(interaction=meta, interaction_metadata=meta)
        if referenced is not None:
            reference = {"type": 0, "message_id": referenced["id"], "channel_id": channel_id}
            message["message_reference"] = {**reference, "guild_id": self.world.guild_id}
            message["referenced_message"] = copy.deepcopy(referenced)
        visible = not message["flags"] & EPHEMERAL
        with self.server.lock:
            self.by_id[message["id"]] = message
            self.sent_at[message["id"]] = time.time()
            self.versions[message["id"]] = [copy.deepcopy(message)]
            self.allowed[message["id"]] = copy.deepcopy(allowed)
            if visible:
                self.by_channel.setdefault(channel_id, []).append(message["id"])
                channel["last_message_id"] = message["id"]
        interaction_id = interaction.id if interaction else None
        self.server.record(
            "message",
            channel_id=channel_id,
            message=message,
            allowed_mentions=allowed,
            source=source,
            interaction_id=interaction_id,
        )
        if visible:
            self.server.gateway.dispatch("MESSAGE_CREATE", message)
        return message

    def _same_nonce(self, channel_id: str, author: JSON, body: JSON) -> JSON | None:
        """With ``enforce_nonce``, a message the same author sent in the channel with the same
        nonce in the last few minutes is returned instead of a new one (Discord's documented
        de-duplication of retried sends)."""
        nonce = body.get("nonce")
        if not nonce or not body.get("enforce_nonce"):
            return None
        cutoff = time.time() - NONCE_WINDOW
        with self.server.lock:
            for mid in reversed(self.by_channel.get(channel_id, [])):
                message = self.by_id.get(mid)
                if message is None or str(message["nonce"]) != str(nonce):
                    continue
                if message["author"]["id"] == author["id"] and self.sent_at[mid] >= cutoff:
                    return copy.deepcopy(message)
        return None

    def edit(
        self,
        message_id: str,
        body: JSON,
        source: str,
        *,
        prefix: tuple[str, ...] = (),
    ) -> JSON:
        """A new version of a message (content, embeds, components, flags given replace the
        old ones), checked like a new one; who it pings is recomputed; MESSAGE_UPDATE."""
        before = self.by_id.get(message_id)
        if before is None:
            raise unknown("Message", 10008)
        validate_message(body, creating=False, prefix=prefix)
        message = copy.deepcopy(before)
        for key in ("content", "components"):
            if body.get(key) is not None:
                message[key] = body[key]
        if body.get("embeds") is not None:
            message["embeds"] = [{"type": "rich", **e} for e in body["embeds"]]
        allowed = body.get("allowed_mentions", self.allowed.get(message_id))
        replied = (message.get("referenced_message") or {}).get("author", {}).get("id")
        message.update(self.world.pings(message["content"], allowed, replied))
        if body.get("flags") is not None:
            suppress = int(body["flags"]) & SUPPRESS_EMBEDS
            message["flags"] = (message["flags"] & EPHEMERAL) | suppress
        message["flags"] &= ~LOADING
        validate_message(message, creating=True, prefix=prefix)
        message["edited_timestamp"] = now_iso()
        with self.server.lock:
            self.by_id[message_id] = message
            self.allowed[message_id] = copy.deepcopy(allowed)
            self.versions[message_id].append(copy.deepcopy(message))
        channel_id = message["channel_id"]
        self.server.record(
            "edit",
            channel_id=channel_id,
            message=message,
            before=before,
            allowed_mentions=allowed,
            source=source,
        )
        if not message["flags"] & EPHEMERAL:
            self.server.gateway.dispatch("MESSAGE_UPDATE", message)
        return message
