"""Read-only commands read the embedded store's local mirror (vectorstore/mirror.py) only while it holds
the current corpus: the stamp file written with each corpus version says so, and every write withdraws it
until the write is done."""

from __future__ import annotations

from pathlib import Path

import pytest

from errors import UnknownDocument, UnknownParagraph
from ingest.parser import parse_statement
from qa.service import StatementService
from tests.test_store import STATEMENT as MARITIME
from vectorstore.indexing import Indexer
from vectorstore.lexical import LexicalIndex
from vectorstore.mirror import CorpusMirror, lexical_path
from vectorstore.store import DEFAULT_PREFIX, ParagraphStore, corpus_stamp_path

LONG = " ".join(f"Point {n}: the Ministers welcomed maritime cooperation in the region." for n in range(24))


def _ingest(store: ParagraphStore, text: str, source: str) -> None:
    Indexer(store).ingest_document(parse_statement(text, source=source))


def _mirror(data_dir: Path) -> CorpusMirror | None:
    return CorpusMirror.open(data_dir, DEFAULT_PREFIX)


@pytest.fixture
def ingested_dir(embedded_store: ParagraphStore, tmp_path: Path) -> Path:
    _ingest(embedded_store, MARITIME, "maritime.txt")
    # Undated, with a paragraph long enough to be stored as several windows.
    _ingest(embedded_store, f"Long Statement\n\n1. {LONG}\n2. Short one.\n", "long.txt")
    return tmp_path / "data"


def _errors(reader: CorpusMirror | ParagraphStore) -> list[str]:
    messages = []
    for doc_id, label in [("nope", "1"), ("maritime", "9"), ("long", "0")]:
        with pytest.raises((UnknownDocument, UnknownParagraph)) as caught:
            reader.paragraph(doc_id, label)
        messages.append(f"{type(caught.value).__name__}: {caught.value}")
    with pytest.raises(UnknownDocument) as missing:
        reader.document("nope")
    return [*messages, str(missing.value)]


def test_the_mirror_reads_what_the_store_holds(embedded_store: ParagraphStore, ingested_dir: Path) -> None:
    """Records, paragraphs (a windowed one whole) and the errors for a missing one, as Chroma gives them."""
    lexical = LexicalIndex(embedded_store, lexical_path(ingested_dir, DEFAULT_PREFIX))
    # Retrieval reads the records from the index too (one Chroma read of all records costs ~1 s at archive scale).
    assert lexical.documents() == embedded_store.documents()
    mirror = _mirror(ingested_dir)
    assert mirror is not None
    try:
        assert mirror.documents() == embedded_store.documents()
        assert [r.id for r in mirror.documents()] == ["maritime", "long"]  # newest first, undated last
        for doc_id in ("maritime", "long"):
            assert mirror.document(doc_id) == embedded_store.document(doc_id)
            paragraphs = mirror.paragraphs(doc_id)
            assert paragraphs == embedded_store.paragraphs(doc_id)
            for paragraph in paragraphs:
                assert mirror.paragraph(doc_id, paragraph.label) == embedded_store.paragraph(doc_id, paragraph.label)
        assert mirror.paragraph("long", "1").text == LONG
        assert _errors(mirror) == _errors(embedded_store)
    finally:
        mirror.close()


def test_a_write_withdraws_the_mirror_until_its_index_is_rebuilt(
    embedded_store: ParagraphStore, ingested_dir: Path
) -> None:
    lexical = LexicalIndex(embedded_store, lexical_path(ingested_dir, DEFAULT_PREFIX))
    lexical.ensure_fresh()
    stamp = corpus_stamp_path(ingested_dir, DEFAULT_PREFIX)
    assert stamp.read_text() == embedded_store.corpus_version()
    _ingest(embedded_store, MARITIME.replace("Maritime", "Harbour"), "harbour.txt")
    assert stamp.read_text() == embedded_store.corpus_version()
    assert _mirror(ingested_dir) is None, "the mirror holds the corpus before the write"
    lexical.ensure_fresh()
    mirror = _mirror(ingested_dir)
    assert mirror is not None
    assert "harbour" in {r.id for r in mirror.documents()}
    mirror.close()


def test_a_failed_write_leaves_no_stamp_until_one_is_written_again(
    embedded_store: ParagraphStore, ingested_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chroma failing halfway through a write: read-only commands go back to Chroma rather than trust the
    mirror of the corpus before it; `stamp_version` (run after each ingest) stamps the store again."""
    LexicalIndex(embedded_store, lexical_path(ingested_dir, DEFAULT_PREFIX)).ensure_fresh()
    assert _mirror(ingested_dir) is not None

    def fail(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(embedded_store._documents, "upsert", fail)
    with pytest.raises(RuntimeError):
        _ingest(embedded_store, MARITIME.replace("Maritime", "Harbour"), "harbour.txt")
    assert not corpus_stamp_path(ingested_dir, DEFAULT_PREFIX).exists()
    assert _mirror(ingested_dir) is None
    monkeypatch.undo()
    embedded_store.stamp_version()
    LexicalIndex(embedded_store, lexical_path(ingested_dir, DEFAULT_PREFIX)).ensure_fresh()
    assert _mirror(ingested_dir) is not None


def test_a_mirror_that_is_not_one_is_not_read(embedded_store: ParagraphStore, ingested_dir: Path) -> None:
    """No index file, a corrupt one, or an index of an older schema: the store is read instead."""
    path = lexical_path(ingested_dir, DEFAULT_PREFIX)
    assert _mirror(ingested_dir) is None  # no index yet
    path.write_bytes(b"not a database")
    assert _mirror(ingested_dir) is None
    path.unlink()
    LexicalIndex(embedded_store, path).ensure_fresh()
    import sqlite3

    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    assert _mirror(ingested_dir) is None


def test_the_service_lists_what_the_store_holds_from_retrievals_records(service: StatementService) -> None:
    """The Discord bot's listing and autocomplete read retrieval's records of the corpus version (milliseconds),
    not Chroma's (~1 s at archive scale): the same records in the same order."""
    assert service.documents() == service.store.documents()
    assert service.documents()


def test_a_stamp_that_cannot_be_written_fails_no_write(
    embedded_store: ParagraphStore,
    ingested_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The disk refusing the stamp file: the ingest succeeds and says so in the log, and read-only commands read
    Chroma (no stamp) rather than a mirror of the corpus before it."""
    stamp = corpus_stamp_path(ingested_dir, DEFAULT_PREFIX)
    real_replace = Path.replace

    def refuse(self: Path, target: Path) -> Path:
        if Path(target) == stamp:
            raise OSError(28, "No space left on device")
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", refuse)
    _ingest(embedded_store, MARITIME.replace("Maritime", "Harbour"), "harbour.txt")
    assert embedded_store.document("harbour").title.startswith("Harbour")
    assert not stamp.exists()
    assert not list(ingested_dir.glob("corpus-version-*.tmp"))
    assert "could not write the corpus version stamp" in caplog.text
    assert _mirror(ingested_dir) is None
