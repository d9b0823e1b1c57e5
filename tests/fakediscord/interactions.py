"""Interactions: INTERACTION_CREATE payloads, and the endpoints a bot answers them with:
the callback (once, within 3 s), followups (15 min) and @original / followup message edits."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

from aiohttp import web

from .messages import EPHEMERAL, LOADING
from .protocol import DiscordError, FormErrors, json_response, read_json, unknown
from .world import JSON

if TYPE_CHECKING:
    from .server import FakeDiscord

# Callback types allowed per interaction type (2 command, 3 component, 4 autocomplete)
CALLBACK_TYPES = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}}
ATTACHMENT_LIMIT = 10 * 1024 * 1024  # sent in every interaction: discord.py fails without it


class Interaction:
    """Server-side state of one interaction sent to the bot."""

    def __init__(self, payload: JSON) -> None:
        self.payload = payload
        self.id: str = payload["id"]
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.created = time.monotonic()
        self.callback: JSON | None = None  # the accepted callback body
        self.original_id: str | None = None  # the message @original refers to
        self.followup_ids: list[str] = []


class Interactions:
    """All interactions by id, and the HTTP endpoints for answering them."""

    def __init__(self, server: FakeDiscord) -> None:
        self.server, self.world, self.store = server, server.world, server.store
        self.by_id: dict[str, Interaction] = {}

    def create(
        self,
        type_: int,
        data: JSON,
        user: str | JSON,
        channel_id: str | None,
        message: JSON | None = None,
        *,
        guild_id: str | None = None,
        dm: bool = False,
    ) -> str:
        """From the main guild by default; `guild_id`: from another server (World.add_guild);
        `dm`: from the user's DM with the bot (no guild, no member: `user`)."""
        world = self.world
        if dm or (guild_id and guild_id != world.guild_id):
            return self._dispatch(self._elsewhere(type_, data, user, guild_id, dm))
        channel = world.by_id[channel_id or world.channel_id]
        permissions = str(world.permissions(user))
        payload: JSON = {
            "id": world.snowflake(),
            "application_id": world.application_id,
            "type": type_,
            "data": data,
            "token": "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48),
            "version": 1,
            "guild_id": world.guild_id,
            "guild": {"id": world.guild_id, "locale": "en-US", "features": []},
            "channel_id": channel["id"],
            "channel": {**channel, "permissions": permissions},
            "member": world.member(user, with_permissions=True),
            "locale": "en-US",
            "guild_locale": "en-US",
            "app_permissions": str(world.permissions("bot")),
            "entitlements": [],
            "authorizing_integration_owners": {"0": world.guild_id},
            "context": 0,
            "attachment_size_limit": ATTACHMENT_LIMIT,
        }
        if message is not None:
            payload["message"] = message
        return self._dispatch(payload)

    def _elsewhere(
        self,
        type_: int,
        data: JSON,
        user: str | JSON,
        guild_id: str | None,
        dm: bool,
    ) -> JSON:
        """From another server the bot is in (a member without roles; its owner has every
        permission), or from a DM (a ``user``, no guild, no member)."""
        world = self.world
        payload: JSON = {
            "id": world.snowflake(),
            "application_id": world.application_id,
            "type": type_,
            "data": {k: v for k, v in data.items() if k != "guild_id"},
            "token": "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48),
            "version": 1,
            "locale": "en-US",
            "app_permissions": str(world.permissions("bot")),
            "entitlements": [],
            "attachment_size_limit": ATTACHMENT_LIMIT,
        }
        if dm:
            channel = world.dm_channel(user)
            payload.update(
                channel_id=channel["id"],
                channel=channel,
                user=world.user(user),
                context=1,
                authorizing_integration_owners={"0": world.guild_id},
            )
        else:
            assert guild_id is not None
            guild = world.other_guilds[guild_id]
            member = world.other_member(guild_id, user, with_permissions=True)
            channel = world.by_id[guild["channel_id"]]
            payload.update(
                guild_id=guild_id,
                guild={"id": guild_id, "locale": "en-US", "features": []},
                channel_id=channel["id"],
                channel={**channel, "permissions": member["permissions"]},
                member=member,
                guild_locale="en-US",
                context=0,
                authorizing_integration_owners={"0": guild_id},
            )
        return payload

    def _dispatch(self, payload: JSON) -> str:
        """Record the interaction and send INTERACTION_CREATE; its 3 s start now."""
        interaction = Interaction(payload)
        with self.server.lock:
            self.by_id[interaction.id] = interaction
        self.server.record("interaction", interaction_id=interaction.id, payload=payload)
        self.server.gateway.dispatch("INTERACTION_CREATE", payload)
        return interaction.id

    async def callback(self, request: web.Request) -> web.Response:
        """Once per interaction (400/40060 after), within interaction_deadline (404/10062)."""
        interaction = self.by_id.get(request.match_info["iid"])
        if interaction is None or interaction.token != request.match_info["token"]:
            raise unknown("interaction", 10062)
        payload = await read_json(request)
        data = payload.get("data") or {}
        entry = {"interaction_id": interaction.id, "type": payload.get("type"), "data": data}
        try:
            if time.monotonic() - interaction.created > self.server.interaction_deadline:
                raise unknown("interaction", 10062)
            if interaction.callback is not None:
                raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
            response = self._respond(interaction, payload)
        except DiscordError as exc:
            self.server.record("callback", **entry, status=exc.status, error=exc.body())
            raise
        allowed = data.get("allowed_mentions")
        self.server.record("callback", **entry, status=200, allowed_mentions=allowed)
        return json_response(response)

    def _respond(self, interaction: Interaction, payload: JSON) -> JSON:
        """The callback's effect: 4 a message, 5 the "is thinking" placeholder (ephemeral if
        asked), 7 the clicked message edited, 8 autocomplete choices (≤ 25); a type the
        interaction does not allow is 400/50035."""
        type_, data = payload.get("type"), payload.get("data") or {}
        if type_ not in CALLBACK_TYPES[interaction.type]:
            error = {
                "code": "INTERACTION_RESPONSE_TYPE_INVALID",
                "message": "Invalid response type",
            }
            raise DiscordError(400, 50035, "Invalid Form Body", {"type": {"_errors": [error]}})
        channel_id, message = interaction.payload["channel_id"], None
        if type_ == 4:  # CHANNEL_MESSAGE_WITH_SOURCE
            bot, prefix = self.world.bot_user, ("data",)
            message = self.store.create(
                channel_id, bot, data, "interaction", interaction=interaction, prefix=prefix
            )
        elif type_ == 5:  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: "NewsBot is thinking..."
            body = {"flags": int(data.get("flags") or 0) & EPHEMERAL}
            message = self.store.create(
                channel_id,
                self.world.bot_user,
                body,
                "interaction",
                interaction=interaction,
                loading=True,
            )
        elif type_ == 7:  # UPDATE_MESSAGE (components)
            message_id = interaction.payload["message"]["id"]
            message = self.store.edit(message_id, data, "interaction", prefix=("data",))
        elif type_ == 8:  # APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
            form = FormErrors()
            form.count(("choices",), data.get("choices") or [], 25)
            form.raise_if_any(("data",))
        if type_ in (4, 5) and message is not None:
            interaction.original_id = message["id"]
        elif type_ in (6, 7):
            interaction.original_id = interaction.payload["message"]["id"]
        interaction.callback = payload
        result: JSON = {
            "interaction": {
                "id": interaction.id,
                "type": interaction.type,
                "response_message_id": message["id"] if message else None,
                "response_message_loading": type_ == 5,
                "response_message_ephemeral": bool(message and message["flags"] & EPHEMERAL),
            }
        }
        if message is not None:
            result["resource"] = {"type": type_, "message": message}
        return result

    def _by_token(self, request: web.Request) -> Interaction:
        """The interaction a webhook token belongs to: unknown is 404/10015, one older than
        ``followup_ttl`` (15 minutes) is 401/50027."""
        token = request.match_info["token"]
        found = [i for i in list(self.by_id.values()) if i.token == token]
        if not found or request.match_info["app"] != self.world.application_id:
            raise unknown("Webhook", 10015)
        if time.monotonic() - found[0].created > self.server.followup_ttl:
            raise DiscordError(401, 50027, "Invalid Webhook Token")
        return found[0]

    async def followup(self, request: web.Request) -> web.Response:
        """A followup needs an acknowledged interaction; after a deferral the first one edits
        the loading message (as on Discord); later ones are new messages."""
        interaction = self._by_token(request)
        payload = await read_json(request)
        try:
            if interaction.callback is None:
                raise unknown("Webhook", 10015)
            original = self.store.by_id.get(interaction.original_id or "")
            if original is not None and original["flags"] & LOADING:
                message = self.store.edit(original["id"], payload, "followup")
            else:
                channel_id, bot = interaction.payload["channel_id"], self.world.bot_user
                message = self.store.create(
                    channel_id, bot, payload, "followup", interaction=interaction
                )
                interaction.followup_ids.append(message["id"])
        except DiscordError as exc:
            error = exc.body()
            self.server.record(
                "followup", interaction_id=interaction.id, status=exc.status, error=error
            )
            raise
        allowed = payload.get("allowed_mentions")
        entry = {"interaction_id": interaction.id, "message": message, "allowed_mentions": allowed}
        self.server.record("followup", **entry, status=200)
        wait = request.query.get("wait", "false").lower() in ("1", "true")
        return json_response(message) if wait else json_response(None, 204)

    async def edit_message(self, request: web.Request) -> web.Response:
        """PATCH @original (``edit_original_response``) or one of the interaction's followups;
        another message is 404/10008; a rejected edit is recorded as ``edit_failed``."""
        interaction, message_id = self._by_token(request), request.match_info["mid"]
        if message_id == "@original":
            message_id = interaction.original_id or ""
        own = message_id == interaction.original_id or message_id in interaction.followup_ids
        if message_id not in self.store.by_id or not own:
            raise unknown("Message", 10008)
        try:
            message = self.store.edit(message_id, await read_json(request), "webhook")
        except DiscordError as exc:
            entry = {"interaction_id": interaction.id, "message_id": message_id}
            self.server.record("edit_failed", **entry, error=exc.body(), status=exc.status)
            raise
        return json_response(message)
