"""Discord's wire conventions: JSON responses, request bodies, error bodies, and the limits
it enforces on messages and application commands.

Pure functions: they raise DiscordError with the status, code and nested ``errors`` object that
Discord itself answers with, so that a bot which exceeds a limit sees the real failure.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

JSON = dict[str, Any]


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
    """Discord's 404s: Unknown Channel 10003, Message 10008, Webhook 10015, interaction 10062."""
    return DiscordError(404, code, f"Unknown {what}")


class FormErrors:
    """Collects errors in Discord's nested ``{"field": {"0": {"_errors": [...]}}}`` shape."""

    def __init__(self) -> None:
        self.errors: JSON = {}

    def add(self, path: tuple[str, ...], code: str, message: str) -> None:
        node = self.errors
        for key in path:
            node = node.setdefault(key, {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def length(self, path: tuple[str, ...], value: Any, limit: int, required: bool = False) -> int:
        text = "" if value is None else str(value)
        if required and not text:
            self.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        elif len(text) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
        return len(text)

    def count(self, path: tuple[str, ...], items: list[Any], limit: int) -> None:
        if len(items) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def raise_if_any(self, prefix: tuple[str, ...] = ()) -> None:
        if self.errors:
            errors = self.errors
            for key in reversed(prefix):
                errors = {key: errors}
            raise DiscordError(400, 50035, "Invalid Form Body", errors)


def validate_message(body: JSON, *, creating: bool, prefix: tuple[str, ...] = ()) -> None:
    """Content ≤ 2000, ≤ 10 embeds (title 256, description 4096, ≤ 25 fields of 256/1024,
    footer 2048, author 256, 6000 in total), ≤ 5 component rows of ≤ 5; else 400/50035.
    A new message with nothing in it is 400/50006. ``prefix`` nests the errors (``data``)."""
    form = FormErrors()
    form.length(("content",), body.get("content"), 2000)
    embeds = body.get("embeds") or []
    form.count(("embeds",), embeds, 10)
    total = 0
    for i, embed in enumerate(embeds[:10]):
        at = ("embeds", str(i))
        total += form.length((*at, "title"), embed.get("title"), 256)
        total += form.length((*at, "description"), embed.get("description"), 4096)
        total += form.length((*at, "footer", "text"), (embed.get("footer") or {}).get("text"), 2048)
        total += form.length((*at, "author", "name"), (embed.get("author") or {}).get("name"), 256)
        form.count((*at, "fields"), embed.get("fields") or [], 25)
        for j, field in enumerate(embed.get("fields") or []):
            total += form.length((*at, "fields", str(j), "name"), field.get("name"), 256, True)
            total += form.length((*at, "fields", str(j), "value"), field.get("value"), 1024, True)
    if total > 6000:
        form.add(("embeds",), "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
    rows = body.get("components") or []
    form.count(("components",), rows, 5)
    for i, row in enumerate(rows):
        form.count(("components", str(i), "components"), row.get("components") or [], 5)
        for j, component in enumerate(row.get("components") or []):
            where = ("components", str(i), "components", str(j))
            form.length((*where, "label"), component.get("label"), 80)
            form.length((*where, "custom_id"), component.get("custom_id"), 100)
    form.raise_if_any(prefix)
    keys = ("content", "embeds", "components", "attachments", "sticker_ids", "poll")
    if creating and not any(body.get(key) for key in keys):
        raise DiscordError(400, 50006, "Cannot send an empty message")


def validate_commands(commands: list[JSON]) -> None:
    """What Discord checks when commands are synced: names, description lengths, option order."""
    form = FormErrors()
    form.count((), commands, 100)

    def check(path: tuple[str, ...], item: JSON, slash: bool) -> None:
        name = item.get("name") or ""
        if slash and (not re.fullmatch(r"[-_\w]{1,32}", name) or name != name.lower()):
            form.add((*path, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        if slash and not 1 <= len(item.get("description") or "") <= 100:
            message = "Must be between 1 and 100 in length."
            form.add((*path, "description"), "BASE_TYPE_BAD_LENGTH", message)
        options = item.get("options") or []
        form.count((*path, "options"), options, 25)
        optional_seen = False
        for k, option in enumerate(options):
            if option.get("required") and optional_seen:
                message = "Required options must be placed before non-required options"
                form.add(
                    (*path, "options"), "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID", message
                )
            optional_seen |= option.get("type") not in (1, 2) and not option.get("required")
            form.count((*path, "options", str(k), "choices"), option.get("choices") or [], 25)
            check((*path, "options", str(k)), option, True)

    seen: set[tuple[str, int]] = set()
    for i, command in enumerate(commands):
        key = (command.get("name", ""), command.get("type", 1))
        if key in seen:
            message = "Application command names must be unique"
            form.add((str(i), "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME", message)
        seen.add(key)
        check((str(i),), command, key[1] == 1)
    form.raise_if_any()


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """discord.py parses a body only when Content-Type is exactly ``application/json``
    (aiohttp's json_response would add ``; charset=utf-8``)."""
    if status == 204:
        return web.Response(status=204)
    headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(body=json.dumps(data).encode(), status=status, headers=headers)


async def read_json(request: web.Request) -> Any:
    """A request's JSON body (discord.py sends JSON unless it uploads files, which newsbot never
    does); anything else is 400/50109, as on Discord."""
    try:
        raw = await request.read()
        return json.loads(raw) if raw else {}
    except ValueError:
        raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None
