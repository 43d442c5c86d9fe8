"""Prompt templates and fixed phrases, kept as data.

Templates live in `prompts/templates/*.txt` and use `{placeholder}` fields;
`render` refuses missing or unexpected fields so a template and its caller can
never drift apart silently. Phrases that code looks for (the abstention
sentence) are constants here and nowhere else.
"""

from __future__ import annotations

import string
from functools import cache
from importlib import resources

# The one sentence the bot says when the statements don't answer a question.
# Front ends, the LLM prompt and the evaluation all look for exactly this text.
ABSTAIN_PHRASE = "The statements don't cover that."
CLOSEST_HEADING = "Closest passages"
FALLBACK_NOTE = (
    "The language model's answer could not be checked against the statements, so this is the extractive answer."
)
# Shown when a checked answer kept nothing and there was no extractive answer to fall back to.
UNSUPPORTED_NOTE = "Nothing in the answer could be matched to the statements, so only the closest passages are shown."
# Shown when the language model failed; keyed by what went wrong.
LLM_FAILURE_NOTES = {
    "timeout": "The language model did not answer in time, so this is the extractive answer.",
    "connection": "The language model could not be reached, so this is the extractive answer.",
    "rate_limit": "The language model is rate-limited right now, so this is the extractive answer.",
    "malformed": "The language model sent an unusable response, so this is the extractive answer.",
    "error": "The language model failed, so this is the extractive answer.",
}

# Each template and the placeholders it must use, no more and no fewer.
TEMPLATE_FIELDS: dict[str, frozenset[str]] = {
    "answer_system": frozenset({"abstain_phrase"}),
    "answer_user": frozenset({"question", "paragraphs"}),
    "paragraph_block": frozenset({"marker", "title", "text"}),
    "condense": frozenset({"history", "question"}),
}


class TemplateError(KeyError):
    """A template was rendered with the wrong fields."""


@cache
def template(name: str) -> str:
    if name not in TEMPLATE_FIELDS:
        raise TemplateError(f"unknown template {name!r}")
    return resources.files(__package__).joinpath("templates", f"{name}.txt").read_text(encoding="utf-8")


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def render(name: str, **values: str) -> str:
    expected = TEMPLATE_FIELDS[name]
    if set(values) != expected:
        raise TemplateError(f"template {name!r} takes {sorted(expected)}, got {sorted(values)}")
    return template(name).format(**values)
