"""Re-ingestion with the Indexer: idempotent, incremental per paragraph, rename-aware, one writer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from errors import UnknownDocument
from ingest.parser import parse_statement
from tests.conftest import REPO, SEED
from vectorstore import indexing
from vectorstore.indexing import Indexer
from vectorstore.store import ParagraphStore, StoreLocked, StoreUnavailable


def statement(title: str, paragraphs: list[str], date: str = "4 June 2024") -> str:
    numbered = "\n".join(f"{n}. {text}" for n, text in enumerate(paragraphs, start=1))
    return f"{title}\n\n{date}\n\n{numbered}\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


PARAGRAPHS = [
    "The Ministers welcomed the carrier strike group. It sailed in May.",
    "They agreed to deliver GCAP by 2035.",
    "They discussed cyber cooperation and space.",
]


def stored_texts(store: ParagraphStore, doc_id: str) -> dict[str, str]:
    return {p.label: p.text for p in store.paragraphs(doc_id)}


def test_reingesting_unchanged_files_embeds_and_writes_nothing(store: ParagraphStore, tmp_path: Path):
    """A second run over the same files computes zero embeddings and leaves the corpus version alone."""
    corpus = tmp_path / "corpus"
    write(corpus / "a.txt", statement("Statement A", PARAGRAPHS))
    write(corpus / "b.txt", statement("Statement B", PARAGRAPHS[:2]))
    indexer = Indexer(store)
    first = indexer.ingest_paths([corpus])
    assert (first.added, first.unchanged, first.embedded > 0) == (5, 0, True)
    version = store.corpus_version()
    embedded_before = store.embedder.texts_embedded

    again = indexer.ingest_paths([corpus])

    assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, 5)
    assert again.embedded == 0
    assert store.embedder.texts_embedded == embedded_before
    assert store.corpus_version() == version
    assert again.document_counts() == {"added": 0, "updated": 0, "removed": 0, "unchanged": 2}


def test_unchanged_files_are_not_read_again(
    embedded_store: ParagraphStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A file whose bytes (and the code reading them) are unchanged is counted from its record, unparsed.

    Its report is the same as a full read's, what the loader left out included; a
    file whose bytes changed is read again.
    """
    corpus = tmp_path / "corpus"
    write(corpus / "a.txt", statement("Statement A", PARAGRAPHS) + "\n###\n")
    changed = write(corpus / "b.txt", statement("Statement B", PARAGRAPHS[:2]))
    indexer = Indexer(embedded_store)
    first = indexer.ingest_paths([corpus])
    assert first.ok
    assert first.left_out == {"end markers": 1}
    read: list[str] = []
    real_load = indexing.load_path
    monkeypatch.setattr(indexing, "load_path", lambda path, **kw: read.append(Path(path).name) or real_load(path, **kw))

    again = indexer.ingest_paths([corpus])
    assert read == []
    assert (again.unchanged, again.embedded, again.left_out) == (5, 0, {"end markers": 1})
    assert {c.id: (c.status, c.paragraphs, c.left_out) for c in again.changes} == {
        "a": ("unchanged", 3, {"end markers": 1}),
        "b": ("unchanged", 2, {}),
    }

    write(changed, statement("Statement B", [PARAGRAPHS[0], "They agreed to deliver GCAP by 2036."]))
    third = indexer.ingest_paths([corpus])
    assert read == ["b.txt"]
    assert (third.updated, third.unchanged) == (1, 4)
    assert stored_texts(embedded_store, "b")["2"] == "They agreed to deliver GCAP by 2036."


def test_new_reading_code_reads_every_file_again(
    embedded_store: ParagraphStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The fingerprint covers the loaders, parser and chunking: rows made by older code are not trusted."""
    corpus = tmp_path / "corpus"
    write(corpus / "a.txt", statement("Statement A", PARAGRAPHS))
    indexer = Indexer(embedded_store)
    indexer.ingest_paths([corpus])
    monkeypatch.setattr(indexing, "_reader_version", lambda: "a newer parser")
    read: list[str] = []
    real_load = indexing.load_path
    monkeypatch.setattr(indexing, "load_path", lambda path, **kw: read.append(Path(path).name) or real_load(path, **kw))

    again = indexer.ingest_paths([corpus])
    assert read == ["a.txt"]
    assert (again.unchanged, again.embedded) == (3, 0)  # read again, but its paragraphs are still stored
    read.clear()
    assert indexer.ingest_paths([corpus]).unchanged == 3
    assert read == []  # the record now carries the new fingerprint


def test_changed_paragraph_is_reembedded_and_its_old_version_removed(store: ParagraphStore, tmp_path: Path):
    """Editing one paragraph re-embeds only it; the old text and vector are gone from the store."""
    path = write(tmp_path / "a.txt", statement("Statement A", PARAGRAPHS))
    indexer = Indexer(store)
    indexer.ingest_paths([path])
    old_key = store.paragraph("a", "2").key
    edited = [PARAGRAPHS[0], "They agreed to deliver GCAP by 2036 instead.", PARAGRAPHS[2]]
    write(path, statement("Statement A", edited))
    before = store.embedder.texts_embedded

    report = indexer.ingest_paths([path])

    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 1, 0, 2)
    # The new paragraph is also its only sentence: one embedding covers both.
    assert report.embedded == 1
    assert store.embedder.texts_embedded - before == 1
    assert stored_texts(store, "a")["2"] == "They agreed to deliver GCAP by 2036 instead."
    state = store.index_state()
    assert not any(cid.startswith(old_key) for cid in state.chunk_ids["a"])
    assert not any(sid.startswith(old_key) for sid in state.sentence_ids["a"])
    vector = store.embedder.encode(["They agreed to deliver GCAP by 2035."])[0]
    assert old_key not in {key for key, _ in store.dense_search(vector, 10)}
    assert old_key not in {key for key, _ in store.sentence_search(vector, 10)}
    assert store.document("a").content_hash == parse_statement(path.read_text(), source=str(path)).content_hash


def test_removed_paragraph_is_deleted(store: ParagraphStore, tmp_path: Path):
    """Dropping paragraph 3 from the file drops it from the store, sentences included."""
    path = write(tmp_path / "a.txt", statement("Statement A", PARAGRAPHS))
    indexer = Indexer(store)
    indexer.ingest_paths([path])
    write(path, statement("Statement A", PARAGRAPHS[:2]))

    report = indexer.ingest_paths([path])

    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 0, 1, 2)
    assert report.embedded == 0
    assert sorted(stored_texts(store, "a")) == ["1", "2"]
    assert store.document("a").paragraphs == 2
    assert not any(":3:" in sid for sid in store.index_state().sentence_ids["a"])


def test_prune_removes_documents_whose_files_are_gone(embedded_store: ParagraphStore, tmp_path: Path):
    """Without --prune a deleted file's document stays; with it, the document and its paragraphs go."""
    corpus = tmp_path / "corpus"
    keep = write(corpus / "keep.txt", statement("Keep", PARAGRAPHS[:2]))
    gone = write(corpus / "gone.txt", statement("Gone", PARAGRAPHS[1:]))
    elsewhere = write(tmp_path / "elsewhere" / "other.txt", statement("Other", PARAGRAPHS[:1] + PARAGRAPHS[2:]))
    indexer = Indexer(embedded_store)
    indexer.ingest_paths([corpus, elsewhere])
    gone.unlink()
    elsewhere.unlink()

    kept = indexer.ingest_paths([corpus])
    assert {r.id for r in embedded_store.documents()} == {"keep", "gone", "other"}
    assert kept.removed == 0

    pruned = indexer.ingest_paths([corpus], prune=True)

    # "other" is gone too, but outside the paths given: prune leaves it alone.
    assert {r.id for r in embedded_store.documents()} == {"keep", "other"}
    assert pruned.removed == 2
    assert [(c.id, c.status) for c in pruned.changes if c.status == "removed"] == [("gone", "removed")]
    assert "gone" not in embedded_store.index_state().doc_ids()
    assert keep.exists()


def test_renamed_file_keeps_its_document(embedded_store: ParagraphStore, tmp_path: Path):
    """A file renamed with the same content is the same document: no duplicate, nothing embedded."""
    old = write(tmp_path / "corpus" / "first-name.txt", statement("Statement A", PARAGRAPHS))
    indexer = Indexer(embedded_store)
    indexer.ingest_paths([old.parent])
    new = old.rename(old.with_name("second-name.txt"))

    report = indexer.ingest_paths([new.parent], prune=True)

    assert report.embedded == 0
    assert [(r.id, r.source) for r in embedded_store.documents()] == [("first-name", str(new.resolve()))]
    assert report.unchanged == 3
    assert embedded_store.count_paragraphs() == 3


def test_copied_file_next_to_its_original_is_a_second_document(embedded_store: ParagraphStore, tmp_path: Path):
    """Only a file whose original is gone counts as renamed; a copy is ingested as its own document."""
    original = write(tmp_path / "corpus" / "original.txt", statement("Statement A", PARAGRAPHS))
    indexer = Indexer(embedded_store)
    indexer.ingest_paths([original])
    write(tmp_path / "corpus" / "copy.txt", original.read_text())

    report = indexer.ingest_paths([original.parent])

    assert report.ok
    assert {r.id for r in embedded_store.documents()} == {"original", "copy"}


def test_same_file_name_in_another_folder_gets_its_own_longer_id(embedded_store: ParagraphStore, tmp_path: Path):
    """Two folders each with a statement.txt: the second neither replaces the first nor is refused."""
    first = write(tmp_path / "2024" / "statement.txt", statement("Statement 2024", PARAGRAPHS[:2]))
    second = write(tmp_path / "2025" / "statement.txt", statement("Statement 2025", PARAGRAPHS[1:]))
    indexer = Indexer(embedded_store)
    indexer.ingest_paths([first.parent])

    report = indexer.ingest_paths([second.parent])

    assert report.ok
    [change] = report.changes
    assert change.id.startswith("statement-")
    assert stored_texts(embedded_store, "statement") == {"1": PARAGRAPHS[0], "2": PARAGRAPHS[1]}
    assert {r.id: r.source for r in embedded_store.documents()} == {
        "statement": str(first.resolve()),
        change.id: str(second.resolve()),
    }
    # Stable: ingesting both folders again changes nothing.
    again = Indexer(embedded_store).ingest_paths([first.parent, second.parent])
    assert again.document_counts()["unchanged"] == 2
    assert again.embedded == 0


def test_moved_and_edited_file_takes_over_its_document(embedded_store: ParagraphStore, tmp_path: Path):
    """A file moved to another folder (the old path gone) and edited updates its document in place."""
    old = write(tmp_path / "inbox" / "a.txt", statement("Statement A", PARAGRAPHS))
    indexer = Indexer(embedded_store)
    indexer.ingest_paths([old])
    new = write(tmp_path / "archive" / "a.txt", statement("Statement A", PARAGRAPHS[:2]))
    old.unlink()

    report = indexer.ingest_paths([new])

    assert (report.removed, report.unchanged, report.embedded) == (1, 2, 0)
    assert [(r.id, r.source) for r in embedded_store.documents()] == [("a", str(new.resolve()))]


def test_file_ingested_with_an_explicit_id_keeps_it(embedded_store: ParagraphStore, tmp_path: Path):
    """After `--id custom`, re-ingesting the folder finds the file under 'custom' instead of duplicating it."""
    path = write(tmp_path / "corpus" / "a.txt", statement("Statement A", PARAGRAPHS))
    indexer = Indexer(embedded_store)
    indexer.ingest_paths([path], doc_id="custom")

    report = indexer.ingest_paths([path.parent])

    assert (report.unchanged, report.embedded) == (3, 0)
    assert [r.id for r in embedded_store.documents()] == ["custom"]


def test_explicit_id_replaces_the_id_a_file_had(embedded_store: ParagraphStore, tmp_path: Path):
    """Re-ingesting a stored file with --id moves it to the new id; the old document is removed."""
    path = write(tmp_path / "corpus" / "a.txt", statement("Statement A", PARAGRAPHS))
    indexer = Indexer(embedded_store)
    indexer.ingest_paths([path.parent])

    report = indexer.ingest_paths([path], doc_id="custom")

    assert [r.id for r in embedded_store.documents()] == ["custom"]
    assert embedded_store.index_state().doc_ids() == {"custom"}
    assert ("a", "removed") in {(c.id, c.status) for c in report.changes}


def test_added_preamble_moves_positions_without_reembedding(embedded_store: ParagraphStore, tmp_path: Path):
    """A new preamble shifts the numbered paragraphs' positions; they are updated, not embedded again."""
    path = write(tmp_path / "a.txt", statement("Statement A", PARAGRAPHS))
    indexer = Indexer(embedded_store)
    indexer.ingest_paths([path])
    write(path, statement("Statement A", PARAGRAPHS).replace("4 June 2024\n\n", "4 June 2024\n\nThey met.\n"))

    report = indexer.ingest_paths([path])

    assert (report.added, report.unchanged) == (1, 3)
    assert report.embedded == 1  # "They met." is both the preamble and its only sentence
    paragraphs = embedded_store.paragraphs("a")
    assert [(p.label, p.position) for p in paragraphs] == [("preamble", 0), ("1", 1), ("2", 2), ("3", 3)]


def test_many_documents_in_small_groups_match_their_files(embedded_store: ParagraphStore, tmp_path: Path):
    """Documents embedded in groups are each stored exactly, and identical texts are embedded once."""
    corpus = tmp_path / "corpus"
    for n in range(7):
        write(corpus / f"s{n}.txt", statement(f"Statement {n}", [f"Paragraph {n} one.", "Shared text.", "Two. Three."]))
    before = embedded_store.embedder.texts_embedded
    report = Indexer(embedded_store, group_texts=10, group_documents=3).ingest_paths([corpus])

    assert report.ok
    assert report.added == 21
    # 7 unique first paragraphs + "Shared text." + "Two." + "Three." + 7 titles; the paragraph
    # "Two. Three." gets the mean of its sentences' vectors, so it is not embedded itself.
    assert report.embedded == embedded_store.embedder.texts_embedded - before == 7 + 3 + 7
    for n in range(7):
        assert stored_texts(embedded_store, f"s{n}") == {
            "1": f"Paragraph {n} one.",
            "2": "Shared text.",
            "3": "Two. Three.",
        }


def test_files_are_reported_in_order_with_failures_by_name(embedded_store: ParagraphStore, tmp_path: Path) -> None:
    """Many files in small groups, one unreadable among them: each is ingested or named, in order."""
    corpus = tmp_path / "corpus"
    count = 19
    for n in range(count):
        write(corpus / f"s{n:02d}.txt", statement(f"Statement {n}", [f"Paragraph {n} one.", "Shared text."]))
    write(corpus / "s05.txt", "")  # empty: unreadable, named, and the run goes on
    seen: list[str] = []
    report = Indexer(embedded_store, group_texts=6, group_documents=2).ingest_paths(
        [corpus], progress=lambda done, total, path: seen.append(Path(path).name) if path else None
    )
    assert [Path(e.path).name for e in report.failed] == ["s05.txt"]
    assert seen == [f"s{n:02d}.txt" for n in range(count)]
    assert [c.id for c in report.changes] == [f"s{n:02d}" for n in range(count) if n != 5]
    assert stored_texts(embedded_store, f"s{count - 1}") == {"1": f"Paragraph {count - 1} one.", "2": "Shared text."}


def test_a_store_failure_mid_run_is_raised_as_itself(
    embedded_store: ParagraphStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store failure while a later group is embedded ends the run with StoreUnavailable, not another
    error, and no group after the failed one is written (the write is attempted once)."""
    corpus = tmp_path / "corpus"
    for n in range(16):
        write(corpus / f"s{n:02d}.txt", statement(f"Statement {n}", [f"Paragraph {n} one."]))
    calls: list[int] = []

    def fail(*_args: object, **_kwargs: object) -> None:
        calls.append(1)
        raise StoreUnavailable("the store is not responding")

    monkeypatch.setattr(embedded_store, "add_sentences", fail)
    with pytest.raises(StoreUnavailable):
        Indexer(embedded_store, group_texts=2, group_documents=1).ingest_paths([corpus])
    assert len(calls) == 1
    assert list(embedded_store.documents()) == []


def test_an_interrupted_run_writes_the_groups_it_embedded(
    embedded_store: ParagraphStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group's writes start when the next group is embedded; an error before that (here while a later
    file is read) still writes every group embedded so far, whole, and leaves the rest unstored."""
    corpus = tmp_path / "corpus"
    for n in range(4):
        write(corpus / f"s{n}.txt", statement(f"Statement {n}", [f"Paragraph {n} one.", f"Paragraph {n} two."]))
    load_path = indexing.load_path

    def load_until_s2(path: Path, **kwargs: Any) -> Any:
        if path.name == "s2.txt":
            raise KeyboardInterrupt
        return load_path(path, **kwargs)

    monkeypatch.setattr(indexing, "load_path", load_until_s2)
    with pytest.raises(KeyboardInterrupt):
        Indexer(embedded_store, group_texts=100, group_documents=1).ingest_paths([corpus])

    assert {r.id for r in embedded_store.documents()} == {"s0", "s1"}
    for n in (0, 1):
        assert stored_texts(embedded_store, f"s{n}") == {"1": f"Paragraph {n} one.", "2": f"Paragraph {n} two."}
    assert stored_texts(embedded_store, "s2") == {}


def test_remove_deletes_document_and_paragraphs(store: ParagraphStore, tmp_path: Path):
    """remove() takes the record, windows and sentences; an unknown id is an UnknownDocument."""
    path = write(tmp_path / "a.txt", statement("Statement A", PARAGRAPHS))
    indexer = Indexer(store)
    indexer.ingest_paths([path])

    report = indexer.remove("a")

    assert report.removed == 3
    assert store.documents() == []
    assert store.index_state().doc_ids() == set()
    with pytest.raises(UnknownDocument, match="'a'"):
        indexer.remove("a")


def test_duplicate_ids_in_one_run_are_lengthened_not_refused(embedded_store: ParagraphStore, tmp_path: Path):
    """Two files that slug to the same id are both ingested; the second id carries a hash of its path."""
    first = write(tmp_path / "corpus" / "a b.txt", statement("One", PARAGRAPHS[:1]))
    write(tmp_path / "corpus" / "a-b.txt", statement("Two", PARAGRAPHS[1:2]))
    report = Indexer(embedded_store).ingest_paths([first.parent])
    assert report.ok
    ids = sorted(r.id for r in embedded_store.documents())
    assert len(ids) == 2
    assert ids[0] == "a-b"
    assert ids[1].startswith("a-b-")
    assert Indexer(embedded_store).ingest_paths([first.parent]).document_counts()["unchanged"] == 2


_HOLD_LOCK = """
import sys, time
from pathlib import Path
from vectorstore.embeddings import Embedder
from vectorstore.store import ParagraphStore
store = ParagraphStore.open_embedded(Path(sys.argv[1]), Embedder())
store.acquire_writer()
print("locked", flush=True)
time.sleep(120)
"""


@pytest.mark.slow
def test_second_process_cannot_write_the_same_data_dir(tmp_path: Path, embedder, cli):
    """While another process holds the writer lock, ingest fails at once with StoreLocked, embedding nothing."""
    data_dir = tmp_path / "data"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(data_dir)], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        store = ParagraphStore.open_embedded(data_dir, embedder)
        before = embedder.texts_embedded
        with pytest.raises(StoreLocked) as caught:
            Indexer(store).ingest_paths([SEED])
        assert embedder.texts_embedded == before
        assert f"pid {holder.pid}" in caught.value.user_message()
        store.close()

        result = cli("ingest", SEED, "--json")
        assert result.returncode == 1
        assert result.stdout == ""
        assert "is being written by" in result.stderr
        assert f"pid {holder.pid}" in result.stderr
    finally:
        holder.kill()
        holder.wait()

    store = ParagraphStore.open_embedded(data_dir, embedder)
    assert Indexer(store).ingest_paths([SEED]).added == 17
    store.close()


def test_merged_reports_keep_what_loaders_left_out() -> None:
    """Discord's /ingest of several files reports their left-out lines too, summed by kind."""
    from vectorstore.indexing import IngestReport

    first = IngestReport(added=2, left_out={"end markers": 1})
    second = IngestReport(added=3, left_out={"end markers": 2, "header/footer lines": 6})
    merged = IngestReport.merged([first, second])
    assert merged.added == 5
    assert merged.left_out == {"end markers": 3, "header/footer lines": 6}
