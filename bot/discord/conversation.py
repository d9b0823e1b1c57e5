"""Conversation logic without Discord calls: when the bot is addressed, what the question is,
and how earlier answers (read back from the bot's own embeds) become history turns."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import discord

from bot.discord.render import (
    ANSWER_FIELD_NAMES,
    ANSWER_FOOTER_PREFIXES,
    ZWSP,
    unescape_markdown,
)
from bot.models import Answer, Turn

MAX_TURNS = 4  # earlier exchanges passed to the engine as context
THREAD_NAME_LIMIT = 100
HISTORY_SCAN = 30  # messages looked at in a thread to find the earlier answers
ANSWER_FOOTER_PREFIX = ANSWER_FOOTER_PREFIXES  # "as of …", "per …" (the answer's language)


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
    """What a rendered answer says: enough to store feedback or to continue a conversation."""

    question: str
    answer: str
    sources: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_answer(cls, answer: Answer) -> AnswerRecord:
        items = answer.sources or answer.closest
        return cls(answer.question, answer.text, [s.to_json() for s in items])

    def turn(self) -> Turn:
        return Turn(question=self.question, answer=self.answer)


_SOURCE_RE = re.compile(
    r"^\[(?P<n>\d+)\] (?:\[(?P<label>(?:\\.|[^\]\\])*)\]\((?P<url>[^)\s]+)\)|(?P<plain>.*?))"
    r"(?: — (?P<tail>.*))?$"
)
_NOTE_RE = re.compile(r"\n*-# ℹ️ .*\Z", re.DOTALL)


def is_answer_embeds(embeds: Sequence[discord.Embed]) -> bool:
    """Our answers carry an 'as of …' footer on their last embed."""
    return any((e.footer.text or "").startswith(ANSWER_FOOTER_PREFIX) for e in embeds)


def record_from_embeds(embeds: Sequence[discord.Embed]) -> AnswerRecord | None:
    """Read back an answer from the embeds we rendered (None when they are not an answer).
    Only one message's embeds are seen: for an answer split over several messages, the parts
    not in this message are missing (the question may then be empty)."""
    if not embeds:
        return None
    question = next((unescape_markdown(e.title) for e in embeds if e.title), "")
    text = "\n\n".join(e.description for e in embeds if e.description)
    text = _NOTE_RE.sub("", text).replace(ZWSP, "").strip()
    sources: list[dict[str, Any]] = []
    for e in embeds:
        for f in e.fields:
            if not (f.name or "").startswith(ANSWER_FIELD_NAMES):
                continue
            for line in (f.value or "").splitlines():
                m = _SOURCE_RE.match(line)
                if not m:
                    continue
                title = m.group("label") if m.group("label") is not None else m.group("plain")
                tail = (m.group("tail") or "").rsplit(", ", 1)
                sources.append(
                    {
                        "n": int(m.group("n")),
                        "title": unescape_markdown(title or ""),
                        "url": m.group("url") or "",
                        "feed": unescape_markdown(tail[0]) if len(tail) == 2 else "",
                        "published": tail[-1] if tail[-1] != "undated" else None,
                    }
                )
    if not question and not text:
        return None
    return AnswerRecord(question=question, answer=text, sources=sources)


def turns_from_records(records: Sequence[AnswerRecord], limit: int = MAX_TURNS) -> list[Turn]:
    """Oldest-first records → the last `limit` turns (records without a question are skipped)."""
    turns = [r.turn() for r in records if r.question and r.answer]
    return turns[-limit:] if limit > 0 else []
