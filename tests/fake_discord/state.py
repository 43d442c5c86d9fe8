"""The fake's world and records: constants of the protocol, users, roles, channels, the guild,
recorded requests and interaction state."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

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
