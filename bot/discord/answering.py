"""The one seam between the Discord front end and the answering pipeline.

Slash commands and mentions both call `Answering.answer_for` and then `messages_for`.
Streaming (an LLM answer shown as it is written, edited at most once per
`limits.MIN_EDIT_INTERVAL_S`) will replace `answer_for` with a version that also reports
partial text; the handlers around it need not change.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from bot.discord.formatting import Outgoing, answer_messages

if TYPE_CHECKING:
    from bot.feedback import FeedbackStore
    from qa.service import StatementService
    from qa.types import Answer, Conversation

log = logging.getLogger("statementbot.discord")


class Answering:
    def __init__(self, service: StatementService, feedback: FeedbackStore | None) -> None:
        self.service = service
        self.feedback = feedback

    async def answer_for(
        self, question: str, *, conversation: Conversation | None = None, document: str | None = None
    ) -> Answer:
        """Run the pipeline off the event loop (it embeds, searches and may call an LLM)."""
        return await asyncio.to_thread(self.service.ask, question, conversation=conversation, document=document)

    async def messages_for(self, answer: Answer) -> list[Outgoing]:
        """The messages that show `answer`, with 👍/👎 when feedback can be recorded."""
        feedback_id = None
        if self.feedback is not None:
            try:
                feedback_id = await asyncio.to_thread(self.feedback.record_answer, answer)
            except Exception:
                log.warning("could not record the answer for feedback; sending it without vote buttons", exc_info=True)
        return answer_messages(answer, feedback_id=feedback_id)
