"""Shared fixtures: the real MiniLM embedder, real Chroma (embedded and a `chroma run` server), the CLI.

The embedder is loaded once per session (the model load costs seconds). The
server is started once per session too; each test gets its own collection
prefix on it, so tests never see each other's data.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from qa.service import StatementService
from vectorstore.embeddings import Embedder
from vectorstore.store import ParagraphStore

VENV_BIN = Path(sys.executable).parent
STATEMENTBOT = VENV_BIN / "statementbot"
CHROMA = VENV_BIN / "chroma"
REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "bot" / "samples" / "uk-japan-defence-ministerial-2025.txt"
SERVER_START_TIMEOUT_S = 60.0


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real bundled all-MiniLM-L6-v2, shared by every test of the session."""
    return Embedder()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _heartbeat(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1) as response:
            return response.status == 200 and "nanosecond heartbeat" in json.loads(response.read())
    except OSError:
        return False


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real `chroma run` server on a free port, stopped at the end of the session."""
    path = tmp_path_factory.mktemp("chroma-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(CHROMA), "run", "--path", str(path / "data"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not _heartbeat(url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chroma run did not start (exit {process.returncode}):\n{log_path.read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


OpenStore = Callable[[Embedder], ParagraphStore]


@dataclass
class StoreLocation:
    """Where a test's store lives, so it can be opened again (e.g. with another embedder)."""

    mode: str  # "embedded" | "server"
    open: OpenStore


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.server)])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreLocation]:
    """A fresh store location: a data dir in tmp_path, or a unique collection prefix on the server."""
    opened: list[ParagraphStore] = []
    if request.param == "embedded":

        def open_store(embedder: Embedder) -> ParagraphStore:
            store = ParagraphStore.open_embedded(tmp_path / "data", embedder)
            opened.append(store)
            return store

    else:
        url = request.getfixturevalue("chroma_server")
        prefix = f"t{uuid.uuid4().hex[:12]}"

        def open_store(embedder: Embedder) -> ParagraphStore:
            store = ParagraphStore.open_server(url, embedder, prefix=prefix)
            opened.append(store)
            return store

    yield StoreLocation(request.param, open_store)
    for store in opened:
        store.close()


@pytest.fixture
def store(store_location: StoreLocation, embedder: Embedder) -> ParagraphStore:
    """A ParagraphStore on real Chroma, once embedded (tmp_path) and once on the `chroma run` server."""
    return store_location.open(embedder)


@pytest.fixture
def embedded_store(tmp_path: Path, embedder: Embedder) -> Iterator[ParagraphStore]:
    """An embedded store in tmp_path/data (for behaviour that does not depend on the mode)."""
    store = ParagraphStore.open_embedded(tmp_path / "data", embedder)
    yield store
    store.close()


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> object:
        return json.loads(self.stdout)


class Cli:
    """Runs `statementbot` with its data dir in tmp_path (never the user's).

    A call runs the CLI in-process through `main(argv)`, with the session's MiniLM, its own
    environment and captured stdout/stderr: starting `.venv/bin/statementbot` costs seconds of
    imports per command. Tests of the process itself (exit status of the executable, signals,
    locks held by another process) use `run_process` or `popen`.
    """

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, *, embedder: Embedder | None = None) -> None:
        self.data_dir = data_dir
        self.embedder = embedder
        base = {k: v for k, v in os.environ.items() if not k.upper().startswith("STATEMENTBOT_")}
        self.env = {**base, "STATEMENTBOT_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", **(env or {})}

    def command(self, *args: str | Path) -> list[str]:
        return [str(STATEMENTBOT), *map(str, args)]

    def __call__(
        self, *args: str | Path, env: dict[str, str] | None = None, stdin: str = "", timeout: float | None = None
    ) -> CliResult:
        """`statementbot ARGS` in-process; `timeout` is accepted for callers written for the subprocess (unused)."""
        del timeout
        from bot.cli import main
        from vectorstore import embeddings

        out, err = io.StringIO(), io.StringIO()
        with pytest.MonkeyPatch.context() as patch:
            for name in list(os.environ):
                patch.delenv(name)
            for name, value in {**self.env, **(env or {})}.items():
                patch.setenv(name, value)
            if self.embedder is not None:
                shared = self.embedder
                patch.setattr(embeddings, "Embedder", lambda **_settings: shared)
            patch.setattr(sys, "stdin", io.StringIO(stdin))
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main([str(a) for a in args])
                except SystemExit as exit_:  # argparse's usage errors
                    code = exit_.code if isinstance(exit_.code, int) else 2
        return CliResult(code, out.getvalue(), err.getvalue())

    def run_process(self, *args: str | Path, timeout: float = 240, env: dict[str, str] | None = None) -> CliResult:
        """The real executable in a subprocess, for what only a process shows."""
        completed = subprocess.run(
            self.command(*args),
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**self.env, **(env or {})},
            check=False,
        )
        return CliResult(completed.returncode, completed.stdout, completed.stderr)

    def popen(self, *args: str | Path) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env
        )


@pytest.fixture
def cli(tmp_path: Path, embedder: Embedder) -> Cli:
    return Cli(tmp_path / "data", embedder=embedder)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A module's data directory (modules needing another layout define their own)."""
    return tmp_path_factory.mktemp("statementbot-data")


@pytest.fixture(scope="module")
def service(data_dir: Path, embedder: Embedder) -> Iterator[StatementService]:
    """One real service (the session's MiniLM, embedded Chroma) over the sample statement, shared by the module."""
    from bot.runtime import build_service
    from bot.settings import load_settings

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STATEMENTBOT_DATA_DIR", str(data_dir))
        built = build_service(load_settings(), embedder=embedder)
    built.ensure_corpus()
    yield built
    built.close()
