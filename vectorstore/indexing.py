"""Re-ingestion: make the store hold exactly the paragraphs of the given statements.

The plan is computed from ids alone (document id + label + content hash), so an
unchanged statement costs no embeddings and no writes. Writes are ordered so a
crash at any point is repaired by running the same command again:

1. new sentences, 2. new paragraph windows, 3. stale windows and sentences
deleted, 4. the document record written last ("fully ingested").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ingest.errors import StatementbotError, UnknownDocument, UnreadableDocument
from ingest.loaders import DEFAULT_MAX_BYTES, LoadedText, discover, load_bytes, load_path
from ingest.models import Chunk, Document, Span
from ingest.parser import chunk_document, parse_statement
from vectorstore.store import DocumentRecord, ParagraphStore, paragraph_key, sentence_id

Progress = Callable[[int, int, str], None]  # (done, total, current path)


@dataclass
class DocumentChange:
    id: str
    title: str
    source: str
    status: str  # "added" | "updated" | "unchanged" | "removed"
    paragraphs: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "status": self.status,
            "paragraphs": self.paragraphs,
        }


@dataclass
class IngestReport:
    """What an ingest run changed, in paragraphs and documents."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    changes: list[DocumentChange] = field(default_factory=list)
    failed: list[UnreadableDocument] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    embedded: int = 0  # texts embedded in this run: 0 for a no-op re-ingest

    def document_counts(self) -> dict[str, int]:
        counts = {"added": 0, "updated": 0, "removed": 0, "unchanged": 0}
        for change in self.changes:
            counts[change.status] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        """The `ingest --json` contract: paragraph counts, documents, failures."""
        return {
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "documents": {**self.document_counts(), "items": [c.to_json() for c in self.changes]},
            "failed": [{"path": f.path, "error": f.reason} for f in self.failed],
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "embedded": self.embedded,
        }

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass(frozen=True)
class _Plan:
    chunks_to_add: list[Chunk]
    chunk_ids_to_delete: set[str]
    sentences_to_add: list[tuple[str, str, str, int, Span, str]]
    sentence_ids_to_delete: set[str]
    added: int
    updated: int
    removed: int
    unchanged: int


def _labels(ids: Iterable[str]) -> dict[str, set[str]]:
    """label -> paragraph hashes present, from ids 'doc:label:hash:...'."""
    found: dict[str, set[str]] = {}
    for item in ids:
        _doc, label, para_hash = item.split(":")[:3]
        found.setdefault(label, set()).add(para_hash)
    return found


class Indexer:
    """Loads, parses and syncs statements into a ParagraphStore."""

    def __init__(self, store: ParagraphStore, *, max_bytes: int = DEFAULT_MAX_BYTES, max_tokens: int = 240) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.max_tokens = max_tokens

    # Entry points -----------------------------------------------------------
    def ingest_paths(
        self,
        paths: Sequence[Path],
        *,
        prune: bool = False,
        doc_id: str | None = None,
        progress: Progress | None = None,
    ) -> IngestReport:
        report = IngestReport()
        found = discover(paths)
        report.failed.extend(found.failures)
        report.skipped.extend((str(p), reason) for p, reason in found.skipped)
        if doc_id and len(found.files) > 1:
            report.failed.append(UnreadableDocument(", ".join(map(str, paths)), "--id needs exactly one file"))
            return report
        seen_ids: set[str] = set()
        for done, path in enumerate(found.files):
            if progress:
                progress(done, len(found.files), str(path))
            try:
                loaded = load_path(path, max_bytes=self.max_bytes)
                self._ingest_loaded(loaded, report, doc_id=doc_id, seen_ids=seen_ids)
            except UnreadableDocument as error:
                report.failed.append(error)
            except StatementbotError as error:
                report.failed.append(UnreadableDocument(path, error.user_message()))
        if progress:
            progress(len(found.files), len(found.files), "")
        if prune:
            self._prune(paths, seen_ids, report)
        return report

    def ingest_bytes(self, data: bytes, *, name: str, source: str | None = None) -> IngestReport:
        """Ingest an uploaded file (Discord attachment) with the same code path."""
        report = IngestReport()
        try:
            loaded = load_bytes(data, name=name, max_bytes=self.max_bytes)
            if source:
                loaded = LoadedText(loaded.text, source, loaded.title_hint, loaded.format, loaded.raw_hash)
            self._ingest_loaded(loaded, report, doc_id=None, seen_ids=set())
        except UnreadableDocument as error:
            report.failed.append(error)
        return report

    def ingest_document(self, document: Document, report: IngestReport | None = None) -> IngestReport:
        report = report or IngestReport()
        plan = self._plan(document)
        self._apply(document, plan, report)
        return report

    def remove(self, doc_id: str) -> IngestReport:
        """Delete a document and its paragraphs; works on half-ingested leftovers too."""
        if doc_id not in self.store.stored_doc_ids():
            raise UnknownDocument(f"No document with id {doc_id!r}.")
        report = IngestReport()
        title = doc_id
        try:
            title = self.store.document(doc_id).title
        except UnknownDocument:
            pass  # an orphan from an interrupted ingest: remove its paragraphs all the same
        chunk_ids = self.store.chunk_ids(doc_id)
        # Record first: once it is gone the document is invisible, whatever happens next.
        self.store.delete_document_record(doc_id)
        self.store.delete_chunks(chunk_ids)
        self.store.delete_sentences(self.store.sentence_ids(doc_id))
        report.removed = len(_labels(chunk_ids))
        report.changes.append(DocumentChange(doc_id, title, "", "removed", report.removed))
        return report

    # Internals --------------------------------------------------------------
    def _ingest_loaded(
        self, loaded: LoadedText, report: IngestReport, *, doc_id: str | None, seen_ids: set[str]
    ) -> None:
        document = parse_statement(loaded.text, source=loaded.source, title_hint=loaded.title_hint, doc_id=doc_id)
        if doc_id is None:
            document = self._follow_rename(document)
        if document.id in seen_ids:
            raise UnreadableDocument(
                loaded.source,
                f"has the same document id {document.id!r} as another file in this run",
                hint="Rename one of them or ingest it alone with --id.",
            )
        seen_ids.add(document.id)
        self.ingest_document(document, report)

    def _follow_rename(self, document: Document) -> Document:
        """A file renamed with the same content keeps its old id instead of duplicating."""
        try:
            self.store.document(document.id)
            return document
        except UnknownDocument:
            pass
        twins = [r for r in self.store.documents_with_hash(document.content_hash) if r.id != document.id]
        if not twins:
            return document
        text_source = document.source
        renamed = twins[0].id
        paragraphs = tuple(type(p)(renamed, p.label, p.position, p.text, p.sentences) for p in document.paragraphs)
        return Document(
            renamed, document.title, document.date, text_source, document.content_hash, paragraphs, document.numbered
        )

    def _plan(self, document: Document) -> _Plan:
        chunks = chunk_document(document, max_tokens=self.max_tokens, count_tokens=self._count_tokens)
        existing_chunks = self.store.chunk_ids(document.id)
        desired = {chunk.id: chunk for chunk in chunks}
        sentences: dict[str, tuple[str, str, str, int, Span, str]] = {}
        for p in document.paragraphs:
            key = paragraph_key(p.doc_id, p.label, p.hash)
            for index, span in enumerate(p.sentences or (Span(0, len(p.text)),)):
                sentences[sentence_id(key, index)] = (
                    p.doc_id,
                    p.label,
                    p.hash,
                    index,
                    span,
                    p.text[span.start : span.end],
                )
        existing_sentences = self.store.sentence_ids(document.id)

        old = _labels(existing_chunks)
        new = {p.label: p.hash for p in document.paragraphs}
        added = sum(1 for label in new if label not in old)
        removed = sum(1 for label in old if label not in new)
        unchanged = sum(
            1
            for label, h in new.items()
            if old.get(label) == {h} and self._complete(label, h, desired, existing_chunks)
        )
        updated = len(new) - added - unchanged
        return _Plan(
            chunks_to_add=[c for cid, c in desired.items() if cid not in existing_chunks],
            chunk_ids_to_delete=existing_chunks - desired.keys(),
            sentences_to_add=[row for sid, row in sentences.items() if sid not in existing_sentences],
            sentence_ids_to_delete=existing_sentences - sentences.keys(),
            added=added,
            updated=updated,
            removed=removed,
            unchanged=unchanged,
        )

    @staticmethod
    def _complete(label: str, para_hash: str, desired: dict[str, Chunk], existing: set[str]) -> bool:
        """True when every window of the paragraph is already stored."""
        return all(
            cid in existing
            for cid, c in desired.items()
            if c.paragraph.label == label and c.paragraph.hash == para_hash
        )

    def _count_tokens(self, text: str) -> int:
        return self.store.embedder.count_tokens(text)

    def _apply(self, document: Document, plan: _Plan, report: IngestReport) -> None:
        embedder = self.store.embedder
        texts = [c.text for c in plan.chunks_to_add] + [row[5] for row in plan.sentences_to_add]
        vectors = embedder.encode(texts) if texts else np.zeros((0, embedder.dimension), dtype=np.float32)
        report.embedded += len(texts)
        chunk_vectors = vectors[: len(plan.chunks_to_add)]
        sentence_vectors = vectors[len(plan.chunks_to_add) :]
        if plan.sentences_to_add:
            self.store.add_sentences(plan.sentences_to_add, sentence_vectors)
        if plan.chunks_to_add:
            windows: dict[str, int] = {}
            for chunk in chunk_document(document, max_tokens=self.max_tokens, count_tokens=self._count_tokens):
                key = paragraph_key(chunk.paragraph.doc_id, chunk.paragraph.label, chunk.paragraph.hash)
                windows[key] = windows.get(key, 0) + 1
            self.store.add_chunks(plan.chunks_to_add, chunk_vectors, windows=windows)
        self.store.delete_chunks(plan.chunk_ids_to_delete)
        self.store.delete_sentences(plan.sentence_ids_to_delete)
        status = self._put_record(document)
        report.added += plan.added
        report.updated += plan.updated
        report.removed += plan.removed
        report.unchanged += plan.unchanged
        if status == "unchanged" and (plan.added or plan.updated or plan.removed):
            status = "updated"
        report.changes.append(
            DocumentChange(document.id, document.title, document.source, status, len(document.paragraphs))
        )

    def _put_record(self, document: Document) -> str:
        try:
            current: DocumentRecord | None = self.store.document(document.id)
        except UnknownDocument:
            current = None
        record = DocumentRecord(
            id=document.id,
            title=document.title,
            date=document.date,
            source=document.source,
            content_hash=document.content_hash,
            paragraphs=len(document.paragraphs),
            ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
            numbered=document.numbered,
        )
        if current is not None and _same_record(current, record):
            return "unchanged"
        self.store.put_document(record, self.store.embedder.encode([document.title])[0])
        return "added" if current is None else "updated"

    def _prune(self, paths: Sequence[Path], seen_ids: set[str], report: IngestReport) -> None:
        roots = [p.resolve() for p in paths]
        for record in self.store.documents():
            if record.id in seen_ids or not record.source:
                continue
            source = Path(record.source)
            inside = any(source == root or root in source.parents for root in roots)
            if inside and not source.exists():
                removal = self.remove(record.id)
                report.removed += removal.removed
                report.changes.extend(removal.changes)


def _same_record(a: DocumentRecord, b: DocumentRecord) -> bool:
    fields = ("title", "date", "source", "content_hash", "paragraphs", "numbered")
    return all(getattr(a, f) == getattr(b, f) for f in fields)
