"""Typed values for statements: a Document made of Paragraphs, embedded as Chunks.

Every value carries its source (document id, paragraph label) so that nothing
downstream can lose track of where a sentence came from.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

PREAMBLE_LABEL = "preamble"
# A paragraph of numbering that restarts under a heading: its part, a dot, its number
# ("II.3", "B.1", "2.1"; see ingest.parser.numbered_sequence). Readers type the part in
# any case; labels keep it in capitals (see section_label).
SECTION_LABEL_PATTERN = r"(?:[IVXLC]{1,6}|[A-Z]|\d{1,3})\.\d{1,3}"


def section_label(written: str) -> str:
    """A qualified label as stored, from how a reader wrote it: "ii.3" -> "II.3"."""
    part, _, number = written.partition(".")
    return f"{part.upper()}.{number}"


# Document ids appear in citations and commands, so keep them short and safe.
_SLUG_STRIP = re.compile(r"[^a-z0-9]+")
MAX_SLUG_LENGTH = 64
_SLUG_HASH_CHARS = 8


_APOSTROPHES = "'’ʼ‘"


def slugify(value: str) -> str:
    """A lowercase ascii slug: 'UK–Japan Statement 2025' -> 'uk-japan-statement-2025'.

    Accents fold to their letters ("Défense" -> "defense"), apostrophes vanish
    ("Japan’s" -> "japans"), and any other symbol (dashes included) separates words.
    """
    decomposed = unicodedata.normalize("NFKD", value)
    kept = "".join(
        "" if unicodedata.combining(char) or char in _APOSTROPHES else (char if char.isascii() else "-")
        for char in decomposed
    )
    slug = _SLUG_STRIP.sub("-", kept.lower()).strip("-")
    if len(slug) <= MAX_SLUG_LENGTH:
        return slug
    # Cut long slugs, but keep them apart: two names that share their first 64
    # characters (a news archive's long headlines often do) end in different
    # hashes of the whole slug, so neither statement is refused as a duplicate.
    suffix = "-" + content_hash(slug)[:_SLUG_HASH_CHARS]
    return slug[: MAX_SLUG_LENGTH - len(suffix)].rstrip("-") + suffix


def distinct_id(doc_id: str, source: str) -> str:
    """``doc_id`` lengthened with a short hash of ``source``, for a second file whose name gives the same id.

    Stable (the same file always gets the same id) and within the slug length.
    """
    suffix = "-" + content_hash(source)[:_SLUG_HASH_CHARS]
    return doc_id[: MAX_SLUG_LENGTH - len(suffix)].rstrip("-") + suffix


def content_hash(text: str) -> str:
    """Short, stable hash of text; ids are built from it so re-runs are idempotent."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def fold_whitespace(text: str) -> str:
    """Collapse runs of white space to one space, as users see the text."""
    return " ".join(text.split())


@dataclass(frozen=True)
class Span:
    """A half-open character range [start, end) inside a paragraph's text."""

    start: int
    end: int


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of a statement, labelled with the document's own number."""

    doc_id: str
    label: str  # printed number ("12"), or "preamble", or a position for unnumbered text
    position: int  # 0-based order in the document
    text: str  # white space folded; otherwise verbatim
    sentences: tuple[Span, ...] = ()

    @property
    def hash(self) -> str:
        return content_hash(self.text)

    def sentence_texts(self) -> list[str]:
        return [self.text[s.start : s.end] for s in self.sentences]


@dataclass(frozen=True)
class Document:
    """A parsed statement."""

    id: str
    title: str
    date: date | None
    source: str  # path or URL it was loaded from
    content_hash: str  # hash of the parsed paragraphs, used to spot renamed files
    paragraphs: tuple[Paragraph, ...]
    numbered: bool  # False when the statement had no numbering and labels are positions
    url: str | None = None  # where it is published (front matter `source_url`), when known

    def paragraph(self, label: str) -> Paragraph | None:
        return next((p for p in self.paragraphs if p.label == label), None)


@dataclass(frozen=True)
class Chunk:
    """What is embedded: a whole paragraph, or one window of a long one.

    Every window keeps its paragraph's label, so a hit on any window cites the
    paragraph as the document numbers it.
    """

    paragraph: Paragraph
    window: int  # 0 for a whole paragraph
    text: str
    sentence_range: tuple[int, int] = field(default=(0, 0))  # sentence indices [start, end)

    @property
    def id(self) -> str:
        p = self.paragraph
        return f"{p.doc_id}:{p.label}:{p.hash}:{self.window}"
