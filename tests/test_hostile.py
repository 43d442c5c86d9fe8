"""The hostile-input corpus (tests/hostile/make_corpus.py): no crash, no hang, no silent drop.

Every file and input that broke the bot in the adversarial pass of issue 13 is generated here
and run through the real code: the real Indexer and embedded Chroma, the real CLI, a real
`chroma run` server frozen with SIGSTOP. URL fetching is covered in test_url_fetch.py and
feedback privacy in test_feedback_privacy.py.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.cli import main
from bot.discord.formatting import FALLBACK_MARK, answer_messages
from bot.discord.replies import STORE_NOT_RESPONDING, failure_text
from errors import UnknownDocument, UnknownParagraph
from ingest.display import shown
from ingest.loaders import load_path
from ingest.parser import parse_statement
from prompts import ABSTAIN_PHRASE
from qa.sanitise import is_instruction
from qa.service import StatementService
from qa.types import Answer, CheckReport
from tests.conftest import CHROMA, Cli, _free_port, _heartbeat
from tests.hostile.make_corpus import QUESTION_LINES, ROLE_MENTION, TOO_MANY_PARAGRAPHS, write_corpus
from vectorstore.embeddings import Embedder
from vectorstore.indexing import LONG_PARAGRAPH_SPAN_CHARS, MAX_PARAGRAPH_CHARS, Indexer
from vectorstore.store import ParagraphStore, StoreNotResponding

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_corpus(tmp_path_factory.mktemp("hostile"))


# Size and time limits ---------------------------------------------------------------------------
def test_a_5_mb_line_fails_fast_naming_the_file_and_the_limit(
    corpus: dict[str, Path], embedded_store: ParagraphStore
) -> None:
    """One 5 MB paragraph is refused within seconds (it ran for 400 s), and the store is untouched."""
    started = time.monotonic()
    report = Indexer(embedded_store).ingest_paths([corpus["huge_line"]])
    elapsed = time.monotonic() - started
    (failure,) = report.failed
    assert failure.path == str(corpus["huge_line"])
    assert f"the limit is {MAX_PARAGRAPH_CHARS:,}" in failure.reason
    assert elapsed < 30, elapsed
    assert embedded_store.documents() == []
    assert embedded_store.count_paragraphs() == 0


def test_limits_fail_the_file_not_the_run(corpus: dict[str, Path], embedded_store: ParagraphStore) -> None:
    """Too long a paragraph and too many paragraphs each fail with a reason; the good file is ingested."""
    report = Indexer(embedded_store).ingest_paths(
        [corpus["too_long_paragraph"], corpus["too_many_paragraphs"], corpus["title_999"]]
    )
    reasons = {Path(f.path).name: f.reason for f in report.failed}
    assert "paragraph 1 is" in reasons["too-long-paragraph.txt"]
    assert f"has {TOO_MANY_PARAGRAPHS:,} paragraphs" in reasons["too-many-paragraphs.txt"]
    assert [c.id for c in report.changes] == ["fisheries-999"]
    assert not report.ok  # the CLI exits 1


def test_a_long_paragraph_is_stored_once_not_once_per_window(
    corpus: dict[str, Path], embedded_store: ParagraphStore
) -> None:
    """Its windows carry their own text; the whole paragraph is kept on window 0 only, and reads back whole."""
    report = Indexer(embedded_store).ingest_paths([corpus["long_paragraph"]])
    assert report.ok
    page = embedded_store._chunks.get(where={"label": "1"}, include=["documents", "metadatas"])
    metas = page["metadatas"] or []
    assert len(metas) > 5  # several windows
    copies = [m for m in metas if "paragraph_text" in m]
    assert [m["window"] for m in copies] == [0]
    stored = sum(len(str(m.get("paragraph_text", ""))) for m in metas) + sum(
        len(d or "") for d in page["documents"] or []
    )
    paragraph = embedded_store.paragraph("long-paragraph", "1")
    assert paragraph.text.startswith("The parties agreed on a quota of 0 tonnes")
    assert stored < 3 * len(paragraph.text)  # windows overlap by a sentence; no per-window copies


def test_a_long_paragraph_keeps_one_evidence_vector_per_span_of_sentences(
    corpus: dict[str, Path], embedded_store: ParagraphStore
) -> None:
    """Its sentences are grouped into spans of bounded count, read back as its exact text; none is a Chroma document."""
    assert Indexer(embedded_store).ingest_paths([corpus["long_paragraph"]]).ok
    paragraph = embedded_store.paragraph("long-paragraph", "1")
    spans = embedded_store.sentences_for([paragraph.key])
    assert len(spans) <= len(paragraph.text) // LONG_PARAGRAPH_SPAN_CHARS + 1
    assert all(s.span.end - s.span.start >= LONG_PARAGRAPH_SPAN_CHARS for s in spans[:-1])
    assert [s.index for s in spans] == list(range(len(spans)))
    assert "".join(paragraph.text[s.span.start : s.span.end] for s in spans).replace(" ", "") == paragraph.text.replace(
        " ", ""
    )
    assert all(s.text == paragraph.text[s.span.start : s.span.end] for s in spans)
    assert all(np.linalg.norm(s.vector) == pytest.approx(1.0, abs=1e-4) for s in spans)
    # A short paragraph of the same file keeps its one sentence.
    (short,) = embedded_store.sentences_for([embedded_store.paragraph("long-paragraph", "2").key])
    assert short.text == "A short one."
    for collection in (embedded_store._chunks, embedded_store._sentences):
        assert not any(collection.get(include=["documents"])["documents"] or [])


def test_a_store_written_with_documents_stays_readable_and_is_regrouped_on_re_ingest(
    corpus: dict[str, Path], embedded_store: ParagraphStore, embedder: Embedder
) -> None:
    """Records of the earlier layout (text as Chroma documents, a record per sentence) read back; re-ingest regroups."""
    assert Indexer(embedded_store).ingest_paths([corpus["long_paragraph"]]).ok
    loaded = load_path(corpus["long_paragraph"])
    parsed = parse_statement(loaded.text, source=loaded.source).paragraphs[0]
    paragraph = embedded_store.paragraph("long-paragraph", "1")
    assert parsed.text == paragraph.text
    sentences = parsed.sentence_texts()
    # What the earlier layout wrote: one record per sentence, its text as the Chroma document.
    embedded_store._sentences.delete(where={"para_key": paragraph.key})
    embedded_store._sentences.add(
        ids=[f"{paragraph.key}:s{i}" for i in range(len(sentences))],
        embeddings=embedder.encode(sentences),
        documents=sentences,
        metadatas=[
            {
                "doc_id": "long-paragraph",
                "label": "1",
                "para_key": paragraph.key,
                "index": i,
                "start": s.start,
                "end": s.end,
            }
            for i, s in enumerate(parsed.sentences)
        ],
    )
    # And a one-window paragraph as the earlier layout wrote it: its text as the window's document only.
    short = embedded_store.paragraph("long-paragraph", "2")
    window = embedded_store._chunks.get(ids=[f"{short.key}:0"], include=["metadatas", "embeddings"])
    meta = {k: v for k, v in window["metadatas"][0].items() if k != "paragraph_text"}
    embedded_store._chunks.delete(ids=[f"{short.key}:0"])
    embedded_store._chunks.add(
        ids=[f"{short.key}:0"], embeddings=window["embeddings"], documents=[short.text], metadatas=[meta]
    )
    assert "paragraph_text" not in embedded_store._chunks.get(ids=[f"{short.key}:0"])["metadatas"][0]
    old = embedded_store.sentences_for([paragraph.key, short.key])
    assert [s.text for s in old] == [*sentences, "A short one."]
    assert embedded_store.paragraph("long-paragraph", "2").text == "A short one."
    # The earlier layout's record had no file fingerprint, so a re-ingest reads the file again.
    (record,) = [r for r in embedded_store.documents() if r.id == "long-paragraph"]
    embedded_store.put_documents([dataclasses.replace(record, file_fingerprint="")])
    report = Indexer(embedded_store).ingest_paths([corpus["long_paragraph"]])
    assert report.ok
    assert (report.updated, report.unchanged) == (1, 1)  # ¶1 rewritten, ¶2 untouched
    ids = embedded_store.sentence_ids("long-paragraph")
    assert not any(i.startswith(f"{paragraph.key}:s") for i in ids)
    spans = embedded_store.sentences_for([paragraph.key])
    assert len(spans) < len(sentences)
    assert all(s.text == paragraph.text[s.span.start : s.span.end] for s in spans)


def _long_statement(path: Path, paragraphs: int, sentences: int) -> Path:
    blocks = "\n\n".join(
        f"{p}. "
        + " ".join(f"In round {p} the parties agreed that item {n} would be reviewed." for n in range(sentences))
        for p in range(1, paragraphs + 1)
    )
    path.write_text(f"Long Statement\n\n{blocks}\n", encoding="utf-8")
    return path


def test_a_file_past_its_embedding_time_budget_fails_whole_and_the_run_carries_on(
    tmp_path: Path, embedded_store: ParagraphStore
) -> None:
    """A file whose embedding outlasts its budget fails naming itself; its earlier version stays whole; others go in.

    The budget is one second whatever the size: 2,000 sentences take longer than that to
    embed on any CPU. The small file's texts share the first model call with the long one's
    (files go in name order), so it is charged a small share of that call's time.
    """
    folder = tmp_path / "in"
    folder.mkdir()
    statement = folder / "long.txt"
    statement.write_text("Long Statement\n\n1. The first version.\n\n2. A short one.\n", encoding="utf-8")
    assert Indexer(embedded_store).ingest_paths([statement]).ok
    before = (embedded_store.paragraphs(), embedded_store.index_state(), embedded_store.documents())

    _long_statement(statement, 20, 100)
    other = folder / "harbour.txt"
    other.write_text(
        "Harbour Statement\n\n1. Pilots are required in the harbour.\n\n2. The speed limit is 5 knots.\n",
        encoding="utf-8",
    )
    indexer = Indexer(embedded_store)
    indexer.embed_time_base_s = 1.0
    indexer.embed_time_per_1000_chars_s = 0.0
    report = indexer.ingest_paths([statement, other])

    assert len(report.failed) == 1, [f.user_message() for f in report.failed]
    (failure,) = report.failed
    assert failure.path == str(statement)
    assert "to embed" in failure.reason
    assert "the limit is 1 s + 0 s per 1,000 characters" in failure.reason
    assert [(c.id, c.status) for c in report.changes] == [("harbour", "added")]
    after = embedded_store.index_state()
    assert embedded_store.paragraphs("long") == before[0]
    assert after.chunk_ids["long"] == before[1].chunk_ids["long"]
    assert after.sentence_ids["long"] == before[1].sentence_ids["long"]
    assert embedded_store.document("long") == before[2][0]
    assert [p.label for p in embedded_store.paragraphs("harbour")] == ["1", "2"]


# The ask batch -------------------------------------------------------------------------------------
class _Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def test_every_batch_line_gets_one_output_line_in_order(
    corpus: dict[str, Path], service: StatementService, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Invalid UTF-8 becomes U+FFFD, blank lines get an error line in place, the rest are answered."""
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", _Stdin(corpus["questions"].read_bytes()))
        code = main(["--data-dir", str(data_dir), "ask", "--json", "-"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1  # the blank lines failed
    assert len(lines) == QUESTION_LINES
    assert lines[0]["question"] == "When is GCAP meant to be delivered?"
    assert "[¶" in lines[0]["answer"]
    assert lines[1]["question"] == "GCAP \ufffd\ufffd delivery?"
    assert "answer" in lines[1]
    assert [set(line) for line in lines[2:4]] == [{"question", "error"}] * 2
    assert "empty" in lines[2]["error"]
    assert lines[4]["question"] == "What does \ufffd paragraph 3 say"
    assert lines[5]["question"] == "Where did the ministers meet?"
    assert "answer" in lines[5]


def test_a_bad_question_on_the_command_line_is_a_json_error_line(
    service: StatementService, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ask --json "   "` prints {"question", "error"} and exits 1, like a batch line."""
    capsys.readouterr()
    assert main(["--data-dir", str(data_dir), "ask", "--json", "   "]) == 1
    assert set(json.loads(capsys.readouterr().out)) == {"question", "error"}


# Paragraph references ------------------------------------------------------------------------------
def test_a_missing_paragraph_says_which_paragraphs_there_are(
    corpus: dict[str, Path], service: StatementService
) -> None:
    """'¶999' is not answered from a document whose title holds 999, nor from anywhere else."""
    service.ingest_paths([corpus["title_999"]])
    try:
        everywhere = service.ask("What does ¶999 say?")
        assert everywhere.abstained
        assert everywhere.citations == ()
        assert "No statement has ¶999" in everywhere.text
        named = service.ask("What does ¶0999 say?", document="fisheries-999")
        assert named.text.startswith("Document fisheries-999 (Fisheries Agreement 999) has paragraphs 1–2")
        found = service.ask("What does ¶2 say?", document="fisheries-999")
        assert [c.label for c in found.citations] == ["2"]
    finally:
        service.remove("fisheries-999")


@pytest.mark.parametrize("question", ["How has ¶99 changed over the years?", "What does ¶99 say?"])
def test_streamed_and_plain_answers_to_a_missing_paragraph_agree(service: StatementService, question: str) -> None:
    """`ask_stream` checks a paragraph number before the timeline, as `ask` does: both say which paragraphs exist."""
    plain = service.ask(question)
    streamed = [event for event in service.ask_stream(question) if isinstance(event, Answer)]
    assert plain.text.startswith("No statement has ¶99") or plain.text.startswith("Document ")
    assert [a.text for a in streamed] == [plain.text]
    assert streamed[0].citations == ()


# Mentions and labels -------------------------------------------------------------------------------
def test_a_sentence_ending_in_a_mention_is_evidence_with_the_mention_neutralised(
    corpus: dict[str, Path], service: StatementService
) -> None:
    """The patrol-boat sentence answers the question; the role mention cannot reach the user."""
    assert not is_instruction(f"The ministers agreed to build twelve new patrol boats by 2030 {ROLE_MENTION}")
    assert is_instruction(f"{ROLE_MENTION} click here to read the real statement.")
    service.ingest_paths([corpus["mention"]])
    try:
        answer = service.ask("How many new patrol boats will be built by 2030?", document="mention")
        assert not answer.abstained, answer.text
        assert [c.label for c in answer.citations] == ["2"]
        shown_text = " ".join(m.content or "" for m in answer_messages(answer))
        assert "patrol boats" in shown_text
        assert "<@&" not in shown_text
    finally:
        service.remove("mention")


def test_an_abstention_is_not_labelled_as_a_fallback() -> None:
    """An answer the check emptied is an abstention (its note says why), not 'fell back to extractive answer'."""
    abstained = Answer("q", ABSTAIN_PHRASE, (), True, checked=CheckReport(removed_sentences=1, fallback=True))
    assert FALLBACK_MARK not in answer_messages(abstained)[0].content
    fell_back = Answer("q", "Text [¶1].", (), False, backend="extractive-fallback")
    assert FALLBACK_MARK in answer_messages(fell_back)[0].content


# File names in tables --------------------------------------------------------------------------------
def test_control_and_bidi_characters_in_names_are_shown_escaped() -> None:
    """A newline cannot forge a row, a tab cannot shift a column, an RLO cannot reverse a name."""
    assert shown("line\nbreak.txt") == "line\\nbreak.txt"
    assert shown("report\u202etxt.md") == "report\\u202etxt.md"
    assert shown("a\tb\x1b[31m\u2028c") == "a\\tb\\x1b[31m\\u2028c"
    assert shown("Déclaration commune — 2025") == "Déclaration commune — 2025"


def test_the_documents_table_shows_hostile_file_names_escaped(corpus: dict[str, Path], tmp_path: Path) -> None:
    """`statementbot documents` prints one row per document however its file is named."""
    cli = Cli(tmp_path / "data")
    ingested = cli("ingest", corpus["newline_name"], corpus["rlo_name"])
    assert ingested.returncode == 0, ingested.stderr
    listed = cli("documents")
    rows = listed.stdout.splitlines()
    assert len(rows) == 2, rows
    assert any("line\\nbreak.txt" in row for row in rows)
    assert any("report\\u202etxt.md" in row for row in rows)
    assert "\u202e" not in listed.stdout


# Broken pipes ------------------------------------------------------------------------------------------
def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path) -> None:
    """`statementbot settings | head -0`: no traceback on stderr."""
    cli = Cli(tmp_path / "data")
    process = subprocess.Popen(cli.command("settings"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli.env)
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone before the first line is written
    _, stderr = process.communicate(timeout=60)
    assert b"Traceback" not in stderr
    assert b"BrokenPipeError" not in stderr
    assert process.returncode == 141


# A frozen Chroma server ----------------------------------------------------------------------------------
def _start_server(path: Path) -> tuple[str, subprocess.Popen[bytes]] | None:
    """Start `chroma run` on a free port; None when another process answered on that port instead."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    path.mkdir(parents=True)
    with (path / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [str(CHROMA), "run", "--path", str(path / "chroma"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
    deadline = time.monotonic() + 60
    while not _heartbeat(url) and process.poll() is None:
        assert time.monotonic() < deadline, "chroma run did not start within 60 s"
        time.sleep(0.2)
    time.sleep(0.5)
    # Other tests on this machine start servers too: the heartbeat must be ours (alive, with our data folder).
    if process.poll() is not None or not (path / "chroma" / "chroma.sqlite3").exists():
        process.kill()
        process.wait()
        return None
    return url, process


@pytest.fixture
def frozen_server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A `chroma run` server of this test's own (the session's shared one must never be stopped)."""
    for attempt in range(3):
        started = _start_server(tmp_path / f"server-{attempt}")
        if started is not None:
            break
    else:
        pytest.fail("could not start a chroma server of this test's own")
    url, process = started
    try:
        yield url, process
    finally:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        process.wait(timeout=20)


def _timed(call: Any) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the test inspects it
        return error, time.monotonic() - started
    return None, time.monotonic() - started


def test_a_frozen_chroma_server_is_a_clear_error_within_the_timeout_and_recovers(
    frozen_server: tuple[str, subprocess.Popen[bytes]], embedder: Embedder
) -> None:
    """SIGSTOP: every call fails with StoreNotResponding within the timeout; SIGCONT: it works again."""
    url, process = frozen_server
    timeout_s = 2.0
    store = ParagraphStore.open_server(url, embedder, prefix="frozen", timeout_s=timeout_s)
    assert store.documents() == []
    process.send_signal(signal.SIGSTOP)
    try:
        error, elapsed = _timed(store.documents)
        assert isinstance(error, StoreNotResponding), error
        assert f"did not answer within {timeout_s:g} s" in error.message
        assert elapsed < timeout_s * 2 + 2, elapsed
        assert failure_text(error, action="answering your question") == STORE_NOT_RESPONDING
        opening, elapsed = _timed(lambda: ParagraphStore.open_server(url, embedder, prefix="x", timeout_s=timeout_s))
        assert isinstance(opening, StoreNotResponding), opening
        assert elapsed < timeout_s * 2 + 2, elapsed
    finally:
        process.send_signal(signal.SIGCONT)
    assert store.documents() == []  # the same client recovers once the server does


async def test_discord_says_the_store_is_not_responding_and_recovers(
    frozen_server: tuple[str, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """/ask while the server is stopped: a private "not responding" within the timeout; after SIGCONT, an answer."""
    from bot.runtime import build_service
    from bot.settings import Settings
    from tests.test_discord_bot import harness_for

    url, process = frozen_server
    service = build_service(Settings(data_dir=tmp_path / "data", chroma_url=url, chroma_timeout_s=2))
    service.ensure_corpus()
    question = {"question": "What do the ministers say about cyber?"}
    try:
        async with harness_for(service, tmp_path / "bot") as harness:
            process.send_signal(signal.SIGSTOP)
            try:
                frozen = await harness.slash("ask", question)
                [reply] = await harness.followups(frozen, timeout=15)
            finally:
                process.send_signal(signal.SIGCONT)
            assert reply["content"] == STORE_NOT_RESPONDING
            assert reply["flags"] & (1 << 6)  # private
            again = await harness.slash("ask", question)
            [answer] = await harness.followups(again, timeout=60)
            assert "[¶10]" in answer["content"]
    finally:
        service.close()


def test_source_of_a_missing_paragraph_names_the_paragraphs_there_are(service: StatementService) -> None:
    """`source DOC 999` says which paragraphs the document has; an unknown document is still UnknownDocument."""
    with pytest.raises(UnknownParagraph, match=r"has no paragraph '999'\. It has a preamble and paragraphs 1–"):
        service.source("uk-japan-defence-ministerial-2025", "999")
    with pytest.raises(UnknownDocument):
        service.source("no-such-document", "1")
