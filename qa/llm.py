"""Generated answers through a LangChain chat model, checked before anyone sees them.

The pipeline for one question:

1. a follow-up is rewritten as a standalone question with the `condense`
   prompt (the extractive heuristic if the model fails);
2. hybrid retrieval, then the extractive answerer's judgement: when the
   evidence is weak (or the user asked for a paragraph by number) its answer
   is returned and the model is never called;
3. the model gets the top paragraphs in delimited blocks marked untrusted and
   writes an answer citing them; the fixed abstention phrase becomes an
   abstention that shows the closest passages;
4. the text is sanitised (`qa.sanitise`) and checked (`qa.citations`);
   nothing supported left -> the extractive answer.

Any failure of the model (timeout, connection, rate limit, malformed or empty
response, anything the client raises) gives the extractive answer with a
`note` and `backend == FALLBACK_BACKEND`, never an exception. Every call runs
under a hard deadline in a daemon thread, so a hung server cannot hang a
caller; streaming deltas are handed over through a queue under the same
deadline.

Providers live in a registry (`register_provider`): each names its extra, how its
chat model is built and which of its client's exception types mean which failure.
Provider packages are optional extras; `make_chat_model` names the extra to
install when one is missing.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from prompts import ABSTAIN_PHRASE, LLM_FAILURE_NOTES, render
from qa.citations import FALLBACK_BACKEND, check_answer, final_check, markers_in
from qa.extractive import EVIDENCE_PARAGRAPHS, citation_of

# The registry lives in qa/providers.py (no LangChain import); its names are re-exported here.
from qa.providers import (  # noqa: F401 - re-exported for callers of qa.llm
    PROVIDERS,
    FailureTypes,
    LLMConfig,
    LLMSetupError,
    Provider,
    make_chat_model,
    provider_for,
    provider_names,
    register_provider,
    require_package,
)
from qa.sanitise import StreamSanitiser, allowed_links, remove_invisible, sanitise_text
from qa.types import CLOSEST_SHOWN, Answer, Citation, Conversation

if TYPE_CHECKING:
    from langchain_core.callbacks import CallbackManagerForLLMRun

    from qa.extractive import ExtractiveAnswerer
    from vectorstore.retrieval import HybridRetriever, SearchFilter

log = logging.getLogger(__name__)

HISTORY_ANSWER_CHARS = 400  # of each earlier answer, in the condense prompt
MAX_CONDENSED_CHARS = 500
_T = TypeVar("_T")


def build_llm_answerer(config: LLMConfig, *, retriever: HybridRetriever, extractive: ExtractiveAnswerer) -> LLMAnswerer:
    return LLMAnswerer(
        make_chat_model(config),
        retriever=retriever,
        extractive=extractive,
        backend=config.provider,
        timeout_s=config.timeout_s,
        failure_types=PROVIDERS[config.provider].failure_types(),
    )


# llama.cpp ---------------------------------------------------------------------------
class LlamaCppChat(BaseChatModel):
    """A minimal LangChain chat model over `llama_cpp.Llama` (the `llamacpp` extra).

    The model file is loaded on first use, not at start-up; one generation runs
    at a time because a `Llama` instance is not thread-safe.
    """

    model_path: str
    temperature: float = 0.0
    max_tokens: int = 400
    n_ctx: int = 4096
    _llama: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _client(self) -> Any:
        if self._llama is None:
            llama_cpp = require_package("llama_cpp", PROVIDERS["llamacpp"])
            self._llama = llama_cpp.Llama(model_path=self.model_path, n_ctx=self.n_ctx, verbose=False)
        return self._llama

    def _request(self, messages: list[BaseMessage], stop: list[str] | None) -> dict[str, Any]:
        roles = {"system": "system", "human": "user", "ai": "assistant"}
        return {
            "messages": [{"role": roles.get(m.type, "user"), "content": _text_of(m)} for m in messages],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stop": stop,
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self._lock:
            response = self._client().create_chat_completion(**self._request(messages, stop))
        content = response["choices"][0]["message"].get("content") or ""
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=content))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        with self._lock:
            for part in self._client().create_chat_completion(**self._request(messages, stop), stream=True):
                delta = part["choices"][0].get("delta", {}).get("content")
                if delta:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                    if run_manager is not None:
                        run_manager.on_llm_new_token(delta, chunk=chunk)
                    yield chunk


# Failures and deadlines ----------------------------------------------------------------
class LLMFailure(Exception):
    """The model gave no usable answer; `reason` is a key of prompts.LLM_FAILURE_NOTES."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


# Failures any client can raise, whatever its provider: checked after the provider's own types.
_GENERIC_FAILURES: FailureTypes = (
    (TimeoutError, "timeout"),
    (ConnectionError, "connection"),
    ((ValueError, KeyError, TypeError, IndexError, AttributeError), "malformed"),
)
HTTP_TOO_MANY_REQUESTS = 429


def classify_failure(error: BaseException, failure_types: FailureTypes = ()) -> str:
    """timeout | rate_limit | connection | malformed | error, by the type of what the client raised.

    `failure_types` are the provider's own (exception type, reason) pairs, checked first.
    """
    if isinstance(error, LLMFailure):
        return error.reason
    if getattr(error, "status_code", None) == HTTP_TOO_MANY_REQUESTS:
        return "rate_limit"  # clients without a rate-limit type still carry the HTTP status
    for kinds, reason in (*failure_types, *_GENERIC_FAILURES):
        if isinstance(error, kinds):
            return reason
    return "error"


def _text_of(message: Any) -> str:
    """The text of a chat message or chunk; content blocks are joined, anything else is malformed."""
    content = getattr(message, "content", None)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part if isinstance(part, str) else str(part.get("text", "")) if isinstance(part, dict) else ""
            for part in content
        )
    raise LLMFailure("malformed", f"unexpected message {type(message).__name__}")


def call_with_deadline(function: Callable[[], _T], timeout_s: float) -> _T:
    """`function()` in a daemon thread; LLMFailure('timeout') if it takes longer than `timeout_s`.

    A daemon thread (not an executor) so that a call stuck in a socket can
    neither block the caller nor the interpreter's exit.
    """
    box: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)

    def run() -> None:
        try:
            box.put((True, function()))
        except BaseException as error:  # noqa: BLE001 - handed to the caller, which classifies it
            box.put((False, error))

    threading.Thread(target=run, daemon=True, name="statementbot-llm").start()
    try:
        ok, value = box.get(timeout=timeout_s)
    except queue.Empty:
        raise LLMFailure("timeout", f"no answer within {timeout_s:g} s") from None
    if not ok:
        raise value
    return value


def stream_with_deadline(chunks: Callable[[], Iterator[Any]], timeout_s: float) -> Iterator[str]:
    """Text deltas of `chunks()`, produced in a daemon thread; LLMFailure('timeout') past the deadline."""
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks():
                if stop.is_set():
                    return
                handoff.put(("delta", _text_of(chunk)))
            handoff.put(("end", None))
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which classifies it
            handoff.put(("error", error))

    threading.Thread(target=produce, daemon=True, name="statementbot-llm-stream").start()
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                # What already arrived is delivered even if the consumer was slow.
                kind, value = handoff.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                try:
                    kind, value = handoff.get(timeout=max(remaining, 0.0))
                except queue.Empty:
                    raise LLMFailure("timeout", f"stream unfinished after {timeout_s:g} s") from None
            if kind == "end":
                return
            if kind == "error":
                raise value
            if value:
                yield value
    finally:
        stop.set()


# The answerer ---------------------------------------------------------------------------
def _escape(text: str) -> str:
    """Untrusted text cannot close or open the prompt's delimiting tags."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _folded(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower().replace("’", "'").replace("do not", "don't")).strip()


def is_abstention(text: str) -> bool:
    """The model said the fixed abstention phrase (give or take punctuation) and cited nothing."""
    return _folded(text).startswith(_folded(ABSTAIN_PHRASE)) and not markers_in(text)


@dataclass(frozen=True)
class _Plan:
    """Everything decided before the model is called."""

    question: str
    query: str  # the standalone question: searched, and asked of the model
    extractive: Answer  # the fallback
    evidence: tuple[Citation, ...]  # the paragraphs the model sees
    with_document: bool
    messages: list[BaseMessage]


class LLMAnswerer:
    """An AnswerBackend that writes answers with a chat model and checks them (see module docstring)."""

    def __init__(
        self,
        model: BaseChatModel,
        *,
        retriever: HybridRetriever,
        extractive: ExtractiveAnswerer,
        backend: str = "llm",
        timeout_s: float = 30.0,
        evidence_paragraphs: int = EVIDENCE_PARAGRAPHS,
        failure_types: FailureTypes = (),
    ) -> None:
        self.model = model
        self.failure_types = failure_types  # the provider's exception types (see classify_failure)
        self.retriever = retriever
        self.extractive = extractive
        self.backend = backend
        self.timeout_s = timeout_s
        self.evidence_paragraphs = evidence_paragraphs

    def warm(self) -> None:
        """The extractive answerer is the fallback and the evidence: warm it as the service warms retrieval."""
        self.extractive.warm()

    def close(self) -> None:
        self.extractive.close()

    # Public -------------------------------------------------------------------------
    def answer(
        self, question: str, *, conversation: Conversation | None = None, search_filter: SearchFilter | None = None
    ) -> Answer:
        plan = self._plan(question, conversation, search_filter)
        if isinstance(plan, Answer):
            return plan
        try:
            text = _text_of(call_with_deadline(lambda: self.model.invoke(plan.messages), self.timeout_s))
        except Exception as error:  # noqa: BLE001 - any model failure falls back, with a note (never hidden)
            return self._fall_back(plan, error)
        return self._finish(plan, text)

    def stream_answer(
        self, question: str, *, conversation: Conversation | None = None, search_filter: SearchFilter | None = None
    ) -> Iterator[str | Answer]:
        """Sanitised text deltas as the model writes them, then the checked Answer (always last).

        The deltas are a preview: the final Answer may differ (sentences removed,
        re-cited, or the extractive answer when the model failed).
        """
        plan = self._plan(question, conversation, search_filter)
        if isinstance(plan, Answer):
            yield plan
            return
        sanitiser = StreamSanitiser(allowed_links(plan.evidence))
        parts: list[str] = []
        try:
            for delta in stream_with_deadline(lambda: self.model.stream(plan.messages), self.timeout_s):
                parts.append(delta)
                shown = sanitiser.feed(delta)
                if shown:
                    yield shown
        except Exception as error:  # noqa: BLE001 - any model failure falls back, with a note (never hidden)
            yield self._fall_back(plan, error)
            return
        tail = sanitiser.flush()
        if tail:
            yield tail
        yield self._finish(plan, "".join(parts))

    def condense(self, question: str, conversation: Conversation | None) -> str:
        """A standalone question for a follow-up, written by the model (heuristic on failure)."""
        if conversation is None or conversation.last is None:
            return question
        history = "\n".join(
            f"User: {_escape(turn.question)}\nAssistant: {_escape(turn.answer.text[:HISTORY_ANSWER_CHARS])}"
            for turn in conversation.turns
        )
        prompt = render("condense", history=history, question=_escape(question))
        try:
            reply = call_with_deadline(lambda: self.model.invoke([HumanMessage(prompt)]), self.timeout_s)
            text = remove_invisible(_text_of(reply))
        except Exception as error:  # noqa: BLE001 - the heuristic is a fine standalone question
            log.warning(
                "condensing the follow-up failed (%s); using the heuristic", classify_failure(error, self.failure_types)
            )
            return self.extractive.condense(question, conversation)
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        condensed = re.sub(r"^(?:standalone question:\s*)", "", lines[0], flags=re.IGNORECASE) if lines else ""
        condensed = " ".join(condensed.strip("\"'“”‘’ ").split())
        if not condensed or len(condensed) > MAX_CONDENSED_CHARS or is_abstention(condensed):
            return self.extractive.condense(question, conversation)
        return condensed

    def messages(self, question: str, evidence: Sequence[Citation], *, with_document: bool) -> list[BaseMessage]:
        """The system and user messages for one question (paragraphs as untrusted blocks)."""
        blocks = "\n".join(
            render(
                "paragraph_block",
                marker=c.marker(with_document=with_document),
                title=_escape(c.title),
                text=_escape(c.text),
            )
            for c in evidence
        )
        return [
            SystemMessage(render("answer_system", abstain_phrase=ABSTAIN_PHRASE)),
            HumanMessage(render("answer_user", question=_escape(question), paragraphs=blocks)),
        ]

    # Steps --------------------------------------------------------------------------
    def _plan(
        self, question: str, conversation: Conversation | None, search_filter: SearchFilter | None
    ) -> _Plan | Answer:
        query = self.condense(question, conversation)
        result = self.retriever.search(query, k=self.evidence_paragraphs + 2, search_filter=search_filter)
        extractive = self.extractive.answer_from(question, result)
        if extractive.abstained or result.exact:
            # Weak evidence: abstain without asking the model. An exact reference: the paragraph itself.
            return extractive
        evidence = tuple(citation_of(h.paragraph, result) for h in result.hits[: self.evidence_paragraphs])
        with_document = len(result.documents) > 1
        messages = self.messages(query, evidence, with_document=with_document)
        return _Plan(question, query, extractive, evidence, with_document, messages)

    def _finish(self, plan: _Plan, text: str) -> Answer:
        text = text.strip()
        if not text:
            return self._fall_back(plan, LLMFailure("malformed", "empty answer"))
        if is_abstention(text):
            return Answer(
                plan.question,
                ABSTAIN_PHRASE,
                (),
                True,
                closest=plan.evidence[:CLOSEST_SHOWN],
                backend=self.backend,
                retrieval_query=plan.query,
            )
        draft = Answer(
            plan.question,
            sanitise_text(text, allowed_links(plan.evidence)),
            (),
            False,
            backend=self.backend,
            retrieval_query=plan.query,
        )
        checked = check_answer(draft, plan.evidence, fallback=plan.extractive, with_document=plan.with_document)
        if checked.checked.fallback:
            log.info("no sentence of the model's answer was supported; showing the extractive answer")
        return final_check(checked)

    def _fall_back(self, plan: _Plan, error: BaseException) -> Answer:
        reason = classify_failure(error, self.failure_types)
        log.warning(
            "the %s model failed (%s: %s); showing the extractive answer", self.backend, reason, type(error).__name__
        )
        return replace(plan.extractive, backend=FALLBACK_BACKEND, note=LLM_FAILURE_NOTES[reason])
