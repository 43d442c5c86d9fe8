"""Prompt templates are data: each uses exactly the placeholders it is rendered with."""

from __future__ import annotations

from importlib import resources

import pytest

from prompts import ABSTAIN_PHRASE, TEMPLATE_FIELDS, TemplateError, placeholders, render, template


def test_every_template_file_is_declared() -> None:
    """A template file nobody renders, or a declared template without a file, is a drift."""
    files = {p.name.removesuffix(".txt") for p in resources.files("prompts").joinpath("templates").iterdir()}
    assert files == set(TEMPLATE_FIELDS)


@pytest.mark.parametrize("name", sorted(TEMPLATE_FIELDS))
def test_template_uses_exactly_its_allowed_placeholders(name: str) -> None:
    """The placeholders in the file are the ones TEMPLATE_FIELDS declares, no more and no fewer."""
    assert placeholders(template(name)) == set(TEMPLATE_FIELDS[name])


@pytest.mark.parametrize("name", sorted(TEMPLATE_FIELDS))
def test_render_refuses_missing_or_extra_fields(name: str) -> None:
    """Rendering with a field too few or too many fails loudly instead of leaving '{x}' in a prompt."""
    fields = sorted(TEMPLATE_FIELDS[name])
    with pytest.raises(TemplateError):
        render(name, **dict.fromkeys(fields[1:], "x"))
    with pytest.raises(TemplateError):
        render(name, **dict.fromkeys(fields, "x"), unexpected="x")


def test_answer_prompt_carries_the_abstention_phrase_and_untrusted_markings() -> None:
    """The system prompt states the exact abstention phrase; paragraph blocks are marked untrusted."""
    assert ABSTAIN_PHRASE in render("answer_system", abstain_phrase=ABSTAIN_PHRASE)
    block = render("paragraph_block", marker="[¶3]", title="T", text="body")
    assert 'trust="untrusted"' in block
    assert block.startswith("<paragraph")
    assert block.rstrip().endswith("</paragraph>")


def test_rendered_values_are_not_reinterpreted_as_fields() -> None:
    """Braces inside a paragraph's text stay literal (str.format does not re-expand values)."""
    text = render("paragraph_block", marker="[¶1]", title="{title}", text="{abstain_phrase} {0}")
    assert "{abstain_phrase} {0}" in text
