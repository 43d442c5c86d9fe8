"""Slash commands, autocomplete and button clicks: thin adapters over StatementService.

Each handler checks its input (cheap, so a refusal is immediate and ephemeral), defers
within Discord's 3 s, runs the blocking core through `asyncio.to_thread`, formats and
sends. The declarations in `install` are only names, descriptions and wiring.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.discord import limits
from bot.discord.compare import compare_pages
from bot.discord.components import more_custom_id
from bot.discord.formatting import (
    documents_page,
    paragraph_messages,
    report_text,
    text_messages,
)
from bot.discord.guards import Cooldown, is_admin
from bot.discord.replies import InteractionReply, PageTurn, reporting_failures
from ingest.fetch import fetch_url
from qa.question import search_titles
from vectorstore.indexing import IngestReport

if TYPE_CHECKING:
    from bot.discord.answering import Answering
    from bot.feedback import FeedbackStore, Vote
    from bot.settings import Settings
    from qa.compare import Comparison
    from qa.service import StatementService
    from vectorstore.store import DocumentRecord

log = logging.getLogger("statementbot.discord")


class StatementCommands:
    """Handlers for /ask, /source, /compare, /documents, /ingest, /remove and the buttons."""

    def __init__(
        self,
        *,
        service: StatementService,
        answering: Answering,
        feedback: FeedbackStore | None,
        settings: Settings,
        cooldown: Cooldown,
    ) -> None:
        self.service = service
        self.answering = answering
        self.feedback = feedback
        self.settings = settings
        self.cooldown = cooldown
        self._documents: tuple[float, list[DocumentRecord]] | None = None
        # Only tests serving statements on 127.0.0.1 turn the address policy off (see ingest.fetch).
        self.allow_private_urls = False
        self._comparisons: OrderedDict[str, tuple[str, str]] = OrderedDict()  # "Show more" token -> (a, b)

    # Declarations ---------------------------------------------------------------------------
    def install(self, tree: app_commands.CommandTree[discord.Client]) -> None:
        async def document_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            return await self.document_choices(current)

        async def paragraph_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            return await self.paragraph_choices(getattr(interaction.namespace, "document", None), current)

        @tree.command(name="ask", description="Ask a question about the statements; the answer cites its paragraphs.")
        @app_commands.describe(question="Your question", document="Only search this statement")
        @app_commands.autocomplete(document=document_choices)
        async def ask(interaction: discord.Interaction, question: str, document: str | None = None) -> None:
            await self.ask(interaction, question, document)

        @tree.command(name="source", description="Show one paragraph of a statement, verbatim.")
        @app_commands.describe(document="Statement id", paragraph="Paragraph label, e.g. 12 or preamble")
        @app_commands.autocomplete(document=document_choices, paragraph=paragraph_choices)
        async def source(interaction: discord.Interaction, document: str, paragraph: str) -> None:
            await self.source(interaction, document, paragraph)

        @tree.command(name="compare", description="What changed between two statements, paragraph by paragraph.")
        @app_commands.describe(
            a="The earlier statement", b="The later statement (default: the most similar earlier one to a)"
        )
        @app_commands.autocomplete(a=document_choices, b=document_choices)
        async def compare(interaction: discord.Interaction, a: str, b: str | None = None) -> None:
            await self.compare(interaction, a, b)

        @tree.command(name="documents", description="List the statements the bot can answer from.")
        @app_commands.describe(page=f"Open at this page ({limits.DOCUMENTS_PER_PAGE} statements a page, newest first)")
        async def documents(
            interaction: discord.Interaction, page: app_commands.Range[int, 1, None] | None = None
        ) -> None:
            await self.documents(interaction, page or 1)

        @tree.command(name="ingest", description="(Admins) Add or update statements from attached files or a URL.")
        @app_commands.describe(
            file="A statement file (.txt, .md, .html, .pdf, .docx)",
            file2="Another statement file",
            file3="Another statement file",
            url="Fetch a statement from this address (when the host allows it)",
        )
        @app_commands.guild_only()
        @app_commands.default_permissions(manage_guild=True)
        async def ingest(
            interaction: discord.Interaction,
            file: discord.Attachment | None = None,
            file2: discord.Attachment | None = None,
            file3: discord.Attachment | None = None,
            url: str | None = None,
        ) -> None:
            await self.ingest(interaction, [f for f in (file, file2, file3) if f is not None], url)

        @tree.command(name="forget-me", description="Delete every 👍/👎 vote you have given on this bot's answers.")
        async def forget_me(interaction: discord.Interaction) -> None:
            await self.forget_me(interaction)

        @tree.command(name="remove", description="(Admins) Remove a statement and its paragraphs.")
        @app_commands.describe(document="Statement id")
        @app_commands.autocomplete(document=document_choices)
        @app_commands.guild_only()
        @app_commands.default_permissions(manage_guild=True)
        async def remove(interaction: discord.Interaction, document: str) -> None:
            await self.remove(interaction, document)

    # Questions --------------------------------------------------------------------------------
    def question_refusal(self, question: str, user_id: int) -> str | None:
        """Why a question is refused before any work (too long, cooldown), or None."""
        if len(question.strip()) > self.settings.max_question_chars:
            return (
                f"That question is {len(question.strip())} characters long; I can take up to "
                f"{self.settings.max_question_chars}. Could you ask something shorter, one question at a time?"
            )
        wait = self.cooldown.retry_after(user_id)
        if wait > 0:
            return f"One moment, please: you can ask again in {max(1, round(wait))} s."
        return None

    async def ask(self, interaction: discord.Interaction, question: str, document: str | None) -> None:
        reply = InteractionReply(interaction, ephemeral=False)
        if refusal := self.question_refusal(question, interaction.user.id):
            await reply.fail(refusal)
            return
        async with reporting_failures(reply, action="answering your question"):
            answer = await self.answering.answer_for(question, document=document or None, preview=reply.preview)
            await reply.send(await self.answering.messages_for(answer))
            log.info(
                "answered /ask in %.0f ms (abstained=%s, citations=%s)",
                answer.latency_ms,
                answer.abstained,
                [c.label for c in answer.citations],
            )

    # Reading ----------------------------------------------------------------------------------
    async def source(self, interaction: discord.Interaction, document: str, paragraph: str) -> None:
        reply = InteractionReply(interaction, ephemeral=False)
        async with reporting_failures(reply, action="looking up that paragraph"):
            citation = await asyncio.to_thread(self.service.source, document.strip(), paragraph)
            await reply.send(paragraph_messages(citation))

    async def documents(self, interaction: discord.Interaction, page: int = 1) -> None:
        """/documents: one page of the list (a page past the end shows the last), with its pager."""
        reply = InteractionReply(interaction, ephemeral=True)
        async with reporting_failures(reply, action="listing the statements"):
            # Read afresh (a CLI ingest may have just run); page turns then reuse this list briefly.
            records = await self._document_records(deadline_s=None, fresh=True)
            await reply.send([documents_page(records, page)])

    async def documents_page(self, interaction: discord.Interaction, page: int) -> None:
        """The "Previous" / "Next" buttons under /documents: the same message shows page `page` instead."""
        reply = PageTurn(interaction)
        async with reporting_failures(reply, action="turning the page"):
            records = await self._document_records(deadline_s=None)
            await reply.send([documents_page(records, page)])

    # Comparing --------------------------------------------------------------------------------
    async def compare(self, interaction: discord.Interaction, a: str, b: str | None) -> None:
        reply = InteractionReply(interaction, ephemeral=False)
        async with reporting_failures(reply, action="comparing the statements"):
            comparison = await asyncio.to_thread(self._comparison, a.strip(), (b or "").strip() or None)
            if comparison is None:
                await reply.fail(
                    f"I have no other statement to compare `{a.strip()}` with. Name one as `b`, "
                    "or ask an admin to /ingest the statement it follows."
                )
                return
            token = self._remember_comparison(comparison.a.id, comparison.b.id)
            pages = compare_pages(comparison)
            await reply.send(pages.messages(0, more_id=more_custom_id(token, 1)))
            log.info("/compare %s -> %s: %s", comparison.a.id, comparison.b.id, comparison.counts())

    def _comparison(self, a: str, b: str | None) -> Comparison | None:
        """The comparison of A with B; without B, B is A and A the earlier statement it most resembles."""
        if b is not None:
            return self.service.compare(a, b)
        # The predecessor is found by comparing: that comparison is the answer.
        return self.service.predecessor(self.service.resolve_document(a).id)

    def _remember_comparison(self, a: str, b: str) -> str:
        """A short token for the "Show more" button (custom ids cannot hold two 64-character ids)."""
        token = hashlib.sha256(f"{a}\n{b}".encode()).hexdigest()[:12]
        self._comparisons[token] = (a, b)
        self._comparisons.move_to_end(token)
        while len(self._comparisons) > limits.REMEMBERED_COMPARISONS:
            self._comparisons.popitem(last=False)
        return token

    async def compare_page(self, interaction: discord.Interaction, token: str, page: int) -> None:
        reply = InteractionReply(interaction, ephemeral=True)
        ids = self._comparisons.get(token)
        if ids is None:
            await reply.fail("That comparison is no longer in memory (the bot restarted). Run /compare again.")
            return
        async with reporting_failures(reply, action="showing more changes"):
            comparison = await asyncio.to_thread(self.service.compare, *ids)
            pages = compare_pages(comparison)
            if page >= len(pages.pages):
                await reply.fail("There are no more changes to show.")
                return
            await reply.send(pages.messages(page, more_id=more_custom_id(token, page + 1)))

    # Admin ------------------------------------------------------------------------------------
    async def _refuse_non_admin(self, interaction: discord.Interaction, command: str) -> bool:
        if is_admin(interaction, self.settings.discord_admin_role):
            return False
        role = self.settings.discord_admin_role
        who = "server admins (Manage Server permission)" + (f" and members with the “{role}” role" if role else "")
        log.info("refused /%s for user %s (not an admin)", command, interaction.user.id)
        await InteractionReply(interaction, ephemeral=True).fail(f"Only {who} can use /{command}, in a server.")
        return True

    async def ingest(self, interaction: discord.Interaction, files: list[discord.Attachment], url: str | None) -> None:
        if await self._refuse_non_admin(interaction, "ingest"):
            return
        reply = InteractionReply(interaction, ephemeral=True)
        if not files and not url:
            await reply.fail("Attach at least one statement file (.txt, .md, .html, .pdf or .docx) to /ingest.")
            return
        if url and not self.settings.allow_url_ingest:
            await reply.fail(
                "This bot's host does not allow fetching URLs. Attach the file instead "
                "(the operator can allow URLs with STATEMENTBOT_ALLOW_URL_INGEST=true)."
            )
            return
        limit_mb = self.settings.max_file_mb
        if too_big := [f.filename for f in files if f.size > self.settings.max_file_bytes]:
            await reply.fail(f"{', '.join(too_big)}: larger than the {limit_mb:g} MB limit.")
            return
        async with reporting_failures(reply, action="ingesting the statements"):
            reports = []
            for attachment in files:
                data = await attachment.read()
                reports.append(await asyncio.to_thread(self.service.ingest_bytes, data, name=attachment.filename))
            if url:
                fetched = await fetch_url(
                    url, max_bytes=self.settings.max_file_bytes, allow_private=self.allow_private_urls
                )
                reports.append(
                    await asyncio.to_thread(
                        self.service.ingest_bytes,
                        fetched.data,
                        name=fetched.name,
                        source=fetched.url,
                        id_hint=fetched.doc_id,
                    )
                )
            report = IngestReport.merged(reports)
            self._documents = None
            log.info(
                "/ingest by user %s: %s",
                interaction.user.id,
                {c.id: c.status for c in report.changes} or [f.reason for f in report.failed],
            )
            await reply.send(text_messages(report_text(report)))

    async def remove(self, interaction: discord.Interaction, document: str) -> None:
        if await self._refuse_non_admin(interaction, "remove"):
            return
        reply = InteractionReply(interaction, ephemeral=True)
        async with reporting_failures(reply, action="removing the statement"):
            report = await asyncio.to_thread(self.service.remove, document.strip())
            self._documents = None
            log.info("/remove by user %s: %s", interaction.user.id, document)
            await reply.send(text_messages(report_text(report)))

    # Autocomplete -----------------------------------------------------------------------------
    async def _document_records(
        self, *, deadline_s: float | None = limits.ACK_DEADLINE_S / 2, fresh: bool = False
    ) -> list[DocumentRecord]:
        """The document list, cached briefly: autocomplete fires on every keystroke, and paging
        through /documents reads the same list click after click.

        Autocomplete must answer within the 3 s window even when the worker threads are busy
        answering, hence its deadline; /documents has deferred first and can wait (None).
        """
        now = time.monotonic()
        if not fresh and self._documents is not None and now - self._documents[0] < limits.AUTOCOMPLETE_CACHE_S:
            return self._documents[1]
        records = await asyncio.wait_for(asyncio.to_thread(self.service.documents), deadline_s)
        self._documents = (now, records)
        return records

    async def document_choices(self, current: str) -> list[app_commands.Choice[str]]:
        try:
            records = await self._document_records()
        except Exception:
            log.warning("document autocomplete failed", exc_info=True)
            return []
        # Word prefixes over ids and titles, rare words first, then the newest: thousands of
        # statements share "joint" and "statement", few share "aukus".
        matching = search_titles(current, {r.id: r for r in records}, limit=limits.MAX_AUTOCOMPLETE_CHOICES)
        return [
            app_commands.Choice(name=_choice_name(f"{r.id} — {r.title}"), value=r.id)
            for r in matching
            if len(r.id) <= limits.MAX_CHOICE_VALUE
        ]

    async def paragraph_choices(self, document: str | None, current: str) -> list[app_commands.Choice[str]]:
        if not document:
            return []
        try:
            labels = await asyncio.wait_for(
                asyncio.to_thread(self.service.paragraph_labels, document.strip()), limits.ACK_DEADLINE_S / 2
            )
        except Exception:
            log.warning("paragraph autocomplete failed for %r", document, exc_info=True)
            return []
        typed = current.strip().lstrip("¶").strip().lower()
        matching = [label for label in labels if label.lower().startswith(typed)] or [
            label for label in labels if typed in label.lower()
        ]
        return [
            app_commands.Choice(name="preamble" if label == "preamble" else f"¶{label}", value=label)
            for label in matching[: limits.MAX_AUTOCOMPLETE_CHOICES]
        ]

    # Buttons ------------------------------------------------------------------------------------
    async def show_paragraph(self, interaction: discord.Interaction, doc_id: str, label: str) -> None:
        reply = InteractionReply(interaction, ephemeral=True)
        async with reporting_failures(reply, action="looking up that paragraph"):
            citation = await asyncio.to_thread(self.service.source, doc_id, label)
            await reply.send(paragraph_messages(citation))

    async def vote(self, interaction: discord.Interaction, answer_id: str, vote: Vote) -> None:
        reply = InteractionReply(interaction, ephemeral=True)
        if self.feedback is None:
            await reply.fail("Feedback is not being collected on this bot.")
            return
        async with reporting_failures(reply, action="recording your vote"):
            known = await asyncio.to_thread(self.feedback.vote, answer_id, interaction.user.id, vote)
            text = (
                f"Thanks, your {'👍' if vote == 'up' else '👎'} is recorded."
                if known
                else "That answer is too old to rate, sorry."
            )
            await reply.send(text_messages(text))

    async def forget_me(self, interaction: discord.Interaction) -> None:
        """/forget-me: the caller's votes are deleted (answers nobody else rated go with them)."""
        reply = InteractionReply(interaction, ephemeral=True)
        if self.feedback is None:
            await reply.fail("This bot keeps no feedback, so there is nothing of yours to delete.")
            return
        async with reporting_failures(reply, action="deleting your votes"):
            deleted = await asyncio.to_thread(self.feedback.delete_user, interaction.user.id)
            log.info("/forget-me: deleted %d vote(s)", deleted)  # no user id: that is the point
            text = (
                f"Done: deleted your {deleted} vote{'s' if deleted != 1 else ''}."
                if deleted
                else "There were no votes of yours to delete."
            )
            await reply.send(text_messages(text))


def _choice_name(text: str) -> str:
    return text if len(text) <= limits.MAX_CHOICE_NAME else text[: limits.MAX_CHOICE_NAME - 1] + "…"
