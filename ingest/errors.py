"""Domain errors shared by every layer.

Front ends translate these into a CLI message + exit code or an ephemeral
Discord reply; each carries a ``hint`` that tells the user what to do next.
"""

from __future__ import annotations

from pathlib import Path


class StatementbotError(Exception):
    """Base class for errors a user can act on."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        if hint:
            self.hint = hint

    def user_message(self) -> str:
        """The message plus the hint, for front ends."""
        return f"{self.message} {self.hint}".strip()


class UnreadableDocument(StatementbotError):
    """A file or text could not be turned into a statement."""

    def __init__(self, path: Path | str, reason: str, *, hint: str = "") -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}", hint=hint)


class InvalidQuestion(StatementbotError):
    """A question that cannot be answered as typed (empty, too long)."""


class UnknownDocument(StatementbotError):
    """A document id that is not in the store."""

    hint = "Run `statementbot documents` to list the ingested documents."


class UnknownParagraph(StatementbotError):
    """A paragraph label that the named document does not have."""


class AmbiguousDocument(StatementbotError):
    """A title fragment that names more than one document."""

    def __init__(self, fragment: str, candidates: list[str]) -> None:
        self.fragment = fragment
        self.candidates = candidates
        shown = ", ".join(candidates[:8]) + (f" and {len(candidates) - 8} more" if len(candidates) > 8 else "")
        super().__init__(
            f"{fragment!r} matches {len(candidates)} documents: {shown}.",
            hint="Give a document id or a longer part of the title.",
        )
