"""The default answerer: composes answers from the statements' own sentences.

No language model: the answer is made of verbatim sentences, each followed by
the marker of the paragraph it comes from, so nothing can be invented. The
work is in three decisions, all made by one fitted mechanism:

1. which sentences answer: every sentence of the top retrieved paragraphs is
   a candidate, described by a few general features (`FEATURES`): its cosine
   with the question (sentence vectors were computed at ingest), its
   paragraph's retrieval evidence (dense cosine, BM25, fused rank), and how
   much of the question's weight it and its paragraph support, lexically
   (same Snowball stem) or semantically (dropping the term from the question
   lowers the cosine with the sentence). A logistic regression fitted by
   `bench/calibrate.py` turns the features into the probability that the
   sentence comes from the paragraph that answers;
2. whether they support the question well enough: the best candidate's
   probability must reach the fitted `abstain_below` threshold, and the
   question's answer type is a hard condition ("when" needs a date, "how
   much" a quantity, "how many X" a count of X (`count_match`), "who" a person
   or office, "where" a place: `qa.text`);
3. what to quote: from the best paragraph, its best sentence that holds the
   answer type, then its other sentences whose probability (a second fitted
   combiner) reaches `quote_above`, and the sentence before any quoted one that
   opens by pointing back to it ("This will be…"); other paragraphs from
   `join_above`; all while the answer stays within the fitted `max_chars`.

The weights and thresholds live in `qa/answerer_params.json`, written by
`bench/calibrate.py` together with the figures they reached on the tune and
check halves (see README, "Abstention").
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any

import numpy as np

from prompts import ABSTAIN_PHRASE
from qa.citations import content_of
from qa.reading import citation_from
from qa.sanitise import is_instruction
from qa.termvectors import TermVectors, bundled_term_vectors
from qa.text import (
    COUNTED_WORDS,
    COUNTED_WORDS_BEFORE,
    AnswerType,
    answer_spans,
    answer_types_of,
    asks_about_the_future,
    asks_for_a_name,
    before,
    content_terms,
    count_spans,
    counted_terms,
    counted_words,
    evidence_stems,
    evidence_words,
    names_someone,
    party_spans,
    speaker_terms,
    stem,
    tokenize,
)
from qa.types import CLOSEST_SHOWN, Answer, Citation, Conversation
from vectorstore.retrieval import Hit, HybridRetriever, SearchFilter, SearchResult
from vectorstore.store import StoredParagraph, StoredSentence

EVIDENCE_PARAGRAPHS = 6
# How far either side of a date, amount, person or place its words count as its context
# (`answer_proximity`), in characters: about four words. Chosen on the tune half by refitting with
# 25, 50 and 100 (tune objective 0.7125, 0.7081, 0.7079; README, "Abstention").
PROXIMITY_CHARS = 25
# The mean length answers must keep to (the target for factoid answers):
# `bench/calibrate.py` fits the per-answer limit `max_chars` under it.
FACTOID_MAX_CHARS = 400
PARAMS_FILE = "answerer_params.json"
log = logging.getLogger(__name__)

# What the combiners see, in the order of their fitted weights. A passage (a
# retrieved paragraph) is judged on whether it answers; its sentences on
# whether they hold the answer.
PASSAGE_FEATURES = (
    "best_sentence_cosine",  # the highest cosine(question, sentence) of its sentences
    "cosine_gap",  # that, minus the best of all candidates' sentences
    "paragraph_cosine",  # the paragraph's best dense cosine in retrieval
    "paragraph_rank",  # 1 / (1 + rank of the paragraph in the fused retrieval)
    "fused_share",  # the paragraph's fused score / the top paragraph's
    "bm25_share",  # the paragraph's BM25 score / the best BM25 score of the hits
    "coverage",  # weighted share of question terms whose stem the paragraph holds
    "best_sentence_coverage",  # the same, for its best-covering sentence
    "semantic_support",  # weighted cosine its best sentence loses without each term the paragraph lacks
    "missing_weight",  # the largest weight share of a question term whose stem it lacks
    "margin",  # its best sentence cosine minus the best of the other paragraphs' sentences
    "typed",  # 1 when the question asks for a date, amount, person or place
    "log_chars",  # log of the paragraph's length
    # Soft term matching (`qa.termvectors`): a term is backed by the closest
    # word of the evidence, by the embedding model's static token vectors.
    "soft_coverage",  # weighted mean over question terms of their best match in the paragraph
    "soft_missing",  # the largest weight share times (1 - best match) of a term in the paragraph
    "evidence_missing",  # the same over all retrieved paragraphs: the heaviest term no evidence backs
    # For a typed question, the soft coverage of the words around what it asks for, in the best
    # of its sentences: a paragraph whose date stands beside "delivery" answers "When is it to be
    # delivered?" better than one whose date stands elsewhere. 0 for other questions.
    "answer_proximity",
    # Relative to the other passages (see MARGINS): a passage that backs the question, or places
    # the answer beside its terms, better than every other retrieved paragraph is likelier the answer.
    "semantic_margin",  # its semantic_support minus the best of the other passages'
    "proximity_margin",  # its answer_proximity minus the best of the other passages'
)
# Features that are a passage's value minus the best of the other passages' (set once all are known).
# The two added to `margin` were chosen by greedy forward selection over every passage feature's margin
# on the tune halves (`bench/select_margins.py`; README, "Abstention").
MARGINS = {
    "margin": "best_sentence_cosine",
    "semantic_margin": "semantic_support",
    "proximity_margin": "answer_proximity",
}
SENTENCE_FEATURES = (
    "cosine",  # cosine(question, sentence)
    "cosine_below_best",  # its paragraph's best sentence cosine minus this one's
    "coverage",  # weighted share of question terms whose stem the sentence holds
    "semantic_support",  # weighted cosine the sentence loses without each term it lacks
    "holds_type",  # holds what a typed question asks for (0 for other questions)
    "first",  # 1 for the paragraph's first sentence
    "log_chars",  # log of the sentence's length
    "soft_coverage",  # weighted mean over question terms of their best match in the sentence
)

_FOLLOW_UP = re.compile(r"^(?:and|also|what about|how about|and what about|what of|same for|then)\b", re.IGNORECASE)
_PRONOUN = re.compile(r"\b(?:it|its|they|them|their|this|that|these|those|he|she|there)\b", re.IGNORECASE)
# A sentence that opens by pointing back ("This will be the first contract…", "These include…") is about
# what the sentence before it names: its terms are read with that sentence's, and it is quoted with it.
_READS_ON = re.compile(r"^\W*(?:this|these|that|those|it|its|they|their|such)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Combiner:
    """A fitted logistic regression over named features."""

    weights: tuple[float, ...]
    intercept: float

    def probability(self, features: np.ndarray) -> np.ndarray:
        logits = features @ np.asarray(self.weights) + self.intercept
        return 1.0 / (1.0 + np.exp(-logits))


@dataclass(frozen=True)
class AnswererParams:
    """The fitted combiners and thresholds (see `bench/calibrate.py`)."""

    passage: Combiner  # probability that a retrieved paragraph answers the question
    sentence: Combiner  # probability that a sentence of an answering paragraph holds the answer
    abstain_below: float  # the best passage's probability below which the answerer abstains
    join_above: float  # passage probability from which another paragraph joins the answer
    quote_above: float  # sentence probability from which another sentence of a chosen paragraph is quoted
    max_chars: int = FACTOID_MAX_CHARS  # an answer grows by further sentences up to this length
    # For "how many X?": the least `Candidate.count_match` of a sentence that answers (what its count counts
    # must be X, by stem or static word vector: "two countries" does not say how many students).
    count_match_above: float = 0.0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AnswererParams:
        combiners = {}
        for name, features in (("passage", PASSAGE_FEATURES), ("sentence", SENTENCE_FEATURES)):
            fitted = data[name]
            if tuple(fitted["features"]) != features:
                raise ValueError(f"{PARAMS_FILE}: the {name} combiner was fitted on other features; re-run calibrate")
            combiners[name] = Combiner(tuple(float(w) for w in fitted["weights"]), float(fitted["intercept"]))
        return cls(
            passage=combiners["passage"],
            sentence=combiners["sentence"],
            abstain_below=float(data["abstain_below"]),
            join_above=float(data["join_above"]),
            quote_above=float(data["quote_above"]),
            max_chars=int(data.get("max_chars", FACTOID_MAX_CHARS)),
            count_match_above=float(data.get("count_match_above", 0.0)),
        )

    def to_json(self) -> dict[str, Any]:
        def combiner(fitted: Combiner, features: tuple[str, ...]) -> dict[str, Any]:
            return {
                "features": list(features),
                "weights": [round(w, 6) for w in fitted.weights],
                "intercept": round(fitted.intercept, 6),
            }

        return {
            "passage": combiner(self.passage, PASSAGE_FEATURES),
            "sentence": combiner(self.sentence, SENTENCE_FEATURES),
            "abstain_below": self.abstain_below,
            "join_above": self.join_above,
            "quote_above": self.quote_above,
            "max_chars": self.max_chars,
            "count_match_above": self.count_match_above,
        }


@functools.cache
def default_params() -> AnswererParams:
    """The parameters shipped in the package, as last fitted by `bench/calibrate.py`."""
    text = resources.files("qa").joinpath(PARAMS_FILE).read_text(encoding="utf-8")
    return AnswererParams.from_json(json.loads(text))


@dataclass
class Candidate:
    """One sentence of a retrieved paragraph."""

    paragraph: StoredParagraph
    sentence: StoredSentence
    similarity: float
    features: np.ndarray  # SENTENCE_FEATURES
    holds_type: bool  # holds what the question's wh-word asks for (always true for other questions)
    probability: float = 0.0
    also_holds: frozenset[AnswerType] = frozenset()  # which of the question's further kinds it holds
    # For "how many X?": how close what its counts count comes to X (`count_match`); 1 for other questions.
    count_match: float = 1.0
    # Whether count_match reaches the fitted `count_match_above` (set with the probabilities: `apply_params`).
    counts_asked: bool = True

    @property
    def answers_type(self) -> bool:
        """The hard condition on a sentence: it holds what the question asks for, and for "how many X?" a count of X."""
        return self.holds_type and self.counts_asked


@dataclass
class Passage:
    """One retrieved paragraph with its sentences."""

    paragraph: StoredParagraph
    rank: int
    features: np.ndarray  # PASSAGE_FEATURES
    sentences: list[Candidate]
    probability: float = 0.0
    # What else the question asks for ("where and when": a place besides the date), each to be held by
    # one of its sentences.
    also_asks: tuple[AnswerType, ...] = ()
    # Whether its statement names whom the question asks the words of ("What did Beijing say…?":
    # `qa.text.speaker_terms`); true when the question asks no one's words.
    names_speaker: bool = True

    @property
    def holds_type(self) -> bool:
        held = any(s.answers_type for s in self.sentences)
        return held and all(any(kind in s.also_holds for s in self.sentences) for kind in self.also_asks)

    @property
    def may_answer(self) -> bool:
        """The hard conditions: it holds what the question asks for, in a statement that names its speaker."""
        return self.holds_type and self.names_speaker


def _log_decision(
    question: str, passages: list[Passage], chosen: list[tuple[Passage, list[Candidate]]], threshold: float
) -> None:
    """At debug level (`statementbot -vv`), why the answer was chosen: the decision, then the top passages."""
    if not log.isEnabledFor(logging.DEBUG):
        return
    ranked = sorted(passages, key=lambda p: p.probability, reverse=True)[:CLOSEST_SHOWN]

    def described(passage: Passage) -> str:
        pairs = zip(PASSAGE_FEATURES, passage.features, strict=True)
        features = " ".join(f"{name}={value:.2f}" for name, value in pairs)
        return f"{passage.paragraph.doc_id} ¶{passage.paragraph.label} p={passage.probability:.3f} {features}"

    best = described(ranked[0]) if ranked else "no evidence"
    log.debug("%s %r: best %s (threshold %.2f)", "answer" if chosen else "abstain on", question, best, threshold)
    for passage in ranked[1:]:
        log.debug("  next %s", described(passage))


def _without(query: str, term: str) -> str:
    return re.sub(rf"\b{re.escape(term)}\w*", " ", query, flags=re.IGNORECASE)


class ExtractiveAnswerer:
    """Sentence-level extractive answers with fitted, calibrated abstention."""

    backend = "extractive"

    def __init__(
        self,
        retriever: HybridRetriever,
        *,
        abstain_threshold: float | None = None,
        params: AnswererParams | None = None,
        term_vectors: TermVectors | None = None,
    ) -> None:
        """`abstain_threshold` (setting `abstain_threshold`) overrides the fitted `abstain_below`."""
        self.retriever = retriever
        self.params = params or default_params()
        self.abstain_threshold = self.params.abstain_below if abstain_threshold is None else abstain_threshold
        self._term_vectors = term_vectors
        self._variant_encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="statementbot-variants")

    @property
    def term_vectors(self) -> TermVectors:
        """The embedding model's static token vectors, read on first use (`warm`, or the first question)."""
        if self._term_vectors is None:
            self._term_vectors = bundled_term_vectors()
        return self._term_vectors

    def close(self) -> None:
        """Stop the thread that embeds the question's variants."""
        self._variant_encoder.shutdown(wait=True)

    def warm(self) -> None:
        """Read what answering needs beyond retrieval (the static token vectors) before the first question."""
        _ = self.term_vectors

    # Public -----------------------------------------------------------------
    def answer(
        self, question: str, *, conversation: Conversation | None = None, search_filter: SearchFilter | None = None
    ) -> Answer:
        query = self.condense(question, conversation)
        result, without_term = self.search(query, search_filter=search_filter)
        return self.answer_from(question, result, without_term=without_term)

    def search(
        self, query: str, *, search_filter: SearchFilter | None = None, k: int = EVIDENCE_PARAGRAPHS + 2
    ) -> tuple[SearchResult, dict[str, np.ndarray]]:
        """Retrieve for `query`; also the query's vector without each of its terms (for the term weights)."""
        terms = content_terms(query)
        encode = self.retriever.store.embedder.encode
        vector = encode([query])[0]
        # Retrieval needs only the question's vector; the variants (for the term weights) are
        # embedded meanwhile, while the searches wait on Chroma and SQLite.
        variants = self._variant_encoder.submit(encode, [_without(query, term) for term in terms]) if terms else None
        try:
            result = self.retriever.search(query, k=k, search_filter=search_filter, query_vector=vector)
        finally:
            vectors = variants.result() if variants is not None else np.zeros((0, len(vector)), dtype=np.float32)
        return result, dict(zip(terms, vectors, strict=True))

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
        multi_doc = len(result.documents) > 1
        if not result.hits:
            return Answer(question, ABSTAIN_PHRASE, (), True, (), retrieval_query=result.query)
        if result.exact:
            citations = tuple(citation_of(h.paragraph, result, h.paragraph.text) for h in result.hits)
            text = " ".join(f"{c.text} {c.marker(with_document=multi_doc)}" for c in citations)
            return Answer(question, text, citations, False, retrieval_query=result.query, reference=True)
        passages = self.candidates(result, without_term=without_term)
        chosen = self.choose(passages)
        _log_decision(question, passages, chosen, self.abstain_threshold)
        if not chosen:
            closest = closest_passages(passages, result)
            return Answer(question, ABSTAIN_PHRASE, (), True, closest, retrieval_query=result.query)
        return self._compose(question, chosen, result, multi_doc)

    # The three decisions ----------------------------------------------------
    def choose(self, passages: list[Passage]) -> list[tuple[Passage, list[Candidate]]]:
        """The answer's paragraphs with the sentences quoted from each; empty to abstain."""
        return choose_quotes(
            passages,
            self.abstain_threshold,
            self.params.join_above,
            self.params.quote_above,
            max_chars=self.params.max_chars,
        )

    def candidates(self, result: SearchResult, *, without_term: dict[str, np.ndarray] | None = None) -> list[Passage]:
        """The top paragraphs and their sentences, with features and fitted probabilities."""
        hits = result.hits[:EVIDENCE_PARAGRAPHS]
        ranks = {h.paragraph.key: rank for rank, h in enumerate(hits)}
        sentences, texts = _quotable(self.retriever.sentences_for(list(ranks), version=result.corpus_version))
        if not sentences:
            return []
        matrix = np.stack([s.vector for s in sentences])
        similarities = matrix @ result.query_vector
        # "G7" in "What did the G7 say about Ukraine?" chose the statement; the
        # evidence need not repeat it.
        terms = [term for term in content_terms(result.query) if term not in result.naming_words]
        weights, gains = self._term_weights(result, terms, matrix, without_term)
        total = sum(weights.values()) or 1.0
        term_stems = {term: stem(term) for term in weights}
        kind, *also = answer_types_of(result.query)
        typed = 0.0 if kind is AnswerType.ANY else 1.0
        # What a name must not be, for "who" and "which" (`_spans_of`).
        known, capitalised = (
            _known_words(result) if {AnswerType.PERSON, AnswerType.NAME} & {kind, *also} else (set(), frozenset())
        )
        # Whether the question names the office it asks about; the statements' dates before which no date
        # answers a question about what is yet to come. Both read the question once, not once per paragraph.
        name_only, not_before_in = asks_for_a_name(result.query), _not_before(result, (kind, *also))
        asked = {stem(term) for term in content_terms(result.query)}
        count_match = count_matcher(result.query, self.term_vectors)  # for "how many X?", a sentence's match with X
        by_paragraph: dict[str, list[int]] = {}
        for index, sentence in enumerate(sentences):
            by_paragraph.setdefault(sentence.paragraph_key, []).append(index)
        top_fused, top_lexical = hits[0].score or 1.0, max((h.lexical for h in hits), default=0.0) or 1.0
        best_overall = float(similarities.max())
        term_list = list(weights)
        shares = np.array([weights[t] / total for t in term_list])
        soft_by_paragraph, evidence_missing = self._soft_evidence(hits, term_list, shares)
        passages = []
        for hit in hits:
            indexes = by_paragraph.get(hit.paragraph.key)
            if not indexes:
                continue
            columns, soft = soft_by_paragraph[hit.paragraph.key]
            not_before = not_before_in.get(hit.paragraph.doc_id)
            paragraph_best = _best_per_term(soft, list(columns.values()))
            lacking = _unbacked(term_stems, hit.paragraph.text)
            best = max(float(similarities[i]) for i in indexes)
            candidates: list[Candidate] = []
            coverages, semantics, proximities = [], [], []
            for index in indexes:
                sentence = sentences[index]
                similarity = float(similarities[index])
                evidence = _read_on(sentence, texts)
                absent = _unbacked(term_stems, evidence)
                coverage = 1.0 - sum(weights[t] for t in absent) / total
                semantic = sum(weights[t] * max(float(gains[t][index]), 0.0) for t in absent) / total
                holds, proximity = _answer_proximity(
                    kind,
                    sentence.text,
                    columns,
                    soft,
                    shares,
                    known=known,
                    capitalised=capitalised,
                    name_only=name_only,
                    asked=asked,
                    not_before=not_before,
                )
                sentence_best = _best_per_term(soft, _columns_of(columns, evidence))
                features = np.array(
                    [
                        similarity,
                        best - similarity,
                        coverage,
                        semantic,
                        1.0 if holds and typed else 0.0,
                        1.0 if sentence.index == 0 else 0.0,
                        math.log(max(len(sentence.text), 1)),
                        float(shares @ sentence_best) if term_list else 1.0,
                    ]
                )
                candidates.append(
                    Candidate(
                        hit.paragraph,
                        sentence,
                        similarity,
                        features,
                        holds,
                        also_holds=frozenset(
                            k
                            for k in also
                            if _answers(k, sentence.text, known, asked, capitalised=capitalised, not_before=not_before)
                        ),
                        count_match=count_match(sentence.text),
                    )
                )
                proximities.append(proximity)
                coverages.append(coverage)
                semantics.append(sum(weights[t] * max(float(gains[t][index]), 0.0) for t in lacking) / total)
            features = np.array(
                [
                    best,
                    best - best_overall,
                    hit.dense,
                    1.0 / (1 + ranks[hit.paragraph.key]),
                    hit.score / top_fused,
                    hit.lexical / top_lexical,
                    1.0 - sum(weights[t] for t in lacking) / total,
                    max(coverages),
                    max(semantics),
                    max((weights[t] / total for t in lacking), default=0.0),
                    0.0,  # margin: set below, once every paragraph's best is known
                    typed,
                    math.log(max(len(hit.paragraph.text), 1)),
                    float(shares @ paragraph_best) if term_list else 1.0,
                    float(np.max(shares * (1.0 - paragraph_best), initial=0.0)),
                    evidence_missing,
                    max(proximities),
                    0.0,  # semantic_margin, proximity_margin: set below
                    0.0,
                ]
            )
            passages.append(
                Passage(hit.paragraph, ranks[hit.paragraph.key], features, candidates, also_asks=tuple(also))
            )
        return self._settled(result, passages)

    def _settled(self, result: SearchResult, passages: list[Passage]) -> list[Passage]:
        """Once every passage's own features are known: its margins, its probability, and the speaker check."""
        set_margins(passages)
        apply_params(passages, self.params)
        self._check_speaker(result, passages)
        return passages

    def _check_speaker(self, result: SearchResult, passages: list[Passage]) -> None:
        """Mark the passages whose statement does not name whom the question asks the words of.

        "What did Beijing say about the Biden-Widodo statement?" is answered by no sentence of a
        statement that never names Beijing, however close its topic: a U.S. readout does not report
        another government's reaction. The whole statement counts (its title and every paragraph), not
        the passage alone, so "what did Biden and Ardern say…?" is answered by a paragraph that calls
        them "the two leaders"; one of the speaker's words suffices ("the IAEA head"): in the title and the
        retrieved paragraphs by stem, abbreviation or word start (`_names_any`), elsewhere in the statement
        by the BM25 index's words and word starts (`LexicalIndex.documents_holding`)."""
        speakers = [term for term in speaker_terms(result.query) if term not in result.naming_words]
        if not speakers:
            return
        speaker_stems = {term: stem(term) for term in speakers}
        # The title and the retrieved paragraphs first (stems, abbreviations, word starts); then, for a
        # statement they do not name the speaker in, its other paragraphs, through the BM25 index (reading
        # whole statements from Chroma cost ~100 ms each at archive scale).
        evidence: dict[str, list[str]] = {}
        for passage in passages:
            record = result.documents.get(passage.paragraph.doc_id)
            evidence.setdefault(passage.paragraph.doc_id, [record.title if record else ""]).append(
                passage.paragraph.text
            )
        named = {doc_id for doc_id, texts in evidence.items() if _names_any(speaker_stems, " ".join(texts))}
        unnamed = [doc_id for doc_id in evidence if doc_id not in named]
        named |= self.retriever.lexical.documents_holding(speakers, unnamed, version=result.corpus_version)
        for passage in passages:
            passage.names_speaker = passage.paragraph.doc_id in named

    def _soft_evidence(
        self, hits: list[Hit], terms: list[str], shares: np.ndarray
    ) -> tuple[dict[str, tuple[dict[str, int], np.ndarray]], float]:
        """Per paragraph, its words' columns and the terms x words soft similarities; and `evidence_missing`."""
        soft: dict[str, tuple[dict[str, int], np.ndarray]] = {}
        evidence_best = np.zeros(len(terms))
        for hit in hits:
            words = evidence_words(hit.paragraph.text)
            similarities = self._soft_similarities(terms, words)
            soft[hit.paragraph.key] = ({w: i for i, w in enumerate(words)}, similarities)
            if similarities.size:
                evidence_best = np.maximum(evidence_best, similarities.max(axis=1))
        return soft, float(np.max(shares * (1.0 - evidence_best), initial=0.0))

    def _soft_similarities(self, terms: list[str], words: list[str]) -> np.ndarray:
        """terms x words cosines of the static token vectors (a word always matches itself with 1)."""
        if not terms or not words:
            return np.zeros((len(terms), len(words)))
        vectors = self.term_vectors
        return np.clip(vectors.matrix(terms) @ vectors.matrix(words).T, 0.0, 1.0)

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
        idf = self.retriever.lexical.idf(terms, version=result.corpus_version)
        base = matrix @ result.query_vector
        weights: dict[str, float] = {}
        gains: dict[str, np.ndarray] = {}
        for term in terms:
            vector = without_term[term]
            # A floor keeps a term the model barely notices from weighing exactly nothing.
            importance = max(1.0 - float(vector @ result.query_vector), 1e-3)
            weights[term] = importance * idf[term]
            gains[term] = base - matrix @ vector
        return weights, gains

    def _compose(
        self, question: str, chosen: list[tuple[Passage, list[Candidate]]], result: SearchResult, multi_doc: bool
    ) -> Answer:
        parts: list[str] = []
        citations: list[Citation] = []
        for passage, quoted in chosen:
            # Sentences in document order within a paragraph; paragraphs in order of probability.
            quote = " ".join(c.sentence.text for c in sorted(quoted, key=lambda c: c.sentence.index))
            citation = citation_of(passage.paragraph, result, quote)
            citations.append(citation)
            parts.append(f"{quote} {citation.marker(with_document=multi_doc)}")
        return Answer(question, " ".join(parts), tuple(citations), False, retrieval_query=result.query)


def count_matcher(
    question: str, vectors: TermVectors, *, after: int = COUNTED_WORDS, before: int = COUNTED_WORDS_BEFORE
) -> Callable[[str], float]:
    """For "how many X?", a sentence's `Candidate.count_match` (`count_match`); 1 for other questions.
    `bench/calibrate.py` calls it with other windows."""
    counted = counted_terms(question) if answer_types_of(question)[0] is AnswerType.COUNT else []
    if not counted:
        return lambda _text: 1.0
    return functools.partial(count_match, counted=counted, vectors=vectors, after=after, before=before)


def count_match(
    text: str,
    *,
    counted: list[str],
    vectors: TermVectors,
    after: int = COUNTED_WORDS,
    before: int = COUNTED_WORDS_BEFORE,
) -> float:
    """How close the best of the counts in `text` comes to counting what "how many …?" counts (`counted`):
    1 when a counted word shares a stem with it ("six nuclear reactors" for "how many reactors"), else the
    best static cosine ("200 American-made aircraft" for "how many planes": 0.61), 0 without a count. What a
    count counts: `qa.text.counted_words`, in windows of `after` and `before` words (`bench/calibrate.py`
    compares others)."""
    counted_stems = {stem(word) for word in counted}
    counted_vectors = vectors.matrix(counted)
    best = 0.0
    for span in count_spans(text):
        words = counted_words(text, span, after=after, before=before)
        if not words:
            continue
        if counted_stems & {stem(word) for word in words}:
            return 1.0
        best = max(best, float((counted_vectors @ vectors.matrix(words).T).max()))
    return best


def _unbacked(term_stems: dict[str, str], text: str) -> list[str]:
    """The terms (keys of `term_stems`, in order) whose stem `text` does not back; `text` is stemmed once."""
    backed = evidence_stems(text)
    return [term for term, term_stem in term_stems.items() if term_stem not in backed]


def _names_any(term_stems: dict[str, str], text: str) -> bool:
    """Whether `text` backs one of the terms: by stem or abbreviation, or by a word of four letters or more
    that begins with the term or that the term begins with ("Australia" in "Australian-hosted", as
    `qa.text.names_someone` reads names)."""
    if len(_unbacked(term_stems, text)) < len(term_stems):
        return True
    words = set(tokenize(text))
    return any(
        len(word) >= 4 and len(term) >= 4 and (word.startswith(term) or term.startswith(word))
        for term in term_stems
        for word in words
    )


def _quotable(stored: list[StoredSentence]) -> tuple[list[StoredSentence], dict[tuple[str, int], str]]:
    """The quotable sentences, and every sentence's text by (paragraph key, index) to read them on from."""
    return [s for s in stored if quotable(s.text)], {(s.paragraph_key, s.index): s.text for s in stored}


def points_back(sentence: StoredSentence) -> bool:
    """Whether a sentence opens by pointing back to the sentence before it ("This will be…")."""
    return sentence.index > 0 and bool(_READS_ON.match(sentence.text))


def _read_on(sentence: StoredSentence, texts: dict[tuple[str, int], str]) -> str:
    """The sentence's text, after the sentence before it when it points back to it."""
    before = texts.get((sentence.paragraph_key, sentence.index - 1)) if points_back(sentence) else None
    return f"{before} {sentence.text}" if before else sentence.text


def margins_of(values: np.ndarray) -> np.ndarray:
    """Each value minus the best of the others (minus 0 for a value alone)."""
    if len(values) < 2:
        return values - 0.0
    order = np.argsort(values)
    best, runner_up = values[order[-1]], values[order[-2]]
    others_best = np.full(len(values), best)
    others_best[order[-1]] = runner_up
    return values - others_best


def set_margins(passages: list[Passage]) -> None:
    """Set each MARGINS feature from the feature it is the margin of."""
    if not passages:
        return
    matrix = np.stack([p.features for p in passages])
    for name, of in MARGINS.items():
        column = margins_of(matrix[:, PASSAGE_FEATURES.index(of)])
        for passage, value in zip(passages, column, strict=True):
            passage.features[PASSAGE_FEATURES.index(name)] = float(value)


def _not_before(result: SearchResult, kinds: tuple[AnswerType, ...]) -> dict[str, date]:
    """By statement, the date before which no date answers: its own, for a question asking when something
    yet to come will be (`qa.text.asks_about_the_future`); none for any other question."""
    if AnswerType.DATE not in kinds or not asks_about_the_future(result.query):
        return {}
    records = (result.documents.get(hit.paragraph.doc_id) for hit in result.hits)
    return {record.id: record.date for record in records if record is not None and record.date is not None}


def _known_words(result: SearchResult) -> tuple[set[str], frozenset[str]]:
    """What a name must not be (`qa.text.names_someone`): the question's words and every word the
    retrieved paragraphs write in lower case; and the words they capitalise within a sentence (after
    a lower-case word or a comma), which alone may be names as a sentence's first word (`_naming`)."""
    known = set(tokenize(result.query))
    capitalised: set[str] = set()
    for hit in result.hits:
        known.update(_LOWER_WORD.findall(hit.paragraph.text))
        capitalised.update(word.lower() for word in _MID_SENTENCE_CAPITAL.findall(hit.paragraph.text))
    return known, frozenset(capitalised)


_LOWER_WORD = re.compile(r"\b[a-z][a-z'’-]+")
_MID_SENTENCE_CAPITAL = re.compile(r"(?<=[a-z,;] )[A-Z][\w'’-]*")
# Where a sentence's first word starts: after nothing but opening quotes, brackets or list marks.
_SENTENCE_OPENING = re.compile(r"^[\s\"'“‘(*•-]*$")
# An acronym ("SWIFT", "IAEA"): a name for "which …?", though `names_someone` reads only words
# written as names ("Sberbank"), since "U.S." or "UK" name no person.
_ACRONYM = re.compile(r"\b[A-Z]{2,}\b")


def _answer_proximity(
    kind: AnswerType,
    text: str,
    columns: dict[str, int],
    soft: np.ndarray,
    shares: np.ndarray,
    *,
    known: set[str],
    capitalised: frozenset[str] = frozenset(),
    name_only: bool = False,
    asked: set[str],
    not_before: date | None = None,
) -> tuple[bool, float]:
    """Whether a sentence holds what the question asks for, and the soft coverage of the question's
    terms by its words within PROXIMITY_CHARS of it (0 for an untyped question or without terms).
    A span whose every word the question already says (the stems `asked`) answers nothing ("in Jamaica"
    to "Where in Jamaica will the centre be?"); the words beside it are still read for the proximity."""
    spans = _spans_of(kind, text, known, name_only=name_only, capitalised=capitalised)
    holds = kind is AnswerType.ANY or _holds(text, _current(kind, text, spans, not_before), asked)
    if not spans or not shares.size:
        return holds, 0.0
    near = " … ".join(text[max(start - PROXIMITY_CHARS, 0) : end + PROXIMITY_CHARS] for start, end in spans)
    return holds, float(shares @ _best_per_term(soft, _columns_of(columns, near)))


def _spans_of(
    kind: AnswerType,
    text: str,
    known: set[str],
    *,
    name_only: bool = False,
    capitalised: frozenset[str] = frozenset(),
) -> list[tuple[int, int]]:
    """Where `text` holds what `kind` asks for. "Who" is answered by a person or an office, or by a
    named party (a country, an organisation) that is a name beyond the `known` words (`names_someone`);
    for a question that names the office it asks about (`name_only`), only a person span with a name;
    "which …?" by a name, an acronym included. `capitalised`: see `_naming`."""
    spans = answer_spans(kind, text)
    if kind is AnswerType.NAME:
        return _naming(text, spans, known, capitalised, acronyms=True)
    if kind is AnswerType.PERSON and name_only:
        return _naming(text, spans, known, capitalised)
    if kind is AnswerType.PERSON:
        return spans + _naming(text, party_spans(text), known, capitalised)
    return spans


def _answers(
    kind: AnswerType,
    text: str,
    known: set[str],
    asked: set[str],
    *,
    capitalised: frozenset[str],
    not_before: date | None,
) -> bool:
    """Whether `text` holds what `kind` asks for, saying more than the question (`_holds`), at a date that
    may answer (`_current`): the test of a question's further kinds ("where and when")."""
    spans = _spans_of(kind, text, known, capitalised=capitalised)
    return _holds(text, _current(kind, text, spans, not_before), asked)


def _current(
    kind: AnswerType, text: str, spans: list[tuple[int, int]], not_before: date | None
) -> list[tuple[int, int]]:
    """The spans that may answer: with `not_before` (a question about what is yet to come, asked of a
    statement of that date), a date before it answers nothing ("October 2024" in a statement of August 2025
    says when something was done, not when it will be). The words beside such a date still count for the
    answer proximity, as those beside a span the question already says do."""
    if kind is not AnswerType.DATE or not_before is None:
        return spans
    return [span for span in spans if not before(span, text, not_before)]


def _naming(
    text: str, spans: list[tuple[int, int]], known: set[str], capitalised: frozenset[str], *, acronyms: bool = False
) -> list[tuple[int, int]]:
    """The spans that name someone or something beyond the `known` words (`qa.text.names_someone`).

    Every sentence starts with a capital, so a sentence's first word is a name only when the retrieved
    text also capitalises it within a sentence (the words `capitalised`): "First, we commit to…" names
    nothing, "Treasury designated…" names the Treasury written so elsewhere. With `acronyms` (for
    "which …?"), an acronym the question does not say is a name too ("SWIFT" answers "which payment
    network…?")."""
    kept = []
    for start, end in spans:
        span = text[start:end]
        first = span.split()[0]
        if _SENTENCE_OPENING.match(text[:start]) and first.lower() not in capitalised:
            span = span[len(first) :]
        if names_someone(span, known) or (
            acronyms and any(acronym.lower() not in known for acronym in _ACRONYM.findall(span))
        ):
            kept.append((start, end))
    return kept


def _holds(text: str, spans: list[tuple[int, int]], asked: set[str]) -> bool:
    """Whether one of the answer spans of `text` says something the question does not."""
    return any(_tells_more(text[start:end], asked) for start, end in spans)


def _tells_more(span: str, asked: set[str]) -> bool:
    """Whether a span says a word (by stem) the question does not; a span without content words counts."""
    terms = content_terms(span)
    return not terms or any(stem(term) not in asked for term in terms)


def _columns_of(columns: dict[str, int], text: str) -> list[int]:
    """The columns (in a paragraph's soft-similarity matrix) of the evidence words of `text`."""
    return [columns[word] for word in evidence_words(text) if word in columns]


def _best_per_term(similarities: np.ndarray, columns: list[int]) -> np.ndarray:
    """Each term's best soft match among the given words' columns (0 without words)."""
    if not columns or not similarities.size:
        return np.zeros(similarities.shape[0])
    return similarities[:, columns].max(axis=1)


@functools.lru_cache(maxsize=32768)  # a pure test of the text; the same paragraphs return question after question
def quotable(sentence: str) -> bool:
    """Whether a paragraph's sentence may be quoted: the citation check (`qa.citations`) keeps it verbatim.

    The check removes a sentence that states nothing it can verify (a list
    marker the sentence splitter left on its own, "28.", or a lead-in, "This
    includes:") and never counts a sentence that gives orders as evidence
    (`is_instruction`). Such sentences are no candidates, so every sentence an
    extractive answer quotes passes the check unchanged.
    """
    return not content_of(sentence).empty and not is_instruction(sentence)


def apply_params(passages: list[Passage], params: AnswererParams) -> None:
    """Set every passage's and sentence's probability from the fitted combiners."""
    if not passages:
        return
    for passage, probability in zip(
        passages, params.passage.probability(np.stack([p.features for p in passages])), strict=True
    ):
        passage.probability = float(probability)
    sentences = [c for p in passages for c in p.sentences]
    for sentence, probability in zip(
        sentences, params.sentence.probability(np.stack([c.features for c in sentences])), strict=True
    ):
        sentence.probability = float(probability)
        sentence.counts_asked = sentence.count_match >= params.count_match_above


def choose_quotes(
    passages: list[Passage],
    abstain_below: float,
    join_above: float,
    quote_above: float,
    *,
    max_chars: int = FACTOID_MAX_CHARS,
) -> list[tuple[Passage, list[Candidate]]]:
    """The answer's paragraphs, best first, each with its quoted sentences; none to abstain.

    Decisions 2 and 3 of the module docstring. The answer type is a hard
    condition: only a paragraph with a sentence that holds what the question
    asks for (a date for "when") may answer, and that sentence leads its quote;
    so is the speaker of a "what did X say?" question (`Passage.names_speaker`).
    """
    eligible = sorted((p for p in passages if p.may_answer), key=lambda p: p.probability, reverse=True)
    if not eligible or eligible[0].probability < abstain_below:
        return []
    chosen: list[tuple[Passage, list[Candidate]]] = []
    length = 0
    for passage in eligible:
        if chosen and passage.probability < join_above:
            break
        ranked = sorted(passage.sentences, key=lambda c: c.probability, reverse=True)
        lead = next(c for c in ranked if c.answers_type)
        if chosen and length + len(lead.sentence.text) > max_chars:
            continue
        quoted = [lead]
        length += len(lead.sentence.text)
        for item in ranked:
            if item is lead or item.probability < quote_above:
                continue
            if length + len(item.sentence.text) <= max_chars:
                quoted.append(item)
                length += len(item.sentence.text)
        length += _with_antecedents(passage, quoted, max_chars - length)
        chosen.append((passage, quoted))
    return chosen


def _with_antecedents(passage: Passage, quoted: list[Candidate], room: int) -> int:
    """Quote the sentence each quoted one points back to ("This will be…"), where it fits in `room`
    characters, so that no quote opens on a reference to nothing. Returns the characters added."""
    by_index = {c.sentence.index: c for c in passage.sentences}
    added = 0
    for item in list(quoted):
        antecedent = by_index.get(item.sentence.index - 1)
        if not points_back(item.sentence) or antecedent is None or antecedent in quoted:
            continue
        if added + len(antecedent.sentence.text) <= room:
            quoted.append(antecedent)
            added += len(antecedent.sentence.text)
    return added


def closest_passages(passages: list[Passage], result: SearchResult) -> tuple[Citation, ...]:
    """The paragraphs shown under an abstention, each with its sentence closest to the question as `quote`.

    Paragraphs come in the order of their fitted probability, so the likely
    answer the answerer did not trust enough is shown first.
    """
    if not passages:
        return tuple(citation_of(h.paragraph, result) for h in result.hits[:CLOSEST_SHOWN])
    ordered = sorted(passages, key=lambda p: p.probability, reverse=True)[:CLOSEST_SHOWN]
    return tuple(
        citation_of(p.paragraph, result, max(p.sentences, key=lambda c: c.similarity).sentence.text) for p in ordered
    )


def citation_of(paragraph: StoredParagraph, result: SearchResult, quote: str = "") -> Citation:
    """A Citation for a retrieved paragraph, with its document's title and source."""
    return citation_from(paragraph, result.documents.get(paragraph.doc_id), quote)
