"""Hybrid retrieval: dense (paragraphs and sentences) + BM25, fused by re-scoring.

The candidates of the three retrievers (nearest paragraph windows, nearest
sentences, BM25) are pooled and every candidate is scored again from the same
evidence: the exact cosine of its paragraph and of its best sentence, computed
from the stored sentence vectors, plus its BM25 score relative to the query's
best. Fusing ranks alone (reciprocal rank) cannot lift a paragraph that only one
retriever found, however clearly it won there. The weights are fitted by
`bench/fit_fusion.py` and read from `vectorstore/fusion.json`.

Exact references ("paragraph 7", "para 12 of the 2025 statement", "¶3") bypass
search entirely: the user asked for a paragraph by its number, so they get it.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache, partial
from pathlib import Path
from typing import Any

import numpy as np

from errors import UnknownDocument
from ingest.models import PREAMBLE_LABEL, SECTION_LABEL_PATTERN, section_label
from ingest.text import content_terms, name_words, title_terms, token_set, tokenize
from vectorstore.lexical import LexicalIndex
from vectorstore.resident import ResidentSentences, read_resident
from vectorstore.store import DocumentRecord, ParagraphStore, StoredParagraph, StoredSentence

log = logging.getLogger(__name__)

CANDIDATES = 30  # per list, before fusion
FUSION_WEIGHTS_PATH = Path(__file__).with_name("fusion.json")
# Title words too common to name one statement ("What did the ministers say ...?").
_GENERIC_TITLE_WORDS = frozenset(
    "statement joint declaration communique communiqué meeting ministerial ministers minister foreign defence defense"
    " consultations summit leaders readout press release dialogue talks".split()
)
# Words naming a kind of document, not a document ("the G7 statement"): see `_documents_named`.
_KIND_WORDS = frozenset("statement joint document declaration communique communiqué".split())
# Up to this many paragraphs in the filtered documents, dense search runs here, not in Chroma.
EXACT_SEARCH_PARAGRAPHS = 150
# Paragraphs whose sentence vectors one step of an in-process search holds (~15 MB, ~5 sentences each).
_EXACT_CHUNK_PARAGRAPHS = 2_000
# A search within some documents asks Chroma, unfiltered, up to this deep (the cost grows with
# the depth: ~30 ms at 200, ~70 ms at 400 on the archive), 1.5 times as deep as their share needs.
OVERFETCH_MAX_DEPTH = 400
OVERFETCH_MARGIN = 1.5
_REMEMBERED_REFERENCES = 64  # paragraph references looked up, per process (keyed on the corpus version)
CACHED_PARAGRAPHS = 5_000  # per process; with their sentences and vectors about 30 MB

# "point 2" and "item 3" are how people name a numbered paragraph or a bullet too; "article" is
# not here: "Article IV" of a treaty a statement mentions is no paragraph of the statement.
_REFERENCE = re.compile(
    r"(?:\bparagraphs?|\bparas?\.?|\bpar\.|\bpoints?|\bitems?|¶|§)\s*"
    rf"(?P<labels>(?:{SECTION_LABEL_PATTERN}|\d{{1,4}}(?!\d)|preamble)"
    rf"(?:\s*(?:,|and|&|-|–|to)\s*(?:{SECTION_LABEL_PATTERN}|\d{{1,4}}(?!\d)))*)"
    r"(?:\s+(?:of|in|from)\s+(?:the\s+)?(?P<doc>[^?.!,;]{2,80}))?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Hit:
    """A retrieved paragraph with the evidence for its rank."""

    paragraph: StoredParagraph
    score: float  # fused score (weighted cosines + relative BM25), or 1.0 for an exact reference
    dense: float = 0.0  # best cosine similarity of any window or sentence
    lexical: float = 0.0  # BM25 score, 0 when no query term matched
    exact: bool = False


@dataclass(frozen=True)
class Reference:
    """Paragraphs a question asked for by number: the labels, the documents asked, what was found."""

    labels: tuple[str, ...]
    doc_ids: tuple[str, ...]  # the documents the reference could mean, most recent first
    hits: tuple[Hit, ...]  # empty: none of them has any of the labels


@dataclass(frozen=True)
class Candidate:
    """What fusion knows about one candidate paragraph."""

    paragraph: float  # cosine of the paragraph's vector (best window for split paragraphs)
    sentence: float  # cosine of its best sentence
    bm25: float  # raw BM25 score, 0 when BM25 did not propose it
    bm25_relative: float  # BM25 score / the query's best BM25 score, in [0, 1]

    def features(self) -> tuple[float, float, float]:
        return (self.paragraph, self.sentence, self.bm25_relative)

    def fused(self, weights: FusionWeights) -> float:
        return (
            weights.paragraph * self.paragraph + weights.sentence * self.sentence + weights.lexical * self.bm25_relative
        )


@dataclass(frozen=True)
class FusionWeights:
    """Weights of the fused score; fitted by `bench/fit_fusion.py`, stored in `vectorstore/fusion.json`."""

    paragraph: float
    sentence: float
    lexical: float


@cache
def fusion_weights(path: Path = FUSION_WEIGHTS_PATH) -> FusionWeights:
    """The fitted fusion weights (read once per process)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    weights = data["weights"]
    return FusionWeights(
        paragraph=float(weights["paragraph"]), sentence=float(weights["sentence"]), lexical=float(weights["lexical"])
    )


@dataclass(frozen=True)
class SearchFilter:
    doc_ids: tuple[str, ...] | None = None
    date_from: date | None = None
    date_to: date | None = None
    # Question words that chose the documents ("the *Quad* statement"), not the topic: the
    # answerer does not ask the evidence for them.
    naming_words: frozenset[str] = frozenset()


@dataclass
class SearchResult:
    query: str
    query_vector: np.ndarray
    hits: list[Hit]
    exact: bool = False
    documents: dict[str, DocumentRecord] = field(default_factory=dict)
    corpus_version: str | None = None  # the corpus these hits come from; derived lookups reuse it
    naming_words: frozenset[str] = frozenset()  # question words that chose the document ("G7"), not the topic
    candidates: dict[str, Candidate] = field(default_factory=dict)  # every pooled paragraph, for fitting fusion


class _PerVersionCache:
    """Paragraphs and their sentences as last read from Chroma, for one corpus version.

    Questions keep returning to the same paragraphs; reading them again costs a
    Chroma round trip per question. Keyed by the version read for the query, so
    an ingest by any process empties it. Bounded: least recently used go first.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.version: str | None = None
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def lookup(self, version: str | None, keys: Sequence[str], load: Callable[[list[str]], dict[str, Any]]) -> dict:
        if version is None:
            return load(list(keys))
        with self._lock:
            if version != self.version:
                self._items.clear()
                self.version = version
            found = {key: self._items[key] for key in keys if key in self._items}
            for key in found:
                self._items.move_to_end(key)
        missing = [key for key in keys if key not in found]
        if missing:
            loaded = load(missing)
            with self._lock:
                if version == self.version:
                    self._items.update(loaded)
                    while len(self._items) > self.capacity:
                        self._items.popitem(last=False)
            found.update(loaded)
        return found


class HybridRetriever:
    """Dense + lexical retrieval over a ParagraphStore."""

    def __init__(self, store: ParagraphStore, lexical: LexicalIndex, *, resident_max_mb: float = 0.0) -> None:
        """`resident_max_mb` (setting `resident_vectors_mb`): the most memory `load_resident` may
        fill with every sentence vector; 0 never holds them (each question reads its own)."""
        self.store = store
        self.lexical = lexical
        self.resident_max_mb = resident_max_mb
        self._resident: ResidentSentences | None = None
        self._resident_reading = threading.Lock()  # one full read at a time
        self._resident_reader: threading.Thread | None = None
        self._resident_tried: str | None = None  # the corpus version last read in, held or not
        self._documents_version: str | None = None
        self._documents: dict[str, DocumentRecord] = {}
        self._title_owners: dict[str, set[str]] = {}  # title word -> documents whose id or title has it
        self._lock = threading.Lock()
        self._paragraphs = _PerVersionCache(CACHED_PARAGRAPHS)
        self._sentences = _PerVersionCache(CACHED_PARAGRAPHS)
        self._pinned = threading.local()  # the corpus version one question reads everything at
        self._references: OrderedDict[tuple[str, str, tuple[str, ...]], Reference] = OrderedDict()
        # The window, sentence and BM25 searches of one question run side by side: each waits on
        # Chroma or SQLite, which work outside the GIL (at archive scale 20-24 ms against 34-41 ms
        # one after the other, bench/bench_archive.py).
        self._searchers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="statementbot-search")

    @contextmanager
    def one_version(self) -> Iterator[str]:
        """Within the block, every read keys on one corpus version, read from Chroma once.

        A question scopes itself (documents), looks for paragraph references and searches:
        each would otherwise read the version again, one server round trip each.
        """
        pinned = getattr(self._pinned, "version", None)
        if pinned is not None:
            yield pinned
            return
        self._pinned.version = self.store.corpus_version()
        try:
            yield self._pinned.version
        finally:
            self._pinned.version = None

    def corpus_version(self) -> str:
        """The corpus version pinned for the current question, else read from the store."""
        pinned = getattr(self._pinned, "version", None)
        return pinned if pinned is not None else self.store.corpus_version()

    def close(self) -> None:
        """Stop the search threads (the store and the BM25 index are closed by their owner)."""
        self._searchers.shutdown(wait=True)

    def clear_caches(self) -> None:
        """Forget cached paragraphs, sentences and term counts (benchmarks measure the uncached path)."""
        self._paragraphs.clear()
        self._sentences.clear()
        self.lexical.clear_cache()

    # Resident sentence vectors (vectorstore.resident) -------------------------
    def load_resident(self) -> bool:
        """Read every sentence vector into memory, within `resident_max_mb`; True when they are held.

        A long-running front end calls this when it warms up. Only a copy of the corpus version
        current both before and after the read is kept: an ingest meanwhile would make it a mixture.
        """
        if self.resident_max_mb <= 0:
            return False
        with self._resident_reading:
            version = self.store.corpus_version()
            held = self._resident
            if held is not None and held.version == version:
                return True
            self._resident_tried = version
            self._resident = None  # a stale copy's memory goes before the new one is read
            resident = read_resident(self.store, version, max_mb=self.resident_max_mb)
            if resident is None or self.store.corpus_version() != version:
                return False
            self._resident = resident
            return True

    def _resident_at(self, version: str | None) -> ResidentSentences | None:
        """The resident copy if it is of `version`. Otherwise, when a copy is wanted (`load_resident` ran)
        and the corpus changed since the last read, held or not, a fresh read starts in the background:
        a copy goes stale with every ingest, and a read that an ingest overlapped held nothing."""
        resident = self._resident
        if version is None:
            return None
        if resident is not None and resident.version == version:
            return resident
        if self._resident_tried is None or self._resident_tried == version:
            return None  # never wanted, or this version's read failed or was over the limit: no retry loop
        with self._lock:
            reader = self._resident_reader
            if reader is None or not reader.is_alive():
                self._resident_reader = threading.Thread(
                    target=self._reload_resident, name="statementbot-resident", daemon=True
                )
                self._resident_reader.start()
        return None

    def _reload_resident(self) -> None:
        try:
            self.load_resident()
        except Exception:  # answering goes on from Chroma; the next ingest's version is read again
            log.exception("could not read the sentence vectors into memory again")

    @property
    def resident(self) -> ResidentSentences | None:
        """The sentence vectors held in memory, if any (of whatever version: see `_resident_at`)."""
        return self._resident

    def sentence_vectors(self, keys: Sequence[str], *, version: str | None = None) -> dict[str, np.ndarray]:
        """Each paragraph's sentence vectors (rows in sentence order), from memory where held;
        paragraphs with no readable sentences are left out."""
        resident = self._resident_at(version)
        found: dict[str, np.ndarray] = {}
        missing = list(keys)
        if resident is not None:
            missing = []
            for key in keys:
                vectors = resident.vectors(key)
                if vectors is None:
                    missing.append(key)
                else:
                    found[key] = vectors
        if missing:
            grouped: dict[str, list[np.ndarray]] = {}
            for sentence in self.sentences_for(missing, version=version):
                grouped.setdefault(sentence.paragraph_key, []).append(sentence.vector)
            found.update((key, np.stack(rows)) for key, rows in grouped.items())
        return found

    def paragraphs_by_key(self, keys: Sequence[str], *, version: str | None = None) -> dict[str, StoredParagraph]:
        """The stored paragraphs for `keys` (missing keys left out); cached for `version` when given."""
        return self._paragraphs.lookup(version, keys, self.store.paragraphs_by_key)

    def sentences_for(self, keys: Sequence[str], *, version: str | None = None) -> list[StoredSentence]:
        """The sentences of the paragraphs `keys`, in paragraph and sentence order; cached for `version`."""

        def load(missing: list[str]) -> dict[str, list[StoredSentence]]:
            grouped: dict[str, list[StoredSentence]] = {key: [] for key in missing}
            # Their text is cut from their paragraphs', read through the paragraph cache (usually a hit).
            paragraphs = self.paragraphs_by_key(missing, version=version)
            for sentence in self.store.sentences_for(missing, paragraphs=paragraphs):
                grouped.setdefault(sentence.paragraph_key, []).append(sentence)
            return grouped

        resident = self._resident_at(version)
        if resident is not None:
            # Vectors and spans from memory, text cut from the (cached) paragraphs: no sentence read.
            held: dict[str, list[StoredSentence]] = {}
            for key, paragraph in self.paragraphs_by_key(keys, version=version).items():
                sentences = resident.sentences(paragraph)
                if sentences is not None:
                    held[key] = sentences
            unheld = [key for key in keys if key not in held]
            grouped = {**held, **self._sentences.lookup(version, unheld, load)} if unheld else held
        else:
            grouped = self._sentences.lookup(version, keys, load)
        return [sentence for key in sorted(grouped) for sentence in grouped[key]]

    def documents(self, version: str | None = None) -> dict[str, DocumentRecord]:
        """Fully ingested documents (those with a record), cached per corpus version."""
        version = self.corpus_version() if version is None else version
        with self._lock:
            if version != self._documents_version:
                self._documents = {r.id: r for r in self.lexical.documents(version)}
                self._title_owners = {}
                for doc_id, record in self._documents.items():
                    for word in token_set(f"{doc_id} {record.title}") - _GENERIC_TITLE_WORDS:
                        self._title_owners.setdefault(word, set()).add(doc_id)
                self._documents_version = version
            return self._documents

    def allowed_doc_ids(
        self, search_filter: SearchFilter | None, documents: dict[str, DocumentRecord] | None = None
    ) -> list[str]:
        documents = self.documents() if documents is None else documents
        if search_filter is None:
            return list(documents)
        allowed = []
        for doc_id, record in documents.items():
            if search_filter.doc_ids is not None and doc_id not in search_filter.doc_ids:
                continue
            if search_filter.date_from and (record.date is None or record.date < search_filter.date_from):
                continue
            if search_filter.date_to and (record.date is None or record.date > search_filter.date_to):
                continue
            allowed.append(doc_id)
        if search_filter.doc_ids:
            missing = [d for d in search_filter.doc_ids if d not in documents]
            if missing:
                raise UnknownDocument(f"No document with id {missing[0]!r}.")
        return allowed

    def documents_named_in(
        self, query: str, documents: dict[str, DocumentRecord], version: str
    ) -> tuple[list[str], frozenset[str]]:
        """Documents the question names by a word only their own title and text use.

        "What did the G7 say about Ukraine?" with three statements ingested means
        the G7 communiqué: "G7" is in its title and in no other statement. A
        word that another statement also uses ("Japan", "UK") names nothing.
        Returns the documents and the words that named them.
        """
        if len(documents) < 2:
            return [], frozenset()
        named: set[str] = set()
        naming: set[str] = set()
        for word in set(content_terms(query)):
            owners = self._title_owners.get(word, set())
            if len(owners) == 1 and not self.lexical.used_outside(word, next(iter(owners)), version=version):
                named |= owners
                naming.add(word)
        return sorted(named), frozenset(naming)

    def search(
        self,
        query: str,
        *,
        k: int = 8,
        search_filter: SearchFilter | None = None,
        query_vector: np.ndarray | None = None,
        weights: FusionWeights | None = None,
    ) -> SearchResult:
        """The best `k` paragraphs for `query`; pass `query_vector` when it was embedded already.

        `weights` replaces the fitted fusion weights (the fitting script tries others).
        """
        # One read of the corpus version per query: documents, the lexical index
        # and the answerer's IDF lookups all key on it.
        version = self.corpus_version()
        documents = self.documents(version)
        naming: frozenset[str] = search_filter.naming_words if search_filter is not None else frozenset()
        if search_filter is None or search_filter.doc_ids is None:
            # A question that names one statement ("What did the G7 say ...?") is
            # asked of that statement, as if it had been filtered to it.
            named, unique_naming = self.documents_named_in(query, documents, version)
            if named:
                naming = naming | unique_naming
                search_filter = replace(search_filter or SearchFilter(), doc_ids=tuple(named))
        doc_ids = self.allowed_doc_ids(search_filter, documents)
        vector = self.store.embedder.encode([query])[0] if query_vector is None else query_vector
        result = partial(SearchResult, query, vector, documents=documents, corpus_version=version, naming_words=naming)
        reference = self.reference_in(query, doc_ids, documents)
        if reference is not None:
            # Found or not, a paragraph asked for by number is not searched for: "¶999" must not
            # match a title holding "999", nor bring back some other paragraph.
            return result(list(reference.hits), exact=True)
        if not doc_ids:
            return result([])
        # Only restrict by id when a filter narrows the corpus: an `$in` over every
        # document would cost time at 100k paragraphs for nothing.
        restrict = doc_ids if len(doc_ids) < len(documents) else None
        restricted = sum(documents[d].paragraphs for d in restrict) if restrict is not None else 0
        share = restricted / (sum(r.paragraphs for r in documents.values()) or 1) if restrict is not None else 1.0
        lexical_query = _topic_of(query, naming) if restrict is not None else query
        if restrict is not None and self._searches_here(restricted, share, version):
            dense, sentences = self._exact_dense(vector, restrict, version)
            lexical = self.lexical.search(lexical_query, CANDIDATES, doc_ids=restrict, version=version)
        else:
            lexical_search = self._searchers.submit(
                self.lexical.search, lexical_query, CANDIDATES, doc_ids=restrict, version=version
            )
            sentence_search = self._searchers.submit(
                _nearest_within, self.store.sentence_search, vector, restrict, share
            )
            dense = _nearest_within(self.store.dense_search, vector, restrict, share)
            sentences, lexical = sentence_search.result(), lexical_search.result()
        candidates = self.score_candidates(vector, dense, sentences, lexical, version=version)
        weights = weights or fusion_weights()
        fused = {key: c.fused(weights) for key, c in candidates.items()}
        top = sorted(fused, key=lambda key: (-fused[key], key))[:k]
        paragraphs = self.paragraphs_by_key(top, version=version)
        allowed = set(doc_ids)
        hits = [
            Hit(
                paragraph=paragraphs[key],
                score=fused[key],
                dense=max(candidates[key].paragraph, candidates[key].sentence),
                lexical=candidates[key].bm25,
            )
            for key in top
            # A paragraph without its document record belongs to an interrupted ingest.
            if key in paragraphs and paragraphs[key].doc_id in allowed
        ]
        if log.isEnabledFor(logging.DEBUG):  # -vv: what each ranking contributed to the top hits
            log.debug(
                "search %r over %d of %d documents: %d dense, %d sentence, %d lexical candidates; top: %s",
                query,
                len(doc_ids),
                len(documents),
                len(dense),
                len(sentences),
                len(lexical),
                "; ".join(
                    f"{h.paragraph.doc_id} ¶{h.paragraph.label} fused {h.score:.4f} dense {h.dense:.2f} "
                    f"bm25 {h.lexical:.2f}"
                    for h in hits[:5]
                ),
            )
        return result(hits, candidates=candidates)

    def score_candidates(
        self,
        vector: np.ndarray,
        dense: Sequence[tuple[str, float]],
        sentences: Sequence[tuple[str, float]],
        lexical: Sequence[tuple[str, float]],
        *,
        version: str | None,
    ) -> dict[str, Candidate]:
        """Every paragraph any retriever proposed, with exact cosines and its relative BM25 score.

        Cosines come from the stored sentence vectors (cached per corpus
        version), so a paragraph that only BM25 found is measured exactly as a
        dense hit would be. A paragraph's vector is the normalised mean of its
        sentences' vectors, as the indexer builds it; for a long paragraph split
        into windows, the best window's cosine reported by Chroma is kept too.
        """
        keys = list(dict.fromkeys([key for key, _ in dense] + [key for key, _ in sentences] + [k for k, _ in lexical]))
        if not keys:
            return {}
        by_key = self.sentence_vectors(keys, version=version)
        window_cosine: dict[str, float] = {}
        for key, similarity in dense:
            window_cosine[key] = max(window_cosine.get(key, -1.0), similarity)
        best_bm25 = max((score for _, score in lexical), default=0.0)
        bm25 = dict(lexical)
        cosines = _paragraph_cosines(vector, {key: by_key[key] for key in keys if by_key.get(key) is not None})
        candidates: dict[str, Candidate] = {}
        for key in keys:
            if key in cosines:
                paragraph, best_sentence = cosines[key]
            else:  # sentences not readable (interrupted ingest): keep what the retrievers reported
                paragraph = best_sentence = window_cosine.get(key, 0.0)
            candidates[key] = Candidate(
                paragraph=max(paragraph, window_cosine.get(key, -1.0)),
                sentence=best_sentence,
                bm25=bm25.get(key, 0.0),
                bm25_relative=bm25.get(key, 0.0) / best_bm25 if best_bm25 > 0 else 0.0,
            )
        return candidates

    def _searches_here(self, restricted: int, share: float, version: str) -> bool:
        """Whether dense search within `restricted` paragraphs (`share` of the corpus) runs here rather than in Chroma.

        A few paragraphs always do: reading their vectors costs less than Chroma's filtered
        query. With every sentence vector held in memory, so does any restriction too small for
        the deep unfiltered query (`_nearest_within`): at the archive's 200,000 paragraphs, a
        topic's 7,500 paragraphs take ~55 ms here against ~240 ms in Chroma's filtered query.
        """
        if restricted <= EXACT_SEARCH_PARAGRAPHS:
            return True
        return self._resident_at(version) is not None and _overfetch_depth(share) > OVERFETCH_MAX_DEPTH

    def _exact_dense(
        self, vector: np.ndarray, doc_ids: Sequence[str], version: str
    ) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        """Dense rankings within a few documents, computed here from their sentence vectors.

        Chroma's filtered nearest-neighbour query scans the metadata: at 100k
        paragraphs it costs 100-300 ms even when the filter leaves one statement.
        A paragraph's vector is the normalised mean of its sentences' vectors, as
        the indexer builds it, so both rankings come from the sentence vectors (held in memory, or cached).
        """
        # Paragraph order, then sentence order, as the ties were always broken. A statement named by its
        # topic can hold thousands of paragraphs: they are read and scored a chunk at a time, so memory
        # holds one chunk's vectors (not ~170 MB for the largest filter searched here), and in NumPy.
        keys: list[str] = []
        sentence_scores: list[np.ndarray] = []
        sentence_owners: list[np.ndarray] = []
        paragraph_scores: list[np.ndarray] = []
        all_keys = sorted(self.lexical.keys_of(doc_ids, version=version))
        for first in range(0, len(all_keys), _EXACT_CHUNK_PARAGRAPHS):
            wanted = all_keys[first : first + _EXACT_CHUNK_PARAGRAPHS]
            vectors = self.sentence_vectors(wanted, version=version)
            chunk = [key for key in wanted if key in vectors]  # in order; paragraphs without sentences left out
            if not chunk:
                continue
            counts = np.array([len(vectors[key]) for key in chunk])
            starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
            matrix = np.concatenate([vectors[key] for key in chunk])
            sentence_scores.append(matrix @ vector)
            sentence_owners.append(np.repeat(np.arange(len(keys), len(keys) + len(chunk)), counts))
            # A paragraph's vector is its sentences' mean, normalised: its cosine is the mean's dot
            # product over the mean's norm. Means are taken for the paragraphs of each sentence count
            # together (NumPy's `add.reduceat` over rows took 80 ms for 8,000 paragraphs; this ~15 ms).
            means = np.empty((len(chunk), matrix.shape[1]), dtype=matrix.dtype)
            for count in np.unique(counts):
                chosen = np.flatnonzero(counts == count)
                means[chosen] = matrix[starts[chosen, None] + np.arange(count)].mean(axis=1)
            norms = np.linalg.norm(means, axis=1)
            paragraph_scores.append((means @ vector) / np.where(norms > 0, norms, 1.0))
            keys.extend(chunk)
        if not keys:
            return [], []
        # A stable sort of the negated scores keeps the ties in paragraph and sentence order.
        by_row = np.concatenate(sentence_scores)
        owners = np.concatenate(sentence_owners)
        by_sentence = [
            (keys[owners[row]], float(by_row[row])) for row in np.argsort(-by_row, kind="stable")[:CANDIDATES]
        ]
        by_key = np.concatenate(paragraph_scores)
        by_paragraph = [
            (keys[index], float(by_key[index])) for index in np.argsort(-by_key, kind="stable")[:CANDIDATES]
        ]
        return by_paragraph, by_sentence

    # Exact references -----------------------------------------------------
    def exact_references(
        self, query: str, doc_ids: Sequence[str], documents: dict[str, DocumentRecord] | None = None
    ) -> list[Hit]:
        reference = self.reference_in(query, doc_ids, documents)
        return [] if reference is None else list(reference.hits)

    def reference_in(
        self, query: str, doc_ids: Sequence[str], documents: dict[str, DocumentRecord] | None = None
    ) -> Reference | None:
        """The paragraphs `query` asks for by number ("¶12", "paragraph 3 of the G7 statement"), or None.

        The most recent candidate document that has one of the labels wins. It is asked
        first (the usual case: one query by document and label); otherwise one query on the
        label across the candidates finds who has it, which costs a few milliseconds at
        5,000 documents when nobody does (see `ParagraphStore.keys_labelled`). What was found
        is then read by id.
        """
        match = _REFERENCE.search(query)
        if not match or not doc_ids:
            return None
        # The service asks first (a number no statement has?), then the search asks again: one lookup.
        memo_key = (self.corpus_version(), query, tuple(doc_ids))
        with self._lock:
            if memo_key in self._references:
                return self._references[memo_key]
        reference = self._reference(match, doc_ids, self.documents() if documents is None else documents)
        with self._lock:
            self._references[memo_key] = reference
            while len(self._references) > _REMEMBERED_REFERENCES:
                self._references.popitem(last=False)
        return reference

    def _reference(
        self, match: re.Match[str], doc_ids: Sequence[str], documents: dict[str, DocumentRecord]
    ) -> Reference:
        labels = _expand_labels(match["labels"])
        named = self._documents_named(match["doc"], doc_ids, documents) if match["doc"] else []
        candidates = sorted(named or doc_ids, key=lambda d: (documents[d].date or date.min, d), reverse=True)
        keys = self.store.keys_labelled(labels, candidates[:1])
        if not keys and len(candidates) > 1:
            everywhere = len(candidates) == len(documents)
            keys = self.store.keys_labelled(labels, None if everywhere else candidates)
        by_document: dict[str, dict[str, str]] = {}
        for key in keys:
            doc_id, label, _hash = key.split(":", 2)
            by_document.setdefault(doc_id, {})[label] = key
        chosen = next((d for d in candidates if d in by_document), None)
        hits: list[Hit] = []
        if chosen is not None:
            found = by_document[chosen]
            # Through the per-version cache: the service asks first (a missing number?), then the search.
            wanted = [found[label] for label in labels if label in found]
            paragraphs = self.paragraphs_by_key(wanted, version=self.corpus_version())
            hits = [
                Hit(paragraph=paragraphs[found[label]], score=1.0, dense=1.0, exact=True)
                for label in labels
                if label in found and found[label] in paragraphs
            ]
        return Reference(labels=tuple(labels), doc_ids=tuple(candidates), hits=tuple(hits))

    def _documents_named(self, words: str, doc_ids: Sequence[str], documents: dict[str, DocumentRecord]) -> list[str]:
        written = set(tokenize(words))
        wanted = written - _KIND_WORDS - {"the"}
        if not wanted:
            return []
        # Words naming the kind of document ("joint statement") never name one alone, but between
        # statements that share the rest they decide: "the US-India joint statement" is the Joint
        # Statement, not the newer fact sheet on the same two countries.
        # Then the title the words cover best: "US-India" is the U.S.-India statement's whole title,
        # and only a part of the Quad declaration's (Australia, India, Japan, the United States).
        kind = written & _KIND_WORDS
        scored = []
        for doc_id in doc_ids:
            record = documents[doc_id]
            haystack = record_words(record)
            overlap = len(wanted & haystack)
            if overlap:
                uncovered = len(title_terms(record.title) - written)
                scored.append(((overlap, len(kind & haystack), -uncovered), doc_id))
        if not scored:
            return []
        best = max(s for s, _ in scored)
        return [d for s, d in scored if s == best]


def record_words(record: DocumentRecord) -> frozenset[str]:
    """The words a statement is named by: its id's, its date's, its title's and the abbreviations the
    title spells out ("US" for "the United States"). Paragraph references and `compare` match these."""
    return token_set(f"{record.id} {record.date or ''}") | name_words(record.title)


def _paragraph_cosines(vector: np.ndarray, matrices: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """Per paragraph, the cosine of its vector (the normalised mean of its sentences') and its best sentence's.

    All paragraphs in one product and one reduction: per paragraph, NumPy's mean and norm cost ~4 ms of
    Python a question over its ~60 candidates at archive scale."""
    if not matrices:
        return {}
    counts = np.array([len(matrix) for matrix in matrices.values()])
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    stacked = np.concatenate(list(matrices.values()))
    best = np.maximum.reduceat(stacked @ vector, starts)
    means = np.add.reduceat(stacked, starts, axis=0) / counts[:, None]
    norms = np.linalg.norm(means, axis=1)
    paragraph = (means @ vector) / np.where(norms > 0, norms, 1.0)
    return {key: (float(p), float(b)) for key, p, b in zip(matrices, paragraph, best, strict=True)}


def _overfetch_depth(share: float) -> int:
    """How deep an unfiltered query must go to hold `CANDIDATES` paragraphs of documents holding
    `share` of the corpus (1.5 times the expected depth)."""
    return math.ceil(CANDIDATES / max(share, 1e-9) * OVERFETCH_MARGIN)


def _nearest_within(
    search: Callable[..., list[tuple[str, float]]],
    vector: np.ndarray,
    restrict: Sequence[str] | None,
    share: float,
) -> list[tuple[str, float]]:
    """The `CANDIDATES` nearest (paragraph key, cosine) of `search` within the documents `restrict`.

    Chroma's query with a `doc_id $in` filter reads the metadata of every allowed record
    first: 320 ms for a year of the archive (1,397 statements) against 30 ms for an unfiltered
    query 200 deep. When the allowed documents hold a large enough share of the paragraphs,
    the unfiltered query is asked deep enough to hold `CANDIDATES` of theirs (1.5 times the
    expected depth) and filtered here; the filtered query remains the fallback.
    """
    if restrict is None:
        return search(vector, CANDIDATES)
    depth = _overfetch_depth(share)
    if depth <= OVERFETCH_MAX_DEPTH:
        allowed = set(restrict)
        found = [(key, score) for key, score in search(vector, depth) if key.split(":", 1)[0] in allowed]
        if len(found) >= CANDIDATES:
            return found[:CANDIDATES]
    return search(vector, CANDIDATES, doc_ids=restrict)


def _expand_labels(text: str) -> list[str]:
    if text.lower().startswith(PREAMBLE_LABEL):
        return [PREAMBLE_LABEL]
    written = re.findall(rf"{SECTION_LABEL_PATTERN}|\d{{1,4}}", text, re.IGNORECASE)
    if any("." in label for label in written):  # "¶II.3", "paragraphs 1 and 2.1": no ranges across parts
        return [section_label(label) if "." in label else label for label in dict.fromkeys(written)]
    numbers = [int(n) for n in re.findall(r"\d{1,4}", text)]  # int(): "¶0999" is paragraph 999
    if len(numbers) == 2 and re.search(r"-|–|to", text):
        low, high = sorted(numbers)
        if high - low <= 10:
            return [str(n) for n in range(low, high + 1)]
    return [str(n) for n in dict.fromkeys(numbers)]


def __getattr__(name: str) -> Any:
    """`StatementRetriever` is built on first use: LangChain costs ~1 s to import, and most commands never need it."""
    if name == "StatementRetriever":
        from vectorstore.langchain_retriever import StatementRetriever

        return StatementRetriever
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _topic_of(query: str, naming_words: frozenset[str]) -> str:
    """The query's words less those that named the statement it is now restricted to.

    Within "the Spirit of Camp David statement", "Camp David" no longer tells
    paragraphs apart, except to favour the few that repeat the title: BM25 would
    rank the opening paragraph first for any question naming the statement.
    """
    if not naming_words:
        return query
    topic = [term for term in content_terms(query) if term not in naming_words]
    return " ".join(topic) if topic else query
