"""Domain errors shared by every layer: the bottom of the dependency graph.

Every layer (ingest, vectorstore, qa, bot) raises these; front ends translate them into a
CLI message + exit code or an ephemeral Discord reply. Each carries a neutral ``hint`` that
says what to do in words any front end can show; a front end that has its own way of doing
it (a CLI command, a slash command) says so in its own terms through ``user_message(hints)``
(`bot/render.py` for the terminal, `bot/discord/replies.py` for Discord).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


class StatementbotError(Exception):
    """Base class for errors a user can act on."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        if hint:
            self.hint = hint

    def user_message(self, hints: Mapping[type[StatementbotError], str] | None = None) -> str:
        """The message plus what to do: a front end's own hint for this kind of error, else the neutral one."""
        hint = next((h for kind, h in (hints or {}).items() if isinstance(self, kind)), self.hint)
        return f"{self.message} {hint}".strip()


class UnreadableDocument(StatementbotError):
    """A file or text could not be turned into a statement."""

    def __init__(self, path: Path | str, reason: str, *, hint: str = "") -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}", hint=hint)


class DocumentIdConflict(UnreadableDocument):
    """A file whose document id belongs to another file (in this run, or already stored)."""

    hint = "Rename the file, or ingest it alone under a document id of its own."


class InvalidQuestion(StatementbotError):
    """A question that cannot be answered as typed (empty, too long)."""


class UnknownDocument(StatementbotError):
    """A document id that is not in the store."""

    hint = "List the ingested documents to see their ids."


class UnknownParagraph(StatementbotError):
    """A paragraph label that the named document does not have."""

    hint = "Paragraph labels are the document's own numbers."


class AmbiguousDocument(StatementbotError):
    """A title fragment that names more than one document."""

    hint = "Give a document id or a longer part of the title."

    def __init__(self, fragment: str, candidates: list[str]) -> None:
        self.fragment = fragment
        self.candidates = candidates
        shown = ", ".join(candidates[:8]) + (f" and {len(candidates) - 8} more" if len(candidates) > 8 else "")
        super().__init__(f"{fragment!r} matches {len(candidates)} documents: {shown}.")
