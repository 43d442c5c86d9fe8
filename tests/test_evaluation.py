"""The evaluation reads question sets strictly and scores answers on the real sample corpus correctly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from errors import StatementbotError
from qa.evaluation import (
    EvalQuestion,
    Judgement,
    Minimums,
    QuestionFileError,
    QuestionResult,
    apply_judgements,
    format_summary,
    load_judgements,
    load_questions,
    percentile,
    resolve_gold,
    run_evaluation,
    summarise,
)
from qa.service import StatementService
from vectorstore.embeddings import Embedder

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_QUESTIONS = ROOT / "tests" / "data" / "sample_questions.jsonl"
DEV_QUESTIONS = ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"
DOC = "uk-japan-defence-ministerial-2025"


def write_questions(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    return path


# Reading question sets -----------------------------------------------------
def test_dev_and_sample_sets_load_with_their_flags() -> None:
    """Both shipped question sets parse, with unanswerable and multi flags and optional fields defaulted."""
    sample = load_questions(SAMPLE_QUESTIONS)
    assert len(sample) >= 40
    assert sum(q.unanswerable for q in sample) >= 10
    assert any(q.multi for q in sample)
    assert all(q.document is None for q in sample)
    if DEV_QUESTIONS.exists():
        dev = load_questions(DEV_QUESTIONS)
        assert [q.id for q in dev][:2] == ["v01", "v02"]
        assert dev[1].facts == (("GCAP International Government Organisation",),)


def test_blank_lines_are_skipped_and_missing_ids_default_to_the_line(tmp_path: Path) -> None:
    """Blank lines are allowed; a question without an id is named after its line."""
    path = tmp_path / "q.jsonl"
    path.write_text('\n{"question": "What is GIGO?"}\n\n{"id": 7, "question": "x", "multi": true}\n')
    questions = load_questions(path)
    assert [q.id for q in questions] == ["line2", "7"]
    assert questions[1].multi
    assert (questions[0].gold, questions[0].facts, questions[0].unanswerable) == ((), (), False)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"id": "a"}', "`question` must be a non-empty string"),
        ('{"id": "a", "question": "  "}', "`question` must be a non-empty string"),
        ('{"id": "a", "question": "q", "gold": "Edgewing"}', "`gold` must be a list"),
        ('{"id": "a", "question": "q", "facts": ["2035"]}', "`facts` must be a list of non-empty lists"),
        ('{"id": "a", "question": "q", "facts": [[]]}', "`facts` must be a list of non-empty lists"),
        ('{"id": "a", "question": "q", "unanswerable": "yes"}', "`unanswerable` must be true or false"),
        ('{"id": "a", "question": "q", "unanswerble": true}', "unknown field(s) unanswerble"),
        ('{"id": "a", "question": "q", "unanswerable": true, "gold": ["x"]}', "cannot have `gold`"),
        ('{"id": "", "question": "q"}', "`id` must be a non-empty string"),
        ('{"id": "v01", "question": "q"}', "already used on line 1"),
    ],
)
def test_malformed_line_is_an_error_naming_its_line(tmp_path: Path, line: str, expected: str) -> None:
    """Any malformed line fails the whole file with a message naming the line (here line 3)."""
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "v01", "question": "Who?"}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(QuestionFileError) as caught:
        load_questions(path)
    assert "line 3" in str(caught.value)
    assert expected in str(caught.value)
    assert isinstance(caught.value, StatementbotError)
    assert "dev_questions.jsonl" in caught.value.user_message()  # the hint says what a line looks like


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_question_file_is_an_error(tmp_path: Path, content: str) -> None:
    """A file with no questions is an error, not a report of zero questions."""
    path = tmp_path / "empty.jsonl"
    path.write_text(content)
    with pytest.raises(QuestionFileError, match="holds no questions"):
        load_questions(path)


def test_missing_question_file_is_an_error(tmp_path: Path) -> None:
    """A path that does not exist is a domain error, not a traceback."""
    with pytest.raises(QuestionFileError, match="no such question file"):
        load_questions(tmp_path / "nope.jsonl")


# Judgements ------------------------------------------------------------------
def test_shipped_judgements_load_and_name_real_dev_questions() -> None:
    """The archive-scale judgements of real_dev parse, and each names a question of the set."""
    judgements = load_judgements(ROOT / "bench" / "judgements" / "real_dev_at_archive.jsonl")
    assert len(judgements) >= 20
    assert any(j.answers for j in judgements)
    assert any(not j.answers for j in judgements)
    assert all(j.why for j in judgements)  # every reading says what the paragraph holds
    real_dev = ROOT.parent / "shared" / "eval" / "real_dev" / "questions.jsonl"
    if real_dev.exists():
        ids = {q.id for q in load_questions(real_dev)}
        assert {j.id for j in judgements} <= ids


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("{not json", "not valid JSON"),
        ('{"id": "a", "document": "d", "paragraph": "1"}', "`answers` must be true or false"),
        ('{"id": "a", "document": "", "paragraph": "1", "answers": true}', "`document` must be a non-empty string"),
        ('{"id": "a", "document": "d", "paragraph": 1, "answers": true}', "`paragraph` must be a non-empty string"),
        ('{"id": "a", "document": "d", "paragraph": "1", "answers": true, "gold": []}', "unknown field(s) gold"),
        ('{"id": "a", "document": "d", "paragraph": "1", "answers": false, "facts": [["x"]]}', "belong to a paragraph"),
        ('{"id": "a", "document": "d", "paragraph": "1", "answers": true, "facts": "x"}', "`facts` must be a list"),
        ('{"id": "v01", "document": "d", "paragraph": "2", "answers": false}', "already judged on line 1"),
    ],
)
def test_malformed_judgement_is_an_error_naming_its_line(tmp_path: Path, line: str, expected: str) -> None:
    """Any malformed judgement fails the file with a message naming the line and showing what a line looks like."""
    path = tmp_path / "j.jsonl"
    path.write_text('{"id": "v01", "document": "d", "paragraph": "2", "answers": true}\n\n' + line + "\n")
    with pytest.raises(QuestionFileError) as caught:
        load_judgements(path)
    assert "line 3" in str(caught.value)
    assert expected in str(caught.value)
    assert '"answers": true' in caught.value.user_message()
    with pytest.raises(QuestionFileError, match="no such judgement file"):
        load_judgements(tmp_path / "nope.jsonl")


def test_judged_paragraphs_join_the_gold_only_where_the_store_holds_them() -> None:
    """A paragraph judged to answer joins every gold unit; a near-miss it answers becomes answerable with the
    judgement's facts; a judgement that does not answer, or of a paragraph not in the store, changes nothing."""
    asked = EvalQuestion("q1", "When?", gold=("x",), facts=(("2027",),))
    near_miss = EvalQuestion("q2", "Which base?", unanswerable=True)
    judgements = [
        Judgement("q1", ("sheet", "7"), True),
        Judgement("q1", ("other", "3"), False),
        Judgement("q2", ("sheet", "7"), True, facts=(("Stirling",),)),
        Judgement("q2", ("elsewhere", "1"), True, facts=(("Perth",),)),
    ]
    present = {("doc", "6"), ("doc", "2"), ("sheet", "7"), ("other", "3")}
    units = [frozenset({("doc", "6")}), frozenset({("doc", "2")})]
    question, extended = apply_judgements(asked, units, judgements, present)
    assert question is asked
    assert extended == [frozenset({("doc", "6"), ("sheet", "7")}), frozenset({("doc", "2"), ("sheet", "7")})]
    question, extended = apply_judgements(near_miss, [], judgements, present)
    assert (question.unanswerable, question.facts, extended) == (False, (("Stirling",),), [frozenset({("sheet", "7")})])
    alone = {("doc", "6"), ("doc", "2")}  # the statements a set was written for: judgements of others do nothing
    assert apply_judgements(asked, units, judgements, alone) == (asked, units)
    assert apply_judgements(near_miss, [], judgements, alone) == (near_miss, [])


def test_judgements_are_scored_on_real_answers(service: StatementService, tmp_path: Path) -> None:
    """With judgements, a judged paragraph counts as gold, a near-miss it answers is scored as answerable, a
    citation read and judged wrong is not "unjudged", and judgements naming other stores or questions are warned of."""
    questions = load_questions(
        write_questions(
            tmp_path / "q.jsonl",
            [
                {"id": "j1", "question": "What does paragraph 9 say?", "gold": ["Edgewing"]},
                {"id": "j2", "question": "What does paragraph 9 say?", "gold": ["Edgewing"]},
                {"id": "j3", "question": "What does paragraph 11 say?", "gold": ["Edgewing"]},
                {"id": "j4", "question": "What does paragraph 12 say?", "unanswerable": True},
            ],
        )
    )
    judgements = [
        Judgement("j1", (DOC, "9"), True),  # ¶9 read, and judged to answer j1
        Judgement("j2", (DOC, "9"), False),  # read, and judged not to answer j2
        Judgement("j4", (DOC, "12"), True, facts=(("GIGO",),)),
        Judgement("j4", ("another-statement", "3"), True),
        Judgement("zz", (DOC, "1"), True),
    ]
    plain = {r.id: r for r in run_evaluation(service, questions).results}
    judged = run_evaluation(service, questions, judgements)
    by_id = {r.id: r for r in judged.results}
    assert plain["j1"].cited == ((DOC, "9"),)
    assert not plain["j1"].gold_cited
    assert plain["j1"].unjudged == ((DOC, "9"),)
    assert by_id["j1"].gold_cited
    assert by_id["j1"].judged
    assert by_id["j1"].unjudged == ()
    assert not by_id["j2"].gold_cited
    assert not by_id["j2"].judged
    assert by_id["j2"].unjudged == ()
    assert by_id["j3"].unjudged == ((DOC, "11"),)  # cited, not gold, never read
    assert plain["j4"].unanswerable
    assert not plain["j4"].ok
    assert not by_id["j4"].unanswerable
    assert by_id["j4"].ok
    assert by_id["j4"].facts_ok
    report = judged.to_json()
    assert report["judgements"] == {"given": 5, "applicable": 4, "questions_judged": 2, "unjudged_citations": 1}
    assert any("'zz'" in w for w in judged.warnings)
    assert any("1 of 5 judgements name paragraphs not in this store" in w for w in judged.warnings)
    assert "cited paragraphs not judged" in format_summary(judged)


# Arithmetic ----------------------------------------------------------------
@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=50), st.integers(0, 100))
def test_percentile_matches_numpy_linear_interpolation(values: list[float], q: int) -> None:
    """Latency percentiles are numpy's default (linear) percentiles."""
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), rel=1e-9, abs=1e-9)


def test_percentile_of_nothing_is_none() -> None:
    """No timed questions means no latency figure rather than a crash."""
    assert percentile([], 50) is None


def test_summary_arithmetic_over_hand_made_results() -> None:
    """Each headline figure uses its own denominator: scored, answered, unanswerable, timed."""

    def result(qid: str, **kwargs: object) -> QuestionResult:
        fields: dict[str, object] = {"unanswerable": False, "multi": False, **kwargs}
        return QuestionResult(id=qid, question=qid, **fields)  # type: ignore[arg-type]

    results = [
        result(
            "a",
            gold_units=1,
            gold_units_cited=1,
            retrieval_rank=1,
            precision=1.0,
            recall=1.0,
            facts_ok=True,
            latency_ms=900.0,
            answer_chars=100,
            cited=(("d", "1"),),
            gold=(("d", "1"),),
        ),
        result(
            "b",
            gold_units=1,
            gold_units_cited=0,
            retrieval_rank=4,
            precision=0.0,
            recall=0.0,
            facts_ok=False,
            missing_facts=(("x",),),
            latency_ms=20.0,
            answer_chars=300,
        ),
        result(
            "c",
            gold_units=2,
            gold_units_cited=1,
            retrieval_rank=2,
            precision=0.5,
            recall=0.5,
            latency_ms=30.0,
            answer_chars=200,
            multi=True,
        ),
        result("d", gold_units=1, retrieval_rank=None, recall=0.0, abstained=True, facts_ok=False, latency_ms=40.0),
        QuestionResult(id="e", question="e", unanswerable=True, multi=False, abstained=True, latency_ms=50.0),
        QuestionResult(
            id="f", question="f", unanswerable=True, multi=False, abstained=False, latency_ms=60.0, answer_chars=400
        ),
        result("g", error="boom", facts_ok=False, missing_facts=(("y",),)),
    ]
    summary = summarise(results, [])
    assert summary.hit_at[1].value == pytest.approx(1 / 4)
    assert summary.hit_at[3].value == pytest.approx(2 / 4)
    assert summary.hit_at[5].value == pytest.approx(3 / 4)
    assert summary.mrr.value == pytest.approx((1 + 1 / 4 + 1 / 2 + 0) / 4)
    assert summary.precision.value == pytest.approx((1 + 0 + 0.5) / 3)  # "d" abstained: no precision
    assert summary.recall.value == pytest.approx((1 + 0 + 0.5 + 0) / 4)
    assert summary.multi_recall.value == pytest.approx(0.5)
    assert summary.gold_cited.value == pytest.approx(2 / 4)
    assert summary.facts.value == pytest.approx(1 / 4)  # a, b, d, g have facts; only a holds them
    assert summary.abstention.value == pytest.approx(1 / 2)
    assert summary.false_abstentions == 1
    assert summary.mean_answer_chars == pytest.approx((100 + 300 + 200 + 400) / 4)
    assert summary.warm_up_excluded  # 7 questions: the first (900 ms) is warm-up
    assert summary.latency_samples == 5
    assert summary.latency_p50_ms == pytest.approx(40.0)
    assert summary.errors == 1
    assert [r.id for r in summary.failing] == ["b", "c", "d", "f", "g"]
    assert results[0].ok


# On the real corpus ----------------------------------------------------------
def test_every_gold_phrase_of_the_sample_set_names_exactly_one_paragraph(service: StatementService) -> None:
    """The hand-written question set resolves cleanly against the sample statement (no warnings)."""
    paragraphs = service.store.paragraphs()
    warnings: list[str] = []
    for question in load_questions(SAMPLE_QUESTIONS):
        units = resolve_gold(question, paragraphs, warnings)
        assert len(units) == len(set(question.gold)), question.id
    assert warnings == []


@pytest.fixture(scope="module")
def small_run(service: StatementService, tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object]:
    rows: list[dict[str, object]] = [
        # Exact paragraph references are answered with that paragraph by design: stable expectations.
        {"id": "e1", "question": "What does paragraph 12 say?", "gold": ["Edgewing"], "facts": [["2035"], ["GIGO"]]},
        {"id": "e2", "question": "Quote paragraph 9.", "gold": ["Vigilant Isles"], "facts": [["Nakatani"]]},
        {
            "id": "e3",
            "question": "Show paragraphs 9 and 10",
            "gold": ["Vigilant Isles", "Defence Cyber Marvel", "TALISMAN SABRE"],
            "facts": [["Vigilant Isles"]],
            "multi": True,
        },
        {"id": "e4", "question": "What did the ministers decide about the price of rice?", "unanswerable": True},
        {"id": "e5", "question": "What does GIGO stand for?", "gold": ["Edgewing", "no such phrase in any paragraph"]},
        {"id": "e6", "question": "What does paragraph 16 say?", "gold": ["2+2"], "document": DOC},
        {"id": "e7", "question": "What does paragraph 1 say?", "document": "no-such-doc"},
    ]
    path = write_questions(tmp_path_factory.mktemp("questions") / "small.jsonl", rows)
    summary = run_evaluation(service, load_questions(path))
    return summary, {r.id: r for r in summary.results}


def test_exact_answers_score_full_precision_recall_and_rank_one(small_run: tuple) -> None:
    """A question answered with exactly its gold paragraph has rank 1, precision 1, recall 1, facts ok."""
    _, by_id = small_run
    e1 = by_id["e1"]
    assert e1.cited == ((DOC, "12"),)
    assert e1.gold == ((DOC, "12"),)
    assert (e1.retrieval_rank, e1.precision, e1.recall, e1.facts_ok) == (1, 1.0, 1.0, True)
    assert e1.ok
    assert not e1.abstained
    assert e1.answer_chars
    assert e1.latency_ms
    assert e1.latency_ms > 0
    assert by_id["e6"].ok  # the `document` field restricts the question and the gold to that document


def test_factoid_answer_length_leaves_out_paragraphs_asked_for_and_lists(small_run: tuple) -> None:
    """The mean factoid answer (the issue's target) leaves out answers quoting a paragraph asked for by
    number and list questions; the mean of every answer keeps them."""
    summary, by_id = small_run
    assert by_id["e1"].reference
    assert by_id["e1"].factoid_chars is None
    assert not by_id["e5"].reference
    factoid = [r.answer_chars for r in by_id.values() if r.answer_chars and not r.reference and not r.multi]
    assert factoid  # e5's answer, and e4's if it was answered
    assert summary.mean_factoid_chars == pytest.approx(sum(factoid) / len(factoid))
    every = [r.answer_chars for r in by_id.values() if r.answer_chars]
    assert summary.mean_answer_chars == pytest.approx(sum(every) / len(every))
    assert summary.to_json()["factoid_chars_mean"] == pytest.approx(summary.mean_factoid_chars, abs=0.05)


def test_missing_fact_fails_the_question_and_names_the_fact(small_run: tuple) -> None:
    """An answer citing the right paragraph still fails when a required fact is absent."""
    _, by_id = small_run
    e2 = by_id["e2"]
    assert e2.recall == 1.0
    assert e2.facts_ok is False
    assert e2.missing_facts == (("Nakatani",),)
    assert e2.failures() == ["facts missing: Nakatani"]


def test_multi_question_recall_is_the_share_of_gold_paragraphs_cited(small_run: tuple) -> None:
    """Citing 2 of 3 gold paragraphs is recall 2/3 with precision 1."""
    summary, by_id = small_run
    e3 = by_id["e3"]
    assert set(e3.cited) == {(DOC, "9"), (DOC, "10")}
    assert set(e3.gold) == {(DOC, "9"), (DOC, "10"), (DOC, "15")}
    assert e3.recall == pytest.approx(2 / 3)
    assert e3.precision == 1.0
    assert summary.multi_recall.value == pytest.approx(2 / 3)


def test_unanswerable_question_counts_toward_abstention_only(small_run: tuple, service: StatementService) -> None:
    """An unanswerable question is scored by whether it was abstained on, and has no gold."""
    summary, by_id = small_run
    e4 = by_id["e4"]
    answer = service.ask(e4.question)
    assert e4.abstained == answer.abstained
    assert (e4.gold, e4.recall, e4.precision) == ((), None, None)
    assert summary.abstention.total == 1
    assert summary.abstention.hits == int(answer.abstained)
    assert summary.to_json()["abstention"]["accuracy"] == (1.0 if answer.abstained else 0.0)


def test_unmatched_gold_phrase_is_a_warning_and_the_rest_still_scores(small_run: tuple) -> None:
    """A gold phrase found in no paragraph is reported, and the question is scored on the phrase that resolved."""
    summary, by_id = small_run
    assert any("e5" in w and "no such phrase" in w for w in summary.warnings)
    assert by_id["e5"].gold == ((DOC, "12"),)
    assert by_id["e5"].gold_units == 1


def test_domain_error_is_counted_per_question_not_raised(small_run: tuple) -> None:
    """An unknown document fails that question with the error message; the run goes on."""
    summary, by_id = small_run
    e7 = by_id["e7"]
    assert e7.error
    assert "no-such-doc" in e7.error
    assert summary.errors == 1
    assert not e7.ok
    assert e7.latency_ms is None


def test_summary_figures_agree_with_the_per_question_results(small_run: tuple) -> None:
    """Headline figures are recomputable from the per-question list."""
    summary, by_id = small_run
    scored = [r for r in by_id.values() if r.scored]
    assert summary.mrr.total == len(scored) == 5  # e1, e2, e3, e5, e6
    ranks = [r.retrieval_rank for r in scored]
    assert summary.mrr.value == pytest.approx(sum(1 / r for r in ranks if r) / len(scored))
    assert summary.recall.value == pytest.approx(sum(r.recall for r in scored) / len(scored))
    assert summary.latency_samples == sum(1 for r in by_id.values() if r.latency_ms is not None) - 1
    assert summary.warm_up_excluded


def test_json_report_has_stable_keys_and_serialises(small_run: tuple) -> None:
    """The --json report keeps its keys (a contract for scripts) and is plain JSON."""
    summary, _ = small_run
    report = json.loads(json.dumps(summary.to_json()))
    assert list(report) == [
        "questions", "answerable", "unanswerable", "multi", "errors", "passed", "retrieval", "citations",
        "facts", "abstention", "answer_chars_mean", "factoid_chars_mean", "latency_ms", "warnings", "judgements",
        "per_question",
    ]  # fmt: skip
    assert report["judgements"] is None  # no judgement file given
    assert set(report["retrieval"]) == {"scored", "depth", "hit@1", "hit@3", "hit@5", "mrr"}
    assert set(report["latency_ms"]) == {"p50", "p95", "samples", "warm_up_excluded"}
    assert set(report["per_question"][0]) == {
        "id", "question", "unanswerable", "multi", "ok", "abstained", "cited", "gold", "retrieval_rank",
        "facts_ok", "missing_facts", "precision", "recall", "latency_ms", "answer_chars", "reference", "error",
        "judged", "unjudged",
    }  # fmt: skip
    assert report["per_question"][0]["cited"] == [{"document": DOC, "paragraph": "12"}]
    assert (report["questions"], report["multi"], report["unanswerable"]) == (7, 1, 1)


def test_human_summary_ends_with_the_headline_figures(small_run: tuple) -> None:
    """`tail -15` of the report shows every headline figure; failing questions and warnings are listed by id."""
    summary, _ = small_run
    text = format_summary(summary)
    tail = "\n".join(text.splitlines()[-15:])
    for figure in ("hit@1", "hit@5", "MRR", "precision", "recall", "Facts", "Abstention", "false abstentions",
                   "p50", "p95", "chars"):  # fmt: skip
        assert figure in tail, figure
    assert "passed" in tail
    assert "  e2 " in text
    assert "facts missing: Nakatani" in text
    assert "  e7 " in text
    assert "error:" in text
    assert "Warnings (1):" in text
    assert "no such phrase" in text
    assert "  e1 " not in text  # passing questions are not listed


@pytest.mark.slow
def test_eval_command_runs_on_a_question_file(data_dir: Path, service: StatementService, tmp_path: Path) -> None:
    """`statementbot eval FILE --json` runs end to end on an ingested data directory."""
    path = write_questions(
        tmp_path / "q.jsonl",
        [
            {"id": "c1", "question": "What does paragraph 12 say?", "gold": ["Edgewing"], "facts": [["GIGO"]]},
            {"id": "c2", "question": "Which football team won the 2025 league?", "unanswerable": True},
        ],
    )
    env = {**os.environ, "STATEMENTBOT_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "eval", str(path), "--json"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["questions"] == 2
    assert report["per_question"][0]["ok"] is True
    text = subprocess.run(
        [sys.executable, "-m", "bot.cli", "eval", str(tmp_path / "missing.jsonl")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=240, check=False,
    )  # fmt: skip
    assert text.returncode == 1
    assert "no such question file" in text.stderr
    judgements = tmp_path / "judged.jsonl"
    judgements.write_text(
        json.dumps({"id": "c2", "document": DOC, "paragraph": "12", "answers": True, "facts": [["GIGO"]], "why": "t"})
        + "\n"
    )
    judged = subprocess.run(
        [sys.executable, "-m", "bot.cli", "eval", str(path), "--json", "--judgements", str(judgements)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=240, check=False,
    )  # fmt: skip
    report = json.loads(judged.stdout)
    assert report["judgements"]["given"] == 1
    assert report["judgements"]["questions_judged"] == 1
    assert report["per_question"][1]["judged"] is True
    assert report["per_question"][1]["unanswerable"] is False  # the judged paragraph answers it in this store
    missing = subprocess.run(
        [sys.executable, "-m", "bot.cli", "eval", str(path), "--judgements", str(tmp_path / "nope.jsonl")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=240, check=False,
    )  # fmt: skip
    assert missing.returncode == 1
    assert "no such judgement file" in missing.stderr


def test_minimums_name_each_figure_below_its_threshold() -> None:
    """`Minimums.missed` lists exactly the figures under their minimum; unset minimums are not checked."""
    results = [
        QuestionResult(id="a", question="a", unanswerable=False, multi=False, gold_units=1, gold_units_cited=1,
                       precision=1.0, recall=1.0, facts_ok=False),
        QuestionResult(id="b", question="b", unanswerable=True, multi=False, abstained=False),
    ]  # fmt: skip
    summary = summarise(results, [])
    assert Minimums().missed(summary) == []
    assert Minimums(hit=1.0, precision=1.0).missed(summary) == []
    missed = Minimums(hit=0.9, facts=0.5, abstain=0.9).missed(summary)
    assert missed == [
        "facts 0.00 is below --min-facts 0.50",
        "abstention accuracy 0.00 is below --min-abstain 0.90",
    ]
    only_answerable = summarise(results[:1], [])
    assert Minimums(abstain=0.5).missed(only_answerable) == [
        "abstention accuracy n/a (no questions measure it) is below --min-abstain 0.50"
    ]


@pytest.mark.slow
def test_eval_command_exits_1_when_a_minimum_is_missed(
    data_dir: Path, service: StatementService, tmp_path: Path
) -> None:
    """`statementbot eval --min-*` exits 0 when every figure reaches its minimum and 1, naming it, when one does not."""
    path = write_questions(
        tmp_path / "q.jsonl",
        [
            {"id": "c1", "question": "What does paragraph 12 say?", "gold": ["Edgewing"], "facts": [["GIGO"]]},
            {"id": "c2", "question": "Which football team won the 2025 league?", "unanswerable": True},
        ],
    )
    env = {**os.environ, "STATEMENTBOT_DATA_DIR": str(data_dir)}

    def run(*options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", "eval", str(path), *options],
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=240, check=False,
        )  # fmt: skip

    passed = run("--min-hit", "1", "--min-precision", "1", "--min-facts", "1", "--min-abstain", "1")
    assert passed.returncode == 0, passed.stderr
    as_json = run("--json", "--min-hit", "1", "--min-abstain", "1")
    assert as_json.returncode == 0
    assert json.loads(as_json.stdout)["missed"] == []
    impossible = write_questions(tmp_path / "bad.jsonl", [{"id": "u", "question": "What does GIGO stand for?",
                                                            "unanswerable": True}])  # fmt: skip
    failed = subprocess.run(
        [sys.executable, "-m", "bot.cli", "eval", str(impossible), "--min-abstain", "0.9"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=240, check=False,
    )  # fmt: skip
    assert failed.returncode == 1
    assert "below --min-abstain 0.90" in failed.stderr
    bad = run("--min-hit", "1.5")
    assert bad.returncode == 2
    assert "not between 0 and 1" in bad.stderr


QUESTION = "In the 2021 Quad statement, what did the leaders say about vaccines?"


def test_retrieval_rank_is_taken_within_the_statement_the_question_names(tmp_path: Path, embedder: Embedder) -> None:
    """A question naming its statement ("the 2021 Quad statement") is ranked as it is answered, within that
    statement: a newer statement of the series that words the topic more like the question does not push it down."""
    from bot.runtime import build_service
    from bot.settings import load_settings

    docs = tmp_path / "docs"
    docs.mkdir()
    statements = {
        "2021-03-12-quad.md": (
            "2021-03-12",
            "Quad Leaders' Joint Statement",
            "We will expand the manufacture of safe COVID-19 doses across the Indo-Pacific.",
        ),
        "2024-09-21-quad.md": (
            "2024-09-21",
            "Quad Leaders' Joint Statement",
            "Since the 2021 Quad statement, the leaders say about vaccines that Quad vaccines matter to the leaders.",
        ),
    }
    for name, (day, title, body) in statements.items():
        (docs / name).write_text(f"---\ndate: '{day}'\ntitle: \"{title}\"\n---\n\n{body}\n", encoding="utf-8")
    questions = write_questions(
        tmp_path / "q.jsonl",
        [
            {
                "id": "q1",
                "question": QUESTION,
                "gold": ["safe COVID-19 doses"],
            }
        ],
    )
    service = build_service(load_settings(data_dir=tmp_path / "data", llm_provider="none"), embedder=embedder)
    try:
        assert service.ingest_paths([docs]).ok
        unscoped = service.retriever.search(QUESTION, k=2)
        assert unscoped.hits[0].paragraph.doc_id == "2024-09-21-quad"  # what an unscoped rank would have counted
        (result,) = run_evaluation(service, load_questions(questions)).results
    finally:
        service.close()
    assert result.retrieval_rank == 1
