"""The gateway side of the fake: websocket connections and sessions, IDENTIFY/RESUME, dispatching events."""

from __future__ import annotations

import asyncio
import importlib
import json
import secrets
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fake_discord.state import (
    JSON,
    OP_DISPATCH,
    OP_HEARTBEAT,
    OP_HEARTBEAT_ACK,
    OP_HELLO,
    OP_IDENTIFY,
    OP_INVALID_SESSION,
    OP_RECONNECT,
    OP_REQUEST_GUILD_MEMBERS,
    OP_RESUME,
    PRIVILEGED_INTENTS,
    FakeDiscordTimeoutError,
    InteractionState,
    _log,
)


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


class GatewayMixin:
    """FakeDiscord's gateway: dispatching events to the client and serving its websocket."""

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
