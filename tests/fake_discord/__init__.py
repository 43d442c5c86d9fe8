"""A local fake of the Discord HTTP API and gateway that the *real* discord.py client talks to.

Why a fake server instead of mocks: the bot's Discord layer is an adapter, and the interesting
bugs live in how it speaks the protocol (acknowledging within 3 s, followup bodies, 429 retries,
message limits, intents). Mocking discord.py would only test our assumptions about discord.py;
this fake lets discord.py do its real work over real sockets on 127.0.0.1.

Quick start (see ``tests/test_fake_discord.py`` for complete examples)::

    from tests.fake_discord import FakeDiscord, run_client

    async def test_ping() -> None:
        async with FakeDiscord() as fake, fake.patch_client_endpoints():
            client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
            tree = app_commands.CommandTree(client)
            ...  # define commands
            async with run_client(client, fake):
                await tree.sync(guild=discord.Object(fake.guild.id))
                interaction = fake.slash_command_interaction("ping")
                await fake.dispatch("INTERACTION_CREATE", interaction)
                callback = await fake.wait_for_interaction_callback(interaction)
                assert callback.json["type"] == 5  # deferred
                followup = await fake.wait_for_followup(interaction)
                assert followup.json["content"] == "pong"

Or use the ready-made pytest fixture by re-exporting it from a conftest::

    from tests.fake_discord import fake_discord  # noqa: F401  (fixture re-export)

What it offers
--------------
* World: ``fake.bot_user``, ``fake.guild`` (``text_channel``, ``admin_role``, ``everyone_role``),
  ``fake.member`` (an ordinary user) and ``fake.admin`` (has the Administrator role); add more
  with :meth:`FakeDiscord.add_user` / :meth:`FakeDiscord.add_channel`, attachments with
  :meth:`FakeDiscord.add_attachment`.
* Builders returning API v10 payloads: :meth:`FakeDiscord.slash_command_interaction`,
  :meth:`FakeDiscord.autocomplete_interaction`, :meth:`FakeDiscord.component_interaction`,
  :meth:`FakeDiscord.message_create`.
* Gateway: :meth:`FakeDiscord.dispatch` sends a DISPATCH event; :meth:`FakeDiscord.close_gateway`
  and :meth:`FakeDiscord.send_reconnect` exercise RESUME.
* Recording and waiting: ``fake.requests`` (every HTTP request, as :class:`RecordedRequest`),
  ``fake.unhandled_requests`` (routes the fake does not know, answered 404 — assert it is empty
  to catch unexpected calls), ``fake.gateway_received`` (what the client sent on the gateway),
  ``fake.dropped_events`` (dispatches the client's intents excluded);
  :meth:`FakeDiscord.wait_for_request` (with ``since=fake.mark()`` to skip older requests),
  :meth:`FakeDiscord.wait_for_interaction_callback`, :meth:`FakeDiscord.wait_for_followup`,
  :meth:`FakeDiscord.wait_for_identify`. State views: ``fake.messages`` (every message by id,
  kept up to date by edits), :meth:`FakeDiscord.channel_messages`,
  :meth:`FakeDiscord.original_message` (what the user finally sees for an interaction) and
  :meth:`FakeDiscord.interaction_state` (response type, followups, autocomplete choices).
* Client lifecycle: :func:`run_client` logs a client in, connects, waits for ready and closes
  it cleanly; :func:`patch_discord_endpoints` / ``fake.patch_client_endpoints()``.
* Failure injection: :meth:`FakeDiscord.rate_limit` (429 with real headers) and
  :meth:`FakeDiscord.inject_error`.

Behaviour of the real Discord that the fake reproduces on purpose
-----------------------------------------------------------------
* Interactions must be acknowledged once and within ``ack_deadline`` (3 s): late → 404 code
  10062 "Unknown interaction", twice → 400 code 40060.
* After a deferred response (type 5) the first followup *replaces* the loading message (same
  message id, keeps the defer's ephemeral flag), as Discord does.
* Message limits are validated (content 2000, embeds 10/256/4096/25 fields/6000 total, no empty
  messages) and answered 400 code 50035 / 50006, so a bot that ignores limits fails its tests.
* Intents: guild MESSAGE_CREATE is only delivered with GUILD_MESSAGES, and its content, embeds,
  attachments and components are blanked without MESSAGE_CONTENT unless the bot is mentioned.
* Messages the bot posts via ``POST /channels/{id}/messages`` are echoed back as MESSAGE_CREATE
  (so on_message sees the bot's own messages, as in production); new threads as THREAD_CREATE.
* Bot routes require ``Authorization: Bot <token>`` (401 otherwise); webhook and interaction
  callback routes are authenticated by the token in their URL, like Discord.

Things discord.py needs that are easy to miss (all handled here)
----------------------------------------------------------------
* ``Client.connect`` never calls ``GET /gateway/bot``; it dials ``DiscordWebSocket.DEFAULT_GATEWAY``
  (only AutoShardedClient asks /gateway/bot). :meth:`FakeDiscord.patch_client_endpoints` therefore
  patches both ``discord.http.Route.BASE`` and ``DEFAULT_GATEWAY``.
* A 429 without a ``Via`` header is treated as a Cloudflare ban and not retried; the fake sends
  ``Via: 1.1 google`` and a JSON body with ``retry_after``.
* ``Client`` waits ``guild_ready_timeout`` (default 2 s) after the last GUILD_CREATE before
  ``on_ready``; construct test clients with ``guild_ready_timeout=0.05`` to keep tests fast.
* ``Interaction`` reads ``attachment_size_limit`` and ``version`` unconditionally.
* With ``zstandard`` installed discord.py asks for ``compress=zstd-stream``; the fake honours the
  query (one zstd stream, block-flushed per message; or zlib with Z_SYNC_FLUSH), falling back
  to text frames, which discord.py also accepts.
"""

from __future__ import annotations

from tests.fake_discord.server import FakeDiscord, fake_discord, patch_discord_endpoints, run_client
from tests.fake_discord.state import *  # noqa: F403 - the constants tests name (INTENT_*, OP_*, ...)
from tests.fake_discord.state import (
    FakeChannel,
    FakeDiscordTimeoutError,
    FakeGuild,
    FakeRole,
    FakeUser,
    InteractionState,
    RecordedFile,
    RecordedRequest,
)

__all__ = [
    "FakeChannel",
    "FakeDiscord",
    "FakeDiscordTimeoutError",
    "FakeGuild",
    "FakeRole",
    "FakeUser",
    "InteractionState",
    "RecordedFile",
    "RecordedRequest",
    "fake_discord",
    "patch_discord_endpoints",
    "run_client",
]
