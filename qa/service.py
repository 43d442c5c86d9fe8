"""The facade front ends call: ask, read sources, ingest, remove.

Built once by `bot.runtime.build_service` and passed to the CLI or the Discord
bot. Everything here is synchronous and blocking; async front ends call it
through `asyncio.to_thread`.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Self

from errors import StatementbotError
from qa.citations import final_check
from qa.question import QuestionScope, normalise_question, question_scope, resolve_document, title_owners
from qa.reading import StatementReader
from qa.references import missing_paragraph_answer
from qa.types import Answer, Citation, Conversation
from vectorstore.indexing import Indexer, IngestReport, Progress, WhatsNew
from vectorstore.resident import release_freed_memory
from vectorstore.retrieval import HybridRetriever, SearchFilter
from vectorstore.store import DocumentRecord, ParagraphStore, newest_first

if TYPE_CHECKING:
    from qa.compare import Comparison
    from qa.timeline import TimelineAnswerer


TIMELINE_BACKEND = "timeline"  # qa.timeline.TimelineAnswerer.backend, named here to keep imports lazy
# Above this many new statements in one run, the ingest report does not look for their predecessors.
WHATS_NEW_MAX_DOCUMENTS = 20
# Asked once by `warm` (answered extractively, shown to nobody): any question takes the whole answering path.
WARM_UP_QUESTION = "What did the statements say?"


class AnswerBackend(Protocol):
    """Turns a question (plus conversation) into a checked, cited Answer."""

    def answer(
        self, question: str, *, conversation: Conversation | None, search_filter: SearchFilter | None
    ) -> Answer: ...


class StreamingAnswerBackend(AnswerBackend, Protocol):
    """A backend that can also stream: text deltas (str), then the Answer, always last."""

    def stream_answer(
        self, question: str, *, conversation: Conversation | None, search_filter: SearchFilter | None
    ) -> Iterator[str | Answer]: ...


class StatementService:
    def __init__(
        self,
        *,
        store: ParagraphStore,
        indexer: Indexer,
        retriever: HybridRetriever,
        answerer: AnswerBackend,
        sample_dir: Path | None,
        max_question_chars: int,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.store = store
        self.reader = StatementReader(store)
        self.indexer = indexer
        self.retriever = retriever
        self.answerer = answerer
        self.sample_dir = sample_dir
        self.max_question_chars = max_question_chars
        self.today = today  # "last year" in a question is relative to it
        self._write_lock = threading.Lock()  # one ingest at a time within this process
        self._timeline_answerer: TimelineAnswerer | None = None
        # What the last `warm` took; None until warmed, so a front end's start-up can be checked for it.
        self.warmed_s: float | None = None

    def with_answerer(self, answerer: AnswerBackend) -> Self:
        """The same store, indexing and retrieval answered by another backend (a variant shares the store).

        Variants share the write lock too, so ingesting through either is still one writer.
        """
        variant = copy.copy(self)
        variant.answerer = answerer
        return variant

    # Corpus ---------------------------------------------------------------
    def ensure_corpus(self) -> IngestReport | None:
        """Ingest the bundled sample statements when the store is empty (first use)."""
        if self.sample_dir is None or not self.sample_dir.exists() or self.store.has_documents():
            return None
        return self.ingest_paths([self.sample_dir])

    def documents(self) -> list[DocumentRecord]:
        """Newest first, from retrieval's records of the current corpus version: the Discord bot's listing
        and autocomplete read them in milliseconds, where Chroma's read of every record takes ~1 s at archive
        scale (over half of autocomplete's deadline)."""
        return newest_first(self.retriever.documents().values())

    def source(self, doc_id: str, label: str) -> Citation:
        return self.reader.source(doc_id, label)

    def source_all(self, doc_id: str) -> list[Citation]:
        """Every paragraph of a document, in its order (UnknownDocument when there is no such document)."""
        return self.reader.source_all(doc_id)

    def paragraph_labels(self, doc_id: str) -> list[str]:
        return [p.label for p in self.store.paragraphs(doc_id)]

    def ingest_paths(
        self, paths: Sequence[Path], *, prune: bool = False, doc_id: str | None = None, progress: Progress | None = None
    ) -> IngestReport:
        with self._write_lock:
            report = self.indexer.ingest_paths(paths, prune=prune, doc_id=doc_id, progress=progress)
            self._refresh_mirror()
        return self._with_whats_new(report)

    def ingest_bytes(
        self, data: bytes, *, name: str, source: str | None = None, id_hint: str | None = None
    ) -> IngestReport:
        with self._write_lock:
            report = self.indexer.ingest_bytes(data, name=name, source=source, id_hint=id_hint)
            self._refresh_mirror()
        return self._with_whats_new(report)

    def remove(self, doc_id: str) -> IngestReport:
        with self._write_lock:
            report = self.indexer.remove(doc_id)
            self._refresh_mirror()
            return report

    def _refresh_mirror(self) -> None:
        """After a write: stamp the corpus version (a store written before stamps gets one here) and
        rebuild the lexical index now, so that neither the next question nor a read-only command,
        which reads that index alone (vectorstore/mirror.py), pays for the rebuild."""
        self.store.stamp_version()
        self.retriever.lexical.ensure_fresh()

    def compare(self, a: str, b: str) -> Comparison:
        """What changed from statement A to B (ids or title words); raises UnknownDocument / AmbiguousDocument."""
        from qa.compare import Comparer

        return Comparer(self.store).compare(a, b)

    def resolve_document(self, reference: str) -> DocumentRecord:
        """A document by id or title words; raises UnknownDocument / AmbiguousDocument."""
        from qa.compare import resolve_document

        return resolve_document(reference, self.store.documents())

    def predecessor(self, doc_id: str) -> Comparison | None:
        """`doc_id` compared with the earlier statement of the same kind it most resembles, if any."""
        from qa.compare import Comparer

        return Comparer(self.store).predecessor(doc_id)

    def _with_whats_new(self, report: IngestReport) -> IngestReport:
        """Name, for each newly ingested statement, the earlier one it follows and what changed.

        Skipped for bulk runs (more than WHATS_NEW_MAX_DOCUMENTS new statements): each
        comparison reads two statements' vectors, which adds up over an archive.
        """
        from qa.compare import Comparer

        added = [c for c in report.changes if c.status == "added"]
        if not added or len(added) > WHATS_NEW_MAX_DOCUMENTS:
            return report
        comparer = Comparer(self.store)
        for change in added:
            comparison = comparer.predecessor(change.id)
            if comparison is not None:
                counts = comparison.counts()
                report.whats_new.append(
                    WhatsNew(
                        document=change.id,
                        previous=comparison.a.id,
                        previous_title=comparison.a.title,
                        unchanged=counts["unchanged"],
                        changed=counts["changed"],
                        new=counts["added"],
                        dropped=counts["removed"],
                    )
                )
        return report

    # Questions ------------------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        conversation: Conversation | None = None,
        document: str | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        timeline: bool | None = None,
    ) -> Answer:
        """Answer one question; raises InvalidQuestion / UnknownDocument for bad input.

        `timeline`: True answers over time (one line per statement, in date order), False
        never does, None (default) does when the question asks about change over time.
        """
        started = time.perf_counter()
        with self.retriever.one_version():  # one read of the corpus version for the whole question
            cleaned, search_filter = self.prepare_question(question, document, date_from, date_to)
            answer = self._missing_reference(cleaned, search_filter)
            if answer is not None:
                pass  # a paragraph number no statement has: say which paragraphs there are
            elif self._wants_timeline(cleaned, timeline, conversation):
                answer = self._timeline().answer(cleaned, search_filter=search_filter)
            else:
                answer = self.answerer.answer(cleaned, conversation=conversation, search_filter=search_filter)
        return self._shown(question, cleaned, answer, started, conversation)

    @staticmethod
    def _wants_timeline(question: str, timeline: bool | None, conversation: Conversation | None) -> bool:
        """`timeline` forces it either way; by default a fresh question about change over time gets one."""
        if timeline is not None:
            return timeline
        from qa.timeline import is_timeline_question

        return conversation is None and is_timeline_question(question)

    def _timeline(self) -> TimelineAnswerer:
        """The timeline answerer, built on first use over the extractive answerer's evidence scoring."""
        if self._timeline_answerer is None:
            from qa.extractive import ExtractiveAnswerer
            from qa.timeline import TimelineAnswerer

            extractive = getattr(self.answerer, "extractive", self.answerer)
            if not isinstance(extractive, ExtractiveAnswerer):
                extractive = ExtractiveAnswerer(self.retriever)
            self._timeline_answerer = TimelineAnswerer(extractive)
        return self._timeline_answerer

    def ask_stream(
        self,
        question: str,
        *,
        conversation: Conversation | None = None,
        document: str | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        timeline: bool | None = None,
    ) -> Iterator[str | Answer]:
        """Like `ask`, as events: text deltas (str) while a model writes, then the checked Answer, last.

        Bad input raises here, before iteration. The deltas are an unchecked
        preview (sanitised); only the final Answer is checked. A backend that
        cannot stream yields the Answer alone. Blocking, like `ask`: async
        callers iterate it in a worker thread.
        """
        started = time.perf_counter()
        cleaned, search_filter = self.prepare_question(question, document, date_from, date_to)
        # In `ask`'s order: a paragraph number no statement has is answered as such, timeline or not.
        missing = self._missing_reference(cleaned, search_filter)
        if missing is None and self._wants_timeline(cleaned, timeline, conversation):
            answer = self._timeline().answer(cleaned, search_filter=search_filter)
            return iter([self._shown(question, cleaned, answer, started, conversation)])
        stream = getattr(self.answerer, "stream_answer", None)

        def events() -> Iterator[str | Answer]:
            final: Answer | None = missing  # a paragraph number no statement has: nothing to write
            if final is None and stream is None:
                final = self.answerer.answer(cleaned, conversation=conversation, search_filter=search_filter)
            elif final is None and stream is not None:
                for event in stream(cleaned, conversation=conversation, search_filter=search_filter):
                    if isinstance(event, Answer):
                        final = event
                    else:
                        yield event
            if final is None:
                raise RuntimeError(f"{type(self.answerer).__name__}.stream_answer ended without an Answer")
            yield self._shown(question, cleaned, final, started, conversation)

        return events()

    def prepare_question(
        self, question: str, document: str | None, date_from: date | None, date_to: date | None
    ) -> tuple[str, SearchFilter | None]:
        """The cleaned question and its filter: the user's options, else what the question names.

        `document` is an id or a fragment of a title (the newest match wins).
        """
        cleaned = normalise_question(question, max_chars=self.max_question_chars)
        documents = self.retriever.documents()
        doc_ids: tuple[str, ...] | None = (resolve_document(document, documents),) if document else None

        # What the question names applies only where the user set no filter of that kind.
        version: list[str] = []  # read once, and only for a name no title holds (not for every question)

        def text_holders(word: str) -> set[str]:
            if not version:
                version.append(self.retriever.corpus_version())
            return self.retriever.lexical.documents_with_word(word, version=version[0])

        scope = (
            QuestionScope()
            if document
            else question_scope(cleaned, documents, today=self.today(), text_holders=text_holders)
        )
        if date_from is None and date_to is None and scope.names_time:
            date_from, date_to = scope.date_from, scope.date_to
        doc_ids = doc_ids or scope.doc_ids
        if scope.series and scope.doc_ids and doc_ids == scope.doc_ids:
            doc_ids = self._with_paragraph_asked(cleaned, scope.doc_ids, scope.series, documents)
        search_filter = None
        if doc_ids or date_from or date_to:
            search_filter = SearchFilter(
                doc_ids=doc_ids, date_from=date_from, date_to=date_to, naming_words=scope.naming_words
            )
        return cleaned, search_filter

    def _with_paragraph_asked(
        self,
        cleaned: str,
        newest: tuple[str, ...],
        series: tuple[str, ...],
        documents: dict[str, DocumentRecord],
    ) -> tuple[str, ...]:
        """The statement a paragraph number is asked of: the newest of the series named, unless it lacks the
        number and an older one of the series has it ("paragraph 30 of the India-US statement" when the newest
        has 29). Questions without a paragraph number keep the newest."""
        in_newest = self.retriever.reference_in(cleaned, newest, documents)
        if in_newest is None or in_newest.hits:
            return newest
        in_series = self.retriever.reference_in(cleaned, series, documents)
        if in_series is None or not in_series.hits:
            return newest  # nobody has it: the answer says which paragraphs the newest has
        return (in_series.hits[0].paragraph.doc_id,)

    def _missing_reference(self, cleaned: str, search_filter: SearchFilter | None) -> Answer | None:
        """The answer to a question asking for paragraphs by a number no candidate has, else None."""
        documents = self.retriever.documents()
        reference = self.retriever.reference_in(cleaned, self.retriever.allowed_doc_ids(search_filter, documents))
        if reference is None or reference.hits:
            return None
        return missing_paragraph_answer(cleaned, reference, documents, self.paragraph_labels)

    def _shown(
        self, question: str, cleaned: str, answer: Answer, started: float, conversation: Conversation | None
    ) -> Answer:
        """The answer as shown: through the citation check (every answer), timed, remembered."""
        # A timeline answer was checked line by line (its dates and titles come from the records).
        checked = answer if answer.backend == TIMELINE_BACKEND else final_check(answer)
        result = replace(checked, question=question, latency_ms=(time.perf_counter() - started) * 1000)
        if conversation is not None:
            conversation.add(cleaned, result)
        return result

    def warm(self) -> float:
        """Load the query encoder, fill the per-corpus caches (documents, BM25 index and its common
        terms' postings, every sentence vector within `resident_vectors_mb`) and answer one question
        along the whole path; returns seconds.

        A long-running front end calls it before it says it is ready, so the
        first question costs what the next ones do.
        """
        started = time.perf_counter()
        self.retriever.store.embedder.warm()
        self.retriever.load_resident()
        self.retriever.lexical.warm()
        warm_answerer = getattr(self.answerer, "warm", None)  # a test's fake backend has nothing to load
        if warm_answerer is not None:
            warm_answerer()
        if self.retriever.documents():
            self._warm_answering(WARM_UP_QUESTION)
        release_freed_memory()  # what the reads above left freed stays out of the bot's RSS
        self.warmed_s = time.perf_counter() - started
        return self.warmed_s

    def _warm_answering(self, question: str) -> None:
        """Answer `question` once along the whole path, extractively (an LLM is never called at start-up).

        Retrieval alone left a first answer 30-100 ms slower than the same question asked again
        (bench/bench_discord.py): the timeline check's import, the stems and term vectors of the
        evidence's words and the citation check were all first met by the user's question.
        """
        from qa.extractive import ExtractiveAnswerer

        self._wants_timeline(question, None, None)
        # A paragraph asked for by number reads Chroma's metadata by document: cold, that read took
        # ~600 ms at archive scale, warm ~10 ms.
        documents = self.retriever.documents()
        self.retriever.reference_in("¶1", sorted(documents)[:1], documents)
        # The words and abbreviations of every title, and which titles hold each word, that a question
        # naming a statement is matched against: ~270 ms and ~150 ms for the archive's 6,454 titles the
        # first time (a first named question paid the second until stop 28).
        title_owners(documents)
        extractive = getattr(self.answerer, "extractive", self.answerer)
        if isinstance(extractive, ExtractiveAnswerer):
            final_check(extractive.answer(question))
        else:
            self.retriever.search(question)

    def close(self) -> None:
        close = getattr(self.answerer, "close", None)  # the extractive answerer's embedding thread
        if close is not None:
            close()
        self.retriever.close()
        self.retriever.lexical.close()
        self.store.close()


__all__ = ["AnswerBackend", "StatementService", "StatementbotError", "StreamingAnswerBackend"]
