"""Where messages go: an interaction's followups or a channel/thread; and how failures read.

Errors become one short message. Domain errors (`StatementbotError`) tell the user what to do;
anything else is logged with a trace id that the message repeats, so an admin can find the
stack trace in the log while the channel never sees one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import discord

from bot.discord import limits
from bot.discord.components import view_for
from bot.discord.formatting import Outgoing, clean, neutralise, truncate
from errors import DocumentIdConflict, InvalidQuestion, StatementbotError, UnknownDocument, UnknownParagraph
from vectorstore.store import StoreNotResponding

log = logging.getLogger("statementbot.discord")

NO_MENTIONS = discord.AllowedMentions.none()

# What to do, in Discord's own terms (the errors' own hints are neutral); the one place errors are translated.
DISCORD_HINTS: dict[type[StatementbotError], str] = {
    UnknownDocument: "Use /documents to see the ingested statements.",
    UnknownParagraph: "Labels are the statement's own paragraph numbers; the paragraph option suggests them.",
    DocumentIdConflict: "Rename the file before attaching it, or remove the other statement first.",
}


# Errors whose whole message is rewritten for Discord users (the CLI's names a server address).
STORE_NOT_RESPONDING = "The store is not responding, try again shortly."
_DISCORD_MESSAGES: dict[type[StatementbotError], str] = {StoreNotResponding: STORE_NOT_RESPONDING}


def new_trace_id() -> str:
    return secrets.token_hex(4)


def failure_text(error: BaseException, *, action: str) -> str:
    """What the user reads when `action` failed; logs unexpected errors with a trace id."""
    if isinstance(error, StatementbotError):
        if message := next((m for kind, m in _DISCORD_MESSAGES.items() if isinstance(error, kind)), None):
            log.warning("%s failed: %s", action, error.message)
            return message
        if not isinstance(error, InvalidQuestion):
            log.info("%s refused: %s", action, error.message)
        return error.user_message(DISCORD_HINTS)
    trace = new_trace_id()
    log.error("%s failed [trace %s]", action, trace, exc_info=error)
    return (
        f"Sorry, something went wrong on my side while {action}. Please try again in a moment; "
        f"if it keeps happening, give an admin the trace id `{trace}`."
    )


def _send_kwargs(message: Outgoing) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"allowed_mentions": NO_MENTIONS}
    if message.content:
        kwargs["content"] = message.content
    if message.embeds:
        kwargs["embeds"] = message.embeds
    view = view_for(message)
    if view is not None:
        kwargs["view"] = view
    return kwargs


WRITING_MARK = "\n-# writing… (the checked answer replaces this)"


def preview_text(text: str) -> str:
    """Unchecked partial answer text as shown while it is written: no pings, within the content limit."""
    return truncate(clean(text.strip()), limits.MAX_CONTENT - len(WRITING_MARK)) + WRITING_MARK


def _edit_kwargs(message: Outgoing) -> dict[str, Any]:
    """An edit that makes a message exactly `message`: content, embeds and buttons all replaced."""
    return {
        "content": message.content or None,
        "embeds": message.embeds,
        "view": view_for(message),
        "allowed_mentions": NO_MENTIONS,
    }


class _Previewed:
    """When the preview message was last edited: the final edit keeps the same spacing."""

    _previewed_at: float | None = None

    def _mark(self) -> None:
        self._previewed_at = time.monotonic()

    async def _spaced(self) -> None:
        if self._previewed_at is not None:
            wait = self._previewed_at + limits.MIN_EDIT_INTERVAL_S - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        self._mark()


class InteractionReply(_Previewed):
    """Defer an interaction, then answer with followups; failures are always ephemeral."""

    def __init__(self, interaction: discord.Interaction, *, ephemeral: bool) -> None:
        self.interaction = interaction
        self.ephemeral = ephemeral
        self.sent: list[discord.Message] = []
        self.previewing = False  # the original response shows a streamed, unchecked preview

    async def defer(self) -> None:
        if not self.interaction.response.is_done():
            await self.interaction.response.defer(ephemeral=self.ephemeral, thinking=True)

    async def preview(self, text: str) -> None:
        """Show the answer so far in the deferred original response (callers space the calls)."""
        self._mark()
        await self.interaction.edit_original_response(content=preview_text(text), allowed_mentions=NO_MENTIONS)
        self.previewing = True

    async def send(self, messages: Sequence[Outgoing]) -> None:
        if self.previewing and messages:
            await self._spaced()
            first, *messages = messages
            self.sent.append(await self.interaction.edit_original_response(**_edit_kwargs(first)))
            self.previewing = False
        for message in messages:
            sent = await self.interaction.followup.send(**_send_kwargs(message), ephemeral=self.ephemeral, wait=True)
            self.sent.append(sent)

    async def fail(self, text: str) -> None:
        text = truncate(neutralise(text), limits.MAX_CONTENT)
        response = self.interaction.response
        if not response.is_done():
            await response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        if not self.ephemeral and not self.sent:
            # The first followup would replace the public "thinking…" message and stay public;
            # remove it so the error can go to the user alone.
            with contextlib.suppress(discord.HTTPException):
                await self.interaction.delete_original_response()
        await self.interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


class PageTurn(InteractionReply):
    """A button that replaces the message it is on with another page of it (/documents).

    Deferred as an update, so no "thinking…" message appears and the page stays as it is until
    the edit replaces its content, embeds and buttons; failures still go to the clicker alone.
    """

    def __init__(self, interaction: discord.Interaction) -> None:
        super().__init__(interaction, ephemeral=True)

    async def defer(self) -> None:
        if not self.interaction.response.is_done():
            await self.interaction.response.defer()  # on a component: DEFERRED_UPDATE_MESSAGE

    async def send(self, messages: Sequence[Outgoing]) -> None:
        first, *rest = messages
        self.sent.append(await self.interaction.edit_original_response(**_edit_kwargs(first)))
        await super().send(rest)


class ChannelReply(_Previewed):
    """Messages in a channel or thread (mentions); the first may reply to the question."""

    def __init__(self, channel: discord.abc.Messageable, *, reference: discord.Message | None = None) -> None:
        self.channel = channel
        self.reference = reference
        self.previewed: discord.Message | None = None  # a streamed, unchecked preview, replaced by send

    async def preview(self, text: str) -> None:
        """Show the answer so far: the first call sends a message, later ones edit it (callers space them)."""
        self._mark()
        content = preview_text(text)
        if self.previewed is not None:
            self.previewed = await self.previewed.edit(content=content, allowed_mentions=NO_MENTIONS)
            return
        kwargs: dict[str, Any] = {"content": content, "allowed_mentions": NO_MENTIONS}
        if self.reference is not None:
            kwargs |= {"reference": self.reference, "mention_author": False}
            self.reference = None
        self.previewed = await self.channel.send(**kwargs)

    async def send(self, messages: Sequence[Outgoing]) -> None:
        if self.previewed is not None and messages:
            await self._spaced()
            first, *messages = messages
            await self.previewed.edit(**_edit_kwargs(first))
            self.previewed = None
        for message in messages:
            kwargs = _send_kwargs(message)
            if self.reference is not None:
                kwargs |= {"reference": self.reference, "mention_author": False}
                self.reference = None
            await self.channel.send(**kwargs)

    async def fail(self, text: str) -> None:
        await self.send([Outgoing(content=truncate(neutralise(text), limits.MAX_CONTENT))])


@contextlib.asynccontextmanager
async def reporting_failures(reply: InteractionReply | ChannelReply, *, action: str) -> AsyncIterator[None]:
    """Acknowledge an interaction (within Discord's 3 s), then run the body; whatever fails in it
    becomes the user's one short message (see `failure_text`) instead of an error in the log alone."""
    try:
        if isinstance(reply, InteractionReply):
            await reply.defer()
        yield
    except Exception as error:  # noqa: BLE001 - every failure becomes a message
        await reply.fail(failure_text(error, action=action))
