"""Every sentence vector of the corpus, held in memory by a long-running process.

Each question scores its ~90 candidate paragraphs (the union of the window,
sentence and BM25 searches) by the exact cosine of their sentences' vectors.
At archive scale (6,454 statements, 189,302 sentence vectors) reading those
vectors from Chroma took about 22 ms of a ~100 ms answer: a `get` by id of a
few hundred records with their embeddings is slow however small the collection
around them. A process that answers many questions (the Discord bot,
`statementbot eval`) reads them all once instead, when it warms up (setting
`resident_vectors_mb`; about 290 MB of float32 for the whole archive), and
scores from memory. A one-shot `statementbot ask` never reads them.

A copy belongs to one corpus version. After any ingest, by this process or by
another one writing to the same store, the version changes: reads go back to
Chroma at once, and a fresh copy is read in the background.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ingest.models import Span
from vectorstore.store import StoredParagraph, StoredSentence

if TYPE_CHECKING:
    from vectorstore.store import ParagraphStore

log = logging.getLogger(__name__)

_BYTES_PER_VALUE = 4  # float32, as Chroma returns them: the cosines match the Chroma path's exactly


@dataclass(frozen=True)
class ResidentSentences:
    """The sentence vectors of one corpus version; each paragraph's rows together, in sentence order."""

    version: str
    matrix: np.ndarray  # (sentences, dimension) float32
    indexes: np.ndarray  # a row's sentence index within its paragraph
    starts: np.ndarray  # a row's span in its paragraph's text
    ends: np.ndarray
    rows: dict[str, tuple[int, int]]  # paragraph key -> [first row, last row + 1)

    @property
    def megabytes(self) -> float:
        return self.matrix.nbytes / 2**20

    def vectors(self, key: str) -> np.ndarray | None:
        """The paragraph's sentence vectors (a view, not a copy), or None when it has none here."""
        bounds = self.rows.get(key)
        return None if bounds is None else self.matrix[bounds[0] : bounds[1]]

    def sentences(self, paragraph: StoredParagraph) -> list[StoredSentence] | None:
        """The paragraph's sentences, their text cut from the paragraph's as `ParagraphStore.sentences_for` does."""
        bounds = self.rows.get(paragraph.key)
        if bounds is None:
            return None
        found = []
        for row in range(*bounds):
            span = Span(int(self.starts[row]), int(self.ends[row]))
            found.append(
                StoredSentence(
                    paragraph_key=paragraph.key,
                    index=int(self.indexes[row]),
                    span=span,
                    text=paragraph.text[span.start : span.end],
                    vector=self.matrix[row],
                )
            )
        return found


def megabytes_needed(sentences: int, dimension: int) -> float:
    return sentences * dimension * _BYTES_PER_VALUE / 2**20


def read_resident(store: ParagraphStore, version: str, *, max_mb: float) -> ResidentSentences | None:
    """Every sentence vector in `store`, or None when they would take more than `max_mb` MB.

    The caller checks that the corpus version is still `version` afterwards: an ingest
    running meanwhile makes the copy a mixture, to be thrown away.
    """
    count = store.sentence_count()
    needed = megabytes_needed(count, store.embedder.dimension)
    if needed > max_mb:
        log.info(
            "not holding %d sentence vectors in memory: %.0f MB, over resident_vectors_mb %.0f; "
            "each question reads its candidates' vectors from Chroma",
            count,
            needed,
            max_mb,
        )
        return None
    started = time.perf_counter()
    codes: dict[str, int] = {}
    key_codes: list[int] = []
    indexes: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    pages: list[np.ndarray] = []
    for metadatas, vectors in store.sentence_pages():
        for meta in metadatas:
            key_codes.append(codes.setdefault(str(meta["para_key"]), len(codes)))
            indexes.append(int(meta["index"]))
            starts.append(int(meta["start"]))
            ends.append(int(meta["end"]))
        pages.append(vectors)
    dimension = store.embedder.dimension
    matrix = np.concatenate(pages) if pages else np.zeros((0, dimension), dtype=np.float32)
    by_code = np.asarray(key_codes, dtype=np.int64)
    index_of = np.asarray(indexes, dtype=np.int32)
    order = np.lexsort((index_of, by_code))  # by paragraph, then sentence index
    sorted_codes = by_code[order]
    boundaries = np.flatnonzero(np.diff(sorted_codes)) + 1
    firsts = np.concatenate(([0], boundaries)) if len(order) else np.zeros(0, dtype=np.int64)
    lasts = np.concatenate((boundaries, [len(order)])) if len(order) else np.zeros(0, dtype=np.int64)
    keys = list(codes)
    rows = {keys[int(sorted_codes[f])]: (int(f), int(e)) for f, e in zip(firsts, lasts, strict=True)}
    resident = ResidentSentences(
        version=version,
        matrix=np.ascontiguousarray(matrix[order]),
        indexes=index_of[order],
        starts=np.asarray(starts, dtype=np.int32)[order],
        ends=np.asarray(ends, dtype=np.int32)[order],
        rows=rows,
    )
    log.info(
        "holding %d sentence vectors of %d paragraphs in memory (%.0f MB, read in %.1f s)",
        len(order),
        len(rows),
        resident.megabytes,
        time.perf_counter() - started,
    )
    return resident
