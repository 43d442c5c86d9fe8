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

import asyncio
import contextlib
import datetime as dt
import importlib
import json
import logging
import math
import re
import secrets
import socket
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import discord
import pytest
import yarl
from aiohttp import BodyPartReader, WSMsgType, web
from discord.gateway import DiscordWebSocket
from discord.http import Route

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

JSON = dict[str, Any]

_log = logging.getLogger(__name__)

API_PREFIX: Final = "/api/v10"
GATEWAY_PATH: Final = "/gateway-ws"
CDN_PREFIXES: Final = ("/attachments/", "/media/attachments/")
DISCORD_EPOCH_MS: Final = 1_420_070_400_000

# Permission bits from https://discord.com/developers/docs/topics/permissions (kept literal
# so the fake does not compute its answers with the library under test).
ADMINISTRATOR: Final = 1 << 3
ADD_REACTIONS: Final = 1 << 6
VIEW_CHANNEL: Final = 1 << 10
SEND_MESSAGES: Final = 1 << 11
EMBED_LINKS: Final = 1 << 14
ATTACH_FILES: Final = 1 << 15
READ_MESSAGE_HISTORY: Final = 1 << 16
USE_APPLICATION_COMMANDS: Final = 1 << 31
CREATE_PUBLIC_THREADS: Final = 1 << 35
SEND_MESSAGES_IN_THREADS: Final = 1 << 38
ALL_PERMISSIONS: Final = (1 << 53) - 1  # what Discord reports for administrators
EVERYONE_PERMISSIONS: Final = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | READ_MESSAGE_HISTORY
    | ADD_REACTIONS
    | EMBED_LINKS
    | ATTACH_FILES
    | USE_APPLICATION_COMMANDS
    | CREATE_PUBLIC_THREADS
    | SEND_MESSAGES_IN_THREADS
)

# Gateway intents (https://discord.com/developers/docs/events/gateway#gateway-intents).
INTENT_GUILD_MESSAGES: Final = 1 << 9
INTENT_DIRECT_MESSAGES: Final = 1 << 12
INTENT_MESSAGE_CONTENT: Final = 1 << 15
INTENT_GUILD_MEMBERS: Final = 1 << 1
INTENT_GUILD_PRESENCES: Final = 1 << 8
PRIVILEGED_INTENTS: Final = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

# Gateway opcodes.
OP_DISPATCH: Final = 0
OP_HEARTBEAT: Final = 1
OP_IDENTIFY: Final = 2
OP_RESUME: Final = 6
OP_RECONNECT: Final = 7
OP_REQUEST_GUILD_MEMBERS: Final = 8
OP_INVALID_SESSION: Final = 9
OP_HELLO: Final = 10
OP_HEARTBEAT_ACK: Final = 11

# Channel types.
GUILD_TEXT: Final = 0
DM: Final = 1
GUILD_CATEGORY: Final = 4
PUBLIC_THREAD: Final = 11
PRIVATE_THREAD: Final = 12
THREAD_TYPES: Final = (10, PUBLIC_THREAD, PRIVATE_THREAD)

# Interaction callback types.
CB_CHANNEL_MESSAGE: Final = 4
CB_DEFERRED_CHANNEL_MESSAGE: Final = 5
CB_DEFERRED_UPDATE: Final = 6
CB_UPDATE_MESSAGE: Final = 7
CB_AUTOCOMPLETE_RESULT: Final = 8
CB_MODAL: Final = 9

# Message flags and types.
FLAG_EPHEMERAL: Final = 1 << 6
FLAG_LOADING: Final = 1 << 7
MSG_DEFAULT: Final = 0
MSG_REPLY: Final = 19
MSG_CHAT_INPUT_COMMAND: Final = 20

# Message limits Discord enforces (https://discord.com/developers/docs/resources/message).
MAX_CONTENT: Final = 2000
MAX_EMBEDS: Final = 10
MAX_EMBED_TITLE: Final = 256
MAX_EMBED_DESCRIPTION: Final = 4096
MAX_EMBED_FIELDS: Final = 25
MAX_EMBED_FIELD_NAME: Final = 256
MAX_EMBED_FIELD_VALUE: Final = 1024
MAX_EMBED_FOOTER: Final = 2048
MAX_EMBED_AUTHOR: Final = 256
MAX_EMBED_TOTAL: Final = 6000
ATTACHMENT_SIZE_LIMIT: Final = 10 * 1024 * 1024


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _compile_pattern(pattern: str, *, named: bool = False) -> re.Pattern[str]:
    """Turn a discord.py-style route template (``/channels/{channel_id}/messages``) into a regex.

    ``{name}`` matches one path segment, so tests can write the same templates discord.py uses;
    with ``named`` the segments become named groups (the fake's own route table uses that).
    """
    parts = re.split(r"(\{[^}/]+\})", pattern)
    regex = "".join(
        (f"(?P<{p[1:-1]}>[^/]+)" if named else "[^/]+") if p.startswith("{") else re.escape(p) for p in parts
    )
    return re.compile(f"^{regex}$")


# --------------------------------------------------------------------------------------------
# World model: users, roles, channels and the guild the bot lives in.
# --------------------------------------------------------------------------------------------


@dataclass
class FakeUser:
    """A Discord user; ``role_ids`` are the roles it holds in the fake guild (if a member)."""

    id: int
    username: str
    bot: bool = False
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=_now_iso)

    def user_payload(self) -> JSON:
        """The user object (``/users/{id}`` shape)."""
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.username.title(),
            "avatar": None,
            "bot": self.bot,
            "system": False,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
        }

    def member_payload(self, *, with_user: bool = True, permissions: int | None = None) -> JSON:
        """The guild member object; interactions add the computed ``permissions`` string."""
        payload: JSON = {
            "roles": [str(r) for r in self.role_ids],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            payload["user"] = self.user_payload()
        if permissions is not None:
            payload["permissions"] = str(permissions)
        return payload


@dataclass
class FakeRole:
    """A guild role; ``managed`` roles belong to a bot integration."""

    id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False
    bot_id: int | None = None

    def payload(self) -> JSON:
        """The role object."""
        payload: JSON = {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": False,
            "flags": 0,
        }
        if self.bot_id is not None:
            payload["tags"] = {"bot_id": str(self.bot_id)}
        return payload


@dataclass
class FakeChannel:
    """A guild channel, thread or DM channel known to the fake."""

    id: int
    name: str
    type: int = GUILD_TEXT
    guild_id: int | None = None
    position: int = 0
    parent_id: int | None = None
    owner_id: int | None = None
    recipients: list[FakeUser] = field(default_factory=list)
    created_at: str = field(default_factory=_now_iso)

    def payload(self) -> JSON:
        """The channel object (``GET /channels/{id}`` shape)."""
        if self.type == DM:
            return {
                "id": str(self.id),
                "type": DM,
                "last_message_id": None,
                "flags": 0,
                "recipients": [u.user_payload() for u in self.recipients],
            }
        payload: JSON = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [],
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "nsfw": False,
            "flags": 0,
        }
        if self.type == GUILD_TEXT:
            payload |= {
                "topic": None,
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "default_auto_archive_duration": 1440,
            }
        elif self.type in THREAD_TYPES:
            del payload["permission_overwrites"], payload["position"]
            payload |= {
                "owner_id": str(self.owner_id),
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "message_count": 0,
                "member_count": 1,
                "total_message_sent": 0,
                "thread_metadata": {
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": self.created_at,
                    "locked": False,
                    "invitable": True,
                    "create_timestamp": self.created_at,
                },
            }
        return payload


@dataclass
class FakeGuild:
    """The one guild the bot is in; its channels, roles and members."""

    id: int
    name: str
    owner_id: int
    everyone_role: FakeRole
    admin_role: FakeRole
    bot_role: FakeRole
    category: FakeChannel
    text_channel: FakeChannel
    roles: list[FakeRole] = field(default_factory=list)
    channels: list[FakeChannel] = field(default_factory=list)
    members: list[FakeUser] = field(default_factory=list)

    def role(self, role_id: int) -> FakeRole:
        """Look a role up by id."""
        return next(r for r in self.roles if r.id == role_id)

    def permissions_of(self, user: FakeUser) -> int:
        """Guild-level permissions as Discord computes them (no channel overwrites modelled)."""
        perms = self.everyone_role.permissions
        for role_id in user.role_ids:
            perms |= self.role(role_id).permissions
        if user.id == self.owner_id or perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        return perms

    def payload(self) -> JSON:
        """The GUILD_CREATE payload (guild object plus the gateway-only extras)."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "icon_hash": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in self.roles],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "nsfw_level": 0,
            "application_id": None,
            "system_channel_id": str(self.text_channel.id),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "max_members": 500_000,
            "max_video_channel_users": 25,
            "incidents_data": None,
            # Gateway-only fields: member_count == len(members) tells discord.py the member
            # list is complete, so it does not need to chunk at startup.
            "joined_at": _now_iso(),
            "large": False,
            "unavailable": False,
            "lazy": True,
            "member_count": len(self.members),
            "members": [m.member_payload() for m in self.members],
            "channels": [c.payload() for c in self.channels if c.type not in THREAD_TYPES],
            "threads": [c.payload() for c in self.channels if c.type in THREAD_TYPES],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }


# --------------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedFile:
    """A file part of a multipart request (``files[n]``)."""

    field_name: str
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request the fake received, and what it answered.

    ``path`` is relative to the API base (``/channels/1/messages``) for API calls and the server
    path (``/attachments/...``) for CDN downloads. ``json`` is the parsed JSON body, or the
    parsed ``payload_json`` part of a multipart body; ``files`` are the uploaded files.
    """

    index: int
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    json: Any
    files: tuple[RecordedFile, ...]
    form: Mapping[str, str]
    status: int
    response: Any
    is_cdn: bool = False

    def matches(self, method: str | None, path: str | re.Pattern[str] | None) -> bool:
        """Whether this request has ``method`` (any if None) and a path matching the template."""
        if method is not None and self.method != method.upper():
            return False
        if path is None:
            return True
        pattern = _compile_pattern(path) if isinstance(path, str) else path
        return bool(pattern.match(self.path))

    def __repr__(self) -> str:
        # Never print the Authorization header: assertion messages end up in CI logs.
        return f"<RecordedRequest #{self.index} {self.method} {self.path} -> {self.status}>"


@dataclass
class InteractionState:
    """What happened to one dispatched interaction, as Discord would track it."""

    payload: JSON
    dispatched_at: float
    response_type: int | None = None
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    autocomplete_choices: list[JSON] | None = None
    modal: JSON | None = None

    @property
    def id(self) -> int:
        """The interaction id."""
        return int(self.payload["id"])

    @property
    def token(self) -> str:
        """The interaction token (doubles as the followup webhook token)."""
        return str(self.payload["token"])


@dataclass
class _Answer:
    """What the fake replies to one HTTP request."""

    status: int
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: tuple[bytes, str] | None = None  # (body, content type) for CDN downloads
    unhandled: bool = False


@dataclass
class _Injection:
    """A canned response for the next ``remaining`` requests matching method and path."""

    method: str | None
    pattern: re.Pattern[str]
    status: int
    body: JSON
    headers: dict[str, str]
    remaining: int


class _ApiError(Exception):
    """Raised by route handlers for an error answer in Discord's JSON shape."""

    def __init__(self, status: int, code: int, message: str, errors: JSON | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.body: JSON = {"message": message, "code": code}
        if errors:
            self.body["errors"] = errors


class FakeDiscordTimeoutError(AssertionError):
    """A wait helper gave up; the message lists what the fake did receive.

    It is an AssertionError so pytest reports it as a failed expectation, not a crash.
    """


@dataclass
class _GatewayConnection:
    """One websocket connection and its compression stream."""

    ws: web.WebSocketResponse
    compress: str | None
    compressor: Any = None
    zstd_flush: int = 0
    # Compression is one stateful stream: concurrent sends (a test's dispatch racing an echo of
    # a REST call) must compress and hit the socket in the same order.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, payload: JSON) -> None:
        async with self.lock:
            await self._send(payload)

    async def _send(self, payload: JSON) -> None:
        data = json.dumps(payload, separators=(",", ":")).encode()
        if self.compressor is None:
            await self.ws.send_str(data.decode())
        elif self.compress == "zlib-stream":
            # One zlib stream per connection; Z_SYNC_FLUSH ends each message with 00 00 ff ff,
            # the suffix discord.py looks for before inflating.
            await self.ws.send_bytes(self.compressor.compress(data) + self.compressor.flush(zlib.Z_SYNC_FLUSH))
        else:
            # zstd-stream: one zstd frame per connection, block-flushed per message, which
            # discord.py's single streaming decompressor turns back into one message each.
            chunk = self.compressor.compress(data) + self.compressor.flush(self.zstd_flush)
            await self.ws.send_bytes(chunk)


@dataclass
class _GatewaySession:
    """A gateway session: survives reconnects so RESUME can replay missed events."""

    session_id: str
    intents: int
    seq: int = 0
    sent: list[JSON] = field(default_factory=list)
    connection: _GatewayConnection | None = None


# --------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------


class FakeDiscord:
    """Discord REST API, CDN and gateway on one aiohttp server bound to 127.0.0.1.

    Use as ``async with FakeDiscord() as fake:`` (or ``await fake.start()`` / ``await
    fake.stop()``), then ``with fake.patch_client_endpoints():`` so discord.py dials it.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        guild_name: str = "Statement Test Guild",
        heartbeat_interval_ms: int = 41_250,
        ack_deadline: float | None = 3.0,
        echo_bot_messages: bool = True,
        enabled_privileged_intents: int = PRIVILEGED_INTENTS,
    ) -> None:
        """Build the world; nothing listens until :meth:`start`.

        ``token`` defaults to a random bot-token-shaped string (tests can check it never leaks).
        ``ack_deadline`` is Discord's 3 s window to acknowledge an interaction (None disables).
        ``echo_bot_messages`` sends the bot's own channel messages back as MESSAGE_CREATE.
        ``enabled_privileged_intents`` are those switched on in the developer portal; an IDENTIFY
        asking for any other privileged intent is closed with 4014, as Discord does.
        """
        self._last_snowflake = 0
        self.token: str = token or (
            f"{secrets.token_urlsafe(18)}.{secrets.token_urlsafe(5)}.{secrets.token_urlsafe(27)}"
        )
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.ack_deadline = ack_deadline
        self.echo_bot_messages = echo_bot_messages
        self.enabled_privileged_intents = enabled_privileged_intents

        self.application_id: int = self.snowflake()
        self.bot_user = FakeUser(self.application_id, "statementbot", bot=True)
        owner = FakeUser(self.snowflake(), "owner")
        guild_id = self.snowflake()
        everyone = FakeRole(guild_id, "@everyone", EVERYONE_PERMISSIONS)
        admin_role = FakeRole(self.snowflake(), "Admin", ADMINISTRATOR, position=2)
        bot_role = FakeRole(
            self.snowflake(),
            "statementbot",
            EVERYONE_PERMISSIONS,
            position=1,
            managed=True,
            bot_id=self.bot_user.id,
        )
        category = FakeChannel(self.snowflake(), "Text Channels", GUILD_CATEGORY, guild_id)
        text = FakeChannel(self.snowflake(), "general", GUILD_TEXT, guild_id, parent_id=category.id)
        self.bot_user.role_ids = [bot_role.id]
        self.guild = FakeGuild(
            id=guild_id,
            name=guild_name,
            owner_id=owner.id,
            everyone_role=everyone,
            admin_role=admin_role,
            bot_role=bot_role,
            category=category,
            text_channel=text,
            roles=[everyone, admin_role, bot_role],
            channels=[category, text],
            members=[owner, self.bot_user],
        )
        self.owner = owner
        self.member: FakeUser = self.add_user("alice")
        self.admin: FakeUser = self.add_user("root", roles=[admin_role])
        self._dm_channels: dict[int, FakeChannel] = {}

        self.requests: list[RecordedRequest] = []
        self.unhandled_requests: list[RecordedRequest] = []
        self.gateway_received: list[JSON] = []
        self.gateway_queries: list[dict[str, str]] = []
        self.dropped_events: list[JSON] = []
        self.messages: dict[int, JSON] = {}
        self.attachments: dict[int, tuple[JSON, bytes]] = {}
        self.commands: dict[int | None, list[JSON]] = {}
        self._interactions: dict[str, InteractionState] = {}
        self._injections: list[_Injection] = []
        self._session: _GatewaySession | None = None
        self._connections: set[web.WebSocketResponse] = set()

        self._changed: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Any], bool]] = []
        self._register_routes()

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        self._changed = asyncio.Condition()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get(GATEWAY_PATH, self._gateway_handler)
        app.router.add_route("*", "/{tail:.*}", self._http_handler)
        # access_log=None: aiohttp's access log would print webhook URLs (interaction tokens).
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        # Bind the socket ourselves so the port is known before anything connects.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        """Close gateway connections (going-away, 1001) and the server."""
        for ws in list(self._connections):
            await ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        if self._port is None:
            raise RuntimeError("FakeDiscord is not started; use 'async with FakeDiscord()'")
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` must be set to."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """The websocket URL returned by ``/gateway/bot`` and used as ``resume_gateway_url``."""
        return f"ws://127.0.0.1:{self._port}{GATEWAY_PATH}"

    def patch_client_endpoints(self) -> patch_discord_endpoints:
        """Point discord.py's REST base and default gateway at this fake (restored on exit).

        Works with ``with`` and ``async with``.
        """
        return patch_discord_endpoints(self)

    # ---------------------------------------------------------------- world helpers

    def snowflake(self) -> int:
        """A fresh, unique, time-ordered snowflake (discord.py derives ``created_at`` from it)."""
        now = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last_snowflake = max(self._last_snowflake + 1, now)
        return self._last_snowflake

    def add_user(self, username: str, *, roles: Iterable[FakeRole] = (), bot: bool = False) -> FakeUser:
        """Create a guild member (call before the client connects to have it in GUILD_CREATE)."""
        user = FakeUser(self.snowflake(), username, bot=bot, role_ids=[r.id for r in roles])
        self.guild.members.append(user)
        return user

    def add_role(self, name: str, permissions: int) -> FakeRole:
        """Create a guild role."""
        role = FakeRole(self.snowflake(), name, permissions, position=len(self.guild.roles))
        self.guild.roles.append(role)
        return role

    def add_channel(self, name: str, *, channel_type: int = GUILD_TEXT) -> FakeChannel:
        """Create a guild channel (call before the client connects to have it in GUILD_CREATE)."""
        channel = FakeChannel(
            self.snowflake(),
            name,
            channel_type,
            self.guild.id,
            position=len(self.guild.channels),
            parent_id=self.guild.category.id,
        )
        self.guild.channels.append(channel)
        return channel

    def channel(self, channel_id: int) -> FakeChannel | None:
        """A guild channel, thread or DM channel by id."""
        for channel in self.guild.channels:
            if channel.id == channel_id:
                return channel
        return self._dm_channels.get(channel_id)

    def add_attachment(
        self,
        filename: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        channel_id: int | None = None,
    ) -> JSON:
        """Store a file on the fake CDN and return its attachment object.

        Put the result in ``message_create(attachments=[...])`` or an attachment option of
        ``slash_command_interaction``; ``discord.Attachment.read()`` downloads it from the fake.
        """
        attachment_id = self.snowflake()
        channel_id = channel_id or self.guild.text_channel.id
        path = f"/attachments/{channel_id}/{attachment_id}/{filename}"
        payload: JSON = {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(data),
            "url": f"{self.base_url}{path}?ex=0&is=0&hm=fake",
            "proxy_url": f"{self.base_url}/media{path}?ex=0&is=0&hm=fake",
            "content_type": content_type,
            "flags": 0,
        }
        self.attachments[attachment_id] = (payload, data)
        return payload

    def channel_messages(self, channel_id: int) -> list[JSON]:
        """Messages the fake knows in a channel, oldest first."""
        return sorted(
            (m for m in self.messages.values() if int(m["channel_id"]) == channel_id),
            key=lambda m: int(m["id"]),
        )

    def interaction_state(self, interaction: JSON | str) -> InteractionState:
        """What happened to a dispatched interaction (by payload or token)."""
        token = interaction if isinstance(interaction, str) else interaction["token"]
        return self._interactions[token]

    def original_message(self, interaction: JSON) -> JSON | None:
        """The interaction's ``@original`` message as it stands now (after edits)."""
        message_id = self.interaction_state(interaction).original_message_id
        return None if message_id is None else self.messages.get(message_id)

    # ---------------------------------------------------------------- failure injection

    def rate_limit(
        self,
        method: str | None,
        path: str,
        *,
        times: int = 1,
        retry_after: float = 0.05,
        is_global: bool = False,
    ) -> None:
        """Answer the next ``times`` matching requests with HTTP 429, as Discord does.

        The headers match Discord's (``X-RateLimit-*``, ``Retry-After``) plus ``Via``, without
        which discord.py assumes a Cloudflare ban and raises instead of retrying.
        """
        reset = time.time() + retry_after
        headers = {
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{reset:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": secrets.token_hex(16),
            "X-RateLimit-Scope": "global" if is_global else "user",
            "Retry-After": str(math.ceil(retry_after)),
            "Via": "1.1 google",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": is_global,
        }
        self._injections.append(
            _Injection(method and method.upper(), _compile_pattern(path), 429, body, headers, times)
        )

    def inject_error(
        self,
        method: str | None,
        path: str,
        *,
        status: int,
        code: int = 0,
        message: str = "Injected error",
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` matching requests with an error in Discord's JSON shape.

        E.g. ``inject_error("POST", "/channels/{id}/messages", status=403, code=50013,
        message="Missing Permissions")``.
        """
        body = {"message": message, "code": code}
        self._injections.append(_Injection(method and method.upper(), _compile_pattern(path), status, body, {}, times))

    # ---------------------------------------------------------------- waiting

    def requests_matching(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        predicate: Callable[[RecordedRequest], bool] | None = None,
        since: int = 0,
    ) -> list[RecordedRequest]:
        """Recorded requests (from index ``since``) with ``method`` and a matching ``path``."""
        pattern = _compile_pattern(path) if path else None
        return [r for r in self.requests[since:] if r.matches(method, pattern) and (predicate is None or predicate(r))]

    def mark(self) -> int:
        """The index the next request will get; pass it as ``since=`` to ignore older ones."""
        return len(self.requests)

    async def wait_for_request(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        predicate: Callable[[RecordedRequest], bool] | None = None,
        since: int = 0,
        status: int | None = None,
        timeout: float = 5.0,
    ) -> RecordedRequest:
        """The first request (from ``since``) matching; waits up to ``timeout`` seconds for it.

        ``path`` is a template like ``/webhooks/{app}/{token}``; ``status`` filters on what the
        fake answered (e.g. ``status=200`` skips an injected 429 to get the successful retry).
        """

        def found() -> list[RecordedRequest]:
            return self.requests_matching(
                method,
                path,
                predicate=lambda r: (status is None or r.status == status) and (predicate is None or predicate(r)),
                since=since,
            )

        if self._changed is None:
            raise RuntimeError("FakeDiscord is not started")
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: bool(found()))
        except TimeoutError:
            seen = "\n  ".join(repr(r) for r in self.requests) or "(none)"
            raise FakeDiscordTimeoutError(
                f"no {method or 'ANY'} {path or '*'} request (status={status}) within "
                f"{timeout}s; the fake received:\n  {seen}"
            ) from None
        return found()[0]

    async def wait_for_interaction_callback(self, interaction: JSON, *, timeout: float = 5.0) -> RecordedRequest:
        """The successful ``POST /interactions/{id}/{token}/callback`` for this interaction."""
        return await self.wait_for_request(
            "POST",
            f"/interactions/{interaction['id']}/{interaction['token']}/callback",
            status=200,
            timeout=timeout,
        )

    async def wait_for_followup(self, interaction: JSON, *, nth: int = 0, timeout: float = 5.0) -> RecordedRequest:
        """The ``nth`` successful followup (``POST /webhooks/{app}/{token}``) for an interaction."""
        path = f"/webhooks/{self.application_id}/{interaction['token']}"
        if self._changed is None:
            raise RuntimeError("FakeDiscord is not started")
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: len(self.requests_matching("POST", path, predicate=_ok)) > nth)
        except TimeoutError:
            seen = "\n  ".join(repr(r) for r in self.requests) or "(none)"
            raise FakeDiscordTimeoutError(
                f"followup #{nth} for interaction {interaction['id']} not sent within {timeout}s;"
                f" the fake received:\n  {seen}"
            ) from None
        return self.requests_matching("POST", path, predicate=_ok)[nth]

    async def wait_for_identify(self, *, timeout: float = 5.0) -> JSON:
        """The IDENTIFY payload (``d``) of the current gateway session, once it arrives."""
        await self._wait_for_session(timeout)
        return next(m["d"] for m in reversed(self.gateway_received) if m.get("op") == OP_IDENTIFY)

    async def _notify(self) -> None:
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()

    # ---------------------------------------------------------------- gateway: public

    async def dispatch(self, event: str, data: JSON, *, timeout: float = 5.0) -> int | None:
        """Send a DISPATCH (op 0) event to the connected client; returns its sequence number.

        Waits up to ``timeout`` for a client to identify. Events the client's intents exclude
        are not sent (``None`` is returned and the event lands in ``fake.dropped_events``),
        because Discord would not send them either. While the client is disconnected events are
        kept for RESUME to replay.
        """
        session = await self._wait_for_session(timeout)
        if event == "INTERACTION_CREATE":
            self._interactions[data["token"]] = InteractionState(data, asyncio.get_running_loop().time())
        elif event == "MESSAGE_CREATE":
            self.messages[int(data["id"])] = data
            delivered = self._filter_message_for_intents(data, session.intents)
            if delivered is None:
                self.dropped_events.append({"t": event, "d": data})
                _log.debug("fake discord: dropped %s (intents %s)", event, session.intents)
                return None
            data = delivered
        session.seq += 1
        frame = {"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data}
        session.sent.append(frame)
        if session.connection is not None and not session.connection.ws.closed:
            await session.connection.send(frame)
        return session.seq

    async def close_gateway(self, code: int = 4000) -> None:
        """Close the client's websocket; 4000 (unknown error) makes discord.py RESUME."""
        if self._session and self._session.connection:
            await self._session.connection.ws.close(code=code)

    async def send_reconnect(self) -> None:
        """Send op 7 RECONNECT; discord.py closes and RESUMEs."""
        if self._session and self._session.connection:
            await self._session.connection.send({"op": OP_RECONNECT, "d": None, "s": None, "t": None})

    @property
    def gateway_identified(self) -> bool:
        """Whether a client has identified (a session exists)."""
        return self._session is not None

    # ---------------------------------------------------------------- builders

    def _interaction_base(
        self,
        interaction_type: int,
        *,
        user: FakeUser | None,
        member_permissions: int | None,
        roles: Sequence[FakeRole] | None,
        guild_id: int | None,
        channel_id: int | None,
        dm: bool,
        locale: str,
    ) -> JSON:
        user = user or self.member
        payload: JSON = {
            "id": str(self.snowflake()),
            "application_id": str(self.application_id),
            "type": interaction_type,
            "token": f"aW50ZXJhY3Rpb24{secrets.token_urlsafe(48)}",
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        if dm:
            channel = self._dm_channel_for(user)
            payload |= {
                "user": user.user_payload(),
                "channel_id": str(channel.id),
                "channel": channel.payload(),
                "app_permissions": str(EVERYONE_PERMISSIONS),
                "authorizing_integration_owners": {"0": "0"},
                "context": 1,  # BOT_DM
            }
            return payload
        if roles is not None:
            user = FakeUser(user.id, user.username, user.bot, [r.id for r in roles], user.nick)
        permissions = member_permissions if member_permissions is not None else self.guild.permissions_of(user)
        guild_id = guild_id or self.guild.id
        guild_channel = self.channel(channel_id or self.guild.text_channel.id)
        channel_payload = guild_channel.payload() if guild_channel else {"id": str(channel_id), "type": GUILD_TEXT}
        channel_payload["permissions"] = str(permissions)
        payload |= {
            "guild_id": str(guild_id),
            "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
            "guild_locale": "en-US",
            "channel_id": channel_payload["id"],
            "channel": channel_payload,
            "member": user.member_payload(permissions=permissions),
            "app_permissions": str(self.guild.permissions_of(self.bot_user)),
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,  # GUILD
        }
        return payload

    def _command_data(self, name: str, options: list[JSON], resolved: JSON, guild_id: int | None) -> JSON:
        """Application command data; uses the synced id and guild scope when the bot synced it."""
        data: JSON = {"name": name, "type": 1, "options": options}
        for scope in (guild_id, None):
            for command in self.commands.get(scope, []):
                if command["name"] == name:
                    data["id"] = command["id"]
                    if scope is not None:
                        data["guild_id"] = str(scope)
                    break
            if "id" in data:
                break
        data.setdefault("id", str(self.snowflake()))
        if resolved:
            data["resolved"] = resolved
        return data

    def _convert_options(
        self, options: Mapping[str, Any] | Sequence[JSON] | None, focused: str | None
    ) -> tuple[list[JSON], JSON]:
        """Map ``{"question": "why?", "file": attachment}`` to typed API options + resolved."""
        resolved: JSON = {}
        if options is None:
            return [], resolved
        if not isinstance(options, Mapping):
            return [dict(o) for o in options], resolved
        converted: list[JSON] = []
        for name, value in options.items():
            option: JSON = {"name": name, "value": value}
            if isinstance(value, dict) and "filename" in value:
                option |= {"type": 11, "value": value["id"]}
                resolved.setdefault("attachments", {})[value["id"]] = value
            elif isinstance(value, FakeUser):
                option |= {"type": 6, "value": str(value.id)}
                resolved.setdefault("users", {})[str(value.id)] = value.user_payload()
                resolved.setdefault("members", {})[str(value.id)] = value.member_payload(
                    with_user=False, permissions=self.guild.permissions_of(value)
                )
            elif isinstance(value, FakeChannel):
                option |= {"type": 7, "value": str(value.id)}
                channel_payload = value.payload() | {"permissions": str(ALL_PERMISSIONS)}
                resolved.setdefault("channels", {})[str(value.id)] = channel_payload
            elif isinstance(value, FakeRole):
                option |= {"type": 8, "value": str(value.id)}
                resolved.setdefault("roles", {})[str(value.id)] = value.payload()
            elif isinstance(value, bool):
                option["type"] = 5
            elif isinstance(value, int):
                option["type"] = 4
            elif isinstance(value, float):
                option["type"] = 10
            else:
                option |= {"type": 3, "value": str(value)}
            if name == focused:
                option["focused"] = True
            converted.append(option)
        return converted, resolved

    def slash_command_interaction(
        self,
        name: str,
        options: Mapping[str, Any] | Sequence[JSON] | None = None,
        *,
        subcommand: str | None = None,
        user: FakeUser | None = None,
        member_permissions: int | None = None,
        roles: Sequence[FakeRole] | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        dm: bool = False,
        locale: str = "en-US",
    ) -> JSON:
        """An INTERACTION_CREATE payload for ``/name`` (type 2, data.type 1).

        ``options`` may be a mapping (types inferred: str, int, float, bool, attachment dicts
        from :meth:`add_attachment` → resolved.attachments, :class:`FakeUser`, :class:`FakeChannel`,
        :class:`FakeRole`) or a list of raw API option objects. ``user`` defaults to
        ``fake.member``; ``roles`` overrides its roles; ``member_permissions`` overrides the
        computed permission string (e.g. to test a permission check). ``dm=True`` builds a bot-DM
        interaction (``user`` instead of ``member``, no guild).
        """
        payload = self._interaction_base(
            2,
            user=user,
            member_permissions=member_permissions,
            roles=roles,
            guild_id=guild_id,
            channel_id=channel_id,
            dm=dm,
            locale=locale,
        )
        converted, resolved = self._convert_options(options, None)
        if subcommand is not None:
            converted = [{"name": subcommand, "type": 1, "options": converted}]
        scope = None if dm else int(payload["guild_id"])
        payload["data"] = self._command_data(name, converted, resolved, scope)
        return payload

    def autocomplete_interaction(
        self,
        name: str,
        options: Mapping[str, Any],
        *,
        focused: str,
        user: FakeUser | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        locale: str = "en-US",
    ) -> JSON:
        """An autocomplete INTERACTION_CREATE (type 4) with ``focused`` marking the typed option.

        The bot answers with callback type 8; read the choices from
        ``fake.interaction_state(payload).autocomplete_choices``.
        """
        payload = self._interaction_base(
            4,
            user=user,
            member_permissions=None,
            roles=None,
            guild_id=guild_id,
            channel_id=channel_id,
            dm=False,
            locale=locale,
        )
        converted, resolved = self._convert_options(options, focused)
        payload["data"] = self._command_data(name, converted, resolved, int(payload["guild_id"]))
        return payload

    def component_interaction(
        self,
        custom_id: str,
        *,
        message: JSON | None = None,
        component_type: int = 2,
        values: Sequence[str] | None = None,
        user: FakeUser | None = None,
        channel_id: int | None = None,
        locale: str = "en-US",
    ) -> JSON:
        """A MESSAGE_COMPONENT INTERACTION_CREATE (type 3) for a button (2) or select (3...).

        ``message`` is the message carrying the component, e.g. ``fake.messages[id]`` of
        something the bot sent; by default the bot's latest message in the channel.
        """
        payload = self._interaction_base(
            3,
            user=user,
            member_permissions=None,
            roles=None,
            guild_id=None,
            channel_id=channel_id,
            dm=False,
            locale=locale,
        )
        if message is None:
            own = [
                m
                for m in self.channel_messages(int(payload["channel_id"]))
                if int(m["author"]["id"]) == self.bot_user.id
            ]
            if not own:
                raise ValueError("component_interaction needs message=: the bot sent none here")
            message = own[-1]
        data: JSON = {"custom_id": custom_id, "component_type": component_type}
        if component_type != 2:
            data["values"] = list(values or [])
        payload |= {"data": data, "message": message}
        return payload

    def message_create(
        self,
        content: str,
        *,
        author: FakeUser | None = None,
        mentions: Sequence[FakeUser] = (),
        mention_bot: bool = False,
        channel_id: int | None = None,
        guild_id: int | None = None,
        message_id: int | None = None,
        attachments: Sequence[JSON] = (),
        reply_to: JSON | None = None,
        dm: bool = False,
    ) -> JSON:
        """A MESSAGE_CREATE payload from a user (``fake.member`` by default).

        ``mention_bot=True`` prefixes ``<@bot_id>`` and lists the bot in ``mentions`` (which
        also lets content through without the MESSAGE_CONTENT intent, as on Discord).
        """
        author = author or self.member
        mentioned = list(mentions)
        if mention_bot:
            content = f"<@{self.bot_user.id}> {content}"
            mentioned.insert(0, self.bot_user)
        payload: JSON = {
            "id": str(message_id or self.snowflake()),
            "author": author.user_payload(),
            "content": content,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mention_roles": [],
            "attachments": list(attachments),
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": MSG_REPLY if reply_to else MSG_DEFAULT,
            "flags": 0,
            "nonce": str(self.snowflake()),
        }
        if reply_to is not None:
            payload["message_reference"] = {
                "type": 0,
                "message_id": reply_to["id"],
                "channel_id": reply_to["channel_id"],
            }
            payload["referenced_message"] = reply_to
        if dm:
            payload["channel_id"] = str(channel_id or self._dm_channel_for(author).id)
            payload["mentions"] = [u.user_payload() for u in mentioned]
            return payload
        payload |= {
            "channel_id": str(channel_id or self.guild.text_channel.id),
            "guild_id": str(guild_id or self.guild.id),
            "member": author.member_payload(with_user=False),
            "mentions": [u.user_payload() | {"member": u.member_payload(with_user=False)} for u in mentioned],
        }
        return payload

    def _dm_channel_for(self, user: FakeUser) -> FakeChannel:
        for channel in self._dm_channels.values():
            if channel.recipients and channel.recipients[0].id == user.id:
                return channel
        channel = FakeChannel(self.snowflake(), "", DM, recipients=[user])
        self._dm_channels[channel.id] = channel
        return channel

    def _filter_message_for_intents(self, data: JSON, intents: int) -> JSON | None:
        """Apply Discord's intent rules to a MESSAGE_CREATE; None means it is not delivered."""
        in_guild = "guild_id" in data
        needed = INTENT_GUILD_MESSAGES if in_guild else INTENT_DIRECT_MESSAGES
        if not intents & needed:
            return None
        author_id = int(data["author"]["id"])
        mentioned = any(int(u["id"]) == self.bot_user.id for u in data.get("mentions", []))
        if in_guild and not intents & INTENT_MESSAGE_CONTENT and not mentioned and author_id != self.bot_user.id:
            return data | {"content": "", "embeds": [], "attachments": [], "components": []}
        return data

    # ---------------------------------------------------------------- gateway: server side

    async def _wait_for_session(self, timeout: float) -> _GatewaySession:
        if self._changed is None:
            raise RuntimeError("FakeDiscord is not started")
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: self._session is not None)
        except TimeoutError:
            raise FakeDiscordTimeoutError(
                f"no client identified on the fake gateway within {timeout}s "
                "(was patch_client_endpoints() active and client.connect() started?)"
            ) from None
        assert self._session is not None
        return self._session

    async def _gateway_handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self._connections.add(ws)
        self.gateway_queries.append(dict(request.query))
        compress = request.query.get("compress")
        connection = _GatewayConnection(ws, compress)
        if compress == "zlib-stream":
            connection.compressor = zlib.compressobj()
        elif compress == "zstd-stream":
            try:
                zstd = importlib.import_module("zstandard")
            except ImportError:
                # discord.py decodes text frames whatever it asked for, so plain JSON is safe.
                connection.compress = None
            else:
                connection.compressor = zstd.ZstdCompressor().compressobj()
                connection.zstd_flush = zstd.COMPRESSOBJ_FLUSH_BLOCK
        _log.debug("fake discord: gateway connection (compress=%s)", compress)
        try:
            hello = {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fake-gateway"]}
            await connection.send({"op": OP_HELLO, "d": hello, "s": None, "t": None})
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                self.gateway_received.append(payload)
                await self._on_gateway_message(connection, payload)
        finally:
            self._connections.discard(ws)
            if self._session is not None and self._session.connection is connection:
                self._session.connection = None
        return ws

    async def _on_gateway_message(self, connection: _GatewayConnection, payload: JSON) -> None:
        op = payload.get("op")
        data: JSON = payload.get("d") or {}
        if op == OP_HEARTBEAT:
            await connection.send({"op": OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == OP_IDENTIFY:
            await self._identify(connection, data)
        elif op == OP_RESUME:
            await self._resume(connection, data)
        elif op == OP_REQUEST_GUILD_MEMBERS:
            await self._send_member_chunk(data)
        # Presence (3), voice state (4) and anything else are only recorded.

    async def _identify(self, connection: _GatewayConnection, data: JSON) -> None:
        if data.get("token") != self.token:
            await connection.ws.close(code=4004, message=b"Authentication failed.")
            return
        if int(data.get("intents", 0)) & PRIVILEGED_INTENTS & ~self.enabled_privileged_intents:
            await connection.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        session = _GatewaySession(secrets.token_hex(16), int(data.get("intents", 0)))
        session.connection = connection
        self._session = session
        ready = {
            "v": 10,
            "user": self.bot_user.user_payload() | {"verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(self.guild.id), "unavailable": True}],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "shard": data.get("shard", [0, 1]),
            "application": {"id": str(self.application_id), "flags": 1 << 19},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "auth": {},
            "_trace": ["fake-gateway"],
        }
        await self.dispatch("READY", ready)
        await self.dispatch("GUILD_CREATE", self.guild.payload())
        await self._notify()

    async def _resume(self, connection: _GatewayConnection, data: JSON) -> None:
        session = self._session
        if session is None or data.get("token") != self.token or data.get("session_id") != session.session_id:
            # d=false: not resumable, discord.py starts over with IDENTIFY.
            await connection.send({"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        # Replay everything after the client's last sequence number, including events dispatched
        # while replaying; only then attach the connection, so nothing is sent twice or out of order.
        sent_up_to = int(data.get("seq") or 0)
        while pending := [frame for frame in session.sent if frame["s"] > sent_up_to]:
            for frame in pending:
                await connection.send(frame)
                sent_up_to = frame["s"]
        session.connection = connection
        await self.dispatch("RESUMED", {"_trace": ["fake-gateway"]})

    async def _send_member_chunk(self, data: JSON) -> None:
        members = self.guild.members
        if data.get("user_ids"):
            wanted = {int(u) for u in data["user_ids"]}
            members = [m for m in members if m.id in wanted]
        elif data.get("query"):
            members = [m for m in members if m.username.startswith(data["query"])]
        chunk = {
            "guild_id": str(self.guild.id),
            "members": [m.member_payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if "nonce" in data:
            chunk["nonce"] = data["nonce"]
        await self.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    # ---------------------------------------------------------------- HTTP: plumbing

    def _register_routes(self) -> None:
        """Route table: (method, template, handler, needs bot auth)."""
        table: list[tuple[str, str, Callable[..., Any], bool]] = [
            ("GET", "/gateway", self._get_gateway, False),
            ("GET", "/gateway/bot", self._get_gateway_bot, True),
            ("GET", "/users/@me", self._get_me, True),
            ("POST", "/users/@me/channels", self._create_dm, True),
            ("GET", "/oauth2/applications/@me", self._get_application, True),
            ("GET", "/applications/@me", self._get_application, True),
            ("GET", "/applications/{app}/commands", self._get_commands, True),
            ("PUT", "/applications/{app}/commands", self._put_commands, True),
            ("GET", "/applications/{app}/guilds/{guild}/commands", self._get_commands, True),
            ("PUT", "/applications/{app}/guilds/{guild}/commands", self._put_commands, True),
            ("POST", "/interactions/{id}/{token}/callback", self._interaction_callback, False),
            ("POST", "/webhooks/{app}/{token}", self._followup, False),
            ("GET", "/webhooks/{app}/{token}/messages/{mid}", self._get_webhook_message, False),
            ("PATCH", "/webhooks/{app}/{token}/messages/{mid}", self._edit_webhook_message, False),
            ("DELETE", "/webhooks/{app}/{token}/messages/{mid}", self._delete_webhook_message, False),
            ("GET", "/channels/{cid}", self._get_channel, True),
            ("GET", "/channels/{cid}/messages", self._get_channel_messages, True),
            ("POST", "/channels/{cid}/messages", self._create_message, True),
            ("GET", "/channels/{cid}/messages/{mid}", self._get_message, True),
            ("PATCH", "/channels/{cid}/messages/{mid}", self._edit_message, True),
            ("DELETE", "/channels/{cid}/messages/{mid}", self._delete_message, True),
            ("POST", "/channels/{cid}/messages/{mid}/threads", self._thread_from_message, True),
            ("POST", "/channels/{cid}/threads", self._thread_without_message, True),
            ("POST", "/channels/{cid}/typing", self._no_content, True),
            ("PUT", "/channels/{cid}/messages/{mid}/reactions/{emoji}/@me", self._no_content, True),
        ]
        for method, template, handler, auth in table:
            # Named groups hand the ids to handlers; '{mid}' also matches '@original'.
            self._routes.append((method, _compile_pattern(template, named=True), handler, auth))

    async def _http_handler(self, request: web.Request) -> web.StreamResponse:
        body_json, files, form = await self._read_body(request)
        full_path = request.path
        is_cdn = full_path.startswith(CDN_PREFIXES)
        path = full_path.removeprefix(API_PREFIX) if full_path.startswith(API_PREFIX) else full_path
        answer = self._respond(request, path, body_json, files, is_cdn)
        record = RecordedRequest(
            index=len(self.requests),
            method=request.method,
            path=path,
            query=dict(request.query),
            headers=dict(request.headers),
            json=body_json,
            files=tuple(files),
            form=form,
            status=answer.status,
            response=answer.json,
            is_cdn=is_cdn,
        )
        self.requests.append(record)
        # Log paths only: headers hold the bot token and webhook paths are already tokens.
        if answer.unhandled:
            self.unhandled_requests.append(record)
            _log.warning("fake discord: no route for %s %s -> 404", request.method, path)
        else:
            _log.debug("fake discord: %s %s -> %s", request.method, path, answer.status)
        await self._echo_to_gateway(record)
        await self._notify()
        if answer.raw is not None:
            body, content_type = answer.raw
            return web.Response(status=answer.status, body=body, content_type=content_type, headers=answer.headers)
        if answer.json is None:
            return web.Response(status=answer.status, headers=answer.headers)
        # Exactly 'application/json': discord.py compares the header verbatim (no charset).
        return web.Response(
            status=answer.status,
            body=json.dumps(answer.json).encode(),
            headers={**answer.headers, "Content-Type": "application/json"},
        )

    async def _read_body(self, request: web.Request) -> tuple[Any, list[RecordedFile], dict[str, str]]:
        files: list[RecordedFile] = []
        form: dict[str, str] = {}
        if request.content_type.startswith("multipart/"):
            body: Any = None
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):  # nested multipart: discord.py sends none
                    continue
                data = await part.read()
                name = part.name or ""
                if part.filename is not None:
                    files.append(
                        RecordedFile(
                            name,
                            part.filename,
                            part.headers.get("Content-Type", ""),
                            bytes(data),
                        )
                    )
                elif name == "payload_json":
                    body = json.loads(data)
                else:
                    form[name] = bytes(data).decode()
            return body, files, form
        raw = await request.read()
        if not raw:
            return None, files, form
        try:
            return json.loads(raw), files, form
        except ValueError:
            return raw.decode(errors="replace"), files, form

    def _respond(
        self,
        request: web.Request,
        path: str,
        body: Any,
        files: list[RecordedFile],
        is_cdn: bool,
    ) -> _Answer:
        """Decide the answer: injected response, CDN file, route handler or recorded 404."""
        for injection in self._injections:
            if injection.remaining > 0 and (
                injection.method in (None, request.method) and injection.pattern.match(path)
            ):
                injection.remaining -= 1
                return _Answer(injection.status, dict(injection.body), dict(injection.headers))
        if is_cdn:
            return self._serve_cdn(path)
        for method, regex, handler, needs_auth in self._routes:
            if method != request.method or not (match := regex.match(path)):
                continue
            if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
                return _Answer(401, {"message": "401: Unauthorized", "code": 0})
            try:
                status, response = handler(params=match.groupdict(), body=body, files=files, query=request.query)
            except _ApiError as error:
                return _Answer(error.status, error.body)
            return _Answer(status, response)
        return _Answer(404, {"message": "404: Not Found", "code": 0}, unhandled=True)

    async def _echo_to_gateway(self, record: RecordedRequest) -> None:
        """Gateway events Discord emits for some REST calls the bot makes."""
        if record.status != 200 or not self.echo_bot_messages or self._session is None:
            return
        if record.matches("POST", "/channels/{cid}/messages"):
            message = record.response
            channel = self.channel(int(message["channel_id"]))
            if channel is not None and channel.guild_id is not None:
                # Gateway copies of guild messages carry guild_id and the author's member.
                message = message | {
                    "guild_id": str(channel.guild_id),
                    "member": self.bot_user.member_payload(with_user=False),
                }
            await self.dispatch("MESSAGE_CREATE", message)
        elif record.matches("POST", "/channels/{cid}/messages/{mid}/threads") or record.matches(
            "POST", "/channels/{cid}/threads"
        ):
            await self.dispatch("THREAD_CREATE", record.response | {"newly_created": True})

    def _serve_cdn(self, path: str) -> _Answer:
        parts = path.removeprefix("/media").split("/")
        # /attachments/{channel_id}/{attachment_id}/{filename}
        if len(parts) == 5 and parts[3].isdigit() and int(parts[3]) in self.attachments:
            payload, data = self.attachments[int(parts[3])]
            if payload["filename"] == parts[4]:
                content_type = payload.get("content_type") or "application/octet-stream"
                return _Answer(200, raw=(data, content_type))
        # The real CDN answers 404 with a text body; discord.py raises NotFound either way.
        return _Answer(404, raw=(b"Not Found", "text/plain"))

    # ---------------------------------------------------------------- HTTP: message helpers

    def _validate_message(self, body: JSON, files: list[RecordedFile], *, creating: bool) -> None:
        """Raise Discord's 400 answers for bodies that break its message limits."""
        errors: JSON = {}

        def too_long(key: str, limit: int) -> JSON:
            return {
                key: {
                    "_errors": [
                        {
                            "code": "BASE_TYPE_MAX_LENGTH",
                            "message": f"Must be {limit} or fewer in length.",
                        }
                    ]
                }
            }

        content = body.get("content") or ""
        if len(content) > MAX_CONTENT:
            errors |= too_long("content", MAX_CONTENT)
        embeds = body.get("embeds") or []
        if len(embeds) > MAX_EMBEDS:
            errors |= too_long("embeds", MAX_EMBEDS)
        total = 0
        for i, embed in enumerate(embeds):
            checks = [
                ("title", embed.get("title") or "", MAX_EMBED_TITLE),
                ("description", embed.get("description") or "", MAX_EMBED_DESCRIPTION),
                ("footer.text", (embed.get("footer") or {}).get("text") or "", MAX_EMBED_FOOTER),
                ("author.name", (embed.get("author") or {}).get("name") or "", MAX_EMBED_AUTHOR),
            ]
            fields = embed.get("fields") or []
            if len(fields) > MAX_EMBED_FIELDS:
                errors |= too_long(f"embeds.{i}.fields", MAX_EMBED_FIELDS)
            for j, fld in enumerate(fields):
                checks.append((f"fields.{j}.name", fld.get("name") or "", MAX_EMBED_FIELD_NAME))
                checks.append((f"fields.{j}.value", fld.get("value") or "", MAX_EMBED_FIELD_VALUE))
            for key, text, limit in checks:
                total += len(text)
                if len(text) > limit:
                    errors |= too_long(f"embeds.{i}.{key}", limit)
        if total > MAX_EMBED_TOTAL:
            errors |= too_long("embeds", MAX_EMBED_TOTAL)
        if errors:
            raise _ApiError(400, 50035, "Invalid Form Body", errors)
        has_body = content or embeds or files or body.get("components") or body.get("poll")
        if creating and not has_body and not body.get("sticker_ids"):
            raise _ApiError(400, 50006, "Cannot send an empty message")

    def _store_uploads(self, channel_id: int, body: JSON, files: list[RecordedFile]) -> list[JSON]:
        """Attachments for a message: uploaded ``files[n]`` plus kept existing attachments."""
        result: list[JSON] = []
        descriptions = {str(a.get("id")): a for a in body.get("attachments") or []}
        for index, upload in enumerate(files):
            attachment = self.add_attachment(
                upload.filename, upload.data, content_type=upload.content_type, channel_id=channel_id
            )
            meta = descriptions.get(str(index), {})
            if meta.get("description"):
                attachment["description"] = meta["description"]
            result.append(attachment)
        for kept in body.get("attachments") or []:
            kept_id = str(kept.get("id"))
            # Upload entries carry their files[n] index as id; kept ones a real snowflake.
            if kept_id.isdigit() and int(kept_id) in self.attachments:
                result.append(self.attachments[int(kept_id)][0])
        return result

    def _new_message(
        self,
        body: JSON,
        files: list[RecordedFile],
        *,
        channel_id: int,
        message_type: int = MSG_DEFAULT,
        interaction: InteractionState | None = None,
        message_id: int | None = None,
    ) -> JSON:
        message_id = message_id or self.snowflake()
        message: JSON = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": self.bot_user.user_payload(),
            "content": body.get("content") or "",
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts")),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": self._store_uploads(channel_id, body, files),
            "embeds": [{"type": "rich"} | e for e in body.get("embeds") or []],
            "components": body.get("components") or [],
            "pinned": False,
            "type": message_type,
            "flags": int(body.get("flags") or 0),
        }
        reference = body.get("message_reference")
        if reference and message_type == MSG_DEFAULT:
            message["type"] = MSG_REPLY
            message["message_reference"] = {"type": 0, "channel_id": str(channel_id)} | reference
            message["referenced_message"] = self.messages.get(int(reference["message_id"]))
        if interaction is not None:
            user = interaction.payload.get("member", {}).get("user") or interaction.payload.get("user")
            message |= {
                "webhook_id": str(self.application_id),
                "application_id": str(self.application_id),
                "interaction_metadata": {
                    "id": str(interaction.id),
                    "type": interaction.payload["type"],
                    "user": user,
                    "authorizing_integration_owners": interaction.payload.get("authorizing_integration_owners", {}),
                },
            }
        self.messages[message_id] = message
        return message

    def _edit(self, message: JSON, body: JSON, files: list[RecordedFile]) -> JSON:
        if "content" in body:
            message["content"] = body["content"] or ""
        if "embeds" in body:
            message["embeds"] = [{"type": "rich"} | e for e in body["embeds"] or []]
        if "components" in body:
            message["components"] = body["components"] or []
        if "attachments" in body or files:
            message["attachments"] = self._store_uploads(int(message["channel_id"]), body, files)
        if "flags" in body and body["flags"] is not None:
            # Only SUPPRESS_EMBEDS can be toggled on edit; ephemeral/loading stay as they were.
            message["flags"] = (message["flags"] & ~4) | (int(body["flags"]) & 4)
        message["edited_timestamp"] = _now_iso()
        return message

    # ---------------------------------------------------------------- HTTP: route handlers
    # Handlers take keyword arguments (params, body, files, query), return (status, json) and
    # raise _ApiError for Discord's error answers.

    def _get_gateway(self, **_: Any) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url}

    def _get_gateway_bot(self, **_: Any) -> tuple[int, Any]:
        limit = {"total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": 1}
        return 200, {"url": self.gateway_url, "shards": 1, "session_start_limit": limit}

    def _get_me(self, **_: Any) -> tuple[int, Any]:
        return 200, self.bot_user.user_payload() | {"verified": True, "mfa_enabled": False}

    def _get_application(self, **_: Any) -> tuple[int, Any]:
        return 200, {
            "id": str(self.application_id),
            "name": self.bot_user.username,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": secrets.token_hex(32),
            "owner": self.owner.user_payload(),
            "team": None,
            "flags": 1 << 19,  # GATEWAY_MESSAGE_CONTENT_LIMITED
            "bot": self.bot_user.user_payload(),
            "redirect_uris": [],
            "interactions_endpoint_url": None,  # set → discord.py warns and gets no interactions
            "tags": [],
            "install_params": None,
            "integration_types_config": {"0": {}},
        }

    def _create_dm(self, *, body: JSON, **_: Any) -> tuple[int, Any]:
        recipient = int(body["recipient_id"])
        user = next((m for m in self.guild.members if m.id == recipient), None)
        if user is None:
            raise _ApiError(400, 50007, "Cannot send messages to this user")
        return 200, self._dm_channel_for(user).payload()

    def _scope(self, params: Mapping[str, str]) -> int | None:
        return int(params["guild"]) if "guild" in params else None

    def _get_commands(self, *, params: Mapping[str, str], **_: Any) -> tuple[int, Any]:
        if int(params["app"]) != self.application_id:
            raise _ApiError(403, 50001, "Missing Access")
        return 200, self.commands.get(self._scope(params), [])

    def _put_commands(self, *, params: Mapping[str, str], body: Any, **_: Any) -> tuple[int, Any]:
        """Bulk overwrite: same name and type keep their id, as on Discord."""
        if int(params["app"]) != self.application_id:
            raise _ApiError(403, 50001, "Missing Access")
        scope = self._scope(params)
        if scope is not None and scope != self.guild.id:
            raise _ApiError(403, 50001, "Missing Access")
        previous = {(c["name"], c.get("type", 1)): c for c in self.commands.get(scope, [])}
        saved: list[JSON] = []
        for command in body or []:
            old = previous.get((command["name"], command.get("type", 1)))
            entry = {
                "type": 1,
                "description": "",
                "options": [],
                "default_member_permissions": None,
                "nsfw": False,
                "contexts": None,
                "integration_types": [0],
            } | command
            entry |= {
                "id": old["id"] if old else str(self.snowflake()),
                "application_id": str(self.application_id),
                "version": str(self.snowflake()),
            }
            if scope is not None:
                entry["guild_id"] = str(scope)
            saved.append(entry)
        self.commands[scope] = saved
        return 200, saved

    def _ack_expired(self, state: InteractionState) -> bool:
        """Discord forgets an interaction nobody acknowledged within 3 s."""
        elapsed = asyncio.get_running_loop().time() - state.dispatched_at
        return self.ack_deadline is not None and state.response_type is None and elapsed > self.ack_deadline

    def _interaction_callback(
        self, *, params: Mapping[str, str], body: JSON, files: list[RecordedFile], query: Mapping[str, str]
    ) -> tuple[int, Any]:
        state = self._interactions.get(params["token"])
        if state is None or str(state.id) != params["id"] or self._ack_expired(state):
            raise _ApiError(404, 10062, "Unknown interaction")
        if state.response_type is not None:
            raise _ApiError(400, 40060, "Interaction has already been acknowledged.")
        kind = int(body["type"])
        data: JSON = body.get("data") or {}
        channel_id = int(state.payload["channel_id"])
        message: JSON | None = None
        if kind == CB_CHANNEL_MESSAGE:
            self._validate_message(data, files, creating=True)
            message = self._new_message(
                data, files, channel_id=channel_id, message_type=MSG_CHAT_INPUT_COMMAND, interaction=state
            )
        elif kind == CB_DEFERRED_CHANNEL_MESSAGE:
            flags = FLAG_LOADING | (int(data.get("flags") or 0) & FLAG_EPHEMERAL)
            message = self._new_message(
                {"flags": flags},
                [],
                channel_id=channel_id,
                message_type=MSG_CHAT_INPUT_COMMAND,
                interaction=state,
            )
        elif kind in (CB_UPDATE_MESSAGE, CB_DEFERRED_UPDATE):
            if "message" not in state.payload:
                raise _ApiError(400, 40004, "Interaction has no message to update")
            target = self.messages.setdefault(int(state.payload["message"]["id"]), state.payload["message"])
            if kind == CB_UPDATE_MESSAGE:
                self._validate_message(data, files, creating=False)
                self._edit(target, data, files)
            message = target
        elif kind == CB_AUTOCOMPLETE_RESULT:
            state.autocomplete_choices = list(data.get("choices") or [])
        elif kind == CB_MODAL:
            state.modal = data
        state.response_type = kind
        if message is not None:
            state.original_message_id = int(message["id"])
        if query.get("with_response") not in ("1", "true", "True"):
            return 204, None
        response: JSON = {
            "interaction": {
                "id": str(state.id),
                "type": state.payload["type"],
                "response_message_loading": kind == CB_DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": bool(message and message["flags"] & FLAG_EPHEMERAL),
            },
            "resource": {"type": kind},
        }
        if message is not None:
            response["interaction"]["response_message_id"] = message["id"]
            response["resource"]["message"] = message
        return 200, response

    def _webhook_state(self, params: Mapping[str, str]) -> InteractionState | None:
        if params["app"] != str(self.application_id):
            return None
        return self._interactions.get(params["token"])

    def _followup(
        self, *, params: Mapping[str, str], body: JSON, files: list[RecordedFile], query: Mapping[str, str]
    ) -> tuple[int, Any]:
        state = self._webhook_state(params)
        if state is None:
            raise _ApiError(404, 10015, "Unknown Webhook")
        body = body or {}
        self._validate_message(body, files, creating=True)
        original = self.messages.get(state.original_message_id or 0)
        if original is not None and original["flags"] & FLAG_LOADING:
            # Discord: the first followup after a deferred response replaces the "thinking"
            # message, and the defer decided whether it is ephemeral.
            flags = original["flags"] & FLAG_EPHEMERAL
            message = self._new_message(
                body | {"flags": flags},
                files,
                channel_id=int(original["channel_id"]),
                message_type=MSG_CHAT_INPUT_COMMAND,
                interaction=state,
                message_id=int(original["id"]),
            )
        else:
            message = self._new_message(
                body,
                files,
                channel_id=int(state.payload["channel_id"]),
                message_type=MSG_CHAT_INPUT_COMMAND,
                interaction=state,
            )
        state.followup_ids.append(int(message["id"]))
        if query.get("wait") in ("1", "true", "True"):
            return 200, message
        return 204, None

    def _webhook_message(self, params: Mapping[str, str]) -> JSON:
        state = self._webhook_state(params)
        if state is None:
            raise _ApiError(404, 10015, "Unknown Webhook")
        if params["mid"] == "@original":
            message_id = state.original_message_id
        else:
            message_id = int(params["mid"]) if params["mid"].isdigit() else None
            if message_id not in state.followup_ids and message_id != state.original_message_id:
                message_id = None
        message = self.messages.get(message_id or 0)
        if message is None:
            raise _ApiError(404, 10008, "Unknown Message")
        return message

    def _get_webhook_message(self, *, params: Mapping[str, str], **_: Any) -> tuple[int, Any]:
        found = self._webhook_message(params)
        return 200, found

    def _edit_webhook_message(
        self, *, params: Mapping[str, str], body: JSON, files: list[RecordedFile], **_: Any
    ) -> tuple[int, Any]:
        found = self._webhook_message(params)
        self._validate_message(body or {}, files, creating=False)
        if found["flags"] & FLAG_LOADING:
            found["flags"] &= ~FLAG_LOADING  # editing @original ends the "thinking" state
        return 200, self._edit(found, body or {}, files)

    def _delete_webhook_message(self, *, params: Mapping[str, str], **_: Any) -> tuple[int, Any]:
        found = self._webhook_message(params)
        del self.messages[int(found["id"])]
        return 204, None

    def _get_channel(self, *, params: Mapping[str, str], **_: Any) -> tuple[int, Any]:
        channel = self.channel(int(params["cid"]))
        if channel is None:
            raise _ApiError(404, 10003, "Unknown Channel")
        return 200, channel.payload()

    def _get_channel_messages(
        self, *, params: Mapping[str, str], query: Mapping[str, str], **_: Any
    ) -> tuple[int, Any]:
        channel_id = int(params["cid"])
        if self.channel(channel_id) is None:
            raise _ApiError(404, 10003, "Unknown Channel")
        limit = int(query.get("limit", 50))
        newest_first = list(reversed(self.channel_messages(channel_id)))
        if "before" in query:
            newest_first = [m for m in newest_first if int(m["id"]) < int(query["before"])]
        return 200, newest_first[:limit]

    def _create_message(
        self, *, params: Mapping[str, str], body: JSON, files: list[RecordedFile], **_: Any
    ) -> tuple[int, Any]:
        channel_id = int(params["cid"])
        if self.channel(channel_id) is None:
            raise _ApiError(404, 10003, "Unknown Channel")
        body = body or {}
        self._validate_message(body, files, creating=True)
        return 200, self._new_message(body, files, channel_id=channel_id)

    def _channel_message(self, params: Mapping[str, str]) -> JSON:
        if self.channel(int(params["cid"])) is None:
            raise _ApiError(404, 10003, "Unknown Channel")
        message = self.messages.get(int(params["mid"]))
        if message is None or message["channel_id"] != params["cid"]:
            raise _ApiError(404, 10008, "Unknown Message")
        return message

    def _get_message(self, *, params: Mapping[str, str], **_: Any) -> tuple[int, Any]:
        found = self._channel_message(params)
        return 200, found

    def _edit_message(
        self, *, params: Mapping[str, str], body: JSON, files: list[RecordedFile], **_: Any
    ) -> tuple[int, Any]:
        found = self._channel_message(params)
        if int(found["author"]["id"]) != self.bot_user.id:
            raise _ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._validate_message(body or {}, files, creating=False)
        return 200, self._edit(found, body or {}, files)

    def _delete_message(self, *, params: Mapping[str, str], **_: Any) -> tuple[int, Any]:
        found = self._channel_message(params)
        del self.messages[int(found["id"])]
        return 204, None

    def _new_thread(self, parent_id: int, body: JSON, *, thread_id: int | None, kind: int) -> JSON:
        thread = FakeChannel(
            thread_id or self.snowflake(),
            str(body.get("name") or "thread"),
            kind,
            self.guild.id,
            parent_id=parent_id,
            owner_id=self.bot_user.id,
        )
        self.guild.channels.append(thread)
        payload = thread.payload()
        payload["member"] = {
            "id": str(thread.id),
            "user_id": str(self.bot_user.id),
            "join_timestamp": thread.created_at,
            "flags": 0,
        }
        return payload

    def _thread_from_message(self, *, params: Mapping[str, str], body: JSON, **_: Any) -> tuple[int, Any]:
        found = self._channel_message(params)
        if any(c.id == int(found["id"]) for c in self.guild.channels):
            raise _ApiError(400, 160004, "A thread has already been created for this message")
        # Discord gives a thread started from a message the message's id.
        thread = self._new_thread(int(params["cid"]), body or {}, thread_id=int(found["id"]), kind=PUBLIC_THREAD)
        found["thread"] = thread
        return 200, thread

    def _thread_without_message(self, *, params: Mapping[str, str], body: JSON, **_: Any) -> tuple[int, Any]:
        parent = self.channel(int(params["cid"]))
        if parent is None:
            raise _ApiError(404, 10003, "Unknown Channel")
        kind = int((body or {}).get("type") or PRIVATE_THREAD)
        return 200, self._new_thread(parent.id, body or {}, thread_id=None, kind=kind)

    def _no_content(self, **_: Any) -> tuple[int, Any]:
        return 204, None


def _ok(request: RecordedRequest) -> bool:
    return 200 <= request.status < 300


# --------------------------------------------------------------------------------------------
# discord.py wiring
# --------------------------------------------------------------------------------------------


class patch_discord_endpoints:
    """Point discord.py at the fake for the duration of a ``with`` or ``async with`` block.

    ``Route.BASE`` is read each time a Route is built, so patching the class attribute covers
    the HTTP client and interaction webhooks. ``Client.connect`` dials
    ``DiscordWebSocket.DEFAULT_GATEWAY`` directly (it never asks ``/gateway/bot``), so that is
    patched too; RESUME then uses READY's ``resume_gateway_url``, which is the fake as well.
    Both sync and async protocols are supported so it combines with ``async with FakeDiscord()``
    in a single statement.
    """

    def __init__(self, fake: FakeDiscord) -> None:
        self._fake = fake
        self._saved: tuple[str, yarl.URL] | None = None

    def __enter__(self) -> None:
        self._saved = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        Route.BASE = self._fake.api_base
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self._fake.gateway_url)

    def __exit__(self, *exc_info: object) -> None:
        assert self._saved is not None
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.__exit__(*exc_info)


@contextlib.asynccontextmanager
async def run_client(
    client: discord.Client,
    fake: FakeDiscord,
    *,
    token: str | None = None,
    ready_timeout: float = 5.0,
) -> AsyncIterator[discord.Client]:
    """Log ``client`` in against ``fake``, connect, wait for on_ready; close cleanly on exit.

    If ``connect()`` fails before ready, its exception is raised here rather than surfacing
    as a timeout. On exit the client is closed and its connect task awaited, so no task is
    left pending when the test's event loop closes.
    """
    try:
        await client.login(token or fake.token)
    except BaseException:
        await client.close()  # login opened an aiohttp session; don't leak it
        raise
    connect = asyncio.create_task(client.connect(reconnect=True), name="fake-discord-connect")
    ready = asyncio.create_task(client.wait_until_ready(), name="fake-discord-ready")
    body_failed = False
    try:
        done, _ = await asyncio.wait({connect, ready}, timeout=ready_timeout, return_when=asyncio.FIRST_COMPLETED)
        if connect in done:
            connect.result()  # raises the connection error, if any
            raise RuntimeError("client.connect() returned before the client became ready")
        if ready not in done:
            raise FakeDiscordTimeoutError(
                f"client not ready within {ready_timeout}s "
                "(construct it with guild_ready_timeout=0.05 to skip the 2 s guild wait)"
            )
        yield client
    except BaseException:
        body_failed = True
        raise
    finally:
        ready.cancel()
        await client.close()
        (outcome,) = await asyncio.wait_for(asyncio.gather(connect, return_exceptions=True), timeout=5.0)
        # A connection error after ready matters, but must not mask the test's own failure.
        if isinstance(outcome, Exception) and not body_failed:
            raise outcome


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A started :class:`FakeDiscord` with discord.py pointed at it (re-export from conftest)."""
    async with FakeDiscord() as fake, fake.patch_client_endpoints():
        yield fake
