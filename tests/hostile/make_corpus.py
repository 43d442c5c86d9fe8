"""The hostile-input corpus: files and inputs that broke statementbot in the adversarial pass (issue 13).

Generated at test time (some are megabytes; nothing large is committed):

    python tests/hostile/make_corpus.py OUT_DIR     # writes the corpus and lists it

Each entry is what an attacker or a careless user would hand the bot, with what used to go wrong:

* ``huge-line.txt``: one 5 MB line of sentences (ran for more than 400 s, no time limit);
* ``long-paragraph.txt``: one paragraph of 20,000 characters (every window kept a copy of it);
* ``too-long-paragraph.txt``: one paragraph over the length limit (300 KB grew the store to 285 MB);
* ``too-many-paragraphs.txt``: more numbered paragraphs than a file may have;
* ``line\\nbreak.txt`` and ``report\\u202etxt.md``: file names that forge or spoof a table row;
* ``fisheries-999.txt``: a title holding "999", which "¶999" used to match;
* ``mention.txt``: a statement whose sentence ends in a role mention (it was discarded as evidence);
* ``questions.bin``: a batch for ``ask --json -`` with invalid UTF-8 and blank lines.
"""

from __future__ import annotations

import sys
from pathlib import Path

TOO_MANY_PARAGRAPHS = 5_001
ROLE_MENTION = "<@&123456789012345678>"
SENTENCE = "The parties agreed on a quota of {n} tonnes for the {n}th season."
QUESTIONS = (
    b"When is GCAP meant to be delivered?\n"
    b"GCAP \xff\xfe delivery?\n"
    b"\n"
    b"   \n"
    b"What does \xc3 paragraph 3 say\r\n"
    b"Where did the ministers meet?"  # no final newline: still a line
)
QUESTION_LINES = 6


def _sentences(count: int) -> str:
    return " ".join(SENTENCE.format(n=n) for n in range(count))


def write_corpus(folder: Path) -> dict[str, Path]:
    """Write every hostile file into `folder`; returns them by role."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "huge_line": folder / "huge-line.txt",
        "long_paragraph": folder / "long-paragraph.txt",
        "too_long_paragraph": folder / "too-long-paragraph.txt",
        "too_many_paragraphs": folder / "too-many-paragraphs.txt",
        "newline_name": folder / "line\nbreak.txt",
        "rlo_name": folder / "report\u202etxt.md",
        "title_999": folder / "fisheries-999.txt",
        "mention": folder / "mention.txt",
        "questions": folder / "questions.bin",
    }
    huge = ("Fisheries Statement " + _sentences(5_000_000 // len(SENTENCE))).encode()
    files["huge_line"].write_bytes(huge[: 5 * 1024 * 1024])
    files["long_paragraph"].write_text(f"Long Statement\n\n1. {_sentences(330)}\n\n2. A short one.\n", encoding="utf-8")
    files["too_long_paragraph"].write_text(f"Too Long Statement\n\n1. {_sentences(5_000)}\n", encoding="utf-8")
    # Unnumbered (blank-line) paragraphs: the parser reads printed numbers up to 999 only.
    blocks = "\n\n".join(f"Paragraph {n} of this statement says little." for n in range(1, TOO_MANY_PARAGRAPHS + 1))
    files["too_many_paragraphs"].write_text(f"Many Paragraphs\n\n{blocks}\n", encoding="utf-8")
    for name in ("newline_name", "rlo_name"):
        files[name].write_text(
            "Harbour Safety Statement\n\n1. Pilots are required in the harbour.\n\n2. The speed limit is 5 knots.\n",
            encoding="utf-8",
        )
    files["title_999"].write_text(
        "Fisheries Agreement 999\n\n1. The parties agreed on a cod quota of 12,000 tonnes.\n\n"
        "2. The agreement is reviewed every year.\n",
        encoding="utf-8",
    )
    files["mention"].write_text(
        "Coastal Patrol Statement\n\n"
        "1. The coastguards of both countries met in Dover.\n\n"
        f"2. The ministers agreed to build twelve new patrol boats by 2030 {ROLE_MENTION}\n",
        encoding="utf-8",
    )
    files["questions"].write_bytes(QUESTIONS)
    return files


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_corpus.py OUT_DIR")
    for role, path in write_corpus(Path(sys.argv[1])).items():
        print(f"{role}\t{path.stat().st_size}\t{path.name!r}")
