"""Conversations in channels: a mention, a reply to one of the bot's answers, or any message in
a thread the bot opened asks a question. The reply chain (or the thread) is the conversation:
the earlier answers in it are the ones the bot stored when it sent them (bot.discord.store),
passed on as history, whatever their messages look like now."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import discord
from discord.ext import commands

from bot.discord.conversation import (
    HISTORY_SCAN,
    AnswerRecord,
    channel_allowed,
    is_addressed,
    strip_bot_mention,
    thread_name,
    turns_from_records,
)
from bot.discord.errors import report_message_error
from bot.discord.feedback import sendable_view
from bot.discord.layout import text_payloads
from bot.discord.render import render_answer
from bot.discord.replies import send_to_channel
from bot.discord.services import Services
from bot.language import question_language
from bot.messages import cooldown_text
from bot.models import Turn

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
    """Answers messages addressed to the bot. `bot` is the Discord connection (who the bot is,
    its channels); everything else comes from `services`."""

    def __init__(self, bot: commands.Bot | commands.AutoShardedBot, services: Services) -> None:
        self.bot = bot
        self.services = services

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        target = await self.addressed(message)
        if target is None:
            return
        try:
            await self.answer(message, target)
        except Exception as e:  # every failure gets a friendly reply plus a logged traceback
            await report_message_error(message, e)

    # ------------------------------------------------------------------ addressing
    async def addressed(self, message: discord.Message) -> Addressed | None:
        me, s = self.bot.user, self.services
        if me is None or message.author.bot or message.webhook_id or message.guild is None:
            return None
        if not s.access.serves(message.guild.id):
            return None  # another server: the bot leaves it (or, in setup mode, serves none)
        if message.type not in ANSWERABLE_TYPES or message.author.id == me.id:
            return None
        channel = message.channel
        thread = channel if isinstance(channel, discord.Thread) else None
        parent = thread.parent_id if thread else None
        if not channel_allowed(channel.id, parent, s.settings.channel_ids):
            return None
        mentions_bot = me.id in message.raw_mentions
        in_bot_thread = thread is not None and (thread.owner_id == me.id or thread.id in s.threads)
        replied = None
        if message.reference is not None and message.reference.message_id:
            try:
                ref = await self.referenced(message)
            except discord.HTTPException as e:
                log.warning("message %s: cannot read the replied-to message (%s)", message.id, e)
                ref = None
            if ref is not None and ref.author.id == me.id and await self.record_of(ref):
                replied = ref
        if not is_addressed(
            mentions_bot=mentions_bot,
            replies_to_answer=replied is not None,
            in_bot_thread=in_bot_thread,
        ):
            return None
        return Addressed(mentions_bot, in_bot_thread, replied)

    async def record_of(self, message: discord.Message) -> AnswerRecord | None:
        """What the bot stored for one of its answers (None: not an answer)."""
        return await asyncio.to_thread(self.services.memory.recall, message.id)

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
        """The earlier answers of this conversation, oldest first (at most the answer path's
        NEWSBOT_HISTORY_TURNS): in a thread, the bot's answers before `message`; for a reply,
        the chain answer → question → the answer that question replied to → ..."""
        limit = self.services.settings.history_turns
        if limit <= 0:
            return []
        if target.in_bot_thread:
            records = await self.thread_answers(message, limit)
        elif target.replied is not None:
            records = await self.chain_answers(target.replied, limit)
        else:
            records = []
        return turns_from_records(records, limit)

    async def thread_answers(self, message: discord.Message, limit: int) -> list[AnswerRecord]:
        me = self.bot.user
        assert me is not None
        ids: list[int] = []
        try:
            async for m in message.channel.history(limit=HISTORY_SCAN, before=message):
                if m.author.id == me.id:
                    ids.append(m.id)  # newest first
        except discord.HTTPException as e:
            log.warning("thread %s: cannot read its history (%s)", message.channel.id, e)
        found = await asyncio.to_thread(self.services.memory.recall_many, ids)
        records: dict[int, AnswerRecord] = {}  # answer id → record, newest first
        for mid in ids:
            if mid in found and len(records) < limit:
                answer_id, record = found[mid]
                records.setdefault(answer_id, record)  # the parts of one long answer: once
        return list(reversed(records.values()))

    async def chain_answers(self, answer: discord.Message, limit: int) -> list[AnswerRecord]:
        me = self.bot.user
        assert me is not None
        records: list[AnswerRecord] = []
        current: discord.Message | None = answer
        while current is not None and len(records) < limit:
            record = await self.record_of(current)
            if record is None:
                break
            records.append(record)
            # answer → the question it replied to → the earlier answer that question replied to
            question = await self.referenced(current)
            earlier = await self.referenced(question) if question else None
            current = earlier if earlier is not None and earlier.author.id == me.id else None
        return list(reversed(records))

    # ------------------------------------------------------------------ answering
    async def answer(self, message: discord.Message, target: Addressed) -> None:
        me, s = self.bot.user, self.services
        assert me is not None
        question = strip_bot_mention(message.content, me.id)
        if not question:
            if target.mentions_bot:
                payloads = text_payloads(EMPTY_MENTION_REPLY)
                await send_to_channel(message.channel, payloads, reference=message)
            return
        wait = s.cooldowns.ask.retry_after(message.author.id)
        if wait:
            text = cooldown_text(wait, question_language(question))
            await send_to_channel(message.channel, text_payloads(text), reference=message)
            return
        history = await self.history(message, target)
        with contextlib.suppress(discord.HTTPException):
            await message.channel.typing()
        answer = await s.ask(question, history=history)
        sent = await self.send_answer(message, target, render_answer(answer), question)
        record = AnswerRecord.from_answer(answer)
        ids = [m.id for m in sent]
        await asyncio.to_thread(s.memory.remember, ids, record, sent[-1].channel.id)
        log.info(
            "message %s: answered=%s sources=%d history=%d",
            message.id,
            answer.answered,
            len(answer.sources),
            len(history),
        )

    async def send_answer(
        self, message: discord.Message, target: Addressed, payloads: list[Any], question: str
    ) -> list[discord.Message]:
        """In a new thread for a fresh question in a channel (NEWSBOT_OPEN_THREADS), else as a
        reply; the feedback buttons go on the last message."""
        channel = message.channel
        fresh = target.replied is None and not isinstance(channel, discord.Thread)
        if (
            fresh
            and self.services.settings.open_threads
            and isinstance(channel, discord.TextChannel)
        ):
            try:
                thread = await message.create_thread(
                    name=thread_name(question), auto_archive_duration=1440
                )
            except discord.HTTPException as e:
                log.info("message %s: cannot open a thread (%s); replying", message.id, e)
            else:
                self.services.threads.add(thread.id)
                return await send_to_channel(thread, payloads, view=sendable_view())
        return await send_to_channel(channel, payloads, reference=message, view=sendable_view())
