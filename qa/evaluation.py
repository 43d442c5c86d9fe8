"""Score the answering pipeline on a question set (JSON lines).

The question format is the one of `shared/eval/dev_questions.jsonl`: one object
a line with `id`, `question`, `gold` (phrases, each identifying the paragraph
that answers: a paragraph is gold when its text, white space folded, contains
the phrase), `facts` (a list of alternatives lists: a good answer contains at
least one string of every inner list), `unanswerable`, `multi` and an optional
`document` that restricts the question to one document.

What is measured, and over which questions:

* retrieval hit@1/3/5 and MRR (depth 10): the rank of the first gold paragraph
  in `retriever.search` for the query the answerer searched; answerable
  questions whose gold phrases resolved to a paragraph;
* citation precision: the share of cited paragraphs that are gold, averaged
  over answerable questions that were answered (an answer citing nothing
  scores 0: it is not grounded);
* citation recall: the share of gold paragraphs cited (abstaining scores 0),
  averaged over answerable questions, and separately over `multi` ones;
* gold cited: the share of answerable questions citing at least one gold paragraph;
* facts: the share of answerable questions with facts whose answer text holds
  every inner list (an abstention holds none);
* abstention accuracy over unanswerable questions, and the number of
  answerable questions that were abstained on (false abstentions);
* mean answer length (characters) of answered questions;
* latency p50/p95 from `Answer.latency_ms`, the first question left out as
  warm-up when there are more than five.

Judgements (`--judgements FILE`, `load_judgements`) extend the gold for a
store larger than the one a set was written for: with the whole archive, a
fact is often stated again by a sibling statement (the same day's fact sheet),
and a near-miss of 8 statements may be answered by the 6,454. Each line judges
one paragraph for one question, read by a person: `answers` true makes it gold
as well (an unanswerable question it answers becomes answerable, scored on the
judgement's `facts`); false records that it was read and does not answer. Only
judgements whose paragraph is in the store apply, and every cited paragraph
that is neither gold nor judged is counted (`unjudged`), so figures that rest
on unread citations show it.

A question whose `ask` raises a domain error counts as failed everywhere it
has a denominator; the error is listed. A gold phrase that matches no
paragraph is a warning, not a crash: the question is then scored on what did
resolve.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from errors import StatementbotError
from ingest.models import PREAMBLE_LABEL, fold_whitespace
from qa.types import Answer, Conversation

if TYPE_CHECKING:
    from qa.service import StatementService
    from vectorstore.store import StoredParagraph

RETRIEVAL_DEPTH = 10  # MRR is computed over this many hits; deeper gold counts as a miss
HIT_AT = (1, 3, 5)
WARM_UP_AFTER = 5  # with more questions than this, the first one's latency is left out
_FIELDS = {"id", "question", "gold", "facts", "unanswerable", "multi", "document"}


class QuestionFileError(StatementbotError):
    """A question set that cannot be read or has a malformed line."""

    hint = "Each line must be a JSON object like those in shared/eval/dev_questions.jsonl."


# Question set --------------------------------------------------------------
@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    gold: tuple[str, ...] = ()
    facts: tuple[tuple[str, ...], ...] = ()
    unanswerable: bool = False
    multi: bool = False
    document: str | None = None

    @property
    def answerable(self) -> bool:
        return not self.unanswerable


def load_questions(path: Path | str) -> list[EvalQuestion]:
    """Parse a JSON-lines question set; any malformed line raises QuestionFileError naming it."""
    path = Path(path)
    text = _read(path, "question file")
    questions: list[EvalQuestion] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        question = _parse_line(path, number, line)
        if question.id in seen:
            raise QuestionFileError(
                f"{path}, line {number}: id {question.id!r} was already used on line {seen[question.id]}."
            )
        seen[question.id] = number
        questions.append(question)
    if not questions:
        raise QuestionFileError(f"{path}: the file holds no questions.")
    return questions


def _read(path: Path, what: str) -> str:
    """A JSON-lines file's text; a missing or unreadable file raises QuestionFileError saying so."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QuestionFileError(f"{path}: no such {what}.", hint="Check the path.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise QuestionFileError(f"{path}: cannot be read ({error.__class__.__name__}).") from None


def _facts_ok(facts: object) -> bool:
    """`facts` is a list of non-empty lists of non-empty strings."""
    return isinstance(facts, list) and all(
        isinstance(group, list) and group and all(isinstance(s, str) and s.strip() for s in group) for group in facts
    )


def _parse_line(path: Path, number: int, line: str) -> EvalQuestion:
    where = f"{path}, line {number}"
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise QuestionFileError(f"{where}: not valid JSON ({error.msg}, column {error.colno}).") from None
    if not isinstance(data, dict):
        raise QuestionFileError(f"{where}: expected a JSON object, got {type(data).__name__}.")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        # A typo such as "unanswerble" silently scoring the question as answerable is worse than an error.
        raise QuestionFileError(
            f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_FIELDS))}."
        )
    question = data.get("question")
    if not isinstance(question, str) or not question.strip():
        raise QuestionFileError(f"{where}: `question` must be a non-empty string.")
    raw_id = data.get("id", f"line{number}")
    if not isinstance(raw_id, str | int) or isinstance(raw_id, bool) or not str(raw_id).strip():
        raise QuestionFileError(f"{where}: `id` must be a non-empty string.")
    gold = data.get("gold", [])
    if not isinstance(gold, list) or not all(isinstance(g, str) and g.strip() for g in gold):
        raise QuestionFileError(f"{where}: `gold` must be a list of non-empty strings.")
    facts = data.get("facts", [])
    if not _facts_ok(facts):
        raise QuestionFileError(
            f'{where}: `facts` must be a list of non-empty lists of strings, e.g. [["2035"], ["GCAP", "Global"]].'
        )
    flags = {}
    for name in ("unanswerable", "multi"):
        value = data.get(name, False)
        if not isinstance(value, bool):
            raise QuestionFileError(f"{where}: `{name}` must be true or false.")
        flags[name] = value
    document = data.get("document")
    if document is not None and (not isinstance(document, str) or not document.strip()):
        raise QuestionFileError(f"{where}: `document` must be a document id.")
    if flags["unanswerable"] and (gold or facts):
        raise QuestionFileError(f"{where}: an unanswerable question cannot have `gold` or `facts`.")
    return EvalQuestion(
        id=str(raw_id).strip(),
        question=question,
        gold=tuple(gold),
        facts=tuple(tuple(group) for group in facts),
        unanswerable=flags["unanswerable"],
        multi=flags["multi"],
        document=document,
    )


# Results -------------------------------------------------------------------
Ref = tuple[str, str]  # (document id, paragraph label)


# Judgements ----------------------------------------------------------------
_JUDGEMENT_FIELDS = {"id", "document", "paragraph", "answers", "facts", "why"}
_JUDGEMENT_HINT = (
    'Each line: {"id": "d02", "document": "<doc id>", "paragraph": "7", "answers": true, '
    '"facts": [["2027"]], "why": "…"} (facts only for a paragraph that answers).'
)


@dataclass(frozen=True)
class Judgement:
    """A person's reading of one paragraph for one question: does it answer it?"""

    id: str
    ref: Ref
    answers: bool
    facts: tuple[tuple[str, ...], ...] = ()  # for a near-miss it answers: what a right answer holds
    why: str = ""


def load_judgements(path: Path | str) -> list[Judgement]:
    """Parse a JSON-lines judgement file; a malformed line raises QuestionFileError naming it."""
    path = Path(path)
    text = _read(path, "judgement file")
    judgements: list[Judgement] = []
    seen: dict[tuple[str, Ref], int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        judgement = _parse_judgement(path, number, line)
        key = (judgement.id, judgement.ref)
        if key in seen:
            raise QuestionFileError(
                f"{path}, line {number}: {judgement.id} {_marker(judgement.ref, True)} was already judged on line "
                f"{seen[key]}.",
                hint=_JUDGEMENT_HINT,
            )
        seen[key] = number
        judgements.append(judgement)
    return judgements


def _parse_judgement(path: Path, number: int, line: str) -> Judgement:
    where = f"{path}, line {number}"
    hint = _JUDGEMENT_HINT
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise QuestionFileError(f"{where}: not valid JSON ({error.msg}, column {error.colno}).", hint=hint) from None
    if not isinstance(data, dict):
        raise QuestionFileError(f"{where}: expected a JSON object, got {type(data).__name__}.", hint=hint)
    unknown = sorted(set(data) - _JUDGEMENT_FIELDS)
    if unknown:
        raise QuestionFileError(
            f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_JUDGEMENT_FIELDS))}.",
            hint=hint,
        )
    for name in ("id", "document", "paragraph"):
        if not isinstance(data.get(name), str) or not data[name].strip():
            raise QuestionFileError(f"{where}: `{name}` must be a non-empty string.", hint=hint)
    if not isinstance(data.get("answers"), bool):
        raise QuestionFileError(f"{where}: `answers` must be true or false.", hint=hint)
    facts = data.get("facts", [])
    if not _facts_ok(facts):
        raise QuestionFileError(f"{where}: `facts` must be a list of non-empty lists of strings.", hint=hint)
    if facts and not data["answers"]:
        raise QuestionFileError(f"{where}: `facts` belong to a paragraph that answers.", hint=hint)
    why = data.get("why", "")
    if not isinstance(why, str):
        raise QuestionFileError(f"{where}: `why` must be a string.", hint=hint)
    return Judgement(
        id=data["id"].strip(),
        ref=(data["document"].strip(), data["paragraph"].strip()),
        answers=data["answers"],
        facts=tuple(tuple(group) for group in facts),
        why=why,
    )


def apply_judgements(
    question: EvalQuestion,
    units: list[frozenset[Ref]],
    judgements: Sequence[Judgement],
    present: frozenset[Ref] | set[Ref],
) -> tuple[EvalQuestion, list[frozenset[Ref]]]:
    """The question and its gold units once the judgements of paragraphs in the store are counted.

    A paragraph judged to answer is gold as well: it joins every gold unit (citing it answers as
    the gold phrase's paragraph does), or, for a near-miss, makes the question answerable with the
    judgement's facts.
    """
    answers = [j for j in judgements if j.id == question.id and j.answers and j.ref in present]
    if not answers:
        return question, units
    answering = frozenset(j.ref for j in answers)
    if question.unanswerable:
        return replace(question, unanswerable=False, facts=answers[0].facts), [answering]
    if not units:
        return question, [answering]
    return question, [unit | answering for unit in units]


@dataclass
class QuestionResult:
    """How one question fared."""

    id: str
    question: str
    unanswerable: bool
    multi: bool
    abstained: bool = False
    cited: tuple[Ref, ...] = ()
    gold: tuple[Ref, ...] = ()
    gold_units: int = 0  # resolved gold phrases (distinct paragraph sets)
    gold_units_cited: int = 0
    retrieval_rank: int | None = None  # 1-based rank of the first gold paragraph, None beyond depth
    facts_ok: bool | None = None  # None when the question lists no facts
    missing_facts: tuple[tuple[str, ...], ...] = ()
    precision: float | None = None  # None when not answered or nothing gold to compare to
    recall: float | None = None
    latency_ms: float | None = None
    answer_chars: int | None = None
    reference: bool = False  # asked for a paragraph by number, answered with it whole (`Answer.reference`)
    error: str | None = None
    judged: bool = False  # a judgement of a paragraph in the store made it gold (see `apply_judgements`)
    # Cited paragraphs that are neither gold nor judged either way: what a reader has not checked.
    unjudged: tuple[Ref, ...] = ()

    @property
    def scored(self) -> bool:
        """Answerable with at least one resolved gold paragraph."""
        return not self.unanswerable and self.gold_units > 0

    @property
    def factoid_chars(self) -> int | None:
        """The answer's length when it is a factoid answer: not a paragraph asked for by number, nor a list."""
        return None if self.reference or self.multi else self.answer_chars

    @property
    def gold_cited(self) -> bool:
        return self.gold_units_cited > 0

    @property
    def ok(self) -> bool:
        return not self.failures()

    def failures(self) -> list[str]:
        """Short reasons this question failed; empty when it passed."""
        if self.error:
            return [f"error: {self.error}"]
        if self.unanswerable:
            return [] if self.abstained else ["answered; should abstain"]
        if self.abstained:
            return ["abstained"]
        reasons = []
        if self.scored and self.gold_units_cited < self.gold_units:
            reasons.append(f"cited {self.gold_units_cited}/{self.gold_units} gold")
        if self.facts_ok is False:
            reasons.append("facts missing: " + "; ".join("|".join(group) for group in self.missing_facts))
        return reasons

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "unanswerable": self.unanswerable,
            "multi": self.multi,
            "ok": self.ok,
            "abstained": self.abstained,
            "cited": [_ref_json(r) for r in self.cited],
            "gold": [_ref_json(r) for r in self.gold],
            "retrieval_rank": self.retrieval_rank,
            "facts_ok": self.facts_ok,
            "missing_facts": [list(group) for group in self.missing_facts],
            "precision": _round(self.precision),
            "recall": _round(self.recall),
            "latency_ms": _round(self.latency_ms, 1),
            "answer_chars": self.answer_chars,
            "reference": self.reference,
            "error": self.error,
            "judged": self.judged,
            "unjudged": [_ref_json(r) for r in self.unjudged],
        }


def _ref_json(ref: Ref) -> dict[str, str]:
    return {"document": ref[0], "paragraph": ref[1]}


@dataclass(frozen=True)
class Rate:
    """A share with its counts, so a reader sees `12/14` and not just `0.86`."""

    hits: float
    total: int

    @property
    def value(self) -> float | None:
        return self.hits / self.total if self.total else None

    def to_json(self) -> float | None:
        return _round(self.value)


@dataclass
class EvalSummary:
    """Every figure of one evaluation run; `to_json` keys are stable."""

    results: list[QuestionResult]
    hit_at: dict[int, Rate]
    mrr: Rate
    precision: Rate
    recall: Rate
    multi_recall: Rate
    gold_cited: Rate
    facts: Rate
    abstention: Rate
    false_abstentions: int
    mean_answer_chars: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_samples: int
    warm_up_excluded: bool = False
    warnings: list[str] = field(default_factory=list)
    multi_document: bool = False
    # Mean length of factoid answers (`QuestionResult.factoid_chars`): the target is on these.
    mean_factoid_chars: float | None = None
    # With judgements: how many were given and how many name a paragraph of this store (None without).
    judgements_given: int | None = None
    judgements_applicable: int | None = None

    @property
    def errors(self) -> int:
        return sum(1 for r in self.results if r.error)

    @property
    def failing(self) -> list[QuestionResult]:
        return [r for r in self.results if not r.ok]

    def to_json(self) -> dict[str, Any]:
        answerable = [r for r in self.results if not r.unanswerable]
        return {
            "questions": len(self.results),
            "answerable": len(answerable),
            "unanswerable": len(self.results) - len(answerable),
            "multi": sum(1 for r in self.results if r.multi),
            "errors": self.errors,
            "passed": len(self.results) - len(self.failing),
            "retrieval": {
                "scored": self.mrr.total,
                "depth": RETRIEVAL_DEPTH,
                **{f"hit@{k}": rate.to_json() for k, rate in self.hit_at.items()},
                "mrr": self.mrr.to_json(),
            },
            "citations": {
                "precision": self.precision.to_json(),
                "precision_questions": self.precision.total,
                "recall": self.recall.to_json(),
                "recall_questions": self.recall.total,
                "multi_recall": self.multi_recall.to_json(),
                "multi_questions": self.multi_recall.total,
                "gold_cited": self.gold_cited.to_json(),
            },
            "facts": {"rate": self.facts.to_json(), "passed": int(self.facts.hits), "questions": self.facts.total},
            "abstention": {
                "accuracy": self.abstention.to_json(),
                "abstained": int(self.abstention.hits),
                "questions": self.abstention.total,
                "false_abstentions": self.false_abstentions,
            },
            "answer_chars_mean": _round(self.mean_answer_chars, 1),
            "factoid_chars_mean": _round(self.mean_factoid_chars, 1),
            "latency_ms": {
                "p50": _round(self.latency_p50_ms, 1),
                "p95": _round(self.latency_p95_ms, 1),
                "samples": self.latency_samples,
                "warm_up_excluded": self.warm_up_excluded,
            },
            "warnings": list(self.warnings),
            "judgements": None
            if self.judgements_given is None
            else {
                "given": self.judgements_given,
                "applicable": self.judgements_applicable,
                "questions_judged": sum(1 for r in self.results if r.judged),
                "unjudged_citations": sum(len(r.unjudged) for r in self.results),
            },
            "per_question": [r.to_json() for r in self.results],
        }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


# Running -------------------------------------------------------------------
def run_evaluation(
    service: StatementService, questions: Sequence[EvalQuestion], judgements: Sequence[Judgement] | None = None
) -> EvalSummary:
    """Ask every question (each in a fresh conversation) and score the answers.

    The service is warmed first, as the Discord bot is before it says it is ready,
    so the latency figures are those of answering, not of loading. `judgements`
    (`load_judgements`) extend the gold where their paragraphs are in the store.
    """
    service.warm()
    warnings: list[str] = []
    # Every question's gold is resolved before the first is asked, each paragraph folded once, and the store's
    # paragraphs are let go: at archive scale (82k paragraphs) resolving between answers left the garbage
    # collector's full passes inside the timed answers (real_dev p50 +7 ms), which no front end pays.
    paragraphs = service.store.paragraphs()
    present = {(p.doc_id, p.label) for p in paragraphs}
    multi_document = len({p.doc_id for p in paragraphs}) > 1
    folded = _folded(paragraphs)
    gold_warnings: list[str] = []  # said after the judgements', as when gold was resolved question by question
    gold = {question.id: _resolve(question, folded, gold_warnings) for question in questions}
    del paragraphs, folded
    gc.collect()
    judged = list(judgements or ())
    # The judgements that apply here, by question: those of paragraphs this store holds.
    applicable: dict[str, list[Judgement]] = {}
    for judgement in judged:
        if judgement.ref in present:
            applicable.setdefault(judgement.id, []).append(judgement)
    if judged:
        asked = {q.id for q in questions}
        for name in sorted({j.id for j in judged} - asked):
            warnings.append(f"judgements name question {name!r}, which is not in the question set")
        absent = len(judged) - sum(len(group) for group in applicable.values())
        if absent:
            warnings.append(f"{absent} of {len(judged)} judgements name paragraphs not in this store; not counted")
    warnings.extend(gold_warnings)
    results = []
    for question in questions:
        units = gold[question.id]
        own = applicable.get(question.id, [])
        scored_as, scored_units = apply_judgements(question, units, own, present)
        result = _evaluate_one(service, scored_as, scored_units, read=frozenset(j.ref for j in own))
        result.judged = scored_units != units
        results.append(result)
    summary = summarise(results, warnings, multi_document=multi_document)
    if judgements is not None:
        summary.judgements_given = len(judged)
        summary.judgements_applicable = sum(len(group) for group in applicable.values())
    return summary


def resolve_gold(
    question: EvalQuestion, paragraphs: Sequence[StoredParagraph], warnings: list[str]
) -> list[frozenset[Ref]]:
    """Each gold phrase as the set of paragraphs containing it (deduplicated)."""
    return _resolve(question, _folded(paragraphs), warnings)


def _folded(paragraphs: Sequence[StoredParagraph]) -> list[tuple[Ref, str]]:
    """Each paragraph's reference and its text as gold phrases are matched against (whitespace folded, casefolded)."""
    return [((p.doc_id, p.label), fold_whitespace(p.text).casefold()) for p in paragraphs]


def _resolve(question: EvalQuestion, folded: list[tuple[Ref, str]], warnings: list[str]) -> list[frozenset[Ref]]:
    units: list[frozenset[Ref]] = []
    pool = [(ref, text) for ref, text in folded if question.document is None or ref[0] == question.document]
    for phrase in question.gold:
        needle = fold_whitespace(phrase).casefold()
        matches = frozenset(ref for ref, text in pool if needle in text)
        if not matches:
            warnings.append(f"{question.id}: gold phrase {phrase!r} matches no paragraph")
            continue
        if len(matches) > 1:
            warnings.append(
                f"{question.id}: gold phrase {phrase!r} matches {len(matches)} paragraphs "
                f"({', '.join(_marker(r, True) for r in sorted(matches))}); citing any counts"
            )
        if matches not in units:
            units.append(matches)
    return units


def _evaluate_one(
    service: StatementService,
    question: EvalQuestion,
    units: list[frozenset[Ref]],
    *,
    read: frozenset[Ref] = frozenset(),
) -> QuestionResult:
    """Ask one question and score its answer; `read` are paragraphs judged for it (either way)."""
    gold_refs = frozenset().union(*units) if units else frozenset()
    result = QuestionResult(
        id=question.id,
        question=question.question,
        unanswerable=question.unanswerable,
        multi=question.multi,
        gold=tuple(sorted(gold_refs, key=_ref_order)),
        gold_units=len(units),
    )
    try:
        answer = service.ask(question.question, conversation=Conversation(), document=question.document)
    except StatementbotError as error:
        result.error = error.user_message()
        if question.facts:
            result.facts_ok = False
            result.missing_facts = question.facts
        if result.scored:
            result.recall = 0.0
        return result
    result.latency_ms = answer.latency_ms
    result.abstained = answer.abstained
    result.reference = answer.reference
    result.cited = tuple(dict.fromkeys((c.doc_id, c.label) for c in answer.citations))
    if not answer.abstained:
        result.answer_chars = len(answer.text)
        result.unjudged = tuple(ref for ref in result.cited if ref not in gold_refs and ref not in read)
    if question.unanswerable:
        return result
    if units:
        result.retrieval_rank = _retrieval_rank(service, question, answer, gold_refs, result)
        cited = set(result.cited) if not answer.abstained else set()
        result.gold_units_cited = sum(1 for unit in units if unit & cited)
        result.recall = result.gold_units_cited / len(units)
        if not answer.abstained:
            result.precision = len(cited & gold_refs) / len(cited) if cited else 0.0
    if question.facts:
        missing = _missing_facts(question.facts, "" if answer.abstained else answer.text)
        result.facts_ok = not missing
        result.missing_facts = missing
    return result


def _retrieval_rank(
    service: StatementService, question: EvalQuestion, answer: Answer, gold: frozenset[Ref], result: QuestionResult
) -> int | None:
    query = answer.retrieval_query or question.question
    try:
        # Ranked as the answer searched: within what the question names ("the Quad statement",
        # "in March 2023") or its `document`, not across the whole corpus.
        _, search_filter = service.prepare_question(question.question, question.document, None, None)
        search = service.retriever.search(query, k=RETRIEVAL_DEPTH, search_filter=search_filter)
    except StatementbotError as error:
        result.error = f"retrieval: {error.user_message()}"
        return None
    for rank, hit in enumerate(search.hits, start=1):
        if (hit.paragraph.doc_id, hit.paragraph.label) in gold:
            return rank
    return None


def _missing_facts(facts: Sequence[Sequence[str]], text: str) -> tuple[tuple[str, ...], ...]:
    haystack = fold_whitespace(text).casefold()
    return tuple(tuple(group) for group in facts if not any(fold_whitespace(s).casefold() in haystack for s in group))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation, as numpy's default; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarise(results: list[QuestionResult], warnings: list[str], *, multi_document: bool = False) -> EvalSummary:
    """Aggregate per-question results into the headline figures."""
    answerable = [r for r in results if not r.unanswerable]
    scored = [r for r in answerable if r.scored]
    ranks = [r.retrieval_rank for r in scored]
    answered_scored = [r for r in scored if r.precision is not None]
    multi = [r for r in scored if r.multi]
    with_facts = [r for r in answerable if r.facts_ok is not None]
    unanswerable = [r for r in results if r.unanswerable]
    answered = [r.answer_chars for r in results if r.answer_chars is not None]
    factoid = [r.factoid_chars for r in results if r.factoid_chars is not None]
    timed = [r.latency_ms for r in results if r.latency_ms is not None]
    warm_up = len(results) > WARM_UP_AFTER and results[0].latency_ms is not None
    if warm_up:
        timed = timed[1:]  # the first question pays for lazy loading (model, caches)
    return EvalSummary(
        results=results,
        hit_at={k: Rate(sum(1 for r in ranks if r is not None and r <= k), len(scored)) for k in HIT_AT},
        mrr=Rate(sum(1 / r for r in ranks if r is not None), len(scored)),
        precision=Rate(sum(r.precision or 0.0 for r in answered_scored), len(answered_scored)),
        recall=Rate(sum(r.recall or 0.0 for r in scored), len(scored)),
        multi_recall=Rate(sum(r.recall or 0.0 for r in multi), len(multi)),
        gold_cited=Rate(sum(1 for r in scored if r.gold_cited), len(scored)),
        facts=Rate(sum(1 for r in with_facts if r.facts_ok), len(with_facts)),
        abstention=Rate(sum(1 for r in unanswerable if r.abstained and not r.error), len(unanswerable)),
        false_abstentions=sum(1 for r in answerable if r.abstained and not r.error),
        mean_answer_chars=sum(answered) / len(answered) if answered else None,
        latency_p50_ms=percentile(timed, 50),
        latency_p95_ms=percentile(timed, 95),
        latency_samples=len(timed),
        warm_up_excluded=warm_up,
        warnings=warnings,
        multi_document=multi_document,
        mean_factoid_chars=sum(factoid) / len(factoid) if factoid else None,
    )


# Tune and check halves -----------------------------------------------------
TUNE, CHECK = "tune", "check"
_DOCUMENT_PREFIX = re.compile(r"^([a-z]\d+)-\d+$")  # archive set ids "a07-03", "b12-05": document "a07", "b12"


def half_of(name: str) -> str:
    """CHECK when the first byte of sha1(name) is odd, else TUNE: a fixed rule, chosen before any figure was seen."""
    return CHECK if hashlib.sha1(name.encode(), usedforsecurity=False).digest()[0] % 2 else TUNE


def split_unit(question: EvalQuestion, units: Sequence[frozenset[Ref]], *, single_document: bool) -> str:
    """What decides a question's half: its document, so the check half asks about statements tuning never saw.

    An archive-set id ("a07-03", "b12-05") names its document ("a07", "b12"); otherwise an
    answerable question belongs to the document its first gold phrase is found
    in. An unanswerable question, or any question of a set on a single
    statement, is its own unit (its id).
    """
    prefix = _DOCUMENT_PREFIX.match(question.id)
    if prefix:
        return prefix.group(1)
    if units and not single_document:
        return sorted(units[0])[0][0]
    return question.id


def split_questions(
    questions: Sequence[EvalQuestion], paragraphs: Sequence[StoredParagraph]
) -> dict[str, list[EvalQuestion]]:
    """The questions of each half (TUNE, CHECK), by `split_unit` and `half_of`."""
    single = len({p.doc_id for p in paragraphs}) == 1
    halves: dict[str, list[EvalQuestion]] = {TUNE: [], CHECK: []}
    for question in questions:
        units = resolve_gold(question, paragraphs, [])
        halves[half_of(split_unit(question, units, single_document=single))].append(question)
    return halves


# Thresholds ----------------------------------------------------------------
@dataclass(frozen=True)
class Minimums:
    """Figures a run must reach (`statementbot eval --min-hit ...`); None means not checked.

    `hit` is the share of answerable questions whose answer cites a gold
    paragraph ("gold cited"); `precision` the citation precision; `facts` the
    facts rate; `abstain` the share of unanswerable questions abstained on.
    """

    hit: float | None = None
    precision: float | None = None
    facts: float | None = None
    abstain: float | None = None

    def missed(self, summary: EvalSummary) -> list[str]:
        """One line per figure below its minimum (a figure with no questions to measure it counts as missed)."""
        figures = {
            "hit": ("gold cited", summary.gold_cited),
            "precision": ("citation precision", summary.precision),
            "facts": ("facts", summary.facts),
            "abstain": ("abstention accuracy", summary.abstention),
        }
        lines = []
        for name, (label, rate) in figures.items():
            minimum = getattr(self, name)
            if minimum is None:
                continue
            value = rate.value
            if value is None or value < minimum:
                shown = "n/a (no questions measure it)" if value is None else f"{value:.2f}"
                lines.append(f"{label} {shown} is below --min-{name} {minimum:.2f}")
        return lines


# Formatting ----------------------------------------------------------------
def _ref_order(ref: Ref) -> tuple[str, int, str]:
    doc_id, label = ref
    return (doc_id, int(label) if label.isdigit() else (-1 if label == PREAMBLE_LABEL else 10**6), label)


def _marker(ref: Ref, with_document: bool) -> str:
    doc_id, label = ref
    mark = label if label == PREAMBLE_LABEL else f"¶{label}"
    return f"{doc_id} {mark}" if with_document else mark


def _pct(rate: Rate) -> str:
    value = rate.value
    return "n/a" if value is None else f"{value:.2f}"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def format_summary(summary: EvalSummary, *, width: int = 110) -> str:
    """A compact report: warnings and failing questions first, headline figures last.

    The headline block is the final lines so `tail -15` of the output shows it.
    """
    both = summary.multi_document
    lines: list[str] = []
    if summary.warnings:
        lines.append(f"Warnings ({len(summary.warnings)}):")
        lines += [_clip(f"  {w}", width) for w in summary.warnings]
    failing = summary.failing
    if failing:
        lines.append(f"Failing questions ({len(failing)}):")
        for r in failing:
            cited = ",".join(_marker(c, both) for c in r.cited) or "-"
            gold = ",".join(_marker(g, both) for g in r.gold) or "-"
            detail = "; ".join(r.failures())
            lines.append(_clip(f"  {r.id:<6} {detail}  [cited {cited}; gold {gold}]", width))
    if lines:
        lines.append("")
    s = summary.to_json()
    rule = "-" * 64
    lines += [
        rule,
        f"Questions   {s['questions']} ({s['answerable']} answerable, {s['unanswerable']} unanswerable, "
        f"{s['multi']} multi); passed {s['passed']}/{s['questions']}; errors {s['errors']}",
        f"Retrieval   hit@1 {_pct(summary.hit_at[1])}  hit@3 {_pct(summary.hit_at[3])}  "
        f"hit@5 {_pct(summary.hit_at[5])}  MRR {_pct(summary.mrr)}   ({summary.mrr.total} with gold)",
        f"Citations   precision {_pct(summary.precision)}  recall {_pct(summary.recall)}  "
        f"gold cited {_pct(summary.gold_cited)} ({int(summary.gold_cited.hits)}/{summary.gold_cited.total})",
        f"Multi       recall {_pct(summary.multi_recall)}   ({summary.multi_recall.total} multi questions)",
        f"Facts       {_pct(summary.facts)}   ({int(summary.facts.hits)}/{summary.facts.total})",
        f"Abstention  accuracy {_pct(summary.abstention)} ({int(summary.abstention.hits)}/{summary.abstention.total})"
        f"  false abstentions {summary.false_abstentions}",
        f"Answers     mean {summary.mean_answer_chars or 0:.0f} chars; factoid answers "
        f"{summary.mean_factoid_chars or 0:.0f} (without paragraphs asked for by number and list questions)",
        f"Latency     p50 {_ms(summary.latency_p50_ms)}  p95 {_ms(summary.latency_p95_ms)}  "
        f"({summary.latency_samples} timed{', first left out as warm-up' if summary.warm_up_excluded else ''})",
    ]
    judged = s["judgements"]
    if judged is not None:
        lines.append(
            f"Judgements  {judged['applicable']}/{judged['given']} name paragraphs of this store; they changed the gold"
            f" of {judged['questions_judged']} questions; {judged['unjudged_citations']} cited paragraphs not judged"
        )
    lines += [
        rule,
    ]
    return "\n".join(lines)


def _clip(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"
