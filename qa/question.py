"""Question hygiene: what users type is normalised before anything else sees it."""

from __future__ import annotations

import re
import unicodedata

from errors import InvalidQuestion

# Zero-width characters and bidi controls can hide text from a reader while a
# model or index still sees it; they never carry meaning in a question.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def normalise_question(text: str, *, max_chars: int) -> str:
    """NFKC, invisible and control characters removed, white space folded, length capped."""
    cleaned = unicodedata.normalize("NFKC", text)
    cleaned = _INVISIBLE.sub("", cleaned)
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
