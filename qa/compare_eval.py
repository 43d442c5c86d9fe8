"""Measuring paragraph alignment: edited copies of real statements, and hand-checked real pairs.

An edited copy is made from a statement by the edits a drafter makes between two
years: paragraphs dropped, new ones added (taken from other statements, so they
read like statement paragraphs), some reworded (a sentence dropped or added,
words replaced, figures changed), a block moved, and everything renumbered. The
generator knows the true alignment, so the report of `compare` can be checked
exactly: every drop, every addition, every rewording, and nothing unchanged
reported as changed.

Used by `bench/fit_compare.py` (fits the weights and the threshold), by
`bench/bench_compare.py` and by the tests.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.loaders import load_path
from ingest.models import Document, Paragraph, content_hash
from ingest.parser import parse_loaded
from ingest.sentences import split_sentences
from qa.compare import AlignInput, AlignmentParams, assign, features, is_furniture

Encode = Callable[[list[str]], np.ndarray]

# Shares of a statement's paragraphs that an edited copy drops, adds and rewords.
DROP_SHARE = 0.15
ADD_SHARE = 0.15
REWORD_SHARE = 0.25
MIN_REWORD_WORDS = 8


def load_statement(path: Path) -> Document:
    """A statement file parsed as `ingest` parses it (front matter gives the title and date), minus furniture."""
    document = parse_loaded(load_path(path))
    kept = [p for p in document.paragraphs if not is_furniture(p.text)]  # as `compare` skips them
    return dataclasses.replace(
        document, paragraphs=tuple(dataclasses.replace(p, position=i) for i, p in enumerate(kept))
    )


@dataclass(frozen=True)
class EditedPair:
    """A statement (A), its edited copy (B) and the true alignment between them."""

    original: Document
    edited: Document
    truth: frozenset[tuple[int, int]]  # (index in A, index in B)
    reworded: frozenset[int]  # indices in B
    added: frozenset[int]  # indices in B
    dropped: frozenset[int]  # indices in A


def _paragraph(doc_id: str, label: str, position: int, text: str) -> Paragraph:
    return Paragraph(doc_id=doc_id, label=label, position=position, text=text, sentences=split_sentences(text))


def reword(text: str, donor: str, rng: random.Random) -> str:
    """One or two drafting edits to a paragraph; the result always differs from the input."""
    for _attempt in range(10):
        edited = text
        for _ in range(rng.choice((1, 1, 2))):
            edited = _edit_once(edited, donor, rng)
        if edited != text:
            return edited
    return text + " " + _sentences(donor)[0]


def _sentences(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)] or [text]


def _edit_once(text: str, donor: str, rng: random.Random) -> str:
    sentences = _sentences(text)
    words = text.split()
    donor_words = donor.split()
    kind = rng.choice(("drop-sentence", "add-sentence", "replace-words", "replace-words", "figures"))
    if kind == "drop-sentence" and len(sentences) >= 3:
        del sentences[rng.randrange(len(sentences))]
        return " ".join(sentences)
    if kind == "add-sentence" and len(sentences) >= 2:
        sentences.insert(rng.randrange(len(sentences) + 1), rng.choice(_sentences(donor)))
        return " ".join(sentences)
    if kind == "figures" and re.search(r"\d", text):
        return re.sub(r"\d+", lambda m: str(int(m.group()) + rng.randint(1, 9)), text, count=2)
    # Replace a run of a few words with a run from the donor: a new phrase, same place. At
    # most a quarter of the words go, so the paragraph is reworded, not replaced.
    if len(words) < 4 or len(donor_words) < 3:
        return text + " " + rng.choice(_sentences(donor))
    span = rng.randint(1, max(1, min(6, len(words) // 4)))
    start = rng.randrange(0, len(words) - span + 1)
    take = rng.randint(1, min(span + 2, len(donor_words)))
    from_ = rng.randrange(0, len(donor_words) - take + 1)
    return " ".join([*words[:start], *donor_words[from_ : from_ + take], *words[start + span :]])


def _is_prose(text: str) -> bool:
    return len(text.split()) >= MIN_REWORD_WORDS and bool(_SENTENCE_END.search(text))


_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]*]*\s*$")


def edit_statement(document: Document, donors: Sequence[str], seed: int) -> EditedPair:
    """An edited copy of `document` with its true alignment; `donors` are paragraphs of other statements."""
    rng = random.Random(f"{document.id}:{seed}")  # noqa: S311 - reproducible test data, not security
    n = len(document.paragraphs)
    order = list(range(n))
    dropped = set(rng.sample(order, max(1, round(DROP_SHARE * n)))) if n > 2 else set()
    kept = [i for i in order if i not in dropped]
    # Move one block of 1-3 paragraphs elsewhere (reordering).
    if len(kept) > 4:
        size = rng.randint(1, 3)
        start = rng.randrange(0, len(kept) - size)
        block = kept[start : start + size]
        rest = kept[:start] + kept[start + size :]
        at = rng.randrange(0, len(rest) + 1)
        kept = rest[:at] + block + rest[at:]
    # Only paragraphs of sentences are reworded: a heading the parser kept ("**Efforts to
    # enhance trilateral security**", no full stop) is replaced, not reworded, when edited.
    rewordable = [i for i in kept if _is_prose(document.paragraphs[i].text)]
    count = min(len(rewordable), max(1, round(REWORD_SHARE * len(kept))))
    reworded_sources = set(rng.sample(rewordable, count))
    # New paragraphs (None) at random places.
    sequence: list[int | None] = list(kept)
    for _ in range(max(1, round(ADD_SHARE * n))):
        sequence.insert(rng.randrange(0, len(sequence) + 1), None)
    doc_id = f"{document.id[:57]}-edited"  # ids are at most 64 characters; the copy's must differ
    paragraphs: list[Paragraph] = []
    truth, reworded, added = set(), set(), set()
    used_donors: set[str] = set()
    for j, source in enumerate(sequence):
        if source is None:
            text = rng.choice([d for d in donors if d not in used_donors] or list(donors))
            used_donors.add(text)
            added.add(j)
        else:
            text = document.paragraphs[source].text
            if source in reworded_sources:
                text = reword(text, rng.choice(donors), rng)
                reworded.add(j)
            truth.add((source, j))
        paragraphs.append(_paragraph(doc_id, str(j + 1), j, text))  # renumbered 1..n
    edited = dataclasses.replace(
        document,
        id=doc_id,
        title=f"{document.title} (edited)",
        source=f"{document.source}#edited-{seed}",
        content_hash=content_hash("\n".join(p.text for p in paragraphs)),
        paragraphs=tuple(paragraphs),
        numbered=True,
    )
    return EditedPair(document, edited, frozenset(truth), frozenset(reworded), frozenset(added), frozenset(dropped))


def align_inputs(document: Document, vectors: dict[str, np.ndarray]) -> list[AlignInput]:
    """Alignment inputs with sentence vectors looked up by text (as ingestion embeds them)."""
    return [
        AlignInput(p.text, np.stack([vectors[s] for s in (p.sentence_texts() or [p.text])]))
        for p in document.paragraphs
    ]


def sentence_texts(documents: Sequence[Document]) -> list[str]:
    return sorted({s for d in documents for p in d.paragraphs for s in (p.sentence_texts() or [p.text])})


@dataclass
class Tally:
    """Pairs found, pairs right and true pairs; exact reports among documents compared."""

    predicted: int = 0
    correct: int = 0
    truth: int = 0
    exact: int = 0
    compared: int = 0

    def add(
        self, predicted: set[tuple[int, int]] | frozenset[tuple[int, int]], truth: frozenset[tuple[int, int]]
    ) -> None:
        self.predicted += len(predicted)
        self.correct += len(set(predicted) & truth)
        self.truth += len(truth)
        self.exact += int(set(predicted) == truth)
        self.compared += 1

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.truth if self.truth else 1.0

    def to_json(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "pairs": self.truth,
            "exact": self.exact,
            "compared": self.compared,
        }


def predicted_pairs(a: list[AlignInput], b: list[AlignInput], params: AlignmentParams) -> set[tuple[int, int]]:
    return set(assign(features(a, b).score(params), params.threshold))


# Hand-checked real pairs ------------------------------------------------------------------------
@dataclass(frozen=True)
class RealPair:
    """Two successive real statements and the paragraph pairs a person checked by hand.

    Paragraphs are named by the start of their text, not their label, so the file
    survives parser changes that renumber unnumbered statements.
    """

    a: str  # archive path, relative to the archive root
    b: str
    pairs: tuple[tuple[str, str], ...]  # (start of A's paragraph, start of B's paragraph)


def load_real_pairs(path: Path) -> list[RealPair]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [RealPair(item["a"], item["b"], tuple((x, y) for x, y in item["pairs"])) for item in data["pairs"]]


def index_of(document_texts: Sequence[str], start: str) -> int:
    """The index of the one paragraph whose text starts with `start` (white space folded)."""
    found = [i for i, text in enumerate(document_texts) if " ".join(text.split()).startswith(start)]
    if len(found) != 1:
        raise ValueError(f"{len(found)} paragraphs start with {start!r}")
    return found[0]


def real_truth(pair: RealPair, texts_a: Sequence[str], texts_b: Sequence[str]) -> frozenset[tuple[int, int]]:
    return frozenset((index_of(texts_a, x), index_of(texts_b, y)) for x, y in pair.pairs)
