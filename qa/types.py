"""Typed values of the answering pipeline. Front ends render these; nothing here knows Discord."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

# How many closest passages an abstention (or a fallback) shows, whichever answerer wrote it.
CLOSEST_SHOWN = 3


def paragraph_mark(label: str) -> str:
    """How a paragraph is named to readers: "¶12", "¶II.3", or "preamble"."""
    return "preamble" if label == "preamble" else f"¶{label}"


@dataclass(frozen=True)
class Citation:
    """A paragraph an answer relies on, verbatim, in the document's own numbering."""

    doc_id: str
    title: str
    label: str  # "12", "preamble"
    text: str  # the whole paragraph, verbatim (white space folded)
    source: str = ""  # path or URL of the statement, when known
    quote: str = ""  # the sentence(s) of the paragraph the answer used
    date: str = ""  # the document's date (ISO 8601), when known

    def marker(self, *, with_document: bool) -> str:
        """`[¶12]`, or `[doc-id ¶12]` when several documents are ingested."""
        label = paragraph_mark(self.label)
        return f"[{self.doc_id} {label}]" if with_document else f"[{label}]"

    def to_json(self) -> dict[str, str | None]:
        """The citation shape of `ask --json` (a public contract: extended, never renamed)."""
        return {
            "document": self.doc_id,
            "title": self.title,
            "paragraph": self.label,
            "text": self.text,
            "date": self.date or None,
        }


@dataclass(frozen=True)
class CheckReport:
    """What the citation check changed before the answer was shown."""

    removed_sentences: int = 0
    removed_citations: int = 0
    fallback: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "removed_sentences": self.removed_sentences,
            "removed_citations": self.removed_citations,
            "fallback": self.fallback,
        }


@dataclass(frozen=True)
class Answer:
    """An answer as shown to a user: text with inline markers and the paragraphs they cite."""

    question: str
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    closest: tuple[Citation, ...] = ()  # nearest passages shown when abstaining
    checked: CheckReport = field(default_factory=CheckReport)
    latency_ms: float = 0.0
    backend: str = "extractive"
    note: str | None = None  # e.g. "the language model timed out; showing the extractive answer"
    retrieval_query: str = ""  # what was searched (the condensed follow-up), for debugging
    # The question asked for paragraphs by number ("What does paragraph 14 say?"): the answer quotes them
    # whole, so it is no factoid answer and its length says nothing of the answerer's concision.
    reference: bool = False

    def to_json(self) -> dict[str, Any]:
        """The `ask --json` line (a public contract: extend, never rename)."""
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [c.to_json() for c in self.citations],
            "closest": [c.to_json() for c in self.closest],
            "latency_ms": round(self.latency_ms, 2),
            "checked": self.checked.to_json(),
            "backend": self.backend,
            "note": self.note,
        }


@dataclass(frozen=True)
class Turn:
    question: str
    answer: Answer


class Conversation:
    """The previous turns of one chat (a CLI session or a Discord thread)."""

    def __init__(self, max_turns: int = 6) -> None:
        self.turns: deque[Turn] = deque(maxlen=max_turns)

    def add(self, question: str, answer: Answer) -> None:
        self.turns.append(Turn(question, answer))

    @property
    def last(self) -> Turn | None:
        return self.turns[-1] if self.turns else None

    def __len__(self) -> int:
        return len(self.turns)
