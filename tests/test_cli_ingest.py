"""The `statementbot` ingest, documents, source and remove commands, end to end.

Every command runs the CLI's `main(argv)` in-process (see `tests.conftest.Cli`) with
STATEMENTBOT_DATA_DIR in a temporary directory and the session's MiniLM; the crash test
kills a real `.venv/bin/statementbot` process. Read-only commands share one ingested data
dir per module.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import signal
import time
from pathlib import Path

import chromadb
import chromadb.api.client
import pytest

from bot.cli import _progress_printer
from ingest.loaders import load_path
from ingest.parser import chunk_document, parse_statement
from ingest.sentences import split_sentences
from tests.conftest import SEED, Cli
from tests.test_loaders import encrypted, minimal_pdf
from vectorstore.embeddings import Embedder
from vectorstore.store import ParagraphStore, paragraph_key, sentence_id

SEED_ID = "uk-japan-defence-ministerial-2025"
SEED_TITLE = "UK-Japan Defence Ministerial Meeting 2025 – Joint Statement"


def statement(title: str, paragraphs: list[str], date: str = "4 June 2024") -> str:
    numbered = "\n".join(f"{n}. {text}" for n, text in enumerate(paragraphs, start=1))
    return f"{title}\n\n{date}\n\n{numbered}\n"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> tuple[Cli, dict]:
    """A data dir with the seed statement ingested once by the CLI, and that run's --json output."""
    root = tmp_path_factory.mktemp("seeded")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    cli = Cli(root / "data", embedder=embedder)
    result = cli("ingest", corpus, "--json")
    assert result.returncode == 0, result.stderr
    return cli, {"corpus": corpus, "report": result.json()}


def test_ingest_json_reports_paragraph_and_document_counts(seeded):
    """`ingest --json` gives paragraph counts, documents and an empty failure list."""
    _, context = seeded
    report = context["report"]
    assert {"added", "updated", "removed", "unchanged", "documents", "failed"} <= report.keys()
    assert (report["added"], report["updated"], report["removed"], report["unchanged"]) == (17, 0, 0, 0)
    assert report["failed"] == []
    assert report["documents"]["added"] == 1
    assert report["documents"]["items"] == [
        {
            "id": SEED_ID,
            "title": SEED_TITLE,
            "source": str((context["corpus"] / SEED.name).resolve()),
            "status": "added",
            "paragraphs": 17,
            "left_out": {},
        }
    ]


def test_seed_is_stored_as_parsed(seeded, embedder: Embedder):
    """The ingested seed holds exactly its parsed paragraphs: preamble, 1 … 16, verbatim."""
    cli, _ = seeded
    loaded = load_path(SEED)
    expected = parse_statement(loaded.text, source=loaded.source)
    store = ParagraphStore.open_embedded(cli.data_dir, embedder)
    try:
        stored = [(p.label, p.text) for p in store.paragraphs(SEED_ID)]
    finally:
        store.close()
    assert stored == [(p.label, p.text) for p in expected.paragraphs]
    assert "support for Ukraine in defending its freedom" in dict(stored)["4"]


def test_reingesting_the_same_files_embeds_nothing(seeded, tmp_path: Path, embedder: Embedder):
    """Running the same ingest again reports every paragraph unchanged and embeds nothing."""
    cli, context = seeded
    copy = Cli(tmp_path / "data", embedder=embedder)
    shutil.copytree(cli.data_dir, copy.data_dir)
    result = copy("ingest", context["corpus"], "--json")
    assert result.returncode == 0, result.stderr
    report = result.json()
    assert (report["added"], report["updated"], report["removed"], report["unchanged"]) == (0, 0, 0, 17)
    assert report["embedded"] == 0
    assert report["documents"]["unchanged"] == 1


def test_documents_lists_id_title_date_paragraphs_source_and_time(seeded):
    """`documents --json` lists each document's id, title, date, paragraph count, source, ingestion time and link."""
    cli, context = seeded
    result = cli("documents", "--json")
    assert result.returncode == 0, result.stderr
    [document] = result.json()
    assert set(document) == {"id", "title", "date", "paragraphs", "source", "ingested_at", "url"}
    assert document["url"] is None  # the sample has no front matter, so no known link
    assert (document["id"], document["title"], document["date"], document["paragraphs"]) == (
        SEED_ID,
        SEED_TITLE,
        "2025-08-28",
        17,
    )
    assert document["source"] == str((context["corpus"] / SEED.name).resolve())
    assert document["ingested_at"].endswith("+00:00")
    text = cli("documents")
    assert text.returncode == 0
    assert text.stdout.startswith(f"{SEED_ID}\t{SEED_TITLE}\t2025-08-28\t17 paragraphs")


def test_source_prints_the_paragraph_verbatim(seeded):
    """`source DOC 4 --json` gives document, title, paragraph and the exact text; ¶4 works too."""
    cli, _ = seeded
    loaded = load_path(SEED)
    expected = parse_statement(loaded.text, source=loaded.source).paragraph("4")
    assert expected is not None
    result = cli("source", SEED_ID, "4", "--json")
    assert result.returncode == 0, result.stderr
    assert result.json() == {
        "document": SEED_ID,
        "title": SEED_TITLE,
        "paragraph": "4",
        "text": expected.text,
        "date": "2025-08-28",  # the citation shape, extended with the document's date
    }
    plain = cli("source", SEED_ID, "¶4")
    assert plain.returncode == 0
    assert plain.stdout == f"{SEED_TITLE} (2025-08-28) [¶4]\n\n{expected.text}\n"  # named by title and date


def test_source_without_a_paragraph_lists_every_paragraph_in_order(seeded):
    """`source DOC --json` gives the whole document in one call, in the `source DOC N --json` shape."""
    cli, _ = seeded
    loaded = load_path(SEED)
    expected = parse_statement(loaded.text, source=loaded.source).paragraphs

    result = cli("source", SEED_ID, "--json")

    assert result.returncode == 0, result.stderr
    assert result.json() == [
        {"document": SEED_ID, "title": SEED_TITLE, "paragraph": p.label, "text": p.text, "date": "2025-08-28"}
        for p in expected
    ]
    plain = cli("source", SEED_ID)
    assert plain.returncode == 0
    markers = ["[preamble]" if p.label == "preamble" else f"[¶{p.label}]" for p in expected]
    assert plain.stdout == f"{SEED_TITLE}\n" + "".join(
        f"\n{marker} {p.text}\n" for marker, p in zip(markers, expected, strict=True)
    )


def test_ingest_report_counts_what_loaders_left_out(cli: Cli, tmp_path: Path, embedder: Embedder):
    """Page furniture and end markers are never dropped in silence: the report counts them, per document too."""
    from tests import published

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "g7.pdf").write_bytes(published.typeset_pdf())
    (corpus / "g7.md").write_text(published.markdown_with_front_matter(), encoding="utf-8")

    result = cli("ingest", corpus, "--json")

    assert result.returncode == 0, result.stderr
    report = result.json()
    items = {item["id"]: item["left_out"] for item in report["documents"]["items"]}
    assert items["g7"] == {"end markers": 1}
    pdf_lines = next(v["header/footer lines"] for k, v in items.items() if k != "g7")
    assert pdf_lines >= 6
    assert report["left_out"] == {"end markers": 1, "header/footer lines": pdf_lines}
    plain = cli("ingest", corpus)
    assert plain.returncode == 0
    # Both files are read again, so the report says again what was left out of them.
    assert f"Left out of the text by the loaders: 1 end markers, {pdf_lines} header/footer lines." in plain.stdout
    source = cli("source", "g7", "--json")
    assert [item["paragraph"] for item in source.json()] == [str(n) for n in range(1, 12)]
    # The front matter's source_url is stored with the document, for citations and embeds to link to.
    store = ParagraphStore.open_embedded(cli.data_dir, embedder)
    try:
        assert store.document("g7").url == "https://www.example.gov/briefing-room/2022/03/24/g7-leaders-statement/"
    finally:
        store.close()
    # ... and listed by `documents`: a JSON key for every document, the last column of the table when known.
    link = "https://www.example.gov/briefing-room/2022/03/24/g7-leaders-statement/"
    listed = {item["id"]: item["url"] for item in cli("documents", "--json").json()}
    assert listed == {"g7": link, next(k for k in items if k != "g7"): None}
    rows = {line.split("\t")[0]: line.split("\t") for line in cli("documents").stdout.splitlines()}
    assert rows["g7"][-1] == link
    assert all(len(row) == 6 for doc_id, row in rows.items() if doc_id != "g7")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("no-such-doc", "4"), "No document with id 'no-such-doc'. Run `statementbot documents`"),
        ((SEED_ID, "17"), f"Document '{SEED_ID}' has no paragraph '17'."),
    ],
)
def test_source_of_unknown_document_or_paragraph_is_an_error(seeded, args, message):
    """An unknown document or paragraph label exits 1 with a message saying what is missing."""
    cli, _ = seeded
    result = cli("source", *args, "--json")
    assert result.returncode == 1
    assert result.stdout == ""
    assert message in result.stderr


def test_remove_deletes_the_document(seeded, tmp_path: Path, embedder: Embedder):
    """`remove DOC` deletes the document and its paragraphs; removing it again exits 1."""
    cli, _ = seeded
    copy = Cli(tmp_path / "data", embedder=embedder)
    shutil.copytree(cli.data_dir, copy.data_dir)
    removed = copy("remove", SEED_ID, "--json")
    assert removed.returncode == 0, removed.stderr
    assert removed.json()["removed"] == 17
    again = copy("remove", SEED_ID)
    assert again.returncode == 1
    assert f"No document with id '{SEED_ID}'" in again.stderr
    store = ParagraphStore.open_embedded(copy.data_dir, embedder)
    try:
        assert store.documents() == []
        assert store.index_state().doc_ids() == set()
    finally:
        store.close()


@pytest.mark.slow
def test_removed_paragraph_and_prune_through_the_cli(cli: Cli, tmp_path: Path, embedder: Embedder):
    """A paragraph dropped from a file is deleted, and --prune drops documents whose files are gone."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    kept = corpus / "kept.txt"
    kept.write_text(statement("Kept", ["First point.", "Second point.", "Third point."]))
    (corpus / "gone.txt").write_text(statement("Gone", ["Only point.", "Last point."]))
    first = cli("ingest", corpus, "--json")
    assert first.returncode == 0, first.stderr
    assert first.json()["added"] == 5

    kept.write_text(statement("Kept", ["First point.", "Second point."]))
    (corpus / "gone.txt").unlink()
    second = cli("ingest", corpus, "--prune", "--json")

    assert second.returncode == 0, second.stderr
    report = second.json()
    assert (report["added"], report["updated"], report["removed"], report["unchanged"]) == (0, 0, 3, 2)
    assert report["embedded"] == 0
    assert {(d["id"], d["status"]) for d in report["documents"]["items"]} == {("kept", "updated"), ("gone", "removed")}
    store = ParagraphStore.open_embedded(cli.data_dir, embedder)
    try:
        assert [r.id for r in store.documents()] == ["kept"]
        assert [(p.label, p.text) for p in store.paragraphs()] == [("1", "First point."), ("2", "Second point.")]
        assert store.index_state().doc_ids() == {"kept"}
    finally:
        store.close()


@pytest.mark.slow
def test_bad_files_fail_by_name_while_the_others_are_ingested(cli: Cli, tmp_path: Path, embedder: Embedder):
    """Each bad file is named with its reason, good files are ingested, the exit code is 1, the store consistent."""
    corpus = tmp_path / "mixed"
    (corpus / "nested").mkdir(parents=True)
    (corpus / "good.txt").write_text(statement("Good Statement", ["The Ministers met.", "They agreed."]))
    (corpus / "nested" / "tokyo.pdf").write_bytes(
        minimal_pdf([["Nested Statement", "1. They met in Tokyo.", "2. They agreed again."]])
    )
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "latin1.txt").write_bytes("Déclaration commune\n\n1. Les ministres.".encode("latin-1"))
    (corpus / "junk.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random.Random(7).randbytes(4096))
    (corpus / "locked.pdf").write_bytes(encrypted(minimal_pdf([["Secret", "1. Hidden."]]), user_password="pw"))
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer <<>>\n%%EOF")
    (corpus / "huge.txt").write_text(statement("Huge", ["A long sentence about defence. " * 2000]))
    (corpus / "notes.docx").write_bytes(b"PK\x03\x04")
    (corpus / "notes.doc").write_bytes(b"\xd0\xcf\x11\xe0 old Word")
    missing = tmp_path / "missing.txt"
    env = {"STATEMENTBOT_MAX_FILE_MB": "0.02"}

    result = cli("ingest", corpus, missing, "--json", env=env)

    assert result.returncode == 1
    report = result.json()
    failed = {Path(f["path"]).name: f["error"] for f in report["failed"]}
    assert set(failed) == {
        "empty.txt", "latin1.txt", "junk.txt", "locked.pdf", "broken.pdf", "huge.txt", "missing.txt", "notes.docx"
    }  # fmt: skip
    assert "not a valid Word document" in failed["notes.docx"]
    assert "empty" in failed["empty.txt"]
    assert "not valid UTF-8" in failed["latin1.txt"]
    assert "binary" in failed["junk.txt"]
    assert "password" in failed["locked.pdf"] or "encrypted" in failed["locked.pdf"]
    assert "PDF" in failed["broken.pdf"] or "pdf" in failed["broken.pdf"]
    assert "over the limit" in failed["huge.txt"]
    assert "does not exist" in failed["missing.txt"]
    for name, reason in failed.items():
        assert f"{name}: {reason}" in result.stderr, name
    assert {Path(p["path"]).name for p in report["skipped"]} == {"notes.doc"}
    assert report["added"] == 4
    store = ParagraphStore.open_embedded(cli.data_dir, embedder)
    try:
        assert sorted(r.id for r in store.documents()) == ["good", "tokyo"]
        assert store.index_state().doc_ids() == {"good", "tokyo"}
        assert store.count_paragraphs() == 4
    finally:
        store.close()


def test_progress_bar_only_on_a_terminal_and_for_long_runs():
    """The progress bar is drawn for five or more files on a terminal, never into a pipe."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        show = _progress_printer(stream)
        for done in range(6):
            show(done, 5, f"/corpus/file{done}.txt")
    assert pipe.getvalue() == ""
    assert "[" + "#" * 30 + "] 5/5" in terminal.getvalue()
    assert terminal.getvalue().endswith("\n")
    short = Terminal()
    _progress_printer(short)(1, 4, "a.txt")
    assert short.getvalue() == ""


# --------------------------------------------------------------------------- crash safety

CRASH_FILES = 60
_WORDS = "ministers welcomed reaffirmed cooperation defence maritime security exercise partnership space cyber".split()


def _crash_corpus(corpus: Path) -> None:
    rng = random.Random(11)
    corpus.mkdir()
    for n in range(CRASH_FILES):
        paragraphs = [
            " ".join(rng.choice(_WORDS) for _ in range(6)).capitalize() + f" in statement {n}, point {p}."
            for p in range(1, 4)
        ]
        (corpus / f"s{n:02d}.txt").write_text(statement(f"Statement {n}", paragraphs))


def _documents_count(data_dir: Path) -> int:
    """Documents the running ingest has recorded, read without creating anything."""
    lock = data_dir / "writer.lock"
    if not lock.exists() or "pid" not in lock.read_text():
        return 0  # the ingest has not opened its collections yet
    client = chromadb.PersistentClient(
        path=str(data_dir / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False)
    )
    return client.get_collection("statementbot_documents").count()


def _expected(corpus: Path, embedder: Embedder) -> tuple[dict, set[str], set[str]]:
    paragraphs: dict[tuple[str, str], str] = {}
    chunk_ids: set[str] = set()
    sentence_ids: set[str] = set()
    for path in sorted(corpus.iterdir()):
        loaded = load_path(path.resolve())
        document = parse_statement(loaded.text, source=loaded.source)
        chunk_ids |= {c.id for c in chunk_document(document, count_tokens=embedder.count_tokens)}
        for p in document.paragraphs:
            paragraphs[(p.doc_id, p.label)] = p.text
            key = paragraph_key(p.doc_id, p.label, p.hash)
            sentence_ids |= {sentence_id(key, i) for i in range(len(split_sentences(p.text)))}
    return paragraphs, chunk_ids, sentence_ids


@pytest.mark.slow
def test_killed_ingest_is_repaired_by_running_it_again(cli: Cli, tmp_path: Path, embedder: Embedder):
    """kill -9 mid-ingest, edit two files, rerun: exactly the files' paragraphs, no duplicates, no stale text.

    58 files are rerun unchanged (some recorded before the kill, some half
    written, some untouched); one recorded file and one probably not yet
    recorded are edited in between.
    """
    corpus = tmp_path / "corpus"
    _crash_corpus(corpus)
    process = cli.popen("ingest", corpus, "--json")
    try:
        deadline = time.monotonic() + 180
        recorded = 0
        while not 0 < recorded < CRASH_FILES:
            assert process.poll() is None, "ingest finished before it could be killed"
            assert time.monotonic() < deadline, "ingest recorded no document in time"
            time.sleep(0.05)
            try:
                recorded = _documents_count(cli.data_dir)
            except Exception:  # noqa: BLE001 - collections may be mid-creation; try again
                recorded = 0
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.communicate()
    assert process.returncode == -signal.SIGKILL

    stale: list[str] = []
    # Files are ingested in name order: s00 is recorded by now, s59 most likely is not.
    for name in ("s00.txt", f"s{CRASH_FILES - 1}.txt"):
        path = corpus / name
        old = path.read_text()
        stale.append(old.splitlines()[5].removeprefix("2. "))
        path.write_text(old.replace(" point 2.", " point 2, as revised after the crash."))

    rerun = cli.run_process("ingest", corpus, "--json")  # a fresh process, as after a real crash
    assert rerun.returncode == 0, rerun.stderr

    chromadb.api.client.SharedSystemClient.clear_system_cache()  # forget the poller's view of the store
    store = ParagraphStore.open_embedded(cli.data_dir, embedder)
    try:
        paragraphs, chunk_ids, sentence_ids = _expected(corpus, embedder)
        stored = store.paragraphs()
        assert len(stored) == len(paragraphs) == CRASH_FILES * 3
        assert {(p.doc_id, p.label): p.text for p in stored} == paragraphs
        state = store.index_state()
        assert set().union(*state.chunk_ids.values()) == chunk_ids
        assert set().union(*state.sentence_ids.values()) == sentence_ids
        records = store.documents()
        assert sorted(r.id for r in records) == sorted(path.stem for path in corpus.iterdir())
        assert all(r.paragraphs == 3 for r in records)
        # Ids carry content hashes, so matching ids mean no window or sentence of an old text survived.
        for old_text in stale:
            assert old_text not in {p.text for p in stored}
    finally:
        store.close()
