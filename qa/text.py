"""Shared text helpers of the answering pipeline: tokens, stems, dates, amounts, names.

One place for each idea (STYLE 13): the answerer, the citation check and the
calibration script all read words, stems, dates and amounts the same way.

* Tokens and stop words come from `ingest/text.py`, the lowest layer, which the
  BM25 index (`vectorstore/lexical.py`) uses too: a term the answerer weighs is the
  term the index looked up.
* Stems are the Snowball (Porter 2) English stemmer's, a well-kept library
  rather than hand-written suffix rules: "delivered"/"delivers" -> "deliv" (it keeps
  "delivery" apart, as "deliveri").
* Dates, amounts, persons/offices and places are what "when", "how much/many",
  "who" and "where" questions ask for; `answer_type_of` reads a question's type from its
  wh-words and `holds_type` says whether a sentence holds that kind of thing.
"""

from __future__ import annotations

import functools
import re
from enum import Enum
from importlib import resources

import snowballstemmer

from ingest.text import MONTHS, STOPWORDS, abbreviations, content_terms, fold, tokenize  # noqa: F401 - re-exported

_STEMMER = snowballstemmer.stemmer("english")


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball English stem of one lowercased word: "meetings" -> "meet", "delivered" -> "deliv"."""
    return _STEMMER.stemWord(word)


def stems(text: str) -> set[str]:
    """The stems of every token of `text`."""
    return {stem(token) for token in tokenize(text)}


def evidence_words(text: str) -> list[str]:
    """A passage's content words and the abbreviations it spells out, for soft term matching."""
    words = content_terms(text)
    return words + sorted(abbreviations(text) - set(words))


def evidence_stems(text: str) -> set[str]:
    """What a passage backs a question term with: its words' stems and the abbreviations it spells out."""
    return stems(text) | abbreviations(text)


# Dates, amounts, persons -----------------------------------------------------------
# The parser's month spellings (ingest/text.py), capitalised: longest first, so "March" is not read as "Mar".
_MONTH = "|".join(sorted((name.capitalize() for name in MONTHS), key=len, reverse=True))
# Cardinals only: "one" ("one of the") and ordinals ("the first") count nothing.
_NUMBER_WORD = (
    r"two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty"
    r"|seventy|eighty|ninety|hundred|thousand|million|billion|trillion|dozen|dozens|hundreds|thousands|millions"
    r"|billions"
)
_PERIOD = r"days?|weeks?|months?|years?|decades?|quarters?|century|centuries"
# A calendar date, a year or decade, or a span of time ("within five years",
# "next year", "by the end of the decade"): what answers "when".
# Month names only capitalised: "they may" is no date.
_MONTH_NAME = re.compile(rf"\b(?:{_MONTH})\b")
_DATE = re.compile(
    r"\b(?:1[89]|20)\d\d(?:s|'s)?\b"
    rf"|\b(?:\d+|{_NUMBER_WORD}|one|a|an|few|coming|next|this|last|past|following)\s+(?:{_PERIOD})\b"
    rf"|\b(?:end|start|beginning|middle|course) of (?:the |this |next )?(?:{_PERIOD})\b"
    r"|\b(?:annually|yearly|monthly|weekly|daily|biennially|today|tomorrow|yesterday|immediately)\b"
    r"|\b(?:spring|summer|autumn|fall|winter)\b",
    re.IGNORECASE,
)
_YEAR = re.compile(r"^(?:1[89]|20)\d\d$")
# An amount: money, a share, a count in digits (a year alone is not one) or in words.
_AMOUNT = re.compile(
    r"[£$€¥₹]\s?\d"
    r"|\b\d[\d,.]*\s?(?:%|per ?cent|percent|bn|mn|m|k|b)\b"
    r"|\b(?!(?:1[89]|20)\d\d\b)\d[\d,.]*\b"
    rf"|\b(?:{_NUMBER_WORD})\b",
    re.IGNORECASE,
)
# "How much" asks for a quantity of something, not a count of things: money, a share, a
# magnitude ("15 billion cubic metres", "trillions", "80,000"), or a figure with its unit
# ("15 bcm", "200 tonnes"). "Three submarines" counts submarines; it is no price.
_MAGNITUDE = r"thousands?|millions?|billions?|trillions?|hundreds|bn|mn"
_QUANTITY = re.compile(
    r"[£$€¥₹]\s?\d"
    r"|\b\d[\d,.]*\s?(?:%|per ?cent|percent)"
    rf"|\b(?:{_MAGNITUDE})\b"
    r"|\b\d{1,3}(?:,\d{3})+\b"
    r"|\b(?!(?:1[89]|20)\d\d\b)\d[\d.]*\s?(?-i:[a-z]{2,})\b",
    re.IGNORECASE,
)
# A share or a sum of money: what "how many" (a count of things) is not answered by.
_SHARE_OR_MONEY = re.compile(
    rf"[£$€¥₹]\s?\d[\d,.]*(?:\s?(?:{_MAGNITUDE}))?|\b\d[\d,.]*\s?(?:%|per ?cent|percent)", re.IGNORECASE
)
# An honorific ("Mr Healey", "H.E."), or a capitalised word followed by more
# ("Coordinator Kurt Campbell", "Minister of Defense of Japan"): a person when
# one of those words names an office (`office_words`), not an organisation
# ("the UK Health Security Agency").
_HONORIFIC = re.compile(r"\b(?:Mr|Ms|Mrs|Dr|H\.E|Rt\.? Hon)\b\.?\s")
_CAPITALISED_RUN = re.compile(r"\b[A-Z][\w'’.-]+(?:\s+(?:of\s+(?:the\s+)?)?[A-Z][\w'’.-]+)+")
# A place: a name after a preposition of place, perhaps with one word before it ("in Warsaw", "at
# Stanford University", "to northern Australia", "in the eastern Mediterranean"). The name's capital
# is what marks it; "in the region" names no place.
_PLACE = re.compile(r"\b(?:in|at|near|outside|to)\s+(?:the\s+)?(?:[a-z]+\s+)?[A-Z][\w'’.-]+")


@functools.cache
def office_words() -> frozenset[str]:
    """Stems of the words naming an office ("minister", "secretary"), from `qa/offices.txt`.

    A measured exception to "no word lists": a "who" question is answered by a
    person or an office, and an office in running text ("the under secretary")
    has no other mark. The list is data with its own test.
    """
    text = resources.files("qa").joinpath("offices.txt").read_text(encoding="utf-8")
    words = (line.split("#", 1)[0].strip().lower() for line in text.splitlines())
    return frozenset(stem(word) for word in words if word)


def has_date(text: str) -> bool:
    return bool(_MONTH_NAME.search(text) or _DATE.search(text))


def has_amount(text: str) -> bool:
    return any(not _YEAR.match(match.group(0)) for match in _AMOUNT.finditer(text))


def has_quantity(text: str) -> bool:
    """Money, a share, a magnitude or a figure with its unit: what answers "how much"."""
    return bool(_QUANTITY.search(text))


def has_count(text: str) -> bool:
    """A number of things, in digits or words (a year, a share or a sum of money is none): what answers "how many"."""
    return has_amount(_SHARE_OR_MONEY.sub(" ", text))


def has_person(text: str) -> bool:
    """A person by honorific ("Mr Healey") or by office and name ("Coordinator Kurt Campbell", "President Biden")."""
    if _HONORIFIC.search(text):
        return True
    offices = office_words()
    return any(not offices.isdisjoint(stems(run.group(0))) for run in _CAPITALISED_RUN.finditer(text))


def has_place(text: str) -> bool:
    """A named place after a preposition of place: what answers "where"."""
    return bool(_PLACE.search(text))


class AnswerType(Enum):
    """What kind of thing a question asks for, read from its wh-words."""

    ANY = "any"
    DATE = "date"
    AMOUNT = "amount"  # "how much": a quantity (money, a share, a magnitude)
    COUNT = "count"  # "how many": a number of things
    PERSON = "person"
    PLACE = "place"


_WHEN = re.compile(
    r"^\W*(?:(?:and|so|but)\s+)?(?:by\s+)?when\b|\b(?:and|or)\s+when\b"
    r"|\b(?:on|by|from|until|in) what (?:date|day|year|month)\b|^\W*what (?:date|day|year|month)\b",
    re.IGNORECASE,
)
_HOW_MUCH = re.compile(r"\bhow much\b", re.IGNORECASE)
_HOW_MANY = re.compile(r"\bhow many\b", re.IGNORECASE)
_WHO = re.compile(r"^\W*(?:(?:and|so|but)\s+)?who\b|\b(?:and|,) who\b", re.IGNORECASE)
_WHERE = re.compile(r"^\W*(?:(?:and|so|but)\s+)?where(?:'s|’s)?\b|\b(?:and|,) where\b", re.IGNORECASE)


def answer_type_of(question: str) -> AnswerType:
    """The hard condition on an answer: "when" needs a date, "how much" a quantity, "how many" a count,
    "who" a person or office, "where" a place ("where and when" asks for a date first)."""
    if _HOW_MANY.search(question):
        return AnswerType.COUNT
    if _HOW_MUCH.search(question):
        return AnswerType.AMOUNT
    if _WHEN.search(question):
        return AnswerType.DATE
    if _WHO.search(question):
        return AnswerType.PERSON
    if _WHERE.search(question):
        return AnswerType.PLACE
    return AnswerType.ANY


def holds_type(kind: AnswerType, text: str) -> bool:
    """Whether `text` holds the kind of thing `kind` asks for (always, for ANY)."""
    if kind is AnswerType.DATE:
        return has_date(text)
    if kind is AnswerType.AMOUNT:
        return has_quantity(text)
    if kind is AnswerType.COUNT:
        return has_count(text)
    if kind is AnswerType.PERSON:
        return has_person(text)
    if kind is AnswerType.PLACE:
        return has_place(text)
    return True
