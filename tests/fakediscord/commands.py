"""The ``data`` of an APPLICATION_COMMAND (or autocomplete) interaction, built from the command
definition the bot synced, the way a Discord client builds it: option types come from the
definition, subcommands are nested options, the option being typed is marked ``focused``, a
channel option's value is the channel's id with the channel itself in ``resolved.channels``.

Input a real client could not send (an unknown subcommand or option, a missing required one, a
value outside the choices, min/max or length, a channel of a type the option does not offer)
raises ValueError, so a test cannot accidentally
exercise impossible input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .world import JSON

SUBCOMMAND, GROUP, CHANNEL = 1, 2, 7
CASTS: dict[int, Any] = {3: str, 4: int, 5: bool, 10: float}


def command_data(
    command: JSON,
    options: JSON,
    subcommand: str | None = None,
    focused: str | None = None,
    channel: Callable[[Any], JSON] | None = None,
) -> JSON:
    """``subcommand`` is "add" for ``/feeds add`` or "group sub" for nested groups; ``channel``
    gives the resolved (partial) channel a channel option's value names."""
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
        if definition["type"] not in (*CASTS, CHANNEL):  # users, roles: newsbot has none
            raise ValueError(f"option {name!r} of type {definition['type']} is not supported")
        option = {"name": name, "type": definition["type"], "value": options[name]}
        if name == focused:
            option["focused"] = True  # autocomplete: the partial text, as typed
        elif definition["type"] == CHANNEL:
            option["value"] = _channel(definition, options[name], channel, resolved)
        else:
            option["value"] = CASTS[definition["type"]](options[name])
            _check(definition, option["value"])
        built.append(option)
    for parent in reversed(path):
        built = [{"name": parent["name"], "type": parent["type"], "options": built}]
    data["options"] = built
    if resolved:
        data["resolved"] = resolved
    return data


def _channel(
    definition: JSON, value: Any, channel: Callable[[Any], JSON] | None, resolved: JSON
) -> str:
    """A channel option: the picked channel (by fixture name or id) must be of a type the
    option offers (``channel_types``: a text-channel option never lists a category)."""
    if channel is None:
        raise ValueError(f"option {definition['name']!r}: no channel resolver")
    picked = channel(value)
    types = definition.get("channel_types")
    if types and picked["type"] not in types:
        raise ValueError(f"{definition['name']}: channel type {picked['type']} not in {types}")
    resolved.setdefault("channels", {})[picked["id"]] = picked
    return str(picked["id"])


def _check(definition: JSON, value: Any) -> None:
    """What a Discord client enforces before sending: choices, min/max value, length."""
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
