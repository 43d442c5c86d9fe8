"""The `statementbot` command line: a thin adapter over qa.service.

Heavy imports (torch, chromadb) happen inside commands so `--help` is instant.
Domain errors become one line on stderr and exit code 1; usage errors exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot import render
from bot.logs import configure_logging
from bot.render import error_text
from errors import StatementbotError

if TYPE_CHECKING:
    from bot.settings import Settings
    from qa.service import StatementService

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
    ask.add_argument("--document", metavar="ID", help="only search this document")
    ask.add_argument("--since", type=date.fromisoformat, metavar="YYYY-MM-DD", help="only documents dated on/after")
    ask.add_argument("--until", type=date.fromisoformat, metavar="YYYY-MM-DD", help="only documents dated on/before")
    ask.add_argument("--json", action="store_true", help="print JSON (one object per question)")

    chat = commands.add_parser("chat", help="interactive questions with follow-ups")
    chat.add_argument("--document", metavar="ID")

    evaluate = commands.add_parser("eval", help="score the answerer on a question set (JSON lines)")
    evaluate.add_argument("questions", type=Path, metavar="QUESTIONS.jsonl")
    evaluate.add_argument("--json", action="store_true")

    commands.add_parser("discord", help="run the Discord bot (token from DISCORD_TOKEN)")

    feedback = commands.add_parser("feedback", help="answer feedback collected by the Discord bot")
    feedback_commands = feedback.add_subparsers(dest="feedback_command", required=True)
    export = feedback_commands.add_parser("export", help="write feedback as JSON lines")
    export.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")

    commands.add_parser("settings", help="list every setting with its default")
    return parser


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
        from bot.feedback import export_feedback

        return export_feedback(settings, args.output)
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
        print(f"statementbot: {error_text(failure)}", file=sys.stderr)
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


def _cmd_documents(service: StatementService, args: argparse.Namespace) -> int:
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
        link = f"\t{r.url}" if r.url else ""
        print(f"{r.id}\t{r.title}\t{r.date or '-'}\t{r.paragraphs} paragraphs\t{r.source}\t{r.ingested_at}{link}")
    return EXIT_OK


def _cmd_source(service: StatementService, args: argparse.Namespace) -> int:
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
    kwargs = {"document": args.document, "date_from": args.since, "date_to": args.until}
    if args.question != "-":
        if args.json:
            print(json.dumps(service.ask(args.question, **kwargs).to_json(), ensure_ascii=False))
            return EXIT_OK
        # A language model's words go to stderr as they come (an unchecked preview);
        # stdout gets only the checked answer, so pipes and scripts see one answer.
        streamed = False
        for event in service.ask_stream(args.question, **kwargs):
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
    for line in sys.stdin:
        question = line.rstrip("\n")
        if not question.strip():
            continue
        try:
            answer = service.ask(question, **kwargs)
            payload: dict[str, Any] = answer.to_json()
        except StatementbotError as error:
            # One bad line must not stop a batch: report it in place, in order.
            failures += 1
            payload = {"question": question, "error": error_text(error)}
        if args.json:
            print(json.dumps(payload, ensure_ascii=False), flush=True)
        else:
            print(render.answer_text(answer) if "error" not in payload else payload["error"], end="\n\n", flush=True)
    return EXIT_ERROR if failures else EXIT_OK


def _cmd_chat(service: StatementService, args: argparse.Namespace) -> int:
    from bot.chat import run_chat

    _first_use(service)
    return run_chat(service, document=args.document)


def _cmd_eval(service: StatementService, args: argparse.Namespace) -> int:
    from qa.evaluation import format_summary, load_questions, run_evaluation

    _first_use(service, quiet=True)
    questions = load_questions(args.questions)
    summary = run_evaluation(service, questions)
    print(json.dumps(summary.to_json(), ensure_ascii=False) if args.json else format_summary(summary))
    return EXIT_OK


_HANDLERS = {
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
