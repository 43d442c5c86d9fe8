"""Loaders on documents as they are really published: exact paragraphs and time, against the alternatives.

    python bench/bench_loaders.py [--repeat 3]

Builds the fixtures of ``tests/published.py`` (typeset PDF with running header
and footer, saved government web page, archive Markdown, Word with automatic
numbering) and, for each, prints how many of the published paragraphs come
back exactly (white space folded), whether any paragraph holds page furniture
or site chrome, and the load+parse time. The same is printed for the
alternatives the loaders were chosen over, where they are installed:

* PDF: pypdf's text stream (the previous loader, numbers-and-repetition cleanup
  only) versus pdfplumber's positioned lines (the current one);
* HTML: jusText's boilerplate classifier (a trafilatura dependency) versus
  trafilatura.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.loaders import load_path  # noqa: E402 - after the path tweak, so the bench runs from a checkout
from ingest.models import fold_whitespace  # noqa: E402
from ingest.parser import parse_loaded, parse_statement  # noqa: E402
from tests import published  # noqa: E402
from tests.test_published_formats import FURNITURE  # noqa: E402


def score(pairs: list[tuple[str, str]]) -> tuple[int, int, bool]:
    """(paragraphs exactly as published, paragraphs published, any furniture in any paragraph)."""
    wanted = [(label, fold_whitespace(text)) for label, text in published.published_paragraphs()]
    got = {(label, fold_whitespace(text)) for label, text in pairs}
    exact = sum(1 for pair in wanted if pair in got)
    junk = any(marker in text for _label, text in pairs for marker in FURNITURE)
    return exact, len(wanted), junk


def timed(function: Callable[[], list[tuple[str, str]]], repeat: int) -> tuple[list[tuple[str, str]], float]:
    best = float("inf")
    result: list[tuple[str, str]] = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return result, best


def current(path: Path) -> Callable[[], list[tuple[str, str]]]:
    def run() -> list[tuple[str, str]]:
        document = parse_loaded(load_path(path))
        return [(p.label, p.text) for p in document.paragraphs]

    return run


def pypdf_stream(path: Path) -> Callable[[], list[tuple[str, str]]]:
    def run() -> list[tuple[str, str]]:
        from pypdf import PdfReader

        pages = [page.extract_text() or "" for page in PdfReader(io.BytesIO(path.read_bytes())).pages]
        document = parse_statement("\n\n".join(pages), source=str(path))
        return [(p.label, p.text) for p in document.paragraphs]

    return run


def justext_page(path: Path) -> Callable[[], list[tuple[str, str]]]:
    def run() -> list[tuple[str, str]]:
        import justext

        paragraphs = justext.justext(path.read_bytes(), justext.get_stoplist("English"))
        text = "\n\n".join(p.text for p in paragraphs if not p.is_boilerplate)
        document = parse_statement(text, source=str(path))
        return [(p.label, p.text) for p in document.paragraphs]

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-loaders-") as folder:
        files = {path.suffix: path for path in published.write_all(Path(folder))}
        runs = [
            ("pdf", "pdfplumber positions (current)", current(files[".pdf"])),
            ("pdf", "pypdf text stream (previous)", pypdf_stream(files[".pdf"])),
            ("html", "trafilatura (current)", current(files[".html"])),
            ("html", "jusText", justext_page(files[".html"])),
            ("md", "markdown-it-py + front matter", current(files[".md"])),
            ("docx", "python-docx + numbering", current(files[".docx"])),
        ]
        print(f"{'format':<6} {'loader':<32} {'exact':>7} {'furniture':>9} {'time':>9}")
        for fmt, name, function in runs:
            try:
                pairs, seconds = timed(function, args.repeat)
            except ImportError as error:
                print(f"{fmt:<6} {name:<32} (not installed: {error.name})")
                continue
            exact, total, junk = score(pairs)
            print(f"{fmt:<6} {name:<32} {exact:>3}/{total:<3} {'yes' if junk else 'no':>9} {seconds * 1000:>7.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
