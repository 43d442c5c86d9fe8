"""Generated answers: what the user finally sees when the model invents, errs, hangs or streams.

Fake chat models (LangChain's, and a scripted one) stand in for the model; the
store, retrieval, extractive answerer and citation check are the real ones,
over the bundled sample statement. The last part drives the real
langchain-openai client against a scripted OpenAI-compatible server on
127.0.0.1 (non-streaming and SSE), including its failures.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from aiohttp import web
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from bot.cli import _cmd_ask
from bot.runtime import build_service
from bot.settings import Settings, SettingsError, load_settings
from prompts import ABSTAIN_PHRASE, FALLBACK_NOTE, LLM_FAILURE_NOTES
from qa.citations import FALLBACK_BACKEND, markers_in
from qa.llm import PROVIDERS, LLMAnswerer, LLMConfig, LLMSetupError, Provider, build_llm_answerer, make_chat_model
from qa.service import AnswerBackend, StatementService
from qa.types import Answer, CheckReport, Conversation
from vectorstore.embeddings import Embedder

ROOT = Path(__file__).resolve().parents[1]
DEV_QUESTIONS = ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"
OWN_QUESTIONS = ROOT / "tests" / "data" / "sample_questions.jsonl"
KAGA = "Which aircraft made a first landing on JS KAGA?"
KAGA_ANSWER = "The Ministers welcomed the first landing of UK F-35B aircraft on JS KAGA [¶5]."
GIGO = "What does GIGO stand for?"
UNANSWERABLE = "Which football team won the 2025 league?"
LLM_TIMEOUT_S = 2.0


# Fakes at the edge: the chat model -----------------------------------------------------------
Reply = str | BaseException | Callable[[list[BaseMessage]], str]


class ScriptedModel(BaseChatModel):
    """Answers each call with the next reply: a text, an exception to raise, or a function of the prompt."""

    replies: list[Any] = Field(default_factory=list)
    delay_s: float = 0.0
    prompts: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    def _next(self, messages: list[BaseMessage]) -> str:
        self.prompts.append(messages)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        time.sleep(self.delay_s)
        if isinstance(reply, BaseException):
            raise reply
        return reply(messages) if callable(reply) else reply

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **_: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self._next(messages)))])

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **_: Any
    ) -> Iterator[ChatGenerationChunk]:
        for index, word in enumerate(self._next(messages).split(" ")):
            yield ChatGenerationChunk(message=AIMessageChunk(content=word if index == 0 else f" {word}"))


# The real service, shared by the module ------------------------------------------------------
class ScriptedOpenAI:
    """An OpenAI-compatible /v1/chat/completions on 127.0.0.1, answering from a script.

    Steps: ("text", s), ("status", code), ("malformed",), ("sleep", seconds, s) and
    ("stall", s, seconds) (streams s, then goes silent). Each request takes the
    next step; the last one repeats.
    """

    def __init__(self) -> None:
        self.script: list[tuple[Any, ...]] = [("text", KAGA_ANSWER)]
        self.requests: list[dict[str, Any]] = []
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        assert ready.wait(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = self.runner.addresses[0][1]
        ready.set()
        self.loop.run_forever()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if step[0] == "status":
            return web.json_response({"error": {"message": "scripted failure", "type": "server_error"}}, status=step[1])
        if step[0] == "malformed":
            return web.Response(text='{"choices": [{"message": ', content_type="application/json")
        if step[0] == "sleep":
            await asyncio.sleep(step[1])
            step = ("text", step[2])
        text = step[1]
        if not body.get("stream"):
            message = {"role": "assistant", "content": text}
            return web.json_response(
                {
                    "id": "scripted",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for index, word in enumerate(text.split(" ")):
            await response.write(_sse(body["model"], {"content": word if index == 0 else f" {word}"}, None))
        if step[0] == "stall":
            await asyncio.sleep(step[2])
        await response.write(_sse(body["model"], {}, "stop") + b"data: [DONE]\n\n")
        return response


def _sse(model: str, delta: dict[str, str], finish: str | None) -> bytes:
    chunk = {
        "id": "scripted",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(chunk)}\n\n".encode()


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedOpenAI]:
    scripted = ScriptedOpenAI()
    yield scripted
    scripted.close()


@pytest.fixture(scope="module")
def service(
    server: ScriptedOpenAI, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[StatementService]:
    """The real service as bot.runtime builds it for STATEMENTBOT_LLM_PROVIDER=openai, over the sample statement."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("llm-data"),
        llm_provider="openai",
        llm_base_url=server.url,
        llm_model="scripted-model",
        llm_timeout_s=LLM_TIMEOUT_S,
    )
    built = build_service(settings, embedder=embedder)
    built.ensure_corpus()
    yield built
    built.close()


@pytest.fixture(autouse=True)
def _reset_script(request: pytest.FixtureRequest) -> None:
    if "server" in request.fixturenames:
        server: ScriptedOpenAI = request.getfixturevalue("server")
        server.script = [("text", KAGA_ANSWER)]
        server.requests.clear()


def with_model(service: StatementService, model: BaseChatModel, *, timeout_s: float = 5.0) -> StatementService:
    llm: LLMAnswerer = service.answerer  # type: ignore[assignment]
    fake = LLMAnswerer(
        model,
        retriever=service.retriever,
        extractive=llm.extractive,
        backend="fake",
        timeout_s=timeout_s,
        failure_types=llm.failure_types,  # the openai provider's, from the registry
    )
    return service.with_answerer(fake)


def extractive_of(service: StatementService) -> AnswerBackend:
    return service.answerer.extractive  # type: ignore[attr-defined, no-any-return]


def assert_consistent(answer: Answer) -> None:
    """Every marker names one of the answer's citations and every citation is named by a marker."""
    named = {ref.label for ref in markers_in(answer.text)}
    assert named == {c.label for c in answer.citations}


# What the user sees when the model misbehaves ------------------------------------------------
def test_runtime_builds_the_configured_openai_answerer(service: StatementService, server: ScriptedOpenAI) -> None:
    """STATEMENTBOT_LLM_PROVIDER=openai gives an LLMAnswerer on langchain-openai pointed at the configured server."""
    answerer = service.answerer
    assert isinstance(answerer, LLMAnswerer)
    assert answerer.backend == "openai"
    assert answerer.model.openai_api_base == server.url  # type: ignore[attr-defined]
    assert answerer.timeout_s == LLM_TIMEOUT_S


def test_warming_up_never_calls_the_model(service: StatementService, server: ScriptedOpenAI) -> None:
    """The start-up warm-up answers its question extractively: no request reaches the LLM server."""
    service.warm()
    assert service.warmed_s is not None
    assert server.requests == []
    service.ask("Which aircraft made a first landing on JS KAGA?")
    assert len(server.requests) == 1  # the same server does answer questions


def test_invented_paragraph_marker_never_reaches_the_user(service: StatementService) -> None:
    """[¶99] is removed and the sentence is cited to the paragraph that says it."""
    model = GenericFakeChatModel(
        messages=iter(
            [AIMessage("The first landing of UK F-35B aircraft on JS KAGA was welcomed by the Ministers [¶99].")]
        )
    )
    answer = with_model(service, model).ask(KAGA)
    assert "¶99" not in answer.text
    assert [c.label for c in answer.citations] == ["5"]
    assert answer.checked == CheckReport(removed_sentences=0, removed_citations=1, fallback=False)
    assert answer.backend == "fake"
    assert_consistent(answer)


def test_sentence_with_an_invented_number_is_removed(service: StatementService) -> None:
    """The supported sentence stays; the one with a date and count the paragraph lacks goes."""
    model = FakeListChatModel(responses=[f"{KAGA_ANSWER} The landing took place on 3 June 2025 with 12 aircraft [¶5]."])
    answer = with_model(service, model).ask(KAGA)
    assert "12 aircraft" not in answer.text
    assert "June" not in answer.text
    assert "F-35B" in answer.text
    assert answer.checked.removed_sentences == 1
    assert_consistent(answer)


def test_answer_with_nothing_supported_falls_back_to_the_extractive_answer(service: StatementService) -> None:
    """Every sentence unsupported: the user gets the extractive answer, marked as a fallback with a note."""
    expected = extractive_of(service).answer(KAGA, conversation=None, search_filter=None)
    model = FakeListChatModel(responses=["The aircraft was a Eurofighter Typhoon flown by Italy [¶5]."])
    answer = with_model(service, model).ask(KAGA)
    assert answer.text == expected.text
    assert answer.checked.fallback
    assert answer.backend == FALLBACK_BACKEND
    assert answer.note == FALLBACK_NOTE
    assert answer.to_json()["checked"] == {"removed_sentences": 1, "removed_citations": 1, "fallback": True}


def test_model_saying_the_abstention_phrase_gives_an_abstention_with_closest_passages(
    service: StatementService,
) -> None:
    """The fixed phrase from the model is an abstention, shown with the closest passages."""
    answer = with_model(service, FakeListChatModel(responses=[ABSTAIN_PHRASE])).ask(KAGA)
    assert answer.abstained
    assert answer.text == ABSTAIN_PHRASE
    assert answer.citations == ()
    assert len(answer.closest) == 3


def test_weak_evidence_abstains_without_calling_the_model(service: StatementService) -> None:
    """A question the statements don't cover is answered by the abstention, never by the model."""
    model = ScriptedModel(replies=[KAGA_ANSWER])
    answer = with_model(service, model).ask(UNANSWERABLE)
    assert answer.abstained
    assert answer.closest
    assert model.prompts == []


def test_paragraph_asked_for_by_number_is_quoted_without_the_model(service: StatementService) -> None:
    """'paragraph 7' returns paragraph 7 verbatim; no model call."""
    model = ScriptedModel(replies=[KAGA_ANSWER])
    answer = with_model(service, model).ask("paragraph 7")
    assert [c.label for c in answer.citations] == ["7"]
    assert answer.citations[0].text in answer.text
    assert model.prompts == []


_REQUEST = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (TimeoutError("read timed out"), "timeout"),
        (ConnectionRefusedError("refused"), "connection"),
        (openai.RateLimitError("slow down", response=httpx.Response(429, request=_REQUEST), body=None), "rate_limit"),
        (openai.APITimeoutError(request=_REQUEST), "timeout"),
        (openai.APIConnectionError(request=_REQUEST), "connection"),
        (httpx.ReadTimeout("read timed out", request=_REQUEST), "timeout"),
        (ValueError("bad json"), "malformed"),
        (RuntimeError("boom"), "error"),
    ],
)
def test_model_errors_fall_back_to_the_extractive_answer_with_a_note(
    service: StatementService, error: BaseException, reason: str
) -> None:
    """Whatever the client raises, the user gets the extractive answer and a note saying what happened.

    The provider's own exception types (openai's, httpx's) are classified by type, from the registry."""
    answer = with_model(service, ScriptedModel(replies=[error])).ask(KAGA)
    assert answer.backend == FALLBACK_BACKEND
    assert answer.note == LLM_FAILURE_NOTES[reason]
    assert "F-35B" in answer.text
    assert_consistent(answer)


def test_empty_model_answer_falls_back(service: StatementService) -> None:
    """An empty response is malformed: extractive answer with a note."""
    answer = with_model(service, FakeListChatModel(responses=["   "])).ask(KAGA)
    assert answer.note == LLM_FAILURE_NOTES["malformed"]
    assert answer.backend == FALLBACK_BACKEND


@pytest.mark.timeout(20)
@pytest.mark.parametrize("streaming", [False, True])
def test_hung_model_is_abandoned_at_the_hard_deadline(service: StatementService, streaming: bool) -> None:
    """A model that never answers costs the deadline, not a hang: extractive answer with the timeout note."""
    slow = with_model(service, ScriptedModel(replies=[KAGA_ANSWER], delay_s=30), timeout_s=0.5)
    started = time.monotonic()
    answer = list(slow.ask_stream(KAGA))[-1] if streaming else slow.ask(KAGA)
    assert isinstance(answer, Answer)
    assert time.monotonic() - started < 5
    assert answer.note == LLM_FAILURE_NOTES["timeout"]


# Streaming -----------------------------------------------------------------------------------
def test_stream_yields_text_deltas_then_the_checked_answer(service: StatementService) -> None:
    """Deltas come first (a sanitised preview), the checked Answer last; the final answer drops [¶99]."""
    text = f"{KAGA_ANSWER} The Ministers welcomed the first landing of UK F-35B aircraft on JS KAGA [¶99]."
    events = list(with_model(service, GenericFakeChatModel(messages=iter([AIMessage(text)]))).ask_stream(KAGA))
    deltas, final = events[:-1], events[-1]
    assert len(deltas) > 3
    assert all(isinstance(d, str) for d in deltas)
    assert "".join(deltas) == text  # type: ignore[arg-type]
    assert isinstance(final, Answer)
    assert "¶99" not in final.text
    assert final.checked.removed_citations == 1
    assert_consistent(final)


def test_stream_failing_midway_falls_back_after_the_preview(service: StatementService) -> None:
    """The model errs after a few tokens: the last event is the extractive answer with a note."""
    model = FakeListChatModel(responses=[KAGA_ANSWER], error_on_chunk_number=8)
    events = list(with_model(service, model).ask_stream(KAGA))
    final = events[-1]
    assert isinstance(final, Answer)
    assert any(isinstance(e, str) for e in events[:-1])
    assert final.backend == FALLBACK_BACKEND
    assert final.note == LLM_FAILURE_NOTES["error"]


def test_stream_from_an_extractive_service_is_the_answer_alone(service: StatementService) -> None:
    """A backend that cannot stream yields exactly one event: the Answer."""
    events = list(service.with_answerer(extractive_of(service)).ask_stream(KAGA))
    assert len(events) == 1
    assert isinstance(events[0], Answer)


def test_cli_ask_prints_tokens_as_they_come_then_the_checked_answer(
    service: StatementService, capsys: pytest.CaptureFixture[str]
) -> None:
    """stderr shows the model's words as streamed; stdout gets only the checked answer."""
    text = "The first landing of UK F-35B aircraft on JS KAGA was welcomed by the Ministers [¶99]."
    streaming = with_model(service, GenericFakeChatModel(messages=iter([AIMessage(text)])))
    args = argparse.Namespace(question=KAGA, document=None, since=None, until=None, timeline=False, json=False)
    assert _cmd_ask(streaming, args) == 0
    out, err = capsys.readouterr()
    assert err.startswith(text)
    assert "checked against the statements" in err
    assert "¶99" not in out
    assert out.startswith("The first landing of UK F-35B aircraft on JS KAGA was welcomed by the Ministers. [¶5]")
    assert "Sources:\n  [¶5]" in out


def test_cli_ask_json_reports_what_the_check_did(service: StatementService, capsys: pytest.CaptureFixture[str]) -> None:
    """ask --json carries "checked" with the check's counts, and the backend."""
    text = "The first landing of UK F-35B aircraft on JS KAGA was welcomed by the Ministers [¶99]."
    model = GenericFakeChatModel(messages=iter([AIMessage(text)]))
    args = argparse.Namespace(question=KAGA, document=None, since=None, until=None, timeline=False, json=True)
    assert _cmd_ask(with_model(service, model), args) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["checked"] == {"removed_sentences": 0, "removed_citations": 1, "fallback": False}
    assert payload["backend"] == "fake"


# Follow-ups ----------------------------------------------------------------------------------
def test_follow_up_is_condensed_by_the_model(service: StatementService) -> None:
    """The condense prompt rewrites the follow-up; retrieval and the answer use the standalone question."""
    model = ScriptedModel(
        replies=[
            KAGA_ANSWER,
            "What does GIGO stand for?",
            "GIGO stands for the GCAP International Government Organisation [¶12].",
        ]
    )
    chat = with_model(service, model)
    conversation = Conversation()
    chat.ask(KAGA, conversation=conversation)
    answer = chat.ask("and GIGO?", conversation=conversation)
    assert answer.retrieval_query == "What does GIGO stand for?"
    assert [c.label for c in answer.citations] == ["12"]
    condense_prompt = str(model.prompts[1][-1].content)
    assert "<conversation>" in condense_prompt
    assert "and GIGO?" in condense_prompt


def test_condensation_failure_uses_the_heuristic(service: StatementService) -> None:
    """The model fails on the follow-up's condensation: the extractive heuristic writes the query instead."""
    model = ScriptedModel(replies=[KAGA_ANSWER, ConnectionError("down"), KAGA_ANSWER])
    chat = with_model(service, model)
    conversation = Conversation()
    chat.ask(KAGA, conversation=conversation)
    heuristic = chat.answerer.extractive.condense("what about it?", conversation)  # type: ignore[attr-defined]
    answer = chat.ask("what about it?", conversation=conversation)
    assert heuristic == f"{KAGA} what about it?"
    assert answer.retrieval_query == heuristic
    assert answer.backend == "fake"  # the answer itself still came from the model


# The hallucination benchmark, on a few questions --------------------------------------------
def _bench() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("bench_hallucination", ROOT / "bench" / "bench_hallucination.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_no_hallucinated_sentence_of_a_half_hallucinating_model_reaches_the_user(service: StatementService) -> None:
    """Half of the fake model's sentences are hallucinated (every kind at least once); none is shown."""
    bench = _bench()
    model = bench.HalfHallucinatingModel()
    questions = [
        KAGA,
        GIGO,
        "What is the Reciprocal Access Agreement used for?",
        "What did the ministers say about maritime autonomous systems?",
    ]
    figures = bench.measure(with_model(service, model), model, questions)
    assert figures.model_called == len(questions)
    assert set(bench.KINDS) <= set(figures.written)
    assert figures.hallucinated == figures.written["faithful"]  # half of all sentences
    assert figures.hallucinated_reaching == 0
    assert figures.reached["faithful"] == figures.written["faithful"]


# Extractive answers through the service ------------------------------------------------------
class Recording:
    """An AnswerBackend that remembers what the wrapped backend answered, before the service's check."""

    def __init__(self, inner: AnswerBackend) -> None:
        self.inner = inner
        self.last: Answer | None = None

    def answer(self, question: str, *, conversation: Any, search_filter: Any) -> Answer:
        self.last = self.inner.answer(question, conversation=conversation, search_filter=search_filter)
        return self.last


def test_extractive_answers_of_the_sample_corpus_are_shown_unchanged(service: StatementService) -> None:
    """Every question of our set (and of the dev set where present): what the extractive answerer wrote is shown."""
    recording = Recording(extractive_of(service))
    extractive = service.with_answerer(recording)
    # Our own set is in the repository; the development set sits beside it only in the developers' checkout.
    sets = [OWN_QUESTIONS, *([DEV_QUESTIONS] if DEV_QUESTIONS.exists() else [])]
    lines = [line for path in sets for line in path.read_text().splitlines() if line.strip()]
    questions = [json.loads(line)["question"] for line in lines]
    for question in [*questions, "paragraphs 3-5"]:
        shown = extractive.ask(question)
        assert recording.last is not None
        assert (shown.text, shown.citations, shown.checked) == (
            recording.last.text,
            recording.last.citations,
            CheckReport(),
        ), question
        assert shown.to_json()["checked"] == {"removed_sentences": 0, "removed_citations": 0, "fallback": False}


# The real langchain-openai client against a local server -------------------------------------
def test_real_openai_client_answers_through_the_local_server(service: StatementService, server: ScriptedOpenAI) -> None:
    """Non-streaming: the answer is checked and cited; the request carries the settings and untrusted blocks."""
    answer = service.ask(KAGA)
    assert answer.backend == "openai"
    assert answer.text == KAGA_ANSWER
    assert [c.label for c in answer.citations] == ["5"]
    request = server.requests[-1]
    assert request["model"] == "scripted-model"
    assert request["temperature"] == 0.0
    assert request.get("max_completion_tokens", request.get("max_tokens")) == 400
    assert not request.get("stream")
    system, user = request["messages"]
    assert system["role"] == "system"
    assert ABSTAIN_PHRASE in system["content"]
    assert 'marker="[¶5]"' in user["content"]
    assert 'trust="untrusted"' in user["content"]
    assert f"<question>\n{KAGA}\n</question>" in user["content"]


def test_real_openai_client_streams_through_the_local_server(service: StatementService, server: ScriptedOpenAI) -> None:
    """SSE: several deltas arrive before the checked answer, which drops the invented marker."""
    server.script = [("text", f"{KAGA_ANSWER} The F-35B landing on JS KAGA was welcomed by the Ministers [¶42].")]
    events = list(service.ask_stream(KAGA))
    final = events[-1]
    assert server.requests[-1]["stream"] is True
    assert sum(isinstance(e, str) for e in events) > 3
    assert isinstance(final, Answer)
    assert final.backend == "openai"
    assert "¶42" not in final.text
    assert [c.label for c in final.citations] == ["5"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("streaming", [False, True], ids=["invoke", "stream"])
@pytest.mark.parametrize(
    ("step", "reason"),
    [
        (("status", 500), "error"),
        (("status", 429), "rate_limit"),
        (("malformed",), "malformed"),
        (("sleep", 10, KAGA_ANSWER), "timeout"),
    ],
    ids=["500", "429", "malformed-json", "slow"],
)
def test_server_failures_fall_back_with_a_note(
    service: StatementService, server: ScriptedOpenAI, step: tuple[Any, ...], reason: str, streaming: bool
) -> None:
    """500, 429, a body that is not JSON, an answer slower than the timeout: extractive answer and a note."""
    server.script = [step]
    started = time.monotonic()
    answer = list(service.ask_stream(KAGA))[-1] if streaming else service.ask(KAGA)
    assert isinstance(answer, Answer)
    assert answer.backend == FALLBACK_BACKEND
    assert answer.note == LLM_FAILURE_NOTES[reason]
    assert "F-35B" in answer.text
    assert time.monotonic() - started < LLM_TIMEOUT_S + 4


@pytest.mark.timeout(30)
def test_stream_stalling_midway_is_cut_at_the_deadline(service: StatementService, server: ScriptedOpenAI) -> None:
    """The server sends a few tokens, then nothing: the preview stops and the extractive answer follows."""
    server.script = [("stall", "The Ministers welcomed the first", 20)]
    started = time.monotonic()
    events = list(service.ask_stream(KAGA))
    assert time.monotonic() - started < LLM_TIMEOUT_S + 4
    assert "".join(e for e in events if isinstance(e, str)).startswith("The Ministers welcomed")
    final = events[-1]
    assert isinstance(final, Answer)
    assert final.note == LLM_FAILURE_NOTES["timeout"]


def test_server_that_fails_once_is_retried(service: StatementService, server: ScriptedOpenAI) -> None:
    """One 500, then an answer: the client's single retry (inside the deadline) gets the generated answer."""
    server.script = [("status", 500), ("text", KAGA_ANSWER)]
    answer = service.ask(KAGA)
    assert answer.backend == "openai"
    assert len(server.requests) == 2


def test_unreachable_server_falls_back_with_a_note(service: StatementService) -> None:
    """Nothing listens on the port: extractive answer, 'could not be reached'."""
    config = LLMConfig("openai", model="m", base_url="http://127.0.0.1:9/v1", timeout_s=LLM_TIMEOUT_S, max_retries=0)
    answerer = build_llm_answerer(config, retriever=service.retriever, extractive=extractive_of(service))  # type: ignore[arg-type]
    answer = service.with_answerer(answerer).ask(KAGA)
    assert answer.note == LLM_FAILURE_NOTES["connection"]


# Set-up errors and providers -----------------------------------------------------------------
@pytest.mark.parametrize(("provider", "module"), [("openai", "langchain_openai"), ("ollama", "langchain_ollama")])
def test_missing_provider_package_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, provider: str, module: str
) -> None:
    """No provider package: a StatementbotError that says `pip install 'statementbot[<provider>]'`."""
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(LLMSetupError) as raised:
        make_chat_model(LLMConfig(provider, model="m", base_url="http://127.0.0.1:1"))
    assert f"pip install 'statementbot[{provider}]'" in raised.value.user_message()


def test_llamacpp_without_its_package_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """llama-cpp-python is not installed here: the message names the llamacpp extra."""
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(LLMSetupError, match="llama_cpp") as raised:
        make_chat_model(LLMConfig("llamacpp", model=str(tmp_path / "model.gguf")))
    assert "statementbot[llamacpp]" in raised.value.user_message()


@pytest.mark.parametrize(
    ("config", "words"),
    [
        (LLMConfig("openai"), "STATEMENTBOT_LLM_MODEL"),
        (LLMConfig("openai", model="gpt-4o-mini"), "STATEMENTBOT_LLM_API_KEY"),
        (LLMConfig("mistral", model="m"), "STATEMENTBOT_LLM_PROVIDER"),
    ],
)
def test_incomplete_configuration_says_what_to_set(config: LLMConfig, words: str) -> None:
    """A missing model, key or an unknown provider is a clear error naming the setting."""
    with pytest.raises(LLMSetupError) as raised:
        make_chat_model(config)
    assert words in raised.value.user_message()


def test_ollama_model_gets_the_configured_endpoint_and_limits() -> None:
    """ChatOllama is built with the base URL, temperature, max tokens and the client timeout (no network)."""
    model: Any = make_chat_model(
        LLMConfig("ollama", model="llama3.2", base_url="http://127.0.0.1:11434", timeout_s=7, max_tokens=99)
    )
    assert (model.model, model.base_url, model.num_predict, model.temperature) == (
        "llama3.2",
        "http://127.0.0.1:11434",
        99,
        0.0,
    )
    assert model.client_kwargs == {"timeout": 7}


class _FakeLlama:
    """Stands in for llama_cpp.Llama: echoes a fixed answer, whole or as a stream."""

    def __init__(self, model_path: str, **_: Any) -> None:
        self.model_path = model_path
        self.calls: list[dict[str, Any]] = []

    def create_chat_completion(self, **request: Any) -> Any:
        self.calls.append(request)
        if request.get("stream"):
            return iter([{"choices": [{"delta": {"content": w}}]} for w in ("The ", "Ministers ", "met.")])
        return {"choices": [{"message": {"content": "The Ministers met."}}]}


def test_llamacpp_model_runs_through_llama_cpp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The llama.cpp chat model loads the GGUF lazily, maps roles, and streams deltas."""
    monkeypatch.setitem(sys.modules, "llama_cpp", types.SimpleNamespace(Llama=_FakeLlama))
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    model: Any = make_chat_model(LLMConfig("llamacpp", model=str(gguf), max_tokens=50))
    assert model.invoke([("system", "s"), ("human", "q")]).content == "The Ministers met."
    assert [c.content for c in model.stream("q") if c.content] == ["The ", "Ministers ", "met."]
    call = model._llama.calls[0]
    assert [m["role"] for m in call["messages"]] == ["system", "user"]
    assert call["max_tokens"] == 50
    assert model._llama.model_path == str(gguf)


def test_settings_take_the_provider_names_from_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A provider registered in qa/llm.py is a valid setting and is built by make_chat_model; others are refused."""
    scripted = Provider("scripted", "json", lambda _package, _config: ScriptedModel(replies=[KAGA_ANSWER]))
    monkeypatch.setitem(PROVIDERS, "scripted", scripted)
    assert load_settings(llm_provider="scripted").llm_provider == "scripted"
    assert isinstance(make_chat_model(LLMConfig("scripted", model="m")), ScriptedModel)
    with pytest.raises(SettingsError, match="scripted"):  # the refusal lists the registered names
        load_settings(llm_provider="mistral")
