"""Feedback privacy: only rated answers are kept, voters are keyed hashes, votes expire and can be deleted."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import stat
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.feedback import FEEDBACK_FILE, KEY_FILE, FeedbackStore
from bot.settings import Settings
from qa.types import Answer, Citation

CITATION = Citation("uk-japan-2025", "UK-Japan Joint Statement", "10", "Cyber is at the heart of modern warfare.")
ANSWER = Answer("What about cyber?", "Cyber is at the heart of modern warfare. [¶10]", (CITATION,), False)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FeedbackStore]:
    opened = FeedbackStore.in_data_dir(tmp_path)
    yield opened
    opened.close()


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_answers_nobody_rates_are_never_written(store: FeedbackStore, tmp_path: Path) -> None:
    """Posting an answer writes nothing; its first vote writes it with the vote."""
    first = store.record_answer(ANSWER)
    store.record_answer(ANSWER)
    assert _count(tmp_path / FEEDBACK_FILE, "answers") == 0
    assert store.vote(first, 7, "down")
    assert _count(tmp_path / FEEDBACK_FILE, "answers") == 1
    assert _count(tmp_path / FEEDBACK_FILE, "votes") == 1


def test_a_vote_after_a_restart_on_an_unrated_answer_is_refused(tmp_path: Path) -> None:
    """Unrated answers live in memory only, so a new process cannot rate them (and says so)."""
    before = FeedbackStore.in_data_dir(tmp_path)
    answer_id = before.record_answer(ANSWER)
    before.close()
    after = FeedbackStore.in_data_dir(tmp_path)
    try:
        assert not after.vote(answer_id, 1, "up")
    finally:
        after.close()


def test_voters_are_hmac_hashed_with_a_key_kept_apart_from_the_database(store: FeedbackStore, tmp_path: Path) -> None:
    """The key is its own 0600 file; the database holds no salt or key that re-identifies a voter."""
    key_file = tmp_path / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_bytes().strip()
    store.vote(store.record_answer(ANSWER), 123456789012345678, "up")
    [row] = list(store.rows())
    assert row["user_hash"] == hmac.new(key, b"123456789012345678", hashlib.sha256).hexdigest()
    database = (tmp_path / FEEDBACK_FILE).read_bytes()
    assert key not in database
    with sqlite3.connect(tmp_path / FEEDBACK_FILE) as connection:
        assert connection.execute("SELECT count(*) FROM meta").fetchone()[0] == 0


def test_the_key_can_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With STATEMENTBOT_FEEDBACK_KEY set, no key file is written and that key is used."""
    monkeypatch.setenv("STATEMENTBOT_FEEDBACK_KEY", "k" * 40)
    store = FeedbackStore.from_settings(Settings(data_dir=tmp_path))
    try:
        assert store.user_hash(5) == hmac.new(b"k" * 40, b"5", hashlib.sha256).hexdigest()
    finally:
        store.close()
    assert not (tmp_path / KEY_FILE).exists()


def test_votes_past_the_retention_are_purged_on_start(tmp_path: Path) -> None:
    """A vote older than STATEMENTBOT_FEEDBACK_DAYS and its answer are gone when the store next opens."""
    store = FeedbackStore.in_data_dir(tmp_path, retention_days=30)
    old, recent = store.record_answer(ANSWER), store.record_answer(ANSWER)
    store.vote(old, 1, "up")
    store.vote(recent, 1, "down")
    store.close()
    stale = (datetime.now(UTC) - timedelta(days=31)).isoformat(timespec="seconds")
    with sqlite3.connect(tmp_path / FEEDBACK_FILE) as connection:
        connection.execute("UPDATE votes SET voted_at = ? WHERE answer_id = ?", (stale, old))
    reopened = FeedbackStore.in_data_dir(tmp_path, retention_days=30)
    try:
        assert [row["answer_id"] for row in reopened.rows()] == [recent]
        assert _count(tmp_path / FEEDBACK_FILE, "answers") == 1
        assert reopened.purge(now=datetime.now(UTC) + timedelta(days=31)) == 1  # the daily purge, a month later
        assert list(reopened.rows()) == []
    finally:
        reopened.close()


def test_deleting_a_user_removes_only_their_votes(store: FeedbackStore) -> None:
    """Other voters' votes stay; an answer only that user rated goes with the vote."""
    shared, own = store.record_answer(ANSWER), store.record_answer(ANSWER)
    store.vote(shared, 1, "up")
    store.vote(shared, 2, "down")
    store.vote(own, 1, "up")
    assert store.delete_user(1) == 2
    assert [(row["answer_id"], row["vote"]) for row in store.rows()] == [(shared, "down")]
    assert store.delete_user(1) == 0


def test_foreign_keys_are_enforced(store: FeedbackStore, tmp_path: Path) -> None:
    """Deleting an answer deletes its votes (ON DELETE CASCADE works only with foreign_keys on)."""
    store.vote(store.record_answer(ANSWER), 1, "up")
    with store._lock, store._connection:
        assert store._connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        store._connection.execute("DELETE FROM answers")
    assert _count(tmp_path / FEEDBACK_FILE, "votes") == 0


def test_an_old_file_loses_its_salt_and_keeps_its_votes_anonymously(tmp_path: Path) -> None:
    """A file from before the key: the salt that re-identified voters is deleted, the votes stay unlinkable."""
    path = tmp_path / FEEDBACK_FILE
    with sqlite3.connect(path) as connection:
        connection.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE answers (id TEXT PRIMARY KEY, question TEXT NOT NULL, answer TEXT NOT NULL,"
            " citations TEXT NOT NULL, closest TEXT NOT NULL, abstained INTEGER NOT NULL, backend TEXT NOT NULL,"
            " created_at TEXT NOT NULL);"
            "CREATE TABLE votes (answer_id TEXT NOT NULL REFERENCES answers(id) ON DELETE CASCADE,"
            " user_hash TEXT NOT NULL, vote TEXT NOT NULL, voted_at TEXT NOT NULL, PRIMARY KEY (answer_id, user_hash));"
        )
        salt = "00112233445566778899aabbccddeeff"
        legacy = hashlib.sha256(f"{salt}:42".encode()).hexdigest()
        now = datetime.now(UTC).isoformat(timespec="seconds")
        connection.execute("INSERT INTO meta VALUES ('user_salt', ?)", (salt,))
        connection.execute("INSERT INTO answers VALUES ('a1', 'q', 'a', '[]', '[]', 0, 'extractive', ?)", (now,))
        connection.execute("INSERT INTO votes VALUES ('a1', ?, 'up', ?)", (legacy, now))
    store = FeedbackStore.in_data_dir(tmp_path)
    try:
        [row] = list(store.rows())
        assert row["vote"] == "up"
        assert row["user_hash"] != legacy
    finally:
        store.close()
    assert _count(path, "meta") == 0


def test_cli_deletes_one_users_votes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`statementbot feedback delete --user ID` deletes that user's votes and says how many."""
    store = FeedbackStore.in_data_dir(tmp_path)
    answer_id = store.record_answer(ANSWER)
    store.vote(answer_id, 11, "up")
    store.vote(answer_id, 12, "down")
    store.close()
    assert main(["--data-dir", str(tmp_path), "feedback", "delete", "--user", "11"]) == 0
    assert "Deleted 1 vote of user 11" in capsys.readouterr().err
    output = tmp_path / "out.jsonl"
    assert main(["--data-dir", str(tmp_path), "feedback", "export", "-o", str(output)]) == 0
    assert [json.loads(line)["vote"] for line in output.read_text(encoding="utf-8").splitlines()] == ["down"]


# /forget-me, through the real discord.py client -------------------------------------------------
@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from bot.runtime import build_service

    built = build_service(Settings(data_dir=tmp_path_factory.mktemp("privacy-data")))
    built.ensure_corpus()
    yield built
    built.close()


@pytest.fixture
async def harness(service: object, tmp_path: Path) -> AsyncIterator[object]:
    from tests.test_discord_bot import harness_for

    async with harness_for(service, tmp_path) as ready:  # type: ignore[arg-type]
        yield ready


@pytest.mark.timeout(120)
async def test_forget_me_deletes_the_callers_votes(harness: object) -> None:
    """/forget-me answers privately and deletes the caller's votes, not anyone else's."""
    fake = harness.fake  # type: ignore[attr-defined]
    feedback: FeedbackStore = harness.bot.actions.feedback  # type: ignore[attr-defined]
    answer_id = feedback.record_answer(ANSWER)
    feedback.vote(answer_id, fake.member.id, "up")
    feedback.vote(answer_id, fake.admin.id, "down")
    interaction = await harness.slash("forget-me")  # type: ignore[attr-defined]
    [reply] = await harness.followups(interaction)  # type: ignore[attr-defined]
    assert "deleted your 1 vote" in reply["content"]
    assert fake.original_message(interaction)["flags"] & (1 << 6)
    assert [row["vote"] for row in feedback.rows()] == ["down"]
