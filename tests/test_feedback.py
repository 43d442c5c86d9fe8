"""Votes on answers are kept locally, one per user, and exported as JSON lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.feedback import FEEDBACK_FILE, FeedbackStore
from qa.types import Answer, Citation

CITATION = Citation("uk-japan-2025", "UK-Japan Joint Statement", "10", "Cyber is at the heart of modern warfare.")
ANSWER = Answer("What about cyber?", "Cyber is at the heart of modern warfare. [¶10]", (CITATION,), False)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FeedbackStore]:
    opened = FeedbackStore.in_data_dir(tmp_path)
    yield opened
    opened.close()


def test_vote_is_stored_with_the_answer_and_a_hashed_user(store: FeedbackStore) -> None:
    """One row per vote: question, answer, citations, vote, timestamp, and no raw user id."""
    answer_id = store.record_answer(ANSWER)
    assert store.vote(answer_id, 123456789012345678, "up")
    [row] = list(store.rows())
    assert row["question"] == "What about cyber?"
    assert row["answer"] == ANSWER.text
    assert row["citations"] == [CITATION.to_json()]
    assert row["vote"] == "up"
    assert row["timestamp"]
    assert len(row["user_hash"]) == 64
    assert "123456789012345678" not in json.dumps(row)


def test_a_user_changing_their_vote_keeps_one_row(store: FeedbackStore) -> None:
    """👍 then 👎 from the same user is one 👎; another user adds a row."""
    answer_id = store.record_answer(ANSWER)
    store.vote(answer_id, 1, "up")
    store.vote(answer_id, 1, "down")
    store.vote(answer_id, 2, "up")
    assert sorted(row["vote"] for row in store.rows()) == ["down", "up"]


def test_vote_on_an_unknown_answer_is_refused(store: FeedbackStore) -> None:
    """A vote for an answer the store never saw is not recorded."""
    assert not store.vote("0123456789abcdef", 1, "up")
    assert list(store.rows()) == []


def test_user_hash_is_stable_per_install_and_salted(tmp_path: Path) -> None:
    """The same user hashes the same after reopening; another install hashes differently."""
    first = FeedbackStore.in_data_dir(tmp_path / "a")
    again = FeedbackStore.in_data_dir(tmp_path / "a")
    other = FeedbackStore.in_data_dir(tmp_path / "b")
    try:
        assert first.user_hash(42) == again.user_hash(42) != other.user_hash(42)
    finally:
        for store in (first, again, other):
            store.close()


def test_cli_export_writes_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`statementbot feedback export -o FILE` writes one JSON object per vote."""
    store = FeedbackStore.in_data_dir(tmp_path)
    answer_id = store.record_answer(ANSWER)
    store.vote(answer_id, 1, "up")
    store.vote(answer_id, 2, "down")
    store.close()
    output = tmp_path / "feedback.jsonl"
    assert main(["--data-dir", str(tmp_path), "feedback", "export", "--output", str(output)]) == 0
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert sorted(line["vote"] for line in lines) == ["down", "up"]
    assert {line["answer_id"] for line in lines} == {answer_id}
    assert "Exported 2 votes" in capsys.readouterr().err


def test_cli_export_to_stdout_and_without_feedback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No feedback file yet: nothing on stdout, an explanation on stderr, exit 0."""
    assert main(["--data-dir", str(tmp_path), "feedback", "export"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "No feedback yet" in captured.err
    assert not (tmp_path / FEEDBACK_FILE).exists()


def test_cli_export_to_an_unwritable_path_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An output in a missing folder is a one-line error and exit 1, not a traceback."""
    store = FeedbackStore.in_data_dir(tmp_path)
    store.vote(store.record_answer(ANSWER), 1, "up")
    store.close()
    code = main(["--data-dir", str(tmp_path), "feedback", "export", "-o", str(tmp_path / "missing" / "out.jsonl")])
    assert code == 1
    assert "Cannot write" in capsys.readouterr().err
