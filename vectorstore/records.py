"""What the store holds about each document and paragraph, without numpy or chromadb.

The records are read by the store (vectorstore/store.py), by the BM25 index that
copies them (vectorstore/lexical.py) and by read-only commands through that copy
(vectorstore/mirror.py), which must start without the heavy imports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class DocumentRecord:
    id: str
    title: str
    date: date | None
    source: str
    content_hash: str
    paragraphs: int
    ingested_at: str  # ISO 8601, UTC
    numbered: bool
    url: str = ""  # where the statement is published (front matter `source_url`), when known
    # sha256 of the file's bytes and of the code that read it (`vectorstore.indexing.Indexer._fingerprint`):
    # a file with the same fingerprint is unchanged without being loaded or parsed again.
    file_fingerprint: str = ""
    left_out: str = ""  # what the loader left out of the text, as JSON {"kind": count}, reported again when unchanged


@dataclass(frozen=True)
class StoredParagraph:
    """A paragraph as the store holds it (text verbatim, white space folded)."""

    doc_id: str
    label: str
    position: int
    text: str
    hash: str

    @property
    def key(self) -> str:
        return paragraph_key(self.doc_id, self.label, self.hash)


def paragraph_key(doc_id: str, label: str, para_hash: str) -> str:
    return f"{doc_id}:{label}:{para_hash}"


def corpus_stamp_path(data_dir: Path, prefix: str) -> Path:
    """The file holding an embedded store's corpus version (see `ParagraphStore._begin_change`)."""
    return data_dir / f"corpus-version-{prefix}"


def newest_first(records: Iterable[DocumentRecord]) -> list[DocumentRecord]:
    """Documents as listings show them: newest first, undated last, ties by id."""
    return sorted(records, key=lambda r: (r.date or date.min, r.id), reverse=True)


def record_metadata(record: DocumentRecord) -> Any:
    return {
        "title": record.title,
        "date": record.date.isoformat() if record.date else "",
        "date_ord": record.date.toordinal() if record.date else 0,
        "source": record.source,
        "content_hash": record.content_hash,
        "paragraphs": record.paragraphs,
        "ingested_at": record.ingested_at,
        "numbered": record.numbered,
        "url": record.url,
        "file_fingerprint": record.file_fingerprint,
        "left_out": record.left_out,
    }


def record_from(doc_id: str, meta: Any) -> DocumentRecord:
    raw_date = str(meta.get("date") or "")
    return DocumentRecord(
        id=doc_id,
        title=str(meta.get("title", doc_id)),
        date=date.fromisoformat(raw_date) if raw_date else None,
        source=str(meta.get("source", "")),
        content_hash=str(meta.get("content_hash", "")),
        paragraphs=int(meta.get("paragraphs", 0)),
        ingested_at=str(meta.get("ingested_at", "")),
        numbered=bool(meta.get("numbered", True)),
        url=str(meta.get("url") or ""),
        file_fingerprint=str(meta.get("file_fingerprint") or ""),
        left_out=str(meta.get("left_out") or ""),
    )
