"""Questions over time: detection, the time frame, and answers with one dated, cited line per statement.

Three editions of a small statement series (2022, 2023, 2024) are ingested with the real
model and Chroma next to the bundled sample; only the 2022 and 2024 editions speak of
coral reefs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bot.cli import main
from bot.runtime import build_service
from bot.settings import Settings
from prompts import ABSTAIN_PHRASE
from qa.service import StatementService
from qa.timeline import TimelineParams, is_timeline_question, time_frame, topic_of

pytestmark = pytest.mark.timeout(600)

REPO = Path(__file__).resolve().parents[1]
SHARED_EVAL = REPO.parent / "shared" / "eval"

EDITIONS = {
    "reef-partnership-2022.txt": """Northland–Southland Ocean Partnership Statement 2022

14 March 2022

1. The Ministers of Northland and Southland met in Port Avel to review their ocean partnership.
2. The Ministers committed to protect coral reefs from bleaching by funding a joint reef monitoring network.
3. The Ministers agreed to share fisheries catch data every season.
""",
    "reef-partnership-2023.txt": """Northland–Southland Ocean Partnership Statement 2023

20 March 2023

1. The Ministers of Northland and Southland met in Southport to review their ocean partnership.
2. The Ministers agreed to open a joint coast guard training centre for search and rescue.
3. The Ministers agreed to share fisheries catch data every season and to publish it online.
""",
    "reef-partnership-2024.txt": """Northland–Southland Ocean Partnership Statement 2024

18 March 2024

1. The Ministers of Northland and Southland met in Port Avel to review their ocean partnership.
2. The Ministers expressed grave concern at the mass bleaching of coral reefs and doubled funding for reef restoration.
3. The Ministers agreed to share fisheries catch data every season.
""",
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("timeline-data")


@pytest.fixture(scope="module")
def service(data_dir: Path) -> Iterator[StatementService]:
    built = build_service(Settings(data_dir=data_dir))
    built.ensure_corpus()
    for name, text in EDITIONS.items():
        report = built.ingest_bytes(text.encode(), name=name)
        assert report.ok
    yield built
    built.close()


# Detection -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "question",
    [
        "How has the language on Taiwan changed since 2021?",
        "What did the statements say about climate over the years?",
        "How did the wording on submarines evolve between 2021 and 2024?",
        "What have they said about cyber over time?",
    ],
)
def test_questions_over_time_are_recognised(question: str) -> None:
    assert is_timeline_question(question)


def _ordinary_questions() -> list[str]:
    paths = [REPO / "tests" / "data" / "sample_questions.jsonl"]
    paths += [SHARED_EVAL / "dev_questions.jsonl", SHARED_EVAL / "real_dev" / "questions.jsonl"]
    return [json.loads(line)["question"] for p in paths if p.exists() for line in p.read_text().splitlines() if line]


def test_ordinary_questions_are_not_taken_for_questions_over_time() -> None:
    """None of the question sets' single-statement questions is answered as a timeline."""
    questions = _ordinary_questions()
    assert len(questions) >= 20
    assert [q for q in questions if is_timeline_question(q)] == []


def test_time_frame_and_topic_come_from_the_question() -> None:
    assert time_frame("How has the language on Taiwan changed since 2021?") == (date(2021, 1, 1), None)
    assert time_frame("between 2021 and 2023, what did they say?") == (date(2021, 1, 1), date(2023, 12, 31))
    assert topic_of("How has the language on Taiwan changed since 2021?") == "taiwan"
    assert topic_of("What did the statements say about coral reefs over the years?") == "coral reefs"


def test_fitted_thresholds_are_stored_with_their_figures() -> None:
    data = json.loads((REPO / "qa" / "timeline_params.json").read_text())
    assert data["fitted_by"] == "bench/fit_timeline.py"
    assert data["figures"]["check"]["precision"] >= 0.95
    params = TimelineParams.load()
    assert 0.0 <= params.similarity <= 1.0


# Answers -----------------------------------------------------------------------------------------
def test_timeline_answer_cites_only_the_statements_on_the_topic_in_date_order(service: StatementService) -> None:
    """One line per edition that speaks of coral reefs, oldest first, each with its date and sentence."""
    answer = service.ask("How has the language on coral reefs changed since 2021?")
    assert not answer.abstained
    assert [c.doc_id for c in answer.citations] == [
        "reef-partnership-2022",
        "reef-partnership-2024",
    ]
    assert [c.date for c in answer.citations] == ["2022-03-14", "2024-03-18"]
    lines = answer.text.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("2022-03-14")
    assert "coral reefs from bleaching" in lines[0]
    assert lines[1].startswith("2024-03-18")
    assert lines[1].endswith("[reef-partnership-2024 ¶2]")


def test_time_frame_leaves_out_earlier_statements(service: StatementService) -> None:
    answer = service.ask("What did the statements say about coral reefs since 2023?")
    assert [c.date for c in answer.citations] == ["2024-03-18"]


def test_a_topic_no_statement_addresses_is_an_abstention(service: StatementService) -> None:
    answer = service.ask("What did the statements say about Antarctica over the years?")
    assert answer.abstained
    assert answer.text == ABSTAIN_PHRASE
    assert answer.citations == ()


def test_ask_timeline_forces_it_and_json_citations_carry_dates(
    service: StatementService, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ask --timeline` answers over time even without the phrasing; every JSON citation has its date."""
    assert main(["--data-dir", str(data_dir), "ask", "--timeline", "--json", "fisheries catch data"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["backend"] == "timeline"
    dates = [c["date"] for c in payload["citations"]]
    assert dates == sorted(dates)
    assert len(dates) == 3  # all three editions share catch data
    assert main(["--data-dir", str(data_dir), "ask", "--json", "When is GCAP meant to be delivered?"]) == 0
    ordinary = json.loads(capsys.readouterr().out)
    assert ordinary["backend"] != "timeline"
    assert ordinary["citations"][0]["date"] == "2025-08-28"
