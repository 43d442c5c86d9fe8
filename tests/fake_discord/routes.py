"""The HTTP side of the fake: request plumbing, message validation and the REST route handlers."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import BodyPartReader, web

from tests.fake_discord.state import (
    API_PREFIX,
    CB_AUTOCOMPLETE_RESULT,
    CB_CHANNEL_MESSAGE,
    CB_DEFERRED_CHANNEL_MESSAGE,
    CB_DEFERRED_UPDATE,
    CB_MODAL,
    CB_UPDATE_MESSAGE,
    CDN_PREFIXES,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    JSON,
    MAX_CONTENT,
    MAX_EMBED_AUTHOR,
    MAX_EMBED_DESCRIPTION,
    MAX_EMBED_FIELD_NAME,
    MAX_EMBED_FIELD_VALUE,
    MAX_EMBED_FIELDS,
    MAX_EMBED_FOOTER,
    MAX_EMBED_TITLE,
    MAX_EMBED_TOTAL,
    MAX_EMBEDS,
    MSG_CHAT_INPUT_COMMAND,
    MSG_DEFAULT,
    MSG_REPLY,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    FakeChannel,
    InteractionState,
    RecordedFile,
    RecordedRequest,
    _Answer,
    _ApiError,
    _compile_pattern,
    _log,
    _now_iso,
)


class RoutesMixin:
    """FakeDiscord's REST API and CDN: one handler per route, validating as Discord does."""

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
