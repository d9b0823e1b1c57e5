"""The bot process: NewsBot (commands.Bot with the engine injected), its central error handling,
progress-reporting ingest jobs, command sync, and the blocking entry points `run_bot` and
`sync_commands` used by the `newsbot bot` / `newsbot sync` commands."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.discord.access import LEAVING_NOTICE, Cooldown, guild_refusal, guild_served
from bot.discord.conversation import AnswerRecord, record_from_embeds
from bot.discord.feedback import AnswerMemory, FeedbackView
from bot.discord.jobs import (
    EDIT_INTERVAL,
    IngestJobs,
    JobBusy,
    ProgressState,
    Throttle,
    format_progress,
    format_report,
)
from bot.discord.render import trim
from bot.discord.replies import (
    NO_MENTIONS,
    public_error_text,
    reply_or_edit,
    send_to_channel,
)
from ingest.config import Settings
from ingest.models import ConfigError

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.discord.subscribe import Subscriptions
    from bot.engine import Engine

log = logging.getLogger("newsbot.discord")

EXIT_OK, EXIT_CONFIG = 0, 2
T = TypeVar("T")

IDLE_REFRESH = 10.0  # seconds: refresh the elapsed time of a job that reports no progress

TRANSFORM_ERROR = "I couldn't use one of the values you gave; please check it and try again."


def configure_endpoints(settings: Settings) -> None:
    """Point discord.py at another API/gateway (a local test server) when configured.

    A plain `Client` connects straight to `DiscordWebSocket.DEFAULT_GATEWAY` (only sharded
    clients ask `/gateway/bot`, which goes through `Route.BASE` anyway) and resumes at the
    `resume_gateway_url` the gateway itself sends in READY."""
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


class NewsTree(app_commands.CommandTree):
    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Every command and autocomplete: only on a served server (never in DMs)."""
        client = interaction.client
        if not isinstance(client, NewsBot):  # pragma: no cover
            return True
        return await client.check_served(interaction)

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        client = interaction.client
        if isinstance(client, NewsBot):
            await client.report_interaction_error(interaction, error)
        else:  # pragma: no cover
            await super().on_error(interaction, error)


class NewsBot(commands.Bot):
    """The Discord side of newsbot; all answers come from the injected Engine."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine | None = None,
        *,
        sync_only: bool = False,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,  # unused: there are no prefix commands
            intents=make_intents(),
            allowed_mentions=NO_MENTIONS,
            help_command=None,
            tree_cls=NewsTree,
            # servers only: Discord hides the commands in DMs (the tree refuses them anyway)
            allowed_contexts=app_commands.AppCommandContext(
                guild=True, dm_channel=False, private_channel=False
            ),
        )
        from bot.clock import SystemClock

        self.settings = settings
        self.clock = clock or SystemClock()  # digests and watches (tests inject their own)
        self.subscriptions: Subscriptions | None = None
        self._engine = engine
        self._owns_engine = False
        self.sync_only = sync_only
        self.cooldown = Cooldown(settings.cooldown_seconds)  # /ask and mentions
        self.latest_cooldown = Cooldown(settings.cooldown_seconds)  # /latest: its own bucket
        self.reindex_cooldown = Cooldown(settings.reindex_cooldown_minutes * 60)  # per target
        self.answers = AnswerMemory()
        self.threads: set[int] = set()  # threads this process opened
        self._jobs: IngestJobs | None = None
        self.synced: list[str] = []
        self._leaving: set[int] = set()  # servers being left (said so once)
        # Answering runs in its own small pool: the engine answers one question at a time, so
        # a burst of questions waits there instead of filling the default pool that quick
        # calls (autocomplete, feedback, stats) need within Discord's 3 seconds.
        self._engine_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="newsbot-engine")

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the engine is not loaded (NewsBot built for syncing only)")
        return self._engine

    async def call_engine(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a blocking engine call (ask, latest) off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._engine_pool, functools.partial(fn, *args, **kwargs))

    @property
    def jobs(self) -> IngestJobs:
        if self._jobs is None:
            self._jobs = IngestJobs(self.settings, self.engine)
        return self._jobs

    # ------------------------------------------------------------------ start-up
    async def setup_hook(self) -> None:
        from bot.discord.chat import Conversations
        from bot.discord.commands import NewsCommands
        from bot.discord.subscribe import add_subscription_definitions, install_subscriptions

        await self.add_cog(NewsCommands(self))
        await self.add_cog(Conversations(self))
        if self.sync_only:
            await add_subscription_definitions(self)
            return
        if self._engine is None:
            # After login (a bad token fails fast) and before the gateway connects (so loading
            # the embedding model cannot delay a heartbeat); in a thread all the same.
            from bot.engine import Engine

            log.info("loading the answer engine (embedding model, corpus)")
            self._engine = await asyncio.to_thread(Engine, self.settings)
            self._owns_engine = True
        self.add_view(FeedbackView(self.record_feedback, self.report_interaction_error))
        self.subscriptions = await install_subscriptions(
            self,
            engine=self.engine,
            settings=self.settings,
            clock=self.clock,
            run_engine=self.call_engine,
        )
        self.jobs.after_ingest.append(self.subscriptions.watches.check)  # new stories → watches
        self.subscriptions.start()
        self.jobs.start_schedule()
        if self.settings.sync_commands:
            await self.sync_app_commands()

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

    async def on_ready(self) -> None:
        user = self.user
        log.info(
            "connected as %s (id %s) to %d servers",
            user,
            user.id if user else "?",
            len(self.guilds),
        )
        self.warn_about_access()
        for guild in list(self.guilds):
            await self.leave_if_not_served(guild)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        log.info("added to server %s (id %s)", guild.name, guild.id)
        await self.leave_if_not_served(guild)

    async def on_guild_available(self, guild: discord.Guild) -> None:
        await self.leave_if_not_served(guild)  # back after an outage, or streamed in late

    # ------------------------------------------------------------------ which servers
    def warn_about_access(self) -> None:
        """Start-up lines an operator needs when access is not (fully) configured."""
        s = self.settings
        if not s.guild_ids:
            seen = ", ".join(f"{g.name} ({g.id})" for g in self.guilds) or "none yet"
            log.warning(
                "NEWSBOT_GUILD_IDS is empty: serving no server until you list the ones this bot "
                "serves (it is in: %s)",
                seen,
            )
        if s.test_guild_id and s.guild_ids and s.test_guild_id not in s.guild_ids:
            log.warning("NEWSBOT_TEST_GUILD_ID %s is not in NEWSBOT_GUILD_IDS", s.test_guild_id)
        if not (s.maintainer_user_ids or s.maintainer_role_ids or s.maintainer_manage_server):
            log.warning(
                "no maintainers configured: /feeds and /reindex are refused to everyone (set "
                "NEWSBOT_MAINTAINER_USER_IDS or NEWSBOT_MAINTAINER_ROLE_IDS)"
            )

    async def leave_if_not_served(self, guild: discord.Guild) -> None:
        """A server not on a configured allow-list: say so once where possible, then leave.
        With no allow-list at all (setup mode) nothing is left: the bot serves nobody and the
        log names the servers it is in."""
        if not self.settings.guild_ids or guild.id in self.settings.guild_ids:
            return
        if guild.id in self._leaving:
            return
        self._leaving.add(guild.id)
        channel = _notice_channel(guild)
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

    async def check_served(self, interaction: discord.Interaction[Any]) -> bool:
        """True on a served server; otherwise the user gets one ephemeral line (autocomplete:
        no choices) and the interaction goes no further."""
        if guild_served(self.settings, interaction.guild_id):
            return True
        log.info(
            "interaction %s from server %s refused: not served",
            interaction.id,
            interaction.guild_id or "(direct message)",
        )
        if interaction.type is discord.InteractionType.autocomplete:
            with contextlib.suppress(discord.HTTPException):
                await interaction.response.autocomplete([])
            return False
        await reply_or_edit(interaction, guild_refusal(self.settings, interaction.guild_id))
        return False

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: conversations are handled by the Conversations cog."""

    async def close(self) -> None:
        log.info("shutting down")
        if self._jobs is not None:
            await self._jobs.stop_schedule()
        if self.subscriptions is not None:
            await self.subscriptions.close()
        await super().close()
        self._engine_pool.shutdown(wait=False, cancel_futures=True)
        if self._owns_engine and self._engine is not None:
            engine, self._engine = self._engine, None
            await asyncio.to_thread(engine.close)

    # ------------------------------------------------------------------ errors
    async def report_interaction_error(
        self, interaction: discord.Interaction[Any], error: Exception
    ) -> None:
        """The one place where command and button failures become friendly replies."""
        original = error
        if isinstance(error, app_commands.CommandInvokeError):
            original = error.original
        name = interaction.command.qualified_name if interaction.command else "component"
        if isinstance(original, app_commands.CheckFailure):
            text = str(original) or "Sorry, you can't use that here."
        elif isinstance(original, app_commands.TransformerError):
            text = TRANSFORM_ERROR
        else:
            where = f"interaction {interaction.id} (/{name})"
            text = public_error_text(original, interaction.id, where)
        if interaction.type is discord.InteractionType.autocomplete:
            return
        await reply_or_edit(interaction, text)

    async def report_message_error(self, message: discord.Message, error: Exception) -> None:
        where = f"message {message.id} in channel {message.channel.id}"
        text = trim(public_error_text(error, message.id, where), 1900)
        try:
            await send_to_channel(message.channel, [_text(text)], reference=message)
        except discord.HTTPException as e:
            log.warning("message %s: could not send the error reply (%s)", message.id, e)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        log.exception("unhandled error in event %s", event_method)

    # ------------------------------------------------------------------ feedback
    async def record_feedback(self, interaction: discord.Interaction[Any], vote: int) -> None:
        if not await self.check_served(interaction):
            return
        message = interaction.message
        record: AnswerRecord | None = None
        if message is not None:
            record = self.answers.get(message.id) or record_from_embeds(message.embeds)
        if message is None or record is None:
            await reply_or_edit(interaction, "Sorry, I can't find the answer this belongs to.")
            return
        # acknowledge first: the write may wait for an ingest's transaction
        await interaction.response.defer(ephemeral=True, thinking=True)
        await asyncio.to_thread(
            self.engine.corpus.add_feedback,
            user_id=str(interaction.user.id),
            vote=vote,
            question=record.question,
            answer=record.answer,
            sources=record.sources,
            message_id=str(message.id),
        )
        log.info("interaction %s: feedback %+d on message %s", interaction.id, vote, message.id)
        await interaction.followup.send(
            "Thanks for the feedback!", ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    # ------------------------------------------------------------------ jobs
    async def run_job_with_progress(
        self,
        interaction: discord.Interaction[Any],
        label: str,
        *,
        only: Sequence[str],
        reindex: bool,
        busy_note: str = "",
    ) -> bool:
        """Run an ingest job, editing the original response with progress (≤ 1 edit / 2 s).
        False when it could not start (another job, or another process's ingest)."""
        from ingest.pipeline import IngestLocked

        state = ProgressState()
        throttle = Throttle(EDIT_INTERVAL)
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def edit(text: str) -> None:
            await asyncio.sleep(throttle.wait_time())
            throttle.mark()
            try:
                await interaction.edit_original_response(content=text, allowed_mentions=NO_MENTIONS)
            except discord.HTTPException as e:  # e.g. the 15-minute token expired
                log.warning("interaction %s: progress edit failed (%s)", interaction.id, e)

        await edit(format_progress(label, None, 0))
        task = asyncio.create_task(self.jobs.run(label, only=only, reindex=reindex, progress=state))
        shown = state.version
        while not task.done():
            await asyncio.wait({task}, timeout=0.5)
            if task.done() or not throttle.due():
                continue
            idle = throttle.last is None or throttle.clock() - throttle.last >= IDLE_REFRESH
            if state.version != shown or idle:  # new progress, or show that it is still alive
                shown = state.version
                await edit(format_progress(label, state.latest, loop.time() - started))
        try:
            report = task.result()
        except JobBusy as e:
            await edit(f"{e}. {busy_note}".strip())
            return False
        except IngestLocked:
            await edit(
                "Another ingest (probably `newsbot ingest` on the server) is running right now; "
                f"please try again when it has finished. {busy_note}".strip()
            )
            return False
        await edit(format_report(label, report))
        return True


def _notice_channel(guild: discord.Guild) -> discord.TextChannel | None:
    """Where to say something in a server: its system channel, else the first text channel the
    bot may write in."""
    me = guild.me
    candidates = [guild.system_channel, *sorted(guild.text_channels, key=lambda c: c.position)]
    for channel in candidates:
        if channel is not None and me is not None and channel.permissions_for(me).send_messages:
            return channel
    return None


def _text(text: str) -> Any:
    from bot.discord.render import Payload

    return Payload(content=text)


# ---------------------------------------------------------------------------- entry points
def _token(settings: Settings) -> str:
    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not token:
        raise ConfigError(
            "DISCORD_TOKEN is not set: create a bot in the Discord developer portal and set "
            "DISCORD_TOKEN (see docs/discord-setup.md)"
        )
    return token


async def _serve(settings: Settings, token: str) -> int:
    bot = NewsBot(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.close()))
    try:
        async with bot:
            await bot.start(token)
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


def run_bot(settings: Settings) -> int:
    """Run the bot until it is stopped (SIGINT/SIGTERM). Blocking; returns an exit code.
    The token is checked first (a bad one fails in a second); the engine is loaded after that
    and before the gateway connects, so no heartbeat ever waits on the embedding model."""
    token = _token(settings)
    configure_endpoints(settings)
    try:
        return asyncio.run(_serve(settings, token))
    except KeyboardInterrupt:
        return EXIT_OK


async def _sync(settings: Settings, token: str) -> list[str]:
    bot = NewsBot(settings, None, sync_only=True)
    async with bot:
        await bot.login(token)
        return await bot.sync_app_commands()


def sync_commands(settings: Settings) -> int:
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
