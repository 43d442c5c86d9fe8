"""The shared text helpers read tokens, stems, dates, amounts, persons and question types as documented."""

from __future__ import annotations

from datetime import date

import pytest

from qa.text import (
    AnswerType,
    abbreviations,
    answer_spans,
    answer_type_of,
    answer_types_of,
    asks_about_the_future,
    asks_for_a_name,
    before,
    content_terms,
    count_spans,
    counted_terms,
    counted_words,
    date_spans,
    evidence_stems,
    evidence_words,
    has_amount,
    has_count,
    has_date,
    has_person,
    has_quantity,
    holds_type,
    name_spans,
    names_someone,
    office_words,
    party_spans,
    speaker_terms,
    stem,
    tokenize,
)


def test_tokens_split_like_fts5_and_content_terms_drop_stop_words() -> None:
    """Words are lowercased and split on non-word characters; stop words and repeats leave the content terms."""
    assert tokenize("F-35B UK’s GCAP") == ["f", "35b", "uk", "s", "gcap"]
    assert content_terms("What did the UK say about the UK's jets?") == ["uk", "jets"]


@pytest.mark.parametrize(
    ("a", "b"),
    [("delivered", "deliver"), ("meetings", "meet"), ("landed", "landing"), ("participation", "participate")],
)
def test_inflections_share_a_stem(a: str, b: str) -> None:
    """Snowball stems join a word's inflections."""
    assert stem(a) == stem(b)


def test_different_words_keep_different_stems() -> None:
    """A prefix stemmer would join 'nuclear' and 'nucleus' or 'secure' and 'secretary'; Snowball does not."""
    assert stem("secure") != stem("secretary")
    assert stem("policy") != stem("police")


@pytest.mark.parametrize(
    "text",
    ["on 28 August 2025", "in the early 2040s", "by the end of the decade", "within five years", "March 7", "annually"],
)
def test_dates_and_spans_of_time_are_dates(text: str) -> None:
    assert has_date(text)


@pytest.mark.parametrize("text", ["the sixth meeting of ministers", "Australia will buy submarines", "they may"])
def test_sentences_without_a_time_are_not_dates(text: str) -> None:
    assert not has_date(text)


@pytest.mark.parametrize("text", ["$1 billion", "three Virginia class submarines", "220 aircraft", "10 per cent"])
def test_money_counts_and_shares_are_amounts(text: str) -> None:
    assert has_amount(text)


@pytest.mark.parametrize(
    "text",
    [
        "$825 million",
        "15 bcm of gas",
        "trillions of dollars",
        "80,000 seized guns",
        "nearly 20 percent",
        "€3bn",
        "a fund of 100,000",
    ],
)
def test_money_shares_magnitudes_and_units_answer_how_much(text: str) -> None:
    assert has_quantity(text)


@pytest.mark.parametrize(
    "text",
    ["three Virginia class submarines, with up to two more", "starting in the early 2030s", "in 2027", "five systems"],
)
def test_a_count_of_things_is_no_quantity(text: str) -> None:
    """ "How much is Australia paying?" is not answered by "three submarines" (a real_dev near-miss)."""
    assert not has_quantity(text)


@pytest.mark.parametrize("text", ["five systems", "31 MQ-9B drones", "200 Boeing aircraft", "80,000 guns"])
def test_numbers_of_things_are_counts(text: str) -> None:
    assert has_count(text)


@pytest.mark.parametrize("text", ["an increase of nearly 20 percent", "$825 million", "by 2025", "the partnership"])
def test_shares_money_and_years_are_no_counts(text: str) -> None:
    """ "How many students?" is not answered by "an increase of 20 percent"."""
    assert not has_count(text)


@pytest.mark.parametrize(
    ("question", "counted"),
    [
        (
            "how many american attack subs is australia going to buy, and can it get more?",
            ["american", "attack", "subs"],
        ),
        ("How many Indian students are studying in the US right now?", ["indian", "students"]),
        ("how many 737 MAX jets is vietnam airlines buying?", ["737", "max", "jets"]),
        ("When will the subs arrive?", []),
    ],
)
def test_a_how_many_question_counts_the_words_after_how_many_up_to_a_stop_word(
    question: str, counted: list[str]
) -> None:
    assert counted_terms(question) == counted


@pytest.mark.parametrize(
    ("text", "count", "counted"),
    [
        # The words after the count, within its clause, stop words left out.
        (
            "the United States is expelling ten personnel from the Russian diplomatic mission in Washington.",
            "ten",
            ["personnel", "russian", "diplomatic", "mission"],
        ),
        ("partnerships between the two countries. Indian students are many.", "two", ["countries"]),
        ("where 1,000 of Kenya’s police aim to bring security", "1,000", ["kenya’s", "police", "aim", "bring"]),
        # A long name does not hide the noun it qualifies.
        (
            "a contract to build six Westinghouse Electric Company AP-1000 nuclear reactors in India",
            "six",
            ["westinghouse", "electric", "company", "ap-1000", "nuclear", "reactors"],
        ),
        # A count that ends its clause counts what stands before it.
        ("increase the number of destroyers from four to six.", "six", ["four", "destroyers", "number"]),
    ],
)
def test_what_a_count_counts_is_read_from_its_clause(text: str, count: str, counted: list[str]) -> None:
    span = next(span for span in count_spans(text) if text[span[0] : span[1]] == count)
    assert counted_words(text, span) == counted


@pytest.mark.parametrize(
    "text", ["in 2027", "the partnership will deepen", "by 2035 and in 2040", "one of the first steps"]
)
def test_a_year_alone_is_not_an_amount(text: str) -> None:
    assert not has_amount(text)


@pytest.mark.parametrize(
    "text",
    [
        "The delegation was led by Indo-Pacific Coordinator Kurt Campbell.",
        "Under Secretary Victoria Nuland will attend",
        "Mr Healey said",
        "H.E. Nakatani Gen, Minister of Defense of Japan",
    ],
)
def test_names_and_offices_are_persons(text: str) -> None:
    assert has_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "they agreed to deepen cooperation on supply chains.",
        "The UK Health Security Agency will partner with the CDC.",
        "the ministers met",
        "The Ministers welcomed UK and Japanese collaboration on Women, Peace and Security.",
    ],
)
def test_organisations_and_unnamed_offices_are_not_persons(text: str) -> None:
    assert not has_person(text)


@pytest.mark.parametrize(
    ("text", "parties"),
    [
        (
            "the Integrated Air and Missile Defense Capability Coalition, co-led by Germany and France.",
            ["Germany and France"],
        ),
        ("a Strategic Energy Dialogue, led by the U.K. Department for Business", ["U.K. Department for Business"]),
        ("collaboration between the United States and Mexico", []),  # named, but not as who acts
        ("The United States is reinforcing security at the Port of Chancay.", []),  # a subject is not told apart
        ("the summit, hosted by September", []),  # a month is a time
    ],
)
def test_a_named_party_answers_who_as_a_passives_agent(text: str, parties: list[str]) -> None:
    """`party_spans`: a run of capitalised words after "by" is who acted; a party named elsewhere is not."""
    assert [text[start:end].rstrip(".") for start, end in party_spans(text)] == parties


@pytest.mark.parametrize(
    ("question", "speaker"),
    [
        ("what did beijing say about the biden-widodo statement?", ["beijing"]),
        ("How did Hamas respond to the US bridging proposal?", ["hamas"]),
        ("what did the IAEA head say about the aukus countries so far?", ["iaea", "head"]),
        ("In the readout of the call, what did Biden and Ardern say about the deal?", ["biden", "ardern"]),
        ("What did the ministers say about GCAP?", []),  # an office names no one in particular
        ("what did the two presidents say about the taliban?", []),
        ("In the 2021 Quad statement, what did they say about North Korea?", []),
        ("What does the statement say about GCAP?", []),  # a statement's kind is no speaker
        ("What did the fact sheet say about chips?", []),
        ("What did Beijing agree to?", []),  # no reported speech
        ("Who did Beijing say was responsible?", []),
    ],
)
def test_a_question_asking_what_someone_said_names_its_speaker(question: str, speaker: list[str]) -> None:
    """`speaker_terms`: the words naming whose words a question asks for, without offices and numbers."""
    assert speaker_terms(question) == speaker


def test_which_question_asks_for_a_name_as_a_further_kind() -> None:
    """ "Which Russian banks …?" asks for names, as a further kind only (the question stays untyped for the
    fitted features); "which minister" asks for a person, and a typed question keeps its own kind."""
    assert answer_types_of("which russian banks exactly are being cut off from SWIFT?") == (
        AnswerType.ANY,
        AnswerType.NAME,
    )
    assert answer_types_of("Which minister represented Japan?") == (AnswerType.PERSON,)
    assert answer_types_of("Which banks, and when?") == (AnswerType.DATE,)
    assert answer_types_of("What is GCAP?") == (AnswerType.ANY,)
    assert answer_types_of("Which year did they meet?") == (AnswerType.DATE,)  # a date, not a name
    assert answer_types_of("In which month is the summit?") == (AnswerType.DATE,)


def test_a_which_question_is_answered_by_a_name_the_question_does_not_say() -> None:
    """`_spans_of(NAME)`: "selected Russian banks … from SWIFT" names nothing the question did not;
    "Sberbank and VTB" does."""
    from qa.extractive import _spans_of

    known = {"which", "russian", "banks", "cut", "off", "from", "swift", "selected", "are", "removed"}
    text = "selected Russian banks are removed from the SWIFT messaging system."
    assert _spans_of(AnswerType.NAME, text, known) == []
    text = "Sberbank and VTB are removed from the SWIFT messaging system."
    assert [text[s:e] for s, e in _spans_of(AnswerType.NAME, text, known)] == ["Sberbank and VTB"]
    text = "They meet in May and sign UNSCR 2593."
    assert [text[s:e] for s, e in name_spans(text)] == ["UNSCR"]  # "They" is a stop word, "May" a month


def test_a_sentences_first_word_is_a_name_only_where_the_text_capitalises_it_within_a_sentence() -> None:
    """`_naming`: every sentence starts with a capital, so "First, …" names nothing, while "Treasury", which
    the retrieved text writes "the Treasury" too, does; an acronym the question does not say names something."""
    from qa.extractive import _spans_of

    text = "First, we commit to ensuring that selected Russian banks are removed from the SWIFT messaging system."
    asked = {"which", "russian", "banks", "exactly", "cut", "off", "from", "swift"}
    assert _spans_of(AnswerType.NAME, text, asked | {"selected", "messaging", "system"}) == []
    network = {"which", "payment", "network", "russian", "banks", "kicked", "out", "selected"}
    assert [text[s:e] for s, e in _spans_of(AnswerType.NAME, text, network)] == ["SWIFT"]
    text = "Treasury designated six companies."
    assert _spans_of(AnswerType.NAME, text, {"which", "companies"}) == []
    found = _spans_of(AnswerType.NAME, text, {"which", "companies"}, capitalised=frozenset({"treasury"}))
    assert [text[s:e] for s, e in found] == ["Treasury"]


def test_who_is_answered_by_a_named_agent_unless_the_question_names_the_office() -> None:
    """ "Who co-leads the coalition?" is answered by "co-led by Germany and France"; "who is the coalition's
    secretary?" only by a person's name; a capitalised word the text writes in lower case names no one."""
    from qa.extractive import _spans_of

    text = "The coalition is co-led by Germany and France."
    assert [text[s:e] for s, e in _spans_of(AnswerType.PERSON, text, {"coalition", "who"})] == ["Germany and France."]
    assert _spans_of(AnswerType.PERSON, text, {"coalition", "who"}, name_only=True) == []
    assert _spans_of(AnswerType.PERSON, "It was led by Leaders of industry.", {"leaders", "who"}) == []


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When do the subs start rotating?", AnswerType.DATE),
        ("By when will the data be shared?", AnswerType.DATE),
        ("Where and when will they meet next?", AnswerType.DATE),
        ("On what date was it signed?", AnswerType.DATE),
        ("How many planes is Air India buying?", AnswerType.COUNT),
        ("how much have partners pledged?", AnswerType.AMOUNT),
        ("how big was the loan the US backed?", AnswerType.AMOUNT),
        ("what share of its electricity does riyadh want from renewables?", AnswerType.AMOUNT),
        ("What percentage of the fund goes to Africa?", AnswerType.AMOUNT),
        ("What's the range in km of the new missiles?", AnswerType.AMOUNT),
        ("what's the price cap in dollars per barrel?", AnswerType.AMOUNT),
        ("What did they agree in principle?", AnswerType.ANY),
        ("what % of GDP are allies supposed to spend?", AnswerType.AMOUNT),
        ("whats the dollar value of the new package?", AnswerType.AMOUNT),
        ("What's the price tag on the drone purchase?", AnswerType.AMOUNT),
        ("what price per MMBtu did they agree?", AnswerType.AMOUNT),
        ("what gas price benchmark should the formula take into account?", AnswerType.ANY),
        ("What did they say in Paris about shares?", AnswerType.ANY),
        ("how long is the tariff truce?", AnswerType.DURATION),
        ("what UN seat is Ecuador taking up and for how long?", AnswerType.DURATION),
        ("how often is the group going to meet?", AnswerType.FREQUENCY),
        ("Which Japanese minister attended?", AnswerType.PERSON),
        ("whos the iraqi planning minister?", AnswerType.PERSON),
        ("wheres the summit?", AnswerType.PLACE),
        ("which assistant secretary of defense headed the delegation?", AnswerType.PERSON),
        ("which cabinet secretaries are due to go to china?", AnswerType.PERSON),
        ("Which Japanese command will work with the UK?", AnswerType.ANY),
        ("which countries sent leaders to the summit?", AnswerType.ANY),
        ("Who headed the American delegation?", AnswerType.PERSON),
        ("where's the next summit being held?", AnswerType.PLACE),
        ("Where did Biden meet the B9 leaders?", AnswerType.PLACE),
        ("whose design is the submarine based on?", AnswerType.ANY),
        ("What did they say about Beijing?", AnswerType.ANY),
    ],
)
def test_question_type_comes_from_its_wh_words(question: str, kind: AnswerType) -> None:
    assert answer_type_of(question) is kind


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("where and when was the coalition founded?", (AnswerType.DATE, AnswerType.PLACE)),
        ("where is the new consulate opening, and when?", (AnswerType.DATE, AnswerType.PLACE)),
        ("how many helicopters got delivered, and when?", (AnswerType.COUNT, AnswerType.DATE)),
        ("which minister signed it, and when?", (AnswerType.DATE, AnswerType.PERSON)),
        ("Which Japanese minister attended?", (AnswerType.PERSON,)),
        ("How many planes is Air India buying?", (AnswerType.COUNT,)),
        ("What did they say about Beijing?", (AnswerType.ANY,)),
    ],
)
def test_a_question_asking_two_things_asks_for_both_kinds(question: str, kinds: tuple[AnswerType, ...]) -> None:
    """ "Where and when" asks for a place and a date; the first kind is `answer_type_of`'s."""
    assert answer_types_of(question) == kinds
    assert kinds[0] is answer_type_of(question)


def test_holds_type_is_the_hard_condition_of_each_type() -> None:
    """A date answers "when", a count "how many", a quantity "how much", a person "who", a place "where";
    any text the rest."""
    assert holds_type(AnswerType.DATE, "in 2026")
    assert not holds_type(AnswerType.DATE, "in Germany")
    assert holds_type(AnswerType.COUNT, "five systems")
    assert not holds_type(AnswerType.COUNT, "in 2026")
    assert holds_type(AnswerType.AMOUNT, "$1 billion")
    assert not holds_type(AnswerType.AMOUNT, "five systems")
    assert holds_type(AnswerType.PERSON, "Prime Minister Albanese")
    assert not holds_type(AnswerType.PERSON, "soon.")
    assert holds_type(AnswerType.PLACE, "met at Stanford University in September")
    assert holds_type(AnswerType.PLACE, "stationed in the United Kingdom")
    assert holds_type(AnswerType.PLACE, "deploy F-35A fighter aircraft to northern Australia in 2025")
    assert not holds_type(AnswerType.PLACE, "met today with the leaders of the region")
    assert holds_type(AnswerType.ANY, "")


def test_office_words_file_is_read_without_comments_and_stemmed() -> None:
    """qa/offices.txt: one office word a line, '#' comments ignored, stored as stems."""
    words = office_words()
    assert {stem("minister"), stem("secretary"), stem("ambassador")} <= words
    assert all(word and " " not in word and "#" not in word for word in words)


# Soft term matching (qa/termvectors.py) ---------------------------------------------
@pytest.mark.parametrize(
    ("term", "near", "far"),
    [("warship", "destroyer", "penguin"), ("price", "cost", "hurricane"), ("weapons", "arms", "travel")],
)
def test_static_token_vectors_put_related_words_closer_than_unrelated_ones(term: str, near: str, far: str) -> None:
    """The bundled MiniLM's word-piece table backs a term by a related word more than by an unrelated one."""
    from qa.termvectors import bundled_term_vectors

    vectors = bundled_term_vectors()
    similarities = vectors.matrix([term]) @ vectors.matrix([term, near, far]).T
    itself, related, unrelated = similarities[0]
    assert itself == pytest.approx(1.0, abs=1e-5)
    assert related > unrelated + 0.2
    assert abs(unrelated) < 0.15


def test_static_token_vectors_of_no_words_is_an_empty_matrix() -> None:
    """Evidence without words gives an empty matrix, not an error."""
    from qa.termvectors import bundled_term_vectors

    assert bundled_term_vectors().matrix([]).shape[0] == 0


@pytest.mark.parametrize(
    ("text", "abbreviation"),
    [
        ("the U.S. and the U.K.", "us"),
        ("The United States and the United Kingdom plan to begin rotations", "us"),
        ("The United States and the United Kingdom plan to begin rotations", "uk"),
        ("with the International Atomic Energy Agency", "iaea"),
        ("the U.S. Army Multi-Domain Task Force", "mdtf"),
    ],
)
def test_a_passage_backs_the_abbreviations_it_spells_out(text: str, abbreviation: str) -> None:
    """ "US" in a question is backed by "U.S." or "the United States" (tokenised "u", "s" / "united", "states")."""
    assert abbreviation in abbreviations(text)
    assert abbreviation in evidence_stems(text)
    assert abbreviation in evidence_words(text)


def test_lowercase_words_spell_no_abbreviation() -> None:
    """Only names abbreviate: "the united states" typed in lower case, or ordinary words, give nothing."""
    assert abbreviations("we will work with partners across the region") == set()
    assert "us" not in abbreviations("the united states")


@pytest.mark.parametrize(
    ("kind", "text", "found"),
    [
        (AnswerType.DATE, "a contract by the end of 2025, for delivery by 2035", ["2025", "2035"]),
        (AnswerType.COUNT, "$825 million for 31 drones", ["31"]),
        (AnswerType.AMOUNT, "three submarines for $3 billion", ["$3", "billion"]),
        (AnswerType.PLACE, "the ministers will meet in Tokyo next year", ["in Tokyo"]),
        (AnswerType.PLACE, "they will meet in September 2024, in Tokyo", ["in Tokyo"]),
        (AnswerType.DURATION, "tariffs suspended for five years from 2021", ["five years"]),
        (AnswerType.DURATION, "a two-year term and a 350-kilometer fiber backbone", ["two-year", "350-kilometer"]),
        (AnswerType.DURATION, "the call lasted three and a half hours", ["three and a half hours"]),
        (AnswerType.DURATION, "they will meet in 2027", []),
        (AnswerType.FREQUENCY, "foreign ministers will meet annually", ["annually"]),
        (AnswerType.FREQUENCY, "meet every six months, then twice a year", ["every six months", "twice a year"]),
        (AnswerType.FREQUENCY, "they met in Tokyo for five days", []),
        (AnswerType.ANY, "anything at all in 2025", []),
    ],
)
def test_answer_spans_point_at_what_the_question_asks_for(kind: AnswerType, text: str, found: list[str]) -> None:
    """The spans are offsets into the text itself (a sum of money blanked for counts keeps them), so the
    answerer can read the words around an answer (`answer_proximity`)."""
    spans = answer_spans(kind, text)
    assert sorted(text[a:b] for a, b in spans) == sorted(found)
    assert holds_type(kind, text) == (bool(found) or kind is AnswerType.ANY)


@pytest.mark.parametrize("text", ["the first F-35B landing", "MQ-9B drones", "the COVID-19 pandemic", "SM-6 missiles"])
def test_a_number_in_a_designation_is_no_count_or_sum(text: str) -> None:
    """ "How many F-35B jets does the UK own?" is not answered by "the first landing of UK F-35B aircraft"
    (a sample near-miss): "35B" names the aircraft; it is not 35 billion."""
    assert not has_count(text)
    assert not has_quantity(text)
    assert has_count(f"12 more: {text}")  # a count beside the designation still counts


def test_a_question_naming_the_office_asks_for_a_name() -> None:
    """ "Who is the Philippine defence secretary?" knows the office; "Who headed the delegation?" does not."""
    assert asks_for_a_name("Who is the Philippine defence secretary?")
    assert asks_for_a_name("which British prime minister signed the statement?")
    assert not asks_for_a_name("Who headed the American delegation?")
    assert not asks_for_a_name("Which countries signed?")
    assert not asks_for_a_name("who co-chairs the higher coordinating committee?")  # "chairs" is the verb
    assert asks_for_a_name("Who is Japan's Prime Minister?")


@pytest.mark.parametrize(
    ("span", "named"),
    [
        ("Secretary of Defense Lloyd Austin", True),
        ("Dr. Kurt Campbell", True),
        ("the U.S. Secretary of Defense", False),  # "defense" is written in lower case nearby
        ("the French Minister for the Armed Forces", False),  # the question's own words
        ("Minister of Defense of Japan", False),  # "Japan" begins the question's "japanese"
    ],
)
def test_a_name_is_a_capitalised_word_beyond_the_office_and_the_known_words(span: str, named: bool) -> None:
    known = {"who", "was", "the", "japanese", "french", "armed", "forces", "minister", "defense", "for"}
    assert names_someone(span, known) is named


@pytest.mark.parametrize(
    ("text", "past"),
    [
        ("The TTC met in Pittsburgh on 29 September 2021.", {"September": True, "2021": True}),
        ("On September 29, 2021 they met.", {"September": True, "2021": True}),
        ("They met in December 2021 and will meet next year.", {"December": False, "2021": False, "next year": False}),
        ("They will meet in 2022.", {"2022": False}),
        ("They met last year, in 2020.", {"last year": True, "2020": True}),
        ("They will deliver it in the early 2040s.", {"2040s": False}),  # a decade is no moment
        ("They meet in May.", {"May": False}),  # a month without its year could be either
    ],
)
def test_a_date_before_the_statements_own_is_in_the_past(text: str, past: dict[str, bool]) -> None:
    """`before`, for a statement dated 2 December 2021: years before it, months of its year before its month."""
    spans = {text[a:b]: before((a, b), text, date(2021, 12, 2)) for a, b in date_spans(text)}
    assert spans == past


@pytest.mark.parametrize(
    ("question", "future"),
    [
        ("When is the next meeting?", True),
        ("when is the second TTC meeting going to be?", True),
        ("When will the radars be delivered?", True),
        ("When did the ministers meet?", False),
        ("When was the letter of intent signed?", False),
    ],
)
def test_a_question_about_what_is_yet_to_come(question: str, future: bool) -> None:
    """`asks_about_the_future`: "next", "will", "going to" look ahead; a past tense does not."""
    assert asks_about_the_future(question) is future
