"""How many hallucinated sentences reach the user, with a model that hallucinates in half its sentences.

    python bench/bench_hallucination.py                    # dev + sample questions, sample statement
    python bench/bench_hallucination.py --questions FILE   # other JSON-lines question sets

A fake chat model (`HalfHallucinatingModel`) reads the paragraphs it is given
and, for each of the first three, writes one faithful sentence (verbatim,
after "According to the statement,", or cut short at a comma) with the right
marker, then one hallucinated sentence, cycling through these kinds:

    number          a number of the paragraph changed ("2035" -> "2042")
    date            a meeting date the paragraph does not give
    name            the faithful sentence plus ", together with Brazil and Canada"
    claim           a claim in words the paragraph does not use
    negation        "It is not true that ..." before a sentence of the paragraph
    action          the sentence's first past tense replaced by "cancelled"
    misquote        one word of a verbatim sentence swapped for its opposite
                    ("increasing" -> "decreasing", "strong" -> "weak")
    invented_marker a true sentence cited as [¶99]
    misattributed   a true sentence cited to another paragraph shown

Every question goes through `StatementService.ask` (real retrieval, the real
extractive answerer for abstention and fallback, the citation check). A
hallucinated sentence "reaches the user" when it is in the final text (for the
two citation kinds: when the final text still shows the wrong marker).

Not part of the test suite (tests/test_llm.py runs a few questions of it); prints a table.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ingest.sentences import split_sentences  # noqa: E402 - after the path set-up above
from qa.citations import markers_in  # noqa: E402

KINDS = ("number", "date", "name", "claim", "negation", "action", "misquote", "invented_marker", "misattributed")
QUESTION_FILES = (
    ROOT.parent / "shared" / "eval" / "dev_questions.jsonl",
    ROOT / "tests" / "data" / "sample_questions.jsonl",
)
_BLOCK = re.compile(r'<paragraph marker="(?P<marker>[^"]+)"[^>]*>\n(?P<text>.*?)\n</paragraph>', re.DOTALL)
_ANTONYMS = {
    "increasing": "decreasing",
    "strengthening": "weakening",
    "growing": "shrinking",
    "deep": "shallow",
    "strong": "weak",
    "closest": "most distant",
    "further": "less",
    "substantial": "negligible",
    "significant": "minor",
    "critical": "trivial",
}


@dataclass(frozen=True)
class Written:
    """One sentence the fake model wrote, and how to tell whether it reached the user."""

    kind: str  # "faithful" or a hallucination kind
    sentence: str  # without its marker
    wrong_marker: str = ""  # for the citation kinds: the marker that must not survive next to it


def paragraphs_in(messages: Sequence[BaseMessage]) -> list[tuple[str, str]]:
    """(marker, text) of each paragraph block in the prompt."""
    prompt = "\n".join(str(m.content) for m in messages)
    return [(m["marker"], html.unescape(m["text"])) for m in _BLOCK.finditer(prompt)]


def _sentences(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)] or [text]


def _lower_first(sentence: str) -> str:
    return sentence[0].lower() + sentence[1:].rstrip(".")


def _number(sentences: list[str]) -> str:
    numbered = next((s for s in sentences if re.search(r"\d", s)), None)
    if numbered is None:
        return "The Ministers met again on 14 February 2024 to review this work."
    return re.sub(r"\d+", lambda m: str(int(m.group(0)) + 7), numbered, count=1)


def _action(sentences: list[str]) -> str:
    changed = re.sub(r"\b[a-z]{3,}ed\b", "cancelled", sentences[0], count=1)
    return changed if changed != sentences[0] else f"The Ministers cancelled {_lower_first(sentences[0])}."


def _misquote(sentences: list[str]) -> str:
    for sentence in sentences:
        for word, opposite in _ANTONYMS.items():
            if re.search(rf"\b{word}\b", sentence):
                return re.sub(rf"\b{word}\b", opposite, sentence, count=1)
    return f"{sentences[0].rstrip('.')}, which the Ministers described as a minor matter."


_HALLUCINATIONS = {
    "number": _number,
    "date": lambda sentences: "The Ministers met again on 14 February 2024 to review this work.",
    "name": lambda sentences: f"{sentences[0].rstrip('.')}, together with Brazil and Canada.",
    "claim": lambda sentences: "The Ministers agreed to build a joint lunar research station for this purpose.",
    "negation": lambda sentences: f"It is not true that {_lower_first(sentences[0])}.",
    "action": _action,
    "misquote": _misquote,
}


def hallucinate(kind: str, sentences: list[str], marker: str, others: list[str]) -> Written:
    """One hallucinated sentence of `kind` about the paragraph whose sentences and marker are given."""
    if kind == "invented_marker":
        return Written(kind, sentences[-1], wrong_marker="[¶99]")
    if kind == "misattributed":
        return Written(kind, sentences[-1], wrong_marker=next((o for o in others if o != marker), "[¶98]"))
    return Written(kind, _HALLUCINATIONS[kind](sentences))


def faithful_version(sentence: str, turn: int) -> str:
    """The sentence verbatim, after "According to the statement,", or cut at a comma (a partial quotation)."""
    if turn % 3 == 1:
        return f"According to the statement, {sentence[0].lower()}{sentence[1:]}"
    if turn % 3 == 2:
        cut = sentence.find(", ", len(" ".join(sentence.split()[:8])))
        if cut > 0:
            return sentence[:cut] + "."
    return sentence


class HalfHallucinatingModel(BaseChatModel):
    """Per paragraph shown (up to three): one faithful sentence, then one hallucinated sentence."""

    kinds: tuple[str, ...] = KINDS
    paragraphs_used: int = 3
    turn: int = 0
    written: list[Written] = Field(default_factory=list)  # what its last answer contained

    @property
    def _llm_type(self) -> str:
        return "half-hallucinating-fake"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **_: Any) -> ChatResult:
        blocks = paragraphs_in(messages)
        markers = [marker for marker, _ in blocks]
        parts: list[str] = []
        self.written = []
        for marker, text in blocks[: self.paragraphs_used]:
            sentences = _sentences(text)
            faithful = faithful_version(sentences[0], self.turn)
            bad = hallucinate(self.kinds[self.turn % len(self.kinds)], sentences, marker, markers)
            self.turn += 1
            parts.append(f"{faithful} {marker}")
            self.written.append(Written("faithful", faithful))
            if bad.sentence:
                parts.append(f"{bad.sentence} {bad.wrong_marker or marker}")
                self.written.append(bad)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=" ".join(parts)))])


def reached(written: Written, shown: str) -> bool:
    """Whether the user sees the sentence (with its wrong marker, for the citation kinds)."""
    position = shown.find(written.sentence.rstrip("."))
    if position < 0:
        return False
    if not written.wrong_marker:
        return True
    following = markers_in(shown[position + len(written.sentence.rstrip(".")) :])
    wrong = markers_in(written.wrong_marker)
    return bool(following) and following[0].label == wrong[0].label


@dataclass
class Figures:
    questions: int = 0
    model_called: int = 0
    fallbacks: int = 0
    written: dict[str, int] = field(default_factory=dict)
    reached: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, seen: bool) -> None:
        self.written[kind] = self.written.get(kind, 0) + 1
        self.reached[kind] = self.reached.get(kind, 0) + int(seen)

    @property
    def hallucinated(self) -> int:
        return sum(n for k, n in self.written.items() if k in KINDS)

    @property
    def hallucinated_reaching(self) -> int:
        return sum(n for k, n in self.reached.items() if k in KINDS)

    @property
    def share_reaching(self) -> float:
        return self.hallucinated_reaching / self.hallucinated if self.hallucinated else 0.0


def measure(service: Any, model: HalfHallucinatingModel, questions: Iterable[str]) -> Figures:
    """Ask each question through `service` (whose answerer uses `model`) and count what reaches the user."""
    figures = Figures()
    for question in questions:
        model.written = []
        answer = service.ask(question)
        figures.questions += 1
        if not model.written:
            continue  # abstained or exact reference: the model was not called
        figures.model_called += 1
        figures.fallbacks += int(answer.checked.fallback)
        for written in model.written:
            figures.add(written.kind, reached(written, answer.text))
    return figures


def load_questions(paths: Iterable[Path]) -> list[str]:
    questions: list[str] = []
    for path in paths:
        if path.exists():
            questions += [json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip()]
    return questions


def _service_with(model: HalfHallucinatingModel, data_dir: Path) -> Any:
    from bot.runtime import build_service
    from bot.settings import Settings
    from qa.llm import LLMAnswerer

    base = build_service(Settings(data_dir=data_dir, llm_provider="none"))
    base.ensure_corpus()
    answerer = LLMAnswerer(model, retriever=base.retriever, extractive=base.answerer, backend="fake", timeout_s=30)
    return base.with_answerer(answerer)


def _table(title: str, figures: Figures, kinds: Sequence[str]) -> None:
    print(title)
    print(f"  {'kind':<18}{'written':>9}{'reached user':>14}")
    for kind in kinds:
        print(f"  {kind:<18}{figures.written.get(kind, 0):>9}{figures.reached.get(kind, 0):>14}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, action="append", help="JSON-lines question file(s)")
    args = parser.parse_args()
    questions = load_questions(args.questions or QUESTION_FILES)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sb-bench-halluc-") as data_dir:
        model = HalfHallucinatingModel()
        service = _service_with(model, Path(data_dir))
        figures = measure(service, model, questions)
        service.close()
    _table(
        f"{figures.questions} questions, model called for {figures.model_called} "
        f"(the others abstained before the model); {figures.fallbacks} answers fell back to extractive",
        figures,
        ("faithful", *KINDS),
    )
    print(
        f"\nHallucinated sentences reaching the user: {figures.hallucinated_reaching}/{figures.hallucinated} "
        f"= {figures.share_reaching:.1%}"
    )
    faithful = figures.written.get("faithful", 0)
    print(f"Faithful sentences kept: {figures.reached.get('faithful', 0)}/{faithful}")
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
