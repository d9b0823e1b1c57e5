"""Self-test of the fake Discord server: an unmodified discord.py bot (in a subprocess, pointed at
the server by Route.BASE / DEFAULT_GATEWAY) logs in, syncs, answers commands and messages; raw
HTTP and websocket calls check the protocol details the bot relies on."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from fakediscord import FakeDiscord  # tests/ is on sys.path, as for feedserver

pytestmark = pytest.mark.discord

BOT = '''
import asyncio, logging, os
import discord, discord.gateway, discord.http, yarl
from discord import app_commands
from discord.ext import commands

discord.http.Route.BASE = os.environ["DISCORD_API_BASE"]
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["DISCORD_GATEWAY_URL"])
GUILD = discord.Object(int(os.environ["GUILD_ID"]))
intents = discord.Intents.default()
intents.message_content = True


class Bot(commands.Bot):
    async def setup_hook(self):
        self.tree.copy_global_to(guild=GUILD)
        await self.tree.sync(guild=GUILD)


bot = Bot(command_prefix="!", intents=intents, allowed_mentions=discord.AllowedMentions.none())
feeds = app_commands.Group(name="feeds", description="Manage feeds")
bot.tree.add_command(feeds)


@bot.tree.command()
async def ask(interaction: discord.Interaction, question: str, limit: int = 3):
    """Ask a question."""
    await interaction.response.defer(thinking=True)
    await interaction.followup.send(f"answer to {question} ({limit})")


@feeds.command(name="add")
async def feeds_add(interaction: discord.Interaction, url: str):
    """Add a feed."""
    await interaction.response.send_message(f"added {url}", ephemeral=True)


@bot.tree.command()
async def slow(interaction: discord.Interaction):
    """Answers after the 3 s deadline."""
    await asyncio.sleep(3.3)
    try:
        await interaction.response.send_message("too late")
    except discord.NotFound as exc:
        await interaction.channel.send(f"NotFound {exc.status} {exc.code}")


class Ping(discord.ui.View):
    @discord.ui.button(label="Ping", custom_id="ping")
    async def ping(self, interaction: discord.Interaction, button: discord.ui.Button):
        await interaction.response.edit_message(content=f"pinged by {interaction.user.name}")


@bot.tree.command()
async def button(interaction: discord.Interaction):
    """Sends a button."""
    await interaction.response.send_message("press it", view=Ping())


@bot.event
async def on_ready():
    await bot.get_channel(int(os.environ["CHANNEL_ID"])).send("on_ready fired")


@bot.event
async def on_resumed():
    await bot.get_channel(int(os.environ["CHANNEL_ID"])).send("resumed")


@bot.event
async def on_message(message: discord.Message):
    if message.author.bot:
        return
    if message.content == "long":
        try:
            await message.channel.send("x" * 2001)
        except discord.HTTPException as exc:
            await message.reply(f"HTTPException {exc.status} {exc.code}")
        return
    await message.reply(f"echo: {message.content}")


logging.basicConfig(level=logging.INFO)
bot.run(os.environ["DISCORD_TOKEN"], log_handler=None)
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeDiscord]:
    """The fake server with the bot above connected to it (shared by the bot tests)."""
    folder = tmp_path_factory.mktemp("bot")
    (folder / "bot.py").write_text(BOT)
    log = folder / "bot.log"
    with FakeDiscord(token="test-token", heartbeat_interval_ms=1000) as fake:
        ids = {"GUILD_ID": fake.guild_id, "CHANNEL_ID": fake.channel_id}
        env = {**os.environ, **fake.bot_env(), **ids}
        with log.open("w") as out:
            bot = subprocess.Popen(
                [sys.executable, str(folder / "bot.py")], env=env, stdout=out, stderr=out
            )
        try:
            fake.wait_ready(30)
            yield fake
        finally:
            bot.terminate()
            bot.wait(10)
            print(log.read_text()[-3000:])  # shown by pytest when a test failed


def test_login_ready_and_command_sync(server: FakeDiscord) -> None:
    calls = [(r["method"], r["path"], r["status"]) for r in server.requests]
    assert ("GET", "/api/v10/users/@me", 200) in calls
    server.wait_for_message(predicate=lambda m: m["content"] == "on_ready fired", timeout=10)
    synced = {c["name"]: c for c in server.commands(server.guild_id)}
    assert set(synced) == {"ask", "feeds", "slow", "button"}
    assert synced["feeds"]["options"][0]["name"] == "add"
    assert server.unknown_requests == []


def test_slash_command_deferred_then_followup(server: FakeDiscord) -> None:
    interaction_id = server.invoke_slash("ask", {"question": "hi", "limit": 5})
    assert server.wait_for_callback(interaction_id)["type"] == 5  # deferred, "thinking"
    followup = server.wait_for_followup(interaction_id)
    assert followup["message"]["content"] == "answer to hi (5)"
    # The first followup after a deferral replaces the loading message, as on Discord.
    assert followup["message"]["id"] == server.interaction(interaction_id).original_id
    assert followup["message"]["flags"] & (1 << 7) == 0


def test_subcommand_with_ephemeral_reply(server: FakeDiscord) -> None:
    interaction_id = server.invoke_slash("feeds", {"url": "https://x.test/feed"}, subcommand="add")
    callback = server.wait_for_callback(interaction_id)
    assert callback["status"] == 200 and callback["type"] == 4
    assert callback["data"]["content"] == "added https://x.test/feed"
    assert callback["data"]["flags"] & 64  # ephemeral: not in the channel
    original = server.interaction(interaction_id).original_id
    assert original not in [m["id"] for m in server.messages()]


def test_message_gets_a_reply_without_pings(server: FakeDiscord) -> None:
    sent = server.send_message(None, "maintainer", "hello there", mentions_bot=True)
    reply = server.wait_for_message(predicate=lambda m: m["content"].startswith("echo:"))
    assert reply["content"] == f"echo: <@{server.application_id}> hello there"
    assert reply["message_reference"]["message_id"] == sent["id"]
    assert reply["mentions"] == [] and reply["mention_roles"] == []
    assert server.allowed_mentions(reply["id"]) == {"parse": []}


def test_over_long_message_is_rejected_like_discord(server: FakeDiscord) -> None:
    server.send_message(None, "user", "long")
    reply = server.wait_for_message(predicate=lambda m: m["content"].startswith("HTTPException"))
    assert reply["content"] == "HTTPException 400 50035"
    failed = [r for r in server.requests if r["status"] == 400]
    assert failed[-1]["error"]["errors"]["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"


def test_callback_after_three_seconds_is_unknown_interaction(server: FakeDiscord) -> None:
    interaction_id = server.invoke_slash("slow")
    assert server.wait_for_callback(interaction_id, timeout=10)["status"] == 404
    message = server.wait_for_message(predicate=lambda m: m["content"].startswith("NotFound"))
    assert message["content"] == "NotFound 404 10062"


def test_button_click_updates_the_message(server: FakeDiscord) -> None:
    interaction_id = server.invoke_slash("button")
    server.wait_for_callback(interaction_id)
    message_id = server.interaction(interaction_id).original_id
    assert message_id is not None
    click = server.click_button(message_id, "ping", user="admin")
    assert server.wait_for_callback(click)["type"] == 7
    assert server.message(message_id)["content"] == "pinged by admin"
    assert [v["content"] for v in server.versions(message_id)] == ["press it", "pinged by admin"]


def test_heartbeats_are_on_time(server: FakeDiscord) -> None:
    time.sleep(2.5)
    gaps = server.heartbeat_gaps()
    assert len(gaps) >= 2
    assert all(0.9 < gap < 1.5 for gap in gaps), gaps


def test_dropped_gateway_is_resumed(server: FakeDiscord) -> None:
    since = server.mark()
    server.drop_gateway()
    server.wait_for(lambda r: r["kind"] == "resume", timeout=10, since=since)
    server.wait_for_message(predicate=lambda m: m["content"] == "resumed", since=since)
    server.send_message(None, "user", "still there?")
    server.wait_for_message(predicate=lambda m: m["content"] == "echo: still there?", since=since)


# ---------------------------------------------------------------- protocol details, no bot


def call(
    fake: FakeDiscord, method: str, path: str, body: Any = None, **kwargs: Any
) -> tuple[int, str, Any]:
    """One HTTP request to the fake; returns status, Content-Type and the parsed body."""

    async def go() -> tuple[int, str, Any]:
        headers = {} if kwargs.pop("anonymous", False) else {"Authorization": "Bot test-token"}
        async with aiohttp.ClientSession() as session:
            url = fake.api_base + path
            async with session.request(method, url, json=body, headers=headers, **kwargs) as resp:
                text = await resp.text()
                return resp.status, resp.headers.get("Content-Type", ""), json.loads(text or "null")

    return asyncio.run(go())


COMMANDS = [
    {
        "name": "ask",
        "description": "Ask",
        "options": [{"name": "question", "type": 3, "description": "Q", "required": True}],
    },
    {
        "name": "feeds",
        "description": "Feeds",
        "options": [
            {
                "name": "add",
                "type": 1,
                "description": "Add",
                "options": [{"name": "url", "type": 3, "description": "URL"}],
            }
        ],
    },
]


@pytest.fixture
def bare() -> Iterator[FakeDiscord]:
    """A fake with COMMANDS synced to its guild and no bot; a 0.5 s interaction deadline."""
    with FakeDiscord(token="test-token", interaction_deadline=0.5) as fake:
        sync = f"/applications/{fake.application_id}/guilds/{fake.guild_id}/commands"
        assert call(fake, "PUT", sync, COMMANDS)[0] == 200
        yield fake


def test_rest_errors_have_discord_shape(bare: FakeDiscord) -> None:
    channel = f"/channels/{bare.channel_id}/messages"
    status, content_type, body = call(bare, "POST", channel, {"content": "x" * 2001})
    assert (status, content_type) == (400, "application/json")
    assert (body["code"], body["message"]) == (50035, "Invalid Form Body")
    too_long = {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
    assert body["errors"] == {"content": {"_errors": [too_long]}}
    big = {"embeds": [{"title": "t", "description": "d" * 4000}, {"description": "d" * 2500}]}
    errors = call(bare, "POST", channel, big)[2]["errors"]
    assert errors["embeds"]["_errors"][0]["code"] == "MAX_EMBED_SIZE_EXCEEDED"
    fields = {"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]}
    assert "fields" in call(bare, "POST", channel, fields)[2]["errors"]["embeds"]["0"]
    assert call(bare, "POST", channel, {"content": ""})[2]["code"] == 50006
    assert call(bare, "POST", channel, {"content": "hi"}, anonymous=True)[0] == 401
    assert call(bare, "GET", "/guilds/1/audit-logs")[0] == 404
    assert bare.unknown_requests[-1]["path"] == "/api/v10/guilds/1/audit-logs"
    bad = [{"name": "Bad Name", "description": "x" * 101}]
    status, _, body = call(bare, "PUT", f"/applications/{bare.application_id}/commands", bad)
    assert status == 400 and set(body["errors"]["0"]) == {"name", "description"}


def test_direct_messages_and_enforced_nonces(bare: FakeDiscord) -> None:
    """Create DM returns the same channel each time; a user who does not accept DMs makes the
    send fail with 50007; an unknown user is 50033; an enforced nonce returns the first message
    instead of posting a second (a retried send)."""
    user = bare.users["user"]["id"]
    status, _, channel = call(bare, "POST", "/users/@me/channels", {"recipient_id": user})
    assert status == 200 and channel["type"] == 1 and channel["recipients"][0]["id"] == user
    assert call(bare, "POST", "/users/@me/channels", {"recipient_id": user})[2] == channel
    assert bare.dm_channel_id("user") == channel["id"]
    assert call(bare, "POST", "/users/@me/channels", {"recipient_id": "1"})[2]["code"] == 50033
    dm = f"/channels/{channel['id']}/messages"
    status, _, sent = call(
        bare, "POST", dm, {"content": "hi", "nonce": "n1", "enforce_nonce": True}
    )
    assert status == 200 and sent["guild_id"] is None
    again = call(bare, "POST", dm, {"content": "hi", "nonce": "n1", "enforce_nonce": True})[2]
    assert again["id"] == sent["id"] and [m["id"] for m in bare.messages(channel["id"])] == [
        sent["id"]
    ]
    assert call(bare, "POST", dm, {"content": "hi", "nonce": "n1"})[2]["id"] != sent["id"]
    bare.close_dms("user")
    status, _, body = call(bare, "POST", dm, {"content": "hi"})
    assert (status, body["code"]) == (403, 50007)
    bare.close_dms("user", closed=False)
    assert call(bare, "POST", dm, {"content": "hi"})[0] == 200


def test_multipart_upload_and_allowed_mentions(bare: FakeDiscord) -> None:
    user = bare.users["user"]["id"]
    form = aiohttp.FormData()
    payload = {
        "content": f"<@{user}> see file",
        "allowed_mentions": {"parse": []},
        "attachments": [{"id": 0, "filename": "a.txt"}],
    }
    form.add_field("payload_json", json.dumps(payload), content_type="application/json")
    form.add_field("files[0]", b"hello", filename="a.txt", content_type="text/plain")
    messages = f"/channels/{bare.channel_id}/messages"
    status, _, message = call(bare, "POST", messages, data=form)
    assert status == 200 and message["attachments"][0]["size"] == 5
    assert message["mentions"] == []  # the user is named but not pinged
    assert bare.store.files[message["attachments"][0]["id"]] == b"hello"
    pinging = call(bare, "POST", messages, {"content": f"<@{user}>"})[2]
    assert [m["id"] for m in pinging["mentions"]] == [user]


def test_interaction_callback_rules(bare: FakeDiscord) -> None:
    interaction_id = bare.invoke_slash("feeds add", {"url": "u"})
    interaction = bare.interaction(interaction_id)
    options = interaction.payload["data"]["options"]
    assert options == [
        {"name": "add", "type": 1, "options": [{"name": "url", "type": 3, "value": "u"}]}
    ]
    callback = f"/interactions/{interaction_id}/{interaction.token}/callback?with_response=1"
    followup = f"/webhooks/{bare.application_id}/{interaction.token}?wait=1"
    assert call(bare, "POST", followup, {"content": "too early"})[2]["code"] == 10015
    status, _, body = call(bare, "POST", callback, {"type": 4, "data": {"content": "ok"}})
    assert status == 200 and body["resource"]["message"]["content"] == "ok"
    again = {"type": 4, "data": {"content": "again"}}
    assert call(bare, "POST", callback, again)[2]["code"] == 40060
    assert call(bare, "POST", followup, {"content": "more"})[0] == 200
    late = bare.interaction(bare.invoke_slash("ask", {"question": "q"}))
    time.sleep(0.6)
    late_callback = f"/interactions/{late.id}/{late.token}/callback"
    status, _, body = call(bare, "POST", late_callback, {"type": 5})
    assert (status, body["code"], body["message"]) == (404, 10062, "Unknown interaction")
    with pytest.raises(ValueError, match="required option"):
        bare.invoke_slash("ask", {})


@pytest.mark.parametrize("compress", ["zlib-stream", None])
def test_gateway_transport(bare: FakeDiscord, compress: str | None) -> None:
    async def hello() -> Any:
        query = {"v": "10", "encoding": "json", **({"compress": compress} if compress else {})}
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(bare.gateway_url, params=query) as ws,
        ):
            message = await ws.receive(timeout=5)
            if compress:
                assert message.data.endswith(b"\x00\x00\xff\xff")
                return json.loads(zlib.decompressobj().decompress(message.data))
            return json.loads(message.data)

    assert asyncio.run(hello()) == {"op": 10, "d": {"heartbeat_interval": 41250}}
