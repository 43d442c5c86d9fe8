"""PDF: positioned text lines from a limited subprocess, then page furniture removed by layout.

A typeset statement repeats a running header and a footer ("Page 2 of 4") on
every page, and its page breaks fall mid-sentence. Read as a stream of text,
that furniture lands inside paragraphs ("…in a focused Page 2 of 4 initiative…")
or before the first one as an invented preamble. The worker
(:mod:`ingest._pdf_worker`) reports each line with its position and type size,
so furniture is found by where it sits and how it repeats, and the title by the
size of its type.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

from errors import UnreadableDocument
from ingest.loaders._common import Extracted, empty_error, format_size
from ingest.parser import numbered_sequence

PDF_MAX_MEMORY_BYTES = 1536 * 1024 * 1024
# A PDF header may follow a little junk (some generators prepend bytes).
_PDF_HEADER_SEARCH_BYTES = 1024

# A line that is only a page number: "3", "- 3 -", "Page 3", "Page 3 of 7", "3/7", "p. 3", "iv".
_PAGE_NUMBER = re.compile(
    r"^\s*[-–—(\[]?\s*(?:(?:page|p\.|pg\.?|seite|página|pagina)\s*)?"
    r"(?:\d{1,4}|[ivxlc]{1,7})(?:\s*(?:of|/|von|de|sur)\s*\d{1,4})?\s*[-–—)\]]?\s*$",
    re.IGNORECASE,
)
# The first and last lines of a page are where headers and footers sit in reading order…
_EDGE_LINES = 2
# …and anything in the top or bottom margin of the page is in their band whatever its order.
_BAND_SHARE = 0.08
# A running line repeats (numbers aside) on at least this share of the pages, and on two pages at least.
_RUNNING_SHARE = 0.5
# A title is set larger than the body; a line this much larger than the median is display type.
_TITLE_SIZE_RATIO = 1.15
# A vertical gap this many line heights larger than the usual one between lines starts a new paragraph.
_PARAGRAPH_GAP_LINES = 0.5
# A line ends a sentence when it ends in one of these (closing quotes and brackets allowed).
_SENTENCE_END = re.compile(r"[.!?:;][\"'”’)\]]*\s*$")
REMOVED_FURNITURE = "header/footer lines"


@dataclass(frozen=True)
class _Line:
    text: str
    top: float
    bottom: float
    size: float
    page: int
    index: int  # order on its page


def load_pdf(data: bytes, source: str, timeout_s: float) -> Extracted:
    """Extract PDF text in a resource-limited subprocess (see ``ingest._pdf_worker``)."""
    if not data.strip():
        raise empty_error(source)
    if b"%PDF-" not in data[:_PDF_HEADER_SEARCH_BYTES]:
        # Cheap check that spares a subprocess for the common "renamed file" mistake.
        raise _invalid_pdf(source, "no %PDF- header")
    result = _run_pdf_worker(data, source, timeout_s=timeout_s)
    if not result.get("ok"):
        kind, detail = result.get("kind"), str(result.get("detail", ""))
        if kind == "encrypted":
            raise UnreadableDocument(
                source,
                f"needs a password to open ({detail})",
                hint="Open it with its password, save a copy without one (for example Print → Save as PDF), "
                "and ingest that copy.",
            )
        if kind == "memory":
            raise _too_complex(source, f"needs more than {format_size(PDF_MAX_MEMORY_BYTES)} of memory")
        raise _invalid_pdf(source, detail)
    raw_pages = result.get("pages")
    if not isinstance(raw_pages, list):
        raise _too_complex(source, "could not be read: the PDF reader gave no page list")
    pages = [_lines(page, number) for number, page in enumerate(raw_pages)]
    metadata_title = result.get("title")
    extracted = lay_out(pages, metadata_title if isinstance(metadata_title, str) and metadata_title else None)
    if not extracted.text:
        raise UnreadableDocument(
            source,
            "has no extractable text (scanned image?)",
            hint="Run it through OCR (for example `ocrmypdf`) or provide a text version.",
        )
    return extracted


def _lines(page: Any, number: int) -> tuple[float, list[_Line]]:
    height = float(page.get("height") or 0.0) if isinstance(page, dict) else 0.0
    raw = page.get("lines", []) if isinstance(page, dict) else []
    lines = [
        _Line(
            text=str(item["text"]),
            top=float(item["top"]),
            bottom=float(item["bottom"]),
            size=float(item["size"]),
            page=number,
            index=index,
        )
        for index, item in enumerate(raw)
        if str(item.get("text", "")).strip()
    ]
    return height, lines


def _furniture_key(line: str) -> str:
    """The line with its numbers blanked, so "Page 2 of 5" and "Page 3 of 5" repeat."""
    return re.sub(r"\d+", "#", " ".join(line.split())).lower()


def _in_band(line: _Line, lines: list[_Line], height: float) -> bool:
    """Whether a line sits where headers and footers do: at a page's edge, in order or in position."""
    edge = line.index < _EDGE_LINES or line.index >= len(lines) - _EDGE_LINES
    margin = height > 0 and (line.bottom < height * _BAND_SHARE or line.top > height * (1 - _BAND_SHARE))
    return edge or margin


def lay_out(pages: list[tuple[float, list[_Line]]], metadata_title: str | None) -> Extracted:
    """Text without page furniture, paragraphs split by spacing, and the title.

    Furniture is a line in a page's header or footer band that is a page number
    ("3", "- 3 -", "Page 3 of 7", "3/7") or repeats, numbers aside, on at least
    half of the pages. A line that starts a numbered paragraph in sequence is
    never furniture, however alike the paragraphs look. Every removed line is
    counted, so the ingest report can say what was left out.
    """
    everything = [line for _height, lines in pages for line in lines]
    # Line order across the whole document, for telling numbered paragraphs from furniture.
    protected = {id(everything[i]) for i in numbered_sequence([line.text for line in everything])}
    in_band = {id(line) for height, lines in pages for line in lines if _in_band(line, lines, height)}
    pages_with: Counter[str] = Counter()
    for _height, lines in pages:
        pages_with.update({_furniture_key(line.text) for line in lines if id(line) in in_band})
    threshold = max(2, math.ceil(len(pages) * _RUNNING_SHARE))
    running = {key for key, count in pages_with.items() if len(pages) >= 2 and count >= threshold}

    def furniture(line: _Line) -> bool:
        if id(line) in protected or id(line) not in in_band:
            return False
        return bool(_PAGE_NUMBER.match(line.text)) or _furniture_key(line.text) in running

    removed: Counter[str] = Counter()
    body: list[_Line] = []
    for line in everything:
        if furniture(line):
            removed[REMOVED_FURNITURE] += 1
        else:
            body.append(line)
    title_lines = _title_lines(body)
    title = " ".join(" ".join(line.text for line in title_lines).split()) or None
    in_title = {id(line) for line in title_lines}
    rest = [line for line in body if id(line) not in in_title]
    text = _join(rest)
    if title:
        text = f"{title}\n\n{text}" if text else title
    return Extracted(
        text=text,
        title=title,
        # Never the running header: it names a series or a section as often as the statement.
        # Without display type or /Title the parser takes the first body line when it reads
        # as a title, else the document id (from the file name).
        title_hint=metadata_title,
        removed=removed,
    )


def _title_lines(body: list[_Line]) -> list[_Line]:
    """The first page's run of lines in the largest type, when it is larger than the text's."""
    first_page = [line for line in body if line.page == 0]
    if not first_page:
        return []
    usual = median(line.size for line in body)
    largest = max(line.size for line in first_page)
    if largest < usual * _TITLE_SIZE_RATIO:
        return []
    start = next(i for i, line in enumerate(first_page) if line.size >= largest - 0.5)
    end = start
    while end + 1 < len(first_page) and first_page[end + 1].size >= largest - 0.5:
        end += 1
    return first_page[start : end + 1]


def _join(lines: list[_Line]) -> str:
    """Lines joined into text; a wider gap, a change of type size or a page break after a sentence is a blank line.

    A page break after an unfinished sentence is not: the sentence carries on
    at the top of the next page.
    """
    if not lines:
        return ""
    gaps = [b.top - a.bottom for a, b in itertools.pairwise(lines) if a.page == b.page]
    usual_gap = median(gaps) if gaps else 0.0
    out = [lines[0].text]
    for previous, line in itertools.pairwise(lines):
        if previous.page != line.page:
            new_paragraph = bool(_SENTENCE_END.search(previous.text))
        else:
            height = max(previous.bottom - previous.top, 1.0)
            wide_gap = line.top - previous.bottom > usual_gap + _PARAGRAPH_GAP_LINES * height
            new_paragraph = wide_gap or abs(line.size - previous.size) > 0.5
        out.append("\n\n" if new_paragraph else "\n")
        out.append(line.text)
    return "".join(out).strip("\n")


def _run_pdf_worker(data: bytes, source: str, *, timeout_s: float) -> dict[str, object]:
    # Run from the directory that holds the `ingest` package so `-m` finds it
    # whether or not statementbot is installed.
    package_root = Path(__file__).resolve().parents[2]
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
