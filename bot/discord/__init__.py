"""The Discord layer: translates between Discord and the answer engine, nothing more.

`run_bot(settings)` runs the bot (blocking, returns an exit code); `sync_commands(settings)`
registers the slash commands once. Rendering, permissions and conversation logic live in plain
modules (render, access, conversation, jobs) tested without Discord."""

from __future__ import annotations

from bot.discord.client import NewsBot, configure_endpoints, run_bot, sync_commands

__all__ = ["NewsBot", "configure_endpoints", "run_bot", "sync_commands"]
