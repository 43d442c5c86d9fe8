"""Paragraphs asked for by a number the statements don't have.

"What does ¶999 say?" used to fall through to ordinary search, which answered from some
other paragraph (one whose title held "999", even). The user asked for a paragraph by its
number; when no statement has it, the honest answer says which paragraphs there are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from qa.types import Answer
from vectorstore.retrieval import Reference
from vectorstore.store import DocumentRecord


def _labels_text(labels: Sequence[str]) -> str:
    shown = [f"¶{label}" if label.isdigit() else label for label in labels]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + f" or {shown[-1]}"


def _range_text(labels: Sequence[str]) -> str:
    """ "paragraphs 1–24", with the preamble and unusual labels named too."""
    numbers = sorted(int(label) for label in labels if label.isdigit())
    others = [label for label in labels if not label.isdigit()]
    parts = []
    if others:
        parts.append("a " + " and a ".join(others))
    if numbers:
        parts.append(f"paragraphs {numbers[0]}–{numbers[-1]}" if len(numbers) > 1 else f"paragraph {numbers[0]}")
    return " and ".join(parts) or "no paragraphs"


def missing_paragraph_answer(
    question: str,
    reference: Reference,
    documents: dict[str, DocumentRecord],
    labels_of: Callable[[str], list[str]],
) -> Answer:
    """The answer when no candidate document has the paragraph(s) asked for: it cites nothing."""
    wanted = _labels_text(reference.labels)
    if len(reference.doc_ids) == 1:
        doc_id = reference.doc_ids[0]
        record = documents[doc_id]
        text = f"Document {doc_id} ({record.title}) has {_range_text(labels_of(doc_id))}; it has no {wanted}."
    elif len(reference.doc_ids) == len(documents):
        text = f"No statement has {wanted}. Name the statement, or use /documents to list them."
    else:
        text = f"None of the {len(reference.doc_ids)} statements searched has {wanted}."
    return Answer(question, text, (), True)
