"""Reading statements as they are stored: the listing, one paragraph, a whole document.

What `statementbot documents` and `statementbot source` show, and what the Discord
bot's paragraph buttons open. It reads through any `StoredCorpus`: the Chroma store
(`vectorstore.store.ParagraphStore`) or, for a read-only command, its local mirror
(`vectorstore.mirror.CorpusMirror`), which answers without importing chromadb.
"""

from __future__ import annotations

from typing import Protocol

from qa.types import Citation
from vectorstore.records import DocumentRecord, StoredParagraph


class StoredCorpus(Protocol):
    def documents(self) -> list[DocumentRecord]: ...

    def document(self, doc_id: str) -> DocumentRecord: ...

    def paragraph(self, doc_id: str, label: str) -> StoredParagraph: ...

    def paragraphs(self, doc_id: str) -> list[StoredParagraph]: ...


class ReadsStatements(Protocol):
    """What the read-only commands need: a `StatementReader`, or the service that holds one."""

    def documents(self) -> list[DocumentRecord]: ...

    def source(self, doc_id: str, label: str) -> Citation: ...

    def source_all(self, doc_id: str) -> list[Citation]: ...


class StatementReader:
    """The listing and paragraph reads front ends show; raises UnknownDocument / UnknownParagraph."""

    def __init__(self, corpus: StoredCorpus) -> None:
        self.corpus = corpus

    def documents(self) -> list[DocumentRecord]:
        return self.corpus.documents()

    def source(self, doc_id: str, label: str) -> Citation:
        record = self.corpus.document(doc_id)
        # "¶12" and " 12 " name paragraph 12, as citations print it.
        paragraph = self.corpus.paragraph(doc_id, label.strip().lstrip("¶").strip())
        return citation_from(paragraph, record)

    def source_all(self, doc_id: str) -> list[Citation]:
        """Every paragraph of a document, in its order (UnknownDocument when there is no such document)."""
        record = self.corpus.document(doc_id)
        return [citation_from(p, record) for p in self.corpus.paragraphs(doc_id)]


def citation_from(paragraph: StoredParagraph, record: DocumentRecord | None, quote: str = "") -> Citation:
    """A Citation for a stored paragraph of the document `record` (None: its record is not readable)."""
    return Citation(
        doc_id=paragraph.doc_id,
        title=record.title if record else paragraph.doc_id,
        label=paragraph.label,
        text=paragraph.text,
        # The published address (front matter `source_url`) is the link a reader can follow.
        source=(record.url or record.source) if record else "",
        quote=quote,
        date=record.date.isoformat() if record and record.date else "",
    )
