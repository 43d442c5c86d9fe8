"""Paragraphs asked for by a number the statements don't have.

"What does ¶999 say?" used to fall through to ordinary search, which answered from some
other paragraph (one whose title held "999", even). The user asked for a paragraph by its
number; when no statement has it, the honest answer says which paragraphs there are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ingest.display import label_range
from qa.types import Answer
from vectorstore.retrieval import Reference
from vectorstore.store import DocumentRecord


def _labels_text(labels: Sequence[str]) -> str:
    shown = [f"¶{label}" if label.isdigit() else label for label in labels]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + f" or {shown[-1]}"


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
        text = f"Document {doc_id} ({record.title}) has {label_range(labels_of(doc_id))}; it has no {wanted}."
    elif len(reference.doc_ids) == len(documents):
        text = f"No statement has {wanted}. Name the statement, or use /documents to list them."
    else:
        text = f"None of the {len(reference.doc_ids)} statements searched has {wanted}."
    return Answer(question, text, (), True)
