"""What changed between two statements: paragraphs aligned, pairs diffed, drops and additions listed.

Statements are renumbered, reordered, reworded and cut from one year to the next, so
paragraphs are aligned by what they say, not by their number. Each pair of paragraphs
(one of A, one of B) gets a score that mixes three measures, all from what ingestion
stored (nothing is embedded here):

* the cosine of the paragraphs' vectors (the normalised mean of their sentences'),
* sentence agreement: how well each sentence of one finds its closest sentence in the
  other, both ways (a paragraph that gained one sentence still matches the rest),
* word overlap: the cosine of the paragraphs' word sets,
* phrase overlap: the same for word pairs (bigrams): an edited paragraph keeps most of
  its phrases, while a new paragraph on the same topic shares words but few phrases.

One global assignment (Hungarian, `scipy.optimize.linear_sum_assignment`) pairs the
paragraphs so that the sum of (score - threshold) is largest: a paragraph is left
without a counterpart when no pairing beats the threshold. Greedy matching would let a
paragraph grab a near-duplicate that a later, better pair needed. The weights and the
threshold are fitted by `bench/fit_compare.py` on generated edited pairs and stored,
with the figures they reached, in `qa/compare_params.json`.
"""

from __future__ import annotations

import difflib
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from errors import AmbiguousDocument, UnknownDocument
from ingest.text import tokenize
from vectorstore.retrieval import record_words
from vectorstore.store import DocumentRecord, ParagraphStore, StoredParagraph

PARAMS_PATH = Path(__file__).with_name("compare_params.json")
UNCHANGED = "unchanged"
CHANGED = "changed"


@dataclass(frozen=True)
class AlignmentParams:
    """Weights of the three measures and the score a pair needs to count as a counterpart."""

    paragraph: float
    sentence: float
    lexical: float
    phrase: float
    threshold: float

    @classmethod
    def load(cls, path: Path = PARAMS_PATH) -> AlignmentParams:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            **{key: float(data["params"][key]) for key in ("paragraph", "sentence", "lexical", "phrase", "threshold")}
        )


@dataclass(frozen=True)
class AlignInput:
    """What alignment needs of a paragraph: its text and its sentences' unit vectors (one row each)."""

    text: str
    sentences: np.ndarray


@dataclass(frozen=True)
class Features:
    """The three measures for every (A paragraph, B paragraph), each an (len(A), len(B)) matrix."""

    paragraph: np.ndarray
    sentence: np.ndarray
    lexical: np.ndarray
    phrase: np.ndarray

    def score(self, params: AlignmentParams) -> np.ndarray:
        return (
            params.paragraph * self.paragraph
            + params.sentence * self.sentence
            + params.lexical * self.lexical
            + params.phrase * self.phrase
        )


def features(a: Sequence[AlignInput], b: Sequence[AlignInput]) -> Features:
    """Pairwise measures, computed as a few matrix products (70 x 70 paragraphs: a few ms)."""
    if not a or not b:
        empty = np.zeros((len(a), len(b)), dtype=np.float32)
        return Features(empty, empty, empty, empty)
    sent_a, starts_a = _stack(a)
    sent_b, starts_b = _stack(b)
    para_a, para_b = _paragraph_vectors(sent_a, starts_a), _paragraph_vectors(sent_b, starts_b)
    cross = sent_a @ sent_b.T  # every sentence of A against every sentence of B
    # For each sentence, its best match in each paragraph of the other document...
    best_in_b = np.maximum.reduceat(cross, starts_b, axis=1)  # (sentences of A, paragraphs of B)
    best_in_a = np.maximum.reduceat(cross, starts_a, axis=0)  # (paragraphs of A, sentences of B)
    # ...averaged over the paragraph's sentences, then both directions averaged.
    a_to_b = np.add.reduceat(best_in_b, starts_a, axis=0) / _counts(starts_a, len(sent_a))[:, None]
    b_to_a = np.add.reduceat(best_in_a, starts_b, axis=1) / _counts(starts_b, len(sent_b))[None, :]
    return Features(
        paragraph=para_a @ para_b.T,
        sentence=(a_to_b + b_to_a) / 2,
        lexical=_set_cosine([set(tokenize(p.text)) for p in a], [set(tokenize(p.text)) for p in b]),
        phrase=_set_cosine([_bigrams(p.text) for p in a], [_bigrams(p.text) for p in b]),
    )


def _stack(paragraphs: Sequence[AlignInput]) -> tuple[np.ndarray, np.ndarray]:
    rows = [p.sentences.reshape(-1, p.sentences.shape[-1]) for p in paragraphs]
    counts = [len(r) for r in rows]
    if min(counts) == 0:
        raise ValueError("every paragraph needs at least one sentence vector")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
    return np.concatenate(rows).astype(np.float32), starts


def _counts(starts: np.ndarray, total: int) -> np.ndarray:
    return np.diff(np.append(starts, total)).astype(np.float32)


def _paragraph_vectors(sentences: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """A paragraph's vector as ingestion builds it: the normalised mean of its sentences'."""
    sums = np.add.reduceat(sentences, starts, axis=0)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return sums / np.where(norms == 0, 1.0, norms)


def _bigrams(text: str) -> set[str]:
    words = tokenize(text)
    return {f"{x} {y}" for x, y in itertools.pairwise(words)} or set(words)


def _set_cosine(sets_a: list[set[str]], sets_b: list[set[str]]) -> np.ndarray:
    """Cosine of set vectors weighted by rarity across both documents' paragraphs (IDF).

    Words every paragraph of the two statements uses ("Quad", "cyber" in two Quad
    cyber statements) say nothing about which paragraph is which; they weigh nothing.
    Sparse: two 70-paragraph statements have ~10,000 distinct word pairs.
    """
    from scipy.sparse import csr_matrix

    vocabulary: dict[str, int] = {}
    rows: list[int] = []
    columns: list[int] = []
    for row, words in enumerate([*sets_a, *sets_b]):
        for word in words:
            rows.append(row)
            columns.append(vocabulary.setdefault(word, len(vocabulary)))
    shape = (len(sets_a) + len(sets_b), max(len(vocabulary), 1))
    df = np.bincount(np.asarray(columns, dtype=np.intp), minlength=shape[1]).astype(np.float64)
    idf = np.log((1.0 + shape[0]) / (1.0 + df))
    weights = idf[columns]
    norms = np.sqrt(np.bincount(np.asarray(rows, dtype=np.intp), weights=weights**2, minlength=shape[0]))
    data = weights / np.where(norms == 0, 1.0, norms)[rows]
    both = csr_matrix((data, (rows, columns)), shape=shape)
    a, b = both[: len(sets_a)], both[len(sets_a) :]
    return np.asarray((a @ b.T).todense(), dtype=np.float32)


def assign(score: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """The pairs (i, j) that maximise the summed (score - threshold), each paragraph used once.

    Pairs whose score does not beat the threshold are worth nothing, so the optimum
    over max(score - threshold, 0) leaves those paragraphs without a counterpart: the
    same optimum as an assignment with an explicit "no counterpart" option per paragraph.
    """
    from scipy.optimize import linear_sum_assignment

    if score.size == 0:
        return []
    gain = np.maximum(score - threshold, 0.0)
    rows, cols = linear_sum_assignment(gain, maximize=True)
    return sorted((int(i), int(j)) for i, j in zip(rows, cols, strict=True) if score[i, j] > threshold)


def is_furniture(text: str) -> bool:
    """A "paragraph" with no letter or digit ("###", "* * *") is layout, never compared."""
    return not any(char.isalnum() for char in text)


# Word-level diff ---------------------------------------------------------------------------
@dataclass(frozen=True)
class DiffPart:
    """A run of words kept (`equal`), deleted from A (`delete`) or inserted in B (`insert`)."""

    op: str
    text: str

    def to_json(self) -> dict[str, str]:
        return {"op": self.op, "text": self.text}


_WORD = re.compile(r"\S+")


def word_diff(a: str, b: str) -> tuple[DiffPart, ...]:
    """Words of `a` and `b` as equal / delete / insert runs (a replacement is a delete then an insert)."""
    words_a, words_b = _WORD.findall(a), _WORD.findall(b)
    matcher = difflib.SequenceMatcher(a=words_a, b=words_b, autojunk=False)
    parts: list[DiffPart] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            parts.append(DiffPart("equal", " ".join(words_a[i1:i2])))
            continue
        if i2 > i1:
            parts.append(DiffPart("delete", " ".join(words_a[i1:i2])))
        if j2 > j1:
            parts.append(DiffPart("insert", " ".join(words_b[j1:j2])))
    return tuple(parts)


# Comparison of stored documents -------------------------------------------------------------
@dataclass(frozen=True)
class ParagraphPair:
    """A paragraph of A and its counterpart in B."""

    a: StoredParagraph
    b: StoredParagraph
    similarity: float
    diff: tuple[DiffPart, ...]  # empty when unchanged

    @property
    def status(self) -> str:
        return UNCHANGED if self.a.text == self.b.text else CHANGED

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.a.label,
            "b": self.b.label,
            "status": self.status,
            "similarity": round(self.similarity, 3),
            "diff": [part.to_json() for part in self.diff],
        }


@dataclass(frozen=True)
class Entry:
    """One line of the comparison in reading order: a pair, a paragraph new in B, or one dropped from A."""

    kind: str  # "unchanged" | "changed" | "added" | "removed"
    pair: ParagraphPair | None = None
    paragraph: StoredParagraph | None = None


@dataclass(frozen=True)
class Comparison:
    a: DocumentRecord
    b: DocumentRecord
    pairs: tuple[ParagraphPair, ...]  # in B's order
    added: tuple[StoredParagraph, ...]  # paragraphs of B without a counterpart, in B's order
    removed: tuple[StoredParagraph, ...]  # paragraphs of A without a counterpart, in A's order

    @property
    def changed(self) -> tuple[ParagraphPair, ...]:
        return tuple(p for p in self.pairs if p.status == CHANGED)

    def counts(self) -> dict[str, int]:
        return {
            "unchanged": len(self.pairs) - len(self.changed),
            "changed": len(self.changed),
            "added": len(self.added),
            "removed": len(self.removed),
        }

    def entries(self) -> list[Entry]:
        """B's paragraphs in order, each paired or new; a dropped paragraph follows its A predecessor's counterpart."""
        pair_of_b = {p.b.key: p for p in self.pairs}
        b_of_a = {p.a.key: p.b.key for p in self.pairs}
        # Where each dropped paragraph is shown: after the B counterpart of the nearest paired paragraph before it.
        anchored: dict[str | None, list[StoredParagraph]] = {}
        removed_keys = {p.key for p in self.removed}
        anchor: str | None = None
        for paragraph in sorted([*self.removed, *(p.a for p in self.pairs)], key=lambda p: p.position):
            if paragraph.key in removed_keys:
                anchored.setdefault(anchor, []).append(paragraph)
            else:
                anchor = b_of_a[paragraph.key]
        entries = [Entry("removed", paragraph=p) for p in anchored.get(None, [])]
        added_keys = {p.key for p in self.added}
        for paragraph in sorted([*self.added, *(p.b for p in self.pairs)], key=lambda p: p.position):
            if paragraph.key in added_keys:
                entries.append(Entry("added", paragraph=paragraph))
            else:
                pair = pair_of_b[paragraph.key]
                entries.append(Entry(pair.status, pair=pair))
            entries += [Entry("removed", paragraph=p) for p in anchored.get(paragraph.key, [])]
        return entries

    def to_json(self) -> dict[str, Any]:
        """The `compare --json` contract (stable: extended, never renamed)."""
        return {
            "a": self.a.id,
            "b": self.b.id,
            "pairs": [pair.to_json() for pair in self.pairs],
            "added": [p.label for p in self.added],
            "removed": [p.label for p in self.removed],
        }


def resolve_document(reference: str, records: Sequence[DocumentRecord]) -> DocumentRecord:
    """A document named by its id or by words of its title (all of them, any order, any case).

    Raises UnknownDocument (with the closest titles) or AmbiguousDocument (with the candidates).
    """
    wanted = reference.strip()
    by_id = {r.id: r for r in records}
    if wanted in by_id:
        return by_id[wanted]
    words = tokenize(wanted)
    if not words:
        raise UnknownDocument(f"No document matches {reference!r}.")

    # The words questions and `--document` name a statement by, abbreviations included ("US India").
    matching = [r for r in records if all(w in record_words(r) for w in words)]
    if not matching:
        # Substrings too ("quad-lead" for "quad-leaders-joint-statement"), before giving up.
        lowered = wanted.lower()
        matching = [r for r in records if lowered in r.id or lowered in r.title.lower()]
    if len(matching) == 1:
        return matching[0]
    if matching:
        raise AmbiguousDocument(reference, [r.id for r in matching])
    names = [r.id for r in records]
    close = difflib.get_close_matches(wanted.lower(), names, n=5, cutoff=0.4)
    hint = f"Did you mean {', '.join(close)}? " if close else ""
    raise UnknownDocument(
        f"No document matches {reference!r}.",
        hint=f"{hint}Run `statementbot documents` to list the ingested documents.",
    )


class Comparer:
    """Compares two stored statements, reading their paragraphs and sentence vectors from the store."""

    def __init__(self, store: ParagraphStore, params: AlignmentParams | None = None) -> None:
        self.store = store
        self.params = params or AlignmentParams.load()

    def resolve(self, reference: str) -> DocumentRecord:
        return resolve_document(reference, self.store.documents())

    def compare(self, a: str, b: str) -> Comparison:
        records = self.store.documents()
        return self.compare_records(resolve_document(a, records), resolve_document(b, records))

    def compare_records(self, a: DocumentRecord, b: DocumentRecord) -> Comparison:
        paragraphs_a, inputs_a = self._load(a.id)
        paragraphs_b, inputs_b = self._load(b.id)
        score = features(inputs_a, inputs_b).score(self.params)
        matched = assign(score, self.params.threshold)
        pairs = [
            ParagraphPair(
                paragraphs_a[i],
                paragraphs_b[j],
                float(score[i, j]),
                ()
                if paragraphs_a[i].text == paragraphs_b[j].text
                else word_diff(paragraphs_a[i].text, paragraphs_b[j].text),
            )
            for i, j in matched
        ]
        pairs.sort(key=lambda p: p.b.position)
        used_a = {i for i, _ in matched}
        used_b = {j for _, j in matched}
        return Comparison(
            a=a,
            b=b,
            pairs=tuple(pairs),
            added=tuple(p for j, p in enumerate(paragraphs_b) if j not in used_b),
            removed=tuple(p for i, p in enumerate(paragraphs_a) if i not in used_a),
        )

    def predecessor(self, doc_id: str) -> Comparison | None:
        """The comparison with the earlier statement this one most resembles, or None when there is none.

        Candidates are the earlier statements with the closest titles; among them, the one
        sharing the most paragraphs (aligned pairs) wins. None when no candidate shares any.
        """
        records = self.store.documents()
        record = next((r for r in records if r.id == doc_id), None)
        if record is None:
            raise UnknownDocument(f"No document with id {doc_id!r}.")
        best: Comparison | None = None
        for candidate in predecessor_candidates(record, records):
            comparison = self.compare_records(candidate, record)
            if comparison.pairs and (best is None or len(comparison.pairs) > len(best.pairs)):
                best = comparison
        return best

    def _load(self, doc_id: str) -> tuple[list[StoredParagraph], list[AlignInput]]:
        paragraphs = self.store.paragraphs(doc_id)
        by_key: dict[str, list[np.ndarray]] = {}
        for sentence in self.store.sentences_for(
            [p.key for p in paragraphs], paragraphs={p.key: p for p in paragraphs}
        ):
            by_key.setdefault(sentence.paragraph_key, []).append(sentence.vector)
        # A paragraph always has sentences once ingested; end marks like "###" are layout.
        kept = [p for p in paragraphs if by_key.get(p.key) and not is_furniture(p.text)]
        return kept, [AlignInput(p.text, np.stack(by_key[p.key])) for p in kept]


# The statement a new one follows ------------------------------------------------------------------
TITLE_CANDIDATES = 3  # earlier statements with the closest titles, compared in full to pick one


def _title_words(record: DocumentRecord) -> set[str]:
    # Years and ordinals change from one edition to the next; the parties and the kind stay.
    return {w for w in tokenize(record.title) if not w.isdigit()}


def predecessor_candidates(record: DocumentRecord, records: Sequence[DocumentRecord]) -> list[DocumentRecord]:
    """Earlier statements whose titles share the words that set this one apart (parties, kind), closest first.

    Title words are weighted by rarity among all titles, so "Joint Statement" weighs
    little and "Quad", "AUKUS" or "Republic of Korea" a lot.
    """
    others = [
        r for r in records if r.id != record.id and (record.date is None or r.date is None or r.date < record.date)
    ]
    if not others:
        return []
    similarity = _title_similarity(record, others, records)
    ranked = sorted(
        zip(similarity, others, strict=True), key=lambda pair: (-pair[0], -(pair[1].date or date.min).toordinal())
    )
    return [r for score, r in ranked[:TITLE_CANDIDATES] if score > 0]


def _title_similarity(
    record: DocumentRecord, others: Sequence[DocumentRecord], everyone: Sequence[DocumentRecord]
) -> np.ndarray:
    """Cosine of title word sets, each word weighted by its smoothed rarity among all titles.

    Smoothed (log((1 + n) / (1 + df)) + 1, as scikit-learn does) so that with only a few
    statements, words they all share still count: two editions may be all there is.
    """
    titles = [_title_words(r) for r in everyone]
    df: dict[str, int] = {}
    for words in titles:
        for word in words:
            df[word] = df.get(word, 0) + 1
    n = len(titles)

    def vector(words: set[str]) -> dict[str, float]:
        return {w: float(np.log((1 + n) / (1 + df.get(w, 0))) + 1.0) for w in words}

    mine = vector(_title_words(record))
    norm = np.sqrt(sum(v * v for v in mine.values())) or 1.0
    scores = []
    for other in others:
        theirs = vector(_title_words(other))
        dot = sum(weight * theirs[w] for w, weight in mine.items() if w in theirs)
        scores.append(dot / (norm * (np.sqrt(sum(v * v for v in theirs.values())) or 1.0)))
    return np.asarray(scores)
