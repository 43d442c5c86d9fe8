"""Scope from the question: named statements and times become filters, matched against titles and dates.

Pure functions over DocumentRecords whose titles and dates are set here, so
each rule is checked on its own; the service test at the end runs the real
store and model.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from errors import UnknownDocument
from qa.question import question_scope, resolve_document, statement_name_terms, statement_topic_terms, time_scope
from qa.service import StatementService
from vectorstore.embeddings import Embedder
from vectorstore.store import DocumentRecord

TODAY = date(2026, 12, 2)


def record(doc_id: str, title: str, day: date | None) -> DocumentRecord:
    return DocumentRecord(doc_id, title, day, f"{doc_id}.md", "hash", 10, "2026-01-01T00:00:00+00:00", True)


DOCUMENTS = {
    r.id: r
    for r in [
        record("quad-2021", "Quad Leaders' Joint Statement: The Spirit of the Quad", date(2021, 3, 12)),
        record("quad-2022", "Quad Joint Leaders' Statement", date(2022, 5, 24)),
        record("quad-2023", "Quad Leaders' Joint Statement", date(2023, 5, 20)),
        record("aukus-2023", "Joint Leaders Statement on AUKUS", date(2023, 3, 13)),
        record("aukus-2021", "Joint Leaders Statement on AUKUS", date(2021, 9, 15)),
        record("g7-2024", "G7 Leaders' Communiqué", date(2024, 6, 14)),
        record("g7-2025", "G7 Leaders' Communiqué", date(2025, 6, 17)),
        record("india-2023", "Joint Statement from the United States and India", date(2023, 6, 22)),
        record("india-sheet-2025", "Fact Sheet: The United States and India Deepen Ties", date(2025, 1, 6)),
        record(
            "camp-david", "The Spirit of Camp David: Joint Statement of Japan, the ROK and the US", date(2023, 8, 18)
        ),
        record("budget-2025", "Statement on the Budget", date(2025, 3, 1)),
        record(
            "wilmington-2024",
            "The Wilmington Declaration Joint Statement from the Leaders of Australia, India, Japan,"
            " and the United States",
            date(2024, 9, 21),
        ),
        record("g7-ukraine-2024", "G7 Leaders' Statement", date(2024, 2, 24)),
        record("g7-syria-2024", "G7 Leaders' Statement on Syria", date(2024, 12, 12)),
        record("xi-call-2022", "Readout of President Biden's Call with President Xi Jinping", date(2022, 7, 28)),
        record("xi-call-2024", "Readout of President Biden's Call with President Xi Jinping", date(2024, 4, 2)),
        record("nato-madrid", "Fact Sheet: The 2022 NATO Summit in Madrid", date(2022, 6, 29)),
        record("nato-vilnius", "Fact Sheet: The 2023 NATO Summit in Vilnius", date(2023, 7, 11)),
    ]
}


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What did the statements say in March 2022?", (date(2022, 3, 1), date(2022, 3, 31))),
        ("In June 2023, what was agreed on space?", (date(2023, 6, 1), date(2023, 6, 30))),
        ("In the 2023 statement, what about trade?", (date(2023, 1, 1), date(2023, 12, 31))),
        ("What was in 2024's communiqué?", (date(2024, 1, 1), date(2024, 12, 31))),
        ("What did last year's G7 communiqué say?", (date(2025, 1, 1), date(2025, 12, 31))),
        ("Which statements this year mention Ukraine?", (date(2026, 1, 1), date(2026, 12, 31))),
        ("How big was US-India trade in 2022?", (None, None)),
        ("What did the 2021 AUKUS one say?", (date(2021, 1, 1), date(2021, 12, 31))),
        ("Where will the 2024 Indo-Pacific Business Forum be held?", (None, None)),
        ("Will GCAP be delivered by 2035?", (None, None)),
        ("What happens until 2030?", (None, None)),
        ("What does paragraph 7 of the G7 statement from 11 October 2022 say?", (date(2022, 10, 11),) * 2),
        ("What does point 12 of the G7's 11 Oct 2022 Ukraine statement say?", (date(2022, 10, 11),) * 2),
        ("In the statement of October 11, 2022, what about Iran?", (date(2022, 10, 11),) * 2),
        ("What did the statement dated 3rd March 2021 say?", (date(2021, 3, 3),) * 2),
        ("In the statement from 31 June 2023, what about Iran?", (date(2023, 6, 1), date(2023, 6, 30))),
        ("What happened on 7 October 2023, according to the statement?", (None, None)),
    ],
)
def test_time_scope_reads_the_statement_date_not_target_years(question: str, expected: tuple) -> None:
    """'in March 2022', '2024's', 'last year' name the statement's time; 'by 2035' or 'trade in 2022' are content."""
    assert time_scope(question, today=TODAY) == expected


@pytest.mark.parametrize(
    ("question", "terms"),
    [
        ("What did the Quad statement say about vaccines?", ["quad"]),
        ("In the AUKUS one, who builds the submarines?", ["aukus"]),
        ("What does the G7 communiqué say on Ukraine?", ["g7"]),
        ("In the Spirit of the Quad statement, what about climate?", ["spirit", "quad"]),
        ("In the Spirit of Camp David statement, what about China?", ["spirit", "camp", "david"]),
        ("What does paragraph 14 of the US-India joint statement say?", ["us", "india", "joint"]),
        ("In the March 2023 AUKUS leaders' statement, what was new?", ["aukus", "leaders"]),
        ("When was the first Quad summit?", []),
        ("Who led the talks in the US-UK Indo-Pacific consultations?", []),
        ("How many submarines will Australia buy?", []),
    ],
)
def test_statement_names_are_the_words_before_a_kind_noun(question: str, terms: list[str]) -> None:
    """The words just before 'statement', 'one', 'communiqué' name the statement; times and kinds are dropped."""
    assert statement_name_terms(question) == terms


def test_a_series_is_asked_of_its_newest_statement() -> None:
    """'the Quad statement' matches three Quad statements: the newest is meant."""
    scope = question_scope("What did the Quad statement say about vaccines?", DOCUMENTS, today=TODAY)
    assert scope.doc_ids == ("quad-2023",)
    assert scope.naming_words == {"quad"}


def test_a_named_time_picks_the_statement_of_that_time() -> None:
    """'the 2021 AUKUS one' is the 2021 statement, not the newest."""
    scope = question_scope("What did the 2021 AUKUS one say about nuclear propulsion?", DOCUMENTS, today=TODAY)
    assert scope.doc_ids == ("aukus-2021",)


def test_last_years_communique_is_relative_to_today() -> None:
    """'last year's G7 communiqué' in 2026 is the 2025 communiqué."""
    scope = question_scope("What did last year's G7 communiqué say on China?", DOCUMENTS, today=TODAY)
    assert scope.doc_ids == ("g7-2025",)
    earlier = question_scope("What did last year's G7 communiqué say on China?", DOCUMENTS, today=date(2025, 2, 1))
    assert earlier.doc_ids == ("g7-2024",)


def test_a_name_matches_titles_holding_every_word_of_it() -> None:
    """'the Spirit of the Quad statement' is the title with both words; a name no title holds names nothing."""
    scope = question_scope("In the Spirit of the Quad statement, what about climate?", DOCUMENTS, today=TODAY)
    assert scope.doc_ids == ("quad-2021",)
    assert question_scope("In the Biden-Marcos statement, what about space?", DOCUMENTS, today=TODAY).empty


def test_an_abbreviation_names_the_title_that_spells_it_out() -> None:
    """'the US-India joint statement' is "Joint Statement from the United States and India" ("US" = United States)."""
    scope = question_scope("What did the US-India joint statement say about drones?", DOCUMENTS, today=TODAY)
    assert scope.doc_ids == ("india-2023",)
    assert resolve_document("US India statement", DOCUMENTS) == "india-2023"
    # A fragment alone: the title it covers best (fewer other words than the fact sheet's), then the newest.
    assert resolve_document("US India", DOCUMENTS) == "india-2023"
    assert resolve_document("US India fact sheet", DOCUMENTS) == "india-sheet-2025"


def test_a_name_prefers_the_kind_of_document_the_question_names() -> None:
    """'the India US statement' is the statement, though a newer fact sheet names both too; 'the fact sheet' is that."""
    scope = question_scope("What's paragraph 30 of the India US statement about?", DOCUMENTS, today=TODAY)
    assert scope.doc_ids == ("india-2023",)
    scope = question_scope("What did the India US fact sheet say about space?", DOCUMENTS, today=TODAY)
    assert scope.doc_ids == ("india-sheet-2025",)


def test_a_name_prefers_the_title_its_words_cover_best() -> None:
    """Of titles holding every word of the name, the one with the fewest words the question leaves out is
    meant: "the US-India statement" is the bilateral one, not the newer Quad declaration that also lists both
    countries; "the G7 statement" is "G7 Leaders' Statement", not the newer one "on Syria", unless the
    question says Syria."""
    scope = question_scope("What does paragraph 14 of the US-India joint statement say?", DOCUMENTS, today=TODAY)
    assert scope.doc_ids == ("india-2023",)
    assert question_scope("What did the G7 statement say?", DOCUMENTS, today=TODAY).doc_ids == ("g7-ukraine-2024",)
    scope = question_scope("What did the G7 statement on Syria say?", DOCUMENTS, today=TODAY)
    assert scope.doc_ids == ("g7-syria-2024",)
    # A named time keeps every statement of that time it names; coverage does not pick among them.
    scope = question_scope("In the 2024 G7 statement, what was said?", DOCUMENTS, today=TODAY)
    assert scope.doc_ids == ("g7-syria-2024", "g7-ukraine-2024")


def test_a_month_in_the_name_or_topic_keeps_the_statements_of_that_month() -> None:
    """'the G7 december statement' is the G7 statement of December, not the best-covered newest; 'Biden's April 2
    call with Xi' is that day's readout of the two; a month in the content, or one no named statement is dated in,
    changes nothing."""
    scope = question_scope("Which regions did it name, according to the G7 december statement?", DOCUMENTS, today=TODAY)
    assert scope.doc_ids == ("g7-syria-2024",)
    scope = question_scope("In the readout of Biden's April 2 call with Xi, what about chips?", DOCUMENTS, today=TODAY)
    assert scope.doc_ids == ("xi-call-2024",)
    scope = question_scope("What did the G7 statement say about the December elections?", DOCUMENTS, today=TODAY)
    assert scope.doc_ids == ("g7-ukraine-2024",)
    scope = question_scope("What did the G7 march statement say?", DOCUMENTS, today=TODAY)
    assert scope.doc_ids == ("g7-ukraine-2024",)


def test_a_series_keeps_its_older_statements_beside_the_newest() -> None:
    """'the AUKUS statement' is the newest of two with that title; the older stays as the series (for a
    paragraph number the newest lacks), and a named time or a single match leaves no series."""
    scope = question_scope("What does paragraph 3 of the AUKUS statement say?", DOCUMENTS, today=TODAY)
    assert scope.doc_ids == ("aukus-2023",)
    assert scope.series == ("aukus-2021", "aukus-2023")
    assert question_scope("What did the 2021 AUKUS statement say?", DOCUMENTS, today=TODAY).series == ()
    assert question_scope("What did the Camp David statement say?", DOCUMENTS, today=TODAY).series == ()


def test_a_paragraph_the_newest_of_a_series_lacks_is_read_from_the_newest_that_has_it(
    tmp_path: Path, embedder: Embedder
) -> None:
    """'paragraph 3 of the AUKUS statement' is the newest AUKUS statement's ¶3 when it has one, else the
    newest older one's; a number none of them has is answered with the newest's paragraphs, citing nothing."""
    from bot.runtime import build_service
    from bot.settings import load_settings

    docs = tmp_path / "docs"
    docs.mkdir()
    aukus = "Joint Leaders Statement on AUKUS"
    bodies = {
        "2021-09-15-aukus.md": ("2021-09-15", aukus, ["Forming AUKUS.", "Sharing tech.", "Submarines for Australia."]),
        "2023-03-13-aukus.md": ("2023-03-13", aukus, ["The pathway is set.", "Rotations begin in 2027."]),
        # Newer than the older AUKUS statement and with a ¶3: the series, not the store, is asked.
        "2022-05-24-quad.md": ("2022-05-24", "Quad Joint Leaders' Statement", ["Quad one.", "Quad two.", "Quad 3."]),
    }
    for name, (day, title, paragraphs) in bodies.items():
        numbered = "\n\n".join(f"{n}. {text}" for n, text in enumerate(paragraphs, start=1))
        (docs / name).write_text(f"---\ndate: '{day}'\ntitle: \"{title}\"\n---\n\n{numbered}\n", encoding="utf-8")
    service = build_service(load_settings(data_dir=tmp_path / "data", llm_provider="none"), embedder=embedder)
    try:
        assert service.ingest_paths([docs]).ok
        second = service.ask("What does paragraph 2 of the AUKUS statement say?")
        third = service.ask("What does paragraph 3 of the AUKUS statement say?")
        missing = service.ask("What does paragraph 9 of the AUKUS statement say?")
    finally:
        service.close()
    assert [(c.doc_id, c.label) for c in second.citations] == [("2023-03-13-aukus", "2")]
    assert [(c.doc_id, c.label) for c in third.citations] == [("2021-09-15-aukus", "3")]
    assert "Submarines for Australia" in third.text
    assert missing.abstained
    assert missing.citations == ()
    assert "2023-03-13-aukus" in missing.text
    assert "no ¶9" in missing.text


def test_a_named_day_picks_that_days_statement_else_its_month() -> None:
    """'the G7 communiqué from 17 June 2025' is that day's; a day no statement has widens to its month."""
    scope = question_scope("What did the G7 communiqué from 17 June 2025 say on China?", DOCUMENTS, today=TODAY)
    assert scope.doc_ids == ("g7-2025",)
    scope = question_scope("In the statement of 12 May 2023, what about vaccines?", DOCUMENTS, today=TODAY)
    assert (scope.date_from, scope.date_to) == (date(2023, 5, 1), date(2023, 5, 31))
    scope = question_scope("In the statement of 20 May 2023, what about vaccines?", DOCUMENTS, today=TODAY)
    assert (scope.date_from, scope.date_to) == (date(2023, 5, 20), date(2023, 5, 20))


@pytest.mark.parametrize(
    ("question", "terms"),
    [
        ("In the fact sheet on the 2022 NATO Summit in Madrid, how many allies?", ["nato", "summit", "madrid"]),
        ("In the readout of Biden's call with Xi, what about Taiwan?", ["biden", "call", "xi"]),
        ("What does paragraph 7 of the G7 statement on Ukraine from 11 October 2022 say?", ["ukraine"]),
        ("What did the statement on Syria say about refugees?", ["syria"]),
        ("What does the statement say about Ukraine?", []),
        ("Which one of the statements mentions Taiwan?", []),
    ],
)
def test_a_statements_topic_is_the_span_after_its_kind_noun(question: str, terms: list[str]) -> None:
    """'the fact sheet *on X*', 'the readout *of X*': up to punctuation or a word that goes on with the question."""
    assert statement_topic_terms(question) == terms


def test_a_topic_keeps_every_statement_whose_title_holds_it() -> None:
    """'the readout of Biden's call with Xi' is either call's readout: the question's content chooses; the
    name before the kind noun alone ('the Biden Xi readout') is a series, of which the newest is meant; a topic
    no title holds names nothing."""
    scope = question_scope("In the readout of Biden's call with Xi, what about Taiwan?", DOCUMENTS, today=TODAY)
    assert scope.doc_ids == ("xi-call-2022", "xi-call-2024")
    assert question_scope("In the Biden Xi readout, what about Taiwan?", DOCUMENTS, today=TODAY).doc_ids == (
        "xi-call-2024",
    )
    scope = question_scope(
        "In the fact sheet on the NATO summit in Madrid, what about spending?", DOCUMENTS, today=TODAY
    )
    assert scope.doc_ids == ("nato-madrid",)
    # A topic no title holds in those words names nothing, not the name alone (the newest Quad statement
    # is not the Quad statement on gardening); without the topic the name chooses.
    assert question_scope("What did the Quad statement on gardening say?", DOCUMENTS, today=TODAY).empty
    assert question_scope("What did the Quad statement say?", DOCUMENTS, today=TODAY).doc_ids == ("quad-2023",)


def test_a_time_alone_filters_by_date_when_statements_are_dated_then() -> None:
    """'in June 2023' keeps the statements of June 2023; a year no statement is dated in filters nothing."""
    scope = question_scope("In June 2023, what was agreed on space?", DOCUMENTS, today=TODAY)
    assert (scope.date_from, scope.date_to, scope.doc_ids) == (date(2023, 6, 1), date(2023, 6, 30), None)
    assert question_scope("In 2030, what will happen?", DOCUMENTS, today=TODAY).empty


def test_a_topic_question_is_not_scoped() -> None:
    """No kind noun, no time: the whole corpus is searched."""
    assert question_scope("How many submarines will Australia buy?", DOCUMENTS, today=TODAY).empty


def test_a_document_is_found_by_id_or_title_fragment() -> None:
    """An id is exact; a title fragment picks the newest statement whose title holds its words."""
    assert resolve_document("aukus-2021", DOCUMENTS) == "aukus-2021"
    assert resolve_document("aukus", DOCUMENTS) == "aukus-2023"
    assert resolve_document("Spirit of Camp David", DOCUMENTS) == "camp-david"
    with pytest.raises(UnknownDocument, match="submarine"):
        resolve_document("submarine treaty", DOCUMENTS)


def test_ask_accepts_a_title_fragment_for_document(service: StatementService) -> None:
    """`--document` / Discord's `document` take a fragment of the title as well as an id."""
    doc_id = service.documents()[0].id
    title_word = next(w for w in service.documents()[0].title.split() if w.isalpha() and len(w) > 4)
    by_fragment = service.ask("When is GCAP meant to be delivered?", document=title_word.lower())
    by_id = service.ask("When is GCAP meant to be delivered?", document=doc_id)
    assert [c.label for c in by_fragment.citations] == [c.label for c in by_id.citations]
    assert by_fragment.citations
    with pytest.raises(UnknownDocument):
        service.ask("When is GCAP meant to be delivered?", document="no such statement anywhere")


def test_title_search_ranks_rare_words_and_prefixes_then_the_newest() -> None:
    """Autocomplete: 'auk' finds the AUKUS statements newest first; 'quad spirit' the one with both words."""
    from qa.question import search_titles

    assert [r.id for r in search_titles("auk", DOCUMENTS, limit=25)] == ["aukus-2023", "aukus-2021"]
    assert [r.id for r in search_titles("quad spirit", DOCUMENTS, limit=25)] == ["quad-2021"]
    assert [r.id for r in search_titles("", DOCUMENTS, limit=2)] == ["g7-2025", "budget-2025"]
    many = {f"doc-{i}": record(f"doc-{i}", f"Joint Statement number {i}", date(2024, 1, 1)) for i in range(3000)}
    assert len(search_titles("joint statement", many, limit=25)) == 25


def test_a_statement_named_by_who_made_it_is_found_by_its_text(tmp_path: Path, embedder: Embedder) -> None:
    """'the Biden-Marcos joint statement' is titled by countries: the joint statements whose paragraphs name
    both are meant (not a joint statement naming only Biden, nor the press secretary's statement naming both).
    A name held partly by a title ('the TTC inaugural joint statement') prefers the statement whose title
    holds more of it; one word ('the Biden statement') names nothing."""
    from bot.runtime import build_service
    from bot.settings import load_settings

    docs = tmp_path / "docs"
    docs.mkdir()
    bodies = {
        "philippines": (
            "2023-05-01",
            "Joint Statement of the Leaders of the United States and the Philippines",
            [
                "President Biden and President Marcos met in Washington.",
                "The leaders agreed to hold the first bilateral Civil Space Dialogue this year.",
            ],
        ),
        "korea": (
            "2022-05-21",
            "Joint Statement of the United States and the Republic of Korea",
            ["President Biden and President Yoon met in Seoul.", "The leaders agreed to deepen space cooperation."],
        ),
        "press": (
            "2023-04-30",
            "Statement from the Press Secretary on the Visit of the President of the Philippines",
            ["President Biden will welcome President Marcos.", "They will discuss space and trade."],
        ),
        "ttc-2021": (
            "2021-09-29",
            "Trade and Technology Council Inaugural Joint Statement",
            ["The TTC met in Pittsburgh.", "The TTC set up an export controls working group."],
        ),
        "ttc-2024": (
            "2024-04-05",
            "Joint Statement of the Trade and Technology Council",
            ["Since the inaugural meeting, the TTC has delivered.", "The TTC renewed its export controls dialogue."],
        ),
    }
    for name, (day, title, paragraphs) in bodies.items():
        numbered = "\n\n".join(f"{n}. {text}" for n, text in enumerate(paragraphs, start=1))
        (docs / f"{name}.md").write_text(
            f"---\ndate: '{day}'\ntitle: \"{title}\"\n---\n\n{numbered}\n", encoding="utf-8"
        )
    service = build_service(load_settings(data_dir=tmp_path / "data", llm_provider="none"), embedder=embedder)

    def scoped(question: str) -> tuple[str, ...] | None:
        _cleaned, search_filter = service.prepare_question(question, None, None, None)
        return None if search_filter is None else search_filter.doc_ids

    try:
        assert service.ingest_paths([docs]).ok
        assert scoped("In the Biden-Marcos joint statement, what did they agree on space?") == ("philippines",)
        assert scoped("What did the Biden-Marcos statement say about space?") == ("philippines", "press")
        assert scoped("In the TTC inaugural joint statement, what about export controls?") == ("ttc-2021",)
        assert scoped("What did the Biden statement say about space?") is None
        # A time named applies first: no Biden-Marcos joint statement of 2022, so the year alone scopes it.
        assert scoped("In the 2023 Biden-Marcos joint statement, what about space?") == ("philippines",)
        assert scoped("In the 2022 Biden-Marcos joint statement, what about space?") is None
    finally:
        service.close()
