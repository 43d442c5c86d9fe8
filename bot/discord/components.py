"""Buttons: "Show paragraph" and 👍 / 👎 on answers, "Show more" on /compare, "Previous" / "Next" on /documents.

They are `DynamicItem`s: everything a click needs is in its `custom_id`, so buttons keep
working after the bot restarts and no per-message view is held in memory. A click is routed
to the client's `actions` (see `commands.StatementCommands`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Protocol, cast

import discord

from bot.discord import limits

if TYPE_CHECKING:
    from bot.discord.formatting import Outgoing
    from bot.feedback import Vote

# Document ids are slugs ([a-z0-9-]); labels are the statement's own ("12", "preamble").
_PARAGRAPH_ID = re.compile(r"sb:p:(?P<doc>[a-z0-9][a-z0-9-]*):(?P<label>[^:\s]+)")
_VOTE_ID = re.compile(r"sb:v:(?P<vote>up|down):(?P<answer>[0-9a-f]{16})")
_MORE_ID = re.compile(r"sb:m:(?P<token>[0-9a-f]{12}):(?P<page>\d{1,3})")
# The page to show (from 1): the list itself is read again on each click, so nothing else is needed.
_DOCUMENTS_PAGE_ID = re.compile(r"sb:d:(?P<page>\d{1,6})")


class ComponentActions(Protocol):
    async def show_paragraph(self, interaction: discord.Interaction, doc_id: str, label: str) -> None: ...

    async def vote(self, interaction: discord.Interaction, answer_id: str, vote: Vote) -> None: ...

    async def compare_page(self, interaction: discord.Interaction, token: str, page: int) -> None: ...

    async def documents_page(self, interaction: discord.Interaction, page: int) -> None: ...


class _HasActions(Protocol):
    actions: ComponentActions


def _actions(interaction: discord.Interaction) -> ComponentActions:
    return cast(_HasActions, interaction.client).actions


class ShowParagraphButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_PARAGRAPH_ID):
    def __init__(self, doc_id: str, label: str, *, caption: str = "Show paragraph") -> None:
        super().__init__(
            discord.ui.Button(
                label=caption[: limits.MAX_BUTTON_LABEL],
                style=discord.ButtonStyle.secondary,
                custom_id=paragraph_custom_id(doc_id, label),
            )
        )
        self.doc_id = doc_id
        self.label = label

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ShowParagraphButton:
        return cls(match["doc"], match["label"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await _actions(interaction).show_paragraph(interaction, self.doc_id, self.label)


class VoteButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_VOTE_ID):
    def __init__(self, answer_id: str, vote: Vote) -> None:
        super().__init__(
            discord.ui.Button(
                emoji="👍" if vote == "up" else "👎",
                style=discord.ButtonStyle.secondary,
                custom_id=f"sb:v:{vote}:{answer_id}",
            )
        )
        self.answer_id = answer_id
        self.vote: Vote = vote

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> VoteButton:
        return cls(match["answer"], cast("Vote", match["vote"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await _actions(interaction).vote(interaction, self.answer_id, self.vote)


class ShowMoreButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_MORE_ID):
    """The next page of a long /compare; the token names the comparison (see `StatementCommands`)."""

    def __init__(self, token: str, page: int, *, caption: str = "Show more") -> None:
        super().__init__(
            discord.ui.Button(
                label=caption[: limits.MAX_BUTTON_LABEL],
                style=discord.ButtonStyle.primary,
                custom_id=more_custom_id(token, page),
            )
        )
        self.token = token
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ShowMoreButton:
        return cls(match["token"], int(match["page"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await _actions(interaction).compare_page(interaction, self.token, self.page)


class DocumentsPageButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_DOCUMENTS_PAGE_ID):
    """The "Previous" or "Next" button under a /documents page: a click replaces the message with page `page`."""

    def __init__(self, page: int, *, caption: str = "Next ▶", disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label=caption,
                style=discord.ButtonStyle.secondary,
                custom_id=documents_page_custom_id(page),
                disabled=disabled,
            )
        )
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> DocumentsPageButton:
        return cls(int(match["page"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await _actions(interaction).documents_page(interaction, self.page)


def documents_page_custom_id(page: int) -> str:
    return f"sb:d:{page}"


def more_custom_id(token: str, page: int) -> str:
    return f"sb:m:{token}:{page}"


def paragraph_custom_id(doc_id: str, label: str) -> str:
    return f"sb:p:{doc_id}:{label}"


def _paragraph_caption(label: str, doc_id: str, *, several_documents: bool) -> str:
    shown = "preamble" if label == "preamble" else f"¶{label}"
    caption = f"Show {shown} · {doc_id}" if several_documents else f"Show paragraph {shown}"
    return caption[: limits.MAX_BUTTON_LABEL]


def view_for(message: Outgoing) -> discord.ui.View | None:
    """The buttons a message carries, or None when it has none."""
    view = discord.ui.View(timeout=None)
    several = len({doc for doc, _ in message.paragraphs}) > 1
    room = limits.MAX_BUTTONS_PER_ROW * limits.MAX_ROWS - (2 if message.feedback_id else 0)
    for doc_id, label in message.paragraphs[:room]:
        if len(paragraph_custom_id(doc_id, label)) > limits.MAX_CUSTOM_ID or not _PARAGRAPH_ID.fullmatch(
            paragraph_custom_id(doc_id, label)
        ):
            continue  # cannot be encoded in a button; the embed still shows the excerpt
        caption = _paragraph_caption(label, doc_id, several_documents=several)
        view.add_item(ShowParagraphButton(doc_id, label, caption=caption))
    if message.more is not None and (match := _MORE_ID.fullmatch(message.more[0])):
        view.add_item(ShowMoreButton(match["token"], int(match["page"]), caption=message.more[1]))
    if message.pager is not None:
        page, pages = message.pager
        # page - 1 and page + 1 always differ, so the two custom ids are distinct even when disabled.
        view.add_item(DocumentsPageButton(page - 1, caption="◀ Previous", disabled=page <= 1))
        view.add_item(DocumentsPageButton(page + 1, caption="Next ▶", disabled=page >= pages))
    if message.feedback_id:
        view.add_item(VoteButton(message.feedback_id, "up"))
        view.add_item(VoteButton(message.feedback_id, "down"))
    return view if view.children else None


DYNAMIC_ITEMS = (ShowParagraphButton, VoteButton, ShowMoreButton, DocumentsPageButton)
