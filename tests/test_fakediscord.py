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
from fakediscord import DiscordError, FakeDiscord  # tests/ is on sys.path, like feedserver
from fakediscord.gateway import DIRECT_MESSAGES
from fakediscord.world import make_user

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
        "options": [
            {
                "name": "question",
                "type": 3,
                "description": "Q",
                "required": True,
                "max_length": 300,
            },
            {"name": "count", "type": 4, "description": "N", "min_value": 1, "max_value": 20},
            {
                "name": "mode",
                "type": 3,
                "description": "M",
                "choices": [{"name": "short", "value": "short"}],
            },
        ],
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


def test_who_a_message_pings(bare: FakeDiscord) -> None:
    """`mentions` lists who is actually pinged: everyone named unless allowed_mentions says
    otherwise, plus the author of the message replied to (unless replied_user is false)."""
    user, admin = bare.users["user"]["id"], bare.users["admin"]["id"]
    messages = f"/channels/{bare.channel_id}/messages"
    quiet = {"content": f"<@{user}> see this", "allowed_mentions": {"parse": []}}
    assert call(bare, "POST", messages, quiet)[2]["mentions"] == []  # named, not pinged
    pinging = call(bare, "POST", messages, {"content": f"<@{user}> @everyone"})[2]
    assert [m["id"] for m in pinging["mentions"]] == [user] and pinging["mention_everyone"]
    theirs = bare.send_message(None, "admin", "a question")
    reply = {"content": "an answer", "message_reference": {"message_id": theirs["id"]}}
    replied = call(bare, "POST", messages, reply)[2]
    assert [m["id"] for m in replied["mentions"]] == [admin]
    assert replied["referenced_message"]["id"] == theirs["id"] and replied["type"] == 19
    reply["allowed_mentions"] = {"parse": [], "replied_user": False}
    assert call(bare, "POST", messages, reply)[2]["mentions"] == []


def test_direct_messages(bare: FakeDiscord) -> None:
    """Create DM returns the same DM channel each time (messages there have no guild); a user
    who does not accept DMs from the bot makes the send fail with 403/50007; an unknown
    recipient is 400/50033; a test's own user is known once met."""
    user = bare.users["user"]["id"]
    status, _, channel = call(bare, "POST", "/users/@me/channels", {"recipient_id": user})
    assert status == 200 and channel["type"] == 1 and channel["recipients"][0]["id"] == user
    assert call(bare, "POST", "/users/@me/channels", {"recipient_id": user})[2] == channel
    assert bare.dm_channel_id("user") == channel["id"]
    opened = [r["channel"]["id"] for r in bare.records if r["kind"] == "dm_channel"]
    assert opened == [channel["id"], channel["id"]]
    status, _, body = call(bare, "POST", "/users/@me/channels", {"recipient_id": "1"})
    assert (status, body["code"], body["message"]) == (400, 50033, "Invalid Recipient(s)")
    dm = f"/channels/{channel['id']}/messages"
    status, _, sent = call(bare, "POST", dm, {"content": "hi"})
    assert status == 200 and sent["guild_id"] is None and "member" not in sent
    bare.close_dms("user")
    status, _, body = call(bare, "POST", dm, {"content": "hi"})
    assert (status, body["code"]) == (403, 50007)
    bare.close_dms("user", closed=False)
    assert call(bare, "POST", dm, {"content": "hi"})[0] == 200
    stranger = make_user(bare.world.snowflake(), "stranger")
    bare.send_message(None, stranger, "hello")  # met once
    assert call(bare, "POST", "/users/@me/channels", {"recipient_id": stranger["id"]})[0] == 200


def test_an_enforced_nonce_deduplicates_a_retried_send(bare: FakeDiscord) -> None:
    """A send repeated with the same nonce and `enforce_nonce` within a few minutes returns the
    first message instead of posting a second; without `enforce_nonce`, or in another channel,
    it is a new message."""
    messages = f"/channels/{bare.channel_id}/messages"
    body = {"content": "digest", "nonce": "n1", "enforce_nonce": True}
    first = call(bare, "POST", messages, body)[2]
    again = call(bare, "POST", messages, body)[2]
    assert again["id"] == first["id"]
    assert [m["id"] for m in bare.messages(bare.channel_id)] == [first["id"]]
    assert call(bare, "POST", messages, {**body, "enforce_nonce": False})[2]["id"] != first["id"]
    news = f"/channels/{bare.channels['news']['id']}/messages"
    assert call(bare, "POST", news, body)[2]["id"] != first["id"]
    bare.store.sent_at[first["id"]] -= 301  # older than Discord's window
    assert call(bare, "POST", messages, body)[2]["id"] != first["id"]


def test_failing_requests_answer_with_discords_error(bare: FakeDiscord) -> None:
    history = f"/channels/{bare.channel_id}/messages"
    bare.fail_requests("GET", r"/messages$", 403, 50001, "Missing Access", count=1)
    status, _, body = call(bare, "GET", history)
    assert (status, body) == (403, {"message": "Missing Access", "code": 50001})
    assert call(bare, "POST", history, {"content": "still works"})[0] == 200  # other methods
    assert call(bare, "GET", history)[0] == 200  # only `count` requests fail


def test_messages_rejected_as_on_discord(bare: FakeDiscord) -> None:
    messages = f"/channels/{bare.channel_id}/messages"
    gone = {"content": "re", "message_reference": {"message_id": "1"}}
    status, _, body = call(bare, "POST", messages, gone)
    assert status == 400
    [error] = body["errors"]["message_reference"]["_errors"]
    assert error["code"] == "MESSAGE_REFERENCE_UNKNOWN_MESSAGE"
    gone["message_reference"]["fail_if_not_exists"] = False  # what newsbot sends
    status, _, message = call(bare, "POST", messages, gone)
    assert status == 200 and "message_reference" not in message
    empty_field = {"embeds": [{"fields": [{"name": "n", "value": ""}]}]}
    errors = call(bare, "POST", messages, empty_field)[2]["errors"]
    assert errors["embeds"]["0"]["fields"]["0"]["value"]["_errors"][0]["code"] == (
        "BASE_TYPE_REQUIRED"
    )
    category = bare.channels["Text Channels"]["id"]
    assert call(bare, "POST", f"/channels/{category}/messages", {"content": "x"})[2]["code"] == (
        10003
    )
    assert call(bare, "POST", "/channels/1/messages", {"content": "x"})[2]["code"] == 10003
    assert call(bare, "POST", messages, data=b"{not json")[2]["code"] == 50109
    with pytest.raises(DiscordError, match="10008"):
        bare.edit_message("1", content="x")


def test_history_fetch_and_threads(bare: FakeDiscord) -> None:
    first = bare.send_message(None, "user", "one")
    second = bare.send_message(None, "user", "two")
    channel = f"/channels/{bare.channel_id}"
    newest = call(bare, "GET", f"{channel}/messages", params={"limit": "5"})[2]
    assert [m["id"] for m in newest[:2]] == [second["id"], first["id"]]  # newest first
    before = call(bare, "GET", f"{channel}/messages", params={"before": second["id"]})[2]
    assert second["id"] not in [m["id"] for m in before] and first["id"] in [
        m["id"] for m in before
    ]
    status, _, body = call(bare, "GET", f"{channel}/messages", params={"limit": "101"})
    assert status == 400 and "limit" in body["errors"]
    third = bare.send_message(None, "user", "three")
    after = call(bare, "GET", f"{channel}/messages", params={"after": first["id"], "limit": "1"})
    assert [m["id"] for m in after[2]] == [second["id"]]  # the oldest after it
    after = call(bare, "GET", f"{channel}/messages", params={"after": first["id"]})[2]
    assert [m["id"] for m in after] == [third["id"], second["id"]]  # newest first
    assert call(bare, "GET", f"{channel}/messages/{first['id']}")[2]["content"] == "one"
    news = bare.channels["news"]["id"]
    assert call(bare, "GET", f"/channels/{news}/messages/{first['id']}")[2]["code"] == 10008
    thread = call(bare, "POST", f"{channel}/messages/{first['id']}/threads", {"name": "Q"})[2]
    assert thread["id"] == first["id"] and thread["owner_id"] == bare.application_id
    assert call(bare, "POST", f"{channel}/messages/1/threads", {"name": "Q"})[2]["code"] == 10008
    long_name = call(
        bare, "POST", f"{channel}/messages/{second['id']}/threads", {"name": "x" * 101}
    )
    assert long_name[0] == 400 and "name" in long_name[2]["errors"]
    assert call(bare, "POST", f"{channel}/typing")[0] == 204


def test_commands_sync_rules(bare: FakeDiscord) -> None:
    base = f"/applications/{bare.application_id}"
    before = {c["name"]: c["id"] for c in bare.commands(bare.guild_id)}
    assert call(bare, "PUT", f"{base}/guilds/{bare.guild_id}/commands", COMMANDS)[0] == 200
    assert {c["name"]: c["id"] for c in bare.commands(bare.guild_id)} == before  # ids stay
    options = [{"name": "a", "type": 3, "description": "A"},
               {"name": "b", "type": 3, "description": "B", "required": True}]  # fmt: skip
    twice = [{"name": "x", "description": "X", "options": options}] * 2
    errors = call(bare, "PUT", f"{base}/commands", twice)[2]["errors"]
    assert errors["0"]["options"]["_errors"][0]["code"] == (
        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID"
    )
    assert errors["1"]["name"]["_errors"][0]["code"] == "APPLICATION_COMMANDS_DUPLICATE_NAME"
    assert call(bare, "PUT", f"{base}/commands", {"name": "x"})[0] == 400  # not a list
    assert call(bare, "PUT", "/applications/1/commands", [])[2]["code"] == 10002
    assert call(bare, "PUT", f"{base}/guilds/1/commands", [])[2]["code"] == 10004
    assert call(bare, "DELETE", f"/users/@me/guilds/{bare.guild_id}")[0] == 204
    assert bare.guild_id in bare.world.left
    assert call(bare, "DELETE", f"/users/@me/guilds/{bare.guild_id}")[2]["code"] == 10004


def test_impossible_command_input_is_refused_before_it_is_sent(bare: FakeDiscord) -> None:
    with pytest.raises(ValueError, match="never synced"):
        bare.invoke_slash("nope")
    with pytest.raises(ValueError, match="needs a subcommand"):
        bare.invoke_slash("feeds", {})
    with pytest.raises(ValueError, match="no subcommand 'remove'"):
        bare.invoke_slash("feeds remove", {})
    with pytest.raises(ValueError, match="unknown options"):
        bare.invoke_slash("ask", {"question": "q", "colour": "red"})
    with pytest.raises(ValueError, match="outside"):
        bare.invoke_slash("ask", {"question": "q", "count": 21})
    with pytest.raises(ValueError, match="length 301"):
        bare.invoke_slash("ask", {"question": "q" * 301})
    with pytest.raises(ValueError, match="not one of"):
        bare.invoke_slash("ask", {"question": "q", "mode": "loud"})
    base = f"/applications/{bare.application_id}/guilds/{bare.guild_id}/commands"
    who = {"name": "who", "description": "W",
           "options": [{"name": "user", "type": 6, "description": "U"}]}  # fmt: skip
    assert call(bare, "PUT", base, [*COMMANDS, who])[0] == 200
    with pytest.raises(ValueError, match="type 6 is not supported"):
        bare.invoke_slash("who", {"user": "admin"})  # newsbot has no user/role options
    with pytest.raises(KeyError, match="unknown user"):
        bare.invoke_slash("ask", {"question": "q"}, user="nobody")
    iid = bare.invoke_slash("ask", {"question": "q", "count": 20, "mode": "short"})
    assert bare.interaction(iid).payload["data"]["options"][1] == {
        "name": "count", "type": 4, "value": 20
    }  # fmt: skip
    with pytest.raises(ValueError, match="no enabled component"):
        bare.click_button(bare.send_message(None, "user", "no buttons")["id"], "x")
    with pytest.raises(TimeoutError):
        bare.wait_ready(timeout=0.1)


def test_a_channel_option_is_sent_with_the_resolved_channel(bare: FakeDiscord) -> None:
    """As a client sends a channel option: the id as the value, the channel (id, name, type,
    the invoking user's permissions there) in `resolved.channels`; only the types it offers."""
    base = f"/applications/{bare.application_id}/guilds/{bare.guild_id}/commands"
    option = {"name": "channel", "type": 7, "description": "C", "channel_types": [0, 5]}
    where = {"name": "where", "description": "W", "options": [option]}
    assert call(bare, "PUT", base, [*COMMANDS, where])[0] == 200
    news = bare.channels["news"]
    data = bare.interaction(bare.invoke_slash("where", {"channel": "news"}, user="admin")).payload
    assert data["data"]["options"] == [{"name": "channel", "type": 7, "value": news["id"]}]
    resolved = data["data"]["resolved"]["channels"][news["id"]]
    assert (resolved["name"], resolved["type"]) == ("news", 0)
    assert int(resolved["permissions"]) == bare.world.permissions("admin")
    by_id = bare.interaction(bare.invoke_slash("where", {"channel": news["id"]})).payload
    assert by_id["data"]["options"][0]["value"] == news["id"]
    with pytest.raises(ValueError, match="channel type 4"):
        bare.invoke_slash("where", {"channel": "Text Channels"})  # a category is not offered
    with pytest.raises(ValueError, match="no channel"):
        bare.invoke_slash("where", {"channel": "nowhere"})


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
    too_long = {"type": 4, "data": {"content": "x" * 2001}}  # errors under "data", as Discord
    errors = call(bare, "POST", callback, too_long)[2]["errors"]
    assert errors["data"]["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
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
    unknown = f"/interactions/{interaction_id}/wrong-token/callback"
    assert call(bare, "POST", unknown, {"type": 4, "data": {"content": "x"}})[2]["code"] == 10062
    fresh = bare.interaction(bare.invoke_slash("ask", {"question": "q"}))
    choices = {"type": 8, "data": {"choices": []}}  # autocomplete's answer to a command
    status, _, body = call(
        bare, "POST", f"/interactions/{fresh.id}/{fresh.token}/callback", choices
    )
    assert status == 400 and body["errors"]["type"]["_errors"][0]["code"] == (
        "INTERACTION_RESPONSE_TYPE_INVALID"
    )
    assert (
        call(bare, "POST", f"/webhooks/{bare.application_id}/nope", {"content": "x"})[2]["code"]
        == 10015
    )


def test_editing_an_interaction_response(bare: FakeDiscord) -> None:
    """`edit_original_response` and followup edits: only the interaction's own messages; a
    rejected edit is recorded; after `followup_ttl` the token is dead (401/50027)."""
    interaction = bare.interaction(bare.invoke_slash("ask", {"question": "q"}))
    hook = f"/webhooks/{bare.application_id}/{interaction.token}"
    callback = f"/interactions/{interaction.id}/{interaction.token}/callback"
    assert call(bare, "POST", callback, {"type": 5})[0] == 200  # "thinking…"
    original = call(bare, "PATCH", f"{hook}/messages/@original", {"content": "progress"})[2]
    assert original["id"] == interaction.original_id and original["content"] == "progress"
    assert call(bare, "POST", f"{hook}?wait=1", {"content": "more"})[0] == 200
    [later] = interaction.followup_ids  # the first followup replaced "thinking…"
    assert call(bare, "PATCH", f"{hook}/messages/{later}", {"content": "b"})[2]["content"] == "b"
    other = bare.send_message(None, "user", "not the bot's")["id"]
    assert call(bare, "PATCH", f"{hook}/messages/{other}", {"content": "x"})[2]["code"] == 10008
    status, _, _ = call(bare, "PATCH", f"{hook}/messages/@original", {"content": "x" * 2001})
    failed = bare.wait_for(lambda r: r["kind"] == "edit_failed")
    assert status == 400 and failed["message_id"] == interaction.original_id
    bare.followup_ttl = 0.0
    assert call(bare, "PATCH", f"{hook}/messages/@original", {"content": "y"})[2]["code"] == 50027


async def _gateway(fake: FakeDiscord, *frames: dict[str, Any], query: dict[str, str] | None = None,
                   until: int = 1) -> tuple[list[Any], int | None]:  # fmt: skip
    """Connect (plain JSON frames), send `frames`, read until `until` messages or the close;
    returns (the payloads received, the close code)."""
    params = query or {"v": "10", "encoding": "json"}
    received: list[Any] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(
        fake.gateway_url, params=params
    ) as ws:  # fmt: skip
        for frame in frames:
            await ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))
        while len(received) < until:
            message = await ws.receive(timeout=5)
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            received.append(json.loads(message.data))
        return received, ws.close_code


def identify(token: str = "test-token", intents: int = 1 | (1 << 9)) -> dict[str, Any]:
    return {"op": 2, "d": {"token": token, "intents": intents, "properties": {}}}


def test_gateway_refusals(bare: FakeDiscord) -> None:
    """What Discord closes the gateway with: 4002 an encoding or payload it cannot decode,
    4004 a wrong token, 4014 a privileged intent not enabled for the application (newsbot then
    says which one to enable); a RESUME of an unknown session is INVALID_SESSION."""
    run = asyncio.run
    assert run(_gateway(bare, query={"v": "10", "encoding": "etf"}))[1] == 4002
    assert run(_gateway(bare, "not json", until=2))[1] == 4002
    assert run(_gateway(bare, identify("wrong"), until=2))[1] == 4004
    with FakeDiscord(token="test-token", privileged_intents=0) as strict:
        assert run(_gateway(strict, identify(intents=1 << 15), until=2))[1] == 4014
    resume = {"op": 6, "d": {"token": "test-token", "session_id": "nope", "seq": 0}}
    assert run(_gateway(bare, resume, until=2))[0][-1] == {"op": 9, "d": False}
    presence = {"op": 3, "d": {"status": "online"}}
    run(_gateway(bare, presence, {"op": 1, "d": None}, until=2))  # HELLO, HEARTBEAT_ACK
    assert bare.wait_for(lambda r: r["kind"] == "gateway_op")["op"] == 3  # recorded, ignored


def test_gateway_intents_and_resume_replay(bare: FakeDiscord) -> None:
    """Message events need GUILD_MESSAGES (in a DM: DIRECT_MESSAGES); without MESSAGE_CONTENT a
    message arrives with empty content unless it mentions the bot; a RESUME replays the events
    missed meanwhile."""
    mention = f"<@{bare.application_id}> hi"

    async def scenario() -> list[Any]:
        ready, _ = await _gateway(bare, identify(), until=3)  # HELLO, READY, GUILD_CREATE
        session = next(p["d"]["session_id"] for p in ready if p.get("t") == "READY")
        seq = max(p.get("s") or 0 for p in ready)
        bare.send_message(None, "user", "plain words")  # while disconnected
        bare.send_message(None, "user", mention)
        resume = {"op": 6, "d": {"token": "test-token", "session_id": session, "seq": seq}}
        replayed, _ = await _gateway(bare, resume, until=4)  # HELLO, 2 missed, RESUMED
        await _gateway(bare, identify(intents=1), until=3)  # guilds only, no GUILD_MESSAGES
        await _gateway(bare, identify(intents=1 | DIRECT_MESSAGES), until=3)
        return replayed

    replayed = asyncio.run(scenario())
    created = [p["d"]["content"] for p in replayed if p.get("t") == "MESSAGE_CREATE"]
    assert created == ["", mention]  # no MESSAGE_CONTENT intent: only the mention is readable
    bare.send_message(None, "user", "unseen")
    [guilds_only] = [s for s in bare.gateway.sessions.values() if s.intents == 1]
    assert [p["t"] for p in guilds_only.history] == ["READY", "GUILD_CREATE"]
    dm = bare.dm_channel_id("user")
    call(bare, "POST", f"/channels/{dm}/messages", {"content": "a DM"})
    [dms_only] = [s for s in bare.gateway.sessions.values() if s.intents == 1 | DIRECT_MESSAGES]
    assert [p["d"]["content"] for p in dms_only.history[2:]] == ["a DM"]  # not "unseen"
    guild_session = next(s for s in bare.gateway.sessions.values() if s.intents == 1 | 1 << 9)
    assert "a DM" not in [p["d"].get("content") for p in guild_session.history]
    assert replayed[-1]["t"] == "RESUMED"


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
