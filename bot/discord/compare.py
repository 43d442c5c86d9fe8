"""`/compare`: a comparison as Discord messages, a page at a time.

The first page opens with the summary (n unchanged, changed, new, dropped), then one embed
per change: a changed paragraph with its word diff (~~deleted~~ **inserted**) and both
paragraph numbers, a new paragraph, a dropped one. Pages respect Discord's limits
(`limits.py`: 10 embeds and 6,000 characters a message, 4,096 a description); when more
changes remain, the page ends with a "Show more" button.
"""

from __future__ import annotations

from dataclasses import dataclass

import discord

from bot.discord import limits
from bot.discord.formatting import Outgoing, clean, truncate
from qa.compare import Comparison, Entry
from qa.types import paragraph_mark

CHANGED_COLOUR = 0xE0A800
ADDED_COLOUR = 0x2E9E44
REMOVED_COLOUR = 0xC0392B


def summary_text(comparison: Comparison) -> str:
    a, b = comparison.a, comparison.b
    counts = comparison.counts()
    return (
        f"**{clean(a.title)}** (`{a.id}`, {a.date or 'undated'}) → **{clean(b.title)}** (`{b.id}`, "
        f"{b.date or 'undated'})\n"
        f"{counts['unchanged']} unchanged · {counts['changed']} changed · {counts['added']} new · "
        f"{counts['removed']} dropped"
    )


def diff_markdown(entry: Entry) -> str:
    """A changed pair's words: deletions struck through, insertions in bold; text escaped first."""
    assert entry.pair is not None
    words = []
    for part in entry.pair.diff:
        text = clean(part.text)
        words.append(f"~~{text}~~" if part.op == "delete" else f"**{text}**" if part.op == "insert" else text)
    return " ".join(words)


def change_embed(entry: Entry, comparison: Comparison) -> discord.Embed:
    """One change: both paragraph numbers cited, the diff (or the paragraph) as description."""
    a, b = comparison.a.id, comparison.b.id
    if entry.pair is not None:
        pair = entry.pair
        title = f"{paragraph_mark(pair.b.label)} (was {paragraph_mark(pair.a.label)}) · changed"
        body, colour = diff_markdown(entry), CHANGED_COLOUR
        was, now = paragraph_mark(pair.a.label), paragraph_mark(pair.b.label)
        footer = f"{a} {was} → {b} {now} · similarity {pair.similarity:.2f}"
    else:
        assert entry.paragraph is not None
        paragraph = entry.paragraph
        added = entry.kind == "added"
        title = f"{paragraph_mark(paragraph.label)} · {'new' if added else 'dropped'}"
        body, colour = "> " + clean(paragraph.text), ADDED_COLOUR if added else REMOVED_COLOUR
        footer = f"{b if added else a} {paragraph_mark(paragraph.label)}"
    embed = discord.Embed(
        title=truncate(title, limits.MAX_EMBED_TITLE),
        description=_fit(body, limits.MAX_EMBED_DESCRIPTION),
        colour=colour,
    )
    embed.set_footer(text=truncate(clean(footer), limits.MAX_EMBED_FOOTER))
    return embed


def _fit(markdown: str, limit: int) -> str:
    """At most `limit` characters; a cut never leaves a ~~ or ** run open."""
    if len(markdown) <= limit:
        return markdown
    cut = truncate(markdown, limit - 4)
    for mark in ("~~", "**"):
        if cut.count(mark) % 2:
            cut += mark
    return cut


@dataclass(frozen=True)
class ComparePages:
    """The comparison split into pages; page 0 carries the summary."""

    summary: str
    pages: tuple[tuple[discord.Embed, ...], ...]

    def messages(self, page: int, *, more_id: str | None) -> list[Outgoing]:
        """The messages of one page; `more_id` is the button's custom id when a next page exists."""
        embeds = list(self.pages[page]) if page < len(self.pages) else []
        total = len(self.pages)
        content = self.summary if page == 0 else f"Changes, page {page + 1} of {total}"
        if page == 0 and not self.pages:
            content += "\nNo differences: the two statements have the same paragraphs."
        message = Outgoing(content=truncate(content, limits.MAX_CONTENT), embeds=embeds)
        if page + 1 < total and more_id is not None:
            message.more = (more_id, f"Show more ({page + 2}/{total})")
        return [message]


def compare_pages(comparison: Comparison) -> ComparePages:
    """Every change as an embed, in B's order, packed into pages within one message's limits."""
    embeds = [change_embed(e, comparison) for e in comparison.entries() if e.kind != "unchanged"]
    summary = summary_text(comparison)
    pages: list[list[discord.Embed]] = []
    used = 0
    for embed in embeds:
        # The summary is message content, not embed text: each page may fill the embed total.
        if not pages or len(pages[-1]) >= limits.MAX_EMBEDS or used + len(embed) > limits.MAX_EMBED_TOTAL:
            pages.append([])
            used = 0
        pages[-1].append(embed)
        used += len(embed)
    return ComparePages(summary, tuple(tuple(page) for page in pages))
