"""Answer feedback (👍 / 👎 from Discord) kept in a local SQLite file, exported as JSON lines.

Every answer the bot posts is recorded (question, answer, citations) under a short id that
its vote buttons carry, so a vote still lands after the bot restarts. Voters are stored as a
salted SHA-256 of their user id: enough to count one vote per person, not to say who. The
salt is random per installation and stays in the file.

Nothing here imports discord; the bot and the CLI both use it.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import sqlite3
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

from errors import StatementbotError

if TYPE_CHECKING:
    from bot.settings import Settings
    from qa.types import Answer

FEEDBACK_FILE = "feedback.sqlite3"
Vote = Literal["up", "down"]
VOTES: tuple[Vote, ...] = ("up", "down")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,      -- JSON list, the `ask --json` citation shape
    closest TEXT NOT NULL,        -- JSON list: passages shown when the bot abstained
    abstained INTEGER NOT NULL,
    backend TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS votes (
    answer_id TEXT NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
    user_hash TEXT NOT NULL,
    vote TEXT NOT NULL CHECK (vote IN ('up', 'down')),
    voted_at TEXT NOT NULL,
    PRIMARY KEY (answer_id, user_hash)
);
"""


class FeedbackError(StatementbotError):
    """The feedback file cannot be read or the export cannot be written."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class FeedbackStore:
    """One SQLite file; safe to call from worker threads (one connection behind a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(path, check_same_thread=False)
            with self._connection:
                self._connection.executescript(_SCHEMA)
        except sqlite3.Error as error:
            raise FeedbackError(
                f"Cannot open the feedback file {path}: {error}.",
                hint="Check that STATEMENTBOT_DATA_DIR is writable.",
            ) from error
        self._lock = threading.Lock()
        self._salt = self._meta("user_salt") or self._set_meta("user_salt", secrets.token_hex(16))

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> FeedbackStore:
        return cls(data_dir / FEEDBACK_FILE)

    def _meta(self, key: str) -> str | None:
        row = self._connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> str:
        with self._connection:
            self._connection.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
        return self._meta(key) or value

    def user_hash(self, user_id: int) -> str:
        return hashlib.sha256(f"{self._salt}:{user_id}".encode()).hexdigest()

    # Writing ------------------------------------------------------------------------------
    def record_answer(self, answer: Answer) -> str:
        """Keep an answer the bot is about to post; returns the id its vote buttons carry."""
        answer_id = secrets.token_hex(8)
        row = (
            answer_id,
            answer.question,
            answer.text,
            json.dumps([c.to_json() for c in answer.citations], ensure_ascii=False),
            json.dumps([c.to_json() for c in answer.closest], ensure_ascii=False),
            int(answer.abstained),
            answer.backend,
            _now(),
        )
        with self._lock, self._connection:
            self._connection.execute("INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
        return answer_id

    def vote(self, answer_id: str, user_id: int, vote: Vote) -> bool:
        """Record (or change) one user's vote; False when the answer is unknown."""
        if vote not in VOTES:
            raise ValueError(f"vote must be one of {VOTES}, not {vote!r}")
        with self._lock, self._connection:
            known = self._connection.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone()
            if known is None:
                return False
            self._connection.execute(
                "INSERT INTO votes (answer_id, user_hash, vote, voted_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (answer_id, user_hash) DO UPDATE SET vote = excluded.vote, voted_at = excluded.voted_at",
                (answer_id, self.user_hash(user_id), vote, _now()),
            )
        return True

    # Reading ------------------------------------------------------------------------------
    def rows(self) -> Iterator[dict[str, Any]]:
        """One dict per vote, oldest first: the JSON-lines export shape (extend, never rename)."""
        with self._lock:
            fetched = self._connection.execute(
                "SELECT a.id, a.question, a.answer, a.citations, a.closest, a.abstained, a.backend, a.created_at, "
                "v.user_hash, v.vote, v.voted_at FROM votes v JOIN answers a ON a.id = v.answer_id "
                "ORDER BY v.voted_at, a.id, v.user_hash"
            ).fetchall()
        for row in fetched:
            yield {
                "answer_id": row[0],
                "question": row[1],
                "answer": row[2],
                "citations": json.loads(row[3]),
                "closest": json.loads(row[4]),
                "abstained": bool(row[5]),
                "backend": row[6],
                "answered_at": row[7],
                "user_hash": row[8],
                "vote": row[9],
                "timestamp": row[10],
            }

    def export(self, stream: TextIO) -> int:
        """Write every vote as one JSON object per line; returns how many."""
        count = 0
        for row in self.rows():
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
        return count

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def export_feedback(settings: Settings, output: Path | None) -> int:
    """`statementbot feedback export [-o FILE]`: JSON lines to FILE or stdout; a count on stderr."""
    path = settings.data_dir / FEEDBACK_FILE
    if not path.exists():
        if output is not None:
            _write(output, "")
        print(f"No feedback yet ({path} does not exist); the Discord bot creates it.", file=sys.stderr)
        return 0
    store = FeedbackStore(path)
    try:
        if output is None:
            count = store.export(sys.stdout)
        else:
            buffer = io.StringIO()  # written in one go, so a failed export leaves no half file
            count = store.export(buffer)
            _write(output, buffer.getvalue())
    finally:
        store.close()
    where = f" to {output}" if output is not None else ""
    print(f"Exported {count} vote{'s' if count != 1 else ''}{where}.", file=sys.stderr)
    return 0


def _write(output: Path, text: str) -> None:
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise FeedbackError(
            f"Cannot write {output}: {error.strerror}.", hint="Choose a writable path with --output."
        ) from error
