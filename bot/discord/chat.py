"""Conversations in channels: a mention, a reply to one of the bot's answers, or any message in
a thread the bot opened asks a question. The reply chain (or the thread) is the conversation:
earlier answers are read back from the bot's own messages and passed on as history."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.discord.access import guild_served
from bot.discord.conversation import (
    HISTORY_SCAN,
    MAX_TURNS,
    AnswerRecord,
    channel_allowed,
    is_addressed,
    is_answer_embeds,
    record_from_embeds,
    strip_bot_mention,
    thread_name,
    turns_from_records,
)
from bot.discord.render import render_answer, text_payloads
from bot.discord.replies import send_to_channel
from bot.language import question_language
from bot.messages import cooldown_text
from bot.models import Turn

if TYPE_CHECKING:
    from bot.discord.client import NewsBot

log = logging.getLogger(__name__)

ANSWERABLE_TYPES = (discord.MessageType.default, discord.MessageType.reply)
EMPTY_MENTION_REPLY = (
    "Hi! Ask me about AI news after the mention, e.g. *what did Google DeepMind announce "
    "recently?*, or use `/ask`."
)


@dataclass
class Addressed:
    """Why a message is for the bot, and the answer it replies to (if any)."""

    mentions_bot: bool
    in_bot_thread: bool
    replied: discord.Message | None  # the bot answer this message replies to


class Conversations(commands.Cog):
    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        target = await self.addressed(message)
        if target is None:
            return
        try:
            await self.answer(message, target)
        except Exception as e:  # every failure gets a friendly reply plus a logged traceback
            await self.bot.report_message_error(message, e)

    # ------------------------------------------------------------------ addressing
    async def addressed(self, message: discord.Message) -> Addressed | None:
        me = self.bot.user
        if me is None or message.author.bot or message.webhook_id or message.guild is None:
            return None
        if not guild_served(self.bot.settings, message.guild.id):
            return None  # another server: the bot leaves it (or, in setup mode, serves none)
        if message.type not in ANSWERABLE_TYPES or message.author.id == me.id:
            return None
        channel = message.channel
        thread = channel if isinstance(channel, discord.Thread) else None
        if not channel_allowed(
            channel.id, thread.parent_id if thread else None, self.bot.settings.channel_ids
        ):
            return None
        mentions_bot = me.id in message.raw_mentions
        in_bot_thread = thread is not None and (
            thread.owner_id == me.id or thread.id in self.bot.threads
        )
        replied = None
        if message.reference is not None and message.reference.message_id:
            try:
                ref = await self.referenced(message)
            except discord.HTTPException as e:
                log.warning("message %s: cannot read the replied-to message (%s)", message.id, e)
                ref = None
            if ref is not None and ref.author.id == me.id and self.is_answer(ref):
                replied = ref
        if not is_addressed(
            mentions_bot=mentions_bot,
            replies_to_answer=replied is not None,
            in_bot_thread=in_bot_thread,
        ):
            return None
        return Addressed(mentions_bot, in_bot_thread, replied)

    def is_answer(self, message: discord.Message) -> bool:
        return self.bot.answers.get(message.id) is not None or is_answer_embeds(message.embeds)

    def record_of(self, message: discord.Message) -> AnswerRecord | None:
        return self.bot.answers.get(message.id) or record_from_embeds(message.embeds)

    async def referenced(self, message: discord.Message) -> discord.Message | None:
        """The message `message` replies to: from the event payload, the cache, or the API."""
        ref = message.reference
        if ref is None or ref.message_id is None:
            return None
        if isinstance(ref.resolved, discord.Message):
            return ref.resolved
        if ref.cached_message is not None:
            return ref.cached_message
        channel: Any = message.channel
        if ref.channel_id != message.channel.id:
            channel = self.bot.get_channel(ref.channel_id) or message.channel
        try:
            return await channel.fetch_message(ref.message_id)
        except (discord.NotFound, discord.Forbidden):
            return None

    # ------------------------------------------------------------------ history
    async def history(self, message: discord.Message, target: Addressed) -> list[Turn]:
        me = self.bot.user
        assert me is not None
        records: list[AnswerRecord] = []
        if target.in_bot_thread:
            try:
                async for m in message.channel.history(limit=HISTORY_SCAN, before=message):
                    if m.author.id == me.id and self.is_answer(m):
                        rec = self.record_of(m)
                        if rec is not None:
                            records.append(rec)
                        if len(records) >= MAX_TURNS:
                            break
            except discord.HTTPException as e:
                log.warning("thread %s: cannot read its history (%s)", message.channel.id, e)
            records.reverse()
        elif target.replied is not None:
            answer_msg: discord.Message | None = target.replied
            while answer_msg is not None and len(records) < MAX_TURNS:
                rec = self.record_of(answer_msg)
                if rec is not None:
                    records.append(rec)
                # answer → the question it replied to → the earlier answer that question replied to
                question_msg = await self.referenced(answer_msg)
                earlier = await self.referenced(question_msg) if question_msg else None
                if earlier is None or earlier.author.id != me.id or not self.is_answer(earlier):
                    break
                answer_msg = earlier
            records.reverse()
        return turns_from_records(records)

    # ------------------------------------------------------------------ answering
    async def answer(self, message: discord.Message, target: Addressed) -> None:
        me = self.bot.user
        assert me is not None
        question = strip_bot_mention(message.content, me.id)
        if not question:
            if target.mentions_bot:
                await send_to_channel(
                    message.channel, text_payloads(EMPTY_MENTION_REPLY), reference=message
                )
            return
        wait = self.bot.cooldown.retry_after(message.author.id)
        if wait:
            text = cooldown_text(wait, question_language(question))
            await send_to_channel(message.channel, text_payloads(text), reference=message)
            return
        history = await self.history(message, target)
        with contextlib.suppress(discord.HTTPException):
            await message.channel.typing()
        answer = await self.bot.call_engine(self.bot.engine.ask, question, history=history)
        payloads = render_answer(answer)
        channel = message.channel
        sent: list[discord.Message] | None = None
        fresh = target.replied is None and not isinstance(channel, discord.Thread)
        if fresh and self.bot.settings.open_threads and isinstance(channel, discord.TextChannel):
            try:
                thread = await message.create_thread(
                    name=thread_name(question), auto_archive_duration=1440
                )
            except discord.HTTPException as e:
                log.info("message %s: cannot open a thread (%s); replying", message.id, e)
            else:
                self.bot.threads.add(thread.id)
                sent = await send_to_channel(thread, payloads, feedback=True)
        if sent is None:
            sent = await send_to_channel(channel, payloads, reference=message, feedback=True)
        self.bot.answers.remember(sent[-1].id, AnswerRecord.from_answer(answer))
        log.info(
            "message %s: answered=%s sources=%d history=%d",
            message.id,
            answer.answered,
            len(answer.sources),
            len(history),
        )
