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
import itertools
import re
from datetime import date
from enum import Enum
from importlib import resources

import snowballstemmer

from ingest.text import MONTHS, STOPWORDS, abbreviations, content_terms, fold, tokenize  # noqa: F401 - re-exported
from qa.question import DOCUMENT_KINDS, NAME_FILLERS

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
# A length of time, counted: "five years", "a two-year term", "90-day", "three and a half hours";
# "how long" also asks for a length ("how long is the cable?": "1,800 km").
_SPAN_UNIT = r"seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?"
_LENGTH_UNIT = r"km|kilomet(?:er|re)s?|miles?|met(?:er|re)s?|nautical miles"
_DURATION = re.compile(
    rf"\b(?:\d[\d,]*(?:\.\d+)?|{_NUMBER_WORD}|one|a|an|several|few|many)(?:[- ]and[- ]a[- ]half)?[- ]?"
    rf"(?:{_SPAN_UNIT}|{_LENGTH_UNIT})\b",
    re.IGNORECASE,
)
# How often something recurs: an adverb of frequency, "every (six) months", "once a year", "twice yearly".
_FREQUENCY = re.compile(
    r"\b(?:annually|yearly|biannually|biennially|semi-?annually|quarterly|monthly|fortnightly|weekly|daily)\b"
    rf"|\b(?:every|each)\s+(?:(?:\d+|{_NUMBER_WORD}|other|few)\s?)?(?:{_SPAN_UNIT})\b"
    rf"|\b(?:once|twice|thrice|(?:\d+|{_NUMBER_WORD}) times)\s+(?:a|per|each|every)\s+(?:{_SPAN_UNIT})\b"
    r"|\bper (?:year|annum|month|week|day)\b",
    re.IGNORECASE,
)
# An amount: money, a share, a count in digits (a year alone is not one) or in words.
# A number joined to letters by a hyphen names a model or a thing ("F-35B", "MQ-9B", "COVID-19",
# "SM-6"): it counts nothing and is no sum ("35B" is not 35 billion).
_FIGURE = r"(?<![A-Za-z]-)\b"  # where a figure may start
_AMOUNT = re.compile(
    r"[£$€¥₹]\s?\d"
    rf"|{_FIGURE}\d[\d,.]*\s?(?:%|per ?cent|percent|bn|mn|m|k|b)\b"
    rf"|{_FIGURE}(?!(?:1[89]|20)\d\d\b)\d[\d,.]*\b"
    rf"|\b(?:{_NUMBER_WORD})\b",
    re.IGNORECASE,
)
# "How much" asks for a quantity of something, not a count of things: money, a share, a
# magnitude ("15 billion cubic metres", "trillions", "80,000"), or a figure with its unit
# ("15 bcm", "200 tonnes"). "Three submarines" counts submarines; it is no price.
_MAGNITUDE = r"thousands?|millions?|billions?|trillions?|hundreds|bn|mn"
_QUANTITY = re.compile(
    r"[£$€¥₹]\s?\d"
    rf"|{_FIGURE}\d[\d,.]*\s?(?:%|per ?cent|percent)"
    rf"|\b(?:{_MAGNITUDE})\b"
    rf"|{_FIGURE}\d{{1,3}}(?:,\d{{3}})+\b"
    rf"|{_FIGURE}(?!(?:1[89]|20)\d\d\b)\d[\d.]*\s?(?-i:[a-z]{{2,}})\b",
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
# A sentence's capitalised "The" starts no name: "The Ministers welcomed…" names nobody.
_CAPITALISED_RUN = re.compile(r"\b(?!The\s)[A-Z][\w'’.-]+(?:\s+(?:of\s+(?:the\s+)?)?[A-Z][\w'’.-]+)+")
# A run of capitalised words, joined by "of", "for", "and" (perhaps with "the"): "Ministry of Defence",
# "Germany and France", "Department of Homeland Security".
_NAME_RUN = re.compile(r"\b[A-Z][\w'’.&-]*(?:\s+(?:(?:of|for|and)\s+(?:the\s+)?)?[A-Z][\w'’.&-]*)*")
# Where a passive's agent stands: "co-led by (the) …".
_AGENT_PLACE = re.compile(r"\bby\s+(?:the\s+)?$")
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
    return frozenset(stem(word) for word in office_names())


@functools.cache
def office_names() -> frozenset[str]:
    """The words of `qa/offices.txt` as written, lowercased ("minister", "secretary-general")."""
    text = resources.files("qa").joinpath("offices.txt").read_text(encoding="utf-8")
    words = (line.split("#", 1)[0].strip().lower() for line in text.splitlines())
    return frozenset(word for word in words if word)


Span = tuple[int, int]  # start and end offsets of a match in a text


def date_spans(text: str) -> list[Span]:
    return [m.span() for m in (*_MONTH_NAME.finditer(text), *_DATE.finditer(text))]


def amount_spans(text: str) -> list[Span]:
    return [m.span() for m in _AMOUNT.finditer(text) if not _YEAR.match(m.group(0))]


def quantity_spans(text: str) -> list[Span]:
    """Money, a share, a magnitude or a figure with its unit: what answers "how much"."""
    return [m.span() for m in _QUANTITY.finditer(text)]


def count_spans(text: str) -> list[Span]:
    """A number of things, in digits or words (a year, a share or a sum of money is none): what answers "how many"."""
    # Blanked rather than removed, so the offsets stay those of `text`.
    return amount_spans(_SHARE_OR_MONEY.sub(lambda m: " " * len(m.group(0)), text))


# What a count counts: its words, read up to COUNTED_WORDS content words on within its clause ("five
# strategic air defense systems", "ten personnel from the Russian diplomatic mission") and to the end of the
# run of words right after it ("six Westinghouse Electric Company AP-1000 nuclear reactors"), or, for a count that
# ends its clause ("from four to six."), up to COUNTED_WORDS_BEFORE before it. The window sizes were
# compared on the tune halves (README, "Abstention": 3 and 4 tied, 4 kept more answers over a wider
# range of thresholds; 2, 5 and 6 did worse).
COUNTED_WORDS = 4
COUNTED_WORDS_BEFORE = 3
_CLAUSE_WORD = re.compile(r"[\w'’-]+|[^\w\s]")
_HOW_MANY_THING = re.compile(r"\bhow many\s+(.*)", re.IGNORECASE | re.DOTALL)


def counted_terms(question: str) -> list[str]:
    """What a "how many" question counts: its words after "how many" up to the first stop word
    ("how many American attack subs is Australia…" -> ["american", "attack", "subs"]); [] for other questions."""
    match = _HOW_MANY_THING.search(question)
    if not match:
        return []
    words = []
    for token in tokenize(match[1]):
        if token in STOPWORDS:
            break
        words.append(token)
    return words


def counted_words(
    text: str, span: Span, *, after: int = COUNTED_WORDS, before: int = COUNTED_WORDS_BEFORE
) -> list[str]:
    """The words naming what the count at `span` of `text` counts (lowercased, stop words left out): up to `after`
    content words after it within its clause and the whole run of words right after it, or, when none follow,
    up to `before` before it."""
    clause = _clause(_CLAUSE_WORD.findall(text[span[1] :]))
    following = [word for word in clause if word not in STOPWORDS][:after]
    if following:
        # And the rest of the run of words that follows it unbroken, so that a long name does not hide the noun
        # it qualifies: "six Westinghouse Electric Company AP-1000 nuclear reactors in India" counts reactors.
        unbroken = itertools.takewhile(lambda word: word not in STOPWORDS, clause)
        return following + [word for word in unbroken if word not in following]
    preceding = _clause(list(reversed(_CLAUSE_WORD.findall(text[: span[0]]))))
    return [word for word in preceding if word not in STOPWORDS][:before]


def _clause(tokens: list[str]) -> list[str]:
    """The leading tokens up to the first punctuation (the clause's end), lowercased."""
    return [token.lower() for token in itertools.takewhile(lambda token: token[0].isalnum() or token[0] == "_", tokens)]


def person_spans(text: str) -> list[Span]:
    """A person by honorific ("Mr Healey") or by office and name ("Coordinator Kurt Campbell", "President Biden")."""
    offices = office_words()
    runs = [m.span() for m in _CAPITALISED_RUN.finditer(text) if not offices.isdisjoint(stems(m.group(0)))]
    return [m.span() for m in _HONORIFIC.finditer(text)] + runs


def party_spans(text: str) -> list[Span]:
    """A named party as a passive's agent: "co-led by Germany and France", "led by the U.K. Department
    for Business…": a run of capitalised words after "by", holding a word that is neither a stop word
    nor a month. What else answers "who" when the question does not name the office it asks about
    ("Who co-leads the coalition?").

    Only the agent: a party named elsewhere in the sentence ("between the United States and Mexico")
    is not who did what the sentence says, and a sentence's subject could not be told from its first
    word ("Earlier today in Doha, …", "Nations should…": measured, it answered more near-misses than
    questions). A capitalised word is no name when the text around it writes it in lower case: the
    answerer tests that (`names_someone`)."""
    return [(start, end) for start, end in name_spans(text) if _AGENT_PLACE.search(text[:start])]


def name_spans(text: str) -> list[Span]:
    """A name: a run of capitalised words ("Bengaluru and Ahmedabad", "UNSCR 2593", "Audacious Initiative")
    holding a word that is neither a stop word nor a month: what answers "which …?". Whether it names
    something beyond the question and the surrounding text is the answerer's test (`names_someone`)."""
    return [match.span() for match in _NAME_RUN.finditer(text) if _names_a_thing(match.group(0))]


def _names_a_thing(run: str) -> bool:
    return any(term not in MONTHS and not term.isdigit() for term in content_terms(run))


def place_spans(text: str) -> list[Span]:
    """A named place after a preposition of place: what answers "where" ("in September" is a time, not a place)."""
    return [m.span() for m in _PLACE.finditer(text) if m.group(0).split()[-1].lower().rstrip(".") not in MONTHS]


def duration_spans(text: str) -> list[Span]:
    """A span of time or a length: "five years", "a two-year term", "1,800 km": what answers "how long"."""
    return [m.span() for m in _DURATION.finditer(text)]


def frequency_spans(text: str) -> list[Span]:
    """A rate of recurrence: "annually", "every six months", "twice a year": what answers "how often"."""
    return [m.span() for m in _FREQUENCY.finditer(text)]


def has_date(text: str) -> bool:
    return bool(date_spans(text))


def has_amount(text: str) -> bool:
    return bool(amount_spans(text))


def has_quantity(text: str) -> bool:
    return bool(quantity_spans(text))


def has_count(text: str) -> bool:
    return bool(count_spans(text))


def has_person(text: str) -> bool:
    return bool(person_spans(text))


def has_place(text: str) -> bool:
    return bool(place_spans(text))


class AnswerType(Enum):
    """What kind of thing a question asks for, read from its wh-words."""

    ANY = "any"
    DATE = "date"
    AMOUNT = "amount"  # "how much" / "how big": a quantity (money, a share, a magnitude)
    COUNT = "count"  # "how many": a number of things
    PERSON = "person"
    PLACE = "place"
    DURATION = "duration"  # "how long": a span of time ("five years", "a two-year term") or a length
    FREQUENCY = "frequency"  # "how often": a rate of recurrence ("annually", "every six months")
    NAME = "name"  # "which banks…?": a named instance (never a question's first kind: see `answer_types_of`)


_WHEN = re.compile(
    r"^\W*(?:(?:and|so|but)\s+)?(?:by\s+)?when\b|\b(?:and|or)\s+when\b"
    r"|\b(?:on|by|from|until|in) (?:what|which) (?:date|day|year|month)\b|^\W*(?:what|which) (?:date|day|year|month)\b",
    re.IGNORECASE,
)
# "How big/large" asks for a magnitude as "how much" does ("how big is the loan?": "$530 million"); so
# does "what share / percentage / proportion / fraction / % …?" ("fifty percent", "7%"), "what's the
# (dollar) value / cost / price (tag) of …?" (a sum: "what gas price benchmark…?" asks for a name and
# is not one), and a question that names the unit its answer is in ("what's the range in km …?",
# "… worth in dollars?"): no sentence without a figure answers them.
_CURRENCY = r"dollars?|euros?|pounds?(?: sterling)?|yen|yuan|renminbi|rupees?|francs?|usd|eur|gbp"
_WHAT_IS_THE = r"\bwhat(?:'s|’s|s| is| was| are| were)?\s+(?:the\s+)?"
_HOW_MUCH = re.compile(
    r"\bhow (?:much|big|large)\b"
    rf"|{_WHAT_IS_THE}(?:share|percentage|proportion|fraction|per ?cent)\b|\bwhat\s?%"
    rf"|{_WHAT_IS_THE}(?:(?:dollar|monetary|total)\s+)?(?:value|cost|price(?:\s+tag)?)\s+(?:of|on|for|per)\b"
    rf"|\bin (?:{_CURRENCY}|{_LENGTH_UNIT}|per ?cent|percent|tonnes|tons)\b",
    re.IGNORECASE,
)
_HOW_LONG = re.compile(r"\bhow long\b", re.IGNORECASE)
_HOW_OFTEN = re.compile(r"\bhow (?:often|frequently)\b", re.IGNORECASE)
_HOW_MANY = re.compile(r"\bhow many\b", re.IGNORECASE)
# Chat spells "who's" and "where's" without the apostrophe ("whos the minister…"); "whose" is no "who".
_WHO = re.compile(r"^\W*(?:(?:and|so|but)\s+)?who(?:s|'s|’s)?\b|\b(?:and|,) who\b", re.IGNORECASE)
_WHERE = re.compile(r"^\W*(?:(?:and|so|but)\s+)?where(?:s|'s|’s)?\b|\b(?:and|,) where\b", re.IGNORECASE)


_WHICH = re.compile(r"^\W*(?:(?:and|so|but)\s+)?which\b|\b(?:and|,) which\b", re.IGNORECASE)


# In this order: "how many" before "how much", a frequency or span before "when", "when" before "where".
_WH_TYPES = (
    (_HOW_MANY, AnswerType.COUNT),
    (_HOW_MUCH, AnswerType.AMOUNT),
    (_HOW_OFTEN, AnswerType.FREQUENCY),
    (_HOW_LONG, AnswerType.DURATION),
    (_WHEN, AnswerType.DATE),
    (_WHO, AnswerType.PERSON),
    (_WHERE, AnswerType.PLACE),
)


def answer_type_of(question: str) -> AnswerType:
    """The hard condition on an answer: "when" needs a date, "how much" a quantity, "how many" a count,
    "how long" a span of time, "how often" a frequency, "who" (or "which minister") a person or office,
    "where" a place ("where and when" asks for a date first; `answer_types_of` gives both)."""
    return answer_types_of(question)[0]


def answer_types_of(question: str) -> tuple[AnswerType, ...]:
    """Every kind the question asks for, in `_WH_TYPES` order: "where and when" asks for a date and a
    place, "how many …, and when?" for a count and a date; an answer must hold each."""
    kinds = [kind for pattern, kind in _WH_TYPES if pattern.search(question)]
    if AnswerType.PERSON not in kinds and _asks_for_an_office_holder(question):
        kinds.append(AnswerType.PERSON)
    if not kinds and _WHICH.search(question):
        # "Which Russian banks …?" asks for the banks by name: "selected Russian banks" answers
        # nothing. A further kind only, so the question stays untyped for the fitted features.
        return (AnswerType.ANY, AnswerType.NAME)
    return tuple(kinds) or (AnswerType.ANY,)


# "Which minister …", "which Japanese minister …", "what US official …": the noun a which/what
# question asks about, within its first two words, names an office, so a person answers it.
_WHICH_FOCUS = re.compile(r"(?:^\W*(?:(?:and|so|but)\s+)?|,\s*)(?:which|what)\s+([\w'’-]+)(?:\s+([\w'’-]+))?", re.I)


def _asks_for_an_office_holder(question: str) -> bool:
    for match in _WHICH_FOCUS.finditer(question):
        for word in (match[1], match[2]):
            if word is None or word.lower() in STOPWORDS:
                break
            if _names_office(word.lower()):
                return True
    return False


def asks_for_a_name(question: str) -> bool:
    """A "who" question that itself names the office ("who is the Philippine defence secretary?", "which
    British prime minister signed…"): the office is known, so only a person's name answers it.

    The office must be named as a noun, after a determiner or a possessive within four words ("the …
    secretary", "Japan's Prime Minister", "which … minister"): in "who co-chairs the committee?" the
    office word is the verb, and the question asks who holds the chair."""
    if answer_type_of(question) is not AnswerType.PERSON:
        return False
    words = [word.lower() for word in _QUESTION_WORD.findall(question)]
    for index, word in enumerate(words):
        if _names_office(word) and any(_determines(before) for before in words[max(index - 4, 0) : index]):
            return True
    return False


_QUESTION_WORD = re.compile(r"[\w'’-]+")
_DETERMINERS = frozenset("the a an its their his her which what".split())


def _determines(word: str) -> bool:
    """A determiner or a possessive ("the", "which", "japan's"): what stands before an office named as a noun."""
    return word in _DETERMINERS or word.endswith(("'s", "’s"))


_CAPITALISED_WORD = re.compile(r"\b[A-Z][a-z][\w'’-]*")


def names_someone(span: str, known: set[str]) -> bool:
    """Whether a person span ("Secretary of Defense Lloyd Austin") holds a name beyond what is `known`.

    A name is a capitalised word that is not an office word and is not known: `known` holds the
    question's words and the words the surrounding text writes in lower case ("defense", "forces"), so
    "the U.S. Secretary of Defense" names nobody; a word is also known when a known word begins with it or
    it with a known word of four letters or more ("Japan" after "japanese", "Iraqi" after "iraq")."""
    for word in _CAPITALISED_WORD.findall(span):
        lower = word.lower().removesuffix("'s").removesuffix("’s")
        if _names_office(lower) or lower in known:
            continue
        if any(len(k) >= 4 and (k.startswith(lower) or lower.startswith(k)) for k in known):
            continue
        return True
    return False


def _names_office(word: str) -> bool:
    """An office word as written or in the plural ("ministers", "secretaries"); stems are too loose
    here ("command" shares the stem of "commander")."""
    offices = office_names()
    singular = (word, word.removesuffix("s"), word.removesuffix("ies") + "y" if word.endswith("ies") else word)
    return any(form in offices for form in singular)


_SPANS = {
    AnswerType.DATE: date_spans,
    AnswerType.AMOUNT: quantity_spans,
    AnswerType.COUNT: count_spans,
    AnswerType.PERSON: person_spans,
    AnswerType.PLACE: place_spans,
    AnswerType.DURATION: duration_spans,
    AnswerType.FREQUENCY: frequency_spans,
    AnswerType.NAME: name_spans,
}


def answer_spans(kind: AnswerType, text: str) -> list[Span]:
    """Where `text` holds the kind of thing `kind` asks for (none for ANY, which asks for no kind)."""
    finder = _SPANS.get(kind)
    return finder(text) if finder else []


def holds_type(kind: AnswerType, text: str) -> bool:
    """Whether `text` holds the kind of thing `kind` asks for (always, for ANY)."""
    return kind is AnswerType.ANY or bool(answer_spans(kind, text))


# "What did Beijing say about …?", "how did the Kremlin react to …?": the question asks what someone
# said; only a statement that names them can tell (US readouts do not report Beijing's reaction).
_REPORTED_SPEECH = re.compile(
    r"(?:^\W*|[,;:]\s*)(?:(?:and|so|but)\s+)?(?:what|how)\s+(?:did|does|do|has|have|had|will|would)\s+"
    r"(?P<speaker>(?:[\w'’.-]+\s+){0,3}?[\w'’.-]+)\s+"
    r"(?:say|said|warn|tell|respond|react|reply|claim|think|comment)\b",
    re.IGNORECASE,
)


def speaker_terms(question: str) -> list[str]:
    """The words naming whom a question asks the words of ("What did Beijing say…?" -> ["beijing"]).

    Offices and numbers name nobody in particular ("what did the two presidents say…?", "what did the
    ministers say…?"), nor does a statement's kind ("what does the statement say…?"), and "they" is a
    stop word: such questions have no speaker terms."""
    match = _REPORTED_SPEECH.search(question)
    if match is None:
        return []
    return [
        term
        for term in content_terms(match.group("speaker"))
        if not _names_office(term)
        and term not in DOCUMENT_KINDS
        and term not in NAME_FILLERS
        and not term.isdigit()
        and not re.fullmatch(_NUMBER_WORD, term)
    ]


# A question about what is yet to come ("When is the next meeting?", "when will they meet?", "when is the
# second TTC meeting going to be?"): a date before the statement's own is no answer to it.
_FUTURE = re.compile(r"\b(?:will|going to|next|upcoming|scheduled|planned)\b", re.IGNORECASE)
_PAST_PERIOD = re.compile(r"^(?:last|past|yesterday)\b", re.IGNORECASE)
_MONTH_BEFORE_YEAR = re.compile(rf"\b({_MONTH})\.?(?:\s+\d{{1,2}},?)?\s*$")
_YEAR_AFTER_MONTH = re.compile(r"^\.?(?:\s+\d{1,2},?)?\s+((?:19|20)\d\d)\b")


def asks_about_the_future(question: str) -> bool:
    """Whether a question asks about something yet to come (`_FUTURE`)."""
    return bool(_FUTURE.search(question))


def before(span: Span, text: str, day: date) -> bool:
    """Whether a date span of `text` is a moment before `day`: a year before its year, a month of its year
    before its month ("29 September 2021" in a statement of December 2021), "last year", "yesterday".
    A month without its year, a decade or a span still to come ("next year", "by 2030") is not."""
    start, end = span
    words = text[start:end]
    if _PAST_PERIOD.match(words):
        return True
    if words.lower() in MONTHS:  # "September 2021", "September 29, 2021": the month of a year
        year_after = _YEAR_AFTER_MONTH.match(text[end : end + 12])
        if year_after is None:
            return False
        return (int(year_after.group(1)), MONTHS[words.lower()]) < (day.year, day.month)
    if not _YEAR.match(words):
        return False
    year = int(words)
    if year != day.year:
        return year < day.year
    month = _MONTH_BEFORE_YEAR.search(text[max(start - 16, 0) : start])
    return month is not None and MONTHS[month.group(1).lower()] < day.month
