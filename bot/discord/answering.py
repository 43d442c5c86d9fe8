"""The one seam between the Discord front end and the answering pipeline.

Slash commands and mentions both call `Answering.answer_for` and then `messages_for`.
When the service's answerer can stream (an LLM backend is configured) and the caller
passes `preview`, the answer is shown as it is written: `preview` gets the text so far,
at most once per `limits.MIN_EDIT_INTERVAL_S`, and the reply then replaces that preview
with the checked answer. Without an LLM (the extractive answerer) nothing changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

from bot.discord import limits
from bot.discord.formatting import Outgoing, answer_messages
from qa.types import Answer

if TYPE_CHECKING:
    from bot.feedback import FeedbackStore
    from qa.service import StatementService
    from qa.types import Conversation

log = logging.getLogger("statementbot.discord")

Preview = Callable[[str], Awaitable[None]]
_END = object()  # what `next` returns when the stream is exhausted


class Answering:
    def __init__(self, service: StatementService, feedback: FeedbackStore | None) -> None:
        self.service = service
        self.feedback = feedback

    @property
    def streams(self) -> bool:
        """Whether answers can be shown while written (the answerer is an LLM that streams)."""
        return callable(getattr(self.service.answerer, "stream_answer", None))

    async def answer_for(
        self,
        question: str,
        *,
        conversation: Conversation | None = None,
        document: str | None = None,
        preview: Preview | None = None,
    ) -> Answer:
        """Run the pipeline off the event loop (it embeds, searches and may call an LLM).

        With `preview` and a streaming answerer, `preview(text_so_far)` is awaited while the
        model writes, never twice within `limits.MIN_EDIT_INTERVAL_S`; the returned Answer is
        the checked one, which may differ from the previewed text.
        """
        if preview is None or not self.streams:
            return await asyncio.to_thread(self.service.ask, question, conversation=conversation, document=document)
        # Bad input raises here, before any preview is shown.
        events = await asyncio.to_thread(
            self.service.ask_stream, question, conversation=conversation, document=document
        )
        return await _stream(events, preview, limits.MIN_EDIT_INTERVAL_S)

    async def messages_for(self, answer: Answer) -> list[Outgoing]:
        """The messages that show `answer`, with 👍/👎 when feedback can be recorded."""
        feedback_id = None
        if self.feedback is not None:
            try:
                feedback_id = await asyncio.to_thread(self.feedback.record_answer, answer)
            except Exception:
                log.warning("could not record the answer for feedback; sending it without vote buttons", exc_info=True)
        return answer_messages(answer, feedback_id=feedback_id)


async def _stream(events: Iterator[str | Answer], preview: Preview, interval: float) -> Answer:
    """Drive the blocking `events` in worker threads; show the text so far at most once per `interval`.

    Text that arrives between two allowed edits is shown when the interval is up, even if
    the model pauses, not only when the next delta comes.
    """
    text = ""
    shown = ""
    last_preview: float | None = None
    pending: asyncio.Future[object] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(asyncio.to_thread(next, events, _END))
            wait: float | None = None
            if text != shown:
                wait = 0.0 if last_preview is None else max(0.0, last_preview + interval - time.monotonic())
            done, _ = await asyncio.wait({pending}, timeout=wait)
            if not done:
                last_preview = time.monotonic()
                shown = text
                await preview(shown)
                continue
            event = pending.result()
            pending = None
            if isinstance(event, Answer):
                return event
            if event is _END:
                raise RuntimeError("the answer stream ended without an Answer")
            if isinstance(event, str):
                text += event
    finally:
        if pending is None:
            with contextlib.suppress(Exception):
                events.close()  # type: ignore[attr-defined]
