"""Question hygiene: what users type is normalised before anything else sees it."""

from __future__ import annotations

import re
import unicodedata

from errors import InvalidQuestion
from qa.sanitise import INVISIBLE

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def normalise_question(text: str, *, max_chars: int) -> str:
    """NFKC, invisible and control characters removed, white space folded, length capped."""
    cleaned = unicodedata.normalize("NFKC", text)
    cleaned = INVISIBLE.sub("", cleaned)  # hidden text never carries meaning in a question
    cleaned = _CONTROL.sub(" ", cleaned)
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise InvalidQuestion("The question is empty.", hint="Type a question about the statements.")
    if len(cleaned) > max_chars:
        raise InvalidQuestion(
            f"The question is {len(cleaned)} characters long; the limit is {max_chars}.",
            hint="Ask something shorter, one question at a time.",
        )
    return cleaned
