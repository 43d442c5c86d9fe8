"""Month names, shared by parsing (dates) and answering (`qa/text.py`, the citation check).

They sit in the lowest layer so the parser (dates) and the citation check (names, inflections)
use one definition; `qa/` modules import them from here.
"""

from __future__ import annotations

# Each month's name, then the abbreviations statements print ("Sept", "Aug.").
_MONTH_SPELLINGS = (
    ("january", "jan"),
    ("february", "feb"),
    ("march", "mar"),
    ("april", "apr"),
    ("may",),
    ("june", "jun"),
    ("july", "jul"),
    ("august", "aug"),
    ("september", "sep", "sept"),
    ("october", "oct"),
    ("november", "nov"),
    ("december", "dec"),
)
MONTHS: dict[str, int] = {name: number for number, names in enumerate(_MONTH_SPELLINGS, start=1) for name in names}
MONTH_NAMES = frozenset(names[0] for names in _MONTH_SPELLINGS)
# A month as a regex group (case-insensitive use): full names first, so "March" is not read as "Mar".
MONTH_PATTERN = "(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
