"""Sentence boundaries inside a paragraph.

Official statements are full of abbreviations ("H.E. Mr Nakatani", "Rt Hon",
"No. 5", "U.K.") that a naive split on '.' would cut, so the splitter knows them.
"""

from __future__ import annotations

import re

from ingest.models import Span

# Tokens that end with a period but do not end a sentence.
_ABBREVIATIONS = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "hon",
        "rt",
        "h.e",
        "he",
        "st",
        "gen",
        "lt",
        "col",
        "maj",
        "capt",
        "cdr",
        "adm",
        "sgt",
        "no",
        "nos",
        "vol",
        "art",
        "arts",
        "para",
        "paras",
        "e.g",
        "i.e",
        "etc",
        "cf",
        "vs",
        "v",
        "u.k",
        "u.s",
        "u.n",
        "e.u",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "inc",
        "ltd",
        "co",
        "corp",
        "approx",
        "fig",
        "op",
        "ex",
        "al",
    }
)

# A candidate end: . ! ? optionally followed by closing quotes/brackets, then space.
_CANDIDATE = re.compile(r"[.!?][\"'”’)\]]*(?=\s+)")


def _is_abbreviation(text: str, dot_index: int) -> bool:
    start = dot_index
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in '("“‘':
        start -= 1
    token = text[start:dot_index].lower()
    if token in _ABBREVIATIONS:
        return True
    # Single capital initial ("J. Healey") or dotted acronym ("U.K.").
    return bool(re.fullmatch(r"[a-z]", token) or re.fullmatch(r"(?:[a-z]\.)+[a-z]", token))


def split_sentences(text: str) -> tuple[Span, ...]:
    """Spans of the sentences of `text` (white space already folded)."""
    spans: list[Span] = []
    start = 0
    for match in _CANDIDATE.finditer(text):
        if text[match.start()] == "." and _is_abbreviation(text, match.start()):
            continue
        following = text[match.end() :].lstrip()
        # A sentence starts with a capital, a digit or an opening quote; otherwise
        # the period was inside something like "approx. 5 ships".
        if following and not (following[0].isupper() or following[0].isdigit() or following[0] in "\"“‘('"):
            continue
        end = match.end()
        if text[start:end].strip():
            spans.append(Span(start, end))
        start = end
        while start < len(text) and text[start].isspace():
            start += 1
    if text[start:].strip():
        spans.append(Span(start, len(text.rstrip())))
    return tuple(spans)
