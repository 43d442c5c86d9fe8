"""The Chroma store: model bookkeeping, cosine distance, telemetry off, verbatim reads, both modes.

Every test taking `store` or `store_location` runs twice: against an embedded
PersistentClient in tmp_path and against a real `chroma run` server.
"""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest

from errors import UnknownDocument, UnknownParagraph
from ingest.parser import parse_statement
from tests.conftest import StoreLocation
from vectorstore.embeddings import MODEL_DIMENSION, MODEL_NAME, Embedder
from vectorstore.indexing import Indexer
from vectorstore.store import EmbeddingModelMismatch, ParagraphStore, StoreUnavailable

STATEMENT = """Maritime Cooperation Statement

4 June 2024

The two Ministers met in London.

1. The Ministers welcomed the first landing of F-35B aircraft on JS KAGA.
2. They agreed to deliver GCAP by 2035. Work will start at once.
3. The Ministers looked forward to the next meeting in 2026.
"""


class OtherModel(Embedder):
    """An embedder that reports another model; it never embeds (the store refuses it first)."""

    def __init__(self, name: str, dimension: int) -> None:
        super().__init__(name=name)
        self.dimension = dimension


def _ingest(store: ParagraphStore, text: str = STATEMENT, source: str = "maritime.txt") -> None:
    Indexer(store).ingest_document(parse_statement(text, source=source))


def test_store_records_model_cosine_and_no_telemetry(store: ParagraphStore):
    """The collections record model name and dimension; distance is cosine; telemetry is off."""
    info = store.describe()
    assert (info.model, info.dimension) == (MODEL_NAME, MODEL_DIMENSION)
    assert info.space == "cosine"
    assert info.telemetry is False


@pytest.mark.parametrize(("name", "dimension"), [("other-model", MODEL_DIMENSION), (MODEL_NAME, 768)])
def test_opening_with_another_model_is_refused(store_location: StoreLocation, embedder, name, dimension):
    """A store built with MiniLM refuses an embedder with another name or dimension, saying which."""
    first = store_location.open(embedder)
    _ingest(first)
    first.close()
    with pytest.raises(EmbeddingModelMismatch) as caught:
        store_location.open(OtherModel(name, dimension))
    message = caught.value.user_message()
    assert MODEL_NAME in message
    assert name in message
    assert str(dimension) in message


def test_reopening_with_the_same_model_keeps_the_data(store_location: StoreLocation, embedder):
    """Data written by one store object is there when the store is opened again."""
    first = store_location.open(embedder)
    _ingest(first)
    first.close()
    again = store_location.open(embedder)
    assert [r.id for r in again.documents()] == ["maritime"]
    assert again.count_paragraphs() == 4


def test_cosine_similarity_of_a_paragraph_with_itself_and_its_opposite(store: ParagraphStore, embedder):
    """Dense search returns cosine similarity: 1 for the paragraph's own vector, -1 for its negation."""
    _ingest(store)
    paragraph = store.paragraph("maritime", "1")
    vector = embedder.encode([paragraph.text])[0]
    key, score = store.dense_search(vector, 1)[0]
    assert key == paragraph.key
    assert score == pytest.approx(1.0, abs=1e-3)
    farthest = dict(store.dense_search(-vector, 4))[paragraph.key]
    assert farthest == pytest.approx(-1.0, abs=1e-3)


def test_paragraphs_and_sentences_are_read_back_verbatim(store: ParagraphStore):
    """Stored paragraphs keep label, position and exact text; sentences keep their spans."""
    _ingest(store)
    paragraphs = store.paragraphs("maritime")
    assert [(p.label, p.position) for p in paragraphs] == [("preamble", 0), ("1", 1), ("2", 2), ("3", 3)]
    second = store.paragraph("maritime", "2")
    assert second.text == "They agreed to deliver GCAP by 2035. Work will start at once."
    sentences = store.sentences_for([second.key])
    assert [s.text for s in sentences] == ["They agreed to deliver GCAP by 2035.", "Work will start at once."]
    assert all(second.text[s.span.start : s.span.end] == s.text for s in sentences)
    assert all(np.linalg.norm(s.vector) == pytest.approx(1.0, abs=1e-4) for s in sentences)


def test_every_sentence_vector_is_read_into_memory_page_by_page(store: ParagraphStore, monkeypatch: pytest.MonkeyPatch):
    """`read_resident` (the bot's in-memory copy) pages through every sentence record, in both modes, and holds
    for each paragraph the sentences `sentences_for` reads: same spans, same text, same vectors."""
    from vectorstore import store as store_module
    from vectorstore.resident import read_resident

    _ingest(store)
    monkeypatch.setattr(store_module, "_VECTOR_READ_PAGE", 2)  # several pages, one of them short
    resident = read_resident(store, store.corpus_version(), max_mb=16)
    assert resident is not None
    assert resident.matrix.shape == (store.sentence_count(), MODEL_DIMENSION)
    paragraphs = store.paragraphs("maritime")
    assert set(resident.rows) == {p.key for p in paragraphs}
    for paragraph in paragraphs:
        held = resident.sentences(paragraph)
        read = store.sentences_for([paragraph.key])
        assert held is not None
        assert [(s.index, s.span, s.text) for s in held] == [(s.index, s.span, s.text) for s in read]
        for ours, theirs in zip(held, read, strict=True):
            np.testing.assert_array_equal(ours.vector, theirs.vector)
    assert read_resident(store, store.corpus_version(), max_mb=0.001) is None  # over the limit: nothing held
    # Records added or removed while the pages were read (an ingest running): the copy would be a mixture.
    count = store.sentence_count()
    for seen in (count - 1, count + 1):
        monkeypatch.setattr(store, "sentence_count", lambda seen=seen: seen)
        assert read_resident(store, store.corpus_version(), max_mb=16) is None


_FRAGMENTED_HEAP = """
import sys
from vectorstore.resident import release_freed_memory

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024

blocks = [bytes(600) for _ in range(200_000)]  # ~130 MB of malloc'd blocks (over pymalloc's 512 bytes)
kept = blocks[::50]  # one in fifty survives: the freed space between them is not at the heap's top
del blocks
before = rss_mb()
print(release_freed_memory(), before, rss_mb())
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc (Linux)")
def test_freed_memory_goes_back_to_the_system():
    """After the in-memory copy's read and the warm-up, the freed heap leaves the bot's RSS
    (glibc keeps freed blocks between live ones counted until `malloc_trim`)."""
    import subprocess
    import sys

    ran = subprocess.run(
        [sys.executable, "-c", _FRAGMENTED_HEAP],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    trimmed, before, after = ran.stdout.split()
    if trimmed == "False":
        pytest.skip("no malloc_trim in this C library")
    assert int(before) - int(after) > 60, (before, after)


def test_document_record_fields(store: ParagraphStore):
    """The document record carries title, date, source, paragraph count and an ingestion time."""
    _ingest(store)
    record = store.document("maritime")
    assert record.title == "Maritime Cooperation Statement"
    assert record.date is not None
    assert record.date.isoformat() == "2024-06-04"
    assert (record.source, record.paragraphs, record.numbered) == ("maritime.txt", 4, True)
    assert record.ingested_at.endswith("+00:00")


def test_unknown_document_and_paragraph_raise_domain_errors(store: ParagraphStore):
    """Asking for a missing document or label raises UnknownDocument / UnknownParagraph with a hint."""
    _ingest(store)
    with pytest.raises(UnknownDocument, match="nope"):
        store.document("nope")
    with pytest.raises(UnknownDocument, match="nope"):
        store.paragraph("nope", "1")
    with pytest.raises(UnknownParagraph, match="'9'") as caught:
        store.paragraph("maritime", "9")
    assert "own numbers" in caught.value.user_message()  # a neutral hint: front ends add their own command


def test_paragraph_keys_by_label_in_few_documents_in_many_and_anywhere(store: ParagraphStore, monkeypatch):
    """`keys_labelled` answers the same whether it reads the named documents' ids or filters on the label."""
    from vectorstore import store as store_module

    _ingest(store)
    _ingest(store, STATEMENT.replace("Maritime", "Harbour"), source="harbour.txt")
    few = store.keys_labelled(["2", "3"], ["maritime"])
    anywhere = store.keys_labelled(["2"])
    assert sorted(key.split(":")[:2] for key in few) == [["maritime", "2"], ["maritime", "3"]]
    assert sorted(key.split(":")[0] for key in anywhere) == ["harbour", "maritime"]
    assert store.keys_labelled(["9"], ["maritime"]) == []
    monkeypatch.setattr(store_module, "_LABEL_SCAN_DOCUMENTS", 0)  # as if many documents were named
    assert sorted(store.keys_labelled(["2", "3"], ["maritime"])) == sorted(few)
    assert store.keys_labelled(["2"], ["harbour", "nope"]) == [k for k in anywhere if k.startswith("harbour:")]


def test_long_paragraph_is_stored_as_windows_but_read_whole(store: ParagraphStore, embedder):
    """A paragraph split into windows still reads back as one paragraph with its full text."""
    long_text = " ".join(f"Point {n}: the Ministers welcomed maritime cooperation in the region." for n in range(24))
    _ingest(store, f"Long Statement\n\n1. {long_text}\n2. Short one.\n", "long.txt")
    paragraph = store.paragraph("long", "1")
    assert paragraph.text == long_text
    assert [p.label for p in store.paragraphs("long")] == ["1", "2"]
    windows = store.index_state().windows[paragraph.key]
    assert windows > 1
    assert store.count_paragraphs() == 2


def test_corpus_version_changes_only_when_paragraphs_change(store: ParagraphStore):
    """Derived caches key on corpus_version: a write changes it, a read or a no-op does not."""
    assert store.corpus_version() == "empty"
    _ingest(store)
    version = store.corpus_version()
    assert version != "empty"
    store.paragraphs()
    store.delete_chunks([])
    assert store.corpus_version() == version
    _ingest(store, STATEMENT.replace("2026", "2027"))
    assert store.corpus_version() != version
    version = store.corpus_version()
    _ingest(store, STATEMENT.replace("Maritime Cooperation Statement", "Maritime Statement"))
    assert store.document("maritime").title == "Maritime Statement"
    assert store.corpus_version() != version, "a new title must reach caches keyed on the version"


def test_unreachable_server_is_a_clear_error(embedder):
    """A Chroma URL nobody listens on raises StoreUnavailable naming the URL and how to fix it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(StoreUnavailable) as caught:
        ParagraphStore.open_server(url, embedder)
    assert url in caught.value.user_message()
    assert "chroma run" in caught.value.user_message()


def test_collections_are_built_with_the_wider_hnsw_search(store: ParagraphStore):
    """New collections get the measured ef_search, ef_construction and M (see `bench/bench_archive.py`)."""
    from vectorstore.store import HNSW_CONSTRUCTION_EF, HNSW_M, HNSW_SEARCH_EF

    hnsw = store._chunks.configuration_json["hnsw"]
    assert (hnsw["ef_search"], hnsw["ef_construction"], hnsw["max_neighbors"]) == (
        HNSW_SEARCH_EF,
        HNSW_CONSTRUCTION_EF,
        HNSW_M,
    )
    assert store.search_ef() == HNSW_SEARCH_EF


def test_an_older_store_is_opened_with_the_wider_search(tmp_path: Path, embedder: Embedder):
    """A store whose collections were made with Chroma's defaults keeps its data and gets the new ef_search."""
    import chromadb

    from vectorstore.store import HNSW_SEARCH_EF, _chroma_settings

    client = chromadb.PersistentClient(path=str(tmp_path / "data" / "chroma"), settings=_chroma_settings())
    meta = {"embedding_model": MODEL_NAME, "embedding_dimension": MODEL_DIMENSION}
    old = client.create_collection(
        "statementbot_chunks", metadata=meta, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
    )
    old.add(ids=["x:1:h:0"], embeddings=[[1.0] + [0.0] * 383], metadatas=[{"doc_id": "x", "para_key": "x:1:h"}])
    assert old.configuration_json["hnsw"]["ef_search"] < HNSW_SEARCH_EF
    # Closed, not just dropped: an unclosed client's system kept its SQLite connections, and the store's first
    # write (raising ef_search) failed once in a full CI run with "database is locked".
    client.close()
    store = ParagraphStore.open_embedded(tmp_path / "data", embedder)
    assert store.search_ef() == HNSW_SEARCH_EF
    assert store.dense_search(np.array([1.0] + [0.0] * 383, dtype=np.float32), 1) == [("x:1:h", pytest.approx(1.0))]
    store.close()


def test_approximate_search_finds_the_exact_neighbours(store: ParagraphStore, embedder):
    """Chroma's top 30 sentences are the top 30 by brute-force cosine over the stored vectors."""
    Indexer(store).ingest_document(parse_statement(STATEMENT, source="maritime.txt"))
    ids, matrix = store.stored_vectors("sentences")
    query = embedder.encode(["When will GCAP be delivered?"])[0]
    exact = {ids[i] for i in np.argsort(-(matrix @ query))[:30]}
    assert set(store.nearest_ids("sentences", query, 30)) == exact
