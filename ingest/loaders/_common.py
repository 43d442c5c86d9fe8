"""Turn files and uploaded bytes into plain text, one loader per format.

The statement parser downstream splits paragraphs on blank lines and reads
numbering ("1.", "(2)", "3)") as printed, so every loader emits paragraphs
separated by exactly one blank line and never rewrites characters: quotes,
dashes and non-breaking spaces stay verbatim because users quote them back.
The only normalisations are ``\\n`` line endings and dropping a leading BOM.

Every failure is an :class:`~ingest.errors.UnreadableDocument` whose reason
names the problem and whose hint says what to do about it.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import json
import math
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from ingest.errors import UnreadableDocument

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
SUPPORTED_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".pdf"})
# Wall-clock limit for reading one document: a PDF worker is killed after it,
# and HTML parsing gives up (Python's html.parser is quadratic on some broken markup).
READ_TIMEOUT_S = 60.0
PDF_MAX_MEMORY_BYTES = 1536 * 1024 * 1024

_FORMAT_BY_SUFFIX = {
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
_SUPPORTED_LIST = ", ".join(sorted(SUPPORTED_SUFFIXES))
_MB = 1024 * 1024
# Share of control characters above which "text" is really something else.
# Real text has a handful at most (a stray form feed, an ANSI colour code).
_MAX_CONTROL_SHARE = 0.05
# Enough of a file's start to tell text from binary data without scanning 20 MB.
_BINARY_SNIFF_BYTES = 64 * 1024
# Control characters that do not belong in text (tab, newlines, \v and \f do).
_CONTROL_CHARS = re.compile("[\x00-\x08\x0e-\x1f\x7f]")
# How far into an HTML file a <meta charset> may appear (the HTML spec sniffs 1024).
_CHARSET_SNIFF_BYTES = 4096
# A PDF header may follow a little junk (some generators prepend bytes).
_PDF_HEADER_SEARCH_BYTES = 1024

_HINT_UTF8 = "Re-save it as UTF-8 (in most editors: Save As → Encoding: UTF-8) and try again."
_HINT_TYPES = f"Supported file types: {_SUPPORTED_LIST}."


@dataclass(frozen=True)
class LoadedText:
    """Plain text extracted from one document, with where it came from."""

    text: str
    source: str
    title_hint: str | None
    format: str
    raw_hash: str


@dataclass(frozen=True)
class Discovery:
    """What :func:`discover` found: files to load and why others were left out."""

    files: list[Path]
    failures: list[UnreadableDocument]
    skipped: list[tuple[Path, str]]


# --------------------------------------------------------------------------- public API


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
        raise _os_error(source, exc) from None
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
    _check_size(info.st_size, max_bytes, source)
    try:
        with path.open("rb") as handle:
            # Read one byte past the limit: the file may have grown since stat().
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise _os_error(source, exc) from None
    _check_size(len(data), max_bytes, source)
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
    _check_size(len(data), max_bytes, name)
    return _load(bytes(data), source=name, fmt=fmt, timeout_s=timeout_s)


def discover(paths: Iterable[Path]) -> Discovery:
    """Expand ``paths`` into the supported files to load, never raising for one bad path.

    Directories are searched recursively, skipping hidden files and directories
    (names starting with "."). A path given explicitly is taken as meant: a
    hidden file is accepted, but a missing file or an unsupported suffix is a
    failure rather than a silent skip.
    """
    found: set[Path] = set()
    failures: list[UnreadableDocument] = []
    skipped: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        try:
            info = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            # Also what a dangling symlink gives, which is the same problem.
            failures.append(UnreadableDocument(path, "does not exist", hint="Check the path for typos."))
            continue
        except OSError as exc:
            failures.append(_os_error(path, exc))
            continue
        if stat.S_ISDIR(info.st_mode):
            _walk(path, found, failures, skipped)
            continue
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            failures.append(_unsupported(str(path), path.suffix))
            continue
        found.add(path.resolve())
    return Discovery(
        files=sorted(found),
        failures=failures,
        skipped=sorted(skipped),
    )


# --------------------------------------------------------------------------- shared steps


def _load(data: bytes, *, source: str, fmt: str, timeout_s: float) -> LoadedText:
    raw_hash = hashlib.sha256(data).hexdigest()
    if fmt == "pdf":
        text, title = _pdf_to_text(data, source, timeout_s=timeout_s)
    elif fmt == "html":
        text, title = _html_to_text(data, source, timeout_s=timeout_s)
    elif fmt == "md":
        text, title = _md_to_text(data, source)
    else:
        text, title = _decode_text_file(data, source), None
    return LoadedText(text=text, source=source, title_hint=title, format=fmt, raw_hash=raw_hash)


def _name_part(name: str) -> str:
    """The file name part of ``name``, which may be a URL with a query string."""
    if "://" in name:
        return PurePosixPath(urlsplit(name).path).name
    return PurePosixPath(name.replace("\\", "/")).name


def _format_for(filename: str, source: str) -> str:
    suffix = PurePosixPath(filename).suffix.lower()
    fmt = _FORMAT_BY_SUFFIX.get(suffix)
    if fmt is None:
        raise _unsupported(source, suffix)
    return fmt


def _unsupported(source: str, suffix: str) -> UnreadableDocument:
    what = f"'{suffix}' files are" if suffix else "files without a suffix are"
    return UnreadableDocument(source, f"is not a supported file type ({what} not read)", hint=_HINT_TYPES)


def _os_error(source: Path | str, exc: OSError) -> UnreadableDocument:
    if isinstance(exc, PermissionError):
        return UnreadableDocument(
            source,
            "cannot be read (permission denied)",
            hint="Check its permissions for the user running statementbot.",
        )
    return UnreadableDocument(
        source,
        f"cannot be read ({exc.strerror or exc})",
        hint="Check that the file is intact and its disk is available.",
    )


def _check_size(size: int, max_bytes: int, source: str) -> None:
    if size > max_bytes:
        raise UnreadableDocument(
            source,
            f"is {_format_size(size, round_up=True)}, over the limit of "
            f"{_format_size(max_bytes)} (STATEMENTBOT_MAX_FILE_MB)",
            hint="Split it into smaller files, or raise STATEMENTBOT_MAX_FILE_MB.",
        )


def _format_size(size: int, *, round_up: bool = False) -> str:
    """Megabytes with one decimal; bytes or KB for the tiny limits tests use.

    The file size rounds up so that a file one byte over "20 MB" never reads
    as "20 MB, over the limit of 20 MB".
    """
    for unit, scale in (("MB", _MB), ("KB", 1024)):
        if size >= scale:
            value = size / scale
            value = math.ceil(value * 10) / 10 if round_up else round(value, 1)
            return f"{value:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _looks_binary(text: str) -> bool:
    """True for NUL characters anywhere, or a high share of controls near the start.

    Raw bytes are checked by decoding them as Latin-1, which maps each byte to
    the character with the same number, so the same test works for both.
    """
    if "\x00" in text:
        return True
    sample = text[:_BINARY_SNIFF_BYTES]
    controls = sum(1 for _ in _CONTROL_CHARS.finditer(sample))
    return bool(sample) and controls / len(sample) > _MAX_CONTROL_SHARE


def _binary_error(source: str) -> UnreadableDocument:
    return UnreadableDocument(
        source,
        "looks like binary data, not text",
        hint="Check you picked the right file; save documents as text, Markdown, HTML or PDF.",
    )


def _empty_error(source: str) -> UnreadableDocument:
    return UnreadableDocument(source, "is empty", hint="Add the statement's text and try again.")


def _decode_error(source: str, data: bytes, exc: UnicodeDecodeError, encoding: str) -> UnreadableDocument:
    offset = exc.start
    bad = data[offset : offset + 1].hex().upper()
    where = f"byte 0x{bad} at byte offset {offset}"
    if not encoding.startswith("UTF-16"):  # counting b"\n" is only right for 8-bit encodings
        line = data.count(b"\n", 0, offset) + 1
        where += f", line {line}"
    return UnreadableDocument(source, f"is not valid {encoding} ({where})", hint=_HINT_UTF8)


# --------------------------------------------------------------------------- txt and md


def _decode_text_file(data: bytes, source: str) -> str:
    """Decode a .txt/.md file: UTF-8, or UTF-16 when it starts with a BOM."""
    if not data.strip():
        raise _empty_error(source)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            # The "utf-16" codec reads the BOM to pick the byte order, then drops it.
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise _decode_error(source, data, exc, "UTF-16") from None
    else:
        # NUL never occurs in UTF-8 text; checking first catches images, archives
        # and UTF-16 without a BOM before they produce a confusing decode error.
        if _looks_binary(data[:_BINARY_SNIFF_BYTES].decode("latin-1")):
            raise _binary_error(source)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _decode_error(source, data, exc, "UTF-8") from None
    if _looks_binary(text):
        raise _binary_error(source)
    text = _normalise_newlines(text)
    if not text.strip():
        raise _empty_error(source)
    return text


def _md_to_text(data: bytes, source: str) -> tuple[str, str | None]:
    text, title = markdown_to_text(_decode_text_file(data, source))
    if not text:
        raise UnreadableDocument(source, "has no readable text once Markdown markup is removed", hint=_HINT_TYPES)
    return text, title


# Inline spans (emphasis, code, tags) longer than this keep their markers. The
# bound keeps every inline pattern linear, so a hostile line full of unmatched
# "*" or "<a" cannot make stripping quadratic.
_MD_SPAN_MAX = 2000
_MD_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_MD_FRONT_MATTER = re.compile(r"\A---\n[A-Za-z_][\w-]*:.*?\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_MD_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_MD_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_MD_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_MD_HR = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_MD_QUOTE = re.compile(r"^ {0,3}>[ \t]?")
_MD_BULLET = re.compile(r"^[ \t]*[-*+][ \t]+")
_MD_ORDERED = re.compile(r"^[ \t]*(\d{1,9}[.)])[ \t]+")
_MD_TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)+\|?[ \t]*$")
_MD_REF_DEF = re.compile(r"^ {0,3}\[(?!\^)[^\]]+\]:[ \t]*\S+.*$")
_MD_FOOTNOTE_DEF = re.compile(r"^ {0,3}\[\^([^\]]+)\]:[ \t]*")
_MD_CODE_SPAN = re.compile(rf"(`+)(.{{1,{_MD_SPAN_MAX}}}?)\1")
_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_MD_LINK_TARGET = r"\(\s*(?:<[^>]*>|[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"
_MD_IMAGE = re.compile(r"!\[[^\[\]]*\](?:" + _MD_LINK_TARGET + r"|\[[^\[\]]*\])")
_MD_LINK = re.compile(r"\[([^\[\]]*)\](?:" + _MD_LINK_TARGET + r"|\[[^\[\]]*\])")
_MD_FOOTNOTE_REF = re.compile(r"\[\^([^\]\s]+)\]")
_MD_AUTOLINK = re.compile(rf"<((?:[A-Za-z][A-Za-z0-9+.-]{{1,31}}:|[^<>\s@]{{1,256}}@)[^<>\s]{{0,{_MD_SPAN_MAX}}})>")
_MD_TAG = re.compile(rf"</?[A-Za-z][A-Za-z0-9-]{{0,63}}(?:\s[^<>]{{0,{_MD_SPAN_MAX}}})?/?>")
_MD_EMPHASIS = (
    # A span may not contain its own delimiter run, so each attempt stops at the
    # next delimiter and a line full of unmatched "*" is still processed linearly.
    re.compile(rf"~~(?=\S)((?:[^~]|~(?!~)){{1,{_MD_SPAN_MAX}}}?)(?<=\S)~~"),
    re.compile(rf"\*\*(?=\S)((?:[^*]|\*(?!\*)){{1,{_MD_SPAN_MAX}}}?)(?<=\S)\*\*"),
    re.compile(rf"(?<!\w)__(?=\S)((?:[^_]|_(?!_)){{1,{_MD_SPAN_MAX}}}?)(?<=\S)__(?!\w)"),
    re.compile(rf"\*(?=[^\s*])([^*]{{1,{_MD_SPAN_MAX}}}?)(?<=[^\s*])\*"),
    # Underscores inside words (snake_case) are not emphasis.
    re.compile(rf"(?<!\w)_(?=[^\s_])([^_]{{1,{_MD_SPAN_MAX}}}?)(?<=[^\s_])_(?!\w)"),
)
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
# NUL cannot appear in loaded text (it is rejected as binary), so it is a safe
# delimiter for placeholders that protect code spans and escaped characters.
_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")
_BLANK_RUNS = re.compile(r"\n{3,}")


def markdown_to_text(markdown: str) -> tuple[str, str | None]:
    """Strip Markdown markup, returning (text a reader sees, first level-1 heading).

    Headings and list items become paragraphs of their own; ordered-list
    numbers stay as written and bullets become "- ". Code keeps its content
    but loses its fences; images, comments and link targets are dropped.
    """
    markdown = _MD_COMMENT.sub("", markdown)
    markdown = _MD_FRONT_MATTER.sub("", markdown, count=1)
    renderer = _MarkdownRenderer()
    for line in markdown.split("\n"):
        renderer.feed(line.rstrip())
    text = _BLANK_RUNS.sub("\n\n", "\n".join(line.rstrip() for line in renderer.out))
    return text.strip("\n"), renderer.title


class _MarkdownRenderer:
    """Line-by-line block handling for :func:`markdown_to_text`."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.title: str | None = None
        self._fence: str | None = None
        # What the previous line was: "blank", "paragraph", "list" (an item or its
        # continuation) or "block" (heading, rule, code). Whether a line starts a
        # heading or a list depends on it.
        self._previous = "blank"
        self._in_quote = False

    def feed(self, line: str) -> None:
        fence = _MD_FENCE.match(line)
        if self._fence is not None:
            self._code_line(line, fence.group(1) if fence else "")
            return
        if fence:
            self._fence = fence.group(1)
            self._new_paragraph()
            return
        quoted = bool(_MD_QUOTE.match(line))
        while _MD_QUOTE.match(line):
            line = _MD_QUOTE.sub("", line, count=1)
        if quoted != self._in_quote:
            # Entering or leaving a block quote ends the paragraph before it.
            self._in_quote = quoted
            self._new_paragraph()
            self._previous = "blank"
        if _MD_REF_DEF.match(line) or _MD_TABLE_RULE.match(line):
            return
        if not line.strip():
            self.out.append("")
            self._previous = "blank"
            return
        setext = _MD_SETEXT.match(line)
        if setext and self._previous == "paragraph":
            # The line above was a heading, so it becomes a paragraph of its own.
            self._heading(self.out.pop(), level=1 if setext.group(1)[0] == "=" else 2)
        elif _MD_HR.match(line):
            self.out.append("")
            self._previous = "block"
        elif atx := _MD_ATX.match(line):
            self._heading(_md_inline(atx.group(2) or ""), level=len(atx.group(1)))
        else:
            self._text_line(line)

    def _new_paragraph(self) -> None:
        if self.out and self.out[-1]:
            self.out.append("")

    def _code_line(self, line: str, marker: str) -> None:
        assert self._fence is not None
        if marker[:1] == self._fence[0] and len(marker) >= len(self._fence):
            self._fence = None
            self.out.append("")
        else:
            self.out.append(line)  # code is shown as written
        self._previous = "block"

    def _heading(self, heading: str, *, level: int) -> None:
        heading = heading.strip()
        self._new_paragraph()
        self.out.extend([heading, ""])
        if self.title is None and level == 1 and heading:
            self.title = heading
        self._previous = "block"

    def _text_line(self, line: str) -> None:
        footnote = _MD_FOOTNOTE_DEF.match(line)
        bullet = _MD_BULLET.match(line)
        ordered = _MD_ORDERED.match(line)
        # As in CommonMark, only a list starting at 1 may interrupt a paragraph, so a
        # wrapped line that happens to begin "2019. " is not turned into an item.
        if ordered and self._previous == "paragraph" and int(ordered.group(1)[:-1]) != 1:
            ordered = None
        if footnote:
            line = f"[{footnote.group(1)}] " + line[footnote.end() :]
        elif bullet:
            line = "- " + line[bullet.end() :]
        elif ordered:
            line = ordered.group(1) + " " + line[ordered.end() :]
        if footnote or bullet or ordered:
            self._new_paragraph()
            self._previous = "list"
        elif self._previous != "list":
            self._previous = "paragraph"
        self.out.append(_md_inline(line))


def _md_inline(line: str) -> str:
    """Remove inline Markdown markup from one line, keeping code spans verbatim."""
    saved: list[str] = []

    def save(text: str) -> str:
        saved.append(text)
        return f"\x00{len(saved) - 1}\x00"

    def code_span(match: re.Match[str]) -> str:
        content = match.group(2)
        # CommonMark strips one space on each side so `` `x` `` can hold backticks.
        if content.startswith(" ") and content.endswith(" ") and content.strip():
            content = content[1:-1]
        return save(content)

    line = _MD_CODE_SPAN.sub(code_span, line)
    line = _MD_ESCAPE.sub(lambda m: save(m.group(1)), line)
    line = _MD_IMAGE.sub("", line)
    # Repeat so a link whose text contained another link (rare, but legal) is undone too.
    previous = None
    while previous != line:
        previous = line
        line = _MD_LINK.sub(r"\1", line)
    line = _MD_FOOTNOTE_REF.sub(r"[\1]", line)
    line = _MD_AUTOLINK.sub(r"\1", line)
    line = _MD_TAG.sub("", line)
    for pattern in _MD_EMPHASIS:
        previous = None
        while previous != line:
            previous = line
            line = pattern.sub(r"\1", line)
    line = _ENTITY.sub(lambda m: html.unescape(m.group(0)), line)
    return _PLACEHOLDER.sub(lambda m: saved[int(m.group(1))], line)


# --------------------------------------------------------------------------- html


_HTML_SKIP = frozenset(
    {
        "script", "style", "noscript", "template", "nav", "aside", "form", "svg", "math",
        "head", "title", "iframe", "object", "canvas", "audio", "video", "select", "button", "dialog",
    }
)  # fmt: skip
# Page-level header/footer are site chrome; inside an article or main element
# they belong to the content (the statement's title, its date and signature).
_HTML_CHROME = frozenset({"header", "footer"})
_HTML_CONTENT_ROOTS = frozenset({"article", "main"})
_HTML_BLOCKS = frozenset(
    {
        "address", "article", "blockquote", "br", "caption", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "ol", "p", "pre", "section", "table", "tr", "ul",
    }
)  # fmt: skip
_HTML_CELLS = frozenset({"td", "th"})
# Elements that never have an end tag, so they must never be pushed on a stack.
_HTML_VOID = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
        "param", "source", "track", "wbr",
    }
)  # fmt: skip
# HTML collapses ASCII whitespace only; U+00A0 (&nbsp;) must survive verbatim.
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
_HTML_SPACE_CHARS = " \t\n\r\f"
_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
# The HTML standard decodes these labels as windows-1252, as browsers do.
_WINDOWS_1252_ALIASES = frozenset({"ascii", "us-ascii", "iso-8859-1", "latin1", "latin-1", "iso8859-1"})


@dataclass
class _OpenList:
    tag: str  # "ol" or "ul"
    next_number: int
    kind: str  # <ol type=...>: "1", "a", "A", "i" or "I"


@dataclass
class _Block:
    parts: list[str] = field(default_factory=list)
    prefix: str = ""
    pre: bool = False


class _VisibleTextParser(HTMLParser):
    """Collect the visible text of an HTML page as a list of paragraphs."""

    def __init__(self, *, deadline: float | None = None) -> None:
        super().__init__(convert_charrefs=True)
        self._deadline = deadline
        self.paragraphs: list[str] = []
        self.title: str | None = None
        self.first_h1: str | None = None
        self._block = _Block()
        self._skip: list[str] = []  # open elements whose content is invisible
        self._lists: list[_OpenList] = []
        self._pending_prefix = ""
        self._content_depth = 0
        self._pre_depth = 0
        self._title_parts: list[str] | None = None
        self._h1_parts: list[str] | None = None

    # -- robustness against hostile markup

    def _check_deadline(self) -> None:
        # html.parser before Python 3.13.4 (CVE-2025-6069) rescans to the end of the
        # input for every unterminated "<tag" or "<!--", which is quadratic. Each
        # rescan ends in a callback, so checking the clock here bounds the damage.
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise TimeoutError

    def parse_html_declaration(self, i: int) -> int:
        """Treat declarations older Pythons cannot parse ("<![foo") as bogus comments."""
        try:
            return super().parse_html_declaration(i)
        except AssertionError:
            # Before Python 3.13, _markupbase raises AssertionError on such input;
            # browsers drop everything up to the next ">", and so do we.
            end = self.rawdata.find(">", i + 2)
            return len(self.rawdata) if end < 0 else end + 1

    # -- structure

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check_deadline()
        if tag == "title" and self.title is None and "svg" not in self._skip:
            # <title> lives in <head>, which is skipped, so capture it first.
            self._title_parts = []
            return
        if self._skip:
            if tag not in _HTML_VOID:
                self._skip.append(tag)
            return
        attributes = dict(attrs)
        hidden = "hidden" in attributes or attributes.get("aria-hidden") == "true"
        chrome = tag in _HTML_CHROME and self._content_depth == 0
        if (tag in _HTML_SKIP or hidden or chrome) and tag not in _HTML_VOID:
            self._skip.append(tag)
            return
        if tag in _HTML_CONTENT_ROOTS:
            self._content_depth += 1
        if tag in _HTML_BLOCKS:
            self._break()
        if tag == "pre":
            self._pre_depth += 1
            self._block.pre = True
        elif tag in ("ol", "ul"):
            start = _int_attr(attributes.get("start"), 1)
            self._lists.append(_OpenList(tag, start, attributes.get("type") or "1"))
        elif tag == "li":
            self._pending_prefix = self._list_marker(attributes)
        elif tag in _HTML_CELLS:
            self._block.parts.append(" ")
        elif tag == "h1" and self.first_h1 is None:
            self._h1_parts = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # "<div/>" opens nothing in HTML, so only its break (if any) matters.
        if not self._skip and tag in _HTML_BLOCKS:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        self._check_deadline()
        if tag == "title" and self._title_parts is not None:
            self.title = _collapse(self._title_parts) or None
            self._title_parts = None
            return
        if self._skip:
            if tag in self._skip:
                # Pop up to the matching element; unclosed children close with it.
                while self._skip.pop() != tag:
                    pass
            return
        if tag in _HTML_CONTENT_ROOTS and self._content_depth:
            self._content_depth -= 1
        if tag == "pre" and self._pre_depth:
            # Before the break, so the block that follows is not marked preformatted.
            self._pre_depth -= 1
        if tag in _HTML_BLOCKS:
            self._break()
        if tag in ("ol", "ul"):
            # An item left without text must not lend its marker to what follows.
            self._pending_prefix = ""
            for index in range(len(self._lists) - 1, -1, -1):
                if self._lists[index].tag == tag:
                    del self._lists[index:]
                    break
        elif tag == "h1" and self._h1_parts is not None:
            self.first_h1 = _collapse(self._h1_parts) or None
            self._h1_parts = None

    def handle_data(self, data: str) -> None:
        self._check_deadline()
        if self._title_parts is not None:
            self._title_parts.append(data)
            return
        if self._skip:
            return
        if self._h1_parts is not None:
            self._h1_parts.append(data)
        if self._pending_prefix and data.strip(_HTML_SPACE_CHARS):
            # The marker waits for the item's first text so "<li><p>x" stays one paragraph.
            self._block.prefix = self._pending_prefix
            self._pending_prefix = ""
        self._block.parts.append(data)

    def close(self) -> None:
        super().close()
        self._break()

    # -- helpers

    def _break(self) -> None:
        block = self._block
        if not block.parts:
            # Fast path: nested block tags close many empty blocks in a row.
            block.pre = self._pre_depth > 0
            return
        text = "".join(block.parts)
        text = _normalise_newlines(text).strip("\n") if block.pre else _collapse([text])
        if text.strip(_HTML_SPACE_CHARS):
            self.paragraphs.append(block.prefix + text)
        self._block = _Block(pre=self._pre_depth > 0)

    def _list_marker(self, attributes: dict[str, str | None]) -> str:
        if not self._lists or self._lists[-1].tag == "ul":
            return "- "
        current = self._lists[-1]
        number = _int_attr(attributes.get("value"), current.next_number)
        current.next_number = number + 1
        return _ordinal(number, current.kind) + ". "


def _collapse(parts: list[str]) -> str:
    return _HTML_SPACE.sub(" ", "".join(parts)).strip(_HTML_SPACE_CHARS)


def _int_attr(value: str | None, default: int) -> int:
    try:
        return int((value or "").strip())
    except ValueError:
        return default


def _ordinal(number: int, kind: str) -> str:
    """Render a list number the way a browser prints it for ``<ol type=kind>``."""
    if kind in ("a", "A") and number > 0:
        letters = ""
        while number > 0:
            number, rest = divmod(number - 1, 26)
            letters = chr(ord("a") + rest) + letters
        return letters.upper() if kind == "A" else letters
    if kind in ("i", "I") and 0 < number < 4000:
        numerals = ""
        for value, symbol in (
            (1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
            (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"),
        ):  # fmt: skip
            count, number = divmod(number, value)
            numerals += symbol * count
        return numerals.upper() if kind == "I" else numerals
    return str(number)


def html_to_text(markup: str, *, timeout_s: float | None = None) -> tuple[str, str | None]:
    """Visible text of an HTML document, and its title (``<title>`` or first ``<h1>``).

    Raises :class:`TimeoutError` when parsing takes longer than ``timeout_s``.
    """
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    parser = _VisibleTextParser(deadline=deadline)
    parser.feed(markup)
    parser.close()
    return "\n\n".join(parser.paragraphs), parser.title or parser.first_h1


def _decode_html(data: bytes, source: str) -> str:
    if data.startswith(codecs.BOM_UTF8):
        encoding, data = "utf-8", data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
            raise _binary_error(source)
        encoding = "utf-8"
        declared = _META_CHARSET.search(data[:_CHARSET_SNIFF_BYTES])
        if declared:
            label = declared.group(1).decode("ascii").lower()
            encoding = "cp1252" if label in _WINDOWS_1252_ALIASES else label
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise UnreadableDocument(
                    source,
                    f"declares an unknown character set '{label}'",
                    hint="Fix its <meta charset> tag, or re-save it as UTF-8.",
                ) from None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _decode_error(source, data, exc, encoding.upper()) from None


def _html_to_text(data: bytes, source: str, *, timeout_s: float) -> tuple[str, str | None]:
    if not data.strip():
        raise _empty_error(source)
    markup = _decode_html(data, source)
    if _looks_binary(markup):
        raise _binary_error(source)
    try:
        text, title = html_to_text(markup, timeout_s=timeout_s)
    except TimeoutError:
        raise UnreadableDocument(
            source,
            f"took longer than {timeout_s:g} s to read (badly broken HTML?)",
            hint="Open it in a browser and save it again, or save it as PDF and ingest that.",
        ) from None
    if not text:
        raise UnreadableDocument(
            source,
            "has no visible text (only markup, scripts or navigation)",
            hint="If the page builds its text with JavaScript, save it from the browser "
            "as a PDF and ingest that instead.",
        )
    return text, title


# --------------------------------------------------------------------------- pdf


# A line that is only a page number: "3", "- 3 -", "Page 3", "Page 3 of 7", "3/7".
_PAGE_NUMBER = re.compile(r"^\s*(?:[-–—]\s*)?(?:page\s+)?\d{1,3}(?:\s*(?:of|/)\s*\d{1,3})?(?:\s*[-–—])?\s*$", re.I)
# Lines at the top or bottom of a page that may be furniture (running header, footer, number).
_FURNITURE_LINES = 2


def _furniture_key(line: str) -> str:
    """The line with its numbers blanked, so "Page 2 of 5" and "Page 3 of 5" repeat."""
    return re.sub(r"\d+", "#", " ".join(line.split())).lower()


def _without_page_furniture(pages: list[str]) -> list[str]:
    """Pages without their page numbers and running headers/footers.

    A paragraph that runs over a page break would otherwise carry "2" or
    "UK-Japan Joint Statement" in the middle of its text, and in every quote of
    it. A running line is one of the first or last lines of a page that repeats
    (numbers aside) on at least half of the pages, three pages at least. The top
    of the first page keeps its running line: there it is usually the title.
    """
    split = [page.split("\n") for page in pages]
    edges: Counter[str] = Counter()
    for lines in split:
        content = [line for line in lines if line.strip()]
        edges.update({_furniture_key(line) for line in content[:_FURNITURE_LINES] + content[-_FURNITURE_LINES:]})
    running = {key for key, count in edges.items() if len(pages) >= 3 and count >= max(3, len(pages) / 2)}

    def furniture(line: str) -> bool:
        return bool(_PAGE_NUMBER.match(line)) or _furniture_key(line) in running

    cleaned = []
    for number, lines in enumerate(split):
        filled = [i for i, line in enumerate(lines) if line.strip()]
        top = filled[:_FURNITURE_LINES] if number else [i for i in filled[:1] if _PAGE_NUMBER.match(lines[i])]
        drop = {i for i in top + filled[-_FURNITURE_LINES:] if furniture(lines[i])}
        cleaned.append("\n".join(line for i, line in enumerate(lines) if i not in drop).strip("\n"))
    return cleaned


def _pdf_to_text(data: bytes, source: str, *, timeout_s: float) -> tuple[str, str | None]:
    """Extract PDF text in a resource-limited subprocess (see ``ingest._pdf_worker``)."""
    if not data.strip():
        raise _empty_error(source)
    if b"%PDF-" not in data[:_PDF_HEADER_SEARCH_BYTES]:
        # Cheap check that spares a subprocess for the common "renamed file" mistake.
        raise _invalid_pdf(source, "no %PDF- header")
    result = _run_pdf_worker(data, source, timeout_s=timeout_s)
    if not result.get("ok"):
        kind, detail = result.get("kind"), str(result.get("detail", ""))
        if kind == "encrypted":
            raise UnreadableDocument(
                source,
                f"is encrypted; decrypt it first ({detail})",
                hint="Open it with its password and save or print an unprotected copy.",
            )
        if kind == "memory":
            raise _too_complex(source, f"needs more than {_format_size(PDF_MAX_MEMORY_BYTES)} of memory")
        raise _invalid_pdf(source, detail)
    raw_pages = result.get("pages")
    if not isinstance(raw_pages, list):
        raise _too_complex(source, "could not be read: the PDF reader gave no page list")
    pages = _without_page_furniture([_normalise_newlines(str(page)).strip("\n") for page in raw_pages])
    text = "\n\n".join(page for page in pages if page.strip())
    if not text:
        raise UnreadableDocument(
            source,
            "has no extractable text (scanned image?)",
            hint="Run it through OCR (for example `ocrmypdf`) or provide a text version.",
        )
    title = result.get("title")
    return text, title if isinstance(title, str) and title else None


def _run_pdf_worker(data: bytes, source: str, *, timeout_s: float) -> dict[str, object]:
    # Run from the directory that holds the `ingest` package so `-m` finds it
    # whether or not statementbot is installed.
    package_root = Path(__file__).resolve().parent.parent
    # CPU time only runs out before the wall-clock timeout if the parent is starved,
    # but it also bounds a worker whose parent died and can no longer kill it.
    cpu_seconds = math.ceil(timeout_s) + 1
    command = [
        sys.executable,
        "-m",
        "ingest._pdf_worker",
        "--cpu-seconds",
        str(cpu_seconds),
        "--max-memory-bytes",
        str(PDF_MAX_MEMORY_BYTES),
    ]
    try:
        completed = subprocess.run(
            command,
            input=data,
            capture_output=True,
            timeout=timeout_s,
            cwd=package_root,
            check=False,
        )
    except subprocess.TimeoutExpired:
        # subprocess.run has already killed the worker.
        raise _too_complex(source, f"took longer than {timeout_s:g} s to read") from None
    try:
        result = json.loads(completed.stdout)
    except ValueError:
        result = None
    if isinstance(result, dict):
        return result
    # No report: the worker was killed (CPU or memory limit) or crashed.
    if completed.returncode < 0:
        number = -completed.returncode
        if number == getattr(signal, "SIGXCPU", None):
            raise _too_complex(source, f"took more than {cpu_seconds} s of CPU time to read")
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = str(number)
        how = f"was stopped by signal {name}"
    else:
        how = f"exited with status {completed.returncode}"
    last_error = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
    detail = f"; {last_error[0][:200]}" if last_error else ""
    raise _too_complex(source, f"could not be read: the PDF reader {how}{detail}")


def _invalid_pdf(source: str, detail: str) -> UnreadableDocument:
    return UnreadableDocument(
        source,
        f"is not a valid PDF ({detail})",
        hint="Open it in a PDF viewer to check it, or export it to PDF again.",
    )


def _too_complex(source: str, reason: str) -> UnreadableDocument:
    return UnreadableDocument(
        source,
        reason,
        hint="The PDF may be damaged or unusually complex; print it to a new PDF and try again.",
    )


# --------------------------------------------------------------------------- discovery


def _walk(
    root: Path,
    found: set[Path],
    failures: list[UnreadableDocument],
    skipped: list[tuple[Path, str]],
) -> None:
    def on_error(exc: OSError) -> None:
        failures.append(_os_error(Path(exc.filename or root), exc))

    # followlinks=False: a symlinked directory could loop or escape the tree.
    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
        base = Path(dirpath)
        # Pruning in place stops os.walk from descending into hidden directories.
        dirnames[:] = sorted(name for name in dirnames if not name.startswith("."))
        for name in sorted(filenames):
            path = base / name
            suffix = path.suffix.lower()
            if name.startswith("."):
                skipped.append((path, "hidden file"))
                continue
            if suffix not in SUPPORTED_SUFFIXES:
                kind = f"'{suffix}'" if suffix else "no suffix"
                skipped.append((path, f"unsupported file type ({kind}; supported: {_SUPPORTED_LIST})"))
                continue
            try:
                is_file = stat.S_ISREG(path.stat().st_mode)
            except OSError as exc:
                # Broken links and unsearchable directories: report, keep walking.
                failures.append(_os_error(path, exc))
                continue
            if is_file:
                found.add(path.resolve())
            else:
                skipped.append((path, "not a regular file"))
