"""Chroma behind a small interface: paragraphs, sentences and documents.

Three collections share one prefix:

* ``<prefix>_chunks``: one record per paragraph window, embedded; the
  paragraph's text, label and position travel in its metadata.
* ``<prefix>_sentences``: every sentence of every paragraph, embedded at ingest
  so the answerer can pick evidence sentences without embedding them per query
  (in a paragraph over 8,000 characters, spans of sentences: see
  vectorstore.indexing.GROUP_SENTENCES_OVER_CHARS). Only their spans are stored:
  the text is cut from the paragraph's.
* ``<prefix>_documents``: one record per document (title embedded), written
  last during ingestion so that a document record means "fully ingested".

Raw Chroma result dicts never leave this module: callers get typed values.
Embedded mode allows one writer per data directory (an OS file lock); a second
writer fails at once with `StoreLocked` instead of corrupting the store.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np

from errors import StatementbotError, UnknownDocument, UnknownParagraph
from ingest.display import label_range
from ingest.models import Chunk, Span
from vectorstore.embeddings import Embedder
from vectorstore.records import (
    DocumentRecord,
    StoredParagraph,
    corpus_stamp_path,
    newest_first,
    paragraph_key,
    record_from,
    record_metadata,
)

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "statementbot"
_VERSION_KEY = "corpus_version"
# Chroma rejects very large batches; stay well below its limit.
_WRITE_BATCH = 500
_SENTENCE_GUESS = 48  # sentences per paragraph fetched by id before falling back to a filter
_SENTENCE_KEYS_PER_READ = 100  # x _SENTENCE_GUESS ids per read, well under SQLite's variable limit
# Up to this many documents, `keys_labelled` reads their ids rather than filtering on the label.
_LABEL_SCAN_DOCUMENTS = 20
_READ_PAGE = 5000
# The in-memory copy's read (vectorstore.resident) pages smaller: each page arrives as Python
# lists of floats, ~30 bytes a value, so a 5,000-record page of vectors peaked ~200 MB above the
# copy itself at archive scale; 2,000 held the peak to ~50 MB for a read ~15 % slower.
_VECTOR_READ_PAGE = 2000
DEFAULT_SERVER_TIMEOUT_S = 10.0  # STATEMENTBOT_CHROMA_TIMEOUT_S
# HNSW graph parameters. Chroma's defaults (ef_search 100, ef_construction 100,
# M 16) let the approximate search miss true neighbours among hundreds of
# thousands of archive sentences: a sentence at cosine 0.55 was absent from a
# top-30 of hits at 0.29-0.33. `bench/bench_archive.py` measures recall@k
# against brute-force cosine over the stored vectors for several ef_search
# values and prints the latency of each. Up to 3,557 sentences every value
# from 10 to 200 reached recall@30 >= 0.999, so these (twice the defaults, M
# doubled for a better-connected graph) still await the full-archive run.
# ef_search can be changed on an existing collection (stores made before are
# raised to it when opened); ef_construction and M only apply to new ones.
HNSW_SEARCH_EF = 200
HNSW_CONSTRUCTION_EF = 200
HNSW_M = 32


class StoreLocked(StatementbotError):
    """Another process is writing to the same embedded data directory."""


class StoreUnavailable(StatementbotError):
    """The Chroma server cannot be reached or answered with an error."""


class StoreNotResponding(StoreUnavailable):
    """The Chroma server accepted the connection (or not) but did not answer within the timeout."""

    hint = "Try again shortly; if it persists, check the Chroma server (it may be stopped or overloaded)."


class EmbeddingModelMismatch(StatementbotError):
    """The collection was built with another embedding model."""


@dataclass(frozen=True)
class StoreInfo:
    model: str
    dimension: int
    space: str  # Chroma's distance function: always "cosine"
    telemetry: bool  # anonymized telemetry: always False
    location: str
    embedded: bool


@dataclass
class IndexState:
    """Everything re-ingestion needs to plan, read in a few round trips per run.

    Ids are enough to tell what is stored: a chunk id is ``doc:label:hash:window``
    and a sentence id ``doc:label:hash:sN``, so an unchanged paragraph is spotted
    without reading its text or embedding it.
    """

    chunk_ids: dict[str, set[str]] = field(default_factory=dict)  # doc id -> chunk ids
    sentence_ids: dict[str, set[str]] = field(default_factory=dict)  # doc id -> sentence ids
    windows: dict[str, int] = field(default_factory=dict)  # paragraph key -> windows it was split into
    positions: dict[str, int] = field(default_factory=dict)  # paragraph key -> stored position
    records: dict[str, DocumentRecord] = field(default_factory=dict)  # doc id -> record

    def doc_ids(self) -> set[str]:
        """Documents with a record or any leftover paragraphs (orphans of an interrupted run)."""
        return set(self.records) | set(self.chunk_ids) | set(self.sentence_ids)


@dataclass(frozen=True)
class StoredSentence:
    paragraph_key: str
    index: int
    span: Span
    text: str
    vector: np.ndarray


def sentence_id(key: str, index: int) -> str:
    return f"{key}:s{index}"


def span_id(key: str, index: int) -> str:
    """The id of a span of several sentences (a long paragraph's evidence unit).

    Apart from `sentence_id`s, so that a store written when the paragraph had one
    record per sentence is rewritten on re-ingest instead of keeping stale spans.
    """
    return f"{key}:g{index}"


def _chroma_settings() -> Any:
    import chromadb

    # Telemetry off: the product runs in places that must not phone home.
    return chromadb.Settings(anonymized_telemetry=False, allow_reset=False)


class _WriterLock:
    """An exclusive, non-blocking lock on a data directory (released on close or exit)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = None

    def acquire(self) -> None:
        if self._handle is not None:
            return
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise StoreLocked(
                f"The data directory {self.path.parent} is being written by {holder}.",
                hint="Wait for it to finish, or stop it; a running bot can ingest for you.",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


class ParagraphStore:
    """The project's only door to Chroma."""

    def __init__(
        self,
        client: ClientAPI,
        embedder: Embedder,
        *,
        prefix: str = DEFAULT_PREFIX,
        writer_lock: _WriterLock | None = None,
        location: str = "",
        stamp_path: Path | None = None,
    ) -> None:
        self.client = client
        self.embedder = embedder
        self.prefix = prefix
        self.location = location
        self.timeout_s = DEFAULT_SERVER_TIMEOUT_S  # for messages; open_server sets the real one
        self._writer_lock = writer_lock
        # The embedded store's corpus version, also kept in a file (`corpus_stamp_path`): read-only
        # commands compare it with the local mirror's and answer without importing chromadb.
        self._stamp_path = stamp_path
        metadata = {"embedding_model": embedder.name, "embedding_dimension": embedder.dimension}
        with self._translate_errors():
            self._chunks = self._collection(f"{prefix}_chunks", metadata)
            self._sentences = self._collection(f"{prefix}_sentences", metadata)
            self._documents = self._collection(f"{prefix}_documents", metadata)
        for collection in (self._chunks, self._sentences, self._documents):
            self._check_model(collection)

    # Construction --------------------------------------------------------
    @classmethod
    def open_embedded(cls, data_dir: Path, embedder: Embedder, *, prefix: str = DEFAULT_PREFIX) -> ParagraphStore:
        import chromadb

        data_dir.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(data_dir / "chroma"), settings=_chroma_settings())
        return cls(
            client,
            embedder,
            prefix=prefix,
            writer_lock=_WriterLock(data_dir / "writer.lock"),
            location=str(data_dir),
            stamp_path=corpus_stamp_path(data_dir, prefix),
        )

    @classmethod
    def open_server(
        cls,
        url: str,
        embedder: Embedder,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout_s: float = DEFAULT_SERVER_TIMEOUT_S,
    ) -> ParagraphStore:
        """A store on a Chroma server; every request has `timeout_s` to connect and `timeout_s` to answer."""
        import chromadb

        parsed = urlparse(url if "://" in url else f"http://{url}")
        if not parsed.hostname:
            raise StoreUnavailable(
                f"STATEMENTBOT_CHROMA_URL {url!r} has no host.", hint="Use e.g. http://127.0.0.1:8000"
            )
        scheme = "https" if parsed.scheme == "https" else "http"
        port = parsed.port or (443 if scheme == "https" else 8000)
        unreachable = "Start it with `chroma run --path DIR`, or unset STATEMENTBOT_CHROMA_URL for the embedded store."
        # chromadb's HttpClient talks to the server while it is constructed, with no timeout
        # at all; a heartbeat with one first turns a frozen server into an error, not a hang.
        _heartbeat(f"{scheme}://{parsed.hostname}:{port}", url, timeout_s, unreachable)
        try:
            client = chromadb.HttpClient(
                host=parsed.hostname, port=port, ssl=scheme == "https", settings=_chroma_settings()
            )
            _set_http_timeout(client, timeout_s)
            client.heartbeat()
        except Exception as error:  # chromadb raises many transport types; all mean "unreachable"
            if _is_timeout(error):
                raise _not_responding(url, timeout_s) from error
            raise StoreUnavailable(
                f"Cannot reach the Chroma server at {url}: {error.__class__.__name__}.", hint=unreachable
            ) from error
        store = cls(client, embedder, prefix=prefix, location=url)
        store.timeout_s = timeout_s
        return store

    def _collection(self, name: str, metadata: dict[str, Any]) -> Collection:
        collection = self.client.get_or_create_collection(
            name,
            metadata=metadata,
            configuration={
                "hnsw": {
                    "space": "cosine",
                    "ef_search": HNSW_SEARCH_EF,
                    "ef_construction": HNSW_CONSTRUCTION_EF,
                    "max_neighbors": HNSW_M,
                }
            },
            embedding_function=None,  # we always pass vectors: Chroma's default would download a model
        )
        self._raise_search_ef(collection)
        return collection

    def _raise_search_ef(self, collection: Collection) -> None:
        """Give a collection made with a smaller search breadth (an older store) the current one.

        Only ef_search can change after creation; the graph itself (M,
        ef_construction) stays as it was built, which the search breadth
        largely makes up for.
        """
        hnsw = (collection.configuration_json or {}).get("hnsw") or {}
        if int(hnsw.get("ef_search") or 0) < HNSW_SEARCH_EF:
            collection.modify(configuration={"hnsw": {"ef_search": HNSW_SEARCH_EF}})

    def search_ef(self) -> int:
        """The HNSW search breadth of the paragraph collection, as Chroma holds it."""
        hnsw = (self._chunks.configuration_json or {}).get("hnsw") or {}
        return int(hnsw.get("ef_search") or 0)

    def set_search_ef(self, ef_search: int) -> None:
        """Change the HNSW search breadth of the searched collections (benchmarks sweep it)."""
        with self._translate_errors():
            for collection in (self._chunks, self._sentences):
                collection.modify(configuration={"hnsw": {"ef_search": ef_search}})

    def _check_model(self, collection: Collection) -> None:
        meta = collection.metadata or {}
        model = meta.get("embedding_model")
        dimension = meta.get("embedding_dimension")
        if model != self.embedder.name or dimension != self.embedder.dimension:
            raise EmbeddingModelMismatch(
                f"Collection {collection.name!r} was built with {model} ({dimension} dimensions), "
                f"not {self.embedder.name} ({self.embedder.dimension}).",
                hint="Use another STATEMENTBOT_DATA_DIR or STATEMENTBOT_COLLECTION, or remove the old data.",
            )

    @contextlib.contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except StatementbotError:
            raise
        except Exception as error:
            if _is_timeout(error):
                raise _not_responding(self.location, self.timeout_s) from error
            self._translate_other(error)
            raise

    def _translate_other(self, error: Exception) -> None:
        """Raise the domain error for a transport or Chroma failure; return for anything else."""
        if isinstance(error, ConnectionError | OSError):
            raise StoreUnavailable(
                f"The vector store at {self.location} failed: {error}", hint="Check that Chroma is running."
            ) from error
        # httpx errors from the HTTP client land here too; name the class, not a trace.
        if error.__class__.__module__.startswith(("httpx", "chromadb")):
            raise StoreUnavailable(
                f"The vector store at {self.location} failed: {error.__class__.__name__}: {error}",
                hint="Check that Chroma is running and reachable.",
            ) from error

    def describe(self) -> StoreInfo:
        """The embedding model, distance and telemetry setting the store was opened with."""
        meta = self._chunks.metadata or {}
        # The raw JSON: the parsed `configuration` warns about our (deliberately absent) embedding function.
        configuration: Any = self._chunks.configuration_json or {}
        hnsw = configuration.get("hnsw") or {}
        return StoreInfo(
            model=str(meta.get("embedding_model")),
            dimension=int(meta.get("embedding_dimension", 0)),
            space=str(hnsw.get("space", "")),
            telemetry=bool(self.client.get_settings().anonymized_telemetry),
            location=self.location,
            embedded=self._writer_lock is not None,
        )

    def acquire_writer(self) -> None:
        """Take the embedded store's writer lock (no-op for a server)."""
        if self._writer_lock is not None:
            self._writer_lock.acquire()

    def close(self) -> None:
        if self._writer_lock is not None:
            self._writer_lock.release()

    # Versioning for derived indexes -------------------------------------
    def corpus_version(self) -> str:
        """Changes whenever paragraphs or document records change; derived caches key on it."""
        with self._translate_errors():
            meta = self.client.get_collection(self._chunks.name).metadata or {}
        return str(meta.get(_VERSION_KEY, "empty"))

    def _bump_version(self) -> None:
        meta = dict(self._chunks.metadata or {})
        version = uuid.uuid4().hex
        meta[_VERSION_KEY] = version
        self._chunks.modify(metadata=meta)
        self._write_stamp(version)

    def _begin_change(self) -> None:
        """Take the writer lock and withdraw the version stamp before a write that changes the version.

        From here until the write's `_bump_version` stamps the new version, the file is absent, so a
        read-only command falls back to Chroma rather than trust a mirror of the old corpus; a
        write that fails halfway leaves no stamp at all.
        """
        self.acquire_writer()
        if self._stamp_path is not None:
            self._stamp_path.unlink(missing_ok=True)

    def _write_stamp(self, version: str) -> None:
        if self._stamp_path is None:
            return
        temporary = self._stamp_path.with_name(f"{self._stamp_path.name}.{os.getpid()}.tmp")
        try:
            temporary.write_text(version, encoding="utf-8")
            temporary.replace(self._stamp_path)
        except OSError as error:
            # The write itself succeeded: without a stamp, read-only commands read Chroma, as before stamps.
            log.warning("could not write the corpus version stamp %s: %s", self._stamp_path, error)
            temporary.unlink(missing_ok=True)

    def stamp_version(self) -> None:
        """Write the version stamp of an embedded store that has none (one written before stamps
        existed, or after a failed write); takes the writer lock, so no write can be under way."""
        if self._stamp_path is None:
            return
        self.acquire_writer()
        with self._translate_errors():
            self._write_stamp(self.corpus_version())

    # Writes ---------------------------------------------------------------
    def add_chunks(self, chunks: Sequence[Chunk], vectors: np.ndarray, *, windows: dict[str, int]) -> None:
        """Upsert paragraph windows. `windows` maps paragraph key -> number of windows."""
        if not chunks:
            return
        self._begin_change()
        ids: list[str] = []
        metadatas: list[Any] = []
        for chunk in chunks:
            p = chunk.paragraph
            key = paragraph_key(p.doc_id, p.label, p.hash)
            meta: dict[str, Any] = {
                "doc_id": p.doc_id,
                "label": p.label,
                "position": p.position,
                "para_hash": p.hash,
                "para_key": key,
                "window": chunk.window,
                "windows": windows[key],
            }
            if chunk.window == 0:
                # The paragraph's text is stored once, as window 0's metadata (which every
                # paragraph read uses), and no window keeps a Chroma document: Chroma copies a
                # document into its metadata table, a string index and a trigram full-text
                # index (about 7.5 bytes per character, `bench/bench_hostile.py`), and nothing
                # here searches Chroma's full text (BM25 is our own index, vectorstore/lexical.py).
                # Stores written before keep their documents; reads take either.
                meta["paragraph_text"] = p.text
            ids.append(chunk.id)
            metadatas.append(meta)
        with self._translate_errors():
            for start in range(0, len(ids), _WRITE_BATCH):
                end = start + _WRITE_BATCH
                self._chunks.upsert(ids=ids[start:end], embeddings=vectors[start:end], metadatas=metadatas[start:end])
            self._bump_version()

    def add_sentences(
        self,
        rows: Sequence[tuple[str, str, str, int, Span, str]],
        vectors: np.ndarray,
        *,
        grouped: dict[str, bool] | None = None,
    ) -> None:
        """Upsert sentences: rows of (doc_id, label, para_hash, index, span, text).

        A paragraph key marked in `grouped` has spans of several sentences (see
        vectorstore.indexing.evidence_spans), stored under `span_id`s.
        """
        grouped = grouped or {}
        if not rows:
            return
        self.acquire_writer()
        ids: list[str] = []
        metadatas: list[Any] = []
        for doc_id, label, para_hash, index, span, _text in rows:
            key = paragraph_key(doc_id, label, para_hash)
            ids.append(span_id(key, index) if grouped.get(key) else sentence_id(key, index))
            metadatas.append(
                {
                    "doc_id": doc_id,
                    "label": label,
                    "para_key": key,
                    "index": index,
                    "start": span.start,
                    "end": span.end,
                }
            )
        with self._translate_errors():
            for start in range(0, len(ids), _WRITE_BATCH):
                end = start + _WRITE_BATCH
                # No document: the text is its paragraph's text between `start` and `end`
                # (see add_chunks for what a Chroma document costs); sentences_for cuts it out.
                self._sentences.upsert(
                    ids=ids[start:end], embeddings=vectors[start:end], metadatas=metadatas[start:end]
                )

    def delete_chunks(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        if not ids:
            return  # nothing changed: the corpus version (and every cache keyed on it) stays
        self._begin_change()
        self._delete(self._chunks, ids)
        with self._translate_errors():
            self._bump_version()

    def update_positions(self, positions: dict[str, int]) -> None:
        """Set the position of stored windows (chunk id -> position) without re-embedding them."""
        if not positions:
            return
        self._begin_change()
        ids = list(positions)
        with self._translate_errors():
            for start in range(0, len(ids), _WRITE_BATCH):
                batch = ids[start : start + _WRITE_BATCH]
                self._chunks.update(ids=batch, metadatas=[{"position": positions[i]} for i in batch])
            self._bump_version()

    def delete_sentences(self, ids: Iterable[str]) -> None:
        self._delete(self._sentences, list(ids))

    def _delete(self, collection: Collection, ids: list[str]) -> None:
        if not ids:
            return
        self.acquire_writer()
        with self._translate_errors():
            for start in range(0, len(ids), _WRITE_BATCH):
                collection.delete(ids=ids[start : start + _WRITE_BATCH])

    def put_document(self, record: DocumentRecord, title_vector: np.ndarray) -> None:
        self.put_documents([record], title_vector.reshape(1, -1))

    def put_documents(self, records: Sequence[DocumentRecord], title_vectors: np.ndarray | None = None) -> None:
        """Write document records; a record means "fully ingested".

        With `title_vectors` (one row per record) the records are upserted; without,
        existing records get their metadata replaced and keep their title vectors
        (a renamed file: same title, new source).
        """
        if not records:
            return
        self._begin_change()
        metadatas = [record_metadata(record) for record in records]
        with self._translate_errors():
            for start in range(0, len(records), _WRITE_BATCH):
                end = start + _WRITE_BATCH
                ids = [r.id for r in records[start:end]]
                if title_vectors is None:
                    self._documents.update(ids=ids, metadatas=metadatas[start:end])
                else:
                    self._documents.upsert(
                        ids=ids,
                        embeddings=title_vectors[start:end],
                        documents=[r.title for r in records[start:end]],
                        metadatas=metadatas[start:end],
                    )
            # Retrieval caches the records (titles, dates, sources) under the corpus version.
            self._bump_version()

    def delete_document_record(self, doc_id: str) -> None:
        self._begin_change()
        self._delete(self._documents, [doc_id])
        with self._translate_errors():
            self._bump_version()

    # Reads ----------------------------------------------------------------
    def index_state(self) -> IndexState:
        """What is stored, for planning a re-ingest: three paginated reads, whatever the corpus size."""
        state = IndexState()
        with self._translate_errors():
            for chunk_id, meta in self._pages(self._chunks, ["metadatas"]):
                doc_id = chunk_id.split(":", 1)[0]
                state.chunk_ids.setdefault(doc_id, set()).add(chunk_id)
                if meta is not None and "para_key" in meta:
                    key = str(meta["para_key"])
                    state.windows[key] = int(meta.get("windows", 1))
                    state.positions[key] = int(meta.get("position", 0))
            for sentence, _meta in self._pages(self._sentences, []):
                state.sentence_ids.setdefault(sentence.split(":", 1)[0], set()).add(sentence)
            for doc_id, meta in self._pages(self._documents, ["metadatas"]):
                state.records[doc_id] = record_from(doc_id, meta or {})
        return state

    def _pages(self, collection: Collection, include: list[Any]) -> Iterator[tuple[str, Any]]:
        """(id, metadata or None) of every record, read a page at a time."""
        for page in _read_pages(collection, include):
            metadatas = page["metadatas"] if "metadatas" in include else None
            for index, record_id in enumerate(page["ids"]):
                yield record_id, (metadatas[index] if metadatas else None)

    def chunk_ids(self, doc_id: str) -> set[str]:
        return set(self._ids(self._chunks, {"doc_id": doc_id}))

    def sentence_ids(self, doc_id: str) -> set[str]:
        return set(self._ids(self._sentences, {"doc_id": doc_id}))

    def _ids(self, collection: Collection, where: dict[str, Any] | None) -> list[str]:
        with self._translate_errors():
            return [record_id for page in _read_pages(collection, [], where=where) for record_id in page["ids"]]

    def stored_doc_ids(self) -> set[str]:
        """Every document id that has paragraphs or a record (orphans included)."""
        ids = {chunk_id.split(":", 1)[0] for chunk_id in self._ids(self._chunks, None)}
        return ids | set(self._ids(self._documents, None))

    def documents(self) -> list[DocumentRecord]:
        with self._translate_errors():
            page = self._documents.get(include=["metadatas"])
        records = [record_from(doc_id, meta) for doc_id, meta in zip(page["ids"], page["metadatas"] or [], strict=True)]
        return newest_first(records)

    def has_documents(self) -> bool:
        """Whether any document is stored: one record read, where `documents()` reads all (~1 s at archive scale)."""
        with self._translate_errors():
            return bool(self._documents.get(limit=1, include=[])["ids"])

    def document(self, doc_id: str) -> DocumentRecord:
        with self._translate_errors():
            page = self._documents.get(ids=[doc_id], include=["metadatas"])
        if not page["ids"]:
            raise UnknownDocument(f"No document with id {doc_id!r}.")
        return record_from(page["ids"][0], (page["metadatas"] or [{}])[0])

    def documents_with_hash(self, content_hash: str) -> list[DocumentRecord]:
        with self._translate_errors():
            page = self._documents.get(where={"content_hash": content_hash}, include=["metadatas"])
        return [record_from(doc_id, meta) for doc_id, meta in zip(page["ids"], page["metadatas"] or [], strict=True)]

    def record_count(self) -> int:
        """Records (each with a vector) in the three collections: what store growth is counted in."""
        with self._translate_errors():
            return sum(c.count() for c in (self._chunks, self._sentences, self._documents))

    def count_paragraphs(self) -> int:
        with self._translate_errors():
            return len(self._ids(self._chunks, {"window": 0}))

    def paragraphs(self, doc_id: str | None = None) -> list[StoredParagraph]:
        """Paragraphs (whole, not windows), ordered by document and position."""
        # One clause: Chroma intersects the matches of several, and `doc_id and window == 0` read every
        # window of the collection (~1 s at archive scale); a document's windows are few.
        where: dict[str, Any] = {"window": 0} if doc_id is None else {"doc_id": doc_id}
        found: list[StoredParagraph] = []
        with self._translate_errors():
            for page in _read_pages(self._chunks, ["documents", "metadatas"], where=where):
                for text, meta in zip(page["documents"] or [], page["metadatas"] or [], strict=True):
                    if meta.get("window") == 0:
                        found.append(_paragraph(text, meta))
        return sorted(found, key=lambda p: (p.doc_id, p.position))

    def paragraph(self, doc_id: str, label: str) -> StoredParagraph:
        """One paragraph by document and label: the document's ids (one clause, ~10 ms at archive scale),
        then window 0 by id. A `doc_id and label` filter took ~1 s there (see `keys_labelled`)."""
        with self._translate_errors():
            ids = self._chunks.get(where={"doc_id": doc_id}, include=[])["ids"]
        # Ids are `doc:label:hash:window`.
        labels = {chunk_id.split(":", 2)[1]: chunk_id for chunk_id in ids if chunk_id.endswith(":0")}
        if not labels:
            raise UnknownDocument(f"No document with id {doc_id!r}.")
        if label not in labels:
            raise UnknownParagraph(
                f"Document {doc_id!r} has no paragraph {label!r}. It has {label_range(sorted(labels))}."
            )
        with self._translate_errors():
            page = self._chunks.get(ids=[labels[label]], include=["documents", "metadatas"])
        return _paragraph((page["documents"] or [""])[0], (page["metadatas"] or [{}])[0])

    def keys_labelled(self, labels: Sequence[str], doc_ids: Sequence[str] | None = None) -> list[str]:
        """Keys of the paragraphs with one of `labels` (in `doc_ids`, or anywhere): one query.

        A filter on the label is an indexed lookup in Chroma's metadata table, so a label no
        document has costs one query however many documents there are; asking each candidate
        document in turn cost a query per document (minutes at 5,000 documents).
        """
        if not labels or (doc_ids is not None and not doc_ids):
            return []
        if doc_ids is not None and len(doc_ids) <= _LABEL_SCAN_DOCUMENTS:
            # A few named documents: reading their ids costs ~12 ms at archive scale.
            where = {"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": list(doc_ids)}}
        else:
            # One clause, on the label: Chroma intersects the matches of several clauses, which made
            # a label and a list of documents cost as much as the whole collection (~50-900 ms at
            # archive scale).
            where = {"label": labels[0]} if len(labels) == 1 else {"label": {"$in": list(labels)}}
        with self._translate_errors():
            # Ids only: reading no metadata keeps a label that every document has (¶1 of 5,000) cheap too.
            page = self._chunks.get(where=_where(where), include=[])
        # The ids carry document and label (`doc:label:hash:window`), so either filter is finished
        # here; window 0's id ends in ":0" (a `window == 0` clause would be another intersection).
        wanted, allowed = set(labels), None if doc_ids is None else set(doc_ids)
        keys = []
        for chunk_id in page["ids"]:
            doc_id, label, _rest = chunk_id.split(":", 2)
            if chunk_id.endswith(":0") and label in wanted and (allowed is None or doc_id in allowed):
                keys.append(chunk_id[:-2])
        return keys

    def paragraphs_by_key(self, keys: Sequence[str]) -> dict[str, StoredParagraph]:
        if not keys:
            return {}
        # Look up by id (window 0 of each paragraph): a metadata `$in` filter
        # scans and costs ~150 ms at 100k paragraphs, an id lookup ~1 ms.
        with self._translate_errors():
            page = self._chunks.get(ids=[f"{key}:0" for key in keys], include=["documents", "metadatas"])
        paragraphs = [_paragraph(t, m) for t, m in zip(page["documents"] or [], page["metadatas"] or [], strict=True)]
        return {p.key: p for p in paragraphs}

    def dense_search(
        self, vector: np.ndarray, k: int, *, doc_ids: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """(paragraph key, cosine similarity) for the nearest windows, best first."""
        return self._query(self._chunks, vector, k, doc_ids)

    def sentence_search(
        self, vector: np.ndarray, k: int, *, doc_ids: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """(paragraph key, cosine similarity) for the nearest sentences, best first."""
        return self._query(self._sentences, vector, k, doc_ids)

    def _query(
        self, collection: Collection, vector: np.ndarray, k: int, doc_ids: Sequence[str] | None
    ) -> list[tuple[str, float]]:
        where = None if doc_ids is None else _where({"doc_id": {"$in": list(doc_ids)}})
        if doc_ids is not None and not doc_ids:
            return []
        with self._translate_errors():
            # No metadata: a record's id is its paragraph key and a suffix (`key:0`, `key:s3`,
            # `key:g1`), and reading 30 metadata rows per search cost time at archive scale.
            result = collection.query(
                query_embeddings=vector.reshape(1, -1), n_results=k, where=where, include=["distances"]
            )
        ids = result["ids"][0] if result["ids"] else []
        distances = (result["distances"] or [[]])[0]
        return [(record_id.rsplit(":", 1)[0], 1.0 - float(d)) for record_id, d in zip(ids, distances, strict=True)]

    def stored_vectors(self, kind: str) -> tuple[list[str], np.ndarray]:
        """Every record id and vector of ``kind`` ("chunks" or "sentences"), for exact search in benchmarks."""
        collection = self._searched(kind)
        ids: list[str] = []
        rows: list[np.ndarray] = []
        with self._translate_errors():
            for page in _read_pages(collection, ["embeddings"]):
                ids.extend(page["ids"])
                rows.append(np.asarray(page["embeddings"], dtype=np.float32))
        matrix = np.concatenate(rows) if rows else np.zeros((0, self.embedder.dimension), dtype=np.float32)
        return ids, matrix

    def sentence_count(self) -> int:
        """Sentence (evidence span) records: what a resident copy of their vectors would hold."""
        with self._translate_errors():
            return int(self._sentences.count())

    def sentence_pages(self) -> Iterator[tuple[list[Any], np.ndarray]]:
        """Every sentence record's metadata and vector, a page at a time (`vectorstore.resident`)."""
        with self._translate_errors():
            for page in _read_pages(self._sentences, ["metadatas", "embeddings"], page=_VECTOR_READ_PAGE):
                yield list(page["metadatas"] or []), np.asarray(page["embeddings"], dtype=np.float32)

    def nearest_ids(self, kind: str, vector: np.ndarray, k: int) -> list[str]:
        """Record ids of Chroma's approximate nearest neighbours of ``kind``, best first (recall benchmarks)."""
        with self._translate_errors():
            result = self._searched(kind).query(query_embeddings=vector.reshape(1, -1), n_results=k, include=[])
        return list(result["ids"][0])

    def _searched(self, kind: str) -> Collection:
        collections = {"chunks": self._chunks, "sentences": self._sentences}
        if kind not in collections:
            raise ValueError(f"kind must be one of {sorted(collections)}, not {kind!r}")
        return collections[kind]

    def sentences_for(
        self, keys: Sequence[str], *, paragraphs: Mapping[str, StoredParagraph] | None = None
    ) -> list[StoredSentence]:
        """The sentences (evidence spans) of the paragraphs `keys`, in paragraph and sentence order.

        Their text is cut from their paragraph's: a caller that has read the paragraphs
        passes them (`paragraphs`, by key) and saves a read.
        """
        if not keys:
            return []
        if len(keys) > _SENTENCE_KEYS_PER_READ:
            # Each key asks for _SENTENCE_GUESS ids; SQLite caps a statement's variables.
            sentences: list[StoredSentence] = []
            for start in range(0, len(keys), _SENTENCE_KEYS_PER_READ):
                sentences += self.sentences_for(keys[start : start + _SENTENCE_KEYS_PER_READ], paragraphs=paragraphs)
            return sorted(sentences, key=lambda s: (s.paragraph_key, s.index))
        # By id, like paragraphs_by_key: ids are `key:s0`, `key:s1`, ... Guess a
        # generous count; a paragraph that fills the guess, or has none of them (its
        # sentences are grouped into spans, `key:g0`, ...), is fetched by filter.
        include: Any = ["documents", "metadatas", "embeddings"]
        with self._translate_errors():
            page = self._sentences.get(
                ids=[sentence_id(key, i) for key in keys for i in range(_SENTENCE_GUESS)], include=include
            )
            found = set(page["ids"])
            refetch = {
                key
                for key in keys
                if sentence_id(key, 0) not in found or sentence_id(key, _SENTENCE_GUESS - 1) in found
            }
            rows = [row for row in _sentence_rows(page) if row[1]["para_key"] not in refetch]
            if refetch:
                rows += _sentence_rows(
                    self._sentences.get(where=_where({"para_key": {"$in": sorted(refetch)}}), include=include)
                )
        # Sentences written since the layout without documents: cut from their paragraph's text.
        untexted = sorted({str(meta["para_key"]) for text, meta, _vector in rows if not text})
        known = dict(paragraphs or {})
        unread = [key for key in untexted if key not in known]
        if unread:
            known.update(self.paragraphs_by_key(unread))
        sentences = []
        for stored_text, meta, vector in rows:
            key = str(meta["para_key"])
            text = stored_text
            span = Span(int(meta["start"]), int(meta["end"]))
            if not text:
                paragraph = known.get(key)
                if paragraph is None:
                    continue  # its paragraph is gone (a removal between the two reads)
                text = paragraph.text[span.start : span.end]
            sentences.append(
                StoredSentence(
                    paragraph_key=key,
                    index=int(meta["index"]),
                    span=span,
                    text=text,
                    vector=np.asarray(vector, dtype=np.float32),
                )
            )
        return sorted(sentences, key=lambda s: (s.paragraph_key, s.index))


def _read_pages(
    collection: Collection, include: list[Any], *, where: dict[str, Any] | None = None, page: int | None = None
) -> Iterator[Any]:
    """Every record of `collection` (matching `where`) as Chroma's pages of `page` records
    (default `_READ_PAGE`); no empty page."""
    size = page or _READ_PAGE
    offset = 0
    while True:
        read = collection.get(where=where, include=include, limit=size, offset=offset)
        if len(read["ids"]):
            yield read
        if len(read["ids"]) < size:
            return
        offset += size


def _sentence_rows(page: Any) -> list[tuple[str | None, Any, Any]]:
    """(document or None, metadata, vector) of each record of a sentence read."""
    metadatas = list(page["metadatas"] or [])
    documents = list(page["documents"] or [None] * len(metadatas))
    return list(zip(documents, metadatas, page["embeddings"], strict=True))


def _heartbeat(base: str, url: str, timeout_s: float, unreachable: str) -> None:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{base}/api/v2/heartbeat", timeout=timeout_s) as response:  # noqa: S310 - http(s) only
            response.read()
    except urllib.error.HTTPError:
        return  # it answered: an older server or a proxy; the client's own heartbeat decides
    except (TimeoutError, OSError) as error:
        if _is_timeout(error) or isinstance(getattr(error, "reason", None), TimeoutError):
            raise _not_responding(url, timeout_s) from error
        raise StoreUnavailable(
            f"Cannot reach the Chroma server at {url}: {error.__class__.__name__}.", hint=unreachable
        ) from error


def _set_http_timeout(client: Any, timeout_s: float) -> None:
    """Give chromadb's httpx session connect/read/write timeouts (it creates it with none).

    chromadb exposes no setting for this; its HTTP API object keeps the httpx.Client in
    `_session`. If a chromadb upgrade moves it, fail loudly rather than run without a timeout.
    """
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if not isinstance(session, httpx.Client):
        raise RuntimeError("chromadb's HTTP client has moved; cannot set the Chroma timeout (see store.py)")
    session.timeout = httpx.Timeout(timeout_s)


def _is_timeout(error: BaseException) -> bool:
    """httpx.TimeoutException (connect/read/write/pool), a socket timeout, or one wrapped by chromadb."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, TimeoutError) or "Timeout" in seen.__class__.__name__:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _not_responding(location: str, timeout_s: float) -> StoreNotResponding:
    return StoreNotResponding(f"The Chroma server at {location} did not answer within {timeout_s:g} s.")


def _where(clause: dict[str, Any]) -> Any:
    """A Chroma `where` filter (its TypedDicts reject `$in` lists built at run time)."""
    return clause


def _paragraph(text: str, meta: Any) -> StoredParagraph:
    return StoredParagraph(
        doc_id=str(meta["doc_id"]),
        label=str(meta["label"]),
        position=int(meta["position"]),
        text=str(meta.get("paragraph_text") or text),
        hash=str(meta["para_hash"]),
    )
