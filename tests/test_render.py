"""bot/render.py: one layout for every front end, and errors that each front end words its own way."""

from __future__ import annotations

import pytest

from bot.discord.formatting import report_text as discord_report_text
from bot.discord.replies import failure_text
from bot.render import PLAIN, answer_text, error_text, paragraph_text, report_text
from errors import DocumentIdConflict, StatementbotError, UnknownDocument, UnknownParagraph
from prompts import ABSTAIN_PHRASE, CLOSEST_HEADING
from qa.types import Answer, Citation
from vectorstore.indexing import DocumentChange, IngestReport

GIGO = Citation("uk-japan", "UK-Japan *Joint* Statement", "12", "GIGO is the GCAP organisation.", "/srv/data/uk.txt")


def report() -> IngestReport:
    return IngestReport(
        added=3,
        changes=[DocumentChange("uk-japan", "UK-Japan *Joint* Statement", "/srv/data/uk.txt", "added", 3)],
        failed=[DocumentIdConflict("/srv/data/copy/uk.txt", "has the same document id 'uk-japan' as another file")],
        skipped=[("/srv/data/notes.docx", "not a statement file")],
    )


@pytest.mark.parametrize("error", [UnknownDocument("No document with id 'x'."), UnknownParagraph("No ¶99.")])
def test_errors_hints_are_neutral_and_each_front_end_says_what_to_do(error: StatementbotError) -> None:
    """The error's own hint names no command; the terminal names a CLI command, Discord a slash command or option."""
    assert "statementbot" not in error.user_message()
    assert "/" not in error.hint
    assert "`statementbot " in error_text(error)
    discord = failure_text(error, action="looking that up")
    assert "statementbot" not in discord
    assert discord.startswith(error.message)
    assert discord != error.user_message()


def test_an_id_conflict_is_worded_for_each_front_end() -> None:
    """Only the terminal mentions --id; Discord, which has no such option, says what its users can do."""
    error = DocumentIdConflict("a/uk.txt", "has the same document id 'uk' as another file in this run")
    assert "--id" in error_text(error)
    assert "--id" not in failure_text(error, action="ingesting")
    assert "--id" not in error.user_message()


def test_one_report_layout_plain_and_in_discord_markdown() -> None:
    """The same lines for both front ends: plain for the terminal, bold/code/escaped and file names only for Discord."""
    plain = report_text(report(), PLAIN).splitlines()
    discord = discord_report_text(report()).splitlines()
    assert len(plain) == len(discord) == 7
    assert plain[0] == "Documents: 1 added, 0 updated, 0 removed, 0 unchanged."
    assert discord[0] == "**Documents:** 1 added, 0 updated, 0 removed, 0 unchanged."
    assert plain[2] == "  - added uk-japan: UK-Japan *Joint* Statement (3 paragraphs)"
    assert discord[2] == "• added `uk-japan`: UK-Japan \\*Joint\\* Statement (3 paragraphs)"
    assert "/srv/data/notes.docx" in plain[4]
    assert "/srv/" not in "\n".join(discord)  # the server's paths stay private
    assert report_text(report(), list_failures=False).splitlines()[-1] == "Failed 1 (reasons on stderr)."


def test_answer_layout_quotes_citations_or_the_closest_passages() -> None:
    """An answer lists its sources; an abstention its closest passages under the shared heading."""
    answered = answer_text(Answer("q", "GIGO is the GCAP organisation. [¶12]", (GIGO,), False))
    assert answered.splitlines()[2:4] == ["Sources:", "  [¶12] UK-Japan *Joint* Statement"]
    abstained = answer_text(Answer("q", ABSTAIN_PHRASE, (), True, (GIGO, GIGO)))
    assert f"{CLOSEST_HEADING}:" in abstained
    assert abstained.count("[¶12]") == 1  # each paragraph once


def test_a_dated_statement_is_named_with_its_date() -> None:
    """Many statements share a title ("Joint Statement from the United States and India"): sources and the
    paragraph view name the one quoted by its date too."""
    dated = Citation(
        "us-india-2023", "Joint Statement from the United States and India", "30", "Myanmar.", date="2023-06-22"
    )
    shown = answer_text(Answer("q", "Myanmar. [¶30]", (dated,), False))
    assert "  [¶30] Joint Statement from the United States and India (2023-06-22)" in shown.splitlines()
    assert paragraph_text(dated).startswith("Joint Statement from the United States and India (2023-06-22) [¶30]")
