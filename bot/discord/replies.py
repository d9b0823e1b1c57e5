"""Sending rendered payloads to Discord. Every call disables mentions explicitly (the bot also
sets it as its default), so nothing the bot says can ping anyone."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import discord
from discord.utils import MISSING

from bot.discord.layout import Payload, text_payloads, trim
from ingest.models import NewsbotError

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()

FRIENDLY_ERROR = (
    "Sorry, something went wrong on my side while handling that. It has been logged; please "
    "try again in a moment."
)
UNAVAILABLE_ERROR = (
    "Sorry, I can't do that right now: a service I depend on (the news corpus, the search "
    "index or the language model) is unavailable. The bot's operator can find the details in "
    "its log"
)


class PublicError(Exception):
    """Marker for errors whose text is written for Discord users (no URLs, paths or other
    internal detail): the error handler posts it as it is."""


def public_error_text(error: BaseException, ref: int, where: str) -> str:
    """The one place that decides what a user sees for an error we did not handle in place.

    A PublicError says itself; any other NewsbotError (configuration, store, Chroma server,
    lock...) may carry internal detail (a server URL, a file path), so the user gets a plain
    sentence with a reference and the log gets the detail. Anything else is a bug: a traceback
    in the log, an apology with the reference."""
    if isinstance(error, PublicError):
        log.info("%s: %s", where, error)
        return str(error)
    if isinstance(error, NewsbotError):
        log.warning("%s failed (ref %s): %s: %s", where, ref, type(error).__name__, error)
        return f"{UNAVAILABLE_ERROR} (ref {ref})."
    log.error("%s failed", where, exc_info=(type(error), error, error.__traceback__))
    return f"{FRIENDLY_ERROR} (ref {ref})"


def _content(payload: Payload) -> Any:
    return payload.content if payload.content else MISSING


async def send_followups(
    interaction: discord.Interaction[Any],
    payloads: Sequence[Payload],
    *,
    ephemeral: bool = False,
    view: discord.ui.View | None = None,
) -> list[discord.WebhookMessage]:
    """Send payloads as followups of a deferred interaction; `view` goes on the last one."""
    sent: list[discord.WebhookMessage] = []
    for i, payload in enumerate(payloads):
        last = i == len(payloads) - 1
        msg = await interaction.followup.send(
            content=_content(payload),
            embeds=payload.embeds or MISSING,
            view=view if view is not None and last else MISSING,
            ephemeral=ephemeral,
            allowed_mentions=NO_MENTIONS,
            wait=True,
        )
        interaction.extras["replied"] = True  # the "thinking" message now holds a reply
        sent.append(msg)
    return sent


async def send_text_followup(
    interaction: discord.Interaction[Any], text: str, *, ephemeral: bool = True
) -> None:
    await send_followups(interaction, text_payloads(text), ephemeral=ephemeral)


async def send_to_channel(
    channel: discord.abc.Messageable,
    payloads: Sequence[Payload],
    *,
    reference: discord.Message | None = None,
    view: discord.ui.View | None = None,
) -> list[discord.Message]:
    """Send payloads in a channel or thread; the first replies to `reference` when given,
    `view` goes on the last one."""
    sent: list[discord.Message] = []
    for i, payload in enumerate(payloads):
        last = i == len(payloads) - 1
        kwargs: dict[str, Any] = {"allowed_mentions": NO_MENTIONS, "mention_author": False}
        if payload.embeds:
            kwargs["embeds"] = payload.embeds
        if view is not None and last:
            kwargs["view"] = view
        if reference is not None and i == 0:
            kwargs["reference"] = reference.to_reference(fail_if_not_exists=False)
        msg = await channel.send(payload.content or None, **kwargs)
        sent.append(msg)
    return sent


async def reply_or_edit(interaction: discord.Interaction[Any], text: str) -> None:
    """Answer an interaction with a short message, however far it got: an ephemeral response
    when nothing was sent yet; else the deferred ("thinking…") response edited in place, or an
    ephemeral followup when part of a reply was already sent (it is kept)."""
    text = trim(text, 2000)
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(
                text, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        if not interaction.extras.get("replied"):
            try:  # replace "thinking…" (or a progress line) with the message
                await interaction.edit_original_response(
                    content=text, embeds=[], view=None, allowed_mentions=NO_MENTIONS
                )
                return
            except discord.HTTPException as e:
                log.info("interaction %s: cannot edit the response (%s)", interaction.id, e)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
    except discord.HTTPException as e:
        log.warning("interaction %s: could not send a reply (%s)", interaction.id, e)
