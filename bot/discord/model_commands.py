"""/model and /models: the model directory (ingest.store.model_directory) in Discord. Thin
handlers: a read of the directory's tables off the event loop, rendered by render_models."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.commands import MAX_CHOICES
from bot.discord.render_models import render_families, render_model_card, render_not_found
from bot.discord.replies import NO_MENTIONS
from ingest.store.model_directory import ModelDirectory

log = logging.getLogger(__name__)


class ModelCommands(commands.Cog):
    """/model name (with autocomplete), /models, over the model directory it is given (and
    closes when unloaded)."""

    def __init__(self, directory: ModelDirectory) -> None:
        self.directory = directory

    async def cog_unload(self) -> None:
        await asyncio.to_thread(self.directory.close)

    async def name_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        names = await asyncio.to_thread(self.directory.names, current, MAX_CHOICES)
        return [app_commands.Choice(name=n[:100], value=n[:100]) for n in names]

    @app_commands.command(name="model")
    @app_commands.describe(name="A model, e.g. Qwen2.5-72B, GPT-4o mini or Claude Opus 4.1")
    @app_commands.autocomplete(name=name_autocomplete)
    async def model(
        self, interaction: discord.Interaction[Any], name: app_commands.Range[str, 1, 100]
    ) -> None:
        """A model as the news reported it: first report, primary source, facts and sources."""
        card = await asyncio.to_thread(self.directory.lookup, name)
        if card is None:
            await interaction.response.send_message(
                render_not_found(name), ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        await interaction.response.send_message(
            embed=render_model_card(card), allowed_mentions=NO_MENTIONS
        )
        log.info("interaction %s: /model %s -> %s", interaction.id, name, card.name)

    @app_commands.command(name="models")
    async def models(self, interaction: discord.Interaction[Any]) -> None:
        """The AI model families in the news, each with its newest release."""
        families = await asyncio.to_thread(self.directory.families)
        await interaction.response.send_message(
            embed=render_families(families), allowed_mentions=NO_MENTIONS
        )
