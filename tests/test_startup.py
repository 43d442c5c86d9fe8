"""Read-only commands start without the model stack: no torch, transformers, sentence-transformers, LangChain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vectorstore.embeddings import Embedder

HEAVY = ("torch", "transformers", "sentence_transformers", "langchain_core")
ROOT = Path(__file__).resolve().parents[1]


def modules_after(args: list[str], data_dir: Path, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    """Run the CLI's main in a fresh interpreter and list the heavy modules it imported."""
    code = (
        "import sys, json; from bot.cli import main; code = main(sys.argv[1:]);"
        f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]), file=sys.stderr); sys.exit(code)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATEMENTBOT_")}
    env["STATEMENTBOT_DATA_DIR"] = str(data_dir)
    completed = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=180, env=env, cwd=ROOT, check=False
    )
    assert completed.returncode in {0, 1}, completed.stderr
    return json.loads(completed.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "args",
    [["documents", "--json"], ["source", "no-such-doc", "1"], ["settings"], ["feedback", "export"]],
)
def test_read_only_commands_import_no_model_stack(args: list[str], tmp_path: Path) -> None:
    """`documents`, `source`, `settings` and `feedback export` never import torch, transformers or LangChain."""
    assert modules_after(args, tmp_path / "data") == []


def test_read_only_commands_on_a_current_mirror_open_no_chroma(tmp_path: Path, embedder: Embedder) -> None:
    """After an ingest, `documents` and `source` read the local mirror: neither chromadb nor numpy is imported
    (their records are vectorstore/records.py's), and they print what they print when the store is read (as
    they do for a store with no stamp)."""
    from tests.conftest import SEED, Cli
    from vectorstore.store import DEFAULT_PREFIX, corpus_stamp_path

    data_dir = tmp_path / "data"
    cli = Cli(data_dir, embedder=embedder)
    assert cli("ingest", SEED).returncode == 0
    listed = cli("documents", "--json").json()
    assert isinstance(listed, list)
    doc_id = listed[0]["id"]
    commands = [["documents", "--json"], ["documents"], ["source", doc_id, "12"], ["source", doc_id, "--json"]]
    from_mirror = []
    for args in commands:
        assert modules_after(args, data_dir, heavy=(*HEAVY, "chromadb", "numpy")) == []
        from_mirror.append(cli(*args).stdout)
    corpus_stamp_path(data_dir, DEFAULT_PREFIX).unlink()
    from_chroma = [cli(*args).stdout for args in commands]
    assert from_mirror == from_chroma
    assert "[¶12]" in from_mirror[2]
    assert "chromadb" in modules_after(["documents", "--json"], data_dir, heavy=("chromadb",))
