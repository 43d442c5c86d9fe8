"""Turn files and uploaded bytes into plain text, one module per format.

The statement parser downstream splits paragraphs on blank lines and reads
numbering ("1.", "(2)", "3)") as printed, so every loader emits paragraphs
separated by exactly one blank line and never rewrites characters: quotes,
dashes and non-breaking spaces stay verbatim because users quote them back.
The only normalisations are ``\\n`` line endings and dropping a leading BOM.

Formats: :mod:`.text`, :mod:`.markdown` (markdown-it-py, YAML front matter),
:mod:`.html` (trafilatura), :mod:`.pdf` (pypdfium2 in a limited subprocess,
page furniture by position and repetition) and :mod:`.docx` (python-docx).

Every failure is an :class:`~errors.UnreadableDocument` whose reason
names the problem and whose hint says what to do about it.
"""

from __future__ import annotations

import hashlib
import re
import stat
from collections import Counter
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from errors import UnreadableDocument
from ingest.loaders._common import (
    DEFAULT_MAX_BYTES,
    FORMAT_BY_SUFFIX,
    READ_TIMEOUT_S,
    SUPPORTED_SUFFIXES,
    Extracted,
    LoadedText,
    check_size,
    os_error,
    unsupported,
)
from ingest.loaders.discovery import Discovery, discover
from ingest.loaders.html import html_to_text
from ingest.loaders.markdown import markdown_to_text
from ingest.loaders.pdf import PDF_MAX_MEMORY_BYTES

__all__ = [
    "DEFAULT_MAX_BYTES",
    "PDF_MAX_MEMORY_BYTES",
    "READ_TIMEOUT_S",
    "SUPPORTED_SUFFIXES",
    "Discovery",
    "LoadedText",
    "discover",
    "html_to_text",
    "load_bytes",
    "load_path",
    "markdown_to_text",
]


def load_path(
    path: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout_s: float = READ_TIMEOUT_S,
) -> LoadedText:
    """Load one file, choosing the loader from its suffix.

    Raises :class:`UnreadableDocument` for anything that is not a readable,
    non-empty document of a supported type within ``max_bytes``, and for a PDF
    or HTML file that takes longer than ``timeout_s`` seconds to read.
    """
    path = Path(path)
    source = str(path)
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise UnreadableDocument(source, "does not exist", hint="Check the path for typos.") from None
    except OSError as exc:
        raise os_error(source, exc) from None
    if stat.S_ISDIR(info.st_mode):
        raise UnreadableDocument(
            source,
            "is a directory, not a file",
            hint="Give the files inside it, or ingest the directory as a whole.",
        )
    fmt = _format_for(path.name, source)
    if not stat.S_ISREG(info.st_mode):
        # FIFOs and devices can block forever or never end; only plain files are documents.
        raise UnreadableDocument(source, "is not a regular file", hint="Copy the content into a normal file first.")
    # Checked before reading so a huge file never lands in memory.
    check_size(info.st_size, max_bytes, source)
    try:
        with path.open("rb") as handle:
            # Read one byte past the limit: the file may have grown since stat().
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise os_error(source, exc) from None
    check_size(len(data), max_bytes, source)
    return _load(data, source=source, fmt=fmt, timeout_s=timeout_s)


def load_bytes(
    data: bytes,
    *,
    name: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout_s: float = READ_TIMEOUT_S,
) -> LoadedText:
    """Load an in-memory document (a Discord attachment); the format comes from ``name``.

    ``name`` may be a bare filename or a URL; a query string is ignored.
    """
    fmt = _format_for(_name_part(name), name)
    check_size(len(data), max_bytes, name)
    return _load(bytes(data), source=name, fmt=fmt, timeout_s=timeout_s)


def _loader(fmt: str) -> Callable[[bytes, str, float], Extracted]:
    # Imported on use: python-docx, trafilatura and friends cost start-up time
    # that `documents` and `source` should not pay.
    if fmt == "pdf":
        from ingest.loaders.pdf import load_pdf

        return load_pdf
    if fmt == "html":
        from ingest.loaders.html import load_html

        return load_html
    if fmt == "md":
        from ingest.loaders.markdown import load_markdown

        return load_markdown
    if fmt == "docx":
        from ingest.loaders.docx import load_docx

        return load_docx
    from ingest.loaders.text import load_text

    return load_text


# A press release's end marker: "###", "# # #", "ENDS", "-30-". It closes the
# statement; it is neither a paragraph nor part of the last one.
_END_MARKER = re.compile(r"^[ \t]*(?:#[ \t]?#[ \t]?#|-[ \t]*30[ \t]*-|ends)[ \t]*$", re.IGNORECASE | re.MULTILINE)
REMOVED_END_MARKERS = "end markers"


# A separator: a line of one mark repeated ("***", "* * *", "-----", "==="), which archives keep
# as text when the page's rule was escaped ("\\*\\*\\*"). It says nothing and, kept, would take a
# paragraph number of its own and shift every position label after it.
_SEPARATOR = re.compile(r"^[ \t]*([*_=~-])(?:[ \t]*\1){2,}[ \t]*$", re.MULTILINE)
REMOVED_SEPARATORS = "separator lines"


def without_end_markers(text: str) -> tuple[str, int]:
    """``text`` without lines that are only an end marker, and how many there were."""
    return _without_lines(_END_MARKER, text)


def without_separators(text: str) -> tuple[str, int]:
    """``text`` without lines that only separate ("***"), and how many there were."""
    return _without_lines(_SEPARATOR, text)


def _without_lines(pattern: re.Pattern[str], text: str) -> tuple[str, int]:
    cleaned, count = pattern.subn("", text)
    if not count:
        return text, 0
    # A removed line leaves blank lines behind; paragraphs stay one blank line apart.
    cleaned = re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", cleaned)
    return cleaned.strip("\n"), count


def _load(data: bytes, *, source: str, fmt: str, timeout_s: float) -> LoadedText:
    raw_hash = hashlib.sha256(data).hexdigest()
    extracted = _loader(fmt)(data, source, timeout_s)
    text, markers = without_end_markers(extracted.text)
    text, separators = without_separators(text)
    if not text.strip():
        raise UnreadableDocument(
            source,
            "has no text besides its end marker ('###', 'ENDS') or separator lines ('***')",
            hint="The statement may be published as images only; ingest a text version of it.",
        )
    removed = Counter(extracted.removed)
    removed[REMOVED_END_MARKERS] += markers
    removed[REMOVED_SEPARATORS] += separators
    return LoadedText(
        text=text,
        source=source,
        title_hint=extracted.title_hint,
        format=fmt,
        raw_hash=raw_hash,
        title=extracted.title,
        date=extracted.date,
        url=extracted.url,
        removed={kind: count for kind, count in removed.items() if count},
    )


def _name_part(name: str) -> str:
    """The file name part of ``name``, which may be a URL with a query string."""
    if "://" in name:
        return PurePosixPath(urlsplit(name).path).name
    return PurePosixPath(name.replace("\\", "/")).name


def _format_for(filename: str, source: str) -> str:
    suffix = PurePosixPath(filename).suffix.lower()
    fmt = FORMAT_BY_SUFFIX.get(suffix)
    if fmt is None:
        raise unsupported(source, suffix)
    return fmt
