"""`statementbot chat`: an interactive session with follow-ups and paragraph look-ups.

One `Conversation` is carried across turns, so "and what about space?" after a
question about cyber is read as a follow-up. Lines starting with `/` are
commands (see `/help`). On a terminal, input gets readline editing and a
history file in the data directory; piped input is read line by line with no
prompt, so a transcript can be scripted.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, TextIO

from bot import render
from bot.render import error_text
from errors import StatementbotError
from qa.types import Answer, Conversation

if TYPE_CHECKING:
    from qa.service import StatementService

PROMPT = "> "
HISTORY_FILE = "chat_history"
HISTORY_LENGTH = 1000
HELP = """Type a question about the statements; follow-up questions may refer to the previous answer.
Commands:
  /source N        print paragraph N of the document cited last (or the only document)
  /source DOC N    print paragraph N of document DOC
  /reset           forget the conversation (start a new topic)
  /help            show this help
  /quit            leave (Ctrl-D works too)"""


class ChatSession:
    """The state of one chat: its conversation and the document cited last."""

    def __init__(self, service: StatementService, *, document: str | None, output: TextIO) -> None:
        self.service = service
        self.document = document
        self.output = output
        self.conversation = Conversation()
        self.last_document: str | None = None

    def say(self, text: str = "") -> None:
        self.output.write(text + "\n")
        self.output.flush()

    def handle(self, line: str) -> bool:
        """Act on one input line; False means the session should end."""
        line = line.strip()
        if not line:
            return True
        if line.startswith("/"):
            return self.command(line)
        try:
            answer = self.service.ask(line, conversation=self.conversation, document=self.document)
        except StatementbotError as error:
            self.say(error_text(error))
            return True
        self.show(answer)
        return True

    def show(self, answer: Answer) -> None:
        shown = answer.citations or answer.closest
        if shown:
            self.last_document = shown[0].doc_id
        self.say(render.answer_text(answer))
        self.say()

    def command(self, line: str) -> bool:
        name, _, rest = line.partition(" ")
        name = name.lower()
        if name in {"/quit", "/exit", "/q"}:
            return False
        if name in {"/help", "/?"}:
            self.say(HELP)
        elif name == "/reset":
            self.conversation = Conversation()
            self.last_document = None
            self.say("(Conversation cleared.)")
        elif name == "/source":
            self.source(rest.split())
        else:
            self.say(f"Unknown command {name}. Type /help for the commands.")
        return True

    def source(self, args: list[str]) -> None:
        if len(args) not in (1, 2):
            self.say("Usage: /source N  or  /source DOC N")
            return
        try:
            doc_id = args[0] if len(args) == 2 else self._default_document()
            if doc_id is None:
                return
            citation = self.service.source(doc_id, args[-1])
        except StatementbotError as error:
            self.say(error_text(error))
            return
        self.say(render.paragraph_text(citation))
        self.say()

    def _default_document(self) -> str | None:
        if self.last_document:
            return self.last_document
        if self.document:
            return self.document
        documents = self.service.documents()
        if len(documents) == 1:
            return documents[0].id
        if not documents:
            self.say(render.NO_DOCUMENTS)
        else:
            names = ", ".join(d.id for d in documents[:5]) + (" …" if len(documents) > 5 else "")
            self.say(f"Several documents are ingested ({names}); name one: /source DOC N")
        return None


def run_chat(
    service: StatementService,
    document: str | None = None,
    input_stream: TextIO | None = None,
    output: TextIO | None = None,
    *,
    history_path: Path | None = None,
) -> int:
    """Run the chat loop until /quit, end of input or Ctrl-C at the prompt; returns the exit code."""
    input_stream = sys.stdin if input_stream is None else input_stream
    output = sys.stdout if output is None else output
    session = ChatSession(service, document=document, output=output)
    interactive = _is_tty(input_stream) and _is_tty(output)
    if interactive:
        titles = ", ".join(d.id for d in service.documents()[:3]) or "no documents yet"
        scope = f" (only {document})" if document else ""
        session.say(f"Ask about the statements{scope}: {titles}. /help for commands, /quit to leave.")
    with _line_reader(service, input_stream, output, interactive, history_path) as read_line:
        while True:
            try:
                line = read_line()
            except (EOFError, KeyboardInterrupt):
                if interactive:
                    session.say()
                return 0
            if line is None:
                return 0
            try:
                if not session.handle(line):
                    return 0
            except KeyboardInterrupt:
                # Ctrl-C while answering abandons that answer, not the session.
                session.say("(Interrupted.)")


@contextlib.contextmanager
def _line_reader(
    service: StatementService,
    input_stream: TextIO,
    output: TextIO,
    interactive: bool,
    history_path: Path | None,
) -> Iterator[Callable[[], str | None]]:
    """A function returning the next line (None at end of input); readline-backed on a terminal."""
    if not (interactive and input_stream is sys.stdin and output is sys.stdout):
        yield lambda: _read_plain(input_stream)
        return
    readline = _readline()
    history = history_path if history_path is not None else _default_history(service)
    if readline is not None and history is not None:
        readline.set_history_length(HISTORY_LENGTH)
        with contextlib.suppress(OSError):
            readline.read_history_file(history)
    try:
        yield lambda: input(PROMPT)
    finally:
        if readline is not None and history is not None:
            with contextlib.suppress(OSError):
                readline.write_history_file(history)


def _read_plain(stream: TextIO) -> str | None:
    line = stream.readline()
    return None if line == "" else line.rstrip("\n")


def _readline() -> ModuleType | None:
    try:
        import readline  # imported for its side effect: input() gains line editing and history
    except ImportError:  # e.g. Windows without pyreadline
        return None
    return readline


def _default_history(service: StatementService) -> Path | None:
    """`chat_history` in the embedded store's data directory; none for a Chroma server."""
    location = Path(getattr(service.store, "location", "") or "")
    return location / HISTORY_FILE if str(location) not in {"", "."} and location.is_dir() else None


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
