"""Plain text: decoded as written; the parser reads its structure."""

from __future__ import annotations

from ingest.loaders._common import Extracted, decode_text_file


def load_text(data: bytes, source: str, timeout_s: float) -> Extracted:
    """UTF-8 (or UTF-16 with a BOM) text, verbatim apart from line endings."""
    del timeout_s  # decoding is linear; nothing here can stall
    return Extracted(decode_text_file(data, source))
