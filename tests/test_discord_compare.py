"""`/compare` and the ingest report's "what is new", end to end on the real discord.py client and fake Discord.

A later edition of the bundled sample statement is written as a real statement file
(title, date, numbered paragraphs: some dropped, some reworded, one new) and ingested
through the same code as `/ingest`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.runtime import build_service
from bot.settings import Settings
from qa.compare_eval import load_statement
from qa.service import StatementService
from tests.test_discord_bot import DEFERRED, EPHEMERAL, SAMPLE, Harness, custom_ids, harness_for

pytestmark = pytest.mark.timeout(300)

REPO = Path(__file__).resolve().parents[1]
SAMPLE_FILE = REPO / "bot" / "samples" / f"{SAMPLE}.txt"
NEW_PARAGRAPH = "The Ministers agreed to hold the next Defence Ministerial Meeting in Tokyo in 2027."


def later_edition(*, reword_all: bool = False) -> bytes:
    """The sample a year on: ¶2 and ¶9 dropped, ¶5 reworded (or every paragraph), one new paragraph, renumbered."""
    document = load_statement(SAMPLE_FILE)
    texts = []
    for paragraph in document.paragraphs:
        if paragraph.label in ("2", "9"):
            continue
        text = paragraph.text
        if paragraph.label == "5" or (reword_all and paragraph.label != "preamble"):
            text = text.replace("The Ministers", "The Ministers warmly", 1).replace("welcomed", "applauded", 1)
            text = text if text != paragraph.text else text + " They agreed to keep this under review."
        texts.append(text)
    texts.insert(6, NEW_PARAGRAPH)
    body = "\n".join(f"{i}. {t}" for i, t in enumerate(texts[1:], start=1))
    title = "UK-Japan Defence Ministerial Meeting 2026 – Joint Statement"
    return f"{title}\n\n3 September 2026\n\n{texts[0]}\n\n{body}\n".encode()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StatementService]:
    built = build_service(Settings(data_dir=tmp_path_factory.mktemp("compare-discord-data")))
    built.ensure_corpus()
    yield built
    built.close()


@contextlib.contextmanager
def edition(service: StatementService, name: str, data: bytes) -> Iterator[tuple[str, Any]]:
    report = service.ingest_bytes(data, name=name)
    [change] = report.changes
    try:
        yield change.id, report
    finally:
        service.remove(change.id)


@pytest.fixture
async def harness(service: StatementService, tmp_path: Path) -> Any:
    async with harness_for(service, tmp_path) as ready:
        yield ready


# What is new on ingest --------------------------------------------------------------------------
def test_ingest_names_the_statement_a_new_one_follows(service: StatementService) -> None:
    """The report names the earlier edition and counts new, changed and dropped paragraphs."""
    with edition(service, "uk-japan-2026.txt", later_edition()) as (doc_id, report):
        [item] = report.whats_new
        assert item.document == doc_id
        assert item.previous == SAMPLE
        assert (item.new, item.changed, item.dropped) == (1, 1, 2)
        assert item.unchanged == len(service.paragraph_labels(SAMPLE)) - 3
        assert report.to_json()["whats_new"][0]["previous"] == SAMPLE


# /compare -------------------------------------------------------------------------------------------
async def test_compare_shows_the_summary_then_one_embed_per_change(harness: Harness) -> None:
    """Summary first; a changed paragraph shows ~~deleted~~ **inserted** words and both numbers."""
    with edition(harness.service, "uk-japan-2026.txt", later_edition()) as (doc_id, _report):
        interaction = await harness.slash("compare", {"a": SAMPLE, "b": doc_id})
        ack = await harness.deferred(interaction)
        assert not (ack.get("data") or {}).get("flags", 0) & EPHEMERAL
        [message] = await harness.followups(interaction)
    assert "1 changed · 1 new · 2 dropped" in message["content"]
    titles = [embed["title"] for embed in message["embeds"]]
    assert len(titles) == 4
    [changed] = [e for e in message["embeds"] if "changed" in e["title"]]
    assert changed["title"].startswith("¶4 (was ¶5)")
    assert "~~welcomed~~" in changed["description"]
    assert "**warmly applauded**" in changed["description"]
    assert f"{SAMPLE} ¶5" in changed["footer"]["text"]
    assert any(t.endswith("· new") for t in titles)
    assert sum(t.endswith("· dropped") for t in titles) == 2
    assert not any(i.startswith("sb:m:") for i in custom_ids(harness.fake.original_message(interaction) or {}))


async def test_long_comparisons_continue_behind_a_show_more_button(harness: Harness) -> None:
    """More than ten changes: the first page ends with "Show more", whose click sends the next page."""
    fake = harness.fake
    with edition(harness.service, "uk-japan-2026-all.txt", later_edition(reword_all=True)) as (doc_id, _r):
        interaction = await harness.slash("compare", {"a": SAMPLE, "b": doc_id})
        [first] = await harness.followups(interaction)
        assert 1 < len(first["embeds"]) <= 10
        assert sum(len(e["title"]) + len(e["description"]) + len(e["footer"]["text"]) for e in first["embeds"]) <= 6000
        message = fake.original_message(interaction)
        assert message is not None
        [more] = [i for i in custom_ids(message) if i.startswith("sb:m:")]
        click = fake.component_interaction(more, message=message)
        await fake.dispatch("INTERACTION_CREATE", click)
        ack = await fake.wait_for_interaction_callback(click, timeout=3.0)
        assert ack.json["type"] == DEFERRED
        [second] = await harness.followups(click)
    assert second["content"].startswith("Changes, page 2 of 2")
    assert second["embeds"]
    shown = {e["title"] for e in first["embeds"]} | {e["title"] for e in second["embeds"]}
    assert len(shown) == len(first["embeds"]) + len(second["embeds"])  # nothing shown twice


async def test_compare_without_b_says_when_there_is_nothing_to_compare_with(harness: Harness) -> None:
    """With one statement ingested and no b, the bot says it has nothing to compare with, privately."""
    interaction = await harness.slash("compare", {"a": SAMPLE})
    [failure] = await harness.followups(interaction)
    assert failure["flags"] & EPHEMERAL
    assert "no other statement to compare" in failure["content"]


async def test_compare_without_b_uses_the_earlier_edition(harness: Harness) -> None:
    """Without b, a statement is compared with the earlier one it follows."""
    with edition(harness.service, "uk-japan-2026.txt", later_edition()) as (doc_id, _report):
        interaction = await harness.slash("compare", {"a": doc_id})
        [message] = await harness.followups(interaction)
    assert f"`{SAMPLE}`" in message["content"]
    assert "1 changed · 1 new · 2 dropped" in message["content"]


async def test_compare_autocompletes_both_documents(harness: Harness) -> None:
    """Typing in a or b offers matching document ids."""
    fake = harness.fake
    for focused in ("a", "b"):
        typed = fake.autocomplete_interaction("compare", {"a": "uk-ja", "b": "uk-ja"}, focused=focused)
        await fake.dispatch("INTERACTION_CREATE", typed)
        await fake.wait_for_interaction_callback(typed, timeout=3.0)
        assert [c["value"] for c in fake.interaction_state(typed).autocomplete_choices or []] == [SAMPLE]


async def test_ingest_reply_says_what_is_new(harness: Harness) -> None:
    """/ingest of a later edition replies with the statement it follows and the paragraph counts."""
    fake = harness.fake
    attachment = fake.add_attachment("uk-japan-2026.txt", later_edition(), content_type="text/plain")
    try:
        interaction = await harness.slash("ingest", {"file": attachment}, user=fake.admin)
        [summary] = await harness.followups(interaction, timeout=60)
    finally:
        for record in harness.service.documents():
            if record.id != SAMPLE:
                harness.service.remove(record.id)
    assert f"since `{SAMPLE}`" in summary["content"]
    assert "1 new, 1 changed, 2 dropped" in summary["content"]
