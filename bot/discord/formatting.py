"""Pure functions that turn answers, paragraphs and reports into Discord messages.

Nothing here sends anything: each renderer returns `Outgoing` values whose content and
embeds already respect Discord's limits (`limits.py`), with every mention broken so the bot
can never ping, even if `allowed_mentions` were lost on the way. Text is neutralised and
escaped *before* it is split, so the added characters are counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING

import discord

from bot import render
from bot.discord import limits
from bot.render import Markup
from ingest.display import shown

if TYPE_CHECKING:
    from qa.types import Answer, Citation
    from vectorstore.indexing import IngestReport
    from vectorstore.store import DocumentRecord

ZERO_WIDTH_SPACE = "\u200b"
ELLIPSIS = "…"
FALLBACK_MARK = render.FALLBACK_MARK  # Discord's callers and tests name it here
CUT_NOTICE = "-# (Cut here: the answer is longer than Discord allows. Ask a narrower question for the rest.)"

# A sentence ends at . ! ? … (maybe closed by quotes/brackets) or at a citation marker's "]";
# a marker that follows a sentence belongs to it, so never break right before "[".
_SENTENCE_BREAK = re.compile(r"(?:[.!?…][\"”’')]*|\])(?P<space>\s+)(?![\s\[])")
_SPACE = re.compile(r"\s+")
_MAX_MARKER = 100  # "[doc-id ¶12]": a 64-character id plus the label


@dataclass
class Outgoing:
    """One message to send: content, embeds and the buttons it carries."""

    content: str = ""
    embeds: list[discord.Embed] = field(default_factory=list)
    paragraphs: list[tuple[str, str]] = field(default_factory=list)  # (doc_id, label): "Show paragraph"
    feedback_id: str | None = None  # set on an answer's last message: 👍 / 👎 buttons
    more: tuple[str, str] | None = None  # (custom id, caption) of a "Show more" button
    pager: tuple[int, int] | None = None  # (page, pages) of a /documents page: "Previous" / "Next" buttons

    def embed_chars(self) -> int:
        return sum(len(e) for e in self.embeds)


# Text hygiene ---------------------------------------------------------------------------
def neutralise(text: str) -> str:
    """Break every `@` so no mention (`<@id>`, `<@&role>`, @everyone, @here) can form.

    Idempotent: text neutralised twice gains nothing the second time.
    """
    return text.replace("@" + ZERO_WIDTH_SPACE, "@").replace("@", "@" + ZERO_WIDTH_SPACE)


def clean(text: str) -> str:
    """Neutralised and markdown-escaped: how any statement or user text is shown."""
    return neutralise(discord.utils.escape_markdown(text))


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary with an ellipsis when shortened."""
    if len(text) <= limit:
        return text
    head = text[: limit - len(ELLIPSIS)]
    space = head.rfind(" ")
    if space >= limit // 2:
        head = head[:space]
    return head.rstrip() + ELLIPSIS


# Splitting --------------------------------------------------------------------------------
def _inside_marker(text: str, pos: int) -> bool:
    """Whether `pos` falls inside a `[...]` citation marker."""
    opened = text.rfind("[", 0, pos)
    if opened == -1 or opened < text.rfind("]", 0, pos):
        return False
    closed = text.find("]", pos)
    return closed != -1 and closed - opened <= _MAX_MARKER


def _last_before(text: str, separator: str, limit: int) -> int:
    position = text.rfind(separator, 0, limit + len(separator))
    return position if position > 0 and not _inside_marker(text, position) else -1


def _cut_point(text: str, limit: int) -> int:
    """Where to end the first chunk of `text` (its length), preferring the strongest break."""
    window = text[: limit + 1]
    sentences = [m.start("space") for m in _SENTENCE_BREAK.finditer(window) if 0 < m.start("space") <= limit]
    words = [
        m.start() for m in _SPACE.finditer(window) if 0 < m.start() <= limit and not _inside_marker(text, m.start())
    ]
    ranked = [
        _last_before(text, "\n\n", limit),
        _last_before(text, "\n", limit),
        sentences[-1] if sentences else -1,
        words[-1] if words else -1,
    ]
    # The strongest break that still fills at least half a chunk; else the latest break found.
    for position in ranked:
        if position >= limit // 2:
            return position
    if max(ranked) > 0:
        return max(ranked)
    opened = text.rfind("[", 0, limit)
    if _inside_marker(text, limit) and opened > 0:
        return opened  # a hard cut, but never through a citation marker
    return limit


def split_text(text: str, limit: int = limits.MAX_CONTENT) -> list[str]:
    """Chunks of at most `limit` characters, cut at paragraph, line, sentence or word boundaries.

    Citation markers (`[¶12]`, `[doc ¶12]`) are never cut and stay with their sentence.
    White space at a cut is dropped; nothing else is lost.
    """
    rest = text.strip()
    chunks: list[str] = []
    while len(rest) > limit:
        cut = _cut_point(rest, limit)
        head = rest[:cut].rstrip()
        chunks.append(head)
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


def _limited_chunks(text: str, max_messages: int) -> list[str]:
    """`split_text`, keeping at most `max_messages` chunks; the last then ends with CUT_NOTICE."""
    chunks = split_text(text)
    if len(chunks) <= max_messages:
        return chunks
    kept = chunks[:max_messages]
    room = limits.MAX_CONTENT - len(CUT_NOTICE) - 1
    kept[-1] = split_text(kept[-1], room)[0] + "\n" + CUT_NOTICE
    return kept


# Embeds -----------------------------------------------------------------------------------
def _label(citation: Citation) -> str:
    return "preamble" if citation.label == "preamble" else f"¶{citation.label}"


def _source_link(source: str) -> str | None:
    return source if source.startswith(("https://", "http://")) else None


def _source_name(source: str) -> str:
    """What the footer shows for a local source: the file name (escaped, see ingest.display), never the path."""
    return shown(PurePath(source).name) if source else ""


def citation_embed(citation: Citation) -> discord.Embed:
    """A cited paragraph: document title and label, a quoted excerpt, the source link when known."""
    quote = citation.quote or citation.text
    excerpt = truncate(quote, limits.EXCERPT_CHARS)
    partial = excerpt != citation.text
    embed = discord.Embed(
        title=truncate(clean(f"{render.document_name(citation)} · {_label(citation)}"), limits.MAX_EMBED_TITLE),
        description="> " + clean(excerpt),
        url=_source_link(citation.source),
    )
    footer = [f"{citation.doc_id} {_label(citation)}"]
    if partial:
        footer.append("excerpt: press “Show paragraph” for the whole paragraph")
    if citation.source and not _source_link(citation.source):
        footer.append(_source_name(citation.source))
    embed.set_footer(text=truncate(neutralise(" · ".join(footer)), limits.MAX_EMBED_FOOTER))
    return embed


def _pack(messages: list[Outgoing], embeds: Iterable[tuple[discord.Embed, tuple[str, str] | None]]) -> None:
    """Attach embeds to the last message while it has room, then to new embed-only messages."""
    for embed, paragraph in embeds:
        last = messages[-1] if messages else None
        fits = (
            last is not None
            and len(last.embeds) < limits.MAX_EMBEDS
            and last.embed_chars() + len(embed) <= limits.MAX_EMBED_TOTAL
        )
        if not fits:
            last = Outgoing()
            messages.append(last)
        assert last is not None
        last.embeds.append(embed)
        if paragraph is not None:
            last.paragraphs.append(paragraph)


# Renderers --------------------------------------------------------------------------------
def answer_messages(answer: Answer, *, feedback_id: str | None = None) -> list[Outgoing]:
    """The answer text with its [¶N] markers, then one embed per cited (or closest) paragraph."""
    quoted = render.quoted_citations(answer)
    body = clean(answer.text)
    if answer.abstained and quoted:
        body += f"\n\n**{render.quote_heading(answer)}:**"
    marks = [clean(mark) for mark in render.answer_marks(answer)]
    if marks:
        body += "\n-# " + " · ".join(marks)
    messages = [Outgoing(content=chunk) for chunk in _limited_chunks(body, limits.MAX_ANSWER_MESSAGES)]
    _pack(messages, ((citation_embed(c), (c.doc_id, c.label)) for c in quoted))
    if not messages:
        messages.append(Outgoing(content=clean(answer.text) or "…"))
    messages[-1].feedback_id = feedback_id
    return messages


def paragraph_messages(citation: Citation) -> list[Outgoing]:
    """A whole paragraph, verbatim, in embeds (a long one continues over several)."""
    title = truncate(clean(f"{render.document_name(citation)} · {_label(citation)}"), limits.MAX_EMBED_TITLE)
    pieces = split_text(clean(citation.text), limits.MAX_EMBED_DESCRIPTION) or ["(empty paragraph)"]
    where = [f"{citation.doc_id} {_label(citation)}", _source_name(citation.source)]
    footer = neutralise(" · ".join(part for part in where if part))
    embeds = []
    for number, piece in enumerate(pieces, start=1):
        suffix = f" ({number}/{len(pieces)})" if len(pieces) > 1 else ""
        embed = discord.Embed(title=truncate(title, limits.MAX_EMBED_TITLE - len(suffix)) + suffix, description=piece)
        embed.url = _source_link(citation.source)
        embed.set_footer(text=truncate(footer, limits.MAX_EMBED_FOOTER))
        embeds.append((embed, None))
    messages: list[Outgoing] = []
    _pack(messages, embeds)
    return messages


def text_messages(text: str) -> list[Outgoing]:
    """Plain text (already written for Discord), neutralised and split."""
    return [Outgoing(content=chunk) for chunk in split_text(neutralise(text))] or [Outgoing(content="…")]


def page_count(total: int, per_page: int = limits.DOCUMENTS_PER_PAGE) -> int:
    return max(1, -(-total // per_page))


def _document_line(record: DocumentRecord, room: int) -> str:
    """One statement on one line of at most `room` characters: only the title is shortened."""
    when = record.date.isoformat() if record.date else "undated"
    facts = f" (`{record.id}`) · {when} · {record.paragraphs} paragraphs"
    # Titles are escaped (controls, bidi overrides, markdown, mentions) before they are measured.
    title = truncate(clean(shown(record.title)), max(room - len("• ") - len(facts), 20))
    return f"• {title}{facts}"


def documents_page(records: Sequence[DocumentRecord], page: int, per_page: int = limits.DOCUMENTS_PER_PAGE) -> Outgoing:
    """Page `page` (from 1; clamped) of the statement list, in the order given, with its pager.

    The list is an embed: 20 lines of a 100-character title and a 64-character id need
    about 4,000 characters, twice what message content allows.
    """
    if not records:
        return Outgoing(content="No statements are ingested yet. An admin can add some with `/ingest`.")
    pages = page_count(len(records), per_page)
    page = min(max(page, 1), pages)  # a page past the end (statements removed since) shows the last
    shown_records = records[(page - 1) * per_page : page * per_page]
    room = limits.MAX_EMBED_DESCRIPTION // per_page - 1  # each line and its newline
    embed = discord.Embed(description="\n".join(_document_line(r, room) for r in shown_records))
    count = f"{len(records)} statement{'s' if len(records) != 1 else ''}"
    return Outgoing(
        content=f"**Statements, newest first** · page {page} of {pages} ({count})",
        embeds=[embed],
        pager=(page, pages) if pages > 1 else None,
    )


# The shared layout (`bot/render.py`) in Discord markdown; file paths show only their name.
DISCORD_MARKUP = Markup(
    strong=lambda text: f"**{text}**",
    code=lambda text: f"`{text}`",
    escape=lambda text: discord.utils.escape_markdown(shown(text)),
    source=_source_name,
    compare=lambda a, b: f"/compare a:{a} b:{b}",
    bullet="•",
)


def report_text(report: IngestReport) -> str:
    """An ingest or remove summary: documents and paragraphs added, updated, removed."""
    return render.report_text(report, DISCORD_MARKUP)


def thread_name(question: str) -> str:
    """A thread title from the question: one line, at most Discord's 100 characters."""
    name = neutralise(" ".join(question.split()))
    return truncate(name, limits.MAX_THREAD_NAME) if name else "Question"


_MENTION_MARKUP = re.compile(r"<@[!&]?\d+>|@everyone\b|@here\b")


def question_text(content: str) -> str:
    """The question in a message: mentions (the bot's, users', roles', @everyone) removed."""
    return " ".join(_MENTION_MARKUP.sub(" ", content).split())
