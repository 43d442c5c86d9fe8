"""`compare`: paragraph alignment, word diffs, edited copies reported exactly, real pairs, the CLI.

Real components throughout: MiniLM vectors as ingestion stores them, real Chroma in a
temporary directory, the real CLI entry point. Archive statements are used when the
shared corpus is present (`../shared/corpus/archive`), and skipped otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bot.cli import main
from errors import AmbiguousDocument, UnknownDocument
from ingest.models import Document
from qa.compare import (
    AlignmentParams,
    Comparer,
    Comparison,
    assign,
    resolve_document,
    word_diff,
)
from qa.compare_eval import EditedPair, edit_statement, load_real_pairs, load_statement, real_truth
from vectorstore.embeddings import Embedder
from vectorstore.indexing import Indexer
from vectorstore.store import DocumentRecord, ParagraphStore

pytestmark = pytest.mark.timeout(600)  # archive statements are embedded once for the module

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "bot" / "samples" / "uk-japan-defence-ministerial-2025.txt"
DONOR_FILES = sorted((REPO / "tests" / "data" / "injection").glob("*.txt"))
ARCHIVE = REPO.parent / "shared" / "corpus" / "archive"
REAL_PAIRS = REPO / "tests" / "data" / "compare" / "real_pairs.json"
# Edited copies of these archive statements (not used to fit the threshold) must be reported exactly.
ARCHIVE_EDITED = (
    "2023-09/2023-09-15-joint-leader-statement-to-mark-the-second-anniversary-of-aukus.md",
    "2023-02/2023-02-02-quad-senior-cyber-group-joint-cybersecurity-statement.md",
)
needs_archive = pytest.mark.skipif(not ARCHIVE.exists(), reason="the shared statement archive is not here")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compare-data")


@pytest.fixture(scope="module")
def store(data_dir: Path, embedder: Embedder) -> Iterator[ParagraphStore]:
    opened = ParagraphStore.open_embedded(data_dir, embedder)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def indexer(store: ParagraphStore) -> Indexer:
    return Indexer(store)


def _donors() -> list[str]:
    return [p.text for path in DONOR_FILES for p in load_statement(path).paragraphs if len(p.text) > 80]


def _ingest(indexer: Indexer, document: Document) -> DocumentRecord:
    indexer.ingest_document(document)
    return indexer.store.document(document.id)


def _compare_edited(indexer: Indexer, pair: EditedPair) -> Comparison:
    a = _ingest(indexer, pair.original)
    b = _ingest(indexer, pair.edited)
    return Comparer(indexer.store).compare_records(a, b)


def _assert_exact(comparison: Comparison, pair: EditedPair) -> None:
    """Every drop, addition and rewording reported; nothing unchanged reported as changed."""
    found = {(p.a.position, p.b.position) for p in comparison.pairs}
    assert found == set(pair.truth)
    assert {p.position for p in comparison.added} == set(pair.added)
    assert {p.position for p in comparison.removed} == set(pair.dropped)
    for p in comparison.pairs:
        if p.b.position in pair.reworded:
            assert p.status == "changed"
            assert {part.op for part in p.diff} & {"delete", "insert"}
        else:
            assert p.status == "unchanged"
            assert p.diff == ()


# Pure parts -------------------------------------------------------------------------------------
def test_word_diff_marks_deleted_and_inserted_words() -> None:
    """A replacement is the deleted words then the inserted ones; kept words stay equal runs."""
    parts = word_diff("We welcome the launch of the new fund.", "We warmly welcome the start of the new fund.")
    assert [(p.op, p.text) for p in parts] == [
        ("equal", "We"),
        ("insert", "warmly"),
        ("equal", "welcome the"),
        ("delete", "launch"),
        ("insert", "start"),
        ("equal", "of the new fund."),
    ]
    assert [(p.op, p.text) for p in word_diff("Same text.", "Same  text.")] == [("equal", "Same text.")]


def test_assignment_is_global_not_greedy() -> None:
    """Greedy matching would pair the best-scoring cell first and strand the other paragraph."""
    score = np.array([[0.90, 0.80], [0.85, 0.10]])
    assert assign(score, threshold=0.5) == [(0, 1), (1, 0)]


def test_pairs_that_do_not_beat_the_threshold_have_no_counterpart() -> None:
    score = np.array([[0.95, 0.20], [0.30, 0.40]])
    assert assign(score, threshold=0.5) == [(0, 0)]
    assert assign(np.zeros((0, 3)), threshold=0.5) == []


def test_fitted_parameters_are_stored_with_their_figures() -> None:
    """The weights and threshold come from bench/fit_compare.py, with the figures they reached."""
    data = json.loads((REPO / "qa" / "compare_params.json").read_text())
    params = AlignmentParams.load()
    assert abs(params.paragraph + params.sentence + params.lexical + params.phrase - 1.0) < 1e-6
    assert 0.0 < params.threshold < 1.0
    assert data["fitted_by"] == "bench/fit_compare.py"
    assert data["figures"]["check_edited"]["exact"] == data["figures"]["check_edited"]["compared"]


def _record(doc_id: str, title: str) -> DocumentRecord:
    return DocumentRecord(doc_id, title, None, "", "", 1, "", True)


def test_documents_are_named_by_id_or_title_words() -> None:
    """An id wins; otherwise every word must be in the title or id; ambiguity lists the candidates."""
    records = [
        _record("quad-2022", "Quad Joint Leaders Statement"),
        _record("quad-2023", "Quad Leaders Joint Statement"),
        _record("aukus-2023", "Joint Leaders Statement to Mark the Second Anniversary of AUKUS"),
    ]
    assert resolve_document("quad-2023", records).id == "quad-2023"
    assert resolve_document("aukus anniversary", records).id == "aukus-2023"
    india = [*records, _record("india-2023", "Joint Statement from the United States and India")]
    assert resolve_document("US India", india).id == "india-2023"  # an abbreviation names its title
    with pytest.raises(AmbiguousDocument) as ambiguous:
        resolve_document("quad leaders", records)
    assert "quad-2022" in ambiguous.value.user_message()
    assert "quad-2023" in ambiguous.value.user_message()
    with pytest.raises(UnknownDocument) as unknown:
        resolve_document("quad-2024", records)
    assert "quad-2022" in unknown.value.user_message()  # the closest ids are suggested


# Edited copies: reported exactly ----------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_edited_copy_of_the_sample_is_reported_exactly(indexer: Indexer, seed: int) -> None:
    """Dropped, added, reworded, moved and renumbered paragraphs of the sample are all found."""
    pair = edit_statement(load_statement(SAMPLE), _donors(), seed)
    assert pair.dropped
    assert pair.added
    assert pair.reworded
    comparison = _compare_edited(indexer, pair)
    _assert_exact(comparison, pair)
    payload = comparison.to_json()
    assert set(payload) == {"a", "b", "pairs", "added", "removed"}
    assert payload["a"] == pair.original.id
    assert all(set(p) == {"a", "b", "status", "similarity", "diff"} for p in payload["pairs"])
    assert all(isinstance(p["a"], str) and isinstance(p["b"], str) for p in payload["pairs"])
    # B's order, in B's own numbering.
    assert [int(p["b"]) for p in payload["pairs"]] == sorted(int(p["b"]) for p in payload["pairs"])


@needs_archive
@pytest.mark.parametrize("path", ARCHIVE_EDITED)
def test_edited_copies_of_archive_statements_are_reported_exactly(indexer: Indexer, path: str) -> None:
    """Real statements from the archive (not in the fitting set), edited: the report is exact."""
    original = load_statement(ARCHIVE / path)
    donors = [p.text for other in ARCHIVE_EDITED if other != path for p in load_statement(ARCHIVE / other).paragraphs]
    pair = edit_statement(original, donors, seed=7)
    _assert_exact(_compare_edited(indexer, pair), pair)


@needs_archive
def test_real_successive_statements_align_as_checked_by_hand(indexer: Indexer) -> None:
    """On real statements of one series, at least 95% of the reported pairs are pairs a person confirmed."""
    correct = predicted = 0
    for real in load_real_pairs(REAL_PAIRS):
        a, b = load_statement(ARCHIVE / real.a), load_statement(ARCHIVE / real.b)
        comparison = Comparer(indexer.store).compare_records(_ingest(indexer, a), _ingest(indexer, b))
        truth = real_truth(real, [p.text for p in a.paragraphs], [p.text for p in b.paragraphs])
        found = {(p.a.position, p.b.position) for p in comparison.pairs}
        correct += len(found & truth)
        predicted += len(found)
    assert predicted > 0
    assert correct / predicted >= 0.95


# The CLI ---------------------------------------------------------------------------------------
def test_compare_cli_prints_json_and_a_readable_diff(
    indexer: Indexer, data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`compare A B --json` follows the contract; the text form marks words without colour off a terminal."""
    pair = edit_statement(load_statement(SAMPLE), _donors(), 1)
    _compare_edited(indexer, pair)
    capsys.readouterr()
    assert main(["--data-dir", str(data_dir), "compare", pair.original.id, pair.edited.id, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["a"] == pair.original.id
    assert payload["b"] == pair.edited.id
    assert len(payload["added"]) == len(pair.added)
    assert len(payload["removed"]) == len(pair.dropped)

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert main(["--data-dir", str(data_dir), "compare", pair.original.id, pair.edited.id]) == 0
    text = capsys.readouterr().out
    assert "\033[" not in text  # captured stdout is not a terminal
    assert "[-" in text or "{+" in text
    assert f"{len(pair.added)} new in B" in text
    assert "dropped" in text


def test_compare_cli_names_the_candidates_of_an_ambiguous_title(
    indexer: Indexer, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A title fragment that fits several documents is an error listing them, exit code 1."""
    _compare_edited(indexer, edit_statement(load_statement(SAMPLE), _donors(), 2))
    code = main(["--data-dir", str(data_dir), "compare", "UK-Japan Defence", "uk-japan-defence-ministerial-2025"])
    err = capsys.readouterr().err
    assert code == 1
    assert "matches" in err
    assert "uk-japan-defence-ministerial-2025-edited" in err
    assert main(["--data-dir", str(data_dir), "compare", "no such statement", "uk-japan-defence-ministerial-2025"]) == 1
    assert "No document matches" in capsys.readouterr().err
