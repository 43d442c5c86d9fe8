"""Showing untrusted names (file names, ids, titles, sources) on one line, as they are.

A file name may hold a newline (it breaks a table row into two, one of them forged), a tab
(it shifts the columns) or a right-to-left override (U+202E makes "evil\u202etxt.exe" read
as "evilexe.txt"). `shown` writes every control, format and line-separator character as a
visible escape (``\\n``, ``\\u202e``), so what a table shows is what the name really is.
"""

from __future__ import annotations

import unicodedata

_SIMPLE = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
# Cc: C0/C1 controls; Cf: format characters (bidi controls, zero-width); Zl/Zp: line and paragraph separators.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _escape(char: str) -> str:
    if char in _SIMPLE:
        return _SIMPLE[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def needs_escape(text: str) -> bool:
    return any(char in _SIMPLE or unicodedata.category(char) in _ESCAPED_CATEGORIES for char in text)


def shown(text: str) -> str:
    """`text` on one line with control, bidi and invisible characters as visible escapes."""
    if not needs_escape(text):
        return text
    return "".join(
        _escape(char) if char in _SIMPLE or unicodedata.category(char) in _ESCAPED_CATEGORIES else char for char in text
    )


def label_range(labels: list[str]) -> str:
    """What paragraphs a document has, for a message: "paragraphs 1–24", "a preamble and paragraphs 1–9"."""
    numbers = sorted(int(label) for label in labels if label.isdigit())
    others = sorted(label for label in labels if not label.isdigit())
    parts = []
    if others:
        parts.append("a " + " and a ".join(others))
    if numbers:
        parts.append(f"paragraphs {numbers[0]}–{numbers[-1]}" if len(numbers) > 1 else f"paragraph {numbers[0]}")
    return " and ".join(parts) or "no paragraphs"
