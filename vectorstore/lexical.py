"""A BM25 index (SQLite FTS5) derived from what the Chroma collection holds.

Chroma stays the single source of truth: this index is a cache on disk, keyed
by the collection's corpus version and rebuilt when that changes. So several
bot processes that share one Chroma server each see the same corpus, and a
deleted cache file costs one rebuild, never data.

Names, acronyms and numbers ("GIGO", "F-35B", "2035") are what dense
embeddings miss and what this index finds.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from ingest.text import content_terms
from vectorstore.store import ParagraphStore

_SCHEMA_VERSION = "1"
_MAX_CACHED_FREQUENCIES = 50_000


def _quoted(term: str) -> str:
    """An FTS5 string literal: operators in user text (AND, NEAR, *, :) stay data, never syntax."""
    return '"' + term.replace('"', "") + '"'


class LexicalIndex:
    """BM25 over paragraphs, cached in an SQLite file next to the data."""

    def __init__(self, store: ParagraphStore, path: Path) -> None:
        self.store = store
        self.path = path
        self._lock = threading.Lock()
        self._version: str | None = None
        self._connection: sqlite3.Connection | None = None
        self._paragraph_count = 0
        # Paragraph counts per query term for the current corpus version: questions
        # repeat their words ("ministers", "Japan"), and each count is a posting-list scan.
        self._frequencies: dict[str, int] = {}
        self._keys_by_document: dict[str, list[str]] | None = None

    # Freshness ------------------------------------------------------------
    def ensure_fresh(self, version: str | None = None) -> None:
        """Rebuild from Chroma if the collection changed since the cache was built.

        A caller that already read the corpus version for this query passes it:
        each read is a round trip to Chroma (a network call in server mode).
        """
        version = self.store.corpus_version() if version is None else version
        with self._lock:
            if self._connection is not None and self._version == version:
                return
            connection = self._open_existing(version)
            if connection is None:
                self._rebuild(version)
                connection = self._open_existing(version)
            if connection is None:  # pragma: no cover - the rebuild just wrote it
                raise RuntimeError(f"lexical index at {self.path} could not be opened after rebuild")
            if self._connection is not None:
                self._connection.close()
            self._connection = connection
            self._version = version
            self._frequencies = {}
            self._keys_by_document = None
            row = connection.execute("SELECT count(*) FROM paragraphs").fetchone()
            self._paragraph_count = int(row[0])

    def _open_existing(self, version: str) -> sqlite3.Connection | None:
        if not self.path.exists():
            return None
        try:
            connection = sqlite3.connect(self.path, check_same_thread=False)
            meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError:
            return None  # a corrupt or foreign cache is simply rebuilt
        if meta.get("version") == version and meta.get("schema") == _SCHEMA_VERSION:
            return connection
        connection.close()
        return None

    def _rebuild(self, version: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Build beside the target and rename: concurrent readers never see half an index.
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        temporary.unlink(missing_ok=True)
        connection = sqlite3.connect(temporary)
        try:
            connection.executescript(
                """
                CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
                CREATE VIRTUAL TABLE paragraphs USING fts5(key UNINDEXED, doc_id UNINDEXED, text,
                    tokenize = "porter unicode61 remove_diacritics 2");
                """
            )
            connection.executemany(
                "INSERT INTO paragraphs(key, doc_id, text) VALUES (?, ?, ?)",
                ((p.key, p.doc_id, p.text) for p in self.store.paragraphs()),
            )
            connection.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?)", [("version", version), ("schema", _SCHEMA_VERSION)]
            )
            connection.commit()
        finally:
            connection.close()
        temporary.replace(self.path)

    # Queries ----------------------------------------------------------------
    def search(
        self, text: str, k: int, *, doc_ids: Sequence[str] | None = None, version: str | None = None
    ) -> list[tuple[str, float]]:
        """(paragraph key, BM25 score, higher is better) for the best `k` paragraphs."""
        self.ensure_fresh(version)
        if doc_ids is not None and not doc_ids:
            return []
        # FTS5's BM25 gives a term in more than half of the paragraphs an IDF of
        # zero ("ministers" in a corpus of statements): it cannot change the
        # ranking, yet scoring its rows is most of the query's cost at 100k
        # paragraphs. Such terms, and terms found nowhere, are left out.
        frequencies = self.document_frequency(content_terms(text), version=version)
        terms = [term for term, df in frequencies.items() if 0 < df <= self._paragraph_count / 2]
        if not terms:
            return []
        match = " OR ".join(_quoted(term) for term in terms)
        sql = "SELECT key, -bm25(paragraphs) AS score FROM paragraphs WHERE paragraphs MATCH ?"
        params: list[object] = [match]
        if doc_ids is not None:
            sql += f" AND doc_id IN ({','.join('?' * len(doc_ids))})"
            params.extend(doc_ids)
        sql += " ORDER BY score DESC LIMIT ?"
        params.append(k)
        assert self._connection is not None
        with self._lock:
            rows = self._connection.execute(sql, params).fetchall()
        return [(str(key), float(score)) for key, score in rows]

    def document_frequency(self, terms: Sequence[str], *, version: str | None = None) -> dict[str, int]:
        """How many paragraphs contain each term, stemmed by the index's own tokenizer."""
        self.ensure_fresh(version)
        assert self._connection is not None
        result: dict[str, int] = {}
        with self._lock:
            for term in terms:
                if term not in self._frequencies:
                    if len(self._frequencies) >= _MAX_CACHED_FREQUENCIES:
                        self._frequencies.clear()
                    row = self._connection.execute(
                        "SELECT count(*) FROM paragraphs WHERE paragraphs MATCH ?", (_quoted(term),)
                    ).fetchone()
                    self._frequencies[term] = int(row[0])
                result[term] = self._frequencies[term]
        return result

    def keys_of(self, doc_ids: Sequence[str], *, version: str | None = None) -> list[str]:
        """The paragraph keys of the given documents, in index order."""
        self.ensure_fresh(version)
        assert self._connection is not None
        with self._lock:
            if self._keys_by_document is None:
                # One pass over the index per corpus version, then lookups are free.
                grouped: dict[str, list[str]] = {}
                for key, doc_id in self._connection.execute("SELECT key, doc_id FROM paragraphs"):
                    grouped.setdefault(str(doc_id), []).append(str(key))
                self._keys_by_document = grouped
            return [key for doc_id in doc_ids for key in self._keys_by_document.get(doc_id, [])]

    def used_outside(self, term: str, doc_id: str, *, version: str | None = None) -> bool:
        """Whether a paragraph of any document other than `doc_id` contains `term`.

        Stops at the first such paragraph: at 100k paragraphs a common word
        would otherwise cost a scan of its whole posting list.
        """
        self.ensure_fresh(version)
        assert self._connection is not None
        with self._lock:
            row = self._connection.execute(
                "SELECT 1 FROM paragraphs WHERE paragraphs MATCH ? AND doc_id != ? LIMIT 1", (_quoted(term), doc_id)
            ).fetchone()
        return row is not None

    def idf(self, terms: Sequence[str], *, version: str | None = None) -> dict[str, float]:
        """BM25-style inverse document frequency; unseen terms get the highest weight."""
        frequencies = self.document_frequency(terms, version=version)
        n = max(self._paragraph_count, 1)
        return {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in frequencies.items()}

    def clear_cache(self) -> None:
        """Forget the cached term counts (they are recomputed on demand)."""
        with self._lock:
            self._frequencies = {}

    @property
    def paragraph_count(self) -> int:
        self.ensure_fresh()
        return self._paragraph_count

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
