"""Paragraphs of numbering that restarts under headings ("II.2", "2.1") end to end.

The parser labels them (tests/test_parser.py); here the labels go through the
real store, exact references in questions, the extractive answer and the
citation check, and come out of `ask --json` and `source` as the public contract.
"""

from __future__ import annotations

import pytest

from qa.citations import Ref, markers_in
from tests.conftest import Cli
from vectorstore.embeddings import Embedder

STATEMENT = """Joint Statement on Coastal Cooperation

4 June 2024

The two governments met in Lisbon.

I. Fisheries

1. The Ministers agreed to share catch data on sardine stocks every quarter.

2. They will open a joint patrol centre for illegal fishing in Porto.

II. Ports

1. The Ministers welcomed the new ferry link between Lisbon and Funchal.

2. They committed to electrify the container cranes of Sines by 2030.

Annex

1. Data will be shared through the regional fisheries commission.

2. The patrol centre will report to both ministries each year.
"""


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Cli:
    root = tmp_path_factory.mktemp("sections")
    source = root / "coastal-2024.txt"
    source.write_text(STATEMENT, encoding="utf-8")
    cli = Cli(root / "data", embedder=embedder)
    result = cli("ingest", source, "--json")
    assert result.returncode == 0, result.stderr
    return cli


def test_restarted_runs_are_stored_with_their_part_labels(ingested: Cli) -> None:
    """`source --json` lists 1, 2 for the first run, II.1, II.2 under "II. Ports" and 3.1, 3.2 for the annex."""
    result = ingested("source", "coastal-2024", "--json")
    assert result.returncode == 0, result.stderr
    listed = result.json()
    paragraphs = listed["paragraphs"] if isinstance(listed, dict) else listed
    assert [p["paragraph"] for p in paragraphs] == ["preamble", "1", "2", "II.1", "II.2", "3.1", "3.2"]


@pytest.mark.parametrize(
    ("question", "label", "words"),
    [
        ("What does paragraph II.2 say?", "II.2", "electrify the container cranes"),
        ("Show me ¶ii.1", "II.1", "ferry link"),
        ("What is in para 3.2 of the coastal statement?", "3.2", "report to both ministries"),
        ("What does paragraph 2 say?", "2", "joint patrol centre"),
    ],
)
def test_exact_reference_to_a_part_label_is_answered_and_cited(
    ingested: Cli, question: str, label: str, words: str
) -> None:
    """A question naming a qualified paragraph gets that paragraph, cited with its label in the answer's marker."""
    result = ingested("ask", "--json", question)
    assert result.returncode == 0, result.stderr
    answer = result.json()
    assert not answer["abstained"]
    assert [c["paragraph"] for c in answer["citations"]] == [label]
    assert words in answer["citations"][0]["text"]
    assert f"¶{label}]" in answer["answer"]


def test_source_accepts_a_part_label(ingested: Cli) -> None:
    """`source DOC II.2` and `source DOC ¶II.2` print that paragraph."""
    for written in ("II.2", "¶II.2"):
        result = ingested("source", "coastal-2024", written, "--json")
        assert result.returncode == 0, result.stderr
        assert "container cranes of Sines" in result.json()["text"]


def test_citation_markers_read_part_labels() -> None:
    """'[¶II.3]', '[doc ¶2.1, ¶4]' and a bare '¶B.2' are read as the paragraphs they name; '¶12.' stays ¶12."""
    text = "Ports grow [¶II.3]. Data is shared [coastal ¶2.1, ¶4]. See ¶B.2 and ¶12."
    assert markers_in(text) == [
        Ref(None, "II.3"),
        Ref("coastal", "2.1"),
        Ref(None, "4"),
        Ref(None, "B.2"),
        Ref(None, "12"),
    ]
