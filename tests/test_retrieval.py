"""Hybrid retrieval finds the right paragraph: lexical for names and numbers, dense for paraphrases.

The sample statement is indexed once per module into an embedded store with the
session's real MiniLM; the tests of the lexical cache use their own tmp stores.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from langchain_core.documents import Document as LCDocument

from errors import UnknownDocument
from tests.conftest import SEED
from vectorstore import retrieval
from vectorstore.embeddings import Embedder
from vectorstore.indexing import Indexer
from vectorstore.lexical import LexicalIndex
from vectorstore.retrieval import HybridRetriever, SearchFilter, StatementRetriever
from vectorstore.store import ParagraphStore

DOC = SEED.stem


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[HybridRetriever]:
    """A HybridRetriever over the bundled sample statement (embedded Chroma, real MiniLM)."""
    data_dir = tmp_path_factory.mktemp("retrieval-data")
    store = ParagraphStore.open_embedded(data_dir, embedder)
    report = Indexer(store).ingest_paths([SEED])
    assert report.ok
    lexical = LexicalIndex(store, data_dir / "lexical.sqlite3")
    yield HybridRetriever(store, lexical)
    lexical.close()
    store.close()


def top_labels(retriever: HybridRetriever, query: str, **kwargs: object) -> list[str]:
    return [hit.paragraph.label for hit in retriever.search(query, **kwargs).hits]  # type: ignore[arg-type]


# Lexical and dense ------------------------------------------------------------
@pytest.mark.parametrize(("query", "label"), [("GIGO", "12"), ("F-35B", "5"), ("2035", "12")])
def test_lexical_finds_names_acronyms_and_numbers(retriever: HybridRetriever, query: str, label: str) -> None:
    """Acronyms, model names and years put their paragraph first, with a BM25 score."""
    hits = retriever.search(query).hits
    assert hits[0].paragraph.label == label
    assert hits[0].lexical > 0
    assert not hits[0].exact


def test_lexical_index_alone_ranks_the_acronym_paragraph_first(retriever: HybridRetriever) -> None:
    """BM25 on its own finds GIGO in ¶12 and nothing else."""
    results = retriever.lexical.search("GIGO", 5)
    assert len(results) == 1
    assert retriever.store.paragraphs_by_key([results[0][0]])[results[0][0]].label == "12"


def test_lexical_search_leaves_out_words_in_most_paragraphs(retriever: HybridRetriever) -> None:
    """'Ministers' is in most paragraphs (zero BM25 weight): alone it matches nothing, beside GIGO it adds no rows."""
    lexical = retriever.lexical
    assert lexical.document_frequency(["ministers"])["ministers"] > lexical.paragraph_count / 2
    assert lexical.search("Ministers", 5) == []
    assert lexical.search("Ministers GIGO", 5) == lexical.search("GIGO", 5)


_BM25_QUERIES = [
    "When is GCAP meant to be delivered?",
    "F-35B carrier strike group deployment",
    "Japanese and British defence ministers industrial cooperation 2035",
    "Global Combat Air Programme international organisation GIGO",
    "Typhoon Eurofighter exercise Japan Air Self-Defense Force",
]


def _fts5_ranking(lexical: LexicalIndex, text: str, doc_ids: list[str] | None = None) -> list[tuple[str, float]]:
    """What one FTS5 query over the same terms ranks: the index's own multi-term bm25()."""
    import sqlite3

    from ingest.text import content_terms

    frequencies = lexical.document_frequency(content_terms(text))
    terms = [t for t, df in frequencies.items() if 0 < df <= lexical.paragraph_count / 2]
    sql = "SELECT key, -bm25(paragraphs) AS s FROM paragraphs WHERE paragraphs MATCH ?"
    params: list[object] = [" OR ".join('"' + t + '"' for t in terms)]
    if doc_ids is not None:
        sql += f" AND doc_id IN ({','.join('?' * len(doc_ids))})"
        params.extend(doc_ids)
    with sqlite3.connect(lexical.path) as connection:
        return [(str(k), float(v)) for k, v in connection.execute(sql + " ORDER BY s DESC, rowid", params)]


@pytest.mark.parametrize("held", [False, True], ids=["read-per-term", "held-in-memory"])
def test_lexical_scores_are_fts5_bm25_summed_per_term(retriever: HybridRetriever, held: bool) -> None:
    """A query's BM25 scores, summed from each term's own postings (read from the index or held in
    memory after `warm`), equal FTS5's scores for the whole query, in the same order."""
    lexical = retriever.lexical
    if held:
        assert lexical.warm() > 0
    for text in _BM25_QUERIES:
        found = lexical.search(text, 100)
        assert found, text
        assert found == _fts5_ranking(lexical, text)[:100]


def test_held_postings_stay_within_their_budget_commonest_first(
    small: SmallCorpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`warm` holds the postings of the terms in the most paragraphs (of those in at most half of them),
    up to the budget; a term outside it is read from the index and scores the same."""
    from vectorstore import lexical as lexical_module

    small.add("quokka-2026", QUOKKA)
    lexical = LexicalIndex(small.store, tmp_path / "lexical.sqlite3")
    monkeypatch.setattr(lexical_module, "_POSTINGS_BUDGET", 3)
    before = [lexical.search(text, 10) for text in ("quokka frigates", "frigates", "quokka")]
    held = lexical.warm()
    assert 0 < held <= 3
    assert [lexical.search(text, 10) for text in ("quokka frigates", "frigates", "quokka")] == before
    lexical.close()


def test_lexical_search_within_documents(small: SmallCorpus, tmp_path: Path) -> None:
    """Restricted to some documents, the ranking is FTS5's over those documents alone."""
    small.add("quokka-2026", QUOKKA)
    lexical = LexicalIndex(small.store, tmp_path / "lexical.sqlite3")
    for doc_ids in (["quokka-2026"], ["frigates-2024"], ["frigates-2024", "quokka-2026"], ["no-such-document"]):
        for text in ("quokka frigates navy", "frigates"):
            found = lexical.search(text, 10, doc_ids=doc_ids)
            assert found == _fts5_ranking(lexical, text, doc_ids)[:10]
            assert all(key.split(":", 1)[0] in doc_ids for key, _ in found)
    assert lexical.search("quokka", 10, doc_ids=["frigates-2024"]) == []
    lexical.close()


def test_documents_holding_a_term_as_a_word_or_the_start_of_one(small: SmallCorpus, tmp_path: Path) -> None:
    """`documents_holding`: the statements among those asked of that hold a term ("frigate"), or a word it
    starts ("Rottnest" for "rottne"; only from four letters); quoted, so FTS5 syntax in it stays data."""
    small.add("quokka-2026", QUOKKA)
    lexical = LexicalIndex(small.store, tmp_path / "lexical.sqlite3")
    both = ["frigates-2024", "quokka-2026"]
    assert lexical.documents_holding(["frigate"], both) == {"frigates-2024"}
    assert lexical.documents_holding(["beijing", "quokka"], both) == {"quokka-2026"}
    assert lexical.documents_holding(["rottne"], both) == {"quokka-2026"}
    assert lexical.documents_holding(["rot"], both) == set()  # too short to stand for a word's start
    assert lexical.documents_holding(["quokka"], ["frigates-2024"]) == set()
    assert lexical.documents_holding(['quokka" OR "frigate'], both) == set()
    assert lexical.documents_holding([], both) == set()
    lexical.close()


def test_document_frequencies_follow_the_corpus_version(small: SmallCorpus, tmp_path: Path) -> None:
    """Cached paragraph counts per term are dropped when a statement is ingested."""
    lexical = LexicalIndex(small.store, tmp_path / "lexical.sqlite3")
    assert lexical.document_frequency(["quokka"]) == {"quokka": 0}
    small.add("quokka-2026", QUOKKA)
    assert lexical.document_frequency(["quokka"]) == {"quokka": 1}
    lexical.close()


def test_dense_finds_a_paraphrase_without_shared_words(retriever: HybridRetriever) -> None:
    """The paraphrase 'British stealth jets landing on a Japanese ship' finds the F-35B paragraph ¶5 in the top 3."""
    assert "5" in top_labels(retriever, "British stealth jets landing on a Japanese ship")[:3]


# Exact references -------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("paragraph 7", ["7"]),
        ("¶3", ["3"]),
        ("para 12 of the 2025 statement", ["12"]),
        ("paragraphs 9-11", ["9", "10", "11"]),
        ("What does point 2 of the 2025 statement say?", ["2"]),
        ("items 4 and 5", ["4", "5"]),
    ],
)
def test_exact_references_bypass_search(retriever: HybridRetriever, query: str, expected: list[str]) -> None:
    """A paragraph asked for by number is returned as an exact hit, nothing else."""
    result = retriever.search(query)
    assert result.exact
    assert [h.paragraph.label for h in result.hits] == expected
    assert all(h.exact and h.score == 1.0 for h in result.hits)


def test_point_without_a_number_is_an_ordinary_search(retriever: HybridRetriever) -> None:
    """'point' or 'item' is a reference only before a number: 'at what point is GCAP delivered' is searched."""
    result = retriever.search("At what point is GCAP delivered?")
    assert not result.exact
    assert result.hits[0].paragraph.label == "12"


def test_reference_to_a_missing_paragraph_finds_nothing(retriever: HybridRetriever) -> None:
    """'paragraph 99' names no stored paragraph: no search runs, so no other paragraph stands in (issue 13)."""
    result = retriever.search("paragraph 99 about GCAP")
    assert result.exact
    assert result.hits == []


# Filters ----------------------------------------------------------------------
def test_filter_by_document_id_keeps_only_that_document(retriever: HybridRetriever) -> None:
    """SearchFilter(doc_ids=(sample,)) answers from the sample; an unknown id raises UnknownDocument."""
    assert top_labels(retriever, "GIGO", search_filter=SearchFilter(doc_ids=(DOC,)))[0] == "12"
    with pytest.raises(UnknownDocument):
        retriever.search("GIGO", search_filter=SearchFilter(doc_ids=("nope",)))


@pytest.mark.parametrize(
    ("date_from", "date_to", "found"),
    [
        (date(2025, 8, 28), date(2025, 8, 28), True),
        (None, date(2025, 12, 31), True),
        (date(2025, 8, 29), None, False),
        (None, date(2025, 8, 27), False),
    ],
)
def test_filter_by_date_range(
    retriever: HybridRetriever, date_from: date | None, date_to: date | None, found: bool
) -> None:
    """The 28 August 2025 statement is searched only when the date range includes that day."""
    result = retriever.search("GIGO", search_filter=SearchFilter(date_from=date_from, date_to=date_to))
    assert bool(result.hits) is found
    if found:
        assert result.hits[0].paragraph.label == "12"


# LangChain --------------------------------------------------------------------
def test_langchain_retriever_returns_documents_with_paragraph_metadata(retriever: HybridRetriever) -> None:
    """StatementRetriever.invoke returns LangChain Documents labelled with document and paragraph."""
    documents = StatementRetriever(hybrid=retriever, k=3).invoke("What does GIGO stand for?")
    assert 1 <= len(documents) <= 3
    assert all(isinstance(d, LCDocument) for d in documents)
    first = documents[0]
    assert first.metadata["document"] == DOC
    assert first.metadata["paragraph"] == "12"
    assert "GCAP International Government Organisation" in first.page_content
    assert first.page_content == retriever.store.paragraph(DOC, "12").text


def test_langchain_retriever_honours_its_filter(retriever: HybridRetriever) -> None:
    """A StatementRetriever with a date filter excluding the corpus returns no documents."""
    filtered = StatementRetriever(hybrid=retriever, search_filter=SearchFilter(date_from=date(2030, 1, 1)))
    assert filtered.invoke("GIGO") == []


# The lexical cache ------------------------------------------------------------
def statement(title: str, day: str, paragraphs: list[str]) -> str:
    numbered = "\n".join(f"{n}. {text}" for n, text in enumerate(paragraphs, start=1))
    return f"{title}\n\n{day}\n\n{numbered}\n"


@dataclass
class SmallCorpus:
    store: ParagraphStore
    indexer: Indexer
    root: Path

    def add(self, name: str, text: str) -> None:
        path = self.root / "statements" / f"{name}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        assert self.indexer.ingest_paths([path]).ok


@pytest.fixture
def small(tmp_path: Path, embedder: Embedder) -> Iterator[SmallCorpus]:
    """An embedded tmp store holding one small statement about frigates."""
    store = ParagraphStore.open_embedded(tmp_path / "data", embedder)
    corpus = SmallCorpus(store, Indexer(store), tmp_path)
    corpus.add(
        "frigates-2024",
        statement(
            "Frigate Statement",
            "4 June 2024",
            ["The Ministers welcomed the frigate visit.", "They agreed to deliver radars by 2030."],
        ),
    )
    yield corpus
    store.close()


QUOKKA = statement(
    "Quokka Statement",
    "1 March 2026",
    ["The Ministers discussed quokka conservation on Rottnest.", "They agreed to meet again."],
)


def keys_labels(store: ParagraphStore, results: list[tuple[str, float]]) -> list[tuple[str, str]]:
    paragraphs = store.paragraphs_by_key([key for key, _ in results])
    return [(paragraphs[key].doc_id, paragraphs[key].label) for key, _ in results]


def test_lexical_cache_is_rebuilt_when_the_corpus_changes(small: SmallCorpus, tmp_path: Path) -> None:
    """A word only in a newly ingested statement is found by the same LexicalIndex afterwards."""
    lexical = LexicalIndex(small.store, tmp_path / "lexical.sqlite3")
    assert lexical.search("quokka", 5) == []
    assert lexical.paragraph_count == 2
    small.add("quokka-2026", QUOKKA)
    assert keys_labels(small.store, lexical.search("quokka", 5)) == [("quokka-2026", "1")]
    assert lexical.paragraph_count == 4
    lexical.close()


def test_search_filters_across_two_documents(small: SmallCorpus, tmp_path: Path) -> None:
    """With two statements, a date range or a doc id picks the right one, lexically and densely."""
    small.add("quokka-2026", QUOKKA)
    hybrid = HybridRetriever(small.store, LexicalIndex(small.store, tmp_path / "lexical.sqlite3"))
    everything = hybrid.search("What did the Ministers agree?")
    assert {h.paragraph.doc_id for h in everything.hits} == {"frigates-2024", "quokka-2026"}
    recent = hybrid.search("What did the Ministers agree?", search_filter=SearchFilter(date_from=date(2025, 1, 1)))
    assert {h.paragraph.doc_id for h in recent.hits} == {"quokka-2026"}
    by_id = hybrid.search("quokka radars", search_filter=SearchFilter(doc_ids=("frigates-2024",)))
    assert {h.paragraph.doc_id for h in by_id.hits} == {"frigates-2024"}
    hybrid.lexical.close()


def test_deleted_cache_file_costs_only_a_rebuild(small: SmallCorpus, tmp_path: Path) -> None:
    """Removing the SQLite cache (between runs) loses nothing: the next search rebuilds it from Chroma."""
    path = tmp_path / "lexical.sqlite3"
    first = LexicalIndex(small.store, path)
    before = keys_labels(small.store, first.search("radars", 5))
    first.close()
    assert path.exists()
    path.unlink()
    second = LexicalIndex(small.store, path)
    assert keys_labels(small.store, second.search("radars", 5)) == before == [("frigates-2024", "2")]
    assert path.exists()
    second.close()


def test_corrupt_cache_file_is_rebuilt(small: SmallCorpus, tmp_path: Path) -> None:
    """A cache file that is not a valid index is rebuilt, not trusted."""
    path = tmp_path / "lexical.sqlite3"
    path.write_bytes(b"not a database at all" * 100)
    lexical = LexicalIndex(small.store, path)
    assert keys_labels(small.store, lexical.search("frigate", 5)) == [("frigates-2024", "1")]
    lexical.close()


@pytest.mark.parametrize("shared_file", [True, False], ids=["same-cache-file", "own-cache-files"])
def test_two_lexical_indexes_over_one_store_see_the_same_corpus(
    small: SmallCorpus, tmp_path: Path, shared_file: bool
) -> None:
    """Two LexicalIndex instances (two processes) over one store both see a statement ingested after they started."""
    one = LexicalIndex(small.store, tmp_path / "a.sqlite3")
    two = LexicalIndex(small.store, tmp_path / ("a.sqlite3" if shared_file else "b.sqlite3"))
    assert one.search("frigate", 5)
    assert two.search("frigate", 5)
    assert one.search("quokka", 5) == two.search("quokka", 5) == []
    small.add("quokka-2026", QUOKKA)
    assert keys_labels(small.store, one.search("quokka", 5)) == [("quokka-2026", "1")]
    assert keys_labels(small.store, two.search("quokka", 5)) == [("quokka-2026", "1")]
    assert one.paragraph_count == two.paragraph_count == 4
    one.close()
    two.close()


def test_paragraph_and_sentence_reads_are_cached_until_the_corpus_changes(
    small: SmallCorpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same question twice reads paragraphs and sentences from Chroma once; an ingest makes it read again."""
    hybrid = HybridRetriever(small.store, LexicalIndex(small.store, tmp_path / "lexical.sqlite3"))
    reads = {"paragraphs": 0, "sentences": 0}
    paragraphs_by_key, sentences_for = small.store.paragraphs_by_key, small.store.sentences_for

    def counting_paragraphs(keys):  # type: ignore[no-untyped-def]
        reads["paragraphs"] += 1
        return paragraphs_by_key(keys)

    def counting_sentences(keys, **kwargs):  # type: ignore[no-untyped-def]
        reads["sentences"] += 1
        return sentences_for(keys, **kwargs)

    monkeypatch.setattr(small.store, "paragraphs_by_key", counting_paragraphs)
    monkeypatch.setattr(small.store, "sentences_for", counting_sentences)

    def ask() -> list[str]:
        result = hybrid.search("When will radars be delivered?")
        keys = [hit.paragraph.key for hit in result.hits]
        return [s.text for s in hybrid.sentences_for(keys, version=result.corpus_version)]

    first = ask()
    assert ask() == first
    assert reads == {"paragraphs": 1, "sentences": 1}
    assert "They agreed to deliver radars by 2030." in first
    hybrid.clear_caches()
    assert ask() == first
    assert reads == {"paragraphs": 2, "sentences": 2}

    small.add(
        "frigates-2024",
        statement(
            "Frigate Statement",
            "4 June 2024",
            ["The Ministers welcomed the frigate visit.", "They agreed to deliver radars by 2031."],
        ),
    )
    after = ask()
    assert reads == {"paragraphs": 3, "sentences": 3}
    assert "They agreed to deliver radars by 2031." in after
    assert "They agreed to deliver radars by 2030." not in after
    hybrid.lexical.close()


def test_question_naming_one_statement_is_asked_of_it(small: SmallCorpus, tmp_path: Path) -> None:
    """'Quokka' is in one statement's title and text only: the question is scoped to it; 'Ministers' names nothing."""
    small.add("quokka-2026", QUOKKA)
    hybrid = HybridRetriever(small.store, LexicalIndex(small.store, tmp_path / "lexical.sqlite3"))
    scoped = hybrid.search("What did the Ministers agree in the Quokka statement?")
    assert {h.paragraph.doc_id for h in scoped.hits} == {"quokka-2026"}
    assert scoped.naming_words == {"quokka"}
    unscoped = hybrid.search("What did the Ministers agree?")
    assert {h.paragraph.doc_id for h in unscoped.hits} == {"frigates-2024", "quokka-2026"}
    assert unscoped.naming_words == frozenset()
    hybrid.lexical.close()


def test_title_word_that_another_statement_uses_names_nothing(small: SmallCorpus, tmp_path: Path) -> None:
    """'Frigate' is in one title but also in the other statement's text: no scoping."""
    small.add("quokka-2026", statement("Quokka Statement", "1 March 2026", ["A frigate carried quokka researchers."]))
    hybrid = HybridRetriever(small.store, LexicalIndex(small.store, tmp_path / "lexical.sqlite3"))
    result = hybrid.search("What does the Frigate statement say?")
    assert result.naming_words == frozenset()
    assert {h.paragraph.doc_id for h in result.hits} == {"frigates-2024", "quokka-2026"}
    hybrid.lexical.close()


def test_dense_search_within_a_document_matches_chromas_filtered_query(retriever: HybridRetriever) -> None:
    """The in-process dense ranking used for filtered searches agrees with Chroma's own filtered query."""
    vector = retriever.store.embedder.encode(["When is GCAP meant to be delivered?"])[0]
    version = retriever.store.corpus_version()
    paragraphs, sentences = retriever._exact_dense(vector, [DOC], version)
    chroma_paragraphs = retriever.store.dense_search(vector, 30, doc_ids=[DOC])
    chroma_sentences = retriever.store.sentence_search(vector, 30, doc_ids=[DOC])
    assert [key for key, _ in paragraphs] == [key for key, _ in chroma_paragraphs]
    assert [key for key, _ in sentences] == [key for key, _ in chroma_sentences]
    for (_, ours), (_, theirs) in zip([*paragraphs, *sentences], [*chroma_paragraphs, *chroma_sentences], strict=True):
        assert ours == pytest.approx(theirs, abs=1e-4)


def test_dense_search_within_documents_in_chunks_ranks_as_in_one(
    retriever: HybridRetriever, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thousands of paragraphs are scored a chunk at a time; the rankings are those of one pass."""
    vector = retriever.store.embedder.encode(["When is GCAP meant to be delivered?"])[0]
    version = retriever.store.corpus_version()
    whole = retriever._exact_dense(vector, [DOC], version)
    monkeypatch.setattr(retrieval, "_EXACT_CHUNK_PARAGRAPHS", 2)
    chunked = retriever._exact_dense(vector, [DOC], version)
    assert len(whole[0]) > 2  # more paragraphs than one chunk holds
    for ours, theirs in zip(chunked, whole, strict=True):
        assert [key for key, _ in ours] == [key for key, _ in theirs]
        # Matrix products of other shapes round the last bits differently.
        assert [score for _, score in ours] == pytest.approx([score for _, score in theirs], abs=1e-6)


def test_sentences_of_many_paragraphs_are_read_in_batches(small: SmallCorpus, tmp_path: Path) -> None:
    """700 paragraphs ask for 33,600 guessed sentence ids, over SQLite's variable limit in one read; all come back."""
    small.add("long-2025", statement("Long Statement", "2 May 2025", [f"Item {n} was agreed." for n in range(1, 701)]))
    lexical = LexicalIndex(small.store, tmp_path / "lexical.sqlite3")
    keys = lexical.keys_of(["long-2025"])
    sentences = small.store.sentences_for(keys)
    assert len(keys) == 700
    assert sorted(s.text for s in sentences) == sorted(f"Item {n} was agreed." for n in range(1, 701))
    assert sentences == sorted(sentences, key=lambda s: (s.paragraph_key, s.index))
    lexical.close()


# Resident sentence vectors --------------------------------------------------------
LONG_PARAGRAPH = " ".join(
    f"Sentence {n} of the long paragraph records commitment number {n} on cables." for n in range(140)
)


def _plain_and_resident(small: SmallCorpus, tmp_path: Path) -> tuple[HybridRetriever, HybridRetriever]:
    plain = HybridRetriever(small.store, LexicalIndex(small.store, tmp_path / "plain.sqlite3"))
    resident = HybridRetriever(
        small.store, LexicalIndex(small.store, tmp_path / "resident.sqlite3"), resident_max_mb=64
    )
    return plain, resident


def test_resident_vectors_answer_as_chroma_does_without_reading_sentences(
    small: SmallCorpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Searches and sentences from the vectors held in memory equal those read from Chroma, a long
    paragraph's grouped spans included, and a search then reads no sentence from Chroma."""
    small.add("quokka-2026", QUOKKA)
    small.add("cables-2025", statement("Cable Statement", "3 March 2025", [LONG_PARAGRAPH, "Radars by 2032."]))
    plain, resident = _plain_and_resident(small, tmp_path)
    assert resident.load_resident()
    held = resident.resident
    assert held is not None
    assert held.version == small.store.corpus_version()
    assert held.matrix.shape[0] == small.store.sentence_count()
    reads = {"sentences": 0}
    sentences_for = small.store.sentences_for

    def counting(keys, **kwargs):  # type: ignore[no-untyped-def]
        reads["sentences"] += 1
        return sentences_for(keys, **kwargs)

    for query in ("When will radars be delivered?", "What about cables commitment number 77?", "quokka"):
        monkeypatch.setattr(small.store, "sentences_for", sentences_for)
        expected = plain.search(query)
        expected_sentences = plain.sentences_for(
            [h.paragraph.key for h in expected.hits], version=expected.corpus_version
        )
        monkeypatch.setattr(small.store, "sentences_for", counting)
        found = resident.search(query)
        found_sentences = resident.sentences_for([h.paragraph.key for h in found.hits], version=found.corpus_version)
        assert [(h.paragraph.key, h.score) for h in found.hits] == [(h.paragraph.key, h.score) for h in expected.hits]
        assert [(s.paragraph_key, s.index, s.span, s.text) for s in found_sentences] == [
            (s.paragraph_key, s.index, s.span, s.text) for s in expected_sentences
        ]
        for ours, theirs in zip(found_sentences, expected_sentences, strict=True):
            np.testing.assert_array_equal(ours.vector, theirs.vector)
    assert reads["sentences"] == 0
    # Filtered searches rank within the allowed statements from the same vectors.
    vector = small.store.embedder.encode(["cables commitment"])[0]
    version = small.store.corpus_version()
    assert resident._exact_dense(vector, ["cables-2025"], version) == plain._exact_dense(
        vector, ["cables-2025"], version
    )
    plain.lexical.close()
    resident.lexical.close()


def test_with_resident_vectors_a_restriction_too_small_for_the_deep_query_is_searched_here(
    small: SmallCorpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A statement named by its topic can hold thousands of paragraphs: too many for the few-paragraph rule,
    too small a share for Chroma's deep unfiltered query. With the vectors held in memory it is searched in
    process (no filtered Chroma query), with the ranking Chroma's filtered query gives; without them, Chroma's."""
    small.add("quokka-2026", QUOKKA)
    small.add("cables-2025", statement("Cable Statement", "3 March 2025", [LONG_PARAGRAPH, "Radars by 2032."]))
    plain, resident = _plain_and_resident(small, tmp_path)
    assert resident.load_resident()
    # The archive's proportions, scaled down: the restriction holds more than the few-paragraph limit, and
    # its share of the corpus asks the unfiltered query deeper than it may go.
    monkeypatch.setattr(retrieval, "EXACT_SEARCH_PARAGRAPHS", 1)
    monkeypatch.setattr(retrieval, "OVERFETCH_MAX_DEPTH", 1)
    filtered_queries: list[str] = []
    for name in ("dense_search", "sentence_search"):
        original = getattr(small.store, name)

        def counting(vector, n, doc_ids=None, _original=original, _name=name):  # type: ignore[no-untyped-def]
            if doc_ids is not None:
                filtered_queries.append(_name)
            return _original(vector, n, doc_ids=doc_ids)

        monkeypatch.setattr(small.store, name, counting)
    only_cables = SearchFilter(doc_ids=("cables-2025",))
    expected = plain.search("When will radars be delivered?", search_filter=only_cables)
    assert sorted(filtered_queries) == ["dense_search", "sentence_search"]  # without them: Chroma's filtered query
    filtered_queries.clear()
    found = resident.search("When will radars be delivered?", search_filter=only_cables)
    assert filtered_queries == []
    assert [h.paragraph.key for h in found.hits] == [h.paragraph.key for h in expected.hits]
    # The long paragraph is stored as windows of its sentences, and ranked here by their mean: its fused
    # score differs a little (as it does for the few-paragraph rule); the short one's does not.
    assert [h.score for h in found.hits] == pytest.approx([h.score for h in expected.hits], abs=0.01)
    assert found.hits[0].score == pytest.approx(expected.hits[0].score, abs=1e-4)
    plain.lexical.close()
    resident.lexical.close()


def test_a_stale_resident_copy_is_not_used_and_is_read_again(small: SmallCorpus, tmp_path: Path) -> None:
    """After an ingest the held copy is of an old version: the new statement is answered from Chroma
    at once, and a fresh copy holding it is read in the background."""
    _plain, resident = _plain_and_resident(small, tmp_path)
    assert resident.load_resident()
    old = resident.resident
    assert old is not None
    small.add("quokka-2026", QUOKKA)
    result = resident.search("quokka")
    assert {h.paragraph.doc_id for h in result.hits} == {"quokka-2026"}
    texts = [
        s.text for s in resident.sentences_for([h.paragraph.key for h in result.hits], version=result.corpus_version)
    ]
    assert any("quokka" in text.lower() for text in texts)
    reader = resident._resident_reader
    assert reader is not None
    reader.join(timeout=60)
    fresh = resident.resident
    assert fresh is not None
    assert fresh.version == small.store.corpus_version() != old.version
    assert all(key in fresh.rows for key in (h.paragraph.key for h in result.hits))
    _plain.lexical.close()
    resident.lexical.close()


def test_a_read_that_held_nothing_is_retried_only_when_the_corpus_changes(
    small: SmallCorpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read that an ingest overlapped (or that failed) held nothing: the next corpus version is read again
    in the background. The same version is not read again and again, question after question."""
    from vectorstore import retrieval

    reads: list[str] = []
    real_read = retrieval.read_resident

    def first_read_overlapped(store, version, *, max_mb):  # type: ignore[no-untyped-def]
        reads.append(version)
        return None if len(reads) == 1 else real_read(store, version, max_mb=max_mb)

    monkeypatch.setattr(retrieval, "read_resident", first_read_overlapped)
    _plain, resident = _plain_and_resident(small, tmp_path)
    assert not resident.load_resident()
    for _ in range(3):
        assert resident.search("When will radars be delivered?").hits
    assert len(reads) == 1  # same version: no retry loop
    small.add("quokka-2026", QUOKKA)
    assert resident.search("quokka").hits
    reader = resident._resident_reader
    assert reader is not None
    reader.join(timeout=60)
    held = resident.resident
    assert held is not None
    assert held.version == small.store.corpus_version()
    assert len(reads) == 2
    _plain.lexical.close()
    resident.lexical.close()


def test_resident_vectors_stay_within_their_memory_limit(
    small: SmallCorpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over `resident_vectors_mb` nothing is held and answers come from Chroma; at 0 the vectors are never read."""
    over = HybridRetriever(small.store, LexicalIndex(small.store, tmp_path / "over.sqlite3"), resident_max_mb=1e-6)
    assert not over.load_resident()
    assert over.resident is None
    assert (
        over.search("When will radars be delivered?").hits[0].paragraph.text == "They agreed to deliver radars by 2030."
    )

    def never(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("read the sentence vectors although resident_vectors_mb is 0")

    monkeypatch.setattr(small.store, "sentence_pages", never)
    off = HybridRetriever(small.store, LexicalIndex(small.store, tmp_path / "off.sqlite3"))
    assert not off.load_resident()
    assert off.search("When will radars be delivered?").hits
    over.lexical.close()
    off.lexical.close()


# Fusion -------------------------------------------------------------------------
def test_a_paragraph_only_bm25_found_is_scored_by_its_exact_cosines(retriever: HybridRetriever) -> None:
    """A BM25-only candidate gets the cosines its stored sentence vectors give, as a dense hit would."""
    import numpy as np

    query = "What does GIGO stand for?"
    vector = retriever.store.embedder.encode([query])[0]
    lexical = retriever.lexical.search(query, 5)
    key = lexical[0][0]
    candidates = retriever.score_candidates(vector, [], [], lexical, version=None)
    sentences = np.stack([s.vector for s in retriever.store.sentences_for([key])])
    mean = sentences.mean(axis=0)
    assert candidates[key].paragraph == pytest.approx(float(mean @ vector / np.linalg.norm(mean)), abs=1e-5)
    assert candidates[key].sentence == pytest.approx(float((sentences @ vector).max()), abs=1e-5)
    assert candidates[key].bm25_relative == 1.0


def test_the_fused_score_is_the_fitted_weighting_of_the_evidence(retriever: HybridRetriever) -> None:
    """Each hit's score is the fitted weights applied to its cosines and relative BM25, best first."""
    from vectorstore.retrieval import fusion_weights

    result = retriever.search("When will the next generation fighter be delivered?", k=5)
    weights = fusion_weights()
    scores = [hit.score for hit in result.hits]
    assert scores == sorted(scores, reverse=True)
    for hit in result.hits:
        assert hit.score == pytest.approx(result.candidates[hit.paragraph.key].fused(weights))


def test_fusion_weights_are_fitted_data() -> None:
    """The weights come from bench/fit_fusion.py with the figures they reached, not from code."""
    import json

    from vectorstore.retrieval import FUSION_WEIGHTS_PATH

    data = json.loads(FUSION_WEIGHTS_PATH.read_text(encoding="utf-8"))
    assert data["fitted_by"] == "bench/fit_fusion.py"
    assert sum(data["weights"].values()) == pytest.approx(1.0)
    assert {"tune", "check"} <= set(data["figures"])


# Searching within some documents -------------------------------------------------------
class _RecordingSearch:
    """A nearest-neighbour list over keys "d<doc>:<n>", nearest first, that records how it was asked."""

    def __init__(self, ranked: list[str]) -> None:
        self.ranked = ranked
        self.calls: list[tuple[int, tuple[str, ...] | None]] = []

    def __call__(self, vector: object, k: int, *, doc_ids: list[str] | None = None) -> list[tuple[str, float]]:
        self.calls.append((k, None if doc_ids is None else tuple(doc_ids)))
        found = [(key, 1.0 - i / 1000) for i, key in enumerate(self.ranked)]
        return [(key, score) for key, score in found if doc_ids is None or key.split(":", 1)[0] in doc_ids][:k]


def test_a_large_share_of_the_corpus_is_searched_unfiltered_and_filtered_here() -> None:
    """Half the corpus allowed: one unfiltered query, deep enough, gives what the filtered query would."""
    from vectorstore.retrieval import CANDIDATES, _nearest_within

    ranked = [f"d{i % 2}:{i}" for i in range(400)]
    search = _RecordingSearch(ranked)
    found = _nearest_within(search, np.zeros(3), ["d0"], 0.5)
    assert search.calls == [(90, None)]
    assert found == search(np.zeros(3), CANDIDATES, doc_ids=["d0"])


def test_too_few_allowed_neighbours_fall_back_to_the_filtered_query() -> None:
    """When the deep unfiltered list holds too few of the allowed documents, Chroma's filter is asked."""
    from vectorstore.retrieval import CANDIDATES, _nearest_within

    ranked = [f"d1:{i}" for i in range(300)] + [f"d0:{i}" for i in range(40)]
    search = _RecordingSearch(ranked)
    found = _nearest_within(search, np.zeros(3), ["d0"], 0.5)
    assert search.calls == [(90, None), (CANDIDATES, ("d0",))]
    assert [key for key, _ in found] == [f"d0:{i}" for i in range(CANDIDATES)]


def test_a_small_share_goes_straight_to_the_filtered_query() -> None:
    """A month of the archive (2 % of it) would need a query hundreds deep: the filter is cheaper."""
    from vectorstore.retrieval import CANDIDATES, _nearest_within

    search = _RecordingSearch([f"d0:{i}" for i in range(50)])
    _nearest_within(search, np.zeros(3), ["d0"], 0.02)
    assert search.calls == [(CANDIDATES, ("d0",))]


def test_kind_words_decide_between_statements_that_share_the_rest(small: SmallCorpus, tmp_path: Path) -> None:
    """ "paragraph 2 of the US-India joint statement" is a Joint Statement's ¶2, not the newer fact sheet's nor the
    Quad declaration's (which names India and the United States among others); of a series, the newest."""
    for name, title, day in (
        ("joint-2023", "Joint Statement from the United States and India", "22 June 2023"),
        ("joint-2024", "Joint Statement from the United States and India", "13 February 2024"),
        ("quad-2024", "Joint Statement of the Leaders of Australia, India, Japan and the United States", "21 Sep 2024"),
        ("factsheet-2025", "Fact Sheet: The United States and India Deepen Cooperation", "6 January 2025"),
    ):
        small.add(name, statement(title, day, [f"The leaders met ({name}).", f"They welcomed the accord ({name})."]))
    hybrid = HybridRetriever(small.store, LexicalIndex(small.store, tmp_path / "lexical.sqlite3"))
    joint = hybrid.search("What does paragraph 2 of the US-India joint statement say?")
    assert [(h.paragraph.doc_id, h.paragraph.label) for h in joint.hits] == [("joint-2024", "2")]
    fact_sheet = hybrid.search("What does paragraph 2 of the US-India fact sheet say?")
    assert [(h.paragraph.doc_id, h.paragraph.label) for h in fact_sheet.hits] == [("factsheet-2025", "2")]
    hybrid.lexical.close()
