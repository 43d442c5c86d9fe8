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

import ctypes
import ctypes.util
import functools
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ingest.models import Span
from vectorstore.store import StoredParagraph, StoredSentence

if TYPE_CHECKING:
    from vectorstore.store import ParagraphStore

log = logging.getLogger(__name__)

_BYTES_PER_VALUE = 4  # float32, as Chroma returns them: the cosines match the Chroma path's exactly


@dataclass(frozen=True)
class ResidentSentences:
    """The sentence vectors of one corpus version, in the order Chroma returned them."""

    version: str
    matrix: np.ndarray  # (sentences, dimension) float32
    indexes: np.ndarray  # a row's sentence index within its paragraph
    starts: np.ndarray  # a row's span in its paragraph's text
    ends: np.ndarray
    rows: dict[str, np.ndarray]  # paragraph key -> its rows, in sentence order

    @property
    def megabytes(self) -> float:
        return self.matrix.nbytes / 2**20

    def vectors(self, key: str) -> np.ndarray | None:
        """The paragraph's sentence vectors, in sentence order, or None when it has none here."""
        rows = self.rows.get(key)
        return None if rows is None else self.matrix[rows]

    def sentences(self, paragraph: StoredParagraph) -> list[StoredSentence] | None:
        """The paragraph's sentences, their text cut from the paragraph's as `ParagraphStore.sentences_for` does."""
        rows = self.rows.get(paragraph.key)
        if rows is None:
            return None
        found = []
        for row in rows:
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


def release_freed_memory() -> bool:
    """Hand the heap's freed pages back to the operating system (glibc's `malloc_trim`); True if it ran.

    A long-running process's one-off reads (this copy's pages of Python floats, the
    documents' metadata) leave hundreds of MB freed but still counted in its RSS:
    at archive scale the bot held ~1,520 MB after warming up, ~1,360 MB after this.
    Elsewhere than glibc there is nothing to call, and nothing is done.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@functools.cache
def _malloc_trim() -> Any:
    name = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None


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
    dimension = store.embedder.dimension
    # Filled in place, page by page: the process never holds a second copy of the vectors
    # (a list of pages joined and then reordered had peaked at three).
    matrix = np.empty((count, dimension), dtype=np.float32)
    codes: dict[str, int] = {}
    key_codes = np.empty(count, dtype=np.int64)
    indexes = np.empty(count, dtype=np.int32)
    starts = np.empty(count, dtype=np.int32)
    ends = np.empty(count, dtype=np.int32)
    filled = 0
    for metadatas, vectors in store.sentence_pages():
        if filled + len(metadatas) > count:
            return None  # records were added while reading: an ingest is running, and the copy would be a mixture
        for row, meta in enumerate(metadatas, start=filled):
            key_codes[row] = codes.setdefault(str(meta["para_key"]), len(codes))
            indexes[row] = int(meta["index"])
            starts[row] = int(meta["start"])
            ends[row] = int(meta["end"])
        matrix[filled : filled + len(metadatas)] = vectors
        filled += len(metadatas)
    if filled < count:
        return None  # records were removed while reading: likewise a mixture
    order = np.lexsort((indexes, key_codes))  # by paragraph, then sentence index
    sorted_codes = key_codes[order]
    boundaries = np.flatnonzero(np.diff(sorted_codes)) + 1
    firsts = np.concatenate(([0], boundaries)).astype(np.int64) if filled else np.zeros(0, dtype=np.int64)
    lasts = np.concatenate((boundaries, [filled])).astype(np.int64) if filled else np.zeros(0, dtype=np.int64)
    keys = list(codes)
    rows = {keys[int(sorted_codes[f])]: order[f:e] for f, e in zip(firsts, lasts, strict=True)}
    resident = ResidentSentences(version=version, matrix=matrix, indexes=indexes, starts=starts, ends=ends, rows=rows)
    release_freed_memory()  # the pages read are garbage now
    log.info(
        "holding %d sentence vectors of %d paragraphs in memory (%.0f MB, read in %.1f s)",
        filled,
        len(rows),
        resident.megabytes,
        time.perf_counter() - started,
    )
    return resident
