"""The default answerer: composes answers from the statements' own sentences.

No language model: the answer is made of verbatim sentences, each followed by
the marker of the paragraph it comes from, so nothing can be invented. The
work is in choosing the sentences and in knowing when to say nothing.

Evidence scoring, per sentence of the top paragraphs:
* similarity: cosine between the question and the sentence (sentence vectors
  were computed at ingest);
* support: the share of the question's topical terms (IDF-weighted) that the
  sentence's paragraph backs up, lexically (same stem) or semantically (the
  term measurably raises the question's similarity to the sentence: removing
  it from the question lowers the cosine).

Abstention uses support: "Who is Japan's Prime Minister?" finds a sentence
about Japan's Minister of Defense with a high cosine, but nothing backs
"Prime", which carries most of the question's weight.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import numpy as np

from prompts import ABSTAIN_PHRASE
from qa.types import Answer, Citation, Conversation
from vectorstore.lexical import content_terms, tokenize
from vectorstore.retrieval import HybridRetriever, SearchFilter, SearchResult
from vectorstore.store import StoredParagraph, StoredSentence

# Calibrated on the development set and tests/data/sample_questions.jsonl (see README, "Abstention").
DEFAULT_SUPPORT_THRESHOLD = 0.5
MIN_SIMILARITY = 0.25
# A term "supports" a sentence semantically when dropping it from the question
# lowers the question-sentence cosine by at least this much.
TERM_CONTRIBUTION = 0.10
# Words are compared on their first letters, a cheap stemmer that is robust to
# inflection ("delivered" ~ "delivery") and rarely conflates topics.
_STEM_PREFIX = 6
SEMANTIC_GATE = 0.30
# Semantic support counts fully only from cosine 0.50 up: below that, a sentence
# on a neighbouring topic ("space cooperation" for "drones at sea") gains from a
# term as much as the right one does.
SEMANTIC_GATE_WIDTH = 0.20
EVIDENCE_PARAGRAPHS = 6
FACTOID_MAX_CHARS = 400
LIST_MAX_CHARS = 900
MAX_SENTENCES = 4
CLOSEST_SHOWN = 3
# Share of the question's weight a same-paragraph sentence must add to join the answer.
COMPLETION_GAIN = 0.10
# A completing sentence may take a factoid answer a little past its usual length.
COMPLETION_MAX_CHARS = 480
# A past-tense or participle verb in a question ("represented", "decided") names a
# relation that statements phrase in their own words ("H.E. Mr Nakatani Gen, Minister
# of Defense of Japan, held a meeting"); it keeps at least this share of its weight as
# support when the sentence is close to the question as a whole.
RELATION_CREDIT = 0.5
_RELATION_WORD = re.compile(r"^[a-z]{3,}(?<!e)ed$")

_LIST_QUESTION = re.compile(
    r"^(?:what|which)\s+(?:\w+\s+){0,3}?(?:are|were)\s+(?:\w+\s+){0,3}?"
    r"(?:mentioned|listed|named|discussed|referenced|cited|covered)\b"
    r"|\b(?:list|enumerate)\b|\ball the\b"
    r"|\bwhich (?:\w+ )?(?:exercises|countries|programmes|programs|agreements|areas|domains)\b",
    re.IGNORECASE,
)
_FOLLOW_UP = re.compile(r"^(?:and|also|what about|how about|and what about|what of|same for|then)\b", re.IGNORECASE)
_PRONOUN = re.compile(r"\b(?:it|its|they|them|their|this|that|these|those|he|she|there)\b", re.IGNORECASE)


@dataclass
class Evidence:
    paragraph: StoredParagraph
    sentence: StoredSentence
    similarity: float
    support: float
    rank: int  # of its paragraph in the retrieval
    coverage: float = 0.0  # share of the question's weight found in this very sentence
    answer_type: float = 0.0  # 1 when the sentence holds the kind of thing asked for (a date for "when")
    covered: frozenset[str] = frozenset()  # question terms this very sentence holds
    weights: dict[str, float] = field(default_factory=dict)  # the question's term weights (shared)

    @property
    def score(self) -> float:
        return (
            0.45 * self.similarity
            + 0.35 * self.support
            + 0.2 * self.coverage
            + 0.2 * self.answer_type
            - 0.01 * self.rank
        )


def _stems(text: str) -> set[str]:
    return {token[:_STEM_PREFIX] for token in tokenize(text)}


# Statements name countries both ways ("Japanese collaboration", "Minister of Defense
# of Japan"); a question's adjective is backed by the country's name and vice versa.
# Questions also use a capital for its government ("What did they say about
# Beijing?"); only capitals that statements rarely mean as places are listed.
_COUNTRY_WORDS = {
    "american": ("america", "usa"),
    "australian": ("austra",),
    "british": ("britai", "uk"),
    "canadian": ("canada",),
    "chinese": ("china",),
    "dutch": ("nether",),
    "european": ("europe", "eu"),
    "french": ("france",),
    "german": ("german",),
    "indian": ("india",),
    "italian": ("italy",),
    "japanese": ("japan",),
    "korean": ("korea",),
    "philippine": ("philip",),
    "russian": ("russia",),
    "taiwanese": ("taiwan",),
    "ukrainian": ("ukrain",),
    "beijing": ("china",),
    "moscow": ("russia",),
    "pyongyang": ("korea",),
    "kyiv": ("ukrain",),
    "kiev": ("ukrain",),
    "taipei": ("taiwan",),
    "tehran": ("iran",),
}
_COUNTRY_WORD_OF = {stem: word for word, stems in _COUNTRY_WORDS.items() for stem in stems}


_SUFFIXES = ("s", "es", "ed", "ing", "ings", "er", "ers")


def _inflections(term: str) -> set[str]:
    """Stems of the term's inflected or bare forms, for words shorter than the stem prefix.

    "meet" ~ "meeting" and "landed" ~ "land": the prefix alone misses both because
    one side is shorter than six letters.
    """
    variants: set[str] = set()
    if 3 <= len(term) < _STEM_PREFIX:
        variants.update((term + suffix)[:_STEM_PREFIX] for suffix in _SUFFIXES)
    for suffix in _SUFFIXES:
        base = term[: -len(suffix)]
        if term.endswith(suffix) and len(base) >= 3 and len(base) < _STEM_PREFIX:
            variants.add(base)
    return variants


@functools.lru_cache(maxsize=4096)
def _forms(term: str) -> frozenset[str]:
    """The stems a paragraph may hold for `term` to count as present."""
    stem = term[:_STEM_PREFIX]
    aliases = _COUNTRY_WORDS.get(term, ()) or (
        (_COUNTRY_WORD_OF[stem][:_STEM_PREFIX],) if stem in _COUNTRY_WORD_OF else ()
    )
    return frozenset({stem, *_inflections(term), *aliases})


def _matches(term: str, stems: set[str]) -> bool:
    """Same word up to inflection: 'delivered' ~ 'delivery', 'participate' ~ 'participation'.

    A country and its adjective count as the same word: 'Japanese' ~ 'Japan'.
    """
    return not _forms(term).isdisjoint(stems)


_WHEN = re.compile(r"^\s*(?:when|by when|what (?:year|date|time))\b|\bdeadline\b", re.IGNORECASE)
_DATE_LIKE = re.compile(
    r"\b(?:1[89]|20)\d\d\b|\b(?:January|February|March|April|May|June|July|August|September|October|November"
    r"|December)\b"
)
_WHO = re.compile(r"^\s*(?:who|which (?:\w+ )?(?:minister|official|person|people|leader)s?)\b", re.IGNORECASE)
_NAME_LIKE = re.compile(r"\b(?:Mr|Ms|Mrs|Dr|H\.E\.|Rt Hon|Minister|Secretary|President)\b")


# "How much will GCAP cost?" is answered by an amount, "how many jets?" by a count;
# a sentence without one cannot answer it, however close its topic ("affordable").
_HOW_MUCH = re.compile(
    r"^\s*how (?:much|many)\b|\b(?:what|which) (?:is|was|are|were) the (?:cost|price|budget|number)\b", re.IGNORECASE
)
_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand"
    r"|million|billion|trillion|dozen|several|dozens|hundreds|thousands"
)
_QUANTITY_LIKE = re.compile(
    rf"[£$€¥]\s?\d|\b\d[\d,.]*\s?(?:%|per ?cent|percent|bn|m)\b|\b(?:{_NUMBER_WORDS})\b"
    r"|\b(?!(?:1[89]|20)\d\d\b)\d[\d,.]*\b",
    re.IGNORECASE,
)


def needs_quantity(question: str) -> bool:
    return bool(_HOW_MUCH.search(question))


# "Where does the statement criticise China?" asks for a passage, not a place.
_WHERE = re.compile(
    r"^\s*(?:where|in which (?:city|country|place))\b"
    r"(?!\s+(?:does|do|did|is)\s+(?:the\s+)?(?:statement|document|text|declaration|communiqu))",
    re.IGNORECASE,
)
_PLACE_LIKE = re.compile(r"\b(?:in|at)\s+(?:the\s+)?[A-Z][\w-]+")
# "Where were the consultations held?" asks about a meeting that took place; a
# sentence about the next one ("looked forward to the next ... in Japan in 2025")
# has a place and a date but not that answer.
_PAST_QUESTION = re.compile(r"\b(?:did|was|were|had)\b", re.IGNORECASE)
_FUTURE_SENTENCE = re.compile(
    r"\b(?:next|will|shall|forthcoming|upcoming|future|look(?:s|ed)? forward|plans? to|intends? to)\b", re.IGNORECASE
)


def _answer_type(question: str, sentence: str) -> float:
    """1.0 when the sentence holds what the question's wh-word asks for."""
    if needs_quantity(question):
        return 1.0 if _QUANTITY_LIKE.search(sentence) else 0.0
    when, where = _WHEN.search(question), _WHERE.search(question)
    if (when or where) and _PAST_QUESTION.search(question) and _FUTURE_SENTENCE.search(sentence):
        return 0.0
    if when:
        return 1.0 if _DATE_LIKE.search(sentence) else 0.0
    if where:
        return 1.0 if _PLACE_LIKE.search(sentence) else 0.0
    if _WHO.search(question):
        return 1.0 if _NAME_LIKE.search(sentence) else 0.0
    return 0.0


def _without(query: str, term: str) -> str:
    return re.sub(rf"\b{re.escape(term)}\w*", " ", query, flags=re.IGNORECASE)


def _support(
    terms: list[str],
    weights: dict[str, float],
    stems: set[str],
    contributions: dict[str, np.ndarray],
    index: int,
    *,
    gate: float,
) -> float:
    """Share of the question's weight that the evidence backs, lexically or semantically."""
    if not terms:
        return 1.0
    total = sum(weights.values()) or 1.0
    supported = 0.0
    for term in terms:
        if _matches(term, stems):
            supported += weights[term]
        else:
            gain = float(contributions[term][index])
            credit = min(max(gain / TERM_CONTRIBUTION, 0.0), 1.0)
            if _RELATION_WORD.match(term):
                credit = max(credit, RELATION_CREDIT)
            supported += weights[term] * gate * credit
    return supported / total


def is_list_question(question: str) -> bool:
    return bool(_LIST_QUESTION.search(question))


class ExtractiveAnswerer:
    """Sentence-level extractive answers with calibrated abstention."""

    backend = "extractive"

    def __init__(self, retriever: HybridRetriever, *, support_threshold: float | None = None) -> None:
        self.retriever = retriever
        self.support_threshold = DEFAULT_SUPPORT_THRESHOLD if support_threshold is None else support_threshold

    # Public -----------------------------------------------------------------
    def answer(
        self, question: str, *, conversation: Conversation | None = None, search_filter: SearchFilter | None = None
    ) -> Answer:
        query = self.condense(question, conversation)
        terms = content_terms(query)
        # The question and each "question without one term" (for the term weights)
        # go through the model as one batch: one forward pass instead of two.
        vectors = self.retriever.store.embedder.encode([query, *(_without(query, term) for term in terms)])
        result = self.retriever.search(
            query, k=EVIDENCE_PARAGRAPHS + 2, search_filter=search_filter, query_vector=vectors[0]
        )
        return self.answer_from(question, result, without_term=dict(zip(terms, vectors[1:], strict=True)))

    def condense(self, question: str, conversation: Conversation | None) -> str:
        """A standalone retrieval query for a follow-up ("and what about space?")."""
        if conversation is None or conversation.last is None:
            return question
        previous = conversation.last.question
        own_terms = [t for t in content_terms(question) if t not in {"about", "and", "also", "what", "how"}]
        if _FOLLOW_UP.match(question) and own_terms:
            # The follow-up names its own topic; keep the previous question's frame only.
            frame = re.sub(r"\babout\b.*$", "about", previous, flags=re.IGNORECASE)
            return f"{frame} {' '.join(own_terms)}" if frame != previous else question
        if not own_terms or (_PRONOUN.search(question) and len(own_terms) <= 2):
            return f"{previous} {question}"
        return question

    def answer_from(
        self, question: str, result: SearchResult, *, without_term: dict[str, np.ndarray] | None = None
    ) -> Answer:
        """Answer from retrieved paragraphs; `without_term` holds the question's vector without each term, if known."""
        documents = result.documents
        multi_doc = len(documents) > 1
        if not result.hits:
            return Answer(question, ABSTAIN_PHRASE, (), True, (), retrieval_query=result.query)
        if result.exact:
            citations = tuple(citation_of(h.paragraph, result, h.paragraph.text) for h in result.hits)
            text = " ".join(f"{c.text} {c.marker(with_document=multi_doc)}" for c in citations)
            return Answer(question, text, citations, False, retrieval_query=result.query)
        evidence = self.score_evidence(result, without_term=without_term)
        closest = tuple(citation_of(h.paragraph, result) for h in result.hits[:CLOSEST_SHOWN])
        if needs_quantity(result.query):
            evidence = [item for item in evidence if item.answer_type]
        if not evidence:
            return Answer(question, ABSTAIN_PHRASE, (), True, closest, retrieval_query=result.query)
        best = evidence[0]
        if best.support < self.support_threshold or best.similarity < MIN_SIMILARITY:
            return Answer(question, ABSTAIN_PHRASE, (), True, closest, retrieval_query=result.query)
        chosen = self._select(question, evidence)
        return self._compose(question, chosen, result, multi_doc)

    # Evidence ---------------------------------------------------------------
    def score_evidence(
        self, result: SearchResult, *, without_term: dict[str, np.ndarray] | None = None
    ) -> list[Evidence]:
        hits = result.hits[:EVIDENCE_PARAGRAPHS]
        paragraphs = {h.paragraph.key: (rank, h.paragraph) for rank, h in enumerate(hits)}
        sentences = self.retriever.sentences_for(list(paragraphs), version=result.corpus_version)
        if not sentences:
            return []
        matrix = np.stack([s.vector for s in sentences])
        similarities = matrix @ result.query_vector
        # "G7" in "What did the G7 say about Ukraine?" chose the statement; the
        # evidence need not repeat it.
        terms = [term for term in content_terms(result.query) if term not in result.naming_words]
        weights, contributions = self._term_weights(result, terms, matrix, without_term)
        paragraph_stems = {key: _stems(p.text) for key, (_rank, p) in paragraphs.items()}
        evidence = []
        for index, sentence in enumerate(sentences):
            rank, paragraph = paragraphs[sentence.paragraph_key]
            # A term's semantic support only counts when the sentence as a whole is
            # close to the question: with a contentless remainder ("What did they say
            # about?") any sentence gains from any term, related or not.
            gate = min(max((float(similarities[index]) - SEMANTIC_GATE) / SEMANTIC_GATE_WIDTH, 0.0), 1.0)
            stems = paragraph_stems[sentence.paragraph_key]
            support = _support(terms, weights, stems, contributions, index, gate=gate)
            own = _stems(sentence.text)
            covered = frozenset(t for t in weights if _matches(t, own))
            coverage = sum(weights[t] for t in covered) / (sum(weights.values()) or 1.0)
            evidence.append(
                Evidence(
                    paragraph,
                    sentence,
                    float(similarities[index]),
                    support,
                    rank,
                    coverage=coverage,
                    covered=covered,
                    weights=weights,
                    answer_type=_answer_type(result.query, sentence.text),
                )
            )
        evidence.sort(key=lambda e: e.score, reverse=True)
        return evidence

    def _term_weights(
        self,
        result: SearchResult,
        terms: list[str],
        matrix: np.ndarray,
        without_term: dict[str, np.ndarray] | None = None,
    ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """Each term's weight in the question, and how much it raises the cosine with each sentence.

        A term's weight is its rarity in the corpus (IDF) times its importance to
        the question's meaning: how far the question's vector moves when the term
        is dropped. So "Prime" in "Who is Japan's Prime Minister?" weighs a lot
        (rare, and it changes the meaning) while "meant" in "When is GCAP meant to
        be delivered?" weighs little (rare, but the meaning hardly moves).
        """
        if not terms:
            return {}, {}
        if without_term is None or any(term not in without_term for term in terms):
            encoded = self.retriever.store.embedder.encode([_without(result.query, term) for term in terms])
            without_term = dict(zip(terms, encoded, strict=True))
        vectors = [without_term[term] for term in terms]
        idf = self.retriever.lexical.idf(terms, version=result.corpus_version)
        base = matrix @ result.query_vector
        weights: dict[str, float] = {}
        contributions: dict[str, np.ndarray] = {}
        for i, term in enumerate(terms):
            importance = max(1.0 - float(vectors[i] @ result.query_vector), 0.005)
            weights[term] = importance * idf[term]
            contributions[term] = base - matrix @ vectors[i]
        return weights, contributions

    def _select(self, question: str, evidence: list[Evidence]) -> list[Evidence]:
        best = evidence[0]
        if is_list_question(question):
            chosen: list[Evidence] = []
            seen: set[str] = set()
            for item in evidence:
                if item.paragraph.key in seen or item.support < self.support_threshold:
                    continue
                if item.score < best.score - 0.2:
                    break
                chosen.append(item)
                seen.add(item.paragraph.key)
            return chosen[:6] or [best]
        chosen = [best]
        length = len(best.sentence.text)
        for item in evidence[1:]:
            if len(chosen) >= MAX_SENTENCES or item.score < best.score - 0.08:
                break
            # Each sentence of the answer must be backed on its own: a runner-up from
            # another statement ("the sixth UK-Japan meeting" for a Japan-Australia
            # question) may score close to the best yet miss the question's key word.
            # The exception is the sentence that holds what the question asks for
            # (the date of a "when") when nothing chosen so far does.
            supplies_type = item.answer_type and not any(c.answer_type for c in chosen)
            if length + len(item.sentence.text) > FACTOID_MAX_CHARS or (
                item.support < self.support_threshold and not supplies_type
            ):
                continue
            chosen.append(item)
            length += len(item.sentence.text)
        return self._complete(chosen, evidence, length)

    @staticmethod
    def _complete(chosen: list[Evidence], evidence: list[Evidence], length: int) -> list[Evidence]:
        """Add the sentence of the best paragraph that holds what the chosen ones lack.

        The answer to "Which programme does the fighter deployment relate to?" is
        split across two sentences of ¶11: one names the deployment, the one before
        it names the programme. A neighbour that carries a good share of the
        question's missing weight belongs in the answer.
        """
        best = chosen[0]
        candidates = [
            item
            for item in evidence
            if item.paragraph.key == best.paragraph.key
            and item not in chosen
            and length + len(item.sentence.text) <= COMPLETION_MAX_CHARS
        ]
        if not candidates:
            return chosen
        total = sum(best.weights.values()) or 1.0
        have = frozenset().union(*(item.covered for item in chosen))
        missing = {t: w for t, w in best.weights.items() if t not in have}
        gains = [(sum(missing.get(t, 0.0) for t in item.covered) / total, item) for item in candidates]
        gains = [(gain, item) for gain, item in gains if gain >= COMPLETION_GAIN]
        if gains:
            chosen.append(max(gains, key=lambda pair: pair[0])[1])
            return chosen
        # The chosen sentence may win on the question's words ("Women, Peace and
        # Security") while a neighbour is closer to what it asks ("what is it
        # about?"): that neighbour completes the answer.
        closest = max(candidates, key=lambda item: item.similarity)
        if closest.similarity > max(item.similarity for item in chosen):
            chosen.append(closest)
        return chosen

    def _compose(self, question: str, chosen: list[Evidence], result: SearchResult, multi_doc: bool) -> Answer:
        # Keep document order within a paragraph and paragraph order of relevance.
        by_paragraph: dict[str, list[Evidence]] = {}
        for item in chosen:
            by_paragraph.setdefault(item.paragraph.key, []).append(item)
        parts: list[str] = []
        citations: list[Citation] = []
        for items in by_paragraph.values():
            items.sort(key=lambda e: e.sentence.index)
            quote = " ".join(e.sentence.text for e in items)
            citation = citation_of(items[0].paragraph, result, quote)
            citations.append(citation)
            parts.append(f"{quote} {citation.marker(with_document=multi_doc)}")
        return Answer(question, " ".join(parts), tuple(citations), False, retrieval_query=result.query)


def citation_of(paragraph: StoredParagraph, result: SearchResult, quote: str = "") -> Citation:
    """A Citation for a retrieved paragraph, with its document's title and source."""
    record = result.documents.get(paragraph.doc_id)
    return Citation(
        doc_id=paragraph.doc_id,
        title=record.title if record else paragraph.doc_id,
        label=paragraph.label,
        text=paragraph.text,
        source=record.source if record else "",
        quote=quote,
        date=record.date.isoformat() if record and record.date else "",
    )
