"""👍/👎 buttons under answers. The buttons are persistent (fixed custom ids, no timeout) and
carry nothing: a click is stored against the answer the bot remembers for the message the
buttons are on (bot.discord.store)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.discord.errors import check_served
from bot.discord.replies import NO_MENTIONS, reply_or_edit

if TYPE_CHECKING:
    from bot.discord.services import Services

log = logging.getLogger(__name__)

FEEDBACK_UP = "newsbot:feedback:up"
FEEDBACK_DOWN = "newsbot:feedback:down"
VOTES = {FEEDBACK_UP: 1, FEEDBACK_DOWN: -1}

VoteHandler = Callable[[discord.Interaction[Any], int], Awaitable[None]]
ErrorHandler = Callable[[discord.Interaction[Any], Exception], Awaitable[None]]


class FeedbackView(discord.ui.View):
    """Registered once with `bot.add_view` (it handles clicks on every answer ever sent)."""

    def __init__(
        self, on_vote: VoteHandler | None = None, on_error: ErrorHandler | None = None
    ) -> None:
        super().__init__(timeout=None)
        self._on_vote = on_vote
        self._on_error = on_error

    @discord.ui.button(
        label="Helpful", emoji="👍", style=discord.ButtonStyle.secondary, custom_id=FEEDBACK_UP
    )
    async def up(self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]) -> None:
        await self._vote(interaction, 1)

    @discord.ui.button(
        label="Not helpful",
        emoji="👎",
        style=discord.ButtonStyle.secondary,
        custom_id=FEEDBACK_DOWN,
    )
    async def down(self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]) -> None:
        await self._vote(interaction, -1)

    async def _vote(self, interaction: discord.Interaction[Any], vote: int) -> None:
        if self._on_vote is not None:
            await self._on_vote(interaction, vote)

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        if self._on_error is not None:
            await self._on_error(interaction, error)
        else:  # pragma: no cover - the bot always passes a handler
            log.error("feedback button failed", exc_info=error)


def sendable_view() -> FeedbackView:
    """A copy of the buttons to attach to a new message. It is stopped, so discord.py does not
    keep one view per message in memory; clicks reach the registered persistent view instead.
    Must be called inside the event loop."""
    view = FeedbackView()
    view.stop()
    return view


async def record_vote(services: Services, interaction: discord.Interaction[Any], vote: int) -> None:
    """Store a click on 👍/👎 against the answer the buttons are on (as the bot stored it)."""
    if not await check_served(services.access, interaction):
        return
    message = interaction.message
    record = None
    if message is not None:
        record = await asyncio.to_thread(services.memory.recall, message.id)
    if message is None or record is None:
        await reply_or_edit(interaction, "Sorry, I can't find the answer this belongs to.")
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    await asyncio.to_thread(
        services.memory.add_feedback,
        user_id=interaction.user.id,
        vote=vote,
        record=record,
        message_id=message.id,
    )
    log.info("interaction %s: feedback %+d on message %s", interaction.id, vote, message.id)
    await interaction.followup.send(
        "Thanks for the feedback!", ephemeral=True, allowed_mentions=NO_MENTIONS
    )
