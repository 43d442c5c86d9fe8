"""A BM25 index (SQLite FTS5) derived from what the Chroma collection holds.

Chroma stays the single source of truth: this index is a cache on disk, keyed
by the collection's corpus version and rebuilt when that changes. So several
bot processes that share one Chroma server each see the same corpus, and a
deleted cache file costs one rebuild, never data.

Names, acronyms and numbers ("GIGO", "F-35B", "2035") are what dense
embeddings miss and what this index finds.

A query is scored from each term's postings: FTS5's `bm25()` is a sum over the
query's phrases, so a term's own single-term scores, summed here, give the
multi-term query's scores exactly. Postings are held in memory within
`_POSTINGS_BUDGET` (the commonest terms first, `warm`): at archive scale
(82k paragraphs) one `MATCH ... ORDER BY bm25 LIMIT 30` scored every row of
every common term for each question, 14 ms at p50; summing held postings takes ~1 ms.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ingest.text import content_terms
from vectorstore.mirror import SCHEMA_VERSION, read_records
from vectorstore.records import DocumentRecord, record_metadata
from vectorstore.store import ParagraphStore

_TOKENIZE = '"porter unicode61 remove_diacritics 2"'
_MAX_CACHED_FREQUENCIES = 50_000
# Postings held in memory, 12 bytes each (row id and float64 score, so sums equal FTS5's). The
# archive's 82k paragraphs hold 3.1M postings of terms in at most half of them; its 641 terms in
# 1,000 paragraphs or more hold 2.1M, and a rarer term's postings are read in well under a millisecond.
_POSTINGS_BUDGET = 2_500_000


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
        # Each document's paragraph keys and row ids, read in one pass when first needed (`_documents`).
        self._keys_by_document: dict[str, list[str]] | None = None
        self._rowids_by_document: dict[str, np.ndarray] = {}
        self._document_names: list[str] = []
        self._document_of_row = np.zeros(0, dtype=np.int32)
        # A term's postings, by the index tokens it stands for: the row ids of the paragraphs
        # holding it and its BM25 score in each.
        self._postings: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
        self._tokens: dict[str, tuple[str, ...]] = {}
        self._tokenizer: sqlite3.Connection | None = None
        self._postings_held = 0

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
            self._postings = {}
            self._postings_held = 0
            row = connection.execute("SELECT count(*) FROM paragraphs").fetchone()
            self._paragraph_count = int(row[0])

    def _documents(self) -> dict[str, list[str]]:
        """Each document's paragraph keys in index order, and (`_rowids_by_document`) their row ids: one
        pass over the index per corpus version, when a search is first restricted to documents or a
        document's keys are asked for (a one-shot unrestricted question never pays for it). The caller
        holds the lock."""
        if self._keys_by_document is None:
            assert self._connection is not None
            keys: dict[str, list[str]] = {}
            rowids: dict[str, list[int]] = {}
            for rowid, key, doc_id in self._connection.execute("SELECT rowid, key, doc_id FROM paragraphs"):
                keys.setdefault(str(doc_id), []).append(str(key))
                rowids.setdefault(str(doc_id), []).append(int(rowid))
            self._rowids_by_document = {d: np.asarray(r, dtype=np.int64) for d, r in rowids.items()}
            # Row id -> document, as an index into `_document_names` (-1: no row), for `documents_with_word`.
            self._document_names = list(rowids)
            last = max((int(r[-1]) for r in rowids.values() if r), default=0)
            self._document_of_row = np.full(last + 1, -1, dtype=np.int32)
            for index, rows in enumerate(self._rowids_by_document.values()):
                self._document_of_row[rows] = index
            self._keys_by_document = keys
        return self._keys_by_document

    def _open_existing(self, version: str) -> sqlite3.Connection | None:
        if not self.path.exists():
            return None
        try:
            connection = sqlite3.connect(self.path, check_same_thread=False)
            meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError:
            return None  # a corrupt or foreign cache is simply rebuilt
        if meta.get("version") == version and meta.get("schema") == SCHEMA_VERSION:
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
                f"""
                CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
                CREATE VIRTUAL TABLE paragraphs USING fts5(key UNINDEXED, doc_id UNINDEXED, text,
                    tokenize = {_TOKENIZE});
                CREATE TABLE labels(rowid INTEGER PRIMARY KEY, doc_id TEXT, label TEXT, position INTEGER);
                CREATE TABLE documents(id TEXT PRIMARY KEY, record TEXT);
                """
            )
            for rowid, p in enumerate(self.store.paragraphs(), start=1):
                connection.execute(
                    "INSERT INTO paragraphs(rowid, key, doc_id, text) VALUES (?, ?, ?, ?)",
                    (rowid, p.key, p.doc_id, p.text),
                )
                connection.execute(
                    "INSERT INTO labels(rowid, doc_id, label, position) VALUES (?, ?, ?, ?)",
                    (rowid, p.doc_id, p.label, p.position),
                )
            connection.execute("CREATE INDEX labels_by_document ON labels(doc_id, label)")
            connection.executemany(
                "INSERT INTO documents(id, record) VALUES (?, ?)",
                ((r.id, json.dumps(record_metadata(r), ensure_ascii=False)) for r in self.store.documents()),
            )
            connection.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?)", [("version", version), ("schema", SCHEMA_VERSION)]
            )
            connection.commit()
        finally:
            connection.close()
        temporary.replace(self.path)

    # Queries ----------------------------------------------------------------
    def documents(self, version: str | None = None) -> list[DocumentRecord]:
        """The documents' records as the index copied them for this corpus version: ~0.1 s where Chroma's
        read of all records takes ~1 s at archive scale (6,454 records), for each cold question."""
        self.ensure_fresh(version)
        assert self._connection is not None
        with self._lock:
            return read_records(self._connection)

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
        assert self._connection is not None
        with self._lock:
            postings = [self._term_postings(term) for term in terms]
            rowids = np.concatenate([rows for rows, _ in postings])
            # bincount adds each row's scores in term order, as FTS5 sums its phrases.
            totals = np.bincount(rowids, weights=np.concatenate([scores for _, scores in postings]))
            found = np.flatnonzero(totals)
            if doc_ids is not None:
                self._documents()
                allowed = np.zeros(len(totals), dtype=bool)
                for doc_id in set(doc_ids):
                    rows = self._rowids_by_document.get(doc_id)
                    if rows is not None:
                        allowed[rows[rows < len(totals)]] = True
                found = found[allowed[found]]
            best = found[np.lexsort((found, -totals[found]))][:k]  # score, then index order
            if not len(best):
                return []
            # Only placeholders are formatted in; the row ids are bound.
            sql = f"SELECT rowid, key FROM paragraphs WHERE rowid IN ({','.join('?' * len(best))})"  # noqa: S608
            key_of = dict(self._connection.execute(sql, best.tolist()))
            return [(str(key_of[rowid]), float(totals[rowid])) for rowid in best.tolist()]

    def _tokens_of(self, term: str) -> tuple[str, ...]:
        """The index tokens `term` stands for, by the index's own tokenizer ("Ministers" -> ("minist",));
        the caller holds the lock."""
        tokens = self._tokens.get(term)
        if tokens is None:
            if self._tokenizer is None:
                self._tokenizer = sqlite3.connect(":memory:", check_same_thread=False)
                self._tokenizer.executescript(
                    f"""
                    CREATE VIRTUAL TABLE words USING fts5(text, tokenize = {_TOKENIZE});
                    CREATE VIRTUAL TABLE tokens USING fts5vocab(words, 'instance');
                    """
                )
            self._tokenizer.execute("DELETE FROM words")
            self._tokenizer.execute("INSERT INTO words(text) VALUES (?)", (term,))
            tokens = tuple(str(row[0]) for row in self._tokenizer.execute("SELECT term FROM tokens ORDER BY offset"))
            if len(self._tokens) >= _MAX_CACHED_FREQUENCIES:
                self._tokens.clear()
            self._tokens[term] = tokens
        return tokens

    def _term_postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """The term's postings, held in memory within `_POSTINGS_BUDGET`; the caller holds the lock."""
        tokens = self._tokens_of(term)
        held = self._postings.get(tokens)
        if held is not None:
            return held
        assert self._connection is not None
        rows = self._connection.execute(
            "SELECT rowid, -bm25(paragraphs) FROM paragraphs WHERE paragraphs MATCH ?", (_quoted(term),)
        ).fetchall()
        postings = (
            np.fromiter((row[0] for row in rows), dtype=np.int32, count=len(rows)),
            np.fromiter((row[1] for row in rows), dtype=np.float64, count=len(rows)),
        )
        if self._postings_held + len(rows) <= _POSTINGS_BUDGET:
            self._postings[tokens] = postings
            self._postings_held += len(rows)
        return postings

    def warm(self, version: str | None = None) -> int:
        """Read each document's keys, and hold the postings of the commonest searchable terms (those in
        at most half of the paragraphs), most paragraphs first, within `_POSTINGS_BUDGET`; returns the
        postings held.

        A long-running process calls it at start-up: a common term's postings are what a
        question's search costs most to read.
        """
        self.ensure_fresh(version)
        assert self._connection is not None
        with self._lock:
            # Each document's keys, which a search restricted to documents reads: one pass over the
            # index (~300 ms at archive scale) that the first question naming a statement paid.
            self._documents()
            self._connection.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.vocabulary USING fts5vocab(main, paragraphs, 'row')"
            )
            common = self._connection.execute(
                "SELECT term, doc FROM temp.vocabulary WHERE doc <= ? ORDER BY doc DESC, term",
                (self._paragraph_count / 2,),
            ).fetchall()
            for token, count in common:
                if self._postings_held + count > _POSTINGS_BUDGET:
                    break
                # A stored token is asked for as itself only where the tokenizer leaves it so: Porter's
                # stemmer is not idempotent everywhere, and "x" must match what the index stored as x.
                if self._tokens_of(str(token)) == (str(token),):
                    self._term_postings(str(token))
            return self._postings_held

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
                    held = self._postings.get(self._tokens_of(term))
                    if held is not None:
                        self._frequencies[term] = len(held[0])
                    else:
                        row = self._connection.execute(
                            "SELECT count(*) FROM paragraphs WHERE paragraphs MATCH ?", (_quoted(term),)
                        ).fetchone()
                        self._frequencies[term] = int(row[0])
                result[term] = self._frequencies[term]
        return result

    def keys_of(self, doc_ids: Sequence[str], *, version: str | None = None) -> list[str]:
        """The paragraph keys of the given documents, in index order."""
        self.ensure_fresh(version)
        with self._lock:
            by_document = self._documents()
            return [key for doc_id in doc_ids for key in by_document.get(doc_id, [])]

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

    def documents_holding(
        self, terms: Sequence[str], doc_ids: Sequence[str], *, version: str | None = None
    ) -> set[str]:
        """Which of `doc_ids` have a paragraph holding one of `terms`, as a word or (for a term of four
        letters or more) the start of one: "Australia" is held by "Australian-hosted"."""
        if not terms or not doc_ids:
            return set()
        self.ensure_fresh(version)
        assert self._connection is not None
        query = " OR ".join(_quoted(term) + (" *" if len(term) >= 4 else "") for term in terms)
        marks = ",".join("?" * len(doc_ids))
        sql = f"SELECT DISTINCT doc_id FROM paragraphs WHERE paragraphs MATCH ? AND doc_id IN ({marks})"  # noqa: S608
        with self._lock:
            rows = self._connection.execute(sql, (query, *doc_ids)).fetchall()
        return {doc_id for (doc_id,) in rows}

    def documents_with_word(self, term: str, *, version: str | None = None) -> set[str]:
        """The documents with a paragraph holding `term` as the index tokenizes it ("Marcos" is held by
        "Marcos'"), from its postings: ~1 ms where reading the document of every row matching a common name
        ("Biden") took ~800 ms at archive scale."""
        self.ensure_fresh(version)
        with self._lock:
            self._documents()
            rows, _scores = self._term_postings(term)
            return {self._document_names[index] for index in np.unique(self._document_of_row[rows]).tolist()}

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
            for connection in (self._connection, self._tokenizer):
                if connection is not None:
                    connection.close()
            self._connection = self._tokenizer = None
