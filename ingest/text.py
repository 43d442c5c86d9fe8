"""Text helpers of the lowest layer: month names, stop words and word tokens.

Months serve the parser (dates) and answering (`qa/text.py`, the citation check); tokens and
stop words serve the BM25 index (`vectorstore/lexical.py`) and answering alike, so a term the
answerer weighs is the term the index looked up.

They sit in the lowest layer so the parser (dates) and the citation check (names, inflections)
use one definition; `qa/` modules import them from here.
"""

from __future__ import annotations

import functools
import re
import unicodedata

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

# Words that carry no topic. Kept small on purpose: "Japan" or "defence" are
# common in a corpus of statements, but IDF already discounts them.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
    now of off on once only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves say said says
    tell told mention mentioned mentions statement statements according document documents paragraph please
    regarding re does did do anything something thing things kind""".split()
)

_TOKEN = re.compile(r"[\w]+", re.UNICODE)

# Typesetting hints that print nothing: the soft hyphen, the zero-width space, the word joiner
# ("Biden-\u2060Harris" in 649 of the archive's 6,454 titles) and the zero-width no-break space
# (BOM). They split words for BM25 and stemming, and a title listing shows them as escapes.
# Bidi controls and the zero-width (non-)joiner are not among them: they change what a reader
# sees or how a script joins, so they stay and are shown escaped (`ingest.display.shown`).
_SILENT = re.compile("[\u00ad\u200b\u2060\ufeff]")


def without_silent_characters(text: str) -> str:
    """`text` without soft hyphens, zero-width spaces, word joiners and BOMs."""
    return _SILENT.sub("", text)


def fold(text: str) -> str:
    """NFKC-normalised, lowercased, curly apostrophes made straight."""
    return unicodedata.normalize("NFKC", text).lower().replace("’", "'")


def tokenize(text: str) -> list[str]:
    """Lowercased word tokens, split as FTS5's unicode61 tokenizer splits them."""
    return _TOKEN.findall(fold(text))


@functools.lru_cache(maxsize=65536)
def token_set(text: str) -> frozenset[str]:
    """The set of `tokenize(text)`, remembered: titles are matched against every question, and
    tokenising 6,454 of them again for each cost ~70 ms a question at archive scale."""
    return frozenset(tokenize(text))


def content_terms(text: str) -> list[str]:
    """Tokens that carry the topic of a question (stop words and 1-letter tokens dropped), in order, once each."""
    seen: list[str] = []
    for token in tokenize(text):
        if token in STOPWORDS or (len(token) < 2 and not token.isdigit()) or token in seen:
            continue
        seen.append(token)
    return seen


# "U.S." is tokenised "u", "s" and "United States" "united", "states": neither backs "US" in a
# question, and statements write one where people type the other ("US", "UK", "IAEA", "MDTF").
_DOTTED = re.compile(r"(?<![\w.])(?:[A-Za-z]\.){2,}")
_NAME_WORDS = re.compile(r"[A-Z][\w'’]*(?:-[A-Z]?[\w'’]*)*(?:\s+(?:of\s+)?[A-Z][\w'’]*(?:-[A-Z]?[\w'’]*)*)+")
_LONGEST_ABBREVIATED = 6  # words: "International Atomic Energy Agency" has 4, "IPEF" 4


@functools.lru_cache(maxsize=65536)
def abbreviations(text: str) -> frozenset[str]:
    """The abbreviations `text` spells out or writes with stops, lowercased: "U.S." and "the United
    States" give "us", "International Atomic Energy Agency" "iaea", "Multi-Domain Task Force" "mdtf".

    Every run of consecutive capitalised words counts ("Army Multi-Domain Task Force" gives
    "mdtf" as well as "amdtf"), so a question's abbreviation is backed by the name it stands for.
    """
    found = {match.group(0).replace(".", "").lower() for match in _DOTTED.finditer(text)}
    for run in _NAME_WORDS.finditer(text):
        words = [w for w in re.split(r"[\s-]+", run.group(0)) if w[:1].isupper()]
        if words and words[0] == "The":
            words = words[1:]
        initials = "".join(w[0] for w in words).lower()
        for start in range(len(initials)):
            for end in range(start + 2, min(len(initials), start + _LONGEST_ABBREVIATED) + 1):
                found.add(initials[start:end])
    return frozenset(found)


@functools.lru_cache(maxsize=65536)
def title_terms(title: str) -> frozenset[str]:
    """The set of a title's `content_terms`, remembered: a paragraph reference naming a statement by a
    common word ("the US-India statement") weighs thousands of titles (~38 ms for the archive's, each time)."""
    return frozenset(content_terms(title))


@functools.lru_cache(maxsize=65536)
def name_words(title: str) -> frozenset[str]:
    """A title's words and the abbreviations it spells out, remembered: "Joint Statement from the United
    States and India" is named by "the US-India statement" (titles are matched against every question)."""
    return token_set(title) | abbreviations(title)
