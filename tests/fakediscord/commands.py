"""The ``data`` of an APPLICATION_COMMAND (or autocomplete) interaction, built from the command
definition the bot synced, the way a Discord client builds it: option types come from the
definition, subcommands are nested options, users/roles/channels go into ``resolved``.

Input a real client could not send (unknown or missing options, a value outside choices or
min/max) raises ValueError, so a test cannot accidentally exercise impossible input.
"""

from __future__ import annotations

from typing import Any

from .world import ALL_PERMISSIONS, JSON, World

SUBCOMMAND, GROUP = 1, 2
CASTS: dict[int, Any] = {3: str, 4: int, 5: bool, 10: float}


def command_data(
    world: World,
    command: JSON,
    options: JSON,
    subcommand: str | None = None,
    focused: str | None = None,
) -> JSON:
    """``subcommand`` is "add" for ``/feeds add`` or "group sub" for nested groups."""
    data: JSON = {"id": command["id"], "name": command["name"], "type": 1}
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    path, definitions = [], command.get("options") or []
    for part in (subcommand or "").split():
        found = [o for o in definitions if o["name"] == part and o["type"] in (SUBCOMMAND, GROUP)]
        if not found:
            raise ValueError(f"/{command['name']} has no subcommand {part!r}")
        path.append(found[0])
        definitions = found[0].get("options") or []
    if any(o["type"] in (SUBCOMMAND, GROUP) for o in definitions):
        raise ValueError(f"/{command['name']} {subcommand or ''} needs a subcommand")
    unknown = set(options) - {d["name"] for d in definitions}
    if unknown:
        raise ValueError(
            f"unknown options {sorted(unknown)}; defined: {[d['name'] for d in definitions]}"
        )
    built: list[JSON] = []
    resolved: JSON = {}
    for definition in definitions:
        name = definition["name"]
        if name not in options:
            if definition.get("required") and focused is None:
                raise ValueError(f"required option {name!r} missing")
            continue
        option = {"name": name, "type": definition["type"], "value": options[name]}
        if name == focused:
            option["focused"] = True  # autocomplete: the partial text, as typed
        elif definition["type"] in (6, 7, 8, 9):
            option["value"] = _resolve(world, definition["type"], options[name], resolved)
        else:
            option["value"] = CASTS.get(definition["type"], lambda v: v)(options[name])
            _check(definition, option["value"])
        built.append(option)
    for parent in reversed(path):
        built = [{"name": parent["name"], "type": parent["type"], "options": built}]
    data["options"] = built
    if resolved:
        data["resolved"] = resolved
    return data


def _check(definition: JSON, value: Any) -> None:
    name, choices = definition["name"], [c["value"] for c in definition.get("choices") or []]
    if choices and value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {choices}")
    low, high = definition.get("min_value"), definition.get("max_value")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name}={value!r} is outside [{low}, {high}]")
    if isinstance(value, str):
        low, high = definition.get("min_length", 0), definition.get("max_length", 6000)
        if not low <= len(value) <= high:
            raise ValueError(f"{name} has length {len(value)}, outside [{low}, {high}]")


def _resolve(world: World, type_: int, value: Any, resolved: JSON) -> str:
    """User (6), channel (7), role (8) or mentionable (9) by fixture name, id or payload."""
    if type_ == 7:
        channel = world.channels.get(value) or world.by_id[str(value)]
        resolved.setdefault("channels", {})[channel["id"]] = {
            **channel,
            "permissions": str(ALL_PERMISSIONS),
        }
        return str(channel["id"])
    role = next((r for r in world.roles.values() if value in (r["name"], r["id"])), None)
    if type_ in (8, 9) and role is not None:
        resolved.setdefault("roles", {})[role["id"]] = role
        return str(role["id"])
    user = world.user(value)
    resolved.setdefault("users", {})[user["id"]] = user
    member = world.member(user, with_user=False, with_permissions=True)
    resolved.setdefault("members", {})[user["id"]] = member
    return str(user["id"])
