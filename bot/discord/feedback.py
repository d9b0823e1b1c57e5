"""👍/👎 buttons under answers. The buttons are persistent (fixed custom ids, no timeout) and
carry nothing secret: the question, answer and sources are recovered from the bot's memory of
recent answers, or read back from the embeds of the message the buttons are on."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.discord.conversation import AnswerRecord

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


class AnswerMemory:
    """The most recent answers by message id (bounded), for feedback and conversation context."""

    def __init__(self, size: int = 2000) -> None:
        self.size = size
        self._items: OrderedDict[int, AnswerRecord] = OrderedDict()

    def remember(self, message_id: int, record: AnswerRecord) -> None:
        self._items[message_id] = record
        self._items.move_to_end(message_id)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def get(self, message_id: int) -> AnswerRecord | None:
        return self._items.get(message_id)

    def __len__(self) -> int:
        return len(self._items)
