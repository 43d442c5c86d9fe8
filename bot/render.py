"""How answers, citations, ingest reports and errors become text: one layout for every front end.

The terminal (`statementbot ask`, `chat`, `ingest`) shows it plain; Discord passes its own
`Markup` (bold, code spans, escaping, file names only) and wraps the text in messages and
embeds (`bot/discord/formatting.py`). Nothing here imports discord or writes anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from errors import DocumentIdConflict, StatementbotError, UnknownDocument, UnknownParagraph
from ingest.display import shown
from prompts import CLOSEST_HEADING

if TYPE_CHECKING:
    from qa.types import Answer, Citation
    from vectorstore.indexing import IngestReport

SOURCES_HEADING = "Sources"
FALLBACK_MARK = "checked: fell back to extractive answer"
NO_DOCUMENTS = "No documents ingested yet. Run `statementbot ingest PATH`."
QUOTE_CHARS = 600  # a terminal quote longer than this is cut at a word (the whole paragraph: `source`)

# What to do, in the terminal's own terms (the errors' own hints are neutral).
TERMINAL_HINTS: Mapping[type[StatementbotError], str] = {
    UnknownDocument: "Run `statementbot documents` to list the ingested documents.",
    UnknownParagraph: "Paragraph labels are the document's own numbers; see `statementbot source DOC 1`.",
    DocumentIdConflict: "Rename the file, or ingest it alone with --id to give it another id.",
}


def _same(text: str) -> str:
    return text


@dataclass(frozen=True)
class Markup:
    """How a front end marks up the shared layout; the defaults are plain terminal text."""

    strong: Callable[[str], str] = _same
    code: Callable[[str], str] = _same
    # User-controlled text (titles, file names) on one line: control and bidi characters escaped.
    escape: Callable[[str], str] = shown
    source: Callable[[str], str] = shown  # how a file path is shown
    # How a user of this front end compares two statements (ids a, b).
    compare: Callable[[str, str], str] = lambda a, b: f"statementbot compare {a} {b}"
    bullet: str = "  -"


PLAIN = Markup()


def error_text(error: StatementbotError) -> str:
    """One line for the terminal: what went wrong and what to do about it."""
    return error.user_message(TERMINAL_HINTS)


# Answers ------------------------------------------------------------------------------------
CLOSEST_SENTENCE_MARK = "» "


def answer_marks(answer: Answer) -> list[str]:
    """Short remarks shown under an answer: its note, and whether the LLM's text was replaced."""
    from qa.citations import FALLBACK_BACKEND

    marks = [answer.note] if answer.note else []
    # An abstention is not an extractive answer, even when the check emptied the draft (its note says why).
    if answer.backend == FALLBACK_BACKEND or (answer.checked.fallback and not answer.abstained):
        marks.append(FALLBACK_MARK)
    return marks


def quoted_citations(answer: Answer) -> list[Citation]:
    """What an answer quotes: its citations, or the closest passages when it abstained; each paragraph once."""
    seen: set[tuple[str, str]] = set()
    quoted = []
    for citation in answer.closest if answer.abstained else answer.citations:
        if (citation.doc_id, citation.label) not in seen:
            seen.add((citation.doc_id, citation.label))
            quoted.append(citation)
    return quoted


def quote_heading(answer: Answer) -> str:
    return CLOSEST_HEADING if answer.abstained else SOURCES_HEADING


def answer_text(answer: Answer) -> str:
    """The answer with its [¶N] markers, its remarks, then each quoted paragraph (terminal layout)."""
    lines = [answer.text]
    marks = answer_marks(answer)
    if marks:
        lines.append(f"({' · '.join(marks)})")
    quoted = quoted_citations(answer)
    if quoted:
        lines += ["", f"{quote_heading(answer)}:"]
        lines += [quote(c, closest=answer.abstained) for c in quoted]
    return "\n".join(lines)


def closest_mark(citation: Citation) -> str:
    """ "» " before a closest passage quoted by its sentence nearest the question, else nothing."""
    return CLOSEST_SENTENCE_MARK if citation.quote else ""


def document_name(citation: Citation) -> str:
    """The statement a citation comes from, as shown: its title, and its date when known. In the archive, 1,086
    statements share their title with another (16 are "Readout of President Biden's Call with President Zelenskyy
    of Ukraine"): a reader who quotes must know which one."""
    return f"{citation.title} ({citation.date})" if citation.date else citation.title


def quote(citation: Citation, *, closest: bool = False) -> str:
    # Under an abstention the paragraph's sentence closest to the question is the likely
    # answer the bot did not trust enough: show it, marked, not the paragraph's opening.
    text = citation.quote if closest and citation.quote else citation.text
    if len(text) > QUOTE_CHARS:
        text = text[:QUOTE_CHARS].rsplit(" ", 1)[0] + " …"
    mark = closest_mark(citation) if closest else ""
    return f"  {citation.marker(with_document=False)} {document_name(citation)}\n    {mark}“{text}”"


def paragraph_text(citation: Citation) -> str:
    """A whole paragraph, verbatim, under its document title and label."""
    return f"{document_name(citation)} {citation.marker(with_document=False)}\n\n{citation.text}"


# Ingest and remove reports ------------------------------------------------------------------
def report_text(report: IngestReport, markup: Markup = PLAIN, *, list_failures: bool = True) -> str:
    """Documents and paragraphs added, updated, removed, unchanged; each changed document; skips and failures.

    `list_failures=False` only counts the failures, for a front end that shows each one elsewhere
    (the CLI writes them, with what to do, on stderr).
    """
    docs = report.document_counts()
    lines = [
        f"{markup.strong('Documents:')} {docs['added']} added, {docs['updated']} updated, "
        f"{docs['removed']} removed, {docs['unchanged']} unchanged.",
        f"{markup.strong('Paragraphs:')} {report.added} added, {report.updated} updated, "
        f"{report.removed} removed, {report.unchanged} unchanged.",
    ]
    lines += [
        f"{markup.bullet} {c.status} {markup.code(c.id)}: {markup.escape(c.title)} ({c.paragraphs} paragraphs)"
        for c in report.changes
    ]
    lines += [
        f"{markup.bullet} New in {markup.code(w.document)} since {markup.code(w.previous)} "
        f"({markup.escape(w.previous_title)}): {w.new} new, {w.changed} changed, {w.dropped} dropped, "
        f"{w.unchanged} unchanged paragraphs ({markup.code(markup.compare(w.previous, w.document))})"
        for w in report.whats_new
    ]
    if report.skipped:
        lines.append(markup.strong(f"Skipped {len(report.skipped)}:"))
        lines += [f"{markup.bullet} {markup.source(path)}: {reason}" for path, reason in report.skipped]
    if report.left_out:
        # Nothing a loader drops goes unmentioned (page furniture, end markers).
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(report.left_out.items()))
        lines.append(f"Left out of the text by the loaders: {kinds}.")
    if report.failed and not list_failures:
        lines.append(f"Failed {len(report.failed)} (reasons on stderr).")
    elif report.failed:
        lines.append(markup.strong(f"Failed {len(report.failed)}:"))
        lines += [f"{markup.bullet} {markup.source(f.path)}: {f.reason}" for f in report.failed]
    return "\n".join(lines)
