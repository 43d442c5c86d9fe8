"""Sentence boundaries inside a paragraph.

Official statements are full of abbreviations ("H.E. Mr Nakatani", "Rt Hon",
"No. 5", "U.K.") that a naive split on '.' would cut, so the splitter knows them.
Abbreviations come in three kinds, because some of them also end sentences:

* titles and Latin abbreviations that never end a sentence ("Mr.", "e.g."),
* references that abbreviate only before a number ("No. 5", "para. 3"), so that
  "The answer was no. The Ministers ..." still splits,
* the rest ("U.K.", "etc.", "Ltd.", months), which end a sentence when the next
  word is one that typically opens one ("... held in the U.K. The Ministers").
"""

from __future__ import annotations

import re

from ingest.models import Span

# Never end a sentence: they precede a name, a number or more words.
_ALWAYS = frozenset(
    """mr mrs ms dr prof hon rt h.e st gen lt col maj capt cdr adm sgt cpl brig
    e.g i.e cf vs v approx ca viz""".split()
)
# Abbreviations only when a number follows ("No. 5", "para. 12", "Art. 2").
_BEFORE_NUMBER = frozenset("no nos para paras art arts vol vols fig figs op p pp ch sec".split())
# Abbreviations that also end sentences: "etc.", "Ltd.", "U.K.", month names.
_CONDITIONAL = frozenset("""etc al inc ltd co corp plc jan feb mar apr jun jul aug sep sept oct nov dec""".split())
# Words that open a sentence; after a conditional abbreviation they mean it ended.
_SENTENCE_OPENERS = frozenset(
    """the this that these those they their there it its we our he she his her in on at as
    a an both all each however furthermore moreover further also finally such ministers""".split()
)

# A candidate end: . ! ? optionally followed by closing quotes/brackets, then space.
_CANDIDATE = re.compile(r"[.!?][\"'”’)\]]*(?=\s+)")
_INITIALS = re.compile(r"(?:[a-z]\.)*[a-z]")  # "J" or "U.K" (the final dot is the candidate)
_FIRST_WORD = re.compile(r"[\"“‘(']*([\w’']+)")


# How far the splitter looks around a candidate end. Every test it makes is about one short
# word on either side, and looking at the whole rest of the text for each candidate made a
# paragraph of n sentences cost n² (100,000 sentences: 100 s; now linear).
_LOOK = 64


def _token_before(text: str, dot_index: int) -> str:
    start = dot_index
    floor = max(0, dot_index - _LOOK)
    while start > floor and not text[start - 1].isspace() and text[start - 1] not in '("“‘':
        start -= 1
    return text[start:dot_index].lower()


def _opens_sentence(following: str) -> bool:
    match = _FIRST_WORD.match(following)
    return match is not None and match[1].lower() in _SENTENCE_OPENERS


def _is_abbreviation(text: str, dot_index: int, following: str) -> bool:
    token = _token_before(text, dot_index)
    if token in _ALWAYS:
        return True
    if token in _BEFORE_NUMBER:
        return following[:1].isdigit()
    if token in _CONDITIONAL or _INITIALS.fullmatch(token):
        # Single initials ("J. Healey"), dotted acronyms ("U.K.") and the like.
        return not _opens_sentence(following)
    return False


def split_sentences(text: str) -> tuple[Span, ...]:
    """Spans of the sentences of `text` (white space already folded).

    The spans are in order, do not overlap, and every non-blank character of
    `text` lies in exactly one of them.
    """
    spans: list[Span] = []
    start = 0
    for match in _CANDIDATE.finditer(text):
        following = text[match.end() : match.end() + _LOOK].lstrip()
        if text[match.start()] == "." and _is_abbreviation(text, match.start(), following):
            continue
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
