"""`-v` / `-vv`: our loggers at INFO / DEBUG, and at DEBUG every answer says why it was chosen."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.logs import OWN_LOGGERS, configure_logging, level_for
from qa.service import StatementService
from tests.conftest import SEED


@pytest.fixture(autouse=True)
def _restore_levels() -> Iterator[None]:
    """configure_logging sets our loggers' levels process-wide; put them back for the other tests."""
    before = {name: logging.getLogger(name).level for name in OWN_LOGGERS}
    yield
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize(("verbosity", "level"), [(1, logging.INFO), (2, logging.DEBUG), (3, logging.DEBUG)])
def test_each_v_lowers_our_loggers_level_and_leaves_libraries_alone(verbosity: int, level: int) -> None:
    """-v is INFO and -vv DEBUG for statementbot's loggers; chromadb and discord keep theirs."""
    library = logging.getLogger("chromadb").level
    configure_logging(verbosity)
    assert level_for(verbosity) == level
    assert all(logging.getLogger(name).level == level for name in OWN_LOGGERS)
    assert logging.getLogger("qa.extractive").getEffectiveLevel() == level
    assert logging.getLogger("chromadb").level == library


def test_debug_log_says_why_each_answer_was_chosen(service: StatementService, caplog: pytest.LogCaptureFixture) -> None:
    """At DEBUG: the retrieval's top hits, then the decision with the best evidence's features and the threshold."""
    configure_logging(2)
    with caplog.at_level(logging.DEBUG):
        service.ask("What does GIGO stand for?")
        service.ask("What is the capital of France?")
    decisions = [r.getMessage() for r in caplog.records if r.name == "qa.extractive"]
    answered = next(m for m in decisions if "GIGO" in m)
    assert answered.startswith("answer 'What does GIGO stand for?'")
    assert "¶12" in answered
    assert f"threshold {service.answerer.abstain_threshold:.2f}" in answered  # type: ignore[attr-defined]
    assert "coverage=" in answered
    assert "best_sentence_cosine=" in answered
    assert next(m for m in decisions if "France" in m).startswith("abstain on ")
    searches = [r.getMessage() for r in caplog.records if r.name == "vectorstore.retrieval"]
    assert any("GIGO" in m and "¶12 fused" in m for m in searches)


def test_cli_vv_logs_the_decision_of_an_ask(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`statementbot -vv ask` turns the debug lines on (in-process; stderr shows them outside pytest)."""
    data = str(tmp_path / "data")
    assert main(["--data-dir", data, "ingest", str(SEED), "--json"]) == 0
    with caplog.at_level(logging.DEBUG):
        assert main(["-vv", "--data-dir", data, "ask", "What does GIGO stand for?"]) == 0
    assert any(r.name == "qa.extractive" and r.levelno == logging.DEBUG for r in caplog.records)
    assert logging.getLogger("qa").level == logging.DEBUG
