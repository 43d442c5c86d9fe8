"""`/documents` pages through the list with "Previous" / "Next", end to end on the real client and fake Discord.

The store holds 45 tiny generated statements, one a day (three pages of 20, newest first),
ingested in one batch into a temporary directory with the shared MiniLM model.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.discord import limits
from bot.discord.app import create_bot
from bot.runtime import build_service
from bot.settings import Settings
from qa.service import StatementService
from tests.fake_discord import FakeDiscord, run_client
from tests.test_discord_bot import EPHEMERAL, Harness, harness_for
from vectorstore.embeddings import Embedder

pytestmark = pytest.mark.timeout(300)  # building the store embeds 45 statements

STATEMENTS = 45
FIRST_DAY = date(2024, 1, 1)
DEFERRED_UPDATE = 6
PAGE_LINE = re.compile(r"page (\d+) of (\d+) \((\d+) statements\)")


def statement_id(number: int) -> str:
    return f"harbour-statement-{number:02d}"


def newest_first() -> list[str]:
    """The ids in the order /documents must show them: the latest date first."""
    return [statement_id(n) for n in range(STATEMENTS, 0, -1)]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[StatementService]:
    folder = tmp_path_factory.mktemp("documents-statements")
    for number in range(1, STATEMENTS + 1):
        day = FIRST_DAY + timedelta(days=number)
        (folder / f"{statement_id(number)}.txt").write_text(
            f"Joint Statement on Harbour Cooperation No. {number}\n\n{day:%d %B %Y}\n\n"
            f"1. The partners agreed to inspect harbour number {number} together.\n"
            f"2. They will report on harbour number {number} within {number} weeks.\n"
        )
    built = build_service(Settings(data_dir=tmp_path_factory.mktemp("documents-data")), embedder=embedder)
    report = built.ingest_paths([folder])
    assert not report.failed
    yield built
    built.close()


@pytest.fixture
async def harness(service: StatementService, tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness_for(service, tmp_path) as ready:
        yield ready


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The message's buttons by caption."""
    return {
        component["label"]: component
        for row in message.get("components") or []
        for component in row.get("components") or []
    }


def listed_ids(message: dict[str, Any]) -> list[str]:
    [embed] = message["embeds"]
    return re.findall(r"\(`([a-z0-9-]+)`\)", embed["description"])


def page_line(message: dict[str, Any]) -> tuple[int, int, int]:
    found = PAGE_LINE.search(message["content"])
    assert found is not None, message["content"]
    return int(found[1]), int(found[2]), int(found[3])


async def press(fake: FakeDiscord, message: dict[str, Any], caption: str) -> dict[str, Any]:
    """Click a button of `message`; the same message, as the bot left it after the edit."""
    button = buttons(message)[caption]
    assert not button.get("disabled"), f"{caption} is disabled"
    since = fake.mark()
    click = fake.component_interaction(button["custom_id"], message=message)
    await fake.dispatch("INTERACTION_CREATE", click)
    ack = await fake.wait_for_interaction_callback(click, timeout=3.0)
    assert ack.json["type"] == DEFERRED_UPDATE  # no "thinking…" message: the page itself is replaced
    edit = f"/webhooks/{fake.application_id}/{click['token']}/messages/@original"
    await fake.wait_for_request("PATCH", edit, status=200, since=since, timeout=20)
    return fake.messages[int(message["id"])]


async def first_page(harness: Harness) -> dict[str, Any]:
    interaction = await harness.slash("documents")
    await harness.followups(interaction)
    message = harness.fake.original_message(interaction)
    assert message is not None
    # One message: the list is no longer a stream of text messages.
    assert harness.fake.interaction_state(interaction).followup_ids == [int(message["id"])]
    return message


async def test_documents_shows_the_first_page_with_its_pager(harness: Harness) -> None:
    """One private message: the 20 newest statements, "page 1 of 3 (45 statements)", Previous disabled."""
    message = await first_page(harness)
    assert message["flags"] & EPHEMERAL
    assert page_line(message) == (1, 3, STATEMENTS)
    assert listed_ids(message) == newest_first()[: limits.DOCUMENTS_PER_PAGE]
    description = message["embeds"][0]["description"]
    assert f"Joint Statement on Harbour Cooperation No. {STATEMENTS} (`{statement_id(STATEMENTS)}`)" in description
    assert f"{FIRST_DAY + timedelta(days=STATEMENTS)} · 2 paragraphs" in description
    pager = buttons(message)
    assert set(pager) == {"◀ Previous", "Next ▶"}
    assert pager["◀ Previous"].get("disabled") is True
    assert not pager["Next ▶"].get("disabled")


async def test_next_to_the_last_page_then_back_to_the_first(harness: Harness) -> None:
    """Next, Next: page 3 holds the 5 oldest and Next is disabled; Previous twice gives page 1 again."""
    fake = harness.fake
    first = await first_page(harness)
    second = await press(fake, first, "Next ▶")
    assert second["id"] == first["id"]  # the same message, edited
    assert page_line(second) == (2, 3, STATEMENTS)
    assert listed_ids(second) == newest_first()[20:40]
    assert not buttons(second)["◀ Previous"].get("disabled")
    assert not buttons(second)["Next ▶"].get("disabled")

    last = await press(fake, second, "Next ▶")
    assert page_line(last) == (3, 3, STATEMENTS)
    assert listed_ids(last) == newest_first()[40:]
    assert buttons(last)["Next ▶"].get("disabled") is True
    assert not buttons(last)["◀ Previous"].get("disabled")

    back = await press(fake, await press(fake, last, "◀ Previous"), "◀ Previous")
    assert page_line(back) == (1, 3, STATEMENTS)
    assert listed_ids(back) == listed_ids(first)
    assert buttons(back)["◀ Previous"].get("disabled") is True


async def test_page_buttons_still_work_after_a_restart(service: StatementService, tmp_path: Path) -> None:
    """A page sent before the bot restarted turns with the new bot: the page is in the button's id."""
    async with FakeDiscord() as fake, fake.patch_client_endpoints():
        settings = Settings(data_dir=tmp_path, discord_guild_id=fake.guild.id, discord_cooldown_s=0)
        async with run_client(create_bot(settings, service, None, guild_ready_timeout=0.05), fake):
            interaction = fake.slash_command_interaction("documents")
            await fake.dispatch("INTERACTION_CREATE", interaction)
            await fake.wait_for_followup(interaction, timeout=20)
        message = fake.original_message(interaction)
        assert message is not None
        assert page_line(message)[0] == 1

        async with run_client(create_bot(settings, service, None, guild_ready_timeout=0.05), fake):
            turned = await press(fake, message, "Next ▶")
        assert page_line(turned) == (2, 3, STATEMENTS)
        assert listed_ids(turned) == newest_first()[20:40]
        assert not fake.unhandled_requests


async def test_a_page_past_the_end_shows_the_last_page(harness: Harness) -> None:
    """A button naming a page that no longer exists (statements removed since) shows the last one."""
    fake = harness.fake
    message = await first_page(harness)
    stale = dict(message)
    stale["components"] = [
        {"type": 1, "components": [{"type": 2, "style": 2, "label": "Next ▶", "custom_id": "sb:d:9"}]}
    ]
    turned = await press(fake, stale, "Next ▶")
    assert page_line(turned) == (3, 3, STATEMENTS)
    assert listed_ids(turned) == newest_first()[40:]


async def test_documents_opens_at_the_page_asked_for(harness: Harness) -> None:
    """`/documents page:2` opens at page 2; a page past the end opens at the last page."""
    for asked, shown in ((2, 2), (99, 3)):
        interaction = await harness.slash("documents", {"page": asked})
        await harness.followups(interaction)
        message = harness.fake.original_message(interaction)
        assert message is not None
        assert page_line(message) == (shown, 3, STATEMENTS)
        assert listed_ids(message) == newest_first()[(shown - 1) * 20 : shown * 20]
