"""The Discord bot, end to end: the real discord.py client, the real StatementService, a fake Discord.

The service is built once for the module on a temporary data directory with the bundled sample
statement; every test starts its own bot against its own `FakeDiscord` on 127.0.0.1 and asserts
on what the bot sent to Discord.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.discord.app import create_bot, install_redaction, serve
from bot.discord.client import StatementBot
from bot.discord.formatting import ZERO_WIDTH_SPACE
from bot.feedback import FeedbackStore
from bot.runtime import build_service
from bot.settings import Settings
from prompts import ABSTAIN_PHRASE
from qa.service import StatementService
from tests.fake_discord import INTENT_MESSAGE_CONTENT, FakeDiscord, FakeUser, RecordedRequest, run_client
from vectorstore.embeddings import Embedder

pytestmark = pytest.mark.timeout(120)  # the first test also builds the service (model load, ingest)

SAMPLE = "uk-japan-defence-ministerial-2025"
ADMIN_ROLE = "Statement Admins"
EPHEMERAL = 1 << 6
DEFERRED = 5
MESSAGE = 4

EXTRA_STATEMENT = b"""Discord Test Statement on Fisheries

1 March 2025

1. The Ministers agreed to protect coastal fisheries and to share catch data every season.
2. Dear @everyone, the Ministers noted that <@123456> must never be pinged by a quoted paragraph.
"""


# Fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[StatementService]:
    built = build_service(Settings(data_dir=tmp_path_factory.mktemp("statementbot-data")), embedder=embedder)
    built.ensure_corpus()
    yield built
    built.close()


@dataclass
class Harness:
    fake: FakeDiscord
    bot: StatementBot
    service: StatementService
    editor: FakeUser  # holds the admin role named in settings, without Manage Server
    data_dir: Path

    async def slash(self, name: str, options: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        interaction = self.fake.slash_command_interaction(name, options, **kwargs)
        await self.fake.dispatch("INTERACTION_CREATE", interaction)
        return interaction

    async def deferred(self, interaction: dict[str, Any]) -> dict[str, Any]:
        """The acknowledgement body, which must be a deferral within Discord's 3 s."""
        callback = await self.fake.wait_for_interaction_callback(interaction, timeout=3.0)
        assert callback.json["type"] == DEFERRED
        return callback.json

    async def followups(
        self, interaction: dict[str, Any], count: int = 1, timeout: float = 20.0
    ) -> list[dict[str, Any]]:
        """The bodies of the first `count` followups (the answer), waiting for the pipeline."""
        last = await self.fake.wait_for_followup(interaction, nth=count - 1, timeout=timeout)
        sent = self.fake.requests_matching(
            "POST", f"/webhooks/{self.fake.application_id}/{interaction['token']}", predicate=lambda r: r.status == 200
        )
        assert last in sent
        return [r.json for r in sent]

    def stored_documents(self) -> set[str]:
        return {record.id for record in self.service.documents()}


def message_bodies(fake: FakeDiscord) -> Iterator[tuple[RecordedRequest, dict[str, Any]]]:
    """Every message body the bot sent: channel messages, followups, edits, callback messages."""
    for request in fake.requests:
        if request.method not in ("POST", "PATCH") or not isinstance(request.json, dict):
            continue
        body = request.json.get("data") if request.path.endswith("/callback") else request.json
        if isinstance(body, dict) and ("content" in body or "embeds" in body):
            yield request, body


@contextlib.asynccontextmanager
async def harness_for(service: StatementService, data_dir: Path, **overrides: Any) -> AsyncIterator[Harness]:
    async with FakeDiscord() as fake, fake.patch_client_endpoints():
        editor = fake.add_user("editor", roles=[fake.add_role(ADMIN_ROLE, 0)])
        settings = Settings(
            data_dir=data_dir,
            discord_guild_id=fake.guild.id,
            discord_cooldown_s=overrides.pop("discord_cooldown_s", 0),
            discord_admin_role=ADMIN_ROLE,
            **overrides,
        )
        feedback = FeedbackStore.in_data_dir(data_dir)
        bot = create_bot(settings, service, feedback, guild_ready_timeout=0.05)
        try:
            async with run_client(bot, fake):
                yield Harness(fake, bot, service, editor, data_dir)
        finally:
            feedback.close()
        assert not fake.unhandled_requests, "the bot called routes Discord does not have"
        # Whatever the test did: no payload could ever ping anyone.
        bodies = list(message_bodies(fake))
        for request, body in bodies:
            mentions = body.get("allowed_mentions")
            assert mentions is not None, request
            assert mentions["parse"] == [], request
            assert not mentions.get("users"), request
            assert not mentions.get("roles"), request
            assert not mentions.get("replied_user"), request
        assert fake.token not in json.dumps([body for _, body in bodies])


@pytest.fixture
async def harness(service: StatementService, tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness_for(service, tmp_path) as ready:
        yield ready


@contextlib.contextmanager
def extra_document(service: StatementService, name: str, data: bytes) -> Iterator[str]:
    """A second statement for one test, removed afterwards so other tests see the sample only."""
    report = service.ingest_bytes(data, name=name)
    [change] = report.changes
    try:
        yield change.id
    finally:
        if change.id in {r.id for r in service.documents()}:
            service.remove(change.id)


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components", []) for c in row["components"]]


# /ask -----------------------------------------------------------------------------------------
async def test_ask_defers_then_answers_with_cited_embeds(harness: Harness) -> None:
    """/ask is acknowledged at once, then answered publicly with [¶N] and one embed per citation."""
    interaction = await harness.slash("ask", {"question": "What do the ministers say about cyber?"})
    ack = await harness.deferred(interaction)
    assert not (ack.get("data") or {}).get("flags", 0) & EPHEMERAL
    [answer] = await harness.followups(interaction)
    assert "[¶10]" in answer["content"]
    assert "cyber" in answer["content"].lower()
    assert any("¶10" in embed["title"] for embed in answer["embeds"])
    assert all(embed["description"].startswith("> ") for embed in answer["embeds"])
    message = harness.fake.original_message(interaction)
    assert message is not None
    assert not message["flags"] & EPHEMERAL
    ids = custom_ids(message)
    assert f"sb:p:{SAMPLE}:10" in ids
    assert any(i.startswith("sb:v:up:") for i in ids)
    assert any(i.startswith("sb:v:down:") for i in ids)


async def test_answer_buttons_show_the_paragraph_and_record_votes(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    """ "Show paragraph" answers ephemerally with the whole paragraph; 👍 is stored and exported."""
    fake = harness.fake
    asked = await harness.slash("ask", {"question": "What do the ministers say about space?"})
    await harness.followups(asked)
    message = fake.original_message(asked)
    assert message is not None
    show = next(i for i in custom_ids(message) if i.startswith("sb:p:"))
    click = fake.component_interaction(show, message=message)
    await fake.dispatch("INTERACTION_CREATE", click)
    ack = await fake.wait_for_interaction_callback(click, timeout=3.0)
    assert ack.json["type"] == DEFERRED
    assert ack.json["data"]["flags"] & EPHEMERAL
    [shown] = await harness.followups(click)
    doc_id, label = show.split(":")[2:]
    paragraph = harness.service.source(doc_id, label)
    assert shown["embeds"][0]["description"].replace("\\", "") == paragraph.text
    assert fake.original_message(click)["flags"] & EPHEMERAL  # type: ignore[index]

    up = next(i for i in custom_ids(message) if i.startswith("sb:v:up:"))
    vote = fake.component_interaction(up, message=message)
    await fake.dispatch("INTERACTION_CREATE", vote)
    [thanks] = await harness.followups(vote)
    assert "👍" in thanks["content"]
    assert fake.original_message(vote)["flags"] & EPHEMERAL  # type: ignore[index]

    output = harness.data_dir / "feedback.jsonl"
    assert main(["--data-dir", str(harness.data_dir), "feedback", "export", "-o", str(output)]) == 0
    [row] = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert row["vote"] == "up"
    assert row["question"] == "What do the ministers say about space?"
    assert row["citations"][0]["paragraph"] == label
    assert str(fake.member.id) not in json.dumps(row)
    assert "Exported 1 vote" in capsys.readouterr().err


async def test_abstention_shows_the_closest_passages(harness: Harness) -> None:
    """A question the statements don't cover says so and still shows the nearest paragraphs."""
    interaction = await harness.slash("ask", {"question": "What is the capital of Peru?"})
    [answer] = await harness.followups(interaction)
    assert answer["content"].startswith(ABSTAIN_PHRASE)
    assert "Closest passages" in answer["content"]
    assert answer["embeds"]


async def test_long_answers_split_at_the_content_limit(harness: Harness) -> None:
    """A 2,000-character answer is one message; 2,001 characters become two, markers intact."""
    # An exact paragraph reference answers with the paragraph plus " [discord-long ¶N]" (18 chars).
    first = ("The Ministers agreed on item one. " * 60)[:1981].rstrip() + "."
    second = ("The Ministers agreed on item two. " * 60)[:1982].rstrip() + "."
    text = f"Long Statement\n\n1 March 2025\n\n1. {first}\n2. {second}\n".encode()
    with extra_document(harness.service, "discord-long.txt", text) as doc_id:
        assert doc_id == "discord-long"
        assert len(harness.service.source(doc_id, "1").text) == 1982
        one = await harness.slash("ask", {"question": "paragraph 1", "document": doc_id})
        [single] = await harness.followups(one)
        assert len(single["content"]) == 2000
        assert single["content"].endswith("[discord-long ¶1]")
        two = await harness.slash("ask", {"question": "paragraph 2", "document": doc_id})
        parts = await harness.followups(two, count=2)
        assert all(len(p["content"]) <= 2000 for p in parts)
        assert " ".join(p["content"] for p in parts) == f"{harness.service.source(doc_id, '2').text} [discord-long ¶2]"
        assert parts[-1]["embeds"]


async def test_question_over_the_length_cap_is_refused_ephemerally(harness: Harness) -> None:
    """A question longer than max_question_chars gets an immediate, polite, private refusal."""
    interaction = await harness.slash("ask", {"question": "Why? " * 300})
    callback = await harness.fake.wait_for_interaction_callback(interaction, timeout=3.0)
    assert callback.json["type"] == MESSAGE
    assert callback.json["data"]["flags"] & EPHEMERAL
    assert "characters long" in callback.json["data"]["content"]


async def test_cooldown_refuses_a_second_question_politely(service: StatementService, tmp_path: Path) -> None:
    """Within the per-user cooldown a second /ask gets an ephemeral "one moment" message."""
    async with harness_for(service, tmp_path, discord_cooldown_s=60) as harness:
        first = await harness.slash("ask", {"question": "What do the ministers say about Ukraine?"})
        await harness.deferred(first)
        second = await harness.slash("ask", {"question": "And about Taiwan?"})
        callback = await harness.fake.wait_for_interaction_callback(second, timeout=3.0)
        assert callback.json["type"] == MESSAGE
        assert callback.json["data"]["flags"] & EPHEMERAL
        assert "ask again in" in callback.json["data"]["content"]
        await harness.followups(first)


async def test_internal_error_is_a_short_ephemeral_with_a_trace_id(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected failure: the public "thinking" message goes, the user alone sees a trace id."""
    caplog.set_level(logging.DEBUG)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("chroma exploded")

    monkeypatch.setattr(harness.service, "ask", broken)
    interaction = await harness.slash("ask", {"question": "What do the ministers say about cyber?"})
    await harness.deferred(interaction)
    [failure] = await harness.followups(interaction)
    assert failure["flags"] & EPHEMERAL
    trace = re.search(r"trace id `([0-9a-f]{8})`", failure["content"])
    assert trace is not None
    assert "Traceback" not in failure["content"]
    assert "chroma exploded" not in failure["content"]
    assert harness.fake.requests_matching("DELETE", "/webhooks/{app}/{token}/messages/@original")
    [logged] = [r for r in caplog.records if trace.group(1) in r.getMessage()]
    assert logged.levelno == logging.ERROR
    assert logged.exc_info is not None
    assert harness.fake.token not in caplog.text


async def test_rate_limited_followup_is_retried(harness: Harness) -> None:
    """A 429 on the answer is waited out and the answer still arrives."""
    harness.fake.rate_limit("POST", "/webhooks/{app}/{token}", times=1, retry_after=0.1)
    interaction = await harness.slash("ask", {"question": "What do the ministers say about cyber?"})
    [answer] = await harness.followups(interaction)
    assert "[¶10]" in answer["content"]
    attempts = harness.fake.requests_matching("POST", f"/webhooks/{harness.fake.application_id}/{interaction['token']}")
    assert [a.status for a in attempts] == [429, 200]


# Reading ------------------------------------------------------------------------------------------
async def test_source_shows_the_paragraph_verbatim(harness: Harness) -> None:
    """/source shows the whole paragraph with its document title and label."""
    interaction = await harness.slash("source", {"document": SAMPLE, "paragraph": "13"})
    await harness.deferred(interaction)
    [shown] = await harness.followups(interaction)
    [embed] = shown["embeds"]
    assert "¶13" in embed["title"]
    assert embed["description"].replace("\\", "") == harness.service.source(SAMPLE, "13").text


async def test_source_of_an_unknown_paragraph_says_what_to_do(harness: Harness) -> None:
    """A bad label is a private message with a hint, not a public error."""
    interaction = await harness.slash("source", {"document": SAMPLE, "paragraph": "99"})
    [failure] = await harness.followups(interaction)
    assert failure["flags"] & EPHEMERAL
    assert "99" in failure["content"]


async def test_documents_lists_what_is_ingested(harness: Harness) -> None:
    """/documents gives title, date and paragraph count, privately; one page needs no page buttons."""
    interaction = await harness.slash("documents")
    [listing] = await harness.followups(interaction)
    [embed] = listing["embeds"]
    assert "UK-Japan Defence Ministerial Meeting 2025" in embed["description"]
    assert "2025-08-28" in embed["description"]
    assert "17 paragraphs" in embed["description"]
    assert "page 1 of 1 (1 statement)" in listing["content"]
    assert not listing.get("components")
    assert harness.fake.original_message(interaction)["flags"] & EPHEMERAL  # type: ignore[index]


async def test_autocomplete_suggests_documents_and_paragraph_labels(harness: Harness) -> None:
    """Typing a document or a label offers the matching ids and labels."""
    fake = harness.fake
    documents = fake.autocomplete_interaction("source", {"document": "uk-ja", "paragraph": ""}, focused="document")
    await fake.dispatch("INTERACTION_CREATE", documents)
    callback = await fake.wait_for_interaction_callback(documents, timeout=3.0)
    assert callback.json["type"] == 8
    assert [c["value"] for c in fake.interaction_state(documents).autocomplete_choices or []] == [SAMPLE]
    labels = fake.autocomplete_interaction("source", {"document": SAMPLE, "paragraph": "1"}, focused="paragraph")
    await fake.dispatch("INTERACTION_CREATE", labels)
    await fake.wait_for_interaction_callback(labels, timeout=3.0)
    choices = fake.interaction_state(labels).autocomplete_choices or []
    assert [c["value"] for c in choices] == ["1", "10", "11", "12", "13", "14", "15", "16"]
    assert choices[0]["name"] == "¶1"


# Admin ----------------------------------------------------------------------------------------
async def test_non_admin_ingest_is_refused_and_nothing_is_ingested(harness: Harness) -> None:
    """An ordinary member's /ingest is refused privately; the file is never even downloaded."""
    before = harness.stored_documents()
    attachment = harness.fake.add_attachment("discord-test-statement.txt", EXTRA_STATEMENT, content_type="text/plain")
    interaction = await harness.slash("ingest", {"file": attachment})
    callback = await harness.fake.wait_for_interaction_callback(interaction, timeout=3.0)
    assert callback.json["type"] == MESSAGE
    assert callback.json["data"]["flags"] & EPHEMERAL
    assert "Only server admins" in callback.json["data"]["content"]
    assert harness.stored_documents() == before
    assert not [r for r in harness.fake.requests if r.is_cdn]


async def test_admin_ingests_an_attachment_then_removes_it(harness: Harness) -> None:
    """An admin's /ingest answers with the summary; /remove by the admin role undoes it."""
    fake = harness.fake
    attachment = fake.add_attachment("discord-test-statement.txt", EXTRA_STATEMENT, content_type="text/plain")
    try:
        interaction = await harness.slash("ingest", {"file": attachment}, user=fake.admin)
        ack = await harness.deferred(interaction)
        assert ack["data"]["flags"] & EPHEMERAL
        [summary] = await harness.followups(interaction, timeout=60)
        assert "1 added" in summary["content"]
        assert "`discord-test-statement`" in summary["content"]
        assert [r for r in fake.requests if r.is_cdn and r.status == 200]
        assert "discord-test-statement" in harness.stored_documents()

        shown = await harness.slash("source", {"document": "discord-test-statement", "paragraph": "2"})
        [paragraph] = await harness.followups(shown)
        description = paragraph["embeds"][0]["description"]
        assert "@everyone" not in description
        assert f"@{ZERO_WIDTH_SPACE}everyone" in description
        assert "<@123456>" not in description

        refused = await harness.slash("remove", {"document": "discord-test-statement"})
        callback = await fake.wait_for_interaction_callback(refused, timeout=3.0)
        assert callback.json["type"] == MESSAGE
        assert "discord-test-statement" in harness.stored_documents()

        removal = await harness.slash("remove", {"document": "discord-test-statement"}, user=harness.editor)
        [removed] = await harness.followups(removal)
        assert "1 removed" in removed["content"]
        assert "discord-test-statement" not in harness.stored_documents()
    finally:
        if "discord-test-statement" in harness.stored_documents():
            harness.service.remove("discord-test-statement")


async def test_ingest_by_url_is_refused_unless_the_host_allows_it(harness: Harness) -> None:
    """With URL fetching off (the default) an admin's URL is refused with what to do instead."""
    interaction = await harness.slash("ingest", {"url": "https://example.org/statement.html"}, user=harness.fake.admin)
    callback = await harness.fake.wait_for_interaction_callback(interaction, timeout=3.0)
    assert callback.json["data"]["flags"] & EPHEMERAL
    assert "Attach the file instead" in callback.json["data"]["content"]


# Mentions and threads -----------------------------------------------------------------------------
async def test_mention_answers_in_a_thread_and_follow_ups_use_its_history(harness: Harness) -> None:
    """@bot question → a thread from that message with the answer; a follow-up there keeps the topic."""
    fake = harness.fake
    question = fake.message_create("@everyone What do the ministers say about cyber?", mention_bot=True)
    await fake.dispatch("MESSAGE_CREATE", question)
    channel_id = fake.guild.text_channel.id
    created = await fake.wait_for_request("POST", f"/channels/{channel_id}/messages/{question['id']}/threads")
    assert "@everyone" not in created.json["name"]
    thread_id = int(created.response["id"])
    path = f"/channels/{thread_id}/messages"
    first = await fake.wait_for_request("POST", path, status=200, timeout=20)
    assert "[¶10]" in first.json["content"]
    assert any("¶10" in e["title"] for e in first.json["embeds"])

    since = fake.mark()
    await fake.dispatch("MESSAGE_CREATE", fake.message_create("and what about space?", channel_id=thread_id))
    follow_up = await fake.wait_for_request("POST", path, status=200, since=since, timeout=20)
    assert any("¶13" in e["title"] for e in follow_up.json["embeds"])
    assert not fake.requests_matching("POST", "/channels/{cid}/messages/{mid}/threads", since=since)


async def test_messages_in_ordinary_channels_are_ignored(harness: Harness) -> None:
    """Without a mention, chatter in a channel gets no answer; the bot still answers a mention after it."""
    fake = harness.fake
    await fake.dispatch("MESSAGE_CREATE", fake.message_create("what about cyber?"))
    mention = fake.message_create("", mention_bot=True)
    await fake.dispatch("MESSAGE_CREATE", mention)
    hint = await fake.wait_for_request("POST", f"/channels/{fake.guild.text_channel.id}/messages", status=200)
    assert "Ask me something" in hint.json["content"]
    assert str(hint.json["message_reference"]["message_id"]) == mention["id"]
    assert len(fake.requests_matching("POST", "/channels/{cid}/messages")) == 1


# Tokens and startup ------------------------------------------------------------------------------
def test_discord_without_a_token_explains_how_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`statementbot discord` with no DISCORD_TOKEN exits non-zero and says where tokens come from."""
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    assert main(["--data-dir", str(tmp_path), "discord"]) != 0
    err = capsys.readouterr().err
    assert "DISCORD_TOKEN" in err
    assert "https://discord.com/developers/applications" in err


async def test_rejected_token_exits_non_zero_without_echoing_it(
    service: StatementService, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A token Discord refuses ends the run with exit 1; neither output nor logs contain it."""
    caplog.set_level(logging.DEBUG)
    wrong = "MTIz.wrong.token-that-must-not-leak"
    async with FakeDiscord() as fake, fake.patch_client_endpoints():
        settings = Settings(data_dir=tmp_path, discord_guild_id=fake.guild.id)
        assert await serve(settings, service, None, wrong, guild_ready_timeout=0.05) == 1
    captured = capsys.readouterr()
    assert "rejected the token" in captured.err
    assert wrong not in captured.err + captured.out + caplog.text


async def test_bot_runs_without_message_content_when_the_portal_has_not_enabled_it(
    service: StatementService, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Discord refuses the privileged intent (4014): the bot reconnects without it and says why."""
    async with FakeDiscord(enabled_privileged_intents=0) as fake, fake.patch_client_endpoints():
        settings = Settings(data_dir=tmp_path, discord_guild_id=fake.guild.id)
        running = asyncio.create_task(serve(settings, service, None, fake.token, guild_ready_timeout=0.05))
        try:
            identify = await fake.wait_for_identify(timeout=10)
            assert not identify["intents"] & INTENT_MESSAGE_CONTENT
            await fake.wait_for_request("PUT", "/applications/{app}/guilds/{guild}/commands", status=200)
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
    assert "Message Content intent is not enabled" in caplog.text


async def test_the_bot_is_warm_before_it_connects(embedder: Embedder, tmp_path: Path) -> None:
    """By the time the bot identifies to Discord its model and caches are loaded (first answer as fast as the rest)."""
    fresh = build_service(Settings(data_dir=tmp_path / "data"), embedder=embedder)
    try:
        assert fresh.warmed_s is None
        async with FakeDiscord() as fake, fake.patch_client_endpoints():
            settings = Settings(data_dir=tmp_path, discord_guild_id=fake.guild.id)
            running = asyncio.create_task(serve(settings, fresh, None, fake.token, guild_ready_timeout=0.05))
            try:
                await fake.wait_for_identify(timeout=60)
                assert fresh.warmed_s is not None
            finally:
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
    finally:
        fresh.close()


def test_log_filter_redacts_the_token_from_messages_and_tracebacks() -> None:
    """Even a record that quotes the token, or a traceback that contains it, is logged redacted."""
    secret = "MTIz.very-secret.token"
    stream = io.StringIO()
    logger = logging.getLogger("statementbot.test-redaction")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.propagate = False
    install_redaction(secret, logger)
    try:
        logger.warning("token is %s", secret)
        try:
            raise RuntimeError(f"bad token {secret}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    assert secret not in stream.getvalue()
    assert stream.getvalue().count("[redacted]") == 2  # the message and the exception text


async def test_follow_up_after_a_restart_reads_the_thread_back(service: StatementService, tmp_path: Path) -> None:
    """After a restart, "Tell me more about it." in an existing thread still knows what "it" is."""
    async with FakeDiscord() as fake, fake.patch_client_endpoints():
        settings = Settings(data_dir=tmp_path, discord_guild_id=fake.guild.id, discord_cooldown_s=0)
        question = fake.message_create("What do the ministers say about cyber?", mention_bot=True)
        async with run_client(create_bot(settings, service, None, guild_ready_timeout=0.05), fake):
            await fake.dispatch("MESSAGE_CREATE", question)
            thread_path = f"/channels/{question['id']}/messages"  # a thread started from a message has its id
            await fake.wait_for_request("POST", thread_path, status=200, timeout=20)

        async with run_client(create_bot(settings, service, None, guild_ready_timeout=0.05), fake):
            since = fake.mark()
            follow = fake.message_create("Tell me more about it.", channel_id=int(question["id"]))
            await fake.dispatch("MESSAGE_CREATE", follow)
            follow_up = await fake.wait_for_request("POST", thread_path, status=200, since=since, timeout=20)
    assert not follow_up.json["content"].startswith(ABSTAIN_PHRASE)
    assert any("¶10" in e["title"] for e in follow_up.json["embeds"])


async def test_admin_ingests_a_url_when_the_host_allows_it(service: StatementService, tmp_path: Path) -> None:
    """With URL fetching on, /ingest url:... downloads the statement and keeps the URL as its source."""
    async with harness_for(service, tmp_path, allow_url_ingest=True) as harness:
        harness.bot.actions.allow_private_urls = True  # the fake Discord CDN is on 127.0.0.1 (see test_url_fetch.py)
        hosted = harness.fake.add_attachment("discord-url-statement.txt", EXTRA_STATEMENT, content_type="text/plain")
        try:
            interaction = await harness.slash("ingest", {"url": hosted["url"]}, user=harness.fake.admin)
            [summary] = await harness.followups(interaction, timeout=60)
            assert "`discord-url-statement`" in summary["content"]
            [record] = [r for r in harness.service.documents() if r.id == "discord-url-statement"]
            assert record.source == hosted["url"]
        finally:
            if "discord-url-statement" in harness.stored_documents():
                harness.service.remove("discord-url-statement")
        refused = await harness.slash("ingest", {"url": "file:///etc/passwd"}, user=harness.fake.admin)
        [failure] = await harness.followups(refused)
        assert failure["flags"] & EPHEMERAL
        assert "not an http(s) address" in failure["content"]


async def test_unreachable_discord_exits_non_zero_with_a_hint(
    service: StatementService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No route to Discord: a one-line explanation and exit 1, not a traceback."""
    fake = FakeDiscord()
    await fake.start()
    with fake.patch_client_endpoints():
        await fake.stop()  # the address stays patched in; nothing listens there any more
        assert await serve(Settings(data_dir=tmp_path), service, None, fake.token) == 1
    err = capsys.readouterr().err
    assert "cannot reach Discord" in err
    assert fake.token not in err


async def test_refused_command_sync_is_explained_and_the_bot_still_runs(
    service: StatementService, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A guild id the bot cannot register commands in: an error log that says what to fix, not a crash."""
    async with FakeDiscord() as fake, fake.patch_client_endpoints():
        settings = Settings(data_dir=tmp_path, discord_guild_id=fake.guild.id + 1)
        async with run_client(create_bot(settings, service, None, guild_ready_timeout=0.05), fake):
            pass
    assert "applications.commands" in caplog.text
    assert "STATEMENTBOT_DISCORD_GUILD_ID" in caplog.text
