"""How answers, citations, ingest reports and errors become text: one layout for every front end.

The terminal (`statementbot ask`, `chat`, `ingest`) shows it plain; Discord passes its own
`Markup` (bold, code spans, escaping) and wraps the text in messages and embeds
(`bot/discord/formatting.py`). Nothing here imports discord or writes anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping

from errors import DocumentIdConflict, StatementbotError, UnknownDocument, UnknownParagraph

# What to do, in the terminal's own terms (the errors' own hints are neutral).
TERMINAL_HINTS: Mapping[type[StatementbotError], str] = {
    UnknownDocument: "Run `statementbot documents` to list the ingested documents.",
    UnknownParagraph: "Paragraph labels are the document's own numbers; see `statementbot source DOC 1`.",
    DocumentIdConflict: "Rename the file, or ingest it alone with --id to give it another id.",
}


def error_text(error: StatementbotError) -> str:
    """One line for the terminal: what went wrong and what to do about it."""
    return error.user_message(TERMINAL_HINTS)
