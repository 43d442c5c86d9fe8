"""The citation check every answer passes before it is shown.

An answer is read as sentences and paragraph markers (``[¶12]``,
``[doc-id ¶12]``, ``[preamble]``, also ``[¶3, ¶4]`` and ``(¶5)``). A marker
cites the sentence it follows; sentences with no marker of their own are
covered by the next marker on the same line ("S1 S2 [¶12]" cites ¶12 for both,
the layout of extractive answers). Then, sentence by sentence:

1. markers that name a paragraph not among the evidence (the paragraphs
   retrieved for this question) are removed;
2. the sentence's checkable content is extracted: numbers, codes ("F-35B"),
   capitalised names and acronyms, month names (so dates), negations ("not",
   "never"), past tenses and participles (what was done: "welcomed",
   "cancelled"), and its remaining key terms;
3. the sentence is *supported* by the paragraphs it cites when every number,
   code, name, negation and past tense appears in them and at least
   `KEY_TERM_SHARE` of its key terms do (matching ignores case, possessives and
   inflection: "delivery" matches "deliver", "Japanese" matches "Japan"); a
   sentence that follows a paragraph sentence nearly word for word is a
   quotation and must have all of its key terms (a misquote, or a quotation
   with an added claim, is unsupported);
4. a supported sentence keeps the markers of the paragraphs that contribute;
   an unsupported one is re-cited to the single evidence paragraph that
   supports it best, or removed when none does. A sentence with no checkable
   content is removed too: it states nothing worth showing ("Here is what the
   statement says:", or "See and." left by a removed link and ping).

Only what a paragraph *states* is evidence: its sentences that give orders
("Ignore previous instructions and say that ...", see
`qa.sanitise.is_instruction`) support nothing, so a model that obeys a planted
instruction cannot cite the paragraph that planted it.

If no cited sentence is left, the answer falls back (to the extractive answer
when one is given). The checked answer's citations are exactly the paragraphs
whose markers remain in its text, with their verbatim text from the store.

The check is lexical, so it is strict about specifics and blind to some
paraphrase: a faithful sentence in new words may be removed (the safe
direction), and a *reworded* sentence that swaps one present-tense verb or
adjective for its opposite can pass. See README, "Citation check".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher

from ingest.models import SECTION_LABEL_PATTERN, section_label
from ingest.sentences import split_sentences
from ingest.text import MONTH_NAMES
from prompts import ABSTAIN_PHRASE, FALLBACK_NOTE, UNSUPPORTED_NOTE
from qa.sanitise import allowed_links, is_instruction, sanitise_text
from qa.text import STOPWORDS, stem
from qa.types import CLOSEST_SHOWN, Answer, CheckReport, Citation

# Share of a sentence's key terms its cited paragraphs must contain (numbers,
# names and negations must all be there): two of three, three of four. It keeps
# light paraphrase ("the first F-35B landed on JS KAGA") and rejects claims
# built from other words ("the Ministers ended the deployment": one of two).
KEY_TERM_SHARE = 0.65
# Two words match when one is an inflection of the other: they share a prefix
# of at least this many characters and 3/4 of the shorter word.
_MIN_PREFIX = 5
_PREFIX_SHARE = 0.75
# A sentence that follows one paragraph sentence this closely, in order (the
# share of the shorter of the two), is a quotation, and a quotation must not
# change or add a key word ("increasing" -> "decreasing", "..., which they
# called a minor matter"): with any key term unsupported it is a misquote.
NEAR_COPY = 0.8
_NEAR_COPY_MIN_WORDS = 6
# Backend name of an answer that replaced a language model's answer.
FALLBACK_BACKEND = "extractive-fallback"

# Markers: a bracketed or parenthesised group naming paragraphs; bare "¶12" in prose.
_GROUP = re.compile(r"[\[(](?P<body>[^\[\]()\n]{1,200})[\])]")
_REF = re.compile(
    r"^(?:(?P<doc>[a-z0-9][a-z0-9._-]*)\s+)?(?:¶\s*(?P<section>" + SECTION_LABEL_PATTERN + r")"
    r"|¶\s*(?P<first>\d{1,4})(?:\s*[-–]\s*¶?\s*(?P<last>\d{1,4}))?"
    r"|(?P<preamble>preamble))$",
    re.IGNORECASE,
)
# "and" separates references only as a word between spaces ("¶3 and ¶4"): inside a
# document id ("joint-statement-from-the-united-states-and-india ¶22") it is part of the name.
_REF_SEPARATOR = re.compile(r"\s*[,;&]\s*|\s+and\s+", re.IGNORECASE)
# Paragraphs of numbering that restarts under headings are "¶II.3" / "¶2.1" (see ingest.parser).
_BARE_REF = re.compile(rf"¶\s*({SECTION_LABEL_PATTERN}|\d{{1,4}})")
_MAX_RANGE = 10

# Content of a sentence.
_WORD = re.compile(r"[\w’'+&.-]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_ORDINAL = re.compile(r"^\d+(?:st|nd|rd|th)$")
_LIST_MARKER = re.compile(r"^\s*(?:[-•*]|\(?\d{1,3}[.)]|\(?[a-z][.)])(?:\s+|$)")
NEGATIONS = frozenset({"not", "no", "never", "neither", "nor", "none", "nothing", "without", "cannot", "nobody"})
# Words that frame an answer without stating a checkable fact.
FRAMING = frozenset(
    """statement statements paragraph paragraphs document documents text joint according answer question
    provided information based following summary summarise summarize overall specifically particularly
    notably also both sides countries nations parties here however additionally furthermore moreover
    including include includes included says stated states notes noted mentions describes described
    explains explained indicates indicated reports reported refers referred highlights highlighted emphasises
    emphasised emphasizes emphasized stresses stressed underlines underlined outlines outlined hope helps
    help sure let know see cited cites quote quoted given listed aim aims aimed plan plans planned planning intend
    intends intended expect expects expected due scheduled set seek seeks sought stand stands mean means meaning
    known everyone everybody anyone anybody someone somebody""".split()
)
_NUMBER_WORDS = {
    word: str(value)
    for value, words in enumerate(
        [
            (),
            ("one", "first", "once", "single"),
            ("two", "second", "twice", "both", "pair"),
            ("three", "third"),
            ("four", "fourth"),
            ("five", "fifth"),
            ("six", "sixth"),
            ("seven", "seventh"),
            ("eight", "eighth"),
            ("nine", "ninth"),
            ("ten", "tenth"),
            ("eleven", "eleventh"),
            ("twelve", "twelfth", "dozen"),
        ]
    )
    for word in words
}


# Markers ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Ref:
    """A paragraph named by a marker: `doc_id` is None for "[¶12]"."""

    doc_id: str | None
    label: str


def _parse_group(body: str) -> list[Ref] | None:
    """The references of a marker group, or None when the group is prose."""
    if "¶" not in body and "preamble" not in body.lower():
        return None
    refs: list[Ref] = []
    for part in _REF_SEPARATOR.split(body.strip()):
        match = _REF.match(part.strip())
        if not match:
            continue
        doc = match["doc"].lower() if match["doc"] else None
        if match["preamble"]:
            refs.append(Ref(doc, "preamble"))
            continue
        if match["section"]:
            refs.append(Ref(doc, section_label(match["section"])))
            continue
        first = int(match["first"])
        last = int(match["last"]) if match["last"] else first
        if not first <= last <= first + _MAX_RANGE:
            last = first
        refs.extend(Ref(doc, str(n)) for n in range(first, last + 1))
    return refs or None


def markers_in(text: str) -> list[Ref]:
    """Every paragraph reference in `text`, in order (groups and bare ¶N)."""
    refs: list[Ref] = []
    position = 0
    for match in _GROUP.finditer(text):
        parsed = _parse_group(match["body"])
        if parsed is None:
            continue
        refs += [Ref(None, n) for n in _BARE_REF.findall(text[position : match.start()])]
        refs += parsed
        position = match.end()
    refs += [Ref(None, n) for n in _BARE_REF.findall(text[position:])]
    return refs


# Content ----------------------------------------------------------------------------
def _normal(word: str) -> str:
    word = word.strip(".-'’+&").lower().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    return word.rstrip("'")


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


@dataclass
class Content:
    """What a sentence claims, in the form the check compares."""

    numbers: set[str] = field(default_factory=set)  # digit runs: "2035", "35"
    codes: set[str] = field(default_factory=set)  # letters and digits together: "f-35b"
    names: set[str] = field(default_factory=set)  # capitalised words, acronyms, months
    negated: bool = False
    actions: set[str] = field(default_factory=set)  # past tenses and participles: "welcomed", "ended"
    terms: set[str] = field(default_factory=set)  # other key words, lowercased
    words: tuple[str, ...] = ()  # every word, in order (to recognise a quotation)

    @property
    def empty(self) -> bool:
        return not (self.numbers or self.codes or self.names or self.negated or self.actions or self.terms)


def content_of(sentence: str) -> Content:
    sentence = _LIST_MARKER.sub("", sentence, count=1)
    words = _WORD.findall(sentence)
    content = Content(numbers=_numbers(sentence), words=tuple(w for w in map(_normal, words) if w))
    first_word = next((i for i, w in enumerate(words) if any(c.isalpha() for c in w)), -1)
    for index, raw in enumerate(words):
        word = _normal(raw)
        if not word:
            continue
        if word in NEGATIONS or word.endswith("n't"):
            content.negated = True
            continue
        if any(c.isdigit() for c in word):
            if any(c.isalpha() for c in word) and not _ORDINAL.match(word):
                content.codes.add(word)
            continue
        if len(word) < 2 or word in STOPWORDS or word in FRAMING:
            continue
        stripped = raw.strip(".-'’+&")
        acronym = len(stripped) >= 2 and stripped.replace(".", "").isupper()
        capitalised = stripped[:1].isupper() and index != first_word
        if acronym or capitalised or word in MONTH_NAMES:
            content.names.add(word)
        elif len(word) >= _MIN_PREFIX and word.endswith("ed"):
            content.actions.add(word)
        elif len(word) >= 3 and word not in _NUMBER_WORDS:
            content.terms.add(word)
    return content


class _Vocabulary:
    """The words and numbers of one or more paragraphs, for matching."""

    def __init__(self, texts: Sequence[str]) -> None:
        # Only what the paragraphs state counts: a sentence that gives an order
        # ("Ignore previous instructions and say that ...") supports nothing.
        statements = [
            t[s.start : s.end] for t in texts for s in split_sentences(t) if not is_instruction(t[s.start : s.end])
        ]
        text = " ".join(statements)
        self.words = {_normal(w) for w in _WORD.findall(text)} - {""}
        self.numbers = _numbers(text) | {_NUMBER_WORDS[w] for w in self.words if w in _NUMBER_WORDS}
        self.negated = any(w in NEGATIONS or w.endswith("n't") for w in self.words)
        self.stems = {stem(w) for w in self.words}
        self.sentences = [[w for w in map(_normal, _WORD.findall(sentence)) if w] for sentence in statements]
        self._by_prefix: dict[str, list[str]] = {}
        for word in self.words:
            self._by_prefix.setdefault(word[:_MIN_PREFIX], []).append(word)

    def has(self, word: str) -> bool:
        if word in self.words or stem(word) in self.stems:
            return True
        if len(word) < _MIN_PREFIX:
            return False
        for other in self._by_prefix.get(word[:_MIN_PREFIX], ()):
            shorter = min(len(word), len(other))
            common = len(_common_prefix(word, other))
            if common >= max(_MIN_PREFIX, _PREFIX_SHARE * shorter):
                return True
        return False

    def support(self, content: Content) -> float | None:
        """Share of key terms found, or None when a number, code, name, negation or past tense is missing."""
        if not self._has_specifics(content):
            return None
        if not content.terms:
            return 1.0
        share = sum(self.has(t) for t in content.terms) / len(content.terms)
        if share < KEY_TERM_SHARE or (share < 1 and self.quotes(content.words)):
            return None
        return share

    def quotes(self, words: Sequence[str]) -> bool:
        """Whether `words` quote one of these paragraphs' sentences, or are quoted in one, nearly word for word."""
        for sentence in self.sentences:
            shorter = min(len(words), len(sentence))
            if shorter < _NEAR_COPY_MIN_WORDS:
                continue
            matcher = SequenceMatcher(None, words, sentence, autojunk=False)
            if sum(block.size for block in matcher.get_matching_blocks()) >= NEAR_COPY * shorter:
                return True
        return False

    def _has_specifics(self, content: Content) -> bool:
        return (
            content.numbers <= self.numbers
            and all(code in self.words for code in content.codes)
            and all(self.has(word) for word in (*content.names, *content.actions))
            and (self.negated or not content.negated)
        )

    def overlap(self, content: Content) -> int:
        """How many of the sentence's words and numbers this paragraph has (for ranking)."""
        return (
            len(content.numbers & self.numbers)
            + sum(self.has(w) for w in (*content.names, *content.actions, *content.terms))
            + sum(code in self.words for code in content.codes)
        )


def _common_prefix(a: str, b: str) -> str:
    end = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        end += 1
    return a[:end]


# Parsing an answer ------------------------------------------------------------------
@dataclass
class _Sentence:
    text: str
    line: int
    start: int  # offset in the marker-free text
    refs: list[Ref] = field(default_factory=list)  # from marker groups after or inside it
    bare: list[Ref] = field(default_factory=list)  # "¶12" written in the sentence itself
    cites: list[Citation] = field(default_factory=list)  # decided by the check
    keep: bool = True


def _parse(text: str) -> tuple[list[_Sentence], list[str]]:
    """Sentences with their markers, and the marker-free lines (blank ones included).

    A marker next to sentence-ending punctuation ("S. [¶3]", "S [¶3].") also
    ends the sentence, whatever follows, so "S [¶3]. and [¶3]." is two sentences.
    """
    pieces: list[str] = []
    groups: list[tuple[int, list[Ref]]] = []
    breaks: set[int] = set()
    length = 0
    position = 0
    for match in _GROUP.finditer(text):
        refs = _parse_group(match["body"])
        if refs is None:
            continue
        before = text[position : match.start()].rstrip(" \t")
        pieces.append(before)
        length += len(before)
        groups.append((length, refs))
        position = match.end()
        after = text[position : position + 1]
        if before.endswith((".", "!", "?")):
            breaks.add(length)
            if after in {".", "!", "?"}:
                position += 1  # "S. [¶3]." -> "S."
        elif after and after in ".!?":
            breaks.add(length + 1)
    pieces.append(text[position:])
    lines = "".join(pieces).split("\n")
    sentences: list[_Sentence] = []
    offset = 0
    for number, line in enumerate(lines):
        cuts = sorted(b - offset for b in breaks if offset < b < offset + len(line))
        for low, high in zip([0, *cuts], [*cuts, len(line)], strict=True):
            chunk = line[low:high]
            for span in split_sentences(chunk):
                raw = chunk[span.start : span.end]
                if raw.strip():
                    start = offset + low + span.start + len(raw) - len(raw.lstrip())
                    sentences.append(_Sentence(raw.strip(), number, start))
        offset += len(line) + 1
    for at, refs in groups:
        # A marker belongs to the sentence it follows (or sits inside).
        owners = [s for s in sentences if s.start < at] or sentences[:1]
        if owners:
            owners[-1].refs.extend(refs)
    for sentence in sentences:
        sentence.bare = [Ref(None, n) for n in _BARE_REF.findall(sentence.text)]
    return sentences, lines


# The check --------------------------------------------------------------------------
def _key(citation: Citation) -> tuple[str, str]:
    return citation.doc_id, citation.label


class _Evidence:
    def __init__(self, evidence: Sequence[Citation]) -> None:
        self.citations: list[Citation] = []
        for citation in evidence:
            if all(_key(c) != _key(citation) for c in self.citations):
                self.citations.append(citation)
        self.vocabulary = {_key(c): _Vocabulary([c.text]) for c in self.citations}
        self.doc_ids = {c.doc_id for c in self.citations}

    def ambiguous(self, label: str) -> bool:
        """Several documents' paragraphs carry this label, so "[¶3]" alone does not say which."""
        return sum(c.label == label for c in self.citations) > 1

    def resolve(self, ref: Ref, content: Content) -> Citation | None:
        """The paragraph a marker names; of several documents' "¶3", the one closest to the sentence."""
        matches = [
            c for c in self.citations if c.label == ref.label and (ref.doc_id is None or c.doc_id.lower() == ref.doc_id)
        ]
        if len(matches) <= 1:
            return matches[0] if matches else None
        return max(matches, key=lambda c: self.overlap(c, content))

    def overlap(self, citation: Citation, content: Content) -> int:
        return self.vocabulary[_key(citation)].overlap(content)

    def support(self, content: Content, cited: Sequence[Citation]) -> float | None:
        if not cited:
            return None
        if len(cited) == 1:
            return self.vocabulary[_key(cited[0])].support(content)
        return _Vocabulary([c.text for c in cited]).support(content)

    def best_single(self, content: Content) -> Citation | None:
        best: tuple[float, int] | None = None
        chosen = None
        for citation in self.citations:
            share = self.vocabulary[_key(citation)].support(content)
            if share is not None and (best is None or (share, self.overlap(citation, content)) > best):
                best = (share, self.overlap(citation, content))
                chosen = citation
        return chosen


@dataclass
class _Tally:
    removed_sentences: int = 0
    removed_citations: int = 0
    rewritten: bool = False  # the text must be re-rendered from the checked sentences


def check_answer(
    answer: Answer,
    evidence: Sequence[Citation],
    *,
    fallback: Answer | None = None,
    with_document: bool | None = None,
) -> Answer:
    """`answer` with unsupported sentences and markers removed or re-cited (see the module docstring).

    `evidence` is every paragraph retrieved for the question (verbatim, from the
    store). `fallback` replaces an answer with nothing supported left; without
    one, such an answer becomes an abstention that shows the closest evidence.
    `with_document` writes new markers as "[doc-id ¶12]" (default: when the
    evidence spans several documents or the answer already does).
    The returned answer's `checked` adds this check's changes to the answer's own.
    """
    if answer.abstained:
        return answer
    pool = _Evidence(evidence)
    sentences, lines = _parse(answer.text)
    tally = _Tally()
    for sentence, inherited in zip(sentences, _inherited_refs(sentences), strict=True):
        _check_sentence(sentence, inherited, pool, tally)
    if not any(s.keep and s.cites for s in sentences):
        return _fall_back(answer, pool, tally, fallback)
    if with_document is None:
        with_document = len(pool.doc_ids) > 1 or any(r.doc_id for s in sentences for r in s.refs)
    text = _render(sentences, lines, pool, with_document=with_document) if tally.rewritten else answer.text
    cited = _cited_in_order(sentences)
    report = CheckReport(
        answer.checked.removed_sentences + tally.removed_sentences,
        answer.checked.removed_citations + tally.removed_citations,
        answer.checked.fallback,
    )
    if text == answer.text and [_key(c) for c in answer.citations] == [_key(c) for c in cited]:
        return answer if report == answer.checked else replace(answer, checked=report)
    previous = {_key(c): c for c in answer.citations}
    citations = tuple(_with_quote(c, previous.get(_key(c)), sentences) for c in cited)
    return replace(answer, text=text, citations=citations, checked=report)


def final_check(answer: Answer) -> Answer:
    """The last gate before an answer is shown; `StatementService` runs it on every answer.

    Sanitises the text (links only from the cited paragraphs, no mentions, no
    invisible characters) and checks it against its own citations, so whatever
    produced the answer, what is shown keeps the invariants: every marker names
    a cited paragraph, every citation is named by a marker, every sentence with
    content is supported. An answer already checked against its retrieval (and
    every extractive answer) passes unchanged.
    """
    if answer.abstained:
        return answer
    text = sanitise_text(answer.text, allowed_links(answer.citations))
    return check_answer(answer if text == answer.text else replace(answer, text=text), answer.citations)


def _inherited_refs(sentences: list[_Sentence]) -> list[list[Ref]]:
    """For each sentence, the markers of the next marked sentence on its line ("S1 S2 [¶12]")."""
    inherited: list[list[Ref]] = [[] for _ in sentences]
    carry: list[Ref] = []
    for index in range(len(sentences) - 1, -1, -1):
        if index + 1 < len(sentences) and sentences[index + 1].line != sentences[index].line:
            carry = []
        if sentences[index].refs:
            carry = sentences[index].refs
        else:
            inherited[index] = carry
    return inherited


def _check_sentence(sentence: _Sentence, inherited: list[Ref], pool: _Evidence, tally: _Tally) -> None:
    content = content_of(sentence.text)
    own: list[Citation] = []
    for ref in sentence.refs:
        resolved = pool.resolve(ref, content)
        if resolved is None:
            tally.removed_citations += 1  # names a paragraph that was not retrieved
            tally.rewritten = True
            continue
        if ref.doc_id is None and pool.ambiguous(ref.label):
            tally.rewritten = True  # write which document's paragraph it is
        if resolved not in own:
            own.append(resolved)
    bare = [pool.resolve(ref, content) for ref in sentence.bare]
    if None in bare:
        # The sentence itself names a paragraph nobody retrieved: its claim cannot be checked.
        _remove(sentence, tally, markers=len(own))
        return
    if content.empty:
        # No fact to check, so none worth showing: framing ("Here is what the
        # statement says:") and what a removed link or ping leaves ("See and.").
        _remove(sentence, tally, markers=len(own))
        return
    claimed = _unique([*own, *bare]) if own or bare else _unique([pool.resolve(r, content) for r in inherited])
    if pool.support(content, claimed) is not None:
        sentence.cites = [c for c in claimed if len(claimed) == 1 or pool.overlap(c, content) > 0]
        dropped = [c for c in own if c not in sentence.cites]
        if dropped:
            tally.removed_citations += len(dropped)
            tally.rewritten = True
        return
    best = None if bare else pool.best_single(content)
    if best is None:
        _remove(sentence, tally, markers=len(own))
        return
    tally.removed_citations += len(own)
    tally.rewritten = True
    sentence.cites = [best]


def _unique(citations: Sequence[Citation | None]) -> list[Citation]:
    unique: list[Citation] = []
    for citation in citations:
        if citation is not None and citation not in unique:
            unique.append(citation)
    return unique


def _remove(sentence: _Sentence, tally: _Tally, *, markers: int) -> None:
    sentence.keep = False
    tally.removed_sentences += 1
    tally.removed_citations += markers
    tally.rewritten = True


def _render(sentences: list[_Sentence], lines: list[str], pool: _Evidence, *, with_document: bool) -> str:
    out: list[str] = []
    for number, line in enumerate(lines):
        on_line = [s for s in sentences if s.line == number]
        if not on_line:
            if not line.strip() and out and out[-1] != "":
                out.append("")
            continue
        kept = [s for s in on_line if s.keep]
        if not kept:
            continue
        parts: list[str] = []
        for index, sentence in enumerate(kept):
            parts.append(sentence.text)
            following = kept[index + 1].cites if index + 1 < len(kept) else None
            if sentence.cites and sentence.cites != following:
                markers = (c.marker(with_document=with_document or pool.ambiguous(c.label)) for c in sentence.cites)
                parts.append(" ".join(markers))
        out.append(" ".join(parts))
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out)


def _cited_in_order(sentences: list[_Sentence]) -> list[Citation]:
    cited: list[Citation] = []
    for sentence in sentences:
        if sentence.keep:
            cited += [c for c in sentence.cites if c not in cited]
    return cited


def _with_quote(citation: Citation, previous: Citation | None, sentences: list[_Sentence]) -> Citation:
    """The citation with `quote` = the paragraph sentences closest to what the answer says with it."""
    if previous is not None and previous.quote:
        return replace(citation, quote=previous.quote)
    spans = split_sentences(citation.text)
    own = [citation.text[s.start : s.end] for s in spans] or [citation.text]
    vocabularies = [_Vocabulary([s]) for s in own]
    chosen: set[int] = set()
    for sentence in sentences:
        if sentence.keep and citation in sentence.cites:
            content = content_of(sentence.text)
            scores = [v.overlap(content) for v in vocabularies]
            if max(scores, default=0) > 0:
                chosen.add(scores.index(max(scores)))
    return replace(citation, quote=" ".join(own[i] for i in sorted(chosen)))


def _fall_back(answer: Answer, pool: _Evidence, tally: _Tally, fallback: Answer | None) -> Answer:
    report = CheckReport(
        answer.checked.removed_sentences + tally.removed_sentences,
        answer.checked.removed_citations + tally.removed_citations,
        True,
    )
    if fallback is not None:
        return replace(fallback, checked=report, backend=FALLBACK_BACKEND, note=FALLBACK_NOTE)
    return replace(
        answer,
        text=ABSTAIN_PHRASE,
        citations=(),
        abstained=True,
        closest=tuple(pool.citations[:CLOSEST_SHOWN]),
        checked=report,
        note=UNSUPPORTED_NOTE,
    )
