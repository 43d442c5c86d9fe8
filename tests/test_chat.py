"""The chat carries one conversation across turns, answers commands, and survives bad input."""

from __future__ import annotations

import io
from pathlib import Path

from bot.chat import ChatSession, run_chat
from qa.service import StatementService
from tests.conftest import Cli
from vectorstore.embeddings import Embedder

ROOT = Path(__file__).resolve().parents[1]
DOC = "uk-japan-defence-ministerial-2025"
CYBER = "What do the ministers say about the cyber and electromagnetic domain?"


def chat(service: StatementService, lines: list[str], **kwargs: object) -> tuple[int, str]:
    output = io.StringIO()
    code = run_chat(service, input_stream=io.StringIO("".join(f"{line}\n" for line in lines)), output=output, **kwargs)  # type: ignore[arg-type]
    return code, output.getvalue()


def test_follow_up_uses_the_conversation_and_source_prints_the_paragraph(service: StatementService) -> None:
    """A cyber question cites ¶10, 'and what about space?' then cites ¶13, /source 12 prints ¶12, /quit stops."""
    code, out = chat(service, [CYBER, "and what about space?", "/source 12", "/quit", "What is the RAA used for?"])
    assert code == 0
    first, second, rest = out.split("Sources:\n")
    assert "[¶10]" in first
    assert "  [¶13] " in rest.split("\n\n")[0]  # the follow-up's source list
    assert "[¶13]" in second.split("\n\n", 1)[1]  # the follow-up's answer text
    paragraph = service.store.paragraph(DOC, "12").text
    assert f"[¶12]\n\n{paragraph}\n" in rest  # verbatim, whole paragraph
    assert "Reciprocal Access" not in out  # nothing after /quit is read


def test_one_conversation_object_is_carried_and_reset_clears_it(service: StatementService) -> None:
    """Each question adds a turn to the same Conversation; /reset starts a new one."""
    output = io.StringIO()
    session = ChatSession(service, document=None, output=output)
    session.handle(CYBER)
    conversation = session.conversation
    session.handle("and what about space?")
    assert session.conversation is conversation
    assert len(conversation) == 2
    assert conversation.last is not None
    assert "space" in conversation.last.answer.retrieval_query
    assert {c.label for c in conversation.last.answer.citations} == {"13"}
    session.handle("/reset")
    assert len(session.conversation) == 0
    assert "Conversation cleared" in output.getvalue()


def test_source_uses_the_only_document_and_accepts_an_explicit_one(service: StatementService) -> None:
    """Before any answer, /source N reads the only document; /source DOC ¶N names it explicitly."""
    code, out = chat(service, ["/source 3", f"/source {DOC} ¶16"])
    assert code == 0
    assert service.store.paragraph(DOC, "3").text in out
    assert service.store.paragraph(DOC, "16").text in out


def test_domain_errors_print_a_message_and_the_session_goes_on(service: StatementService) -> None:
    """Unknown paragraphs and documents, over-long questions and bad commands don't end the chat."""
    code, out = chat(
        service,
        ["/source 99", "/source nope 1", "x" * 5000, "/source", "/frobnicate", "/source 5"],
    )
    assert code == 0
    assert "has no paragraph '99'" in out
    assert "No document with id 'nope'" in out
    assert "the limit is" in out
    assert "Usage: /source N" in out
    assert "Unknown command /frobnicate" in out
    assert service.store.paragraph(DOC, "5").text in out  # still answering after all of that


def test_document_option_scopes_questions_and_source(service: StatementService) -> None:
    """`--document` is passed to every question; an unknown one is reported per question."""
    code, out = chat(service, ["What is GIGO?"], document="no-such-doc")
    assert code == 0
    assert "No document with id or title matching 'no-such-doc'" in out
    code, out = chat(service, ["What is GIGO?"], document=DOC)
    assert "[¶12]" in out


def test_help_and_end_of_input(service: StatementService) -> None:
    """/help lists the commands; end of input without /quit exits 0 with no prompt printed."""
    code, out = chat(service, ["/help"])
    assert code == 0
    for command in ("/source N", "/source DOC N", "/reset", "/quit"):
        assert command in out
    assert "> " not in out  # piped input gets no prompt


def test_ctrl_c_at_the_prompt_exits_cleanly(service: StatementService) -> None:
    """KeyboardInterrupt while waiting for input ends the session with exit code 0."""

    class Interrupting(io.StringIO):
        def readline(self, size: int | None = -1) -> str:
            raise KeyboardInterrupt

    assert run_chat(service, input_stream=Interrupting(), output=io.StringIO()) == 0


def test_chat_command_reads_piped_stdin(data_dir: Path, service: StatementService, embedder: Embedder) -> None:
    """`statementbot chat` answers piped questions and commands, then exits 0 at /quit."""
    cli = Cli(data_dir, embedder=embedder)
    done = cli("chat", stdin="What does GIGO stand for?\n/source 16\n/quit\n")
    assert done.returncode == 0, done.stderr
    assert "GCAP International Government Organisation" in done.stdout
    assert "[¶12]" in done.stdout
    assert service.store.paragraph(DOC, "16").text in done.stdout
