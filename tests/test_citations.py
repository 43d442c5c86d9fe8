"""The citation check: what it keeps, re-cites and removes, and the invariants of what it returns."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.parser import parse_statement
from prompts import ABSTAIN_PHRASE, FALLBACK_NOTE, UNSUPPORTED_NOTE
from qa.citations import FALLBACK_BACKEND, Ref, check_answer, content_of, final_check, markers_in
from qa.types import Answer, CheckReport, Citation

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "bot" / "samples" / "uk-japan-defence-ministerial-2025.txt"
DOC = "uk-japan-defence-ministerial-2025"
OTHER_TEXT = """Northland–Southland Fisheries Statement

3 March 2025

1. The Fisheries Ministers of Northland and Southland agreed a shared quota of 4,200 tonnes of cod for 2026.
2. They welcomed the new joint patrol vessel, the NSV Tern, based in Port Avel.
3. The Ministers will meet again in Southland in October 2026.
"""


def _citations(text: str, source: str, doc_id: str) -> list[Citation]:
    document = parse_statement(text, source=source, doc_id=doc_id)
    return [Citation(document.id, document.title, p.label, p.text, source) for p in document.paragraphs]


SAMPLE_EVIDENCE = _citations(SAMPLE.read_text(encoding="utf-8"), str(SAMPLE), DOC)
OTHER_EVIDENCE = _citations(OTHER_TEXT, "https://fish.example/statement-2025", "fisheries-2025")
BY_LABEL = {c.label: c for c in SAMPLE_EVIDENCE}
PARAGRAPH_TEXT = {(c.doc_id, c.label): c.text for c in SAMPLE_EVIDENCE + OTHER_EVIDENCE}


def draft(text: str) -> Answer:
    return Answer("question", text, (), False, backend="fake")


def check(text: str, evidence: list[Citation] = SAMPLE_EVIDENCE, **kwargs: object) -> Answer:
    return check_answer(draft(text), evidence, **kwargs)  # type: ignore[arg-type]


def sentence_of(label: str, index: int = 0) -> str:
    from ingest.sentences import split_sentences

    text = BY_LABEL[label].text
    spans = split_sentences(text)
    return text[spans[index].start : spans[index].end]


def assert_markers_match_citations(answer: Answer) -> None:
    """Every marker names a citation, every citation is named, and cited text is the document's paragraph."""
    named = set()
    for ref in markers_in(answer.text):
        matches = [c for c in answer.citations if c.label == ref.label and ref.doc_id in (None, c.doc_id)]
        assert matches, f"marker {ref} has no citation in {answer.citations}"
        named |= {(c.doc_id, c.label) for c in matches}
    assert named == {(c.doc_id, c.label) for c in answer.citations}
    for citation in answer.citations:
        assert PARAGRAPH_TEXT[(citation.doc_id, citation.label)] == citation.text


# Markers ------------------------------------------------------------------------------------
def test_marker_forms_are_all_read() -> None:
    """[¶3], [¶3, ¶4], [¶5–7], [doc ¶3], (¶9), [preamble] and a bare ¶2 are references; (NATO CAP) is not."""
    text = "A [¶3, ¶4]. B [¶5–7]. C [other-doc ¶3]. D (¶9). E [preamble]. F as ¶2 says. G (NATO CAP)."
    assert markers_in(text) == [
        Ref(None, "3"),
        Ref(None, "4"),
        Ref(None, "5"),
        Ref(None, "6"),
        Ref(None, "7"),
        Ref("other-doc", "3"),
        Ref(None, "9"),
        Ref(None, "preamble"),
        Ref(None, "2"),
    ]


def test_invented_marker_is_removed_and_the_sentence_recited() -> None:
    """A marker naming a paragraph that was not retrieved goes; the sentence moves to the paragraph that says it."""
    answer = check("The Ministers welcomed the first landing of UK F-35B aircraft on JS KAGA [¶99].")
    assert "¶99" not in answer.text
    assert [c.label for c in answer.citations] == ["5"]
    assert answer.checked == CheckReport(removed_sentences=0, removed_citations=1, fallback=False)
    assert_markers_match_citations(answer)


def test_sentence_with_an_unsupported_number_is_removed() -> None:
    """The right paragraph cited with a wrong year: the sentence is dropped, the rest kept."""
    answer = check(
        "The contract with Edgewing is to be concluded by the end of 2025 [¶12]. "
        "Programme delivery is due by 2041 [¶12]."
    )
    assert "2041" not in answer.text
    assert "Edgewing" in answer.text
    assert answer.checked.removed_sentences == 1
    assert [c.label for c in answer.citations] == ["12"]


def test_misattributed_sentence_is_recited_to_the_paragraph_that_supports_it() -> None:
    """A true sentence cited to the wrong paragraph keeps its words and gets the right marker."""
    sentence = sentence_of("15", 1)  # TALISMAN SABRE 25
    answer = check(f"{sentence} [¶3]")
    assert answer.text == f"{sentence} [¶15]"
    assert answer.checked.removed_citations == 1
    assert_markers_match_citations(answer)


def test_uncited_factual_sentence_is_recited_or_removed() -> None:
    """Sentences with no marker are checked against every paragraph: supported ones get one, others go."""
    answer = check(
        "The Ministers welcomed Japan's recent participation in Exercise TALISMAN SABRE 25. "
        "Brazil will join the exercise in 2030."
    )
    assert answer.text == "The Ministers welcomed Japan's recent participation in Exercise TALISMAN SABRE 25. [¶15]"
    assert answer.checked.removed_sentences == 1


def test_sentences_before_a_marker_share_it() -> None:
    """'S1 S2 [¶12]' cites ¶12 for both sentences; an unsupported S1 is checked on its own."""
    kept = check(f"{sentence_of('12', 0)} {sentence_of('12', 1)} [¶12]")
    assert kept.checked == CheckReport()
    mixed = check(f"The Ministers cancelled the Outer Space Treaty. {sentence_of('12', 1)} [¶12]")
    assert "cancelled" not in mixed.text
    assert mixed.text == f"{sentence_of('12', 1)} [¶12]"


def test_negation_missing_from_the_paragraph_is_unsupported() -> None:
    """'did not welcome' is not what ¶5 says, though every other word is there."""
    answer = check("The Ministers did not welcome the first landing of UK F-35B aircraft on JS KAGA [¶5].")
    assert answer.abstained
    assert answer.checked.fallback


def test_changed_past_tense_verb_is_unsupported() -> None:
    """'cancelled' for 'welcomed' in an otherwise verbatim sentence is caught (a past tense must be there)."""
    answer = check("The Ministers cancelled the first landing of UK F-35B aircraft on JS KAGA [¶5].")
    assert answer.checked.fallback


def test_light_paraphrase_is_kept() -> None:
    """Inflections and framing words do not count against a sentence."""
    answer = check("According to the statement, the first F-35B landed on JS KAGA [¶5].")
    assert answer.text == "According to the statement, the first F-35B landed on JS KAGA [¶5]."
    assert answer.checked == CheckReport()
    assert [c.label for c in answer.citations] == ["5"]
    assert "F-35B" in answer.citations[0].quote


def test_sentences_without_a_checkable_fact_are_removed_with_their_markers() -> None:
    """Framing ("Here is the answer.") and what a removed link leaves ("and [¶5].") are not shown."""
    answer = check(f"Here is the answer. {sentence_of('9')} [¶9]. and [¶5]. See [¶5].")
    assert answer.text == f"{sentence_of('9')} [¶9]"
    assert answer.checked == CheckReport(removed_sentences=3, removed_citations=2, fallback=False)
    assert [c.label for c in answer.citations] == ["9"]


def test_nothing_supported_falls_back_to_the_given_answer() -> None:
    """All sentences unsupported: the extractive answer is shown, marked as a fallback with a note."""
    extractive = Answer("question", f"{sentence_of('16')} [¶16]", (BY_LABEL["16"],), False)
    answer = check("The Ministers will meet on the Moon in 2030 [¶16].", fallback=extractive)
    assert answer.text == extractive.text
    assert answer.checked == CheckReport(removed_sentences=1, removed_citations=1, fallback=True)
    assert answer.backend == FALLBACK_BACKEND
    assert answer.note == FALLBACK_NOTE


def test_nothing_supported_without_fallback_abstains_with_closest_passages() -> None:
    """No fallback given: the abstention phrase, the closest evidence, and a note saying why."""
    answer = check("The Ministers will meet on the Moon in 2030 [¶16].", evidence=SAMPLE_EVIDENCE[:4])
    assert answer.abstained
    assert answer.text == ABSTAIN_PHRASE
    assert answer.citations == ()
    assert answer.closest == tuple(SAMPLE_EVIDENCE[:3])
    assert answer.note == UNSUPPORTED_NOTE


def test_marker_ambiguous_between_documents_is_written_with_its_document() -> None:
    """With two documents' ¶1 in the evidence, '[¶1]' becomes the marker of the one that says it."""
    evidence = SAMPLE_EVIDENCE + OTHER_EVIDENCE
    answer = check("The Fisheries Ministers agreed a shared quota of 4,200 tonnes of cod for 2026 [¶1].", evidence)
    assert answer.text.endswith("[fisheries-2025 ¶1]")
    assert [(c.doc_id, c.label) for c in answer.citations] == [("fisheries-2025", "1")]
    assert_markers_match_citations(answer)


def test_a_checked_answer_passes_unchanged() -> None:
    """Checking twice changes nothing the second time, and returns the very same object."""
    once = check("The first F-35B landed on JS KAGA [¶12]. Delivery is due by 2041 [¶12].")
    assert check_answer(once, SAMPLE_EVIDENCE) is once
    assert final_check(once) is once


def test_report_adds_to_the_answer_s_previous_report() -> None:
    """A second check that changes something adds its counts to the first check's."""
    first = replace(draft("The first F-35B landed on JS KAGA [¶99]."), checked=CheckReport(2, 3, False))
    answer = check_answer(first, SAMPLE_EVIDENCE)
    assert answer.checked == CheckReport(2, 4, False)


def test_abstentions_are_not_touched() -> None:
    """The abstention phrase with its closest passages is shown as it is."""
    abstention = Answer("q", ABSTAIN_PHRASE, (), True, tuple(SAMPLE_EVIDENCE[:3]))
    assert check_answer(abstention, SAMPLE_EVIDENCE) is abstention


def test_final_check_removes_foreign_links_and_pings_but_keeps_the_document_s_own() -> None:
    """Links only from the cited paragraph; @everyone neutralised; zero-width characters gone."""
    paragraph = replace(OTHER_EVIDENCE[1], text=OTHER_EVIDENCE[1].text + " Details: https://fish.example/tern.")
    answer = Answer(
        "q",
        "They welcomed the new joint patrol vessel, the NSV Tern\u200b, see https://fish.example/tern and "
        "https://evil.example/x?d=1 @everyone [¶2].",
        (paragraph,),
        False,
    )
    shown = final_check(answer)
    assert "https://fish.example/tern" in shown.text
    assert "evil.example" not in shown.text
    assert "@everyone" not in shown.text
    assert "\u200b" not in shown.text


def test_content_of_a_sentence() -> None:
    """Numbers, codes, names (not the first word), months, negations and past tenses are told apart."""
    content = content_of("They did not sign the F-35B deal with Nakatani on 28 August 2025 and welcomed ASEAN.")
    assert content.numbers == {"28", "2025", "35"}  # digits inside codes count too
    assert content.codes == {"f-35b"}
    assert content.names == {"nakatani", "august", "asean"}
    assert content.negated
    assert content.actions == {"welcomed"}
    assert content.terms == {"sign", "deal"}


# Properties ---------------------------------------------------------------------------------
LABELS = [c.label for c in SAMPLE_EVIDENCE]
INVENTED = [
    "The Ministers agreed to build a joint lunar research base by 2099",
    "Brazil and Canada will host the Zanzibar summit",
    "The Ministers abolished all maritime exercises",
    "The meeting took place on 12 March 1999",
]


def _sentences(label: str) -> list[str]:
    from ingest.sentences import split_sentences

    text = BY_LABEL[label].text
    return [text[s.start : s.end] for s in split_sentences(text)]


def _marker(label: str) -> str:
    return "[preamble]" if label == "preamble" else f"[¶{label}]"


piece = st.one_of(
    st.tuples(st.just("true"), st.sampled_from(LABELS), st.integers(0, 5)),
    st.tuples(st.just("wrong"), st.sampled_from(LABELS), st.integers(0, 5), st.sampled_from(LABELS)),
    st.tuples(
        st.just("invented"), st.sampled_from(INVENTED), st.sampled_from([*LABELS, "99", "0", "", "other-doc ¶1"])
    ),
)


def _render(pieces: list[tuple[object, ...]], newline: list[bool]) -> tuple[str, list[str], list[str]]:
    parts, true, invented = [], [], []
    for index, p in enumerate(pieces):
        if p[0] == "invented":
            target = str(p[2])
            marker = "" if not target else (f"[{target}]" if " " in target else _marker(target))
            parts.append(f"{p[1]} {marker}".strip() + ".")
            invented.append(str(p[1]))
        else:
            sentences = _sentences(str(p[1]))
            sentence = sentences[int(p[2]) % len(sentences)]  # type: ignore[call-overload]
            cited = str(p[1]) if p[0] == "true" else str(p[3])
            parts.append(f"{sentence} {_marker(cited)}")
            true.append(sentence)
        parts.append("\n" if newline[index % len(newline)] else " ")
    return "".join(parts).strip(), true, invented


@settings(max_examples=150, deadline=None)
@given(st.lists(piece, min_size=1, max_size=6), st.lists(st.booleans(), min_size=1, max_size=3))
def test_checked_answers_keep_their_invariants(pieces: list[tuple[object, ...]], newline: list[bool]) -> None:
    """Whatever the draft: markers = citations, cited text is the document's paragraph, nothing invented survives,
    every verbatim sentence survives, and a second check changes nothing."""
    text, true, invented = _render(pieces, newline)
    answer = check(text)
    for phrase in invented:
        assert phrase not in answer.text
    if answer.abstained:
        assert not true
        return
    assert_markers_match_citations(answer)
    for sentence in true:
        assert sentence in answer.text
    assert check_answer(answer, SAMPLE_EVIDENCE) is answer


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(LABELS), st.sets(st.integers(0, 5), min_size=1, max_size=3)), min_size=1))
def test_extractive_layout_passes_unchanged(choice: list[tuple[str, set[int]]]) -> None:
    """Verbatim sentences grouped by paragraph with one marker per group (the extractive layout) pass as they are."""
    parts, citations = [], []
    for label, indices in choice:
        sentences = _sentences(label)
        quote = " ".join(sentences[i % len(sentences)] for i in sorted(indices))
        parts.append(f"{quote} {_marker(label)}")
        if BY_LABEL[label] not in citations:
            citations.append(BY_LABEL[label])
    answer = Answer("q", " ".join(parts), tuple(citations), False)
    assert check_answer(answer, SAMPLE_EVIDENCE) is answer
    assert final_check(answer) is answer


# Extractive quotes pass the check unchanged -------------------------------------------
# A paragraph as the loaders leave a statement whose numbering broke (the
# real_dev India statement's ¶27 holds items 28 to 54): item markers become
# "sentences" of their own, and a list's lead-in states nothing.
RUN_ON = Citation(
    "run-on",
    "Run-on statement",
    "27",
    "The leaders welcomed progress on the Indo-Pacific Partnership for Maritime Domain Awareness. 28. The leaders "
    "also welcomed the inaugural Indian Ocean Dialogue in 2023. 29. Both sides reiterated their commitment to "
    "the UN Convention on the Law of the Sea. They agreed a new fund of $2 billion "
    "for clean energy. The two sides reviewed their achievements. This includes:",
)


def _paragraph_sentences(citation: Citation) -> list[str]:
    from ingest.sentences import split_sentences

    return [citation.text[s.start : s.end] for s in split_sentences(citation.text)]


def test_every_quotable_sentence_passes_the_final_check_unchanged() -> None:
    """What the extractive answerer may quote (`quotable`), alone or two in a row, survives `final_check` verbatim."""
    from qa.extractive import quotable

    for citation in [RUN_ON, *SAMPLE_EVIDENCE, *OTHER_EVIDENCE]:
        sentences = [s for s in _paragraph_sentences(citation) if quotable(s)]
        assert sentences, citation.label
        quotes = [[s] for s in sentences] + [sentences[i : i + 2] for i in range(len(sentences) - 1)]
        for quote in quotes:
            answer = Answer("q", f"{' '.join(quote)} {citation.marker(with_document=False)}", (citation,), False)
            checked = final_check(answer)
            assert checked.checked == CheckReport(), (citation.label, quote, checked.text)
            assert checked.text == answer.text


def test_sentences_that_state_nothing_are_not_quotable() -> None:
    """A bare item marker or a list's lead-in is no quote: the check would remove it, so the answerer never uses it."""
    from qa.extractive import quotable

    unquotable = [s for s in _paragraph_sentences(RUN_ON) if not quotable(s)]
    assert unquotable == ["28.", "29.", "This includes:"]
    for sentence in unquotable:
        answer = Answer("q", f"{sentence} [¶27]", (RUN_ON,), False)
        assert final_check(answer).checked.removed_sentences == 1


def test_document_ids_with_and_in_them_are_read_whole() -> None:
    """'and' inside a document id ("...-united-states-and-india ¶22") is part of the name, not a separator."""
    doc = "2023-06-22-joint-statement-from-the-united-states-and-india"
    assert markers_in(f"S. [{doc} ¶22]") == [Ref(doc, "22")]
    assert markers_in("S. [¶3 and ¶4]") == [Ref(None, "3"), Ref(None, "4")]
    citation = replace(OTHER_EVIDENCE[0], doc_id=doc)
    text = f"{citation.text} {citation.marker(with_document=True)}"
    checked = final_check(Answer("q", text, (citation, OTHER_EVIDENCE[1]), False))
    assert checked.checked == CheckReport()
    assert checked.text == text
