"""Question hygiene and scope: what users type is normalised, and what it names becomes a filter."""

from __future__ import annotations

import calendar
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from errors import InvalidQuestion, UnknownDocument
from ingest.text import MONTHS, STOPWORDS, name_words, title_terms, token_set, tokenize
from qa.sanitise import INVISIBLE
from vectorstore.store import DocumentRecord

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def normalise_question(text: str, *, max_chars: int) -> str:
    """NFKC, invisible and control characters removed, white space folded, length capped."""
    cleaned = unicodedata.normalize("NFKC", text)
    cleaned = INVISIBLE.sub("", cleaned)  # hidden text never carries meaning in a question
    cleaned = _CONTROL.sub(" ", cleaned)
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise InvalidQuestion("The question is empty.", hint="Type a question about the statements.")
    if len(cleaned) > max_chars:
        raise InvalidQuestion(
            f"The question is {len(cleaned)} characters long; the limit is {max_chars}.",
            hint="Ask something shorter, one question at a time.",
        )
    return cleaned


# Scope from the question --------------------------------------------------
#
# A question often says which statement it means ("the Quad statement", "the
# AUKUS one", "last year's G7 communiqué") or when ("in March 2022"). Among
# thousands of statements that is the difference between the right paragraph
# and a look-alike, so it becomes a retrieval filter.

# Nouns that say "a statement" rather than what it is about: the words just
# before one of them name the statement ("the Quad statement", "the AUKUS one").
DOCUMENT_KINDS = frozenset(
    "statement statements communique communiqué communiques communiqués declaration declarations readout readouts"
    " one sheet".split()
)
# Words a statement's name often holds between its subject and its kind noun
# ("the Quad leaders' joint statement"): read through, and matched like the rest.
NAME_FILLERS = frozenset("joint leaders leader summit meeting ministerial fact".split())
# Words that end a statement's name when reading backwards from its kind noun.
_NAME_STOPS = frozenset(
    "the this that these those its their in on at of about from for to with by during according what which did"
    " does do is was were said say".split()
)
_MONTHS = MONTHS  # the parser's month spellings (ingest/text.py)
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
# A time that places the statement, not its content: "in 2023", "the 2023
# statement", "2023's", "in March 2022", "from June 2023". Targets a statement
# sets ("by 2030", "until 2035") are not its date.
# A day may come with the month, either way round ("from 11 October 2022", "the G7's 11 Oct 2022
# statement", "of October 11, 2022"): then the statement of that day is meant.
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR_SCOPE = re.compile(
    r"(?:(?:\b(?P<prep>in|of|from|during|the|dated)|(?P<possessive>['’]s))\s+"
    r"(?:(?:(?P<day>" + _DAY + r")\s+)?(?P<month>" + _MONTH + r")\.?\s+(?:(?P<day2>" + _DAY + r"),?\s+)?)?"
    r"(?P<year>(?:19|20)\d\d)\b(?!\s*[-–]))"
    r"|(?:\b(?P<year2>(?:19|20)\d\d)['’]s\b)",
    re.IGNORECASE,
)
_RELATIVE_YEAR = re.compile(r"\b(?P<which>last|this|past|previous)\s+year(?:['’]s)?\b", re.IGNORECASE)
_WORD = re.compile(r"[\w][\w.'’-]*")


@dataclass(frozen=True)
class QuestionScope:
    """Where a question points: a date range and the statements it names."""

    date_from: date | None = None
    date_to: date | None = None
    doc_ids: tuple[str, ...] | None = None
    naming_words: frozenset[str] = frozenset()  # question words that chose the statement, not the topic
    # The statements the name matched equally well when `doc_ids` kept only the newest of them: a
    # paragraph the newest lacks ("paragraph 30 of the India-US statement") is asked of the others.
    series: tuple[str, ...] = ()

    @property
    def names_time(self) -> bool:
        return self.date_from is not None or self.date_to is not None

    @property
    def empty(self) -> bool:
        return not self.names_time and self.doc_ids is None


def time_scope(question: str, *, today: date) -> tuple[date | None, date | None]:
    """The date range a question names for its statement ("in March 2022", "last year"), or (None, None).

    A time places the statement when the question is about statements (it has
    a kind noun: "the 2023 statement", "what did the statements say in March
    2022"), opens with it ("In 2023, what ..."), or says it as a possessive
    ("2024's", "last year's") or as an attribute ("the 2021 AUKUS one"). Otherwise it is about the content: "How big was
    trade in 2022?" asks about 2022, whenever the statement was made.
    """
    words = {w.lower().strip(".'’") for w in _WORD.findall(question)}
    about_statements = bool(words & DOCUMENT_KINDS - {"one", "sheet"})
    relative = _RELATIVE_YEAR.search(question)
    match = _YEAR_SCOPE.search(question)
    if match:
        opens = not question[: match.start()].strip(" ,")
        # "the 2021 AUKUS one": a year as a statement's attribute, when the words it leads end in a
        # kind noun; "the 2024 Indo-Pacific Business Forum" is an event of that year, not a statement.
        attribute = ((match["prep"] or "").lower() == "the" or bool(match["possessive"])) and _leads_to_kind(
            question[match.end() :]
        )
        if match["year2"] or opens or about_statements or attribute:
            year = int(match["year"] or match["year2"])
            month = _MONTHS.get((match["month"] or "").lower().rstrip("."))
            day = match["day"] or match["day2"]
            if month and day:
                try:
                    named_day = date(year, month, int(day.rstrip("stndrh")))
                except ValueError:  # "31 June 2023": no such day; the month still places it
                    pass
                else:
                    return named_day, named_day
            if month:
                return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
            return date(year, 1, 1), date(year, 12, 31)
    if relative and (about_statements or relative[0].lower().endswith(("'s", "’s")) or relative.start() == 0):
        year = today.year if relative["which"].lower() == "this" else today.year - 1
        return date(year, 1, 1), date(year, 12, 31)
    return None, None


def _leads_to_kind(rest: str) -> bool:
    """Whether the words after a year reach a kind noun before a word that ends a name ("AUKUS one")."""
    for word in (w.lower().strip(".'’") for w in _WORD.findall(rest)[:6]):
        if word in DOCUMENT_KINDS:
            return True
        if word in _NAME_STOPS:
            return False
    return False


def _question_words(text: str) -> list[str]:
    """The words of `text`: NFKC, lower case, without edge dots and apostrophes or a possessive 's."""
    words = [w.lower().strip(".'’") for w in _WORD.findall(unicodedata.normalize("NFKC", text))]
    return [w[:-2] if w.endswith(("'s", "’s")) else w for w in words]


def _names(word: str) -> bool:
    """Whether a word before a kind noun can be part of the name: not a time or another kind noun."""
    is_time = word.isdigit() or word in _MONTHS or word in {"year", "last", "past"}
    return word not in DOCUMENT_KINDS and not is_time


def _name_window(words: Sequence[str], index: int) -> list[int]:
    """The positions read backwards from the kind noun at `index` to a determiner or preposition, up to six
    name words (times and kind nouns on the way are read, not counted)."""
    window: list[int] = []
    kept = 0
    cursor = index - 1
    while cursor >= 0 and kept < 6 and words[cursor] not in _NAME_STOPS:
        window.append(cursor)
        kept += _names(words[cursor])
        cursor -= 1
    return window


def statement_name_terms(question: str) -> list[str]:
    """Words that name a statement: those just before a kind noun ("the *Quad* statement", "the *AUKUS* one").

    Read backwards from each kind noun to a determiner or preposition; years,
    months and other kind nouns are skipped (they are time or kind, not name).
    """
    words = _question_words(question)
    names: list[str] = []
    for index, word in enumerate(words):
        if word not in DOCUMENT_KINDS or index == 0:
            continue
        window = _name_window(words, index)
        span = [words[position] for position in window if _names(words[position])]
        cursor = (window[-1] if window else index) - 1
        # "the Spirit of the Quad statement", "the Spirit of Camp David statement": "of" joins a
        # longer name; keep reading past it. Not past a number: "paragraph 14 of the Quad
        # statement" refers to a part of the statement, which its name does not hold.
        while span:
            past = cursor - 1 if cursor >= 1 and words[cursor] == "the" else cursor
            if past < 1 or words[past] != "of" or words[past - 1].isdigit():
                break
            cursor = past - 1
            while cursor >= 0 and words[cursor] not in _NAME_STOPS and len(span) < 8:
                span.append(words[cursor])
                cursor -= 1
        names.extend(reversed(span))
    return [term for term in dict.fromkeys(t for name in names for t in tokenize(name)) if term not in STOPWORDS]


# What a statement is about, said after its kind noun: "the fact sheet *on the NATO summit in Madrid*",
# "the G7 statement *on Ukraine*", "the joint readout *of the trilateral NSA meeting*". The span ends
# at punctuation or at a word that starts the rest of the question.
_TOPIC_AFTER_KIND = re.compile(
    r"\b(?:" + "|".join(sorted(DOCUMENT_KINDS - {"one"}, key=len, reverse=True)) + r")\s+"
    r"(?:on|about|of|regarding|concerning)\s+(?P<topic>[^,;:?!()]+)",
    re.IGNORECASE,
)
# Words that end a topic span: the question going on ("… on Ukraine *say* about …").
_TOPIC_ENDS = frozenset(
    "what which who whom whose when where why how did does do is was were are has have had said say says"
    " according mention mentions mentioned".split()
)


def _topic_spans(question: str) -> Iterator[list[str]]:
    """The words of each topic said after a kind noun, up to the word where the question goes on."""
    for match in _TOPIC_AFTER_KIND.finditer(unicodedata.normalize("NFKC", question)):
        words = _question_words(match["topic"])
        end = next((position for position, word in enumerate(words) if word in _TOPIC_ENDS), len(words))
        yield words[:end]


def statement_topic_terms(question: str) -> list[str]:
    """Words that say what a named statement is about, after its kind noun ("the statement *on
    Ukraine*"), up to punctuation or a word that ends a name; years and months are time, not topic."""
    terms = [
        term
        for span in _topic_spans(question)
        for word in span
        if not (word.isdigit() or word in _MONTHS or word in DOCUMENT_KINDS)
        for term in tokenize(word)
    ]
    return [term for term in dict.fromkeys(terms) if term not in STOPWORDS]


def _day_number(word: str | None) -> int | None:
    """A day of the month written as a word ("2", "2nd"), else None."""
    if word is None:
        return None
    digits = word.rstrip("stndrh")
    return int(digits) if digits.isdigit() and 1 <= int(digits) <= 31 else None


def _month_and_day(words: Sequence[str], index: int) -> tuple[int, int | None]:
    """The month at `words[index]` and the day written beside it ("April 2", "2 April"), if any."""
    after = words[index + 1] if index + 1 < len(words) else None
    before = words[index - 1] if index >= 1 else None
    return _MONTHS[words[index]], _day_number(after) or _day_number(before)


def statement_month(question: str) -> tuple[int, int | None] | None:
    """A month (and day) said as a statement's attribute without a year, within its name or its topic:
    "the G7 *october* statement", "the readout of Biden's *April 2* call with Xi". A month elsewhere in
    the question is its content ("what did the G7 statement say about the October elections?")."""
    words = _question_words(question)
    for index, word in enumerate(words):
        if word in DOCUMENT_KINDS:
            for position in _name_window(words, index):
                if words[position] in _MONTHS:
                    return _month_and_day(words, position)
    for span in _topic_spans(question):
        for position, word in enumerate(span):
            if word in _MONTHS:
                return _month_and_day(span, position)
    return None


def _of_the_month(
    named: list[str], documents: Mapping[str, DocumentRecord], month_day: tuple[int, int | None]
) -> list[str]:
    """Of the named documents, those dated in the month (on the day, when one is given), where any are."""
    month, day = month_day

    def dated_then(doc_id: str) -> bool:
        when = documents[doc_id].date
        return when is not None and when.month == month and (day is None or when.day == day)

    return [doc_id for doc_id in named if dated_then(doc_id)] or named


# The statements with a paragraph holding a word (`LexicalIndex.documents_with_word`).
TextHolders = Callable[[str], set[str]]


def question_scope(
    question: str, documents: Mapping[str, DocumentRecord], *, today: date, text_holders: TextHolders | None = None
) -> QuestionScope:
    """The filter a question implies, matched against the stored documents' titles and dates.

    * A named time keeps the documents dated in it, when there are any (a
      year no statement is dated in is about content: "What happens in 2030?").
    * Words naming a statement are matched against titles: "the Quad
      statement" means the statements whose titles say Quad.
    * Of several matching titles, the one the question's words cover best is
      meant: "the US-India statement" is "Joint Statement from the United
      States and India", not the Quad declaration whose title lists Australia,
      India, Japan and the United States.
    * Several statements of a series match equally: the newest is meant,
      unless the question names a time (the others are kept as `series`, for
      a paragraph number the newest does not have). A month without a year
      in the name or topic ("the G7 october statement", "Biden's April 2 call
      with Xi") keeps those dated in that month (on that day), where any are.
    * What the statement is about, after its kind noun ("the readout *of
      Biden's call with Xi*", "the fact sheet *on the NATO summit in
      Madrid*"), is matched with the name against titles; every statement
      whose title holds them all stays in scope, and the question's content
      chooses among them (the readouts of several such calls). A topic no
      title holds in those words names nothing: the content alone chooses.
    * A name of two words or more that no title holds ("the Biden-Marcos joint
      statement", titled "Joint Statement of the Leaders of the United States
      and the Philippines") names the statements of the kind named whose
      paragraphs hold every word of it (`text_holders`), where there are any;
      all of them stay in scope and the content chooses.
    """
    date_from, date_to = time_scope(question, today=today)
    in_time = _dated_within(documents, date_from, date_to)
    if not in_time and date_from is not None and date_from == date_to:
        # No statement of that day (a statement is often published the day after it is made): its month.
        date_from, date_to = (
            date_from.replace(day=1),
            date_from.replace(day=calendar.monthrange(date_from.year, date_from.month)[1]),
        )
        in_time = _dated_within(documents, date_from, date_to)
    if not in_time:
        date_from = date_to = None
    name_terms = statement_name_terms(question)
    topic_terms = statement_topic_terms(question)
    named, naming_words = _named_documents(name_terms + topic_terms, documents) if topic_terms else ([], frozenset())
    by_topic = bool(named)
    # A topic no title holds in those words names nothing, not the name alone: "the White House fact
    # sheet on the new MTCR export guidance" is not the newest White House fact sheet.
    if not named and not topic_terms:
        named, naming_words = _named_documents(name_terms, documents)
        if not named and text_holders is not None:
            # Within the time named, where one is: "the jan 2025 US-India tech fact sheet" is not one of 2023.
            within = set(in_time) if date_from is not None else None
            named, naming_words = _named_in_text(question, name_terms, documents, text_holders, within=within)
            by_topic = bool(named)
    named = _of_the_kind_named(question, named, documents)
    # "the G7 october statement": a month without a year, said as the statement's attribute.
    month_day = statement_month(question) if date_from is None and named else None
    if month_day is not None:
        named = _of_the_month(named, documents, month_day)
    series: tuple[str, ...] = ()
    if named and date_from is not None:
        dated = sorted(set(named) & set(in_time))
        named = dated or named
        if dated:
            date_from = date_to = None  # the named statements already carry the time
    elif named and not by_topic:  # a topic keeps every statement it names: the content chooses
        named = _best_covered(question, named, documents)
        newest = max(documents[d].date or date.min for d in named)
        newest_named = [d for d in named if (documents[d].date or date.min) == newest]
        if len(newest_named) < len(named):  # older statements of the series were left out
            series = tuple(sorted(named))
        named = newest_named
    return QuestionScope(
        date_from=date_from,
        date_to=date_to,
        doc_ids=tuple(sorted(named)) if named else None,
        naming_words=naming_words,
        series=series,
    )


def _dated_within(documents: Mapping[str, DocumentRecord], date_from: date | None, date_to: date | None) -> list[str]:
    """The documents dated from `date_from` to `date_to` (none when no time is named)."""
    if date_from is None:
        return []
    last = date_to or date.max
    return [
        doc_id for doc_id, record in documents.items() if record.date is not None and date_from <= record.date <= last
    ]


def _kinds(words: Iterable[str]) -> set[str]:
    """The kind nouns among `words`, each in one form to compare a question's with a title's ("communiqués",
    "communique" -> "communique")."""
    return {_unaccented(w).removesuffix("s") for w in words if w in DOCUMENT_KINDS and w != "one"}


def _unaccented(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def _of_the_kind_named(question: str, named: list[str], documents: Mapping[str, DocumentRecord]) -> list[str]:
    """Of the named documents, those of the kind the question names ("the India-US *statement*" is not
    the India-US fact sheet), where any is; else all of them."""
    wanted = _kinds(_WORD.findall(unicodedata.normalize("NFKC", question.lower())))
    if not wanted or len(named) < 2:
        return named
    of_kind = [doc_id for doc_id in named if wanted & _kinds(token_set(documents[doc_id].title))]
    return of_kind or named


def _best_covered(question: str, named: list[str], documents: Mapping[str, DocumentRecord]) -> list[str]:
    """Of the named documents, those with the fewest title words the question leaves out.

    A title's other words are what the name did not say: other parties ("Australia, India, Japan, and
    the United States" for "the US-India statement"), another topic ("on Syria" for "the G7
    statement"). The same order as a paragraph reference's (`vectorstore.retrieval`). `question_scope`
    asks it only where no time is named: a named time already says which of a series is meant, and
    keeps all it names.
    """
    if len(named) < 2:
        return named
    written = set(tokenize(question))
    uncovered = {doc_id: len(title_terms(documents[doc_id].title) - written) for doc_id in named}
    fewest = min(uncovered.values())
    return [doc_id for doc_id in named if uncovered[doc_id] == fewest]


@dataclass(frozen=True)
class _TitleOwners:
    """Which documents' titles hold each name word, for one documents mapping."""

    documents: Mapping[str, DocumentRecord]
    owners: dict[str, frozenset[str]]


# The last mapping's index. The retriever hands out one mapping per corpus version, so
# this is rebuilt when the corpus changes: building it from the archive's 6,454 titles
# each time a question named a statement cost ~30 ms.
_last_title_owners: _TitleOwners | None = None


def title_owners(documents: Mapping[str, DocumentRecord]) -> dict[str, frozenset[str]]:
    """Which documents' titles hold each name word; built once per documents mapping (a long-running
    front end builds it when it warms up: ~150 ms for the archive's 6,454 titles)."""
    global _last_title_owners  # noqa: PLW0603 - a one-entry cache, replaced whole (no lock needed)
    cached = _last_title_owners
    if cached is None or cached.documents is not documents:
        owners: dict[str, set[str]] = {}
        for doc_id, record in documents.items():
            for word in name_words(record.title):
                owners.setdefault(word, set()).add(doc_id)
        cached = _TitleOwners(documents, {word: frozenset(ids) for word, ids in owners.items()})
        _last_title_owners = cached
    return cached.owners


def _named_documents(terms: Sequence[str], documents: Mapping[str, DocumentRecord]) -> tuple[list[str], frozenset[str]]:
    """The documents whose titles hold every word of the name (the name says which statement, all of it).

    Fillers ("joint", "leaders") count only when some title has them; a name
    word no title has ("the Biden-Marcos statement" when titles say "United
    States and the Philippines") names nothing, rather than a look-alike that
    happens to share the other words.
    """
    if not terms or not documents:
        return [], frozenset()
    owners = title_owners(documents)
    wanted = {t for t in terms if t not in NAME_FILLERS or t in owners}
    if not wanted - NAME_FILLERS:
        return [], frozenset()
    named = sorted(frozenset.intersection(*(owners.get(t, frozenset()) for t in wanted)))
    if len(named) == len(documents) and len(documents) > 1:
        return [], frozenset()  # words every title has name nothing
    return named, frozenset(wanted - NAME_FILLERS) if named else frozenset()


def _named_in_text(
    question: str,
    terms: Sequence[str],
    documents: Mapping[str, DocumentRecord],
    text_holders: TextHolders,
    *,
    within: set[str] | None = None,
) -> tuple[list[str], frozenset[str]]:
    """The statements of the kind the question names that hold every word of a name no title holds whole,
    each word in their title or their paragraphs; of those, the ones whose titles hold the most of them.

    Statements are often named by who made them ("the Biden-Marcos joint statement") where their titles
    name the countries, or by what the title says only in part ("the TTC inaugural joint statement" is the
    "Trade and Technology Council Inaugural Joint Statement", whose text says TTC: a later TTC statement
    that mentions the inaugural meeting holds both words only in its text). One word is no name here:
    "Biden" alone is in thousands of statements, and a topic word ("the climate statement") picks no
    statement out; two words that must meet in one statement do. `within`: the statements of the time
    named, when one is (the title-word index stays the whole corpus's: it is built once per corpus).
    """
    words = [t for t in terms if t not in NAME_FILLERS]
    wanted = _kinds(_WORD.findall(unicodedata.normalize("NFKC", question.lower())))
    if len(words) < 2 or not wanted:
        return [], frozenset()
    owners = title_owners(documents)
    # Fillers are read in titles, as `_named_documents` reads them: "the Biden-Marcos *joint* statement" is
    # not the press secretary's statement on their meeting.
    fillers = [t for t in terms if t in NAME_FILLERS and t in owners]
    held: set[str] | None = None
    for word in words:
        holders = text_holders(word) | owners.get(word, frozenset())
        held = holders if held is None else held & holders
    candidates = [
        d
        for d in held or ()
        if d in documents
        and (within is None or d in within)
        and wanted & _kinds(token_set(documents[d].title))
        and all(d in owners[filler] for filler in fillers)
    ]
    if not candidates:
        return [], frozenset()
    in_title = {d: sum(d in owners.get(word, frozenset()) for word in words) for d in candidates}
    most = max(in_title.values())
    return sorted(d for d in candidates if in_title[d] == most), frozenset(words)


def resolve_document(fragment: str, documents: Mapping[str, DocumentRecord]) -> str:
    """A document id from an id or a fragment of its title ("aukus", "spirit of camp david").

    An exact id wins; otherwise the documents whose id or title holds every
    word of the fragment; of those, the titles it covers best ("US India
    statement" is the bilateral statement, not a Quad declaration listing
    both), then the newest (a series is asked of its latest).
    """
    if fragment in documents:
        return fragment
    wanted = set(tokenize(fragment))
    matches = [
        doc_id
        for doc_id, record in documents.items()
        if wanted and wanted <= token_set(doc_id) | name_words(record.title)
    ]
    if not matches:
        raise UnknownDocument(f"No document with id or title matching {fragment!r}.")
    matches = _best_covered(fragment, matches, documents)
    return max(matches, key=lambda d: (documents[d].date or date.min, d))


def search_titles(fragment: str, documents: Mapping[str, DocumentRecord], *, limit: int) -> list[DocumentRecord]:
    """The documents whose id or title words start with every typed word, best first (autocomplete).

    Each typed word counts by its rarity among titles (a rare word says more
    than "joint"), ties go to the newest; with nothing typed, the newest first.
    Prefixes, because the user is still typing ("auk" finds AUKUS).
    """
    words = tokenize(fragment)
    if not words:
        return sorted(documents.values(), key=lambda r: (r.date or date.min, r.id), reverse=True)[:limit]
    tokens = {doc_id: token_set(f"{doc_id} {record.title}") for doc_id, record in documents.items()}
    weight = {}
    for word in words:
        owners = sum(any(t.startswith(word) for t in toks) for toks in tokens.values())
        weight[word] = math.log((1 + len(tokens)) / max(owners, 1))
    scored = []
    for doc_id, toks in tokens.items():
        if all(any(t.startswith(word) for t in toks) for word in words):
            exact = sum(weight[w] for w in words if w in toks)  # whole words typed beat prefixes
            scored.append((sum(weight.values()) + exact, documents[doc_id].date or date.min, doc_id))
    scored.sort(reverse=True)
    return [documents[doc_id] for _, _, doc_id in scored[:limit]]
