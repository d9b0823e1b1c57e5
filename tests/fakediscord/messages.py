"""Messages: create and edit with Discord's validation (limits, empty messages, replies to a
message that does not exist), who they ping, and the gateway events Discord sends for them
(MESSAGE_CREATE / MESSAGE_UPDATE, never for ephemeral messages). Keeps every version of every
message and the allowed_mentions it was sent with."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from .protocol import FormErrors, unknown, validate_message
from .world import JSON, now_iso

if TYPE_CHECKING:
    from .interactions import Interaction
    from .server import FakeDiscord

EPHEMERAL, LOADING, SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS = 1 << 6, 1 << 7, 1 << 2, 1 << 12


class MessageStore:
    """All messages by id (``by_id``), channel order (``by_channel``, without ephemeral ones),
    ``versions`` (as created, then after each edit), ``allowed`` (allowed_mentions)."""

    def __init__(self, server: FakeDiscord) -> None:
        self.server, self.world = server, server.world
        self.by_id: dict[str, JSON] = {}
        self.by_channel: dict[str, list[str]] = {}
        self.versions: dict[str, list[JSON]] = {}
        self.allowed: dict[str, JSON | None] = {}

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
        category is not a channel one can post in (404/10003). ``loading``: the "is thinking"
        placeholder of a deferred interaction, the only message allowed to be empty."""
        channel = self.world.by_id.get(channel_id)
        if channel is None or channel["type"] == 4:
            raise unknown("Channel", 10003)
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
