"""Payload builders of the fake: interactions (slash commands, autocomplete, buttons) and
messages, as Discord sends them."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from tests.fake_discord.state import (
    ALL_PERMISSIONS,
    ATTACHMENT_SIZE_LIMIT,
    DM,
    EVERYONE_PERMISSIONS,
    GUILD_TEXT,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    INTENT_MESSAGE_CONTENT,
    JSON,
    MSG_DEFAULT,
    MSG_REPLY,
    FakeChannel,
    FakeRole,
    FakeUser,
    _now_iso,
)


class PayloadsMixin:
    """FakeDiscord's builders of the payloads Discord would dispatch."""

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
