"""A slash command's cooldown as one app_commands check (`cooldown`), and its refund rule in one
place (`CooldownCog.cog_app_command_error`): a use that ends in an error — a refusal raised as
`Refused` (a bad date, an unknown feed, a job that could not start) or a failure — does not
count against the cooldown. The buckets themselves (bot.discord.access.Cooldowns) are pure;
the cog holds them as `self.cooldowns`, given to its constructor, and answers its refusals
itself (so it works in any bot, as discord.py's cog error handlers do); the bot's tree reports
only the failures."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.access import Cooldown, Cooldowns
from bot.discord.replies import NO_MENTIONS, send_text_followup

T = TypeVar("T")

Interaction = discord.Interaction[Any]
_USED = "cooldown"  # interaction.extras key: the (bucket, key) this use was recorded in


class Refused(app_commands.AppCommandError):
    """A command that will not do its work for a reason the user can fix: `text` (nothing when
    the user was already told) goes to them as an ephemeral response, or as a followup
    (`ephemeral` or not) once the command deferred; the use does not count."""

    def __init__(self, text: str = "", *, ephemeral: bool = True) -> None:
        super().__init__(text)
        self.text, self.ephemeral = text, ephemeral


class OnCooldown(Refused, app_commands.CheckFailure):
    """Raised by the cooldown check: the text says when to try again."""


def by_user(interaction: Interaction) -> Hashable:
    return interaction.user.id


def cooldown(
    bucket: str,
    refusal: Callable[[Interaction, float], str],
    key: Callable[[Interaction], Hashable] = by_user,
) -> Callable[[T], T]:
    """A check: the use is recorded in the cog's `cooldowns.<bucket>` under `key(interaction)`
    (default: the user), or refused with `refusal(interaction, seconds to wait)`. It runs after
    the cog's own interaction_check (so a refused maintainer command never counts)."""

    def predicate(interaction: Interaction) -> bool:
        command = interaction.command
        cog = command.binding if isinstance(command, app_commands.Command) else None
        if not isinstance(cog, CooldownCog):
            raise TypeError(f"@cooldown is for commands of a CooldownCog, not {cog!r}")
        limit: Cooldown = getattr(cog.cooldowns, bucket)
        used = key(interaction)
        wait = limit.retry_after(used)
        if wait:
            raise OnCooldown(refusal(interaction, wait))
        interaction.extras[_USED] = (limit, used)
        return True

    return app_commands.check(predicate)


class CooldownCog(commands.Cog):
    """A cog whose commands use `@cooldown`: it holds the buckets and answers the refusals."""

    cooldowns: Cooldowns

    async def cog_app_command_error(
        self, interaction: Interaction, error: app_commands.AppCommandError
    ) -> None:
        used = interaction.extras.pop(_USED, None)
        if used is not None:  # any error: this use does not count
            limit, key = used
            limit.reset(key)
        if isinstance(error, Refused) and error.text:
            await send_refusal(interaction, error)


async def send_refusal(interaction: Interaction, refused: Refused) -> None:
    """An ephemeral response; once the command deferred, a followup (ephemeral as it says)."""
    if not interaction.response.is_done():
        await interaction.response.send_message(
            refused.text, ephemeral=True, allowed_mentions=NO_MENTIONS
        )
    else:
        await send_text_followup(interaction, refused.text, ephemeral=refused.ephemeral)
