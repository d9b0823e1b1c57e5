"""Which Discord servers the bot stays in: those listed in NEWSBOT_GUILD_IDS. Added to any other
server, it says so once and leaves; with no list at all (setup mode) it leaves nothing, serves
nobody, and its log names the servers it is in."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.discord.access import LEAVING_NOTICE, Access
from bot.discord.replies import NO_MENTIONS

log = logging.getLogger(__name__)


def notice_channel(guild: discord.Guild) -> discord.TextChannel | None:
    """Where to say something in a server: its system channel, else the first text channel the
    bot may write in."""
    me = guild.me
    candidates = [guild.system_channel, *sorted(guild.text_channels, key=lambda c: c.position)]
    for channel in candidates:
        if channel is not None and me is not None and channel.permissions_for(me).send_messages:
            return channel
    return None


class ServedServers(commands.Cog):
    """Leaves servers that are not served; logs what an operator needs at start-up."""

    def __init__(
        self, bot: commands.Bot | commands.AutoShardedBot, access: Access, test_guild_id: int | None
    ) -> None:
        self.bot, self.access, self.test_guild_id = bot, access, test_guild_id
        self._leaving: set[int] = set()  # servers being left (said so once)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        user = self.bot.user
        log.info(
            "connected as %s (id %s) to %d servers",
            user,
            user.id if user else "?",
            len(self.bot.guilds),
        )
        self.warn_about_access()
        for guild in list(self.bot.guilds):
            await self.leave_if_not_served(guild)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        log.info("added to server %s (id %s)", guild.name, guild.id)
        await self.leave_if_not_served(guild)

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        await self.leave_if_not_served(guild)  # back after an outage, or streamed in late

    def warn_about_access(self) -> None:
        """Start-up lines an operator needs when access is not (fully) configured."""
        access, test_guild = self.access, self.test_guild_id
        if not access.guild_ids:
            seen = ", ".join(f"{g.name} ({g.id})" for g in self.bot.guilds) or "none yet"
            log.warning(
                "NEWSBOT_GUILD_IDS is empty: serving no server until you list the ones this bot "
                "serves (it is in: %s)",
                seen,
            )
        if test_guild and access.guild_ids and test_guild not in access.guild_ids:
            log.warning("NEWSBOT_TEST_GUILD_ID %s is not in NEWSBOT_GUILD_IDS", test_guild)
        if not access.has_maintainers:
            log.warning(
                "no maintainers configured: /feeds and /reindex are refused to everyone (set "
                "NEWSBOT_MAINTAINER_USER_IDS or NEWSBOT_MAINTAINER_ROLE_IDS)"
            )

    async def leave_if_not_served(self, guild: discord.Guild) -> None:
        """A server not on a configured allow-list: say so once where possible, then leave."""
        if not self.access.guild_ids or self.access.serves(guild.id):
            return
        if guild.id in self._leaving:
            return
        self._leaving.add(guild.id)
        channel = notice_channel(guild)
        if channel is not None:
            try:
                await channel.send(
                    LEAVING_NOTICE.format(guild_id=guild.id), allowed_mentions=NO_MENTIONS
                )
            except discord.HTTPException as e:
                log.info("server %s: could not post the leaving notice (%s)", guild.id, e)
        try:
            await guild.leave()
            log.warning("left server %s (id %s): not in NEWSBOT_GUILD_IDS", guild.name, guild.id)
        except discord.HTTPException as e:
            log.error("server %s: could not leave (%s)", guild.id, e)
            self._leaving.discard(guild.id)
