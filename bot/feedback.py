"""Answer feedback (👍 / 👎 from Discord) kept in a local SQLite file, exported as JSON lines.

What is stored, and for how long (the README's *Feedback* section says the same to users):

* Only answers somebody voted on. A posted answer waits in memory (the last
  `PENDING_ANSWERS`, under the short id its vote buttons carry) and is written to the file
  with its first vote; answers nobody rates are never written. After a restart, a vote on
  an answer posted before it is refused as "too old to rate".
* Per vote: the question, the answer, its citations, the vote and when; the voter as
  HMAC-SHA256(key, user id). The key is kept apart from the database, in
  ``feedback.key`` (mode 0600) in the data directory or in STATEMENTBOT_FEEDBACK_KEY,
  so a copy of the database alone cannot tell whether a known user voted.
* Votes older than the retention (STATEMENTBOT_FEEDBACK_DAYS) are deleted when the store
  opens and daily by the bot, and answers left without votes go with them.
* `delete_user` (``statementbot feedback delete --user ID``, ``/forget-me``) deletes one
  user's votes.

Nothing here imports discord; the bot and the CLI both use it.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import secrets
import sqlite3
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

from errors import StatementbotError

if TYPE_CHECKING:
    from bot.settings import Settings
    from qa.types import Answer

FEEDBACK_FILE = "feedback.sqlite3"
KEY_FILE = "feedback.key"
DEFAULT_RETENTION_DAYS = 180
PENDING_ANSWERS = 2000  # posted answers awaiting a first vote, most recent kept
PURGE_INTERVAL_S = 24 * 3600
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
CREATE INDEX IF NOT EXISTS votes_by_user ON votes (user_hash);
CREATE INDEX IF NOT EXISTS votes_by_time ON votes (voted_at);
"""


class FeedbackError(StatementbotError):
    """The feedback file cannot be read or the export cannot be written."""


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def load_key(data_dir: Path, from_environment: str | None = None) -> bytes:
    """The HMAC key: STATEMENTBOT_FEEDBACK_KEY when set, else `feedback.key` in the data dir (made once, 0600)."""
    if from_environment:
        return from_environment.encode()
    path = data_dir / KEY_FILE
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: two processes starting together cannot both write a different key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            key = path.read_bytes().strip()
            if (path.stat().st_mode & 0o077) != 0:
                os.chmod(path, 0o600)  # tighten a key file someone copied with looser rights
        else:
            key = secrets.token_hex(32).encode()
            with os.fdopen(fd, "wb") as handle:
                handle.write(key)
    except OSError as error:
        raise FeedbackError(
            f"Cannot read or create the feedback key {path}: {error.strerror}.",
            hint="Check that STATEMENTBOT_DATA_DIR is writable, or set STATEMENTBOT_FEEDBACK_KEY.",
        ) from error
    if len(key) < 32:
        raise FeedbackError(f"The feedback key in {path} is too short.", hint="Delete the file to make a new one.")
    return key


class FeedbackStore:
    """One SQLite file; safe to call from worker threads (one connection behind a lock)."""

    def __init__(self, path: Path, *, key: bytes | None = None, retention_days: int = DEFAULT_RETENTION_DAYS) -> None:
        self.path = path
        self.retention_days = retention_days
        self._key = key if key is not None else load_key(path.parent)
        self._pending: OrderedDict[str, tuple[Any, ...]] = OrderedDict()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(path, check_same_thread=False)
            # Off by default in SQLite: without it ON DELETE CASCADE does nothing.
            self._connection.execute("PRAGMA foreign_keys = ON")
            with self._connection:
                self._connection.executescript(_SCHEMA)
            self._forget_legacy_salt()
        except sqlite3.Error as error:
            raise FeedbackError(
                f"Cannot open the feedback file {path}: {error}.",
                hint="Check that STATEMENTBOT_DATA_DIR is writable.",
            ) from error
        self._lock = threading.Lock()
        self.purge()

    @classmethod
    def in_data_dir(
        cls, data_dir: Path, *, key: bytes | None = None, retention_days: int = DEFAULT_RETENTION_DAYS
    ) -> FeedbackStore:
        return cls(data_dir / FEEDBACK_FILE, key=key, retention_days=retention_days)

    @classmethod
    def from_settings(cls, settings: Settings) -> FeedbackStore:
        secret = settings.feedback_key.get_secret_value() if settings.feedback_key else None
        return cls.in_data_dir(
            settings.data_dir, key=load_key(settings.data_dir, secret), retention_days=settings.feedback_days
        )

    def _forget_legacy_salt(self) -> None:
        """Files from before the HMAC key kept a salt next to sha256(salt:user) hashes, which
        re-identifies a known voter. The salt is deleted and those votes re-keyed to random
        tokens: they still count, but nobody (their voter included) can link them to a user."""
        if self._connection.execute("SELECT 1 FROM meta WHERE key = 'user_salt'").fetchone() is None:
            return
        with self._connection:
            for (rowid,) in self._connection.execute("SELECT rowid FROM votes").fetchall():
                self._connection.execute(
                    "UPDATE votes SET user_hash = ? WHERE rowid = ?", (f"anonymous-{secrets.token_hex(16)}", rowid)
                )
            self._connection.execute("DELETE FROM meta WHERE key = 'user_salt'")

    def user_hash(self, user_id: int) -> str:
        return hmac.new(self._key, str(int(user_id)).encode(), hashlib.sha256).hexdigest()

    # Writing ------------------------------------------------------------------------------
    def record_answer(self, answer: Answer) -> str:
        """Remember an answer the bot is about to post (in memory); returns the id its vote buttons carry."""
        answer_id = secrets.token_hex(8)
        row = (
            answer_id,
            answer.question,
            answer.text,
            json.dumps([c.to_json() for c in answer.citations], ensure_ascii=False),
            json.dumps([c.to_json() for c in answer.closest], ensure_ascii=False),
            int(answer.abstained),
            answer.backend,
            _stamp(_now()),
        )
        with self._lock:
            self._pending[answer_id] = row
            while len(self._pending) > PENDING_ANSWERS:
                self._pending.popitem(last=False)
        return answer_id

    def vote(self, answer_id: str, user_id: int, vote: Vote) -> bool:
        """Record (or change) one user's vote; False when the answer is unknown or too old."""
        if vote not in VOTES:
            raise ValueError(f"vote must be one of {VOTES}, not {vote!r}")
        with self._lock, self._connection:
            known = self._connection.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone()
            if known is None:
                pending = self._pending.get(answer_id)
                if pending is None:
                    return False
                self._connection.execute("INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?)", pending)
            self._connection.execute(
                "INSERT INTO votes (answer_id, user_hash, vote, voted_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (answer_id, user_hash) DO UPDATE SET vote = excluded.vote, voted_at = excluded.voted_at",
                (answer_id, self.user_hash(user_id), vote, _stamp(_now())),
            )
        self._pending.pop(answer_id, None)
        return True

    def delete_user(self, user_id: int) -> int:
        """Delete every vote of one user (and answers left without votes); returns how many votes."""
        with self._lock, self._connection:
            deleted = self._connection.execute("DELETE FROM votes WHERE user_hash = ?", (self.user_hash(user_id),))
            self._delete_unrated()
        return deleted.rowcount

    def purge(self, *, now: datetime | None = None) -> int:
        """Delete votes older than the retention, then answers left without votes; returns how many votes."""
        cutoff = _stamp((now or _now()) - timedelta(days=self.retention_days))
        with self._lock, self._connection:
            deleted = self._connection.execute("DELETE FROM votes WHERE voted_at < ?", (cutoff,))
            self._delete_unrated()
        return deleted.rowcount

    def _delete_unrated(self) -> None:
        self._connection.execute("DELETE FROM answers WHERE id NOT IN (SELECT answer_id FROM votes)")

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
    store = FeedbackStore.from_settings(settings)
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


def delete_feedback(settings: Settings, user_id: int) -> int:
    """`statementbot feedback delete --user ID`: delete one Discord user's votes; a count on stderr."""
    path = settings.data_dir / FEEDBACK_FILE
    if not path.exists():
        print(f"No feedback yet ({path} does not exist): nothing to delete.", file=sys.stderr)
        return 0
    store = FeedbackStore.from_settings(settings)
    try:
        count = store.delete_user(user_id)
    finally:
        store.close()
    print(f"Deleted {count} vote{'s' if count != 1 else ''} of user {user_id}.", file=sys.stderr)
    return 0
