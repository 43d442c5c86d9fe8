"""Answers, paragraphs and reports become Discord messages that fit the limits and never ping."""

from __future__ import annotations

import re
from datetime import date

import pytest

from bot.discord import limits
from bot.discord.components import DocumentsPageButton, view_for
from bot.discord.formatting import (
    CUT_NOTICE,
    FALLBACK_MARK,
    ZERO_WIDTH_SPACE,
    Outgoing,
    answer_messages,
    citation_embed,
    documents_page,
    neutralise,
    paragraph_messages,
    question_text,
    split_text,
    thread_name,
)
from prompts import ABSTAIN_PHRASE, CLOSEST_HEADING
from qa.types import Answer, CheckReport, Citation
from vectorstore.store import DocumentRecord

MARKER = re.compile(r"\[[^\]]*¶[^\]]*\]")


def citation(label: str = "12", text: str = "The Ministers welcomed the progress.", **kwargs: str) -> Citation:
    return Citation(
        kwargs.pop("doc_id", "uk-japan-2025"),
        kwargs.pop("title", "UK-Japan Joint Statement"),
        label,
        text,
        **kwargs,
    )


def sentences(total: int, *, marker: str = " [¶3]") -> str:
    """Cited sentences of varied length, cut to exactly `total` characters."""
    parts, length, n = [], 0, 0
    while length < total + 100:
        sentence = f"Sentence {n} says the Ministers agreed on item {n * 7}.{marker}"
        parts.append(sentence)
        length += len(sentence) + 1
        n += 1
    text = " ".join(parts)
    return text[:total].rstrip() + "x" * (total - len(text[:total].rstrip()))


def assert_valid(messages: list[Outgoing]) -> None:
    for message in messages:
        assert message.content or message.embeds
        assert len(message.content) <= limits.MAX_CONTENT
        assert len(message.embeds) <= limits.MAX_EMBEDS
        assert message.embed_chars() <= limits.MAX_EMBED_TOTAL
        for embed in message.embeds:
            assert len(embed.title or "") <= limits.MAX_EMBED_TITLE
            assert len(embed.description or "") <= limits.MAX_EMBED_DESCRIPTION


@pytest.mark.parametrize(("length", "chunks"), [(1999, 1), (2000, 1), (2001, 2)])
def test_split_at_the_content_limit(length: int, chunks: int) -> None:
    """1,999 and 2,000 characters stay one message; 2,001 become two, nothing lost."""
    text = sentences(length)
    assert len(text) == length
    parts = split_text(text)
    assert len(parts) == chunks
    assert all(len(p) <= limits.MAX_CONTENT for p in parts)
    assert " ".join(parts) == text


def test_split_never_cuts_a_citation_marker() -> None:
    """Every marker survives whole, and stays with the sentence before it."""
    text = sentences(9000, marker=" [uk-japan-defence-ministerial-2025 ¶13]")
    parts = split_text(text)
    assert len(parts) > 4
    assert sum(len(MARKER.findall(p)) for p in parts) == len(MARKER.findall(text))
    for part in parts[1:]:
        assert not part.startswith("[")
    for part in parts[:-1]:
        assert part.endswith("]")  # cut after a cited sentence, not inside one


def test_split_prefers_paragraph_breaks() -> None:
    """A blank line within reach is where the cut goes."""
    first = "A" * 1200 + "."
    second = "B" * 1200 + "."
    assert split_text(f"{first}\n\n{second}") == [first, second]


def test_split_hard_cuts_text_without_spaces() -> None:
    """A run with no break at all is still cut to size."""
    parts = split_text("x" * 4500)
    assert [len(p) for p in parts] == [2000, 2000, 500]


def test_neutralise_breaks_every_mention() -> None:
    """@everyone, @here, user and role mentions no longer parse; applying twice changes nothing."""
    text = "Hi @everyone and @here, <@123> and <@&456>"
    once = neutralise(text)
    assert "@everyone" not in once
    assert "@here" not in once
    assert "<@123>" not in once
    assert "<@&456>" not in once
    assert once.replace(ZERO_WIDTH_SPACE, "") == text
    assert neutralise(once) == once


def test_answer_message_holds_text_and_one_embed_per_citation() -> None:
    """Text with markers in the content; each cited paragraph an embed with title, label and quote."""
    answer = Answer(
        "q",
        "They welcomed progress. [¶12] They met in Tokyo. [¶1]",
        (citation("12", quote="The Ministers welcomed the progress."), citation("1", text="They met in Tokyo.")),
        False,
    )
    [message] = answer_messages(answer, feedback_id="0123456789abcdef")
    assert message.content == "They welcomed progress. [¶12] They met in Tokyo. [¶1]"
    assert [e.title for e in message.embeds] == ["UK-Japan Joint Statement · ¶12", "UK-Japan Joint Statement · ¶1"]
    assert message.embeds[0].description == "> The Ministers welcomed the progress."
    assert message.paragraphs == [("uk-japan-2025", "12"), ("uk-japan-2025", "1")]
    assert_valid([message])


def test_a_dated_statement_is_named_with_its_date_in_its_embeds() -> None:
    dated = citation("30", date="2023-06-22")
    [message] = answer_messages(Answer("q", "They met. [¶30]", (dated,), False))
    assert [e.title for e in message.embeds] == ["UK-Japan Joint Statement (2023-06-22) · ¶30"]
    assert paragraph_messages(dated)[0].embeds[0].title == "UK-Japan Joint Statement (2023-06-22) · ¶30"


def test_long_paragraph_is_quoted_as_an_excerpt() -> None:
    """The embed quotes at most EXCERPT_CHARS and says where the rest is."""
    embed = citation_embed(citation(text="word " * 400))
    assert len(embed.description or "") <= limits.EXCERPT_CHARS + 3
    assert (embed.description or "").endswith("…")
    assert "Show paragraph" in (embed.footer.text or "")


def test_source_link_only_for_urls_and_no_server_paths() -> None:
    """A URL source links the embed; a local path shows its file name only."""
    assert citation_embed(citation(source="https://www.gov.uk/statement")).url == "https://www.gov.uk/statement"
    local = citation_embed(citation(source="/srv/secret/statements/uk-japan.txt"))
    assert local.url is None
    assert "uk-japan.txt" in (local.footer.text or "")
    assert "/srv/secret" not in (local.footer.text or "")


def test_abstention_shows_closest_passages() -> None:
    """An abstention says so and shows the closest passages as embeds."""
    answer = Answer("q", ABSTAIN_PHRASE, (), True, closest=(citation("3"), citation("7")))
    [message] = answer_messages(answer)
    assert message.content.startswith(ABSTAIN_PHRASE)
    assert f"**{CLOSEST_HEADING}:**" in message.content
    assert len(message.embeds) == 2


def test_fallback_is_marked() -> None:
    """An answer whose check fell back to the extractive answer says so."""
    answer = Answer("q", "Text. [¶1]", (citation("1"),), False, checked=CheckReport(fallback=True))
    assert FALLBACK_MARK in answer_messages(answer)[0].content


def test_mentions_in_answers_and_documents_are_neutralised() -> None:
    """@everyone in an answer or a quoted paragraph cannot ping."""
    answer = Answer("q", "Ping @everyone [¶1]", (citation("1", text="Dear @here team"),), False)
    [message] = answer_messages(answer)
    assert "@everyone" not in message.content
    assert "@here" not in (message.embeds[0].description or "")


def test_many_citations_spread_over_messages_within_limits() -> None:
    """Fifteen long citations: at most 10 embeds and 6,000 embed characters per message."""
    cited = tuple(citation(str(n), text="long text " * 300) for n in range(1, 16))
    answer = Answer("q", "Answer. " + " ".join(f"[¶{n}]" for n in range(1, 16)), cited, False)
    messages = answer_messages(answer, feedback_id="0123456789abcdef")
    assert_valid(messages)
    assert sum(len(m.embeds) for m in messages) == 15
    assert [m.feedback_id for m in messages][-1] == "0123456789abcdef"
    assert all(m.feedback_id is None for m in messages[:-1])


def test_very_long_answer_is_cut_and_says_so() -> None:
    """More than MAX_ANSWER_MESSAGES messages of text: the rest is cut with a notice."""
    answer = Answer("q", sentences(limits.MAX_CONTENT * (limits.MAX_ANSWER_MESSAGES + 2)), (), False)
    messages = answer_messages(answer)
    assert len(messages) == limits.MAX_ANSWER_MESSAGES
    assert messages[-1].content.endswith(CUT_NOTICE)
    assert_valid(messages)


def test_paragraph_longer_than_an_embed_continues() -> None:
    """A paragraph over 4,096 characters is shown whole across embeds."""
    text = "The Ministers agreed. " * 400
    messages = paragraph_messages(citation(text=text.strip()))
    assert_valid(messages)
    shown = " ".join((e.description or "") for m in messages for e in m.embeds)
    assert shown.replace("\\", "") == text.strip()


def test_buttons_show_paragraph_and_votes() -> None:
    """An answer message carries a Show-paragraph button per citation and 👍/👎."""
    message = Outgoing(content="x", paragraphs=[("uk-japan-2025", "12")], feedback_id="0123456789abcdef")
    view = view_for(message)
    assert view is not None
    ids = [item.custom_id for item in view.children]  # type: ignore[attr-defined]
    assert ids == ["sb:p:uk-japan-2025:12", "sb:v:up:0123456789abcdef", "sb:v:down:0123456789abcdef"]
    assert view_for(Outgoing(content="x")) is None


def test_thread_name_and_mention_stripping() -> None:
    """Thread titles fit 100 characters; mentions are no part of a question."""
    assert len(thread_name("why " * 100)) <= limits.MAX_THREAD_NAME
    assert question_text("<@42> What about <@!42> space?") == "What about space?"
    assert question_text("<@42> @everyone @here <@7> <@&8> cyber?") == "cyber?"


def record(doc_id: str, title: str) -> DocumentRecord:
    return DocumentRecord(doc_id, title, date(2025, 8, 28), "", "hash", 17, "2025-08-28T00:00:00+00:00", True)


def test_documents_page_fits_one_embed_with_the_longest_titles_and_ids() -> None:
    """20 titles of 101 markdown characters (each doubled by escaping) and 64-character ids fit one embed."""
    records = [record(f"{n:02d}-" + "x" * 61, "*_`|~>" * 17) for n in range(45)]
    page = documents_page(records, 2)
    assert_valid([page])
    description = page.embeds[0].description or ""
    assert [f"{n:02d}-" + "x" * 61 for n in range(20, 40)] == re.findall(r"\(`([0-9x-]+)`\)", description)
    assert page.pager == (2, 3)
    assert "page 2 of 3 (45 statements)" in page.content


def test_documents_page_escapes_control_bidi_and_mentions() -> None:
    """A title with a newline, a right-to-left override and @everyone stays one visible, harmless line."""
    page = documents_page([record("evil", "Statement\n• forged line \u202eexe.txt @everyone")], 1)
    description = page.embeds[0].description or ""
    assert description.count("\n") == 0
    assert "\\u202e" in description
    assert "\u202e" not in description
    assert "@everyone" not in description
    assert page.pager is None  # one page: no buttons
    assert view_for(page) is None


def test_documents_page_buttons_carry_the_page_they_show() -> None:
    """Previous names the page before, Next the page after; each is disabled at its end."""
    records = [record(f"doc-{n}", f"Statement {n}") for n in range(45)]
    for page, (previous_disabled, next_disabled) in {1: (True, False), 2: (False, False), 3: (False, True)}.items():
        view = view_for(documents_page(records, page))
        assert view is not None
        pager = [b.item for b in view.children if isinstance(b, DocumentsPageButton)]
        buttons = [(b.label, b.custom_id, b.disabled) for b in pager]
        assert buttons == [
            ("◀ Previous", f"sb:d:{page - 1}", previous_disabled),
            ("Next ▶", f"sb:d:{page + 1}", next_disabled),
        ]
