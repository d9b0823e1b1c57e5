"""Conversation logic without Discord calls: when the bot is addressed, what the question is,
what the bot remembers of an answer, and how earlier answers become history turns."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.discord.safe_text import ZWSP
from bot.models import Answer, Turn

THREAD_NAME_LIMIT = 100
HISTORY_SCAN = 30  # messages looked at in a thread to find the earlier answers


# ---------------------------------------------------------------------------- addressing
def strip_bot_mention(content: str, bot_id: int) -> str:
    """The question in a message addressed to the bot: its mentions removed, spaces tidied."""
    text = re.sub(rf"<@!?{bot_id}>", " ", content)
    return " ".join(text.split())


def channel_allowed(channel_id: int, parent_id: int | None, allowed: Collection[int]) -> bool:
    """Empty `allowed` = every channel; a thread counts as its parent channel."""
    if not allowed:
        return True
    return channel_id in allowed or (parent_id is not None and parent_id in allowed)


def is_addressed(*, mentions_bot: bool, replies_to_answer: bool, in_bot_thread: bool) -> bool:
    """The bot answers a mention, a reply to one of its answers, or any message in its thread."""
    return mentions_bot or replies_to_answer or in_bot_thread


def thread_name(question: str) -> str:
    text = " ".join(question.replace(ZWSP, "").split()) or "Question"
    text = text.replace("@", "@" + ZWSP)
    return text if len(text) <= THREAD_NAME_LIMIT else text[: THREAD_NAME_LIMIT - 1] + "…"


# ---------------------------------------------------------------------------- answer records
@dataclass(frozen=True)
class AnswerRecord:
    """What the bot answered, as it answered it: the question, the answer text, the cited
    articles (id, url, title, feed, date, as numbered in the text) and the corpus's as-of time.
    Stored by Discord message id (bot.discord.store) when the answer is sent; feedback and
    follow-up questions read it back from there, never from the rendered message."""

    question: str
    answer: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    as_of: datetime | None = None

    @classmethod
    def from_answer(cls, answer: Answer) -> AnswerRecord:
        items = answer.sources or answer.closest
        sources = [{**s.to_json(), "article_id": s.article_id} for s in items]
        return cls(answer.question, answer.text, sources, answer.as_of)

    def turn(self) -> Turn:
        return Turn(question=self.question, answer=self.answer)


def turns_from_records(records: Sequence[AnswerRecord], limit: int) -> list[Turn]:
    """Oldest-first records → the last `limit` turns (records without a question are skipped)."""
    turns = [r.turn() for r in records if r.question and r.answer]
    return turns[-limit:] if limit > 0 else []
