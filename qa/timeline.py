"""Questions over time: one cited line per statement that addresses the topic, in date order.

"How has the language on Taiwan changed since 2021?" and "What did the statements say
about climate over the years?" ask for the same thing: for every statement on the topic,
its date and the sentence that says it. A question is a timeline question when it asks
about change over time (a general pattern of phrasing, not a list of topics), or when the
user asks for one (`ask --timeline`).

The topic is the question without its time frame and without the words that describe how
statements talk ("language", "wording"). Candidate statements come from one hybrid
search; each candidate's best sentence is scored with the extractive answerer's own features
(cosine, coverage of the topic's weighted terms, and its fitted probability that the paragraph
answers). A statement *addresses the topic* when its best sentence reaches the thresholds fitted
by `bench/fit_timeline.py` on hand-labelled timeline queries over archive statements
(`qa/timeline_params.json`). Statements that do not are left out; when none does, the answer abstains.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from prompts import ABSTAIN_PHRASE
from qa.citations import final_check
from qa.extractive import PASSAGE_FEATURES, Candidate, ExtractiveAnswerer
from qa.reading import citation_from
from qa.text import content_terms
from qa.types import Answer, CheckReport, Citation
from vectorstore.retrieval import SearchFilter
from vectorstore.store import DocumentRecord, StoredParagraph, StoredSentence

PARAMS_PATH = Path(__file__).with_name("timeline_params.json")
# Paragraphs searched for candidate statements: a topic rarely takes more than a few
# paragraphs of one statement, so this reaches a few dozen statements.
CANDIDATE_PARAGRAPHS = 60
MAX_LINES = 25

_YEAR = r"(?:19|20)\d\d"
# Phrasings that ask how something developed across statements.
_OVER_TIME = re.compile(
    rf"\b(?:over|across|through(?:out)?)\s+(?:the\s+)?(?:years|time|decades?)\b"
    rf"|\b(?:since|between)\s+{_YEAR}\b"
    rf"|\b(?:year\s+(?:by|after|on)\s+year|timeline|chronolog\w*|evolv\w*|evolution)\b"
    rf"|\bhow\s+(?:has|have)\b.*\b(?:changed|shifted|moved|developed)\b"
    rf"|\bhow\s+did\b.*\b(?:change|shift)\b",
    re.IGNORECASE,
)
_SINCE = re.compile(rf"\b(?:since|from|after|between)\s+({_YEAR})\b", re.IGNORECASE)
_UNTIL = re.compile(rf"\b(?:until|till|to|through|before|and)\s+({_YEAR})\b", re.IGNORECASE)
# Words about how statements talk, not what they talk about.
_FRAME_WORDS = frozenset(
    """language wording words word tone position positions stance stances view views rhetoric messaging approach
    describe described describes talk talked discuss discussed refer referred changed change changes changing
    evolved evolve evolving shifted shift moved develop developed over years year time timeline since between
    across throughout through decades""".split()
)


@dataclass(frozen=True)
class TimelineParams:
    support: float
    similarity: float
    probability: float = 0.0

    @classmethod
    def load(cls, path: Path = PARAMS_PATH) -> TimelineParams:
        params = json.loads(path.read_text(encoding="utf-8"))["params"]
        return cls(
            support=float(params["support"]),
            similarity=float(params["similarity"]),
            probability=float(params.get("probability", 0.0)),
        )


def is_timeline_question(question: str) -> bool:
    return bool(_OVER_TIME.search(question))


def time_frame(question: str) -> tuple[date | None, date | None]:
    """ "since 2021" -> from 1 January 2021; "between 2021 and 2023" -> to 31 December 2023."""
    since = _SINCE.search(question)
    until = _UNTIL.search(question)
    start = date(int(since.group(1)), 1, 1) if since else None
    end = date(int(until.group(1)), 12, 31) if until else None
    return start, end


def topic_of(question: str) -> str:
    """The question's topic words: no time frame, no words about wording."""
    terms = [t for t in content_terms(question) if t not in _FRAME_WORDS and not re.fullmatch(_YEAR, t)]
    return " ".join(terms)


_COVERAGE = PASSAGE_FEATURES.index("coverage")


@dataclass(frozen=True)
class Evidence:
    """A statement's best sentence for the topic, with what decides whether the statement addresses it."""

    candidate: Candidate
    support: float  # weighted share of the topic's terms its paragraph holds (the answerer's "coverage")
    similarity: float  # cosine(topic, sentence)
    probability: float  # the answerer's fitted probability that the paragraph answers the topic

    @property
    def paragraph(self) -> StoredParagraph:
        return self.candidate.paragraph

    @property
    def sentence(self) -> StoredSentence:
        return self.candidate.sentence

    @property
    def score(self) -> float:
        return self.support + self.similarity


@dataclass(frozen=True)
class TimelineEntry:
    evidence: Evidence
    date: date | None


class TimelineAnswerer:
    """Answers a question over time from the statements that address its topic."""

    backend = "timeline"  # qa.service.TIMELINE_BACKEND: the service does not re-check these answers

    def __init__(self, extractive: ExtractiveAnswerer, params: TimelineParams | None = None) -> None:
        self.extractive = extractive
        self.retriever = extractive.retriever
        self.params = params or TimelineParams.load()

    def best_per_document(self, topic: str, search_filter: SearchFilter | None) -> list[TimelineEntry]:
        """Each candidate statement's best sentence for the topic, scored as the answerer scores evidence."""
        result, without = self.extractive.search(topic, search_filter=search_filter, k=CANDIDATE_PARAGRAPHS)
        if result.exact:
            return []
        by_document: dict[str, list] = {}
        for hit in result.hits:
            by_document.setdefault(hit.paragraph.doc_id, []).append(hit)
        entries = []
        for doc_id, hits in by_document.items():
            # The same features as an ordinary answer, within one statement at a time.
            passages = self.extractive.candidates(dataclasses.replace(result, hits=hits), without_term=without)
            evidence = [
                Evidence(sentence, float(passage.features[_COVERAGE]), sentence.similarity, passage.probability)
                for passage in passages
                for sentence in passage.sentences
            ]
            if evidence:
                record = result.documents.get(doc_id)
                best = max(evidence, key=lambda e: (e.support, e.similarity))
                entries.append(TimelineEntry(best, record.date if record else None))
        return entries

    def addresses(self, entry: TimelineEntry) -> bool:
        e = entry.evidence
        return (
            e.support >= self.params.support
            and e.similarity >= self.params.similarity
            and e.probability >= self.params.probability
        )

    def answer(self, question: str, *, search_filter: SearchFilter | None = None) -> Answer:
        start, end = time_frame(question)
        if start or end:
            base = search_filter or SearchFilter()
            search_filter = dataclasses.replace(
                base,
                date_from=max(filter(None, (base.date_from, start)), default=None),
                date_to=min(filter(None, (base.date_to, end)), default=None),
            )
        topic = topic_of(question) or question
        entries = self.best_per_document(topic, search_filter)
        kept = sorted(
            (e for e in entries if self.addresses(e)), key=lambda e: (e.date or date.min, e.evidence.paragraph.doc_id)
        )[:MAX_LINES]
        if not kept:
            closest = sorted(entries, key=lambda e: e.evidence.score, reverse=True)[:3]
            documents = self.retriever.documents()
            shown = tuple(_citation(e, documents) for e in closest)
            return Answer(question, ABSTAIN_PHRASE, (), True, shown, backend=self.backend, retrieval_query=topic)
        documents = self.retriever.documents()
        lines: list[str] = []
        citations: list[Citation] = []
        removed = 0
        for entry in kept:
            citation = _citation(entry, documents)
            # Each quoted line goes through the citation check on its own; the date and title
            # put before it come from the document's record, not from the text.
            quoted = f"{citation.quote} {citation.marker(with_document=True)}"
            checked = final_check(Answer(question, quoted, (citation,), False))
            if checked.abstained or checked.checked.removed_sentences:
                removed += 1
                continue
            citations.append(citation)
            when = entry.date.isoformat() if entry.date else "undated"
            lines.append(f"{when} · {citation.title}: {checked.text}")
        if not lines:
            return Answer(question, ABSTAIN_PHRASE, (), True, (), backend=self.backend, retrieval_query=topic)
        return Answer(
            question,
            "\n".join(lines),
            tuple(citations),
            False,
            checked=CheckReport(removed_sentences=removed),
            backend=self.backend,
            retrieval_query=topic,
        )


def _citation(entry: TimelineEntry, documents: dict[str, DocumentRecord]) -> Citation:
    paragraph = entry.evidence.paragraph
    return citation_from(paragraph, documents.get(paragraph.doc_id), entry.evidence.sentence.text)
