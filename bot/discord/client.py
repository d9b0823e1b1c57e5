"""The bot process: NewsBot (the Discord connection, its command tree and error handling), how
its services are loaded and handed to the cogs, and the blocking entry points `run_bot` and
`sync_commands` used by the `newsbot bot` / `newsbot sync` commands."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import sys
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.config import DiscordSettings
from bot.discord.access import Access
from bot.discord.chat import Conversations
from bot.discord.commands import NewsCommands
from bot.discord.cooldown import Refused
from bot.discord.errors import check_served, report_interaction_error
from bot.discord.feedback import FeedbackView, record_vote
from bot.discord.maintainers import MaintainerCommands
from bot.discord.model_commands import ModelCommands
from bot.discord.replies import NO_MENTIONS
from bot.discord.servers import ServedServers
from bot.discord.services import Services, build_services
from bot.discord.subscription_commands import DigestCommands, WatchCommands
from bot.engine import Engine
from bot.metrics import Metrics, MetricsServer
from ingest.models import ConfigError
from ingest.store.model_directory import ModelDirectory

log = logging.getLogger(__name__)

EXIT_OK, EXIT_CONFIG = 0, 2
SLASH_COGS = (NewsCommands, MaintainerCommands, DigestCommands, WatchCommands, ModelCommands)


def configure_endpoints(settings: DiscordSettings) -> None:
    """Point discord.py at another API/gateway (a local test server) when configured.

    The sharded client asks `/gateway/bot` (through `Route.BASE`) for the gateway and the shard
    count when NEWSBOT_SHARD_COUNT is unset, else connects straight to
    `DiscordWebSocket.DEFAULT_GATEWAY`; it resumes at the `resume_gateway_url` of READY."""
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def make_intents() -> discord.Intents:
    """Guilds (channels, roles), guild messages (mentions, replies, threads) and message
    content (privileged: needed to read the question in a mention or a thread follow-up)."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.message_content = True
    return intents


class NewsTree(app_commands.CommandTree["NewsBot"]):
    """Every command and autocomplete runs only on a served server (never in DMs); every
    failure becomes a friendly reply (bot.discord.errors). discord.py builds the tree with the
    bot (`tree_cls(bot)`), so the rules and the counters are the bot's."""

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        command = interaction.command
        kind = f"/{command.qualified_name}" if command else interaction.type.name
        if interaction.type == discord.InteractionType.autocomplete:
            kind = "autocomplete"
        self.client.metrics.interactions.labels(kind).inc()
        return await check_served(self.client.access, interaction)

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        if isinstance(error, Refused):  # answered by its cog (bot.discord.cooldown)
            return
        self.client.metrics.errors.labels("command").inc()
        await report_interaction_error(interaction, error)


class NewsBot(commands.AutoShardedBot):
    """The Discord side of newsbot. It holds no services itself: `install` hands them to the
    cogs, which are the only code that uses them. Sharded: NEWSBOT_SHARD_COUNT (unset: what
    Discord recommends) and NEWSBOT_SHARD_IDS (unset: every shard in this process) split the
    servers across processes; they share the corpus and the bot's file, whose claims make each
    digest, alert and watch message go out once."""

    def __init__(
        self,
        settings: DiscordSettings,
        access: Access | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,  # unused: there are no prefix commands
            intents=make_intents(),
            allowed_mentions=NO_MENTIONS,
            help_command=None,
            tree_cls=NewsTree,
            shard_count=settings.shard_count,
            shard_ids=settings.shard_ids,  # type: ignore[arg-type]  # None: every shard
            # servers only: Discord hides the commands in DMs (the tree refuses them anyway)
            allowed_contexts=app_commands.AppCommandContext(
                guild=True, dm_channel=False, private_channel=False
            ),
        )
        self.settings = settings
        self.access = access or Access.from_settings(settings)
        self.metrics = metrics or Metrics()  # served by `serve` when NEWSBOT_METRICS_PORT is set
        self.synced: list[str] = []

    async def install(self, services: Services) -> None:
        """Add the cogs, each given the services it uses; register the feedback buttons (for
        every answer ever sent); start the ingest schedule, the feed alerts, the digests and
        the watches."""
        s = services
        await self.add_cog(NewsCommands(s))
        await self.add_cog(MaintainerCommands(s.settings, s.access, s.jobs, s.feeds, s.cooldowns))
        await self.add_cog(DigestCommands(s))
        await self.add_cog(WatchCommands(s))
        await self.add_cog(ModelCommands(await asyncio.to_thread(ModelDirectory, s.settings)))
        await self.add_cog(Conversations(self, services))
        await self.add_cog(ServedServers(self, services.access, services.settings.test_guild_id))
        on_vote = functools.partial(record_vote, services)
        self.add_view(FeedbackView(on_vote, report_interaction_error))
        services.metrics.watch(services.engine)  # /healthz is ok from now on
        services.jobs.start_schedule()
        services.alerts.start()
        services.subscriptions.start()

    def install_definitions(self) -> None:
        """Only the slash commands' definitions, for `newsbot sync`: each cog class's commands
        as declared (no handler runs there, so no cog is built and no service loaded)."""
        for cog in SLASH_COGS:
            for command in cog.__cog_app_commands__:
                self.tree.add_command(command)

    async def sync_app_commands(self) -> list[str]:
        """Register the slash commands with Discord: to the test guild when configured (instant),
        else globally (may take a while to show up)."""
        gid = self.settings.test_guild_id
        if gid:
            guild = discord.Object(id=gid)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            where = f"test guild {gid}"
        else:
            synced = await self.tree.sync()
            where = "globally"
        self.synced = [c.name for c in synced]
        log.info("synced %d commands %s: %s", len(synced), where, ", ".join(self.synced))
        return self.synced

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: conversations are handled by the Conversations cog."""

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        self.metrics.errors.labels("event").inc()
        log.exception("unhandled error in event %s", event_method)

    async def close(self) -> None:
        log.info("shutting down")
        await super().close()


# ---------------------------------------------------------------------------- entry points
def _token(settings: DiscordSettings) -> str:
    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not token:
        raise ConfigError(
            "DISCORD_TOKEN is not set: create a bot in the Discord developer portal and set "
            "DISCORD_TOKEN (see docs/discord-setup.md)"
        )
    return token


async def load_services(bot: NewsBot) -> Services:
    """The engine (embedding model, corpus) and the bot's store, in worker threads."""
    log.info("loading the answer engine (embedding model, corpus)")
    engine = await asyncio.to_thread(Engine, bot.settings)
    try:
        await asyncio.to_thread(engine.warm_up)
        return await asyncio.to_thread(
            functools.partial(
                build_services, bot.settings, engine, bot, access=bot.access, metrics=bot.metrics
            )
        )
    except BaseException:
        await asyncio.to_thread(engine.close)
        raise


async def serve(bot: NewsBot, token: str, services: Services | None = None) -> None:
    """Log in (a bad token fails here, in a second), load the services unless given (before
    the gateway connects, so no heartbeat ever waits on the embedding model), install them,
    connect until closed; then stop them (the engine too, when loaded here)."""
    await bot.login(token)
    metrics_server = start_metrics(bot.settings, bot.metrics)
    owned = services is None
    try:
        services = services or await load_services(bot)
    except BaseException:
        if metrics_server is not None:
            metrics_server.stop()
        raise
    try:
        await bot.install(services)
        if bot.settings.sync_commands:
            await bot.sync_app_commands()
        await bot.connect()
    finally:
        await services.jobs.stop_schedule()
        await services.alerts.stop()
        await services.subscriptions.stop()
        if metrics_server is not None:
            metrics_server.stop()
        await asyncio.to_thread(services.close)
        if owned:
            await asyncio.to_thread(services.engine.close)


def start_metrics(settings: DiscordSettings, metrics: Metrics) -> MetricsServer | None:
    """/metrics and /healthz when NEWSBOT_METRICS_PORT is set (bot.metrics); a port in use is
    a one-line configuration error."""
    if settings.metrics_port is None:
        return None
    try:
        return metrics.serve(settings.metrics_host, settings.metrics_port)
    except OSError as e:
        raise ConfigError(
            f"invalid setting NEWSBOT_METRICS_PORT: cannot listen on "
            f"{settings.metrics_host}:{settings.metrics_port} ({e.strerror or e})"
        ) from None


async def _serve(settings: DiscordSettings, token: str) -> int:
    bot = NewsBot(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.close()))
    try:
        async with bot:
            await serve(bot, token)
    except discord.LoginFailure:
        print("newsbot: Discord rejected the bot token (check DISCORD_TOKEN)", file=sys.stderr)
        return EXIT_CONFIG
    except discord.PrivilegedIntentsRequired:
        print(
            "newsbot: enable the Message Content intent for this bot in the Discord developer "
            "portal (Bot → Privileged Gateway Intents)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    return EXIT_OK


def run_bot(settings: DiscordSettings) -> int:
    """Run the bot until it is stopped (SIGINT/SIGTERM). Blocking; returns an exit code."""
    token = _token(settings)
    configure_endpoints(settings)
    try:
        return asyncio.run(_serve(settings, token))
    except KeyboardInterrupt:
        return EXIT_OK


async def _sync(settings: DiscordSettings, token: str) -> list[str]:
    bot = NewsBot(settings)
    async with bot:
        await bot.login(token)
        bot.install_definitions()
        return await bot.sync_app_commands()


def sync_commands(settings: DiscordSettings) -> int:
    """Register the slash commands once (to NEWSBOT_TEST_GUILD_ID when set, else globally),
    without connecting to the gateway. Returns an exit code."""
    token = _token(settings)
    configure_endpoints(settings)
    try:
        names = asyncio.run(_sync(settings, token))
    except discord.LoginFailure:
        print("newsbot: Discord rejected the bot token (check DISCORD_TOKEN)", file=sys.stderr)
        return EXIT_CONFIG
    where = f"to guild {settings.test_guild_id}" if settings.test_guild_id else "globally"
    print(f"Synced {len(names)} commands {where}: {', '.join('/' + n for n in names)}")
    return EXIT_OK
