"""The archive evaluation sets are well formed: every gold phrase points at one paragraph, every near-miss misses.

This checks the data in tests/data/archive_eval/, archive_eval_b/, _c/ and _d/ on its own terms (stdlib
only, no statementbot code), so a broken question cannot hide behind a parser change: a paragraph is a block of the
markdown body between blank lines, compared after removing markup and folding white space and case.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"
ALLOWED_FIELDS = {"id", "question", "gold", "facts", "unanswerable"}


@dataclass(frozen=True)
class SetBrief:
    """A shipped set: its folder, its id letter, and the sizes its brief asks for (so a split by document
    still leaves both halves useful)."""

    folder: Path
    prefix: str
    min_questions: int
    min_unanswerable: int
    min_documents: int


SETS = {
    "archive_eval": SetBrief(DATA / "archive_eval", "a", 160, 35, 22),
    # A second set, written later over 20 other archive statements (2021-2024), with its own ids "bNN-MM".
    "archive_eval_b": SetBrief(DATA / "archive_eval_b", "b", 160, 40, 20),
    # A third, over 20 more (2021-2025), written the same way after the second had been used for tuning.
    "archive_eval_c": SetBrief(DATA / "archive_eval_c", "c", 160, 40, 20),
    # A fourth, written the same way with three near-misses a statement, first used to choose between refits.
    "archive_eval_d": SetBrief(DATA / "archive_eval_d", "d", 200, 55, 20),
}
GOLD_WORDS = (4, 10)
MAX_DOCS_BYTES = 1_500_000


def normalise(text: str) -> str:
    """Fold a markdown fragment to plain, case-folded text with single spaces."""
    text = unicodedata.normalize("NFKC", text).replace("\u00ad", "")
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.DOTALL)
    text = re.sub(r"</?[A-Za-z][^>]*>", "", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # keep a link's words, drop its address
    text = re.sub(r"\\(.)", r"\1", text)
    text = text.replace("*", "")
    text = re.sub(r"(?<!\w)_+|_+(?!\w)", "", text)
    text = re.sub(r"(?m)^\s*[-+]\s+", "", text)
    text = re.sub(r"(?m)^\s*#+\s*", "", text)
    return re.sub(r"\s+", " ", text).strip().casefold()


def split_front_matter(text: str) -> str:
    """The markdown body: everything after the closing '---' of the YAML front matter."""
    if text.startswith("---"):
        end = text.index("\n---", 3)
        return text[end + 4 :]
    return text


def paragraphs(text: str) -> list[str]:
    """Normalised blank-line blocks of the body, leaving out blocks with no words (rules, '###')."""
    blocks = re.split(r"\n[ \t\u00a0]*\n", split_front_matter(text))
    return [n for n in (normalise(b) for b in blocks) if re.search(r"\w", n)]


def whole_word(needle: str, haystack: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(normalise(needle)) + r"(?!\w)", haystack) is not None


@dataclass(frozen=True)
class EvalSet:
    docs: dict[str, list[str]]  # file name -> normalised paragraphs
    whole_docs: dict[str, str]  # file name -> normalised file, front matter included
    questions: list[dict[str, object]]
    probes: dict[str, list[str]]
    prefix: str = "a"  # ids are "<prefix><NN>-<MM>"


def load_set(directory: Path, prefix: str = "a") -> EvalSet:
    files = sorted((directory / "docs").glob("*.md"))
    texts = {f.name: f.read_text(encoding="utf-8") for f in files}
    questions = []
    for number, line in enumerate((directory / "questions.jsonl").read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                questions.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise AssertionError(f"questions.jsonl line {number}: not JSON ({error})") from error
    return EvalSet(
        docs={name: paragraphs(text) for name, text in texts.items()},
        whole_docs={name: normalise(text) for name, text in texts.items()},
        questions=questions,
        probes=json.loads((directory / "probes.json").read_text(encoding="utf-8")),
        prefix=prefix,
    )


def problems(data: EvalSet) -> list[str]:
    """Every way the set breaks its own rules, as readable lines (empty when it is sound)."""
    found: list[str] = []
    doc_names = sorted(data.docs)
    seen: set[str] = set()
    id_pattern = re.compile(re.escape(data.prefix) + r"(\d{2})-(\d{2})")
    for q in data.questions:
        qid = str(q.get("id"))
        if set(q) - ALLOWED_FIELDS:
            found.append(f"{qid}: unknown fields {sorted(set(q) - ALLOWED_FIELDS)}")
        match = id_pattern.fullmatch(qid)
        if not match or not 1 <= int(match.group(1)) <= len(doc_names):
            found.append(f"{qid}: id is not {data.prefix}<NN>-<MM> with NN a document of the set")
            continue
        if qid in seen:
            found.append(f"{qid}: duplicate id")
        seen.add(qid)
        if not isinstance(q.get("question"), str) or not str(q["question"]).strip():
            found.append(f"{qid}: no question text")
        # Documents are numbered in file-name (= date) order; a question belongs to its document.
        own_doc = doc_names[int(match.group(1)) - 1]
        if q.get("unanswerable") is True:
            found += unanswerable_problems(qid, q, data)
        else:
            found += answerable_problems(qid, q, own_doc, data)
    for qid in sorted(set(data.probes) - {str(q.get("id")) for q in data.questions if q.get("unanswerable")}):
        found.append(f"probes.json: {qid} is not an unanswerable question")
    return found


def answerable_problems(qid: str, q: dict[str, object], own_doc: str, data: EvalSet) -> list[str]:
    found = []
    gold, facts = q.get("gold"), q.get("facts")
    if not isinstance(gold, list) or not gold:
        return [f"{qid}: answerable but no gold phrases"]
    if not isinstance(facts, list) or not facts:
        found.append(f"{qid}: answerable but no facts")
        facts = []
    for phrase in gold:
        words = len(str(phrase).split())
        if not GOLD_WORDS[0] <= words <= GOLD_WORDS[1]:
            found.append(f"{qid}: gold {phrase!r} has {words} words")
        needle = normalise(str(phrase))
        hits = [(name, i) for name, paras in data.docs.items() for i, para in enumerate(paras) if needle in para]
        if len(hits) != 1:
            found.append(f"{qid}: gold {phrase!r} matches {len(hits)} paragraphs, not exactly one: {hits}")
            continue
        name, index = hits[0]
        if name != own_doc:
            found.append(f"{qid}: gold {phrase!r} is in {name}, not in its own document {own_doc}")
        for group in facts:
            if not isinstance(group, list) or not group or not all(isinstance(s, str) and s for s in group):
                found.append(f"{qid}: fact group {group!r} is not a list of strings")
            elif normalise(group[0]) not in data.docs[name][index]:
                found.append(f"{qid}: fact {group[0]!r} is not in the gold paragraph {name} #{index}")
    return found


def unanswerable_problems(qid: str, q: dict[str, object], data: EvalSet) -> list[str]:
    found = []
    if q.get("gold") or q.get("facts"):
        found.append(f"{qid}: unanswerable but has gold or facts")
    probes = data.probes.get(qid)
    if not probes:
        return [*found, f"{qid}: unanswerable but has no probes in probes.json"]
    for probe in probes:
        where = [name for name, text in data.whole_docs.items() if whole_word(probe, text)]
        if where:
            found.append(f"{qid}: probe {probe!r} occurs in {where}")
    return found


@pytest.fixture(scope="module", params=sorted(SETS))
def brief_and_set(request: pytest.FixtureRequest) -> tuple[SetBrief, EvalSet]:
    brief = SETS[request.param]
    return brief, load_set(brief.folder, brief.prefix)


@pytest.fixture(scope="module")
def archive_set(brief_and_set: tuple[SetBrief, EvalSet]) -> EvalSet:
    return brief_and_set[1]


def test_archive_set_has_no_problems(archive_set: EvalSet) -> None:
    """Gold phrases, facts, ids and probes of each shipped set all hold."""
    assert problems(archive_set) == []


def test_archive_set_is_big_enough(brief_and_set: tuple[SetBrief, EvalSet]) -> None:
    """Each set has the questions, near-misses and documents its brief asks for, of modest total size."""
    brief, data = brief_and_set
    unanswerable = [q for q in data.questions if q.get("unanswerable")]
    assert len(data.questions) >= brief.min_questions
    assert len(unanswerable) >= brief.min_unanswerable
    assert len(data.docs) >= brief.min_documents
    assert sum(f.stat().st_size for f in (brief.folder / "docs").glob("*.md")) < MAX_DOCS_BYTES


def test_every_document_has_both_kinds_of_question(archive_set: EvalSet) -> None:
    """A split by document needs each document to carry answerable and unanswerable questions."""
    kinds: dict[str, set[bool]] = {}
    for q in archive_set.questions:
        kinds.setdefault(str(q["id"])[:3], set()).add(bool(q.get("unanswerable")))
    expected = {f"{archive_set.prefix}{n:02d}" for n in range(1, len(archive_set.docs) + 1)}
    assert set(kinds) == expected
    assert {doc for doc, seen in kinds.items() if seen != {True, False}} == set()


# The checker itself must catch broken data, or the tests above prove nothing. -------------------

DOC_A = """---
title: "Alpha talks"
---
1\\. The **ministers** met in Oslo to discuss fisheries.

- They agreed a quota of 500 tonnes.

###
"""
DOC_B = """---
title: "Beta readout"
---
The ministers met in Oslo to discuss fisheries again.

<!-- -->
The envoy thanked the hosts.
"""


def make_set(tmp_path: Path, questions: list[dict[str, object]], probes: dict[str, list[str]]) -> EvalSet:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "2021-01-01-alpha.md").write_text(DOC_A, encoding="utf-8")
    (tmp_path / "docs" / "2022-01-01-beta.md").write_text(DOC_B, encoding="utf-8")
    (tmp_path / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")
    (tmp_path / "probes.json").write_text(json.dumps(probes), encoding="utf-8")
    return load_set(tmp_path)


def test_paragraphs_are_blank_line_blocks_without_markup() -> None:
    """Bold, bullets, escapes and comments go; blocks with no words are not paragraphs."""
    assert paragraphs(DOC_A) == [
        "1. the ministers met in oslo to discuss fisheries.",
        "they agreed a quota of 500 tonnes.",
    ]
    assert paragraphs(DOC_B)[1] == "the envoy thanked the hosts."


def test_a_sound_tiny_set_passes(tmp_path: Path) -> None:
    """Correct gold, facts and probes give no problems."""
    data = make_set(
        tmp_path,
        [
            {
                "id": "a01-01",
                "question": "how big is the quota?",
                "gold": ["agreed a quota of 500"],
                "facts": [["500"]],
            },
            {
                "id": "a02-01",
                "question": "who did the envoy thank?",
                "gold": ["The envoy thanked the hosts"],
                "facts": [["hosts"]],
            },
            {"id": "a02-02", "question": "what did Stockholm say?", "unanswerable": True},
        ],
        {"a02-02": ["Stockholm", "Swedish"]},
    )
    assert problems(data) == []


def test_ambiguous_gold_misplaced_fact_and_leaking_probe_are_reported(tmp_path: Path) -> None:
    """A gold phrase in two paragraphs, a fact outside its paragraph and a probe found in a file all fail."""
    data = make_set(
        tmp_path,
        [
            {
                "id": "a01-01",
                "question": "where did they meet?",
                "gold": ["met in Oslo to discuss fisheries"],
                "facts": [["Oslo"]],
            },
            {
                "id": "a01-02",
                "question": "how big is the quota?",
                "gold": ["agreed a quota of 500"],
                "facts": [["600"]],
            },
            {"id": "a02-01", "question": "what was the title?", "unanswerable": True},
            {"id": "a02-02", "question": "who thanked whom?", "gold": ["agreed a quota of 500"], "facts": [["500"]]},
            {"id": "a01-02", "question": "dup", "unanswerable": True, "colour": "red"},
        ],
        {"a02-01": ["Beta"], "a01-02": ["Tromsø"]},
    )
    found = "\n".join(problems(data))
    assert "a01-01: gold 'met in Oslo to discuss fisheries' matches 2 paragraphs" in found
    assert "a01-02: fact '600' is not in the gold paragraph" in found
    assert "a02-01: probe 'Beta' occurs in ['2022-01-01-beta.md']" in found  # front matter counts
    assert "a02-02: gold 'agreed a quota of 500' is in 2021-01-01-alpha.md, not in its own document" in found
    assert "a01-02: duplicate id" in found
    assert "a01-02: unknown fields ['colour']" in found


def test_probes_match_whole_words_only(tmp_path: Path) -> None:
    """'Osl' is not found inside 'Oslo', but 'oslo' (any case) is."""
    data = make_set(tmp_path, [], {})
    assert not whole_word("Osl", data.whole_docs["2021-01-01-alpha.md"])
    assert whole_word("OSLO", data.whole_docs["2021-01-01-alpha.md"])


def test_bad_ids_and_missing_probes_are_reported(tmp_path: Path) -> None:
    """Ids outside the a<NN>-<MM> scheme or the set's documents, and probe-less near-misses, fail."""
    data = make_set(
        tmp_path,
        [
            {"id": "q1", "question": "x?", "unanswerable": True},
            {"id": "a03-01", "question": "y?", "unanswerable": True},
            {"id": "a01-01", "question": "z?", "unanswerable": True},
        ],
        {"a09-09": ["nothing"]},
    )
    found = problems(data)
    assert "q1: id is not a<NN>-<MM> with NN a document of the set" in found
    assert "a03-01: id is not a<NN>-<MM> with NN a document of the set" in found
    assert "a01-01: unanswerable but has no probes in probes.json" in found
    assert "probes.json: a09-09 is not an unanswerable question" in found
