"""Streamed answers on Discord: the real client, the real service with an LLM answerer over a slow fake model.

The model writes its answer a few words at a time with pauses, so the bot shows a preview
that it edits at most once per `limits.MIN_EDIT_INTERVAL_S`, then replaces it with the
checked answer (citations verified, invented sentences and markers removed). With the
default extractive answerer nothing is streamed: the answer is one followup, as before.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from bot.discord import limits
from bot.discord.answering import Answering
from bot.discord.app import create_bot
from bot.discord.formatting import FALLBACK_MARK, answer_messages
from bot.discord.replies import WRITING_MARK
from bot.runtime import build_service
from bot.settings import Settings
from qa.citations import FALLBACK_BACKEND
from qa.llm import LLMAnswerer
from qa.service import StatementService
from qa.types import Answer
from tests.fake_discord import FakeDiscord, RecordedRequest, run_client
from vectorstore.embeddings import Embedder

pytestmark = pytest.mark.timeout(60)

QUESTION = "By when should the first GCAP contract with Edgewing be concluded?"
GOOD = (
    "The Ministers reaffirmed their commitment to conclude the first international contract "
    "between GIGO and Edgewing by the end of 2025 [¶12]."
)
INVENTED = "The Ministers also agreed to build a joint base on the Moon by 2030 [¶99]."
CHUNK_DELAY_S = 0.3  # a dozen or more chunks: several seconds of writing, so several preview edits
EDIT_SPACING_S = limits.MIN_EDIT_INTERVAL_S - 0.1  # request arrival jitter on a loaded machine


# Fakes at the edge: a chat model that writes slowly ------------------------------------------
class SlowModel(BaseChatModel):
    """Streams `text` a few words per chunk, sleeping between chunks; swears in the chunks if asked."""

    text: str = GOOD
    delay_s: float = CHUNK_DELAY_S
    words_per_chunk: int = 2
    prefix: str = ""  # streamed first (e.g. a ping attempt), never part of the final text

    @property
    def _llm_type(self) -> str:
        return "slow-fake"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **_: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.prefix + self.text))])

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **_: Any
    ) -> Iterator[ChatGenerationChunk]:
        words = (self.prefix + self.text).split(" ")
        for start in range(0, len(words), self.words_per_chunk):
            if start:
                time.sleep(self.delay_s)
            chunk = " ".join(words[start : start + self.words_per_chunk])
            yield ChatGenerationChunk(message=AIMessageChunk(content=chunk if start == 0 else f" {chunk}"))


class RecordingService:
    """The real service (every other call goes to it); remembers each checked Answer it streamed."""

    def __init__(self, service: StatementService) -> None:
        self.service = service
        self.finals: list[Answer] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.service, name)

    def ask_stream(self, question: str, **kwargs: Any) -> Iterator[str | Answer]:
        events = self.service.ask_stream(question, **kwargs)

        def recorded() -> Iterator[str | Answer]:
            for event in events:
                if isinstance(event, Answer):
                    self.finals.append(event)
                yield event

        return recorded()


class TimedRequests(list[RecordedRequest]):
    """FakeDiscord.requests that also notes when each request arrived (monotonic seconds)."""

    def __init__(self, existing: list[RecordedRequest]) -> None:
        super().__init__(existing)
        self.arrived: dict[int, float] = {}

    def append(self, record: RecordedRequest) -> None:
        self.arrived[record.index] = time.monotonic()
        super().append(record)


# Fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[StatementService]:
    built = build_service(Settings(data_dir=tmp_path_factory.mktemp("streaming-data")), embedder=embedder)
    built.ensure_corpus()
    yield built
    built.close()


def llm_service(base: StatementService, model: BaseChatModel) -> RecordingService:
    """The same store and retrieval, answered by the real LLMAnswerer over `model`."""
    answerer = LLMAnswerer(model, retriever=base.retriever, extractive=base.answerer, backend="fake", timeout_s=20.0)  # type: ignore[arg-type]
    return RecordingService(base.with_answerer(answerer))


@dataclass
class Bot:
    fake: FakeDiscord
    requests: TimedRequests


@contextlib.asynccontextmanager
async def bot_for(service: StatementService, data_dir: Path) -> AsyncIterator[Bot]:
    async with FakeDiscord() as fake, fake.patch_client_endpoints():
        settings = Settings(data_dir=data_dir, discord_guild_id=fake.guild.id, discord_cooldown_s=0)
        timed = TimedRequests(fake.requests)
        fake.requests = timed
        async with run_client(create_bot(settings, service, None, guild_ready_timeout=0.05), fake):
            yield Bot(fake, timed)
        assert not fake.unhandled_requests, "the bot called routes Discord does not have"
        for request in fake.requests:  # no payload could ever ping anyone
            body = request.json if isinstance(request.json, dict) else {}
            if request.path.endswith("/callback"):
                body = body.get("data") or {}
            if request.method in ("POST", "PATCH") and ("content" in body or "embeds" in body):
                mentions = body.get("allowed_mentions")
                assert mentions is not None, request
                assert mentions["parse"] == [], request
                assert not mentions.get("users"), request
                assert not mentions.get("roles"), request
                assert not mentions.get("replied_user"), request


async def asked(bot: Bot, question: str = QUESTION) -> tuple[dict[str, Any], list[RecordedRequest]]:
    """Run /ask until the final answer replaced the preview; the interaction and the edits of @original."""
    fake = bot.fake
    interaction = fake.slash_command_interaction("ask", {"question": question})
    await fake.dispatch("INTERACTION_CREATE", interaction)
    original = f"/webhooks/{fake.application_id}/{interaction['token']}/messages/@original"

    def final_edit(request: RecordedRequest) -> bool:
        return request.status == 200 and "embeds" in (request.json or {})

    await fake.wait_for_request("PATCH", original, predicate=final_edit, timeout=30)
    return interaction, fake.requests_matching("PATCH", original)


def assert_spaced(bot: Bot, edits: list[RecordedRequest]) -> None:
    times = [bot.requests.arrived[r.index] for r in edits]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= EDIT_SPACING_S for gap in gaps), gaps


# Tests --------------------------------------------------------------------------------------------
async def test_ask_streams_a_preview_then_the_checked_answer(base: StatementService, tmp_path: Path) -> None:
    """Edits of the deferred original are ≥ 1 s apart; the last one is the checked, cited answer."""
    service = llm_service(base, SlowModel(prefix="@everyone <@123456> "))
    started = time.monotonic()
    async with bot_for(service, tmp_path) as bot:
        interaction, edits = await asked(bot)
        previews, final = edits[:-1], edits[-1]
        assert len(previews) >= 2, edits  # the model wrote for seconds: the answer was shown while written
        assert_spaced(bot, edits)
        for preview in previews:
            content = preview.json["content"]
            assert content.endswith(WRITING_MARK)
            assert len(content) <= limits.MAX_CONTENT
            assert "@everyone" not in content
            assert "<@123456>" not in content
            assert not preview.json.get("embeds")
            assert not preview.json.get("components")
        assert "everyone" in previews[0].json["content"]  # shown, but it can never ping
        # The preview grows as the model writes.
        assert len(previews[-1].json["content"]) > len(previews[0].json["content"])

        (answer,) = service.finals
        assert not answer.abstained
        assert [c.label for c in answer.citations] == ["12"]
        assert "[¶12]" in answer.text
        assert "@" not in answer.text
        expected = answer_messages(answer)[0]
        assert final.json["content"] == expected.content
        assert WRITING_MARK not in final.json["content"]
        assert any("¶12" in e["title"] for e in final.json["embeds"])
        message = bot.fake.original_message(interaction)
        assert message is not None
        assert message["content"] == expected.content
        assert message["components"], "the final answer carries its Show paragraph button"
        # Nothing else was posted: the preview message became the answer.
        followups = bot.fake.requests_matching("POST", f"/webhooks/{bot.fake.application_id}/{interaction['token']}")
        assert not followups
    assert time.monotonic() - started < 20


async def test_invented_sentence_and_marker_are_gone_from_the_final_message(
    base: StatementService, tmp_path: Path
) -> None:
    """The preview may show what the model wrote; the final message drops the unsupported sentence and [¶99]."""
    service = llm_service(base, SlowModel(text=f"{GOOD} {INVENTED}", words_per_chunk=4))
    async with bot_for(service, tmp_path) as bot:
        _, edits = await asked(bot)
        assert_spaced(bot, edits)
        final = edits[-1].json["content"]
        (answer,) = service.finals
        assert answer.checked.removed_sentences == 1
        assert answer.checked.removed_citations == 1
        assert final == answer_messages(answer)[0].content
        assert "Moon" not in final
        assert "¶99" not in final
        assert "[¶12]" in final
        assert FALLBACK_MARK not in final


async def test_mention_streams_in_its_thread(base: StatementService, tmp_path: Path) -> None:
    """A mention's answer is posted as a preview in the new thread, edited ≥ 1 s apart, then made final."""
    service = llm_service(base, SlowModel(delay_s=0.25))
    async with bot_for(service, tmp_path) as bot:
        fake = bot.fake
        question = fake.message_create(QUESTION, mention_bot=True)
        await fake.dispatch("MESSAGE_CREATE", question)
        created = await fake.wait_for_request(
            "POST", f"/channels/{fake.guild.text_channel.id}/messages/{question['id']}/threads"
        )
        thread_id = int(created.response["id"])
        posted = await fake.wait_for_request("POST", f"/channels/{thread_id}/messages", status=200, timeout=20)
        assert posted.json["content"].endswith(WRITING_MARK)
        path = f"/channels/{thread_id}/messages/{posted.response['id']}"
        await fake.wait_for_request("PATCH", path, predicate=lambda r: "embeds" in (r.json or {}), timeout=30)
        edits = [posted, *fake.requests_matching("PATCH", path)]
        assert len(edits) >= 3
        assert_spaced(bot, edits)
        (answer,) = service.finals
        assert edits[-1].json["content"] == answer_messages(answer)[0].content
        assert len(fake.requests_matching("POST", f"/channels/{thread_id}/messages")) == 1


async def test_model_failure_mid_stream_shows_the_fallback_marker(base: StatementService, tmp_path: Path) -> None:
    """A model that dies after a preview: the final message is the extractive answer, marked as a fallback."""

    class Dying(SlowModel):
        def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
            chunks = super()._stream(*args, **kwargs)
            for _ in range(5):
                yield next(chunks)
            raise ConnectionError("the model server went away")

    service = llm_service(base, Dying())
    async with bot_for(service, tmp_path) as bot:
        _, edits = await asked(bot)
        assert len(edits) >= 2
        assert_spaced(bot, edits)
        (answer,) = service.finals
        assert answer.backend == FALLBACK_BACKEND
        assert FALLBACK_MARK in edits[-1].json["content"]


async def test_without_an_llm_nothing_is_streamed(base: StatementService, tmp_path: Path) -> None:
    """The extractive answerer: one deferral, one followup with the answer, no edit of the original."""
    async with bot_for(base, tmp_path) as bot:
        fake = bot.fake
        interaction = fake.slash_command_interaction("ask", {"question": QUESTION})
        await fake.dispatch("INTERACTION_CREATE", interaction)
        followup = await fake.wait_for_followup(interaction, timeout=20)
        assert "[¶12]" in followup.json["content"]
        assert not fake.requests_matching("PATCH", "/webhooks/{app}/{token}/messages/{mid}")


def test_streaming_is_decided_by_the_answerer(base: StatementService) -> None:
    assert not Answering(base, None).streams
    assert Answering(llm_service(base, SlowModel()), None).streams
