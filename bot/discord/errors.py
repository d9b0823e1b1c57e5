"""Refusals and failures as replies: the one place where an interaction from a server this bot
does not serve is turned away, and where a failed command, button or message becomes a friendly
reply (with the detail in the log, see `replies.public_error_text`)."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import discord
from discord import app_commands

from bot.discord.access import Access
from bot.discord.layout import Payload, trim
from bot.discord.replies import public_error_text, reply_or_edit, send_to_channel

log = logging.getLogger(__name__)

TRANSFORM_ERROR = "I couldn't use one of the values you gave; please check it and try again."


async def check_served(access: Access, interaction: discord.Interaction[Any]) -> bool:
    """True on a served server; otherwise the user gets one ephemeral line (autocomplete: no
    choices) and the interaction goes no further."""
    if access.serves(interaction.guild_id):
        return True
    log.info(
        "interaction %s from server %s refused: not served",
        interaction.id,
        interaction.guild_id or "(direct message)",
    )
    if interaction.type is discord.InteractionType.autocomplete:
        with contextlib.suppress(discord.HTTPException):
            await interaction.response.autocomplete([])
        return False
    await reply_or_edit(interaction, access.refusal(interaction.guild_id))
    return False


async def report_interaction_error(interaction: discord.Interaction[Any], error: Exception) -> None:
    """Command and button failures: a check's refusal as it is, anything else through
    `public_error_text`; nothing for autocomplete (it cannot show text)."""
    original = error
    if isinstance(error, app_commands.CommandInvokeError):
        original = error.original
    name = interaction.command.qualified_name if interaction.command else "component"
    if isinstance(original, app_commands.CheckFailure):
        text = str(original) or "Sorry, you can't use that here."
    elif isinstance(original, app_commands.TransformerError):
        text = TRANSFORM_ERROR
    else:
        where = f"interaction {interaction.id} (/{name})"
        text = public_error_text(original, interaction.id, where)
    if interaction.type is discord.InteractionType.autocomplete:
        return
    await reply_or_edit(interaction, text)


async def report_message_error(message: discord.Message, error: Exception) -> None:
    """A failure while answering a message: a reply to it saying so."""
    where = f"message {message.id} in channel {message.channel.id}"
    text = trim(public_error_text(error, message.id, where), 1900)
    try:
        await send_to_channel(message.channel, [Payload(content=text)], reference=message)
    except discord.HTTPException as e:
        log.warning("message %s: could not send the error reply (%s)", message.id, e)
