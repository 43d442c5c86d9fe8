"""The fake Discord API is good enough for an unmodified discord.py client.

Every test drives a plain ``discord.Client`` (no project code) against ``FakeDiscord`` over real
sockets, so the bot's own tests can trust what the fake records and answers.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import io
import json
import logging
import threading
import warnings
import zlib
from collections.abc import AsyncIterator

import discord
import pytest
from aiohttp import ClientSession, WSMsgType
from discord import app_commands
from discord.http import Route

from tests.fake_discord import FakeDiscord, run_client

pytestmark = pytest.mark.timeout(10)  # each test takes well under a second; a hang should fail fast

QUESTION_FILE = b"Paragraph 1. The programme will be delivered in 2035.\n"
EXPORT_FILE = b"Answer: 2035 [paragraph 1]\n"


class ConfirmView(discord.ui.View):
    """One button that edits its message, to exercise component interactions."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Confirm", custom_id="confirm")
    async def confirm(self, interaction: discord.Interaction, _: discord.ui.Button[ConfirmView]) -> None:
        """Replace the message text in place (callback type 7)."""
        await interaction.response.edit_message(content="Confirmed", view=None)


class ProbeBot(discord.Client):
    """A minimal bot with the commands these tests invoke."""

    def __init__(self, *, message_content: bool = True) -> None:
        intents = discord.Intents.default()
        intents.message_content = message_content
        # guild_ready_timeout: discord.py otherwise waits 2 s after GUILD_CREATE before on_ready.
        super().__init__(
            intents=intents,
            guild_ready_timeout=0.05,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.tree = app_commands.CommandTree(self)
        self.received: asyncio.Queue[discord.Message] = asyncio.Queue()
        self.command_errors: asyncio.Queue[app_commands.AppCommandError] = asyncio.Queue()
        self._add_commands()

    def _add_commands(self) -> None:
        tree = self.tree

        @tree.command(name="ping", description="Check the bot answers")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            embed = discord.Embed(title="Pong", description="The fake gateway works.")
            await interaction.followup.send("pong", embed=embed)

        @tree.command(name="export", description="Send the answer as a file")
        async def export(interaction: discord.Interaction) -> None:
            await interaction.response.defer(ephemeral=True)
            await interaction.followup.send("Here it is", file=discord.File(io.BytesIO(EXPORT_FILE), "answer.txt"))

        @tree.command(name="read", description="Read an attached file")
        async def read(interaction: discord.Interaction, file: discord.Attachment) -> None:
            data = await file.read()
            digest = hashlib.sha256(data).hexdigest()[:12]
            await interaction.response.send_message(f"{file.filename}: {len(data)} bytes, {digest}")

        async def topics(_: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            names = ["defence", "delivery", "budget"]
            return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]

        @tree.command(name="topic", description="Pick a topic")
        @app_commands.autocomplete(name=topics)
        async def topic(interaction: discord.Interaction, name: str) -> None:
            await interaction.response.send_message(name, ephemeral=True)

        @tree.command(name="whoami", description="Describe the caller")
        async def whoami(interaction: discord.Interaction) -> None:
            roles = [r.name for r in getattr(interaction.user, "roles", [])[1:]]  # skip @everyone
            where = "dm" if interaction.guild_id is None else "guild"
            await interaction.response.send_message(
                f"{interaction.user.name} admin={interaction.permissions.administrator} roles={roles} in={where}"
            )

        @tree.command(name="slow", description="Acknowledges too late")
        async def slow(interaction: discord.Interaction) -> None:
            await asyncio.sleep(0.2)
            await interaction.response.defer()

        @tree.error
        async def on_error(_: discord.Interaction, error: app_commands.AppCommandError) -> None:
            self.command_errors.put_nowait(error)

    async def on_message(self, message: discord.Message) -> None:
        """Queue every message so tests can await the one they dispatched."""
        self.received.put_nowait(message)

    async def next_message_from(self, user_id: int) -> discord.Message:
        """The next received message whose author is ``user_id`` (skips the bot's own echoes)."""
        while True:
            message = await asyncio.wait_for(self.received.get(), timeout=5)
            if message.author.id == user_id:
                return message


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """A running fake with discord.py pointed at it."""
    async with FakeDiscord() as fake, fake.patch_client_endpoints():
        yield fake


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[ProbeBot]:
    """A ready ProbeBot whose commands are synced to the fake guild."""
    client = ProbeBot()
    async with run_client(client, fake):
        guild = discord.Object(fake.guild.id)
        client.tree.copy_global_to(guild=guild)
        await client.tree.sync(guild=guild)
        yield client


async def test_login_and_identify_use_the_token_and_reach_ready(fake: FakeDiscord) -> None:
    """Login sends the token as a Bot Authorization header; IDENTIFY leads to READY and the guild."""
    client = ProbeBot()
    async with run_client(client, fake):
        me = await fake.wait_for_request("GET", "/users/@me")
        assert me.headers["Authorization"] == f"Bot {fake.token}"
        await fake.wait_for_request("GET", "/oauth2/applications/@me")
        identify = await fake.wait_for_identify()
        assert identify["intents"] == client.intents.value
        assert client.user is not None
        assert client.user.id == fake.bot_user.id
        assert client.application_id == fake.application_id
        guild = client.get_guild(fake.guild.id)
        assert guild is not None
        channel = guild.get_channel(fake.guild.text_channel.id)
        assert isinstance(channel, discord.TextChannel)
        assert guild.get_role(fake.guild.admin_role.id) is not None
        # discord.py beats right after HELLO and asked for the compression it can decode.
        assert fake.gateway_received[0]["op"] == 1
        assert fake.gateway_queries[0]["compress"] == discord.utils._ActiveDecompressionContext.COMPRESSION_TYPE


async def test_wrong_token_is_rejected_at_login(fake: FakeDiscord) -> None:
    """A bad token gets 401 from /users/@me, which discord.py reports as LoginFailure."""
    client = ProbeBot()
    with pytest.raises(discord.LoginFailure):
        async with run_client(client, fake, token="not-the-token"):
            pass
    assert client.is_closed()


async def test_sync_records_bulk_overwrite_and_echoes_ids(fake: FakeDiscord) -> None:
    """Guild sync is a PUT of every command; ids come back and survive a re-sync."""
    client = ProbeBot()
    async with run_client(client, fake):
        guild = discord.Object(fake.guild.id)
        client.tree.copy_global_to(guild=guild)
        first = await client.tree.sync(guild=guild)
        put = await fake.wait_for_request("PUT", "/applications/{app}/guilds/{guild}/commands")
        assert put.path == f"/applications/{fake.application_id}/guilds/{fake.guild.id}/commands"
        assert sorted(c["name"] for c in put.json) == ["export", "ping", "read", "slow", "topic", "whoami"]
        second = await client.tree.sync(guild=guild)
    assert {c.name: c.id for c in first} == {c.name: c.id for c in second}
    assert {c["name"]: int(c["id"]) for c in fake.commands[fake.guild.id]} == {c.name: c.id for c in first}


async def test_slash_command_defers_then_sends_followup_with_embed(fake: FakeDiscord, bot: ProbeBot) -> None:
    """/ping acknowledges with type 5, then its followup carries content, embed and allowed_mentions."""
    interaction = fake.slash_command_interaction("ping")
    assert await fake.dispatch("INTERACTION_CREATE", interaction) is not None

    callback = await fake.wait_for_interaction_callback(interaction)
    assert callback.json == {"type": 5}  # deferred, not ephemeral
    followup = await fake.wait_for_followup(interaction)
    assert followup.json["content"] == "pong"
    assert followup.json["embeds"][0]["title"] == "Pong"
    assert followup.json["embeds"][0]["description"] == "The fake gateway works."
    assert followup.json["allowed_mentions"] == {"parse": []}
    # As on Discord, the first followup after a defer replaces the "thinking" message.
    original = fake.original_message(interaction)
    assert original is not None
    assert original["content"] == "pong"
    assert not original["flags"] & 128
    assert "Authorization" not in followup.headers  # webhooks authenticate by URL token


async def test_message_create_reaches_on_message(fake: FakeDiscord, bot: ProbeBot) -> None:
    """A dispatched MESSAGE_CREATE arrives in on_message with its content and author."""
    payload = fake.message_create("When is delivery due?")
    await fake.dispatch("MESSAGE_CREATE", payload)

    message = await bot.next_message_from(fake.member.id)
    assert message.content == "When is delivery due?"
    assert message.id == int(payload["id"])
    assert message.channel.id == fake.guild.text_channel.id
    assert isinstance(message.author, discord.Member)


async def test_message_content_is_blanked_without_the_intent(fake: FakeDiscord) -> None:
    """Like Discord, content reaches a bot without MESSAGE_CONTENT only when it is mentioned."""
    client = ProbeBot(message_content=False)
    async with run_client(client, fake):
        await fake.dispatch("MESSAGE_CREATE", fake.message_create("hidden"))
        assert (await client.next_message_from(fake.member.id)).content == ""
        await fake.dispatch("MESSAGE_CREATE", fake.message_create("visible", mention_bot=True))
        mentioned = await client.next_message_from(fake.member.id)
        assert mentioned.content == f"<@{fake.bot_user.id}> visible"
        assert client.user in mentioned.mentions


async def test_rate_limited_followup_is_retried(
    fake: FakeDiscord, bot: ProbeBot, caplog: pytest.LogCaptureFixture
) -> None:
    """A 429 on the followup route is waited out by discord.py and the followup still arrives."""
    caplog.set_level(logging.WARNING, logger="discord")
    fake.rate_limit("POST", "/webhooks/{app}/{token}", times=1, retry_after=0.05)
    interaction = fake.slash_command_interaction("ping")
    await fake.dispatch("INTERACTION_CREATE", interaction)

    followup = await fake.wait_for_followup(interaction)
    assert followup.json["content"] == "pong"
    attempts = fake.requests_matching("POST", f"/webhooks/{fake.application_id}/{interaction['token']}")
    assert [r.status for r in attempts] == [429, 200]
    assert attempts[0].response["retry_after"] == 0.05
    assert attempts[0].response["global"] is False
    assert "rate limited" in caplog.text


async def test_attachment_option_is_downloaded_from_the_fake_cdn(fake: FakeDiscord, bot: ProbeBot) -> None:
    """An attachment option resolves to a discord.Attachment whose read() hits the fake CDN."""
    attachment = fake.add_attachment("statement.txt", QUESTION_FILE, content_type="text/plain")
    interaction = fake.slash_command_interaction("read", {"file": attachment})
    await fake.dispatch("INTERACTION_CREATE", interaction)

    callback = await fake.wait_for_interaction_callback(interaction)
    digest = hashlib.sha256(QUESTION_FILE).hexdigest()[:12]
    assert callback.json["type"] == 4
    assert callback.json["data"]["content"] == f"statement.txt: {len(QUESTION_FILE)} bytes, {digest}"
    download = await fake.wait_for_request("GET", "/attachments/{channel}/{id}/{name}")
    assert download.is_cdn
    assert "Authorization" not in download.headers  # discord.py never sends the token to the CDN


async def test_followup_files_arrive_as_multipart_and_are_served(fake: FakeDiscord, bot: ProbeBot) -> None:
    """A followup with a file is recorded as payload_json plus files[0], and the fake hosts the upload."""
    interaction = fake.slash_command_interaction("export")
    await fake.dispatch("INTERACTION_CREATE", interaction)

    callback = await fake.wait_for_interaction_callback(interaction)
    assert callback.json == {"type": 5, "data": {"flags": 64}}
    followup = await fake.wait_for_followup(interaction)
    assert followup.json["content"] == "Here it is"
    assert [(f.field_name, f.filename, f.data) for f in followup.files] == [("files[0]", "answer.txt", EXPORT_FILE)]
    original = fake.original_message(interaction)
    assert original is not None
    assert original["flags"] & 64  # ephemeral because the defer was
    assert await bot.http.get_from_cdn(original["attachments"][0]["url"]) == EXPORT_FILE


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        ("member", "alice admin=False roles=[] in=guild"),
        ("admin", "root admin=True roles=['Admin'] in=guild"),
        ("dm", "alice admin=False roles=[] in=dm"),
    ],
)
async def test_interaction_builders_carry_member_roles_and_permissions(
    fake: FakeDiscord, bot: ProbeBot, caller: str, expected: str
) -> None:
    """Guild interactions carry the member's roles and computed permissions; DM ones a bare user."""
    if caller == "dm":
        interaction = fake.slash_command_interaction("whoami", dm=True)
    else:
        interaction = fake.slash_command_interaction("whoami", user=getattr(fake, caller))
    await fake.dispatch("INTERACTION_CREATE", interaction)

    callback = await fake.wait_for_interaction_callback(interaction)
    assert callback.json["data"]["content"] == expected


async def test_autocomplete_choices_are_recorded(fake: FakeDiscord, bot: ProbeBot) -> None:
    """An autocomplete interaction gets a type 8 callback with the bot's choices."""
    interaction = fake.autocomplete_interaction("topic", {"name": "de"}, focused="name")
    await fake.dispatch("INTERACTION_CREATE", interaction)

    callback = await fake.wait_for_interaction_callback(interaction)
    assert callback.json["type"] == 8
    assert fake.interaction_state(interaction).autocomplete_choices == [
        {"name": "defence", "value": "defence"},
        {"name": "delivery", "value": "delivery"},
    ]


async def test_button_press_updates_the_message(fake: FakeDiscord, bot: ProbeBot) -> None:
    """A component interaction on a bot message routes to its View, which edits the message."""
    channel = bot.get_channel(fake.guild.text_channel.id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("Confirm?", view=ConfirmView())
    assert fake.messages[sent.id]["components"][0]["components"][0]["custom_id"] == "confirm"

    interaction = fake.component_interaction("confirm")
    await fake.dispatch("INTERACTION_CREATE", interaction)
    callback = await fake.wait_for_interaction_callback(interaction)
    assert callback.json["type"] == 7
    assert fake.messages[sent.id]["content"] == "Confirmed"
    assert fake.messages[sent.id]["components"] == []


async def test_bot_messages_threads_and_limits(fake: FakeDiscord, bot: ProbeBot) -> None:
    """Channel sends, thread creation and Discord's message limits behave like the real API."""
    channel = bot.get_channel(fake.guild.text_channel.id)
    assert isinstance(channel, discord.TextChannel)
    question = await channel.send("Answers below")
    thread = await question.create_thread(name="answers")
    assert thread.id == question.id  # Discord reuses the message id for the thread
    assert thread.type is discord.ChannelType.public_thread
    await thread.send("in the thread")
    assert [m["content"] for m in fake.channel_messages(thread.id)] == ["in the thread"]
    # The bot's own sends come back over the gateway, as in production.
    echoed = await bot.next_message_from(fake.bot_user.id)
    assert echoed.id == question.id

    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("x" * 2001)
    assert too_long.value.code == 50035
    with pytest.raises(discord.HTTPException) as too_big:
        await channel.send(embed=discord.Embed(description="x" * 4097))
    assert too_big.value.code == 50035


async def test_late_acknowledgement_is_an_unknown_interaction(fake: FakeDiscord, bot: ProbeBot) -> None:
    """Acknowledging after the deadline fails with 10062, as Discord does after 3 s."""
    fake.ack_deadline = 0.05
    interaction = fake.slash_command_interaction("slow")
    await fake.dispatch("INTERACTION_CREATE", interaction)

    error = await asyncio.wait_for(bot.command_errors.get(), timeout=5)
    assert isinstance(error, app_commands.CommandInvokeError)
    assert isinstance(error.original, discord.NotFound)
    assert error.original.code == 10062


async def test_injected_error_reaches_the_caller(fake: FakeDiscord, bot: ProbeBot) -> None:
    """inject_error answers in Discord's error shape, which discord.py maps to its exceptions."""
    fake.inject_error("POST", "/channels/{cid}/messages", status=403, code=50013, message="Missing Permissions")
    channel = bot.get_channel(fake.guild.text_channel.id)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.Forbidden) as denied:
        await channel.send("hello")
    assert denied.value.code == 50013
    await channel.send("hello again")  # only the next call was affected


async def test_unknown_route_is_recorded_as_404(fake: FakeDiscord, bot: ProbeBot) -> None:
    """Calls the fake does not implement answer 404 and are listed for the test to see."""
    with pytest.raises(discord.NotFound):
        await bot.http.request(Route("GET", "/guilds/{guild_id}/bans", guild_id=fake.guild.id))
    assert [r.path for r in fake.unhandled_requests] == [f"/guilds/{fake.guild.id}/bans"]


@pytest.mark.parametrize("trigger", ["socket_closed", "reconnect_opcode"])
async def test_gateway_resume_replays_missed_events(fake: FakeDiscord, bot: ProbeBot, trigger: str) -> None:
    """After a drop or op 7, discord.py RESUMEs and receives what was dispatched meanwhile."""
    if trigger == "socket_closed":
        await fake.close_gateway(code=4000)
    else:
        await fake.send_reconnect()
    await fake.dispatch("MESSAGE_CREATE", fake.message_create("sent while offline"))

    message = await bot.next_message_from(fake.member.id)
    assert message.content == "sent while offline"
    assert any(m["op"] == 6 for m in fake.gateway_received)  # RESUME, not a new IDENTIFY
    assert sum(m["op"] == 2 for m in fake.gateway_received) == 1


async def test_client_closes_cleanly_and_never_logs_the_token(
    fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    """A full session leaves no tasks, threads or sessions behind, and no log line has the token."""
    caplog.set_level(logging.DEBUG)
    client = ProbeBot()
    async with run_client(client, fake):
        guild = discord.Object(fake.guild.id)
        client.tree.copy_global_to(guild=guild)
        await client.tree.sync(guild=guild)
        interaction = fake.slash_command_interaction("ping")
        await fake.dispatch("INTERACTION_CREATE", interaction)
        await fake.wait_for_followup(interaction)
        await fake.dispatch("MESSAGE_CREATE", fake.message_create("hello"))
        await client.next_message_from(fake.member.id)

    assert client.is_closed()
    assert asyncio.all_tasks() == {asyncio.current_task()}
    for thread in threading.enumerate():
        if thread.name.startswith("keep-alive-handler"):
            thread.join(timeout=2)
            assert not thread.is_alive()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert "Unclosed" not in caplog.text
    assert "Task was destroyed" not in caplog.text
    # The token travelled (it is in the Authorization header) but never reached a log line.
    assert fake.requests[0].headers["Authorization"] == f"Bot {fake.token}"
    assert len(caplog.records) > 20  # debug logging was really on
    assert fake.token not in caplog.text


async def test_gateway_speaks_zlib_stream_with_sequence_numbers(fake: FakeDiscord) -> None:
    """Without discord.py: zlib-stream frames inflate to HELLO, READY (s=1) and GUILD_CREATE (s=2)."""
    inflater = zlib.decompressobj()
    async with (
        ClientSession() as session,
        session.ws_connect(f"{fake.gateway_url}?v=10&encoding=json&compress=zlib-stream") as ws,
    ):

        async def receive() -> dict[str, object]:
            msg = await ws.receive(timeout=5)
            assert msg.type is WSMsgType.BINARY
            assert msg.data.endswith(b"\x00\x00\xff\xff")  # Z_SYNC_FLUSH per message
            return json.loads(inflater.decompress(msg.data))

        hello = await receive()
        assert hello["op"] == 10
        await ws.send_json({"op": 1, "d": None})
        assert (await receive())["op"] == 11
        await ws.send_json({"op": 2, "d": {"token": fake.token, "intents": 513, "properties": {}}})
        ready, guild_create = await receive(), await receive()
        assert (ready["t"], ready["s"]) == ("READY", 1)
        assert (guild_create["t"], guild_create["s"]) == ("GUILD_CREATE", 2)
        assert await fake.dispatch("TYPING_START", {"channel_id": "1"}) == 3
        assert (await receive())["s"] == 3
