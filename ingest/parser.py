"""Recover a statement's structure: title, date, preamble and numbered paragraphs.

Statements reach us with page breaks and hard wraps in the middle of sentences,
so a paragraph runs from its printed number to the next number in sequence, not
to the next blank line. Only statements with no numbering at all fall back to
blank-line paragraphs, labelled by position.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath
from typing import TYPE_CHECKING

from errors import UnreadableDocument
from ingest.models import (
    PREAMBLE_LABEL,
    Chunk,
    Document,
    Paragraph,
    content_hash,
    fold_whitespace,
    slugify,
)
from ingest.sentences import split_sentences
from ingest.text import MONTH_PATTERN, MONTHS, without_silent_characters

if TYPE_CHECKING:  # the loaders import this module (for numbered_sequence), so only for types
    from ingest.loaders import LoadedText

_DATE_PATTERNS = (
    (re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+{MONTH_PATTERN}\s+(\d{{4}})\b", re.I), "dmy"),
    (re.compile(rf"\b{MONTH_PATTERN}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I), "mdy"),
    (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), "iso"),
)

# "12. text", "12) text", "(12) text", "12.\ttext", or "12." alone on its line
# (PDFs often put the number apart). The number must be followed by white space
# so "2025. " inside a wrapped sentence is rarely mistaken, and numbers must run
# in sequence (checked below) so stray ones are ignored.
_NUMBER_MARKER = re.compile(r"^\s*(?:\((\d{1,3})\)|(\d{1,3})[.)])(?:\s+(?=\S)|\s*$)")
_BULLET_MARKER = re.compile(r"^\s*[-•*–]\s+(?=\S)")

MAX_TITLE_CHARS = 200
MAX_DATE_LINE_CHARS = 40


def parse_date(text: str) -> date | None:
    """The first date written in `text` ("28 August 2025", "August 28, 2025", ISO)."""
    best: tuple[int, date] | None = None
    for pattern, order in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            try:
                if order == "dmy":
                    found = date(int(match[3]), MONTHS[match[2].lower().rstrip(".")], int(match[1]))
                elif order == "mdy":
                    found = date(int(match[3]), MONTHS[match[1].lower().rstrip(".")], int(match[2]))
                else:
                    found = date(int(match[1]), int(match[2]), int(match[3]))
            except (ValueError, KeyError):
                continue
            if best is None or match.start() < best[0]:
                best = (match.start(), found)
            break
    return best[1] if best else None


@dataclass
class _Block:
    label: str | None  # printed number, or None for unnumbered text
    lines: list[str]


# A marker run into the end of the previous paragraph's last line ("...Blue Pacific.  28.  The
# leaders..."): after a sentence's end and before a capital letter, so "in 2023. 28 of..." and
# "Article 5. The" are not split.
_INLINE_MARKER = r"(?<=[.!?;:\"”’)])\s+({number})\.\s+(?=[\"“‘(]?[A-Z])"
# A marker mistyped at the start of a line: "11, We are" or "24.We welcome" (a published G7 communiqué).
_LOOSE_MARKER = r"^\s*({number})[.,;:]?\s*(?=[\"“‘(]?[A-Z])"


def _repair_missing_markers(lines: list[str]) -> list[str]:
    """Restore a paragraph number the publisher mistyped or ran into the line above.

    Only the one number missing from a run of line-start markers is looked for
    ("10." ... "12." with no "11." at a line start), between its neighbours,
    and only when it occurs there once: the numbering itself says where to
    look. At a line start in a loose form ("11, We", "24.We") the marker is
    written out properly; run into a line after a sentence's end, the line is
    split before it.
    """
    starts: dict[int, int] = {}
    for index, line in enumerate(lines):
        match = _NUMBER_MARKER.match(line)
        if match and match[2] and match[0].strip().endswith(".") and int(match[2]) not in starts:
            starts[int(match[2])] = index
    repaired: dict[int, list[str]] = {}  # line index -> the lines it becomes
    for number, index in starts.items():
        before = starts.get(number - 2)
        if number - 1 in starts or before is None or before >= index:
            continue
        loose = re.compile(_LOOSE_MARKER.format(number=number - 1))
        at_start = [(i, m) for i in range(before + 1, index) if (m := loose.match(lines[i]))]
        if len(at_start) == 1:
            line_index, match = at_start[0]
            repaired[line_index] = [f"{number - 1}. {lines[line_index][match.end() :]}"]
            continue
        inline = re.compile(_INLINE_MARKER.format(number=number - 1))
        found = [(i, m) for i in range(before, index) for m in inline.finditer(lines[i])]
        if len(found) == 1:
            line_index, match = found[0]
            line = lines[line_index]
            repaired[line_index] = [line[: match.start(1)].rstrip(), line[match.start(1) :]]
    if not repaired:
        return lines
    return [part for index, line in enumerate(lines) for part in repaired.get(index, [line])]


def _marker_style(match: re.Match[str]) -> str:
    """'(n)', 'n)' or 'n.': paragraphs are numbered in one style throughout."""
    return "(n)" if match[1] else "n" + match[0].strip()[-1]


def numbered_sequence(lines: list[str]) -> dict[int, str]:
    """Line index -> paragraph label, for markers that continue 1, 2, 3, ...

    Each marker style is followed on its own. The paragraphs' numbering is the
    run that starts first, so a sub-list "(1) ... (2) ..." inside paragraph 1.
    does not take over; a short list that ends before a longer run starts (a
    list in the preamble) gives way to it.

    Some statements restart at 1 under each section heading or in an annex.
    A "1." right after a heading starts a new run of the same numbering; its
    paragraphs are labelled ``<part>.<n>``, where the part is the heading's own
    letter or Roman numeral ("II. Economy" -> ``II.3``) or else the run's
    ordinal (the third run's paragraph 2 is ``3.2``). The first run keeps plain
    labels, so statements numbered once are labelled exactly as printed. A run
    after a heading that gives way when the run before it carries on ("4." after
    "1. 2.") was a list inside a paragraph, and stays that paragraph's text.
    """
    sequences: dict[str, list[dict[int, int]]] = {}
    for index, line in enumerate(lines):
        match = _NUMBER_MARKER.match(line)
        if not match:
            continue
        runs = sequences.setdefault(_marker_style(match), [])
        number = int(match[1] or match[2])
        if not runs:
            if number == 1:
                runs.append({index: 1})
        elif number == len(runs[-1]) + 1:
            runs[-1][index] = number
        elif number == 1 and _heading_before(lines, max(runs[-1]), index) is not None:
            runs.append({index: 1})
        elif number > 1 and len(runs) >= 2 and number == len(runs[-2]) + 1:
            runs.pop()  # the restarted "run" was a list inside the paragraph above
            runs[-1][index] = number
    # A lone "1." is more likely a list inside prose than numbering, and so are
    # one-item lists after each heading ("1. Judge A ... Heading ... 1. Judge B"):
    # numbering counts on to "2." somewhere.
    candidates = sorted(
        (runs for runs in sequences.values() if runs and max(map(len, runs)) >= 2), key=lambda runs: min(runs[0])
    )
    if not candidates:
        return {}
    chosen = candidates[0]
    for runs in candidates[1:]:
        if max(chosen[-1]) < min(runs[0]) and sum(map(len, runs)) >= sum(map(len, chosen)):
            chosen = runs
    return _labelled(lines, chosen)


def _labelled(lines: list[str], runs: list[dict[int, int]]) -> dict[int, str]:
    """Labels for the runs of one numbering: plain for the first, qualified by their part after it."""
    labels = {index: str(number) for index, number in runs[0].items()}
    used: set[str] = set()
    for ordinal, run in enumerate(runs[1:], start=2):
        first = min(run)
        previous = max(index for index in labels if index < first)
        part = _heading_before(lines, previous, first) or ""
        prefix = part if part and part not in used else str(ordinal)
        used.add(prefix)
        labels.update({index: f"{prefix}.{number}" for index, number in run.items()})
    return labels


def _heading_before(lines: list[str], previous: int, index: int) -> str | None:
    """For a "1." at ``index``: "" when headings set it off from the paragraph at ``previous``, None when none do.

    A heading's own part letter or Roman numeral ("B. Trade", "IV) Annex") is
    returned instead of "" so the run can be named after it.
    """
    groups = _groups([_strip_marker(lines[previous]), *lines[previous + 1 : index]])
    headings: list[list[str]] = []
    while len(groups) > 1 and _is_heading(groups[-1]):
        headings.insert(0, groups.pop())
    if not headings:
        return None
    for line in (line for group in headings for line in group):
        part = _PART_HEADING.match(line)
        if part:
            return part[1]
    return ""


def _strip_marker(line: str) -> str:
    return _NUMBER_MARKER.sub("", line, count=1)


def _header(lines: list[str], title_hint: str | None) -> tuple[str | None, int]:
    """The title line and how many leading lines belong to the header."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return title_hint, 0
    candidate = lines[first].strip()
    looks_like_title = (
        len(candidate) <= MAX_TITLE_CHARS
        and not _NUMBER_MARKER.match(candidate)
        and not _BULLET_MARKER.match(candidate)
        and not _is_date_line(candidate)
        and not candidate.endswith((".", ",", ";", ":"))
    )
    if looks_like_title:
        return candidate, first + 1
    return title_hint, first


def _is_date_line(line: str) -> bool:
    """A short line that is a date ("28 August 2025", "Published 3 May 2024")."""
    return len(line) <= MAX_DATE_LINE_CHARS and parse_date(line) is not None


def _skip_date_line(lines: list[str], start: int) -> int:
    """Skip a line that holds only a date, right under the title."""
    for index in range(start, len(lines)):
        line = lines[index].strip()
        if not line:
            continue
        return index + 1 if _is_date_line(line) else start
    return start


# A line ends a sentence when it ends in one of these (closing quotes and brackets allowed).
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s*$")
# Headings end in a word; a line ending in any punctuation ("agreed to:") is text.
_ENDS_IN_PUNCTUATION = re.compile(r"[.!?:;,][\"'”’)\]]*\s*$")
# A part heading: "A. Toward a more secure world", "II. Economy", "B) Trade".
_PART_HEADING = re.compile(r"^\s*([A-Z]|[IVXLC]{1,6})[.)]\s+\S")
# Words a title-case heading leaves in lower case ("Situation in the Middle East").
_MINOR_WORDS = frozenset("a an and as at but by for from in into of on or over the to under upon with via vs".split())
MAX_HEADING_CHARS = 80


def _groups(lines: list[str]) -> list[list[str]]:
    """Runs of non-blank lines."""
    groups: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            groups[-1].append(line)
        elif groups[-1]:
            groups.append([])
    return [group for group in groups if group]


def _list_inside_prose(lines: list[str], markers: dict[int, str]) -> bool:
    """Whether the numbering found is a list inside unnumbered prose, not the paragraphs' numbering.

    A statement's numbering runs to its end: what follows the last numbered
    paragraph is that paragraph, perhaps with a few closing lines. When more
    paragraphs of their own follow it than the numbering has items (a five-item
    list near the top of a 100,000-character page of quotes), the numbers
    belong to a list, and the statement is read by its blank lines instead. A
    block of text after a blank line is a paragraph of its own only when the
    block before it ended a sentence (or was a heading) and it starts with a
    capital (or is a list item): a page break in the middle of a sentence
    does not start one.
    """
    blocks = _groups(lines[max(markers) :])  # the first is the last numbered paragraph's start
    own = 0
    for previous, block in itertools.pairwise(blocks):
        if _is_heading(block):
            continue
        if _BULLET_MARKER.match(block[0]):
            own += 1  # a list item is a paragraph of its own when read by blank lines
            continue
        ended = _is_heading(previous) or previous[-1].rstrip().endswith(_SENTENCE_ENDS)
        own += ended and block[0].lstrip(' *_"“‘(')[:1].isupper()
    return own > len(markers)


_SENTENCE_ENDS = (".", "!", "?", ":", ";", '"', "”", "’", ")")


def _heading_line(line: str) -> bool:
    """Short, capitalised, without sentence punctuation: "Indo-Pacific", "ENDS"; never a list item."""
    stripped = line.strip()
    return (
        bool(stripped)
        and len(stripped) <= MAX_HEADING_CHARS
        and stripped[0].isupper()
        and not _ENDS_IN_PUNCTUATION.search(stripped)
    )


def _strong_heading_line(line: str) -> bool:
    """A heading line by its own shape, whatever comes before it.

    Lettered or Roman part headings ("A. …", "II. …"), lines in capitals, and
    title-case lines (every word but the small ones capitalised) are never the
    end of a sentence that runs on, so they are layout even after a paragraph
    that lacks its final full stop.
    """
    if not _heading_line(line):
        return False
    stripped = line.strip()
    if _PART_HEADING.match(stripped):
        return True
    letters = [char for char in stripped if char.isalpha()]
    if len(letters) >= 2 and all(char.isupper() for char in letters):
        return True
    words = [word for word in re.findall(r"[^\W\d_][\w'’-]*", stripped) if word.lower() not in _MINOR_WORDS]
    return len(words) >= 2 and all(word[0].isupper() for word in words)


def _is_heading(group: list[str]) -> bool:
    """Any run of consecutive heading lines: "Indo-Pacific", or "A. SECURITY" over "Situation in Ukraine"."""
    return all(_heading_line(line) for line in group)


def _without_trailing_headings(lines: list[str], *, before_paragraph: bool, keep: int = 1) -> list[str]:
    """A paragraph's lines without the section headings set off after it.

    Communiqués put headings ("Ukraine", "A. TOWARD A MORE SECURE WORLD")
    between numbered paragraphs; they are layout, not the text of the
    paragraph above. A heading is a blank-line-separated group of heading lines.
    It is taken for one when the paragraph above ends a sentence, when it is a
    heading by its own shape, or when the next numbered paragraph follows it
    (``before_paragraph``): a sentence never runs on into a new paragraph.
    A page break mid-sentence ("...support for Ukraine in" / "defending its
    freedom...") is never taken for a heading: the text after it is not one.
    ``keep`` groups always stay: a numbered paragraph's first group holds its text.
    """
    groups = _groups(lines)
    while len(groups) > keep and _is_heading(groups[-1]):
        shaped = before_paragraph or all(_strong_heading_line(line) for line in groups[-1])
        if not (shaped or (len(groups) >= 2 and _SENTENCE_END.search(groups[-2][-1]))):
            break
        groups.pop()
    # Blank lines between the groups need not survive: a paragraph's lines are folded into one.
    return [line for group in groups for line in group]


def _blocks_numbered(lines: list[str], markers: dict[int, str]) -> list[_Block]:
    blocks: list[_Block] = [_Block(PREAMBLE_LABEL, [])]
    for index, line in enumerate(lines):
        if index in markers:
            blocks.append(_Block(markers[index], [_strip_marker(line)]))
        else:
            blocks[-1].lines.append(line)
    for number, block in enumerate(blocks):
        # The preamble may be headings only ("A. PEACE AND SECURITY" above paragraph 1).
        block.lines = _without_trailing_headings(
            block.lines, before_paragraph=number + 1 < len(blocks), keep=0 if number == 0 else 1
        )
    return blocks


def _blocks_by_blank_lines(lines: list[str]) -> list[_Block]:
    """Blank-line paragraphs; each "- item" of a list is a paragraph of its own.

    Section headings ("Defence cooperation") are not paragraphs: counted, they
    would shift every position label after them away from the reader's count.
    A list item is never taken for a heading.
    """
    blocks: list[tuple[_Block, bool]] = []
    current: list[str] = []
    current_is_item = False
    for line in [*lines, ""]:
        bullet = _BULLET_MARKER.match(line)
        if (not line.strip() or bullet) and current:
            blocks.append((_Block(None, current), current_is_item))
            current = []
        if line.strip():
            if not current:
                current_is_item = bool(bullet)
            # The bullet is layout, like a paragraph number: the text starts after it.
            current.append(line[bullet.end() :] if bullet else line)
    paragraphs = [block for block, is_item in blocks if is_item or not _is_heading(block.lines)]
    return paragraphs or [block for block, _ in blocks]


def _document_id(source: str, title: str | None, override: str | None) -> str:
    if override:
        slug = slugify(override)
        if not slug:
            raise UnreadableDocument(source, f"document id {override!r} has no usable characters")
        return slug
    stem = PurePath(source.split("?", maxsplit=1)[0]).stem if source else ""
    return slugify(stem) or slugify(title or "") or "statement-" + content_hash(source)[:8]


def _given_title(lines: list[str], title: str) -> int:
    """How many leading lines to skip when the title is known: the title line itself, if the text repeats it."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and fold_whitespace(lines[first]).casefold() == fold_whitespace(title).casefold():
        return first + 1
    return 0


def parse_statement(
    text: str,
    *,
    source: str,
    title_hint: str | None = None,
    doc_id: str | None = None,
    title: str | None = None,
    published: date | None = None,
    url: str | None = None,
) -> Document:
    """Parse a statement's plain text into a Document with its own numbering.

    ``title`` and ``published`` are facts the file states as data (front
    matter, page metadata) and are taken as given; otherwise the title is the
    first line when it looks like one (``title_hint`` when it does not) and the
    date the first one written near the top.
    """
    text = without_silent_characters(text)
    title = without_silent_characters(title) if title else title
    title_hint = without_silent_characters(title_hint) if title_hint else title_hint
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not any(line.strip() for line in lines):
        raise UnreadableDocument(source, "is empty")
    if title:
        body_start = _given_title(lines, title)
    else:
        title, body_start = _header(lines, title_hint)
    body_start = _skip_date_line(lines, body_start)
    body = _repair_missing_markers(lines[body_start:])
    markers = numbered_sequence(body)
    if markers and _list_inside_prose(body, markers):
        markers = {}
    numbered = bool(markers)
    if numbered:
        blocks = _blocks_numbered(body, markers)
    else:
        blocks = _blocks_by_blank_lines(body)
        for position, block in enumerate(blocks, start=1):
            block.label = str(position)
    resolved_id = _document_id(source, title, doc_id)
    paragraphs: list[Paragraph] = []
    for block in blocks:
        folded = fold_whitespace(" ".join(block.lines))
        if not folded:
            continue
        paragraphs.append(
            Paragraph(
                doc_id=resolved_id,
                label=block.label or str(len(paragraphs) + 1),
                position=len(paragraphs),
                text=folded,
                sentences=split_sentences(folded),
            )
        )
    if not paragraphs:
        raise UnreadableDocument(source, "has a title but no paragraphs")
    header_text = "\n".join(lines[: body_start + 3])
    fingerprint = content_hash("\n".join(f"{p.label}\t{p.text}" for p in paragraphs))
    return Document(
        id=resolved_id,
        title=title or resolved_id,
        date=published or parse_date(header_text) or parse_date(text[:5000]),
        source=source,
        content_hash=fingerprint,
        paragraphs=tuple(paragraphs),
        numbered=numbered,
        url=url,
    )


def parse_loaded(loaded: LoadedText, *, doc_id: str | None = None) -> Document:
    """Parse what a loader returned, with the title, date and link it found as data."""
    return parse_statement(
        loaded.text,
        source=loaded.source,
        title_hint=loaded.title_hint,
        doc_id=doc_id,
        title=loaded.title,
        published=loaded.date,
        url=loaded.url,
    )


def approximate_tokens(text: str) -> int:
    """Rough word-piece count (MiniLM averages ~1.3 pieces per English word)."""
    return int(len(text.split()) * 1.3) + 2


def chunk_paragraph(
    paragraph: Paragraph,
    *,
    max_tokens: int = 240,
    count_tokens: Callable[[str], int] = approximate_tokens,
) -> list[Chunk]:
    """One chunk per paragraph, or overlapping sentence windows for long ones.

    The embedding window of MiniLM is 256 word pieces; anything past it is
    silently ignored by the model, so long paragraphs are split into windows of
    whole sentences that overlap by one sentence and keep the paragraph label.
    """
    sentences = paragraph.sentence_texts() or [paragraph.text]
    if count_tokens(paragraph.text) <= max_tokens or len(sentences) == 1:
        return [Chunk(paragraph, 0, paragraph.text, (0, len(sentences)))]
    chunks: list[Chunk] = []
    start = 0
    while start < len(sentences):
        end = start + 1
        while end < len(sentences) and count_tokens(" ".join(sentences[start : end + 1])) <= max_tokens:
            end += 1
        chunks.append(Chunk(paragraph, len(chunks), " ".join(sentences[start:end]), (start, end)))
        if end >= len(sentences):
            break
        start = max(end - 1, start + 1)  # one sentence of overlap keeps context across windows
    return chunks


def chunk_document(
    document: Document, *, max_tokens: int = 240, count_tokens: Callable[[str], int] = approximate_tokens
) -> list[Chunk]:
    return [
        chunk
        for paragraph in document.paragraphs
        for chunk in chunk_paragraph(paragraph, max_tokens=max_tokens, count_tokens=count_tokens)
    ]
