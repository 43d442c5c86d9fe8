"""The `statementbot` command line: a thin adapter over qa.service.

Heavy imports (torch, chromadb) happen inside commands so `--help` is instant.
Domain errors become one line on stderr and exit code 1; usage errors exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot import render
from bot.logs import configure_logging
from bot.render import error_text
from errors import StatementbotError
from ingest.display import shown
from qa.types import paragraph_mark

if TYPE_CHECKING:
    from bot.settings import Settings
    from qa.compare import Comparison
    from qa.reading import ReadsStatements
    from qa.service import StatementService
    from qa.types import Answer

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="statementbot",
        description="Answers questions about official statements, citing their paragraphs.",
    )
    parser.add_argument("--data-dir", type=Path, help="data directory (overrides STATEMENTBOT_DATA_DIR)")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log what happens on stderr (-v: info; -vv: debug, with why each answer was chosen)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser("ingest", help="ingest or re-ingest statement files and folders")
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    ingest.add_argument("--prune", action="store_true", help="remove documents whose files are gone from PATHs")
    ingest.add_argument("--id", dest="doc_id", help="document id to use (one file only)")
    ingest.add_argument("--json", action="store_true", help="print the summary as one JSON object")

    documents = commands.add_parser("documents", help="list ingested documents")
    documents.add_argument("--json", action="store_true")

    source = commands.add_parser("source", help="print a paragraph verbatim (every paragraph, in order, without one)")
    source.add_argument("document", metavar="DOC")
    source.add_argument("paragraph", metavar="PARAGRAPH", nargs="?")
    source.add_argument("--json", action="store_true")

    remove = commands.add_parser("remove", help="remove a document and its paragraphs")
    remove.add_argument("document", metavar="DOC")
    remove.add_argument("--json", action="store_true")

    ask = commands.add_parser("ask", help="answer a question ('-' reads one question per line from stdin)")
    ask.add_argument("question", metavar="QUESTION")
    ask.add_argument("--document", metavar="ID", help="only search this document (an id or a fragment of its title)")
    ask.add_argument("--since", type=date.fromisoformat, metavar="YYYY-MM-DD", help="only documents dated on/after")
    ask.add_argument("--until", type=date.fromisoformat, metavar="YYYY-MM-DD", help="only documents dated on/before")
    ask.add_argument("--json", action="store_true", help="print JSON (one object per question)")
    ask.add_argument(
        "--timeline", action="store_true", help="answer over time: one cited line per statement, in date order"
    )

    compare = commands.add_parser("compare", help="what changed between two statements, paragraph by paragraph")
    compare.add_argument("a", metavar="A", help="the earlier statement: document id or words of its title")
    compare.add_argument("b", metavar="B", help="the later statement: document id or words of its title")
    compare.add_argument("--json", action="store_true", help="print the comparison as one JSON object")

    chat = commands.add_parser("chat", help="interactive questions with follow-ups")
    chat.add_argument("--document", metavar="ID", help="an id or a fragment of its title")

    evaluate = commands.add_parser("eval", help="score the answerer on a question set (JSON lines)")
    evaluate.add_argument("questions", type=Path, metavar="QUESTIONS.jsonl")
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument(
        "--judgements",
        type=Path,
        metavar="FILE.jsonl",
        help="paragraphs read and judged for questions (e.g. at archive scale): those in the store extend the gold",
    )
    # Exit status 1 when a figure is below its minimum, so CI can hold the figures.
    for name, figure in (
        ("hit", "share of answerable questions citing a gold paragraph"),
        ("precision", "citation precision"),
        ("facts", "share of answerable questions whose answer holds the facts"),
        ("abstain", "share of unanswerable questions abstained on"),
    ):
        evaluate.add_argument(f"--min-{name}", type=_share, metavar="0..1", help=f"least {figure}")

    commands.add_parser("discord", help="run the Discord bot (token from DISCORD_TOKEN)")

    feedback = commands.add_parser("feedback", help="answer feedback collected by the Discord bot")
    feedback_commands = feedback.add_subparsers(dest="feedback_command", required=True)
    export = feedback_commands.add_parser("export", help="write feedback as JSON lines")
    export.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")
    delete = feedback_commands.add_parser("delete", help="delete every vote of one Discord user")
    delete.add_argument("--user", required=True, type=int, metavar="ID", help="the Discord user id")

    commands.add_parser("settings", help="list every setting with its default")
    return parser


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a reader that stopped early


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        return _dispatch(args)
    except StatementbotError as error:
        print(f"statementbot: {error_text(error)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `statementbot settings | head`: the reader has all it wanted. Point stdout at
        # /dev/null so the interpreter's final flush cannot raise (and print) again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _settings(args: argparse.Namespace) -> Settings:
    from bot.settings import load_settings

    return load_settings(data_dir=args.data_dir)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "settings":
        from bot.settings import settings_table

        for env, default, description in settings_table():
            print(f"{env}\t{default}\t{description}")
        return EXIT_OK
    settings = _settings(args)
    if args.command == "discord":
        from bot.discord.app import run_discord

        return run_discord(settings)
    if args.command == "feedback":
        from bot.feedback import delete_feedback, export_feedback

        if args.feedback_command == "delete":
            return delete_feedback(settings, args.user)
        return export_feedback(settings, args.output)
    if args.command in _READ_ONLY_COMMANDS:
        from bot.runtime import open_mirror

        mirror = open_mirror(settings)
        if mirror is not None:
            from qa.reading import StatementReader

            # Answered from the local mirror: no chromadb, no model (≤ 1 s even at archive scale).
            try:
                return _READ_ONLY_COMMANDS[args.command](StatementReader(mirror), args)
            finally:
                mirror.close()
    from bot.runtime import build_service

    service = build_service(settings)
    try:
        handler = _HANDLERS[args.command]
        return handler(service, args)
    finally:
        service.close()


# Commands -------------------------------------------------------------------
def _cmd_ingest(service: StatementService, args: argparse.Namespace) -> int:
    progress = None if args.json else _progress_printer(sys.stderr)
    report = service.ingest_paths(args.paths, prune=args.prune, doc_id=args.doc_id, progress=progress)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        print(render.report_text(report, list_failures=False))
    # Each failure on stderr, naming the file, the reason and what to do; the others were ingested.
    for failure in report.failed:
        print(f"statementbot: {shown(error_text(failure))}", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_ERROR


def _progress_printer(stream: TextIO) -> Any:
    def show(done: int, total: int, path: str) -> None:
        # A bar only for runs long enough to need one, and only on a terminal.
        if total < 5 or not stream.isatty():
            return
        width = 30
        filled = width * done // max(total, 1)
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {Path(path).name[:40]:<40}")
        if done == total:
            stream.write("\n")
        stream.flush()

    return show


def _first_use(service: StatementService, *, quiet: bool = False) -> None:
    report = service.ensure_corpus()
    if report is not None and not quiet:
        print(
            f"(First use: ingested the sample statements from {service.sample_dir}: {report.added} paragraphs.)",
            file=sys.stderr,
        )


def _cmd_documents(service: ReadsStatements, args: argparse.Namespace) -> int:
    records = service.documents()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "title": r.title,
                        "date": r.date.isoformat() if r.date else None,
                        "paragraphs": r.paragraphs,
                        "source": r.source,
                        "ingested_at": r.ingested_at,
                        "url": r.url or None,
                    }
                    for r in records
                ],
                ensure_ascii=False,
            )
        )
        return EXIT_OK
    if not records:
        print(render.NO_DOCUMENTS)
    for r in records:
        # The link goes last, and only when known: the columns before it stay where scripts expect them.
        cells = (r.id, r.title, str(r.date or "-"), f"{r.paragraphs} paragraphs", r.source, r.ingested_at)
        link = f"\t{shown(r.url)}" if r.url else ""
        print("\t".join(shown(cell) for cell in cells) + link)
    return EXIT_OK


def _cmd_source(service: ReadsStatements, args: argparse.Namespace) -> int:
    if args.paragraph is None:
        # The whole document in one call: a script reading it paragraph by paragraph
        # would otherwise pay the start-up once per paragraph.
        citations = service.source_all(args.document)
        if args.json:
            print(json.dumps([c.to_json() for c in citations], ensure_ascii=False))
        else:
            print(f"{citations[0].title}\n" if citations else "", end="")
            for c in citations:
                print(f"\n{c.marker(with_document=False)} {c.text}")
        return EXIT_OK
    citation = service.source(args.document, args.paragraph)
    if args.json:
        print(json.dumps(citation.to_json(), ensure_ascii=False))
    else:
        print(render.paragraph_text(citation))
    return EXIT_OK


def _cmd_remove(service: StatementService, args: argparse.Namespace) -> int:
    report = service.remove(args.document)
    print(json.dumps(report.to_json(), ensure_ascii=False) if args.json else render.report_text(report))
    return EXIT_OK


def _cmd_ask(service: StatementService, args: argparse.Namespace) -> int:
    _first_use(service, quiet=args.json)
    kwargs = {
        "document": args.document,
        "date_from": args.since,
        "date_to": args.until,
        "timeline": True if args.timeline else None,
    }
    if args.question != "-":
        question = _from_argv(args.question)
        if args.json:
            payload, _ = _answer_or_error(service, question, kwargs)
            print(json.dumps(payload, ensure_ascii=False))
            return EXIT_ERROR if "error" in payload else EXIT_OK
        # A language model's words go to stderr as they come (an unchecked preview);
        # stdout gets only the checked answer, so pipes and scripts see one answer.
        streamed = False
        for event in service.ask_stream(question, **kwargs):
            if isinstance(event, str):
                sys.stderr.write(event)
                sys.stderr.flush()
                streamed = True
            else:
                if streamed:
                    print("\n\n-- checked against the statements: --", file=sys.stderr, flush=True)
                print(render.answer_text(event))
        return EXIT_OK
    failures = 0
    # Bytes, not text: one line that is not UTF-8 must not stop the batch. Every line, blank or
    # not, gets exactly one output line in order, so line N of the output answers line N of the input.
    for raw in sys.stdin.buffer:
        question = raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", errors="replace")
        payload, answer = _answer_or_error(service, question, kwargs)
        failures += answer is None
        if args.json:
            print(json.dumps(payload, ensure_ascii=False), flush=True)
        else:
            print(payload["error"] if answer is None else render.answer_text(answer), end="\n\n", flush=True)
    return EXIT_ERROR if failures else EXIT_OK


def _from_argv(text: str) -> str:
    """A command-line argument with its undecodable bytes (kept by Python as surrogates) as U+FFFD."""
    return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")


def _answer_or_error(
    service: StatementService, question: str, kwargs: dict[str, Any]
) -> tuple[dict[str, Any], Answer | None]:
    """The `ask --json` object for one question and its Answer, or `{"question", "error"}` and None."""
    try:
        answer = service.ask(question, **kwargs)
    except StatementbotError as error:
        return {"question": question, "error": error_text(error)}, None
    except Exception as error:  # noqa: BLE001 - one question's bug must not lose the rest of a batch
        traceback.print_exc(file=sys.stderr)
        return {"question": question, "error": f"internal error ({error.__class__.__name__}); see stderr"}, None
    return answer.to_json(), answer


def _cmd_chat(service: StatementService, args: argparse.Namespace) -> int:
    from bot.chat import run_chat

    _first_use(service)
    return run_chat(service, document=args.document)


def _cmd_eval(service: StatementService, args: argparse.Namespace) -> int:
    from qa.evaluation import Minimums, format_summary, load_judgements, load_questions, run_evaluation

    _first_use(service, quiet=True)
    questions = load_questions(args.questions)
    judgements = load_judgements(args.judgements) if args.judgements else None
    summary = run_evaluation(service, questions, judgements)
    minimums = Minimums(hit=args.min_hit, precision=args.min_precision, facts=args.min_facts, abstain=args.min_abstain)
    missed = minimums.missed(summary)
    if args.json:
        print(json.dumps({**summary.to_json(), "missed": missed}, ensure_ascii=False))
    else:
        print(format_summary(summary))
    for line in missed:
        print(f"Missed: {line}", file=sys.stderr)
    return EXIT_ERROR if missed else EXIT_OK


def _share(text: str) -> float:
    """A minimum figure: a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; give a share from 0 to 1, e.g. 0.9") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value:g} is not between 0 and 1")
    return value


def _cmd_compare(service: StatementService, args: argparse.Namespace) -> int:
    comparison = service.compare(args.a, args.b)
    if args.json:
        print(json.dumps(comparison.to_json(), ensure_ascii=False))
    else:
        print(format_comparison(comparison, colour=_colour(sys.stdout)))
    return EXIT_OK


def _colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


_RED, _GREEN, _DIM, _BOLD, _RESET = "\033[31m", "\033[32m", "\033[2m", "\033[1m", "\033[0m"


def format_comparison(comparison: Comparison, *, colour: bool = False) -> str:
    """B's paragraphs in order: unchanged, changed (word diff), new; dropped ones where they stood in A.

    Without colour, deleted words read [-like this-] and inserted ones {+like this+} (wdiff's marks).
    """

    def paint(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if colour else text

    a, b = comparison.a, comparison.b
    counts = comparison.counts()
    lines = [
        paint(_BOLD, f"A: {a.title} ({a.id}, {a.date or 'undated'})"),
        paint(_BOLD, f"B: {b.title} ({b.id}, {b.date or 'undated'})"),
        f"{counts['unchanged']} unchanged, {counts['changed']} changed, {counts['added']} new in B, "
        f"{counts['removed']} dropped from A.",
        "",
    ]
    for entry in comparison.entries():
        if entry.pair is not None and entry.kind == "unchanged":
            lines.append(
                paint(
                    _DIM, f"B {paragraph_mark(entry.pair.b.label)} = A {paragraph_mark(entry.pair.a.label)}  unchanged"
                )
            )
        elif entry.pair is not None:
            pair = entry.pair
            lines.append(
                f"B {paragraph_mark(pair.b.label)} ~ A {paragraph_mark(pair.a.label)}  changed ({pair.similarity:.2f})"
            )
            words = []
            for part in pair.diff:
                if part.op == "delete":
                    words.append(paint(_RED, part.text) if colour else f"[-{part.text}-]")
                elif part.op == "insert":
                    words.append(paint(_GREEN, part.text) if colour else f"{{+{part.text}+}}")
                else:
                    words.append(part.text)
            lines.append("    " + " ".join(words))
        elif entry.paragraph is not None and entry.kind == "added":
            lines.append(paint(_GREEN, f"B {paragraph_mark(entry.paragraph.label)}  new"))
            lines.append("    " + entry.paragraph.text)
        elif entry.paragraph is not None:
            lines.append(paint(_RED, f"A {paragraph_mark(entry.paragraph.label)}  dropped"))
            lines.append("    " + entry.paragraph.text)
    return "\n".join(lines)


# Commands that only read the corpus: answered from the embedded store's mirror when it is current.
_READ_ONLY_COMMANDS: dict[str, Callable[[ReadsStatements, argparse.Namespace], int]] = {
    "documents": _cmd_documents,
    "source": _cmd_source,
}
_HANDLERS: dict[str, Callable[[StatementService, argparse.Namespace], int]] = {
    "compare": _cmd_compare,
    "ingest": _cmd_ingest,
    "documents": _cmd_documents,
    "source": _cmd_source,
    "remove": _cmd_remove,
    "ask": _cmd_ask,
    "chat": _cmd_chat,
    "eval": _cmd_eval,
}


if __name__ == "__main__":
    sys.exit(main())
