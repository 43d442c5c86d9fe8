"""Extract text from one PDF in a throwaway process.

Run as ``python -m ingest._pdf_worker [--cpu-seconds N] [--max-memory-bytes N]``
with the PDF bytes on stdin. PDF parsers can be driven into near-endless
loops or huge allocations by a hostile file, so this process caps its own CPU
time and address space *before* importing pypdf; the parent
(:mod:`ingest.loaders`) also enforces a wall-clock timeout and kills us.

Output protocol: exactly one JSON object on stdout, ASCII only.

* ``{"ok": true, "pages": [str, ...], "title": str | null}``
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

if TYPE_CHECKING:  # pypdf is imported only after the resource limits are set
    from pypdf import PdfReader

DEFAULT_MAX_MEMORY_BYTES = 1536 * 1024 * 1024  # 1.5 GiB: ample for text, fatal for bombs
DEFAULT_CPU_SECONDS = 61
_DETAIL_MAX_CHARS = 300  # keeps user-facing messages short when pypdf is verbose


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
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        # PdfReader already tries the empty user password, which opens the many
        # PDFs that are "encrypted" only to restrict printing or copying.
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            return {"ok": False, "kind": "encrypted", "detail": "a password is needed to open it"}
        pages = [page.extract_text() or "" for page in reader.pages]
    except (FileNotDecryptedError, DependencyError) as exc:
        # DependencyError: AES-encrypted and the optional `cryptography` package is absent.
        return {"ok": False, "kind": "encrypted", "detail": _short(exc)}
    except MemoryError:
        return {"ok": False, "kind": "memory", "detail": "ran out of memory"}
    # Malformed input makes pypdf raise almost anything (KeyError, ValueError,
    # RecursionError, ...). This process exists to contain exactly that, so every
    # failure is reported to the parent as "invalid" with its text.
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "kind": "invalid", "detail": f"{type(exc).__name__}: {_short(exc)}"}
    return {"ok": True, "pages": pages, "title": _title(reader)}


def _title(reader: PdfReader) -> str | None:
    """The document's /Title, or None; broken metadata must not cost us the text."""
    try:
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    # The title is only a hint, so any failure to read it (a damaged /Info
    # dictionary raises all sorts) just means there is none.
    except Exception:  # noqa: BLE001
        return None
    # Metadata can hold any PDF object here; only a non-blank string is a usable title.
    return (title.strip() or None) if isinstance(title, str) else None


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
