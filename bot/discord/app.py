"""Composition root of the Discord front end, and `statementbot discord`.

`run_discord` checks the token first (no models are loaded just to say it is missing), opens
the service and the feedback store once, and hands them to the client. The token comes from
DISCORD_TOKEN only and is redacted from every log record, tracebacks included.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TYPE_CHECKING, Any

import aiohttp
import discord

from bot.discord.client import StatementBot

if TYPE_CHECKING:
    from bot.feedback import FeedbackStore
    from bot.settings import Settings
    from qa.service import StatementService

log = logging.getLogger("statementbot.discord")

EXIT_OK = 0
EXIT_ERROR = 1

MISSING_CREDENTIAL_HELP = """\
statementbot: DISCORD_TOKEN is not set, so the bot cannot log in to Discord.
To get a token:
  1. Open https://discord.com/developers/applications and create an application (or open yours).
  2. On its "Bot" page press "Reset Token" and copy the token.
  3. Invite the bot with the "bot" and "applications.commands" scopes (see README, "Discord").
Then start it with the token in the environment (never on the command line or in a file you commit):
  export DISCORD_TOKEN=...   # paste it here
  statementbot discord"""

REJECTED_CREDENTIAL_HELP = (
    "statementbot: Discord rejected the token in DISCORD_TOKEN. Reset it on the application's Bot page "
    "(https://discord.com/developers/applications) and set DISCORD_TOKEN to the new one."
)

UNREACHABLE_HELP = "Check this host's network connection (discord.com, gateway.discord.gg) and try again."

INTENT_FALLBACK_WARNING = (
    "The Message Content intent is not enabled for this bot in the Discord developer portal; "
    "running without it. Slash commands and @mentions work; follow-ups in threads must @mention the bot. "
    "Enable it under Bot > Privileged Gateway Intents to allow plain follow-ups."
)

REDACTED = "[redacted]"


def bot_intents(*, message_content: bool) -> discord.Intents:
    """Guild and DM messages (to see mentions); Message Content only for thread follow-ups."""
    intents = discord.Intents.default()  # no members or presences: the bot never needs them
    intents.message_content = message_content
    return intents


def create_bot(
    settings: Settings,
    service: StatementService,
    feedback: FeedbackStore | None,
    *,
    message_content: bool = True,
    **client_options: Any,
) -> StatementBot:
    """The client, wired to an already open service; nothing connects until `start`."""
    return StatementBot(
        settings=settings,
        service=service,
        feedback=feedback,
        intents=bot_intents(message_content=message_content),
        **client_options,
    )


class RedactSecrets(logging.Filter):
    """Replaces secrets in a record's message and traceback before any handler formats it."""

    def __init__(self, *secrets: str) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            record.msg, record.args = self._redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        return True


def install_redaction(secret: str, logger: logging.Logger | None = None) -> RedactSecrets:
    """Add the filter to every handler of `logger` (the root by default)."""
    redactor = RedactSecrets(secret)
    for handler in (logger or logging.getLogger()).handlers:
        handler.addFilter(redactor)
    return redactor


def run_discord(settings: Settings) -> int:
    """`statementbot discord`: run the bot until interrupted; non-zero when it cannot start."""
    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not token:
        print(MISSING_CREDENTIAL_HELP, file=sys.stderr)
        return EXIT_ERROR
    if not logging.getLogger().handlers:
        discord.utils.setup_logging(level=logging.INFO)
    install_redaction(token)

    from bot.feedback import FeedbackStore
    from bot.runtime import build_service

    service = build_service(settings)
    feedback = FeedbackStore.from_settings(settings)  # purges votes past the retention on start
    try:
        report = service.ensure_corpus()
        if report is not None:
            log.info("first use: ingested the sample statements (%d paragraphs)", report.added)
        return asyncio.run(serve(settings, service, feedback, token))
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        feedback.close()
        service.close()


async def serve(
    settings: Settings, service: StatementService, feedback: FeedbackStore | None, token: str, **client_options: Any
) -> int:
    """Warm the service, connect and run; retry once without Message Content if the portal has not enabled it."""
    # Before connecting, so "ready" means the first answer is as fast as the rest
    # (bench/bench_discord.py measures both).
    log.info("model and caches warmed in %.1f s", await asyncio.to_thread(service.warm))
    for message_content in (True, False):
        bot = create_bot(settings, service, feedback, message_content=message_content, **client_options)
        try:
            async with bot:
                await bot.start(token)
            return EXIT_OK
        except discord.PrivilegedIntentsRequired:
            if not message_content:
                raise
            log.warning(INTENT_FALLBACK_WARNING)
        except discord.LoginFailure:
            print(REJECTED_CREDENTIAL_HELP, file=sys.stderr)
            return EXIT_ERROR
        except (aiohttp.ClientError, OSError, discord.GatewayNotFound) as error:
            print(f"statementbot: cannot reach Discord ({type(error).__name__}). {UNREACHABLE_HELP}", file=sys.stderr)
            return EXIT_ERROR
    return EXIT_ERROR
