"""The fake itself: one aiohttp server (REST, CDN, gateway) with its lifecycle, world helpers,
failure injection and waits; and the discord.py wiring."""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import discord
import pytest
import yarl
from aiohttp import web
from discord.gateway import DiscordWebSocket
from discord.http import Route

from tests.fake_discord.gateway import GatewayMixin, _GatewaySession
from tests.fake_discord.payloads import PayloadsMixin
from tests.fake_discord.routes import RoutesMixin, _ok
from tests.fake_discord.state import (
    ADMINISTRATOR,
    API_PREFIX,
    DISCORD_EPOCH_MS,
    EVERYONE_PERMISSIONS,
    GATEWAY_PATH,
    GUILD_CATEGORY,
    GUILD_TEXT,
    JSON,
    OP_IDENTIFY,
    PRIVILEGED_INTENTS,
    FakeChannel,
    FakeDiscordTimeoutError,
    FakeGuild,
    FakeRole,
    FakeUser,
    InteractionState,
    RecordedRequest,
    _compile_pattern,
    _Injection,
)

# --------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------


class FakeDiscord(GatewayMixin, PayloadsMixin, RoutesMixin):
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
