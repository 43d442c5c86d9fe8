"""Read-only commands start without the model stack: no torch, transformers, sentence-transformers, LangChain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "transformers", "sentence_transformers", "langchain_core")
ROOT = Path(__file__).resolve().parents[1]


def modules_after(args: list[str], data_dir: Path) -> list[str]:
    """Run the CLI's main in a fresh interpreter and list the heavy modules it imported."""
    code = (
        "import sys, json; from bot.cli import main; code = main(sys.argv[1:]);"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr); sys.exit(code)"
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
