"""Word (.docx): paragraphs read with python-docx, automatic numbering printed as Word shows it.

A statement drafted in Word numbers its paragraphs with a numbered-list style,
so the numbers are not in the text at all: they live in the numbering part
(``word/numbering.xml``). Citations need them, so each numbered paragraph gets
its number written in front ("12. ", "(b) ", "iv. "), worked out as Word does:
a counter per list and level, deeper levels restarting under a new item.
"""

from __future__ import annotations

import io
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from errors import UnreadableDocument
from ingest.loaders._common import Extracted, empty_error

# A .docx is a zip; refuse one whose parts inflate past this (a zip bomb) before parsing it.
_MAX_UNZIPPED_BYTES = 256 * 1024 * 1024
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


@dataclass
class _Level:
    fmt: str = "decimal"  # w:numFmt: decimal, lowerLetter, upperRoman, bullet, ...
    text: str = "%1."  # w:lvlText: "%1.", "(%1)", "%1.%2."
    start: int = 1


@dataclass
class _List:
    levels: dict[int, _Level]
    counters: dict[int, int] = field(default_factory=dict)


def load_docx(data: bytes, source: str, timeout_s: float) -> Extracted:
    """Text of a Word document, one paragraph per paragraph, with list numbers printed."""
    del timeout_s  # bounded by the size checks below; python-docx reads the XML once
    if not data.strip():
        raise empty_error(source)
    _check_archive(data, source)
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise UnreadableDocument(
            source,
            f"is not a valid Word document ({type(exc).__name__}: {str(exc)[:200]})",
            hint="Open it in Word or LibreOffice and save it again as .docx.",
        ) from None
    numbering = _Numbering(document)
    blocks: list[str] = []
    for element in document.element.body.iterchildren():
        if element.tag == f"{_W}p":
            text = _paragraph_text(element)
            if text.strip():
                blocks.append(numbering.marker(element) + text.strip())
        elif element.tag == f"{_W}tbl":
            for row in element.iter(f"{_W}tr"):
                cells = [" ".join(_paragraph_text(p).split()) for p in row.iter(f"{_W}p")]
                line = " ".join(cell for cell in cells if cell)
                if line:
                    blocks.append(line)
    text = "\n\n".join(blocks)
    if not text:
        raise UnreadableDocument(source, "has no text", hint="Check that the document is not only images.")
    title = (document.core_properties.title or "").strip() or None
    return Extracted(text, title_hint=title, removed=Counter())


def _check_archive(data: bytes, source: str) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise UnreadableDocument(
            source,
            "is not a valid Word document (not a .docx zip archive)",
            hint="Older .doc files must be saved as .docx first (File → Save As → Word Document).",
        ) from None
    if unzipped > _MAX_UNZIPPED_BYTES:
        raise UnreadableDocument(
            source,
            f"unpacks to {unzipped // (1024 * 1024)} MB, more than a document needs",
            hint="The file may be damaged or built to exhaust memory; save it again from Word.",
        )


def _paragraph_text(paragraph: Any) -> str:
    """Visible text of a <w:p>: runs, tabs as spaces, line breaks as new lines; deleted text left out."""
    parts: list[str] = []
    for node in paragraph.iter(f"{_W}t", f"{_W}tab", f"{_W}br", f"{_W}cr", f"{_W}delText"):
        tag = node.tag
        if tag == f"{_W}t":
            parts.append(node.text or "")
        elif tag == f"{_W}tab":
            parts.append("\t")
        elif tag in (f"{_W}br", f"{_W}cr"):
            parts.append("\n")
    return "".join(parts)


class _Numbering:
    """Counters for Word's automatic numbering, resolved through num → abstractNum → level."""

    def __init__(self, document: Any) -> None:
        self._lists: dict[str, _List] = {}
        self._styles: dict[str, tuple[str, int]] = {}
        try:
            part = document.part.numbering_part
        except (KeyError, NotImplementedError):
            part = None
        abstract: dict[str, dict[int, _Level]] = {}
        self._nums: dict[str, dict[int, _Level]] = {}
        if part is not None:
            root = part.element
            for node in root.iterchildren(f"{_W}abstractNum"):
                abstract[node.get(f"{_W}abstractNumId")] = {
                    int(lvl.get(f"{_W}ilvl", "0")): _level(lvl) for lvl in node.iterchildren(f"{_W}lvl")
                }
            for num in root.iterchildren(f"{_W}num"):
                ref = num.find(f"{_W}abstractNumId")
                levels = dict(abstract.get(ref.get(f"{_W}val") if ref is not None else "", {}))
                for override in num.iterchildren(f"{_W}lvlOverride"):
                    ilvl = int(override.get(f"{_W}ilvl", "0"))
                    base = levels.get(ilvl, _Level())
                    start = override.find(f"{_W}startOverride")
                    lvl = override.find(f"{_W}lvl")
                    if lvl is not None:
                        base = _level(lvl)
                    if start is not None:
                        base = _Level(base.fmt, base.text, int(start.get(f"{_W}val", "1")))
                    levels[ilvl] = base
                self._nums[num.get(f"{_W}numId")] = levels
        # A paragraph style may carry the numbering ("List Number"), so paragraphs inherit it.
        for style in document.styles.element.iterchildren(f"{_W}style"):
            num_pr = style.find(f"{_W}pPr/{_W}numPr")
            if num_pr is not None:
                found = _num_pr(num_pr)
                if found[0]:
                    self._styles[style.get(f"{_W}styleId")] = (found[0], found[1] or 0)

    def marker(self, paragraph: Any) -> str:
        num_id, ilvl = None, None
        num_pr = paragraph.find(f"{_W}pPr/{_W}numPr")
        if num_pr is not None:
            num_id, ilvl = _num_pr(num_pr)
        style = paragraph.find(f"{_W}pPr/{_W}pStyle")
        if num_id is None and style is not None:
            num_id, style_level = self._styles.get(style.get(f"{_W}val"), (None, 0))
            ilvl = ilvl if ilvl is not None else style_level
        # numId 0 means "numbering switched off" for this paragraph.
        if not num_id or num_id == "0" or num_id not in self._nums:
            return ""
        level = ilvl or 0
        current = self._lists.setdefault(num_id, _List(self._nums[num_id]))
        definition = current.levels.get(level, _Level())
        current.counters[level] = current.counters.get(level, definition.start - 1) + 1
        for deeper in [key for key in current.counters if key > level]:
            del current.counters[deeper]  # a new item restarts the levels under it
        if definition.fmt == "bullet":
            return "- "
        if definition.fmt == "none":
            return ""
        text = definition.text
        for index in range(level, -1, -1):
            value = current.counters.get(index, current.levels.get(index, _Level()).start)
            fmt = current.levels.get(index, _Level()).fmt
            text = text.replace(f"%{index + 1}", _format_number(value, fmt))
        return text.strip() + " " if text.strip() else ""


def _num_pr(num_pr: Any) -> tuple[str | None, int | None]:
    num_id = num_pr.find(f"{_W}numId")
    ilvl = num_pr.find(f"{_W}ilvl")
    return (
        num_id.get(f"{_W}val") if num_id is not None else None,
        int(ilvl.get(f"{_W}val", "0")) if ilvl is not None else None,
    )


def _level(lvl: Any) -> _Level:
    def value(name: str, default: str) -> str:
        node = lvl.find(f"{_W}{name}")
        return node.get(f"{_W}val", default) if node is not None else default

    try:
        start = int(value("start", "1"))
    except ValueError:
        start = 1
    return _Level(fmt=value("numFmt", "decimal"), text=value("lvlText", "%1."), start=start)


def _format_number(number: int, fmt: str) -> str:
    """A counter as Word prints it for ``w:numFmt``."""
    from ingest.loaders.html import _ordinal

    kinds = {"lowerLetter": "a", "upperLetter": "A", "lowerRoman": "i", "upperRoman": "I"}
    if fmt in kinds:
        return _ordinal(number, kinds[fmt])
    return str(number)
