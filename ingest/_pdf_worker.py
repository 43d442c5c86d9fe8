"""Extract text from one PDF in a throwaway process.

Run as ``python -m ingest._pdf_worker [--cpu-seconds N] [--max-memory-bytes N]``
with the PDF bytes on stdin. PDF parsers can be driven into near-endless
loops or huge allocations by a hostile file, so this process caps its own CPU
time and address space *before* importing pdfplumber; the parent
(:mod:`ingest.loaders.pdf`) also enforces a wall-clock timeout and kills us.

pdfplumber (on pdfminer.six) is used for its positions: each line comes with
where it sits on the page and the size of its type, which is what tells a
running header, a page number or a title apart from the text.

Output protocol: exactly one JSON object on stdout, ASCII only.

* ``{"ok": true, "pages": [{"height": float, "lines": [{"text": str, "top": float,
  "bottom": float, "size": float}, ...]}, ...], "title": str | null}``
* ``{"ok": false, "kind": "encrypted" | "invalid" | "memory", "detail": str}``

Exit status is 0 whenever a JSON object was written, so a non-zero status
means the process was killed or crashed before it could report.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pdfplumber is imported only after the resource limits are set
    from pdfplumber.page import Page

DEFAULT_MAX_MEMORY_BYTES = 1536 * 1024 * 1024  # 1.5 GiB: ample for text, fatal for bombs
DEFAULT_CPU_SECONDS = 61
_DETAIL_MAX_CHARS = 300  # keeps user-facing messages short when the parser is verbose


def _limit_resources(*, cpu_seconds: int, max_memory_bytes: int) -> None:
    """Cap CPU time and address space for this process (POSIX only)."""
    try:
        import resource
    except ImportError:  # Windows: the parent's wall-clock timeout is the only guard
        return
    for limit, wanted in (
        (resource.RLIMIT_CPU, cpu_seconds),
        (resource.RLIMIT_AS, max_memory_bytes),
    ):
        soft, hard = resource.getrlimit(limit)
        # Only ever tighten: an unprivileged process cannot raise a hard limit.
        new_hard = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
        # The hard CPU limit one second later turns SIGXCPU into SIGKILL as a backstop.
        if limit == resource.RLIMIT_CPU and hard == resource.RLIM_INFINITY:
            new_hard = wanted + 1
        new_soft = min(wanted, new_hard)
        if soft != resource.RLIM_INFINITY:
            new_soft = min(soft, new_soft)
        resource.setrlimit(limit, (new_soft, new_hard))


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= _DETAIL_MAX_CHARS else text[: _DETAIL_MAX_CHARS - 1] + "…"


def extract(data: bytes) -> dict[str, Any]:
    """Return the protocol object for ``data`` (never raises for a bad PDF)."""
    import pdfplumber
    from pdfminer.pdfdocument import PDFPasswordIncorrect
    from pdfplumber.utils.exceptions import PdfminerException

    try:
        # The empty password opens the many PDFs that are "encrypted" only to
        # restrict printing or copying (RC4 or AES: pdfminer decrypts AES with
        # the `cryptography` package, a dependency of ours).
        with pdfplumber.open(io.BytesIO(data), password="") as pdf:
            pages = [_page(page) for page in pdf.pages]
            title = _title(pdf.metadata)
    except PdfminerException as exc:
        cause = exc.args[0] if exc.args else exc
        if isinstance(cause, PDFPasswordIncorrect):
            return {"ok": False, "kind": "encrypted", "detail": "a password is needed to open it"}
        if isinstance(cause, MemoryError):
            return {"ok": False, "kind": "memory", "detail": "ran out of memory"}
        return {"ok": False, "kind": "invalid", "detail": f"{type(cause).__name__}: {_short(cause)}"}
    except MemoryError:
        return {"ok": False, "kind": "memory", "detail": "ran out of memory"}
    # Malformed input makes PDF parsers raise almost anything (KeyError, ValueError,
    # RecursionError, ...). This process exists to contain exactly that, so every
    # failure is reported to the parent as "invalid" with its text.
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "kind": "invalid", "detail": f"{type(exc).__name__}: {_short(exc)}"}
    return {"ok": True, "pages": pages, "title": title}


def _page(page: Page) -> dict[str, Any]:
    """A page's text lines in reading order, each with its position and type size."""
    lines = []
    for line in page.extract_text_lines(strip=True, return_chars=True):
        sizes = sorted(char.get("size", 0.0) for char in line["chars"]) or [0.0]
        lines.append(
            {
                "text": line["text"],
                "top": round(float(line["top"]), 2),
                "bottom": round(float(line["bottom"]), 2),
                # The median ignores a large drop capital or a small footnote mark.
                "size": round(float(sizes[len(sizes) // 2]), 2),
            }
        )
    return {"height": float(page.height), "lines": lines}


def _title(metadata: object) -> str | None:
    """The document's /Title, or None; broken metadata must not cost us the text."""
    if not isinstance(metadata, dict):
        return None
    title = metadata.get("Title")
    if isinstance(title, bytes):
        # pdfminer leaves undecodable strings as bytes; UTF-16 has a BOM, the rest is PDFDocEncoding-ish.
        utf16 = title.startswith((b"\xfe\xff", b"\xff\xfe"))
        title = title.decode("utf-16" if utf16 else "latin-1", errors="replace")
    # Metadata can hold any PDF object here; only a non-blank string is a usable title.
    return (" ".join(title.split()) or None) if isinstance(title, str) else None


def main(argv: list[str] | None = None) -> int:
    """Read a PDF from stdin, write the protocol object to stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-seconds", type=int, default=DEFAULT_CPU_SECONDS)
    parser.add_argument("--max-memory-bytes", type=int, default=DEFAULT_MAX_MEMORY_BYTES)
    args = parser.parse_args(argv)
    _limit_resources(cpu_seconds=args.cpu_seconds, max_memory_bytes=args.max_memory_bytes)
    data = sys.stdin.buffer.read()
    result = extract(data)
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
