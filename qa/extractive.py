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

import re
from dataclasses import dataclass

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
TERM_CONTRIBUTION = 0.04
EVIDENCE_PARAGRAPHS = 6
FACTOID_MAX_CHARS = 400
LIST_MAX_CHARS = 900
MAX_SENTENCES = 4
CLOSEST_SHOWN = 3

_LIST_QUESTION = re.compile(
    r"^(?:what|which)\s+(?:\w+\s+){0,3}?(?:are|were)\s+(?:\w+\s+){0,3}?(?:mentioned|listed|named|discussed|referenced|cited|covered)\b"
    r"|\b(?:list|enumerate)\b|\ball the\b|\bwhich (?:\w+ )?(?:exercises|countries|programmes|programs|agreements|areas|domains)\b",
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

    @property
    def score(self) -> float:
        return 0.55 * self.similarity + 0.45 * self.support - 0.01 * self.rank


def _stem(token: str) -> str:
    for suffix in ("ational", "ation", "ities", "ity", "ing", "ies", "ied", "ed", "es", "s", "ly", "al", "ive"):
        if token.endswith(suffix) and len(token) - len(suffix) >= 4:
            return token[: -len(suffix)]
    return token


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
        result = self.retriever.search(query, k=EVIDENCE_PARAGRAPHS + 2, search_filter=search_filter)
        return self.answer_from(question, result)

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

    def answer_from(self, question: str, result: SearchResult) -> Answer:
        documents = result.documents
        multi_doc = len(documents) > 1
        if not result.hits:
            return Answer(question, ABSTAIN_PHRASE, (), True, (), retrieval_query=result.query)
        if result.exact:
            citations = tuple(self._citation(h.paragraph, result, h.paragraph.text) for h in result.hits)
            text = " ".join(f"{c.text} {c.marker(with_document=multi_doc)}" for c in citations)
            return Answer(question, text, citations, False, retrieval_query=result.query)
        evidence = self.score_evidence(result)
        closest = tuple(self._citation(h.paragraph, result) for h in result.hits[:CLOSEST_SHOWN])
        if not evidence:
            return Answer(question, ABSTAIN_PHRASE, (), True, closest, retrieval_query=result.query)
        best = evidence[0]
        if best.support < self.support_threshold or best.similarity < MIN_SIMILARITY:
            return Answer(question, ABSTAIN_PHRASE, (), True, closest, retrieval_query=result.query)
        chosen = self._select(question, evidence)
        return self._compose(question, chosen, result, multi_doc)

    # Evidence ---------------------------------------------------------------
    def score_evidence(self, result: SearchResult) -> list[Evidence]:
        hits = result.hits[:EVIDENCE_PARAGRAPHS]
        paragraphs = {h.paragraph.key: (rank, h.paragraph) for rank, h in enumerate(hits)}
        sentences = self.retriever.store.sentences_for(list(paragraphs))
        if not sentences:
            return []
        matrix = np.stack([s.vector for s in sentences])
        similarities = matrix @ result.query_vector
        terms = content_terms(result.query)
        weights = self.retriever.lexical.idf(terms) if terms else {}
        contributions = self._contributions(result, terms, matrix)
        evidence = []
        for index, sentence in enumerate(sentences):
            rank, paragraph = paragraphs[sentence.paragraph_key]
            support = self._support(terms, weights, paragraph.text, contributions, index)
            evidence.append(Evidence(paragraph, sentence, float(similarities[index]), support, rank))
        evidence.sort(key=lambda e: e.score, reverse=True)
        return evidence

    def _contributions(self, result: SearchResult, terms: list[str], matrix: np.ndarray) -> dict[str, np.ndarray]:
        """For each term, how much it raises the question's cosine with each sentence."""
        if len(terms) < 2:
            return {}
        ablated = []
        for term in terms:
            ablated.append(re.sub(rf"\b{re.escape(term)}\w*", " ", result.query, flags=re.IGNORECASE))
        vectors = self.retriever.store.embedder.encode(ablated)
        base = matrix @ result.query_vector
        return {term: base - matrix @ vectors[i] for i, term in enumerate(terms)}

    @staticmethod
    def _support(
        terms: list[str],
        weights: dict[str, float],
        paragraph_text: str,
        contributions: dict[str, np.ndarray],
        index: int,
    ) -> float:
        if not terms:
            return 1.0
        stems = {_stem(t) for t in tokenize(paragraph_text)}
        total = sum(weights.values()) or 1.0
        supported = 0.0
        for term in terms:
            if _stem(term) in stems or term in stems:
                supported += weights[term]
            elif term in contributions:
                gain = float(contributions[term][index])
                supported += weights[term] * min(max(gain / TERM_CONTRIBUTION, 0.0), 1.0)
        return supported / total

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
            if length + len(item.sentence.text) > FACTOID_MAX_CHARS:
                continue
            chosen.append(item)
            length += len(item.sentence.text)
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
            citation = self._citation(items[0].paragraph, result, quote)
            citations.append(citation)
            parts.append(f"{quote} {citation.marker(with_document=multi_doc)}")
        return Answer(question, " ".join(parts), tuple(citations), False, retrieval_query=result.query)

    @staticmethod
    def _citation(paragraph: StoredParagraph, result: SearchResult, quote: str = "") -> Citation:
        record = result.documents.get(paragraph.doc_id)
        return Citation(
            doc_id=paragraph.doc_id,
            title=record.title if record else paragraph.doc_id,
            label=paragraph.label,
            text=paragraph.text,
            source=record.source if record else "",
            quote=quote,
        )
