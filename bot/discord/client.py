"""The discord.py client: holds the command tree and routes events to the handlers.

Everything it uses is passed in (see `app.create_bot`); nothing connects before `start`.
`setup_hook` registers the persistent buttons, starts the daily feedback purge and syncs
the slash commands, to one guild when `STATEMENTBOT_DISCORD_GUILD_ID` is set (instant) or
globally (may take up to an hour to appear the first time).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.discord.answering import Answering
from bot.discord.commands import StatementCommands
from bot.discord.components import DYNAMIC_ITEMS
from bot.discord.guards import Cooldown
from bot.discord.mentions import MentionHandler
from bot.discord.replies import InteractionReply, failure_text
from bot.feedback import PURGE_INTERVAL_S

if TYPE_CHECKING:
    from bot.feedback import FeedbackStore
    from bot.settings import Settings
    from qa.service import StatementService

log = logging.getLogger("statementbot.discord")


class StatementTree(app_commands.CommandTree[discord.Client]):
    """Errors raised before a handler runs (guild-only, stale command) still get an answer."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        if isinstance(error, app_commands.NoPrivateMessage):
            text = "That command only works in a server channel, not in direct messages."
        elif isinstance(error, app_commands.CommandNotFound | app_commands.CommandSignatureMismatch):
            text = "That command is out of date; Discord will refresh it shortly. Please try again in a minute."
            log.warning("stale command %r: %s", getattr(interaction.command, "name", None), error)
        else:
            text = failure_text(getattr(error, "original", error), action="running that command")
        if interaction.type is discord.InteractionType.autocomplete:
            return
        await InteractionReply(interaction, ephemeral=True).fail(text)


class StatementBot(discord.Client):
    def __init__(
        self,
        *,
        settings: Settings,
        service: StatementService,
        feedback: FeedbackStore | None,
        intents: discord.Intents,
        **options: Any,
    ) -> None:
        # Never ping anyone, whatever a message contains; formatting also breaks every "@".
        super().__init__(intents=intents, allowed_mentions=discord.AllowedMentions.none(), **options)
        self.settings = settings
        self.feedback = feedback
        self._purging: asyncio.Task[None] | None = None
        self.tree = StatementTree(self)
        answering = Answering(service, feedback)
        cooldown = Cooldown(settings.discord_cooldown_s)
        self.actions = StatementCommands(
            service=service, answering=answering, feedback=feedback, settings=settings, cooldown=cooldown
        )
        self.mentions = MentionHandler(answering=answering, commands=self.actions)
        self.actions.install(self.tree)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(*DYNAMIC_ITEMS)
        if self.feedback is not None:
            self._purging = asyncio.create_task(self._purge_feedback_daily(self.feedback))
        await self.sync_commands()

    async def _purge_feedback_daily(self, feedback: FeedbackStore) -> None:
        """Votes past STATEMENTBOT_FEEDBACK_DAYS go daily, not only at the next start."""
        while True:
            await asyncio.sleep(PURGE_INTERVAL_S)
            try:
                deleted = await asyncio.to_thread(feedback.purge)
                log.info("feedback retention: deleted %d old vote(s)", deleted)
            except Exception:
                log.warning("feedback retention purge failed; trying again tomorrow", exc_info=True)

    async def sync_commands(self) -> None:
        """Publish the slash commands; a refusal is logged with what to fix, and the bot runs on."""
        guild_id = self.settings.discord_guild_id
        guild = discord.Object(guild_id) if guild_id is not None else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        try:
            synced = await self.tree.sync(guild=guild)
        except discord.Forbidden:
            log.error(
                "Discord refused to register the slash commands%s. Invite the bot with the "
                "'applications.commands' scope%s; mentions still work meanwhile.",
                f" in guild {guild_id}" if guild_id is not None else "",
                " and check STATEMENTBOT_DISCORD_GUILD_ID" if guild_id is not None else "",
            )
            return
        where = f"to guild {guild_id}" if guild_id is not None else "globally (new ones can take up to an hour to show)"
        log.info("synced %d slash commands %s", len(synced), where)

    async def on_ready(self) -> None:
        log.info(
            "connected as %s (id %s) to %d server(s); message content intent: %s",
            self.user,
            getattr(self.user, "id", None),
            len(self.guilds),
            "on" if self.intents.message_content else "off (follow-ups in threads must @mention the bot)",
        )

    async def on_message(self, message: discord.Message) -> None:
        if self.user is not None:
            await self.mentions.on_message(message, self.user)
