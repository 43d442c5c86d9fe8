"""The extractive answerer, through StatementService, answers the sample corpus with the right paragraphs.

One real service (MiniLM, embedded Chroma) over the bundled sample statement is
shared by the whole module; every answer is checked by the paragraph it cites.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.runtime import build_service
from bot.settings import load_settings
from errors import InvalidQuestion, UnknownDocument
from ingest.text import content_terms
from prompts import ABSTAIN_PHRASE
from qa.extractive import MARGINS, PASSAGE_FEATURES, ExtractiveAnswerer, _without
from qa.service import StatementService
from qa.types import Answer, Conversation
from tests.conftest import SEED, Cli
from vectorstore import embeddings
from vectorstore.embeddings import Embedder

DOC = "uk-japan-defence-ministerial-2025"
MARKER = re.compile(r"\[(?:[\w.-]+ )?(¶\d+|preamble)\]")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[StatementService]:
    """One real service over the bundled sample statement, shared by the module (and the session's MiniLM)."""
    data_dir = tmp_path_factory.mktemp("answering-data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(embeddings, "Embedder", lambda **_settings: embedder)
        built = build_service(load_settings(data_dir=data_dir, llm_provider="none"))
    built.ensure_corpus()
    yield built
    built.close()


def labels(answer: Answer) -> list[str]:
    return [c.label for c in answer.citations]


def assert_abstained(answer: Answer) -> None:
    assert answer.abstained, answer.text
    assert answer.citations == ()
    assert answer.text == ABSTAIN_PHRASE


# Answers ----------------------------------------------------------------------
def test_factoid_acronym_gigo_is_expanded_from_paragraph_12(service: StatementService) -> None:
    """The question 'What does GIGO stand for?' cites ¶12 and spells the acronym out."""
    answer = service.ask("What does GIGO stand for?")
    assert not answer.abstained
    assert labels(answer)[0] == "12"
    assert "GCAP International Government Organisation" in answer.text
    assert "[¶12]" in answer.text


def test_when_question_finds_the_date_in_paragraph_12(service: StatementService) -> None:
    """A "when" question about the first GCAP contract answers "end of 2025" from ¶12."""
    answer = service.ask("When will the first GCAP contract be concluded?")
    assert labels(answer)[0] == "12"
    assert "end of 2025" in answer.text


def test_paraphrase_pyongyang_finds_north_korea_in_paragraph_3(service: StatementService) -> None:
    """A word absent from the text (Pyongyang) still finds the North Korea paragraph, ¶3."""
    answer = service.ask("What did they say about Pyongyang?")
    assert not answer.abstained
    assert labels(answer)[0] == "3"
    assert "North Korea" in answer.text


def test_acronym_nsatu_is_answered_from_paragraph_4(service: StatementService) -> None:
    """The question 'What does NSATU stand for?' cites ¶4 with the expansion."""
    answer = service.ask("What does NSATU stand for?")
    assert labels(answer)[0] == "4"
    assert "NATO Security Assistance and Training for Ukraine" in answer.text


def test_paraphrased_verb_answers_from_the_preamble_or_shows_it_first(service: StatementService) -> None:
    """'represented' is nowhere in the text: the preamble ('held a meeting') answers, or leads the closest passages."""
    answer = service.ask("Who was the minister that represented Japan?")
    if answer.abstained:
        assert answer.closest[0].label == "preamble"
    else:
        assert labels(answer) == ["preamble"]
        assert "Nakatani Gen" in answer.text


# Once a known gap (¶8, "UK and Japanese collaboration", answered with p 0.56 under archive-scale fusion);
# with the passage margins (semantic support, answer proximity) the fit no longer answers from it.
def test_country_adjective_never_cites_a_paragraph_without_the_minister(service: StatementService) -> None:
    """'Japanese minister' is answered by the preamble ('Minister of Defense of Japan') or not at all."""
    answer = service.ask("Which Japanese minister attended?")
    assert answer.abstained or labels(answer) == ["preamble"], answer.text
    if not answer.abstained:
        assert "Nakatani Gen" in answer.text


ABSTAINS = None  # the expected outcome of a question the answerer should abstain on


def assert_outcome(answer: Answer, expected: str | None) -> None:
    """Exactly the expected outcome: abstention (ABSTAINS), or an answer citing that paragraph first."""
    if expected is ABSTAINS:
        assert_abstained(answer)
    else:
        assert not answer.abstained, answer.text
        assert labels(answer)[0] == expected, answer.text


# Today both abstain: "represented" is not in the text and the rest of the question is too
# little support. The preamble (which names Nakatani Gen) would be the better answer; an
# answerer that finds it changes the expectation here on purpose, and any other answer fails.
@pytest.mark.parametrize(
    ("question", "expected"),
    [("Who represented Japan?", ABSTAINS), ("Which minister represented Japan at the talks?", ABSTAINS)],
)
def test_who_question_answers_with_a_name_or_not_at_all(
    service: StatementService, question: str, expected: str | None
) -> None:
    """A "who" question is never answered with a sentence that names no one: the expected outcome exactly."""
    assert_outcome(service.ask(question), expected)


def test_what_about_question_quotes_the_paragraph_on_its_topic(service: StatementService) -> None:
    """'What is the Women, Peace and Security agenda about?' quotes ¶8, the only paragraph on WPS, and only it."""
    answer = service.ask("What is the Women, Peace and Security agenda about?")
    assert labels(answer) == ["8"]
    assert "Women, Peace and Security (WPS)" in answer.text


def test_list_question_cites_only_paragraphs_naming_an_exercise(service: StatementService) -> None:
    """'What exercises are mentioned?' is answered, and every paragraph it cites is one of those naming exercises."""
    answer = service.ask("What exercises are mentioned?")
    assert not answer.abstained
    assert set(labels(answer)) <= {"9", "10", "15", "4"}, answer.text


@pytest.mark.parametrize(
    ("question", "label"),
    [("paragraph 7", "7"), ("¶3", "3"), ("para 12 of the 2025 statement", "12")],
)
def test_exact_reference_returns_that_paragraph_verbatim(service: StatementService, question: str, label: str) -> None:
    """A paragraph asked for by number comes back whole and verbatim, citing itself."""
    answer = service.ask(question)
    stored = service.source(DOC, label)
    assert not answer.abstained
    assert labels(answer) == [label]
    assert answer.citations[0].text == stored.text
    assert answer.text.startswith(stored.text)
    assert answer.text.endswith(f"[¶{label}]")


def test_follow_up_in_a_conversation_changes_topic(service: StatementService) -> None:
    """The question 'and what about space?' after a cyber question is answered from ¶13, the cyber one from ¶10."""
    conversation = Conversation()
    first = service.ask("What do the ministers say about cyber?", conversation=conversation)
    assert labels(first)[0] == "10"
    second = service.ask("and what about space?", conversation=conversation)
    assert not second.abstained
    assert labels(second)[0] == "13"
    assert len(conversation) == 2


# Filters ----------------------------------------------------------------------
# Filters are tested on a corpus of two statements, where a filter that did nothing would
# answer from the other one: GIGO is only in the UK-Japan statement (2025), the F-35A
# deployment only in the Japan-Australia one (2024).
AUS = "aus-japan-2024"
F35A = "Where will Japan deploy F-35A fighter aircraft?"


@pytest.fixture(scope="module")
def two_statements(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[StatementService]:
    """The sample statement and a short Japan-Australia statement, in one store."""
    extra = tmp_path_factory.mktemp("filters-src") / f"{AUS}.txt"
    extra.write_text(AUSTRALIA, encoding="utf-8")
    settings = load_settings(data_dir=tmp_path_factory.mktemp("filters-data"), llm_provider="none")
    built = build_service(settings, embedder=embedder)
    assert built.ingest_paths([SEED, extra]).ok
    yield built
    built.close()


def cited(answer: Answer) -> list[tuple[str, str]]:
    return [(c.doc_id, c.label) for c in answer.citations]


def test_without_a_filter_each_question_is_answered_from_its_own_statement(two_statements: StatementService) -> None:
    """The baseline the filter tests depart from: GIGO from the UK-Japan ¶12, F-35A from the Australia ¶2."""
    assert cited(two_statements.ask("What does GIGO stand for?"))[0] == (DOC, "12")
    assert cited(two_statements.ask(F35A)) == [(AUS, "2")]


def test_document_filter_answers_from_that_document_only(two_statements: StatementService) -> None:
    """Restricted to the UK-Japan statement, the F-35A question no longer cites the Australia statement."""
    assert cited(two_statements.ask("What does GIGO stand for?", document=DOC))[0] == (DOC, "12")
    answer = two_statements.ask(F35A, document=DOC)
    assert answer.citations or answer.closest
    assert {c.doc_id for c in (*answer.citations, *answer.closest)} == {DOC}


def test_document_filter_to_a_statement_without_the_answer_abstains(two_statements: StatementService) -> None:
    """GIGO asked of the Australia statement alone: abstention, with closest passages from that statement."""
    answer = two_statements.ask("What does GIGO stand for?", document=AUS)
    assert_abstained(answer)
    assert answer.closest
    assert {c.doc_id for c in answer.closest} == {AUS}


def test_document_filter_with_an_unknown_id_raises(service: StatementService) -> None:
    """An unknown document id is a user error (UnknownDocument), not an empty answer."""
    with pytest.raises(UnknownDocument, match="no-such-doc"):
        service.ask("What does GIGO stand for?", document="no-such-doc")


def test_date_filter_leaves_out_the_statements_outside_the_range(two_statements: StatementService) -> None:
    """Until the end of 2024 only the Australia statement (5 September 2024) is searched; from 2025 only the UK one."""
    before = two_statements.ask("What does GIGO stand for?", date_to=date(2024, 12, 31))
    assert_abstained(before)
    assert {c.doc_id for c in before.closest} == {AUS}
    assert cited(two_statements.ask(F35A, date_to=date(2024, 12, 31))) == [(AUS, "2")]
    after = two_statements.ask(F35A, date_from=date(2025, 1, 1))
    assert {c.doc_id for c in (*after.citations, *after.closest)} == {DOC}


def test_date_filter_after_every_statement_abstains(two_statements: StatementService) -> None:
    """date_from after 28 August 2025 (the later statement) leaves nothing to search, so the answer abstains."""
    answer = two_statements.ask("What does GIGO stand for?", date_from=date(2025, 8, 29))
    assert_abstained(answer)


def test_date_filter_covering_one_day_answers_from_that_statement(two_statements: StatementService) -> None:
    """A range of exactly 28 August 2025 answers as without a filter, from the statement of that day."""
    answer = two_statements.ask("What does GIGO stand for?", date_from=date(2025, 8, 28), date_to=date(2025, 8, 28))
    assert cited(answer)[0] == (DOC, "12")


# Abstention -------------------------------------------------------------------
@pytest.mark.parametrize(
    "question",
    [
        "Who is Japan's Prime Minister?",
        "What did the ministers decide about the price of rice?",
        "What did they say about Antarctica?",
        "What is the capital of France?",
        # Quantity questions on covered topics: no amount anywhere, so no answer.
        "How much does the Reciprocal Access Agreement cost?",
        "How much money will Edgewing receive?",
    ],
)
def test_unanswerable_question_abstains_with_closest_passages(service: StatementService, question: str) -> None:
    """A question the statement does not answer abstains: fixed phrase, no citations, closest passages shown."""
    answer = service.ask(question)
    assert_abstained(answer)
    assert answer.closest
    assert all(c.doc_id == DOC for c in answer.closest)


# Question hygiene -------------------------------------------------------------
def test_invisible_characters_are_removed_before_answering(service: StatementService) -> None:
    """Zero-width and bidi characters are stripped: the answer equals the clean question's."""
    clean = service.ask("What does GIGO stand for?")
    dirty = service.ask("What\u200b does G\u200dI\u202eGO\u2066 stand\ufeff for?")
    assert dirty.text == clean.text
    assert labels(dirty) == labels(clean) == ["12"]


@pytest.mark.parametrize("question", ["", "   ", "\u200b\u200b", "\n\t"])
def test_empty_question_is_invalid(service: StatementService, question: str) -> None:
    """An empty (or only invisible/blank) question raises InvalidQuestion."""
    with pytest.raises(InvalidQuestion):
        service.ask(question)


def test_overlong_question_is_invalid_and_says_its_length(service: StatementService) -> None:
    """A question over max_question_chars raises InvalidQuestion naming its length and the limit."""
    limit = service.max_question_chars
    question = "a" * (limit + 5)
    with pytest.raises(InvalidQuestion, match=rf"{limit + 5}.*{limit}"):
        service.ask(question)


# CLI --------------------------------------------------------------------------
def test_ask_json_from_stdin_writes_one_line_per_question_in_order(cli: Cli) -> None:
    """`statementbot ask --json -` answers each stdin line with one JSON object, in order."""
    questions = ["What does GIGO stand for?", "What is the capital of France?"]
    completed = subprocess.run(
        cli.command("ask", "--json", "-"),
        input="\n".join(questions) + "\n",
        capture_output=True,
        text=True,
        timeout=240,
        env=cli.env,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert len(lines) == 2
    rows = [json.loads(line) for line in lines]
    for row, question in zip(rows, questions, strict=True):
        assert {"question", "answer", "abstained", "citations", "closest", "latency_ms"} <= set(row)
        assert row["question"] == question
        assert isinstance(row["latency_ms"], int | float)
        for citation in [*row["citations"], *row["closest"]]:
            assert set(citation) == {"document", "title", "paragraph", "text", "date"}
    assert rows[0]["abstained"] is False
    assert rows[0]["citations"][0]["paragraph"] == "12"
    assert rows[0]["citations"][0]["document"] == SEED.stem
    assert rows[1]["abstained"] is True
    assert rows[1]["citations"] == []
    assert rows[1]["answer"] == ABSTAIN_PHRASE
    assert rows[1]["closest"]


# Properties -------------------------------------------------------------------
WORDS = [
    "GCAP", "GIGO", "Edgewing", "cyber", "space", "Ukraine", "Russia", "Taiwan", "Korea", "exercise",
    "Vigilant", "Isles", "carrier", "HIGHMAST", "F-35B", "maritime", "Women", "Peace", "RAF", "JASDF",
    "Typhoon", "industrial", "2035", "2025", "Ministers", "rice", "Antarctica", "France", "penguins",
]  # fmt: skip
TEMPLATES = ["What did they say about {}?", "What about {} and {}?", "{}", "Tell me about {} {}", "Why {}?"]


@st.composite
def questions(draw: st.DrawFn) -> str:
    template = draw(st.sampled_from(TEMPLATES))
    words = draw(st.lists(st.sampled_from(WORDS), min_size=2, max_size=2))
    return template.format(*words)


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(question=questions())
def test_citations_are_marked_and_verbatim_for_generated_questions(service: StatementService, question: str) -> None:
    """Every [¶N] marker is cited, every citation is a stored paragraph verbatim, abstentions cite nothing."""
    answer = service.ask(question)
    if answer.abstained:
        assert answer.citations == ()
        assert answer.text == ABSTAIN_PHRASE
        return
    cited = {c.marker(with_document=False)[1:-1] for c in answer.citations}
    for marker in MARKER.findall(answer.text):
        assert marker in cited, (question, answer.text)
    assert answer.citations
    for citation in answer.citations:
        assert citation.text == service.source(citation.doc_id, citation.label).text


def test_a_question_reads_the_corpus_version_once_and_runs_the_model_twice(
    service: StatementService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hot path: one Chroma round trip for freshness; the model runs on the question alone, then on its
    term ablations as one batch (embedded while retrieval runs)."""
    store = service.retriever.store
    calls: dict[str, object] = {"corpus_version": 0, "batches": []}
    read_version, encode = store.corpus_version, store.embedder.encode

    def counting_version() -> str:
        calls["corpus_version"] += 1  # type: ignore[operator]
        return read_version()

    def counting_encode(texts):  # type: ignore[no-untyped-def]
        calls["batches"].append(len(texts))  # type: ignore[attr-defined]
        return encode(texts)

    monkeypatch.setattr(store, "corpus_version", counting_version)
    monkeypatch.setattr(store.embedder, "encode", counting_encode)
    question = "When is GCAP meant to be delivered?"
    answer = service.ask(question)
    assert labels(answer)[0] == "12"
    assert calls == {"corpus_version": 1, "batches": [1, len(content_terms(question))]}


def test_how_many_question_is_answered_by_a_sentence_with_a_count(service: StatementService) -> None:
    """'How many' needs a number or a counting word, not a year ("in 2026") nor the question's own number: the
    "2" of "2+2" repeats the question, and 'the sixth ... Meeting' is a place in a series (ordinals as counts were
    measured to cost answers elsewhere). So it abstains, showing ¶16 first."""
    answer = service.ask("How many UK-Japan 2+2 meetings have there been?")
    assert_abstained(answer)
    assert answer.closest[0].label == "16"
    assert "sixth" in answer.closest[0].text


EDUCATION = """Joint Statement on the United States-India Education and Defence Partnership

22 June 2023

1. President Biden and Prime Minister Modi hailed the growing bilateral education partnership between the United
States and India. Indian students are on pace to soon become the largest foreign student community in the United
States, with an increase of nearly 20 percent in Indian students studying in the United States last year alone. The
leaders welcomed the establishment of a new Joint Task Force of American and Indian universities, and noted its
interim recommendations for expanding research partnerships between the two countries.

2. The leaders welcomed India's plans to procure 31 MQ-9B armed unmanned aerial vehicles, which will enhance the
intelligence, surveillance and reconnaissance capabilities of India's armed forces.
"""


@pytest.fixture(scope="module")
def education(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[StatementService]:
    """A short statement after real_dev's India statement: a share of students, a count of countries and of drones."""
    source = tmp_path_factory.mktemp("education-src") / "us-india-education.txt"
    source.write_text(EDUCATION, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(embeddings, "Embedder", lambda **_settings: embedder)
        built = build_service(load_settings(data_dir=tmp_path_factory.mktemp("education-data"), llm_provider="none"))
    assert built.ingest_paths([source]).ok
    yield built
    built.close()


def test_how_many_x_needs_a_count_of_x(education: StatementService) -> None:
    """ "How many Indian students…?" is not answered by "between the two countries" (a count, but of countries:
    real_dev's d72 was answered so), while "How many drones…?" is answered by "31 MQ-9B armed unmanned aerial
    vehicles" (no shared stem; the counted words come within 0.36 of "drones" in the model's static word vectors)."""
    assert_abstained(education.ask("How many Indian students are studying in the US right now?"))
    drones = education.ask("How many drones is India buying?")
    assert labels(drones) == ["2"]
    assert "31 MQ-9B" in drones.text


def test_short_question_word_matches_its_inflected_form(service: StatementService) -> None:
    """'meet' is backed by the preamble's 'Meeting' (a prefix of six letters cannot see that): it wins over ¶16."""
    answer = service.ask("When did the defence ministers meet?")
    assert labels(answer) == ["preamble"]
    assert "28 August 2025 in Tokyo" in answer.text


AUSTRALIA = """Queenscliff Joint Statement: Eleventh Japan-Australia 2+2 Foreign and Defence Ministerial Consultations

5 September 2024

Australian and Japanese ministers met in Queenscliff, Victoria, for the Eleventh Japan-Australia 2+2 Consultations.

1. Ministers reaffirmed the Special Strategic Partnership between Japan and Australia.

2. Ministers announced that Japan would deploy F-35A fighter aircraft to northern Australia in 2025 for Exercise
Pitch Black.

3. Ministers looked forward to the next 2+2 Ministerial Consultations in Japan in 2025.
"""


def test_each_answer_sentence_is_backed_on_its_own_across_statements(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> None:
    """With two statements, the UK-Japan '2+2' sentence does not ride along on a Japan-Australia question."""
    data_dir = tmp_path_factory.mktemp("two-statements")
    extra = tmp_path_factory.mktemp("extra") / "aus-japan-2024.txt"
    extra.write_text(AUSTRALIA, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(embeddings, "Embedder", lambda **_settings: embedder)
        service = build_service(load_settings(data_dir=data_dir, llm_provider="none"))
    try:
        assert service.ingest_paths([SEED, extra]).ok
        answer = service.ask("When is the next Japan-Australia 2+2?")
        assert [(c.doc_id, c.label) for c in answer.citations] == [("aus-japan-2024", "3")]
        assert answer.text.endswith("[aus-japan-2024 ¶3]")
        # Named by a title word no other statement uses, the Australia statement answers alone;
        # the UK-Japan ¶11 on Japanese fighter aircraft is not asked about.
        question = "What does the Queenscliff statement say about Japanese fighter aircraft?"
        result = service.retriever.search(question)
        assert result.naming_words == {"queenscliff"}
        # Within the statement it named, "Queenscliff" tells no paragraph apart: BM25 scores the
        # topic's words only, or the opening paragraph (which repeats the name) would gain by it.
        topic_only = dict(service.retriever.lexical.search("Japanese fighter aircraft", 10, doc_ids=["aus-japan-2024"]))
        opening = next(h for h in result.hits if "Queenscliff" in h.paragraph.text)
        assert opening.lexical == pytest.approx(topic_only[opening.paragraph.key])
        assert result.hits[0].paragraph.label == "2"
        named = service.ask(question)
        assert [(c.doc_id, c.label) for c in named.citations] == [("aus-japan-2024", "2")]
    finally:
        service.close()


@pytest.mark.parametrize(
    ("question", "label"),
    [
        # Known gap of the fitted answerer: nothing it measures tells this meeting (preamble, in
        # Tokyo) from the next one (¶16, in the UK); the old tense rule was one special case.
        pytest.param(
            "Where did the ministers meet?",
            "preamble",
            marks=pytest.mark.xfail(strict=True, reason="tense of the meeting is not a feature"),
        ),
        ("Where will the next 2+2 be held?", "16"),  # the next one, in the UK
    ],
)
def test_where_question_cites_its_meeting_or_shows_it_first(
    service: StatementService, question: str, label: str
) -> None:
    """A "where" question cites the paragraph on its own meeting, or abstains with that paragraph among the closest."""
    answer = service.ask(question)
    if answer.abstained:
        assert label in [c.label for c in answer.closest]
    else:
        assert labels(answer)[0] == label


# Today both abstain; ¶15 (maritime capability) and ¶5 (the Carrier Strike Group) would be right answers,
# and an answerer that finds them changes the expectation here on purpose.
@pytest.mark.parametrize(
    ("question", "expected"),
    [("What did they say about drones at sea?", ABSTAINS), ("What about British stealth jets?", ABSTAINS)],
)
def test_loosely_related_sentence_does_not_answer_a_paraphrase(
    service: StatementService, question: str, expected: str | None
) -> None:
    """A sentence only near the topic (space cooperation, Japanese fighters) is no answer: the expected outcome."""
    assert_outcome(service.ask(question), expected)


@pytest.mark.parametrize(
    ("question", "label", "named"),
    [
        ("What did they say about Beijing?", "2", "China"),
        ("What did they say about Kyiv?", "4", "Ukraine"),
    ],
)
def test_capital_named_for_its_government_finds_the_country(
    service: StatementService, question: str, label: str, named: str
) -> None:
    """'Beijing' and 'Kyiv' appear nowhere; the paragraphs on China and Ukraine answer them, or lead the closest."""
    answer = service.ask(question)
    if answer.abstained:
        assert answer.closest[0].label == label
        assert named in answer.closest[0].text
    else:
        assert labels(answer)[0] == label
        assert named in answer.text


def test_abstention_shows_the_sentence_of_each_closest_paragraph_nearest_the_question(
    service: StatementService, embedder: Embedder
) -> None:
    """Under an abstention each closest paragraph is quoted by its sentence nearest the question."""
    from bot.render import answer_text
    from ingest.sentences import split_sentences

    question = "Who is Japan's Prime Minister?"
    answer = service.ask(question)
    assert_abstained(answer)
    assert answer.closest
    for citation in answer.closest:
        sentences = [citation.text[s.start : s.end] for s in split_sentences(citation.text)]
        vectors = embedder.encode([question, *sentences])
        nearest = sentences[int((vectors[1:] @ vectors[0]).argmax())]
        assert citation.quote == nearest
    shown = answer_text(answer)
    assert f"» “{answer.closest[0].quote}" in shown


def test_answer_proximity_reads_the_words_beside_what_a_typed_question_asks_for(service: StatementService) -> None:
    """For "when", a paragraph is measured by the question words around its dates ("delivery by 2035" beside
    "delivered"); a paragraph without a date, and every paragraph of an untyped question, measure 0."""
    column = PASSAGE_FEATURES.index("answer_proximity")

    answerer = service.answerer
    assert isinstance(answerer, ExtractiveAnswerer)

    def proximity(question: str) -> dict[str, tuple[float, bool]]:
        result, without = answerer.search(question)
        passages = answerer.candidates(result, without_term=without)
        return {p.paragraph.label: (float(p.features[column]), p.holds_type) for p in passages}

    typed = proximity("When is GCAP meant to be delivered?")
    assert typed["12"][0] > 0.0
    undated = [value for value, dated in typed.values() if not dated]
    assert undated
    assert set(undated) == {0.0}
    assert {value for value, _dated in proximity("What is GCAP?").values()} == {0.0}


def test_question_variants_are_embedded_beside_the_search_as_they_would_be_alone(service: StatementService) -> None:
    """The question without each of its terms is embedded while retrieval runs (a thread of its own): the
    vectors are the ones the model gives those texts, and the question's own vector is the one searched with."""
    answerer = service.answerer
    assert isinstance(answerer, ExtractiveAnswerer)
    question = "When is GCAP meant to be delivered?"
    result, without = answerer.search(question)
    encode = service.retriever.store.embedder.encode
    assert list(without) == content_terms(question)
    expected = encode([_without(question, term) for term in without])
    for (term, vector), alone in zip(without.items(), expected, strict=True):
        assert float(vector @ alone) == pytest.approx(1.0, abs=1e-5), term
    assert float(result.query_vector @ encode([question])[0]) == pytest.approx(1.0, abs=1e-6)
    assert answerer.search("the")[1] == {}  # no content term, no variants


def test_margins_compare_each_passage_with_the_best_of_the_others(service: StatementService) -> None:
    """Each MARGINS feature is the passage's value minus the best other passage's: positive for one passage at
    most (the one ahead of all others), and the leader's margin is its lead over the runner-up."""
    answerer = service.answerer
    assert isinstance(answerer, ExtractiveAnswerer)
    result, without = answerer.search("Which exercises did the UK and Japan hold together?")
    passages = answerer.candidates(result, without_term=without)
    assert len(passages) >= 3
    for name, of in MARGINS.items():
        margin, value = PASSAGE_FEATURES.index(name), PASSAGE_FEATURES.index(of)
        values = sorted((float(p.features[value]) for p in passages), reverse=True)
        margins = [float(p.features[margin]) for p in passages]
        assert sum(m > 0 for m in margins) <= 1
        assert max(margins) == pytest.approx(values[0] - values[1])
        assert min(margins) == pytest.approx(values[-1] - values[0])


def test_a_sentence_that_points_back_is_read_and_quoted_with_the_one_before(service: StatementService) -> None:
    """¶12: "…contract … by the end of 2025. This will be the first contract to … support … programme delivery
    by 2035." The second sentence names GCAP only through "This": read with the first, it backs the question,
    and it is never quoted without the sentence it points back to."""
    answer = service.ask("When is GCAP meant to be delivered?")
    assert labels(answer) == ["12"]
    assert "delivery by 2035" in answer.text
    this = answer.text.index("This will be the first contract")
    assert answer.text.index("by the end of 2025") < this
    quotes = [
        citation.quote
        for question in ("When is the GCAP contract to be concluded?", "What will the first GCAP contract do?")
        for citation in service.ask(question).citations
        if "This will be the first contract" in citation.quote
    ]
    assert quotes
    assert all("Recognising the significance of the GCAP" in quote for quote in quotes)


def test_warming_up_holds_every_sentence_vector_and_answers_the_same(service: StatementService) -> None:
    """A long-running front end's warm-up reads every sentence vector into memory (`resident_vectors_mb`,
    default 512 MB); the answer is the one the Chroma path gave."""
    question = "When will the first GCAP contract be concluded?"
    before = service.ask(question)
    service.warm()
    held = service.retriever.resident
    assert held is not None
    assert held.version == service.store.corpus_version()
    assert held.matrix.shape[0] == service.store.sentence_count() > 0
    # What a first question naming a statement read: which titles hold each word, each document's BM25 keys.
    from qa import question as question_module

    warmed_titles = question_module._last_title_owners
    assert warmed_titles is not None
    assert warmed_titles.documents is service.retriever.documents()
    assert service.retriever.lexical._keys_by_document is not None
    after = service.ask(question)
    assert (after.text, after.citations) == (before.text, before.citations)
    assert "end of 2025" in after.text


def test_a_place_the_question_already_names_is_no_answer_to_where(service: StatementService) -> None:
    """'Where in Japan did the Carrier Strike Group arrive?' is not answered by "the arrival in Japan" (¶5):
    an answer span must say something the question does not; asked without "in Japan", it answers "where"."""
    answerer = service.answerer
    assert isinstance(answerer, ExtractiveAnswerer)

    def holds_place(question: str) -> bool:
        result, without = answerer.search(question)
        passages = {p.paragraph.label: p for p in answerer.candidates(result, without_term=without)}
        arrival = next(s for s in passages["5"].sentences if "arrival in Japan" in s.sentence.text)
        return arrival.holds_type

    assert holds_place("Where did the UK Carrier Strike Group arrive?")
    assert not holds_place("Where in Japan did the UK Carrier Strike Group arrive?")


def test_a_question_asking_when_and_where_needs_a_paragraph_holding_both(service: StatementService) -> None:
    """¶12 dates GCAP's delivery (2025, 2035) but places nothing: it answers "when", not "when and where"."""
    answerer = service.answerer
    assert isinstance(answerer, ExtractiveAnswerer)

    def holds(question: str) -> bool:
        result, without = answerer.search(question)
        passages = {p.paragraph.label: p for p in answerer.candidates(result, without_term=without)}
        return passages["12"].holds_type

    assert holds("When is GCAP meant to be delivered?")
    assert not holds("When and where is GCAP meant to be delivered?")
    met = service.ask("When and where did the defence ministers meet?")  # the preamble: 28 August 2025, in Tokyo
    assert labels(met) == ["preamble"]


def test_a_question_asking_what_someone_said_needs_a_statement_that_names_them(service: StatementService) -> None:
    """ "What did Seoul say about North Korea?" is not answered by ¶3, the UK and Japanese ministers' words
    on North Korea: the statement never names Seoul, so it abstains and shows ¶3 first (without this check
    it cited ¶3). Asked of the ministers, or of a party the statement names only by its adjective
    ("Australian-hosted"), the statement answers."""
    ministers = service.ask("What did the ministers say about North Korea?")
    assert "3" in labels(ministers)
    seoul = service.ask("What did Seoul say about North Korea?")
    assert_abstained(seoul)
    assert seoul.closest
    assert seoul.closest[0].label == "3"
    assert not service.ask("What did Australia say about Exercise Talisman Sabre?").abstained


def test_a_question_about_what_is_yet_to_come_is_not_answered_by_a_date_before_the_statement(
    service: StatementService,
) -> None:
    """¶14 dates the Panel's Letter of Intent "October 2024", before the statement (28 August 2025): it says
    when the letter was signed, not when one will be (without this check it cited ¶14); the next 2+2 "in 2026"
    (¶16) still answers."""
    assert labels(service.ask("When was the letter of intent on maritime defence equipment signed?")) == ["14"]
    assert_abstained(service.ask("When will the letter of intent on maritime defence equipment be signed?"))
    assert labels(service.ask("When is the next 2+2 meeting?")) == ["16"]


@pytest.mark.parametrize(
    "question",
    [
        "What's the range in km of the carrier strike group deployment?",
        "What share of the GCAP programme does Japan fund?",
        "What percentage of GCAP work goes to Japan?",
        "How far in km did the carrier strike group sail?",
    ],
)
def test_a_question_for_a_share_or_a_figure_in_a_unit_needs_a_figure(service: StatementService, question: str) -> None:
    """A share, a percentage or a quantity in a named unit is asked for as "how much" is: the statement
    gives no figure for any of these, so each abstains (without the check the first and the last cited ¶5,
    the CSG's arrival, and the second ¶11, GCAP's preparation)."""
    assert_abstained(service.ask(question))
