"""Read-only commands answered from the local SQLite file, without opening Chroma.

`statementbot documents` and `statementbot source` read a few records, yet opening
the store imports chromadb (~1 s) and Chroma's metadata reads cost ~1 s more at
archive scale. The lexical index (vectorstore/lexical.py) already mirrors every
paragraph and document record, keyed by the corpus version; the embedded store
keeps that version in a stamp file (`corpus_stamp_path`). When the two agree the
mirror is the corpus, and these commands read it alone. When they do not (a write
under way or failed, a store older than stamps, an index not yet rebuilt),
`CorpusMirror.open` returns None and the caller opens the store.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from errors import UnknownDocument, UnknownParagraph
from ingest.display import label_range
from vectorstore import records
from vectorstore.records import DocumentRecord, StoredParagraph

# 2: the documents' records and each paragraph's label and position, so that read-only commands
# answer from this file alone (`CorpusMirror`).
SCHEMA_VERSION = "2"


def lexical_path(data_dir: Path, prefix: str) -> Path:
    """Where an embedded store's index lives (a server's is in the user's cache, `bot.runtime`)."""
    return data_dir / f"lexical-{prefix}.sqlite3"


def read_records(connection: sqlite3.Connection) -> list[DocumentRecord]:
    """The documents' records an index file holds (schema 2)."""
    rows = connection.execute("SELECT id, record FROM documents ORDER BY rowid").fetchall()
    return [records.record_from(str(doc_id), json.loads(record)) for doc_id, record in rows]


class CorpusMirror:
    """The documents and paragraphs of one embedded store, read from its lexical index file."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    @classmethod
    def open(cls, data_dir: Path, prefix: str) -> CorpusMirror | None:
        """The mirror when it holds the store's current corpus, else None."""
        try:
            version = records.corpus_stamp_path(data_dir, prefix).read_text(encoding="utf-8").strip()
        except OSError:
            return None
        path = lexical_path(data_dir, prefix)
        if not version or not path.is_file():
            return None
        connection = None
        try:
            # Read-only: a reader never creates or changes the file a writer renames into place. A
            # rename while this connection is open leaves it reading the file it opened, whole.
            connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.Error:
            if connection is not None:
                connection.close()
            return None
        if meta.get("version") != version or meta.get("schema") != SCHEMA_VERSION:
            connection.close()
            return None
        return cls(connection)

    def close(self) -> None:
        self._connection.close()

    def documents(self) -> list[DocumentRecord]:
        return records.newest_first(read_records(self._connection))

    def document(self, doc_id: str) -> DocumentRecord:
        row = self._connection.execute("SELECT record FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if row is None:
            raise UnknownDocument(f"No document with id {doc_id!r}.")
        return records.record_from(doc_id, json.loads(row[0]))

    def paragraphs(self, doc_id: str) -> list[StoredParagraph]:
        """The document's paragraphs in order."""
        rows = self._connection.execute(
            "SELECT l.label, l.position, p.key, p.text FROM labels AS l JOIN paragraphs AS p ON p.rowid = l.rowid"
            " WHERE l.doc_id = ? ORDER BY l.position",
            (doc_id,),
        ).fetchall()
        return [_paragraph(doc_id, *row) for row in rows]

    def paragraph(self, doc_id: str, label: str) -> StoredParagraph:
        """One paragraph; the same errors, worded the same, as `ParagraphStore.paragraph`."""
        row = self._connection.execute(
            "SELECT l.label, l.position, p.key, p.text FROM labels AS l JOIN paragraphs AS p ON p.rowid = l.rowid"
            " WHERE l.doc_id = ? AND l.label = ?",
            (doc_id, label),
        ).fetchone()
        if row is not None:
            return _paragraph(doc_id, *row)
        labels = [str(r[0]) for r in self._connection.execute("SELECT label FROM labels WHERE doc_id = ?", (doc_id,))]
        if not labels:
            raise UnknownDocument(f"No document with id {doc_id!r}.")
        raise UnknownParagraph(f"Document {doc_id!r} has no paragraph {label!r}. It has {label_range(sorted(labels))}.")


def _paragraph(doc_id: str, label: str, position: int, key: str, text: str) -> StoredParagraph:
    # The key is `doc:label:hash` (store.paragraph_key); the hash is what follows the label.
    para_hash = key[len(records.paragraph_key(doc_id, label, "")) :]
    return StoredParagraph(doc_id=doc_id, label=str(label), position=int(position), text=str(text), hash=para_hash)
