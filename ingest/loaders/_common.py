"""What every loader shares: the value it returns, size and decoding checks, error messages.

Each format's loader is a function ``(data, source, timeout_s) -> Extracted``
in its own module; :mod:`ingest.loaders` picks one by the file's suffix.
"""

from __future__ import annotations

import codecs
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from errors import UnreadableDocument

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
# Wall-clock limit for reading one PDF: its worker process is killed after it.
# The other formats are parsed in linear time (lxml, markdown-it, python-docx).
READ_TIMEOUT_S = 60.0

FORMAT_BY_SUFFIX = {
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
SUPPORTED_SUFFIXES = frozenset(FORMAT_BY_SUFFIX)
SUPPORTED_LIST = ", ".join(sorted(SUPPORTED_SUFFIXES))
MB = 1024 * 1024
# Share of control characters above which "text" is really something else.
# Real text has a handful at most (a stray form feed, an ANSI colour code).
_MAX_CONTROL_SHARE = 0.05
# Enough of a file's start to tell text from binary data without scanning 20 MB.
BINARY_SNIFF_BYTES = 64 * 1024
# Control characters that do not belong in text (tab, newlines, \v and \f do).
_CONTROL_CHARS = re.compile("[\x00-\x08\x0e-\x1f\x7f]")

HINT_UTF8 = "Re-save it as UTF-8 (in most editors: Save As → Encoding: UTF-8) and try again."
HINT_TYPES = f"Supported file types: {SUPPORTED_LIST}."


@dataclass(frozen=True)
class LoadedText:
    """Plain text extracted from one document, with where it came from.

    ``title`` and ``date`` are set when the document states them as data (front
    matter, page metadata); the parser then takes them as given instead of
    guessing from the first lines. ``title_hint`` is a weaker guess (a PDF's
    /Title, an HTML <title>) used only when the text has no title line.
    ``removed`` counts what the loader left out of the text, by kind
    ("header/footer lines": 12), so nothing is dropped in silence.
    """

    text: str
    source: str
    title_hint: str | None
    format: str
    raw_hash: str
    title: str | None = None
    date: date | None = None
    url: str | None = None
    removed: dict[str, int] = field(default_factory=dict)


@dataclass
class Extracted:
    """What one format's loader returns before :func:`ingest.loaders.load_bytes` wraps it."""

    text: str
    title_hint: str | None = None
    title: str | None = None
    date: date | None = None
    url: str | None = None
    removed: Counter[str] = field(default_factory=Counter)


def unsupported(source: str, suffix: str) -> UnreadableDocument:
    what = f"'{suffix}' files are" if suffix else "files without a suffix are"
    return UnreadableDocument(source, f"is not a supported file type ({what} not read)", hint=HINT_TYPES)


def os_error(source: object, exc: OSError) -> UnreadableDocument:
    if isinstance(exc, PermissionError):
        return UnreadableDocument(
            str(source),
            "cannot be read (permission denied)",
            hint="Check its permissions for the user running statementbot.",
        )
    return UnreadableDocument(
        str(source),
        f"cannot be read ({exc.strerror or exc})",
        hint="Check that the file is intact and its disk is available.",
    )


def check_size(size: int, max_bytes: int, source: str) -> None:
    if size > max_bytes:
        raise UnreadableDocument(
            source,
            f"is {format_size(size, round_up=True)}, over the limit of "
            f"{format_size(max_bytes)} (STATEMENTBOT_MAX_FILE_MB)",
            hint="Split it into smaller files, or raise STATEMENTBOT_MAX_FILE_MB.",
        )


def format_size(size: int, *, round_up: bool = False) -> str:
    """Megabytes with one decimal; bytes or KB for the tiny limits tests use.

    The file size rounds up so that a file one byte over "20 MB" never reads
    as "20 MB, over the limit of 20 MB".
    """
    for unit, scale in (("MB", MB), ("KB", 1024)):
        if size >= scale:
            value = size / scale
            value = math.ceil(value * 10) / 10 if round_up else round(value, 1)
            return f"{value:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def looks_binary(text: str) -> bool:
    """True for NUL characters anywhere, or a high share of controls near the start.

    Raw bytes are checked by decoding them as Latin-1, which maps each byte to
    the character with the same number, so the same test works for both.
    """
    if "\x00" in text:
        return True
    sample = text[:BINARY_SNIFF_BYTES]
    controls = sum(1 for _ in _CONTROL_CHARS.finditer(sample))
    return bool(sample) and controls / len(sample) > _MAX_CONTROL_SHARE


def binary_error(source: str) -> UnreadableDocument:
    return UnreadableDocument(
        source,
        "looks like binary data, not text",
        hint="Check you picked the right file; save documents as text, Markdown, HTML, PDF or Word (.docx).",
    )


def empty_error(source: str) -> UnreadableDocument:
    return UnreadableDocument(source, "is empty", hint="Add the statement's text and try again.")


def decode_error(source: str, data: bytes, exc: UnicodeDecodeError, encoding: str) -> UnreadableDocument:
    offset = exc.start
    bad = data[offset : offset + 1].hex().upper()
    where = f"byte 0x{bad} at byte offset {offset}"
    if not encoding.startswith("UTF-16"):  # counting b"\n" is only right for 8-bit encodings
        line = data.count(b"\n", 0, offset) + 1
        where += f", line {line}"
    return UnreadableDocument(source, f"is not valid {encoding} ({where})", hint=HINT_UTF8)


def decode_text_file(data: bytes, source: str) -> str:
    """Decode a .txt/.md file: UTF-8, or UTF-16 when it starts with a BOM."""
    if not data.strip():
        raise empty_error(source)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            # The "utf-16" codec reads the BOM to pick the byte order, then drops it.
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise decode_error(source, data, exc, "UTF-16") from None
    else:
        # NUL never occurs in UTF-8 text; checking first catches images, archives
        # and UTF-16 without a BOM before they produce a confusing decode error.
        if looks_binary(data[:BINARY_SNIFF_BYTES].decode("latin-1")):
            raise binary_error(source)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise decode_error(source, data, exc, "UTF-8") from None
    if looks_binary(text):
        raise binary_error(source)
    text = normalise_newlines(text)
    if not text.strip():
        raise empty_error(source)
    return text
